/// One inference layer of a model with its tensors, for exporters (ONNX)
/// and tools that walk a loaded model: `Model.inferenceLayers` lists them
/// input first, ending in `.softmax`.
///
/// Activations are laid out channel-major per example (`C × H × W`, as
/// ONNX's NCHW), so a dense layer after a convolution or pooling reads the
/// flattened image in that order (ONNX: Flatten, then Gemm).
public enum ModelLayer: Sendable {
    /// `y = W·x + b`; `W` is `[outputs, inputs]`, `b` `[outputs]` (nil: no bias).
    case dense(inputs: Int, outputs: Int, W: NamedTensor, b: NamedTensor?)
    /// Cross-correlation with zero padding; `W` is `[F, C, k, k]`, `b` `[F]` (nil: no bias).
    case conv(input: ImageShape, output: ImageShape, kernel: Int, stride: Int, padding: Int, W: NamedTensor, b: NamedTensor?)
    /// Max or average pooling, no padding (average divides by `size²`).
    case pool(PoolKind, input: ImageShape, output: ImageShape, size: Int, stride: Int)
    /// Inference batch normalization: `y = γ·(x − mean)/√(variance + ε) + β` per channel.
    case batchNorm(shape: ImageShape, epsilon: Double, gamma: NamedTensor, beta: NamedTensor,
                   mean: NamedTensor, variance: NamedTensor)
    /// An element-wise activation (leaky ReLU's slope is `LayerConstants.leakyReLUSlope`).
    case activation(ActivationKind)
    /// Softmax over the class outputs.
    case softmax
}

extension Model {
    /// The inference layers with their tensors, input first (dropout left
    /// out; finished models have their batch normalizations folded in).
    /// Empty tensors for a model loaded without its parameters
    /// (`InferenceModel`'s copy).
    public var inferenceLayers: [ModelLayer] {
        inferenceLayers { name in parameters.first { $0.name == name } }
    }

    /// The inference layers with the tensors `tensor` finds by name (empty
    /// tensors where it finds none; no bias where it finds none).
    func inferenceLayers(tensors lookup: (String) -> NamedTensor?) -> [ModelLayer] {
        // The list the network was built from (its dropout layers, which hold nothing, are left out below).
        let (specs, input) = (architecture.layers, architecture.inputShape)
        guard case let .success(shapes) = LayerSpec.shapes(of: specs, input: input) else { return [] }
        func tensor(_ name: String) -> NamedTensor { lookup(name) ?? NamedTensor(name: name, shape: [], values: []) }
        func optional(_ name: String) -> NamedTensor? { lookup(name) }
        var out = [ModelLayer]()
        var shape = input
        for (i, slot) in TensorNames.slots(of: specs).enumerated() {
            let next = shapes[i]
            switch (specs[i], slot) {
            case let (.dense(n), .weighted(k, _)):
                out.append(.dense(inputs: shape.count, outputs: n, W: tensor(TensorNames.weights(k)),
                                  b: optional(TensorNames.bias(k))))
            case let (.conv(_, size, s, p), .weighted(k, _)):
                out.append(.conv(input: shape, output: next, kernel: size, stride: s, padding: p,
                                 W: tensor(TensorNames.weights(k)), b: optional(TensorNames.bias(k))))
            case let (.pool(kind, size, s), _):
                out.append(.pool(kind, input: shape, output: next, size: size, stride: s))
            case let (_, .normalization(k)):
                let names = TensorNames.normalization(k)
                out.append(.batchNorm(shape: shape, epsilon: LayerConstants.batchNormEpsilon, gamma: tensor(names.gamma),
                                      beta: tensor(names.beta), mean: tensor(names.mean), variance: tensor(names.variance)))
            case let (.activation(a), _):
                out.append(.activation(a))
            default:
                break  // dropout
            }
            shape = next
        }
        out.append(.softmax)
        return out
    }
}
