import Foundation
import XCTest
@testable import DeepScratch

/// `Conv2D` and `Pool2D` against textbook oracles in Float64 (the direct
/// nested-loop cross-correlation with zeros outside the image and its
/// gradients; naive max and average pooling and theirs) on hundreds of
/// random small geometries the layer-spec validator accepts: kernels larger
/// than the input, kernel taps that fall entirely in the padding, strides
/// larger than the kernel, pooling windows that overlap, skip pixels or do
/// not tile the input. Then whole networks of such geometries through
/// `Network`, a model file and `InferenceModel` (single and batch paths).
final class ConvolutionOracleTests: XCTestCase {
    /// Largest error allowed relative to the oracle's scale (Double).
    private let tolerance = 1e-12

    // MARK: - Oracles

    /// A batch of `m` images of `shape` in the oracle's own layout,
    /// example-major: pixel `(c, y, x)` of example `j` at `((j·C + c)·H + y)·W + x`.
    struct Images {
        let shape: ImageShape
        let m: Int
        var values: [Double]

        init(shape: ImageShape, m: Int) {
            self.shape = shape
            self.m = m
            values = [Double](repeating: 0, count: shape.count * m)
        }

        /// The engine's batch matrix (`C·H·W × m`, one example per column) read back.
        init(_ M: Matrix<Double>, shape: ImageShape) {
            self.init(shape: shape, m: M.cols)
            for j in 0..<m { for i in 0..<shape.count { values[j * shape.count + i] = M[i, j] } }
        }

        subscript(j: Int, c: Int, y: Int, x: Int) -> Double {
            get { values[((j * shape.channels + c) * shape.height + y) * shape.width + x] }
            set { values[((j * shape.channels + c) * shape.height + y) * shape.width + x] = newValue }
        }

        /// Whether `(y, x)` is a pixel of the image (not padding).
        func inside(_ y: Int, _ x: Int) -> Bool { (0..<shape.height).contains(y) && (0..<shape.width).contains(x) }

        /// The pixel, 0 in the padding.
        func padded(_ j: Int, _ c: Int, _ y: Int, _ x: Int) -> Double { inside(y, x) ? self[j, c, y, x] : 0 }

        /// The batch as the engine lays it out: row `(c·H + y)·W + x`, column `j`.
        func matrix() -> Matrix<Double> {
            let M = Matrix<Double>(rows: shape.count, cols: m)
            for j in 0..<m { for i in 0..<shape.count { M[i, j] = values[j * shape.count + i] } }
            return M
        }
    }

    /// The output side of a window of `k` moved `s` at a time over `n` pixels
    /// with `p` zeros on each side: the window starts `−p, −p + s, …` that
    /// end inside the padded image (counted, not taken from the engine's formula).
    static func naiveOutputSide(_ n: Int, kernel k: Int, stride s: Int, padding p: Int) -> Int {
        (n + p - k < -p) ? 0 : Array(Swift.stride(from: -p, through: n + p - k, by: s)).count
    }

    /// A convolution's weights, `W[f, c, ky, kx]` at `((f·C + c)·k + ky)·k + kx` (the engine's `F × C·k·k`), and biases.
    struct ConvWeights {
        let filters: Int, channels: Int, kernel: Int, stride: Int, padding: Int
        var W: [Double]
        var b: [Double]

        func w(_ f: Int, _ c: Int, _ ky: Int, _ kx: Int) -> Double { W[((f * channels + c) * kernel + ky) * kernel + kx] }

        func outputShape(_ input: ImageShape) -> ImageShape {
            ImageShape(channels: filters,
                       height: naiveOutputSide(input.height, kernel: kernel, stride: stride, padding: padding),
                       width: naiveOutputSide(input.width, kernel: kernel, stride: stride, padding: padding))
        }
    }

    /// The textbook convolution:
    /// `Z[j,f,oy,ox] = b[f] + Σ_{c,ky,kx} W[f,c,ky,kx]·A[j, c, oy·s − p + ky, ox·s − p + kx]`, A = 0 outside the image.
    static func naiveConvolution(_ A: Images, _ w: ConvWeights) -> Images {
        let out = w.outputShape(A.shape)
        var Z = Images(shape: out, m: A.m)
        for j in 0..<A.m { for f in 0..<w.filters { for oy in 0..<out.height { for ox in 0..<out.width {
            var z = w.b[f]
            for c in 0..<w.channels { for ky in 0..<w.kernel { for kx in 0..<w.kernel {
                z += w.w(f, c, ky, kx) * A.padded(j, c, oy * w.stride - w.padding + ky, ox * w.stride - w.padding + kx)
            } } }
            Z[j, f, oy, ox] = z
        } } } }
        return Z
    }

    /// The textbook gradients of `naiveConvolution`, with (y, x) = (oy·s − p + ky, ox·s − p + kx):
    /// `dA[j,c,y,x] = Σ_{f,oy,ox,ky,kx → y,x} W[f,c,ky,kx]·dZ[j,f,oy,ox]` (inside the image only),
    /// `dW[f,c,ky,kx] = Σ_{j,oy,ox} dZ[j,f,oy,ox]·A[j,c,y,x]`, `db[f] = Σ_{j,oy,ox} dZ[j,f,oy,ox]`.
    static func naiveConvolutionGradients(_ A: Images, _ w: ConvWeights, _ dZ: Images)
        -> (dA: Images, dW: [Double], db: [Double]) {
        var dA = Images(shape: A.shape, m: A.m)
        var dW = [Double](repeating: 0, count: w.W.count), db = [Double](repeating: 0, count: w.filters)
        for j in 0..<A.m { for f in 0..<w.filters { for oy in 0..<dZ.shape.height { for ox in 0..<dZ.shape.width {
            let d = dZ[j, f, oy, ox]
            db[f] += d
            for c in 0..<w.channels { for ky in 0..<w.kernel { for kx in 0..<w.kernel {
                let y = oy * w.stride - w.padding + ky, x = ox * w.stride - w.padding + kx
                guard A.inside(y, x) else { continue }
                dA[j, c, y, x] += w.w(f, c, ky, kx) * d
                dW[((f * w.channels + c) * w.kernel + ky) * w.kernel + kx] += d * A[j, c, y, x]
            } } }
        } } } }
        return (dA, dW, db)
    }

    /// The window of output `(oy, ox)` in window order (row by row): the pixels `(oy·s + dy, ox·s + dx)`.
    static func window(_ oy: Int, _ ox: Int, size k: Int, stride s: Int) -> [(y: Int, x: Int)] {
        (0..<k * k).map { (oy * s + $0 / k, ox * s + $0 % k) }
    }

    /// Naive pooling: `Z[j,c,oy,ox]` = the maximum (or the mean) of the window of `(oy, ox)`.
    static func naivePool(_ kind: PoolKind, _ A: Images, size k: Int, stride s: Int) -> Images {
        let out = ImageShape(channels: A.shape.channels,
                             height: naiveOutputSide(A.shape.height, kernel: k, stride: s, padding: 0),
                             width: naiveOutputSide(A.shape.width, kernel: k, stride: s, padding: 0))
        var Z = Images(shape: out, m: A.m)
        for j in 0..<A.m { for c in 0..<out.channels { for oy in 0..<out.height { for ox in 0..<out.width {
            let values = window(oy, ox, size: k, stride: s).map { A[j, c, $0.y, $0.x] }
            Z[j, c, oy, ox] = kind == .max ? values.max()! : values.reduce(0, +) / Double(k * k)
        } } } }
        return Z
    }

    /// The gradient of `naivePool`: max gives each `dZ` to the first pixel of
    /// its window (in window order) holding the maximum; average gives
    /// `dZ/k²` to every pixel of the window.
    static func naivePoolGradient(_ kind: PoolKind, _ A: Images, size k: Int, stride s: Int, _ dZ: Images) -> Images {
        var dA = Images(shape: A.shape, m: A.m)
        for j in 0..<A.m { for c in 0..<A.shape.channels { for oy in 0..<dZ.shape.height { for ox in 0..<dZ.shape.width {
            let pixels = window(oy, ox, size: k, stride: s)
            let d = dZ[j, c, oy, ox]
            if kind == .max {
                let values = pixels.map { A[j, c, $0.y, $0.x] }
                let first = pixels[values.firstIndex(of: values.max()!)!]
                dA[j, c, first.y, first.x] += d
            } else {
                for q in pixels { dA[j, c, q.y, q.x] += d / Double(k * k) }
            }
        } } } }
        return dA
    }

    /// `max |x − y| / max(1, max |y|)`: the error of `x` on the oracle `y`'s scale.
    static func relativeError(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count)
        let scale = max(1, y.map(abs).max() ?? 0)
        return zip(x, y).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }

    private static func gaussians(_ n: Int, _ rng: inout RandomSource) -> [Double] { (0..<n).map { _ in rng.nextGaussian() } }

    // MARK: - Geometries

    /// One convolution case: geometry, batch size, and what makes it hard.
    struct ConvCase: CustomStringConvertible {
        var input: ImageShape, filters: Int, kernel: Int, stride: Int, padding: Int, m: Int
        var description: String { "conv \(input) → \(filters) filters \(kernel)x\(kernel) s\(stride) p\(padding), m \(m)" }

        /// The output shape, by the oracle's count of windows.
        var output: ImageShape {
            ImageShape(channels: filters, height: naiveOutputSide(input.height, kernel: kernel, stride: stride, padding: padding),
                       width: naiveOutputSide(input.width, kernel: kernel, stride: stride, padding: padding))
        }

        /// A kernel column `kx` whose input column `ox·s − p + kx` is padding for every output `ox` (or a row, likewise).
        var hasTapOnlyInPadding: Bool {
            func only(_ n: Int) -> Bool {
                let o = naiveOutputSide(n, kernel: kernel, stride: stride, padding: padding)
                return (0..<kernel).contains { kx in (0..<o).allSatisfy { !(0..<n).contains($0 * stride - padding + kx) } }
            }
            return only(input.height) || only(input.width)
        }

        /// A tap right of the image by less than a stride, `−s < W − 1 + p − kx < 0`: the
        /// numerator that truncating division rounds up to 0 (the issue's case).
        var hasTapJustRightOfTheImage: Bool {
            (0..<kernel).contains { kx in
                let numerator = input.width - 1 + padding - kx
                return numerator < 0 && numerator > -stride
            }
        }
    }

    /// `count` convolution cases the validator accepts, drawn from `seed`:
    /// channels and filters 1–3, sides 1–9, kernel 1–5, stride 1–3, padding
    /// 0–min(3, k − 1), batch 1–3. Draws whose window does not fit must be
    /// refused by both the validator and `Conv2D` (checked here).
    private func randomConvCases(_ count: Int, seed: UInt64) -> [ConvCase] {
        var rng = RandomSource(seed: seed)
        var cases = [ConvCase]()
        while cases.count < count {
            let k = 1 + rng.nextInt(below: 5)
            let c = ConvCase(input: ImageShape(channels: 1 + rng.nextInt(below: 3), height: 1 + rng.nextInt(below: 9),
                                               width: 1 + rng.nextInt(below: 9)),
                             filters: 1 + rng.nextInt(below: 3), kernel: k, stride: 1 + rng.nextInt(below: 3),
                             padding: rng.nextInt(below: min(3, k - 1) + 1), m: 1 + rng.nextInt(below: 3))
            let fits = c.input.height + 2 * c.padding >= k && c.input.width + 2 * c.padding >= k
            let spec = LayerSpec.conv(filters: c.filters, kernel: k, stride: c.stride, padding: c.padding)
            switch LayerSpec.shapes(of: [spec], input: c.input) {
            case .success: XCTAssertTrue(fits, "validator accepts \(c)")
            case .failure: XCTAssertFalse(fits, "validator refuses \(c)")
            }
            guard fits else {
                XCTAssertNil(Conv2D<Double>(input: c.input, filters: c.filters, kernel: k, stride: c.stride, padding: c.padding), "\(c)")
                continue
            }
            cases.append(c)
        }
        return cases
    }

    /// Runs `Conv2D<Double>` forward and backward on random weights, biases,
    /// images and output gradients, and returns its largest error against the
    /// oracles (Z, dA, dW, db); fails when one is over the tolerance.
    @discardableResult
    private func checkConvolution(_ c: ConvCase, seed: UInt64, weights: ((inout ConvWeights) -> Void)? = nil,
                                  file: StaticString = #filePath, line: UInt = #line) -> Double {
        var rng = RandomSource(seed: seed)
        guard let conv = Conv2D<Double>(input: c.input, filters: c.filters, kernel: c.kernel, stride: c.stride,
                                        padding: c.padding) else {
            XCTFail("Conv2D refuses \(c)", file: file, line: line); return .infinity
        }
        var w = ConvWeights(filters: c.filters, channels: c.input.channels, kernel: c.kernel, stride: c.stride,
                            padding: c.padding, W: Self.gaussians(conv.W.value.count, &rng), b: Self.gaussians(c.filters, &rng))
        weights?(&w)
        for (i, v) in w.W.enumerated() { conv.W.value.data[i] = v }
        for (i, v) in w.b.enumerated() { conv.b.value.data[i] = v }
        var A = Images(shape: c.input, m: c.m)
        A.values = Self.gaussians(A.values.count, &rng)

        let Z = Self.naiveConvolution(A, w)
        XCTAssertEqual(conv.output, Z.shape, "output shape of \(c)", file: file, line: line)
        guard conv.output == Z.shape else { return .infinity }
        var dZ = Images(shape: Z.shape, m: c.m)
        dZ.values = Self.gaussians(dZ.values.count, &rng)
        let expected = Self.naiveConvolutionGradients(A, w, dZ)

        let ours = Images(conv.forward(A.matrix(), training: true), shape: conv.output)
        let dA = Images(conv.backward(dZ.matrix()), shape: c.input)
        let errors = [("Z", Self.relativeError(ours.values, Z.values)),
                      ("dA", Self.relativeError(dA.values, expected.dA.values)),
                      ("dW", Self.relativeError(conv.W.gradient.values, expected.dW)),
                      ("db", Self.relativeError(conv.b.gradient.values, expected.db))]
        for (what, e) in errors where !(e <= tolerance) {
            XCTFail("\(what) of \(c): relative error \(e)", file: file, line: line)
        }
        return errors.map(\.1).max()!
    }

    // MARK: - The inside range

    func testFloorDivisionRoundsNegativeQuotientsDown() {
        for b in 1...15 {
            for a in -40...40 {
                XCTAssertEqual(floorDivision(a, b), Int((Double(a) / Double(b)).rounded(.down)), "⌊\(a)/\(b)⌋")
            }
        }
    }

    /// For every kernel, stride and padding the validator accepts (k, s in
    /// 1…15, p in 0…k − 1) and every width up to 31 (from there on every tap
    /// sees the image for some output), `insideColumns(kx:)` holds exactly the
    /// outputs `ox` whose input column `ox·s − p + kx` is in the image.
    func testInsideColumnsAreExactlyTheOutputsThatSeeTheImageForEveryValidatedGeometry() {
        var geometries = 0
        for k in 1...15 { for s in 1...15 { for p in 0..<k { for width in 1...31 {
            let input = ImageShape(channels: 1, height: k, width: width)
            guard case let .success(shapes) = LayerSpec.shapes(of: [.conv(filters: 1, kernel: k, stride: s, padding: p)], input: input)
            else { continue }
            geometries += 1
            let g = ConvGeometry(input: input, output: shapes[0], kernel: k, stride: s, padding: p)
            for kx in 0..<k {
                let inside = (0..<shapes[0].width).filter { (0..<width).contains($0 * s - p + kx) }
                let range = g.insideColumns(kx: kx)
                if Array(range) != inside {
                    return XCTFail("k \(k) s \(s) p \(p) width \(width) kx \(kx): \(range), expected \(inside)")
                }
            }
        } } } }
        XCTAssertGreaterThan(geometries, 20_000)
    }

    // MARK: - Convolution

    func testConvolutionMatchesTheNaiveOracleForwardAndBackwardOnRandomGeometries() {
        let cases = randomConvCases(400, seed: 15)
        // The draws must reach the geometries where a fast path can go wrong.
        let larger = cases.filter { $0.kernel > $0.input.height || $0.kernel > $0.input.width }.count
        let paddingOnly = cases.filter(\.hasTapOnlyInPadding).count
        let justRight = cases.filter(\.hasTapJustRightOfTheImage).count
        let strideOverKernel = cases.filter { $0.stride > $0.kernel }.count
        let batches = Set(cases.map(\.m)), strides = Set(cases.map(\.stride)), paddings = Set(cases.map(\.padding))
        XCTAssertGreaterThanOrEqual(larger, 30, "kernels larger than the input")
        XCTAssertGreaterThanOrEqual(paddingOnly, 30, "taps entirely in the padding")
        XCTAssertGreaterThanOrEqual(justRight, 10, "taps right of the image by less than a stride")
        XCTAssertGreaterThanOrEqual(strideOverKernel, 30, "strides larger than the kernel")
        XCTAssertEqual([batches, strides, paddings], [[1, 2, 3], [1, 2, 3], [0, 1, 2, 3]])

        var worst = 0.0
        for (i, c) in cases.enumerated() { worst = max(worst, checkConvolution(c, seed: 1000 + UInt64(i))) }
        print("convolution oracle: \(cases.count) geometries (\(larger) kernels larger than the input, \(paddingOnly) with a tap only in the padding, \(justRight) with one right of the image by less than a stride, \(strideOverKernel) strides over the kernel); largest relative error \(worst)")
    }

    /// The issue's case: 2 channels, one 3×3 filter, stride 2, padding 1 on a
    /// 1×1 image. Only the centre tap sees a pixel; the tap right of it
    /// (`W − 1 + p − kx = −1`) is padding and must read 0, not the next
    /// channel's pixel (or, for the last channel, past the image), and its
    /// gradient must go nowhere.
    func testIssueGeometryOnA1x1ImageSeesOnlyTheCentreTap() {
        let issue = ConvCase(input: ImageShape(channels: 2, height: 1, width: 1), filters: 1, kernel: 3, stride: 2, padding: 1, m: 2)
        XCTAssertTrue(issue.hasTapJustRightOfTheImage && issue.hasTapOnlyInPadding)
        checkConvolution(issue, seed: 1)
        // Every weight but those of the padding tap (ky, kx) = (1, 2) zero: Z is the bias alone.
        checkConvolution(issue, seed: 2) { w in
            for i in w.W.indices where (i % 9) != 1 * 3 + 2 { w.W[i] = 0 }
        }
        // And as a direct statement: Z = b + Σ_c W[0,c,1,1]·A[c], whatever the other weights are.
        let conv = Conv2D<Double>(input: issue.input, filters: 1, kernel: 3, stride: 2, padding: 1)!
        for i in 0..<18 { conv.W.value.data[i] = Double(i + 1) }
        conv.b.value.data[0] = 0.5
        let Z = conv.forward(matrix([[3.0], [7.0]]), training: true)
        XCTAssertEqual(Z.values, [0.5 + 5 * 3 + 14 * 7])
        let dA = conv.backward(matrix([[1.0]]))
        XCTAssertEqual(dA.values, [5, 14], "the gradient reaches each pixel through its centre tap only")
    }

    /// Batches wide enough that im2col, the product and col2im split the work across the engine's threads.
    func testConvolutionMatchesTheOracleOnWideBatchesSplitAcrossThreads() {
        let cases = [ConvCase(input: ImageShape(channels: 3, height: 9, width: 7), filters: 3, kernel: 5, stride: 3, padding: 4, m: 80),
                     ConvCase(input: ImageShape(channels: 3, height: 3, width: 2), filters: 2, kernel: 4, stride: 3, padding: 1, m: 700),
                     ConvCase(input: ImageShape(channels: 3, height: 1, width: 1), filters: 2, kernel: 3, stride: 2, padding: 1, m: 1300)]
        for (i, c) in cases.enumerated() {
            XCTAssertGreaterThanOrEqual(c.input.channels * c.kernel * c.kernel * c.output.area * c.m, 1 << 15, "\(c) is split")
            checkConvolution(c, seed: 77 + UInt64(i))
        }
    }

    // MARK: - Pooling

    func testPoolingMatchesTheNaiveOracleForwardAndBackwardOnRandomGeometries() {
        var rng = RandomSource(seed: 16)
        var checked = 0, strideNotSize = 0, untiled = 0, skipping = 0, ties = 0
        var worst = 0.0
        while checked < 300 {
            let kind: PoolKind = rng.nextInt(below: 2) == 0 ? .max : .average
            let shape = ImageShape(channels: 1 + rng.nextInt(below: 3), height: 1 + rng.nextInt(below: 9), width: 1 + rng.nextInt(below: 9))
            let k = 1 + rng.nextInt(below: 5), s = 1 + rng.nextInt(below: 4), m = 1 + rng.nextInt(below: 3)
            let what = "\(kind.rawValue) \(k) stride \(s) on \(shape), m \(m)"
            let fits = k <= shape.height && k <= shape.width
            switch LayerSpec.shapes(of: [.pool(kind, size: k, stride: s)], input: shape) {
            case .success: XCTAssertTrue(fits, "validator accepts \(what)")
            case .failure: XCTAssertFalse(fits, "validator refuses \(what)")
            }
            guard let pool = Pool2D<Double>(kind, input: shape, size: k, stride: s) else {
                XCTAssertFalse(fits, "Pool2D refuses \(what)"); continue
            }
            checked += 1
            // Values on a coarse grid half the time, so maxima tie within a window.
            var A = Images(shape: shape, m: m)
            let coarse = rng.nextInt(below: 2) == 0
            A.values = (0..<A.values.count).map { _ in coarse ? Double(rng.nextInt(below: 5) - 2) : rng.nextGaussian() }
            let Z = Self.naivePool(kind, A, size: k, stride: s)
            XCTAssertEqual(pool.output, Z.shape, what)
            guard pool.output == Z.shape else { continue }
            var dZ = Images(shape: Z.shape, m: m)
            dZ.values = Self.gaussians(dZ.values.count, &rng)
            let dA = Self.naivePoolGradient(kind, A, size: k, stride: s, dZ)

            let ours = Images(pool.forward(A.matrix(), training: true), shape: pool.output)
            let ourDA = Images(pool.backward(dZ.matrix()), shape: shape)
            let errors = [Self.relativeError(ours.values, Z.values), Self.relativeError(ourDA.values, dA.values)]
            XCTAssertLessThanOrEqual(errors[0], tolerance, "Z of \(what)")
            XCTAssertLessThanOrEqual(errors[1], tolerance, "dA of \(what)")
            worst = max(worst, errors.max()!)

            if s != k { strideNotSize += 1 }
            if s > k { skipping += 1 }
            if (shape.height - k) % s != 0 || (shape.width - k) % s != 0 { untiled += 1 }
            if kind == .max && coarse && k > 1 { ties += 1 }
        }
        XCTAssertGreaterThanOrEqual(strideNotSize, 150, "strides other than the size")
        XCTAssertGreaterThanOrEqual(skipping, 30, "strides over the size (pixels no window reads)")
        XCTAssertGreaterThanOrEqual(untiled, 60, "windows that do not tile the input")
        XCTAssertGreaterThanOrEqual(ties, 30, "max pooling over tied values")
        print("pooling oracle: \(checked) geometries (\(strideNotSize) stride ≠ size, \(skipping) stride > size, \(untiled) not tiling, \(ties) max pools over tied values); largest relative error \(worst)")
    }

    // MARK: - Whole networks through a model file

    /// Class probabilities of `net` (one column of `images` per example)
    /// computed layer by layer by the oracles in Float64 from its Float weights.
    private func naiveProbabilities(_ net: Network<Float>, _ images: Images) -> [[Double]] {
        var a = images
        for layer in net.layers {
            switch layer {
            case let c as Conv2D<Float>:
                a = Self.naiveConvolution(a, ConvWeights(filters: c.output.channels, channels: c.input.channels, kernel: c.kernel,
                                                         stride: c.stride, padding: c.padding,
                                                         W: c.W.value.values.map(Double.init), b: c.b.value.values.map(Double.init)))
            case let p as Pool2D<Float>:
                a = Self.naivePool(p.kind, a, size: p.size, stride: p.stride)
            case let d as Dense<Float>:
                // z = W·a + b on the flattened (channel-major) image
                var z = Images(shape: ImageShape(channels: d.outputSize, height: 1, width: 1), m: a.m)
                for j in 0..<a.m { for i in 0..<d.outputSize {
                    z.values[j * d.outputSize + i] = Double(d.b.value.data[i])
                        + (0..<d.inputSize).reduce(0) { $0 + Double(d.W.value[i, $1]) * a.values[j * d.inputSize + $1] }
                } }
                a = z
            case is ReLU<Float>:
                a.values = a.values.map { max(0, $0) }
            default:
                XCTFail("no oracle for \(type(of: layer))")
            }
        }
        // p = exp(z − max z) / Σ exp(z − max z)
        let n = a.shape.count
        return (0..<a.m).map { j in
            let z = Array(a.values[(j * n)..<((j + 1) * n)])
            let e = z.map { Foundation.exp($0 - z.max()!) }
            return e.map { $0 / e.reduce(0, +) }
        }
    }

    /// The model file of `net` (inputs unstandardized: mean 0, std 1) loaded for inference.
    private func inferenceModel(_ net: Network<Float>, _ arch: Architecture) throws -> InferenceModel {
        let bytes = Model(network: net, architecture: arch, standardization: Standardization(mean: 0, std: 1)).serialized()
        return try bytes.withUnsafeBytes { try InferenceModel(bytes: $0) }
    }

    /// Probabilities of `count` images through the single-image and the batch paths.
    private func singleAndBatch(_ inference: InferenceModel, _ pixels: [Float], count: Int) -> (single: [[Float]], batch: [[Float]]) {
        let n = inference.inputSize, classes = inference.classCount
        let single = (0..<count).map { j -> [Float] in
            var p = [Float](repeating: 0, count: classes)
            pixels.withUnsafeBufferPointer { inference.probabilities(pixels: $0.baseAddress! + j * n, into: &p) }
            return p
        }
        var flat = [Float](repeating: 0, count: count * classes)
        pixels.withUnsafeBufferPointer { inference.probabilities(batch: $0.baseAddress!, count: count, into: &flat) }
        return (single, (0..<count).map { Array(flat[($0 * classes)..<(($0 + 1) * classes)]) })
    }

    /// The issue's model: a 2-channel 1×1 input, `conv 2 1 3 2 1` whose only
    /// nonzero weight sits on a padding tap, then `dense 1 2` (weights 1, −1)
    /// and softmax. The convolution gives its bias, 0, for every input, so
    /// both logits are 0: even odds, on every path.
    func testIssueModelWhoseOnlyWeightIsOnAPaddingTapGivesEvenOdds() throws {
        let input = ImageShape(channels: 2, height: 1, width: 1)
        let arch = Architecture(layers: [.conv(filters: 1, kernel: 3, stride: 2, padding: 1), .dense(2)], inputShape: input)
        let net = arch.makeNetwork(Float.self, seed: 3)
        let conv = try XCTUnwrap(net.convolutionLayers.first), dense = try XCTUnwrap(net.denseLayers.first)
        conv.W.value.fill(0)
        conv.b.value.fill(0)
        conv.W.value.data[(0 * 3 + 1) * 3 + 2] = 1     // W[0, c = 0, ky = 1, kx = 2]: right of the only pixel
        for (i, v) in [Float(1), -1].enumerated() { dense.W.value.data[i] = v }
        dense.b.value.fill(0)
        let inference = try inferenceModel(net, arch)
        XCTAssertEqual(inference.model.layerList.first, "conv 2 1 3 2 1")

        var rng = RandomSource(seed: 4)
        let count = 5
        let pixels = (0..<(count * 2)).map { _ in Float(0.2 + 0.8 * rng.nextUniform()) }
        var oracleInput = Images(shape: input, m: count)
        oracleInput.values = pixels.map(Double.init)
        let X = oracleInput.matrix()
        let forward = net.forward(Matrix(rows: 2, cols: count, values: X.values.map(Float.init)), training: false)
        let (single, batch) = singleAndBatch(inference, pixels, count: count)
        for j in 0..<count {
            XCTAssertEqual(naiveProbabilities(net, oracleInput)[j], [0.5, 0.5], "oracle, image \(j)")
            XCTAssertEqual([forward[0, j], forward[1, j]], [0.5, 0.5], "Network.forward, image \(j)")
            XCTAssertEqual(single[j], [0.5, 0.5], "single path, image \(j)")
            XCTAssertEqual(batch[j], [0.5, 0.5], "batch path, image \(j)")
        }
    }

    /// Random networks of odd geometries (non-square inputs of 1–3 channels,
    /// kernels larger than the input, taps only in the padding, strides
    /// larger than the kernel, pools whose windows skip pixels or do not tile):
    /// `Network.forward`, `InferenceModel`'s single path and its batch path
    /// agree with the oracles within Float rounding.
    func testOddGeometryNetworksAgreeWithTheOracleOnTheSingleAndBatchPaths() throws {
        let variants: [(ImageShape, String)] = [
            (ImageShape(channels: 2, height: 7, width: 5), "conv 3 3x3 stride 2 pad 1, avgpool 2 stride 1, conv 4 5x5 stride 3 pad 2, dense 3"),
            (ImageShape(channels: 1, height: 1, width: 1), "conv 2 3x3 stride 2 pad 2, maxpool 2 stride 3, dense 2"),
            (ImageShape(channels: 3, height: 4, width: 9), "conv 2 4x4 stride 2 pad 3, maxpool 3 stride 2, conv 2 2x2 pad 1, dense 6, dense 5"),
            (ImageShape(channels: 2, height: 1, width: 1), "conv 3 3x3 stride 2 pad 1, dense 2"),
            (ImageShape(channels: 1, height: 9, width: 6), "conv 3 2x2 pad 1, maxpool 2 stride 3, avgpool 2 stride 3, dense 4"),
        ]
        for (v, (input, spec)) in variants.enumerated() {
            let layers = try LayerSpec.parse(spec, input: input, activation: .relu)
            let arch = Architecture(layers: layers, inputShape: input)
            let net = arch.makeNetwork(Float.self, seed: 20 + UInt64(v))
            var rng = RandomSource(seed: 40 + UInt64(v))
            for c in net.convolutionLayers { for f in 0..<c.output.channels { c.b.value.data[f] = Float(0.1 * rng.nextGaussian()) } }
            for d in net.denseLayers { for i in 0..<d.outputSize { d.b.value.data[i] = Float(0.1 * rng.nextGaussian()) } }
            let inference = try inferenceModel(net, arch)

            let count = 9
            let pixels = (0..<(count * input.count)).map { _ in Float(rng.nextUniform()) }
            var images = Images(shape: input, m: count)
            images.values = pixels.map(Double.init)
            let expected = naiveProbabilities(net, images)
            let P = net.forward(Matrix(rows: input.count, cols: count, values: images.matrix().values.map(Float.init)), training: false)
            let (single, batch) = singleAndBatch(inference, pixels, count: count)
            var worst = 0.0
            for j in 0..<count {
                for (what, p) in [("Network.forward", (0..<P.rows).map { P[$0, j] }), ("single path", single[j]), ("batch path", batch[j])] {
                    let e = Self.relativeError(p.map(Double.init), expected[j])
                    worst = max(worst, e)
                    XCTAssertLessThan(e, 1e-5, "\(spec) on \(input), image \(j), \(what): \(p) vs \(expected[j])")
                }
            }
            print("network oracle: \(spec) on \(input): largest probability difference \(worst)")
        }
    }
}
