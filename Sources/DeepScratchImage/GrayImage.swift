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
