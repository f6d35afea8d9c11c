import DeepScratch
import DeepScratchImage
@testable import DeepScratchC
import Foundation
import Glibc
import XCTest

/// The fuzz targets' inputs replayed through the C ABI as part of the test
/// suite (Tests/Fuzz, run by Tests/Fuzz/run.sh):
/// - every seed must be accepted as it is (else the fuzzer starts from
///   inputs that stop at the first check);
/// - every input in Tests/Fuzz/regressions (an input that once crashed or
///   misbehaved, committed with its fix, and the hand-made hostile models)
///   must now fail cleanly: the status that fits (DS_ERR_BAD_MODEL,
///   DS_ERR_BAD_IMAGE) and a message; HostileModelCABITests loads the model
///   ones again in a child process, where a crash cannot take the test
///   runner down;
/// - as in the harness, a model is also tried "resealed" (declared size and
///   checksum recomputed), so a regression behind the checksum stays tested.
final class FuzzCorpusTests: XCTestCase {
    private static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz").path

    private func files(_ folder: String) -> [String] {
        let path = Self.fuzz + "/" + folder
        return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().map { path + "/" + $0 }
    }

    private func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// The harness's fix-up: declared file size and XXH64 checksum made to match.
    private func resealed(_ input: [UInt8]) -> [UInt8] {
        var b = input
        guard b.count >= 40 else { return b }
        for i in 0..<8 { b[16 + i] = UInt8(truncatingIfNeeded: UInt64(b.count) >> (8 * UInt64(i))) }
        let h = b.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[..<(b.count - 8)])) }
        for i in 0..<8 { b[b.count - 8 + i] = UInt8(truncatingIfNeeded: h >> (8 * UInt64(i))) }
        return b
    }

    /// Loads `input` through ds_model_load_memory; on success runs every
    /// getter and one classification, as the harness does.
    private func loadModel(_ input: [UInt8]) -> (status: Int32, message: String) {
        var model: OpaquePointer?
        let status = input.withUnsafeBytes { ds_model_load_memory($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), $0.count, &model) }
        guard status == DS.ok, let model else { return (status, String(cString: ds_last_error())) }
        defer { _ = ds_model_free(model) }
        var inputs = 0, classes = 0, length = 0
        XCTAssertEqual(ds_model_input_size(model, &inputs), DS.ok)
        XCTAssertEqual(ds_model_class_count(model, &classes), DS.ok)
        var text = [CChar](repeating: 0, count: 64)
        for k in 0..<min(classes, 16) { XCTAssertEqual(ds_model_label(model, k, &text, text.count, &length), DS.ok) }
        XCTAssertEqual(ds_model_metadata(model, &text, text.count, &length), DS.ok)
        var pixels = [Float](repeating: 0.5, count: inputs)
        var p = [Float](repeating: 0, count: classes)
        var k: Int32 = -1
        XCTAssertEqual(ds_classify(model, &pixels, inputs, &p, classes, &k), DS.ok)
        XCTAssertTrue((0..<Int32(classes)).contains(k))
        return (status, "")
    }

    private func classifyPNG(_ model: OpaquePointer, _ input: [UInt8]) -> (status: Int32, message: String) {
        var p = [Float](repeating: 0, count: 10)
        var k: Int32 = -1
        let status = input.withUnsafeBytes {
            ds_classify_png_memory(model, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), $0.count, &p, p.count, &k)
        }
        if status == DS.ok {
            XCTAssertTrue((0..<10).contains(k))
            XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-3)
            return (status, "")
        }
        return (status, String(cString: ds_last_error()))
    }

    private func shippedModel() throws -> OpaquePointer {
        let path = URL(fileURLWithPath: Self.fuzz).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/dsc/Resources/default.dsm").path
        var model: OpaquePointer?
        XCTAssertEqual(ds_model_load(path, &model), DS.ok, String(cString: ds_last_error()))
        return try XCTUnwrap(model)
    }

    func testEveryModelSeedLoadsAsItIsAndResealed() throws {
        let seeds = files("seeds/fuzz_model")
        XCTAssertGreaterThanOrEqual(seeds.count, 5, "the model seed corpus is in Tests/Fuzz/seeds/fuzz_model")
        for path in seeds {
            let input = try bytes(path)
            let r = loadModel(input)
            XCTAssertEqual(r.status, DS.ok, "\(path): \(r.message)")
            XCTAssertEqual(resealed(input), input, "\(path): resealing a valid file changes nothing")
        }
    }

    func testEveryPNGSeedIsClassified() throws {
        let seeds = files("seeds/fuzz_png")
        XCTAssertGreaterThanOrEqual(seeds.count, 10, "the PNG seed corpus is in Tests/Fuzz/seeds/fuzz_png")
        let model = try shippedModel()
        defer { _ = ds_model_free(model) }
        for path in seeds {
            let r = classifyPNG(model, try bytes(path))
            XCTAssertEqual(r.status, DS.ok, "\(path): \(r.message)")
        }
    }

    func testEveryModelRegressionInputFailsCleanly() throws {
        let inputs = CPaths.modelRegressionFiles()
        XCTAssertTrue(inputs.contains { $0.hasSuffix("/hostile-312-bytes-dense-2p48-on-65536-cubed.dsm") },
                      "the regressions of every model target, fuzz_model_struct's included")
        for path in inputs {
            let input = try bytes(path)
            for (how, variant) in [("as it is", input), ("resealed", resealed(input))] {
                let r = loadModel(variant)
                XCTAssertEqual(r.status, DS.badModel, "\(path) \(how): \(DS.name(r.status)) \(r.message)")
                XCTAssertFalse(r.message.isEmpty, "\(path) \(how): the error says why")
            }
        }
    }

    /// CRC-32 (ISO 3309, as PNG chunks use it), bit by bit.
    private func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    /// The PNG harness's fix-up: every complete chunk's CRC recomputed.
    private func withChunkCRCs(_ input: [UInt8]) -> [UInt8] {
        var b = input
        var at = 8
        while at + 12 <= b.count {
            let length = Int(b[at]) << 24 | Int(b[at + 1]) << 16 | Int(b[at + 2]) << 8 | Int(b[at + 3])
            guard length <= b.count - at - 12 else { break }
            let crc = crc32(b[(at + 4)..<(at + 8 + length)])
            for i in 0..<4 { b[at + 8 + length + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(i))) }
            at += 12 + length
        }
        return b
    }

    func testEveryPNGRegressionInputFailsCleanly() throws {
        let model = try shippedModel()
        defer { _ = ds_model_free(model) }
        for path in files("regressions/fuzz_png") {
            let input = try bytes(path)
            for (how, variant) in [("as it is", input), ("with chunk CRCs fixed", withChunkCRCs(input))] {
                let r = classifyPNG(model, variant)
                XCTAssertEqual(r.status, DS.badImage, "\(path) \(how): \(DS.name(r.status)) \(r.message)")
                XCTAssertFalse(r.message.isEmpty, "\(path) \(how): the error says why")
            }
        }
    }

    func testChunkCRCFixUpLeavesTheSeedsUnchanged() throws {
        for path in files("seeds/fuzz_png") {
            let input = try bytes(path)
            XCTAssertEqual(withChunkCRCs(input), input, "\(path): its CRCs are already right")
        }
    }
}
