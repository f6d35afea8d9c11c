import DeepScratch
import DeepScratchImage
@testable import DeepScratchC
import Foundation
import Glibc
import DeepScratchTestSupport
import XCTest

/// The 1.2 additions of the C ABI, called through their `@c` Swift
/// functions: pixel buffers classified as the PNG of the same pixels,
/// preprocessing that gives what classification sees, the input shape, the
/// minor version and size-versioned load options.
final class PixelsCABITests: XCTestCase {
    private var model: OpaquePointer!
    private let gray8: Int32 = 1, rgb8: Int32 = 2, rgba8: Int32 = 3, gray16: Int32 = 4

    override func setUpWithError() throws {
        var m: OpaquePointer?
        XCTAssertEqual(ds_model_load(CPaths.shippedModel, &m), DS.ok, lastError())
        model = try XCTUnwrap(m)
    }

    override func tearDown() { _ = ds_model_free(model) }

    private func lastError() -> String { String(cString: ds_last_error()) }

    /// Probabilities and class of a classify call, or its status.
    private func answer(_ call: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>) -> Int32,
                        file: StaticString = #filePath, line: UInt = #line) -> (p: [Float], k: Int32) {
        var p = [Float](repeating: -1, count: 10)
        var k: Int32 = -1
        XCTAssertEqual(call(&p, &k), DS.ok, lastError(), file: file, line: line)
        return (p, k)
    }

    /// A frame of `image`'s pixels as `format` (gray values repeated in R, G, B; alpha as is), rows `pad` bytes apart beyond the row.
    private func frame(_ image: GrayImage, _ format: Int32, pad: Int) -> (bytes: [UInt8], stride: Int) {
        let bpp = [1: 1, 2: 3, 3: 4, 4: 2][Int(format)]!
        let stride = image.width * bpp + pad
        var bytes = [UInt8](repeating: 0xAB, count: stride * image.height)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let (g, a, o) = (image.gray[y * image.width + x], image.alpha[y * image.width + x], y * stride + x * bpp)
                switch format {
                case gray8: bytes[o] = g
                case rgb8: (bytes[o], bytes[o + 1], bytes[o + 2]) = (g, g, g)
                case rgba8: (bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]) = (g, g, g, a)
                default:
                    let v = UInt16(g) * 257
                    withUnsafeBytes(of: v) { bytes[o] = $0[0]; bytes[o + 1] = $0[1] }
                }
            }
        }
        return (bytes, stride)
    }

    func testEveryPixelFormatClassifiesAsThePNGOfTheSamePixels() throws {
        for digit in try CPaths.digitPNGs() {
            let png = answer { ds_classify_png_file(model, digit.path, $0, 10, $1) }
            XCTAssertEqual(Int(png.k), digit.label, digit.path)
            // The fixtures are RGBA; their gray + alpha, as the PNG path sees them.
            let image = try PNG.read(path: digit.path)
            for format in [gray8, rgb8, rgba8, gray16] {
                let opaque = format != rgba8 && image.hasTransparency
                guard !opaque else { continue }
                for pad in [0, 3] {
                    let (bytes, stride) = frame(image, format, pad: pad)
                    let got = answer { p, k in ds_classify_pixels(model, bytes, image.width, image.height, stride, format, p, 10, k) }
                    XCTAssertEqual(got.k, png.k, "\(digit.path) format \(format) pad \(pad)")
                    XCTAssertEqual(got.p, png.p, "\(digit.path) format \(format) pad \(pad): the same input, the same probabilities")
                }
            }
        }
    }

    func testACameraLikeColorFrameClassifiesAsItsPNGInEitherPolarityAndAnySize() throws {
        let digits = try CPaths.digitPNGs()
        var checked = 0
        for (n, digit) in digits.enumerated() {
            // What the library sees, scaled into a color frame: a tinted, uneven background, ink of another hue.
            var input = [Float](repeating: 0, count: 784)
            XCTAssertEqual(ds_preprocess_png_file(model, digit.path, &input, 784), DS.ok, lastError())
            let scale = 2 + n % 4, margin = 5 + n % 7
            let (w, h) = (28 * scale + 2 * margin + n % 3, 28 * scale + 2 * margin)
            for darkInk in [true, false] {
                var rgb = [UInt8](repeating: 0, count: w * h * 3)
                for y in 0..<h {
                    for x in 0..<w {
                        let (sx, sy) = ((x - margin) / scale, (y - margin) / scale)
                        let ink = (0..<28).contains(sx) && (0..<28).contains(sy) && x >= margin && y >= margin
                            ? Double(input[sy * 28 + sx]) : 0
                        let light = 0.78 + 0.12 * Double(x + y) / Double(w + h)  // paper, brighter to one corner
                        let level = darkInk ? light * (1 - 0.85 * ink) : 0.12 + 0.8 * ink
                        let o = (y * w + x) * 3
                        rgb[o] = UInt8(255 * min(1, level * 1.04))
                        rgb[o + 1] = UInt8(255 * min(1, level * 0.98))
                        rgb[o + 2] = UInt8(255 * min(1, level * (darkInk ? 0.86 : 1.1)))
                    }
                }
                let encoded = PNG.encodeRGB(width: w, height: h, pixels: rgb)
                let png = answer { p, k in encoded.withUnsafeBytes { ds_classify_png_memory(model, $0.baseAddress, $0.count, p, 10, k) } }
                let pixels = answer { p, k in ds_classify_pixels(model, rgb, w, h, 3 * w, rgb8, p, 10, k) }
                XCTAssertEqual(pixels.p, png.p, "\(digit.path) \(w)x\(h) dark ink \(darkInk)")
                XCTAssertEqual(Int(pixels.k), digit.label, "\(digit.path) \(w)x\(h) dark ink \(darkInk)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 2 * digits.count)
    }

    func testPreprocessingGivesWhatClassificationSees() throws {
        for digit in try CPaths.digitPNGs().prefix(10) {
            var input = [Float](repeating: -1, count: 784)
            XCTAssertEqual(ds_preprocess_png_file(model, digit.path, &input, 784), DS.ok, lastError())
            XCTAssertTrue(input.allSatisfy { (0...1).contains($0) })
            let expected = try InferenceModel(path: CPaths.shippedModel).preprocess(try PNG.read(path: digit.path), name: digit.path)
            XCTAssertEqual(input, expected.map { Float($0) / 255 }, digit.path)
            let viaFloats = answer { ds_classify(model, input, 784, $0, 10, $1) }
            let viaPNG = answer { ds_classify_png_file(model, digit.path, $0, 10, $1) }
            XCTAssertEqual(viaFloats.p, viaPNG.p, digit.path)

            let bytes = try readAll(digit.path)
            var fromMemory = [Float](repeating: -1, count: 784)
            XCTAssertEqual(bytes.withUnsafeBytes { ds_preprocess_png_memory(model, $0.baseAddress, $0.count, &fromMemory, 784) }, DS.ok)
            XCTAssertEqual(fromMemory, input)
            let image = try PNG.read(path: digit.path)
            let (rgba, stride) = frame(image, rgba8, pad: 1)
            var fromPixels = [Float](repeating: -1, count: 784)
            XCTAssertEqual(ds_preprocess_pixels(model, rgba, image.width, image.height, stride, rgba8, &fromPixels, 784), DS.ok)
            XCTAssertEqual(fromPixels, input)
        }
    }

    func testBadPixelArgumentsFailWithAStatusAndLeaveTheOutputsAlone() throws {
        let bytes = [UInt8](repeating: 200, count: 64 * 64 * 4)
        var p = [Float](repeating: 7, count: 10)
        var k: Int32 = 42
        func check(_ status: Int32, _ expected: Int32, _ words: String, line: UInt = #line) {
            XCTAssertEqual(status, expected, "\(DS.name(status)): \(lastError())", line: line)
            XCTAssertTrue(lastError().contains(words), "'\(lastError())' lacks '\(words)'", line: line)
            XCTAssertEqual(p, [Float](repeating: 7, count: 10), line: line)
            XCTAssertEqual(k, 42, line: line)
        }
        check(ds_classify_pixels(model, nil, 8, 8, 8, gray8, &p, 10, &k), DS.invalidArgument, "pixels is NULL")
        check(ds_classify_pixels(model, bytes, 0, 8, 8, gray8, &p, 10, &k), DS.invalidArgument, "0x8")
        check(ds_classify_pixels(model, bytes, 8, -1, 8, gray8, &p, 10, &k), DS.invalidArgument, "too large")
        check(ds_classify_pixels(model, bytes, 8, 8, 7, gray8, &p, 10, &k), DS.invalidArgument, "stride_bytes 7")
        check(ds_classify_pixels(model, bytes, 8, 8, 31, rgba8, &p, 10, &k), DS.invalidArgument, "4 bytes")
        for format: Int32 in [0, 5, 100, -1] {
            check(ds_classify_pixels(model, bytes, 8, 8, 32, format, &p, 10, &k), DS.invalidArgument, "format \(format)")
        }
        // A stride whose rows would run past the address space (a stride past the buffer is the caller's bug, as any pointer is).
        check(ds_classify_pixels(model, bytes, 2, 3, Int.max / 2 + 1, gray8, &p, 10, &k), DS.invalidArgument, "rows")
        check(ds_classify_pixels(model, bytes, 20_000, 1, 20_000, gray8, &p, 10, &k), DS.badImage, "16384")
        check(ds_classify_pixels(model, bytes, 8, 8, 8, gray8, &p, 9, &k), DS.invalidArgument, "probability_count 9")
        check(ds_classify_pixels(model, bytes, 8, 8, 8, gray8, &p, 10, nil), DS.invalidArgument, "out_class is NULL")
        // A blank frame holds no digit.
        check(ds_classify_pixels(model, bytes, 64, 64, 256, rgba8, &p, 10, &k), DS.badImage, "<pixels>")
        check(ds_classify_pixels(nil, bytes, 8, 8, 8, gray8, &p, 10, &k), DS.invalidArgument, "model is NULL")
        var input = [Float](repeating: 7, count: 784)
        XCTAssertEqual(ds_preprocess_pixels(model, bytes, 8, 8, 8, gray8, &input, 783), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("input_count 783"), lastError())
        XCTAssertEqual(ds_preprocess_pixels(model, bytes, 8, 8, 8, gray8, nil, 784), DS.invalidArgument)
        XCTAssertEqual(ds_preprocess_png_file(model, nil, &input, 784), DS.invalidArgument)
        XCTAssertEqual(ds_preprocess_png_file(model, "/nonexistent/x.png", &input, 784), DS.io)
        XCTAssertTrue(lastError().contains("/nonexistent/x.png"), lastError())
        XCTAssertEqual(ds_preprocess_png_memory(model, bytes, bytes.count, &input, 784), DS.badImage)
        XCTAssertEqual(input, [Float](repeating: 7, count: 784), "outputs unchanged on failure")
        // A freed model.
        var other: OpaquePointer?
        XCTAssertEqual(ds_model_load(CPaths.shippedModel, &other), DS.ok)
        XCTAssertEqual(ds_model_free(other), DS.ok)
        XCTAssertEqual(ds_preprocess_pixels(other, bytes, 8, 8, 8, gray8, &input, 784), DS.invalidArgument)
        XCTAssertEqual(ds_classify_pixels(other, bytes, 8, 8, 8, gray8, &p, 10, &k), DS.invalidArgument)
    }

    func testABatchOfPNGFilesAnswersAsOneCallPerFileAndNamesWhatFailed() throws {
        let digits = try CPaths.digitPNGs()
        let paths = digits.map(\.path) + ["/nonexistent/missing_4.png"] + digits.prefix(3).map(\.path)
        let n = paths.count
        let cPaths = paths.map { strdup($0) }
        defer { cPaths.forEach { free($0) } }
        var p = [Float](repeating: 9, count: n * 10)
        var classes = [Int32](repeating: 7, count: n)
        var statuses = [Int32](repeating: 7, count: n)
        let status = cPaths.map { UnsafePointer($0) }.withUnsafeBufferPointer {
            ds_classify_png_files(model, $0.baseAddress, n, &p, n * 10, &classes, &statuses)
        }
        XCTAssertEqual(status, DS.io)
        XCTAssertTrue(lastError().contains("missing_4.png"), lastError())
        let missing = digits.count
        for i in 0..<n where i != missing {
            let one = answer { ds_classify_png_file(model, paths[i], $0, 10, $1) }
            XCTAssertEqual(statuses[i], DS.ok, paths[i])
            XCTAssertEqual(classes[i], one.k, paths[i])
            XCTAssertEqual(Array(p[(i * 10)..<(i * 10 + 10)]), one.p, paths[i])
        }
        XCTAssertEqual(statuses[missing], DS.io)
        XCTAssertEqual(classes[missing], -1)
        XCTAssertEqual(Array(p[(missing * 10)..<(missing * 10 + 10)]), [Float](repeating: 9, count: 10), "a failed file's probabilities unchanged")
        // Classes only; a NULL path; nothing to do.
        var only = [Int32](repeating: 7, count: 3)
        XCTAssertEqual(cPaths.prefix(3).map { UnsafePointer($0) }.withUnsafeBufferPointer {
            ds_classify_png_files(model, $0.baseAddress, 3, nil, 0, &only, nil)
        }, DS.ok, lastError())
        XCTAssertEqual(only, Array(classes.prefix(3)))
        let withNull: [UnsafePointer<CChar>?] = [UnsafePointer(cPaths[0]), nil]
        XCTAssertEqual(withNull.withUnsafeBufferPointer { ds_classify_png_files(model, $0.baseAddress, 2, nil, 0, &only, nil) },
                       DS.invalidArgument)
        XCTAssertTrue(lastError().contains("paths[1]"), lastError())
        XCTAssertEqual(ds_classify_png_files(model, nil, 0, nil, 0, nil, nil), DS.ok)
        XCTAssertEqual(withNull.withUnsafeBufferPointer { ds_classify_png_files(model, $0.baseAddress, 1, &p, 9, &only, nil) },
                       DS.invalidArgument, "probability_count short")
    }

    func testInputShapeAndMinorVersion() throws {
        var (h, w, c) = (0, 0, 0)
        XCTAssertEqual(ds_model_input_shape(model, &h, &w, &c), DS.ok)
        XCTAssertEqual([h, w, c], [28, 28, 1])
        var size = 0
        XCTAssertEqual(ds_model_input_size(model, &size), DS.ok)
        XCTAssertEqual(h * w * c, size)
        XCTAssertEqual(ds_model_input_shape(model, nil, &w, nil), DS.ok, "any pointer may be NULL")
        XCTAssertEqual(ds_model_input_shape(nil, &h, &w, &c), DS.invalidArgument)
        XCTAssertEqual(Int(ds_version_minor()), DeepScratchVersion.minor)
        let header = try String(contentsOfFile: CPaths.header, encoding: .utf8)
        XCTAssertTrue(header.contains("#define DS_VERSION_MINOR \(ds_version_minor())\n"))
    }

    // MARK: Load options

    // A ds_load_options is size_t fields: an [Int] lays one out as a caller's header version would.

    func testLoadOptionsDefaultsAndTheirSizeVersioning() throws {
        var filled = [Int](repeating: -1, count: 3)
        XCTAssertEqual(ds_load_options_default(&filled), DS.ok)
        XCTAssertEqual(filled, [3 * MemoryLayout<Int>.size, 0, 0], "struct_size, threads 0, max_model_bytes 0")
        XCTAssertEqual(ds_load_options_default(nil), DS.invalidArgument)

        var loaded: [OpaquePointer?] = []
        defer { for m in loaded { _ = ds_model_free(m) } }
        func load(_ words: [Int]?, line: UInt = #line) -> Int32 {
            var m: OpaquePointer?
            let status = words.map { w in w.withUnsafeBytes { ds_model_load_with_options(CPaths.shippedModel, $0.baseAddress, &m) } }
                ?? ds_model_load_with_options(CPaths.shippedModel, nil, &m)
            loaded.append(m)
            return status
        }
        XCTAssertEqual(load(nil), DS.ok, "NULL options: the defaults")
        XCTAssertEqual(load(filled), DS.ok)
        XCTAssertEqual(load([16, 0]), DS.ok, "an older, shorter struct: the missing fields keep their defaults")
        XCTAssertEqual(load([32, 0, 0, 0]), DS.ok, "a newer struct whose unknown field is 0")
        XCTAssertEqual(load([32, 0, 0, 5]), DS.invalidArgument)
        XCTAssertTrue(lastError().contains("does not know"), lastError())
        for bad in [0, 4, 12, 1 << 40] {
            XCTAssertEqual(load([bad, 0, 0, 0]), DS.invalidArgument, "struct_size \(bad)")
            XCTAssertTrue(lastError().contains("struct_size"), lastError())
        }
        XCTAssertEqual(loaded.compactMap { $0 }.count, 4, "a model for every accepted call, none for the refused ones")
    }

    func testLoadOptionsBoundTheModelSizeAndSetTheThreads() throws {
        let fileSize = try readAll(CPaths.shippedModel).count
        var m: OpaquePointer?
        let tight = [24, 0, fileSize - 1]
        XCTAssertEqual(tight.withUnsafeBytes { ds_model_load_with_options(CPaths.shippedModel, $0.baseAddress, &m) }, DS.io)
        XCTAssertTrue(lastError().contains(CPaths.shippedModel), lastError())
        XCTAssertNil(m)
        let bytes = try readAll(CPaths.shippedModel)
        XCTAssertEqual(tight.withUnsafeBytes { o in bytes.withUnsafeBytes { ds_model_load_memory_with_options($0.baseAddress, $0.count, o.baseAddress, &m) } }, DS.badModel)
        XCTAssertTrue(lastError().contains("max_model_bytes"), lastError())
        let exact = [24, 0, fileSize]
        XCTAssertEqual(exact.withUnsafeBytes { o in bytes.withUnsafeBytes { ds_model_load_memory_with_options($0.baseAddress, $0.count, o.baseAddress, &m) } }, DS.ok)
        XCTAssertEqual(ds_model_free(m), DS.ok)

        var before = 0
        XCTAssertEqual(ds_get_threads(&before), DS.ok)
        defer { _ = ds_set_threads(before) }
        let three = [24, 3, 0]
        XCTAssertEqual(three.withUnsafeBytes { ds_model_load_with_options(CPaths.shippedModel, $0.baseAddress, &m) }, DS.ok)
        var now = 0
        XCTAssertEqual(ds_get_threads(&now), DS.ok)
        XCTAssertEqual(now, 3)
        XCTAssertEqual(ds_model_free(m), DS.ok)
        let tooMany = [24, 1000, 0]
        XCTAssertEqual(tooMany.withUnsafeBytes { ds_model_load_with_options(CPaths.shippedModel, $0.baseAddress, &m) }, DS.invalidArgument)
        XCTAssertTrue(lastError().contains("threads"), lastError())
    }
}
