import XCTest
@testable import DeepScratch

/// XXH64, the model file's checksum, against reference values computed
/// outside this code base.
final class XXH64Tests: XCTestCase {
    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    // Reference values from the independent Python `xxhash` package
    // (`xxhash.xxh64_intdigest(data, seed)`), seeds 0 and 7; cross-checked
    // with Debian's C reference library libxxhash 0.8.1 through ctypes.

    func testEmptyInputMatchesTheReferenceForSeedZeroAndSeven() {
        XCTAssertEqual(XXH64.hash([UInt8]()), 0xEF46_DB37_51D8_E999)
        XCTAssertEqual(XXH64.hash([UInt8](), seed: 7), 0x95F0_626F_6F0A_4409)
    }

    func testOneByteInputMatchesTheReference() {
        XCTAssertEqual(XXH64.hash(bytes("a")), 0xD24E_C4F1_A98C_6E5B)
        XCTAssertEqual(XXH64.hash(bytes("a"), seed: 7), 0xDC63_49D4_89E0_F965)
    }

    func testThreeByteInputMatchesTheReference() {
        XCTAssertEqual(XXH64.hash(bytes("abc")), 0x44BC_2CF5_AD77_0999)
        XCTAssertEqual(XXH64.hash(bytes("abc"), seed: 7), 0x9E75_5206_1566_76D7)
    }

    func testHundredBytesWithStripesAndAFourByteTailMatchTheReference() {
        // 100 = 3 stripes of 32 + a 4-byte tail.
        let data = bytes(String(repeating: "0123456789", count: 10))
        XCTAssertEqual(data.count, 100)
        XCTAssertEqual(XXH64.hash(data), 0xF80E_7B96_315A_FFFA)
        XCTAssertEqual(XXH64.hash(data, seed: 7), 0xA314_A8F8_5DA8_C7D1)
    }

    func testEveryByteValueThreeTimesMatchesTheReference() {
        // 768 bytes: whole stripes only, every byte value (sign bits included).
        let data = (0..<3).flatMap { _ in (0...255).map { UInt8($0) } }
        XCTAssertEqual(XXH64.hash(data), 0x8E03_C838_C596_036F)
        XCTAssertEqual(XXH64.hash(data, seed: 7), 0xB1E1_0F6C_5294_CD6B)
    }

    func testEveryLengthUpToSeventyMatchesTheReference() {
        // Every combination of short/long input and 8-, 4- and 1-byte tails.
        // Data: byte i = (31·i + 7) mod 256. Values from libxxhash 0.8.1
        // (Debian libxxhash0) called through Python ctypes, seed 0.
        let expected: [UInt64] = [
            0xef46db3751d8e999, 0xa96c7f0ce858bbb7, 0xac378c5993cd5f9a, 0x56e6957632a487f9,
            0xc60d15b1e3ff8f04, 0x808815858624dd4e, 0xcf22b4e87e9bbd00, 0xafbefc3d6c6f9a8e,
            0x3da5c7aa269683e0, 0x4b17a9ba9e215c09, 0x6b889090b8a922b8, 0x1fc070e44716bd8e,
            0x8fe8ab1c1fd0666e, 0x0382284cc19c4abb, 0x1523f762201ba56e, 0xae2a37eb9357caa7,
            0xa19ad429b02bc413, 0xfe9f0feb7eeedc09, 0xa44dbc53c815d4fe, 0x3693e04c0dfc7dd2,
            0x0bfbadb368e7f37c, 0xfe78683697d5c575, 0xb07142420c77fe7f, 0xe77b1fcea84118c3,
            0x929438e5c2159ef9, 0x7e6c95919380459f, 0xaf2efe1aa0cf37dc, 0x8edaa24c28d12ec6,
            0xa36b5c4091187d2a, 0xeb1fee1bf0954759, 0x6a54ebe6fe40b928, 0x4a74f3a1a39ad4a1,
            0x8d57d6a4671cc43d, 0x62c9fd21ed857664, 0x42cce8a8f5fc5f1f, 0x85cbcf9e0d9cbeca,
            0xa4475c606b0abc3c, 0x5d71d9fc4b676d9f, 0x88a74ab8eaeb0218, 0x1789542489e59cc4,
            0x49b45332e280f187, 0xb410b48464dc1268, 0x9dacb790a1526540, 0x7c296a6b49b188e7,
            0xa6b69c7cee5d5b54, 0xaa6aeb7198c8c81c, 0x7c4b5a84f7cd59f3, 0x05e3ab06c6bb0a6b,
            0x9f31c521803da811, 0x9f787017de727118, 0xca2eee5cb9fb5469, 0x33a29bd165146948,
            0x76d9caacc61b6870, 0xa7a6e96a5be18eb9, 0x4a6d8c8cb7ab9234, 0x2471440903895716,
            0x69aea7699abf3484, 0x49e8d867c0ac8865, 0xd3928f8d2530d5ee, 0x8a1f4d8f4c9045fe,
            0xeafefbf83ab62c32, 0x1be3ba2ea41289be, 0x7acaef6ae2f7a5b6, 0x5c320a0d2707057f,
            0x7bbabbc45729d17e, 0xf3980c34bae65dc1, 0x37082d58ba4215f9, 0x6acef358c3e521bd,
            0x2c0a027bbf50ec18, 0x7d90ea5f45d705cb, 0x383a51c48c4f8f4c,
        ]
        let data = (0..<70).map { UInt8(truncatingIfNeeded: 31 * $0 + 7) }
        for n in 0...70 {
            XCTAssertEqual(XXH64.hash(Array(data.prefix(n))), expected[n], "length \(n)")
        }
    }

    func testLargestSeedMatchesTheReference() {
        // Seed 2^64 − 1 makes the lane set-up wrap; value from libxxhash 0.8.1.
        XCTAssertEqual(XXH64.hash(bytes("abc"), seed: .max), 0x2830_6E58_9CC0_2176)
    }

    func testHashOfAnUnalignedBufferEqualsHashOfTheSameBytesCopied() {
        // The pointer overload must not depend on the buffer's alignment.
        let data = (0..<3).flatMap { _ in (0...255).map { UInt8($0) } }
        data.withUnsafeBytes { raw in
            for start in 1..<8 {
                let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + 100)])
                XCTAssertEqual(XXH64.hash(slice), XXH64.hash(Array(data[start..<(start + 100)])), "start \(start)")
            }
            // Whole buffer through the pointer overload: the reference value above.
            XCTAssertEqual(XXH64.hash(raw), 0x8E03_C838_C596_036F)
        }
    }

    func testOneFlippedBitChangesTheHash() {
        let data = bytes(String(repeating: "0123456789", count: 10))
        let reference = XXH64.hash(data)
        for position in [0, 31, 32, 63, 95, 96, 99] {
            for bit in 0..<8 {
                var flipped = data
                flipped[position] ^= UInt8(1 << bit)
                XCTAssertNotEqual(XXH64.hash(flipped), reference, "byte \(position) bit \(bit)")
            }
        }
    }
}
