import Foundation
import Glibc
import DeepScratch
import DeepScratchTestSupport
import XCTest

// Helpers shared by the C ABI tests: the package's paths, the status codes
// of include/deepscratch.h, temporary folders, subprocesses with a watchdog
// and threads with a hang guard.

/// The status codes of include/deepscratch.h, written out here (and checked
/// against the header by `CABITests.testStatusConstantsOfTheseTestsMatchTheHeaderEnum`).
enum DS {
    static let ok: Int32 = 0
    static let invalidArgument: Int32 = 1
    static let io: Int32 = 2
    static let badModel: Int32 = 3
    static let badImage: Int32 = 4
    static let versionMismatch: Int32 = 5
    static let internalError: Int32 = 6

    static let names = ["DS_OK", "DS_ERR_INVALID_ARGUMENT", "DS_ERR_IO", "DS_ERR_BAD_MODEL", "DS_ERR_BAD_IMAGE",
                        "DS_ERR_VERSION_MISMATCH", "DS_ERR_INTERNAL"]

    /// A readable name for failure messages.
    static func name(_ s: Int32) -> String { names.indices.contains(Int(s)) ? names[Int(s)] : "status \(s)" }
}

struct CTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Where things are: the package, the shared data, the build products.
enum CPaths {
    /// The package root (#filePath = <root>/Tests/DeepScratchCTests/CTestSupport.swift).
    static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().standardizedFileURL.path
    }

    static var header: String { root + "/include/deepscratch.h" }
    static var fuzz: String { root + "/Tests/Fuzz" }

    /// The regression inputs of every model fuzz target
    /// (`Tests/Fuzz/regressions/fuzz_model*/`), sorted: crashers the fuzzers
    /// found and the hostile files of make_hostile_models.py.
    static func modelRegressionFiles() -> [String] {
        let folder = fuzz + "/regressions"
        let targets = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix("fuzz_model") }
        return targets.sorted().flatMap { target in
            ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + target)) ?? [])
                .filter { !$0.hasPrefix(".") && $0.hasSuffix(".dsm") }.sorted().map { "\(folder)/\(target)/\($0)" }
        }
    }
    static var examples: String { root + "/examples" }
    /// The default model dsc ships (the conv3 network).
    static var shippedModel: String { root + "/Sources/dsc/Resources/default.dsm" }
    /// The fully connected model dsc ships as `mlp` (784-512-512-10, f16).
    static var shippedMLP: String { root + "/Sources/dsc/Resources/mlp.dsm" }

    /// The labelled digit pictures `NNNNN_L.png` of `Tests/Fixtures/digits-png`
    /// (MNIST test images as a user's scan would look; see its README).
    static func digitPNGs() throws -> [(path: String, label: Int)] {
        let folder = root + "/Tests/Fixtures/digits-png"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw CTestError("the digit pictures are missing: no folder \(folder)")
        }
        let files = try names.filter { $0.hasSuffix(".png") }.sorted().map { name -> (String, Int) in
            guard let label = labelOfFileName(name) else { throw CTestError("\(name): no _L label in the name") }
            return (folder + "/" + name, label)
        }
        guard !files.isEmpty else { throw CTestError("no PNG files in \(folder)") }
        return files
    }

    /// The digit after the last underscore of `NNNN_L.png`.
    static func labelOfFileName(_ name: String) -> Int? {
        let base = (name as NSString).lastPathComponent
        guard base.hasSuffix(".png"), let underscore = base.lastIndex(of: "_") else { return nil }
        let label = base[base.index(after: underscore)..<base.index(base.endIndex, offsetBy: -4)]
        return label.count == 1 ? Int(label) : nil
    }

    /// The MNIST test images' file in `$DEEPSCRATCH_DATA` (`MNISTFixture`).
    static func mnistTestImages() throws -> String {
        IDXDataset.locate("t10k-images-idx3-ubyte", in: try MNISTFixture.checkedFolder())!
    }

    /// The folder of this build's products: the one holding the test
    /// executable (`/proc/self/exe`), where `swift build --build-tests` also
    /// puts `libdeepscratch.so`.
    static func buildProducts() throws -> String {
        var folders: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let url = URL(fileURLWithPath: exe).deletingLastPathComponent()
            folders += [url.path, url.deletingLastPathComponent().path]
        }
        let bundle = Bundle.main.bundleURL
        folders += [bundle.path, bundle.deletingLastPathComponent().path]
        for folder in folders where FileManager.default.fileExists(atPath: folder + "/libdeepscratch.so") {
            return folder
        }
        throw CTestError("libdeepscratch.so not found next to the test executable (looked in \(folders)); build with 'swift build --build-tests'")
    }

    /// The absolute path of `name` found on `$PATH`, or nil.
    static func onPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        return nil
    }
}

/// A fresh folder under the system's temporary folder, removed on deinit.
final class CTemporaryFolder: Sendable {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/deepscratch-capi-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw CTestError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        let created = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        path = URL(fileURLWithPath: created).standardizedFileURL.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = path + "/" + name
        guard FileManager.default.createFile(atPath: p, contents: Data(bytes)) else {
            throw CTestError("cannot write \(p)")
        }
        return p
    }

    @discardableResult
    func write(_ name: String, text: String) throws -> String { try write(name, Array(text.utf8)) }
}

/// The outcome of a finished subprocess.
struct CProcessResult {
    /// The exit status, or the signal's number when a signal ended the process.
    var status: Int32
    var stdout: String
    var stderr: String
    /// True when a signal ended the process.
    var signaled = false

    /// The lines of standard output, without the empty last one.
    var stdoutLines: [String] {
        var lines = stdout.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    var summary: String { "\(signaled ? "signal" : "exit") \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// Runs `executable` with `arguments` (environment nil: inherited) and
/// kills it (only it) if it has not ended after `limit` seconds.
func runCProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                 directory: String? = nil, limit: Double = 300) throws -> CProcessResult {
    let folder = try CTemporaryFolder()
    let outPath = folder.path + "/stdout", errPath = folder.path + "/stderr"
    guard FileManager.default.createFile(atPath: outPath, contents: nil),
          FileManager.default.createFile(atPath: errPath, contents: nil) else {
        throw CTestError("cannot create output files in \(folder.path)")
    }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = out
    process.standardError = err
    let ended = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in ended.signal() }
    try process.run()
    if ended.wait(timeout: .now() + limit) == .timedOut {
        process.terminate()
        ended.wait()
        try? out.close(); try? err.close()
        throw CTestError("\(executable) \(arguments.joined(separator: " ")) did not end within \(Int(limit)) s; killed")
    }
    process.waitUntilExit()
    try? out.close(); try? err.close()
    let stdout = String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self)
    let stderr = String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self)
    return CProcessResult(status: process.terminationStatus, stdout: stdout, stderr: stderr,
                          signaled: process.terminationReason == .uncaughtSignal)
}

/// Runs `body(i)` on `count` new threads at once and waits for all of them;
/// throws if they have not all ended after `limit` seconds (a hang guard,
/// not a timing check).
func runThreads(_ count: Int, limit: Double = 300, _ body: @escaping @Sendable (Int) -> Void) throws {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    guard group.wait(timeout: .now() + limit) == .success else {
        throw CTestError("\(count) threads did not finish within \(Int(limit)) s")
    }
}

/// A lock-protected value shared between threads.
final class Shared<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var current: Value { withLock { $0 } }
}

/// The NUL-terminated text at the start of `buffer` (all of it if it has no NUL).
func cText(_ buffer: [CChar]) -> String {
    let end = buffer.firstIndex(of: 0) ?? buffer.count
    return String(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
