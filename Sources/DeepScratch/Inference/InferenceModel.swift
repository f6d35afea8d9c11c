import Synchronization
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
    private let dense: [DenseWeights]
    private let activation: ActivationKind
    private let mean: Float
    private let inverseStd: Float
    private let table: [Float]
    /// Widest layer output, for scratch buffers.
    private let widest: Int
    /// For networks beyond the fully connected one: the layers to run, in
    /// the training layout (one example per column).
    private let plan: [Step]?

    /// Whether batches run the first layer in integers (`Int8FirstLayer`):
    /// an int8 model on a CPU with AVX-512 VNNI.
    var firstLayerRunsInInt8: Bool { dense.first?.int8 != nil }
    /// Patch-matrix rows × positions of the largest convolution (per example).
    private let widestPatch: Int
    /// Images a batch call runs together (256 unless they would not fit
    /// `ModelFormat.maximumWorkingValues`).
    private let chunk: Int

    /// One inference layer of `plan`.
    enum Step {
        case dense(W: Matrix<Float>, b: Matrix<Float>)
        case conv(ConvGeometry, W: Matrix<Float>, b: Matrix<Float>)
        case pool(PoolKind, ConvGeometry)
        /// Batch normalization at inference: `y = scale[c]·x + shift[c]` over `spatial` values per channel.
        case affine(scale: [Float], shift: [Float], spatial: Int)
        case activation(ActivationKind)
    }

    /// The weights of one dense layer, in both layouts.
    struct DenseWeights {
        let inputs: Int
        let outputs: Int
        /// `W`, `outputs × inputs`, for batches (through `gemm`).
        let W: Matrix<Float>
        /// `b`, `outputs × 1`.
        let b: Matrix<Float>
        /// `Wᵀ`, `inputs × outputs` in panels of 64 columns, for the sparse
        /// product over the inputs that differ from `background`.
        let panels: ColumnPanels
        /// The input value that is skipped in the sparse product (the
        /// standardized background for the first layer, 0 after a ReLU);
        /// nil when the previous activation leaves no exact zeros.
        let background: Float?
        /// `b + W·background`.
        let shiftedBias: [Float]
        /// The first layer of an int8 model in integer form (nil otherwise).
        let int8: Int8FirstLayer?
    }

    /// One thread's buffers for `runBlock`.
    private final class BlockBuffers {
        /// Two activations of the block.
        let a: UnsafeMutablePointer<Float>, z: UnsafeMutablePointer<Float>
        /// The block's ink pixels.
        let sparse = SparseRows()
        /// The block's pixel bytes, integer sums and kernel scratch, when the
        /// first layer runs in int8.
        let bytes: UnsafeMutablePointer<UInt8>?, sums: UnsafeMutablePointer<Int32>?
        let scratch: UnsafeMutablePointer<UInt32>?

        init(rows: Int, widest: Int, int8: Int8FirstLayer?) {
            a = .allocate(capacity: rows * widest)
            z = .allocate(capacity: rows * widest)
            let rows4 = (rows + 3) / 4 * 4
            bytes = int8.map { .allocate(capacity: rows4 * $0.rowBytes) }
            sums = int8.map { .allocate(capacity: rows4 * $0.rowSums) }
            scratch = int8.map { .allocate(capacity: 5 * $0.groups) }
        }

        deinit {
            a.deallocate(); z.deallocate()
            bytes?.deallocate(); sums?.deallocate(); scratch?.deallocate()
        }
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
        try self.init(model: model, network: network!)  // buildNetwork: a network or a thrown error
    }

    init(model: Model, network: Network<Float>) throws {
        // OpenBLAS's kernels are chosen before any product (and before a host's next call).
        BLASBackend.ensureChosen()
        self.model = model
        inputSize = network.inputSize
        classCount = network.classes
        activation = model.architecture.activation
        mean = Float(model.standardization.mean)
        inverseStd = Float(1 / model.standardization.std)
        table = model.standardization.table(Float.self)
        // The buffer sizes, as Model.parse checked them against the limit.
        let workspace = InferenceWorkspace(model.architecture)
        widest = workspace.widest
        widestPatch = workspace.widestPatch
        chunk = workspace.chunk
        if model.architecture.layers != nil {
            var steps = [Step]()
            for layer in network.layers {
                if let d = layer as? Dense<Float> { steps.append(.dense(W: d.W.value, b: d.b.value)) }
                else if let c = layer as? Conv2D<Float> {
                    steps.append(.conv(c.geometry, W: c.W.value, b: c.b.value))
                } else if let p = layer as? Pool2D<Float> { steps.append(.pool(p.kind, p.geometry)) }
                else if let n = layer as? BatchNorm<Float> {
                    let affine = (0..<n.channels).map { n.inferenceAffine(channel: $0) }
                    let (scale, shift) = (affine.map(\.scale), affine.map(\.shift))
                    steps.append(.affine(scale: scale, shift: shift, spatial: n.spatial))
                } else if layer is Dropout<Float> {
                    continue
                } else if let a = Self.activationKind(of: layer) {
                    steps.append(.activation(a))
                } else {
                    throw DeepScratchError.badModel(path: model.fileInfo?.path ?? "<model>",
                                                    reason: "layer \(type(of: layer)) has no inference form")
                }
            }
            plan = steps
            dense = []
            return
        }
        plan = nil
        let layers = network.denseLayers
        var built = [DenseWeights]()
        for (k, d) in layers.enumerated() {
            let bg: Float? = k == 0 ? table[0] : (activation == .relu ? 0 : nil)
            var shifted = [Float](repeating: 0, count: d.outputSize)
            for i in 0..<d.outputSize {
                var rowSum: Float = 0
                for j in 0..<d.inputSize { rowSum += d.W.value[i, j] }
                // b + W·x_bg
                shifted[i] = d.b.value.data[i] + (bg ?? 0) * rowSum
            }
            let int8 = k == 0 && Int8FirstLayer.pays ? Int8FirstLayer(W: d.W.value, inverseStd: inverseStd) : nil
            built.append(DenseWeights(inputs: d.inputSize, outputs: d.outputSize, W: d.W.value, b: d.b.value,
                                      panels: ColumnPanels(transposeOf: d.W.value), background: bg,
                                      shiftedBias: shifted, int8: int8))
        }
        dense = built
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
        if let plan {
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 2 * widest + widestPatch)
            defer { buffer.deallocate() }
            // x = (p − mean) / std
            for i in 0..<inputSize { buffer[i] = (pixels[i] - mean) * inverseStd }
            let out = Self.run(plan, buffer, rows: inputSize, m: 1, other: buffer + widest, cols: buffer + 2 * widest)
            Self.softmax(out, classCount, into: probabilities)
            return
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * widest) { scratch in
            var x = scratch.baseAddress!, y = x + widest
            // The inputs that differ from the background: their positions and x_j − x_bg.
            let value = y + widest
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: widest + 2) { positions in
            let start = positions.baseAddress!, index = start + 2
            // x = (p − mean) / std
            for i in 0..<inputSize { x[i] = (pixels[i] - mean) * inverseStd }
            for (k, layer) in dense.enumerated() {
                let n = layer.outputs
                if let bg = layer.background {
                    var count: Int32 = 0
                    for j in 0..<layer.inputs where x[j] != bg {
                        index[Int(count)] = Int32(j)
                        value[Int(count)] = x[j] - bg
                        count += 1
                    }
                    start[0] = 0
                    start[1] = count
                    layer.shiftedBias.withUnsafeBufferPointer { y.update(from: $0.baseAddress!, count: n) }
                    // y = (b + W·x_bg) + Σ_{j: x_j ≠ x_bg} (x_j − x_bg)·W[:, j]
                    sparseProduct(start: start, index: index, value: value, rows: 0..<1, layer.panels, into: y,
                                  ldc: n, accumulate: true)
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
    }

    /// Class probabilities of `count` images, `inputSize` values each, one
    /// after another; `probabilities` receives `count × classCount` values.
    ///
    /// The batch stays example-major, as the caller lays it out: each layer
    /// is `Zᵀ = Aᵀ·Wᵀ + b` (one row per image), so nothing is transposed.
    /// The images are cut into blocks of 256 that the engine's threads take
    /// in turn, each running a block through the whole network with
    /// single-threaded products (no hand-over between layers). The first
    /// layer reads only the weights of each image's ink pixels (a digit is
    /// about a fifth ink): `W·x = W·x_bg + Σ_{j: x_j ≠ x_bg} (x_j − x_bg)·W[:, j]`,
    /// the first term folded into the bias, as a sparse-times-dense product
    /// (`sparseProduct`); exact up to rounding. Blocks of mostly-ink images
    /// take a dense product over the pixels that are ink somewhere in the
    /// block instead. Convolutional models run chunks of 256 images
    /// turned feature-major through their layer plan. (Blocks and chunks
    /// are smaller for a model whose 256 images would not fit
    /// `ModelFormat.maximumWorkingValues`.)
    public func probabilities(batch pixels: UnsafePointer<Float>, count: Int,
                              into probabilities: UnsafeMutablePointer<Float>) {
        if let plan {
            // Chunks of up to 256 images, turned feature-major (one image per column).
            let chunk = min(self.chunk, max(1, count))
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: (2 * widest + widestPatch) * chunk)
            defer { buffer.deallocate() }
            var start = 0
            while start < count {
                let m = min(chunk, count - start)
                let src = pixels + start * inputSize
                // x = (p − mean) / std, transposed to inputSize × m
                for j in 0..<m { for i in 0..<inputSize { buffer[i * m + j] = (src[j * inputSize + i] - mean) * inverseStd } }
                let out = Self.run(plan, buffer, rows: inputSize, m: m, other: buffer + widest * chunk, cols: buffer + 2 * widest * chunk)
                withUnsafeTemporaryAllocation(of: Float.self, capacity: classCount) { logits in
                    for j in 0..<m {
                        for i in 0..<classCount { logits[i] = out[i * m + j] }
                        Self.softmax(logits.baseAddress!, classCount, into: probabilities + (start + j) * classCount)
                    }
                }
                start += m
            }
            return
        }
        let block = chunk
        let blocks = (count + block - 1) / block
        if blocks == 0 { return }
        let next = Atomic<Int>(0)
        let pool = Parallelism.pool
        pool.run { worker in
            guard worker < blocks else { return }
            let buffers = BlockBuffers(rows: min(block, count), widest: widest, int8: dense[0].int8)
            while true {
                let b = next.add(1, ordering: .relaxed).oldValue
                if b >= blocks { break }
                let start = b * block, m = min(block, count - start)
                runBlock(pixels + start * inputSize, m, probabilities + start * classCount, buffers)
            }
        }
    }

    /// One block of `m` images through the network on the calling thread.
    private func runBlock(_ src: UnsafePointer<Float>, _ m: Int, _ out: UnsafeMutablePointer<Float>,
                          _ buffers: BlockBuffers) {
        let a = buffers.a, z = buffers.z, sparse = buffers.sparse
        let first = dense[0]
        let bg = first.background ?? 0
        var n = first.outputs
        first.shiftedBias.withUnsafeBufferPointer { bias in
            for r in 0..<m { (z + r * n).update(from: bias.baseAddress!, count: n) }
        }
        firstLayer: do {
            if let int8 = first.int8, let bytes = buffers.bytes, let sums = buffers.sums, let scratch = buffers.scratch,
               int8.bytes(of: src, count: m, inputs: inputSize, into: bytes) {
                // Zᵀ[r, i] = (b + W·x_bg)_i + s_i / (255·std) · Σ_j q_ij·u_rj, the sum in integers
                int8.sums(bytes, count: m, into: sums, scratch: scratch)
                int8.factor.withUnsafeBufferPointer { factor in
                    for r in 0..<m {
                        let row = z + r * n, sum = sums + r * int8.rowSums
                        for i in 0..<n { row[i] += factor[i] * Float(sum[i]) }
                    }
                }
                break firstLayer
            }
            // The block's ink pixels as sparse rows, x − x_bg = p / std (when
            // the entries can be counted in 32 bits, as SparseRows does).
            let sparseFits = m * inputSize <= Int(Int32.max)
            if sparseFits {
                sparse.reset(rows: m, entries: m * inputSize)
                for r in 0..<m { sparse.appendRow(src + r * inputSize, count: inputSize, background: 0, scale: inverseStd) }
            }
            if sparseFits && sparse.count <= m * inputSize / 2 {
                // Zᵀ = (Xᵀ − x_bg)·Wᵀ + (b + W·x_bg), reading only the weight rows of ink pixels
                sparseProduct(sparse, rows: 0..<m, first.panels, into: z, ldc: n, accumulate: true)
                break firstLayer
            }
            // Dense images: a product over the inputs that are not background in some image of the block.
            let used = UnsafeMutablePointer<Int>.allocate(capacity: inputSize)
            let x = UnsafeMutablePointer<Float>.allocate(capacity: m * inputSize)
            let w = UnsafeMutablePointer<Float>.allocate(capacity: inputSize * n)
            defer { used.deallocate(); x.deallocate(); w.deallocate() }
            used.update(repeating: 0, count: inputSize)
            for r in 0..<m {
                let p = src + r * inputSize
                for j in 0..<inputSize where p[j] != 0 { used[j] = 1 }
            }
            var k = 0
            for j in 0..<inputSize where used[j] != 0 { used[k] = j; k += 1 }
            if k == 0 { break firstLayer }
            // x = (p − mean) / std − x_bg, on the used inputs only
            for r in 0..<m {
                let p = src + r * inputSize, row = x + r * k
                for t in 0..<k { row[t] = (p[used[t]] - mean) * inverseStd - bg }
            }
            for t in 0..<k { first.panels.copyRow(used[t], into: w + t * n) }
            // Zᵀ = (Xᵀ − x_bg)·Wᵀ + (b + W·x_bg)
            Float.blasGemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: x, lda: k,
                           b: w, ldb: n, beta: 1, c: z, ldc: n)
        }
        var A = z, Z = a
        for (l, layer) in dense.enumerated() {
            if l > 0 {
                n = layer.outputs
                // Zᵀ = Aᵀ·Wᵀ + b
                for r in 0..<m { (Z + r * n).update(from: layer.b.data, count: n) }
                Float.blasGemm(transA: false, transB: true, m: m, n: n, k: layer.inputs, alpha: 1, a: A,
                               lda: layer.inputs, b: layer.W.data, ldb: layer.inputs, beta: 1, c: Z, ldc: n)
                swap(&A, &Z)
            }
            if l < dense.count - 1 { Self.activate(activation, A, m * n) }
        }
        for r in 0..<m { Self.softmax(A + r * classCount, classCount, into: out + r * classCount) }
    }

    /// Class probabilities of preprocessed image bytes (0 background … 255 ink).
    public func probabilities(bytes: [UInt8], into probabilities: UnsafeMutablePointer<Float>) {
        // The C ABI and DigitClassifier pass only what `preprocess` returned,
        // which checked the count: a caller's bug, unreachable from input.
        precondition(bytes.count == inputSize)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: inputSize) { p in
            for i in 0..<inputSize { p[i] = Float(bytes[i]) / 255 }
            self.probabilities(pixels: p.baseAddress!, into: probabilities)
        }
    }

    /// Runs `plan` on `m` examples in `x` (features × m); `other` holds as
    /// many values as `x`, `cols` the largest patch matrix. Returns the
    /// logits (`classes × m`, in `x` or `other`).
    static func run(_ plan: [Step], _ x: UnsafeMutablePointer<Float>, rows inputRows: Int, m: Int,
                    other: UnsafeMutablePointer<Float>, cols: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        var (x, y) = (x, other)
        var rows = inputRows
        for step in plan {
            switch step {
            case let .dense(W, b):
                // y = W·x + b
                if m == 1 {
                    Float.blasGemv(transA: false, m: W.rows, n: W.cols, alpha: 1, a: W.data, lda: W.cols,
                                   x: x, incx: 1, beta: 0, y: y, incy: 1)
                } else {
                    gemm(m: W.rows, n: m, k: W.cols, W.data, lda: W.cols, x, ldb: m, into: y, ldc: m)
                }
                addColumnVector(b.data, to: y, rows: W.rows, cols: m)
                rows = W.rows
                swap(&x, &y)
            case let .conv(g, W, b):
                // y = W·im2col(x) + b
                convolve(g, x, m: m, W: W.data, b: b.data, cols: cols, into: y)
                rows = g.output.count
                swap(&x, &y)
            case let .pool(kind, g):
                pool(kind, g, x, m: m, channels: 0..<g.input.channels, into: y)
                rows = g.output.count
                swap(&x, &y)
            case let .affine(scale, shift, spatial):
                let n = spatial * m
                for c in 0..<scale.count { DeepScratch.affine(x + c * n, x + c * n, count: n, scale: scale[c], shift: shift[c]) }
            case let .activation(kind):
                activate(kind, x, rows * m)
            }
        }
        return x
    }

    static func activationKind(of layer: any Layer<Float>) -> ActivationKind? {
        switch layer {
        case is ReLU<Float>: return .relu
        case is LeakyReLU<Float>: return .leakyReLU
        case is Tanh<Float>: return .tanh
        case is Sigmoid<Float>: return .sigmoid
        default: return nil
        }
    }

    static func activate(_ kind: ActivationKind, _ z: UnsafeMutablePointer<Float>, _ n: Int) {
        switch kind {
        case .relu: reluForward(z, z, n)
        case .leakyReLU: leakyForward(z, z, n, Float(LayerConstants.leakyReLUSlope))
        case .tanh: tanhForward(z, z, n)
        case .sigmoid: sigmoidForward(z, z, n)
        }
    }

    /// Numerically stable softmax of `n` logits.
    static func softmax(_ z: UnsafePointer<Float>, _ n: Int, into p: UnsafeMutablePointer<Float>) {
        // p = softmax(z): one column of the training layer's softmax
        var top: Float = 0, sum: Float = 0
        softmaxColumns(z, p, n, 1, &top, &sum)
    }
}

/// The buffers one classification call of an `InferenceModel` uses, in
/// float values, computed from the layer shapes (`ModelLayout` refuses a
/// model one image of which needs more than `ModelFormat.maximumWorkingValues`).
struct InferenceWorkspace: Equatable, Sendable {
    /// Values of the widest activation of one image, the input included.
    let widest: Int
    /// Values of the largest convolution's patch matrix for one image,
    /// `C·k·k × OH·OW` (im2col; 0 without convolutions).
    let widestPatch: Int
    /// Values one image needs: two activations of the widest layer (each
    /// layer reads one and writes the other), plus, for a network of
    /// layers, the patch matrix, or, for a fully connected network, the
    /// first layer's copy of the images as sparse rows (value and position)
    /// and as the gathered ink pixels (`3 × inputs`).
    let perImage: Int
    /// Images a batch call runs together: `ModelFormat.batchChunk` (256),
    /// or as many as fit `maximumWorkingValues` when fewer (at least 1).
    let chunk: Int

    /// - Parameter architecture: layers `LayerSpec.shapes` accepts on an input
    ///   of at most 2^28 values: each activation is then at most 2^28 values
    ///   and a patch matrix at most 2^16 · 15² · 2^28, so nothing here
    ///   overflows.
    init(_ architecture: Architecture) {
        let (specs, input) = architecture.inferenceSpecs
        var widest = input.count, patch = 0
        if case let .success(shapes) = LayerSpec.shapes(of: specs, input: input) {
            var shape = input
            for (i, spec) in specs.enumerated() {
                widest = max(widest, shapes[i].count)
                if case let .conv(_, k, _, _) = spec { patch = max(patch, shape.channels * k * k * shapes[i].area) }
                shape = shapes[i]
            }
        }
        self.widest = widest
        widestPatch = patch
        perImage = 2 * widest + (architecture.layers != nil ? patch : 3 * input.count)
        chunk = max(1, min(ModelFormat.batchChunk, ModelFormat.maximumWorkingValues / max(1, perImage)))
    }
}
