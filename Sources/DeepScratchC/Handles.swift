import DeepScratch

/// What a `ds_model *` points to.
final class ModelHandle: Sendable {
    let inference: InferenceModel
    /// `model.classes` as C strings and the metadata JSON, made once.
    let labels: [[CChar]]
    let metadata: [CChar]

    init(_ inference: InferenceModel) {
        self.inference = inference
        labels = inference.model.classes.map { Array($0.utf8CString) }
        metadata = Array(MetadataJSON.render(inference.model).utf8CString)
    }
}

/// The live handles. A `ds_model *` is a number handed out once and never
/// again (so a freed handle cannot come back as another model), valid
/// exactly while it is a key here; a call takes a strong reference under
/// the lock, so a model freed by another thread meanwhile stays alive until
/// that call ends.
private struct Registry {
    /// The next handle: multiples of 16 from 16, never 0, never reused.
    var next: UInt = 16
    var handles: [UInt: ModelHandle] = [:]
}
/// The registry and its lock (a fork in another thread cannot leave it held).
private let registryLock = ForkSafeLock()
nonisolated(unsafe) private var registryState = Registry()

/// Runs `body` on the registry with its lock held.
private func withRegistry<R>(_ body: (inout Registry) -> R) -> R {
    registryLock.withLock { body(&registryState) }
}

/// Registers a new model and returns its handle.
func register(_ handle: ModelHandle) -> OpaquePointer {
    let key = withRegistry { r -> UInt in
        let key = r.next
        r.next &+= 16
        r.handles[key] = handle
        return key
    }
    // Never 0: keys start at 16 and would wrap only after 2^60 loads.
    return OpaquePointer(bitPattern: key)!
}

/// The model a handle names, or nil (with the error recorded) if the
/// pointer is NULL or not a live model.
func lookup(_ pointer: OpaquePointer?, _ status: inout Int32) -> ModelHandle? {
    guard let pointer else {
        status = fail(.invalidArgument, "model is NULL")
        return nil
    }
    let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(pointer)))
    guard let handle = withRegistry({ $0.handles[key] }) else {
        status = fail(.invalidArgument, "model \(UnsafeRawPointer(pointer)) is not a loaded model (freed, or not from ds_model_load)")
        return nil
    }
    return handle
}

/// Removes a handle; false if it was not live.
func unregister(_ pointer: OpaquePointer) -> Bool {
    let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(pointer)))
    return withRegistry { $0.handles.removeValue(forKey: key) != nil }
}

/// The model's metadata as JSON, written without Foundation.
enum MetadataJSON {
    static func render(_ m: Model) -> String {
        var fields: [String] = []
        fields.append("\"layers\": [" + m.layerList.map(quote).joined(separator: ", ") + "]")
        fields.append("\"input_shape\": [" + m.inputShape.map(String.init).joined(separator: ", ") + "]")
        fields.append("\"classes\": [" + m.classes.map(quote).joined(separator: ", ") + "]")
        fields.append("\"input\": {\"mean\": \(number(m.standardization.mean)), \"std\": \(number(m.standardization.std)), \"polarity\": \(quote(m.polarity.rawValue))}")
        fields.append("\"precision\": \(quote(m.precision.rawValue))")
        fields.append("\"parameter_count\": \(m.architecture.parameterCount)")
        var meta: [String] = []
        for (key, value) in m.metadata where !key.hasPrefix("checkpoint.") && !key.hasPrefix("train.config.") {
            meta.append("\(quote(key)): \(json(value))")
        }
        fields.append("\"metadata\": {" + meta.joined(separator: ", ") + "}")
        return "{" + fields.joined(separator: ", ") + "}"
    }

    static func json(_ v: MetaValue) -> String {
        switch v {
        case let .int(x): return "\(x)"
        case let .double(x): return number(x)
        case let .string(x): return quote(x)
        case let .ints(x): return "[" + x.map { "\($0)" }.joined(separator: ", ") + "]"
        case let .doubles(x): return "[" + x.map(number).joined(separator: ", ") + "]"
        case let .strings(x): return "[" + x.map(quote).joined(separator: ", ") + "]"
        }
    }

    /// JSON has no NaN or infinity: those become null.
    static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }

    static func quote(_ s: String) -> String { JSONText.quote(s) }
}
