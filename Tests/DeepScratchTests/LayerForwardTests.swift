import Foundation
import XCTest
@testable import DeepScratch

/// Forward and backward passes of every layer against values worked out by
/// hand (the arithmetic is in the comments).
final class LayerForwardTests: XCTestCase {
    // MARK: Dense

    /// W = [[1, 2, 3], [4, 5, 6]], b = [0.5, −1], input A (3 features × 2 examples):
    ///   column 0 = [1, 0, 2], column 1 = [−1, 2, 0.5].
    private func makeDense() -> (Dense<Double>, Matrix<Double>) {
        let dense = Dense<Double>(inputSize: 3, outputSize: 2)
        let W: [Double] = [1, 2, 3,
                           4, 5, 6]
        for (i, v) in W.enumerated() { dense.W.value.data[i] = v }
        dense.b.value.data[0] = 0.5
        dense.b.value.data[1] = -1
        let A = matrix([[1.0, -1.0],
                        [0.0, 2.0],
                        [2.0, 0.5]])
        return (dense, A)
    }

    func testDenseForwardComputesWTimesAPlusBias() {
        let (dense, A) = makeDense()
        let Z = dense.forward(A, training: true)
        // Z[0,0] = 1·1 + 2·0 + 3·2 + 0.5     = 7.5
        // Z[0,1] = 1·(−1) + 2·2 + 3·0.5 + 0.5 = 5
        // Z[1,0] = 4·1 + 5·0 + 6·2 − 1       = 15
        // Z[1,1] = 4·(−1) + 5·2 + 6·0.5 − 1  = 8
        XCTAssertEqual(Z.rows, 2)
        XCTAssertEqual(Z.cols, 2)
        XCTAssertEqual(Z.values, [7.5, 5, 15, 8])
    }

    func testDenseBackwardGivesDWDbAndDA() {
        let (dense, A) = makeDense()
        _ = dense.forward(A, training: true)
        // dZ = [[1, 2], [−1, 0.5]]
        let dZ = matrix([[1.0, 2.0], [-1.0, 0.5]])
        let dA = dense.backward(dZ)
        // dW = dZ·Aᵀ: row 0 = 1·A[:,0] + 2·A[:,1] = [1−2, 0+4, 2+1]       = [−1, 4, 3]
        //             row 1 = −1·A[:,0] + 0.5·A[:,1] = [−1−0.5, 0+1, −2+0.25] = [−1.5, 1, −1.75]
        XCTAssertEqual(dense.W.gradient.values, [-1, 4, 3, -1.5, 1, -1.75])
        // db = row sums of dZ = [1+2, −1+0.5] = [3, −0.5]
        XCTAssertEqual(dense.b.gradient.values, [3, -0.5])
        // dA = Wᵀ·dZ: dA[k,j] = Σ_i W[i,k]·dZ[i,j]
        //   k=0: [1·1 + 4·(−1), 1·2 + 4·0.5] = [−3, 4]
        //   k=1: [2·1 + 5·(−1), 2·2 + 5·0.5] = [−3, 6.5]
        //   k=2: [3·1 + 6·(−1), 3·2 + 6·0.5] = [−3, 9]
        XCTAssertEqual(dA.rows, 3)
        XCTAssertEqual(dA.cols, 2)
        XCTAssertEqual(dA.values, [-3, 4, -3, 6.5, -3, 9])
    }

    func testDenseBackwardWithL2AddsLambdaOverMTimesW() {
        let (dense, A) = makeDense()
        dense.l2 = 0.4
        _ = dense.forward(A, training: true)
        _ = dense.backward(matrix([[1.0, 2.0], [-1.0, 0.5]]))
        // dW = dZ·Aᵀ + (λ/m)·W with λ/m = 0.4/2 = 0.2:
        //   [−1 + 0.2, 4 + 0.4, 3 + 0.6, −1.5 + 0.8, 1 + 1.0, −1.75 + 1.2]
        let expected: [Double] = [-0.8, 4.4, 3.6, -0.7, 2.0, -0.55]
        for (got, want) in zip(dense.W.gradient.values, expected) { XCTAssertEqual(got, want, accuracy: 1e-12) }
        // Biases are not regularized: db is still [3, −0.5].
        XCTAssertEqual(dense.b.gradient.values, [3, -0.5])
    }

    func testDenseForwardInFloat32MatchesHandValues() {
        let dense = Dense<Float>(inputSize: 3, outputSize: 2)
        for (i, v) in [Float(1), 2, 3, 4, 5, 6].enumerated() { dense.W.value.data[i] = v }
        dense.b.value.data[0] = 0.5
        dense.b.value.data[1] = -1
        let Z = dense.forward(matrix([[Float(1), -1], [0, 2], [2, 0.5]]), training: false)
        // Same numbers as the Double case; all exactly representable in Float32.
        XCTAssertEqual(Z.values, [7.5, 5, 15, 8])
    }

    // MARK: Activations

    func testReLUForwardZeroesNegativesAndKeepsPositives() {
        let relu = ReLU<Double>(size: 5)
        let A = relu.forward(matrix([[-2.0], [-0.5], [0.0], [0.5], [3.0]]), training: true)
        // max(0, z)
        XCTAssertEqual(A.values, [0, 0, 0, 0.5, 3])
    }

    func testReLUBackwardPassesGradientOnlyWherePositive() {
        let relu = ReLU<Double>(size: 4)
        _ = relu.forward(matrix([[-2.0], [-0.5], [0.5], [3.0]]), training: true)
        let dZ = relu.backward(matrix([[1.0], [2.0], [3.0], [4.0]]))
        // dZ = dA ⊙ [z > 0] = [0, 0, 3, 4]
        XCTAssertEqual(dZ.values, [0, 0, 3, 4])
    }

    func testLeakyReLUForwardScalesNegativesByAlpha() {
        let leaky = LeakyReLU<Double>(size: 5)
        XCTAssertEqual(leaky.alpha, 0.01)
        let A = leaky.forward(matrix([[-2.0], [-0.5], [0.0], [0.5], [3.0]]), training: true)
        // z > 0 ? z : 0.01·z = [−0.02, −0.005, 0, 0.5, 3]
        let expected: [Double] = [-0.02, -0.005, 0, 0.5, 3]
        for (got, want) in zip(A.values, expected) { XCTAssertEqual(got, want, accuracy: 1e-15) }
    }

    func testLeakyReLUBackwardScalesNegativeSideByAlpha() {
        let leaky = LeakyReLU<Double>(size: 4)
        _ = leaky.forward(matrix([[-2.0], [-0.5], [0.5], [3.0]]), training: true)
        let dZ = leaky.backward(matrix([[1.0], [2.0], [3.0], [4.0]]))
        // dZ = dA ⊙ (z > 0 ? 1 : 0.01) = [0.01, 0.02, 3, 4]
        let expected: [Double] = [0.01, 0.02, 3, 4]
        for (got, want) in zip(dZ.values, expected) { XCTAssertEqual(got, want, accuracy: 1e-15) }
    }

    func testTanhForwardMatchesClosedForms() {
        let tanh = Tanh<Double>(size: 4)
        // tanh(ln k) = (k² − 1)/(k² + 1): tanh(ln 2) = 3/5 = 0.6, tanh(ln 3) = 8/10 = 0.8; odd; tanh(0) = 0.
        let A = tanh.forward(matrix([[0.0], [log(2.0)], [-log(2.0)], [log(3.0)]]), training: true)
        let expected: [Double] = [0, 0.6, -0.6, 0.8]
        for (got, want) in zip(A.values, expected) { XCTAssertEqual(got, want, accuracy: 1e-15) }
    }

    func testTanhBackwardMultipliesByOneMinusASquared() {
        let tanh = Tanh<Double>(size: 3)
        _ = tanh.forward(matrix([[0.0], [log(2.0)], [log(3.0)]]), training: true)
        let dZ = tanh.backward(matrix([[2.0], [1.0], [-5.0]]))
        // dZ = dA ⊙ (1 − A²): [2·(1 − 0), 1·(1 − 0.36), −5·(1 − 0.64)] = [2, 0.64, −1.8]
        let expected: [Double] = [2, 0.64, -1.8]
        for (got, want) in zip(dZ.values, expected) { XCTAssertEqual(got, want, accuracy: 1e-14) }
    }

    func testSigmoidForwardMatchesClosedForms() {
        let sigmoid = Sigmoid<Double>(size: 3)
        // σ(0) = 1/2;  σ(ln 3) = 1/(1 + 1/3) = 3/4;  σ(−ln 3) = 1/(1 + 3) = 1/4.
        let A = sigmoid.forward(matrix([[0.0], [log(3.0)], [-log(3.0)]]), training: true)
        let expected: [Double] = [0.5, 0.75, 0.25]
        for (got, want) in zip(A.values, expected) { XCTAssertEqual(got, want, accuracy: 1e-15) }
    }

    func testSigmoidBackwardMultipliesByAOneMinusA() {
        let sigmoid = Sigmoid<Double>(size: 3)
        _ = sigmoid.forward(matrix([[0.0], [log(3.0)], [-log(3.0)]]), training: true)
        let dZ = sigmoid.backward(matrix([[1.0], [2.0], [-4.0]]))
        // dZ = dA ⊙ A(1 − A): [1·0.25, 2·0.1875, −4·0.1875] = [0.25, 0.375, −0.75]
        let expected: [Double] = [0.25, 0.375, -0.75]
        for (got, want) in zip(dZ.values, expected) { XCTAssertEqual(got, want, accuracy: 1e-15) }
    }

    func testSigmoidInFloat32MatchesClosedForms() {
        let sigmoid = Sigmoid<Float>(size: 2)
        let A = sigmoid.forward(matrix([[Float(0)], [Float(log(3.0))]]), training: true)
        XCTAssertEqual(A.values[0], 0.5, accuracy: 1e-7)
        XCTAssertEqual(A.values[1], 0.75, accuracy: 1e-6)
    }

    func testActivationKindMakesTheMatchingLayerAndInit() {
        XCTAssertTrue(ActivationKind.relu.makeLayer(size: 3, as: Float.self) is ReLU<Float>)
        XCTAssertTrue(ActivationKind.leakyReLU.makeLayer(size: 3, as: Float.self) is LeakyReLU<Float>)
        XCTAssertTrue(ActivationKind.tanh.makeLayer(size: 3, as: Float.self) is Tanh<Float>)
        XCTAssertTrue(ActivationKind.sigmoid.makeLayer(size: 3, as: Float.self) is Sigmoid<Float>)
        XCTAssertEqual(ActivationKind.relu.suitedInit, .he)
        XCTAssertEqual(ActivationKind.leakyReLU.suitedInit, .he)
        XCTAssertEqual(ActivationKind.tanh.suitedInit, .xavier)
        XCTAssertEqual(ActivationKind.sigmoid.suitedInit, .xavier)
        // σ: He √(2/n), Xavier √(1/n), small 0.01; for n = 8: 0.5, √(1/8), 0.01.
        XCTAssertEqual(WeightInit.he.standardDeviation(fanIn: 8), 0.5, accuracy: 1e-15)
        XCTAssertEqual(WeightInit.xavier.standardDeviation(fanIn: 8), (1.0 / 8).squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(WeightInit.small.standardDeviation(fanIn: 8), 0.01)
    }

    // MARK: Dropout

    /// A 100 × 1000 input whose entries are all nonzero (1 … 7), so a zero
    /// output means a dropped unit.
    private func dropoutInput() -> Matrix<Float> {
        let X = Matrix<Float>(rows: 100, cols: 1000)
        for i in 0..<X.count { X.data[i] = Float(1 + i % 7) }
        return X
    }

    func testDropoutInTrainingKeepsAboutKeepOfUnitsScaledByOneOverKeep() {
        let keep = 0.8
        let dropout = Dropout<Float>(size: 100, keep: keep, rng: RandomSource(seed: 42))
        let X = dropoutInput()
        let A = dropout.forward(X, training: true)
        XCTAssertEqual(A.rows, 100)
        XCTAssertEqual(A.cols, 1000)
        var kept = 0
        for i in 0..<A.count {
            let a = A.data[i], x = X.data[i]
            if a == 0 { continue }
            kept += 1
            // A kept unit is x / keep (inverted dropout).
            XCTAssertEqual(Double(a), Double(x) / keep, accuracy: 1e-5 * Double(x) / keep)
        }
        // 100 000 Bernoulli(0.8) draws: the standard error of the fraction is
        // √(0.8·0.2/100000) ≈ 0.0013, so ±0.01 is about 8 standard errors.
        let fraction = Double(kept) / Double(A.count)
        XCTAssertEqual(fraction, keep, accuracy: 0.01)
    }

    func testDropoutBackwardUsesTheSameMaskAsForward() {
        let keep = 0.5
        let dropout = Dropout<Float>(size: 100, keep: keep, rng: RandomSource(seed: 3))
        let X = dropoutInput()
        let A = dropout.forward(X, training: true).values
        let dA = Matrix<Float>(rows: 100, cols: 1000)
        dA.fill(1)
        let dX = dropout.backward(dA).values
        // dX = 1 ⊙ D: 1/keep = 2 where the unit was kept (A ≠ 0), else 0.
        var mismatches = 0
        for i in 0..<A.count where dX[i] != (A[i] != 0 ? 2 : 0) { mismatches += 1 }
        XCTAssertEqual(mismatches, 0)
        XCTAssertEqual(Double(dX.filter { $0 != 0 }.count) / Double(dX.count), keep, accuracy: 0.01)
    }

    func testDropoutNotTrainingReturnsInputUnchanged() {
        let dropout = Dropout<Float>(size: 100, keep: 0.5, rng: RandomSource(seed: 1))
        let X = dropoutInput()
        let before = X.values
        let A = dropout.forward(X, training: false)
        XCTAssertTrue(A === X, "evaluation should pass the input through")
        XCTAssertEqual(A.values, before)
        // And the backward pass is then the identity too.
        let dA = matrix([[Float(1), 2], [3, 4]])
        let small = Dropout<Float>(size: 2, keep: 0.5, rng: RandomSource(seed: 1))
        _ = small.forward(matrix([[Float(5), 6], [7, 8]]), training: false)
        XCTAssertEqual(small.backward(dA).values, [1, 2, 3, 4])
    }

    func testDropoutWithKeepOneIsIdentityEvenInTraining() {
        let dropout = Dropout<Float>(size: 100, keep: 1, rng: RandomSource(seed: 1))
        let X = dropoutInput()
        let A = dropout.forward(X, training: true)
        XCTAssertEqual(A.values, X.values)
    }

    func testDropoutDrawsANewMaskEachCallUnlessFrozen() {
        let X = dropoutInput()
        let dropout = Dropout<Float>(size: 100, keep: 0.5, rng: RandomSource(seed: 8))
        let first = dropout.forward(X, training: true).values
        let second = dropout.forward(X, training: true).values
        XCTAssertNotEqual(first, second, "two independent masks of 100 000 units should differ")
        dropout.freezesMask = true
        let third = dropout.forward(X, training: true).values
        let fourth = dropout.forward(X, training: true).values
        XCTAssertEqual(third, fourth, "a frozen mask must be reused")
    }

    // MARK: Softmax + cross-entropy

    /// Z (3 classes × 2 examples): column 0 = [1, 2, 3], column 1 = [0, 0, ln 2].
    private func softmaxInput() -> Matrix<Double> {
        matrix([[1.0, 0.0],
                [2.0, 0.0],
                [3.0, log(2.0)]])
    }

    func testSoftmaxOfKnownColumns() {
        let head = SoftmaxCrossEntropy<Double>(classes: 3)
        let A = head.forward(softmaxInput())
        // Column 0: e^i / (e + e² + e³) for i = 1, 2, 3.
        let e1 = M_E, e2 = M_E * M_E, e3 = M_E * M_E * M_E
        let sum = e1 + e2 + e3
        XCTAssertEqual(A[0, 0], e1 / sum, accuracy: 1e-15) // ≈ 0.0900306
        XCTAssertEqual(A[1, 0], e2 / sum, accuracy: 1e-15) // ≈ 0.2447285
        XCTAssertEqual(A[2, 0], e3 / sum, accuracy: 1e-15) // ≈ 0.6652410
        // Column 1: [1, 1, 2] / 4 = [0.25, 0.25, 0.5].
        XCTAssertEqual(A[0, 1], 0.25, accuracy: 1e-15)
        XCTAssertEqual(A[1, 1], 0.25, accuracy: 1e-15)
        XCTAssertEqual(A[2, 1], 0.5, accuracy: 1e-15)
    }

    func testCrossEntropyCostIsMinusMeanLogProbabilityOfLabel() {
        let head = SoftmaxCrossEntropy<Double>(classes: 3)
        _ = head.forward(softmaxInput())
        let labels: [Int32] = [2, 0]
        let cost = labels.withUnsafeBufferPointer { head.cost(labels: $0) }
        // J = −(log p₀[2] + log p₁[0]) / 2 = −(3 − log(e + e² + e³) + log(1/4)) / 2
        let sum = M_E + M_E * M_E + M_E * M_E * M_E
        let expected = -((3 - log(sum)) + log(0.25)) / 2 // ≈ 0.8966
        XCTAssertEqual(cost, expected, accuracy: 1e-14)
    }

    func testSoftmaxBackwardIsAMinusYOverM() {
        let head = SoftmaxCrossEntropy<Double>(classes: 3)
        let A = head.forward(softmaxInput()).values
        let labels: [Int32] = [2, 0]
        let dZ = labels.withUnsafeBufferPointer { head.backward(labels: $0) }
        // Y is one-hot: Y[2,0] = 1, Y[0,1] = 1. dZ = (A − Y)/2.
        let Y: [Double] = [0, 1,
                           0, 0,
                           1, 0]
        XCTAssertEqual(dZ.rows, 3)
        XCTAssertEqual(dZ.cols, 2)
        for i in 0..<6 { XCTAssertEqual(dZ.values[i], (A[i] - Y[i]) / 2, accuracy: 1e-15, "entry \(i)") }
        // Each column of dZ sums to (1 − 1)/m = 0.
        XCTAssertEqual(dZ[0, 0] + dZ[1, 0] + dZ[2, 0], 0, accuracy: 1e-15)
    }

    func testSoftmaxStaysFiniteForHugeLogits() {
        let head = SoftmaxCrossEntropy<Float>(classes: 2)
        // softmax([1000, 1000]) = [0.5, 0.5] and the cost is log 2; e^1000 would overflow.
        let A = head.forward(matrix([[Float(1000)], [Float(1000)]]))
        XCTAssertEqual(A.values, [0.5, 0.5])
        // A label whose probability underflows to 0 still gets a finite cost:
        // Z = [0, −200] for label 1: cost = log(1 + e^−200) + 200 ≈ 200.
        _ = head.forward(matrix([[Float(0)], [Float(-200)]]))
        let labels: [Int32] = [1]
        let cost = labels.withUnsafeBufferPointer { head.cost(labels: $0) }
        XCTAssertTrue(cost.isFinite)
        XCTAssertEqual(cost, 200, accuracy: 1e-3)
    }
}

/// Batch assembly: standardization, column layout and augmentation shifts.
final class BatchAssemblyTests: XCTestCase {
    // Two 2x3 images; pixel bytes chosen so the table maps byte v to v itself.
    private let pixels: [UInt8] = [1, 2, 3,
                                   4, 5, 6,
                                   7, 8, 9,
                                   10, 11, 12]
    private let labels: [UInt8] = [3, 7]
    private let table: [Double] = (0..<256).map(Double.init)

    private func assemble(_ indices: [Int32], shifts: [Int8]?) -> (Matrix<Double>, [Int32]) {
        let X = Matrix<Double>(rows: 6, cols: 0)
        var out = [Int32](repeating: -1, count: indices.count)
        pixels.withUnsafeBufferPointer { px in
            labels.withUnsafeBufferPointer { lb in
                table.withUnsafeBufferPointer { t in
                    indices.withUnsafeBufferPointer { idx in
                        out.withUnsafeMutableBufferPointer { o in
                            if let shifts {
                                shifts.withUnsafeBufferPointer { sh in
                                    assembleBatch(px.baseAddress!, lb.baseAddress!, rows: 2, cols: 3, indices: idx,
                                                  table: t.baseAddress!, into: X, labels: o.baseAddress!, shifts: sh.baseAddress)
                                }
                            } else {
                                assembleBatch(px.baseAddress!, lb.baseAddress!, rows: 2, cols: 3, indices: idx,
                                              table: t.baseAddress!, into: X, labels: o.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        return (X, out)
    }

    func testExamplesBecomeColumnsInIndexOrder() {
        let (X, y) = assemble([1, 0], shifts: nil)
        XCTAssertEqual(y, [7, 3])
        // Column 0 is image 1 (7...12), column 1 is image 0 (1...6).
        XCTAssertEqual((0..<6).map { X[$0, 0] }, [7, 8, 9, 10, 11, 12])
        XCTAssertEqual((0..<6).map { X[$0, 1] }, [1, 2, 3, 4, 5, 6])
    }

    func testShiftRightAndDownFillsWithBackground() {
        // Image 0 shifted 1 right and 1 down: row 0 is background (byte 0),
        // row 1 is [0, 1, 2].
        let (X, _) = assemble([0], shifts: [1, 1])
        XCTAssertEqual((0..<6).map { X[$0, 0] }, [0, 0, 0, 0, 1, 2])
    }

    func testShiftLeftMovesPixelsLeft() {
        // Image 1 shifted 1 left: [8, 9, 0; 11, 12, 0].
        let (X, _) = assemble([1], shifts: [-1, 0])
        XCTAssertEqual((0..<6).map { X[$0, 0] }, [8, 9, 0, 11, 12, 0])
    }

    func testShiftsApplyPerExample() {
        let (X, _) = assemble([0, 1], shifts: [0, 0, 0, -1])
        XCTAssertEqual((0..<6).map { X[$0, 0] }, [1, 2, 3, 4, 5, 6], "no shift for the first")
        XCTAssertEqual((0..<6).map { X[$0, 1] }, [10, 11, 12, 0, 0, 0], "the second moves up one row")
    }
}
