import XCTest
@testable import DeepScratch
import DeepScratchTestSupport

/// Convolution, pooling and batch normalization: forward passes against
/// hand-computed cases, the `--arch` spec, model files of convolutional
/// networks and their inference.
final class ConvolutionTests: XCTestCase {
    /// A batch matrix (features × m) from images given example by example, each channel-major.
    private func batch(_ images: [[Double]]) -> Matrix<Double> {
        let n = images[0].count, m = images.count
        let X = Matrix<Double>(rows: n, cols: m)
        for j in 0..<m { for i in 0..<n { X[i, j] = images[j][i] } }
        return X
    }

    private func column(_ M: Matrix<Double>, _ j: Int) -> [Double] { (0..<M.rows).map { M[$0, j] } }

    // MARK: - Forward passes by hand

    func testConvolutionOfA3x3ImageWithA2x2KernelByHand() {
        // Image 1 2 3 / 4 5 6 / 7 8 9, kernel 1 0 / 0 -1, bias 0.5:
        // out[y][x] = a[y][x] − a[y+1][x+1] + 0.5 = −4 + 0.5 everywhere.
        let conv = Conv2D<Double>(input: ImageShape(channels: 1, height: 3, width: 3), filters: 1, kernel: 2)!
        for (i, w) in [1.0, 0, 0, -1].enumerated() { conv.W.value.data[i] = w }
        conv.b.value.data[0] = 0.5
        // A second example, the image times 2, checks the batch layout.
        let image = (1...9).map(Double.init)
        let Z = conv.forward(batch([image, image.map { 2 * $0 }]), training: false)
        XCTAssertEqual(conv.output, ImageShape(channels: 1, height: 2, width: 2))
        XCTAssertEqual(column(Z, 0), [-3.5, -3.5, -3.5, -3.5])
        XCTAssertEqual(column(Z, 1), [-7.5, -7.5, -7.5, -7.5])
    }

    func testConvolutionWithPaddingStrideAndTwoChannelsByHand() {
        // Two 2×2 channels (1 2 / 3 4 and 10 20 / 30 40), a 3×3 all-ones kernel per
        // channel, padding 1, stride 2: the windows at (0,0) and… only (0,0) fits
        // twice? (2 + 2 − 3)/2 + 1 = 1 → one output: the sum of everything = 110.
        let conv = Conv2D<Double>(input: ImageShape(channels: 2, height: 2, width: 2), filters: 2, kernel: 3,
                                  stride: 2, padding: 1)!
        // Filter 0: ones on both channels; filter 1: the centre of channel 1 only
        // (input pixel (0,0) of channel 1 sits at the window centre).
        for i in 0..<18 { conv.W.value.data[i] = 1 }
        for i in 18..<36 { conv.W.value.data[i] = 0 }
        conv.W.value.data[18 + 9 + 4] = 1
        let Z = conv.forward(batch([[1, 2, 3, 4, 10, 20, 30, 40]]), training: false)
        XCTAssertEqual(conv.output, ImageShape(channels: 2, height: 1, width: 1))
        XCTAssertEqual(column(Z, 0), [110, 10])
    }

    func testMaxAndAveragePoolingByHand() {
        let image: [Double] = [1, 2, 5, 6,
                               3, 4, 8, 7,
                               -1, -2, 0, 0,
                               -3, -4, 0, 9]
        let shape = ImageShape(channels: 1, height: 4, width: 4)
        let maxPool = Pool2D<Double>(.max, input: shape, size: 2)!
        XCTAssertEqual(column(maxPool.forward(batch([image]), training: true), 0), [4, 8, -1, 9])
        let avgPool = Pool2D<Double>(.average, input: shape, size: 2)!
        XCTAssertEqual(column(avgPool.forward(batch([image]), training: true), 0), [2.5, 6.5, -2.5, 2.25])
        // Max pooling's gradient goes only to each window's maximum.
        let dZ = batch([[10, 20, 30, 40]])
        XCTAssertEqual(column(maxPool.backward(dZ), 0), [0, 0, 0, 0,
                                                         0, 10, 20, 0,
                                                         30, 0, 0, 0,
                                                         0, 0, 0, 40])
    }

    func testBatchNormNormalizesEachChannelInTrainingAndUsesRunningStatisticsAtInference() {
        // Two channels of two pixels, batch of two: channel 0 holds 1 2 3 4, channel 1 holds 10 10 10 10.
        let norm = BatchNorm<Double>(channels: 2, spatial: 2, decay: 0)
        let X = batch([[1, 3, 10, 10], [2, 4, 10, 10]])
        let A = norm.forward(X, training: true)
        // mean 2.5, variance 1.25 → (x − 2.5)/√(1.25 + 1e-5)
        let s = (1.25 + 1e-5).squareRoot()
        XCTAssertEqual(column(A, 0)[0], (1 - 2.5) / s, accuracy: 1e-12)
        XCTAssertEqual(column(A, 1)[1], (4 - 2.5) / s, accuracy: 1e-12)
        XCTAssertEqual(column(A, 0)[2], 0, accuracy: 1e-12)
        // momentum 0: the running statistics are the batch's (unbiased variance 5/3, 0).
        XCTAssertEqual(norm.runningMean.values, [2.5, 10])
        XCTAssertEqual(norm.runningVariance.data[0], 5.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(norm.runningVariance.data[1], 0, accuracy: 1e-12)
        let B = norm.forward(batch([[2.5, 2.5, 11, 9]]), training: false)
        XCTAssertEqual(column(B, 0)[0], 0, accuracy: 1e-12)
        XCTAssertEqual(column(B, 0)[2], 1 / (1e-5).squareRoot(), accuracy: 1e-6)
    }

    func testGradientChecksCoverEveryNewLayer() {
        let names = Set(GradientCheck.checkConvolutionalLayers().map(\.name))
        for name in ["Conv2D 3x3 s1 p0 dX", "Conv2D 3x3 s2 p1 dW", "Conv2D 3x3 s1 p0 db", "Conv2D 2x2 s1 p1 no bias dW",
                     "MaxPool 2 s2 dX", "MaxPool 3 s1 dX", "AvgPool 2 s2 dX", "AvgPool 3 s2 dX",
                     "BatchNorm dense dX", "BatchNorm dense dgamma", "BatchNorm conv dbeta",
                     "cnn network dW1", "cnn network dgamma1", "cnn network dW4", "cnn tanh network dW3"] {
            XCTAssertTrue(names.contains(name), "no check named '\(name)'; have \(names.sorted())")
        }
        for r in GradientCheck.checkConvolutionalLayers() {
            XCTAssertLessThan(r.relativeDifference, GradientCheck.threshold, r.name)
        }
    }

    // MARK: - The --arch spec

    private let mnist = ImageShape(channels: 1, height: 28, width: 28)

    func testLenetPresetExpandsToItsLayers() throws {
        let layers = try LayerSpec.parse("lenet", input: mnist, activation: .relu)
        XCTAssertEqual(layers, [
            .conv(filters: 32, kernel: 5, stride: 1, padding: 0), .batchNorm, .activation(.relu), .pool(.max, size: 2, stride: 2),
            .conv(filters: 64, kernel: 5, stride: 1, padding: 0), .batchNorm, .activation(.relu), .pool(.max, size: 2, stride: 2),
            .dense(256), .activation(.relu), .dropout(keep: 0.75), .dense(10),
        ])
        guard case let .success(shapes) = LayerSpec.shapes(of: layers, input: mnist) else { return XCTFail("lenet does not fit") }
        XCTAssertEqual(shapes[7], ImageShape(channels: 64, height: 4, width: 4))
    }

    func testSpecOptionsAndDescribeRoundTrip() throws {
        let spec = "conv 8 3x3 same bn, avgpool 3 stride 2, conv 4 3x3 stride 2 pad 1, dense 20 bn dropout 0.25, dense 10"
        let layers = try LayerSpec.parse(spec, input: mnist, activation: .tanh)
        XCTAssertEqual(Array(layers.prefix(4)), [.conv(filters: 8, kernel: 3, stride: 1, padding: 1), .batchNorm,
                                                .activation(.tanh), .pool(.average, size: 3, stride: 2)])
        XCTAssertTrue(layers.contains(.dropout(keep: 0.75)))
        XCTAssertEqual(try LayerSpec.parse(LayerSpec.describe(layers), input: mnist, activation: .tanh), layers)
    }

    func testBadSpecsNameTheToken() {
        let cases: [(String, String)] = [
            ("conv 32 5, dense 10", "conv 32 5"),
            ("conv 32 5x4, dense 10", "5x4"),
            ("flarp 3, dense 10", "flarp 3"),
            ("pool, dense 10", "pool"),
            ("dense 64, conv 8 3x3, dense 10", "conv 8 3x3"),
            ("conv 8 29x29, dense 10", "conv 8 29x29"),
            ("conv 8 3x3, pool 2", "pool 2"),
            ("dense 10 bn", "dense 10 bn"),
            ("dense 64 dropout 1.5, dense 10", "dense 64 dropout 1.5"),
            ("", "--arch"),
        ]
        for (spec, token) in cases {
            let error = assertThrowsDeepScratchError(try LayerSpec.parse(spec, input: mnist, activation: .relu),
                                                     mentions: [token], "spec '\(spec)'")
            if let error { XCTAssertFalse(String(describing: error).contains("\n"), "one line: \(error)") }
        }
    }

    // MARK: - Networks, model files, inference

    private let small = "conv 4 3x3 bn, pool 2, conv 6 3x3 pad 1, avgpool 2, dense 12 bn dropout 0.2, dense 10"

    /// A trained-looking small CNN: random weights, biases and BN statistics.
    private func smallNetwork(_ spec: String? = nil, seed: UInt64 = 5) throws -> (Architecture, Network<Float>) {
        let layers = try LayerSpec.parse(spec ?? small, input: mnist, activation: .relu)
        let arch = Architecture(layers: layers, inputShape: mnist)
        let net = arch.makeNetwork(Float.self, seed: seed)
        var rng = RandomSource(seed: seed + 1)
        for n in net.batchNormLayers {
            for c in 0..<n.channels {
                n.gamma.value.data[c] = Float(1 + 0.3 * rng.nextGaussian())
                n.beta.value.data[c] = Float(0.2 * rng.nextGaussian())
                n.runningMean.data[c] = Float(0.3 * rng.nextGaussian())
                n.runningVariance.data[c] = Float(0.5 + rng.nextUniform())
            }
        }
        for c in net.convolutionLayers where c.usesBias { for i in 0..<c.output.channels { c.b.value.data[i] = Float(i) * 0.1 - 0.2 } }
        for d in net.denseLayers where d.usesBias { for i in 0..<d.outputSize { d.b.value.data[i] = Float(i % 5) * 0.1 - 0.2 } }
        return (arch, net)
    }

    private func images(_ count: Int, seed: UInt64) -> [[Float]] {
        var rng = RandomSource(seed: seed)
        return (0..<count).map { _ in (0..<784).map { _ in rng.nextUniform() < 0.25 ? Float(rng.nextUniform()) : 0 } }
    }

    /// Probabilities of the training network (inference mode) for images standardized by `s`.
    private func reference(_ net: Network<Float>, _ images: [[Float]], _ s: Standardization) -> [[Float]] {
        let X = Matrix<Float>(rows: 784, cols: images.count)
        for (j, image) in images.enumerated() {
            for i in 0..<784 { X[i, j] = Float((Double(image[i]) - s.mean) / s.std) }
        }
        let P = net.forward(X, training: false)
        return (0..<images.count).map { j in (0..<P.rows).map { P[$0, j] } }
    }

    private func assertClose(_ a: [[Float]], _ b: [[Float]], _ tolerance: Float, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (x, y) in zip(a, b) {
            for (u, v) in zip(x, y) where !(abs(u - v) <= tolerance) {
                return XCTFail("\(what): \(u) vs \(v)", file: file, line: line)
            }
        }
    }

    func testFinishedModelFoldsBatchNormAndInfersLikeTheTrainingNetwork() throws {
        let (arch, net) = try smallNetwork()
        let s = Standardization(mean: 0.13, std: 0.31)
        let model = Model(network: net, architecture: arch, standardization: s)
        XCTAssertFalse(model.layerList.contains { $0.hasPrefix("batchnorm") }, "both BNs follow a weighted layer: \(model.layerList)")
        XCTAssertEqual(model.layerList.first, "conv 1 4 3 1 0")
        let bytes = model.serialized()
        XCTAssertEqual(bytes[8], 1); XCTAssertEqual(bytes[10], 1, "format 1.1")
        let inference = try bytes.withUnsafeBytes { try InferenceModel(bytes: $0) }
        let xs = images(7, seed: 3)
        let expected = reference(net, xs, s)
        var single = [[Float]]()
        for x in xs {
            var p = [Float](repeating: 0, count: 10)
            x.withUnsafeBufferPointer { inference.probabilities(pixels: $0.baseAddress!, into: &p) }
            single.append(p)
        }
        assertClose(single, expected, 1e-5, "single image")
        var flat = [Float](repeating: 0, count: 70)
        xs.flatMap { $0 }.withUnsafeBufferPointer { inference.probabilities(batch: $0.baseAddress!, count: 7, into: &flat) }
        assertClose((0..<7).map { Array(flat[($0 * 10)..<($0 * 10 + 10)]) }, expected, 1e-5, "batch")
        // Model.load → makeNetwork gives the same too.
        let loaded = try Model.parse(bytes, path: "cnn.dsm")
        assertClose(reference(try loaded.makeNetwork(), xs, s), expected, 1e-5, "makeNetwork")
    }

    func testCheckpointKeepsBatchNormAndRoundTripsEveryTensorExactly() throws {
        let (arch, net) = try smallNetwork()
        let model = Model(network: net, architecture: arch, standardization: Standardization(mean: 0, std: 1),
                          foldBatchNorm: false)
        XCTAssertTrue(model.layerList.contains("batchnorm 4"))
        let back = try Model.parse(model.serialized(), path: "c.dsm")
        XCTAssertEqual(back.parameters, model.parameters)
        XCTAssertEqual(back.architecture.layers, arch.layers.filter { $0 != .dropout(keep: 0.8) })
        XCTAssertEqual(Set(back.parameters.map(\.name)),
                       ["W1", "gamma1", "beta1", "mean1", "var1", "W2", "b2", "W3", "gamma2", "beta2", "mean2", "var2", "W4", "b4"])
        XCTAssertEqual(back.parameters.first { $0.name == "W2" }?.shape, [6, 4, 3, 3])
    }

    func testInferenceLayersWalkTheModelWithTheirTensors() throws {
        let (arch, net) = try smallNetwork()
        let model = try Model.parse(Model(network: net, architecture: arch, standardization: .init(mean: 0, std: 1)).serialized(), path: "m")
        let layers = model.inferenceLayers
        guard case let .conv(input, output, k, s, p, W, b)? = layers.first else { return XCTFail("first is \(String(describing: layers.first))") }
        XCTAssertEqual([input, output], [mnist, ImageShape(channels: 4, height: 26, width: 26)])
        XCTAssertEqual([k, s, p], [3, 1, 0])
        XCTAssertEqual(W.shape, [4, 1, 3, 3])
        XCTAssertEqual(b?.shape, [4], "the folded BN gives the convolution a bias")
        guard case .softmax? = layers.last else { return XCTFail("last is not softmax") }
        let pools = layers.compactMap { l -> PoolKind? in if case let .pool(k, _, _, _, _) = l { return k } else { return nil } }
        XCTAssertEqual(pools, [.max, .average])
    }

    func testFileWhoseTensorsDoNotFitTheLayersIsRejected() throws {
        let (arch, net) = try smallNetwork("conv 4 3x3, pool 2, dense 10")
        var model = Model(network: net, architecture: arch, standardization: .init(mean: 0, std: 1))
        model.architecture.layers[0] = .conv(filters: 4, kernel: 5, stride: 1, padding: 0)
        model.architecture.layers[3] = .dense(10)
        assertThrowsDeepScratchError(try Model.parse(model.serialized(), path: "bad.dsm"), mentions: ["bad.dsm", "W1", "[4, 1, 5, 5]"])
    }

    func testOneDotZeroFileWithAConvolutionIsRejected() throws {
        let (arch, net) = try smallNetwork("conv 2 3x3, dense 10")
        var bytes = Model(network: net, architecture: arch, standardization: .init(mean: 0, std: 1)).serialized()
        bytes[10] = 0
        // Re-seal the checksum so only the version is wrong.
        let body = bytes.count - 8
        let h = bytes.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[0..<body])) }
        for i in 0..<8 { bytes[body + i] = UInt8(truncatingIfNeeded: h >> (8 * UInt64(i))) }
        assertThrowsDeepScratchError(try Model.parse(bytes, path: "old.dsm"), mentions: ["old.dsm", "conv 1 2 3 1 0", "1.1"])
    }

    func testFullyConnectedModelsStayFormat1_0() throws {
        let arch = Architecture(sizes: [784, 8, 10], inputShape: .mnist)
        let bytes = Model(network: arch.makeNetwork(Float.self, seed: 1), architecture: arch,
                          standardization: .init(mean: 0, std: 1)).serialized()
        XCTAssertEqual(bytes[10], 0)
    }

    func testTrainingASmallCNNLowersTheCostAndCheckpointsResumeExactly() throws {
        let layers = try LayerSpec.parse("conv 3 3x3 bn, pool 2, dense 8 dropout 0.2, dense 4", input: ImageShape(channels: 1, height: 6, width: 6), activation: .relu)
        let arch = Architecture(layers: layers, inputShape: ImageShape(channels: 1, height: 6, width: 6))
        let data = syntheticImages(count: 120, rows: 6, cols: 6, classes: 4, seed: 9)
        var config = TrainingConfig(architecture: arch, epochs: 4, batchSize: 16, optimizer: .init(kind: .adam), learningRate: 0.01)
        config.augmentShift = 0
        let trainer = try Trainer(config: config, standardization: Standardization(fitting: data))
        var costs = [Double]()
        var stopAfter = 2
        let outcome = try trainer.train(data, observer: TrainingObserver(onEpoch: { costs.append($0.trainCost) },
                                                                       shouldStop: { stopAfter -= 1; return stopAfter < 0 }))
        XCTAssertEqual(outcome, .stopped)
        // Resume from a checkpoint and finish; a straight run must end with the same weights.
        var checkpoint = Model(network: trainer.network, architecture: arch, standardization: trainer.standardization,
                               inputShape: [6, 6, 1], foldBatchNorm: false)
        checkpoint.trainingState = trainer.trainingState(devCount: 0)
        let restored = try Model.parse(checkpoint.serialized(), path: "ckpt.dsm")
        let resumed = try Trainer(resuming: restored, config: config)
        try resumed.train(data)
        let straight = try Trainer(config: config, standardization: Standardization(fitting: data))
        try straight.train(data, observer: TrainingObserver(onEpoch: { costs.append($0.trainCost) }))
        XCTAssertLessThan(costs.last!, costs[costs.count - 4], "cost fell over the epochs: \(costs)")
        for (a, b) in zip(resumed.network.storedTensors, straight.network.storedTensors) {
            XCTAssertEqual(a.matrix.values, b.matrix.values, "\(a.name) after resuming")
        }
    }
}
