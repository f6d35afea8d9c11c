// The layout of image batches (one example per column, channel-major rows)
// is described in ImageShape.swift.

/// Batch normalization (Ioffe and Szegedy 2015) of each channel over the
/// batch and, for images, over the pixels of the channel:
/// `Ẑ = (Z − μ)/√(σ² + ε)`, `A = γ·Ẑ + β`, with μ, σ² the batch mean and
/// (biased) variance in training, the running averages at inference.
///
/// A dense layer's output is the case of `spatial = 1` (one channel per
/// feature). γ starts at 1, β at 0, the running mean at 0 and variance at 1;
/// each training pass moves them by `(1 − decay)` toward the batch's mean
/// and unbiased variance (PyTorch's `momentum` is that `1 − decay`).
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
    /// Which batch normalization of its network this is (1, 2, …; see `TensorNames`).
    public let index: Int
    /// Weight of the old running statistics in each update:
    /// `μ_run = decay·μ_run + (1 − decay)·μ` (PyTorch's `momentum` is `1 − decay`).
    public let decay: T

    /// The old name of `decay`, which read as PyTorch's `momentum` (its opposite).
    @available(*, deprecated, renamed: "decay")
    public var momentum: T { decay }
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
        Self.inferenceAffine(gamma: gamma.value.data[c], beta: beta.value.data[c], mean: runningMean.data[c],
                             variance: runningVariance.data[c], epsilon: epsilon)
    }

    /// `inferenceAffine` of one channel from its values.
    public static func inferenceAffine(gamma: T, beta: T, mean: T, variance: T, epsilon: T) -> (scale: T, shift: T) {
        // A = γ·(Z − μ_run)/√(σ²_run + ε) + β = k·Z + (β − k·μ_run)
        let k = gamma / (variance + epsilon).squareRoot()
        return (k, beta - k * mean)
    }

    public init(channels: Int, spatial: Int = 1, index: Int = 1, epsilon: T = T(LayerConstants.batchNormEpsilon),
                decay: T = 0.9) {
        self.channels = channels
        self.spatial = spatial
        self.epsilon = epsilon
        self.decay = decay
        self.index = index
        let names = TensorNames.normalization(index)
        gamma = Parameter(name: names.gamma, rows: channels, cols: 1, regularized: false)
        beta = Parameter(name: names.beta, rows: channels, cols: 1, regularized: false)
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
        let (rm, rv, eps, decay) = (runningMean.data, runningVariance.data, epsilon, self.decay)
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
                    // μ_run = d·μ_run + (1 − d)·μ;  σ²_run = d·σ²_run + (1 − d)·σ²·n/(n − 1)
                    rm[c] = decay * rm[c] + (1 - decay) * mean
                    rv[c] = decay * rv[c] + (1 - decay) * variance * T(n) / T(Swift.max(1, n - 1))
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
