import DeepScratch
import Glibc

/// Loads the model file at `path` (the default options).
@c(ds_model_load)
public func ds_model_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    ds_model_load_with_options(path, nil, out)
}

/// Loads a model from `size` bytes at `data` (the default options).
@c(ds_model_load_memory)
public func ds_model_load_memory(_ data: UnsafeRawPointer?, _ size: Int, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    ds_model_load_memory_with_options(data, size, nil, out)
}

/// Frees a model (NULL is fine).
@c(ds_model_free)
public func ds_model_free(_ model: OpaquePointer?) -> Int32 {
    guard let model else { return Status.ok.rawValue }
    guard unregister(model) else {
        return fail(.invalidArgument, "model \(UnsafeRawPointer(model)) is not a loaded model (freed twice, or not from ds_model_load)")
    }
    return Status.ok.rawValue
}

/// Writes one number about a live model to `out`.
private func answer(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?, _ name: String,
                    _ value: (InferenceModel) -> Int) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    guard let out else { return fail(.invalidArgument, "\(name) is NULL") }
    out.pointee = value(handle.inference)
    return status
}

/// The number of input values of one image.
@c(ds_model_input_size)
public func ds_model_input_size(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> Int32 {
    answer(model, out, "out_size") { $0.inputSize }
}

/// The number of classes.
@c(ds_model_class_count)
public func ds_model_class_count(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> Int32 {
    answer(model, out, "out_count") { $0.classCount }
}

/// The model's input image: height, width, channels (any pointer may be NULL).
@c(ds_model_input_shape)
public func ds_model_input_shape(_ model: OpaquePointer?, _ height: UnsafeMutablePointer<Int>?,
                                 _ width: UnsafeMutablePointer<Int>?, _ channels: UnsafeMutablePointer<Int>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    // Three values, each 1...2^16: a loaded model's model.input_shape.
    let shape = handle.inference.model.inputShape
    height?.pointee = shape[0]
    width?.pointee = shape[1]
    channels?.pointee = shape[2]
    return status
}

/// Copies a NUL-terminated `text` into (`buffer`, `capacity`), truncating,
/// and reports its length without the NUL.
func copyString(_ text: [CChar], _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                _ outLength: UnsafeMutablePointer<Int>?) -> Int32 {
    // A capacity past Int.max (size_t values the Int cannot hold) is more than enough.
    let cap = capacity < 0 ? Int.max : capacity
    let length = text.count - 1
    if cap > 0 {
        guard let buffer else { return fail(.invalidArgument, "buffer is NULL but capacity is \(cap)") }
        let n = min(length, cap - 1)
        text.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: n) }
        buffer[n] = 0
    }
    outLength?.pointee = length
    return Status.ok.rawValue
}

/// The label of class `index`.
@c(ds_model_label)
public func ds_model_label(_ model: OpaquePointer?, _ index: Int, _ buffer: UnsafeMutablePointer<CChar>?,
                           _ capacity: Int, _ outLength: UnsafeMutablePointer<Int>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    guard index >= 0, index < handle.labels.count else {
        return fail(.invalidArgument, "class index \(UInt(bitPattern: index)) is out of range (the model has \(handle.labels.count) classes)")
    }
    return copyString(handle.labels[index], buffer, capacity, outLength)
}

/// The model's metadata as JSON.
@c(ds_model_metadata)
public func ds_model_metadata(_ model: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?,
                              _ capacity: Int, _ outLength: UnsafeMutablePointer<Int>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    return copyString(handle.metadata, buffer, capacity, outLength)
}
