import DeepScratch

extension InferenceModel {
    /// The preprocessing applied to pictures.
    public var preprocessor: DigitPreprocessor { DigitPreprocessor() }

    /// The 28×28 image a picture becomes, as values in [0, 1] (and the bytes).
    /// - Throws: `DeepScratchError.badImage` naming the problem.
    public func preprocess(_ image: GrayImage, name: String) throws -> [UInt8] {
        var input = try preprocessor.process(image, name: name)
        if model.polarity == .darkOnLight { input = input.map { 255 - $0 } }
        guard input.count == inputSize else {
            throw DeepScratchError.badModel(path: name, reason: "the model takes \(inputSize) inputs, not a \(preprocessor.frame)x\(preprocessor.frame) image")
        }
        return input
    }
}
