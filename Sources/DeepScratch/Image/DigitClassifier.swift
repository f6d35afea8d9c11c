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

    /// Loads the model file at `path`.
    /// - Throws: `DeepScratchError.cannotRead` or `.badModel`.
    public init(modelPath path: String) throws {
        (model, network) = try Model.loadNetwork(path: path)
        X = Matrix(rows: network.inputSize, cols: 1)
        table = model.standardization.table(Float.self)
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
        let A = network.forward(X, training: false)
        let probabilities = A.values
        var best = 0
        for k in 1..<probabilities.count where probabilities[k] > probabilities[best] { best = k }
        return Prediction(classIndex: best, label: model.classes[best], probabilities: probabilities, input: input)
    }
}
