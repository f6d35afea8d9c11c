import DeepScratch

/// Checks the probabilities buffer of a call producing `needed` values.
private func checkProbabilities(_ p: UnsafeMutablePointer<Float>?, _ capacity: Int, _ needed: Int) -> Int32? {
    guard p != nil else { return nil }
    // A capacity past Int.max (size_t values the Int cannot hold) is more than enough.
    let cap = capacity < 0 ? Int.max : capacity
    guard cap >= needed else {
        return fail(.invalidArgument, "probability_count \(UInt(bitPattern: capacity)) is less than the \(needed) values needed")
    }
    return nil
}

/// Writes the argmax of `p` (n values) to `out`.
@inline(__always)
private func argmax(_ p: UnsafePointer<Float>, _ n: Int) -> Int32 {
    var best = 0
    for k in 1..<max(1, n) where p[k] > p[best] { best = k }
    return Int32(best)
}

/// Runs `body` with a buffer of `n` floats: the caller's, or a temporary one.
private func withProbabilities<R>(_ caller: UnsafeMutablePointer<Float>?, _ n: Int,
                                  _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    if let caller { return try body(caller) }
    return try withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { try body($0.baseAddress!) }
}

/// One image of floats.
@c(ds_classify)
public func ds_classify(_ model: OpaquePointer?, _ pixels: UnsafePointer<Float>?, _ pixelCount: Int,
                        _ probabilities: UnsafeMutablePointer<Float>?, _ probabilityCount: Int,
                        _ outClass: UnsafeMutablePointer<Int32>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    let m = handle.inference
    guard let pixels else { return fail(.invalidArgument, "pixels is NULL") }
    guard pixelCount == m.inputSize else {
        return fail(.invalidArgument, "pixel_count is \(UInt(bitPattern: pixelCount)), the model takes \(m.inputSize)")
    }
    guard let outClass else { return fail(.invalidArgument, "out_class is NULL") }
    if let error = checkProbabilities(probabilities, probabilityCount, m.classCount) { return error }
    withProbabilities(probabilities, m.classCount) { p in
        m.probabilities(pixels: pixels, into: p)
        outClass.pointee = argmax(p, m.classCount)
    }
    return status
}

/// Many images of floats.
@c(ds_classify_batch)
public func ds_classify_batch(_ model: OpaquePointer?, _ pixels: UnsafePointer<Float>?, _ imageCount: Int,
                              _ pixelsPerImage: Int, _ probabilities: UnsafeMutablePointer<Float>?,
                              _ probabilityCount: Int, _ outClasses: UnsafeMutablePointer<Int32>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    let m = handle.inference
    guard let images = count(imageCount), images <= Int(Int32.max) else {
        return fail(.invalidArgument, "image_count \(UInt(bitPattern: imageCount)) is too large")
    }
    guard pixelsPerImage == m.inputSize else {
        return fail(.invalidArgument, "pixels_per_image is \(UInt(bitPattern: pixelsPerImage)), the model takes \(m.inputSize)")
    }
    if images == 0 { return status }
    guard let pixels else { return fail(.invalidArgument, "pixels is NULL") }
    guard probabilities != nil || outClasses != nil else {
        return fail(.invalidArgument, "probabilities and out_classes are both NULL: nothing to return")
    }
    let (needed, overflow) = images.multipliedReportingOverflow(by: m.classCount)
    guard !overflow else { return fail(.invalidArgument, "image_count \(images) is too large") }
    if let error = checkProbabilities(probabilities, probabilityCount, needed) { return error }
    let run = { (first: Int, count: Int, p: UnsafeMutablePointer<Float>) in
        m.probabilities(batch: pixels + first * m.inputSize, count: count, into: p)
        if let outClasses {
            for i in 0..<count { outClasses[first + i] = argmax(p + i * m.classCount, m.classCount) }
        }
    }
    if let probabilities {
        run(0, images, probabilities)
    } else {
        // Classes only: 4,096 images at a time (16 blocks of 256), so the
        // temporary buffer does not grow with image_count (2^31 images of
        // 2^20 classes would ask for 2^51 floats).
        let slice = min(images, 4096)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: slice * m.classCount)
        defer { buffer.deallocate() }
        for first in stride(from: 0, to: images, by: slice) { run(first, min(slice, images - first), buffer) }
    }
    return status
}

/// Classifies a decoded picture.
private func classify(_ handle: ModelHandle, _ decode: () throws -> GrayImage, name: String,
                      _ probabilities: UnsafeMutablePointer<Float>?, _ probabilityCount: Int,
                      _ outClass: UnsafeMutablePointer<Int32>?) -> Int32 {
    let m = handle.inference
    guard let outClass else { return fail(.invalidArgument, "out_class is NULL") }
    if let error = checkProbabilities(probabilities, probabilityCount, m.classCount) { return error }
    do {
        let input = try m.preprocess(try decode(), name: name)
        withProbabilities(probabilities, m.classCount) { p in
            m.probabilities(bytes: input, into: p)
            outClass.pointee = argmax(p, m.classCount)
        }
        return Status.ok.rawValue
    } catch {
        return fail(error)
    }
}

/// A PNG file.
@c(ds_classify_png_file)
public func ds_classify_png_file(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                 _ probabilities: UnsafeMutablePointer<Float>?, _ probabilityCount: Int,
                                 _ outClass: UnsafeMutablePointer<Int32>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    guard let path else { return fail(.invalidArgument, "path is NULL") }
    let name = String(cString: path)
    return classify(handle, { try PNG.read(path: name) }, name: name, probabilities, probabilityCount, outClass)
}

/// PNG bytes in memory.
@c(ds_classify_png_memory)
public func ds_classify_png_memory(_ model: OpaquePointer?, _ data: UnsafeRawPointer?, _ size: Int,
                                   _ probabilities: UnsafeMutablePointer<Float>?, _ probabilityCount: Int,
                                   _ outClass: UnsafeMutablePointer<Int32>?) -> Int32 {
    var status = Status.ok.rawValue
    guard let handle = lookup(model, &status) else { return status }
    guard let data else { return fail(.invalidArgument, "data is NULL") }
    guard let n = count(size) else { return fail(.invalidArgument, "size \(UInt(bitPattern: size)) is too large") }
    return classify(handle, { try PNG.decode(UnsafeRawBufferPointer(start: data, count: n), name: "<memory>") },
                    name: "<memory>", probabilities, probabilityCount, outClass)
}
