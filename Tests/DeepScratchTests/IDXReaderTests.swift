import CZlib
import Foundation
import XCTest
@testable import DeepScratch
import DeepScratchTestSupport

/// Reading IDX files, raw and gzip, and every malformed case the reader
/// must reject with an error naming the file.
final class IDXReaderTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory("idx")
    }

    override func tearDown() {
        removeDirectory(dir)
    }

    /// 5 images of 4×4 with pixels 0, 1, 2, … (mod 256) and labels 0…4.
    private let imageCount = 5, side = 4
    private var imagePixels: [UInt8] { (0..<(imageCount * side * side)).map { UInt8($0 % 256) } }
    private var imageFile: [UInt8] { idxBytes(dimensions: [imageCount, side, side], data: imagePixels) }
    private let labelValues: [UInt8] = [0, 1, 2, 3, 4]
    private var labelFile: [UInt8] { idxBytes(dimensions: [5], data: labelValues) }

    // MARK: Good files

    func testRawThreeDimensionalImagesFileReadsDimensionsAndBytes() throws {
        let path = dir + "/images"
        try writeRaw(imageFile, to: path)
        let idx = try IDXFile.read(path: path, dimensionCount: 3)
        XCTAssertEqual(idx.dimensions, [5, 4, 4])
        XCTAssertEqual(idx.bytes, imagePixels)
    }

    func testRawOneDimensionalLabelsFileReadsDimensionsAndBytes() throws {
        let path = dir + "/labels"
        try writeRaw(labelFile, to: path)
        let idx = try IDXFile.read(path: path, dimensionCount: 1)
        XCTAssertEqual(idx.dimensions, [5])
        XCTAssertEqual(idx.bytes, labelValues)
    }

    func testGzipImagesAndLabelsReadTheSameAsRaw() throws {
        let images = dir + "/images.gz", labels = dir + "/labels.gz"
        try writeGzip(imageFile, to: images)
        try writeGzip(labelFile, to: labels)
        // The files really are gzip (magic 1f 8b), not raw copies.
        XCTAssertEqual(Array(try readAll(images).prefix(2)), [0x1F, 0x8B])
        let img = try IDXFile.read(path: images, dimensionCount: 3)
        XCTAssertEqual(img.dimensions, [5, 4, 4])
        XCTAssertEqual(img.bytes, imagePixels)
        let lab = try IDXFile.read(path: labels, dimensionCount: 1)
        XCTAssertEqual(lab.dimensions, [5])
        XCTAssertEqual(lab.bytes, labelValues)
    }

    func testLargerGzipFileWithIncompressibleDataRoundTrips() throws {
        // 300 random 28×28 images (235 200 bytes), more than zlib's internal buffer.
        let pixels = randomBytes(300 * 28 * 28, seed: 17)
        let path = dir + "/big.gz"
        try writeGzip(idxBytes(dimensions: [300, 28, 28], data: pixels), to: path)
        let idx = try IDXFile.read(path: path, dimensionCount: 3)
        XCTAssertEqual(idx.dimensions, [300, 28, 28])
        XCTAssertEqual(idx.bytes, pixels)
    }

    func testZeroImagesIsAnEmptyButValidFile() throws {
        let path = dir + "/none"
        try writeRaw(idxBytes(dimensions: [0, 4, 4], data: []), to: path)
        let idx = try IDXFile.read(path: path, dimensionCount: 3)
        XCTAssertEqual(idx.dimensions, [0, 4, 4])
        XCTAssertEqual(idx.bytes, [])
    }

    // MARK: Truncated and oversized

    func testTruncatedRawFileThrowsWrongLengthNamingPath() throws {
        let path = dir + "/truncated"
        // Header announces 5·4·4 = 80 bytes; keep 50 of them.
        try writeRaw(Array(imageFile.prefix(16 + 50)), to: path)
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3),
                                                 mentions: [path, "truncated"])
        XCTAssertEqual(error, .idxWrongLength(path: path, expected: 80, found: 50))
    }

    func testTruncatedGzipFileThrowsNamingPath() throws {
        let full = dir + "/full.gz", cut = dir + "/cut.gz"
        // Random pixels so the compressed stream is about as long as the data.
        let pixels = randomBytes(20 * 8 * 8, seed: 5)
        try writeGzip(idxBytes(dimensions: [20, 8, 8], data: pixels), to: full)
        let compressed = try readAll(full)
        XCTAssertGreaterThan(compressed.count, 1000)
        try writeRaw(Array(compressed.prefix(compressed.count / 2)), to: cut)
        assertThrowsDeepScratchError(try IDXFile.read(path: cut, dimensionCount: 3), mentions: [cut])
    }

    func testGzipFileMissingItsTrailerThrowsNamingPath() throws {
        // All the compressed data is there but the 8-byte gzip trailer
        // (CRC-32 and length) is cut off: the stream is cut short, so the
        // file is damaged and must be rejected like any truncated gzip.
        let full = dir + "/full.gz", cut = dir + "/no-trailer.gz"
        try writeGzip(imageFile, to: full)
        let compressed = try readAll(full)
        try writeRaw(Array(compressed.dropLast(8)), to: cut)
        assertThrowsDeepScratchError(try IDXFile.read(path: cut, dimensionCount: 3), mentions: [cut])
    }

    func testGzipFileWithCorruptChecksumThrowsBadGzipNamingPath() throws {
        let full = dir + "/full.gz", bad = dir + "/bad-crc.gz"
        try writeGzip(imageFile, to: full)
        var compressed = try readAll(full)
        // The trailer is CRC-32 (4 bytes) then ISIZE (4 bytes); flip a CRC bit.
        compressed[compressed.count - 8] ^= 0x01
        try writeRaw(compressed, to: bad)
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: bad, dimensionCount: 3), mentions: [bad])
        if case .badGzip = error {} else { XCTFail("expected .badGzip, got \(String(describing: error))") }
    }

    func testTrailingExtraBytesThrowNamingPath() throws {
        let path = dir + "/trailing"
        try writeRaw(imageFile + [1, 2, 3], to: path)
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3),
                                                 mentions: [path, "trailing"])
        if case .idxWrongLength(_, let expected, _)? = error { XCTAssertEqual(expected, 80) } else {
            XCTFail("expected .idxWrongLength, got \(String(describing: error))")
        }
    }

    func testTrailingExtraBytesInGzipThrowNamingPath() throws {
        let path = dir + "/trailing.gz"
        try writeGzip(imageFile + [9], to: path)
        assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3), mentions: [path, "trailing"])
    }

    func testGiganticSizesInTinyRawFileThrowWithoutReadingThem() throws {
        let path = dir + "/gigantic"
        // 1000 · 1000 · 2000 = 2·10⁹ bytes announced (just under 2³¹), 4 present.
        try writeRaw(idxBytes(dimensions: [1000, 1000, 2000], data: [1, 2, 3, 4]), to: path)
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3), mentions: [path])
        XCTAssertEqual(error, .idxWrongLength(path: path, expected: 2_000_000_000, found: 4))
    }

    func testGiganticSizesInTinyGzipFileThrowWithoutAllocating() throws {
        let path = dir + "/gigantic.gz"
        try writeGzip(idxBytes(dimensions: [1000, 1000, 2000], data: [1, 2, 3, 4]), to: path)
        // A gzip file of a few dozen bytes cannot inflate to 2·10⁹ bytes (deflate ≤ 1032:1).
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3), mentions: [path])
        if case .idxBadDimensions? = error {} else { XCTFail("expected .idxBadDimensions, got \(String(describing: error))") }
    }

    func testSizesMultiplyingPastTwoToTheThirtyOneThrow() throws {
        let path = dir + "/overflow"
        // 65536³ = 2⁴⁸ bytes.
        try writeRaw(idxBytes(dimensions: [65536, 65536, 65536], data: []), to: path)
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3), mentions: [path, "2^31"])
        if case .idxBadDimensions? = error {} else { XCTFail("expected .idxBadDimensions, got \(String(describing: error))") }
    }

    func testFileEndingInsideTheHeaderThrowsNamingPath() throws {
        let path = dir + "/short-header"
        try writeRaw([0, 0, 8, 3, 0, 0, 0, 5, 0, 0], to: path) // 6 of the 12 size bytes
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3), mentions: [path, "header"])
        if case .idxBadDimensions? = error {} else { XCTFail("expected .idxBadDimensions, got \(String(describing: error))") }
    }

    // MARK: Wrong kind of file

    func testLabelsFileWhereImagesExpectedThrowsBadMagic() throws {
        let path = dir + "/labels-as-images"
        try writeRaw(labelFile, to: path) // magic 00 00 08 01
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3),
                                                 mentions: [path, "00 00 08 01", "00 00 08 03"])
        XCTAssertEqual(error, .idxBadMagic(path: path, expected: "00 00 08 03", found: "00 00 08 01"))
    }

    func testRandomBytesThrowBadMagic() throws {
        let path = dir + "/random"
        var bytes = randomBytes(200, seed: 77)
        bytes[0] = 0x42 // a nonzero first byte can never be an IDX magic
        try writeRaw(bytes, to: path)
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3), mentions: [path])
        if case .idxBadMagic? = error {} else { XCTFail("expected .idxBadMagic, got \(String(describing: error))") }
    }

    func testFloatElementTypeThrowsBadMagicNamingTheType() throws {
        let path = dir + "/floats"
        try writeRaw(idxBytes(dimensions: [1, 2, 2], data: Array(repeating: 0, count: 16), elementType: 0x0D), to: path)
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3),
                                                 mentions: [path, "0x0d", "unsigned byte"])
        if case .idxBadMagic? = error {} else { XCTFail("expected .idxBadMagic, got \(String(describing: error))") }
    }

    func testEmptyFileThrowsNamingPath() throws {
        let path = dir + "/empty"
        try writeRaw([], to: path)
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 1), mentions: [path, "empty"])
        if case .idxBadMagic? = error {} else { XCTFail("expected .idxBadMagic, got \(String(describing: error))") }
    }

    func testDirectoryPathThrowsCannotRead() throws {
        let path = dir + "/a-folder"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3),
                                                 mentions: [path, "directory"])
        XCTAssertEqual(error, .cannotRead(path: path, reason: "is a directory"))
    }

    func testMissingFileThrowsCannotRead() throws {
        let path = dir + "/does-not-exist"
        let error = assertThrowsDeepScratchError(try IDXFile.read(path: path, dimensionCount: 3), mentions: [path])
        if case .cannotRead? = error {} else { XCTFail("expected .cannotRead, got \(String(describing: error))") }
    }

    // MARK: Pairs and folders

    func testLoadPairReturnsImagesWithTheirLabels() throws {
        let images = dir + "/i", labels = dir + "/l"
        try writeRaw(imageFile, to: images)
        try writeGzip(labelFile, to: labels)
        let set = try IDXDataset.loadPair(images: images, labels: labels, classes: 10)
        XCTAssertEqual(set.count, 5)
        XCTAssertEqual(set.rows, 4)
        XCTAssertEqual(set.cols, 4)
        XCTAssertEqual(set.featureCount, 16)
        XCTAssertEqual(set.pixels, imagePixels)
        XCTAssertEqual(set.labels, labelValues)
    }

    func testLoadPairWithDifferentLabelCountThrowsDataMismatchNamingBothFiles() throws {
        let images = dir + "/i", labels = dir + "/l"
        try writeRaw(imageFile, to: images)
        try writeRaw(idxBytes(dimensions: [4], data: [0, 1, 2, 3]), to: labels)
        let error = assertThrowsDeepScratchError(
            try IDXDataset.loadPair(images: images, labels: labels, classes: 10), mentions: [images, labels, "4", "5"])
        if case .dataMismatch? = error {} else { XCTFail("expected .dataMismatch, got \(String(describing: error))") }
    }

    func testLoadPairWithLabelAtOrAboveClassesThrowsLabelOutOfRange() throws {
        let images = dir + "/i", labels = dir + "/l"
        try writeRaw(imageFile, to: images)
        // Labels 0, 1, 2, 3, 4 with 4 classes: the first bad one is 4 at index 4.
        try writeRaw(labelFile, to: labels)
        let error = assertThrowsDeepScratchError(
            try IDXDataset.loadPair(images: images, labels: labels, classes: 4), mentions: [labels])
        XCTAssertEqual(error, .labelOutOfRange(path: labels, index: 4, label: 4, classes: 4))
    }

    func testLoadPairWithEmptyImageSizeThrows() throws {
        let images = dir + "/i", labels = dir + "/l"
        try writeRaw(idxBytes(dimensions: [5, 0, 4], data: []), to: images)
        try writeRaw(labelFile, to: labels)
        let error = assertThrowsDeepScratchError(
            try IDXDataset.loadPair(images: images, labels: labels, classes: 10), mentions: [images])
        if case .idxBadDimensions? = error {} else { XCTFail("expected .idxBadDimensions, got \(String(describing: error))") }
    }

    /// The four MNIST-named files: 5 training and 3 test images of 4×4,
    /// training images gzip, the rest raw.
    private func writeTinyDataSet(in folder: String) throws -> (trainPixels: [UInt8], testPixels: [UInt8]) {
        let trainPixels = randomBytes(5 * 16, seed: 1)
        let testPixels = randomBytes(3 * 16, seed: 2)
        try writeGzip(idxBytes(dimensions: [5, 4, 4], data: trainPixels), to: folder + "/train-images-idx3-ubyte.gz")
        try writeRaw(idxBytes(dimensions: [5], data: [9, 8, 7, 6, 5]), to: folder + "/train-labels-idx1-ubyte")
        try writeRaw(idxBytes(dimensions: [3, 4, 4], data: testPixels), to: folder + "/t10k-images-idx3-ubyte")
        try writeGzip(idxBytes(dimensions: [3], data: [0, 1, 2]), to: folder + "/t10k-labels-idx1-ubyte.gz")
        return (trainPixels, testPixels)
    }

    func testLoadDirectoryWithAllFourFilesReturnsShapesAndData() throws {
        let (trainPixels, testPixels) = try writeTinyDataSet(in: dir)
        XCTAssertEqual(IDXDataset.missingFiles(in: dir), [])
        let data = try IDXDataset.load(directory: dir)
        XCTAssertEqual(data.train.count, 5)
        XCTAssertEqual(data.train.rows, 4)
        XCTAssertEqual(data.train.cols, 4)
        XCTAssertEqual(data.train.pixels, trainPixels)
        XCTAssertEqual(data.train.labels, [9, 8, 7, 6, 5])
        XCTAssertEqual(data.test.count, 3)
        XCTAssertEqual(data.test.rows, 4)
        XCTAssertEqual(data.test.cols, 4)
        XCTAssertEqual(data.test.pixels, testPixels)
        XCTAssertEqual(data.test.labels, [0, 1, 2])
    }

    func testLoadDirectoryWithAFileMissingNamesIt() throws {
        _ = try writeTinyDataSet(in: dir)
        try FileManager.default.removeItem(atPath: dir + "/t10k-labels-idx1-ubyte.gz")
        XCTAssertEqual(IDXDataset.missingFiles(in: dir), ["t10k-labels-idx1-ubyte"])
        let error = assertThrowsDeepScratchError(try IDXDataset.load(directory: dir),
                                                 mentions: [dir + "/t10k-labels-idx1-ubyte"])
        if case .cannotRead? = error {} else { XCTFail("expected .cannotRead, got \(String(describing: error))") }
    }

    func testLocatePrefersTheGzipFile() throws {
        try writeRaw(labelFile, to: dir + "/x")
        XCTAssertEqual(IDXDataset.locate("x", in: dir), dir + "/x")
        try writeGzip(labelFile, to: dir + "/x.gz")
        XCTAssertEqual(IDXDataset.locate("x", in: dir), dir + "/x.gz")
        XCTAssertNil(IDXDataset.locate("y", in: dir))
    }

    func testSliceAndSplitLastKeepImagesWithTheirLabels() {
        let set = LabeledImages(rows: 1, cols: 2, pixels: [0, 1, 10, 11, 20, 21, 30, 31], labels: [0, 1, 2, 3])
        let (train, dev) = set.splitLast(1)
        XCTAssertEqual(train.pixels, [0, 1, 10, 11, 20, 21])
        XCTAssertEqual(train.labels, [0, 1, 2])
        XCTAssertEqual(dev.pixels, [30, 31])
        XCTAssertEqual(dev.labels, [3])
        let middle = set.slice(1..<3)
        XCTAssertEqual(middle.pixels, [10, 11, 20, 21])
        XCTAssertEqual(middle.labels, [1, 2])
    }
}
