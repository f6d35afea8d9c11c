import XCTest
@testable import DeepScratch

/// A layer with a deliberately wrong backward pass: `A = Z²`, but
/// `backward` returns `dA ⊙ Z` instead of `dA ⊙ 2Z`.
private final class WrongSquare: Layer {
    typealias T = Double
    let inputSize: Int
    var outputSize: Int { inputSize }
    private let A: Matrix<Double>
    private var Z: Matrix<Double>?
    init(size: Int) { inputSize = size; A = Matrix(rows: size, cols: 0) }

    func forward(_ input: Matrix<Double>, training: Bool) -> Matrix<Double> {
        Z = input
        A.resize(cols: input.cols)
        for i in 0..<input.count { A.data[i] = input.data[i] * input.data[i] }
        return A
    }

    func backward(_ dA: Matrix<Double>) -> Matrix<Double> {
        for i in 0..<dA.count { dA.data[i] *= Z!.data[i] } // missing the factor 2
        return dA
    }
}

/// Float64 gradient checks: every analytic gradient of the engine agrees
/// with central differences, and the checker itself catches wrong ones.
final class GradientCheckTests: XCTestCase {
    /// `runAll()` is deterministic; run it once for the tests below.
    nonisolated(unsafe) private static var cached: [GradientCheckResult]?
    private static func allResults() -> [GradientCheckResult] {
        if let cached { return cached }
        let results = GradientCheck.runAll()
        cached = results
        return results
    }

    func testThresholdIsOneInTenMillion() {
        XCTAssertEqual(GradientCheck.threshold, 1e-7)
    }

    func testEveryCheckOfRunAllIsBelowThreshold() {
        let results = Self.allResults()
        XCTAssertFalse(results.isEmpty)
        for r in results {
            XCTAssertLessThan(r.relativeDifference, GradientCheck.threshold,
                              "\(r.name): relative difference \(r.relativeDifference)")
            XCTAssertGreaterThan(r.entries, 0, "\(r.name) compared no entries")
            XCTAssertTrue(r.relativeDifference.isFinite, "\(r.name) is not finite")
        }
    }

    func testRunAllCoversDenseEachActivationDropoutLossAndNetworks() {
        let names = Set(Self.allResults().map(\.name))
        let required = [
            // Dense alone: input gradient, weights, biases.
            "Dense dX", "Dense dW", "Dense db",
            // Each activation and dropout alone.
            "ReLU dX", "LeakyReLU dX", "Tanh dX", "Sigmoid dX", "Dropout dX",
            // The fused softmax + cross-entropy gradient.
            "softmax + cross-entropy dZ",
            // ReLU network [12, 10, 8, 5] with dropout and L2: three dense layers.
            "network dW1", "network db1", "network dW2", "network db2", "network dW3", "network db3",
            // One network per other activation, [9, 7, 4]: two dense layers.
            "leaky-relu network dW1", "leaky-relu network db2",
            "tanh network dW1", "tanh network db2",
            "sigmoid network dW1", "sigmoid network db2",
        ]
        for name in required { XCTAssertTrue(names.contains(name), "runAll() has no check named '\(name)'; it has \(names.sorted())") }
    }

    func testRunAllComparesEveryEntryOfEachTensor() {
        let byName = Dictionary(Self.allResults().map { ($0.name, $0.entries) }, uniquingKeysWith: { a, _ in a })
        // Dense 6 → 4, batch 4: dX is 6×4 = 24, dW 4×6 = 24, db 4.
        XCTAssertEqual(byName["Dense dX"], 24)
        XCTAssertEqual(byName["Dense dW"], 24)
        XCTAssertEqual(byName["Dense db"], 4)
        // Activations of size 7, batch 4: 28 entries.
        XCTAssertEqual(byName["ReLU dX"], 28)
        // Loss: 5 classes × 6 examples.
        XCTAssertEqual(byName["softmax + cross-entropy dZ"], 30)
        // Network [12, 10, 8, 5]: W1 is 10×12, W3 is 5×8.
        XCTAssertEqual(byName["network dW1"], 120)
        XCTAssertEqual(byName["network dW3"], 40)
    }

    func testRelativeDifferenceOfGradientScaledByOnePercentIsFarAboveThreshold() {
        let g = [0.3, -1.2, 2.5, 0.7, -0.05]
        let scaled = g.map { $0 * 1.01 }
        // ‖g − 1.01g‖ / (‖g‖ + 1.01‖g‖) = 0.01 / 2.01 ≈ 4.975e-3, whatever g is.
        let d = GradientCheck.relativeDifference(g, scaled)
        XCTAssertEqual(d, 0.01 / 2.01, accuracy: 1e-12)
        XCTAssertGreaterThan(d, 1e4 * GradientCheck.threshold)
    }

    func testRelativeDifferenceWithOneEntryChangedIsFarAboveThreshold() {
        let g = [3.0, 4.0] // ‖g‖ = 5
        let wrong = [3.0, 4.001]
        // ‖g − g̃‖ = 0.001, ‖g̃‖ = √(9 + 16.008001) = √25.008001 ≈ 5.0008
        // → 0.001 / 10.0008 ≈ 1.0e-4
        let d = GradientCheck.relativeDifference(g, wrong)
        XCTAssertEqual(d, 0.001 / (5 + 25.008001.squareRoot()), accuracy: 1e-12)
        XCTAssertGreaterThan(d, 100 * GradientCheck.threshold)
    }

    func testRelativeDifferenceIsZeroForEqualOrBothZeroGradients() {
        XCTAssertEqual(GradientCheck.relativeDifference([1, -2, 3], [1, -2, 3]), 0)
        XCTAssertEqual(GradientCheck.relativeDifference([0, 0], [0, 0]), 0)
        // Opposite gradients: ‖2g‖ / (2‖g‖) = 1, the maximum.
        XCTAssertEqual(GradientCheck.relativeDifference([1, 2], [-1, -2]), 1, accuracy: 1e-15)
    }

    func testCheckLayerCatchesAWrongBackwardPass() {
        // Analytic dX = R ⊙ Z, true dX = 2·R ⊙ Z:
        // ‖g − 2g‖ / (‖g‖ + 2‖g‖) = 1/3.
        let results = GradientCheck.checkLayer(WrongSquare(size: 5), name: "WrongSquare")
        XCTAssertEqual(results.count, 1)
        XCTAssertEqual(results[0].name, "WrongSquare dX")
        XCTAssertEqual(results[0].relativeDifference, 1.0 / 3, accuracy: 1e-6)
        XCTAssertGreaterThan(results[0].relativeDifference, GradientCheck.threshold)
    }

    func testCheckLayerOfDenseWithL2OutsideTheCostIsCaught() {
        // checkLayer's J has no L2 term, so a Dense whose dW includes (λ/m)·W
        // must fail there: this shows the check is sensitive to that term.
        let dense = Dense<Double>(inputSize: 5, outputSize: 3)
        var rng = RandomSource(seed: 4)
        dense.initialize(.he, rng: &rng)
        dense.l2 = 0.5
        let results = GradientCheck.checkLayer(dense, name: "Dense+L2")
        let dW = results.first { $0.name == "Dense+L2 dW" }
        XCTAssertNotNil(dW)
        XCTAssertGreaterThan(dW?.relativeDifference ?? 0, 1e-4)
        // dX and db do not depend on λ.
        for r in results where r.name != "Dense+L2 dW" {
            XCTAssertLessThan(r.relativeDifference, GradientCheck.threshold, r.name)
        }
    }

    func testDenseWithL2PassesTheNetworkCheck() {
        // A single dense layer (softmax regression) with λ = 0.9 …
        let single = GradientCheck.checkNetwork(Architecture(sizes: [6, 3]), l2: 0.9)
        XCTAssertEqual(single.map(\.name), ["network dW1", "network db1"])
        // … and a hidden ReLU layer with a strong λ = 2.5 and dropout.
        let hidden = GradientCheck.checkNetwork(Architecture(sizes: [5, 6, 3], activation: .relu, keep: [0.8]), l2: 2.5)
        XCTAssertEqual(hidden.count, 4)
        for r in single + hidden {
            XCTAssertLessThan(r.relativeDifference, GradientCheck.threshold, "\(r.name): \(r.relativeDifference)")
        }
    }

    func testLossCheckPassesForOtherShapes() {
        let r = GradientCheck.checkLoss(classes: 10, batch: 3, seed: 99)
        XCTAssertEqual(r.entries, 30)
        XCTAssertLessThan(r.relativeDifference, GradientCheck.threshold, r.name)
    }
}
