import DeepScratch
import CLibPNG
import Glibc

/// PNG reading and writing through libpng's simplified API (`png_image_*`),
/// which converts every color type, bit depth and interlacing to the
/// 8-bit gray + alpha the preprocessor works on.
public enum PNG {
    /// Largest width or height accepted.
    public static let maximumSide = 16_384
    /// Largest pixel count accepted (decompression bombs are refused before decoding).
    public static let maximumPixels = 64 * 1024 * 1024

    /// Decodes the PNG file at `path`.
    /// - Throws: `DeepScratchError.badImage` naming the file and the problem
    ///   (not a PNG, truncated, zero-sized, too large), `.cannotRead` if it cannot be opened.
    public static func read(path: String) throws -> GrayImage {
        var st = stat()
        guard stat(path, &st) == 0 else { throw DeepScratchError.cannotRead(path: path, reason: systemErrorText()) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw DeepScratchError.cannotRead(path: path, reason: "is a directory") }
        if st.st_size == 0 { throw DeepScratchError.badImage(path: path, reason: "the file is empty") }
        guard let file = fopen(path, "rb") else { throw DeepScratchError.cannotRead(path: path, reason: systemErrorText()) }
        defer { fclose(file) }
        var signature = [UInt8](repeating: 0, count: 8)
        let signatureLength = signature.withUnsafeMutableBytes { fread($0.baseAddress, 1, 8, file) }
        guard signatureLength == 8, signature == pngSignature else {
            throw DeepScratchError.badImage(path: path, reason: "not a PNG file (no PNG signature)")
        }
        // libpng stops reading after the image data: a file cut after it
        // (IEND lost) would pass, so look for IEND at the end first.
        var tail = [UInt8](repeating: 0, count: 64)
        let tailLength = min(64, Int(st.st_size))
        fseek(file, -tailLength, SEEK_END)
        let got = tail.withUnsafeMutableBytes { fread($0.baseAddress, 1, tailLength, file) }
        rewind(file)
        if got == tailLength, !endsWithIEND(tail.prefix(tailLength)) {
            throw DeepScratchError.badImage(path: path, reason: "truncated PNG: the file does not end with an IEND chunk")
        }
        var head = [UInt8](repeating: 0, count: 65536)
        let headLength = head.withUnsafeMutableBytes { fread($0.baseAddress, 1, 65536, file) }
        rewind(file)
        let tagged = declaresColorSpace(head.prefix(headLength))
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        return try decode(&image, name: path, tagged: tagged) { png_image_begin_read_from_stdio(&$0, file) }
    }

    /// Decodes PNG bytes held in memory; `name` labels errors.
    /// - Throws: `DeepScratchError.badImage` naming the problem.
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String = "<memory>") throws -> GrayImage {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw DeepScratchError.badImage(path: name, reason: "the data is empty")
        }
        // The same first checks, and words, as for a file.
        guard bytes.count >= 8, Array(bytes.prefix(8)) == pngSignature else {
            throw DeepScratchError.badImage(path: name, reason: "not a PNG file (no PNG signature)")
        }
        if !endsWithIEND(bytes.suffix(64)) {
            throw DeepScratchError.badImage(path: name, reason: "truncated PNG: the data does not end with an IEND chunk")
        }
        let tagged = declaresColorSpace(bytes.prefix(65536))
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        return try decode(&image, name: name, tagged: tagged) { png_image_begin_read_from_memory(&$0, base, bytes.count) }
    }

    /// Decodes PNG bytes held in memory; `name` labels errors.
    public static func decode(_ bytes: [UInt8], name: String = "<memory>") throws -> GrayImage {
        try bytes.withUnsafeBytes { try decode($0, name: name) }
    }

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// True when the IEND chunk (length 0, type, CRC AE 42 60 82) ends these
    /// last bytes of a file, allowing a little trailing data after it.
    static func endsWithIEND<C: Collection>(_ tail: C) -> Bool where C.Element == UInt8 {
        let iend: [UInt8] = [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]
        let t = Array(tail)
        guard t.count >= iend.count else { return false }
        for start in 0...(t.count - iend.count) where Array(t[start..<(start + iend.count)]) == iend { return true }
        return false
    }

    private static func message(_ image: png_image) -> String {
        var m = image.message
        let text = withUnsafeBytes(of: &m) { raw -> String in
            let chars = raw.prefix { $0 != 0 }
            return String(decoding: chars, as: UTF8.self)
        }
        switch text {
        case "": return "unreadable PNG data"
        case "Read Error": return "truncated or unreadable PNG data (libpng: Read Error)"
        default: return text
        }
    }

    /// - Parameter tagged: the file declares its color space (gAMA, sRGB,
    ///   iCCP or cHRM): 16-bit samples are then taken as libpng linearizes
    ///   them and encoded as sRGB, like 8-bit images; untagged 16-bit samples
    ///   are used as they are.
    private static func decode(_ image: inout png_image, name: String, tagged: Bool,
                               begin: (inout png_image) -> Int32) throws -> GrayImage {
        defer { png_image_free(&image) }
        guard begin(&image) != 0 else { throw DeepScratchError.badImage(path: name, reason: message(image)) }
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0 else { throw DeepScratchError.badImage(path: name, reason: "the image is \(width)x\(height): empty") }
        guard width <= maximumSide, height <= maximumSide else {
            throw DeepScratchError.badImage(path: name, reason: "the image is \(width)x\(height), more than \(maximumSide) pixels on a side")
        }
        guard width * height <= maximumPixels else {
            throw DeepScratchError.badImage(path: name, reason: "the image is \(width)x\(height) = \(width * height) pixels, more than the \(maximumPixels) allowed")
        }
        // Ask for the file's own channels: libpng then only inflates and
        // unfilters (asking for gray from RGB would run its gamma-correct
        // conversion, 3x slower); palettes expand to their colors.
        let native = image.format & png_uint_32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
        let channels = Int((native & png_uint_32(PNG_FORMAT_FLAG_COLOR)) != 0 ? 3 : 1)
            + Int((native & png_uint_32(PNG_FORMAT_FLAG_ALPHA)) != 0 ? 1 : 0)
        // Sides ≤ 2^14 and ≤ 4 channels (checked above): n·channels and the
        // row stride passed to libpng as Int32 (≤ 2^16) cannot overflow, and
        // every GrayImage below gets exactly width × height values.
        let n = width * height
        if image.format & png_uint_32(PNG_FORMAT_FLAG_LINEAR) != 0 {
            // 16-bit samples: read them as they are (linear output keeps the
            // file's values; 8-bit output would pass them through a gamma curve).
            image.format = native | png_uint_32(PNG_FORMAT_FLAG_LINEAR)
            var wide = [UInt16](unsafeUninitializedCapacity: n * channels) { _, count in count = n * channels }
            let ok = wide.withUnsafeMutableBytes { raw in
                png_image_finish_read(&image, nil, raw.baseAddress, Int32(width * channels), nil)
            }
            guard ok != 0 else { throw DeepScratchError.badImage(path: name, reason: message(image)) }
            return narrow(wide, width: width, height: height, channels: channels, encodeSRGB: tagged)
        }
        image.format = native
        var pixels = [UInt8](unsafeUninitializedCapacity: n * channels) { _, count in count = n * channels }
        let ok = pixels.withUnsafeMutableBytes { raw in
            png_image_finish_read(&image, nil, raw.baseAddress, Int32(width * channels), nil)
        }
        guard ok != 0 else { throw DeepScratchError.badImage(path: name, reason: message(image)) }
        let format: PixelFormat = [1: .gray8, 2: .grayAlpha8, 3: .rgb8][channels] ?? .rgba8
        return try pixels.withUnsafeBytes {
            try GrayImage(pixels: $0.baseAddress!, width: width, height: height, stride: width * channels, format: format, name: name)
        }
    }

    /// 16-bit samples (alpha premultiplied, as libpng's linear formats are)
    /// to the 8-bit gray + alpha image.
    static func narrow(_ wide: [UInt16], width: Int, height: Int, channels: Int, encodeSRGB: Bool) -> GrayImage {
        let n = width * height
        var gray = [UInt8](repeating: 0, count: n)
        var alpha = [UInt8](repeating: 255, count: n)
        let hasAlpha = channels == 2 || channels == 4
        for i in 0..<n {
            let o = i * channels
            var v: UInt32
            if channels >= 3 {
                v = (77 * UInt32(wide[o]) + 150 * UInt32(wide[o + 1]) + 29 * UInt32(wide[o + 2]) + 128) >> 8
            } else {
                v = UInt32(wide[o])
            }
            if hasAlpha {
                let a = UInt32(wide[o + channels - 1])
                // Undo the premultiplication: v = v·65535/a.
                v = a == 0 ? 0 : min(65535, (v * 65535 + a / 2) / a)
                alpha[i] = UInt8(truncatingIfNeeded: (a + 128) / 257)
            }
            // v ≤ 65535 on every path above (luma weights sum to 256, min(65535, ·)): inside the table.
            gray[i] = encodeSRGB ? sRGBEncoded[Int(v)] : UInt8(truncatingIfNeeded: (v + 128) / 257)
        }
        return GrayImage(width: width, height: height, gray: gray, alpha: alpha)
    }

    /// Linear 16-bit light to 8-bit sRGB (IEC 61966-2-1).
    static let sRGBEncoded: [UInt8] = (0..<65536).map { i in
        let v = Double(i) / 65535
        let s = v <= 0.0031308 ? 12.92 * v : 1.055 * Glibc.pow(v, 1 / 2.4) - 0.055
        return UInt8(min(255, max(0, (s * 255).rounded())))
    }

    /// True when the chunks before the image data declare a color space
    /// (gAMA, sRGB, iCCP or cHRM).
    static func declaresColorSpace<C: Collection>(_ head: C) -> Bool where C.Element == UInt8 {
        let b = Array(head)
        var at = 8
        while at + 8 <= b.count {
            let length = Int(b[at]) << 24 | Int(b[at + 1]) << 16 | Int(b[at + 2]) << 8 | Int(b[at + 3])
            let type = String(decoding: b[(at + 4)..<(at + 8)], as: UTF8.self)
            if type == "IDAT" || type == "IEND" { return false }
            if ["gAMA", "sRGB", "iCCP", "cHRM"].contains(type) { return true }
            guard length >= 0, length < Int(Int32.max) else { return false }
            at += 12 + length
        }
        return false
    }

    /// Luma, ITU-R BT.601 weights in 8-bit fixed point (77 + 150 + 29 = 256).
    @inline(__always)
    public static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let sum = 77 * UInt32(r) + 150 * UInt32(g) + 29 * UInt32(b) + 128
        return UInt8(truncatingIfNeeded: sum >> 8)
    }

    /// Encodes an 8-bit grayscale image (no alpha) as PNG bytes.
    public static func encodeGray(width: Int, height: Int, pixels: [UInt8]) -> [UInt8] {
        precondition(pixels.count == width * height)
        return encode(width: width, height: height, channels: 1, format: png_uint_32(PNG_FORMAT_GRAY), pixels: pixels)
    }

    /// Encodes an 8-bit RGB image (`width × height × 3` bytes, no alpha) as PNG bytes.
    public static func encodeRGB(width: Int, height: Int, pixels: [UInt8]) -> [UInt8] {
        precondition(pixels.count == width * height * 3)
        return encode(width: width, height: height, channels: 3, format: png_uint_32(PNG_FORMAT_RGB), pixels: pixels)
    }

    private static func encode(width: Int, height: Int, channels: Int, format: png_uint_32, pixels: [UInt8]) -> [UInt8] {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = format
        let stride = Int32(width * channels)
        var size = 0
        _ = pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        precondition(ok != 0, "libpng could not encode a \(width)x\(height) image")
        out.removeLast(out.count - size)
        return out
    }

    /// Writes an 8-bit grayscale image to `path` atomically.
    /// - Throws: `DeepScratchError.cannotWrite`.
    public static func writeGray(width: Int, height: Int, pixels: [UInt8], to path: String) throws {
        try AtomicFile.write(encodeGray(width: width, height: height, pixels: pixels), to: path)
    }
}
