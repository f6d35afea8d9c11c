/// One entry of a model file's tensor directory (`TDIR`).
struct TensorEntry {
    var name: String
    var type: TensorType
    /// Dimensions, outermost first (1 to 4 of them, each ≥ 1).
    var shape: [Int]
    /// Absolute offset and byte length of the tensor's bytes (inside `TDAT`).
    var offset: Int
    var length: Int
    /// The first dimension and the product of the others: how the
    /// encodings lay the values out (a row scale per `rows` for `q8`).
    var rows: Int { shape[0] }
    var cols: Int { shape.dropFirst().reduce(1, *) }

    /// Reads the directory and checks each entry on its own (docs/model-format.md,
    /// "Validation", step 6): a known dtype, rank 1 to 4, dimensions ≥ 1
    /// multiplying to at most 2^31 values, unique names, a 64-byte aligned
    /// range inside `data`, no overlap, and a byte length its dtype and shape
    /// allow: exactly `4·n`, `2·n`, `4·rows + n` for `f32`, `f16`, `q8`; for
    /// `q8z`, a stream that deflate could inflate to the `q8` length
    /// (`4·rows + n ≤ 1032 · length`), so no decompressed size is believed
    /// beyond what the stored bytes can hold.
    static func readDirectory(_ r: inout ByteReader, data: Range<Int>,
                              bad: (String) -> DeepScratchError) throws -> [TensorEntry] {
        // Smallest entry: 2+1 name, dtype, rank, one dimension, offset, length = 25 bytes.
        let count = try r.count("tensor count", minimumSize: 25, limit: 4096)
        var entries: [TensorEntry] = []
        var names = Set<String>()
        for _ in 0..<count {
            let name = try r.key("tensor name")
            guard names.insert(name).inserted else { throw bad("tensor \(name) appears twice") }
            let code = try r.u8("dtype of \(name)")
            guard let type = TensorType(rawValue: code) else { throw bad("tensor \(name) has unknown dtype \(code)") }
            let rank = Int(try r.u8("rank of \(name)"))
            guard (1...4).contains(rank) else { throw bad("tensor \(name) has rank \(rank), expected 1 to 4") }
            var shape = [Int]()
            var values = 1
            for _ in 0..<rank {
                let d = Int(try r.u32("dimension of \(name)"))
                guard d >= 1 else { throw bad("tensor \(name) has a zero dimension") }
                let (product, overflow) = values.multipliedReportingOverflow(by: d)
                guard !overflow, product <= ModelFormat.maximumTensorValues else {
                    throw bad("tensor \(name) claims more than 2^31 values")
                }
                values = product
                shape.append(d)
            }
            let offset = try r.u64("offset of \(name)"), length = try r.u64("length of \(name)")
            guard offset % UInt64(ModelFormat.tensorAlignment) == 0 else { throw bad("tensor \(name) is not 64-byte aligned") }
            guard offset >= UInt64(data.lowerBound), length <= UInt64(data.upperBound),
                  offset <= UInt64(data.upperBound) - length else {
                throw bad("tensor \(name) (\(length) bytes at \(offset)) lies outside the data section")
            }
            // values ≤ 2^31 and rows ≤ values: every length below is < 2^34;
            // offset and length lie inside the file (< 2^31).
            let entry = TensorEntry(name: name, type: type, shape: shape, offset: Int(offset), length: Int(length))
            if let exact = type.byteLength(rows: entry.rows, cols: entry.cols), exact != entry.length {
                throw bad("tensor \(name) holds \(length) bytes, \(type.name) \(shape) needs \(exact)")
            }
            if type == .q8z {
                let inflated = TensorType.q8.byteLength(rows: entry.rows, cols: entry.cols) ?? 0
                guard inflated <= ModelFormat.maximumDeflateRatio * entry.length else {
                    throw bad("tensor \(name) (q8z) would inflate \(length) bytes to the \(inflated) its shape \(shape) needs, more than deflate's \(ModelFormat.maximumDeflateRatio):1 allows")
                }
            }
            entries.append(entry)
        }
        let sorted = entries.sorted { $0.offset < $1.offset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.offset + a.length > b.offset {
            throw bad("tensors \(a.name) and \(b.name) overlap")
        }
        return entries
    }
}

/// What a model file's layers imply, checked against its tensor directory
/// before anything the file sizes is allocated (docs/model-format.md,
/// "Validation", step 8): every tensor the layers need is in the directory
/// with exactly the shape they need (so its bytes are in the file, step 6),
/// an optimizer moment of a checkpoint has its parameter's shape, and one
/// image fits in the classification buffers. Every loader goes through it
/// (`Model.parse`), whether it builds a network or not.
struct ModelLayout {
    /// The directory entries of the parameters, in file order (the order of
    /// `Architecture.storedTensorShapes` and `Network.storedTensors`).
    let parameters: [TensorEntry]
    /// The buffers classifying with this model needs.
    let workspace: InferenceWorkspace

    /// - Parameter architecture: layers that fit their input (`LayerSpec.shapes`
    ///   accepted them), on an input of at most 2^28 values.
    init(_ architecture: Architecture, directory: [TensorEntry], bad: (String) -> DeepScratchError) throws {
        guard let expected = architecture.storedTensorShapes else { throw bad("model.layers do not fit the input shape") }
        var byName: [String: TensorEntry] = [:]
        for e in directory { byName[e.name] = e }
        var parameters: [TensorEntry] = []
        for (name, shape) in expected {
            // Shapes of layers that fit multiply without overflow (Architecture.parameterCount).
            let values = shape.reduce(1, *)
            guard values <= ModelFormat.maximumTensorValues else {
                throw bad("the layers need tensor \(name) of shape \(shape), \(values) values, more than 2^31")
            }
            guard let e = byName[name] else { throw bad("tensor \(name) is missing") }
            guard e.shape == shape else { throw bad("tensor \(name) has shape \(e.shape), the layers need \(shape)") }
            parameters.append(e)
            // The optimizer holds a parameter as a matrix: [rows, cols], or [rows] when cols is 1
            // (Trainer.trainingState); batch normalization's running statistics are not trained.
            guard !name.hasPrefix("mean"), !name.hasPrefix("var") else { continue }
            let moment = e.cols == 1 ? [e.rows] : [e.rows, e.cols]
            for which in ["v", "s"] {
                if let m = byName["opt.\(which).\(name)"], m.shape != moment {
                    throw bad("tensor opt.\(which).\(name) has shape \(m.shape), the optimizer holds \(name) as \(moment)")
                }
            }
        }
        let workspace = InferenceWorkspace(architecture)
        guard workspace.perImage <= ModelFormat.maximumWorkingValues else {
            let parts = workspace.widestPatch > 0 ? "convolution patches of \(workspace.widestPatch)" : "copies of the input"
            throw bad("classifying one image would take \(workspace.perImage) values of working memory (2 × \(workspace.widest) for the widest layer, and \(parts)), more than the \(ModelFormat.maximumWorkingValues) allowed")
        }
        self.parameters = parameters
        self.workspace = workspace
    }
}
