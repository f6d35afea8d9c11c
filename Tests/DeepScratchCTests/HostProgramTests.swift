import Foundation
import Glibc
import XCTest

/// What a host program does to the library it loaded, from outside, through
/// the C programs of `Tests/Hosts` built against this build's
/// libdeepscratch.so: fork() after a batch, dlclose() while its threads live
/// on, choosing the library's threads, and NaN or infinite pixels. Each
/// program checks its own results and exits 0; a crash, a hang (the
/// subprocess watchdog) or a failed check fails the test.
extension CExamplesTests {
    private var hosts: String { CPaths.root + "/Tests/Hosts" }

    private func runHost(_ name: String, _ arguments: [String], libraries: [String] = [], limit: Double = 300,
                         file: StaticString = #filePath, line: UInt = #line) throws -> CProcessResult {
        let program = try buildC([hosts + "/\(name).c"], name: name, libraries: libraries, file: file, line: line)
        let result = try runCProcess(program, arguments, environment: try runEnvironment(), limit: limit)
        XCTAssertEqual(result.status, 0, result.summary, file: file, line: line)
        return result
    }

    func testAChildProcessClassifiesWithAModelLoadedBeforeForkEvenWhileTheParentIsBusy() throws {
        let result = try runHost("fork", [CPaths.shippedModel], libraries: ["-lpthread"])
        XCTAssertEqual(result.stdoutLines.last, "forks ok 12", result.summary)
    }

    func testAThreadExitingAfterDlcloseAndThousandsOfDlopenCyclesLeaveTheHostRunning() throws {
        // The library is loaded by path, as a plugin host does; this program does not link it.
        let lib = try libraryFolder() + "/libdeepscratch.so"
        let result = try runHost("dlclose", [lib, CPaths.shippedModel, "2000"], libraries: ["-ldl", "-lpthread"])
        XCTAssertEqual(result.stdoutLines.last, "dlclose ok", result.summary)
    }

    func testTheHostChoosesTheLibrarysThreadsAndIdleWorkersSleep() throws {
        let result = try runHost("thread_control", [CPaths.shippedModel], libraries: ["-ldl", "-lpthread"])
        XCTAssertEqual(result.stdoutLines.last, "thread control ok", result.summary)
    }

    func testNaNAndInfinitePixelsAreInvalidArgumentsNamingThePixel() throws {
        let result = try runHost("nonfinite", [CPaths.shippedModel], libraries: ["-lm"])
        XCTAssertEqual(result.stdoutLines.last, "nonfinite ok", result.summary)
    }
}
