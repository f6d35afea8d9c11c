/// Export of a model to ONNX (https://onnx.ai), written by our own
/// protobuf encoder (`ProtobufWriter`).
///
/// The graph takes `pixels`, float `[N, inputs]` in [0, 1] (0 background,
/// 1 ink: the C ABI's convention), standardizes it as the model does
/// (`x = (p − mean) · (1/std)`), runs the layers and returns
/// `probabilities`, float `[N, classes]` (Softmax over axis 1).
///
/// Each entry of the model's layer list (`dense 784 512`, `relu`, …,
/// `softmax`) is turned into nodes by the emitter for its first word
/// (`ONNXExport.emitters`); a new layer kind is exported by adding its
/// emitter there.
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
    /// - Throws: `DeepScratchError.badModel` if a layer has no ONNX form or
    ///   a parameter is missing.
    public static func serialize(_ model: Model, path: String = "<model>") throws -> [UInt8] {
        var graph = ONNXGraphBuilder(model: model, path: path)
        let inputs = model.inputShape.reduce(1, *)
        graph.current = inputName
        // x = (p − mean) · (1/std), the same two float operations as InferenceModel.
        let mean = graph.constant("input_mean", dims: [], values: [Float(model.standardization.mean)])
        let inverseStd = graph.constant("input_inverse_std", dims: [], values: [Float(1 / model.standardization.std)])
        graph.node("Sub", [graph.current, mean], name: "standardize_sub")
        graph.node("Mul", [graph.current, inverseStd], name: "standardize_mul")
        for layer in model.layerList {
            let words = layer.split(separator: " ").map(String.init)
            guard let kind = words.first, let emit = emitters[kind] else {
                throw DeepScratchError.badModel(path: path, reason: "layer '\(layer)' has no ONNX export")
            }
            try emit(&graph, words)
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

    /// The emitters, by the first word of a layer-list entry.
    static let emitters: [String: @Sendable (inout ONNXGraphBuilder, [String]) throws -> Void] = [
        // Zᵀ = Aᵀ·Wᵀ + b: Gemm with W stored [out, in] and transB = 1.
        "dense": { g, words in
            let (W, b) = try g.nextDense(words)
            g.node("Gemm", [g.current, W, b], attributes: [.int("transB", 1)])
        },
        "relu": { g, _ in g.node("Relu", [g.current]) },
        "leaky-relu": { g, _ in g.node("LeakyRelu", [g.current], attributes: [.float("alpha", 0.01)]) },
        "tanh": { g, _ in g.node("Tanh", [g.current]) },
        "sigmoid": { g, _ in g.node("Sigmoid", [g.current]) },
        "softmax": { g, _ in g.node("Softmax", [g.current], attributes: [.int("axis", 1)]) },
    ]

    /// `["a", "b"]` with JSON string escapes.
    static func jsonArray(_ strings: [String]) -> String {
        "[" + strings.map { s in
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default:
                    if u.value < 0x20 {
                        let hex = Array("0123456789abcdef")
                        out += "\\u00" + String(hex[Int(u.value >> 4)]) + String(hex[Int(u.value & 15)])
                    } else {
                        out.unicodeScalars.append(u)
                    }
                }
            }
            return out + "\""
        }.joined(separator: ",") + "]"
    }
}

/// A node attribute (AttributeProto).
enum ONNXAttribute {
    case int(String, Int64)
    case float(String, Float)
}

/// The graph under construction: nodes in order, initializers (weights and
/// constants), and the name of the tensor the last node produced.
struct ONNXGraphBuilder {
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
        var values: [Float]
    }

    let model: Model
    let path: String
    private var nodes: [Node] = []
    private var initializers: [Initializer] = []
    /// The parameters not yet used by a layer, in file order.
    private var parameterCursor = 0
    private var denseCount = 0
    /// The tensor the next layer reads.
    var current = ""

    init(model: Model, path: String) {
        self.model = model
        self.path = path
    }

    /// Adds a float initializer and returns its name.
    mutating func constant(_ name: String, dims: [Int], values: [Float]) -> String {
        initializers.append(Initializer(name: name, dims: dims, values: values))
        return name
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

    /// The next weight matrix and bias as initializers, checked against
    /// `dense IN OUT`.
    mutating func nextDense(_ words: [String]) throws -> (W: String, b: String) {
        let params = model.parameters
        guard words.count == 3, let fanIn = Int(words[1]), let fanOut = Int(words[2]) else {
            throw DeepScratchError.badModel(path: path, reason: "layer '\(words.joined(separator: " "))' is not 'dense IN OUT'")
        }
        guard parameterCursor + 2 <= params.count else {
            throw DeepScratchError.badModel(path: path, reason: "no parameters loaded for layer '\(words.joined(separator: " "))'")
        }
        let W = params[parameterCursor], b = params[parameterCursor + 1]
        guard W.values.count == fanOut * fanIn, b.values.count == fanOut else {
            throw DeepScratchError.badModel(path: path, reason: "\(W.name) and \(b.name) do not fit 'dense \(fanIn) \(fanOut)'")
        }
        parameterCursor += 2
        denseCount += 1
        return (constant(W.name, dims: [fanOut, fanIn], values: W.values), constant(b.name, dims: [fanOut], values: b.values))
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
                        }
                    }
                }
            }
        }
        g.string(2, "deepscratch")                                    // name
        for t in initializers {
            g.message(5) { p in                                       // initializer (TensorProto)
                for d in t.dims { p.int(1, Int64(d)) }                // dims
                p.int(2, 1)                                           // data_type FLOAT
                p.string(8, t.name)                                   // name
                var raw = [UInt8]()
                raw.reserveCapacity(4 * t.values.count)
                for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
                p.bytes(9, raw)                                       // raw_data, little-endian
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
