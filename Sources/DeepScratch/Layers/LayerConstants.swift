/// The constants of layer kinds that model files do not store, written
/// once: the layers, the inference plan and the ONNX export read them here.
public enum LayerConstants {
    /// Leaky ReLU's slope for negative inputs, `α` in `A = Z > 0 ? Z : α·Z`.
    public static let leakyReLUSlope = 0.01
    /// `ε`, added to a batch normalization's variance before its square root.
    public static let batchNormEpsilon = 1e-5
}
