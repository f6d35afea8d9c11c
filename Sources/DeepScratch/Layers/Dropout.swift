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
    if T.self == Float.self {
        return applyDropoutMask(UnsafeRawPointer(x).assumingMemoryBound(to: Float.self),
                                into: UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self),
                                range: range, key: key, threshold: threshold, scale: unsafeBitCast(scale, to: Float.self))
    }
    for i in range { y[i] = dropoutKeeps(i, key: key, threshold: threshold) ? x[i] * scale : 0 }
}

/// Whether the mask keeps position `i`: `hash(key, i) < threshold`.
@inline(__always)
func dropoutKeeps(_ i: Int, key: UInt64, threshold: UInt32) -> Bool {
    dropoutHash(UInt32(truncatingIfNeeded: i), key: key) < threshold
}

/// MurmurHash3's 32-bit finalizer of the keyed position, for one position
/// or eight (`H` is `UInt32` or `SIMD8<UInt32>`).
@inline(__always)
func dropoutHash<H: DropoutHashable>(_ i: H, key: UInt64) -> H {
    var h = (i &+ H(UInt32(truncatingIfNeeded: key))) ^ H(UInt32(truncatingIfNeeded: key >> 32))
    h ^= h &>> H(16)
    h = h &* H(0x85EB_CA6B)
    h ^= h &>> H(13)
    h = h &* H(0xC2B2_AE35)
    h ^= h &>> H(16)
    return h
}

/// `UInt32` and `SIMD8<UInt32>`: what `dropoutHash` computes on.
protocol DropoutHashable {
    init(_ word: UInt32)
    static func &+ (a: Self, b: Self) -> Self
    static func &* (a: Self, b: Self) -> Self
    static func ^ (a: Self, b: Self) -> Self
    static func ^= (a: inout Self, b: Self)
    static func &>> (a: Self, b: Self) -> Self
}

extension UInt32: DropoutHashable {}

extension SIMD8: DropoutHashable where Scalar == UInt32 {
    init(_ word: UInt32) { self.init(repeating: word) }
}

/// The Float mask, eight positions at a time. Written with vectors because
/// the compiler turns the scalar loop's in-place form into a conditional
/// store, which it vectorizes only with masked stores (AVX), not in the
/// x86-64-v2 build; here every value is stored. Same values as the scalar
/// loop, bit for bit.
func applyDropoutMask(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, range: Range<Int>,
                      key: UInt64, threshold: UInt32, scale: Float) {
    typealias V = SIMD8<Float>
    let lanes = SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7), limit = SIMD8<UInt32>(repeating: threshold)
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        let position = SIMD8<UInt32>(repeating: UInt32(truncatingIfNeeded: i)) &+ lanes
        // y = x·scale where kept, else 0
        var v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self) * scale
        v.replace(with: 0, where: .!(dropoutHash(position, key: key) .< limit))
        UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: V.self)
        i += 8
    }
    while i < range.upperBound {
        y[i] = dropoutKeeps(i, key: key, threshold: threshold) ? x[i] * scale : 0
        i += 1
    }
}
