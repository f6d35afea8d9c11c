import DeepScratch
@testable import DeepScratchC
import Foundation
import XCTest

/// Files written by earlier versions (the fuzz seeds, the shipped model)
/// load, classify as the version that wrote them classified them, and write
/// back unchanged: the promise of "behavior, file format and the C ABI stay
/// compatible".
final class ModelFileCompatibilityTests: XCTestCase {
    /// The answers 1.1.0 (commit 8e465c8) gave through its C library,
    /// recorded by `Tests/Fixtures/compat/make_golden.py`.
    private func golden() throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: CPaths.root + "/Tests/Fixtures/compat/golden.json"))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(json["models"] as? [[String: Any]])
    }

    func testFilesOfEarlierVersionsClassifyAsTheyDidThen() throws {
        let models = try golden()
        XCTAssertGreaterThanOrEqual(models.count, 16, "every fuzz seed model and the shipped one")
        var compared = 0
        for entry in models {
            let file = try XCTUnwrap(entry["file"] as? String)
            var model: OpaquePointer?
            XCTAssertEqual(ds_model_load(CPaths.root + "/" + file, &model), DS.ok, "\(file): \(String(cString: ds_last_error()))")
            guard let model else { continue }
            defer { _ = ds_model_free(model) }
            let n = try XCTUnwrap(entry["inputs"] as? Int)
            var classes = 0
            XCTAssertEqual(ds_model_class_count(model, &classes), DS.ok)
            for answer in try XCTUnwrap(entry["answers"] as? [[String: Any]]) {
                let want = try XCTUnwrap(answer["probabilities"] as? [Double])
                let wantClass = try XCTUnwrap(answer["class"] as? Int)
                var probabilities = [Float](repeating: .nan, count: classes)
                var cls: Int32 = -1
                let what: String
                if let j = answer["image"] as? Int {
                    // Pixel i of image j: ((37 i + 101 j + 13) mod 256) / 256, as the script made it.
                    let x = (0..<n).map { Float((37 * $0 + 101 * j + 13) % 256) / 256 }
                    XCTAssertEqual(ds_classify(model, x, n, &probabilities, classes, &cls), DS.ok, String(cString: ds_last_error()))
                    what = "\(file) image \(j)"
                } else {
                    let png = try XCTUnwrap(answer["png"] as? String)
                    XCTAssertEqual(ds_classify_png_file(model, CPaths.root + "/" + png, &probabilities, classes, &cls), DS.ok,
                                   String(cString: ds_last_error()))
                    what = "\(file) on \(png)"
                }
                XCTAssertEqual(Int(cls), wantClass, what)
                XCTAssertEqual(want.count, classes, what)
                // Equal up to the rounding of the CPU's kernels (AVX2, AVX-512, VNNI or generic; the
                // OpenBLAS kernel): the recorded answers came from one CPU, the tests run on any.
                for (p, q) in zip(probabilities, want) { XCTAssertEqual(Double(p), q, accuracy: 2e-5, what) }
                compared += 1
            }
        }
        XCTAssertEqual(compared, 288, "3 synthetic images per model, 30 PNGs more for each of the 8 MNIST-sized ones")
    }

    func testFilesOfEarlierVersionsWriteBackByteForByte() throws {
        var identical = 0
        for entry in try golden() {
            let file = try XCTUnwrap(entry["file"] as? String)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: CPaths.root + "/" + file)))
            let model = try Model.parse(bytes, path: file)
            let again = model.serialized()
            XCTAssertEqual(again.count, bytes.count, file)
            guard again.count == bytes.count, bytes.count > 56 else { continue }
            if again == bytes { identical += 1; continue }
            // A file whose metadata keys were in another order comes back with
            // them in the writer's order, everything else byte for byte: the
            // header, the same entries, the directory and the tensors.
            let metaEnd = 48 + Int(bytes[40..<48].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            XCTAssertEqual(Array(again[..<48]), Array(bytes[..<48]), file)
            XCTAssertEqual(Array(again[metaEnd..<(bytes.count - 8)]), Array(bytes[metaEnd..<(bytes.count - 8)]), "\(file): after the metadata")
            let back = try Model.parse(again, path: file)
            XCTAssertEqual(Dictionary(back.metadata.map { ($0.key, $0.value) }) { a, _ in a },
                           Dictionary(model.metadata.map { ($0.key, $0.value) }) { a, _ in a }, file)
            XCTAssertEqual(back.architecture, model.architecture, file)
            XCTAssertEqual(back.parameters, model.parameters, file)
            XCTAssertEqual(back.serialized(), again, "\(file): the writer's order is a fixed point")
        }
        XCTAssertGreaterThanOrEqual(identical, 15, "all but the one seed written with its keys in another order")
    }
}
