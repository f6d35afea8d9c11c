/// A trainable tensor of a layer together with the gradient of the cost with
/// respect to it.
public final class Parameter<T: Scalar> {
    /// A short name such as `W1` or `b2`.
    public let name: String
    /// The values.
    public let value: Matrix<T>
    /// `∂J/∂value`, same shape as `value`; written by the layer's backward
    /// pass. Allocated on first use, so inference networks never hold one.
    public private(set) lazy var gradient = Matrix<T>(rows: value.rows, cols: value.cols)
    /// Whether L2 regularization applies to it (weights yes, biases no).
    public let regularized: Bool
    /// True when `gradient` holds zeros because the optimizer cleared it while
    /// reading it; the backward pass then adds into it instead of
    /// overwriting it, which spares BLAS a separate pass zeroing the result.
    public var gradientIsZero = false

    /// A parameter of `rows × cols` zeros (or, with `zeroed: false`, of
    /// unspecified values the caller overwrites).
    init(name: String, rows: Int, cols: Int, regularized: Bool, zeroed: Bool = true) {
        self.name = name
        self.value = Matrix(rows: rows, cols: cols, zeroed: zeroed)
        self.regularized = regularized
    }
}

/// One step of the network: a function of an `inputSize × m` activation
/// matrix (one column per example) with its backward pass beside it.
///
/// `forward` returns a matrix the layer owns; `backward` takes `∂J/∂output`
/// (which it may overwrite) and returns `∂J/∂input`, after writing the
/// gradients of its parameters. `backward` uses what the last `forward` kept,
/// so the input passed to `forward` must stay unchanged until then.
public protocol Layer<T>: AnyObject {
    associatedtype T: Scalar
    /// Number of input features (rows of the input).
    var inputSize: Int { get }
    /// Number of output features (rows of the output).
    var outputSize: Int { get }
    /// The trainable parameters, in a fixed order (empty for most layers).
    var parameters: [Parameter<T>] { get }
    /// Computes the output for a batch; `training` turns on dropout.
    func forward(_ input: Matrix<T>, training: Bool) -> Matrix<T>
    /// Back-propagates `∂J/∂output` (may be overwritten) to `∂J/∂input`.
    func backward(_ dOutput: Matrix<T>) -> Matrix<T>
}

extension Layer {
    public var parameters: [Parameter<T>] { [] }
}
