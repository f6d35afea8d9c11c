import CKernels

/// A convolution as inference runs it: on one image stored channels-last
/// (value `(y, x, c)` at `(y·W + x)·C + c`), without a patch matrix, by
/// `dsk_conv_hwc` (AVX-512 or AVX2 where the CPU has them):
/// `Z[oy, ox, f] = b[f] + Σ_{ky,kx,c} W[f, c, ky, kx] · A[oy·s − p + ky, ox·s − p + kx, c]`,
/// then the ReLU when one follows.
///
/// Channels-last puts a window's channels side by side, so one output
/// pixel reads `k` runs of `k·C` contiguous values, and the weights are
/// stored tap by tap, `[ky, kx, c, f]`, so one tap and channel is a row of
/// `F` contiguous filters.
///
/// A 3×3 convolution of stride 1 whose output has even sides runs as
/// Winograd's F(2×2, 3×3) instead (`dsk_winograd_*`): 16 products of
/// `(tiles × C)·(C × F)` on transformed 4×4 input tiles, 2.25 times fewer
/// multiplications than the direct sum, equal to it up to rounding.
struct DirectConvolution {
    let geometry: ConvGeometry
    /// `W` as `[k·k][C][F]`: `weights[(t·C + c)·F + f] = W[f, c, ky, kx]`, `t = ky·k + kx`.
    let weights: [Float]
    /// `b`, `F` values.
    let bias: [Float]
    /// Offset of each tap within a window of the (padded) input, `(ky·W' + kx)·C`.
    let taps: [Int32]
    /// Whether the ReLU is applied to the output (a following activation step, folded in).
    var relu = false
    /// The filters transformed for Winograd's F(2×2, 3×3), `U[ξ] = G·g·Gᵀ` as
    /// `[16][C][F]`, when the geometry allows it (nil otherwise).
    let winograd: [Float]?

    /// - Parameters:
    ///   - W: the filters, `F × C·k·k` (the file's `[F, C, k, k]`).
    ///   - b: the biases, `F × 1`.
    init(_ g: ConvGeometry, W: Matrix<Float>, b: Matrix<Float>) {
        let (C, F, k) = (g.input.channels, g.output.channels, g.kernel)
        var packed = [Float](repeating: 0, count: F * C * k * k)
        for f in 0..<F {
            for c in 0..<C {
                for t in 0..<(k * k) { packed[(t * C + c) * F + f] = W[f, c * k * k + t] }
            }
        }
        geometry = g
        weights = packed
        bias = (0..<F).map { b.data[$0] }
        let width = g.input.width + 2 * g.padding
        taps = (0..<(k * k)).map { t in Int32(((t / k) * width + t % k) * C) }
        guard Self.runsWinograd(g) else { winograd = nil; return }
        // U = G·g·Gᵀ for each filter and channel, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
        var U = [Float](repeating: 0, count: 16 * C * F)
        func G(_ a: Float, _ b: Float, _ c: Float) -> (Float, Float, Float, Float) {
            (a, (a + b + c) / 2, (a - b + c) / 2, c)
        }
        for f in 0..<F {
            for c in 0..<C {
                let w = { (ky: Int, kx: Int) in W[f, c * 9 + ky * 3 + kx] }
                // G·g: one column of g at a time
                let columns = (0..<3).map { kx in G(w(0, kx), w(1, kx), w(2, kx)) }
                let rows = [columns.map(\.0), columns.map(\.1), columns.map(\.2), columns.map(\.3)]
                for i in 0..<4 {
                    // (G·g)·Gᵀ: row i
                    let u = G(rows[i][0], rows[i][1], rows[i][2])
                    for (j, value) in [u.0, u.1, u.2, u.3].enumerated() { U[((i * 4 + j) * C + c) * F + f] = value }
                }
            }
        }
        winograd = U
    }

    /// Whether a convolution runs as Winograd's F(2×2, 3×3): 3×3, stride 1, even output sides.
    static func runsWinograd(_ g: ConvGeometry) -> Bool {
        g.kernel == 3 && g.stride == 1 && g.output.height % 2 == 0 && g.output.width % 2 == 0
    }

    /// Values of scratch `apply` needs: the zero-padded copy of the input
    /// (when there is padding), then Winograd's transformed tiles, input and
    /// output (`16 × tiles × (C + F)`).
    static func scratchCount(_ g: ConvGeometry) -> Int {
        let padded = g.padding == 0 ? 0 : g.input.channels * (g.input.height + 2 * g.padding) * (g.input.width + 2 * g.padding)
        return padded + (runsWinograd(g) ? 4 * g.output.area * (g.input.channels + g.output.channels) : 0)
    }

    /// `out` (`OH·OW × F`) from `x` (`H·W × C`), both channels-last; `scratch`
    /// holds `scratchCount(geometry)` values. `threaded`: the work is split
    /// across the engine's threads (for one image; a batch gives each
    /// thread its own images instead).
    func apply(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
               threaded: Bool) {
        let g = geometry, C = g.input.channels, F = g.output.channels, p = g.padding
        var source = x
        let width = g.input.width + 2 * p
        if p > 0 {
            // A' = A with p zeros on every side
            let (H, W) = (g.input.height, g.input.width)
            scratch.update(repeating: 0, count: C * (H + 2 * p) * width)
            for y in 0..<H { (scratch + ((y + p) * width + p) * C).update(from: x + y * W * C, count: W * C) }
            source = UnsafePointer(scratch)
        }
        let relu: Int32 = self.relu ? 1 : 0
        bias.withUnsafeBufferPointer { b in
            if let winograd {
                let (tilesY, tilesX) = (g.output.height / 2, g.output.width / 2), tiles = tilesY * tilesX
                let V = scratch + (p > 0 ? C * (g.input.height + 2 * p) * width : 0), M = V + 16 * tiles * C
                winograd.withUnsafeBufferPointer { U in
                    // V[ξ] = (Bᵀ·d·B)[ξ] for every tile, then M[ξ] = V[ξ]·U[ξ], for ξ in rows of 4
                    // (threaded: each thread its rows, so its V stays in its core's cache)
                    func products(_ xi: Range<Int>) {
                        dsk_winograd_input(source, width, C, tilesY, tilesX, xi.lowerBound / 4, xi.upperBound / 4, V)
                        dsk_winograd_products(V, U.baseAddress!, tiles, C, F, xi.lowerBound, xi.upperBound, M)
                    }
                    if threaded { parallelRanges(16, minimumPerThread: 4, granularity: 4, products) } else { products(0..<16) }
                }
                // Y = Aᵀ·M·A + b
                dsk_winograd_output(M, tilesY, tilesX, F, b.baseAddress!, relu, out)
                return
            }
            weights.withUnsafeBufferPointer { w in
                taps.withUnsafeBufferPointer { t in
                    // Z[pixels] = W ⋆ A + b
                    func convolve(_ pixels: Range<Int>) {
                        dsk_conv_hwc(source, g.output.width, g.stride * width * C, g.stride * C, pixels.lowerBound,
                                     pixels.upperBound, t.baseAddress!, t.count, C, w.baseAddress!, b.baseAddress!,
                                     F, relu, out)
                    }
                    if threaded {
                        parallelRanges(g.output.area, minimumPerThread: 1, granularity: 1, convolve)
                    } else {
                        convolve(0..<g.output.area)
                    }
                }
            }
        }
    }
}

extension ImageShape {
    /// The position of each value of a channels-first image (`(c·H + y)·W + x`)
    /// in the channels-last order (`(y·W + x)·C + c`).
    var channelsLastIndex: [Int] {
        var index = [Int](repeating: 0, count: count)
        for c in 0..<channels {
            for i in 0..<area { index[c * area + i] = i * channels + c }
        }
        return index
    }
}
