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

/// The shape of a network: a fully connected one (sizes, activation,
/// dropout), or, when `layers` is set, any stack of the layers `LayerSpec`
/// lists (convolutions, pooling, batch normalization).
public struct Architecture: Equatable, Sendable {
    /// Layer widths from input to output, e.g. `[784, 1024, 1024, 10]`.
    /// For a network with `layers`: `[input values, classes]`.
    public var sizes: [Int]
    /// The layer list of a network beyond the fully connected one (nil for
    /// the network `sizes` describes); the softmax head is implicit.
    public var layers: [LayerSpec]?
    /// The shape of one input image (for `layers`; MNIST: 1×28×28).
    public var inputShape: ImageShape
    /// The hidden layers' activation.
    public var activation: ActivationKind
    /// Keep probability of the dropout after each hidden layer (1 = none).
    public var keep: [Double]

    /// - Parameters:
    ///   - sizes: input size, hidden sizes, class count (at least two entries).
    ///   - activation: the hidden activation.
    ///   - keep: one keep probability per hidden layer, or one for all.
    public init(sizes: [Int], activation: ActivationKind = .relu, keep: [Double] = []) {
        self.sizes = sizes
        self.activation = activation
        self.layers = nil
        self.inputShape = ImageShape(channels: 1, height: 1, width: sizes.first ?? 0)
        let hidden = max(0, sizes.count - 2)
        if keep.count == 1 { self.keep = Array(repeating: keep[0], count: hidden) }
        else if keep.isEmpty { self.keep = Array(repeating: 1, count: hidden) }
        else { self.keep = keep }
    }

    /// A network of `layers` on images of `inputShape`. The layers are
    /// not checked here: see `LayerSpec.shapes(of:input:)`.
    /// - Parameters:
    ///   - layers: the layer list, ending in a dense layer of `classes` outputs.
    ///   - activation: the activation the list uses (recorded for resuming).
    public init(layers: [LayerSpec], inputShape: ImageShape, activation: ActivationKind = .relu) {
        var classes = 0
        if case let .dense(n)? = layers.last { classes = n }
        self.sizes = [inputShape.count, classes]
        self.activation = activation
        self.keep = []
        self.layers = layers
        self.inputShape = inputShape
    }

    /// Number of trainable scalars (and stored running statistics):
    /// `Σ (in + 1) · out` over the dense layers of a fully connected network.
    /// Counted from the shapes, nothing allocated (0 when the layers do not
    /// fit their input).
    public var parameterCount: Int {
        // Each shape of a list `shapes(of:)` accepts multiplies to at most
        // 2^16 · 2^12 · 15² (a convolution) or 2^28 · 2^20 (a dense layer).
        (storedTensorShapes ?? []).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// The layers inference runs (dropout left out) and the image they take:
    /// `layers` on `inputShape`, or for a fully connected network its dense
    /// layers with the activation between them on a 1 × 1 image of
    /// `sizes[0]` channels.
    public var inferenceSpecs: (layers: [LayerSpec], input: ImageShape) {
        if let layers {
            return (layers.filter { if case .dropout = $0 { return false } else { return true } }, inputShape)
        }
        let s = sizes
        let dense = (1..<max(1, s.count)).flatMap { l in
            l < s.count - 1 ? [LayerSpec.dense(s[l]), .activation(activation)] : [LayerSpec.dense(s[l])]
        }
        return (dense, ImageShape(channels: s.first ?? 0, height: 1, width: 1))
    }

    /// The tensors a model file of this architecture stores, in file order,
    /// with their file shapes: the names and shapes `Network.storedTensors`
    /// gives the network `makeNetwork` builds (see there), computed from the
    /// layer list without building it. Nil when the layers do not fit their
    /// input.
    public var storedTensorShapes: [(name: String, shape: [Int])]? {
        // The list makeNetwork builds, dropout included (it decides which layers have a bias).
        let (specs, input) = layers.map { ($0, inputShape) } ?? inferenceSpecs
        guard !specs.isEmpty, case let .success(shapes) = LayerSpec.shapes(of: specs, input: input) else { return nil }
        var out: [(name: String, shape: [Int])] = []
        var shape = input
        for (i, slot) in TensorNames.slots(of: specs).enumerated() {
            switch (specs[i], slot) {
            case let (.dense(n), .weighted(k, bias)):
                out.append((TensorNames.weights(k), [n, shape.count]))
                if bias { out.append((TensorNames.bias(k), [n])) }
            case let (.conv(f, size, _, _), .weighted(k, bias)):
                out.append((TensorNames.weights(k), [f, shape.channels, size, size]))
                if bias { out.append((TensorNames.bias(k), [f])) }
            case let (_, .normalization(k)):
                let names = TensorNames.normalization(k)
                for name in [names.gamma, names.beta, names.mean, names.variance] { out.append((name, [shape.channels])) }
            default:
                break
            }
            shape = shapes[i]
        }
        return out
    }

    /// Builds the network: `Dense → activation → [Dropout]` per hidden layer,
    /// then `Dense → softmax`. Weights are drawn with `initialization`
    /// (default: the one suited to the activation), biases are 0; each
    /// dropout layer gets its own generator derived from `seed`. With
    /// `drawWeights: false` the parameters are left for the caller to fill
    /// (loading a model): their values are unspecified until then.
    public func makeNetwork<T: Scalar>(
        _: T.Type = T.self, initialization: WeightInit? = nil, seed: UInt64, drawWeights: Bool = true
    ) -> Network<T> {
        var rng = RandomSource(seed: seed)
        let scheme = initialization ?? activation.suitedInit
        if let specs = self.layers {
            return LayerSpec.makeNetwork(specs, input: inputShape, T.self, initialization: scheme, seed: seed,
                                         drawWeights: drawWeights)
        }
        var layers: [any Layer<T>] = []
        for l in 1..<sizes.count {
            let dense = Dense<T>(inputSize: sizes[l - 1], outputSize: sizes[l], index: l, zeroed: drawWeights)
            if drawWeights { dense.initialize(scheme, rng: &rng) }
            layers.append(dense)
            if l < sizes.count - 1 {
                layers.append(activation.makeLayer(size: sizes[l], as: T.self))
                let k = keep[l - 1]
                if k < 1 {
                    let dropoutRNG = RandomSource(seed: seed ^ (0xD509_0000 &+ UInt64(l) &* 0x9E37_79B9))
                    layers.append(Dropout<T>(size: sizes[l], keep: k, rng: dropoutRNG))
                }
            }
        }
        return Network(layers: layers, classes: sizes.last!)
    }
}
