/// The names of a network's tensors and which layer holds which, written
/// once: the layers name their parameters with these, and networks, model
/// files, checkpoints and exporters find them by them.
///
/// Counting the layers of a list that hold tensors, the `k`-th weighted
/// layer (dense or convolution) holds `W<k>` and, unless a batch
/// normalization follows it, `b<k>`; the `k`-th batch normalization holds
/// `gamma<k>`, `beta<k>` and its running statistics `mean<k>`, `var<k>`.
public enum TensorNames {
    /// The `k`-th weighted layer's weights.
    public static func weights(_ k: Int) -> String { "W\(k)" }
    /// The `k`-th weighted layer's bias.
    public static func bias(_ k: Int) -> String { "b\(k)" }
    /// The `k`-th batch normalization's scale, shift, running mean and running variance.
    public static func normalization(_ k: Int) -> (gamma: String, beta: String, mean: String, variance: String) {
        ("gamma\(k)", "beta\(k)", "mean\(k)", "var\(k)")
    }

    /// What one layer of a list holds.
    public enum Slot: Equatable, Sendable {
        /// No tensor (pooling, activation, dropout).
        case none
        /// The `index`-th weighted layer; `bias`: it has one.
        case weighted(index: Int, bias: Bool)
        /// The `index`-th batch normalization.
        case normalization(index: Int)
    }

    /// The slot of each layer of `layers`, in order (dropout counts as a
    /// layer between a weighted layer and a normalization: the weighted
    /// layer then keeps its bias).
    public static func slots(of layers: [LayerSpec]) -> [Slot] {
        var weighted = 0, normalizations = 0
        return layers.indices.map { i in
            switch layers[i] {
            case .dense, .conv:
                weighted += 1
                // A batch normalization right after takes the bias's place (its β).
                let followedByNorm = i + 1 < layers.count && layers[i + 1] == .batchNorm
                return .weighted(index: weighted, bias: !followedByNorm)
            case .batchNorm:
                normalizations += 1
                return .normalization(index: normalizations)
            case .pool, .activation, .dropout:
                return .none
            }
        }
    }
}
