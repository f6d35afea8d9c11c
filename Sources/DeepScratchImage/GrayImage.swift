import DeepScratch
/// An 8-bit grayscale image with an alpha channel: what every PNG becomes
/// before preprocessing.
public struct GrayImage: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// Gray values, row after row (0 black … 255 white).
    public var gray: [UInt8]
    /// Opacity per pixel (0 transparent … 255 opaque); all 255 for images without alpha.
    public var alpha: [UInt8]

    /// An image of `width × height` pixels, `gray` and `alpha` row-major.
    public init(width: Int, height: Int, gray: [UInt8], alpha: [UInt8]? = nil) {
        precondition(gray.count == width * height, "gray has \(gray.count) values for \(width)x\(height)")
        precondition(alpha == nil || alpha!.count == width * height)
        self.width = width
        self.height = height
        self.gray = gray
        self.alpha = alpha ?? [UInt8](repeating: 255, count: width * height)
    }

    /// True when some pixel is not fully opaque.
    public var hasTransparency: Bool { alpha.contains { $0 < 255 } }
}

/// How the bytes of a pixel buffer are laid out, pixel by pixel in a row
/// (the C ABI's `ds_pixel_format`, same numbers).
public enum PixelFormat: Int32, Sendable, CaseIterable {
    /// 1 byte: gray, 0 black … 255 white.
    case gray8 = 1
    /// 3 bytes: red, green, blue.
    case rgb8 = 2
    /// 4 bytes: red, green, blue, alpha (not premultiplied; 0 transparent).
    case rgba8 = 3
    /// 2 bytes: gray 0 … 65535 in the host's byte order.
    case gray16 = 4
    /// 2 bytes: gray, alpha (a PNG's gray + alpha; not offered through C).
    case grayAlpha8 = 100

    /// Bytes of one pixel.
    public var bytesPerPixel: Int {
        switch self {
        case .gray8: return 1
        case .rgb8: return 3
        case .rgba8: return 4
        case .gray16, .grayAlpha8: return 2
        }
    }
}

extension GrayImage {
    /// The gray + alpha image of a pixel buffer: `width × height` pixels in
    /// `format`, each row `stride` bytes after the one before (rows need no
    /// alignment). Color becomes gray as `(77 R + 150 G + 29 B + 128) / 256`
    /// (`PNG.luma`), 16-bit gray `(v + 128) / 257`, as the PNG decoder does.
    /// - Throws: `DeepScratchError.badImage` naming `name` for an empty
    ///   picture, one beyond `PNG.maximumSide` or `PNG.maximumPixels`, or a
    ///   stride shorter than a row.
    public init(pixels: UnsafeRawPointer, width: Int, height: Int, stride: Int, format: PixelFormat, name: String) throws {
        guard width > 0, height > 0 else {
            throw DeepScratchError.badImage(path: name, reason: "the image is \(width)x\(height): empty")
        }
        guard width <= PNG.maximumSide, height <= PNG.maximumSide else {
            throw DeepScratchError.badImage(path: name, reason: "the image is \(width)x\(height), more than \(PNG.maximumSide) pixels on a side")
        }
        guard width * height <= PNG.maximumPixels else {
            throw DeepScratchError.badImage(path: name, reason: "the image is \(width)x\(height) = \(width * height) pixels, more than the \(PNG.maximumPixels) allowed")
        }
        let rowBytes = width * format.bytesPerPixel
        guard stride >= rowBytes else {
            throw DeepScratchError.badImage(path: name, reason: "the row stride is \(stride) bytes, shorter than a row of \(width) pixels (\(rowBytes) bytes)")
        }
        let n = width * height
        var gray = [UInt8](repeating: 0, count: n)
        var alpha = [UInt8](repeating: 255, count: n)
        gray.withUnsafeMutableBufferPointer { g in
            alpha.withUnsafeMutableBufferPointer { a in
                for y in 0..<height {
                    let row = pixels + y * stride
                    let p = row.assumingMemoryBound(to: UInt8.self)
                    let (gy, ay) = (g.baseAddress! + y * width, a.baseAddress! + y * width)
                    switch format {
                    case .gray8:
                        gy.update(from: p, count: width)
                    case .grayAlpha8:
                        for x in 0..<width { gy[x] = p[2 * x]; ay[x] = p[2 * x + 1] }
                    case .rgb8:
                        for x in 0..<width { gy[x] = PNG.luma(p[3 * x], p[3 * x + 1], p[3 * x + 2]) }
                    case .rgba8:
                        for x in 0..<width { gy[x] = PNG.luma(p[4 * x], p[4 * x + 1], p[4 * x + 2]); ay[x] = p[4 * x + 3] }
                    case .gray16:
                        for x in 0..<width {
                            let v = UInt32(row.loadUnaligned(fromByteOffset: 2 * x, as: UInt16.self))
                            gy[x] = UInt8(truncatingIfNeeded: (v + 128) / 257)
                        }
                    }
                }
            }
        }
        self.init(width: width, height: height, gray: gray, alpha: alpha)
    }
}
