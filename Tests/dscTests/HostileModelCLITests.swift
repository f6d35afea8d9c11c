import Foundation
import XCTest

/// The regression inputs of the model fuzz targets (Tests/Fuzz/regressions/
/// fuzz_model*/: the fuzzers' crashers and make_hostile_models.py's hostile
/// files) given to `dsc inspect` (which validates without building a
/// network) and `dsc predict --model` (which builds one): both must refuse
/// each file the same way, with exit status 1, one "dsc: error:" line naming
/// the file, and no signal.
final class HostileModelCLITests: XCTestCase {
    private static let root = DSCHarness.root

    /// `Tests/Fuzz/regressions/fuzz_model*/*.dsm`, sorted.
    private func regressionFiles() -> [String] {
        let folder = Self.root + "/Tests/Fuzz/regressions"
        let targets = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix("fuzz_model") }
        return targets.sorted().flatMap { target in
            ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + target)) ?? [])
                .filter { $0.hasSuffix(".dsm") }.sorted().map { "\(folder)/\(target)/\($0)" }
        }
    }

    func testInspectAndPredictRefuseEveryHostileModelWithOneLine() throws {
        let dsc = try DSCHarness.executable()
        let digit = Self.root + "/examples/digits/0047_7.png"
        let files = regressionFiles()
        XCTAssertTrue(files.contains { $0.hasSuffix("/hostile-312-bytes-dense-2p48-on-65536-cubed.dsm") }, "\(files)")
        var environment = ProcessInfo.processInfo.environment
        environment["DEEPSCRATCH_MODEL"] = nil
        for path in files {
            let name = (path as NSString).lastPathComponent
            var reasons: [String] = []
            for arguments in [["inspect", path], ["predict", "--model", path, digit]] {
                let what = "dsc \(arguments[0]) \(name)"
                let r = try runProcess(dsc, arguments, environment: environment, limit: 300)
                XCTAssertFalse(r.signaled, "\(what): killed by signal \(r.status); stderr: \(r.stderr)")
                XCTAssertEqual(r.status, 1, "\(what): exit status; stderr: \(r.stderr)")
                XCTAssertEqual(r.stderrLines.count, 1, "\(what): one line on stderr, got: \(r.stderr)")
                XCTAssertTrue(r.stderr.hasPrefix("dsc: error: \(path): not a valid model file: "), "\(what): \(r.stderr)")
                XCTAssertEqual(r.stdout, "", "\(what): nothing on stdout")
                reasons.append(r.stderr)
            }
            // One validator: the loader that builds a network and the one that does not agree.
            XCTAssertEqual(reasons[0], reasons[1], "\(name): inspect and predict give the same reason")
        }
    }
}
