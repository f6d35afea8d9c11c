import DeepScratch

// Load options (since 1.2): a struct versioned by its size, as deepscratch.h says.

/// `ds_load_options` as this library knows it (the header's layout).
struct LoadOptions {
    var structSize: Int
    var threads: Int
    var maxModelBytes: Int
}

/// Bytes of the fields this library knows.
private let knownSize = MemoryLayout<LoadOptions>.size

/// Fills `options` with the defaults.
@c(ds_load_options_default)
public func ds_load_options_default(_ options: UnsafeMutableRawPointer?) -> Int32 {
    guard let options else { return fail(.invalidArgument, "options is NULL") }
    options.storeBytes(of: LoadOptions(structSize: knownSize, threads: 0, maxModelBytes: 0), as: LoadOptions.self)
    return Status.ok.rawValue
}

/// The options a caller passed (NULL: the defaults): the fields its
/// `struct_size` covers, the others at their defaults; nil (with the error
/// recorded) for a size too small to hold `struct_size` or an unknown field
/// that is not zero.
private func readOptions(_ raw: UnsafeRawPointer?, _ status: inout Int32) -> LoadOptions? {
    var options = LoadOptions(structSize: knownSize, threads: 0, maxModelBytes: 0)
    guard let raw else { return options }
    let word = MemoryLayout<Int>.size
    let size = raw.loadUnaligned(as: Int.self)
    guard size >= word, size % word == 0, size <= 4096 else {
        status = fail(.invalidArgument, "options->struct_size is \(UInt(bitPattern: size)), not the size of a ds_load_options (\(knownSize) in this library); fill it with ds_load_options_default")
        return nil
    }
    if size >= 2 * word { options.threads = raw.loadUnaligned(fromByteOffset: word, as: Int.self) }
    if size >= 3 * word { options.maxModelBytes = raw.loadUnaligned(fromByteOffset: 2 * word, as: Int.self) }
    for offset in stride(from: knownSize, to: size, by: word) where raw.loadUnaligned(fromByteOffset: offset, as: Int.self) != 0 {
        status = fail(.invalidArgument, "options sets a field at byte \(offset) that libdeepscratch \(DeepScratchVersion.string) does not know (its ds_load_options has \(knownSize) bytes): use a newer library, or leave that field 0")
        return nil
    }
    return options
}

/// Applies what must happen before a load; the byte limit (Int.max for none).
private func prepare(_ options: LoadOptions, _ status: inout Int32) -> Int? {
    if options.threads != 0 {
        let result = ds_set_threads(options.threads)
        guard result == Status.ok.rawValue else {
            status = fail(.invalidArgument, "options->threads is \(UInt(bitPattern: options.threads)), expected 0 (leave the setting) to 256")
            return nil
        }
    }
    guard let limit = count(options.maxModelBytes) else { return Int.max }  // past Int.max: no tighter bound
    return limit == 0 ? Int.max : limit
}

/// Loads the model file at `path` with options.
@c(ds_model_load_with_options)
public func ds_model_load_with_options(_ path: UnsafePointer<CChar>?, _ rawOptions: UnsafeRawPointer?,
                                       _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let path else { return fail(.invalidArgument, "path is NULL") }
    guard let out else { return fail(.invalidArgument, "out_model is NULL") }
    guard let options = readOptions(rawOptions, &status), let limit = prepare(options, &status) else { return status }
    do {
        let model = try InferenceModel(path: String(cString: path), maximumBytes: limit)
        out.pointee = register(ModelHandle(model))
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
}

/// Loads a model from `size` bytes at `data` with options.
@c(ds_model_load_memory_with_options)
public func ds_model_load_memory_with_options(_ data: UnsafeRawPointer?, _ size: Int, _ rawOptions: UnsafeRawPointer?,
                                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let data else { return fail(.invalidArgument, "data is NULL") }
    guard let out else { return fail(.invalidArgument, "out_model is NULL") }
    guard let n = count(size) else { return fail(.invalidArgument, "size \(UInt(bitPattern: size)) is too large") }
    guard let options = readOptions(rawOptions, &status), let limit = prepare(options, &status) else { return status }
    guard n <= limit else {
        return fail(.badModel, "<memory>: the model is \(n) bytes, more than options->max_model_bytes \(limit)")
    }
    do {
        let model = try InferenceModel(bytes: UnsafeRawBufferPointer(start: data, count: n), name: "<memory>")
        out.pointee = register(ModelHandle(model))
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
}
