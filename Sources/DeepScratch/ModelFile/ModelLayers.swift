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
        let (specs, input) = architecture.inferenceSpecs
        guard case let .success(shapes) = LayerSpec.shapes(of: specs, input: input) else { return [] }
        func tensor(_ name: String) -> NamedTensor {
            parameters.first { $0.name == name } ?? NamedTensor(name: name, shape: [], values: [])
        }
        func optional(_ name: String) -> NamedTensor? { parameters.first { $0.name == name } }
        var out = [ModelLayer]()
        var shape = input
        var weighted = 0, norms = 0
        for (i, spec) in specs.enumerated() {
            let next = shapes[i]
            switch spec {
            case let .dense(n):
                weighted += 1
                out.append(.dense(inputs: shape.count, outputs: n, W: tensor("W\(weighted)"), b: optional("b\(weighted)")))
            case let .conv(_, k, s, p):
                weighted += 1
                out.append(.conv(input: shape, output: next, kernel: k, stride: s, padding: p,
                                 W: tensor("W\(weighted)"), b: optional("b\(weighted)")))
            case let .pool(kind, size, s):
                out.append(.pool(kind, input: shape, output: next, size: size, stride: s))
            case .batchNorm:
                norms += 1
                out.append(.batchNorm(shape: shape, epsilon: LayerConstants.batchNormEpsilon, gamma: tensor("gamma\(norms)"), beta: tensor("beta\(norms)"),
                                      mean: tensor("mean\(norms)"), variance: tensor("var\(norms)")))
            case let .activation(a):
                out.append(.activation(a))
            case .dropout:
                break
            }
            shape = next
        }
        out.append(.softmax)
        return out
    }
}
