import CZlib
import Foundation
import Glibc
import XCTest
@testable import DeepScratch
import DeepScratchTestSupport

/// Metadata with every value type, edge values, and keys the reader does not
/// know (kept as read). Its strings avoid the words the corruption tests edit
/// (`tanh`, `softmax`, `dense 7 5`, `dark-on-light`).
func everyTypeMetadata() -> Metadata {
    var meta = Metadata()
    meta["deepscratch.version"] = .string("test-writer 9.9")
    meta["train.dataset"] = .string("synthetic ✓ ünïcödé")
    meta["train.epochs"] = .int(12)
    meta["train.dev_accuracy"] = .double(0.987_654_321)
    meta["custom.int.min"] = .int(.min)
    meta["custom.int.max"] = .int(.max)
    meta["custom.double.subnormal"] = .double(.leastNonzeroMagnitude)
    meta["custom.double.huge"] = .double(-1.5e300)
    meta["custom.double.infinity"] = .double(-.infinity)
    meta["custom.string.empty"] = .string("")
    meta["custom.ints"] = .ints([0, -1, .max, .min, 42])
    meta["custom.ints.empty"] = .ints([])
    meta["custom.doubles"] = .doubles([0.1, -2.5, .pi, Double.leastNormalMagnitude / 8])
    meta["custom.strings"] = .strings(["", "a", "dense 1 2", "ü✓"])
    meta["κλειδί.unicode"] = .string("value")
    return meta
}

/// A small model: 12-7-5, tanh, input 3×4×1, five labels, light-on-dark
/// inverted, a non-trivial standardization and metadata of every type.
/// Weights are Gaussian with rows scaled by 10⁻³, 1 or 10³ in turn (so a
/// per-row int8 scale matters) and W2's first row all zero; biases are
/// Gaussian (never zero).
func makeSmallModel(sizes: [Int] = [12, 7, 5], activation: ActivationKind = .tanh,
                    seed: UInt64 = 21) -> (model: Model, network: Network<Float>) {
    let arch = Architecture(sizes: sizes, activation: activation)
    let net = arch.makeNetwork(Float.self, seed: seed)
    var rng = RandomSource(seed: seed &+ 1)
    for (l, d) in net.denseLayers.enumerated() {
        let W = d.W.value
        for i in 0..<W.rows {
            let scale: Float = [1e-3, 1, 1e3][i % 3]
            for j in 0..<W.cols { W[i, j] = l == 1 && i == 0 ? 0 : scale * Float(rng.nextGaussian()) }
        }
        for i in 0..<d.b.value.count { d.b.value.data[i] = Float(rng.nextGaussian()) }
    }
    let classes = (0..<sizes.last!).map { ["zero", "one", "two", "three", "vier ✓"][$0 % 5] + ($0 >= 5 ? "\($0)" : "") }
    let shape = sizes[0] == 12 ? [3, 4, 1] : [1, sizes[0], 1]
    let model = Model(network: net, architecture: arch, standardization: Standardization(mean: 0.1307, std: 0.3081),
                      inputShape: shape, classes: classes, polarity: .darkOnLight, metadata: everyTypeMetadata())
    return (model, net)
}

/// A fixed batch of `cols` Gaussian inputs of `rows` features.
func gaussianInputs(rows: Int, cols: Int, seed: UInt64 = 23) -> Matrix<Float> {
    var rng = RandomSource(seed: seed)
    let X = Matrix<Float>(rows: rows, cols: cols)
    for i in 0..<X.count { X.data[i] = Float(rng.nextGaussian()) }
    return X
}

/// Model files: save/load round trips in every precision, the on-disk
/// layout against the spec, and the atomic write underneath.
final class ModelFileTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory("model")
    }

    override func tearDown() {
        removeDirectory(dir)
    }

    private func saveAndLoad(_ model: Model, _ precision: Precision, name: String = "model") throws -> Model {
        let path = "\(dir)/\(name)-\(precision.rawValue).dsm"
        try model.save(to: path, precision: precision)
        return try Model.load(path: path)
    }

    // MARK: Round trips

    func testRoundTripInEveryPrecisionKeepsArchitectureInputClassesStandardizationPolarityAndMetadata() throws {
        let (model, _) = makeSmallModel()
        for precision in Precision.allCases {
            let loaded = try saveAndLoad(model, precision)
            let p = precision.rawValue
            XCTAssertEqual(loaded.architecture.sizes, [12, 7, 5], p)
            XCTAssertEqual(loaded.architecture.activation, .tanh, p)
            XCTAssertEqual(loaded.inputShape, [3, 4, 1], p)
            XCTAssertEqual(loaded.classes, ["zero", "one", "two", "three", "vier ✓"], p)
            XCTAssertEqual(loaded.standardization.mean.bitPattern, 0.1307.bitPattern, p)
            XCTAssertEqual(loaded.standardization.std.bitPattern, 0.3081.bitPattern, p)
            XCTAssertEqual(loaded.polarity, .darkOnLight, p)
            XCTAssertEqual(loaded.metadata, everyTypeMetadata(), p)
            XCTAssertNil(loaded.trainingState, p)
            XCTAssertEqual(loaded.precision, precision, p)
            XCTAssertEqual(loaded.parameters.map(\.name), ["W1", "b1", "W2", "b2"], p)
            XCTAssertEqual(loaded.parameters.map(\.shape), [[7, 12], [7], [5, 7], [5]], p)
            XCTAssertEqual(loaded.layerList, ["dense 12 7", "tanh", "dense 7 5", "softmax"], p)
        }
    }

    func testMetadataDoublesKeepTheirExactBits() throws {
        // Equality of doubles would let −0.0 pass for 0.0; compare bits.
        var (model, _) = makeSmallModel()
        model.metadata["custom.negative.zero"] = .double(-0.0)
        model.metadata["custom.nan.doubles"] = .doubles([.nan, -0.0, .leastNonzeroMagnitude])
        let loaded = try saveAndLoad(model, .f32)
        guard case let .double(z)? = loaded.metadata["custom.negative.zero"],
              case let .doubles(ds)? = loaded.metadata["custom.nan.doubles"] else {
            return XCTFail("metadata keys lost: \(loaded.metadata.entries.map(\.key))")
        }
        XCTAssertEqual(z.bitPattern, (-0.0).bitPattern)
        XCTAssertEqual(ds.map(\.bitPattern), [Double.nan.bitPattern, (-0.0).bitPattern, Double.leastNonzeroMagnitude.bitPattern])
    }

    func testWithoutAVersionKeyTheWriterRecordsTheLibraryVersion() throws {
        var (model, _) = makeSmallModel()
        model.metadata["deepscratch.version"] = nil
        let loaded = try saveAndLoad(model, .f32)
        XCTAssertEqual(loaded.metadata["deepscratch.version"], .string(DeepScratchVersion.string))
        XCTAssertEqual(loaded.metadata["train.dataset"], .string("synthetic ✓ ünïcödé"))
    }

    func testStaleModelAndInputKeysInMetadataDoNotOverrideTheModel() throws {
        // The writer derives model.* and input.* from the model's fields.
        var (model, _) = makeSmallModel()
        model.metadata["model.classes"] = .strings(["x"])
        model.metadata["input.std"] = .double(99)
        let loaded = try saveAndLoad(model, .f32)
        XCTAssertEqual(loaded.classes.count, 5)
        XCTAssertEqual(loaded.standardization.std, 0.3081)
        XCTAssertNil(loaded.metadata["model.classes"])
    }

    func testF32WeightsAndBiasesAreBitIdentical() throws {
        let (model, net) = makeSmallModel()
        let loaded = try saveAndLoad(model, .f32)
        XCTAssertEqual(loaded.parameters.map { $0.values.map(\.bitPattern) },
                       net.parameters.map { $0.value.values.map(\.bitPattern) })
    }

    func testF16WeightsAreWithinHalfPrecisionRoundingAndBiasesAreExact() throws {
        let (model, net) = makeSmallModel()
        let loaded = try saveAndLoad(model, .f16)
        for (t, p) in zip(loaded.parameters, net.parameters) {
            let original = p.value.values
            if t.shape.count == 1 {
                XCTAssertEqual(t.values.map(\.bitPattern), original.map(\.bitPattern), "bias \(t.name) stays f32")
                continue
            }
            var changed = 0
            for (d, w) in zip(t.values, original) {
                // Round to nearest binary16: relative error ≤ 2⁻¹¹ for normal
                // halves; below 2⁻¹⁴ (subnormal) the spacing is 2⁻²⁴.
                let error = abs(Double(d) - Double(w))
                XCTAssertLessThanOrEqual(error, max(abs(Double(w)) * 0x1p-11, 0x1p-25), "\(t.name): \(w) → \(d)")
                XCTAssertEqual(Float(Float16(d)), d, "\(t.name): \(d) is not a binary16 value")
                if d != w { changed += 1 }
            }
            XCTAssertGreaterThan(changed, 0, "\(t.name): random weights cannot all be binary16 values")
        }
    }

    func testInt8WeightsAreWithinHalfAStepOfTheirRowScaleAndBiasesAreExact() throws {
        let (model, net) = makeSmallModel()
        let loaded = try saveAndLoad(model, .int8)
        var sawZeroRow = false
        for (t, p) in zip(loaded.parameters, net.parameters) {
            let original = p.value.values
            if t.shape.count == 1 {
                XCTAssertEqual(t.values.map(\.bitPattern), original.map(\.bitPattern), "bias \(t.name) stays f32")
                continue
            }
            let rows = t.shape[0], cols = t.shape[1]
            for r in 0..<rows {
                let row = original[(r * cols)..<((r + 1) * cols)].map(Double.init)
                let decoded = t.values[(r * cols)..<((r + 1) * cols)].map(Double.init)
                let rowMax = row.map(abs).max()!
                if rowMax == 0 {
                    sawZeroRow = true
                    XCTAssertEqual(decoded, row, "\(t.name) row \(r): an all-zero row stays zero")
                    continue
                }
                // scale = max|w| / 127; rounding to the nearest step errs by
                // at most half a step (plus float rounding of scale · q).
                let scale = rowMax / 127
                for (d, w) in zip(decoded, row) {
                    XCTAssertLessThanOrEqual(abs(d - w), scale * (0.5 + 1e-4), "\(t.name) row \(r): \(w) → \(d)")
                    let q = d / scale
                    XCTAssertEqual(q, q.rounded(), accuracy: 1e-3, "\(t.name) row \(r): \(d) is not a multiple of the scale")
                    XCTAssertLessThanOrEqual(abs(q.rounded()), 127)
                }
                // The largest magnitude maps to ±127 steps: almost exact.
                let k = row.firstIndex { abs($0) == rowMax }!
                XCTAssertEqual(decoded[k], row[k], accuracy: rowMax * 1e-6, "\(t.name) row \(r) maximum")
            }
        }
        XCTAssertTrue(sawZeroRow, "the model has an all-zero row in W2")
    }

    func testFileInfoReportsTensorTypesSectionsAndVersionForEachPrecision() throws {
        let (model, _) = makeSmallModel()
        let weightType: [Precision: String] = [.f32: "f32", .f16: "f16", .int8: "q8z"]
        for precision in Precision.allCases {
            let path = "\(dir)/info-\(precision.rawValue).dsm"
            try model.save(to: path, precision: precision)
            let info = try XCTUnwrap(try Model.load(path: path).fileInfo)
            XCTAssertEqual(info.path, path)
            XCTAssertEqual(info.fileSize, try readAll(path).count)
            XCTAssertEqual(info.majorVersion, 1)
            XCTAssertEqual(info.minorVersion, 0)
            XCTAssertEqual(info.sections, ["META", "TDIR", "TDAT"])
            XCTAssertEqual(info.tensors.map(\.name), ["W1", "b1", "W2", "b2"])
            XCTAssertEqual(info.tensors.map(\.type), [weightType[precision]!, "f32", weightType[precision]!, "f32"],
                           precision.rawValue)
            XCTAssertEqual(info.tensors.map(\.shape), [[7, 12], [7], [5, 7], [5]])
            let bytesPerWeight = precision == .f32 ? 4 : 2
            if precision != .int8 {
                XCTAssertEqual(info.tensors[0].byteLength, 84 * bytesPerWeight)
            }
            XCTAssertEqual(info.tensors[1].byteLength, 28)
        }
    }

    func testModelPrecisionIsTheDefaultForSaveAndTheArgumentOverridesIt() throws {
        var (model, _) = makeSmallModel()
        model.precision = .f16
        let path = dir + "/default.dsm"
        try model.save(to: path)
        XCTAssertEqual(try Model.load(path: path).fileInfo?.tensors.first?.type, "f16")
        try model.save(to: path, precision: .int8)
        XCTAssertEqual(try Model.load(path: path).fileInfo?.tensors.first?.type, "q8z")
        XCTAssertEqual(model.serialized(), model.serialized(precision: .f16))
    }

    func testSmallerPrecisionsGiveSmallerFiles() {
        let (model, _) = makeSmallModel(sizes: [64, 32, 10], activation: .relu)
        let f32 = model.serialized(precision: .f32).count
        let f16 = model.serialized(precision: .f16).count
        let int8 = model.serialized(precision: .int8).count
        // W1 alone: 8 KiB in f32, 4 KiB in f16, about 2 KiB in int8.
        XCTAssertLessThan(f16, f32 - 3 * 1024)
        XCTAssertLessThan(int8, f16 - 1024)
    }

    func testLoadingAndSavingAgainReproducesTheFileByteForByte() throws {
        // f32 and f16 values survive a second encoding unchanged.
        let (model, _) = makeSmallModel()
        for precision in [Precision.f32, .f16] {
            let first = model.serialized(precision: precision)
            let again = try Model.parse(first, path: "first").serialized(precision: precision)
            XCTAssertEqual(again, first, precision.rawValue)
        }
    }

    func testEveryActivationAndPolarityRoundTrips() throws {
        for activation in ActivationKind.allCases {
            for polarity in [Polarity.lightOnDark, .darkOnLight] {
                var (model, _) = makeSmallModel(sizes: [5, 4, 3, 2], activation: activation)
                model.polarity = polarity
                let loaded = try Model.parse(model.serialized(), path: "x")
                XCTAssertEqual(loaded.architecture.sizes, [5, 4, 3, 2])
                XCTAssertEqual(loaded.architecture.activation, activation)
                XCTAssertEqual(loaded.polarity, polarity)
                XCTAssertEqual(loaded.layerList, ["dense 5 4", activation.rawValue, "dense 4 3", activation.rawValue,
                                                  "dense 3 2", "softmax"])
            }
        }
    }

    // MARK: Networks from files

    func testLoadedF32ModelPredictsExactlyLikeTheOriginalNetwork() throws {
        let (model, net) = makeSmallModel()
        let rebuilt = try saveAndLoad(model, .f32).makeNetwork()
        let X = gaussianInputs(rows: 12, cols: 6)
        let expected = net.forward(X, training: false).values
        let got = rebuilt.forward(X, training: false).values
        XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern))
        for j in 0..<6 {
            let column = (0..<5).reduce(Float(0)) { $0 + got[$1 * 6 + j] }
            XCTAssertEqual(column, 1, accuracy: 1e-5, "softmax column \(j)")
        }
    }

    func testLoadNetworkForwardEqualsLoadThenMakeNetworkBitForBitInEveryPrecision() throws {
        let (model, _) = makeSmallModel()
        let X = gaussianInputs(rows: 12, cols: 6)
        var outputs = [[UInt32]]()
        for precision in Precision.allCases {
            let path = "\(dir)/net-\(precision.rawValue).dsm"
            try model.save(to: path, precision: precision)
            let viaModel = try Model.load(path: path).makeNetwork()
            let (fastModel, fast) = try Model.loadNetwork(path: path)
            let a = viaModel.forward(X, training: false).values.map(\.bitPattern)
            let b = fast.forward(X, training: false).values.map(\.bitPattern)
            XCTAssertEqual(b, a, precision.rawValue)
            XCTAssertEqual(fast.parameters.map { $0.value.values.map(\.bitPattern) },
                           viaModel.parameters.map { $0.value.values.map(\.bitPattern) }, precision.rawValue)
            XCTAssertTrue(fast.dropoutLayers.isEmpty)
            XCTAssertEqual(fastModel.architecture.sizes, [12, 7, 5])
            XCTAssertEqual(fastModel.classes.count, 5)
            XCTAssertEqual(fastModel.fileInfo?.path, path)
            XCTAssertEqual(fastModel.precision, precision)
            XCTAssertTrue(fastModel.parameters.isEmpty, "loadNetwork decodes into the network only")
            outputs.append(a)
        }
        // The three precisions really store different weights.
        XCTAssertNotEqual(outputs[0], outputs[1])
        XCTAssertNotEqual(outputs[0], outputs[2])
    }

    func testModelWithDropoutMakesAnInferenceNetworkWithoutDropout() throws {
        let arch = Architecture(sizes: [12, 7, 5], activation: .relu, keep: [0.5])
        let net = arch.makeNetwork(Float.self, seed: 3)
        let model = Model(network: net, architecture: arch, standardization: Standardization(mean: 0, std: 1),
                          inputShape: [3, 4, 1])
        let loaded = try saveAndLoad(model, .f32)
        let rebuilt = try loaded.makeNetwork()
        XCTAssertTrue(rebuilt.dropoutLayers.isEmpty)
        let X = gaussianInputs(rows: 12, cols: 3)
        XCTAssertEqual(rebuilt.forward(X, training: true).values.map(\.bitPattern),
                       net.forward(X, training: false).values.map(\.bitPattern))
        XCTAssertEqual(loaded.classes, ["0", "1", "2", "3", "4"], "default labels are the class numbers")
        XCTAssertEqual(loaded.polarity, .lightOnDark, "default polarity is MNIST's")
    }

    // MARK: The bytes on disk, read independently from the spec

    func testSavedFileFollowsTheSpecifiedLayout() throws {
        let (model, _) = makeSmallModel()
        for precision in Precision.allCases {
            let p = precision.rawValue
            let f = ModelFileBytes(model.serialized(precision: precision))
            XCTAssertEqual(Array(f.bytes.prefix(8)), [0x89, 0x44, 0x53, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A], p)
            XCTAssertEqual(f.u16(8), 1, p)
            XCTAssertEqual(f.u16(10), 0, p)
            XCTAssertEqual(f.u32(12), 32, p)
            XCTAssertEqual(f.u64(16), UInt64(f.bytes.count), p)
            XCTAssertEqual(f.u32(24), 3, p)
            XCTAssertEqual(f.u32(28), 0, p)
            XCTAssertEqual(f.u64(f.bodyEnd), XXH64.hash(Array(f.bytes.dropLast(8))), "\(p): checksum")
            let sections = f.sections
            XCTAssertEqual(sections.map(\.tag), ["META", "TDIR", "TDAT"], p)
            XCTAssertEqual(sections.map(\.flags), [1, 1, 1], p)
            XCTAssertEqual(sections.first?.header, 32, p)
            XCTAssertEqual(sections.last?.end, f.bodyEnd, "\(p): the checksum follows the last section")
            for s in sections {
                XCTAssertEqual(s.header % 8, 0, "\(p): \(s.tag) starts on a multiple of 8")
                XCTAssertTrue(f.bytes[s.payload.upperBound..<s.end].allSatisfy { $0 == 0 }, "\(p): \(s.tag) padding")
            }
            let data = f.section("TDAT").payload
            let tensors = f.tensors.sorted { $0.offset < $1.offset }
            XCTAssertEqual(tensors.map(\.name), ["W1", "b1", "W2", "b2"], p)
            var covered = data.lowerBound
            for t in tensors {
                XCTAssertEqual(t.offset % 64, 0, "\(p): \(t.name) is 64-byte aligned")
                XCTAssertGreaterThanOrEqual(t.offset, covered, "\(p): \(t.name) overlaps its predecessor")
                XCTAssertTrue(f.bytes[covered..<t.offset].allSatisfy { $0 == 0 }, "\(p): gap before \(t.name) is zero")
                covered = t.offset + t.length
            }
            XCTAssertEqual(covered, data.upperBound, "\(p): TDAT ends with the last tensor")
            XCTAssertEqual(f.tensor("W1").dims, [7, 12], p)
            XCTAssertEqual(f.tensor("b2").dims, [5], p)
            let code: [Precision: UInt8] = [.f32: 1, .f16: 2, .int8: 4]
            XCTAssertEqual(f.tensors.map(\.dtype), [code[precision]!, 1, code[precision]!, 1], p)
            // Metadata keys of format 1.0 with their types.
            let types = Dictionary(f.metadata.map { ($0.key, $0.type) }, uniquingKeysWith: { a, _ in a })
            XCTAssertEqual(types["model.layers"], 6, p)
            XCTAssertEqual(types["model.input_shape"], 4, p)
            XCTAssertEqual(types["model.classes"], 6, p)
            XCTAssertEqual(types["input.mean"], 2, p)
            XCTAssertEqual(types["input.std"], 2, p)
            XCTAssertEqual(types["input.polarity"], 3, p)
            XCTAssertEqual(types["custom.doubles"], 5, p)
            XCTAssertEqual(types["custom.int.min"], 1, p)
            XCTAssertEqual(f.metadata.count, Set(f.metadata.map(\.key)).count, "\(p): keys are unique")
            XCTAssertEqual(f.u64(f.meta("input.std").valueAt), 0.3081.bitPattern, p)
        }
    }

    func testF32AndF16TensorBytesAreLittleEndianValues() {
        let (model, net) = makeSmallModel()
        let w1 = net.parameters[0].value.values, b1 = net.parameters[1].value.values
        let f = ModelFileBytes(model.serialized(precision: .f32))
        let t = f.tensor("W1")
        XCTAssertEqual((0..<84).map { f.u32(t.offset + 4 * $0) }, w1.map(\.bitPattern))
        let h = ModelFileBytes(model.serialized(precision: .f16))
        let th = h.tensor("W1"), tb = h.tensor("b1")
        XCTAssertEqual((0..<84).map { Float(Float16(bitPattern: h.u16(th.offset + 2 * $0))) },
                       w1.map { Float(Float16($0)) })
        XCTAssertEqual((0..<7).map { h.u32(tb.offset + 4 * $0) }, b1.map(\.bitPattern))
    }

    func testQ8zTensorInflatesToRowScalesThenRoundedValues() throws {
        // Decoded here with the system zlib, following the spec's q8 layout.
        let (model, net) = makeSmallModel()
        let f = ModelFileBytes(model.serialized(precision: .int8))
        for (name, k) in [("W1", 0), ("W2", 2)] {
            let t = f.tensor(name)
            let rows = t.dims[0], cols = t.dims[1]
            let raw = try XCTUnwrap(zlibDecompress(Array(f.bytes[t.offset..<(t.offset + t.length)]), limit: 1 << 16))
            XCTAssertEqual(raw.count, 4 * rows + rows * cols, name)
            let w = net.parameters[k].value.values
            let q8 = ModelFileBytes(raw)
            for r in 0..<rows {
                let scale = Float(bitPattern: q8.u32(4 * r))
                let rowMax = (0..<cols).map { abs(w[r * cols + $0]) }.max()!
                XCTAssertEqual(scale, rowMax > 0 ? rowMax / 127 : 1, "\(name) row \(r) scale")
                for c in 0..<cols {
                    let q = Int8(bitPattern: raw[4 * rows + r * cols + c])
                    XCTAssertNotEqual(q, -128, "values lie in −127…127")
                    // Round to nearest: |w/scale − q| ≤ 1/2 (a little slack for float division).
                    XCTAssertLessThanOrEqual(abs(Double(w[r * cols + c]) / Double(scale) - Double(q)), 0.5 + 1e-4,
                                             "\(name) [\(r), \(c)]")
                }
            }
        }
    }

    // MARK: Files that cannot be read

    func testMissingFileAndFolderThrowCannotReadNamingThePath() throws {
        let missing = dir + "/nope.dsm"
        let error = assertThrowsDeepScratchError(try Model.load(path: missing), mentions: [missing])
        if case .cannotRead? = error {} else { XCTFail("expected .cannotRead, got \(String(describing: error))") }
        XCTAssertThrowsError(try Model.loadNetwork(path: missing))
        let folder = dir + "/folder.dsm"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let error2 = assertThrowsDeepScratchError(try Model.load(path: folder), mentions: [folder])
        if case .cannotRead? = error2 {} else { XCTFail("expected .cannotRead, got \(String(describing: error2))") }
    }

    func testFileOfTheOldFormatIsRejectedAsNotAModel() throws {
        // The previous format began with the ASCII magic "DSMODEL0".
        let path = dir + "/old.dsm"
        try writeRaw(Array("DSMODEL0".utf8) + [UInt8](repeating: 0, count: 200), to: path)
        let error = assertThrowsDeepScratchError(try Model.load(path: path), mentions: [path, "magic"])
        if case .badModel? = error {} else { XCTFail("expected .badModel, got \(String(describing: error))") }
    }

    // MARK: AtomicFile

    private func leftoverTemporaries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp") }
    }

    func testAtomicWriteReplacesAnExistingFileAndLeavesNoTemporary() throws {
        let path = dir + "/data.bin"
        try writeRaw(Array(repeating: 0xAA, count: 1000), to: path)
        try AtomicFile.write([1, 2, 3], to: path)
        XCTAssertEqual(try readAll(path), [1, 2, 3])
        XCTAssertEqual(try AtomicFile.read(path), [1, 2, 3])
        XCTAssertEqual(try leftoverTemporaries(), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["data.bin"])
    }

    func testSavingOverAnExistingModelReplacesItAndLeavesNoTemporary() throws {
        let path = dir + "/model.dsm"
        let (first, _) = makeSmallModel(seed: 1)
        let (second, _) = makeSmallModel(seed: 2)
        try first.save(to: path)
        try second.save(to: path)
        XCTAssertEqual(try readAll(path), second.serialized())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model.dsm"])
    }

    func testAtomicWriteOfNothingGivesAnEmptyFile() throws {
        let path = dir + "/empty.bin"
        try writeRaw([9, 9], to: path)
        try AtomicFile.write([], to: path)
        XCTAssertEqual(try readAll(path), [])
        XCTAssertEqual(try leftoverTemporaries(), [])
    }

    func testAtomicWriteIntoAMissingFolderThrowsCannotWriteAndLeavesTheOldFileUntouched() throws {
        let old = dir + "/model.dsm"
        try writeRaw([7, 7, 7], to: old)
        let target = dir + "/missing-folder/model.dsm"
        let error = assertThrowsDeepScratchError(try AtomicFile.write([1, 2, 3], to: target), mentions: [target])
        if case .cannotWrite? = error {} else { XCTFail("expected .cannotWrite, got \(String(describing: error))") }
        XCTAssertEqual(try readAll(old), [7, 7, 7])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/missing-folder"))
        XCTAssertEqual(try leftoverTemporaries(), [])
        // Model.save reports the same.
        let (model, _) = makeSmallModel()
        let error2 = assertThrowsDeepScratchError(try model.save(to: target), mentions: [target])
        if case .cannotWrite? = error2 {} else { XCTFail("expected .cannotWrite, got \(String(describing: error2))") }
        XCTAssertEqual(try readAll(old), [7, 7, 7])
    }

    func testFailedWriteOverAnExistingFileLeavesItUntouched() throws {
        // Make the write fail while the target exists: block the temporary
        // name (`<path>.tmp-<pid>`, AtomicFile's scheme) with a folder.
        let path = dir + "/model.dsm"
        let (model, _) = makeSmallModel()
        try model.save(to: path)
        let before = try readAll(path)
        let blocker = "\(path).tmp-\(getpid())"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: blocker) }
        let error = assertThrowsDeepScratchError(try AtomicFile.write([1, 2, 3], to: path), mentions: [path])
        if case .cannotWrite? = error {} else { XCTFail("expected .cannotWrite, got \(String(describing: error))") }
        XCTAssertEqual(try readAll(path), before, "the previous file must be untouched")
        XCTAssertNoThrow(try Model.load(path: path))
    }

    func testRenameOntoAFolderFailsAndRemovesTheTemporary() throws {
        // The temporary can be written but not renamed over a non-empty folder.
        let path = dir + "/occupied"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try writeRaw([1], to: path + "/inside")
        let error = assertThrowsDeepScratchError(try AtomicFile.write([1, 2, 3], to: path), mentions: [path])
        if case .cannotWrite? = error {} else { XCTFail("expected .cannotWrite, got \(String(describing: error))") }
        XCTAssertEqual(try leftoverTemporaries(), [], "the temporary must be removed after a failed rename")
        XCTAssertEqual(try readAll(path + "/inside"), [1])
    }

    func testAtomicReadAndMappedContentsRefuseFilesAboveTheLimit() throws {
        let path = dir + "/big"
        try writeRaw(Array(repeating: 1, count: 100), to: path)
        let error = assertThrowsDeepScratchError(try AtomicFile.read(path, limit: 99), mentions: [path, "100"])
        if case .cannotRead? = error {} else { XCTFail("expected .cannotRead, got \(String(describing: error))") }
        XCTAssertEqual(try AtomicFile.read(path, limit: 100).count, 100)
        XCTAssertThrowsError(try AtomicFile.withContents(of: path, limit: 99) { $0.count })
        XCTAssertEqual(try AtomicFile.withContents(of: path, limit: 100) { raw in raw.reduce(0) { $0 + Int($1) } }, 100)
    }
}
