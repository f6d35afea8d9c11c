import Foundation
import Glibc
import XCTest
@testable import dsc

/// The four MNIST file names without `.gz`, in the order the loader uses.
private let mnistNames = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

/// Distinct deterministic bytes for a fake `.gz` file (a gzip magic number
/// followed by pseudo-random bytes; the content does not matter here).
private func fakeGzip(_ count: Int, seed: UInt64) -> [UInt8] {
    var x = seed | 1
    return [0x1F, 0x8B, 0x08, 0x00] + (0..<count).map { _ in
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        return UInt8(truncatingIfNeeded: x >> 29)
    }
}

/// A folder holding four fake MNIST `.gz` files, their bytes and their
/// SHA-256 according to `/usr/bin/sha256sum`.
private final class FakeMNIST {
    let folder: TemporaryFolder
    var bytes: [String: [UInt8]] = [:]
    var sums: [String: String] = [:]

    init(skipping skipped: Set<String> = []) throws {
        folder = try TemporaryFolder()
        for (i, name) in mnistNames.enumerated() where !skipped.contains(name) {
            let file = name + ".gz"
            // Sizes below, at and above one read buffer, one above 64 KiB.
            let content = fakeGzip([1000, 70_000, 4096, 10][i], seed: UInt64(i + 1) * 0x2545_F491_4F6C_DD1D)
            let path = try folder.write(file, content)
            bytes[file] = content
            sums[file] = try referenceSHA256(ofFile: path)
        }
    }
}

private func cliError(_ result: Result<Void, Error>?, file: StaticString = #filePath, line: UInt = #line) -> CLIError? {
    guard let result else {
        XCTFail("the download did not end (hang)", file: file, line: line)
        return nil
    }
    switch result {
    case .success:
        XCTFail("expected a CLIError, the download succeeded", file: file, line: line)
        return nil
    case let .failure(error):
        guard let e = error as? CLIError else {
            XCTFail("expected a CLIError, got \(type(of: error)): \(error)", file: file, line: line)
            return nil
        }
        return e
    }
}

final class DownloaderTests: XCTestCase {
    private var temporary: PrivateTemporaryDirectory?

    override func setUpWithError() throws {
        try super.setUpWithError()
        bypassProxiesForLoopback()
        temporary = try PrivateTemporaryDirectory()
    }

    override func tearDown() {
        temporary?.restore()
        temporary = nil
        super.tearDown()
    }

    private func downloader(_ mirrors: [String], expected: [String: String], timeout: TimeInterval = 30) -> MNISTDownloader {
        var d = MNISTDownloader()
        d.mirrors = mirrors
        d.expected = expected
        d.timeout = timeout
        return d
    }

    func testDownloadSavesTheFourFilesWithIdenticalBytesAndNoPartFile() throws {
        let served = try FakeMNIST()
        let server = try LocalHTTPServer(root: served.folder.path)
        defer { server.stop() }
        let target = try TemporaryFolder()
        let destination = target.path + "/new/data"  // not there yet: must be created
        let d = downloader([server.baseURL], expected: served.sums)

        let result = runGuarded { try d.download(mnistNames, to: destination) }
        guard let result else { return XCTFail("the download did not end (hang)") }
        XCTAssertNoThrow(try result.get())

        let files = mnistNames.map { $0 + ".gz" }
        XCTAssertEqual(((try? FileManager.default.contentsOfDirectory(atPath: destination)) ?? []).sorted(), files.sorted(),
                       "exactly the four files, no .part or other leftovers")
        for file in files {
            let saved = FileManager.default.contents(atPath: destination + "/" + file).map { [UInt8]($0) }
            XCTAssertEqual(saved, served.bytes[file], "\(file) differs from the served bytes")
        }
        XCTAssertEqual(server.requestPaths.sorted(), files.map { "/" + $0 }.sorted())
    }

    func testMirrorWithoutTrailingSlashStillFindsTheFiles() throws {
        let served = try FakeMNIST()
        let server = try LocalHTTPServer(root: served.folder.path)
        defer { server.stop() }
        let target = try TemporaryFolder()
        let d = downloader(["http://127.0.0.1:\(server.port)"], expected: served.sums)

        let result = runGuarded { try d.download(["t10k-labels-idx1-ubyte"], to: target.path) }
        XCTAssertNoThrow(try result?.get())
        XCTAssertNotNil(result, "the download did not end (hang)")
        XCTAssertEqual(server.requestPaths, ["/t10k-labels-idx1-ubyte.gz"])
        XCTAssertEqual(FileManager.default.contents(atPath: target.path + "/t10k-labels-idx1-ubyte.gz").map { [UInt8]($0) },
                       served.bytes["t10k-labels-idx1-ubyte.gz"])
    }

    func testWrongChecksumThrowsErrorNamingFileSHA256AndFolderAndKeepsNoBadFile() throws {
        let served = try FakeMNIST()
        let server = try LocalHTTPServer(root: served.folder.path)
        defer { server.stop() }
        let target = try TemporaryFolder()
        var sums = served.sums
        let bad = "t10k-labels-idx1-ubyte.gz"
        sums[bad] = String(repeating: "0", count: 64)
        let d = downloader([server.baseURL], expected: sums)

        let result = runGuarded { try d.download(mnistNames, to: target.path) }
        guard let error = cliError(result) else { return }
        XCTAssertTrue(error.message.contains(bad), "names the file: \(error.message)")
        XCTAssertTrue(error.message.contains("SHA-256"), "mentions SHA-256: \(error.message)")
        XCTAssertTrue(error.message.contains(target.path), "tells where to put the files: \(error.message)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: target.path + "/" + bad), "the bad file must not be saved")
        XCTAssertFalse(target.entries().contains { $0.hasSuffix(".part") }, "no .part file left: \(target.entries())")
    }

    func testWrongChecksumLeavesNoCopyOfTheDownloadInTheTemporaryFolder() throws {
        let served = try FakeMNIST()
        let server = try LocalHTTPServer(root: served.folder.path)
        defer { server.stop() }
        let target = try TemporaryFolder()
        let scratch = try XCTUnwrap(temporary).folder
        let file = "train-labels-idx1-ubyte.gz"
        let d = downloader([server.baseURL], expected: [file: String(repeating: "f", count: 64)])

        let result = runGuarded { try d.download(["train-labels-idx1-ubyte"], to: target.path) }
        XCTAssertNotNil(cliError(result))
        let leftovers = scratch.entries().filter {
            FileManager.default.contents(atPath: scratch.path + "/" + $0).map { [UInt8]($0) } == served.bytes[file]
        }
        XCTAssertEqual(leftovers, [], "a rejected download must not stay on disk")
    }

    func testFileMissingOnServerThrowsErrorNamingFileAndFolder() throws {
        let served = try FakeMNIST(skipping: ["t10k-images-idx3-ubyte"])
        let server = try LocalHTTPServer(root: served.folder.path)
        defer { server.stop() }
        let target = try TemporaryFolder()
        let d = downloader([server.baseURL], expected: served.sums)

        let result = runGuarded { try d.download(["t10k-images-idx3-ubyte"], to: target.path) }
        guard let error = cliError(result) else { return }
        XCTAssertTrue(error.message.contains("t10k-images-idx3-ubyte.gz"), "names the file: \(error.message)")
        XCTAssertTrue(error.message.contains("404"), "gives the HTTP status: \(error.message)")
        XCTAssertTrue(error.message.contains(target.path), "names the folder to put files in: \(error.message)")
        XCTAssertEqual(server.requestPaths, ["/t10k-images-idx3-ubyte.gz"])
        XCTAssertEqual(target.entries(), [], "nothing saved for a 404: \(target.entries())")
    }

    func testClosedPortFailsWithClearErrorInsteadOfHanging() throws {
        let port = try closedLocalPort()
        let target = try TemporaryFolder()
        let d = downloader(["http://127.0.0.1:\(port)/"], expected: [:], timeout: 10)

        let result = runGuarded(limit: 120) { try d.download(["train-labels-idx1-ubyte"], to: target.path) }
        guard let error = cliError(result) else { return }
        XCTAssertTrue(error.message.contains("train-labels-idx1-ubyte.gz"), "names the file: \(error.message)")
        XCTAssertTrue(error.message.contains("127.0.0.1:\(port)"), "names the mirror: \(error.message)")
        XCTAssertTrue(error.message.contains(target.path), "names the folder to put files in: \(error.message)")
        XCTAssertFalse(error.message.contains("\n"), "one line: \(error.message)")
        XCTAssertEqual(target.entries(), [])
    }

    func testServerThatNeverAnswersFailsAfterTheTimeoutInsteadOfHanging() throws {
        let empty = try TemporaryFolder()
        let server = try LocalHTTPServer(root: empty.path, silent: true)
        defer { server.stop() }
        let target = try TemporaryFolder()
        let d = downloader([server.baseURL], expected: [:], timeout: 1)

        let result = runGuarded(limit: 120) { try d.download(["t10k-labels-idx1-ubyte"], to: target.path) }
        guard let error = cliError(result) else { return }
        XCTAssertEqual(server.requestPaths, ["/t10k-labels-idx1-ubyte.gz"], "the request did reach the server")
        XCTAssertTrue(error.message.contains("t10k-labels-idx1-ubyte.gz"), "names the file: \(error.message)")
        XCTAssertTrue(error.message.contains(target.path), "names the folder to put files in: \(error.message)")
    }

    func testNextMirrorIsTriedWhenTheFirstIsUnreachable() throws {
        let served = try FakeMNIST()
        let server = try LocalHTTPServer(root: served.folder.path)
        defer { server.stop() }
        let port = try closedLocalPort()
        let target = try TemporaryFolder()
        let d = downloader(["http://127.0.0.1:\(port)/", server.baseURL], expected: served.sums, timeout: 10)

        let result = runGuarded { try d.download(["train-labels-idx1-ubyte"], to: target.path) }
        XCTAssertNotNil(result, "the download did not end (hang)")
        XCTAssertNoThrow(try result?.get())
        XCTAssertEqual(FileManager.default.contents(atPath: target.path + "/train-labels-idx1-ubyte.gz").map { [UInt8]($0) },
                       served.bytes["train-labels-idx1-ubyte.gz"])
    }
}

/// `DataLocation.resolve`: which folder is used, and when it downloads.
final class DataLocationTests: XCTestCase {
    private var savedEnvironment: [String: String?] = [:]
    private let variables = ["DEEPSCRATCH_MNIST_MIRROR", "DEEPSCRATCH_DATA"]
    /// The MNIST files CI provides.
    private let sharedMNIST = DSCHarness.mnistFolder


    private var temporary: PrivateTemporaryDirectory?

    override func setUpWithError() throws {
        try super.setUpWithError()
        bypassProxiesForLoopback()
        // `.some(nil)` records "unset" (assigning plain nil would drop the key).
        for v in variables { savedEnvironment[v] = .some(getenv(v).map { String(cString: $0) }) }
        temporary = try PrivateTemporaryDirectory()
    }

    override func tearDown() {
        for (v, value) in savedEnvironment {
            if let value { setenv(v, value, 1) } else { unsetenv(v) }
        }
        temporary?.restore()
        temporary = nil
        super.tearDown()
    }

    private func resolveGuarded(_ flag: String?) -> Result<String, Error>? {
        final class Box: @unchecked Sendable { var value: String? }
        let box = Box()
        guard let r = runGuarded({ box.value = try DataLocation.resolve(flag) }) else { return nil }
        return r.map { box.value ?? "" }
    }

    func testFolderWithTheFourFilesIsReturnedWithoutAnyRequest() throws {
        let data = try FakeMNIST()
        let server = try LocalHTTPServer(root: data.folder.path)
        defer { server.stop() }
        setenv("DEEPSCRATCH_MNIST_MIRROR", server.baseURL, 1)

        let result = resolveGuarded(data.folder.path)
        XCTAssertEqual(try result?.get(), data.folder.path)
        XCTAssertEqual(server.requestCount, 0, "requests: \(server.requestPaths)")
    }

    func testFolderWithUncompressedFilesIsReturnedWithoutAnyRequest() throws {
        let served = try FakeMNIST()
        let server = try LocalHTTPServer(root: served.folder.path)
        defer { server.stop() }
        setenv("DEEPSCRATCH_MNIST_MIRROR", server.baseURL, 1)
        let data = try TemporaryFolder()
        for name in mnistNames { try data.write(name, [0, 0, 8, 1]) }

        let result = resolveGuarded(data.path)
        XCTAssertEqual(try result?.get(), data.path)
        XCTAssertEqual(server.requestCount, 0, "requests: \(server.requestPaths)")
    }

    func testDataEnvironmentVariableIsUsedWithoutFlag() throws {
        let data = try FakeMNIST()
        let server = try LocalHTTPServer(root: data.folder.path)
        defer { server.stop() }
        setenv("DEEPSCRATCH_MNIST_MIRROR", server.baseURL, 1)
        setenv("DEEPSCRATCH_DATA", data.folder.path, 1)

        let result = resolveGuarded(nil)
        XCTAssertEqual(try result?.get(), data.folder.path)
        XCTAssertEqual(server.requestCount, 0, "requests: \(server.requestPaths)")
    }

    func testRegularFileIsRejectedAsNotAFolder() throws {
        let folder = try TemporaryFolder()
        let file = try folder.write("not-a-folder", [1, 2, 3])
        setenv("DEEPSCRATCH_MNIST_MIRROR", "http://127.0.0.1:\(try closedLocalPort())/", 1)

        let result = resolveGuarded(file)
        guard let result else { return XCTFail("resolve did not end (hang)") }
        XCTAssertThrowsError(try result.get()) { error in
            guard let e = error as? CLIError else { return XCTFail("expected a CLIError, got \(error)") }
            XCTAssertTrue(e.message.contains(file), e.message)
            XCTAssertTrue(e.message.contains("is a file"), e.message)
        }
    }

    /// The byte-exact files of the shared copy match the official sums, so
    /// a server holding them lets resolve() fill in the missing files.
    func testMissingFilesAreDownloadedFromTheMirrorInTheEnvironment() throws {
        guard FileManager.default.fileExists(atPath: sharedMNIST + "/train-labels-idx1-ubyte.gz") else {
            XCTFail("no MNIST copy at \(sharedMNIST)"); return
        }
        let server = try LocalHTTPServer(root: sharedMNIST)
        defer { server.stop() }
        setenv("DEEPSCRATCH_MNIST_MIRROR", server.baseURL, 1)
        let data = try TemporaryFolder()
        // The rebuilt train-images file is there already (its SHA-256 is not the official one).
        try FileManager.default.createSymbolicLink(atPath: data.path + "/train-images-idx3-ubyte.gz",
                                                   withDestinationPath: sharedMNIST + "/train-images-idx3-ubyte.gz")

        let result = resolveGuarded(data.path)
        XCTAssertEqual(try result?.get(), data.path)
        let downloaded = ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        XCTAssertEqual(server.requestPaths.sorted(), downloaded.map { "/" + $0 }.sorted())
        for file in downloaded {
            XCTAssertEqual(FileManager.default.contents(atPath: data.path + "/" + file),
                           FileManager.default.contents(atPath: sharedMNIST + "/" + file), "\(file) differs")
        }
        XCTAssertEqual(data.entries(), (downloaded + ["train-images-idx3-ubyte.gz"]).sorted())
    }

}
