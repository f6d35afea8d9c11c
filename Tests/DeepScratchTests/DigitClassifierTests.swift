import XCTest
@testable import DeepScratch

/// The classifier's single-image path (sparse dense layers) against the
/// plain network forward pass it replaces.
final class DigitClassifierTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws { dir = try makeTemporaryDirectory("classifier") }
    override func tearDown() { removeDirectory(dir) }

    /// A model with random weights and biases: 784-48-32-10, ReLU.
    private func saveModel() throws -> (String, Model) {
        let arch = Architecture(sizes: [784, 48, 32, 10], activation: .relu)
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
        let reference = model.makeNetwork()
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
}
