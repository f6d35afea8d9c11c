// Image batches: their layout, the shape of one image, and helpers of the
// convolution, pooling and batch normalization layers.
//
// Layout: an image batch is a `(C·H·W) × m` matrix, one example per column,
// the rows channel-major: pixel (c, y, x) of example j is at
// `data[((c·H + y)·W + x)·m + j]`. A flatten before a dense layer is
// therefore the identity (the order ONNX's Flatten of NCHW gives), and the
// batch index is the innermost, contiguous one: every copy and sum in those layers
// runs over `m` consecutive values.

/// The shape of one image of a batch: channels × height × width.
public struct ImageShape: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// One MNIST image: 1 × 28 × 28.
    public static let mnist = ImageShape(channels: 1, height: 28, width: 28)

    /// Number of values of one image, `C·H·W` (rows of the batch matrix).
    public var count: Int { channels * height * width }
    /// Pixels per channel, `H·W`.
    public var area: Int { height * width }
    public var description: String { "\(channels)x\(height)x\(width)" }
}

/// Max or average pooling.
public enum PoolKind: String, CaseIterable, Sendable {
    case max = "maxpool"
    case average = "avgpool"
}

/// The side of a convolution or pooling output: `⌊(n + 2p − k)/s⌋ + 1`
/// (nil when the window does not fit once).
func windowCount(_ n: Int, kernel k: Int, stride s: Int, padding p: Int) -> Int? {
    guard k >= 1, s >= 1, p >= 0, n + 2 * p >= k else { return nil }
    return (n + 2 * p - k) / s + 1
}

/// Runs `body` over `0..<count` split across the engine's threads when the
/// total work (`count × workPerItem` values) is worth it.
@inline(__always)
func parallelItems(_ count: Int, workPerItem: Int, _ body: (Range<Int>) -> Void) {
    let enough = count * workPerItem >= 1 << 15
    parallelRanges(count, minimumPerThread: enough ? 1 : max(1, count), granularity: 1, body)
}
