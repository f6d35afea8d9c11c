import Foundation
import Glibc
import XCTest
@testable import DeepScratch

/// Model files: save/load round trip, rejection of damaged files, and the
/// atomic write underneath.
final class ModelFileTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory("model")
    }

    override func tearDown() {
        removeDirectory(dir)
    }

    /// A small trained-looking model: random weights and biases, tanh, a
    /// standardization that is not the identity.
    private func makeModel() -> (Model, Network<Float>) {
        let arch = Architecture(sizes: [6, 5, 3], activation: .tanh, keep: [0.8])
        let net = arch.makeNetwork(Float.self, seed: 21)
        var rng = RandomSource(seed: 22)
        for d in net.denseLayers {
            for i in 0..<d.b.value.count { d.b.value.data[i] = Float(rng.nextGaussian()) }
        }
        let model = Model(network: net, architecture: arch, standardization: Standardization(mean: 0.13, std: 0.31))
        return (model, net)
    }

    /// A fixed batch of 4 inputs of 6 features.
    private func inputs() -> Matrix<Float> {
        var rng = RandomSource(seed: 23)
        let X = Matrix<Float>(rows: 6, cols: 4)
        for i in 0..<X.count { X.data[i] = Float(rng.nextGaussian()) }
        return X
    }

    func testSaveAndLoadGivesIdenticalParametersAndArchitecture() throws {
        let (model, net) = makeModel()
        let path = dir + "/model.dsm"
        try model.save(to: path)
        let loaded = try Model.load(path: path)
        XCTAssertEqual(loaded.architecture.sizes, [6, 5, 3])
        XCTAssertEqual(loaded.architecture.activation, .tanh)
        XCTAssertEqual(loaded.standardization, Standardization(mean: 0.13, std: 0.31))
        XCTAssertEqual(loaded.parameters.count, 4)
        let original = net.parameters.map { $0.value.values.map(\.bitPattern) }
        XCTAssertEqual(loaded.parameters.map { $0.map(\.bitPattern) }, original)
    }

    func testLoadedModelMakesTheSamePredictions() throws {
        let (model, net) = makeModel()
        let path = dir + "/model.dsm"
        try model.save(to: path)
        let rebuilt = try Model.load(path: path).makeNetwork()
        XCTAssertTrue(rebuilt.dropoutLayers.isEmpty, "inference networks have no dropout")
        let X = inputs()
        let expected = net.forward(X, training: false).values
        let got = rebuilt.forward(X, training: false).values
        XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern))
        // The predictions are real probabilities: each column sums to 1.
        for j in 0..<4 {
            let column = (0..<3).reduce(Float(0)) { $0 + got[$1 * 4 + j] }
            XCTAssertEqual(column, 1, accuracy: 1e-5)
        }
    }

    func testSerializedModelIsSelfConsistentSize() {
        let (model, _) = makeModel()
        let bytes = model.serialized()
        // magic 8 + layer count 4 + 3 sizes·4 + name length 4 + "tanh" 4 + mean 8 + std 8
        // + tensor count 4 + (4 + 30·4) + (4 + 5·4) + (4 + 15·4) + (4 + 3·4) + CRC 4
        let expected = 8 + 4 + 12 + 4 + 4 + 8 + 8 + 4 + (4 + 120) + (4 + 20) + (4 + 60) + (4 + 12) + 4
        XCTAssertEqual(bytes.count, expected)
        XCTAssertEqual(Array(bytes.prefix(8)), Array("DSMODEL0".utf8))
    }

    /// Asserts loading `path` throws `.badModel` or `.cannotRead` naming it.
    private func assertRejected(_ path: String, file: StaticString = #filePath, line: UInt = #line) {
        let error = assertThrowsDeepScratchError(try Model.load(path: path), mentions: [path], file: file, line: line)
        switch error {
        case .badModel?, .cannotRead?: break
        default: XCTFail("expected .badModel or .cannotRead, got \(String(describing: error))", file: file, line: line)
        }
    }

    func testEveryFlippedByteIsRejected() throws {
        let (model, _) = makeModel()
        let good = model.serialized()
        let path = dir + "/flipped.dsm"
        // One flipped byte anywhere (magic, header, weights, checksum) must be caught.
        for offset in [0, 9, good.count / 2, good.count - 5, good.count - 1] {
            var bytes = good
            bytes[offset] ^= 0x40
            try writeRaw(bytes, to: path)
            assertRejected(path)
        }
    }

    func testTruncatedFileIsRejected() throws {
        let (model, _) = makeModel()
        let good = model.serialized()
        let path = dir + "/truncated.dsm"
        for length in [0, 5, 12, good.count / 2, good.count - 1] {
            try writeRaw(Array(good.prefix(length)), to: path)
            assertRejected(path)
        }
    }

    func testWrongMagicIsRejected() throws {
        let (model, _) = makeModel()
        var bytes = model.serialized()
        bytes.replaceSubrange(0..<8, with: Array("DSMODEL9".utf8))
        let path = dir + "/magic.dsm"
        try writeRaw(bytes, to: path)
        let error = assertThrowsDeepScratchError(try Model.load(path: path), mentions: [path, "magic"])
        if case .badModel? = error {} else { XCTFail("expected .badModel, got \(String(describing: error))") }
    }

    func testMissingFileAndDirectoryThrowCannotRead() throws {
        let missing = dir + "/nope.dsm"
        let error = assertThrowsDeepScratchError(try Model.load(path: missing), mentions: [missing])
        if case .cannotRead? = error {} else { XCTFail("expected .cannotRead, got \(String(describing: error))") }
        let folder = dir + "/folder.dsm"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let error2 = assertThrowsDeepScratchError(try Model.load(path: folder), mentions: [folder])
        if case .cannotRead? = error2 {} else { XCTFail("expected .cannotRead, got \(String(describing: error2))") }
    }

    // MARK: AtomicFile

    private func leftoverTemporaries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }
    }

    func testAtomicWriteReplacesExistingFileAndLeavesNoTemporary() throws {
        let path = dir + "/data.bin"
        try writeRaw(Array(repeating: 0xAA, count: 1000), to: path)
        try AtomicFile.write([1, 2, 3], to: path)
        XCTAssertEqual(try readAll(path), [1, 2, 3])
        XCTAssertEqual(try AtomicFile.read(path), [1, 2, 3])
        XCTAssertEqual(try leftoverTemporaries(), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["data.bin"])
    }

    func testAtomicWriteIntoMissingFolderThrowsCannotWriteAndLeavesOldFileUntouched() throws {
        let old = dir + "/model.dsm"
        try writeRaw([7, 7, 7], to: old)
        let target = dir + "/missing-folder/model.dsm"
        let error = assertThrowsDeepScratchError(try AtomicFile.write([1, 2, 3], to: target), mentions: [target])
        if case .cannotWrite? = error {} else { XCTFail("expected .cannotWrite, got \(String(describing: error))") }
        XCTAssertEqual(try readAll(old), [7, 7, 7])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/missing-folder"))
        XCTAssertEqual(try leftoverTemporaries(), [])
        // Model.save reports the same.
        let (model, _) = makeModel()
        let error2 = assertThrowsDeepScratchError(try model.save(to: target), mentions: [target])
        if case .cannotWrite? = error2 {} else { XCTFail("expected .cannotWrite, got \(String(describing: error2))") }
    }

    func testFailedWriteOverExistingFileLeavesItUntouched() throws {
        // Make the write fail after the target exists: block the temporary
        // name (`<path>.tmp-<pid>`, the scheme AtomicFile uses) with a folder.
        let path = dir + "/model.dsm"
        let (model, _) = makeModel()
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

    func testRenameOntoAFolderFailsAndCleansUpTheTemporary() throws {
        // The temporary file can be written but not renamed over a non-empty folder.
        let path = dir + "/occupied"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try writeRaw([1], to: path + "/inside")
        let error = assertThrowsDeepScratchError(try AtomicFile.write([1, 2, 3], to: path), mentions: [path])
        if case .cannotWrite? = error {} else { XCTFail("expected .cannotWrite, got \(String(describing: error))") }
        XCTAssertEqual(try leftoverTemporaries(), [], "the temporary file must be removed after a failed rename")
        XCTAssertEqual(try readAll(path + "/inside"), [1])
    }

    func testAtomicReadRefusesFilesAboveTheLimit() throws {
        let path = dir + "/big"
        try writeRaw(Array(repeating: 1, count: 100), to: path)
        let error = assertThrowsDeepScratchError(try AtomicFile.read(path, limit: 99), mentions: [path, "100"])
        if case .cannotRead? = error {} else { XCTFail("expected .cannotRead, got \(String(describing: error))") }
        XCTAssertEqual(try AtomicFile.read(path, limit: 100).count, 100)
    }
}
