import Foundation
import XCTest
@testable import DeepScratch
import DeepScratchTestSupport
@testable import DeepScratchImage

/// The classifier's single-image path (sparse dense layers) against the
/// plain network forward pass it replaces.
final class DigitClassifierTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws { dir = try makeTemporaryDirectory("classifier") }
    override func tearDown() { removeDirectory(dir) }

    /// A model with random weights and biases: 784-48-32-10, ReLU.
    private func saveModel() throws -> (String, Model) {
        let arch = Architecture(sizes: [784, 48, 32, 10], activation: .relu, inputShape: .mnist)
        let net = arch.makeNetwork(Float.self, seed: 31)
        var rng = RandomSource(seed: 32)
        for d in net.denseLayers {
            for i in 0..<d.b.value.count { d.b.value.data[i] = Float(rng.nextGaussian() * 0.1) }
        }
        let model = Model(network: net, architecture: arch, standardization: Standardization(mean: 0.13, std: 0.31))
        let path = dir + "/m.dsm"
        try model.save(to: path)
        return (path, model)
    }

    func testSingleImageProbabilitiesEqualThePlainForwardPass() throws {
        let (path, model) = try saveModel()
        let classifier = try DigitClassifier(modelPath: path)
        let reference = try model.makeNetwork()
        let table = model.standardization.table(Float.self)
        var rng = RandomSource(seed: 33)
        for trial in 0..<20 {
            // Mostly background (byte 0) with a varying share of ink, including none and all.
            let inkShare = Double(trial) / 19
            let input = (0..<784).map { _ in rng.nextUniform() < inkShare ? UInt8(1 + rng.nextInt(below: 255)) : 0 }
            let X = Matrix<Float>(rows: 784, cols: 1)
            for i in 0..<784 { X.data[i] = table[Int(input[i])] }
            let expected = reference.forward(X, training: false).values
            let got = classifier.classify(preprocessed: input)
            XCTAssertEqual(got.probabilities.count, 10)
            for k in 0..<10 {
                XCTAssertEqual(got.probabilities[k], expected[k], accuracy: 1e-5, "trial \(trial), class \(k)")
            }
            let best = expected.indices.max { expected[$0] < expected[$1] }!
            XCTAssertEqual(got.classIndex, best, "trial \(trial)")
            XCTAssertEqual(got.label, "\(best)")
        }
    }

    func testTopListsClassesByFallingProbability() throws {
        let (path, _) = try saveModel()
        let classifier = try DigitClassifier(modelPath: path)
        let p = classifier.classify(preprocessed: [UInt8](repeating: 0, count: 784))
        let top = p.top(3)
        XCTAssertEqual(top.count, 3)
        XCTAssertEqual(top[0].index, p.classIndex)
        XCTAssertGreaterThanOrEqual(top[0].probability, top[1].probability)
        XCTAssertGreaterThanOrEqual(top[1].probability, top[2].probability)
        XCTAssertEqual(p.probabilities.reduce(0, +), 1, accuracy: 1e-5)
    }

    /// `probabilities(batch:)` of `count` images equals `probabilities(pixels:)`
    /// of each image within 1e-5.
    private func assertBatchEqualsOneAtATime(_ model: InferenceModel, _ pixels: [Float], count: Int,
                                             file: StaticString = #filePath, line: UInt = #line) {
        var batch = [Float](repeating: -1, count: count * 10)
        pixels.withUnsafeBufferPointer { p in
            batch.withUnsafeMutableBufferPointer { model.probabilities(batch: p.baseAddress!, count: count, into: $0.baseAddress!) }
        }
        var one = [Float](repeating: -1, count: 10)
        for n in 0..<count {
            pixels.withUnsafeBufferPointer { p in
                one.withUnsafeMutableBufferPointer { model.probabilities(pixels: p.baseAddress! + n * 784, into: $0.baseAddress!) }
            }
            for k in 0..<10 { XCTAssertEqual(batch[n * 10 + k], one[k], accuracy: 1e-5, "image \(n), class \(k)", file: file, line: line) }
        }
    }

    func testBatchProbabilitiesEqualOneImageAtATime() throws {
        let (path, _) = try saveModel()
        let model = try InferenceModel(path: path)
        var rng = RandomSource(seed: 34)
        let count = 300  // more than one internal chunk of 256
        var pixels = [Float](repeating: 0, count: count * 784)
        for i in 0..<pixels.count where rng.nextUniform() < 0.2 { pixels[i] = Float(rng.nextUniform()) }
        assertBatchEqualsOneAtATime(model, pixels, count: count)
    }

    func testBatchSkippingBlankBordersAndBlankBlocksEqualsOneImageAtATime() throws {
        let (path, _) = try saveModel()
        let model = try InferenceModel(path: path)
        var rng = RandomSource(seed: 36)
        // Ink only inside the central 16×16 square (so each block of 256
        // skips the border pixels), and the last block all blank.
        let count = 600, inked = 512
        var pixels = [Float](repeating: 0, count: count * 784)
        for n in 0..<inked {
            for y in 6..<22 { for x in 6..<22 where rng.nextUniform() < 0.3 { pixels[n * 784 + y * 28 + x] = Float(rng.nextUniform()) } }
        }
        assertBatchEqualsOneAtATime(model, pixels, count: count)
    }

    func testBatchOfMostlyInkImagesTakesTheDenseProductAndEqualsOneImageAtATime() throws {
        let (path, _) = try saveModel()
        let model = try InferenceModel(path: path)
        var rng = RandomSource(seed: 38)
        // About 86 % ink (the sparse first layer gives way to a dense
        // product above one half), the top row blank in every image.
        let count = 300
        var pixels = [Float](repeating: 0, count: count * 784)
        for n in 0..<count {
            for i in 28..<784 where rng.nextUniform() < 0.9 { pixels[n * 784 + i] = Float(rng.nextUniform()) }
        }
        assertBatchEqualsOneAtATime(model, pixels, count: count)
    }

    func testManyThreadsSharingOneModelGetTheSingleThreadAnswers() throws {
        let (path, _) = try saveModel()
        let model = try InferenceModel(path: path)
        var rng = RandomSource(seed: 35)
        let count = 64
        var pixels = [Float](repeating: 0, count: count * 784)
        for i in 0..<pixels.count where rng.nextUniform() < 0.2 { pixels[i] = Float(rng.nextUniform()) }
        var expected = [Float](repeating: 0, count: count * 10)
        for n in 0..<count {
            pixels.withUnsafeBufferPointer { p in
                expected.withUnsafeMutableBufferPointer { model.probabilities(pixels: p.baseAddress! + n * 784, into: $0.baseAddress! + n * 10) }
            }
        }
        let input = pixels
        let reference = expected
        final class Results: @unchecked Sendable { var mismatches = 0; let lock = NSLock() }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            var out = [Float](repeating: 0, count: 10)
            var batch = [Float](repeating: 0, count: count * 10)
            for round in 0..<20 {
                if round % 2 == 0 {
                    for n in 0..<count {
                        input.withUnsafeBufferPointer { p in
                            out.withUnsafeMutableBufferPointer { model.probabilities(pixels: p.baseAddress! + n * 784, into: $0.baseAddress!) }
                        }
                        if Array(reference[(n * 10)..<(n * 10 + 10)]) != out {
                            results.lock.lock(); results.mismatches += 1; results.lock.unlock()
                        }
                    }
                } else {
                    input.withUnsafeBufferPointer { p in
                        batch.withUnsafeMutableBufferPointer { model.probabilities(batch: p.baseAddress!, count: count, into: $0.baseAddress!) }
                    }
                    for i in 0..<batch.count where abs(batch[i] - reference[i]) > 1e-5 {
                        results.lock.lock(); results.mismatches += 1; results.lock.unlock()
                    }
                }
                _ = t
            }
        }
        XCTAssertEqual(results.mismatches, 0)
    }
}
