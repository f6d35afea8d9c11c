import XCTest
@testable import DeepScratch
import DeepScratchTestSupport

/// The limits of docs/model-format.md ("Limits") and the validation that
/// enforces them before anything the file sizes is allocated: a model file
/// whose structure is consistent but hostile (huge input, layers that need
/// more weights than the file holds, a q8z tensor claiming more than deflate
/// can inflate, buffers of one classification beyond the limit) is refused by
/// both loaders, the one that builds a network (`InferenceModel`, the C ABI,
/// `dsc predict`) and the one that does not (`Model.parse`, `dsc inspect`),
/// with the same reason.
final class ModelLimitsTests: XCTestCase {
    private let path = "/nonexistent/limits.dsm"

    /// A file the engine's writer makes of `architecture` on `inputShape`
    /// with `parameters` (whatever their shapes) and one label per output.
    private func file(_ architecture: Architecture, inputShape: [Int], parameters: [NamedTensor] = []) -> [UInt8] {
        let outputs = architecture.sizes[architecture.sizes.count - 1]
        let model = Model(architecture: architecture, inputShape: inputShape, classes: (0..<outputs).map { "\($0)" },
                          standardization: Standardization(mean: 0.1, std: 0.3), polarity: .lightOnDark,
                          parameters: parameters, metadata: Metadata(), trainingState: nil, precision: .f32)
        return model.serialized()
    }

    /// Asserts both loaders refuse `bytes` with `.badModel`, the same reason, naming each of `mentions`.
    private func assertBothLoadersRefuse(_ bytes: [UInt8], mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        let parsed = assertThrowsDeepScratchError(try Model.parse(bytes, path: path), mentions: [path] + mentions,
                                                  "Model.parse", file: file, line: line)
        let built = assertThrowsDeepScratchError(
            try bytes.withUnsafeBytes { try InferenceModel(bytes: $0, name: path) }, mentions: [path] + mentions,
            "InferenceModel(bytes:)", file: file, line: line)
        guard case let .badModel(_, a)? = parsed, case let .badModel(_, b)? = built else {
            XCTFail("expected .badModel from both, got \(String(describing: parsed)) and \(String(describing: built))", file: file, line: line)
            return
        }
        XCTAssertEqual(a, b, "one validator: the same reason from both loaders", file: file, line: line)
    }

    private func values(_ n: Int, _ v: Float = 0.01) -> [Float] { [Float](repeating: v, count: n) }

    // MARK: Sizes the file cannot back

    func testInputOfMoreThanTwoToTheTwentyEightValuesIsRefused() {
        // The file: dense 2^48 -> 1 on 65536 x 65536 x 65536 (here 2^30 on 32768 x 32768 x 1).
        let bytes = file(Architecture(sizes: [1 << 30, 1]), inputShape: [32768, 32768, 1])
        assertBothLoadersRefuse(bytes, mentions: ["model.input_shape", "1073741824 values per image", "268435456"])
    }

    func testInputAtTheLimitIsNotRefusedForItsSize() {
        // 2^28 values pass the input check; this file fails later, for its missing weights.
        let bytes = file(Architecture(sizes: [1 << 28, 2]), inputShape: [16384, 16384, 1])
        assertBothLoadersRefuse(bytes, mentions: ["tensor W1 is missing"])
    }

    func testLayersNeedingMoreThanTwoToTheThirtyOneWeightsAreRefusedBeforeAnyAllocation() {
        // W1 would be 1024 x 2^28 values: 1 TiB as f32.
        let bytes = file(Architecture(sizes: [1 << 28, 1024, 10]), inputShape: [16384, 16384, 1])
        assertBothLoadersRefuse(bytes, mentions: ["W1", "[1024, 268435456]", "2^31"])
    }

    func testMissingWeightsOfALargeLayerAreRefusedBeforeTheNetworkIsBuilt() {
        // W1 of 64 x 2^24 values (4 GiB) is not in the file: the network that
        // would hold it must not be allocated to find out.
        let bytes = file(Architecture(sizes: [1 << 24, 64, 2]), inputShape: [4096, 4096, 1])
        assertBothLoadersRefuse(bytes, mentions: ["tensor W1 is missing"])
    }

    func testQ8zTensorClaimingMoreThanDeflateCanInflateIsRefusedBeforeInflating() {
        // W1 [7, 12] becomes [7, 2^20]: 7 MiB of q8 from a stream of some 100 bytes.
        var f = ModelFileBytes(makeSmallModel().model.serialized(precision: .int8))
        let w1 = f.tensor("W1")
        XCTAssertEqual(w1.dtype, 4)
        f.setU32(w1.dimsAt + 4, 1 << 20)
        f.refresh()
        assertBothLoadersRefuse(f.bytes, mentions: ["W1", "q8z", "\(7 * 4 + 7 << 20)", "1032:1"])
    }

    // MARK: Exact shapes

    func testATensorWithTheRightValueCountButAnotherShapeIsRefused() {
        // b1 as [7, 1] and W1 as [7, 3, 4]: the value count and first
        // dimension the old check compared are right, the shapes are not.
        let (model, _) = makeSmallModel()
        for (name, shape) in [("b1", [7, 1]), ("W1", [7, 3, 4])] {
            var edited = model
            let k = edited.parameters.firstIndex { $0.name == name }!
            edited.parameters[k].shape = shape
            let need = model.parameters[k].shape
            assertBothLoadersRefuse(edited.serialized(), mentions: ["tensor \(name) has shape \(shape), the layers need \(need)"])
        }
    }

    func testConvolutionWeightsStoredAsAMatrixAreRefused() throws {
        // [F, C, k, k] is the file shape; [F, C·k·k] is how the optimizer (and its moments) hold it.
        let input = ImageShape(channels: 2, height: 6, width: 6)
        let layers = try LayerSpec.parse("conv 3 3x3, dense 4", input: input, activation: .relu)
        let arch = Architecture(layers: layers, inputShape: input)
        let parameters = [NamedTensor(name: "W1", shape: [3, 18], values: values(54)), NamedTensor(name: "b1", shape: [3], values: values(3)),
                          NamedTensor(name: "W2", shape: [4, 48], values: values(192)), NamedTensor(name: "b2", shape: [4], values: values(4))]
        assertBothLoadersRefuse(file(arch, inputShape: [6, 6, 2], parameters: parameters),
                                mentions: ["tensor W1 has shape [3, 18], the layers need [3, 2, 3, 3]"])
        var fixed = parameters
        fixed[0].shape = [3, 2, 3, 3]
        XCTAssertNoThrow(try Model.parse(file(arch, inputShape: [6, 6, 2], parameters: fixed), path: path))
    }

    // MARK: Working memory of classification

    /// A convolution of tiny weights whose patch matrix for one image is
    /// 4·15·15 × 4096·4096 values, then pooling to 273 x 273 and a dense layer.
    private func hugePatchModel() throws -> (Architecture, [NamedTensor]) {
        let input = ImageShape(channels: 4, height: 4096, width: 4096)
        let layers = try LayerSpec.parse("conv 1 15x15 pad 7, maxpool 15, dense 2", input: input, activation: .relu)
        let arch = Architecture(layers: layers, inputShape: input)
        let parameters = [NamedTensor(name: "W1", shape: [1, 4, 15, 15], values: values(900)), NamedTensor(name: "b1", shape: [1], values: values(1)),
                          NamedTensor(name: "W2", shape: [2, 273 * 273], values: values(2 * 273 * 273)),
                          NamedTensor(name: "b2", shape: [2], values: values(2))]
        return (arch, parameters)
    }

    func testAModelOneImageOfWhichNeedsMoreThanTheWorkingMemoryLimitIsRefused() throws {
        let (arch, parameters) = try hugePatchModel()
        let workspace = InferenceWorkspace(arch)
        XCTAssertEqual(workspace.widest, 4 * 4096 * 4096)
        XCTAssertEqual(workspace.widestPatch, 4 * 15 * 15 * 4096 * 4096)
        XCTAssertEqual(workspace.perImage, 2 * workspace.widest + workspace.widestPatch)
        assertBothLoadersRefuse(file(arch, inputShape: [4096, 4096, 4], parameters: parameters),
                                mentions: ["working memory", "\(workspace.perImage)", "\(ModelFormat.maximumWorkingValues)"])
    }

    func testTheBatchChunkIs256Or32WithConvolutionsUnlessItWouldNotFitTheWorkingMemory() throws {
        let mnist = ImageShape(channels: 1, height: 28, width: 28)
        let lenet = InferenceWorkspace(Architecture(layers: try LayerSpec.parse("lenet", input: mnist, activation: .relu), inputShape: mnist))
        // 28 → conv 5 → 32 x 24 x 24 = 18,432 values; conv 2 patches 32·25 x 8·8 = 51,200.
        XCTAssertEqual([lenet.widest, lenet.widestPatch, lenet.widestScratch, lenet.perImage, lenet.chunk],
                       [18432, 51200, 0, 2 * 18432 + 51200, 32])
        // A strided, padded convolution whose padded input (3 · 32 · 32) is larger than its patches (3·3·3 · 6·6).
        let rgb = ImageShape(channels: 3, height: 28, width: 28)
        let strided = InferenceWorkspace(Architecture(layers: try LayerSpec.parse("conv 4 3x3 stride 5 pad 2, dense 10", input: rgb, activation: .relu), inputShape: rgb))
        XCTAssertEqual([strided.widestPatch, strided.widestScratch, strided.perImage], [27 * 36, 3 * 32 * 32, 2 * rgb.count + 3 * 32 * 32])
        // conv3's 3×3 convolutions run as Winograd's F(2×2, 3×3): the tiles of its second convolution
        // (32 → 64 on 12×12 → 10×10), 16 × 25 tiles × (32 + 64), are the largest scratch, above the patches.
        let conv3 = InferenceWorkspace(Architecture(layers: try LayerSpec.parse("conv3", input: mnist, activation: .relu), inputShape: mnist))
        XCTAssertEqual([conv3.widestPatch, conv3.widestScratch, conv3.perImage, conv3.chunk],
                       [64 * 9 * 64, 16 * 25 * 96, 2 * 18432 + 16 * 25 * 96, 32])
        let shipped = InferenceWorkspace(Architecture(sizes: [784, 512, 512, 10], inputShape: .mnist))
        XCTAssertEqual([shipped.widest, shipped.perImage, shipped.chunk], [784, 2 * 784 + 3 * 784, 256])
        // 2^20 inputs: 5 · 2^20 values per image, so 2^28 / (5 · 2^20) = 51 images at a time.
        let wide = InferenceWorkspace(Architecture(sizes: [1 << 20, 2]))
        XCTAssertEqual([wide.perImage, wide.chunk], [5 << 20, (1 << 28) / (5 << 20)])
        // One image over the limit: the chunk is 1 (and ModelLayout refuses the model).
        let (arch, _) = try hugePatchModel()
        XCTAssertEqual(InferenceWorkspace(arch).chunk, 1)
    }

    // MARK: The layout computed without building the network

    func testStoredTensorShapesAreTheTensorsOfTheBuiltNetwork() throws {
        let mnist = ImageShape(channels: 1, height: 28, width: 28)
        let small = ImageShape(channels: 3, height: 9, width: 9)
        let architectures = [
            Architecture(sizes: [12, 7, 5]),
            Architecture(sizes: [784, 30, 20, 10], activation: .tanh, keep: [0.5, 0.8], inputShape: .mnist),
            Architecture(layers: try LayerSpec.parse("lenet", input: mnist, activation: .relu), inputShape: mnist),
            Architecture(layers: try LayerSpec.parse("conv 4 3x3 pad 1 bn, avgpool 2 stride 1, conv 2 1x1, bn, dense 6 bn dropout 0.3, dense 3",
                                                     input: small, activation: .leakyReLU), inputShape: small),
        ]
        for arch in architectures {
            let net = arch.makeNetwork(Float.self, seed: 0, drawWeights: false)
            let shapes = try XCTUnwrap(arch.storedTensorShapes)
            XCTAssertEqual(shapes.map(\.name), net.storedTensors.map(\.name), "\(arch.sizes)")
            XCTAssertEqual(shapes.map(\.shape), net.storedTensors.map(\.shape), "\(arch.sizes)")
            XCTAssertEqual(arch.parameterCount, net.storedTensors.reduce(0) { $0 + $1.matrix.count })
        }
        XCTAssertNil(Architecture(sizes: [4, 0, 2]).storedTensorShapes, "a layer of 0 units does not fit")
    }

    // MARK: No trap after loading

    func testMakeNetworkOfAModelWhoseParametersWereChangedThrowsInsteadOfTrapping() throws {
        let (model, _) = makeSmallModel()
        var missing = model
        missing.parameters.removeAll { $0.name == "b2" }
        XCTAssertThrowsError(try missing.makeNetwork()) { XCTAssertTrue("\($0)".contains("b2"), "\($0)") }
        var short = model
        short.parameters[0].values.removeLast()
        XCTAssertThrowsError(try short.makeNetwork()) { XCTAssertTrue("\($0)".contains("W1"), "\($0)") }
        var unfit = model
        unfit.architecture = Architecture(sizes: [12])
        XCTAssertThrowsError(try unfit.makeNetwork())
        XCTAssertNoThrow(try model.makeNetwork())
    }
}
