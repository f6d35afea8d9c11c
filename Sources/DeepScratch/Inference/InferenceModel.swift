import Synchronization

/// A loaded model, immutable, that any number of threads may use at once:
/// every call works in its own buffers.
///
/// Inputs are images in the network's form: `inputSize` values in [0, 1],
/// row-major, 0 for background and 1 for ink (MNIST's orientation); the
/// model's standardization is applied here.
///
/// The network is compiled once into a plan, one step per layer (dropout
/// gone, batch normalization as a per-channel affine map, a ReLU after a
/// convolution folded into it), and one executor runs it for one image and
/// for batches. Activations are image-major (one row per image) and images
/// channels-last (`(y·W + x)·C + c`, the layout `DirectConvolution` reads;
/// the first dense layer after them has its columns reordered to match).
/// Where it pays, a dense step reads
/// only the weights of the inputs that differ from a background value (the
/// first layer: pixels that are not blank; after a ReLU: the non-zero
/// units): `W·x = W·x_bg + Σ_{j: x_j ≠ x_bg} (x_j − x_bg)·W[:, j]`, the first
/// term folded into the bias once, exact up to rounding.
public final class InferenceModel: @unchecked Sendable {
    /// The model's description (its `parameters` are empty: the weights live here).
    public let model: Model
    /// Number of input values (784 for 28×28).
    public let inputSize: Int
    /// Number of classes.
    public let classCount: Int
    /// The network as inference runs it.
    private let plan: [Step]
    /// The steps before the first dense one when the network starts with
    /// image steps (convolutions): a batch runs them image by image, so that
    /// one image's activations stay in the cache, then the rest on the block.
    private let imageSteps: Int
    /// Where each input value goes in the channels-last order, when the
    /// image steps read an input of several channels (nil otherwise: the
    /// input is used as it comes).
    private let inputOrder: [Int]?
    private let mean: Float
    private let inverseStd: Float
    /// Widest layer output, for scratch buffers.
    private let widest: Int
    /// Values of the largest convolution's scratch (`DirectConvolution.scratchCount`, per example).
    private let widestScratch: Int
    /// Images a batch call's thread runs together (`InferenceWorkspace.chunk`).
    private let chunk: Int

    /// Whether batches run the first layer in integers (`Int8FirstLayer`):
    /// an int8 model on a CPU with AVX-512 VNNI.
    var firstLayerRunsInInt8: Bool {
        if case let .dense(d)? = plan.first { return d.int8 != nil }
        return false
    }

    /// One step of the plan.
    enum Step {
        case dense(DenseWeights)
        case conv(DirectConvolution)
        /// Pooling of a channels-last image of `channels` channels: `pool` over a
        /// one-channel geometry with the channels as its batch (each pixel's C
        /// values pooled side by side).
        case pool(PoolKind, ConvGeometry, channels: Int)
        /// Batch normalization at inference: `y = scale[c]·x + shift[c]`, channel innermost.
        case affine(scale: [Float], shift: [Float])
        case activation(ActivationKind)
    }

    /// A dense step's weights, in the layouts its products read.
    struct DenseWeights {
        let inputs: Int
        let outputs: Int
        /// `W`, `outputs × inputs`, for products over all inputs.
        let W: Matrix<Float>
        /// `b`, `outputs × 1`.
        let b: Matrix<Float>
        /// The input value the sparse product skips (the standardized
        /// background for the first layer, 0 after a ReLU); nil when the
        /// step's inputs have none worth skipping.
        let background: Float?
        /// `Wᵀ`, `inputs × outputs` in panels of 64 columns, for the sparse
        /// product (when there is a background).
        let panels: ColumnPanels?
        /// `b + W·background`.
        let shiftedBias: [Float]
        /// The first layer of an int8 model in integer form (nil otherwise).
        let int8: Int8FirstLayer?

        init(W: Matrix<Float>, b: Matrix<Float>, background: Float?, int8: Int8FirstLayer?) {
            (inputs, outputs, self.W, self.b, self.background, self.int8) = (W.cols, W.rows, W, b, background, int8)
            panels = background == nil ? nil : ColumnPanels(transposeOf: W)
            var shifted = [Float](repeating: 0, count: W.rows)
            for i in 0..<W.rows {
                var rowSum: Float = 0
                for j in 0..<W.cols { rowSum += W[i, j] }
                // b + W·x_bg
                shifted[i] = b.data[i] + (background ?? 0) * rowSum
            }
            shiftedBias = shifted
        }
    }

    /// Loads and validates the model file at `path`.
    /// - Parameter maximumBytes: refuse a larger file before reading it
    ///   (`cannotRead`, as for a file past the format's 2 GiB).
    /// - Throws: `DeepScratchError.cannotRead` or `.badModel` naming the problem.
    public convenience init(path: String, maximumBytes: Int = Int.max) throws {
        let (model, network) = try Model.loadNetwork(path: path, maximumBytes: maximumBytes)
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
        mean = Float(model.standardization.mean)
        inverseStd = Float(1 / model.standardization.std)
        // The buffer sizes, as Model.parse checked them against the limit.
        let workspace = InferenceWorkspace(model.architecture)
        widest = workspace.widest
        widestScratch = workspace.widestScratch
        chunk = workspace.chunk
        // The plan is compiled from the model's inference layers, the list
        // exporters walk; the tensors are the network's matrices, by name (not copied).
        var matrices = [String: Matrix<Float>]()
        for t in network.storedTensors { matrices[t.name] = t.matrix }
        let layers = model.inferenceLayers { name in matrices[name].map { _ in NamedTensor(name: name, shape: [], values: []) } }
        let path = model.fileInfo?.path ?? "<model>"
        func matrix(_ t: NamedTensor) throws -> Matrix<Float> {
            guard let m = matrices[t.name] else { throw DeepScratchError.badModel(path: path, reason: "no tensor \(t.name)") }
            return m
        }
        guard !layers.isEmpty else { throw DeepScratchError.badModel(path: path, reason: "the layers do not fit the input") }
        let backgroundPixel = model.standardization.table(Float.self)[0]
        var steps = [Step]()
        // The shape of the activations so far when they are an image, channels-last (the
        // input too, unless a dense layer reads it first).
        var image: ImageShape?
        if case .dense? = layers.first {} else { image = model.architecture.inputShape }
        for layer in layers {
            switch layer {
            case let .dense(_, outputs, W, b):
                let bias = try b.map(matrix) ?? Matrix<Float>(rows: outputs, cols: 1)
                var weights = try matrix(W)
                if let shape = image, shape.channels > 1, shape.area > 1 {
                    // W's columns in the channels-last order of the image it reads
                    let reordered = Matrix<Float>(rows: weights.rows, cols: weights.cols)
                    let index = shape.channelsLastIndex
                    for i in 0..<weights.rows {
                        for j in 0..<weights.cols { reordered[i, index[j]] = weights[i, j] }
                    }
                    weights = reordered
                }
                image = nil
                // The first layer skips blank pixels; a later one the zeros a ReLU leaves (pooling keeps them).
                let background: Float? = steps.isEmpty ? backgroundPixel : (Self.followsReLU(steps) ? 0 : nil)
                let int8 = steps.isEmpty && Int8FirstLayer.pays ? Int8FirstLayer(W: weights, inverseStd: inverseStd) : nil
                steps.append(.dense(DenseWeights(W: weights, b: bias, background: background, int8: int8)))
            case let .conv(input, output, kernel, stride, padding, W, b):
                let g = ConvGeometry(input: input, output: output, kernel: kernel, stride: stride, padding: padding)
                steps.append(.conv(DirectConvolution(g, W: try matrix(W),
                                                     b: try b.map(matrix) ?? Matrix<Float>(rows: output.channels, cols: 1))))
                image = output
            case let .pool(kind, input, output, size, stride):
                let flat = ConvGeometry(input: ImageShape(channels: 1, height: input.height, width: input.width),
                                        output: ImageShape(channels: 1, height: output.height, width: output.width),
                                        kernel: size, stride: stride, padding: 0)
                steps.append(.pool(kind, flat, channels: input.channels))
                image = output
            case let .batchNorm(shape, epsilon, gamma, beta, mean, variance):
                let (g, bt, mu, v) = (try matrix(gamma), try matrix(beta), try matrix(mean), try matrix(variance))
                let affine = (0..<shape.channels).map {
                    BatchNorm<Float>.inferenceAffine(gamma: g.data[$0], beta: bt.data[$0], mean: mu.data[$0],
                                                     variance: v.data[$0], epsilon: Float(epsilon))
                }
                steps.append(.affine(scale: affine.map(\.scale), shift: affine.map(\.shift)))
            case .activation(.relu):
                // y = max(0, Z), inside the convolution that computes Z when one does
                if case var .conv(c)? = steps.last, !c.relu {
                    c.relu = true
                    steps[steps.count - 1] = .conv(c)
                } else {
                    steps.append(.activation(.relu))
                }
            case let .activation(kind):
                steps.append(.activation(kind))
            case .softmax:
                break  // the executor's last step for every model
            }
        }
        plan = steps
        if case .dense? = steps.first {
            imageSteps = 0
        } else {
            imageSteps = steps.firstIndex { if case .dense = $0 { return true } else { return false } } ?? steps.count
        }
        let input = model.architecture.inputShape
        inputOrder = imageSteps > 0 && input.channels > 1 && input.area > 1 ? input.channelsLastIndex : nil
    }

    /// Whether the last step before now that changes values is a ReLU
    /// (pooling passes its zeros on).
    private static func followsReLU(_ steps: [Step]) -> Bool {
        for step in steps.reversed() {
            switch step {
            case .pool: continue
            case .activation(.relu): return true
            case let .conv(c): return c.relu
            default: return false
            }
        }
        return false
    }

    /// Class probabilities of one image (`inputSize` values in [0, 1]).
    /// - Parameters:
    ///   - pixels: the image, `inputSize` values.
    ///   - probabilities: receives `classCount` values.
    public func probabilities(pixels: UnsafePointer<Float>, into probabilities: UnsafeMutablePointer<Float>) {
        // Stack buffers: two activations, a convolution's scratch, and the inputs a sparse product reads.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * widest + widestScratch) { floats in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: widest + 2) { positions in
                let x = floats.baseAddress!
                let scratch = Scratch(x: x, y: x + widest, image: nil, scratch: x + 2 * widest,
                                      value: x + 2 * widest + widestScratch, start: positions.baseAddress!, block: nil)
                run(pixels, m: 1, into: probabilities, scratch)
            }
        }
    }

    /// Class probabilities of `count` images, `inputSize` values each, one
    /// after another; `probabilities` receives `count × classCount` values.
    ///
    /// The images are cut into blocks (256 images without convolutions, 32
    /// with, fewer for a model whose block would not fit
    /// `ModelFormat.maximumWorkingValues`) that the engine's threads take in
    /// turn, each running a block through the whole plan with
    /// single-threaded products: convolutions image by image, dense layers
    /// as one product per block. A first dense layer reads each image's ink
    /// pixels as sparse rows (a digit is about a fifth ink), or, for blocks
    /// of mostly-ink images, runs a product over the pixels that are ink
    /// somewhere in the block.
    public func probabilities(batch pixels: UnsafePointer<Float>, count: Int,
                              into probabilities: UnsafeMutablePointer<Float>) {
        let block = min(chunk, max(1, count))
        let blocks = (count + chunk - 1) / chunk
        if blocks == 0 { return }
        let next = Atomic<Int>(0)
        var int8: Int8FirstLayer?
        if case let .dense(d)? = plan.first { int8 = d.int8 }
        Parallelism.pool.run { [int8] worker in
            guard worker < blocks else { return }
            let buffers = BlockBuffers(rows: block, widest: widest, scratch: widestScratch, int8: int8)
            while true {
                let b = next.add(1, ordering: .relaxed).oldValue
                if b >= blocks { break }
                let start = b * chunk, m = min(chunk, count - start)
                run(pixels + start * inputSize, m: m, into: probabilities + start * classCount, buffers.scratch)
            }
        }
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

    /// The buffers of one `run`.
    struct Scratch {
        /// Two activations (`m × widest` values each).
        let x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>
        /// Two activations of one image, for the image steps of a block (nil for one image).
        let image: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)?
        /// A convolution's scratch (`widestScratch` values).
        let scratch: UnsafeMutablePointer<Float>
        /// One image's inputs that differ from a background: `widest` values,
        /// and their positions after the two row bounds (`widest + 2`).
        let value: UnsafeMutablePointer<Float>, start: UnsafeMutablePointer<Int32>
        /// Blocks of several images: their ink pixels as sparse rows, and
        /// the int8 first layer's buffers.
        let block: BlockBuffers?
    }

    /// The buffers of one batch call's thread, for its blocks of images.
    final class BlockBuffers {
        let floats: UnsafeMutablePointer<Float>, positions: UnsafeMutablePointer<Int32>
        /// The block's ink pixels.
        let sparse = SparseRows()
        /// The block's pixel bytes, integer sums and kernel scratch, when the
        /// first layer runs in int8.
        let bytes: UnsafeMutablePointer<UInt8>?, sums: UnsafeMutablePointer<Int32>?
        let int8Scratch: UnsafeMutablePointer<UInt32>?
        private let x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>
        private let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, convolution: UnsafeMutablePointer<Float>
        private let value: UnsafeMutablePointer<Float>

        /// The buffers as `run` takes them (made on each use: stored, the
        /// reference back to this object would keep it alive forever).
        var scratch: Scratch {
            Scratch(x: x, y: y, image: (a, b), scratch: convolution, value: value, start: positions, block: self)
        }

        init(rows: Int, widest: Int, scratch scratchCount: Int, int8: Int8FirstLayer?) {
            floats = .allocate(capacity: rows * 2 * widest + 3 * widest + scratchCount)
            positions = .allocate(capacity: widest + 2)
            let rows4 = (rows + 3) / 4 * 4
            bytes = int8.map { .allocate(capacity: rows4 * $0.rowBytes) }
            sums = int8.map { .allocate(capacity: rows4 * $0.rowSums) }
            int8Scratch = int8.map { .allocate(capacity: 5 * $0.groups) }
            x = floats
            y = x + rows * widest
            a = y + rows * widest
            b = a + widest
            convolution = b + widest
            value = convolution + scratchCount
        }

        deinit {
            floats.deallocate(); positions.deallocate()
            bytes?.deallocate(); sums?.deallocate(); int8Scratch?.deallocate()
        }
    }

    /// The executor: `m` images of `pixels` (image after image) through the
    /// plan, their probabilities into `out`. Activations are image-major
    /// (`m × rows`, one row per image).
    private func run(_ pixels: UnsafePointer<Float>, m: Int, into out: UnsafeMutablePointer<Float>, _ s: Scratch) {
        var x = s.x, rows = inputSize
        var steps = plan[...]
        if case let .dense(first)? = plan.first, first.background != nil {
            // Zᵀ (m × n, one row per image) from the images' ink pixels
            firstLayer(first, pixels, m: m, into: x, s)
            rows = first.outputs
            steps = plan.dropFirst()
        } else if let (a, b) = s.image, imageSteps > 0 {
            // Each image through the image steps on its own, its result into row r.
            for r in 0..<m {
                standardize(pixels + r * inputSize, count: inputSize, into: a, order: inputOrder)
                let (result, n) = apply(plan.prefix(imageSteps), a, b, m: 1, rows: inputSize, s)
                (x + r * n).update(from: result, count: n)
                rows = n
            }
            steps = plan.dropFirst(imageSteps)
        } else {
            for r in 0..<m { standardize(pixels + r * inputSize, count: inputSize, into: x + r * inputSize, order: inputOrder) }
        }
        (x, rows) = apply(steps, x, x == s.x ? s.y : s.x, m: m, rows: rows, s)
        // p = softmax(z), image by image
        for r in 0..<m { Self.softmax(x + r * classCount, classCount, into: out + r * classCount) }
    }

    /// x = (p − mean) / std for one image, its values moved to `order` when given.
    private func standardize(_ pixels: UnsafePointer<Float>, count: Int, into x: UnsafeMutablePointer<Float>,
                             order: [Int]?) {
        guard let order else {
            for i in 0..<count { x[i] = (pixels[i] - mean) * inverseStd }
            return
        }
        for i in 0..<count { x[order[i]] = (pixels[i] - mean) * inverseStd }
    }

    /// The steps `steps` on `m` images of `rows` values in `x`, `y` the
    /// other buffer; returns the buffer holding the result and its values per image.
    private func apply(_ steps: ArraySlice<Step>, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                       m: Int, rows: Int, _ s: Scratch) -> (UnsafeMutablePointer<Float>, Int) {
        var (x, y, rows) = (x, y, rows)
        for step in steps {
            switch step {
            case let .dense(d):
                dense(d, x, m: m, into: y, s)
                rows = d.outputs
                swap(&x, &y)
            case let .conv(c):
                // Z = W ⋆ A + b (and the ReLU), image by image; one image's pixels split across the threads
                let n = c.geometry.output.count
                for r in 0..<m { c.apply(x + r * rows, into: y + r * n, scratch: s.scratch, threaded: s.block == nil) }
                rows = n
                swap(&x, &y)
            case let .pool(kind, flat, channels):
                // Z = pool(A), channels-last
                let n = flat.output.area * channels
                for r in 0..<m { pool(kind, flat, x + r * rows, m: channels, channels: 0..<1, into: y + r * n) }
                rows = n
                swap(&x, &y)
            case let .affine(scale, shift):
                // y = scale[c]·x + shift[c], c the innermost index
                let C = scale.count
                for p in 0..<(m * rows / C) {
                    let v = x + p * C
                    for c in 0..<C { v[c] = scale[c] * v[c] + shift[c] }
                }
            case let .activation(kind):
                Self.activate(kind, x, rows * m)
            }
        }
        return (x, rows)
    }

    /// A dense step on `x` (`m` images of `d.inputs`) into `y`: for one
    /// image with a background, the sparse product over the inputs that
    /// differ from it; otherwise one product, `Zᵀ = Xᵀ·Wᵀ + b`.
    private func dense(_ d: DenseWeights, _ x: UnsafePointer<Float>, m: Int, into y: UnsafeMutablePointer<Float>,
                       _ s: Scratch) {
        let n = d.outputs
        if m == 1, let bg = d.background, let panels = d.panels {
            var count: Int32 = 0
            for j in 0..<d.inputs where x[j] != bg {
                s.start[2 + Int(count)] = Int32(j)
                s.value[Int(count)] = x[j] - bg
                count += 1
            }
            s.start[0] = 0
            s.start[1] = count
            d.shiftedBias.withUnsafeBufferPointer { y.update(from: $0.baseAddress!, count: n) }
            // y = (b + W·x_bg) + Σ_{j: x_j ≠ x_bg} (x_j − x_bg)·W[:, j]
            func product(_ range: Range<Int>) {
                sparseProduct(start: s.start, index: s.start + 2, value: s.value, rows: 0..<1, panels, panels: range,
                              into: y, ldc: n, accumulate: true)
            }
            // One image of a network with convolutions: the panels split across the threads, so that each
            // core reads (and keeps in its cache) the same half of the weights image after image.
            if s.block == nil && imageSteps > 0 {
                parallelRanges(panels.panelCount, minimumPerThread: 1, granularity: 1, product)
            } else {
                product(0..<panels.panelCount)
            }
        } else if m == 1 {
            // y = W·x + b
            y.update(from: d.b.data, count: n)
            Float.blasGemv(transA: false, m: n, n: d.inputs, alpha: 1, a: d.W.data, lda: d.inputs,
                           x: x, incx: 1, beta: 1, y: y, incy: 1)
        } else {
            // Zᵀ = Xᵀ·Wᵀ + b
            for r in 0..<m { (y + r * n).update(from: d.b.data, count: n) }
            Float.blasGemm(transA: false, transB: true, m: m, n: n, k: d.inputs, alpha: 1, a: x, lda: d.inputs,
                           b: d.W.data, ldb: d.inputs, beta: 1, c: y, ldc: n)
        }
    }

    /// The first dense step on the images as they come (`m` of
    /// `inputSize` pixels), into `z` as `Zᵀ` (`m × outputs`, one row per
    /// image): `Zᵀ = (Xᵀ − x_bg)·Wᵀ + (b + W·x_bg)`, reading only the weight
    /// rows of each image's ink pixels; in integers for an int8 model on
    /// byte pixels; for a block of mostly-ink images, one product over the
    /// pixels that are ink in some image of the block.
    private func firstLayer(_ first: DenseWeights, _ src: UnsafePointer<Float>, m: Int,
                            into z: UnsafeMutablePointer<Float>, _ s: Scratch) {
        let n = first.outputs, bg = first.background ?? 0
        first.shiftedBias.withUnsafeBufferPointer { bias in
            for r in 0..<m { (z + r * n).update(from: bias.baseAddress!, count: n) }
        }
        guard let buffers = s.block, let panels = first.panels else {
            // One image: x − x_bg = p / std on its ink pixels.
            var count: Int32 = 0
            for j in 0..<inputSize where src[j] != 0 {
                s.start[2 + Int(count)] = Int32(j)
                s.value[Int(count)] = src[j] * inverseStd
                count += 1
            }
            s.start[0] = 0
            s.start[1] = count
            if let panels = first.panels {
                sparseProduct(start: s.start, index: s.start + 2, value: s.value, rows: 0..<1, panels, into: z,
                              ldc: n, accumulate: true)
            }
            return
        }
        if let int8 = first.int8, let bytes = buffers.bytes, let sums = buffers.sums, let scratch = buffers.int8Scratch,
           int8.bytes(of: src, count: m, inputs: inputSize, into: bytes) {
            // Zᵀ[r, i] = (b + W·x_bg)_i + s_i / (255·std) · Σ_j q_ij·u_rj, the sum in integers
            int8.sums(bytes, count: m, into: sums, scratch: scratch)
            int8.factor.withUnsafeBufferPointer { factor in
                for r in 0..<m {
                    let row = z + r * n, sum = sums + r * int8.rowSums
                    for i in 0..<n { row[i] += factor[i] * Float(sum[i]) }
                }
            }
            return
        }
        // The block's ink pixels as sparse rows, x − x_bg = p / std (when
        // the entries can be counted in 32 bits, as SparseRows does).
        let sparse = buffers.sparse
        if m * inputSize <= Int(Int32.max) {
            sparse.reset(rows: m, entries: m * inputSize)
            for r in 0..<m { sparse.appendRow(src + r * inputSize, count: inputSize, background: 0, scale: inverseStd) }
            if sparse.count <= m * inputSize / 2 {
                sparseProduct(sparse, rows: 0..<m, panels, into: z, ldc: n, accumulate: true)
                return
            }
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
        if k == 0 { return }
        // x = (p − mean) / std − x_bg, on the used inputs only
        for r in 0..<m {
            let p = src + r * inputSize, row = x + r * k
            for t in 0..<k { row[t] = (p[used[t]] - mean) * inverseStd - bg }
        }
        for t in 0..<k { panels.copyRow(used[t], into: w + t * n) }
        // Zᵀ = (Xᵀ − x_bg)·Wᵀ + (b + W·x_bg)
        Float.blasGemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: x, lda: k,
                       b: w, ldb: n, beta: 1, c: z, ldc: n)
    }

    static func activate(_ kind: ActivationKind, _ z: UnsafeMutablePointer<Float>, _ n: Int) {
        // z = g(z), the training layer's loop on this thread
        ElementwiseJob(kind, forward: true, z, z, alpha: Float(LayerConstants.leakyReLUSlope)).run(0..<n)
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
    /// `C·k·k × OH·OW` (im2col, as training computes a convolution; 0
    /// without convolutions): the bound on what a convolution may need.
    let widestPatch: Int
    /// Values of the largest scratch a convolution needs at inference
    /// (`DirectConvolution.scratchCount`: a zero-padded input, Winograd's tiles).
    let widestScratch: Int
    /// Values one image needs: two activations of the widest layer (each
    /// layer reads one and writes the other), plus, for a network with
    /// convolutions, the larger of the patch matrix and a convolution's scratch,
    /// or, without, the first layer's copy of the images as sparse rows
    /// (value and position) and as the gathered ink pixels (`3 × inputs`).
    let perImage: Int
    /// Images a batch call's thread runs together: `ModelFormat.batchChunk`
    /// (256) without convolutions, `convolutionChunk` (32) with, or as many
    /// as fit `maximumWorkingValues` when fewer (at least 1; half as many
    /// with convolutions, whose blocks also hold one image's activations).
    let chunk: Int

    /// Images per block for networks with convolutions: enough rows for the
    /// dense layers' products, few enough that 2 threads share out a batch
    /// evenly (one image takes about 0.1 ms).
    static let convolutionChunk = 32

    /// - Parameter architecture: layers `LayerSpec.shapes` accepts on an input
    ///   of at most 2^28 values: each activation is then at most 2^28 values
    ///   and a patch matrix at most 2^16 · 15² · 2^28, so nothing here
    ///   overflows.
    init(_ architecture: Architecture) {
        let (specs, input) = (architecture.inferenceLayers, architecture.inputShape)
        var widest = input.count, patch = 0, scratch = 0
        if case let .success(shapes) = LayerSpec.shapes(of: specs, input: input) {
            var shape = input
            for (i, spec) in specs.enumerated() {
                widest = max(widest, shapes[i].count)
                if case let .conv(_, k, s, p) = spec {
                    patch = max(patch, shape.channels * k * k * shapes[i].area)
                    let g = ConvGeometry(input: shape, output: shapes[i], kernel: k, stride: s, padding: p)
                    scratch = max(scratch, DirectConvolution.scratchCount(g))
                }
                shape = shapes[i]
            }
        }
        self.widest = widest
        widestPatch = patch
        widestScratch = scratch
        perImage = 2 * widest + (patch > 0 ? max(patch, scratch) : 3 * input.count)
        // (With convolutions a block also holds one image's two activations and padded input: half as many.)
        let (most, share) = patch > 0 ? (Self.convolutionChunk, 2) : (ModelFormat.batchChunk, 1)
        chunk = max(1, min(most, ModelFormat.maximumWorkingValues / max(1, perImage) / share))
    }
}
