/// A fully connected layer, `Z = W·A + b`.
///
/// `W` is `outputSize × inputSize`, `b` is `outputSize × 1`; the input `A` is
/// `inputSize × m` and the output `Z` is `outputSize × m`.
public final class Dense<T: Scalar>: Layer {
    public let inputSize: Int
    public let outputSize: Int
    /// Weights, `outputSize × inputSize`.
    public let W: Parameter<T>
    /// Biases, `outputSize × 1`.
    public let b: Parameter<T>
    /// L2 strength λ: the cost gains `λ/(2m)·‖W‖²`, so `dW` gains `(λ/m)·W`.
    public var l2: T = 0
    /// Whether `backward` computes `∂J/∂A` (not needed for the first layer,
    /// whose input is the data: skipping it saves a third of its work).
    public var computesInputGradient = true
    /// False when a batch normalization follows (its β makes a bias
    /// redundant): `b` then stays 0 and is not trained.
    public let usesBias: Bool

    private var A: Matrix<T>?
    private let Z: Matrix<T>
    private let dA: Matrix<T>

    /// A layer with zero weights and biases; see `initialize(_:rng:)`.
    /// With `zeroed: false` the parameters are left unspecified for the
    /// caller to fill (loading a model).
    public init(inputSize: Int, outputSize: Int, index: Int = 1, zeroed: Bool = true, usesBias: Bool = true) {
        self.usesBias = usesBias
        self.inputSize = inputSize
        self.outputSize = outputSize
        W = Parameter(name: TensorNames.weights(index), rows: outputSize, cols: inputSize, regularized: true, zeroed: zeroed)
        b = Parameter(name: TensorNames.bias(index), rows: outputSize, cols: 1, regularized: false, zeroed: zeroed || !usesBias)
        Z = Matrix(rows: outputSize, cols: 0)
        dA = Matrix(rows: inputSize, cols: 0)
    }

    public var parameters: [Parameter<T>] { usesBias ? [W, b] : [W] }

    /// Draws `W` from the distribution `scheme` names (biases become 0).
    public func initialize(_ scheme: WeightInit, rng: inout RandomSource) {
        let sigma = scheme.standardDeviation(fanIn: inputSize)
        for i in 0..<W.value.count { W.value.data[i] = T(rng.nextGaussian() * sigma) }
        b.value.fill(0)
    }

    public func forward(_ input: Matrix<T>, training: Bool) -> Matrix<T> {
        precondition(input.rows == inputSize, "Dense: input has \(input.rows) rows, expected \(inputSize)")
        A = input
        // Z = W·A + b: b written into every column first, the product added
        // to it (beta = 1), which spares a pass over Z.
        let m = input.cols
        Z.resize(cols: m)
        broadcastColumn(b.value.data, into: Z.data, rows: outputSize, cols: m)
        gemm(W.value, input, into: Z, beta: 1)
        return Z
    }

    public func backward(_ dZ: Matrix<T>) -> Matrix<T> {
        guard let A else { preconditionFailure("Dense.backward before forward") }
        let m = dZ.cols
        // dW = dZ·Aᵀ + (λ/m)·W
        var beta: T = W.gradientIsZero ? 1 : 0
        if l2 != 0 {
            scaledAdd(W.value.data, to: W.gradient.data, count: W.value.count, alpha: l2 / T(m), beta: beta)
            beta = 1
        }
        gemm(dZ, A, transposeB: true, into: W.gradient, beta: beta)
        W.gradientIsZero = false
        // db = Σ_columns dZ
        if usesBias { rowSums(dZ.data, rows: outputSize, cols: m, into: b.gradient.data) }
        // dA = Wᵀ·dZ
        if computesInputGradient {
            gemm(W.value, transposeA: true, dZ, into: dA)
        } else {
            dA.resize(cols: m)
        }
        return dA
    }
}

/// How initial weights are drawn: `W ~ N(0, σ²)` with `σ` from the fan-in `n`.
public enum WeightInit: String, CaseIterable, Sendable {
    /// He et al. 2015, for ReLU: `σ = √(2/n)`.
    case he
    /// Xavier/Glorot as the course writes it, for tanh: `σ = √(1/n)`.
    case xavier
    /// The course's first recipe: `σ = 0.01`.
    case small

    /// σ for a layer with `fanIn` inputs.
    public func standardDeviation(fanIn: Int) -> Double {
        switch self {
        case .he: return (2.0 / Double(fanIn)).squareRoot()
        case .xavier: return (1.0 / Double(fanIn)).squareRoot()
        case .small: return 0.01
        }
    }
}
