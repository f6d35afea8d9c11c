import DeepScratch
/// Classifies pictures of digits with a loaded model: PNG decoding, the
/// preprocessor, then the model. Thread-safe: it holds only the immutable
/// `InferenceModel`.
public final class DigitClassifier: @unchecked Sendable {
    /// The loaded model.
    public let inference: InferenceModel
    /// The model's description.
    public var model: Model { inference.model }
    /// The preprocessing applied to every image.
    public var preprocessor: DigitPreprocessor { inference.preprocessor }

    /// Loads the model file at `path`.
    /// - Throws: `DeepScratchError.cannotRead` or `.badModel`.
    public init(modelPath path: String) throws {
        inference = try InferenceModel(path: path)
        guard inference.inputSize == preprocessor.frame * preprocessor.frame else {
            throw DeepScratchError.badModel(path: path, reason: "input size \(inference.inputSize) is not a \(preprocessor.frame)x\(preprocessor.frame) image")
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
        classify(preprocessed: try inference.preprocess(image, name: name))
    }

    /// Classifies an image already in the model's input form: `frame × frame`
    /// bytes, 0 background … 255 ink (as MNIST stores them).
    public func classify(preprocessed input: [UInt8]) -> Prediction {
        precondition(input.count == inference.inputSize, "expected \(inference.inputSize) pixels")
        var probabilities = [Float](repeating: 0, count: inference.classCount)
        probabilities.withUnsafeMutableBufferPointer { inference.probabilities(bytes: input, into: $0.baseAddress!) }
        var best = 0
        for k in 1..<probabilities.count where probabilities[k] > probabilities[best] { best = k }
        return Prediction(classIndex: best, label: model.classes[best], probabilities: probabilities, input: input)
    }
}
