import CZlib
import Foundation
import XCTest
import DeepScratch

// Helpers shared by the test targets (no tests here): temporary folders,
// files, deterministic bytes, and the assertion on DeepScratch's errors.

/// A fresh, empty folder under the system's temporary directory.
public func makeTemporaryDirectory(_ label: String = #function) throws -> String {
    let safe = label.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("deepscratch-tests-\(safe)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

/// Removes a folder made by `makeTemporaryDirectory` (ignoring errors).
public func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// The bytes of an unsigned-byte IDX file: `00 00 08 n`, `n` big-endian
/// 32-bit sizes, then `data`.
public func idxBytes(dimensions: [Int], data: [UInt8], elementType: UInt8 = 0x08) -> [UInt8] {
    var out: [UInt8] = [0, 0, elementType, UInt8(dimensions.count)]
    for d in dimensions {
        let v = UInt32(d)
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
    return out + data
}

/// Writes `bytes` to `path` as they are.
public func writeRaw(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Writes `bytes` to `path` gzip-compressed, through zlib's gz* interface.
public func writeGzip(_ bytes: [UInt8], to path: String) throws {
    guard let gz = gzopen(path, "wb") else {
        throw NSError(domain: "TestSupport", code: 1, userInfo: [NSLocalizedDescriptionKey: "gzopen \(path)"])
    }
    let written = bytes.withUnsafeBytes { raw -> Int32 in
        raw.count == 0 ? 0 : gzwrite(gz, raw.baseAddress, UInt32(raw.count))
    }
    let closed = gzclose(gz)
    guard Int(written) == bytes.count, closed == Z_OK else {
        throw NSError(domain: "TestSupport", code: 2, userInfo: [NSLocalizedDescriptionKey: "gzwrite \(path)"])
    }
}

/// The whole contents of `path`.
public func readAll(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// `count` pseudo-random bytes (fixed by `seed`).
public func randomBytes(_ count: Int, seed: UInt64, below bound: Int = 256) -> [UInt8] {
    var rng = RandomSource(seed: seed)
    return (0..<count).map { _ in UInt8(rng.nextInt(below: bound)) }
}

/// Asserts that `body` throws a `DeepScratchError` whose description
/// contains every string of `mentions`, and returns the error.
@discardableResult
public func assertThrowsDeepScratchError<R>(
    _ body: @autoclosure () throws -> R, mentions: [String], _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) -> DeepScratchError? {
    do {
        _ = try body()
        XCTFail("expected a DeepScratchError, nothing was thrown. \(message)", file: file, line: line)
        return nil
    } catch let error as DeepScratchError {
        let text = String(describing: error)
        for m in mentions {
            XCTAssertTrue(text.contains(m), "error '\(text)' does not mention '\(m)'. \(message)", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("expected a DeepScratchError, got \(type(of: error)): \(error). \(message)", file: file, line: line)
        return nil
    }
}

/// The MNIST files the tests read: the folder `$DEEPSCRATCH_DATA` names, the
/// one thing outside the repository a test may read (CI sets it; so does
/// the README's test command's user). Nothing else is searched: a fresh
/// clone has nothing beside it.
public enum MNISTFixture {
    /// `$DEEPSCRATCH_DATA` ("" when unset, where nothing will be found).
    public static var folder: String { ProcessInfo.processInfo.environment["DEEPSCRATCH_DATA"] ?? "" }

    /// The folder, checked to hold the four IDX files (gzip or raw).
    /// Missing data is a failure of the calling test, recorded here as well
    /// as thrown: XCTest reports an error thrown from `setUpWithError` as a
    /// skip, and a test must not pass as skipped for want of its data.
    /// - Throws: naming the missing files, or saying `DEEPSCRATCH_DATA` is unset.
    public static func checkedFolder(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let folder = folder
        var problem: String?
        if folder.isEmpty {
            problem = "DEEPSCRATCH_DATA is not set: set it to a folder with MNIST's four IDX files"
        } else if case let missing = IDXDataset.missingFiles(in: folder), !missing.isEmpty {
            problem = "MNIST files \(missing) are missing from \(folder) (DEEPSCRATCH_DATA)"
        }
        if let problem {
            XCTFail(problem, file: file, line: line)
            throw MNISTFixtureError(problem)
        }
        return folder
    }

    nonisolated(unsafe) private static var cachedTest: LabeledImages?
    private static let lock = NSLock()

    /// MNIST's 10,000 test images, read once per test process.
    /// - Throws: as `checkedFolder`, or the reader's error.
    public static func testSet() throws -> LabeledImages {
        lock.lock()
        defer { lock.unlock() }
        if let cachedTest { return cachedTest }
        let folder = try checkedFolder()
        let set = try IDXDataset.loadPair(images: IDXDataset.locate("t10k-images-idx3-ubyte", in: folder)!,
                                          labels: IDXDataset.locate("t10k-labels-idx1-ubyte", in: folder)!, classes: 10)
        cachedTest = set
        return set
    }
}

/// Why the MNIST files the tests need are not there.
public struct MNISTFixtureError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
