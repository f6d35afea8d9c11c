import CKernels
import XCTest
@testable import DeepScratch
import DeepScratchTestSupport

/// The int8 first layer: the integer kernel in each of its versions, the
/// recognition of int8 weights, and batches through it against the float path.
final class Int8FirstLayerTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws { dir = try makeTemporaryDirectory("int8") }
    override func tearDown() { removeDirectory(dir) }

    /// The kernel's sums equal a plain integer loop exactly, in the
    /// generic version and in the one this CPU selects (VNNI where it has
    /// it), on rows with blank 4-byte groups, blank rows and full ones.
    func testU8S8SumsAreExactInEveryVersion() {
        defer { dsk_select(1) }
        let rows = 12, groups = 37, panels = 3, ldx = 4 * groups + 3, ldc = 64 * panels + 5
        var rng = RandomSource(seed: 71)
        var x = [UInt8](repeating: 0, count: rows * ldx)
        for r in 0..<rows where r != 5 {
            for j in 0..<4 * groups where r == 7 || rng.nextUniform() < 0.2 { x[r * ldx + j] = UInt8(rng.nextInt(below: 256)) }
        }
        let w = (0..<panels * groups * 256).map { _ in Int8(rng.nextInt(below: 255) - 127) }
        var want = [Int32](repeating: 0, count: rows * ldc)
        for r in 0..<rows {
            for o in 0..<64 * panels {
                var sum: Int32 = 0
                for j in 0..<4 * groups {
                    sum += Int32(x[r * ldx + j]) * Int32(w[((o / 64) * groups + j / 4) * 256 + 4 * (o % 64) + j % 4])
                }
                want[r * ldc + o] = sum
            }
        }
        for wide: Int32 in [0, 1] {
            dsk_select(wide)
            var got = [Int32](repeating: -1, count: rows * ldc)
            var scratch = [UInt32](repeating: 0, count: 5 * groups)
            dsk_u8s8_panels(x, ldx, rows, w, groups, panels, &got, ldc, &scratch)
            for r in 0..<rows {
                XCTAssertEqual(Array(got[r * ldc ..< r * ldc + 64 * panels]), Array(want[r * ldc ..< r * ldc + 64 * panels]),
                               "row \(r), \(dsk_u8s8_is_fast() != 0 ? "VNNI" : "generic") version")
            }
        }
    }

    /// A model with random weights: 784-70-10 (a last panel of 6 outputs).
    private func model(precision: Precision) throws -> String {
        let arch = Architecture(sizes: [784, 70, 10], activation: .relu, inputShape: .mnist)
        let net = arch.makeNetwork(Float.self, seed: 72)
        var rng = RandomSource(seed: 73)
        for d in net.denseLayers {
            for i in 0..<d.b.value.count { d.b.value.data[i] = Float(rng.nextGaussian() * 0.1) }
        }
        let path = dir + "/m-\(precision).dsm"
        try Model(network: net, architecture: arch, standardization: Standardization(mean: 0.13, std: 0.31))
            .save(to: path, precision: precision)
        return path
    }

    func testOnlyInt8WeightsTakeTheIntegerFormAndItHoldsThem() throws {
        let (_, int8) = try Model.loadNetwork(path: model(precision: .int8))
        let W = int8.denseLayers[0].W.value
        let layer = try XCTUnwrap(Int8FirstLayer(W: W, inverseStd: 2), "an int8 file's weights are s·q")
        XCTAssertEqual(layer.groups, 196)
        XCTAssertEqual(layer.panels, 2)
        // w_ij = q_ij · s_i, with s_i = factor_i · 255 · std
        for i in [0, 33, 69] {
            for j in [0, 1, 400, 783] {
                let position: Int = ((i / 64) * 196 + j / 4) * 256 + 4 * (i % 64) + j % 4
                let q = Float(layer.weights[position])
                let s: Float = layer.factor[i] * 255 / 2
                let w: Float = W[i, j]
                XCTAssertEqual(q * s, w, accuracy: 1e-6 * abs(w) + 1e-9, "W[\(i), \(j)]")
            }
        }
        for precision in [Precision.f32, .f16] {
            let (_, net) = try Model.loadNetwork(path: model(precision: precision))
            XCTAssertNil(Int8FirstLayer(W: net.denseLayers[0].W.value, inverseStd: 2), "\(precision) weights")
        }
        let tooWide = Matrix<Float>(rows: 1, cols: Int8FirstLayer.maximumInputs + 1)
        XCTAssertNil(Int8FirstLayer(W: tooWide, inverseStd: 1), "sums that could overflow 32 bits")
    }

    /// An int8 model's batches of byte images (the integer path where the
    /// CPU has VNNI) and of other pixels (the float path) equal its
    /// single images within 1e-5.
    func testInt8ModelBatchesEqualOneImageAtATimeOnBytesAndOtherPixels() throws {
        let model = try InferenceModel(path: model(precision: .int8))
        XCTAssertEqual(model.firstLayerRunsInInt8, dsk_u8s8_is_fast() != 0)
        var rng = RandomSource(seed: 74)
        let count = 261  // a block of 256, then 5 (not a multiple of 4)
        var bytes = [Float](repeating: 0, count: count * 784), other = bytes
        for i in 0..<bytes.count where rng.nextUniform() < 0.2 {
            bytes[i] = Float(1 + rng.nextInt(below: 255)) / 255
            other[i] = Float(rng.nextUniform())
        }
        for n in 250..<256 { for i in 0..<784 { bytes[n * 784 + i] = 1 } }  // all ink
        for pixels in [bytes, other] {
            var batch = [Float](repeating: -1, count: count * 10), one = [Float](repeating: -1, count: 10)
            pixels.withUnsafeBufferPointer { p in
                batch.withUnsafeMutableBufferPointer { model.probabilities(batch: p.baseAddress!, count: count, into: $0.baseAddress!) }
            }
            for n in 0..<count {
                pixels.withUnsafeBufferPointer { p in
                    one.withUnsafeMutableBufferPointer { model.probabilities(pixels: p.baseAddress! + n * 784, into: $0.baseAddress!) }
                }
                for k in 0..<10 { XCTAssertEqual(batch[n * 10 + k], one[k], accuracy: 1e-5, "image \(n), class \(k)") }
            }
        }
    }

    func testPixelsOffTheByteGridLeaveTheIntegerPath() throws {
        let (_, net) = try Model.loadNetwork(path: model(precision: .int8))
        let layer = try XCTUnwrap(Int8FirstLayer(W: net.denseLayers[0].W.value, inverseStd: 1))
        var x = [UInt8](repeating: 7, count: 4 * layer.rowBytes)
        var pixels = [Float](repeating: 0, count: 2 * 784)
        pixels[3] = 1; pixels[790] = 128 / 255
        XCTAssertTrue(layer.bytes(of: pixels, count: 2, inputs: 784, into: &x))
        XCTAssertEqual(x[3], 255)
        XCTAssertEqual(x[layer.rowBytes + 6], 128)
        XCTAssertEqual(x[2 * layer.rowBytes ..< 4 * layer.rowBytes].filter { $0 != 0 }.count, 0, "padding rows are zero")
        for bad: Float in [0.5, -1 / 255, 256 / 255, .nan] {
            pixels[100] = bad
            XCTAssertFalse(layer.bytes(of: pixels, count: 2, inputs: 784, into: &x), "pixel \(bad)")
        }
    }
}
