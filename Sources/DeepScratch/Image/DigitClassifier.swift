/// A loaded model ready to classify digit images: PNG decoding, the
/// preprocessor, the model's own standardization, and the network.
///
/// Not thread-safe: the network keeps its activations between calls. Use
/// one classifier per thread.
public final class DigitClassifier {
    /// The model (its `parameters` are empty: the weights live in the network).
    public let model: Model
    /// The preprocessing applied to every image.
    public var preprocessor = DigitPreprocessor()
    private let network: Network<Float>
    private let X: Matrix<Float>
    private let table: [Float]
    /// Dense layers for one image, reading only the weights of nonzero
    /// inputs (nil where the input is not sparse).
    private let sparseLayers: [SparseDense?]

    /// Loads the model file at `path`.
    /// - Throws: `DeepScratchError.cannotRead` or `.badModel`.
    public init(modelPath path: String) throws {
        (model, network) = try Model.loadNetwork(path: path)
        X = Matrix(rows: network.inputSize, cols: 1)
        table = model.standardization.table(Float.self)
        // The first layer's input is mostly background pixels; later dense
        // layers follow a ReLU, whose output is mostly exact zeros.
        var sparse = [SparseDense?]()
        for (k, layer) in network.layers.enumerated() {
            if let dense = layer as? Dense<Float> {
                if k == 0 { sparse.append(SparseDense(dense, background: table[0])) }
                else if network.layers[k - 1] is ReLU<Float> { sparse.append(SparseDense(dense, background: 0)) }
                else { sparse.append(nil) }
            } else {
                sparse.append(nil)
            }
        }
        sparseLayers = sparse
        guard network.inputSize == preprocessor.frame * preprocessor.frame else {
            throw DeepScratchError.badModel(path: path, reason: "input size \(network.inputSize) is not a \(preprocessor.frame)x\(preprocessor.frame) image")
        }
    }

    /// One image's result.
    public struct Prediction: Sendable {
        /// Index of the most probable class.
        public var classIndex: Int
        /// Its label (from the model).
        public var label: String
        /// Probability of each class, in the model's class order.
        public var probabilities: [Float]
        /// The 28×28 image the network saw (0 background … 255 ink).
        public var input: [UInt8]

        /// The `k` most probable classes, most probable first: (index, probability).
        public func top(_ k: Int) -> [(index: Int, probability: Float)] {
            probabilities.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
                .prefix(max(0, k)).map { ($0.offset, $0.element) }
        }
    }

    /// Classifies the PNG file at `path`.
    /// - Throws: `DeepScratchError` naming the file and the problem.
    public func classify(pngPath path: String) throws -> Prediction {
        try classify(try PNG.read(path: path), name: path)
    }

    /// Classifies a decoded image; `name` labels errors.
    public func classify(_ image: GrayImage, name: String = "<image>") throws -> Prediction {
        var input = try preprocessor.process(image, name: name)
        if model.polarity == .darkOnLight { input = input.map { 255 - $0 } }
        return classify(preprocessed: input)
    }

    /// Classifies an image already in the model's input form: `frame × frame`
    /// bytes, 0 background … 255 ink (as MNIST stores them).
    public func classify(preprocessed input: [UInt8]) -> Prediction {
        precondition(input.count == network.inputSize, "expected \(network.inputSize) pixels")
        for i in 0..<input.count { X.data[i] = table[Int(input[i])] }
        var H = X
        for (layer, sparse) in zip(network.layers, sparseLayers) {
            H = sparse?.forward(H.data) ?? layer.forward(H, training: false)
        }
        let A = network.head.forward(H)
        let probabilities = A.values
        var best = 0
        for k in 1..<probabilities.count where probabilities[k] > probabilities[best] { best = k }
        return Prediction(classIndex: best, label: model.classes[best], probabilities: probabilities, input: input)
    }
}

/// `Z = W·x + b` for one input whose entries mostly equal one value (the
/// background pixel of a digit, or the zeros after a ReLU).
///
/// With `x_bg` that value, `W·x = W·x_bg·1 + Σ_{j: x_j ≠ x_bg} (x_j − x_bg)·W[:, j]`:
/// the first term is folded into the bias once, and the sum reads one
/// contiguous column of `W` (stored transposed) per other entry — for a
/// digit about a fifth of the first layer's weights and half of the next
/// ones', instead of all of them. Exact up to rounding.
final class SparseDense {
    private let inputs: Int
    private let outputs: Int
    /// `Wᵀ`, `inputs × outputs`.
    private let transposed: [Float]
    /// `b + W·x_bg`.
    private let shiftedBias: [Float]
    private let background: Float
    private let Z: Matrix<Float>

    init(_ dense: Dense<Float>, background: Float) {
        inputs = dense.inputSize
        outputs = dense.outputSize
        self.background = background
        var t = [Float](repeating: 0, count: inputs * outputs)
        var bias = [Float](repeating: 0, count: outputs)
        let W = dense.W.value.data, b = dense.b.value.data
        for i in 0..<outputs {
            var rowSum: Float = 0
            for j in 0..<inputs {
                t[j * outputs + i] = W[i * inputs + j]
                rowSum += W[i * inputs + j]
            }
            bias[i] = b[i] + background * rowSum
        }
        transposed = t
        shiftedBias = bias
        Z = Matrix(rows: outputs, cols: 1)
    }

    /// `Z` for the input `x` (`inputs` values).
    func forward(_ x: UnsafePointer<Float>) -> Matrix<Float> {
        let z = Z.data
        shiftedBias.withUnsafeBufferPointer { z.update(from: $0.baseAddress!, count: outputs) }
        transposed.withUnsafeBufferPointer { wt in
            for j in 0..<inputs where x[j] != background {
                // z += (x_j − x_bg) · W[:, j]
                let d = x[j] - background
                let column = wt.baseAddress! + j * outputs
                for i in 0..<outputs { z[i] += d * column[i] }
            }
        }
        return Z
    }
}
