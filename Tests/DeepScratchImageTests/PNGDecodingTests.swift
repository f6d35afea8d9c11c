import CLibPNG
import CZlib
import Foundation
import XCTest
@testable import DeepScratch
import DeepScratchTestSupport
@testable import DeepScratchImage

// MARK: - Fixtures shared with DigitPreprocessorTests

/// The reference digit of these tests: MNIST test image 0 (a 7), read from
/// `$DEEPSCRATCH_DATA` (`MNISTFixture`).
enum ReferenceDigit {
    /// The MNIST test set (`MNISTFixture`); throws (the test then fails) if the files are missing.
    static func testSet() throws -> LabeledImages { try MNISTFixture.testSet() }

    /// MNIST test image `index`: 28×28, light ink (255) on black (0), as stored.
    static func mnist(_ index: Int = 0) throws -> [UInt8] {
        let set = try testSet()
        let n = set.rows * set.cols
        return Array(set.pixels[(index * n)..<((index + 1) * n)])
    }

    /// MNIST test image 0 scaled up `factor` times (nearest neighbour) and
    /// inverted: dark ink on white paper, `28·factor` pixels on a side.
    static func darkOnLight(factor: Int = 2, index: Int = 0) throws -> (side: Int, gray: [UInt8]) {
        let m = try mnist(index)
        let side = 28 * factor
        var out = [UInt8](repeating: 0, count: side * side)
        for y in 0..<side { for x in 0..<side { out[y * side + x] = 255 - m[(y / factor) * 28 + x / factor] } }
        return (side, out)
    }
}

// MARK: - PNG writers: libpng's classic and simplified APIs

/// Collects the bytes libpng's classic writer hands to its write callback.
final class PNGByteSink {
    var bytes: [UInt8] = []
}

enum TestPNGWriter {
    /// Writes a PNG with libpng's classic API: any color type, bit depth and
    /// interlacing. `rows` are the packed PNG rows (most significant bits
    /// first for depths below 8, big-endian samples for 16-bit).
    static func classic(width: Int, height: Int, colorType: Int32, bitDepth: Int32, interlaced: Bool,
                        rows: [[UInt8]], palette: [png_color] = [], paletteAlpha: [UInt8] = []) -> [UInt8] {
        precondition(rows.count == height)
        let sink = PNGByteSink()
        var png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nil, nil, nil)
        precondition(png != nil, "png_create_write_struct failed")
        var info = png_create_info_struct(png)
        precondition(info != nil, "png_create_info_struct failed")
        defer { png_destroy_write_struct(&png, &info) }
        let write: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt8>?, Int) -> Void = { png, data, length in
            guard let png, let data, let io = png_get_io_ptr(png) else { return }
            Unmanaged<PNGByteSink>.fromOpaque(io).takeUnretainedValue()
                .bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
        }
        let flush: @convention(c) (OpaquePointer?) -> Void = { _ in }
        withExtendedLifetime(sink) {
            png_set_write_fn(png, Unmanaged.passUnretained(sink).toOpaque(), write, flush)
            png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), bitDepth, colorType,
                         interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                         PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT)
            if !palette.isEmpty { png_set_PLTE(png, info, palette, Int32(palette.count)) }
            if !paletteAlpha.isEmpty { png_set_tRNS(png, info, paletteAlpha, Int32(paletteAlpha.count), nil) }
            png_write_info(png, info)
            let rowBytes = rows[0].count
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: rowBytes * height)
            defer { buffer.deallocate() }
            var pointers = [UnsafeMutablePointer<UInt8>?]()
            for (y, row) in rows.enumerated() {
                precondition(row.count == rowBytes)
                (buffer + y * rowBytes).update(from: row, count: rowBytes)
                pointers.append(buffer + y * rowBytes)
            }
            // png_write_image runs the Adam7 passes itself when interlacing.
            pointers.withUnsafeMutableBufferPointer { png_write_image(png, $0.baseAddress) }
            png_write_end(png, nil)
        }
        return sink.bytes
    }

    /// Packs samples of `bits` bits (1, 2, 4, 8) into PNG row bytes, most significant first.
    static func pack(_ samples: [UInt8], bits: Int) -> [UInt8] {
        if bits == 8 { return samples }
        let perByte = 8 / bits
        var out = [UInt8](repeating: 0, count: (samples.count + perByte - 1) / perByte)
        for (i, s) in samples.enumerated() {
            precondition(Int(s) < 1 << bits)
            out[i / perByte] |= s << UInt8(8 - bits * (i % perByte + 1))
        }
        return out
    }

    /// 16-bit big-endian bytes of `samples`.
    static func bigEndian16(_ samples: [UInt16]) -> [UInt8] {
        samples.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// Writes 8-bit samples with the simplified API (`png_image_write_to_memory`);
    /// `format` a PNG_FORMAT_* value, with `colormap` (8-bit entries in
    /// `format`'s channels) for color-mapped images.
    static func simplified(width: Int, height: Int, format: UInt32, samples: [UInt8],
                           colormap: [UInt8]? = nil, colormapEntries: Int = 0) -> [UInt8] {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = format
        image.colormap_entries = png_uint_32(colormapEntries)
        let isColormapped = format & png_uint_32(PNG_FORMAT_FLAG_COLORMAP) != 0
        let channels = isColormapped ? 1 : Int(PNGFormatChannels(format))
        precondition(samples.count == width * height * channels)
        let stride = Int32(width * channels)
        return samples.withUnsafeBytes { src in
            (colormap ?? [0]).withUnsafeBytes { map in
                let cmap = colormap == nil ? nil : map.baseAddress
                var size = 0
                _ = png_image_write_to_memory(&image, nil, &size, 0, src.baseAddress, stride, cmap)
                var out = [UInt8](repeating: 0, count: size)
                let ok = out.withUnsafeMutableBytes {
                    png_image_write_to_memory(&image, $0.baseAddress, &size, 0, src.baseAddress, stride, cmap)
                }
                precondition(ok != 0 && size > 0, "png_image_write_to_memory failed")
                return Array(out.prefix(size))
            }
        }
    }

    /// Writes 16-bit linear samples with the simplified API (which records
    /// gAMA 1.0: the samples are linear light).
    static func simplifiedLinear(width: Int, height: Int, format: UInt32, samples: [UInt16]) -> [UInt8] {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = format | png_uint_32(PNG_FORMAT_FLAG_LINEAR)
        let channels = Int(PNGFormatChannels(format))
        precondition(samples.count == width * height * channels)
        let stride = Int32(width * channels)  // in components
        return samples.withUnsafeBytes { src in
            var size = 0
            _ = png_image_write_to_memory(&image, nil, &size, 0, src.baseAddress, stride, nil)
            var out = [UInt8](repeating: 0, count: size)
            let ok = out.withUnsafeMutableBytes {
                png_image_write_to_memory(&image, $0.baseAddress, &size, 0, src.baseAddress, stride, nil)
            }
            precondition(ok != 0 && size > 0, "png_image_write_to_memory failed")
            return Array(out.prefix(size))
        }
    }

    /// A PNG chunk: length, type, data, CRC-32 (zlib's) of type and data.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        let crc = (typeBytes + data).withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        return be32(UInt32(data.count)) + typeBytes + data + be32(crc)
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    /// A PNG built byte by byte: 8-bit gray `width × height`, whose IDAT holds
    /// (zlib-compressed) `rowsOfData` rows of filter byte 0 and black pixels.
    static func handBuilt(width: UInt32, height: UInt32, rowsOfData: Int) -> [UInt8] {
        let ihdr = be32(width) + be32(height) + [8, 0, 0, 0, 0]
        let raw = [UInt8](repeating: 0, count: rowsOfData * (Int(width) + 1))
        var length = compressBound(UInt(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(length))
        let rc = compress(&compressed, &length, raw, UInt(raw.count))
        precondition(rc == Z_OK)
        return signature + chunk("IHDR", ihdr) + chunk("IDAT", Array(compressed.prefix(Int(length)))) + chunk("IEND", [])
    }
}

/// PNG_FORMAT_* values (the parenthesized macros do not import into Swift).
enum PNGFormat {
    static let gray = png_uint_32(0)
    static let alpha = png_uint_32(PNG_FORMAT_FLAG_ALPHA)
    static let color = png_uint_32(PNG_FORMAT_FLAG_COLOR)
    static let ga = alpha
    static let rgb = color
    static let rgba = color | alpha
    static let rgbColormap = color | png_uint_32(PNG_FORMAT_FLAG_COLORMAP)
}

/// The number of channels of a PNG_FORMAT_* value (gray 1, GA 2, RGB 3, RGBA 4).
func PNGFormatChannels(_ format: UInt32) -> UInt32 {
    (format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0 ? 3 : 1) + (format & png_uint_32(PNG_FORMAT_FLAG_ALPHA) != 0 ? 1 : 0)
}

/// Largest absolute difference of two equally long byte arrays (Int.max if the lengths differ).
func maxAbsDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    guard a.count == b.count else { return Int.max }
    var m = 0
    for i in 0..<a.count { m = max(m, abs(Int(a[i]) - Int(b[i]))) }
    return m
}

// MARK: - Tests

/// `PNG.decode` / `PNG.read` on every PNG color type, bit depth and
/// interlacing, written by libpng itself; and every kind of bad file.
final class PNGDecodingTests: XCTestCase {
    /// One encoded variant of the reference digit, with the 8-bit gray image
    /// it must decode to (the reference, quantized to what the variant can hold).
    struct Variant {
        var name: String
        var bytes: [UInt8]
        var expectedGray: [UInt8]
        var expectedAlpha: [UInt8]? = nil
        /// IHDR fields the variant must have: bit depth, color type, interlace method.
        var bitDepth: UInt8
        var colorType: UInt8
        var interlaced: Bool
    }

    private var side = 0
    private var reference: [UInt8] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        (side, reference) = try ReferenceDigit.darkOnLight(factor: 2)
        XCTAssertEqual(side, 56)
    }

    /// `v` (0…255) quantized to `bits` bits: the sample value, and the 8-bit
    /// gray it stands for (sample × 255 / (2^bits − 1), which is what bit
    /// replication gives).
    private func quantize(_ v: UInt8, bits: Int) -> (sample: UInt8, gray: UInt8) {
        let top = (1 << bits) - 1
        let k = (Int(v) * top + 127) / 255  // round to nearest level
        return (UInt8(k), UInt8(k * 255 / top))
    }

    /// A gray palette of `2^bits` evenly spaced levels.
    private func grayPalette(bits: Int) -> [png_color] {
        let top = (1 << bits) - 1
        return (0...top).map { k in let g = UInt8(k * 255 / top); return png_color(red: g, green: g, blue: g) }
    }

    /// Every variant written with the classic API, interlaced or not.
    private func classicVariants(interlaced: Bool) -> [Variant] {
        let w = side, h = side
        let suffix = interlaced ? " interlaced" : ""
        func rows(_ perPixel: (UInt8) -> [UInt8]) -> [[UInt8]] {
            (0..<h).map { y in (0..<w).flatMap { x in perPixel(reference[y * w + x]) } }
        }
        var out = [Variant]()
        // Gray 1, 2, 4 bits (packed) and 8 bits.
        for bits in [1, 2, 4, 8] {
            let packed = (0..<h).map { y in TestPNGWriter.pack((0..<w).map { quantize(reference[y * w + $0], bits: bits).sample }, bits: bits) }
            let expected = reference.map { quantize($0, bits: bits).gray }
            out.append(Variant(name: "gray \(bits)-bit\(suffix)",
                               bytes: TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_GRAY, bitDepth: Int32(bits),
                                                            interlaced: interlaced, rows: packed),
                               expectedGray: expected, bitDepth: UInt8(bits), colorType: 0, interlaced: interlaced))
        }
        // Gray 16: v·257 is the 16-bit sample for the 8-bit level v.
        out.append(Variant(name: "gray 16-bit\(suffix)",
                           bytes: TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_GRAY, bitDepth: 16, interlaced: interlaced,
                                                        rows: rows { TestPNGWriter.bigEndian16([UInt16($0) * 257]) }),
                           expectedGray: reference, bitDepth: 16, colorType: 0, interlaced: interlaced))
        // Gray + alpha, fully opaque.
        out.append(Variant(name: "gray+alpha 8-bit\(suffix)",
                           bytes: TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_GRAY_ALPHA, bitDepth: 8, interlaced: interlaced,
                                                        rows: rows { [$0, 255] }),
                           expectedGray: reference, expectedAlpha: [UInt8](repeating: 255, count: w * h),
                           bitDepth: 8, colorType: 4, interlaced: interlaced))
        out.append(Variant(name: "gray+alpha 16-bit\(suffix)",
                           bytes: TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_GRAY_ALPHA, bitDepth: 16, interlaced: interlaced,
                                                        rows: rows { TestPNGWriter.bigEndian16([UInt16($0) * 257, 65535]) }),
                           expectedGray: reference, expectedAlpha: [UInt8](repeating: 255, count: w * h),
                           bitDepth: 16, colorType: 4, interlaced: interlaced))
        // RGB and RGBA with R = G = B: the luma of a gray pixel is its gray.
        out.append(Variant(name: "RGB 8-bit\(suffix)",
                           bytes: TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_RGB, bitDepth: 8, interlaced: interlaced,
                                                        rows: rows { [$0, $0, $0] }),
                           expectedGray: reference, bitDepth: 8, colorType: 2, interlaced: interlaced))
        out.append(Variant(name: "RGB 16-bit\(suffix)",
                           bytes: TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_RGB, bitDepth: 16, interlaced: interlaced,
                                                        rows: rows { TestPNGWriter.bigEndian16(Array(repeating: UInt16($0) * 257, count: 3)) }),
                           expectedGray: reference, bitDepth: 16, colorType: 2, interlaced: interlaced))
        out.append(Variant(name: "RGBA 8-bit\(suffix)",
                           bytes: TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_RGB_ALPHA, bitDepth: 8, interlaced: interlaced,
                                                        rows: rows { [$0, $0, $0, 255] }),
                           expectedGray: reference, expectedAlpha: [UInt8](repeating: 255, count: w * h),
                           bitDepth: 8, colorType: 6, interlaced: interlaced))
        out.append(Variant(name: "RGBA 16-bit\(suffix)",
                           bytes: TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_RGB_ALPHA, bitDepth: 16, interlaced: interlaced,
                                                        rows: rows { TestPNGWriter.bigEndian16(Array(repeating: UInt16($0) * 257, count: 3) + [65535]) }),
                           expectedGray: reference, expectedAlpha: [UInt8](repeating: 255, count: w * h),
                           bitDepth: 16, colorType: 6, interlaced: interlaced))
        // Palettes of 2, 4, 16 and 256 gray levels at 1, 2, 4, 8 bits per index.
        for bits in [1, 2, 4, 8] {
            let packed = (0..<h).map { y in TestPNGWriter.pack((0..<w).map { quantize(reference[y * w + $0], bits: bits).sample }, bits: bits) }
            out.append(Variant(name: "palette \(bits)-bit\(suffix)",
                               bytes: TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_PALETTE, bitDepth: Int32(bits),
                                                            interlaced: interlaced, rows: packed, palette: grayPalette(bits: bits)),
                               expectedGray: reference.map { quantize($0, bits: bits).gray }, bitDepth: UInt8(bits), colorType: 3,
                               interlaced: interlaced))
        }
        return out
    }

    /// Variants written with the simplified API: 8-bit gray, GA, RGB, RGBA;
    /// 16-bit linear gray, GA, RGB, RGBA (gAMA 1.0); color maps of 2, 4, 16, 256 entries.
    private func simplifiedVariants() -> [Variant] {
        let w = side, h = side
        var out = [Variant]()
        let opaque = [UInt8](repeating: 255, count: w * h)
        let formats: [(String, UInt32, UInt8)] = [
            ("gray", PNGFormat.gray, 0), ("gray+alpha", PNGFormat.ga, 4),
            ("RGB", PNGFormat.rgb, 2), ("RGBA", PNGFormat.rgba, 6),
        ]
        for (name, format, colorType) in formats {
            let hasAlpha = format & png_uint_32(PNG_FORMAT_FLAG_ALPHA) != 0
            let color = format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0
            let samples8 = reference.flatMap { v -> [UInt8] in (color ? [v, v, v] : [v]) + (hasAlpha ? [255] : []) }
            out.append(Variant(name: "simplified \(name) 8-bit",
                               bytes: TestPNGWriter.simplified(width: w, height: h, format: format, samples: samples8),
                               expectedGray: reference, expectedAlpha: hasAlpha ? opaque : nil,
                               bitDepth: 8, colorType: colorType, interlaced: false))
            // Linear 16-bit: the sRGB level v as linear light (IEC 61966-2-1 decoding).
            let samples16 = reference.flatMap { v -> [UInt16] in
                let s = Double(v) / 255
                let linear = s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
                let l = UInt16((linear * 65535).rounded())
                return (color ? [l, l, l] : [l]) + (hasAlpha ? [65535] : [])
            }
            out.append(Variant(name: "simplified \(name) 16-bit linear",
                               bytes: TestPNGWriter.simplifiedLinear(width: w, height: h, format: format, samples: samples16),
                               expectedGray: reference, expectedAlpha: hasAlpha ? opaque : nil,
                               bitDepth: 16, colorType: colorType, interlaced: false))
        }
        for bits in [1, 2, 4, 8] {
            let levels = 1 << bits
            let map = (0..<levels).flatMap { k -> [UInt8] in let g = UInt8(k * 255 / (levels - 1)); return [g, g, g] }
            let indices = reference.map { quantize($0, bits: bits).sample }
            out.append(Variant(name: "simplified colormap of \(levels)",
                               bytes: TestPNGWriter.simplified(width: w, height: h, format: PNGFormat.rgbColormap,
                                                               samples: indices, colormap: map, colormapEntries: levels),
                               expectedGray: reference.map { quantize($0, bits: bits).gray }, bitDepth: UInt8(bits), colorType: 3,
                               interlaced: false))
        }
        return out
    }

    /// Each variant really is of the color type, bit depth and interlacing it claims (IHDR bytes).
    private func checkHeader(_ v: Variant, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Array(v.bytes.prefix(8)), TestPNGWriter.signature, v.name, file: file, line: line)
        guard v.bytes.count > 29 else { return XCTFail("\(v.name): \(v.bytes.count) bytes", file: file, line: line) }
        XCTAssertEqual(String(decoding: v.bytes[12..<16], as: UTF8.self), "IHDR", v.name, file: file, line: line)
        XCTAssertEqual(v.bytes[24], v.bitDepth, "\(v.name): bit depth", file: file, line: line)
        XCTAssertEqual(v.bytes[25], v.colorType, "\(v.name): color type", file: file, line: line)
        XCTAssertEqual(v.bytes[28], v.interlaced ? 1 : 0, "\(v.name): interlace method", file: file, line: line)
    }

    /// Decodes every variant: each must give the reference gray (quantized
    /// as the variant quantizes it) within one level, and its alpha.
    private func assertDecodeLikeTheReference(_ variants: [Variant], file: StaticString = #filePath, line: UInt = #line) {
        for v in variants {
            checkHeader(v, file: file, line: line)
            let image: GrayImage
            do { image = try PNG.decode(v.bytes, name: v.name) } catch {
                XCTFail("\(v.name): decoding failed: \(error)", file: file, line: line); continue
            }
            XCTAssertEqual(image.width, side, v.name, file: file, line: line)
            XCTAssertEqual(image.height, side, v.name, file: file, line: line)
            let d = maxAbsDifference(image.gray, v.expectedGray)
            XCTAssertLessThanOrEqual(d, 1, "\(v.name): gray differs from the reference by up to \(d) levels", file: file, line: line)
            XCTAssertEqual(image.alpha, v.expectedAlpha ?? [UInt8](repeating: 255, count: side * side),
                           "\(v.name): every pixel is opaque", file: file, line: line)
        }
    }

    /// Preprocesses every variant: each must give what the reference
    /// (quantized as the variant quantizes it) gives, within one level.
    private func assertPreprocessLikeTheReference(_ variants: [Variant], file: StaticString = #filePath, line: UInt = #line) throws {
        let preprocessor = DigitPreprocessor()
        var expectedByLevels: [[UInt8]: [UInt8]] = [:]
        for v in variants {
            let expected: [UInt8]
            if let e = expectedByLevels[v.expectedGray] { expected = e } else {
                expected = try preprocessor.process(GrayImage(width: side, height: side, gray: v.expectedGray), name: "reference")
                expectedByLevels[v.expectedGray] = expected
            }
            let out: [UInt8]
            do { out = try preprocessor.process(try PNG.decode(v.bytes, name: v.name), name: v.name) } catch {
                XCTFail("\(v.name): \(error)", file: file, line: line); continue
            }
            XCTAssertEqual(out.count, 28 * 28, v.name, file: file, line: line)
            let d = maxAbsDifference(out, expected)
            XCTAssertLessThanOrEqual(d, 1, "\(v.name): the 28x28 input differs from the reference's by up to \(d) levels",
                                     file: file, line: line)
        }
    }

    /// 1-, 2-, 4- and 8-bit variants: gray, gray+alpha, RGB, RGBA, palettes,
    /// plain and Adam7-interlaced, and the simplified API's 8-bit formats and color maps.
    private func eightBitAndBelow() -> [Variant] {
        let v = (classicVariants(interlaced: false) + classicVariants(interlaced: true) + simplifiedVariants()).filter { $0.bitDepth <= 8 }
        XCTAssertEqual(v.count, 2 * 11 + 8)
        return v
    }

    /// 16-bit gray, gray+alpha, RGB, RGBA with samples v·257 and no gAMA
    /// chunk: per the PNG specification, untagged samples are sRGB like the
    /// 8-bit ones, and every viewer shows v·257 as the 8-bit level v.
    private func untagged16Bit(interlaced: Bool) -> [Variant] {
        let v = classicVariants(interlaced: interlaced).filter { $0.bitDepth == 16 }
        XCTAssertEqual(v.count, 4)
        return v
    }

    /// 16-bit variants written by the simplified API: linear samples, gAMA 1.0.
    private func linear16Bit() -> [Variant] {
        let v = simplifiedVariants().filter { $0.bitDepth == 16 }
        XCTAssertEqual(v.count, 4)
        return v
    }

    func testEightBitAndLowBitDepthPNGsOfEveryColorTypePlainAndInterlacedDecodeToTheReferenceGray() throws {
        assertDecodeLikeTheReference(eightBitAndBelow())
    }

    func testEightBitAndLowBitDepthPNGsOfEveryColorTypePlainAndInterlacedPreprocessLikeTheReference() throws {
        try assertPreprocessLikeTheReference(eightBitAndBelow())
    }

    func testUntagged16BitPNGsDecodeToTheReferenceGray() throws {
        assertDecodeLikeTheReference(untagged16Bit(interlaced: false))
    }

    func testUntagged16BitPNGsPreprocessLikeTheReference() throws {
        try assertPreprocessLikeTheReference(untagged16Bit(interlaced: false))
    }

    func testInterlaced16BitPNGsDecodeToTheReferenceGray() throws {
        assertDecodeLikeTheReference(untagged16Bit(interlaced: true))
    }

    func testInterlaced16BitPNGsPreprocessLikeTheReference() throws {
        try assertPreprocessLikeTheReference(untagged16Bit(interlaced: true))
    }

    func testLinearGamma16BitPNGsDecodeToTheReferenceGray() throws {
        assertDecodeLikeTheReference(linear16Bit())
    }

    func testLinearGamma16BitPNGsPreprocessLikeTheReference() throws {
        try assertPreprocessLikeTheReference(linear16Bit())
    }

    func testQuantizedReferencesStillPreprocessToTheDigit() throws {
        // The low-bit-depth comparisons above are against the quantized
        // reference: check it is still the digit (close to the 8-bit one).
        let preprocessor = DigitPreprocessor()
        let full = try preprocessor.process(GrayImage(width: side, height: side, gray: reference))
        for bits in [1, 2, 4] {
            let q = reference.map { quantize($0, bits: bits).gray }
            let out = try preprocessor.process(GrayImage(width: side, height: side, gray: q))
            let far = zip(out, full).filter { abs(Int($0) - Int($1)) > 64 }.count
            XCTAssertLessThanOrEqual(far, 784 / 10, "\(bits)-bit: \(far) of 784 pixels differ by more than 64 levels")
        }
    }

    func testTintedRGBDecodesToITUBT601Luma() throws {
        // Blue-black ink on cream paper: gray = 0.299 R + 0.587 G + 0.114 B.
        let w = side, h = side
        var rgb = [UInt8](), expected = [UInt8]()
        for v in reference {
            let t = Double(v) / 255
            let r: Double = (20 + t * 230).rounded()
            let g: Double = (30 + t * 210).rounded()
            let b: Double = (90 + t * 110).rounded()
            rgb += [UInt8(r), UInt8(g), UInt8(b)]
            let luma: Double = 0.299 * r + 0.587 * g + 0.114 * b
            expected.append(UInt8(luma.rounded()))
        }
        for interlaced in [false, true] {
            let bytes = TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_RGB, bitDepth: 8, interlaced: interlaced,
                                              rows: (0..<h).map { Array(rgb[($0 * w * 3)..<(($0 + 1) * w * 3)]) })
            let image = try PNG.decode(bytes, name: "tinted")
            let d = maxAbsDifference(image.gray, expected)
            XCTAssertLessThanOrEqual(d, 1, "interlaced \(interlaced): luma off by up to \(d)")
        }
    }

    func testPaletteWithTransparentEntriesDecodesAlpha() throws {
        // 4-bit palette: entry 0 fully transparent white, 1 half-transparent black, others opaque grays.
        let w = 16, h = 4
        let palette = (0..<16).map { k -> png_color in let g = UInt8(k * 17); return png_color(red: g, green: g, blue: g) }
        let alphaTable: [UInt8] = [0, 128]
        let indices = (0..<(w * h)).map { UInt8($0 % 16) }
        let bytes = TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_PALETTE, bitDepth: 4, interlaced: false,
                                          rows: (0..<h).map { TestPNGWriter.pack(Array(indices[($0 * w)..<(($0 + 1) * w)]), bits: 4) },
                                          palette: palette, paletteAlpha: alphaTable)
        let image = try PNG.decode(bytes, name: "palette-trns")
        XCTAssertEqual(image.alpha, indices.map { $0 == 0 ? 0 : ($0 == 1 ? 128 : 255) })
        for i in 0..<(w * h) where indices[i] >= 2 {
            XCTAssertEqual(image.gray[i], indices[i] * 17, "pixel \(i)")
        }
    }

    // MARK: Transparency

    /// The reference digit as black strokes whose opacity is the ink, on a
    /// fully transparent canvas whose (invisible) color is `canvas`.
    private func transparentCanvasVariants(canvas: UInt8) throws -> [(String, [UInt8])] {
        let ink = reference.map { 255 - $0 }  // MNIST intensity: 0 paper … 255 ink
        let w = side, h = side
        func rows(_ perPixel: (UInt8) -> [UInt8]) -> [[UInt8]] {
            (0..<h).map { y in (0..<w).flatMap { x in perPixel(ink[y * w + x]) } }
        }
        // Fully transparent pixels carry the canvas color; the strokes are black.
        let c = canvas
        let c16 = UInt16(c) * 257
        let ga8 = TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_GRAY_ALPHA, bitDepth: 8, interlaced: false,
                                        rows: rows { a -> [UInt8] in a == 0 ? [c, 0] : [0, a] })
        let rgba8 = TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_RGB_ALPHA, bitDepth: 8, interlaced: true,
                                          rows: rows { a -> [UInt8] in a == 0 ? [c, c, c, 0] : [0, 0, 0, a] })
        let rgba16 = TestPNGWriter.classic(width: w, height: h, colorType: PNG_COLOR_TYPE_RGB_ALPHA, bitDepth: 16, interlaced: false,
                                           rows: rows { a -> [UInt8] in
                                               let px: [UInt16] = a == 0 ? [c16, c16, c16, 0] : [0, 0, 0, UInt16(a) * 257]
                                               return TestPNGWriter.bigEndian16(px)
                                           })
        let samples: [UInt8] = ink.flatMap { a -> [UInt8] in a == 0 ? [c, c, c, 0] : [0, 0, 0, a] }
        let simple = TestPNGWriter.simplified(width: w, height: h, format: PNGFormat.rgba, samples: samples)
        return [("gray+alpha 8-bit", ga8), ("RGBA 8-bit interlaced", rgba8), ("RGBA 16-bit", rgba16), ("simplified RGBA 8-bit", simple)]
    }

    func testBlackDigitOnTransparentCanvasPreprocessesLikeTheSameDigitBlackOnWhite() throws {
        let preprocessor = DigitPreprocessor()
        let expected = try preprocessor.process(GrayImage(width: side, height: side, gray: reference))
        for canvas in [UInt8(0), 255] {
            for (name, bytes) in try transparentCanvasVariants(canvas: canvas) {
                let label = "\(name), transparent canvas color \(canvas)"
                let image = try PNG.decode(bytes, name: label)
                XCTAssertTrue(image.hasTransparency, label)
                XCTAssertEqual(image.alpha.filter { $0 == 0 }.count, reference.filter { $0 == 255 }.count,
                               "\(label): the canvas is fully transparent")
                let out = try preprocessor.process(image, name: label)
                let d = maxAbsDifference(out, expected)
                XCTAssertLessThanOrEqual(d, 1, "\(label): differs from the black-on-white digit by up to \(d) levels")
            }
        }
    }

    func testWhiteDigitOnTransparentCanvasPreprocessesLikeTheSameDigitWhiteOnBlack() throws {
        let preprocessor = DigitPreprocessor()
        let lightOnDark = reference.map { 255 - $0 }
        let expected = try preprocessor.process(GrayImage(width: side, height: side, gray: lightOnDark))
        let ink = lightOnDark
        let bytes = TestPNGWriter.simplified(width: side, height: side, format: PNGFormat.ga,
                                             samples: ink.flatMap { a in [255, a] })
        let out = try preprocessor.process(try PNG.decode(bytes, name: "white on transparent"))
        let d = maxAbsDifference(out, expected)
        XCTAssertLessThanOrEqual(d, 1, "differs from the white-on-black digit by up to \(d) levels")
    }

    // MARK: Errors

    /// Asserts that `body` throws a `DeepScratchError` naming `path` and,
    /// in the rest of its text, `problem` (case-insensitive).
    private func assertError(_ body: @autoclosure () throws -> Any, names path: String, problem: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        guard let e = assertThrowsDeepScratchError(try body(), mentions: [path], file: file, line: line) else { return }
        let rest = "\(e)".replacingOccurrences(of: path, with: "").lowercased()
        XCTAssertTrue(rest.contains(problem.lowercased()), "'\(e)' does not say '\(problem)'", file: file, line: line)
    }

    func testRandomBytesAndATextFileAreRejectedAsNotPNGNamingTheFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let random = dir + "/random.png"
        try writeRaw(randomBytes(4096, seed: 7), to: random)
        let text = dir + "/notes.png"
        try writeRaw(Array("This is a text file, not an image.\nSecond line.\n".utf8), to: text)
        for path in [random, text] {
            assertError(try PNG.read(path: path), names: path, problem: "PNG")
            assertError(try PNG.decode(try readAll(path), name: "in-memory " + path), names: "in-memory " + path, problem: "PNG")
        }
    }

    func testEveryTruncationOfASmallPNGThrowsNamingIt() throws {
        let m = try ReferenceDigit.mnist(0)
        // A small interlaced gray PNG and a small RGB one.
        let files: [(String, [UInt8])] = [
            ("gray", PNG.encodeGray(width: 28, height: 28, pixels: m)),
            ("interlaced", TestPNGWriter.classic(width: 28, height: 28, colorType: PNG_COLOR_TYPE_GRAY, bitDepth: 8, interlaced: true,
                                                 rows: (0..<28).map { Array(m[($0 * 28)..<(($0 + 1) * 28)]) })),
            ("RGB", TestPNGWriter.classic(width: 28, height: 28, colorType: PNG_COLOR_TYPE_RGB, bitDepth: 8, interlaced: false,
                                          rows: (0..<28).map { y in (0..<28).flatMap { x in Array(repeating: m[y * 28 + x], count: 3) } })),
        ]
        for (kind, bytes) in files {
            XCTAssertEqual(try PNG.decode(bytes, name: kind).gray, m, "\(kind): the whole file decodes")
            var accepted: [Int] = []
            for length in 0..<bytes.count {
                let name = "\(kind)-prefix-\(length)"
                do {
                    _ = try PNG.decode(Array(bytes.prefix(length)), name: name)
                    accepted.append(length)
                } catch let error as DeepScratchError {
                    if !"\(error)".contains(name) { XCTFail("\(name): '\(error)' does not name the input") }
                } catch {
                    XCTFail("\(name): not a DeepScratchError: \(error)")
                }
            }
            XCTAssertEqual(accepted, [], "\(kind) (\(bytes.count) bytes): these truncated lengths decoded without an error")
        }
    }

    func testTruncatedPNGFileIsRejectedByReadNamingTheFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let bytes = PNG.encodeGray(width: 56, height: 56, pixels: reference)
        for length in [8, 33, bytes.count / 2, bytes.count - 12, bytes.count - 1] {
            let path = dir + "/cut-\(length).png"
            try writeRaw(Array(bytes.prefix(length)), to: path)
            assertThrowsDeepScratchError(try PNG.read(path: path), mentions: [path], "\(length) of \(bytes.count) bytes")
        }
    }

    func testEmptyFileIsRejectedSayingItIsEmpty() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/empty.png"
        try writeRaw([], to: path)
        assertError(try PNG.read(path: path), names: path, problem: "empty")
        assertThrowsDeepScratchError(try PNG.decode([UInt8](), name: "no-bytes"), mentions: ["no-bytes"])
    }

    func testMissingFileIsRejectedWithTheSystemReason() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/does-not-exist.png"
        assertError(try PNG.read(path: path), names: path, problem: String(cString: strerror(ENOENT)))
    }

    func testDirectoryIsRejectedSayingItIsADirectory() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/folder.png"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        assertError(try PNG.read(path: path), names: path, problem: "directory")
    }

    func testHandBuiltHeaderOfASmallImageDecodes() throws {
        // The builder the size tests use makes valid PNGs: 10x3, all data present.
        let image = try PNG.decode(TestPNGWriter.handBuilt(width: 10, height: 3, rowsOfData: 3), name: "small")
        XCTAssertEqual(image.width, 10)
        XCTAssertEqual(image.height, 3)
        XCTAssertEqual(image.gray, [UInt8](repeating: 0, count: 30))
    }

    func testImageDeclaring20000x10IsRejectedBeforeDecodingNamingTheSize() throws {
        // Only one row of data: decoding would fail with a data error instead.
        let bytes = TestPNGWriter.handBuilt(width: 20000, height: 10, rowsOfData: 1)
        assertThrowsDeepScratchError(try PNG.decode(bytes, name: "wide.png"), mentions: ["wide.png", "20000x10"])
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/wide.png"
        try writeRaw(bytes, to: path)
        assertThrowsDeepScratchError(try PNG.read(path: path), mentions: [path, "20000x10"])
    }

    func testImageDeclaring10000x10000IsRejectedBeforeDecodingNamingTheSize() throws {
        let bytes = TestPNGWriter.handBuilt(width: 10000, height: 10000, rowsOfData: 1)
        XCTAssertLessThan(bytes.count, 1000, "the file itself is tiny")
        assertThrowsDeepScratchError(try PNG.decode(bytes, name: "huge.png"), mentions: ["huge.png", "10000x10000"])
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/huge.png"
        try writeRaw(bytes, to: path)
        assertThrowsDeepScratchError(try PNG.read(path: path), mentions: [path, "10000x10000"])
    }

    func testUniformWhiteImageDecodesButHasNoDigit() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/blank.png"
        try writeRaw(PNG.encodeGray(width: 56, height: 56, pixels: [UInt8](repeating: 255, count: 56 * 56)), to: path)
        let image = try PNG.read(path: path)
        XCTAssertEqual(image.gray, [UInt8](repeating: 255, count: 56 * 56))
        assertThrowsDeepScratchError(try DigitPreprocessor().process(image, name: path), mentions: [path, "no digit found"])
    }
}
