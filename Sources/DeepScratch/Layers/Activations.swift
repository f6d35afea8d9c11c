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

/// `A = max(0, Z)`.
public final class ReLU<T: Scalar>: Layer {
    public let inputSize: Int
    public var outputSize: Int { inputSize }
    private let A: Matrix<T>
    public init(size: Int) { inputSize = size; A = Matrix(rows: size, cols: 0) }

    public func forward(_ Z: Matrix<T>, training: Bool) -> Matrix<T> {
        A.resize(cols: Z.cols)
        // A = max(0, Z)
        let (src, dst) = (Z.data, A.data)
        parallelRanges(Z.count, ElementwiseJob(.reluForward, src, dst))
        return A
    }

    public func backward(_ dA: Matrix<T>) -> Matrix<T> {
        // dZ = dA ⊙ [A > 0]
        let (src, dst) = (A.data, dA.data)
        parallelRanges(dA.count, ElementwiseJob(.reluBackward, src, dst))
        return dA
    }
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

/// `A = Z` where `Z > 0`, else `α·Z` (α = `LayerConstants.leakyReLUSlope` by default).
public final class LeakyReLU<T: Scalar>: Layer {
    public let inputSize: Int
    public var outputSize: Int { inputSize }
    /// The slope for negative inputs.
    public let alpha: T
    private let A: Matrix<T>
    public init(size: Int, alpha: T = T(LayerConstants.leakyReLUSlope)) {
        inputSize = size; self.alpha = alpha; A = Matrix(rows: size, cols: 0)
    }

    public func forward(_ Z: Matrix<T>, training: Bool) -> Matrix<T> {
        A.resize(cols: Z.cols)
        // A = Z > 0 ? Z : αZ
        let (src, dst, alpha) = (Z.data, A.data, self.alpha)
        parallelRanges(Z.count, ElementwiseJob(.leakyForward, src, dst, alpha: alpha))
        return A
    }

    public func backward(_ dA: Matrix<T>) -> Matrix<T> {
        // dZ = dA ⊙ (A > 0 ? 1 : α)   (A > 0 exactly when Z > 0, as α > 0)
        let (src, dst, alpha) = (A.data, dA.data, self.alpha)
        parallelRanges(dA.count, ElementwiseJob(.leakyBackward, src, dst, alpha: alpha))
        return dA
    }
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

/// `A = tanh(Z)`.
public final class Tanh<T: Scalar>: Layer {
    public let inputSize: Int
    public var outputSize: Int { inputSize }
    private let A: Matrix<T>
    public init(size: Int) { inputSize = size; A = Matrix(rows: size, cols: 0) }

    public func forward(_ Z: Matrix<T>, training: Bool) -> Matrix<T> {
        A.resize(cols: Z.cols)
        // A = tanh(Z)
        let (src, dst) = (Z.data, A.data)
        parallelRanges(Z.count, ElementwiseJob(.tanhForward, src, dst))
        return A
    }

    public func backward(_ dA: Matrix<T>) -> Matrix<T> {
        // dZ = dA ⊙ (1 − A²)
        let (src, dst) = (A.data, dA.data)
        parallelRanges(dA.count, ElementwiseJob(.tanhBackward, src, dst))
        return dA
    }
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

/// `A = σ(Z) = 1 / (1 + e^(−Z))`.
public final class Sigmoid<T: Scalar>: Layer {
    public let inputSize: Int
    public var outputSize: Int { inputSize }
    private let A: Matrix<T>
    public init(size: Int) { inputSize = size; A = Matrix(rows: size, cols: 0) }

    public func forward(_ Z: Matrix<T>, training: Bool) -> Matrix<T> {
        A.resize(cols: Z.cols)
        // A = 1 / (1 + e^(−Z))
        let (src, dst) = (Z.data, A.data)
        parallelRanges(Z.count, ElementwiseJob(.sigmoidForward, src, dst))
        return A
    }

    public func backward(_ dA: Matrix<T>) -> Matrix<T> {
        // dZ = dA ⊙ A ⊙ (1 − A)
        let (src, dst) = (A.data, dA.data)
        parallelRanges(dA.count, ElementwiseJob(.sigmoidBackward, src, dst))
        return dA
    }
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
    enum Kernel {
        case reluForward, reluBackward, leakyForward, leakyBackward
        case tanhForward, tanhBackward, sigmoidForward, sigmoidBackward
    }
    let kernel: Kernel
    let src: UnsafePointer<T>
    let dst: UnsafeMutablePointer<T>
    let alpha: T

    init(_ kernel: Kernel, _ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>, alpha: T = 0) {
        (self.kernel, self.src, self.dst, self.alpha) = (kernel, src, dst, alpha)
    }

    func run(_ r: Range<Int>) {
        let (x, y, n) = (src + r.lowerBound, dst + r.lowerBound, r.count)
        switch kernel {
        case .reluForward: reluForward(x, y, n)
        case .reluBackward: reluBackward(x, y, n)
        case .leakyForward: leakyForward(x, y, n, alpha)
        case .leakyBackward: leakyBackward(x, y, n, alpha)
        case .tanhForward: tanhForward(x, y, n)
        case .tanhBackward: tanhBackward(x, y, n)
        case .sigmoidForward: sigmoidForward(x, y, n)
        case .sigmoidBackward: sigmoidBackward(x, y, n)
        }
    }
}
