import XCTest
import CKernels
@testable import DeepScratch

/// Inference's convolution (`DirectConvolution`, channels-last, the
/// `dsk_conv_hwc` kernel) against the training layer's (`Conv2D`, im2col
/// and BLAS), on every version of the kernel.
final class DirectConvolutionTests: XCTestCase {
    /// Random geometries (1–5 channels; filter counts that fill whole
    /// vectors, half vectors and leave single filters; kernels 1–5; strides
    /// 1–3; padding; outputs from 1 pixel up; 3×3 convolutions of stride 1
    /// with even output sides, which run as Winograd's), with and without the ReLU:
    /// the direct convolution of each image, channels-last, equals the
    /// training layer's forward pass within Float rounding, with the
    /// AVX-512, AVX2 and baseline versions alike, and the threaded split of
    /// one image's pixels gives the same bits as one thread.
    func testDirectConvolutionMatchesTheTrainingLayerOnEveryKernelVersion() throws {
        defer { dsk_select(1) }
        var rng = RandomSource(seed: 91)
        let filterCounts = [1, 3, 8, 16, 20, 32, 48, 64, 72]
        var winogradTrials = 0
        for trial in 0..<32 {
            var k = 1 + trial % 5, s = 1 + (trial / 5) % 3, p = trial % 3 == 0 ? 0 : (trial % k)
            var input = ImageShape(channels: 1 + trial % 5, height: k + trial % 9, width: k + (trial * 7) % 11)
            if trial >= 24 {
                // 3×3 of stride 1 with even output sides (Winograd), 3–40 channels, padding 0 or 1
                (k, s, p) = (3, 1, trial % 2)
                input = ImageShape(channels: [3, 8, 17, 40][trial % 4], height: 2 + 2 * (trial % 5) + 2 - 2 * p,
                                   width: 4 + 2 * (trial % 3) + 2 - 2 * p)
            }
            let F = filterCounts[trial % filterCounts.count], relu = trial % 2 == 0
            let layer = try XCTUnwrap(Conv2D<Float>(input: input, filters: F, kernel: k, stride: s, padding: p))
            layer.initialize(.he, rng: &rng)
            for f in 0..<F { layer.b.value.data[f] = Float(0.3 * rng.nextGaussian()) }
            let m = 2
            let X = Matrix<Float>(rows: input.count, cols: m)
            for i in 0..<X.count { X.data[i] = Float(rng.nextGaussian()) }
            let Z = layer.forward(X, training: false)
            var direct = DirectConvolution(layer.geometry, W: layer.W.value, b: layer.b.value)
            direct.relu = relu
            XCTAssertEqual(direct.winograd != nil, DirectConvolution.runsWinograd(layer.geometry))
            if direct.winograd != nil { winogradTrials += 1 }
            let output = layer.output
            let toLast = input.channelsLastIndex, fromLast = output.channelsLastIndex
            for wide: Int32 in [1, 2, 0] {
                dsk_select(wide)
                let version = String(cString: dsk_direct_conv_version())
                for j in 0..<m {
                    var image = [Float](repeating: 0, count: input.count)
                    for i in 0..<input.count { image[toLast[i]] = X[i, j] }
                    var scratch = [Float](repeating: .nan, count: max(1, DirectConvolution.scratchCount(layer.geometry)))
                    var results: [[Float]] = []
                    for threaded in [false, true] {
                        var out = [Float](repeating: .nan, count: output.count)
                        direct.apply(image, into: &out, scratch: &scratch, threaded: threaded)
                        results.append(out)
                    }
                    XCTAssertEqual(results[0], results[1], "trial \(trial) (\(version)): threaded differs")
                    var worst: Float = 0
                    for i in 0..<output.count {
                        let expected = relu ? max(0, Z[i, j]) : Z[i, j]
                        worst = max(worst, abs(results[0][fromLast[i]] - expected) / max(1, abs(expected)))
                    }
                    XCTAssertLessThan(worst, 1e-5, "trial \(trial) \(input) conv \(F) \(k)x\(k) s\(s) p\(p) relu \(relu) (\(version)), image \(j)")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(winogradTrials, 8, "the Winograd trials ran the direct sum")
    }

    /// The kernel versions the CPU runs are the ones named: AVX-512 only
    /// when asked for the widest, never under `dsk_select(2)` (AVX2 at most)
    /// or `dsk_select(0)` (baseline), and a wide one wherever AVX2 runs.
    func testKernelSelectionNamesTheVersionThatRuns() {
        defer { dsk_select(1) }
        dsk_select(0)
        XCTAssertEqual(String(cString: dsk_direct_conv_version()), "baseline")
        dsk_select(2)
        XCTAssertNotEqual(String(cString: dsk_direct_conv_version()), "avx512")
        // (dsk_select returns 1 when the CPU has AVX2: then the convolution has a wider version too)
        if dsk_select(1) == 1 { XCTAssertNotEqual(String(cString: dsk_direct_conv_version()), "baseline") }
    }
}
