// Element-wise activations. Each keeps its output A for the backward pass,
// which needs only A: g'(Z) is written in terms of A = g(Z).

/// An element-wise activation function.
public enum ActivationKind: String, CaseIterable, Sendable {
    case relu
    case leakyReLU = "leaky-relu"
    case tanh
    case sigmoid

    /// A new layer of this activation for `size` features.
    public func makeLayer<T: Scalar>(size: Int, as _: T.Type = T.self) -> any Layer<T> {
        switch self {
        case .relu: return ReLU<T>(size: size)
        case .leakyReLU: return LeakyReLU<T>(size: size)
        case .tanh: return Tanh<T>(size: size)
        case .sigmoid: return Sigmoid<T>(size: size)
        }
    }

    /// The initialization that suits it: He for the ReLU family, Xavier otherwise.
    public var suitedInit: WeightInit {
        switch self {
        case .relu, .leakyReLU: return .he
        case .tanh, .sigmoid: return .xavier
        }
    }
}

/// An element-wise activation layer: `A = g(Z)` forward, and backward
/// `dZ = dA ⊙ g'(Z)` with `g'` written in terms of `A` (so only `A` is kept):
///
/// - ReLU: `A = max(0, Z)`, `dZ = dA ⊙ [A > 0]`
/// - leaky ReLU: `A = Z > 0 ? Z : α·Z`, `dZ = dA ⊙ (A > 0 ? 1 : α)` (A > 0 exactly when Z > 0, as α > 0)
/// - tanh: `A = tanh(Z)`, `dZ = dA ⊙ (1 − A²)`
/// - sigmoid: `A = σ(Z) = 1 / (1 + e^(−Z))`, `dZ = dA ⊙ A ⊙ (1 − A)`
///
/// `ReLU`, `LeakyReLU`, `Tanh` and `Sigmoid` name its kinds.
public class Activation<T: Scalar>: Layer {
    public let kind: ActivationKind
    public let inputSize: Int
    public var outputSize: Int { inputSize }
    /// Leaky ReLU's slope for negative inputs (0 for the other kinds).
    public let alpha: T
    private let A: Matrix<T>

    /// An activation of `kind` over `size` features.
    public init(_ kind: ActivationKind, size: Int, alpha: T = T(LayerConstants.leakyReLUSlope)) {
        self.kind = kind
        inputSize = size
        self.alpha = kind == .leakyReLU ? alpha : 0
        A = Matrix(rows: size, cols: 0)
    }

    public func forward(_ Z: Matrix<T>, training: Bool) -> Matrix<T> {
        A.resize(cols: Z.cols)
        // A = g(Z)
        parallelRanges(Z.count, ElementwiseJob(kind, forward: true, Z.data, A.data, alpha: alpha))
        return A
    }

    public func backward(_ dA: Matrix<T>) -> Matrix<T> {
        // dZ = dA ⊙ g'(Z), from A
        parallelRanges(dA.count, ElementwiseJob(kind, forward: false, A.data, dA.data, alpha: alpha))
        return dA
    }
}

/// `A = max(0, Z)`.
public final class ReLU<T: Scalar>: Activation<T> {
    public init(size: Int) { super.init(.relu, size: size) }
}

/// `A = Z` where `Z > 0`, else `α·Z` (α = `LayerConstants.leakyReLUSlope` by default).
public final class LeakyReLU<T: Scalar>: Activation<T> {
    public init(size: Int, alpha: T = T(LayerConstants.leakyReLUSlope)) { super.init(.leakyReLU, size: size, alpha: alpha) }
}

/// `A = tanh(Z)`.
public final class Tanh<T: Scalar>: Activation<T> {
    public init(size: Int) { super.init(.tanh, size: size) }
}

/// `A = σ(Z) = 1 / (1 + e^(−Z))`.
public final class Sigmoid<T: Scalar>: Activation<T> {
    public init(size: Int) { super.init(.sigmoid, size: size) }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func reluForward<T: Scalar>(_ z: UnsafePointer<T>, _ a: UnsafeMutablePointer<T>, _ n: Int) {
    for i in 0..<n { a[i] = Swift.max(z[i], 0) }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func reluBackward<T: Scalar>(_ a: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>, _ n: Int) {
    if T.self == Float.self {
        return reluBackward(UnsafeRawPointer(a).assumingMemoryBound(to: Float.self),
                            UnsafeMutableRawPointer(d).assumingMemoryBound(to: Float.self), n)
    }
    for i in 0..<n { d[i] = a[i] > 0 ? d[i] : 0 }
}

/// `d[i] = a[i] > 0 ? d[i] : 0` in Float, eight at a time. Written with
/// vectors because the compiler turns the scalar loop into a conditional
/// store of 0, which it vectorizes only with masked stores (AVX), not in the
/// x86-64-v2 build; here every value is stored.
func reluBackward(_ a: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
    typealias V = SIMD8<Float>
    var i = 0
    while i + 8 <= n {
        let av = UnsafeRawPointer(a + i).loadUnaligned(as: V.self)
        var dv = UnsafeRawPointer(d + i).loadUnaligned(as: V.self)
        dv.replace(with: 0, where: .!(av .> 0))
        UnsafeMutableRawPointer(d + i).storeBytes(of: dv, as: V.self)
        i += 8
    }
    while i < n { d[i] = a[i] > 0 ? d[i] : 0; i += 1 }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func leakyForward<T: Scalar>(_ z: UnsafePointer<T>, _ a: UnsafeMutablePointer<T>, _ n: Int, _ alpha: T) {
    for i in 0..<n { let v = z[i]; a[i] = v > 0 ? v : alpha * v }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func leakyBackward<T: Scalar>(_ a: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>, _ n: Int, _ alpha: T) {
    for i in 0..<n { d[i] = a[i] > 0 ? d[i] : alpha * d[i] }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func tanhForward<T: Scalar>(_ z: UnsafePointer<T>, _ a: UnsafeMutablePointer<T>, _ n: Int) {
    for i in 0..<n { a[i] = T.tanh(z[i]) }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func tanhBackward<T: Scalar>(_ a: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>, _ n: Int) {
    for i in 0..<n { d[i] *= 1 - a[i] * a[i] }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func sigmoidForward<T: Scalar>(_ z: UnsafePointer<T>, _ a: UnsafeMutablePointer<T>, _ n: Int) {
    for i in 0..<n { a[i] = 1 / (1 + T.exp(-z[i])) }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func sigmoidBackward<T: Scalar>(_ a: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>, _ n: Int) {
    for i in 0..<n { d[i] *= a[i] * (1 - a[i]) }
}

/// An activation's element-wise loop, forward or backward, over part of a
/// matrix: what `parallelRanges` hands the engine's threads (a value, not a
/// closure, so the training step allocates nothing).
struct ElementwiseJob<T: Scalar>: RangeJob {
    let kind: ActivationKind
    /// Forward: `dst = g(src)`; backward: `dst ⊙= g'` from `src = A`.
    let forward: Bool
    let src: UnsafePointer<T>
    let dst: UnsafeMutablePointer<T>
    let alpha: T

    init(_ kind: ActivationKind, forward: Bool, _ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>, alpha: T) {
        (self.kind, self.forward, self.src, self.dst, self.alpha) = (kind, forward, src, dst, alpha)
    }

    func run(_ r: Range<Int>) {
        let (x, y, n) = (src + r.lowerBound, dst + r.lowerBound, r.count)
        switch (kind, forward) {
        case (.relu, true): reluForward(x, y, n)
        case (.relu, false): reluBackward(x, y, n)
        case (.leakyReLU, true): leakyForward(x, y, n, alpha)
        case (.leakyReLU, false): leakyBackward(x, y, n, alpha)
        case (.tanh, true): tanhForward(x, y, n)
        case (.tanh, false): tanhBackward(x, y, n)
        case (.sigmoid, true): sigmoidForward(x, y, n)
        case (.sigmoid, false): sigmoidBackward(x, y, n)
        }
    }
}
