import Foundation
import XCTest

/// Every regression input of the model fuzz targets (Tests/Fuzz/regressions/
/// fuzz_model*/: crashers the fuzzers found, and the hostile files of
/// make_hostile_models.py) loaded through the C ABI by a C program in a child
/// process, from memory and from its path: the host must see a normal exit
/// with DS_ERR_BAD_MODEL from both calls and a message naming the problem,
/// never a signal. (FuzzCorpusTests replays them in-process too, where a
/// trap would take the whole test runner down instead of failing one case.)
final class HostileModelCABITests: XCTestCase {
    // The loader is Tests/Hosts/load_model.c: it loads argv[1] with
    // ds_model_load_memory and with ds_model_load and prints "<how> <status
    // name> <message>" for each; a model that loads is classified (one image
    // and a batch of three) and freed. It exits with the status of both calls
    // when they agree, 100 when they differ, 101 when a failed call set its
    // output.

    /// What each hand-made hostile file's refusal names (the crashers the
    /// fuzzers found need only be refused). Every hostile file must be listed.
    static let expectedReasons: [String: String] = [
        "hostile-312-bytes-dense-2p48-on-65536-cubed.dsm": "model.input_shape [65536, 65536, 65536] is 281474976710656 values per image",
        "hostile-dense-weights-2p38-values.dsm": "the layers need tensor W1 of shape [1024, 268435456]",
        "hostile-overflow-dense-2p48-by-2p20.dsm": "model.input_shape [65536, 65536, 65536]",
        "hostile-input-shape-int64-max.dsm": "model.input_shape [9223372036854775807, 9223372036854775807, 1] is not",
        "hostile-conv-patch-matrix-1.5e10-values.dsm": "working memory",
        "hostile-dense-2p26-inputs-working-memory.dsm": "working memory",
        "hostile-q8z-claims-2p31-values-from-a-few-bytes.dsm": "more than deflate's 1032:1 allows",
        "hostile-q8z-inflates-to-16-MiB.dsm": "decompresses to more than the 4352 bytes",
        "hostile-conv-weight-shape-permuted.dsm": "tensor W1 has shape [2, 5, 3, 5], the layers need [2, 3, 5, 5]",
        "hostile-moment-shape-transposed.dsm": "tensor opt.v.W1 has shape [12, 7], the optimizer holds W1 as [7, 12]",
    ]

    func testEveryModelRegressionFileIsRefusedWithBadModelInAChildProcess() throws {
        let folder = try CTemporaryFolder()
        let c = CCompiler(outputFolder: folder.path)
        let loader = try c.buildC([CPaths.root + "/Tests/Hosts/load_model.c"], name: "load_model")
        let environment = try c.runEnvironment()
        let files = CPaths.modelRegressionFiles()
        let hostile = files.filter { ($0 as NSString).lastPathComponent.hasPrefix("hostile-") }
        XCTAssertEqual(Set(hostile.map { ($0 as NSString).lastPathComponent }), Set(Self.expectedReasons.keys),
                       "make_hostile_models.py's files and this table")
        XCTAssertGreaterThan(files.count, hostile.count, "the fuzzers' crashers are replayed too")
        for path in files {
            let name = (path as NSString).lastPathComponent
            let r = try runCProcess(loader, [path], environment: environment, limit: 120)
            XCTAssertFalse(r.signaled, "\(name): killed by signal \(r.status)\n\(r.summary)")
            XCTAssertEqual(r.status, DS.badModel, "\(name): exit status (the status of both loads)\n\(r.summary)")
            let lines = r.stdoutLines
            XCTAssertEqual(lines.count, 2, "\(name): one line per load, no classification\n\(r.summary)")
            XCTAssertTrue(lines.first?.hasPrefix("memory DS_ERR_BAD_MODEL <memory>: not a valid model file: ") == true,
                          "\(name): \(lines)")
            XCTAssertTrue(lines.last?.hasPrefix("path DS_ERR_BAD_MODEL \(path): not a valid model file: ") == true,
                          "\(name): \(lines)")
            if let reason = Self.expectedReasons[name] {
                XCTAssertTrue(lines.allSatisfy { $0.contains(reason) }, "\(name): the message names '\(reason)': \(lines)")
            }
        }
    }
}
