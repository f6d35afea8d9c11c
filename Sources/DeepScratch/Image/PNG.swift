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
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        return try decode(&image, name: path) { png_image_begin_read_from_stdio(&$0, file) }
    }

    /// Decodes PNG bytes held in memory; `name` labels errors.
    /// - Throws: `DeepScratchError.badImage` naming the problem.
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String = "<memory>") throws -> GrayImage {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw DeepScratchError.badImage(path: name, reason: "no bytes")
        }
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        return try decode(&image, name: name) { png_image_begin_read_from_memory(&$0, base, bytes.count) }
    }

    /// Decodes PNG bytes held in memory; `name` labels errors.
    public static func decode(_ bytes: [UInt8], name: String = "<memory>") throws -> GrayImage {
        try bytes.withUnsafeBytes { try decode($0, name: name) }
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

    private static func decode(_ image: inout png_image, name: String,
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
        // Ask for the file's own channels at 8 bits: libpng then only inflates
        // and unfilters (asking for gray from RGB would run its gamma-correct
        // conversion, 3x slower); palettes expand, 16-bit narrows.
        let native = image.format & png_uint_32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
        image.format = native
        let channels = Int((native & png_uint_32(PNG_FORMAT_FLAG_COLOR)) != 0 ? 3 : 1)
            + Int((native & png_uint_32(PNG_FORMAT_FLAG_ALPHA)) != 0 ? 1 : 0)
        let n = width * height
        var pixels = [UInt8](unsafeUninitializedCapacity: n * channels) { _, count in count = n * channels }
        let ok = pixels.withUnsafeMutableBytes { raw in
            png_image_finish_read(&image, nil, raw.baseAddress, Int32(width * channels), nil)
        }
        guard ok != 0 else { throw DeepScratchError.badImage(path: name, reason: message(image)) }
        if channels == 1 { return GrayImage(width: width, height: height, gray: pixels) }
        var gray = [UInt8](unsafeUninitializedCapacity: n) { _, count in count = n }
        var alpha = [UInt8](repeating: 255, count: n)
        pixels.withUnsafeBufferPointer { src in
            gray.withUnsafeMutableBufferPointer { dst in
                alpha.withUnsafeMutableBufferPointer { a in
                    let p = src.baseAddress!, g = dst.baseAddress!, al = a.baseAddress!
                    switch channels {
                    case 2:
                        for i in 0..<n { g[i] = p[2 * i]; al[i] = p[2 * i + 1] }
                    case 3:
                        for i in 0..<n { g[i] = luma(p[3 * i], p[3 * i + 1], p[3 * i + 2]) }
                    default:
                        for i in 0..<n { g[i] = luma(p[4 * i], p[4 * i + 1], p[4 * i + 2]); al[i] = p[4 * i + 3] }
                    }
                }
            }
        }
        return GrayImage(width: width, height: height, gray: gray, alpha: alpha)
    }

    /// Luma, ITU-R BT.601 weights in 8-bit fixed point (77 + 150 + 29 = 256).
    @inline(__always)
    static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let sum = 77 * UInt32(r) + 150 * UInt32(g) + 29 * UInt32(b) + 128
        return UInt8(truncatingIfNeeded: sum >> 8)
    }

    /// Encodes an 8-bit grayscale image (no alpha) as PNG bytes.
    public static func encodeGray(width: Int, height: Int, pixels: [UInt8]) -> [UInt8] {
        precondition(pixels.count == width * height)
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(PNG_FORMAT_GRAY)
        var size = 0
        _ = pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, Int32(width), nil) }
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, Int32(width), nil) }
        }
        precondition(ok != 0, "libpng could not encode a gray image")
        out.removeLast(out.count - size)
        return out
    }

    /// Writes an 8-bit grayscale image to `path` atomically.
    /// - Throws: `DeepScratchError.cannotWrite`.
    public static func writeGray(width: Int, height: Int, pixels: [UInt8], to path: String) throws {
        try AtomicFile.write(encodeGray(width: width, height: height, pixels: pixels), to: path)
    }
}
