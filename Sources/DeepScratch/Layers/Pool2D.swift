// The layout of image batches (one example per column, channel-major rows)
// is described in ImageShape.swift.

/// Max or average pooling over `size × size` windows `stride` apart, each
/// channel on its own, no padding:
/// max: `Z[c, oy, ox] = max_{dy,dx} A[c, oy·s + dy, ox·s + dx]`;
/// average: the mean of the same window.
public final class Pool2D<T: Scalar>: Layer {
    public let kind: PoolKind
    public let input: ImageShape
    public let output: ImageShape
    /// Side of the window.
    public let size: Int
    /// Step between windows.
    public let stride: Int
    public var inputSize: Int { input.count }
    public var outputSize: Int { output.count }

    private let Z: Matrix<T>
    private let dA: Matrix<T>
    /// The input of the last forward pass (max pooling's backward finds the maxima in it again).
    private var A: Matrix<T>?

    /// `nil` when the window does not fit the input or is larger than 15×15.
    public init?(_ kind: PoolKind, input: ImageShape, size: Int, stride: Int? = nil) {
        let stride = stride ?? size
        guard size <= 15, let oh = windowCount(input.height, kernel: size, stride: stride, padding: 0),
              let ow = windowCount(input.width, kernel: size, stride: stride, padding: 0) else { return nil }
        self.kind = kind
        self.input = input
        self.output = ImageShape(channels: input.channels, height: oh, width: ow)
        self.size = size
        self.stride = stride
        Z = Matrix(rows: output.count, cols: 0)
        dA = Matrix(rows: input.count, cols: 0)
    }

    var geometry: ConvGeometry { ConvGeometry(input: input, output: output, kernel: size, stride: stride, padding: 0) }

    public func forward(_ A: Matrix<T>, training: Bool) -> Matrix<T> {
        precondition(A.rows == input.count, "Pool2D: input has \(A.rows) rows, expected \(input.count)")
        let m = A.cols
        self.A = A
        Z.resize(cols: m)
        let (g, kind, src, dst) = (geometry, self.kind, A.data, Z.data)
        parallelItems(input.channels, workPerItem: input.area * m) { channels in
            pool(kind, g, src, m: m, channels: channels, into: dst)
        }
        return Z
    }

    public func backward(_ dZ: Matrix<T>) -> Matrix<T> {
        guard let A else { preconditionFailure("Pool2D.backward before forward") }
        let m = dZ.cols
        dA.resize(cols: m)
        let (g, kind, x, z, src, dst) = (geometry, self.kind, A.data, Z.data, dZ.data, dA.data)
        parallelItems(input.channels, workPerItem: input.area * m) { channels in
            poolBackward(kind, g, src, m: m, channels: channels, input: x, output: z, into: dst)
        }
        return dA
    }
}

/// Pools the channels `channels` of `A` into `Z`.
@_specialize(where T == Float)
@_specialize(where T == Double)
func pool<T: Scalar>(_ kind: PoolKind, _ g: ConvGeometry, _ A: UnsafePointer<T>, m: Int, channels: Range<Int>,
                     into Z: UnsafeMutablePointer<T>) {
    let (H, W, k, s) = (g.input.height, g.input.width, g.kernel, g.stride)
    let (OH, OW) = (g.output.height, g.output.width)
    let invArea = 1 / T(k * k)
    for c in channels {
        for oy in 0..<OH {
            for ox in 0..<OW {
                let z = Z + ((c * OH + oy) * OW + ox) * m
                let corner = A + ((c * H + oy * s) * W + ox * s) * m
                z.update(from: corner, count: m)
                for w in 1..<(k * k) {
                    let x = corner + ((w / k) * W + w % k) * m
                    if kind == .max { elementwiseMax(x, into: z, count: m) } else { addInPlace(x, to: z, count: m) }
                }
                if kind == .average { scale(z, count: m, by: invArea) }
            }
        }
    }
}

/// `z[i] = max(z[i], x[i])`.
@_specialize(where T == Float)
@_specialize(where T == Double)
func elementwiseMax<T: Scalar>(_ x: UnsafePointer<T>, into z: UnsafeMutablePointer<T>, count: Int) {
    for i in 0..<count { z[i] = Swift.max(z[i], x[i]) }
}

/// The backward pass of `pool` for the channels `channels`: each output's
/// gradient goes to the first window entry equal to the maximum (found again
/// in the forward pass's `input` and `output`), or is shared equally by the
/// window (average).
@_specialize(where T == Float)
@_specialize(where T == Double)
func poolBackward<T: Scalar>(_ kind: PoolKind, _ g: ConvGeometry, _ dZ: UnsafePointer<T>, m: Int, channels: Range<Int>,
                             input A: UnsafePointer<T>, output Z: UnsafePointer<T>, into dA: UnsafeMutablePointer<T>) {
    let (H, W, k, s) = (g.input.height, g.input.width, g.kernel, g.stride)
    let (OH, OW) = (g.output.height, g.output.width)
    let invArea = 1 / T(k * k)
    guard !channels.isEmpty else { return }
    (dA + channels.lowerBound * H * W * m).update(repeating: 0, count: channels.count * H * W * m)
    withUnsafeTemporaryAllocation(of: T.self, capacity: m) { scratch in
        let left = scratch.baseAddress!
        for c in channels {
            for oy in 0..<OH {
                for ox in 0..<OW {
                    let o = ((c * OH + oy) * OW + ox) * m
                    let offset = ((c * H + oy * s) * W + ox * s) * m
                    if kind == .max {
                        // dA[first argmax] += dZ: `left` holds what is not yet given out.
                        left.update(from: dZ + o, count: m)
                        for w in 0..<(k * k) {
                            let at = offset + ((w / k) * W + w % k) * m
                            routeMaxGradient(A + at, Z + o, left, dA + at, count: m)
                        }
                    } else {
                        // dA[window] += dZ / k²
                        for w in 0..<(k * k) {
                            scaledAdd(dZ + o, to: dA + offset + ((w / k) * W + w % k) * m, count: m, alpha: invArea, beta: 1)
                        }
                    }
                }
            }
        }
    }
}

/// Where `x[i] == z[i]`: `d[i] += left[i]`, `left[i] = 0`.
@_specialize(where T == Float)
@_specialize(where T == Double)
func routeMaxGradient<T: Scalar>(_ x: UnsafePointer<T>, _ z: UnsafePointer<T>, _ left: UnsafeMutablePointer<T>,
                                 _ d: UnsafeMutablePointer<T>, count: Int) {
    for i in 0..<count {
        let t = x[i] == z[i] ? left[i] : 0
        d[i] += t
        left[i] -= t
    }
}
