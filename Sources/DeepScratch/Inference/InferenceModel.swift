/// A loaded model, immutable, that any number of threads may use at once:
/// every call works in its own buffers.
///
/// Inputs are images in the network's form: `inputSize` values in [0, 1],
/// row-major, 0 for background and 1 for ink (MNIST's orientation); the
/// model's standardization is applied here.
public final class InferenceModel: @unchecked Sendable {
    /// The model's description (its `parameters` are empty: the weights live here).
    public let model: Model
    /// Number of input values (784 for 28×28).
    public let inputSize: Int
    /// Number of classes.
    public let classCount: Int
    /// The preprocessing applied to pictures.
    public let preprocessor = DigitPreprocessor()

    private let dense: [DenseWeights]
    private let activation: ActivationKind
    private let mean: Float
    private let inverseStd: Float
    private let table: [Float]
    /// Widest layer output, for scratch buffers.
    private let widest: Int

    /// The weights of one dense layer, in both layouts.
    struct DenseWeights {
        let inputs: Int
        let outputs: Int
        /// `W`, `outputs × inputs`, for batches (through `gemm`).
        let W: Matrix<Float>
        /// `b`, `outputs × 1`.
        let b: Matrix<Float>
        /// `Wᵀ`, `inputs × outputs`, for one example with mostly equal inputs.
        let transposed: [Float]
        /// The input value that is skipped in the sparse product (the
        /// standardized background for the first layer, 0 after a ReLU);
        /// nil when the previous activation leaves no exact zeros.
        let background: Float?
        /// `b + W·background`.
        let shiftedBias: [Float]
    }

    /// Loads and validates the model file at `path`.
    /// - Throws: `DeepScratchError.cannotRead` or `.badModel` naming the problem.
    public convenience init(path: String) throws {
        let (model, network) = try Model.loadNetwork(path: path)
        try self.init(model: model, network: network)
    }

    /// Parses and validates model file bytes; `name` labels errors.
    /// - Throws: `DeepScratchError.badModel` naming the problem.
    public convenience init(bytes: UnsafeRawBufferPointer, name: String = "<memory>") throws {
        let (model, network) = try Model.parse(raw: bytes, path: name, buildNetwork: true)
        try self.init(model: model, network: network!)
    }

    init(model: Model, network: Network<Float>) throws {
        self.model = model
        inputSize = network.inputSize
        classCount = network.classes
        activation = model.architecture.activation
        mean = Float(model.standardization.mean)
        inverseStd = Float(1 / model.standardization.std)
        table = model.standardization.table(Float.self)
        let layers = network.denseLayers
        var built = [DenseWeights]()
        for (k, d) in layers.enumerated() {
            let bg: Float? = k == 0 ? table[0] : (activation == .relu ? 0 : nil)
            var t = [Float](repeating: 0, count: d.inputSize * d.outputSize)
            var shifted = [Float](repeating: 0, count: d.outputSize)
            for i in 0..<d.outputSize {
                var rowSum: Float = 0
                for j in 0..<d.inputSize {
                    let w = d.W.value[i, j]
                    t[j * d.outputSize + i] = w
                    rowSum += w
                }
                shifted[i] = d.b.value.data[i] + (bg ?? 0) * rowSum
            }
            built.append(DenseWeights(inputs: d.inputSize, outputs: d.outputSize, W: d.W.value, b: d.b.value,
                                      transposed: t, background: bg, shiftedBias: shifted))
        }
        dense = built
        widest = max(inputSize, built.map(\.outputs).max() ?? 1)
    }

    /// Class probabilities of one image (`inputSize` values in [0, 1]).
    ///
    /// Each dense layer reads only the weights of the inputs that differ
    /// from its background value (most pixels of a digit; the zeros after a
    /// ReLU): `W·x = W·x_bg + Σ_{j: x_j ≠ x_bg} (x_j − x_bg)·W[:, j]`, the
    /// first term folded into the bias once. Exact up to rounding.
    /// - Parameters:
    ///   - pixels: the image, `inputSize` values.
    ///   - probabilities: receives `classCount` values.
    public func probabilities(pixels: UnsafePointer<Float>, into probabilities: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * widest) { scratch in
            var x = scratch.baseAddress!, y = x + widest
            // x = (p − mean) / std
            for i in 0..<inputSize { x[i] = (pixels[i] - mean) * inverseStd }
            for (k, layer) in dense.enumerated() {
                let n = layer.outputs
                if let bg = layer.background {
                    layer.shiftedBias.withUnsafeBufferPointer { y.update(from: $0.baseAddress!, count: n) }
                    layer.transposed.withUnsafeBufferPointer { wt in
                        for j in 0..<layer.inputs where x[j] != bg {
                            // y += (x_j − x_bg) · W[:, j]
                            let d = x[j] - bg
                            let column = wt.baseAddress! + j * n
                            for i in 0..<n { y[i] += d * column[i] }
                        }
                    }
                } else {
                    // y = W·x + b
                    Float.blasGemv(transA: false, m: n, n: layer.inputs, alpha: 1, a: layer.W.data, lda: layer.inputs,
                                   x: x, incx: 1, beta: 0, y: y, incy: 1)
                    for i in 0..<n { y[i] += layer.b.data[i] }
                }
                if k < dense.count - 1 { Self.activate(activation, y, n) }
                swap(&x, &y)
            }
            Self.softmax(x, classCount, into: probabilities)
        }
    }

    /// Class probabilities of `count` images, `inputSize` values each, one
    /// after another; `probabilities` receives `count × classCount` values.
    ///
    /// The batch stays example-major, as the caller lays it out: each layer
    /// is `Zᵀ = Aᵀ·Wᵀ + b` (one row per image), so nothing is transposed.
    public func probabilities(batch pixels: UnsafePointer<Float>, count: Int,
                              into probabilities: UnsafeMutablePointer<Float>) {
        var start = 0
        // Chunks of up to 1,024 images, in buffers of this call.
        while start < count {
            let m = min(1024, count - start)
            var A = Matrix<Float>(rows: m, cols: inputSize, zeroed: false)
            // x = (p − mean) / std
            let src = pixels + start * inputSize
            for i in 0..<(m * inputSize) { A.data[i] = (src[i] - mean) * inverseStd }
            for (k, layer) in dense.enumerated() {
                let Z = Matrix<Float>(rows: m, cols: layer.outputs, zeroed: false)
                // Zᵀ = Aᵀ·Wᵀ, then + b on every row
                gemm(A, layer.W, transposeB: true, into: Z)
                for r in 0..<m {
                    let row = Z.data + r * layer.outputs
                    for i in 0..<layer.outputs { row[i] += layer.b.data[i] }
                }
                if k < dense.count - 1 { Self.activate(activation, Z.data, Z.count) }
                A = Z
            }
            for r in 0..<m {
                Self.softmax(A.data + r * classCount, classCount, into: probabilities + (start + r) * classCount)
            }
            start += m
        }
    }

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

    /// Class probabilities of preprocessed image bytes (0 background … 255 ink).
    public func probabilities(bytes: [UInt8], into probabilities: UnsafeMutablePointer<Float>) {
        precondition(bytes.count == inputSize)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: inputSize) { p in
            for i in 0..<inputSize { p[i] = Float(bytes[i]) / 255 }
            self.probabilities(pixels: p.baseAddress!, into: probabilities)
        }
    }

    static func activate(_ kind: ActivationKind, _ z: UnsafeMutablePointer<Float>, _ n: Int) {
        switch kind {
        case .relu: reluForward(z, z, n)
        case .leakyReLU: leakyForward(z, z, n, 0.01)
        case .tanh: tanhForward(z, z, n)
        case .sigmoid: sigmoidForward(z, z, n)
        }
    }

    /// Numerically stable softmax of `n` logits.
    static func softmax(_ z: UnsafePointer<Float>, _ n: Int, into p: UnsafeMutablePointer<Float>) {
        var top = z[0]
        for i in 1..<max(1, n) { top = max(top, z[i]) }
        var sum: Float = 0
        for i in 0..<n { p[i] = Float.exp(z[i] - top); sum += p[i] }
        for i in 0..<n { p[i] /= sum }
    }
}
