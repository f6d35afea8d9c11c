/// A trained network with everything inference needs — architecture, input
/// shape and preprocessing, class labels, weights — and, in a checkpoint,
/// the state that resumes its training exactly.
///
/// Files follow docs/model-format.md; `load` validates every length before
/// allocating and rejects any damaged file with an error naming the problem.
public struct Model: Sendable {
    /// Layer sizes and hidden activation (dropout does not apply at inference).
    public var architecture: Architecture
    /// `[height, width, channels]` of the input images.
    public var inputShape: [Int]
    /// One label per output class.
    public var classes: [String]
    /// The standardization fitted on the training split.
    public var standardization: Standardization
    /// Which way round the training images were (MNIST: light ink on dark).
    public var polarity: Polarity
    /// `W1, b1, W2, b2, …`: `W<k>` is `[out, in]`, `b<k>` is `[out]`.
    public var parameters: [NamedTensor]
    /// Other metadata (`train.*`, `deepscratch.version`, unknown keys kept as read).
    public var metadata: Metadata
    /// The training state of a checkpoint (nil for a finished model).
    public var trainingState: TrainingState?
    /// How weight matrices are stored: what `save` writes, what `load` found.
    public var precision: Precision
    /// Facts about the file it was loaded from (nil if not loaded).
    public var fileInfo: ModelFileInfo?

    /// The model of `network`, trained on images of `inputShape` standardized by `standardization`.
    ///
    /// With `foldBatchNorm` (the default, for finished models), every batch
    /// normalization that directly follows a dense or convolution layer is
    /// folded into that layer's weights and bias (`W' = k·W`,
    /// `b' = k·(b − μ_run) + β`, `k = γ/√(σ²_run + ε)` per channel), and the
    /// architecture loses it; checkpoints keep it, to resume exactly.
    public init(network: Network<Float>, architecture: Architecture, standardization: Standardization,
                inputShape: [Int]? = nil, classes: [String]? = nil, polarity: Polarity = .lightOnDark,
                metadata: Metadata = Metadata(), precision: Precision = .f32, foldBatchNorm: Bool = true) {
        var network = network
        var architecture = architecture
        if foldBatchNorm, let folded = Model.foldingBatchNorm(network, architecture) {
            (architecture, network) = folded
        }
        self.architecture = architecture
        let shape = architecture.inputShape
        self.inputShape = inputShape ?? [shape.height, shape.width, shape.channels]
        self.classes = classes ?? (0..<network.classes).map { "\($0)" }
        self.standardization = standardization
        self.polarity = polarity
        self.parameters = network.storedTensors.map { NamedTensor(name: $0.name, shape: $0.shape, values: $0.matrix.values) }
        self.metadata = metadata
        self.precision = precision
    }

    /// Total number of parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.values.count } }

    /// A Float32 network holding this model's parameters (its dropout
    /// layers, if any, do nothing outside training).
    /// - Throws: `DeepScratchError.badModel` when the architecture or the
    ///   parameters do not fit (a model changed after loading: a loaded or
    ///   trained one always fits).
    public func makeNetwork() throws -> Network<Float> {
        // What Architecture.makeNetwork requires: layers that fit.
        guard architecture.storedTensorShapes != nil else { throw problem("the layers do not fit the input shape") }
        let net = architecture.makeNetwork(Float.self, seed: 0, drawWeights: false)
        try load(into: net)
        return net
    }

    /// Copies the parameters (and running statistics) into `network` (same architecture).
    /// - Throws: `DeepScratchError.badModel` when a tensor the network
    ///   needs is missing or has another number of values.
    public func load(into network: Network<Float>) throws {
        for target in network.storedTensors {
            guard let t = parameters.first(where: { $0.name == target.name }) else {
                throw problem("parameter \(target.name) is missing from the model")
            }
            guard target.matrix.count == t.values.count else {
                throw problem("parameter \(t.name) holds \(t.values.count) values, the network's needs \(target.matrix.count)")
            }
            t.values.withUnsafeBufferPointer { src in
                if let values = src.baseAddress { target.matrix.data.update(from: values, count: src.count) }
            }
        }
    }

    /// An error about this model, naming its file when it was loaded from one.
    private func problem(_ reason: String) -> DeepScratchError {
        .badModel(path: fileInfo?.path ?? "<model>", reason: reason)
    }

    /// The architecture and network with every batch normalization that
    /// directly follows a dense or convolution layer folded into it (nil
    /// when there is none).
    static func foldingBatchNorm(_ network: Network<Float>, _ architecture: Architecture) -> (Architecture, Network<Float>)? {
        // The network is the architecture's (Trainer and the callers build it
        // from the same list): one layer per spec, each batch normalization
        // as wide as the rows of the layer before, so nothing below is out of
        // range. A mismatched pair is left unfolded.
        let specs = architecture.layers
        guard network.layers.count == specs.count else { return nil }
        let old = network.layers
        func foldable(_ i: Int) -> Bool {
            i > 0 && old[i] is BatchNorm<Float> && (old[i - 1] is Dense<Float> || old[i - 1] is Conv2D<Float>)
        }
        let kept = specs.indices.filter { !foldable($0) }
        guard kept.count < specs.count else { return nil }
        let foldedArchitecture = Architecture(layers: kept.map { specs[$0] }, inputShape: architecture.inputShape,
                                              activation: architecture.activation)
        let foldedNetwork = foldedArchitecture.makeNetwork(Float.self, seed: 0, drawWeights: false)
        for (j, i) in kept.enumerated() {
            let new = foldedNetwork.layers[j]
            var pairs: [(Parameter<Float>, Parameter<Float>)] = []
            if let a = old[i] as? Dense<Float>, let b = new as? Dense<Float> { pairs = [(a.W, b.W), (a.b, b.b)] }
            if let a = old[i] as? Conv2D<Float>, let b = new as? Conv2D<Float> { pairs = [(a.W, b.W), (a.b, b.b)] }
            if let a = old[i] as? BatchNorm<Float>, let b = new as? BatchNorm<Float> {
                pairs = [(a.gamma, b.gamma), (a.beta, b.beta)]
                b.runningMean.copy(from: a.runningMean)
                b.runningVariance.copy(from: a.runningVariance)
            }
            for (a, b) in pairs { b.value.copy(from: a.value) }
            if pairs.count == 2, i + 1 < old.count, foldable(i + 1), let norm = old[i + 1] as? BatchNorm<Float> {
                // W' = k·W, b' = k·b + (β − k·μ_run) with k = γ/√(σ²_run + ε), per output channel
                let (W, bias) = (pairs[0].1.value, pairs[1].1.value)
                for c in 0..<norm.channels {
                    let (k, shift) = norm.inferenceAffine(channel: c)
                    scale(W.data + c * W.cols, count: W.cols, by: k)
                    bias.data[c] = k * bias.data[c] + shift
                }
            }
        }
        return (foldedArchitecture, foldedNetwork)
    }

    /// The inference layers, as the file's `model.layers` key lists them
    /// (`dense 784 512`, `relu`, …, `softmax`).
    public var layerList: [String] { layerStrings }

    /// The inference layer list of the file's `model.layers` key.
    var layerStrings: [String] { LayerSpec.fileStrings(architecture.layers, input: architecture.inputShape) }

    // MARK: Writing

    /// The file bytes of the model (docs/model-format.md).
    /// - Parameter precision: how weight matrices are stored (default: `self.precision`).
    public func serialized(precision: Precision? = nil) -> [UInt8] {
        let weightType = (precision ?? self.precision).weightType
        var meta = metadata
        meta.removeAll(withPrefix: "model.")
        meta.removeAll(withPrefix: "input.")
        meta.removeAll(withPrefix: "checkpoint.")
        meta.removeAll(withPrefix: "train.config.")
        let layerStrings = self.layerStrings
        meta["model.layers"] = .strings(layerStrings)
        meta["model.input_shape"] = .ints(inputShape.map(Int64.init))
        meta["model.classes"] = .strings(classes)
        meta["input.mean"] = .double(standardization.mean)
        meta["input.std"] = .double(standardization.std)
        meta["input.polarity"] = .string(polarity.rawValue)
        if meta["deepscratch.version"] == nil { meta["deepscratch.version"] = .string(DeepScratchVersion.string) }

        // Tensors: weight matrices in the chosen precision; biases and training state in f32.
        var tensors: [(name: String, type: TensorType, shape: [Int], bytes: [UInt8])] = []
        for t in parameters {
            let type: TensorType = (t.shape.count >= 2 && trainingState == nil) ? weightType : .f32
            tensors.append((t.name, type, t.shape, TensorEncoding.encode(t.values, rows: t.rows, cols: t.cols, as: type)))
        }
        if let state = trainingState {
            state.write(to: &meta)
            for t in state.moments {
                tensors.append((t.name, .f32, t.shape, TensorEncoding.encode(t.values, rows: t.rows, cols: t.cols, as: .f32)))
            }
        }

        var w = ByteWriter()
        w.bytes += ModelFormat.magic
        w.u16(ModelFormat.major)
        w.u16(ModelFormat.minor(forLayerStrings: layerStrings))
        w.u32(UInt32(ModelFormat.headerSize))
        w.u64(0)                      // file size, patched below
        w.u32(3)                      // sections
        w.u32(0)

        func section(_ tag: String, _ payload: [UInt8]) {
            w.bytes += Array(tag.utf8)
            w.u32(ModelFormat.requiredFlag)
            w.u64(UInt64(payload.count))
            w.bytes += payload
            w.pad(to: 8)
        }
        var m = ByteWriter()
        meta.write(to: &m)
        section(ModelFormat.meta, m.bytes)

        // The directory's size does not depend on the offsets it holds.
        func directory(_ offsets: [Int]) -> [UInt8] {
            var d = ByteWriter()
            d.u32(UInt32(tensors.count))
            for (i, t) in tensors.enumerated() {
                d.key(t.name)
                d.u8(t.type.rawValue)
                d.u8(UInt8(t.shape.count))
                t.shape.forEach { d.u32(UInt32($0)) }
                d.u64(UInt64(offsets[i]))
                d.u64(UInt64(t.bytes.count))
            }
            return d.bytes
        }
        let directorySize = directory(Array(repeating: 0, count: tensors.count)).count
        let dataPayloadStart = w.bytes.count + 16 + ((directorySize + 7) / 8 * 8) + 16
        var offsets = [Int]()
        var at = dataPayloadStart
        for t in tensors {
            at = (at + ModelFormat.tensorAlignment - 1) / ModelFormat.tensorAlignment * ModelFormat.tensorAlignment
            offsets.append(at)
            at += t.bytes.count
        }
        section(ModelFormat.directory, directory(offsets))
        precondition(w.bytes.count + 16 == dataPayloadStart)
        var data = [UInt8]()
        data.reserveCapacity(at - dataPayloadStart)
        for (i, t) in tensors.enumerated() {
            data += [UInt8](repeating: 0, count: offsets[i] - dataPayloadStart - data.count)
            data += t.bytes
        }
        section(ModelFormat.data, data)
        w.patchU64(at: 16, UInt64(w.bytes.count + ModelFormat.checksumSize))
        w.u64(XXH64.hash(w.bytes))
        return w.bytes
    }

    /// Writes the model to `path` atomically (temporary file, flush, rename).
    /// - Parameter precision: how weight matrices are stored (default: `self.precision`).
    /// - Throws: `DeepScratchError.cannotWrite` naming the path and reason.
    public func save(to path: String, precision: Precision? = nil) throws {
        try AtomicFile.write(serialized(precision: precision), to: path)
    }

    // MARK: Reading

    /// Reads and validates a model file.
    /// - Throws: `DeepScratchError.cannotRead` or `.badModel` naming the file and the problem.
    public static func load(path: String) throws -> Model {
        try AtomicFile.withContents(of: path, limit: ModelFormat.maximumFileSize) { try parse(raw: $0, path: path) }
    }

    /// Parses model file bytes (`path` names them in errors).
    /// - Throws: `DeepScratchError.badModel` naming the problem.
    public static func parse(_ bytes: [UInt8], path: String) throws -> Model {
        try bytes.withUnsafeBytes { try parse(raw: $0, path: path) }
    }

    static func parse(raw: UnsafeRawBufferPointer, path: String) throws -> Model {
        try parse(raw: raw, path: path, buildNetwork: false).model
    }

    /// Loads a model file straight into an inference network: the weights are
    /// decoded once, into the network's own matrices (the model's
    /// `parameters` stay empty). The fast path for classifying.
    /// - Throws: `DeepScratchError.cannotRead` or `.badModel` naming the file and the problem.
    /// - Parameter maximumBytes: refuse a larger file (`cannotRead`), at most the format's 2 GiB.
    public static func loadNetwork(path: String, maximumBytes: Int = Int.max) throws -> (Model, Network<Float>) {
        try AtomicFile.withContents(of: path, limit: min(maximumBytes, ModelFormat.maximumFileSize)) { raw in
            let (model, network) = try parse(raw: raw, path: path, buildNetwork: true)
            return (model, network!)  // buildNetwork: a network or a thrown error
        }
    }

    /// - Parameter buildNetwork: decode the parameters straight into a new
    ///   inference network (returned) instead of into `parameters`.
    static func parse(raw: UnsafeRawBufferPointer, path: String,
                      buildNetwork: Bool) throws -> (model: Model, network: Network<Float>?) {
        func bad(_ reason: String) -> DeepScratchError { .badModel(path: path, reason: reason) }
        let size = raw.count
        guard size >= ModelFormat.magic.count, let base = raw.baseAddress,
              Array(raw.prefix(ModelFormat.magic.count)) == ModelFormat.magic else {
            throw bad(size == 0 ? "the file is empty" : "missing the model file magic bytes (not a DeepScratch model)")
        }
        guard size >= ModelFormat.headerSize + ModelFormat.checksumSize else {
            throw bad("truncated: \(size) bytes, shorter than the \(ModelFormat.headerSize + ModelFormat.checksumSize)-byte minimum")
        }
        var header = ByteReader(base, from: 8, to: ModelFormat.headerSize, fail: bad)
        let major = try header.u16("major version"), minor = try header.u16("minor version")
        guard major <= ModelFormat.major else {
            throw bad("format version \(major).\(minor) is newer than this reader's \(ModelFormat.major).\(ModelFormat.minor); upgrade DeepScratch to read it")
        }
        guard major >= 1 else { throw bad("format version \(major).\(minor) is not supported") }
        let headerSize = try header.u32("header size")
        guard headerSize == ModelFormat.headerSize else { throw bad("header size \(headerSize), expected \(ModelFormat.headerSize)") }
        let declared = try header.u64("file size")
        guard declared == UInt64(size) else {
            throw bad(declared > UInt64(size)
                      ? "truncated: the header announces \(declared) bytes, the file holds \(size)"
                      : "\(UInt64(size) - declared) trailing bytes after the announced \(declared)")
        }
        let sectionCount = Int(try header.u32("section count"))
        guard (1...ModelFormat.maximumSections).contains(sectionCount) else {
            throw bad("section count \(sectionCount) outside 1...\(ModelFormat.maximumSections)")
        }
        let bodyEnd = size - ModelFormat.checksumSize
        let stored = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: bodyEnd, as: UInt64.self))
        let computed = XXH64.hash(UnsafeRawBufferPointer(start: base, count: bodyEnd))
        guard stored == computed else {
            throw bad("checksum mismatch: the file is damaged (stored \(hex(stored)), computed \(hex(computed)))")
        }

        // Sections.
        var sections: [String: Range<Int>] = [:]
        var order: [String] = []
        var r = ByteReader(base, from: ModelFormat.headerSize, to: bodyEnd, fail: bad)
        for k in 0..<sectionCount {
            let tagBytes = try (0..<4).map { _ in try r.u8("section \(k + 1) tag") }
            let tag = String(decoding: tagBytes, as: UTF8.self)
            guard tagBytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { throw bad("section \(k + 1) has a tag that is not ASCII") }
            let flags = try r.u32("flags of section \(tag)")
            let length = try r.u64("length of section \(tag)")
            guard length <= UInt64(r.remaining) else {
                throw bad("section \(tag) announces \(length) bytes, only \(r.remaining) are left")
            }
            let start = r.offset
            let known = [ModelFormat.meta, ModelFormat.directory, ModelFormat.data].contains(tag)
            if known {
                guard sections[tag] == nil else { throw bad("section \(tag) appears twice") }
                sections[tag] = start..<(start + Int(length))
            } else if flags & ModelFormat.requiredFlag != 0 {
                throw bad("required section \(tag) is unknown to this reader (format \(ModelFormat.major).\(ModelFormat.minor))")
            }
            order.append(tag)
            let next = (start + Int(length) + 7) / 8 * 8
            guard next <= bodyEnd else { throw bad("section \(tag) runs past the end of the file") }
            r = ByteReader(base, from: next, to: bodyEnd, fail: bad)
        }
        for tag in [ModelFormat.meta, ModelFormat.directory, ModelFormat.data] where sections[tag] == nil {
            throw bad("required section \(tag) is missing")
        }
        // Present: the loop above threw for a missing one.
        let metaRange = sections[ModelFormat.meta]!, dirRange = sections[ModelFormat.directory]!
        let dataRange = sections[ModelFormat.data]!

        var mr = ByteReader(base, from: metaRange.lowerBound, to: metaRange.upperBound, fail: bad)
        var meta = try Metadata.read(from: &mr)

        // Tensor directory: each entry on its own (step 6).
        var dr = ByteReader(base, from: dirRange.lowerBound, to: dirRange.upperBound, fail: bad)
        let entries = try TensorEntry.readDirectory(&dr, data: dataRange, bad: bad)

        // Required metadata, and the layers on the input (step 7).
        func key<V>(_ k: String, _ get: (MetaValue) -> V?, _ what: String) throws -> V {
            guard let v = meta[k] else { throw bad("metadata key \(k) is missing") }
            guard let x = get(v) else { throw bad("metadata key \(k) is not \(what)") }
            return x
        }
        let layers = try key("model.layers", \.stringsValue, "a list of layers")
        let inputShape64 = try key("model.input_shape", \.intsValue, "a list of integers")
        let classes = try key("model.classes", \.stringsValue, "a list of labels")
        let mean = try key("input.mean", \.doubleValue, "a number")
        let std = try key("input.std", \.doubleValue, "a number")
        let polarityName = try key("input.polarity", \.stringValue, "a string")
        guard let polarity = Polarity(rawValue: polarityName) else { throw bad("unknown input.polarity '\(polarityName)'") }
        guard mean.isFinite, std.isFinite, std > 0 else { throw bad("input standardization mean \(mean), std \(std)") }
        let side = ModelFormat.maximumInputSide
        guard inputShape64.count == 3, inputShape64.allSatisfy({ (1...Int64(side)).contains($0) }) else {
            throw bad("model.input_shape \(inputShape64) is not [height, width, channels], each 1...\(side)")
        }
        let inputShape = inputShape64.map { Int($0) }
        // Three factors of at most 2^16: at most 2^48.
        let inputValues = inputShape[0] * inputShape[1] * inputShape[2]
        guard inputValues <= ModelFormat.maximumLayerValues else {
            throw bad("model.input_shape \(inputShape) is \(inputValues) values per image, more than the \(ModelFormat.maximumLayerValues) allowed")
        }
        if minor < 1, let first = layers.first(where: { ModelFormat.minor(forLayerStrings: [$0]) > minor }) {
            throw bad("layer '\(first)' needs format 1.1, the file says \(major).\(minor)")
        }
        let shape = ImageShape(channels: inputShape[2], height: inputShape[0], width: inputShape[1])
        let specs: [LayerSpec]
        switch LayerSpec.parseFileStrings(layers, input: shape) {
        case let .failure(p): throw bad("model.layers layer \(p.layer) \(p.reason)")
        case let .success(s): specs = s
        }
        let activation = specs.lazy.compactMap { s -> ActivationKind? in
            if case let .activation(a) = s { return a } else { return nil }
        }.first ?? .relu
        let architecture = Architecture(layers: specs, inputShape: shape, activation: activation)
        guard classes.count == architecture.classes else {
            throw bad("\(classes.count) class labels for \(architecture.classes) outputs")
        }

        // The layers against the directory and the working memory (step 8):
        // nothing sized by the file has been allocated before this point.
        let layout = try ModelLayout(architecture, directory: entries, bad: bad)

        // Decoding (step 9): into a new network, or into `parameters`.
        func decode(_ e: TensorEntry, into out: UnsafeMutablePointer<Float>) throws {
            if let problem = TensorEncoding.decode(base + e.offset, length: e.length, rows: e.rows, cols: e.cols,
                                                   type: e.type, into: out) {
                throw bad("tensor \(e.name) \(problem)")
            }
        }
        func decode(_ e: TensorEntry) throws -> NamedTensor {
            let values = try TensorEncoding.decode(base + e.offset, length: e.length, rows: e.rows, cols: e.cols, type: e.type) {
                bad("tensor \(e.name) \($0)")
            }
            return NamedTensor(name: e.name, shape: e.shape, values: values)
        }
        var parameters = [NamedTensor]()
        var network: Network<Float>?
        if buildNetwork {
            let built = architecture.makeNetwork(Float.self, seed: 0, drawWeights: false)
            // The network stores exactly the tensors the layout lists (both follow
            // the layer list: Architecture.storedTensorShapes), each with room
            // for the values of its checked shape.
            for (target, e) in zip(built.storedTensors, layout.parameters) {
                guard target.name == e.name, target.matrix.count == e.shape.reduce(1, *) else {
                    throw bad("tensor \(e.name) does not fit the network's \(target.name)")
                }
                try decode(e, into: target.matrix.data)
            }
            network = built
        } else {
            parameters = try layout.parameters.map(decode)
        }
        let weightTypes = Set(layout.parameters.filter { $0.name.hasPrefix("W") }.map(\.type))
        let precision: Precision = weightTypes.contains(.q8z) || weightTypes.contains(.q8) ? .int8
            : weightTypes.contains(.f16) ? .f16 : .f32

        // A checkpoint's training state (step 10), for the readers that keep it.
        var state: TrainingState?
        if meta["checkpoint.epochs_done"] != nil, !buildNetwork {
            let moments = try entries.filter { $0.name.hasPrefix("opt.") }.map(decode)
            state = try TrainingState(reading: meta, moments: moments, parameters: parameters, fail: bad)
        }
        meta.removeAll(withPrefix: "model.")
        meta.removeAll(withPrefix: "input.")
        var model = Model(architecture: architecture, inputShape: inputShape, classes: classes,
                          standardization: Standardization(mean: mean, std: std), polarity: polarity,
                          parameters: parameters, metadata: meta, trainingState: state, precision: precision)
        model.fileInfo = ModelFileInfo(
            path: path, fileSize: size, majorVersion: Int(major), minorVersion: Int(minor), sections: order,
            tensors: entries.map { TensorInfo(name: $0.name, shape: $0.shape, type: $0.type.name, byteLength: $0.length) })
        return (model, network)
    }

    init(architecture: Architecture, inputShape: [Int], classes: [String], standardization: Standardization,
         polarity: Polarity, parameters: [NamedTensor], metadata: Metadata, trainingState: TrainingState?,
         precision: Precision) {
        self.architecture = architecture
        self.inputShape = inputShape
        self.classes = classes
        self.standardization = standardization
        self.polarity = polarity
        self.parameters = parameters
        self.metadata = metadata
        self.trainingState = trainingState
        self.precision = precision
    }
}

private func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

/// The library's version, written once for all of the Swift code: the C
/// ABI, `dsc --version`, model files' and ONNX files' producer version.
/// `include/deepscratch.h` says the same for C (`DS_VERSION_*`; a test
/// holds the two equal, and `examples/Makefile` reads the header).
public enum DeepScratchVersion {
    public static let major = 1
    public static let minor = 2
    public static let patch = 0
    /// "MAJOR.MINOR.PATCH".
    public static let string = "\(major).\(minor).\(patch)"
}
