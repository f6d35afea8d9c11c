// The layout of image batches (one example per column, channel-major rows)
// is described in ImageShape.swift.

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
        W = Parameter(name: TensorNames.weights(index), rows: filters, cols: patch, regularized: true, zeroed: zeroed)
        b = Parameter(name: TensorNames.bias(index), rows: filters, cols: 1, regularized: false, zeroed: zeroed || !usesBias)
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
    /// Input and output sides, kernel, stride, padding: the names of the formulas.
    var sides: (H: Int, W: Int, OH: Int, OW: Int, k: Int, s: Int, p: Int) {
        (input.height, input.width, output.height, output.width, kernel, stride, padding)
    }

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
    let (H, W, OH, OW, k, s, p) = g.sides
    let rowLength = OH * OW * m  // one patch row: every output pixel of every example
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
    let (H, W, OH, OW, k, s, p) = g.sides
    let rowLength = OH * OW * m  // one patch row: every output pixel of every example
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
