/// A feed-forward network: a stack of layers ending in softmax with the
/// cross-entropy cost.
///
/// Inputs are `inputSize × m` matrices, one example per column.
public final class Network<T: Scalar> {
    /// The layers in order, input first (the softmax head is `head`).
    public let layers: [any Layer<T>]
    /// The softmax + cross-entropy output.
    public let head: SoftmaxCrossEntropy<T>

    /// A network of `layers` whose last layer produces `classes` rows.
    public init(layers: [any Layer<T>], classes: Int) {
        precondition(!layers.isEmpty, "a network needs at least one layer")
        for (a, b) in zip(layers, layers.dropFirst()) {
            precondition(a.outputSize == b.inputSize, "layer sizes do not chain")
        }
        precondition(layers.last!.outputSize == classes, "last layer size differs from the class count")
        self.layers = layers
        self.head = SoftmaxCrossEntropy(classes: classes)
        // The first layer's input is the data: its gradient is never used.
        if let first = layers.first as? Dense<T> { first.computesInputGradient = false }
        if let first = layers.first as? Conv2D<T> { first.computesInputGradient = false }
    }

    /// Number of input features.
    public var inputSize: Int { layers[0].inputSize }
    /// Number of classes.
    public var classes: Int { head.classes }

    /// Every trainable parameter, layer by layer.
    public var parameters: [Parameter<T>] { layers.flatMap { $0.parameters } }

    /// The dense layers, in order.
    public var denseLayers: [Dense<T>] { layers.compactMap { $0 as? Dense<T> } }

    /// The dropout layers, in order.
    public var dropoutLayers: [Dropout<T>] { layers.compactMap { $0 as? Dropout<T> } }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// The convolution layers, in order.
    public var convolutionLayers: [Conv2D<T>] { layers.compactMap { $0 as? Conv2D<T> } }

    /// The batch normalization layers, in order.
    public var batchNormLayers: [BatchNorm<T>] { layers.compactMap { $0 as? BatchNorm<T> } }

    /// Sets the L2 strength λ of every dense and convolution layer.
    public func setL2(_ lambda: T) {
        for d in denseLayers { d.l2 = lambda }
        for c in convolutionLayers { c.l2 = lambda }
    }

    /// Every tensor a model file stores, in file order, with its file shape:
    /// per layer `W<k>`, `b<k>` (dense `[out, in]`, convolution
    /// `[F, C, k, k]`; `b` only when used) and, per batch normalization,
    /// `gamma<n>`, `beta<n>`, `mean<n>`, `var<n>` (`[C]`).
    public var storedTensors: [(name: String, shape: [Int], matrix: Matrix<T>)] {
        var out = [(name: String, shape: [Int], matrix: Matrix<T>)]()
        for layer in layers {
            if let d = layer as? Dense<T> {
                out.append((d.W.name, [d.outputSize, d.inputSize], d.W.value))
                if d.usesBias { out.append((d.b.name, [d.outputSize], d.b.value)) }
            } else if let c = layer as? Conv2D<T> {
                out.append((c.W.name, [c.output.channels, c.input.channels, c.kernel, c.kernel], c.W.value))
                if c.usesBias { out.append((c.b.name, [c.output.channels], c.b.value)) }
            } else if let n = layer as? BatchNorm<T> {
                let names = TensorNames.normalization(n.index)
                out.append((names.gamma, [n.channels], n.gamma.value))
                out.append((names.beta, [n.channels], n.beta.value))
                out.append((names.mean, [n.channels], n.runningMean))
                out.append((names.variance, [n.channels], n.runningVariance))
            }
        }
        return out
    }

    /// Runs the batch `X` (`inputSize × m`) forward and returns the class
    /// probabilities (`classes × m`, owned by the network).
    @discardableResult
    public func forward(_ X: Matrix<T>, training: Bool) -> Matrix<T> {
        var A = X
        // (Index loops: a debug build's generic iterators would allocate each step.)
        for l in 0..<layers.count { A = layers[l].forward(A, training: training) }
        return head.forward(A)
    }

    /// The cross-entropy of the last forward pass (without the L2 term).
    public func cost(labels: UnsafeBufferPointer<Int32>) -> T { head.cost(labels: labels) }

    /// The L2 term of the cost for a batch of `m` examples: `λ/(2m) Σ_l ‖W_l‖²`.
    public func l2Cost(batchSize m: Int) -> T {
        var total: T = 0
        for d in denseLayers where d.l2 != 0 {
            total += d.l2 / T(2 * m) * sumOfSquares(d.W.value.data, count: d.W.value.count)
        }
        for c in convolutionLayers where c.l2 != 0 {
            total += c.l2 / T(2 * m) * sumOfSquares(c.W.value.data, count: c.W.value.count)
        }
        return total
    }

    /// Back-propagates from the labels of the last forward pass, writing the
    /// gradient of every parameter.
    public func backward(labels: UnsafeBufferPointer<Int32>) {
        var d = head.backward(labels: labels)
        for l in stride(from: layers.count - 1, through: 0, by: -1) { d = layers[l].backward(d) }
    }
}
