/// Inverted dropout: during training each activation is kept with
/// probability `keep` and scaled by `1/keep`, so evaluation (no dropout)
/// needs no rescaling.
///
/// The mask `D` (`1/keep` for kept units, 0 for dropped ones) is never
/// stored: each entry is a hash of its position and a key drawn once per
/// forward pass, so the backward pass recomputes it, any number of threads
/// can draw it, and the result does not depend on how many there are.
public final class Dropout<T: Scalar>: Layer {
    public let inputSize: Int
    public var outputSize: Int { inputSize }
    /// The probability of keeping a unit, in (0, 1].
    public let keep: Double
    /// The generator of the per-pass mask keys (saved in checkpoints).
    public var rng: RandomSource
    /// When true, `forward` reuses the last mask (for gradient checking).
    public var freezesMask = false

    private let A: Matrix<T>
    private var key: UInt64?
    private var training = false

    /// A dropout layer over `size` features drawing mask keys from `rng`.
    public init(size: Int, keep: Double, rng: RandomSource) {
        precondition(keep > 0 && keep <= 1, "keep probability must be in (0, 1]")
        inputSize = size
        self.keep = keep
        self.rng = rng
        A = Matrix(rows: size, cols: 0)
    }

    private var threshold: UInt32 { UInt32(min(Double(UInt32.max), (keep * 4_294_967_296.0).rounded(.down))) }

    public func forward(_ input: Matrix<T>, training: Bool) -> Matrix<T> {
        self.training = training && keep < 1
        guard self.training else { return input }
        if !(freezesMask && key != nil) { key = rng.next() }
        let (key, threshold, scale) = (self.key!, self.threshold, T(1 / keep))
        A.resize(cols: input.cols)
        let (x, y) = (input.data, A.data)
        // A = A_in ⊙ D,   D = [U < keep] / keep,  U = hash(key, position)
        parallelRanges(A.count, DropoutMaskJob(x: x, y: y, key: key, threshold: threshold, scale: scale))
        return A
    }

    public func backward(_ dA: Matrix<T>) -> Matrix<T> {
        guard training, let key else { return dA }
        let (threshold, scale, d) = (self.threshold, T(1 / keep), dA.data)
        // dA_in = dA ⊙ D   (the same D, recomputed from the key)
        parallelRanges(dA.count, DropoutMaskJob(x: d, y: d, key: key, threshold: threshold, scale: scale))
        return dA
    }
}

/// `applyDropoutMask` over part of a matrix, for `parallelRanges`.
struct DropoutMaskJob<T: Scalar>: RangeJob {
    let x: UnsafePointer<T>
    let y: UnsafeMutablePointer<T>
    let key: UInt64
    let threshold: UInt32
    let scale: T

    func run(_ r: Range<Int>) {
        applyDropoutMask(x, into: y, range: r, key: key, threshold: threshold, scale: scale)
    }
}

/// `y[i] = x[i] · D[i]` for `i` in `range`, with `D[i] = scale` when
/// `hash(key, i) < threshold` and 0 otherwise (`y` may alias `x`).
///
/// The hash is MurmurHash3's 32-bit finalizer of the keyed position: a
/// bijection of 32-bit words, so positions never share a value within one
/// mask, and cheap enough to vectorize.
@_specialize(where T == Float)
@_specialize(where T == Double)
func applyDropoutMask<T: Scalar>(_ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, range: Range<Int>,
                                 key: UInt64, threshold: UInt32, scale: T) {
    let k0 = UInt32(truncatingIfNeeded: key), k1 = UInt32(truncatingIfNeeded: key >> 32)
    @inline(__always) func kept(_ i: Int) -> Bool {
        var h = (UInt32(truncatingIfNeeded: i) &+ k0) ^ k1
        h ^= h >> 16
        h = h &* 0x85EB_CA6B
        h ^= h >> 13
        h = h &* 0xC2B2_AE35
        h ^= h >> 16
        return h < threshold
    }
    if UnsafePointer(y) == x {
        // In place (the backward pass): one pointer, so the loop vectorizes
        // (with two, the compiler's overlap check sends it to scalar code).
        for i in range { y[i] = kept(i) ? y[i] * scale : 0 }
    } else {
        for i in range { y[i] = kept(i) ? x[i] * scale : 0 }
    }
}
