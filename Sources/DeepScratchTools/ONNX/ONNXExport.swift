import DeepScratch
/// Export of a model to ONNX (https://onnx.ai), written by our own
/// protobuf encoder (`ProtobufWriter`).
///
/// The graph takes `pixels`, float `[N, inputs]` in [0, 1] (0 background,
/// 1 ink: the C ABI's convention), standardizes it as the model does
/// (`x = (p − mean) · (1/std)`), runs the layers and returns
/// `probabilities`, float `[N, classes]` (Softmax over axis 1).
///
/// The layers are `Model.inferenceLayers`; each kind has its emitter
/// (`emitDense`, `emitConv`, `emitPool`, `emitBatchNorm`, `emitActivation`,
/// `emitSoftmax`), which adds its nodes and initializers. Our activations are
/// channel-major `C × H × W` per example, which is ONNX's NCHW: the flat
/// `[N, C·H·W]` tensor is reshaped to `[N, C, H, W]` before the first
/// convolution, pooling or image batch normalization, and flattened back
/// (`Flatten`, axis 1) before a dense layer.
public enum ONNXExport {
    /// The ONNX IR version written (8 goes with opset 17).
    public static let irVersion: Int64 = 8
    /// The default-domain operator set the graph uses.
    public static let opsetVersion: Int64 = 17
    /// Graph input and output names.
    public static let inputName = "pixels"
    public static let outputName = "probabilities"

    /// The ONNX file bytes of `model` (its `parameters` must be loaded, as
    /// `Model.load` does).
    /// - Throws: `DeepScratchError.badModel` if the layers do not fit the
    ///   input or a parameter is missing or of the wrong size.
    public static func serialize(_ model: Model, path: String = "<model>") throws -> [UInt8] {
        let layers = model.inferenceLayers
        let inputs = model.inputShape.reduce(1, *)
        guard !layers.isEmpty else {
            throw DeepScratchError.badModel(path: path, reason: "the layers \(model.layerList) do not fit the input shape \(model.inputShape)")
        }
        var graph = ONNXGraphBuilder(path: path, input: inputName, width: inputs)
        // x = (p − mean) · (1/std), the same two float operations as InferenceModel.
        let mean = graph.constant("input_mean", dims: [], values: [Float(model.standardization.mean)])
        let inverseStd = graph.constant("input_inverse_std", dims: [], values: [Float(1 / model.standardization.std)])
        graph.node("Sub", [graph.current, mean], name: "standardize_sub")
        graph.node("Mul", [graph.current, inverseStd], name: "standardize_mul")
        for layer in layers {
            switch layer {
            case let .dense(inputs, outputs, W, b):
                try emitDense(&graph, inputs: inputs, outputs: outputs, W: W, b: b)
            case let .conv(input, output, kernel, stride, padding, W, b):
                try emitConv(&graph, input: input, output: output, kernel: kernel, stride: stride, padding: padding, W: W, b: b)
            case let .pool(kind, input, output, size, stride):
                try emitPool(&graph, kind, input: input, output: output, size: size, stride: stride)
            case let .batchNorm(shape, epsilon, gamma, beta, mean, variance):
                try emitBatchNorm(&graph, shape: shape, epsilon: epsilon, gamma: gamma, beta: beta, mean: mean, variance: variance)
            case let .activation(kind):
                emitActivation(&graph, kind)
            case .softmax:
                try emitSoftmax(&graph, classes: model.classes.count)
            }
        }
        graph.rename(last: outputName)

        var w = ProtobufWriter()
        w.int(1, irVersion)                                     // ModelProto.ir_version
        w.string(2, "DeepScratch")                              // producer_name
        w.string(3, DeepScratchVersion.string)                  // producer_version
        w.string(4, "org.deepscratch")                          // domain
        w.int(5, 1)                                             // model_version
        w.string(6, "Class probabilities of \(model.inputShape.map(String.init).joined(separator: "x")) images given as floats in [0, 1] (0 background, 1 ink).")
        w.message(7) { g in graph.writeGraph(&g, inputs: inputs, classes: model.classes.count) }  // graph
        w.message(8) { o in o.string(1, ""); o.int(2, opsetVersion) }                              // opset_import
        func property(_ key: String, _ value: String) {
            w.message(14) { p in p.string(1, key); p.string(2, value) }                            // metadata_props
        }
        property("classes", jsonArray(model.classes))
        property("input.mean", "\(model.standardization.mean)")
        property("input.std", "\(model.standardization.std)")
        property("input.polarity", model.polarity.rawValue)
        for key in ["train.dataset", "train.test_accuracy"] {
            if let v = model.metadata[key] { property(key, v.description) }
        }
        return w.bytes
    }

    /// Writes the ONNX file of `model` to `path` atomically.
    /// - Throws: as `serialize`, or `DeepScratchError.cannotWrite`.
    public static func write(_ model: Model, to path: String) throws {
        try AtomicFile.write(serialize(model, path: model.fileInfo?.path ?? "<model>"), to: path)
    }

    // MARK: Emitters, one per layer kind

    /// `Zᵀ = Aᵀ·Wᵀ + b`: Gemm with `W` stored `[out, in]` and `transB = 1`
    /// (after a Flatten when an image comes in).
    static func emitDense(_ g: inout ONNXGraphBuilder, inputs: Int, outputs: Int, W: NamedTensor, b: NamedTensor?) throws {
        try g.flatten(expecting: inputs, for: "dense \(inputs) \(outputs)")
        var operands = [g.current, try g.weights(W, dims: [outputs, inputs])]
        if let b { operands.append(try g.weights(b, dims: [outputs])) }
        g.node("Gemm", operands, attributes: [.int("transB", 1)])
        g.layout = .flat(outputs)
    }

    /// `Z[f,oy,ox] = b[f] + Σ W[f,c,ky,kx]·A[c, oy·s − p + ky, ox·s − p + kx]`:
    /// Conv with `W` `[F, C, k, k]`, `p` zeros on every side.
    static func emitConv(_ g: inout ONNXGraphBuilder, input: ImageShape, output: ImageShape, kernel: Int, stride: Int,
                         padding: Int, W: NamedTensor, b: NamedTensor?) throws {
        try g.image(input, for: "conv")
        var operands = [g.current, try g.weights(W, dims: [output.channels, input.channels, kernel, kernel])]
        if let b { operands.append(try g.weights(b, dims: [output.channels])) }
        let k = Int64(kernel), s = Int64(stride), p = Int64(padding)
        g.node("Conv", operands, attributes: [.ints("kernel_shape", [k, k]), .ints("strides", [s, s]),
                                              .ints("pads", [p, p, p, p])])
        g.layout = .image(output)
    }

    /// Max or mean over `size × size` windows `stride` apart, no padding
    /// (so AveragePool divides by `size²`, as ours does).
    static func emitPool(_ g: inout ONNXGraphBuilder, _ kind: PoolKind, input: ImageShape, output: ImageShape,
                         size: Int, stride: Int) throws {
        try g.image(input, for: kind.rawValue)
        let k = Int64(size), s = Int64(stride)
        g.node(kind == .max ? "MaxPool" : "AveragePool", [g.current],
               attributes: [.ints("kernel_shape", [k, k]), .ints("strides", [s, s])])
        g.layout = .image(output)
    }

    /// `y = γ·(x − mean)/√(var + ε) + β` per channel: BatchNormalization
    /// (inference mode) on `[N, C, H, W]`, or on `[N, C]` after a dense layer.
    static func emitBatchNorm(_ g: inout ONNXGraphBuilder, shape: ImageShape, epsilon: Double, gamma: NamedTensor,
                              beta: NamedTensor, mean: NamedTensor, variance: NamedTensor) throws {
        if shape.area > 1 { try g.image(shape, for: "batchnorm") }
        let c = [shape.channels]
        let operands = [g.current, try g.weights(gamma, dims: c), try g.weights(beta, dims: c),
                        try g.weights(mean, dims: c), try g.weights(variance, dims: c)]
        g.node("BatchNormalization", operands, attributes: [.float("epsilon", Float(epsilon))])
    }

    /// Element-wise activations (any layout).
    static func emitActivation(_ g: inout ONNXGraphBuilder, _ kind: ActivationKind) {
        switch kind {
        case .relu: g.node("Relu", [g.current])
        case .leakyReLU: g.node("LeakyRelu", [g.current], attributes: [.float("alpha", Float(LayerConstants.leakyReLUSlope))])
        case .tanh: g.node("Tanh", [g.current])
        case .sigmoid: g.node("Sigmoid", [g.current])
        }
    }

    /// Softmax over the classes (axis 1 of `[N, classes]`).
    static func emitSoftmax(_ g: inout ONNXGraphBuilder, classes: Int) throws {
        try g.flatten(expecting: classes, for: "softmax")
        g.node("Softmax", [g.current], attributes: [.int("axis", 1)])
    }

    /// `["a", "b"]` with JSON string escapes.
    static func jsonArray(_ strings: [String]) -> String { JSONText.array(strings) }
}

/// A node attribute (AttributeProto).
enum ONNXAttribute {
    case int(String, Int64)
    case float(String, Float)
    case ints(String, [Int64])
}

/// The graph under construction: nodes in order, initializers (weights and
/// constants), the name of the tensor the last node produced and its layout.
struct ONNXGraphBuilder {
    /// The shape of `current` per example.
    enum Layout {
        /// `[N, features]`.
        case flat(Int)
        /// `[N, C, H, W]`.
        case image(ImageShape)

        var count: Int {
            switch self {
            case let .flat(n): return n
            case let .image(s): return s.count
            }
        }
    }

    private struct Node {
        var op: String
        var name: String
        var inputs: [String]
        var output: String
        var attributes: [ONNXAttribute]
    }
    private struct Initializer {
        var name: String
        var dims: [Int]
        /// TensorProto.DataType: 1 FLOAT, 7 INT64.
        var dataType: Int64
        /// The values, little-endian.
        var raw: [UInt8]
    }

    let path: String
    private var nodes: [Node] = []
    private var initializers: [Initializer] = []
    /// The tensor the next layer reads.
    var current: String
    /// Its shape per example.
    var layout: Layout

    /// A graph whose input `input` is `[N, width]`.
    init(path: String, input: String, width: Int) {
        self.path = path
        current = input
        layout = .flat(width)
    }

    /// Adds a float initializer and returns its name.
    mutating func constant(_ name: String, dims: [Int], values: [Float]) -> String {
        var raw = [UInt8]()
        raw.reserveCapacity(4 * values.count)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
        initializers.append(Initializer(name: name, dims: dims, dataType: 1, raw: raw))
        return name
    }

    /// Adds a 64-bit integer initializer and returns its name.
    mutating func constant(_ name: String, dims: [Int], values: [Int64]) -> String {
        var raw = [UInt8]()
        for v in values { withUnsafeBytes(of: v.littleEndian) { raw += $0 } }
        initializers.append(Initializer(name: name, dims: dims, dataType: 7, raw: raw))
        return name
    }

    /// Adds a model tensor as an initializer of `dims` and returns its name.
    /// - Throws: `DeepScratchError.badModel` if it is missing or its size differs.
    mutating func weights(_ t: NamedTensor, dims: [Int]) throws -> String {
        let expected = dims.reduce(1, *)
        guard t.values.count == expected else {
            throw DeepScratchError.badModel(path: path, reason: t.values.isEmpty
                ? "parameter \(t.name) is missing (not loaded)"
                : "parameter \(t.name) holds \(t.values.count) values, its layer needs \(dims.map(String.init).joined(separator: "×")) = \(expected)")
        }
        return constant(t.name, dims: dims, values: t.values)
    }

    /// Appends a node reading `inputs`; its output becomes `current`.
    mutating func node(_ op: String, _ inputs: [String], name: String? = nil, attributes: [ONNXAttribute] = []) {
        let nodeName = name ?? "\(op.lowercased())_\(nodes.count)"
        nodes.append(Node(op: op, name: nodeName, inputs: inputs, output: nodeName + "_out", attributes: attributes))
        current = nodeName + "_out"
    }

    /// Renames the last node's output (the graph output).
    mutating func rename(last name: String) {
        nodes[nodes.count - 1].output = name
        current = name
    }

    /// Makes `current` the image `[N, C, H, W]` of `shape`: a Reshape of a
    /// flat tensor (channel-major, so the values keep their order).
    /// - Throws: `DeepScratchError.badModel` if `current` is not `shape`'s size.
    mutating func image(_ shape: ImageShape, for layer: String) throws {
        guard layout.count == shape.count else {
            throw DeepScratchError.badModel(path: path, reason: "layer '\(layer)' takes \(shape) = \(shape.count) values per image, the previous layer gives \(layout.count)")
        }
        switch layout {
        case let .image(s) where s == shape:
            return
        default:
            let dims = constant("shape_\(nodes.count)", dims: [4],
                                values: [-1, Int64(shape.channels), Int64(shape.height), Int64(shape.width)])
            node("Reshape", [current, dims])
            layout = .image(shape)
        }
    }

    /// Makes `current` flat, `[N, count]` (Flatten from axis 1 of an image:
    /// NCHW order, which is ours).
    /// - Throws: `DeepScratchError.badModel` if `current` does not hold `count` values.
    mutating func flatten(expecting count: Int, for layer: String) throws {
        guard layout.count == count else {
            throw DeepScratchError.badModel(path: path, reason: "layer '\(layer)' takes \(count) values, the previous layer gives \(layout.count)")
        }
        if case .image = layout {
            node("Flatten", [current], attributes: [.int("axis", 1)])
            layout = .flat(count)
        }
    }

    /// Writes the GraphProto fields.
    func writeGraph(_ g: inout ProtobufWriter, inputs: Int, classes: Int) {
        for n in nodes {
            g.message(1) { p in                                       // GraphProto.node
                for i in n.inputs { p.string(1, i) }                  // NodeProto.input
                p.string(2, n.output)                                 // output
                p.string(3, n.name)                                   // name
                p.string(4, n.op)                                     // op_type
                for a in n.attributes {
                    p.message(5) { a2 in                              // attribute
                        switch a {
                        case let .int(name, v):
                            a2.string(1, name); a2.int(3, v); a2.int(20, 2)      // name, i, type INT
                        case let .float(name, v):
                            a2.string(1, name); a2.float(2, v); a2.int(20, 1)    // name, f, type FLOAT
                        case let .ints(name, vs):
                            a2.string(1, name)                                   // name
                            for v in vs { a2.int(8, v) }                         // ints (unpacked, proto2)
                            a2.int(20, 7)                                        // type INTS
                        }
                    }
                }
            }
        }
        g.string(2, "deepscratch")                                    // name
        for t in initializers {
            g.message(5) { p in                                       // initializer (TensorProto)
                for d in t.dims { p.int(1, Int64(d)) }                // dims
                p.int(2, t.dataType)                                  // data_type
                p.string(8, t.name)                                   // name
                p.bytes(9, t.raw)                                     // raw_data, little-endian
            }
        }
        func valueInfo(_ field: Int, _ name: String, _ width: Int) {
            g.message(field) { v in                                   // ValueInfoProto
                v.string(1, name)
                v.message(2) { t in                                   // type: TypeProto
                    t.message(1) { tt in                              // tensor_type
                        tt.int(1, 1)                                  // elem_type FLOAT
                        tt.message(2) { s in                          // shape
                            s.message(1) { d in d.string(2, "N") }    // dim_param N
                            s.message(1) { d in d.int(1, Int64(width)) }
                        }
                    }
                }
            }
        }
        valueInfo(11, ONNXExport.inputName, inputs)                   // input
        valueInfo(12, ONNXExport.outputName, classes)                 // output
    }
}
