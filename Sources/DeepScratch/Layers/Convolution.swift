// Convolution and pooling over image batches.
//
// Layout: an image batch is a `(C·H·W) × m` matrix, one example per column,
// the rows channel-major: pixel (c, y, x) of example j is at
// `data[((c·H + y)·W + x)·m + j]`. A flatten before a dense layer is
// therefore the identity (the order ONNX's Flatten of NCHW gives), and the
// batch index is the innermost, contiguous one: every copy and sum below runs
// over `m` consecutive values.

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

/// A 2-D convolution (cross-correlation, as every framework computes it):
/// `Z[f, oy, ox] = b[f] + Σ_{c,ky,kx} W[f, c, ky, kx] · A[c, oy·s − p + ky, ox·s − p + kx]`
/// with zeros outside the image.
///
/// Computed as one product per batch: the patches of every output position
/// and example are copied into the columns of `cols` (`C·k·k × P·m`, P =
/// output pixels; im2col), so `Z = W·cols + b` with `W` viewed as
/// `F × C·k·k`. The product's `F × P·m` result is, byte for byte, the
/// `(F·P) × m` activation matrix of the layout above.
public final class Conv2D<T: Scalar>: Layer {
    /// Shape of one input image.
    public let input: ImageShape
    /// Shape of one output image (`filters × OH × OW`).
    public let output: ImageShape
    /// Side of the square kernel.
    public let kernel: Int
    /// Step between windows.
    public let stride: Int
    /// Zeros added on every side.
    public let padding: Int
    /// Filters, `F × (C·k·k)` (the file's `[F, C, k, k]`, row-major).
    public let W: Parameter<T>
    /// Biases, `F × 1` (kept at 0 and not trained when `usesBias` is false).
    public let b: Parameter<T>
    /// False when a batch normalization follows (its β makes a bias redundant).
    public let usesBias: Bool
    /// L2 strength λ: the cost gains `λ/(2m)·‖W‖²`.
    public var l2: T = 0
    /// Whether `backward` computes `∂J/∂A` (not for the first layer).
    public var computesInputGradient = true

    public var inputSize: Int { input.count }
    public var outputSize: Int { output.count }

    private let cols: Matrix<T>
    private let Z: Matrix<T>
    private let dA: Matrix<T>

    /// A convolution of `filters` square kernels of side `kernel` with zero
    /// weights (see `initialize`); `nil` when the kernel does not fit the input.
    public init?(input: ImageShape, filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                 usesBias: Bool = true, index: Int = 1, zeroed: Bool = true) {
        guard filters >= 1, let oh = windowCount(input.height, kernel: kernel, stride: stride, padding: padding),
              let ow = windowCount(input.width, kernel: kernel, stride: stride, padding: padding) else { return nil }
        self.input = input
        self.output = ImageShape(channels: filters, height: oh, width: ow)
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.usesBias = usesBias
        let patch = input.channels * kernel * kernel
        W = Parameter(name: "W\(index)", rows: filters, cols: patch, regularized: true, zeroed: zeroed)
        b = Parameter(name: "b\(index)", rows: filters, cols: 1, regularized: false, zeroed: zeroed || !usesBias)
        cols = Matrix(rows: patch, cols: 0)
        Z = Matrix(rows: output.count, cols: 0)
        dA = Matrix(rows: input.count, cols: 0)
    }

    public var parameters: [Parameter<T>] { usesBias ? [W, b] : [W] }

    /// Draws `W` from the distribution `scheme` names with fan-in `C·k·k`; biases become 0.
    public func initialize(_ scheme: WeightInit, rng: inout RandomSource) {
        let sigma = scheme.standardDeviation(fanIn: W.value.cols)
        for i in 0..<W.value.count { W.value.data[i] = T(rng.nextGaussian() * sigma) }
        b.value.fill(0)
    }

    var geometry: ConvGeometry {
        ConvGeometry(input: input, output: output, kernel: kernel, stride: stride, padding: padding)
    }

    public func forward(_ A: Matrix<T>, training: Bool) -> Matrix<T> {
        precondition(A.rows == input.count, "Conv2D: input has \(A.rows) rows, expected \(input.count)")
        let m = A.cols
        Z.resize(cols: m)
        cols.resize(cols: output.area * m)
        // cols = im2col(A);  Z = W·cols + b
        convolve(geometry, A.data, m: m, W: W.value.data, b: b.value.data, cols: cols.data, into: Z.data)
        return Z
    }

    public func backward(_ dZ: Matrix<T>) -> Matrix<T> {
        let m = dZ.cols, g = geometry
        let F = output.channels, patch = W.value.cols, Pm = output.area * m
        // dW = dZ·colsᵀ + (λ/m)·W      (dZ viewed as F × P·m)
        var beta: T = W.gradientIsZero ? 1 : 0
        if l2 != 0 {
            scaledAdd(W.value.data, to: W.gradient.data, count: W.value.count, alpha: l2 / T(m), beta: beta)
            beta = 1
        }
        gemm(transposeB: true, m: F, n: patch, k: Pm, dZ.data, lda: Pm, cols.data, ldb: Pm,
             into: W.gradient.data, ldc: patch, beta: beta)
        W.gradientIsZero = false
        // db = Σ over positions and examples of dZ
        if usesBias { rowSums(dZ.data, rows: F, cols: Pm, into: b.gradient.data) }
        dA.resize(cols: m)
        guard computesInputGradient else { return dA }
        // dcols = Wᵀ·dZ (into cols, no longer needed);  dA = col2im(dcols)
        gemm(transposeA: true, m: patch, n: Pm, k: F, W.value.data, lda: patch, dZ.data, ldb: Pm,
             into: cols.data, ldc: Pm)
        let (src, dst) = (cols.data, dA.data)
        parallelItems(input.channels, workPerItem: kernel * kernel * Pm) { channels in
            col2im(g, src, m: m, channels: channels, into: dst)
        }
        return dA
    }
}

/// The shapes of one convolution.
struct ConvGeometry {
    var input: ImageShape
    var output: ImageShape
    var kernel: Int
    var stride: Int
    var padding: Int
    /// Rows of the patch matrix, `C·k·k`.
    var patch: Int { input.channels * kernel * kernel }

    /// The output columns `ox` whose input column `x = ox·s − p + kx` lies
    /// inside `0..<W`: the part of a patch row that im2col copies and
    /// col2im adds back (the rest is padding). Either bound's numerator may be
    /// negative (a tap left or right of the image for every `ox`, when the
    /// kernel is wider than the image plus its padding on one side), hence
    /// floor division; the range may be empty.
    func insideColumns(kx: Int) -> Range<Int> {
        let (W, s, p, OW) = (input.width, stride, padding, output.width)
        // ⌈(p − kx)/s⌉ ≤ ox ≤ ⌊(W − 1 + p − kx)/s⌋, within 0..<OW  (⌈a/s⌉ = ⌊(a + s − 1)/s⌋)
        let lo = min(OW, max(0, floorDivision(p - kx + s - 1, s)))
        let hi = min(OW, max(0, floorDivision(W - 1 + p - kx, s) + 1))
        return lo..<max(lo, hi)
    }
}

/// `⌊a/b⌋` for `b > 0` and any `a`: Swift's `/` truncates toward zero, which
/// rounds a negative quotient up (−1/2 is 0, its floor −1).
@inline(__always)
func floorDivision(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return a % b < 0 ? q - 1 : q
}

/// `Z = W·im2col(A) + b` for a batch of `m` images: `cols` must hold
/// `C·k·k × P·m` values, `Z` `F·P × m`.
/// (Specialized like the element-wise helpers: the generic body would fill
/// Z with a function call per element.)
@_specialize(where T == Float)
@_specialize(where T == Double)
func convolve<T: Scalar>(_ g: ConvGeometry, _ A: UnsafePointer<T>, m: Int, W: UnsafePointer<T>, b: UnsafePointer<T>,
                         cols: UnsafeMutablePointer<T>, into Z: UnsafeMutablePointer<T>) {
    let Pm = g.output.area * m, F = g.output.channels
    parallelItems(g.patch, workPerItem: Pm) { rows in im2col(g, A, m: m, rows: rows, into: cols) }
    // Z starts as the biases and the product adds to it (BLAS then skips its own pass zeroing Z).
    parallelItems(F, workPerItem: Pm) { filters in
        for f in filters { (Z + f * Pm).update(repeating: b[f], count: Pm) }
    }
    gemm(m: F, n: Pm, k: g.patch, W, lda: g.patch, cols, ldb: Pm, into: Z, ldc: Pm, beta: 1)
}

/// Rows `rows` of the patch matrix: row `r = (c·k + ky)·k + kx`, column
/// `(oy·OW + ox)·m + j` holds `A[c, oy·s − p + ky, ox·s − p + kx]` of example
/// `j` (0 outside the image).
@_specialize(where T == Float)
@_specialize(where T == Double)
func im2col<T: Scalar>(_ g: ConvGeometry, _ A: UnsafePointer<T>, m: Int, rows: Range<Int>,
                       into cols: UnsafeMutablePointer<T>) {
    let (H, W, k, s, p) = (g.input.height, g.input.width, g.kernel, g.stride, g.padding)
    let (OH, OW) = (g.output.height, g.output.width)
    let rowLength = OH * OW * m
    for r in rows {
        let c = r / (k * k), ky = (r / k) % k, kx = r % k
        let dst = cols + r * rowLength
        let inside = g.insideColumns(kx: kx)
        let (oxLo, oxHi) = (inside.lowerBound, inside.upperBound)
        for oy in 0..<OH {
            let y = oy * s - p + ky
            let line = dst + oy * OW * m
            guard y >= 0 && y < H else { line.update(repeating: 0, count: OW * m); continue }
            if oxLo > 0 { line.update(repeating: 0, count: oxLo * m) }
            if oxHi < OW { (line + oxHi * m).update(repeating: 0, count: (OW - oxHi) * m) }
            // A tap in the padding for every ox copies nothing (and forms no pointer outside A).
            guard oxLo < oxHi else { continue }
            let src = A + ((c * H + y) * W + (oxLo * s - p + kx)) * m
            if s == 1 {
                (line + oxLo * m).update(from: src, count: (oxHi - oxLo) * m)
            } else {
                for ox in oxLo..<oxHi { (line + ox * m).update(from: src + (ox - oxLo) * s * m, count: m) }
            }
        }
    }
}

/// The adjoint of `im2col` for the channels `channels`: `dA` of those
/// channels is set to the sum, over every patch entry that copied a pixel,
/// of that entry's gradient.
@_specialize(where T == Float)
@_specialize(where T == Double)
func col2im<T: Scalar>(_ g: ConvGeometry, _ dcols: UnsafePointer<T>, m: Int, channels: Range<Int>,
                       into dA: UnsafeMutablePointer<T>) {
    let (H, W, k, s, p) = (g.input.height, g.input.width, g.kernel, g.stride, g.padding)
    let (OH, OW) = (g.output.height, g.output.width)
    let rowLength = OH * OW * m
    guard !channels.isEmpty else { return }
    (dA + channels.lowerBound * H * W * m).update(repeating: 0, count: channels.count * H * W * m)
    for c in channels {
        for ky in 0..<k {
            for kx in 0..<k {
                let src = dcols + ((c * k + ky) * k + kx) * rowLength
                let inside = g.insideColumns(kx: kx)
                let (oxLo, oxHi) = (inside.lowerBound, inside.upperBound)
                guard oxLo < oxHi else { continue }
                for oy in 0..<OH {
                    let y = oy * s - p + ky
                    guard y >= 0 && y < H else { continue }
                    let line = src + oy * OW * m
                    let dst = dA + ((c * H + y) * W + (oxLo * s - p + kx)) * m
                    if s == 1 {
                        addInPlace(line + oxLo * m, to: dst, count: (oxHi - oxLo) * m)
                    } else {
                        for ox in oxLo..<oxHi { addInPlace(line + ox * m, to: dst + (ox - oxLo) * s * m, count: m) }
                    }
                }
            }
        }
    }
}

/// `y[i] += x[i]` for `i < count`.
@_specialize(where T == Float)
@_specialize(where T == Double)
func addInPlace<T: Scalar>(_ x: UnsafePointer<T>, to y: UnsafeMutablePointer<T>, count: Int) {
    for i in 0..<count { y[i] += x[i] }
}

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

/// Batch normalization (Ioffe and Szegedy 2015) of each channel over the
/// batch and, for images, over the pixels of the channel:
/// `Ẑ = (Z − μ)/√(σ² + ε)`, `A = γ·Ẑ + β`, with μ, σ² the batch mean and
/// (biased) variance in training, the running averages at inference.
///
/// A dense layer's output is the case of `spatial = 1` (one channel per
/// feature). γ starts at 1, β at 0, the running mean at 0 and variance at 1;
/// each training pass moves them by `(1 − momentum)` toward the batch's mean
/// and unbiased variance.
public final class BatchNorm<T: Scalar>: Layer {
    /// Number of normalized channels (features for a dense layer).
    public let channels: Int
    /// Values per channel of one example (`H·W`; 1 after a dense layer).
    public let spatial: Int
    /// Scale γ, `channels × 1`.
    public let gamma: Parameter<T>
    /// Shift β, `channels × 1`.
    public let beta: Parameter<T>
    /// Running mean of the inputs, `channels × 1` (used at inference).
    public let runningMean: Matrix<T>
    /// Running variance of the inputs, `channels × 1` (used at inference).
    public let runningVariance: Matrix<T>
    /// ε, added to the variance.
    public let epsilon: T
    /// Weight of the old running statistics in each update.
    public let momentum: T
    public var inputSize: Int { channels * spatial }
    public var outputSize: Int { channels * spatial }

    private let Z: Matrix<T>
    private let normalized: Matrix<T>
    private var inverseStd: [T]

    /// The layer at inference as `y = k·x + shift` on channel `c`:
    /// `k = γ/√(σ²_run + ε)` and `shift = β − k·μ_run`, the one place this
    /// arithmetic is written (inference, the inference plan and the folding
    /// of a batch normalization into the layer before it all use it).
    public func inferenceAffine(channel c: Int) -> (scale: T, shift: T) {
        // A = γ·(Z − μ_run)/√(σ²_run + ε) + β = k·Z + (β − k·μ_run)
        let k = gamma.value.data[c] / (runningVariance.data[c] + epsilon).squareRoot()
        return (k, beta.value.data[c] - k * runningMean.data[c])
    }

    public init(channels: Int, spatial: Int = 1, index: Int = 1, epsilon: T = T(LayerConstants.batchNormEpsilon),
                momentum: T = 0.9) {
        self.channels = channels
        self.spatial = spatial
        self.epsilon = epsilon
        self.momentum = momentum
        gamma = Parameter(name: "gamma\(index)", rows: channels, cols: 1, regularized: false)
        beta = Parameter(name: "beta\(index)", rows: channels, cols: 1, regularized: false)
        gamma.value.fill(1)
        runningMean = Matrix(rows: channels, cols: 1)
        runningVariance = Matrix(rows: channels, cols: 1)
        runningVariance.fill(1)
        Z = Matrix(rows: channels * spatial, cols: 0)
        normalized = Matrix(rows: channels * spatial, cols: 0)
        inverseStd = [T](repeating: 0, count: channels)
    }

    public var parameters: [Parameter<T>] { [gamma, beta] }

    public func forward(_ A: Matrix<T>, training: Bool) -> Matrix<T> {
        precondition(A.rows == inputSize, "BatchNorm: input has \(A.rows) rows, expected \(inputSize)")
        let m = A.cols, n = spatial * m
        Z.resize(cols: m)
        let (x, z, g, bt) = (A.data, Z.data, gamma.value.data, beta.value.data)
        let (rm, rv, eps, mom) = (runningMean.data, runningVariance.data, epsilon, momentum)
        guard training else {
            // A = γ·(Z − μ_run)/√(σ²_run + ε) + β
            parallelItems(channels, workPerItem: n) { cs in
                for c in cs {
                    let (k, shift) = self.inferenceAffine(channel: c)
                    affine(x + c * n, z + c * n, count: n, scale: k, shift: shift)
                }
            }
            return Z
        }
        normalized.resize(cols: m)
        let xh = normalized.data
        inverseStd.withUnsafeMutableBufferPointer { invStd in
            let inv = invStd.baseAddress!
            parallelItems(channels, workPerItem: n) { cs in
                for c in cs {
                    let xc = x + c * n
                    // μ = mean(Z);  σ² = mean((Z − μ)²)
                    var mean: T = 0
                    rowSums(xc, rows: 1, cols: n, into: &mean)
                    mean /= T(n)
                    let variance = centeredSumOfSquares(xc, count: n, mean: mean) / T(n)
                    let i = 1 / (variance + eps).squareRoot()
                    inv[c] = i
                    // Ẑ = (Z − μ)/√(σ² + ε);  A = γ·Ẑ + β
                    affine(xc, xh + c * n, count: n, scale: i, shift: -i * mean)
                    affine(xh + c * n, z + c * n, count: n, scale: g[c], shift: bt[c])
                    rm[c] = mom * rm[c] + (1 - mom) * mean
                    rv[c] = mom * rv[c] + (1 - mom) * variance * T(n) / T(Swift.max(1, n - 1))
                }
            }
        }
        return Z
    }

    public func backward(_ dA: Matrix<T>) -> Matrix<T> {
        let m = dA.cols, n = spatial * m
        let (d, xh, g) = (dA.data, normalized.data, gamma.value.data)
        let (dg, db) = (gamma.gradient.data, beta.gradient.data)
        inverseStd.withUnsafeBufferPointer { invStd in
            let inv = invStd.baseAddress!
            parallelItems(channels, workPerItem: n) { cs in
                for c in cs {
                    let dc = d + c * n, xc = xh + c * n
                    // dβ = Σ dA;  dγ = Σ dA ⊙ Ẑ
                    var sumD: T = 0
                    rowSums(dc, rows: 1, cols: n, into: &sumD)
                    let sumDX = dot(dc, xc, count: n)
                    db[c] = sumD
                    dg[c] = sumDX
                    // dZ = γ/(N·√(σ² + ε)) · (N·dA − dβ − Ẑ·dγ)
                    let k = g[c] * inv[c] / T(n)
                    batchNormInputGradient(dc, xc, count: n, k: k, n: T(n), sumD: sumD, sumDX: sumDX)
                }
            }
        }
        gamma.gradientIsZero = false
        beta.gradientIsZero = false
        return dA
    }
}

/// `y[i] = scale·x[i] + shift` for `i < count` (`y` may be `x`).
@_specialize(where T == Float)
@_specialize(where T == Double)
func affine<T: Scalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int, scale: T, shift: T) {
    for i in 0..<count { y[i] = scale * x[i] + shift }
}

/// `Σ (x[i] − mean)²`.
@_specialize(where T == Float)
@_specialize(where T == Double)
func centeredSumOfSquares<T: Scalar>(_ x: UnsafePointer<T>, count: Int, mean: T) -> T {
    var acc = (T(0), T(0), T(0), T(0))
    var i = 0
    while i + 4 <= count {
        let a = x[i] - mean, b = x[i + 1] - mean, c = x[i + 2] - mean, d = x[i + 3] - mean
        acc.0 += a * a; acc.1 += b * b; acc.2 += c * c; acc.3 += d * d
        i += 4
    }
    var total = (acc.0 + acc.1) + (acc.2 + acc.3)
    while i < count { let a = x[i] - mean; total += a * a; i += 1 }
    return total
}

/// `Σ x[i]·y[i]`.
@_specialize(where T == Float)
@_specialize(where T == Double)
func dot<T: Scalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, count: Int) -> T {
    var acc = (T(0), T(0), T(0), T(0))
    var i = 0
    while i + 4 <= count {
        acc.0 += x[i] * y[i]; acc.1 += x[i + 1] * y[i + 1]
        acc.2 += x[i + 2] * y[i + 2]; acc.3 += x[i + 3] * y[i + 3]
        i += 4
    }
    var total = (acc.0 + acc.1) + (acc.2 + acc.3)
    while i < count { total += x[i] * y[i]; i += 1 }
    return total
}

/// `d[i] = k·(n·d[i] − sumD − x̂[i]·sumDX)`.
@_specialize(where T == Float)
@_specialize(where T == Double)
func batchNormInputGradient<T: Scalar>(_ d: UnsafeMutablePointer<T>, _ xh: UnsafePointer<T>, count: Int,
                                       k: T, n: T, sumD: T, sumDX: T) {
    for i in 0..<count { d[i] = k * (n * d[i] - sumD - xh[i] * sumDX) }
}
