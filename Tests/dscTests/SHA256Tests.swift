import Foundation
import Glibc
import XCTest
@testable import dsc

/// SHA-256 against the FIPS 180-4 / NIST example vectors, and against
/// `/usr/bin/sha256sum` as an independent reference.
final class SHA256Tests: XCTestCase {
    private func digest(_ text: String) -> String { SHA256.hex(Array(text.utf8)) }

    func testEmptyMessageHasTheNISTDigest() {
        XCTAssertEqual(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testABCHasTheNISTDigest() {
        XCTAssertEqual(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testTwoBlock448BitMessageHasTheNISTDigest() {
        XCTAssertEqual(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testTwoBlock896BitMessageHasTheNISTDigest() {
        let message = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
            + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        XCTAssertEqual(digest(message), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    func testOneMillionLetterAHasTheNISTDigest() {
        let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(SHA256.hex(bytes), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testOneMillionLetterAFedInOddChunksHasTheNISTDigest() {
        var s = SHA256()
        var left = 1_000_000
        var i = 0
        let sizes = [1, 63, 64, 65, 1000, 4093]
        while left > 0 {
            let n = min(sizes[i % sizes.count], left)
            s.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
            left -= n
            i += 1
        }
        XCTAssertEqual(s.hexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Deterministic pseudo-random bytes (xorshift), so a failure repeats.
    private func bytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var x = seed
        return (0..<count).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x >> 24)
        }
    }

    func testManySmallUpdatesGiveTheSameDigestAsOneUpdate() {
        let message = bytes(5000)
        let whole = SHA256.hex(message)
        for sizes in [[1], [63], [64], [65], [1, 63, 64, 65], [0, 7, 128, 129, 55, 56, 57], [127, 1, 64]] {
            var s = SHA256()
            var offset = 0
            var i = 0
            while offset < message.count {
                let n = min(sizes[i % sizes.count], message.count - offset)
                s.update(Array(message[offset..<offset + n]))
                offset += n
                i += 1
            }
            XCTAssertEqual(s.hexDigest(), whole, "chunk sizes \(sizes)")
        }
    }

    func testRawBufferUpdatesOfSlicesGiveTheSameDigestAsOneUpdate() {
        let message = bytes(777, seed: 42)
        var s = SHA256()
        message.withUnsafeBytes { raw in
            var offset = 0
            for n in [3, 61, 64, 200, 0, 449] {
                s.update(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + n]))
                offset += n
            }
            XCTAssertEqual(offset, message.count)
        }
        XCTAssertEqual(s.hexDigest(), SHA256.hex(message))
    }

    /// Lengths around the 55/56/64-byte padding boundaries, where padding
    /// bugs show, checked against the system's sha256sum.
    func testDigestsAroundPaddingBoundariesMatchSha256sum() throws {
        let folder = try TemporaryFolder()
        for length in [0, 1, 54, 55, 56, 57, 63, 64, 65, 111, 112, 119, 120, 127, 128, 129, 1000] {
            let message = bytes(length, seed: UInt64(length) &+ 7)
            let path = folder.path + "/m\(length)"
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(message)))
            XCTAssertEqual(SHA256.hex(message), try referenceSHA256(ofFile: path), "length \(length)")
        }
    }
}
