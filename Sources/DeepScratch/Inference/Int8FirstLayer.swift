import CKernels

/// The first layer of a model whose weights are int8, for batches of
/// 8-bit pixels, in integer arithmetic.
///
/// An int8 model file stores each row of `W` as `s_i · q_ij` with `q` in
/// −127…127. Pixels are bytes over 255 (`p = u / 255`), and the first layer
/// reads `x = (p − mean) / std`, so with the background folded into the bias
/// as the float path does it:
/// `Z_i = (b + W·x_bg)_i + s_i / (255 · std) · Σ_j q_ij · u_j`,
/// where the sum is exact in 32-bit integers (`dsk_u8s8_panels`, AVX-512
/// VNNI: 64 byte products per instruction). It is used only where that
/// kernel runs; elsewhere the float sparse product is faster.
struct Int8FirstLayer: Sendable {
    /// Groups of 4 inputs (the last one padded with zeros).
    let groups: Int
    /// Panels of 64 outputs (the last one padded with zero weights).
    let panels: Int
    /// `q` as `panels × groups × 64 × 4`: for each panel and group, the 4
    /// inputs of each of its 64 outputs side by side.
    let weights: [Int8]
    /// `s_i / (255 · std)`: turns output `i`'s integer sum into its share of `Z`.
    let factor: [Float]

    /// The largest input count whose sums cannot overflow 32 bits
    /// (`4 · groups · 255 · 127 < 2³¹`).
    static let maximumInputs = 4 * 16_384

    /// The int8 form of `W` (`outputs × inputs`), or nil when some row is
    /// not `s · q` with integers `q` in −127…127 (an f32 or f16 model), or
    /// the layer has more than `maximumInputs` inputs.
    init?(W: Matrix<Float>, inverseStd: Float) {
        let outputs = W.rows, inputs = W.cols
        guard inputs > 0, inputs <= Self.maximumInputs else { return nil }
        groups = (inputs + 3) / 4
        panels = (outputs + 63) / 64
        var q = [Int8](repeating: 0, count: panels * groups * 256)
        var factor = [Float](repeating: 0, count: panels * 64)
        for i in 0..<outputs {
            var maxAbs: Float = 0
            for j in 0..<inputs { maxAbs = max(maxAbs, abs(W[i, j])) }
            guard maxAbs.isFinite else { return nil }
            // s = max|w| / 127, as the file's encoder chose it (to a unit in the last place).
            let s: Float = maxAbs > 0 ? maxAbs / 127 : 1
            let (p, c) = (i / 64, i % 64)
            for j in 0..<inputs {
                let w = W[i, j], k = (w / s).rounded()
                guard abs(k) <= 127, abs(w - k * s) <= maxAbs * 0x1p-20 else { return nil }
                q[(p * groups + j / 4) * 256 + 4 * c + j % 4] = Int8(k)
            }
            factor[i] = s * inverseStd / 255
        }
        weights = q
        self.factor = factor
    }

    /// Bytes per image row in `bytes(of:…)`'s output.
    var rowBytes: Int { 4 * groups }
    /// Sums per image row in `sums`.
    var rowSums: Int { 64 * panels }

    /// The pixel bytes `u = 255 · p` of `count` images (`inputs` values each)
    /// into `x`, one row of `rowBytes` per image, zeros after the last input
    /// and in the rows up to a multiple of 4. Returns false, leaving the
    /// float path to the caller, when a pixel is not within 10⁻⁴ / 255 of a
    /// multiple of 1/255 in [0, 1] (what PNG input and byte images give).
    func bytes(of pixels: UnsafePointer<Float>, count: Int, inputs: Int, into x: UnsafeMutablePointer<UInt8>) -> Bool {
        let rows = (count + 3) / 4 * 4
        x.update(repeating: 0, count: rows * rowBytes)
        for r in 0..<count where dsk_bytes_from_unit_floats(pixels + r * inputs, inputs, x + r * rowBytes) == 0 {
            return false
        }
        return true
    }

    /// `Σ_j q_ij · u_j` for each image row of `x` (`count` images as
    /// `bytes(of:…)` wrote them) into `sums`, `rowSums` per row, rows up to
    /// a multiple of 4. `scratch` holds `5 · groups` words.
    func sums(_ x: UnsafePointer<UInt8>, count: Int, into sums: UnsafeMutablePointer<Int32>,
              scratch: UnsafeMutablePointer<UInt32>) {
        weights.withUnsafeBufferPointer { w in
            dsk_u8s8_panels(x, rowBytes, (count + 3) / 4 * 4, w.baseAddress!, groups, panels, sums, rowSums, scratch)
        }
    }

    /// Whether this CPU runs the integer kernel faster than the float path.
    static var pays: Bool { dsk_u8s8_is_fast() != 0 }
}
