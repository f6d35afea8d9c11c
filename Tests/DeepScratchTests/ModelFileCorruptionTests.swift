import CZlib
import XCTest
@testable import DeepScratch
import DeepScratchTestSupport

/// Damaged and hand-edited model files: every one must be rejected with
/// `.badModel` naming the file and the problem, never a crash or a huge
/// allocation. Edits go through `ModelFileBytes`, which refreshes the
/// declared size and the checksum, so the parser's later checks are reached.
final class ModelFileCorruptionTests: XCTestCase {
    /// Parsing never touches the disk; the path only names the bytes in errors.
    private let path = "/nonexistent/corruption-test.dsm"

    private func good(_ precision: Precision = .f32) -> ModelFileBytes {
        ModelFileBytes(makeSmallModel().model.serialized(precision: precision))
    }

    /// Asserts `bytes` are rejected with `.badModel` naming `path` and each of `mentions`.
    @discardableResult
    private func assertRejected(_ bytes: [UInt8], mentions: [String], _ message: String = "",
                                file: StaticString = #filePath, line: UInt = #line) -> String {
        let error = assertThrowsDeepScratchError(try Model.parse(bytes, path: path), mentions: [path] + mentions,
                                                 message, file: file, line: line)
        guard case let .badModel(p, reason)? = error else {
            XCTFail("expected .badModel, got \(String(describing: error)). \(message)", file: file, line: line)
            return ""
        }
        XCTAssertEqual(p, path, message, file: file, line: line)
        return reason
    }

    // MARK: The test helper itself

    func testHelperRefreshKeepsAnUneditedFileIdenticalAndLoadable() throws {
        var f = good()
        let original = f.bytes
        f.refresh()
        XCTAssertEqual(f.bytes, original, "refreshing an unedited file must not change it")
        XCTAssertEqual(f.sections.map(\.tag), ["META", "TDIR", "TDAT"])
        XCTAssertEqual(f.tensors.map(\.name), ["W1", "b1", "W2", "b2"])
        XCTAssertNoThrow(try Model.parse(f.bytes, path: path))
    }

    // MARK: Truncation, trailing bytes, bit flips

    func testEveryTruncationIsRejectedAsBadModelNamingTheFile() {
        let bytes = good().bytes
        XCTAssertGreaterThan(bytes.count, 500)
        for length in 0..<bytes.count {
            let reason = assertRejected(Array(bytes.prefix(length)), mentions: [], "prefix of \(length) bytes")
            XCTAssertFalse(reason.isEmpty, "prefix \(length)")
            if length == 0 {
                XCTAssertTrue(reason.contains("empty"), "an empty file should be called empty: \(reason)")
            } else if length >= 8 {
                // Shorter than header and checksum, or shorter than the declared size.
                XCTAssertTrue(reason.contains("truncated"), "prefix \(length): \(reason)")
            }
        }
    }

    func testEmptyAndTruncatedFilesOnDiskAreRejectedNamingThePath() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let bytes = good().bytes
        for length in [0, 1, 8, 39, 40, bytes.count / 2, bytes.count - 1] {
            let file = dir + "/cut-\(length).dsm"
            try writeRaw(Array(bytes.prefix(length)), to: file)
            let error = assertThrowsDeepScratchError(try Model.load(path: file), mentions: [file], "length \(length)")
            switch error {
            case .badModel?, .cannotRead?: break
            default: XCTFail("length \(length): expected .badModel or .cannotRead, got \(String(describing: error))")
            }
            XCTAssertThrowsError(try Model.loadNetwork(path: file), "loadNetwork, length \(length)")
        }
    }

    func testTrailingBytesAreRejected() {
        let bytes = good().bytes
        assertRejected(bytes + [0], mentions: ["trailing"])
        assertRejected(bytes + [UInt8](repeating: 0, count: 64), mentions: ["trailing"])
    }

    func testFiveHundredRandomBitFlipsAreAllRejectedWithAReason() {
        let bytes = good().bytes
        var rng = RandomSource(seed: 2024)
        // Checks that run before or instead of the checksum name their field.
        let reasons = ["checksum", "magic", "version", "header size", "truncated", "trailing", "section count"]
        for k in 0..<500 {
            let position = rng.nextInt(below: bytes.count), bit = rng.nextInt(below: 8)
            var flipped = bytes
            flipped[position] ^= UInt8(1 << bit)
            let reason = assertRejected(flipped, mentions: [], "flip \(k): byte \(position) bit \(bit)")
            XCTAssertTrue(reasons.contains { reason.contains($0) },
                          "flip \(k) (byte \(position) bit \(bit)): reason '\(reason)' names none of \(reasons)")
        }
    }

    func testFlipInTheTensorDataIsReportedAsAChecksumMismatch() {
        var f = good()
        let w1 = f.tensor("W1")
        f.bytes[w1.offset + 5] ^= 0x10
        assertRejected(f.bytes, mentions: ["checksum"])
    }

    func testWrongMagicIsRejectedAsNotAModel() {
        var f = good()
        f.bytes[1] = UInt8(ascii: "X")
        f.refresh()
        assertRejected(f.bytes, mentions: ["magic"])
        assertRejected(Array("hello, this is a text file and not a model at all".utf8), mentions: ["magic"])
    }

    // MARK: Sizes and counts that would allocate too much

    func testTensorClaimingTwoToTheFortyValuesIsRejectedWithoutAllocating() {
        var f = good()
        let w1 = f.tensor("W1")
        XCTAssertEqual(w1.dims, [7, 12])
        f.setU32(w1.dimsAt, 1 << 20)
        f.setU32(w1.dimsAt + 4, 1 << 20)
        f.refresh()
        // Allocating 2^40 floats (4 TiB) would crash the test process.
        assertRejected(f.bytes, mentions: ["W1", "2^31"])
    }

    func testTensorDimensionsOverflowingSixtyFourBitsAreRejected() {
        // Rank 2 with u32 maxima: 2^64 − 2^33 + 1 values, near the Int overflow.
        var f = good()
        let w1 = f.tensor("W1")
        f.setU32(w1.dimsAt, .max)
        f.setU32(w1.dimsAt + 4, .max)
        f.refresh()
        assertRejected(f.bytes, mentions: ["W1", "2^31"])
    }

    func testTensorOfExactlyTwoToTheThirtyOneValuesPassesTheCountCheckButNotTheLengthCheck() {
        // 2^16 · 2^15 = 2^31 values is the documented limit: allowed by the
        // count check, then refused because 336 bytes cannot hold them.
        var f = good()
        let w1 = f.tensor("W1")
        f.setU32(w1.dimsAt, 1 << 16)
        f.setU32(w1.dimsAt + 4, 1 << 15)
        f.refresh()
        let reason = assertRejected(f.bytes, mentions: ["W1", "336"])
        XCTAssertFalse(reason.contains("2^31"), "2^31 values is within the limit: \(reason)")
        // One more column: over the limit.
        f.setU32(w1.dimsAt + 4, (1 << 15) + 1)
        f.refresh()
        assertRejected(f.bytes, mentions: ["W1", "2^31"])
    }

    func testTensorCountOfAllOnesIsRejectedNamingTheCount() {
        var f = good()
        f.setU32(f.section("TDIR").payload.lowerBound, 0xFFFF_FFFF)
        f.refresh()
        assertRejected(f.bytes, mentions: ["tensor count", "4294967295"])
    }

    func testTensorCountLargerThanTheDirectoryIsRejected() {
        // Within the 4096 limit, but 4000 entries cannot fit in the directory.
        var f = good()
        f.setU32(f.section("TDIR").payload.lowerBound, 4000)
        f.refresh()
        assertRejected(f.bytes, mentions: ["tensor count", "4000", "left"])
    }

    func testMetadataCountOfAllOnesIsRejectedNamingTheCount() {
        var f = good()
        f.setU32(f.section("META").payload.lowerBound, 0xFFFF_FFFF)
        f.refresh()
        assertRejected(f.bytes, mentions: ["metadata entry count", "4294967295"])
    }

    func testMetadataCountLargerThanTheSectionIsRejected() {
        var f = good()
        f.setU32(f.section("META").payload.lowerBound, 4096)
        f.refresh()
        assertRejected(f.bytes, mentions: ["metadata entry count", "4096", "left"])
    }

    func testMetadataArrayLengthOfAllOnesIsRejected() {
        for key in ["model.layers", "model.input_shape", "custom.doubles"] {
            var f = good()
            let e = f.meta(key)
            f.setU32(e.valueAt, 0xFFFF_FFFF)
            f.refresh()
            assertRejected(f.bytes, mentions: [key, "4294967295"], key)
        }
    }

    func testMetadataArrayLengthBeyondTheSectionIsRejected() {
        // 1000 i64 values need 8000 bytes; the section holds far fewer.
        var f = good()
        f.setU32(f.meta("model.input_shape").valueAt, 1000)
        f.refresh()
        assertRejected(f.bytes, mentions: ["model.input_shape", "1000"])
    }

    func testStringLengthBeyondTheSectionIsRejected() {
        // Above the 1 MiB string limit, and within it but past the section.
        for length: UInt32 in [0xFFFF_FFF0, 100_000] {
            var f = good()
            f.setU32(f.meta("input.polarity").valueAt, length)
            f.refresh()
            assertRejected(f.bytes, mentions: ["input.polarity", "\(length)"], "length \(length)")
        }
    }

    func testKeyLengthOfZeroIsRejected() {
        var f = good()
        f.setU16(f.meta("train.dataset").keyAt, 0)
        f.refresh()
        assertRejected(f.bytes, mentions: ["metadata key", "length 0"])
    }

    func testSectionLengthBeyondTheFileIsRejected() {
        var f = good()
        f.setU64(f.section("META").header + 8, 1 << 62)
        f.refresh()
        assertRejected(f.bytes, mentions: ["META", "announces"])
    }

    func testSectionCountOutOfRangeIsRejected() {
        for count: UInt32 in [0, 65, 0xFFFF_FFFF] {
            var f = good()
            f.setU32(24, count)
            f.refresh()
            assertRejected(f.bytes, mentions: ["section count", "\(count)"], "count \(count)")
        }
    }

    func testSectionCountAboveTheSectionsPresentIsRejected() {
        // A fourth section header would start at the checksum.
        var f = good()
        f.setU32(24, 4)
        f.refresh()
        assertRejected(f.bytes, mentions: ["section 4"])
    }

    func testHeaderSizeOtherThanThirtyTwoIsRejected() {
        var f = good()
        f.setU32(12, 40)
        f.refresh()
        assertRejected(f.bytes, mentions: ["header size", "40"])
    }

    func testDeclaredFileSizeMismatchIsRejectedEvenWithAValidChecksum() {
        var f = good()
        f.refresh()
        let actual = UInt64(f.bytes.count)
        for declared in [actual - 8, actual + 8] {
            f.setU64(16, declared)
            f.bytes.replaceSubrange((f.bytes.count - 8)..., with: leBytes(XXH64.hash(Array(f.bytes.dropLast(8)))))
            assertRejected(f.bytes, mentions: ["\(declared)"], "declared \(declared)")
        }
    }

    // MARK: Versions and sections

    func testNewerMajorVersionIsRejectedNamingBothVersions() {
        var f = good()
        f.setU16(8, 2)
        f.refresh()
        // The reader names its own version, 1.1 since convolution layers.
        assertRejected(f.bytes, mentions: ["2.0", "\(ModelFormat.major).\(ModelFormat.minor)", "newer"])
    }

    func testMajorVersionZeroIsRejected() {
        var f = good()
        f.setU16(8, 0)
        f.refresh()
        assertRejected(f.bytes, mentions: ["0.0"])
    }

    func testNewerMinorVersionIsAccepted() throws {
        var f = good()
        f.setU16(10, 7)
        f.refresh()
        let model = try Model.parse(f.bytes, path: path)
        XCTAssertEqual(model.fileInfo?.majorVersion, 1)
        XCTAssertEqual(model.fileInfo?.minorVersion, 7)
        XCTAssertEqual(model.architecture.sizes, [12, 7, 5])
    }

    func testUnknownOptionalSectionIsSkipped() throws {
        let reference = try Model.parse(good().bytes, path: path)
        // At the end, and before META (which moves every tensor: the helper
        // shifts their offsets by the inserted 64 bytes).
        for before in [nil, 0, 2] as [Int?] {
            var f = good()
            f.insertSection(tag: "XTRA", flags: 0, payload: Array("future data \u{1}\u{2}".utf8), before: before)
            XCTAssertEqual(f.u32(24), 4)
            let model = try Model.parse(f.bytes, path: path)
            XCTAssertEqual(model.parameters, reference.parameters, "before \(String(describing: before))")
            XCTAssertEqual(model.metadata, reference.metadata)
            XCTAssertEqual(model.fileInfo?.sections.filter { $0 == "XTRA" }.count, 1)
            XCTAssertEqual(model.fileInfo?.sections.count, 4)
        }
    }

    func testUnknownRequiredSectionIsRejectedNamingItsTag() {
        var f = good()
        f.insertSection(tag: "XREQ", flags: 1, payload: [1, 2, 3], before: nil)
        assertRejected(f.bytes, mentions: ["XREQ", "required"])
    }

    func testDuplicateSectionIsRejected() {
        for tag in ["META", "TDIR"] {
            var f = good()
            let s = f.section(tag)
            f.insertSection(tag: tag, flags: 1, payload: Array(f.bytes[s.payload]), before: nil)
            assertRejected(f.bytes, mentions: [tag, "twice"], tag)
        }
    }

    func testMissingDataSectionIsRejected() {
        var f = good()
        f.removeSection("TDAT")
        XCTAssertEqual(f.sections.map(\.tag), ["META", "TDIR"])
        assertRejected(f.bytes, mentions: ["TDAT", "missing"])
    }

    func testMissingMetadataSectionIsRejected() {
        // Rename META to an optional unknown tag: it is skipped, and META is missing.
        var f = good()
        let s = f.section("META")
        f.bytes.replaceSubrange(s.header..<(s.header + 4), with: Array("MEXA".utf8))
        f.setU32(s.header + 4, 0)
        f.refresh()
        assertRejected(f.bytes, mentions: ["META", "missing"])
    }

    func testNonAsciiSectionTagIsRejected() {
        var f = good()
        f.bytes[f.section("TDIR").header] = 0xC3
        f.refresh()
        assertRejected(f.bytes, mentions: ["ASCII"])
    }

    // MARK: Tensor directory

    func testTensorOffsetNotSixtyFourByteAlignedIsRejected() {
        var f = good()
        let b2 = f.tensor("b2")
        f.setU64(b2.offsetAt, UInt64(b2.offset + 8))
        f.refresh()
        assertRejected(f.bytes, mentions: ["b2", "aligned"])
    }

    func testTensorOutsideTheDataSectionIsRejected() {
        let base = good()
        let data = base.section("TDAT").payload
        let b2 = base.tensor("b2")
        let alignedEnd = (data.upperBound + 63) / 64 * 64
        // Past the end, before the start (offset 0), and near 2^64 (overflow).
        for offset: UInt64 in [UInt64(alignedEnd), 0, UInt64.max - 63] {
            var f = base
            f.setU64(b2.offsetAt, offset)
            f.refresh()
            assertRejected(f.bytes, mentions: ["b2", "outside"], "offset \(offset)")
        }
        // A length reaching past the end from a valid offset, and the largest length.
        for length: UInt64 in [UInt64(data.upperBound - b2.offset + 1), .max] {
            var f = base
            f.setU64(b2.lengthAt, length)
            f.refresh()
            assertRejected(f.bytes, mentions: ["b2", "outside"], "length \(length)")
        }
    }

    func testOverlappingTensorsAreRejected() {
        var f = good()
        f.setU64(f.tensor("b1").offsetAt, UInt64(f.tensor("W1").offset))
        f.refresh()
        assertRejected(f.bytes, mentions: ["W1", "b1", "overlap"])
    }

    func testTensorWithTheWrongByteLengthIsRejected() {
        var f = good()
        let w1 = f.tensor("W1")
        XCTAssertEqual(w1.length, 7 * 12 * 4)
        f.setU64(w1.lengthAt, UInt64(w1.length - 4))
        f.refresh()
        assertRejected(f.bytes, mentions: ["W1", "332", "336"])
        // f16: 2 bytes per value.
        var h = good(.f16)
        let hw = h.tensor("W1")
        XCTAssertEqual(hw.length, 7 * 12 * 2)
        h.setU64(hw.lengthAt, UInt64(hw.length + 2))
        h.refresh()
        assertRejected(h.bytes, mentions: ["W1", "170", "168"])
    }

    func testUnknownDtypeIsRejected() {
        var f = good()
        f.bytes[f.tensor("W2").dtypeAt] = 9
        f.refresh()
        assertRejected(f.bytes, mentions: ["W2", "dtype 9"])
    }

    func testRankOutsideOneToFourIsRejected() {
        for rank: UInt8 in [0, 5] {
            var f = good()
            f.bytes[f.tensor("b1").dtypeAt + 1] = rank
            f.refresh()
            assertRejected(f.bytes, mentions: ["b1", "rank \(rank)"], "rank \(rank)")
        }
    }

    func testZeroDimensionIsRejected() {
        var f = good()
        f.setU32(f.tensor("W2").dimsAt + 4, 0)
        f.refresh()
        assertRejected(f.bytes, mentions: ["W2", "zero dimension"])
    }

    func testDuplicateTensorNameIsRejected() {
        var f = good()
        let b2 = f.tensor("b2")
        f.bytes[b2.nameAt + 3] = UInt8(ascii: "1")   // "b2" → "b1"
        f.refresh()
        assertRejected(f.bytes, mentions: ["b1", "twice"])
    }

    func testMissingParameterTensorIsRejected() {
        var f = good()
        f.bytes[f.tensor("b2").nameAt + 2] = UInt8(ascii: "c")   // "b2" → "c2", an unknown tensor
        f.refresh()
        assertRejected(f.bytes, mentions: ["b2", "missing"])
    }

    func testWeightShapeThatDoesNotMatchTheLayersIsRejected() {
        // [7, 12] → [12, 7]: the same byte length, the wrong shape.
        var f = good()
        let w1 = f.tensor("W1")
        f.setU32(w1.dimsAt, 12)
        f.setU32(w1.dimsAt + 4, 7)
        f.refresh()
        assertRejected(f.bytes, mentions: ["W1", "[12, 7]", "[7, 12]"])
    }

    // MARK: Metadata the model needs

    func testMissingRequiredMetadataKeysAreRejected() {
        for key in ["input.std", "input.mean", "input.polarity", "model.layers", "model.classes", "model.input_shape"] {
            var f = good()
            let e = f.meta(key)
            f.bytes[e.keyAt + 2] = UInt8(ascii: "X")   // "input.std" → "Xnput.std": an unknown key
            f.refresh()
            assertRejected(f.bytes, mentions: [key, "missing"], key)
        }
    }

    func testRequiredKeyOfTheWrongTypeIsRejected() {
        // i64s → f64s: the same bytes, the wrong type.
        var f = good()
        f.bytes[f.meta("model.input_shape").typeAt] = 5
        f.refresh()
        assertRejected(f.bytes, mentions: ["model.input_shape", "not a list of integers"])
    }

    func testUnknownMetadataTypeIsRejected() {
        var f = good()
        f.bytes[f.meta("train.dataset").typeAt] = 7
        f.refresh()
        assertRejected(f.bytes, mentions: ["train.dataset", "unknown type 7"])
    }

    func testStandardDeviationThatIsNotPositiveIsRejected() {
        for std in [0.0, -0.5, .nan, .infinity] {
            var f = good()
            f.setU64(f.meta("input.std").valueAt, std.bitPattern)
            f.refresh()
            assertRejected(f.bytes, mentions: ["std"], "std \(std)")
        }
    }

    func testUnknownPolarityIsRejected() {
        var f = good()
        f.replaceUnique("dark-on-light", with: "dark-on-night")
        assertRejected(f.bytes, mentions: ["polarity", "dark-on-night"])
    }

    func testLayersThatDoNotChainAreRejected() {
        var f = good()
        f.replaceUnique("dense 7 5", with: "dense 6 5")
        assertRejected(f.bytes, mentions: ["dense 6 5", "6 inputs", "gives 7"])
    }

    func testFirstLayerThatDoesNotTakeTheInputShapeIsRejected() {
        var f = good()
        f.replaceUnique("dense 12 7", with: "dense 13 7")
        assertRejected(f.bytes, mentions: ["dense 13 7", "12"])
    }

    func testUnknownActivationLayerIsRejected() {
        var f = good()
        f.replaceUnique("tanh", with: "tang")
        assertRejected(f.bytes, mentions: ["tang"])
    }

    func testLayerListNotEndingWithSoftmaxIsRejected() {
        var f = good()
        f.replaceUnique("softmax", with: "softmin")
        assertRejected(f.bytes, mentions: ["softmax"])
    }

    func testClassCountThatDoesNotMatchTheOutputsIsRejected() {
        // Four labels for five outputs (written by the engine itself: the
        // writer does not check the label count).
        var (model, _) = makeSmallModel()
        model.classes = Array(model.classes.prefix(4))
        assertRejected(model.serialized(), mentions: ["4 class labels", "5 outputs"])
    }

    // MARK: Compressed int8 tensors

    func testCorruptedCompressedTensorIsRejectedDespiteAValidChecksum() {
        let base = good(.int8)
        let w1 = base.tensor("W1")
        XCTAssertEqual(w1.dtype, 4)
        // The zlib header, a byte of the deflate stream, the Adler-32 trailer.
        for position in [0, w1.length / 2, w1.length - 1] {
            var f = base
            f.bytes[w1.offset + position] ^= 0xFF
            f.refresh()
            let reason = assertRejected(f.bytes, mentions: ["W1"], "byte \(position)")
            XCTAssertTrue(reason.contains("damaged") || reason.contains("decompresses") || reason.contains("zlib"),
                          "byte \(position): \(reason)")
        }
    }

    /// Replaces W1's compressed bytes by `stream` (which must fit in its slot).
    private func replacingW1(with stream: [UInt8]) -> ModelFileBytes {
        var f = good(.int8)
        let w1 = f.tensor("W1"), b1 = f.tensor("b1")
        XCTAssertLessThanOrEqual(w1.offset + stream.count, b1.offset, "the stream must fit before b1")
        f.bytes.replaceSubrange(w1.offset..<(w1.offset + stream.count), with: stream)
        f.setU64(w1.lengthAt, UInt64(stream.count))
        f.refresh()
        return f
    }

    func testCompressedTensorThatInflatesToMoreThanItsShapeIsRejected() {
        // W1 [7, 12] as q8 needs 7·4 + 84 = 112 bytes; this stream inflates to 20,000.
        let bomb = zlibCompress([UInt8](repeating: 0, count: 20_000))
        let f = replacingW1(with: bomb)
        assertRejected(f.bytes, mentions: ["W1", "112"])
    }

    func testCompressedTensorThatInflatesToFewerBytesIsRejected() {
        let f = replacingW1(with: zlibCompress([UInt8](repeating: 0, count: 111)))
        assertRejected(f.bytes, mentions: ["W1", "111", "112"])
    }

    func testCompressedTensorWithBytesAfterItsStreamIsRejected() {
        // A valid stream of exactly 112 bytes followed by 4 bytes the length covers.
        let stream = zlibCompress([UInt8](repeating: 1, count: 112)) + [0, 0, 0, 0]
        let f = replacingW1(with: stream)
        assertRejected(f.bytes, mentions: ["W1"])
    }

    func testCompressedTensorOfTheRightLengthLoads() throws {
        // Control for the three tests above: the same replacement with a
        // correct stream loads, and decodes to its scales times its values.
        var q8 = [UInt8]()
        for _ in 0..<7 { q8 += leBytes(Float(0.5).bitPattern) }
        q8 += (0..<84).map { UInt8(bitPattern: Int8($0 % 7 - 3)) }
        let f = replacingW1(with: zlibCompress(q8))
        let model = try Model.parse(f.bytes, path: path)
        XCTAssertEqual(model.parameters[0].values, (0..<84).map { Float($0 % 7 - 3) * 0.5 })
    }
}

// MARK: - Test helpers for model files

/// Little-endian bytes of an integer.
func leBytes<I: FixedWidthInteger>(_ v: I) -> [UInt8] {
    (0..<(I.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
}

/// `bytes` as one zlib stream (RFC 1950), through the system zlib.
func zlibCompress(_ bytes: [UInt8]) -> [UInt8] {
    var length = compressBound(UInt(bytes.count))
    var out = [UInt8](repeating: 0, count: Int(length))
    let rc = compress2(&out, &length, bytes, UInt(bytes.count), Z_BEST_COMPRESSION)
    precondition(rc == Z_OK)
    return Array(out.prefix(Int(length)))
}

/// The bytes a zlib stream inflates to (at most `limit`), or nil if zlib refuses it.
func zlibDecompress(_ bytes: [UInt8], limit: Int) -> [UInt8]? {
    var length = UInt(limit)
    var out = [UInt8](repeating: 0, count: limit)
    let rc = uncompress(&out, &length, bytes, UInt(bytes.count))
    return rc == Z_OK ? Array(out.prefix(Int(length))) : nil
}

/// A model file's bytes and the positions of its fields, found by a small
/// reader written from docs/model-format.md (independent of the engine's
/// parser), with edits that keep the file self-consistent: `refresh` sets
/// the declared size and recomputes the checksum, so a test reaches the
/// parser's checks behind the checksum.
struct ModelFileBytes {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func u16(_ at: Int) -> UInt16 { (0..<2).reduce(0) { $0 | UInt16(bytes[at + $1]) << (8 * $1) } }
    func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) } }
    mutating func setU16(_ at: Int, _ v: UInt16) { bytes.replaceSubrange(at..<(at + 2), with: leBytes(v)) }
    mutating func setU32(_ at: Int, _ v: UInt32) { bytes.replaceSubrange(at..<(at + 4), with: leBytes(v)) }
    mutating func setU64(_ at: Int, _ v: UInt64) { bytes.replaceSubrange(at..<(at + 8), with: leBytes(v)) }
    func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    /// Offset of the checksum.
    var bodyEnd: Int { bytes.count - 8 }

    struct Section {
        var tag: String
        /// Offset of the 16-byte section header.
        var header: Int
        var flags: UInt32
        var payload: Range<Int>
        /// The payload's end rounded up to 8: where the next section starts.
        var end: Int { (payload.upperBound + 7) / 8 * 8 }
    }

    var sections: [Section] {
        var out = [Section]()
        var at = 32
        for _ in 0..<Int(u32(24)) {
            let start = at + 16
            let s = Section(tag: text(at..<(at + 4)), header: at, flags: u32(at + 4),
                            payload: start..<(start + Int(u64(at + 8))))
            out.append(s)
            at = s.end
        }
        return out
    }

    func section(_ tag: String) -> Section { sections.first { $0.tag == tag }! }

    struct Tensor {
        var name: String
        /// Offset of the name's u16 length.
        var nameAt: Int
        var dtypeAt: Int
        var dtype: UInt8
        var dimsAt: Int
        var dims: [Int]
        var offsetAt: Int
        var offset: Int
        var lengthAt: Int
        var length: Int
    }

    var tensors: [Tensor] {
        var at = section("TDIR").payload.lowerBound
        let count = Int(u32(at))
        at += 4
        var out = [Tensor]()
        for _ in 0..<count {
            let nameAt = at, n = Int(u16(at))
            let name = text((at + 2)..<(at + 2 + n))
            let dtypeAt = at + 2 + n, rank = Int(bytes[dtypeAt + 1]), dimsAt = dtypeAt + 2
            let offsetAt = dimsAt + 4 * rank, lengthAt = offsetAt + 8
            out.append(Tensor(name: name, nameAt: nameAt, dtypeAt: dtypeAt, dtype: bytes[dtypeAt], dimsAt: dimsAt,
                              dims: (0..<rank).map { Int(u32(dimsAt + 4 * $0)) },
                              offsetAt: offsetAt, offset: Int(u64(offsetAt)),
                              lengthAt: lengthAt, length: Int(u64(lengthAt))))
            at = lengthAt + 8
        }
        return out
    }

    func tensor(_ name: String) -> Tensor { tensors.first { $0.name == name }! }

    struct MetaEntry {
        var key: String
        /// Offset of the key's u16 length.
        var keyAt: Int
        var typeAt: Int
        var type: UInt8
        /// Offset of the value (for arrays and strings: of their u32 count).
        var valueAt: Int
    }

    var metadata: [MetaEntry] {
        var at = section("META").payload.lowerBound
        let count = Int(u32(at))
        at += 4
        var out = [MetaEntry]()
        for _ in 0..<count {
            let keyAt = at, n = Int(u16(at))
            let key = text((at + 2)..<(at + 2 + n))
            let typeAt = at + 2 + n, type = bytes[typeAt], valueAt = typeAt + 1
            out.append(MetaEntry(key: key, keyAt: keyAt, typeAt: typeAt, type: type, valueAt: valueAt))
            switch type {
            case 1, 2: at = valueAt + 8
            case 3: at = valueAt + 4 + Int(u32(valueAt))
            case 4, 5: at = valueAt + 4 + 8 * Int(u32(valueAt))
            case 6:
                at = valueAt + 4
                for _ in 0..<Int(u32(valueAt)) { at += 4 + Int(u32(at)) }
            default: preconditionFailure("unknown metadata type \(type)")
            }
        }
        return out
    }

    func meta(_ key: String) -> MetaEntry { metadata.first { $0.key == key }! }

    /// Sets the declared file size to the actual one and recomputes the checksum.
    mutating func refresh() {
        setU64(16, UInt64(bytes.count))
        setU64(bodyEnd, XXH64.hash(Array(bytes[0..<bodyEnd])))
    }

    /// Replaces the only occurrence of `old` by `new` (same byte length), then refreshes.
    mutating func replaceUnique(_ old: String, with new: String) {
        let o = Array(old.utf8), n = Array(new.utf8)
        precondition(o.count == n.count, "replacement must keep the length")
        let hits = (0...(bytes.count - o.count)).filter { Array(bytes[$0..<($0 + o.count)]) == o }
        precondition(hits.count == 1, "'\(old)' occurs \(hits.count) times")
        bytes.replaceSubrange(hits[0]..<(hits[0] + o.count), with: n)
        refresh()
    }

    /// Inserts a section before section `index` (nil: after the last one).
    /// The payload is zero-padded so the section takes a multiple of 64
    /// bytes; tensor offsets behind it are shifted, so they stay aligned and
    /// valid. Bumps the section count and refreshes.
    mutating func insertSection(tag: String, flags: UInt32, payload: [UInt8], before index: Int?) {
        precondition(tag.utf8.count == 4)
        let old = sections
        let at = index.map { old[$0].header } ?? old.last!.end
        var padded = payload
        while (16 + padded.count) % 64 != 0 { padded.append(0) }
        let block = Array(tag.utf8) + leBytes(flags) + leBytes(UInt64(padded.count)) + padded
        let shiftsData = at <= old.first { $0.tag == "TDAT" }!.header
        bytes.insert(contentsOf: block, at: at)
        setU32(24, u32(24) + 1)
        if shiftsData {
            for t in tensors { setU64(t.offsetAt, UInt64(t.offset + block.count)) }
        }
        refresh()
    }

    /// Removes the section `tag` (one after the tensor data, or the data
    /// itself), lowers the section count and refreshes.
    mutating func removeSection(_ tag: String) {
        let s = section(tag)
        precondition(s.header >= section("TDAT").header, "only TDAT and later sections can be removed")
        bytes.removeSubrange(s.header..<s.end)
        setU32(24, u32(24) - 1)
        refresh()
    }
}
