import DeepScratch
import Foundation
import Glibc
import XCTest

/// A dsc subprocess whose standard output is read as it comes, so a test
/// can act (send a signal) when a line appears.
final class StreamingDSC: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    private let ended = DispatchSemaphore(value: 0)
    private var readers: [Thread] = []
    private let readersDone = DispatchGroup()

    init(_ arguments: [String], home: String) throws {
        process.executableURL = try DSCHarness.executable()
        process.arguments = arguments
        process.environment = try DSCHarness.environment(home: home)
        process.standardInput = FileHandle.nullDevice
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.terminationHandler = { [ended] _ in ended.signal() }
        // Process.run closes the parent's copies of the write ends, so reads end at the child's exit.
        try process.run()
        for (handle, isOut) in [(outPipe.fileHandleForReading, true), (errPipe.fileHandleForReading, false)] {
            readersDone.enter()
            let t = Thread { [self] in
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    lock.withLock { if isOut { out.append(chunk) } else { err.append(chunk) } }
                }
                readersDone.leave()
            }
            t.start()
            readers.append(t)
        }
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }

    /// Waits until standard output matches `pattern` (a regular expression,
    /// per line); false if it has not after `limit` seconds or the process ended first.
    func waitForOutput(_ pattern: String, limit: Double) -> Bool {
        let deadline = Date().addingTimeInterval(limit)
        while Date() < deadline {
            if DSCHarness.match(pattern, in: stdout) != nil { return true }
            if !process.isRunning {
                // Let the readers drain what the process wrote last.
                _ = readersDone.wait(timeout: .now() + 5)
                return DSCHarness.match(pattern, in: stdout) != nil
            }
            usleep(50_000)
        }
        return false
    }

    /// Waits for the process to end (killing it after `limit` seconds: a
    /// hang guard) and returns its exit status, nil if it had to be killed.
    func waitForExit(limit: Double) -> Int32? {
        if ended.wait(timeout: .now() + limit) == .timedOut {
            kill()
            return nil
        }
        process.waitUntilExit()
        _ = readersDone.wait(timeout: .now() + 10)
        return process.terminationStatus
    }

    /// Ends this process (only it) at once.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(pid, SIGKILL)
        ended.wait()
        process.waitUntilExit()
        _ = readersDone.wait(timeout: .now() + 10)
    }

    deinit { kill() }
}

/// Ctrl-C checkpoints, `--resume`, and `--checkpoint-every`, with real
/// training runs of the built dsc.
final class CheckpointCLITests: ScratchFolderTestCase {
    /// Starts a 50-epoch training run to `output`, waits for the line of
    /// epoch 1 (hang guard: 600 s), sends SIGINT and waits for the exit
    /// (hang guard: 60 s). Returns the exit status and standard output.
    private func interruptAfterFirstEpoch(hidden: String, output: String,
                                          file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32?, stdout: String, stderr: String) {
        let run = try StreamingDSC(["train", "--data", try DSCHarness.mnist(), "--hidden", hidden, "--epochs", "50", "-o", output],
                                   home: scratch.path)
        defer { run.kill() }
        guard run.waitForOutput(#"^epoch +1/50 "#, limit: 600) else {
            XCTFail("no 'epoch 1/50' line (process running: \(run.process.isRunning)): \(run.stdout)\n\(run.stderr)", file: file, line: line)
            return (nil, run.stdout, run.stderr)
        }
        XCTAssertTrue(run.process.isRunning, "still training after epoch 1 of 50", file: file, line: line)
        XCTAssertEqual(Glibc.kill(run.pid, SIGINT), 0, file: file, line: line)
        let status = run.waitForExit(limit: 60)
        XCTAssertNotNil(status, "dsc did not exit within 60 s of SIGINT; killed", file: file, line: line)
        return (status, run.stdout, run.stderr)
    }

    func testCtrlCWritesACheckpointAndExits130AndResumeFinishesWithoutTrainingState() throws {
        let path = scratch.path + "/c.dsm"
        let (status, stdout, stderr) = try interruptAfterFirstEpoch(hidden: "256,256", output: path)
        XCTAssertEqual(status, 130, "stdout: \(stdout)\nstderr: \(stderr)")
        XCTAssertTrue(stdout.lowercased().contains("checkpoint"), stdout)
        XCTAssertTrue(stdout.contains(path), "names the checkpoint file: \(stdout)")

        let checkpoint = try Model.load(path: path)
        let state = try XCTUnwrap(checkpoint.trainingState, "the file interrupted training wrote has no training state")
        XCTAssertGreaterThanOrEqual(state.epochsDone, 1)
        XCTAssertEqual(state.config.epochs, 50)
        XCTAssertEqual(checkpoint.architecture.sizes, [784, 256, 256, 10])

        let target = state.epochsDone + 1
        let resumed = try DSCHarness.run(["train", "--data", try DSCHarness.mnist(), "--resume", path, "--epochs", "\(target)"],
                                         home: scratch.path, limit: 900)
        XCTAssertEqual(resumed.status, 0, "stdout: \(resumed.stdout)\nstderr: \(resumed.stderr)")
        XCTAssertNotNil(DSCHarness.match("^epoch +\(target)/\(target) ", in: resumed.stdout), resumed.stdout)
        XCTAssertNil(DSCHarness.match("^epoch +\(state.epochsDone)/", in: resumed.stdout), "finished epochs are not trained again: \(resumed.stdout)")
        let finished = try Model.load(path: path)
        XCTAssertNil(finished.trainingState, "a finished model keeps no training state")
        XCTAssertEqual(finished.metadata["train.epochs"], .int(Int64(target)))
        XCTAssertEqual(finished.architecture.sizes, [784, 256, 256, 10])
    }

    func testResumeWithADifferentArchitectureIsRefusedWithOneLineAndLeavesTheCheckpoint() throws {
        let path = scratch.path + "/c.dsm"
        let (status, stdout, _) = try interruptAfterFirstEpoch(hidden: "32", output: path)
        XCTAssertEqual(status, 130, stdout)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertNotNil(try Model.load(path: path).trainingState)

        let r = try DSCHarness.run(["train", "--data", try DSCHarness.mnist(), "--resume", path, "--hidden", "64"],
                                   home: scratch.path, limit: 600)
        XCTAssertNotEqual(r.status, 0, r.stdout)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("dsc: error: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("architecture"), r.stderr)
        XCTAssertNil(DSCHarness.match("^epoch ", in: r.stdout), "no training happened: \(r.stdout)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "the checkpoint is untouched")
    }

    func testCheckpointEveryEpochWritesACheckpointAfterEpoch1ButNotAfterTheLast() throws {
        let path = scratch.path + "/e.dsm"
        let run = try StreamingDSC(["train", "--data", try DSCHarness.mnist(), "--hidden", "32", "--epochs", "2",
                                    "--checkpoint-every", "1", "-o", path], home: scratch.path)
        defer { run.kill() }
        // Pause the run as soon as the checkpoint is announced, to read the file it wrote.
        let announced = run.waitForOutput(#"^epoch 1: checkpoint written to "#, limit: 600)
        XCTAssertTrue(announced, "no checkpoint line after epoch 1: \(run.stdout)\n\(run.stderr)")
        if announced && run.process.isRunning {
            XCTAssertEqual(Glibc.kill(run.pid, SIGSTOP), 0)
            let state = try? Model.load(path: path).trainingState
            XCTAssertEqual(state?.epochsDone, 1, "the epoch-1 checkpoint holds one finished epoch")
            XCTAssertEqual(Glibc.kill(run.pid, SIGCONT), 0)
        }
        let status = run.waitForExit(limit: 600)
        XCTAssertEqual(status, 0, "stdout: \(run.stdout)\nstderr: \(run.stderr)")
        let lines = DSCHarness.lines(run.stdout)
        let epoch1 = lines.firstIndex { $0.hasPrefix("epoch 1/2 ") }
        let checkpoint = lines.firstIndex { $0.hasPrefix("epoch 1: checkpoint written to \(path)") }
        let epoch2 = lines.firstIndex { $0.hasPrefix("epoch 2/2 ") }
        XCTAssertNotNil(epoch1, run.stdout)
        XCTAssertNotNil(checkpoint, run.stdout)
        XCTAssertNotNil(epoch2, run.stdout)
        if let epoch1, let checkpoint, let epoch2 {
            XCTAssertLessThan(epoch1, checkpoint, "the checkpoint line follows epoch 1")
            XCTAssertLessThan(checkpoint, epoch2, "and comes before epoch 2")
        }
        XCTAssertEqual(lines.filter { $0.contains("checkpoint") }.count, 1, "only one checkpoint (none after the last epoch): \(run.stdout)")
        XCTAssertNil(try Model.load(path: path).trainingState, "the finished model replaces the checkpoint")
    }
}
