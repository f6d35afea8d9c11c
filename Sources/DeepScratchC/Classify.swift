import DeepScratch
import DeepScratchImage

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

/// The index of the first value of `pixels` (`count` floats) that is NaN
/// or infinite, or nil when all are finite.
private func firstNonFinite(_ pixels: UnsafePointer<Float>, _ count: Int) -> Int? {
    // 0·x is 0 for every finite x and NaN for NaN and ±∞, and NaN survives a sum:
    // one vectorized pass finds whether there is any, a second one where.
    var acc = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= count {
        acc += UnsafeRawPointer(pixels + i).loadUnaligned(as: SIMD16<Float>.self) * 0
        i += 16
    }
    var tail: Float = 0
    while i < count { tail += pixels[i] * 0; i += 1 }
    guard acc.sum() + tail != 0 else { return nil }
    return (0..<count).first { !pixels[$0].isFinite }
}

/// The error for a non-finite pixel value at `index` of the input
/// (`perImage` values per image; nil for a single image).
private func nonFinite(_ pixels: UnsafePointer<Float>, _ index: Int, perImage: Int?) -> Int32 {
    let place: String
    if let perImage {
        let (image, pixel) = index.quotientAndRemainder(dividingBy: max(1, perImage))
        place = "pixel \(pixel) of image \(image)"
    } else {
        place = "pixel \(index)"
    }
    return fail(.invalidArgument, "\(place) is \(pixels[index]); pixel values must be finite (0 background, 1 ink)")
}

/// The error for an image whose class probabilities came out NaN or infinite.
private func nonFiniteOutput(image: Int?) -> Int32 {
    fail(.invalidArgument, "the network's output for \(image.map { "image \($0)" } ?? "the image") is not finite: "
         + "pixel values far outside [0, 1], or a model whose weights overflow")
}

/// Computes one image's `n` class probabilities into a buffer of the
/// library's, then, if they are finite, copies them to `caller` (when not
/// NULL) and the most probable class to `outClass`; otherwise fails and
/// leaves both unchanged.
private func deliver(_ n: Int, to caller: UnsafeMutablePointer<Float>?, _ outClass: UnsafeMutablePointer<Int32>,
                     _ compute: (UnsafeMutablePointer<Float>) -> Void) -> Int32 {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { buffer in
        let p = buffer.baseAddress!
        compute(p)
        guard firstNonFinite(p, n) == nil else { return nonFiniteOutput(image: nil) }
        caller?.update(from: p, count: n)
        outClass.pointee = argmax(p, n)
        return Status.ok.rawValue
    }
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
    if let bad = firstNonFinite(pixels, pixelCount) { return nonFinite(pixels, bad, perImage: nil) }
    return deliver(m.classCount, to: probabilities, outClass) { m.probabilities(pixels: pixels, into: $0) }
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
    let (values, tooMany) = images.multipliedReportingOverflow(by: m.inputSize)
    guard !tooMany else { return fail(.invalidArgument, "image_count \(images) is too large") }
    if let bad = firstNonFinite(pixels, values) { return nonFinite(pixels, bad, perImage: m.inputSize) }
    let run = { (first: Int, count: Int, p: UnsafeMutablePointer<Float>) -> Int32 in
        m.probabilities(batch: pixels + first * m.inputSize, count: count, into: p)
        if let bad = firstNonFinite(p, count * m.classCount) { return nonFiniteOutput(image: first + bad / m.classCount) }
        if let outClasses {
            for i in 0..<count { outClasses[first + i] = argmax(p + i * m.classCount, m.classCount) }
        }
        return status
    }
    if let probabilities { return run(0, images, probabilities) }
    // Classes only: 4,096 images at a time (16 blocks of 256), so the
    // temporary buffer does not grow with image_count (2^31 images of
    // 2^20 classes would ask for 2^51 floats).
    let slice = min(images, 4096)
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: slice * m.classCount)
    defer { buffer.deallocate() }
    for first in stride(from: 0, to: images, by: slice) {
        let result = run(first, min(slice, images - first), buffer)
        if result != status { return result }
    }
    return status
}

/// Classifies a decoded picture.
func classify(_ handle: ModelHandle, _ decode: () throws -> GrayImage, name: String,
                      _ probabilities: UnsafeMutablePointer<Float>?, _ probabilityCount: Int,
                      _ outClass: UnsafeMutablePointer<Int32>?) -> Int32 {
    let m = handle.inference
    guard let outClass else { return fail(.invalidArgument, "out_class is NULL") }
    if let error = checkProbabilities(probabilities, probabilityCount, m.classCount) { return error }
    do {
        let input = try m.preprocess(try decode(), name: name)
        return deliver(m.classCount, to: probabilities, outClass) { m.probabilities(bytes: input, into: $0) }
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
