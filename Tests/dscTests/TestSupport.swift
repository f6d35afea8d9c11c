import Foundation
import Glibc
import XCTest

// Helpers shared by the dsc tests: temporary folders, a reference SHA-256,
// a tiny HTTP/1.1 server on 127.0.0.1, and subprocesses with a watchdog.

/// A test case with a fresh scratch folder for each test, removed after it.
class ScratchFolderTestCase: XCTestCase {
    var scratch: TemporaryFolder!

    override func setUpWithError() throws {
        try super.setUpWithError()
        scratch = try TemporaryFolder()
    }

    override func tearDown() {
        scratch = nil
        super.tearDown()
    }
}

/// A fresh folder under the system's temporary folder, removed on deinit.
final class TemporaryFolder: Sendable {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/dsc-tests-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw TestSupportError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        let created = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        path = URL(fileURLWithPath: created).standardizedFileURL.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` in this folder and returns its path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = path + "/" + name
        guard FileManager.default.createFile(atPath: p, contents: Data(bytes)) else {
            throw TestSupportError("cannot write \(p)")
        }
        return p
    }

    /// The names of the entries in this folder, sorted.
    func entries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

struct TestSupportError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The SHA-256 of a file as computed by `/usr/bin/sha256sum`, a reference
/// independent of the code under test.
func referenceSHA256(ofFile path: String) throws -> String {
    let result = try runProcess(URL(fileURLWithPath: "/usr/bin/sha256sum"), [path])
    guard result.status == 0, let field = result.stdout.split(separator: " ").first, field.count == 64 else {
        throw TestSupportError("sha256sum \(path) failed: \(result.stderr)")
    }
    return String(field)
}

/// A port on 127.0.0.1 that nothing listens on: bound by a socket that is
/// then closed.
func closedLocalPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let port = try bindLoopback(fd)
    return port
}

/// Binds `fd` to 127.0.0.1 on a port the system chooses and returns that port.
private func bindLoopback(_ fd: Int32) throws -> UInt16 {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestSupportError("bind: \(String(cString: strerror(errno)))") }
    var chosen = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &chosen) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw TestSupportError("getsockname: \(String(cString: strerror(errno)))") }
    return UInt16(bigEndian: chosen.sin_port)
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that serves the files of one
/// folder for `GET /name`, answers 404 for anything else, closes every
/// connection after one response, and records the paths it was asked for.
/// With `silent`, it accepts connections and reads requests but never answers.
final class LocalHTTPServer: @unchecked Sendable {
    let root: String
    let port: UInt16
    let silent: Bool
    private let listener: Int32
    private let lock = NSLock()
    private var requested: [String] = []
    private var heldOpen: [Int32] = []
    private let finished = DispatchSemaphore(value: 0)
    private var stopped = false

    init(root: String, silent: Bool = false) throws {
        self.root = root
        self.silent = silent
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        do {
            port = try bindLoopback(listener)
            guard listen(listener, 16) == 0 else { throw TestSupportError("listen: \(String(cString: strerror(errno)))") }
        } catch {
            close(listener)
            throw error
        }
        let thread = Thread { [self] in serve() }
        thread.name = "LocalHTTPServer"
        thread.start()
    }

    /// The base URL, with a trailing slash.
    var baseURL: String { "http://127.0.0.1:\(port)/" }

    /// The request paths received so far, in order.
    var requestPaths: [String] { lock.withLock { requested } }
    var requestCount: Int { requestPaths.count }

    /// Stops accepting, waits for the serving thread and closes every socket.
    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        finished.wait()
        close(listener)
        for fd in lock.withLock({ heldOpen }) { close(fd) }
    }

    deinit { stop() }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                break
            }
            if lock.withLock({ stopped }) { close(client); break }
            handle(client)
        }
        finished.signal()
    }

    private func handle(_ client: Int32) {
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while request.count < 65536 {
            let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            request += buffer[0..<n]
            if request.count >= 4, request.indices.dropLast(3).contains(where: { Array(request[$0..<$0 + 4]) == end }) {
                break
            }
        }
        let line = String(decoding: request, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = line.split(separator: " ")
        let path = parts.count >= 2 ? String(parts[1]) : ""
        lock.withLock { requested.append(path) }
        if silent {
            lock.withLock { heldOpen.append(client) }
            return
        }
        let name = path.hasPrefix("/") ? String(path.dropFirst()) : path
        var isDir: ObjCBool = false
        let file = root + "/" + name
        if parts.first == "GET", !name.isEmpty, !name.contains("/"), !name.hasPrefix("."),
           FileManager.default.fileExists(atPath: file, isDirectory: &isDir), !isDir.boolValue,
           let body = FileManager.default.contents(atPath: file) {
            send(client, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n", body: [UInt8](body))
        } else {
            let body = Array("not found\n".utf8)
            send(client, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n", body: body)
        }
        shutdown(client, Int32(SHUT_WR))
        close(client)
    }

    private func send(_ client: Int32, _ head: String, body: [UInt8]) {
        let all = Array(head.utf8) + body
        var offset = 0
        all.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.send(client, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// The outcome of a finished subprocess.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
    /// True when a signal ended the process (then `status` is the signal's number).
    var signaled = false
    /// The lines of standard error, without empty trailing ones.
    var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty } }
}

/// Runs `executable` with `arguments` and `environment` (nil: inherited),
/// in `directory` (nil: the current one), and kills it (only it) if it has
/// not ended after `limit` seconds.
func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                directory: String? = nil, limit: Double = 600) throws -> ProcessResult {
    let folder = try TemporaryFolder()
    let outPath = folder.path + "/stdout", errPath = folder.path + "/stderr"
    guard FileManager.default.createFile(atPath: outPath, contents: nil),
          FileManager.default.createFile(atPath: errPath, contents: nil) else {
        throw TestSupportError("cannot create output files in \(folder.path)")
    }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let process = Process()
    process.executableURL = executable
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
        throw TestSupportError("\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not end within \(Int(limit)) s; killed")
    }
    process.waitUntilExit()
    try? out.close(); try? err.close()
    let stdout = String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self)
    let stderr = String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self)
    return ProcessResult(status: process.terminationStatus, stdout: stdout, stderr: stderr,
                         signaled: process.terminationReason == .uncaughtSignal)
}

/// Runs `body` on another thread and returns its outcome, or nil if it has
/// not finished within `limit` seconds (a hang guard, not a timing check).
func runGuarded(limit: Double = 300, _ body: @escaping @Sendable () throws -> Void) -> Result<Void, Error>? {
    final class Box: @unchecked Sendable {
        let lock = NSLock()
        var result: Result<Void, Error>?
    }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        let r = Result { try body() }
        box.lock.withLock { box.result = r }
        done.signal()
    }
    thread.start()
    guard done.wait(timeout: .now() + limit) == .success else { return nil }
    return box.lock.withLock { box.result }
}

/// Points TMPDIR at a private folder for one test, so that whatever the
/// code under test leaves in the temporary folder is removed with it.
final class PrivateTemporaryDirectory {
    let folder: TemporaryFolder
    private let saved: String?

    init() throws {
        folder = try TemporaryFolder()
        saved = getenv("TMPDIR").map { String(cString: $0) }
        setenv("TMPDIR", folder.path, 1)
    }

    /// Restores TMPDIR; the folder goes when this object does.
    func restore() {
        if let saved { setenv("TMPDIR", saved, 1) } else { unsetenv("TMPDIR") }
    }
}

/// Keeps requests to 127.0.0.1 away from any proxy the environment names.
func bypassProxiesForLoopback() {
    setenv("no_proxy", "127.0.0.1,localhost", 1)
    setenv("NO_PROXY", "127.0.0.1,localhost", 1)
}
