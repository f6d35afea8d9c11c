import Foundation
import Glibc
import XCTest
@testable import dsc

/// The built `dsc` binary, run as a subprocess: exit status and stderr.
final class CLIProcessTests: XCTestCase {
    private var dsc: URL!
    private var home: TemporaryFolder!
    private var closedMirror = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        dsc = try DSCHarness.executable()
        home = try TemporaryFolder()
        closedMirror = "http://127.0.0.1:\(try closedLocalPort())/"
    }

    override func tearDown() {
        home = nil
        super.tearDown()
    }

    /// Runs dsc with an environment that can only reach 127.0.0.1: a closed
    /// local port as the MNIST mirror, and a temporary HOME.
    private func run(_ arguments: [String], limit: Double = 600) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = home.path
        env["TMPDIR"] = home.path
        env["DEEPSCRATCH_MNIST_MIRROR"] = closedMirror
        env["DEEPSCRATCH_DATA"] = nil
        env["no_proxy"] = "127.0.0.1,localhost"
        env["NO_PROXY"] = "127.0.0.1,localhost"
        return try runProcess(dsc, arguments, environment: env, limit: limit)
    }

    private func assertOneErrorLine(_ r: ProcessResult, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "exit status", file: file, line: line)
        XCTAssertEqual(r.stderrLines.count, 1, "stderr: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("dsc: error: "), "stderr: \(r.stderr)", file: file, line: line)
    }

    func testZeroEpochsExitsNonZeroWithOneErrorLine() throws {
        let r = try run(["train", "--epochs", "0"])
        assertOneErrorLine(r)
        XCTAssertTrue(r.stderr.contains("epochs"), r.stderr)
    }

    func testMissingDataFolderThatCannotBeDownloadedFailsWithOneLineNamingTheFolder() throws {
        // A folder that does not exist yet (inside a temporary folder, so
        // nothing is created elsewhere); the only mirror is a closed local port.
        let scratch = try TemporaryFolder()
        let folder = scratch.path + "/nonexistent/file/path"
        let r = try run(["train", "--data", folder, "--epochs", "1"], limit: 300)
        assertOneErrorLine(r)
        XCTAssertTrue(r.stderr.contains(folder), r.stderr)
        XCTAssertTrue(r.stderr.contains("train-images-idx3-ubyte.gz"), r.stderr)
    }

    func testDataFolderThatCannotBeCreatedFailsWithOneLineNamingIt() throws {
        let scratch = try TemporaryFolder()
        let blocker = try scratch.write("blocker", [0])
        let folder = blocker + "/mnist"
        let r = try run(["train", "--data", folder, "--epochs", "1"], limit: 300)
        assertOneErrorLine(r)
        XCTAssertTrue(r.stderr.contains(folder), r.stderr)
    }

    func testDataPathThatIsARegularFileFailsWithOneLineSayingSo() throws {
        let scratch = try TemporaryFolder()
        let file = try scratch.write("regular-file", Array("not a folder".utf8))
        let r = try run(["train", "--data", file, "--epochs", "1"], limit: 300)
        assertOneErrorLine(r)
        XCTAssertTrue(r.stderr.contains(file), r.stderr)
        XCTAssertTrue(r.stderr.contains("is a file"), r.stderr)
    }

    func testUnknownFlagExitsNonZeroWithOneErrorLine() throws {
        let r = try run(["train", "--no-such-flag"])
        assertOneErrorLine(r)
        XCTAssertTrue(r.stderr.contains("no-such-flag"), r.stderr)
    }

    func testGradcheckExitsZeroAndPrintsTheSummary() throws {
        let r = try run(["gradcheck"])
        XCTAssertEqual(r.status, 0, "stdout: \(r.stdout)\nstderr: \(r.stderr)")
        XCTAssertTrue(r.stdout.contains("checks below"), r.stdout)
        XCTAssertFalse(r.stdout.contains("FAILED"), r.stdout)
    }

    func testHelpExitsZeroAndListsTheSubcommands() throws {
        let r = try run(["--help"])
        XCTAssertEqual(r.status, 0, "stderr: \(r.stderr)")
        XCTAssertTrue(r.stdout.contains("train"), r.stdout)
        XCTAssertTrue(r.stdout.contains("gradcheck"), r.stdout)
    }

    func testTrainHelpExitsZeroAndDescribesTheFlags() throws {
        let r = try run(["train", "--help"])
        XCTAssertEqual(r.status, 0, "stderr: \(r.stderr)")
        XCTAssertTrue(r.stdout.contains("--epochs"), r.stdout)
        XCTAssertEqual(r.stderr, "")
    }
}
