/// The shape of a network: one list of layers (`LayerSpec`, the language of
/// `dsc train --arch`) on an input image. Training builds the list
/// (`makeNetwork`), model files store it (`model.layers`, dropout left out),
/// inference compiles it into one plan (`InferenceModel`), and the ONNX
/// export walks that plan's layers (`Model.inferenceLayers`).
///
/// `init(sizes:activation:keep:inputShape:)` is the fully connected sugar of
/// `dsc train --hidden 512,512 --dropout 0.2`: it makes the list
/// `dense 512, relu, dropout, dense 512, relu, dropout, dense 10`.
public struct Architecture: Equatable, Sendable {
    /// The layers, input first, ending in a dense layer of the class count;
    /// the softmax head is implicit.
    public var layers: [LayerSpec]
    /// The shape of one input image (MNIST: 1 × 28 × 28). A dense first
    /// layer takes it flattened, channel-major.
    public var inputShape: ImageShape
    /// The hidden activation the list was made with (recorded for resuming
    /// and for the fully connected form; the list holds its own).
    public var activation: ActivationKind

    /// A fully connected network: per hidden layer `dense → activation →
    /// dropout` (no dropout layer where the keep probability is 1), then a
    /// dense layer of the class count.
    /// - Parameters:
    ///   - sizes: input size, hidden sizes, class count (at least two
    ///     entries, or the list is empty and `TrainingConfig.validate` says so).
    ///   - activation: the hidden activation.
    ///   - keep: one keep probability per hidden layer, or one for all, or
    ///     none (no dropout).
    ///   - inputShape: the input image (default: one row of `sizes[0]` values).
    /// - Precondition: `keep` has 0, 1 or `sizes.count − 2` values.
    public init(sizes: [Int], activation: ActivationKind = .relu, keep: [Double] = [], inputShape: ImageShape? = nil) {
        let hidden = max(0, sizes.count - 2)
        precondition(keep.count <= 1 || keep.count == hidden, "one keep probability, or one per hidden layer")
        var layers: [LayerSpec] = []
        for l in 1..<max(1, sizes.count) {
            layers.append(.dense(sizes[l]))
            guard l < sizes.count - 1 else { break }
            layers.append(.activation(activation))
            let k = keep.isEmpty ? 1 : keep[keep.count == 1 ? 0 : l - 1]
            if k != 1 { layers.append(.dropout(keep: k)) }
        }
        self.init(layers: layers, inputShape: inputShape ?? ImageShape(channels: 1, height: 1, width: sizes.first ?? 0),
                  activation: activation)
    }

    /// A network of `layers` on images of `inputShape`. The layers are
    /// not checked here: see `LayerSpec.shapes(of:input:)`.
    /// - Parameters:
    ///   - layers: the layer list, ending in a dense layer of the class count.
    ///   - activation: the activation the list uses (recorded for resuming).
    public init(layers: [LayerSpec], inputShape: ImageShape, activation: ActivationKind = .relu) {
        self.layers = layers
        self.inputShape = inputShape
        self.activation = activation
    }

    /// The number of classes: the last dense layer's width (0 without one).
    public var classes: Int {
        for layer in layers.reversed() { if case let .dense(n) = layer { return n } }
        return 0
    }

    /// The input's values, then each dense layer's width, e.g.
    /// `[784, 512, 512, 10]`: first the input size, last the class count.
    public var sizes: [Int] {
        [inputShape.count] + layers.compactMap { if case let .dense(n) = $0 { return n } else { return nil } }
    }

    /// The list in the form `init(sizes:activation:keep:)` makes — widths
    /// and the keep probability after each hidden layer — or nil when it is
    /// not a stack of `dense → activation → [dropout]` with this one
    /// activation ending in a dense layer.
    public var fullyConnected: (sizes: [Int], keep: [Double])? {
        var sizes = [inputShape.count], keep: [Double] = []
        var i = 0
        while i < layers.count {
            guard case let .dense(n) = layers[i] else { return nil }
            sizes.append(n)
            i += 1
            if i == layers.count { return (sizes, keep) }
            guard layers[i] == .activation(activation) else { return nil }
            i += 1
            if i < layers.count, case let .dropout(k) = layers[i] { keep.append(k); i += 1 } else { keep.append(1) }
        }
        return nil
    }

    /// The keep probability after each hidden layer of the fully connected
    /// form (1: no dropout); empty for any other list.
    public var keep: [Double] { fullyConnected?.keep ?? [] }

    /// The list has a convolution.
    public var hasConvolution: Bool { layers.contains { if case .conv = $0 { return true } else { return false } } }

    /// The layers inference runs: the list without its dropout layers.
    public var inferenceLayers: [LayerSpec] {
        layers.filter { if case .dropout = $0 { return false } else { return true } }
    }

    /// Number of trainable scalars (and stored running statistics), counted
    /// from the shapes, nothing allocated (0 when the layers do not fit
    /// their input).
    public var parameterCount: Int {
        // Each shape of a list `shapes(of:)` accepts multiplies to at most
        // 2^16 · 2^12 · 15² (a convolution) or 2^28 · 2^20 (a dense layer).
        (storedTensorShapes ?? []).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// The tensors a model file of this architecture stores, in file order,
    /// with their file shapes: the names and shapes `Network.storedTensors`
    /// gives the network `makeNetwork` builds (see there), computed from the
    /// layer list without building it. Nil when the layers do not fit their
    /// input.
    public var storedTensorShapes: [(name: String, shape: [Int])]? {
        guard !layers.isEmpty, case let .success(shapes) = LayerSpec.shapes(of: layers, input: inputShape) else { return nil }
        var out: [(name: String, shape: [Int])] = []
        var shape = inputShape
        for (i, slot) in TensorNames.slots(of: layers).enumerated() {
            switch (layers[i], slot) {
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

    /// Builds the network of `layers` (see `LayerSpec.makeNetwork`, which
    /// `LayerSpec.shapes(of:input:)` must accept). Weights are drawn with
    /// `initialization` (default: the one suited to the activation), biases
    /// are 0; each dropout layer gets its own generator derived from `seed`.
    /// With `drawWeights: false` the parameters are left for the caller to
    /// fill (loading a model): their values are unspecified until then.
    public func makeNetwork<T: Scalar>(
        _: T.Type = T.self, initialization: WeightInit? = nil, seed: UInt64, drawWeights: Bool = true
    ) -> Network<T> {
        LayerSpec.makeNetwork(layers, input: inputShape, T.self, initialization: initialization ?? activation.suitedInit,
                              seed: seed, drawWeights: drawWeights)
    }
}
