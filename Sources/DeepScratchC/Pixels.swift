import DeepScratch
import DeepScratchImage

// Pixel buffers and what classification sees (since 1.2).

/// The picture a pixel buffer holds, or the status of why not (arguments
/// checked here; sizes, limits and the stride by `GrayImage`).
private func picture(_ pixels: UnsafeRawPointer?, _ width: Int, _ height: Int, _ stride: Int, _ format: Int32,
                     _ status: inout Int32) -> (() throws -> GrayImage)? {
    guard let pixels else { status = fail(.invalidArgument, "pixels is NULL"); return nil }
    guard let kind = PixelFormat(rawValue: format), kind != .grayAlpha8 else {
        status = fail(.invalidArgument, "format \(format) is not a ds_pixel_format (DS_PIXELS_GRAY8 1, RGB8 2, RGBA8 3, GRAY16 4)")
        return nil
    }
    guard let w = count(width), let h = count(height), w > 0, h > 0 else {
        status = fail(.invalidArgument, "the picture is \(UInt(bitPattern: width))x\(UInt(bitPattern: height)) pixels: a side is 0 or too large")
        return nil
    }
    let (rowBytes, wide) = w.multipliedReportingOverflow(by: kind.bytesPerPixel)
    guard let rowStride = count(stride), !wide, rowStride >= rowBytes else {
        status = fail(.invalidArgument, "stride_bytes \(UInt(bitPattern: stride)) is shorter than a row of \(w) pixels of \(kind.bytesPerPixel) bytes")
        return nil
    }
    // The last row's end, (h − 1)·stride + row, must be an address (GrayImage reads no further).
    let (span, far) = (h - 1).multipliedReportingOverflow(by: rowStride)
    guard !far, span <= Int.max - rowBytes else {
        status = fail(.invalidArgument, "\(h) rows \(rowStride) bytes apart span more bytes than an address can reach")
        return nil
    }
    return { try GrayImage(pixels: pixels, width: w, height: h, stride: rowStride, format: kind, name: "<pixels>") }
}

/// A picture in memory.
@c(ds_classify_pixels)
public func ds_classify_pixels(_ model: OpaquePointer?, _ pixels: UnsafeRawPointer?, _ width: Int, _ height: Int,
                               _ strideBytes: Int, _ format: Int32, _ probabilities: UnsafeMutablePointer<Float>?,
                               _ probabilityCount: Int, _ outClass: UnsafeMutablePointer<Int32>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    guard let decode = picture(pixels, width, height, strideBytes, format, &status) else { return status }
    return classify(handle, decode, name: "<pixels>", probabilities, probabilityCount, outClass)
}

/// Writes the model input a picture becomes (bytes / 255) to `out`.
private func preprocess(_ handle: ModelHandle, _ decode: () throws -> GrayImage, name: String,
                        _ out: UnsafeMutablePointer<Float>?, _ capacity: Int) -> Int32 {
    let m = handle.inference
    guard let out else { return fail(.invalidArgument, "out_input is NULL") }
    // A capacity past Int.max (size_t values the Int cannot hold) is more than enough.
    guard capacity < 0 || capacity >= m.inputSize else {
        return fail(.invalidArgument, "input_count \(capacity) is less than the model's \(m.inputSize) inputs")
    }
    do {
        let input = try m.preprocess(try decode(), name: name)
        for i in 0..<input.count { out[i] = Float(input[i]) / 255 }
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
}

/// The model input a PNG file becomes.
@c(ds_preprocess_png_file)
public func ds_preprocess_png_file(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                   _ out: UnsafeMutablePointer<Float>?, _ inputCount: Int) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    guard let path else { return fail(.invalidArgument, "path is NULL") }
    let name = String(cString: path)
    return preprocess(handle, { try PNG.read(path: name) }, name: name, out, inputCount)
}

/// The model input PNG bytes become.
@c(ds_preprocess_png_memory)
public func ds_preprocess_png_memory(_ model: OpaquePointer?, _ data: UnsafeRawPointer?, _ size: Int,
                                     _ out: UnsafeMutablePointer<Float>?, _ inputCount: Int) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    guard let data else { return fail(.invalidArgument, "data is NULL") }
    guard let n = count(size) else { return fail(.invalidArgument, "size \(UInt(bitPattern: size)) is too large") }
    return preprocess(handle, { try PNG.decode(UnsafeRawBufferPointer(start: data, count: n), name: "<memory>") },
                      name: "<memory>", out, inputCount)
}

/// The model input a picture in memory becomes.
@c(ds_preprocess_pixels)
public func ds_preprocess_pixels(_ model: OpaquePointer?, _ pixels: UnsafeRawPointer?, _ width: Int, _ height: Int,
                                 _ strideBytes: Int, _ format: Int32, _ out: UnsafeMutablePointer<Float>?,
                                 _ inputCount: Int) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    guard let decode = picture(pixels, width, height, strideBytes, format, &status) else { return status }
    return preprocess(handle, decode, name: "<pixels>", out, inputCount)
}

/// Many PNG files, across the library's threads.
@c(ds_classify_png_files)
public func ds_classify_png_files(_ model: OpaquePointer?, _ paths: UnsafePointer<UnsafePointer<CChar>?>?, _ fileCount: Int,
                                  _ probabilities: UnsafeMutablePointer<Float>?, _ probabilityCount: Int,
                                  _ outClasses: UnsafeMutablePointer<Int32>?, _ outStatuses: UnsafeMutablePointer<Int32>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    let classes = handle.inference.classCount
    guard let n = count(fileCount), n <= Int(Int32.max) else {
        return fail(.invalidArgument, "count \(UInt(bitPattern: fileCount)) is too large")
    }
    if n == 0 { return status }
    guard let paths else { return fail(.invalidArgument, "paths is NULL") }
    guard let outClasses else { return fail(.invalidArgument, "out_classes is NULL") }
    if let i = (0..<n).first(where: { paths[$0] == nil }) { return fail(.invalidArgument, "paths[\(i)] is NULL") }
    if probabilities != nil {
        let (needed, overflow) = n.multipliedReportingOverflow(by: classes)
        guard !overflow, probabilityCount < 0 || probabilityCount >= needed else {
            return fail(.invalidArgument, "probability_count \(UInt(bitPattern: probabilityCount)) is less than the \(n) x \(classes) values needed")
        }
    }
    // Each file's answer, then its error text; the calling thread reports the first failure.
    let statuses = UnsafeMutablePointer<Int32>.allocate(capacity: n)
    let messages = UnsafeMutablePointer<String?>.allocate(capacity: n)
    messages.initialize(repeating: nil, count: n)
    defer { statuses.deallocate(); messages.deinitialize(count: n); messages.deallocate() }
    Parallelism.forEachItem(n) { i in
        let name = String(cString: paths[i]!)
        var k: Int32 = -1
        statuses[i] = classify(handle, { try PNG.read(path: name) }, name: name,
                               probabilities.map { $0 + i * classes }, classes, &k)
        outClasses[i] = statuses[i] == Status.ok.rawValue ? k : -1
        if statuses[i] != Status.ok.rawValue { messages[i] = String(cString: ds_last_error()) }
    }
    outStatuses?.update(from: statuses, count: n)
    guard let first = (0..<n).first(where: { statuses[$0] != Status.ok.rawValue }) else { return status }
    let failures = (0..<n).filter { statuses[$0] != Status.ok.rawValue }.count
    return fail(Status(rawValue: statuses[first]) ?? .internalError,
                "\(messages[first] ?? "file \(first) failed")" + (failures > 1 ? " (and \(failures - 1) more of the \(n) files)" : ""))
}
