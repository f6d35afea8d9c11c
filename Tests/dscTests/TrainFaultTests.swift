import DeepScratch
import Foundation
import Glibc
import XCTest

/// Faults while `dsc` writes a model: kill -9 at random moments of a
/// training run that writes a checkpoint after every epoch, and a write that
/// runs out of space. Either way the output path must hold a complete model
/// (the previous one, or a complete new one), never a partial file.
/// Tests/Faults/kill-train.sh does the same kill test with more trials on a
/// release build, and Tests/Faults/disk-full.sh uses a real full tmpfs.
final class TrainFaultTests: XCTestCase {
    private var dsc: URL!
    private var folder: TemporaryFolder!
    private var data = ""
    private var previous = ""
    private var previousBytes = [UInt8]()

    override func setUpWithError() throws {
        try super.setUpWithError()
        dsc = try DSCHarness.executable()
        folder = try TemporaryFolder()
        data = folder.path + "/data"
        try writeSyntheticMNIST(to: data, train: 600, test: 100)
        // The previous model: a complete training run of one epoch.
        previous = folder.path + "/previous.dsm"
        let r = try runDSC(["train", "--data", data, "--hidden", "32", "--epochs", "1", "--dev", "0", "--threads", "1",
                            "--batch", "100", "-o", previous])
        XCTAssertEqual(r.status, 0, r.stderr)
        previousBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: previous)))
    }

    override func tearDown() {
        folder = nil
        super.tearDown()
    }

    private func runDSC(_ arguments: [String], via launcher: [String] = []) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["DEEPSCRATCH_MNIST_MIRROR"] = "http://127.0.0.1:9/"
        if launcher.isEmpty { return try runProcess(dsc, arguments, environment: env, limit: 600) }
        return try runProcess(URL(fileURLWithPath: launcher[0]), Array(launcher.dropFirst()) + [dsc.path] + arguments,
                              environment: env, limit: 600)
    }

    /// Loads `path` (every byte checked against the file's checksum, every
    /// field validated) and tells whether it is the previous model, else a
    /// checkpoint of the run.
    private enum Found: Equatable { case previous, checkpoint(epochs: Int) }
    private func classify(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> Found? {
        let model: Model
        do {
            model = try Model.load(path: path)
        } catch {
            XCTFail("\(path) is not a complete model: \(error)", file: file, line: line)
            return nil
        }
        if [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == previousBytes { return .previous }
        guard let state = model.trainingState else {
            XCTFail("\(path): a complete model that is neither the previous one nor a checkpoint", file: file, line: line)
            return nil
        }
        XCTAssertEqual(model.architecture.sizes, [784, 32, 10], file: file, line: line)
        return .checkpoint(epochs: state.epochsDone)
    }

    /// Leftover temporary files beside `path` (a kill inside a write leaves one).
    private func leftovers(beside path: String) -> [String] {
        let dir = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix(name + ".tmp-") }
    }

    // MARK: kill -9

    /// Starts a long training run that checkpoints to `output` every epoch.
    private func startTraining(_ output: String, seed: Int) throws -> Process {
        let p = Process()
        p.executableURL = dsc
        p.arguments = ["train", "--data", data, "--hidden", "32", "--epochs", "100000", "--checkpoint-every", "1",
                       "--dev", "0", "--threads", "1", "--batch", "100", "--seed", "\(seed)", "-o", output]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    private func kill9(_ p: Process) {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// The inode of `path` (a rename over it gives a new one).
    private func inode(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    func testKillNineAtRandomMomentsLeavesACompleteModel() throws {
        var rng = SystemRandomNumberGenerator()
        var outcomes: [String] = []
        for trial in 1...12 {
            let output = folder.path + "/run-\(trial)/model.dsm"
            try FileManager.default.createDirectory(atPath: (output as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data(previousBytes).write(to: URL(fileURLWithPath: output))
            let before = inode(output)
            let p = try startTraining(output, seed: trial)
            let delay: Double
            if trial % 2 == 0 {
                // Even trials: wait until a checkpoint has replaced the file,
                // then kill within the next few epochs (often inside a write).
                let start = Date()
                while inode(output) == before, p.isRunning, Date().timeIntervalSince(start) < 300 { usleep(1000) }
                XCTAssertTrue(p.isRunning, "trial \(trial): dsc ended by itself (status \(p.terminationStatus))")
                delay = Double.random(in: 0...0.2, using: &rng)
            } else {
                // Odd trials: any moment from the start, even before the first write.
                delay = Double.random(in: 0...0.5, using: &rng)
            }
            usleep(UInt32(delay * 1e6))
            kill9(p)
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "trial \(trial): killed")
            let midWrite = !leftovers(beside: output).isEmpty
            let found = try classify(output)
            if trial % 2 == 0, let found {
                XCTAssertNotEqual(found, .previous, "trial \(trial): killed after a checkpoint had replaced the file")
            }
            outcomes.append("trial \(trial): \(found.map { "\($0)" } ?? "BROKEN")\(midWrite ? ", killed inside a write" : "")")
        }
        print("kill -9 trials:\n  " + outcomes.joined(separator: "\n  "))
    }

    // MARK: out of space

    /// A file-size limit (RLIMIT_FSIZE, through util-linux `prlimit`) makes
    /// write() fail with EFBIG exactly as a full disk makes it fail with
    /// ENOSPC, without needing the privilege to mount a small file system.
    private func limited(_ bytes: Int) throws -> [String] {
        // Under `swift test --sanitize=thread` dsc is built with TSan too, and
        // TSan's runtime dies of SIGBUS while it starts under any small
        // file-size limit (even `dsc --version`), before dsc runs at all. These
        // three tests run in the normal and the ASan suites; under TSan the
        // limit would only test the sanitizer.
        try XCTSkipIf(dlsym(nil, "__tsan_init") != nil,
                      "TSan's runtime cannot start under RLIMIT_FSIZE; covered by the normal and ASan runs")
        return ["/usr/bin/prlimit", "--fsize=\(bytes)", "--"]
    }

    private func assertWriteFailedCleanly(_ r: ProcessResult, output: String,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertFalse(r.signaled, "killed by signal \(r.status) (SIGXFSZ must be ignored)", file: file, line: line)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        let errors = r.stderrLines.filter { $0.hasPrefix("dsc: error:") }
        XCTAssertEqual(errors.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains("\(output): cannot write: File too large"), r.stderr, file: file, line: line)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: output))), previousBytes,
                       "the previous model is intact", file: file, line: line)
        XCTAssertEqual(leftovers(beside: output), [], "the temporary file is removed", file: file, line: line)
    }

    func testConvertPastTheFileSizeLimitReportsItAndKeepsThePreviousModel() throws {
        // f32 → f32 in place: the same size as the previous file, and the limit is below it.
        let output = folder.path + "/model.dsm"
        try Data(previousBytes).write(to: URL(fileURLWithPath: output))
        let r = try runDSC(["convert", output, output, "--precision", "f32"], via: try limited(previousBytes.count / 2))
        try assertWriteFailedCleanly(r, output: output)
    }

    func testTrainingWhoseModelDoesNotFitReportsItAndKeepsThePreviousModel() throws {
        let output = folder.path + "/model.dsm"
        try Data(previousBytes).write(to: URL(fileURLWithPath: output))
        let r = try runDSC(["train", "--data", data, "--hidden", "64", "--epochs", "1", "--dev", "0", "--threads", "1",
                            "--batch", "100", "-o", output], via: try limited(previousBytes.count))
        try assertWriteFailedCleanly(r, output: output)
    }

    func testCheckpointThatDoesNotFitStopsTrainingAndKeepsThePreviousModel() throws {
        let output = folder.path + "/model.dsm"
        try Data(previousBytes).write(to: URL(fileURLWithPath: output))
        // A checkpoint holds the Adam moments too: three times the weights.
        let r = try runDSC(["train", "--data", data, "--hidden", "32", "--epochs", "5", "--checkpoint-every", "1",
                            "--dev", "0", "--threads", "1", "--batch", "100", "-o", output],
                           via: try limited(previousBytes.count + 4096))
        try assertWriteFailedCleanly(r, output: output)
    }
}

/// Writes a small synthetic MNIST as the four raw IDX files: 28x28 images of
/// class k (a bright 6x6 square at a place that depends on k, plus noise).
func writeSyntheticMNIST(to folder: String, train: Int, test: Int) throws {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> UInt64 {  // splitmix64
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    func be32(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
    for (prefix, count) in [("train", train), ("t10k", test)] {
        var pixels = be32(0x803) + be32(count) + be32(28) + be32(28)
        var labels = be32(0x801) + be32(count)
        for _ in 0..<count {
            let k = Int(next() % 10)
            let x0 = 2 + (k % 5) * 5, y0 = 4 + (k / 5) * 12
            for y in 0..<28 {
                for x in 0..<28 {
                    let on = (x0..<x0 + 6).contains(x) && (y0..<y0 + 6).contains(y)
                    pixels.append(UInt8((on ? 200 : 0) + Int(next() % 40)))
                }
            }
            labels.append(UInt8(k))
        }
        try Data(pixels).write(to: URL(fileURLWithPath: "\(folder)/\(prefix)-images-idx3-ubyte"))
        try Data(labels).write(to: URL(fileURLWithPath: "\(folder)/\(prefix)-labels-idx1-ubyte"))
    }
}
