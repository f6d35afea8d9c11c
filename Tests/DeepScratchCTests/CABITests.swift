import DeepScratch
import DeepScratchImage
@testable import DeepScratchC
import Foundation
import Glibc
import XCTest

/// The C ABI of libdeepscratch.so (include/deepscratch.h), called directly
/// through its `@c` Swift functions: loading, getters, classifying,
/// handle validation, per-thread errors, versions and threads.
///
/// Expected probabilities come from a forward pass written here in Double
/// from the model file's parameters (read with `Model.load`), and from the
/// engine's training `Network.forward`, never from `InferenceModel`.
final class CABITests: XCTestCase {
    private var folder: CTemporaryFolder!
    /// A small relu model 784-32-10 with nonzero biases, saved in setUp.
    private var smallModelPath: String!
    /// Models loaded by a test, freed in tearDown (a second free is harmless).
    private var loaded: [OpaquePointer] = []

    override func setUpWithError() throws {
        folder = try CTemporaryFolder()
        smallModelPath = try saveModel(Architecture(sizes: [784, 32, 10], inputShape: .mnist), seed: 7, name: "small.dsm")
    }

    override func tearDown() {
        for m in loaded { _ = ds_model_free(m) }
        loaded = []
        folder = nil
    }

    // MARK: - Fixtures

    /// Saves a network of `architecture` (weights from `seed`, biases set to
    /// small distinct values so that they matter) and returns its path.
    private func saveModel(_ architecture: Architecture, seed: UInt64, name: String,
                           classes: [String]? = nil, metadata: Metadata = Metadata()) throws -> String {
        let network = architecture.makeNetwork(Float.self, seed: seed)
        for (k, dense) in network.denseLayers.enumerated() {
            for i in 0..<dense.outputSize { dense.b.value.data[i] = Float((i * 7 + k * 3) % 11 - 5) * 0.05 }
        }
        let model = Model(network: network, architecture: architecture,
                          standardization: Standardization(mean: 0.1307, std: 0.3081),
                          classes: classes, metadata: metadata)
        let path = folder.path + "/" + name
        try model.save(to: path)
        return path
    }

    /// Loads a model file, failing the test if that fails.
    private func load(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> OpaquePointer {
        var model: OpaquePointer?
        let status = ds_model_load(path, &model)
        XCTAssertEqual(status, DS.ok, "ds_model_load(\(path)): \(lastError())", file: file, line: line)
        let m = try XCTUnwrap(model, "ds_model_load returned no model", file: file, line: line)
        loaded.append(m)
        return m
    }

    private func lastError() -> String { String(cString: ds_last_error()) }

    /// `count` images of 784 floats in [0, 1], of several kinds: sparse
    /// strokes (most pixels exactly 0, as in MNIST), dense noise, binary
    /// pixels, plus an all-black and an all-white one.
    private func images(_ count: Int, seed: UInt64) -> [[Float]] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> Double {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Double(state >> 11) / Double(1 << 53)
        }
        return (0..<count).map { k in
            switch k % 5 {
            case 0: return (0..<784).map { _ in next() < 0.2 ? Float(next()) : 0 }
            case 1: return (0..<784).map { _ in Float(next()) }
            case 2: return (0..<784).map { _ in next() < 0.3 ? 1 : 0 }
            case 3: return k % 2 == 1 ? [Float](repeating: 0, count: 784) : [Float](repeating: 1, count: 784)
            default:
                // A thick vertical bar at a random column, as a crude stroke.
                let column = Int(next() * 20) + 4
                return (0..<784).map { i in abs(i % 28 - column) <= 2 && i / 28 > 3 && i / 28 < 24 ? 0.95 : 0 }
            }
        }
    }

    private func classify(_ model: OpaquePointer?, _ image: [Float]) -> (status: Int32, probabilities: [Float], cls: Int32) {
        var p = [Float](repeating: -1, count: 10)
        var cls: Int32 = -1
        let status = ds_classify(model, image, image.count, &p, p.count, &cls)
        return (status, p, cls)
    }

    private func label(_ model: OpaquePointer, _ index: Int) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        var length = -1
        guard ds_model_label(model, index, &buffer, buffer.count, &length) == DS.ok else { return nil }
        let text = cText(buffer)
        XCTAssertEqual(length, text.utf8.count, "length of label \(index)")
        return text
    }

    private func metadata(_ model: OpaquePointer) throws -> String {
        var length = -1
        XCTAssertEqual(ds_model_metadata(model, nil, 0, &length), DS.ok, lastError())
        XCTAssertGreaterThan(length, 0)
        var buffer = [CChar](repeating: 0x7F, count: length + 1)
        var again = -1
        XCTAssertEqual(ds_model_metadata(model, &buffer, buffer.count, &again), DS.ok, lastError())
        XCTAssertEqual(again, length)
        XCTAssertEqual(buffer[length], 0, "the text is NUL-terminated")
        XCTAssertEqual(strlen(buffer), length, "no NUL inside the text")
        return cText(buffer)
    }

    private func json(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(object as? [String: Any], "metadata is not a JSON object: \(text)")
    }

    private func argmax<T: Comparable>(_ v: [T]) -> Int { v.indices.max { v[$0] < v[$1] }! }

    private func assertClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-5,
                             _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        for (i, (a, e)) in zip(actual, expected).enumerated() where !(abs(Double(a) - e) <= tolerance) {
            XCTFail("\(what): probability \(i) is \(a), expected \(e)", file: file, line: line)
            return
        }
    }

    /// The header's `ds_status` enum, read from include/deepscratch.h.
    private func headerStatuses() throws -> [String: Int32] {
        let text = try String(contentsOfFile: CPaths.header, encoding: .utf8)
        guard let start = text.range(of: "typedef enum ds_status {"),
              let end = text.range(of: "} ds_status;", range: start.upperBound..<text.endIndex) else {
            throw CTestError("no ds_status enum in \(CPaths.header)")
        }
        var result: [String: Int32] = [:]
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("DS_"), let eq = t.firstIndex(of: "=") else { continue }
            let name = t[..<eq].trimmingCharacters(in: .whitespaces)
            let value = t[t.index(after: eq)...].trimmingCharacters(in: CharacterSet(charactersIn: " ,"))
            result[name] = Int32(value)
        }
        return result
    }

    // MARK: - Loading and getters

    func testLoadFromPathAndFromMemoryGiveIdenticalProbabilities() throws {
        let fromFile = try load(smallModelPath)
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: smallModelPath))
        var fromMemory: OpaquePointer?
        let status = bytes.withUnsafeBytes { ds_model_load_memory($0.baseAddress, $0.count, &fromMemory) }
        XCTAssertEqual(status, DS.ok, lastError())
        let m = try XCTUnwrap(fromMemory)
        loaded.append(m)
        XCTAssertNotEqual(m, fromFile, "two loads are two models")
        for (k, image) in images(10, seed: 1).enumerated() {
            let a = classify(fromFile, image), b = classify(m, image)
            XCTAssertEqual(a.status, DS.ok)
            XCTAssertEqual(b.status, DS.ok)
            XCTAssertEqual(a.probabilities, b.probabilities, "image \(k)")
            XCTAssertEqual(a.cls, b.cls, "image \(k)")
        }
    }

    func testModelLoadedFromMemoryKeepsWorkingAfterTheCallerOverwritesTheBytes() throws {
        let fromFile = try load(smallModelPath)
        var bytes = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: smallModelPath)))
        var fromMemory: OpaquePointer?
        XCTAssertEqual(ds_model_load_memory(bytes, bytes.count, &fromMemory), DS.ok, lastError())
        let m = try XCTUnwrap(fromMemory)
        loaded.append(m)
        for i in bytes.indices { bytes[i] = 0xA5 }
        for image in images(5, seed: 2) {
            XCTAssertEqual(classify(m, image).probabilities, classify(fromFile, image).probabilities)
        }
        XCTAssertEqual(label(m, 3), "3")
    }

    func testModelsReportInputSize784AndTenClasses() throws {
        for path in [smallModelPath!, CPaths.shippedModel, CPaths.shippedMLP] {
            let m = try load(path)
            var size = -1, classes = -1
            XCTAssertEqual(ds_model_input_size(m, &size), DS.ok)
            XCTAssertEqual(ds_model_class_count(m, &classes), DS.ok)
            XCTAssertEqual(size, 784, path)
            XCTAssertEqual(classes, 10, path)
        }
    }

    func testGettersWithNullOutputAreInvalidArgument() throws {
        let m = try load(smallModelPath)
        XCTAssertEqual(ds_model_input_size(m, nil), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("out_size"), lastError())
        XCTAssertEqual(ds_model_class_count(m, nil), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("out_count"), lastError())
    }

    func testLabelsAreTheDigitsZeroToNine() throws {
        for path in [smallModelPath!, CPaths.shippedModel, CPaths.shippedMLP] {
            let m = try load(path)
            XCTAssertEqual((0..<10).map { label(m, $0) }, (0..<10).map { String($0) }, path)
        }
    }

    func testLabelsAreTheClassNamesTheModelStores() throws {
        // As dsc train --dataset fashion saves them.
        let names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        let m = try load(try saveModel(Architecture(sizes: [784, 16, 10], inputShape: .mnist), seed: 5, name: "fashion.dsm", classes: names))
        XCTAssertEqual((0..<10).map { label(m, $0) }, names)
    }

    func testLabelWithCapacityOneIsEmptyAndReportsTheFullLength() throws {
        let m = try load(smallModelPath)
        var buffer: [CChar] = [0x41, 0x42, 0x43]
        var length = -1
        XCTAssertEqual(ds_model_label(m, 7, &buffer, 1, &length), DS.ok)
        XCTAssertEqual(buffer[0], 0, "capacity 1 holds only the NUL")
        XCTAssertEqual(buffer[1], 0x42, "nothing written past the capacity")
        XCTAssertEqual(length, 1)
    }

    func testLabelWithNullBufferAndZeroCapacityReportsTheLength() throws {
        let labels = (0..<10).map { "class \(String(repeating: "x", count: $0))" }
        let m = try load(try saveModel(Architecture(sizes: [784, 32, 10], inputShape: .mnist), seed: 3, name: "named.dsm", classes: labels))
        for (i, text) in labels.enumerated() {
            var length = -1
            XCTAssertEqual(ds_model_label(m, i, nil, 0, &length), DS.ok)
            XCTAssertEqual(length, text.utf8.count)
        }
        XCTAssertEqual(ds_model_label(m, 0, nil, 0, nil), DS.ok, "out_length may be NULL")
    }

    func testLabelTruncatedToTheCapacityKeepsItsStartAndFullLength() throws {
        let labels = (0..<10).map { "digit number \($0)" }
        let m = try load(try saveModel(Architecture(sizes: [784, 32, 10], inputShape: .mnist), seed: 3, name: "long.dsm", classes: labels))
        var buffer = [CChar](repeating: 0x7F, count: 8)
        var length = -1
        XCTAssertEqual(ds_model_label(m, 4, &buffer, 6, &length), DS.ok)
        XCTAssertEqual(cText(buffer), "digit")
        XCTAssertEqual(length, "digit number 4".utf8.count)
        XCTAssertEqual(buffer[6], 0x7F, "nothing written past the capacity")
    }

    func testLabelWithNullBufferAndPositiveCapacityIsInvalidArgument() throws {
        let m = try load(smallModelPath)
        var length = -1
        XCTAssertEqual(ds_model_label(m, 0, nil, 4, &length), DS.invalidArgument)
        XCTAssertEqual(length, -1, "output unchanged")
        XCTAssertEqual(ds_model_metadata(m, nil, 4, &length), DS.invalidArgument)
        XCTAssertEqual(length, -1, "output unchanged")
        XCTAssertTrue(lastError().contains("buffer"), lastError())
    }

    func testLabelIndexOutOfRangeIsInvalidArgument() throws {
        let m = try load(smallModelPath)
        var buffer: [CChar] = [0x41, 0]
        var length = -1
        for index in [10, 11, Int.max, -1 /* SIZE_MAX */] {
            XCTAssertEqual(ds_model_label(m, index, &buffer, 2, &length), DS.invalidArgument, "index \(index)")
            XCTAssertEqual(buffer[0], 0x41)
            XCTAssertEqual(length, -1)
        }
        XCTAssertTrue(lastError().contains("10 classes"), lastError())
    }

    func testLabelsWithQuotesControlCharactersAndUnicodeSurviveLabelAndMetadata() throws {
        let labels = ["zero \"0\"", "one\\1", "two\n2", "three\t3", "four\u{01}4", "fünf", "六", "7️⃣", "</eight>", "nine/9"]
        let m = try load(try saveModel(Architecture(sizes: [784, 32, 10], inputShape: .mnist), seed: 5, name: "unicode.dsm", classes: labels))
        for (i, text) in labels.enumerated() {
            XCTAssertEqual(label(m, i), text)
        }
        let object = try json(try metadata(m))
        XCTAssertEqual(object["classes"] as? [String], labels)
    }

    func testMetadataIsAJSONObjectWithLayersClassesAndInputShape() throws {
        let m = try load(smallModelPath)
        let object = try json(try metadata(m))
        XCTAssertEqual(object["layers"] as? [String], ["dense 784 32", "relu", "dense 32 10", "softmax"])
        XCTAssertEqual(object["classes"] as? [String], (0..<10).map(String.init))
        XCTAssertEqual(object["input_shape"] as? [Int], [28, 28, 1])
        XCTAssertEqual(object["parameter_count"] as? Int, (784 + 1) * 32 + (32 + 1) * 10)
        let input = try XCTUnwrap(object["input"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(input["mean"] as? Double), 0.1307, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(input["std"] as? Double), 0.3081, accuracy: 1e-12)
    }

    func testMetadataOfTheShippedModelIsAJSONObjectDescribingIt() throws {
        let m = try load(CPaths.shippedModel)
        let object = try json(try metadata(m))
        let model = try Model.load(path: CPaths.shippedModel)
        XCTAssertEqual(object["layers"] as? [String], model.layerList)
        XCTAssertEqual(object["classes"] as? [String], model.classes)
        XCTAssertEqual(object["input_shape"] as? [Int], model.inputShape)
        XCTAssertNotNil(object["metadata"] as? [String: Any], "the training information object")
    }

    func testMetadataTruncatedToTheCapacityIsAPrefixOfTheFullText() throws {
        let m = try load(smallModelPath)
        let full = try metadata(m)
        var buffer = [CChar](repeating: 0x7F, count: 40)
        var length = -1
        XCTAssertEqual(ds_model_metadata(m, &buffer, 32, &length), DS.ok)
        XCTAssertEqual(length, full.utf8.count)
        XCTAssertEqual(cText(buffer), String(decoding: full.utf8.prefix(31), as: UTF8.self))
        XCTAssertEqual(buffer[32], 0x7F, "nothing written past the capacity")
    }

    // MARK: - ds_classify

    func testClassifyMatchesAnIndependentForwardPassInDouble() throws {
        let m = try load(smallModelPath)
        let reference = try ReferenceNetwork(path: smallModelPath)
        for (k, image) in images(25, seed: 11).enumerated() {
            let r = classify(m, image)
            XCTAssertEqual(r.status, DS.ok, lastError())
            let expected = reference.probabilities(image)
            assertClose(r.probabilities, expected, "image \(k)")
            XCTAssertEqual(Int(r.cls), argmax(expected), "image \(k)")
        }
    }

    func testClassifyOfATanhNetworkWithTwoHiddenLayersMatchesAnIndependentForwardPass() throws {
        let path = try saveModel(Architecture(sizes: [784, 24, 16, 10], activation: .tanh, inputShape: .mnist), seed: 9, name: "tanh.dsm")
        let m = try load(path)
        let reference = try ReferenceNetwork(path: path)
        XCTAssertEqual(reference.activation, .tanh)
        for (k, image) in images(10, seed: 12).enumerated() {
            let r = classify(m, image)
            XCTAssertEqual(r.status, DS.ok, lastError())
            let expected = reference.probabilities(image)
            assertClose(r.probabilities, expected, "image \(k)")
            XCTAssertEqual(Int(r.cls), argmax(expected), "image \(k)")
        }
    }

    func testClassifyWithTheShippedMLPMatchesAnIndependentForwardPass() throws {
        let m = try load(CPaths.shippedMLP)
        let reference = try ReferenceNetwork(path: CPaths.shippedMLP)
        for (k, image) in images(10, seed: 13).enumerated() {
            let r = classify(m, image)
            XCTAssertEqual(r.status, DS.ok, lastError())
            let expected = reference.probabilities(image)
            assertClose(r.probabilities, expected, "image \(k)")
            XCTAssertEqual(Int(r.cls), argmax(expected), "image \(k)")
        }
    }

    func testClassifyMatchesTheEngineNetworkForward() throws {
        let m = try load(smallModelPath)
        let network = try Model.load(path: smallModelPath).makeNetwork()
        let batch = images(15, seed: 14)
        // One image per column, standardized as the model file says.
        let X = Matrix<Float>(rows: 784, cols: batch.count)
        for (j, image) in batch.enumerated() {
            for i in 0..<784 { X[i, j] = Float((Double(image[i]) - 0.1307) / 0.3081) }
        }
        let A = network.forward(X, training: false)
        for (j, image) in batch.enumerated() {
            let expected = (0..<10).map { Double(A[$0, j]) }
            let r = classify(m, image)
            XCTAssertEqual(r.status, DS.ok)
            assertClose(r.probabilities, expected, "image \(j)")
            XCTAssertEqual(Int(r.cls), argmax(expected), "image \(j)")
        }
    }

    func testProbabilitiesSumToOne() throws {
        let m = try load(smallModelPath)
        for (k, image) in images(10, seed: 15).enumerated() {
            let r = classify(m, image)
            XCTAssertEqual(r.status, DS.ok)
            XCTAssertEqual(r.probabilities.reduce(0.0) { $0 + Double($1) }, 1, accuracy: 1e-5, "image \(k)")
            XCTAssertTrue(r.probabilities.allSatisfy { $0 >= 0 && $0 <= 1 }, "image \(k): \(r.probabilities)")
        }
    }

    func testClassifyAcceptsNullProbabilitiesAndStillReturnsTheClass() throws {
        let m = try load(smallModelPath)
        for (k, image) in images(10, seed: 16).enumerated() {
            var cls: Int32 = -1
            XCTAssertEqual(ds_classify(m, image, 784, nil, 0, &cls), DS.ok, lastError())
            XCTAssertEqual(cls, classify(m, image).cls, "image \(k)")
        }
    }

    func testClassifyWithFewerProbabilitySlotsThanClassesIsInvalidArgumentAndLeavesOutputsUnchanged() throws {
        let m = try load(smallModelPath)
        let image = images(1, seed: 17)[0]
        var p = [Float](repeating: -1, count: 10)
        var cls: Int32 = 42
        for slots in [0, 1, 9] {
            XCTAssertEqual(ds_classify(m, image, 784, &p, slots, &cls), DS.invalidArgument, "\(slots) slots")
            XCTAssertEqual(p, [Float](repeating: -1, count: 10))
            XCTAssertEqual(cls, 42)
        }
        XCTAssertTrue(lastError().contains("probability_count"), lastError())
    }

    func testClassifyWritesOnlyClassCountProbabilitiesIntoALargerBuffer() throws {
        let m = try load(smallModelPath)
        let image = images(1, seed: 18)[0]
        var p = [Float](repeating: -1, count: 16)
        var cls: Int32 = -1
        XCTAssertEqual(ds_classify(m, image, 784, &p, 16, &cls), DS.ok)
        XCTAssertEqual(Array(p[0..<10]), classify(m, image).probabilities)
        XCTAssertEqual(Array(p[10...]), [Float](repeating: -1, count: 6))
    }

    func testClassifyWithTheWrongPixelCountIsInvalidArgumentNamingBothCounts() throws {
        let m = try load(smallModelPath)
        let image = [Float](repeating: 0, count: 800)
        var p = [Float](repeating: -1, count: 10)
        var cls: Int32 = 42
        for count in [783, 785, 0] {
            XCTAssertEqual(ds_classify(m, image, count, &p, 10, &cls), DS.invalidArgument)
            let message = lastError()
            XCTAssertTrue(message.contains("\(count)"), message)
            XCTAssertTrue(message.contains("784"), message)
            XCTAssertEqual(p, [Float](repeating: -1, count: 10))
            XCTAssertEqual(cls, 42)
        }
    }

    func testClassifyWithNullPixelsOrNullOutClassIsInvalidArgument() throws {
        let m = try load(smallModelPath)
        var p = [Float](repeating: -1, count: 10)
        var cls: Int32 = 42
        XCTAssertEqual(ds_classify(m, nil, 784, &p, 10, &cls), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("pixels"), lastError())
        XCTAssertEqual(ds_classify(m, images(1, seed: 19)[0], 784, &p, 10, nil), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("out_class"), lastError())
        XCTAssertEqual(p, [Float](repeating: -1, count: 10))
        XCTAssertEqual(cls, 42)
    }

    // MARK: - ds_classify_batch

    func testBatchOf1100ImagesEqualsClassifyingEachImage() throws {
        // More images than any chunk the library works in (256 or 1,024).
        let m = try load(smallModelPath)
        let count = 1100
        let batch = images(count, seed: 20)
        let pixels = batch.flatMap { $0 }
        var p = [Float](repeating: -1, count: count * 10 + 10)
        var classes = [Int32](repeating: -1, count: count + 1)
        XCTAssertEqual(ds_classify_batch(m, pixels, count, 784, &p, p.count, &classes), DS.ok, lastError())
        for (k, image) in batch.enumerated() {
            let one = classify(m, image)
            assertClose(Array(p[(k * 10)..<(k * 10 + 10)]), one.probabilities.map(Double.init), "image \(k)")
            XCTAssertEqual(classes[k], one.cls, "image \(k)")
        }
        XCTAssertEqual(Array(p.suffix(10)), [Float](repeating: -1, count: 10), "nothing written past the images")
        XCTAssertEqual(classes.last, -1, "nothing written past the images")
    }

    func testBatchWithOnlyClassesOrOnlyProbabilitiesGivesTheSameAnswers() throws {
        let m = try load(smallModelPath)
        let pixels = images(12, seed: 21).flatMap { $0 }
        var p = [Float](repeating: -1, count: 120)
        var classes = [Int32](repeating: -1, count: 12)
        XCTAssertEqual(ds_classify_batch(m, pixels, 12, 784, &p, 120, &classes), DS.ok)
        var onlyP = [Float](repeating: -1, count: 120)
        XCTAssertEqual(ds_classify_batch(m, pixels, 12, 784, &onlyP, 120, nil), DS.ok, lastError())
        XCTAssertEqual(onlyP, p)
        var onlyClasses = [Int32](repeating: -1, count: 12)
        XCTAssertEqual(ds_classify_batch(m, pixels, 12, 784, nil, 0, &onlyClasses), DS.ok, lastError())
        XCTAssertEqual(onlyClasses, classes)
    }

    func testBatchOfOnlyClassesPastTheSliceOf4096ImagesAgreesWithTheFullBatch() throws {
        // Without probabilities the library works through 4,096 images at a
        // time (its buffer must not grow with image_count).
        let m = try load(smallModelPath)
        let count = 4096 + 300
        let pixels = images(count, seed: 22).flatMap { $0 }
        var p = [Float](repeating: -1, count: count * 10)
        var classes = [Int32](repeating: -1, count: count)
        XCTAssertEqual(ds_classify_batch(m, pixels, count, 784, &p, p.count, &classes), DS.ok, lastError())
        var onlyClasses = [Int32](repeating: -1, count: count + 1)
        XCTAssertEqual(ds_classify_batch(m, pixels, count, 784, nil, 0, &onlyClasses), DS.ok, lastError())
        XCTAssertEqual(Array(onlyClasses.prefix(count)), classes)
        XCTAssertEqual(onlyClasses.last, -1, "nothing written past the images")
    }

    func testBatchOfZeroImagesIsOKAndWritesNothing() throws {
        let m = try load(smallModelPath)
        let pixels = images(1, seed: 22)[0]
        var p = [Float](repeating: -1, count: 10)
        var classes: [Int32] = [42]
        XCTAssertEqual(ds_classify_batch(m, pixels, 0, 784, &p, 10, &classes), DS.ok, lastError())
        XCTAssertEqual(p, [Float](repeating: -1, count: 10))
        XCTAssertEqual(classes, [42])
    }

    func testBatchWithBothOutputsNullIsInvalidArgument() throws {
        let m = try load(smallModelPath)
        let pixels = images(3, seed: 23).flatMap { $0 }
        XCTAssertEqual(ds_classify_batch(m, pixels, 3, 784, nil, 30, nil), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("NULL"), lastError())
    }

    func testBatchWithTooFewProbabilitySlotsIsInvalidArgumentAndLeavesOutputsUnchanged() throws {
        let m = try load(smallModelPath)
        let pixels = images(3, seed: 24).flatMap { $0 }
        var p = [Float](repeating: -1, count: 30)
        var classes = [Int32](repeating: 42, count: 3)
        XCTAssertEqual(ds_classify_batch(m, pixels, 3, 784, &p, 29, &classes), DS.invalidArgument)
        XCTAssertEqual(p, [Float](repeating: -1, count: 30))
        XCTAssertEqual(classes, [42, 42, 42])
        XCTAssertTrue(lastError().contains("30"), lastError())
    }

    func testBatchWithAnOverflowingImageCountIsRejectedWithoutACrash() throws {
        let m = try load(smallModelPath)
        let pixels = images(2, seed: 25).flatMap { $0 }
        var p = [Float](repeating: -1, count: 20)
        var classes: [Int32] = [42, 42]
        for count in [Int.max / 2, Int.max, -1 /* SIZE_MAX */, Int(Int32.max) + 1, Int.max / 784 + 1] {
            XCTAssertEqual(ds_classify_batch(m, pixels, count, 784, &p, 20, &classes), DS.invalidArgument, "\(count)")
            XCTAssertEqual(ds_classify_batch(m, pixels, count, 784, &p, Int.max, &classes), DS.invalidArgument, "\(count)")
            XCTAssertEqual(ds_classify_batch(m, pixels, count, 784, nil, 0, &classes), DS.invalidArgument, "\(count)")
            XCTAssertTrue(lastError().contains("\(UInt(bitPattern: count))"), lastError())
        }
        XCTAssertEqual(p, [Float](repeating: -1, count: 20))
        XCTAssertEqual(classes, [42, 42])
    }

    func testBatchWithTheWrongPixelsPerImageIsInvalidArgumentNamingBothCounts() throws {
        let m = try load(smallModelPath)
        let pixels = images(2, seed: 26).flatMap { $0 }
        var classes: [Int32] = [42, 42]
        XCTAssertEqual(ds_classify_batch(m, pixels, 2, 392, nil, 0, &classes), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("392") && lastError().contains("784"), lastError())
        XCTAssertEqual(classes, [42, 42])
        XCTAssertEqual(ds_classify_batch(m, nil, 2, 784, nil, 0, &classes), DS.invalidArgument)
        XCTAssertEqual(classes, [42, 42])
    }

    // MARK: - PNG

    func testShippedModelClassifiesEveryLabelledDigitPNGFileCorrectly() throws {
        let files = try CPaths.digitPNGs()
        XCTAssertEqual(files.count, 30)
        let m = try load(CPaths.shippedModel)
        for (path, expected) in files {
            var p = [Float](repeating: -1, count: 10)
            var cls: Int32 = -1
            XCTAssertEqual(ds_classify_png_file(m, path, &p, 10, &cls), DS.ok, "\(path): \(lastError())")
            XCTAssertEqual(Int(cls), expected, path)
            XCTAssertEqual(argmax(p), Int(cls), path)
            XCTAssertEqual(p.reduce(0.0) { $0 + Double($1) }, 1, accuracy: 1e-5, path)
        }
    }

    func testPNGInMemoryGivesTheSameAnswersAsTheFile() throws {
        let files = try CPaths.digitPNGs()
        let m = try load(CPaths.shippedModel)
        for (path, expected) in files {
            let bytes = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: path)))
            var fileP = [Float](repeating: -1, count: 10), memoryP = [Float](repeating: -2, count: 10)
            var fileClass: Int32 = -1, memoryClass: Int32 = -2
            XCTAssertEqual(ds_classify_png_file(m, path, &fileP, 10, &fileClass), DS.ok)
            XCTAssertEqual(ds_classify_png_memory(m, bytes, bytes.count, &memoryP, 10, &memoryClass), DS.ok,
                           "\(path): \(lastError())")
            XCTAssertEqual(Int(memoryClass), expected, path)
            XCTAssertEqual(memoryClass, fileClass, path)
            XCTAssertEqual(memoryP, fileP, path)
            var nullP: Int32 = -1
            XCTAssertEqual(ds_classify_png_memory(m, bytes, bytes.count, nil, 0, &nullP), DS.ok)
            XCTAssertEqual(nullP, fileClass, "NULL probabilities: \(path)")
        }
    }

    func testPNGOfAnotherSizeAndPolarityIsClassifiedAsTheSameDigit() throws {
        // Each labelled picture inverted (dark ink on light) and scaled up 3x.
        let m = try load(CPaths.shippedModel)
        for (path, expected) in try CPaths.digitPNGs() {
            let bytes = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: path)))
            let image = try PNG.decode(bytes, name: path)
            let w = image.width * 3, h = image.height * 3
            var big = [UInt8](repeating: 0, count: w * h)
            for y in 0..<h { for x in 0..<w { big[y * w + x] = 255 - image.gray[(y / 3) * image.width + x / 3] } }
            let png = PNG.encodeGray(width: w, height: h, pixels: big)
            var cls: Int32 = -1
            XCTAssertEqual(ds_classify_png_memory(m, png, png.count, nil, 0, &cls), DS.ok, "\(path): \(lastError())")
            XCTAssertEqual(Int(cls), expected, "\(path), inverted and \(w)x\(h)")
        }
    }

    func testCapacitiesAboveIntMaxCountAsLargeEnough() throws {
        // The header: probability_count "must be at least" class_count, and a
        // string getter copies "at most capacity bytes"; SIZE_MAX is both.
        // The library never writes past what it needs.
        let m = try load(smallModelPath)
        let image = images(1, seed: 32)[0]
        var p = [Float](repeating: -1, count: 10)
        var cls: Int32 = -1
        XCTAssertEqual(ds_classify(m, image, 784, &p, -1 /* SIZE_MAX */, &cls), DS.ok, lastError())
        XCTAssertEqual(p, classify(m, image).probabilities)
        var buffer = [CChar](repeating: 0x7F, count: 4)
        var length = -1
        XCTAssertEqual(ds_model_label(m, 5, &buffer, -1 /* SIZE_MAX */, &length), DS.ok, lastError())
        XCTAssertEqual(cText(buffer), "5")
        XCTAssertEqual(length, 1)
    }

    func testTextFileIsABadImage() throws {
        let m = try load(CPaths.shippedModel)
        let text = try folder.write("notes.png", text: "this is not a picture of a digit\n")
        var p = [Float](repeating: -1, count: 10)
        var cls: Int32 = 42
        XCTAssertEqual(ds_classify_png_file(m, text, &p, 10, &cls), DS.badImage)
        XCTAssertTrue(lastError().contains(text), lastError())
        let bytes = Array("this is not a picture of a digit\n".utf8)
        XCTAssertEqual(ds_classify_png_memory(m, bytes, bytes.count, &p, 10, &cls), DS.badImage)
        XCTAssertEqual(p, [Float](repeating: -1, count: 10))
        XCTAssertEqual(cls, 42)
    }

    func testEmptyOrTruncatedPNGIsABadImage() throws {
        let m = try load(CPaths.shippedModel)
        let source = try XCTUnwrap(CPaths.digitPNGs().first).path
        let bytes = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: source)))
        let half = Array(bytes.prefix(bytes.count / 2))
        let truncated = try folder.write("truncated.png", half)
        let empty = try folder.write("empty.png", [])
        var p = [Float](repeating: -1, count: 10)
        var cls: Int32 = 42
        XCTAssertEqual(ds_classify_png_file(m, truncated, &p, 10, &cls), DS.badImage)
        XCTAssertEqual(ds_classify_png_file(m, empty, &p, 10, &cls), DS.badImage)
        XCTAssertEqual(ds_classify_png_memory(m, half, half.count, &p, 10, &cls), DS.badImage)
        XCTAssertEqual(ds_classify_png_memory(m, bytes, 0, &p, 10, &cls), DS.badImage)
        XCTAssertEqual(p, [Float](repeating: -1, count: 10))
        XCTAssertEqual(cls, 42)
    }

    func testMissingPNGFileOrADirectoryIsAnIOErrorNamingThePath() throws {
        let m = try load(CPaths.shippedModel)
        let missing = folder.path + "/no-such-digit.png"
        var p = [Float](repeating: -1, count: 10)
        var cls: Int32 = 42
        XCTAssertEqual(ds_classify_png_file(m, missing, &p, 10, &cls), DS.io)
        XCTAssertTrue(lastError().contains(missing), lastError())
        XCTAssertEqual(ds_classify_png_file(m, folder.path, &p, 10, &cls), DS.io)
        XCTAssertTrue(lastError().contains(folder.path), lastError())
        XCTAssertEqual(p, [Float](repeating: -1, count: 10))
        XCTAssertEqual(cls, 42)
    }

    func testPNGCallsWithNullArgumentsOrAHugeSizeAreInvalidArgument() throws {
        let m = try load(CPaths.shippedModel)
        let path = try XCTUnwrap(CPaths.digitPNGs().first).path
        let bytes = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: path)))
        var p = [Float](repeating: -1, count: 10)
        var cls: Int32 = 42
        XCTAssertEqual(ds_classify_png_file(m, nil, &p, 10, &cls), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("path"), lastError())
        XCTAssertEqual(ds_classify_png_memory(m, nil, 100, &p, 10, &cls), DS.invalidArgument)
        XCTAssertEqual(ds_classify_png_memory(m, bytes, -1 /* SIZE_MAX */, &p, 10, &cls), DS.invalidArgument)
        XCTAssertEqual(ds_classify_png_file(m, path, &p, 10, nil), DS.invalidArgument)
        XCTAssertEqual(ds_classify_png_memory(m, bytes, bytes.count, &p, 10, nil), DS.invalidArgument)
        XCTAssertEqual(ds_classify_png_file(m, path, &p, 9, &cls), DS.invalidArgument)
        XCTAssertEqual(ds_classify_png_memory(m, bytes, bytes.count, &p, 9, &cls), DS.invalidArgument)
        XCTAssertEqual(p, [Float](repeating: -1, count: 10))
        XCTAssertEqual(cls, 42)
    }

    // MARK: - Handles

    /// Calls every function that takes a model with `model` and valid other
    /// arguments; returns the failures (function name: what went wrong).
    private func problemsCallingEveryFunction(with model: OpaquePointer?, expecting expected: Int32,
                                              includingFree: Bool = true) throws -> [String] {
        var problems: [String] = []
        func check(_ name: String, _ status: Int32, unchanged: Bool) {
            if status != expected { problems.append("\(name) returned \(DS.name(status)), expected \(DS.name(expected))") }
            if expected != DS.ok, !unchanged { problems.append("\(name) changed an output") }
            if status != DS.ok, !lastError().contains("model") { problems.append("\(name): message '\(lastError())' does not name the model") }
        }
        let png = try XCTUnwrap(CPaths.digitPNGs().first).path
        let pngBytes = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: png)))
        let image = images(2, seed: 30).flatMap { $0 }
        var size = 12345
        check("ds_model_input_size", ds_model_input_size(model, &size), unchanged: size == 12345)
        check("ds_model_class_count", ds_model_class_count(model, &size), unchanged: size == 12345)
        var buffer: [CChar] = [0x41, 0x42, 0]
        check("ds_model_label", ds_model_label(model, 0, &buffer, 3, &size), unchanged: size == 12345 && buffer == [0x41, 0x42, 0])
        check("ds_model_metadata", ds_model_metadata(model, &buffer, 3, &size), unchanged: size == 12345 && buffer == [0x41, 0x42, 0])
        var p = [Float](repeating: -1, count: 20)
        var cls: [Int32] = [42, 42]
        let untouched = { p == [Float](repeating: -1, count: 20) && cls == [42, 42] }
        check("ds_classify", ds_classify(model, image, 784, &p, 10, &cls), unchanged: untouched())
        check("ds_classify_batch", ds_classify_batch(model, image, 2, 784, &p, 20, &cls), unchanged: untouched())
        check("ds_classify_png_file", ds_classify_png_file(model, png, &p, 10, &cls), unchanged: untouched())
        check("ds_classify_png_memory", ds_classify_png_memory(model, pngBytes, pngBytes.count, &p, 10, &cls),
              unchanged: untouched())
        if includingFree { check("ds_model_free", ds_model_free(model), unchanged: true) }
        return problems
    }

    func testEveryFunctionRejectsANullModel() throws {
        XCTAssertEqual(try problemsCallingEveryFunction(with: nil, expecting: DS.invalidArgument, includingFree: false), [])
    }

    func testEveryFunctionRejectsAFreedModel() throws {
        var model: OpaquePointer?
        XCTAssertEqual(ds_model_load(smallModelPath, &model), DS.ok)
        let m = try XCTUnwrap(model)
        XCTAssertEqual(try problemsCallingEveryFunction(with: m, expecting: DS.ok, includingFree: false), [],
                       "the model works before it is freed")
        XCTAssertEqual(ds_model_free(m), DS.ok)
        XCTAssertEqual(try problemsCallingEveryFunction(with: m, expecting: DS.invalidArgument), [])
    }

    func testEveryFunctionRejectsAPointerThatNeverWasAModel() throws {
        let live = try load(smallModelPath)
        // A local buffer, and a heap block filled with a pattern.
        var local = [UInt8](repeating: 0x5A, count: 256)
        try local.withUnsafeMutableBytes { raw in
            XCTAssertEqual(try problemsCallingEveryFunction(with: OpaquePointer(raw.baseAddress!), expecting: DS.invalidArgument), [])
        }
        let heap = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16)
        defer { heap.deallocate() }
        heap.initializeMemory(as: UInt8.self, repeating: 0xA5, count: 64)
        XCTAssertEqual(try problemsCallingEveryFunction(with: OpaquePointer(heap), expecting: DS.invalidArgument), [])
        XCTAssertEqual(classify(live, images(1, seed: 31)[0]).status, DS.ok, "the real model is unaffected")
    }

    func testFreeingNullIsOK() {
        XCTAssertEqual(ds_model_free(nil), DS.ok)
    }

    func testDoubleFreeIsInvalidArgument() throws {
        var model: OpaquePointer?
        XCTAssertEqual(ds_model_load(smallModelPath, &model), DS.ok)
        let m = try XCTUnwrap(model)
        XCTAssertEqual(ds_model_free(m), DS.ok)
        XCTAssertEqual(ds_model_free(m), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("not a loaded model"), lastError())
    }

    func testFreedHandlesStayInvalidAfterLaterModelsAreLoaded() throws {
        // The header: a handle that was freed is not a loaded model, and a
        // call with it fails with DS_ERR_INVALID_ARGUMENT — also after other
        // models have been loaded and freed meanwhile (the allocator may give
        // a new model the memory of a freed one: a freed handle must not
        // then name that new model).
        var freed: [OpaquePointer] = []
        var revived: [String] = []
        for round in 0..<60 {
            var model: OpaquePointer?
            XCTAssertEqual(ds_model_load(smallModelPath, &model), DS.ok)
            let m = try XCTUnwrap(model)
            for (k, old) in freed.enumerated() {
                var size = -1
                if ds_model_input_size(old, &size) != DS.invalidArgument || size != -1 {
                    revived.append("round \(round): the handle freed in round \(k) works again (\(old))")
                }
            }
            XCTAssertEqual(ds_model_free(m), DS.ok)
            freed.append(m)
        }
        XCTAssertEqual(revived.prefix(5), [], "\(revived.count) stale handles named a live model")
    }

    // MARK: - Loading errors

    func testLoadingAMissingFileIsAnIOErrorNamingThePath() throws {
        let missing = folder.path + "/no-such-model.dsm"
        var model = OpaquePointer(bitPattern: 0xDEAD0)
        XCTAssertEqual(ds_model_load(missing, &model), DS.io)
        XCTAssertTrue(lastError().contains(missing), lastError())
        XCTAssertEqual(model, OpaquePointer(bitPattern: 0xDEAD0), "out_model unchanged")
        XCTAssertEqual(ds_model_load(folder.path, &model), DS.io, "a directory")
        XCTAssertEqual(model, OpaquePointer(bitPattern: 0xDEAD0), "out_model unchanged")
    }

    func testLoadingADamagedFileIsABadModel() throws {
        let bytes = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: smallModelPath)))
        for position in [0, 9, 20, bytes.count / 3, bytes.count / 2, bytes.count - 9, bytes.count - 1] {
            var damaged = bytes
            damaged[position] ^= 0x10
            let path = try folder.write("damaged-\(position).dsm", damaged)
            var model = OpaquePointer(bitPattern: 0xDEAD0)
            XCTAssertEqual(ds_model_load(path, &model), DS.badModel, "byte \(position) flipped")
            XCTAssertTrue(lastError().contains(path), lastError())
            XCTAssertEqual(ds_model_load_memory(damaged, damaged.count, &model), DS.badModel, "byte \(position) flipped")
            XCTAssertEqual(model, OpaquePointer(bitPattern: 0xDEAD0), "out_model unchanged")
        }
    }

    func testLoadingATruncatedEmptyOrForeignFileIsABadModel() throws {
        let bytes = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: smallModelPath)))
        let png = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: try XCTUnwrap(CPaths.digitPNGs().first).path)))
        for (name, content) in [("truncated", Array(bytes.dropLast(100))), ("empty", []), ("short", Array(bytes.prefix(5))),
                                ("png", png)] {
            let path = try folder.write("\(name).dsm", content)
            var model = OpaquePointer(bitPattern: 0xDEAD0)
            XCTAssertEqual(ds_model_load(path, &model), DS.badModel, name)
            XCTAssertEqual(model, OpaquePointer(bitPattern: 0xDEAD0), name)
            if !content.isEmpty {
                XCTAssertEqual(ds_model_load_memory(content, content.count, &model), DS.badModel, name)
            }
        }
        var model = OpaquePointer(bitPattern: 0xDEAD0)
        XCTAssertEqual(ds_model_load_memory(bytes, 0, &model), DS.badModel, "zero bytes")
        XCTAssertEqual(model, OpaquePointer(bitPattern: 0xDEAD0))
    }

    func testLoadMemoryWithSizeMaxIsInvalidArgument() throws {
        let bytes = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: smallModelPath)))
        var model = OpaquePointer(bitPattern: 0xDEAD0)
        XCTAssertEqual(ds_model_load_memory(bytes, -1 /* SIZE_MAX */, &model), DS.invalidArgument)
        XCTAssertEqual(ds_model_load_memory(bytes, Int.min /* SIZE_MAX / 2 + 1 */, &model), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("size"), lastError())
        XCTAssertEqual(model, OpaquePointer(bitPattern: 0xDEAD0))
    }

    func testLoadWithNullArgumentsIsInvalidArgument() throws {
        let bytes = try [UInt8](XCTUnwrap(FileManager.default.contents(atPath: smallModelPath)))
        var model = OpaquePointer(bitPattern: 0xDEAD0)
        XCTAssertEqual(ds_model_load(nil, &model), DS.invalidArgument)
        XCTAssertEqual(ds_model_load(smallModelPath, nil), DS.invalidArgument)
        XCTAssertEqual(ds_model_load_memory(nil, 10, &model), DS.invalidArgument)
        XCTAssertEqual(ds_model_load_memory(bytes, bytes.count, nil), DS.invalidArgument)
        XCTAssertEqual(model, OpaquePointer(bitPattern: 0xDEAD0))
    }

    // MARK: - Errors, versions, status names

    func testLastErrorIsPerThread() throws {
        let modelPath = smallModelPath!
        let missing = folder.path + "/thread-a-model.dsm"
        // Main thread: a failure of its own, which the others must not touch.
        XCTAssertEqual(ds_check_version(77), DS.versionMismatch)
        let aFailed = DispatchSemaphore(value: 0), bFailed = DispatchSemaphore(value: 0)
        let messages = Shared<[String: String]>([:])
        try runThreads(3, limit: 120) { i in
            switch i {
            case 0:
                var model: OpaquePointer?
                let status = ds_model_load(missing, &model)
                _ = ds_model_free(nil)  // a later success on this thread
                aFailed.signal()
                bFailed.wait(); bFailed.signal()
                messages.withLock { $0["A"] = "\(status) " + String(cString: ds_last_error()) }
            case 1:
                aFailed.wait(); aFailed.signal()
                let pixels = [Float](repeating: 0, count: 5)
                var model: OpaquePointer?
                _ = ds_model_load(modelPath, &model)
                var cls: Int32 = 0
                let status = ds_classify(model, pixels, 5, nil, 0, &cls)
                _ = ds_model_free(model)
                bFailed.signal()
                messages.withLock { $0["B"] = "\(status) " + String(cString: ds_last_error()) }
            default:
                // A thread on which nothing failed, reading after both others failed.
                aFailed.wait(); aFailed.signal()
                bFailed.wait(); bFailed.signal()
                messages.withLock { $0["C"] = String(cString: ds_last_error()) }
            }
        }
        let all = messages.current
        let a = try XCTUnwrap(all["A"]), b = try XCTUnwrap(all["B"])
        XCTAssertTrue(a.hasPrefix("\(DS.io) "), a)
        XCTAssertTrue(a.contains(missing), a)
        XCTAssertFalse(a.contains("pixel_count"), a)
        XCTAssertTrue(b.hasPrefix("\(DS.invalidArgument) "), b)
        XCTAssertTrue(b.contains("pixel_count is 5"), b)
        XCTAssertTrue(b.contains("784"), b)
        XCTAssertFalse(b.contains(missing), b)
        XCTAssertEqual(all["C"], "", "a thread where nothing failed")
        XCTAssertTrue(lastError().contains("77"), "the main thread keeps its own message: \(lastError())")
    }

    func testLastErrorIsEmptyOnAThreadWhereNothingFailed() throws {
        let message = Shared<String?>(nil)
        try runThreads(1, limit: 60) { _ in
            let first = String(cString: ds_last_error())
            _ = ds_version_major()
            _ = ds_model_free(nil)
            message.withLock { $0 = first + "|" + String(cString: ds_last_error()) }
        }
        XCTAssertEqual(message.current, "|")
    }

    func testLastErrorPersistsAfterALaterSuccessfulCallOnTheSameThread() throws {
        // Documented behavior: the message stays until the next failing call
        // on the thread; a successful call does not clear it.
        let m = try load(smallModelPath)
        XCTAssertEqual(ds_model_label(m, 99, nil, 0, nil), DS.invalidArgument)
        let message = lastError()
        XCTAssertTrue(message.contains("99"), message)
        var size = 0
        XCTAssertEqual(ds_model_input_size(m, &size), DS.ok)
        XCTAssertEqual(classify(m, images(1, seed: 40)[0]).status, DS.ok)
        XCTAssertEqual(ds_check_version(1), DS.ok)
        XCTAssertEqual(lastError(), message)
        XCTAssertEqual(ds_model_label(m, 123, nil, 0, nil), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("123"), "the next failure replaces it: \(lastError())")
    }

    func testCheckVersionAcceptsMajorOneAndRejectsOthersNamingBothVersions() {
        XCTAssertEqual(ds_check_version(1), DS.ok)
        for other: Int32 in [2, 0, 1000] {
            XCTAssertEqual(ds_check_version(other), DS.versionMismatch, "\(other)")
            let numbers = lastError().split { !$0.isNumber }.compactMap { Int($0) }
            XCTAssertTrue(numbers.contains(Int(other)), "the header's version: \(lastError())")
            XCTAssertTrue(numbers.contains(1), "the library's version: \(lastError())")
            XCTAssertTrue(lastError().contains(String(cString: ds_version())), lastError())
        }
    }

    func testStatusConstantsOfTheseTestsMatchTheHeaderEnum() throws {
        let header = try headerStatuses()
        let mine = Dictionary(uniqueKeysWithValues: DS.names.enumerated().map { ($1, Int32($0)) })
        XCTAssertEqual(header, mine)
    }

    func testStatusNameOfEachCodeIsItsHeaderName() throws {
        let header = try headerStatuses()
        XCTAssertEqual(header.count, 7)
        for (name, value) in header {
            XCTAssertEqual(String(cString: ds_status_name(value)), name)
            XCTAssertEqual(ds_status_name(value), ds_status_name(value), "a static string")
        }
        for unknown: Int32 in [7, -1, 1000, .max] {
            let name = String(cString: ds_status_name(unknown))
            XCTAssertTrue(name.hasPrefix("DS_ERR"), name)
            XCTAssertNil(header[name], "\(unknown) has no header name of its own: \(name)")
        }
    }

    // MARK: - Threads

    func testEightThreadsClassifyingWithOneModelGetTheSingleThreadAnswers() throws {
        let m = try load(smallModelPath)
        let batch = images(24, seed: 50)
        let expected = batch.map { classify(m, $0) }
        XCTAssertTrue(expected.allSatisfy { $0.status == DS.ok })
        let address = UInt(bitPattern: UnsafeMutableRawPointer(m))
        let problems = Shared<[String]>([])
        let calls = Shared(0)
        let expectedProbabilities = expected.map(\.probabilities), expectedClasses = expected.map(\.cls)
        try runThreads(8, limit: 300) { t in
            let model = OpaquePointer(bitPattern: address)
            var done = 0
            for round in 0..<150 {
                let k = (round * 7 + t) % batch.count
                var p = [Float](repeating: -1, count: 10)
                var cls: Int32 = -1
                let status = ds_classify(model, batch[k], 784, &p, 10, &cls)
                if status != DS.ok || p != expectedProbabilities[k] || cls != expectedClasses[k] {
                    let message = String(cString: ds_last_error())
                    problems.withLock { $0.append("thread \(t) round \(round) image \(k): \(DS.name(status)) \(message) \(cls)") }
                }
                if round % 50 == 0 {
                    var text = [CChar](repeating: 0, count: 4)
                    if ds_model_label(model, Int(expectedClasses[k]), &text, 4, nil) != DS.ok
                        || cText(text) != "\(expectedClasses[k])" {
                        problems.withLock { $0.append("thread \(t): label \(expectedClasses[k]) is '\(cText(text))'") }
                    }
                }
                done += 1
            }
            calls.withLock { $0 += done }
        }
        XCTAssertEqual(problems.current.prefix(10), [])
        XCTAssertEqual(calls.current, 8 * 150)
    }

    func testFreeingTheModelWhileOtherThreadsClassifyNeverCrashesAndLaterCallsFail() throws {
        var model: OpaquePointer?
        XCTAssertEqual(ds_model_load(smallModelPath, &model), DS.ok)
        let m = try XCTUnwrap(model)
        let image = images(1, seed: 60)[0]
        let expected = classify(m, image)
        let address = UInt(bitPattern: UnsafeMutableRawPointer(m))
        let workers = 6
        let successes = Shared([Int](repeating: 0, count: workers))
        let problems = Shared<[String]>([])
        let sawFree = Shared([Bool](repeating: false, count: workers))
        let freed = Shared(false)
        try runThreads(workers + 1, limit: 300) { t in
            if t == workers {
                // The freeing thread: once every worker has classified a few times.
                var waited = 0
                while successes.current.min()! < 20 && waited < 60_000 { usleep(1000); waited += 1 }
                freed.withLock { $0 = true }  // set first: a worker may see the free before this thread returns
                let status = ds_model_free(OpaquePointer(bitPattern: address))
                if status != DS.ok { problems.withLock { $0.append("ds_model_free: \(DS.name(status))") } }
                return
            }
            let handle = OpaquePointer(bitPattern: address)
            var failures = 0
            for _ in 0..<200_000 {
                var p = [Float](repeating: -1, count: 10)
                var cls: Int32 = -1
                let status = ds_classify(handle, image, 784, &p, 10, &cls)
                if status == DS.ok {
                    if failures > 0 { problems.withLock { $0.append("worker \(t): a call succeeded after one failed") } }
                    if p != expected.probabilities || cls != expected.cls {
                        problems.withLock { $0.append("worker \(t): wrong answer \(cls)") }
                    }
                    successes.withLock { $0[t] += 1 }
                } else if status == DS.invalidArgument {
                    if !freed.current { problems.withLock { $0.append("worker \(t): failed before the free") } }
                    failures += 1
                    if failures == 3 { break }
                } else {
                    problems.withLock { $0.append("worker \(t): \(DS.name(status))") }
                }
            }
            sawFree.withLock { $0[t] = failures == 3 }
        }
        XCTAssertEqual(problems.current.prefix(10), [])
        XCTAssertEqual(sawFree.current, [Bool](repeating: true, count: workers), "every worker's calls fail after the free")
        XCTAssertTrue(successes.current.allSatisfy { $0 >= 20 }, "\(successes.current)")
        XCTAssertEqual(ds_model_free(m), DS.invalidArgument, "already freed")
    }
}

/// The network of a model file, evaluated in Double straight from its
/// parameters: `x = (p − mean)/std`, `a = act(W·a + b)` per hidden layer,
/// then softmax.
struct ReferenceNetwork {
    struct Layer { var w: [Double]; var b: [Double]; var inputs: Int; var outputs: Int }
    var layers: [Layer] = []
    var activation: ActivationKind
    var mean: Double
    var std: Double

    init(path: String) throws {
        let model = try Model.load(path: path)
        activation = model.architecture.activation
        mean = model.standardization.mean
        std = model.standardization.std
        let tensors = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0) })
        let sizes = model.architecture.sizes
        for l in 1..<sizes.count {
            guard let w = tensors["W\(l)"], let b = tensors["b\(l)"],
                  w.values.count == sizes[l] * sizes[l - 1], b.values.count == sizes[l] else {
                throw CTestError("\(path): no W\(l)/b\(l) of the architecture's shape")
            }
            layers.append(Layer(w: w.values.map(Double.init), b: b.values.map(Double.init),
                                inputs: sizes[l - 1], outputs: sizes[l]))
        }
    }

    func probabilities(_ pixels: [Float]) -> [Double] {
        var x = pixels.map { (Double($0) - mean) / std }
        for (k, layer) in layers.enumerated() {
            var y = layer.b
            for i in 0..<layer.outputs {
                var s = 0.0
                for j in 0..<layer.inputs { s += layer.w[i * layer.inputs + j] * x[j] }
                y[i] += s
            }
            if k < layers.count - 1 {
                y = y.map { z in
                    switch activation {
                    case .relu: return max(0, z)
                    case .leakyReLU: return z > 0 ? z : 0.01 * z
                    case .tanh: return Foundation.tanh(z)
                    case .sigmoid: return 1 / (1 + Foundation.exp(-z))
                    }
                }
            }
            x = y
        }
        let top = x.max()!
        let e = x.map { Foundation.exp($0 - top) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }
}
