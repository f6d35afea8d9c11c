import Foundation
import XCTest
@testable import DeepScratch

/// One and two update steps of every optimizer on a two-entry parameter,
/// against the formulas of Training/Optimizers.swift worked by hand, and
/// the learning-rate schedules.
///
/// Throughout: W₀ = [1, −2], learning rate α = 0.1, first gradient
/// g₁ = [0.5, −0.25], second gradient g₂ = [0.2, 0.4], β₁ = 0.9,
/// β₂ = 0.999, ε = 1e-8.
final class OptimizerTests: XCTestCase {
    private let alpha = 0.1
    private let g1: [Double] = [0.5, -0.25]
    private let g2: [Double] = [0.2, 0.4]

    private func makeParameter() -> Parameter<Double> {
        let p = Parameter<Double>(name: "W1", rows: 1, cols: 2, regularized: true)
        p.value.data[0] = 1
        p.value.data[1] = -2
        return p
    }

    private func setGradient(_ p: Parameter<Double>, _ g: [Double]) {
        for (i, v) in g.enumerated() { p.gradient.data[i] = v }
    }

    /// Runs `kind` for one step (g₁), then a second (g₂); returns W after each.
    private func run(_ kind: OptimizerKind) -> (after1: [Double], after2: [Double], optimizer: Optimizer<Double>) {
        let p = makeParameter()
        let opt = Optimizer<Double>(settings: OptimizerSettings(kind: kind), parameters: [p])
        setGradient(p, g1)
        opt.update([p], learningRate: alpha)
        let after1 = p.value.values
        setGradient(p, g2)
        opt.update([p], learningRate: alpha)
        return (after1, p.value.values, opt)
    }

    private func assertClose(_ got: [Double], _ want: [Double], accuracy: Double = 1e-12,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, file: file, line: line)
        for (i, (a, b)) in zip(got, want).enumerated() {
            XCTAssertEqual(a, b, accuracy: accuracy, "entry \(i): got \(a), want \(b)", file: file, line: line)
        }
    }

    func testDefaultHyperparametersAreTheUsualOnes() {
        let s = OptimizerSettings(kind: .adam)
        XCTAssertEqual(s.beta1, 0.9)
        XCTAssertEqual(s.beta2, 0.999)
        XCTAssertEqual(s.epsilon, 1e-8)
    }

    func testSGDStepsSubtractLearningRateTimesGradient() {
        let (w1, w2, opt) = run(.sgd)
        // W₁ = W₀ − α·g₁ = [1 − 0.05, −2 + 0.025] = [0.95, −1.975]
        assertClose(w1, [0.95, -1.975])
        // W₂ = W₁ − α·g₂ = [0.95 − 0.02, −1.975 − 0.04] = [0.93, −2.015]
        assertClose(w2, [0.93, -2.015])
        XCTAssertEqual(opt.step, 2)
        XCTAssertTrue(opt.v.isEmpty)
        XCTAssertTrue(opt.s.isEmpty)
    }

    func testMomentumStepsFollowExponentialAverageOfGradients() {
        let (w1, w2, opt) = run(.momentum)
        // v₁ = 0.1·g₁ = [0.05, −0.025];  W₁ = W₀ − 0.1·v₁ = [0.995, −1.9975]
        assertClose(w1, [0.995, -1.9975])
        // v₂ = 0.9·v₁ + 0.1·g₂ = [0.045 + 0.02, −0.0225 + 0.04] = [0.065, 0.0175]
        // W₂ = W₁ − 0.1·v₂ = [0.995 − 0.0065, −1.9975 − 0.00175] = [0.9885, −1.99925]
        assertClose(w2, [0.9885, -1.99925])
        assertClose(opt.v[0].values, [0.065, 0.0175])
        XCTAssertTrue(opt.s.isEmpty)
    }

    func testRMSpropStepsDivideByRootOfSquaredGradientAverage() {
        let (w1, w2, opt) = run(.rmsprop)
        // s₁ = 0.001·g₁² = [0.00025, 0.0000625]
        // W₁ = W₀ − 0.1·g₁/(√s₁ + ε):  √0.00025 ≈ 0.0158114, √0.0000625 = 0.0079057
        //    ≈ [1 − 3.1623, −2 + 3.1623] = [−2.1623, 1.1623]
        let s1 = [0.001 * 0.25, 0.001 * 0.0625]
        let w1Expected = [1 - 0.1 * 0.5 / (s1[0].squareRoot() + 1e-8),
                          -2 - 0.1 * -0.25 / (s1[1].squareRoot() + 1e-8)]
        assertClose(w1, w1Expected)
        // Without ε this is 1 − 0.1·0.5/√0.00025 = 1 − 0.1·√1000 ≈ −2.16228; ε moves it by ≈ 2e-6.
        XCTAssertEqual(w1[0], 1 - 0.1 * 1000.0.squareRoot(), accuracy: 1e-5)
        // s₂ = 0.999·s₁ + 0.001·g₂² = [0.00024975 + 0.00004, 0.0000624375 + 0.00016]
        //    = [0.00028975, 0.0002224375]
        let s2 = [0.999 * s1[0] + 0.001 * 0.04, 0.999 * s1[1] + 0.001 * 0.16]
        XCTAssertEqual(s2[0], 0.00028975, accuracy: 1e-15)
        XCTAssertEqual(s2[1], 0.0002224375, accuracy: 1e-15)
        // W₂ = W₁ − 0.1·g₂/(√s₂ + ε) ≈ [W₁[0] − 1.17496, W₁[1] − 2.68199]
        let w2Expected = [w1Expected[0] - 0.1 * 0.2 / (s2[0].squareRoot() + 1e-8),
                          w1Expected[1] - 0.1 * 0.4 / (s2[1].squareRoot() + 1e-8)]
        assertClose(w2, w2Expected, accuracy: 1e-10)
        assertClose(opt.s[0].values, s2, accuracy: 1e-15)
        XCTAssertTrue(opt.v.isEmpty)
    }

    func testAdamFirstStepMovesEachWeightByAboutTheLearningRate() {
        let (w1, _, opt) = run(.adam)
        // t = 1: v̂ = v/(1 − 0.9) = g, ŝ = s/(1 − 0.999) = g², so the step is
        // α·g/(|g| + ε) ≈ α·sign(g):  W₁ ≈ [1 − 0.1, −2 + 0.1] = [0.9, −1.9]
        let w1Expected = [1 - 0.1 * 0.5 / (0.5 + 1e-8), -2 - 0.1 * -0.25 / (0.25 + 1e-8)]
        assertClose(w1, w1Expected, accuracy: 1e-12)
        assertClose(w1, [0.9, -1.9], accuracy: 1e-8)
        XCTAssertEqual(opt.step, 2)
    }

    func testAdamSecondStepUsesBiasCorrectedMoments() {
        let (w1, w2, opt) = run(.adam)
        // v₂ = 0.9·(0.1·g₁) + 0.1·g₂ = [0.045 + 0.02, −0.0225 + 0.04] = [0.065, 0.0175]
        // s₂ = 0.999·(0.001·g₁²) + 0.001·g₂² = [0.00028975, 0.0002224375]
        let v2 = [0.065, 0.0175]
        let s2 = [0.00028975, 0.0002224375]
        assertClose(opt.v[0].values, v2, accuracy: 1e-15)
        assertClose(opt.s[0].values, s2, accuracy: 1e-15)
        // Bias corrections at t = 2: 1/(1 − 0.81) = 1/0.19, 1/(1 − 0.998001) = 1/0.001999.
        // Entry 0: v̂ = 0.065/0.19 ≈ 0.342105, ŝ = 0.00028975/0.001999 ≈ 0.144947,
        //          step = 0.1·0.342105/(0.380719 + ε) ≈ 0.0898576, W₂ ≈ 0.9 − 0.0899 = 0.81014
        // Entry 1: v̂ = 0.0175/0.19 ≈ 0.0921053, ŝ = 0.0002224375/0.001999 ≈ 0.111274,
        //          step ≈ 0.1·0.0921053/0.333577 ≈ 0.0276113, W₂ ≈ −1.9 − 0.0276 = −1.92761
        var w2Expected = [Double]()
        for i in 0..<2 {
            let vHat = v2[i] / 0.19
            let sHat = s2[i] / 0.001999
            w2Expected.append(w1[i] - 0.1 * vHat / (sHat.squareRoot() + 1e-8))
        }
        assertClose(w2, w2Expected, accuracy: 1e-12)
        assertClose(w2, [0.81014, -1.92761], accuracy: 1e-5)
    }

    func testOptimizerInFloat32AgreesWithDouble() {
        let p = Parameter<Float>(name: "W", rows: 2, cols: 1, regularized: true)
        p.value.data[0] = 1
        p.value.data[1] = -2
        p.gradient.data[0] = 0.5
        p.gradient.data[1] = -0.25
        let opt = Optimizer<Float>(settings: OptimizerSettings(kind: .momentum), parameters: [p])
        opt.update([p], learningRate: 0.1)
        // Same as the Double momentum case: [0.995, −1.9975].
        XCTAssertEqual(p.value.data[0], 0.995, accuracy: 1e-6)
        XCTAssertEqual(p.value.data[1], -1.9975, accuracy: 1e-6)
    }

    func testOptimizerKeepsSeparateMomentsPerParameter() {
        let a = makeParameter(), b = makeParameter()
        let opt = Optimizer<Double>(settings: OptimizerSettings(kind: .momentum), parameters: [a, b])
        setGradient(a, [1, 1])
        setGradient(b, [-1, 0])
        opt.update([a, b], learningRate: 1)
        // v_a = 0.1·[1, 1], v_b = 0.1·[−1, 0]
        assertClose(opt.v[0].values, [0.1, 0.1])
        assertClose(opt.v[1].values, [-0.1, 0])
        assertClose(a.value.values, [0.9, -2.1])
        assertClose(b.value.values, [1.1, -2])
    }

    // MARK: Learning-rate decay

    func testNoDecayKeepsTheBaseRate() {
        for t in [0, 1, 57, 999] {
            XCTAssertEqual(LearningRateDecay.none.learningRate(base: 0.01, step: t, stepsPerEpoch: 10, totalSteps: 1000), 0.01)
        }
    }

    func testStepDecayMultipliesByFactorEveryNEpochs() {
        let decay = LearningRateDecay.step(every: 2, factor: 0.5)
        func lr(_ t: Int) -> Double { decay.learningRate(base: 0.08, step: t, stepsPerEpoch: 10, totalSteps: 100) }
        // Epoch = t/10; exponent = ⌊epoch/2⌋.
        XCTAssertEqual(lr(0), 0.08)    // epoch 0 → 0.08
        XCTAssertEqual(lr(19), 0.08)   // epoch 1 → 0.08
        XCTAssertEqual(lr(20), 0.04)   // epoch 2 → 0.08·0.5
        XCTAssertEqual(lr(39), 0.04)   // epoch 3
        XCTAssertEqual(lr(45), 0.02)   // epoch 4 → 0.08·0.25
        XCTAssertEqual(lr(60), 0.01)   // epoch 6 → 0.08·0.125
    }

    func testExponentialDecayIsContinuousPerStep() {
        let decay = LearningRateDecay.exponential(rate: 0.9)
        func lr(_ t: Int) -> Double { decay.learningRate(base: 1, step: t, stepsPerEpoch: 10, totalSteps: 100) }
        XCTAssertEqual(lr(0), 1, accuracy: 1e-15)
        XCTAssertEqual(lr(10), 0.9, accuracy: 1e-15)        // one epoch done
        XCTAssertEqual(lr(20), 0.81, accuracy: 1e-15)       // two epochs
        XCTAssertEqual(lr(5), 0.9.squareRoot(), accuracy: 1e-15) // half an epoch: 0.9^0.5 ≈ 0.948683
        XCTAssertEqual(lr(25), 0.81 * 0.9.squareRoot(), accuracy: 1e-15)
    }

    func testCosineDecayGoesFromBaseThroughHalfToZero() {
        let decay = LearningRateDecay.cosine
        func lr(_ t: Int) -> Double { decay.learningRate(base: 0.2, step: t, stepsPerEpoch: 10, totalSteps: 100) }
        XCTAssertEqual(lr(0), 0.2, accuracy: 1e-15)        // (1 + cos 0)/2 = 1
        XCTAssertEqual(lr(50), 0.1, accuracy: 1e-15)       // (1 + cos π/2)/2 = 1/2
        XCTAssertEqual(lr(100), 0, accuracy: 1e-15)        // (1 + cos π)/2 = 0
        // (1 + cos π/4)/2 = (1 + √2/2)/2 ≈ 0.853553
        XCTAssertEqual(lr(25), 0.2 * (1 + 0.5.squareRoot()) / 2, accuracy: 1e-15)
        // Past the end it stays at 0 instead of rising again.
        XCTAssertEqual(lr(150), 0, accuracy: 1e-15)
        // Monotonically non-increasing over the run.
        for t in 1...100 { XCTAssertLessThanOrEqual(lr(t), lr(t - 1), "step \(t)") }
    }
}
