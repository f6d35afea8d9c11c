/// Inverted dropout: during training each activation is kept with
/// probability `keep` and scaled by `1/keep`, so evaluation (no dropout)
/// needs no rescaling.
///
/// The mask `D` holds `1/keep` for kept units and `0` for dropped ones.
public final class Dropout<T: Scalar>: Layer {
    public let inputSize: Int
    public var outputSize: Int { inputSize }
    /// The probability of keeping a unit, in (0, 1].
    public let keep: Double
    /// The generator the masks are drawn from (saved in checkpoints).
    public var rng: RandomSource
    /// When true, `forward` reuses the last mask (for gradient checking).
    public var freezesMask = false

    private let D: Matrix<T>
    private let A: Matrix<T>
    private var training = false

    /// A dropout layer over `size` features drawing masks from `rng`.
    public init(size: Int, keep: Double, rng: RandomSource) {
        precondition(keep > 0 && keep <= 1, "keep probability must be in (0, 1]")
        inputSize = size
        self.keep = keep
        self.rng = rng
        D = Matrix(rows: size, cols: 0)
        A = Matrix(rows: size, cols: 0)
    }

    public func forward(_ input: Matrix<T>, training: Bool) -> Matrix<T> {
        self.training = training && keep < 1
        guard self.training else { return input }
        if !(freezesMask && D.cols == input.cols) {
            D.resize(cols: input.cols)
            // D = [U < keep] / keep,  U ~ Uniform[0, 1)
            drawMask(D.data, count: D.count, keep: keep, rng: &rng)
        }
        A.resize(cols: input.cols)
        // A = A_in ⊙ D
        multiply(input.data, D.data, into: A.data, count: A.count)
        return A
    }

    public func backward(_ dA: Matrix<T>) -> Matrix<T> {
        guard training else { return dA }
        // dA_in = dA ⊙ D
        multiply(dA.data, D.data, into: dA.data, count: dA.count)
        return dA
    }
}

/// Fills `mask` with `1/keep` (probability `keep`) or 0, two draws per
/// 64 random bits.
@_specialize(where T == Float)
@_specialize(where T == Double)
func drawMask<T: Scalar>(_ mask: UnsafeMutablePointer<T>, count: Int, keep: Double, rng: inout RandomSource) {
    let threshold = UInt64((keep * 4_294_967_296.0).rounded(.down))
    let kept = T(1 / keep)
    var i = 0
    while i + 2 <= count {
        let r = rng.next()
        mask[i] = (r & 0xFFFF_FFFF) < threshold ? kept : 0
        mask[i + 1] = (r >> 32) < threshold ? kept : 0
        i += 2
    }
    if i < count { mask[i] = (rng.next() & 0xFFFF_FFFF) < threshold ? kept : 0 }
}

/// `z[i] = x[i] · y[i]` (z may alias x).
@_specialize(where T == Float)
@_specialize(where T == Double)
func multiply<T: Scalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, into z: UnsafeMutablePointer<T>, count: Int) {
    for i in 0..<count { z[i] = x[i] * y[i] }
}
