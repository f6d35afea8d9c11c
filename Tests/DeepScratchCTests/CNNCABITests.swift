import DeepScratch
import DeepScratchImage
@testable import DeepScratchC
import Foundation
import Glibc
import XCTest

/// The C ABI with a convolutional model (format 1.1): loading, getters,
/// single and batch classification against the engine's training network,
/// and a PNG, with no change to the published functions.
final class CNNCABITests: XCTestCase {
    private var folder: CTemporaryFolder!
    private var path: String!
    private var network: Network<Float>!
    private var model: OpaquePointer?

    /// A small CNN with batch normalization (folded on save), both pooling kinds and biases that matter.
    override func setUpWithError() throws {
        folder = try CTemporaryFolder()
        let input = ImageShape(channels: 1, height: 28, width: 28)
        let layers = try LayerSpec.parse("conv 4 5x5 stride 2 pad 2 bn, pool 2, conv 6 3x3, avgpool 2, dense 16, dense 10",
                                         input: input, activation: .relu)
        let arch = Architecture(layers: layers, inputShape: input)
        network = arch.makeNetwork(Float.self, seed: 11)
        for n in network.batchNormLayers {
            for c in 0..<n.channels {
                n.gamma.value.data[c] = 1 + 0.1 * Float(c)
                n.beta.value.data[c] = 0.05 * Float(c) - 0.1
                n.runningMean.data[c] = 0.02 * Float(c)
                n.runningVariance.data[c] = 0.6 + 0.1 * Float(c)
            }
        }
        for d in network.denseLayers { for i in 0..<d.outputSize { d.b.value.data[i] = Float(i % 7) * 0.03 - 0.1 } }
        let saved = Model(network: network, architecture: arch, standardization: Standardization(mean: 0.1307, std: 0.3081))
        path = folder.path + "/cnn.dsm"
        try saved.save(to: path)
        XCTAssertEqual(ds_model_load(path, &model), DS.ok, String(cString: ds_last_error()))
    }

    override func tearDown() {
        if let model { _ = ds_model_free(model) }
        model = nil
        folder = nil
    }

    private func images(_ count: Int) -> [[Float]] {
        var rng = RandomSource(seed: 4)
        return (0..<count).map { k in (0..<784).map { _ in k % 3 == 2 ? Float(rng.nextUniform()) : (rng.nextUniform() < 0.2 ? Float(rng.nextUniform()) : 0) } }
    }

    /// The training network's probabilities (inference mode, BN unfolded).
    private func expected(_ images: [[Float]]) -> [[Float]] {
        let X = Matrix<Float>(rows: 784, cols: images.count)
        for (j, image) in images.enumerated() { for i in 0..<784 { X[i, j] = Float((Double(image[i]) - 0.1307) / 0.3081) } }
        let P = network.forward(X, training: false)
        return (0..<images.count).map { j in (0..<10).map { P[$0, j] } }
    }

    func testGettersDescribeTheModel() throws {
        var size = 0, count = 0
        XCTAssertEqual(ds_model_input_size(model, &size), DS.ok)
        XCTAssertEqual(ds_model_class_count(model, &count), DS.ok)
        XCTAssertEqual([size, count], [784, 10])
        var length = 0
        XCTAssertEqual(ds_model_metadata(model, nil, 0, &length), DS.ok)
        var buffer = [CChar](repeating: 0, count: length + 1)
        XCTAssertEqual(ds_model_metadata(model, &buffer, buffer.count, &length), DS.ok)
        let text = String(cString: buffer)
        XCTAssertTrue(text.contains("conv 1 4 5 2 2"), text)
        XCTAssertTrue(text.contains("avgpool 2 2"), text)
    }

    func testClassifyAndClassifyBatchMatchTheTrainingNetwork() throws {
        let xs = images(9)
        let want = expected(xs)
        for (k, image) in xs.enumerated() {
            var p = [Float](repeating: -1, count: 10)
            var cls: Int32 = -1
            XCTAssertEqual(ds_classify(model, image, 784, &p, 10, &cls), DS.ok, String(cString: ds_last_error()))
            for i in 0..<10 { XCTAssertEqual(p[i], want[k][i], accuracy: 1e-5, "image \(k) class \(i)") }
            XCTAssertEqual(Int(cls), want[k].indices.max { want[k][$0] < want[k][$1] }!)
        }
        var all = [Float](repeating: -1, count: 90)
        var classes = [Int32](repeating: -1, count: 9)
        XCTAssertEqual(ds_classify_batch(model, xs.flatMap { $0 }, 9, 784, &all, 90, &classes), DS.ok, String(cString: ds_last_error()))
        for k in 0..<9 { for i in 0..<10 { XCTAssertEqual(all[k * 10 + i], want[k][i], accuracy: 1e-5, "batch image \(k) class \(i)") } }
    }

    func testClassifyAPNGFile() throws {
        let pngs = try CPaths.digitPNGs()
        guard let first = pngs.first else { throw CTestError("no PNG digits in Tests/Fixtures/digits-png") }
        var p = [Float](repeating: -1, count: 10)
        var cls: Int32 = -1
        XCTAssertEqual(ds_classify_png_file(model, first.path, &p, 10, &cls), DS.ok, String(cString: ds_last_error()))
        XCTAssertTrue((0..<10).contains(Int(cls)))
        XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-5)
    }
}
