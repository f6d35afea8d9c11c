import Glibc

/// Random distortions of the training images that match how people's
/// digits differ from MNIST's: slant, size and shape (`affine`), wobbly
/// strokes (`elastic`, in the manner of Simard, Steinkraus and Platt, 2003)
/// pen width (`stroke`) and coarse capture (`lowres`: a digit scanned or
/// photographed at a few pixels per stroke, its holes and gaps filled in).
/// Each image gets its own distortion, drawn per
/// epoch from the trainer's augmentation generator (whose state checkpoints
/// save), so a run is the same for the same seed and resumes exactly.
public struct Augmentation: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Rotation, scale, shear and translation.
    public var affine = false
    /// A smooth random displacement of every pixel.
    public var elastic = false
    /// Thinner or thicker strokes.
    public var stroke = false
    /// A quarter of the images seen at a coarse resolution.
    public var lowres = false

    public init(affine: Bool = false, elastic: Bool = false, stroke: Bool = false, lowres: Bool = false) {
        self.affine = affine
        self.elastic = elastic
        self.stroke = stroke
        self.lowres = lowres
    }

    /// No distortion.
    public static let none = Augmentation()

    /// True when nothing is distorted.
    public var isEmpty: Bool { !affine && !elastic && !stroke && !lowres }

    /// The kinds, comma-separated (`affine,elastic`), or `none`.
    public var description: String {
        let kinds = [affine ? "affine" : nil, elastic ? "elastic" : nil, stroke ? "stroke" : nil, lowres ? "lowres" : nil]
            .compactMap { $0 }
        return kinds.isEmpty ? "none" : kinds.joined(separator: ",")
    }

    /// Parses `affine,elastic,stroke,lowres` (any subset, any order) or `none`.
    /// - Throws: `DeepScratchError.invalidSetting` naming `flag`.
    public init(parsing spec: String, flag: String = "--augment") throws {
        self.init()
        let words = spec.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmedSpaces.lowercased() }
        if words == ["none"] { return }
        for word in words {
            switch word {
            case "affine": affine = true
            case "elastic": elastic = true
            case "stroke": stroke = true
            case "lowres": lowres = true
            default:
                throw DeepScratchError.invalidSetting(name: flag, value: spec,
                                                      expected: "affine, elastic, stroke, lowres (comma-separated) or none")
            }
        }
    }

    // MARK: Strengths (one place)

    /// Largest rotation, degrees either way.
    static let rotationDegrees = 12.0
    /// Largest change of size, as a fraction either way (0.9 … 1.1 times).
    static let scaleChange = 0.10
    /// Largest horizontal shear, as the slope of a vertical line (about 8.5°).
    static let shearSlope = 0.15
    /// Largest translation, pixels either way (besides `--augment-shift`).
    static let translation = 2.0
    /// Elastic displacements are drawn on a grid of control points this many
    /// pixels apart and interpolated between them: a smooth field whose
    /// correlation length is about that of Simard's σ = 4 Gaussian.
    static let elasticSpacing = 7
    /// Largest displacement of a control point, pixels either way (a field of
    /// about 1.4 px standard deviation, as Simard's α = 34, σ = 4 gives).
    static let elasticAmplitude = 2.4
    /// Largest blend towards the dilated (thicker) image.
    static let thickerChange = 0.8
    /// Largest blend towards the eroded (thinner) image: less, as erosion
    /// takes a thin stroke away entirely.
    static let thinnerChange = 0.5
    /// Share of the images `lowres` coarsens: a quarter (with half, a
    /// heavy-looped MNIST 9 came out as a 7; docs/images.md).
    static let lowresShare = 0.25
    /// Sizes of the coarse pixels, in image pixels: a 20-pixel MNIST digit
    /// becomes 10 to 6 coarse pixels tall, as an 8×8 scan of a digit does.
    static let lowresCell = (smallest: 2.0, largest: 3.2)
    /// The coarse image is brought back to ink and paper by a ramp between
    /// these shares of its darkest value, as a thresholding pipeline sees it.
    static let lowresRamp: (Float, Float) = (0.25, 0.55)

    /// Random numbers one image's distortion takes from the generator.
    public func drawsPerImage(rows: Int, cols: Int) -> Int {
        (affine ? 5 : 0) + (elastic ? 2 * Self.gridSide(rows) * Self.gridSide(cols) : 0) + (stroke ? 1 : 0) + (lowres ? 3 : 0)
    }

    /// Control points along a side of `n` pixels.
    static func gridSide(_ n: Int) -> Int { (n + elasticSpacing - 1) / elasticSpacing + 1 }

    /// Draws the random numbers of `count` images (uniform in [−1, 1)) into
    /// `draws`, in image order, from `rng`.
    public func draw(count: Int, rows: Int, cols: Int, from rng: inout RandomSource, into draws: inout [Double]) {
        let n = count * drawsPerImage(rows: rows, cols: cols)
        if draws.count < n { draws = [Double](repeating: 0, count: n) }
        for i in 0..<n { draws[i] = 2 * rng.nextUniform() - 1 }
    }

    /// Distorts one `rows × cols` image `src` into `dst` with the random
    /// numbers `u` (`drawsPerImage` values in [−1, 1)) and the integer shift
    /// (`dx` right, `dy` down), sampling bilinearly; outside the image is
    /// background (0). `work` holds `workSize(rows:cols:)` floats.
    public func distort(_ src: UnsafePointer<UInt8>, rows: Int, cols: Int, draws u: UnsafePointer<Double>, dx: Int, dy: Int,
                 work: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<UInt8>) {
        var next = 0
        func take() -> Double { defer { next += 1 }; return u[next] }
        // The source as floats, strokes changed first (the pen, then the page), framed by
        // background: 1 pixel above and left, 2 below and right, so sampling needs no bounds checks.
        let stride = cols + 3
        work.update(repeating: 0, count: Self.workSize(rows: rows, cols: cols))
        let inner = work + stride + 1
        // The ink's box in the source (rows r0...r1, columns c0...c1); only it is converted and restroked.
        var (c0, r0, c1, r1) = (cols, rows, -1, -1)
        let words = (cols + 7) / 8
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words) { column in
            // The OR of each column and of each row, 8 columns to a word, then the box's ends.
            column.initialize(repeating: 0)
            for r in 0..<rows {
                let line = UnsafeRawPointer(src + r * cols)
                var any: UInt64 = 0
                for w in 0..<(cols / 8) {
                    let v = UInt64(littleEndian: line.loadUnaligned(fromByteOffset: 8 * w, as: UInt64.self))
                    column[w] |= v
                    any |= v
                }
                for c in (cols / 8 * 8)..<cols {
                    let v = UInt64(line.load(fromByteOffset: c, as: UInt8.self)) << (8 * UInt64(c % 8))
                    column[c / 8] |= v
                    any |= v
                }
                if any != 0 { (r0, r1) = (min(r0, r), r) }
            }
            if r1 >= 0 {
                // Column c is byte c % 8 of word c / 8, the first column in the low byte.
                func inked(_ c: Int) -> Bool { column[c / 8] >> (8 * UInt64(c % 8)) & 0xFF != 0 }
                c0 = (0..<cols).first(where: inked)!
                c1 = (0..<cols).last(where: inked)!
            }
        }
        if r1 >= 0 {
            for r in r0...r1 { for c in c0...c1 { inner[r * stride + c] = Float(src[r * cols + c]) } }
        }
        if stroke {
            let change = take()
            // Thickening reaches a pixel beyond the box (inside the image); thinning stays within it.
            if r1 >= 0 {
                if change > 0 { (c0, r0, c1, r1) = (max(0, c0 - 1), max(0, r0 - 1), min(cols - 1, c1 + 1), min(rows - 1, r1 + 1)) }
                changeStrokes(src, rows: rows, cols: cols, box: (c0, r0, c1, r1), by: change, into: inner, stride: stride)
            }
        }
        let ink = (Float(c0), Float(r0), Float(c1), Float(r1))  // empty (c0 > c1) for an empty image
        // Output pixel p (centered coordinates) reads source point M·p + t + e(p), M the inverse of the
        // affine map A = R(θ)·Shear(k)·S(s), t the inverse shift, e the elastic displacement.
        var (m00, m01, m10, m11) = (1.0, 0.0, 0.0, 1.0)
        var (tx, ty) = (-Double(dx), -Double(dy))
        if affine {
            let theta = take() * Self.rotationDegrees * .pi / 180
            let s = 1 + take() * Self.scaleChange
            let k = take() * Self.shearSlope
            tx -= take() * Self.translation
            ty -= take() * Self.translation
            // A = [[c, −sn], [sn, c]] · [[1, k], [0, 1]] · s;  M = A⁻¹ = (1/s) · [[1, −k], [0, 1]] · [[c, sn], [−sn, c]]
            let (c, sn) = (Glibc.cos(theta), Glibc.sin(theta))
            (m00, m01, m10, m11) = ((c + k * sn) / s, (sn - k * c) / s, -sn / s, c / s)
        }
        let gw = Self.gridSide(cols)
        let (cx, cy) = (Float(cols - 1) / 2, Float(rows - 1) / 2)  // the center the map turns about
        let (a00, a01, a10, a11) = (Float(m00), Float(m01), Float(m10), Float(m11))
        let (bx, by) = (Float(tx) + cx, Float(ty) + cy)
        let spacing = Float(Self.elasticSpacing), amplitude = Float(Self.elasticAmplitude)
        let margin = elastic ? amplitude : 0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * cols + 2 * gw) { e in
            let (ex, ey, rowGrid, fxs) = (e.baseAddress!, e.baseAddress! + cols, e.baseAddress! + 2 * cols,
                                          e.baseAddress! + 2 * cols + 2 * gw)
            ex.update(repeating: 0, count: 2 * cols)
            withUnsafeTemporaryAllocation(of: Int.self, capacity: cols) { ixs in
                // Each column's place between the control points: the same for every row.
                for c in 0..<cols {
                    let gx = Float(c) / spacing
                    ixs[c] = Int(gx)
                    fxs[c] = gx - Float(ixs[c])
                }
                for r in 0..<rows {
                    // Source x = a00·px + a01·py + bx + ex, y = a10·px + a11·py + by + ey, px = c − cx.
                    let py = Float(r) - cy
                    let (x0, y0) = (a01 * py + bx - a00 * cx, a11 * py + by - a10 * cx)
                    let columns = Self.sampledColumns(x0: x0, dx: a00, y0: y0, dy: a10, ink: ink, margin: margin, cols: cols)
                    if elastic && !columns.isEmpty {
                        // e(p) along this row: the control points' displacements, bilinear between them —
                        // first between the two grid rows around r, then along the row.
                        let grid = u + next
                        let gy = Float(r) / spacing
                        let iy = Int(gy), fy = gy - Float(iy)
                        for k in 0..<(2 * gw) {
                            rowGrid[k] = amplitude * ((1 - fy) * Float(grid[2 * iy * gw + k]) + fy * Float(grid[2 * (iy + 1) * gw + k]))
                        }
                        for c in columns {
                            let (ix, fx) = (ixs[c], fxs[c])
                            ex[c] = (1 - fx) * rowGrid[2 * ix] + fx * rowGrid[2 * ix + 2]
                            ey[c] = (1 - fx) * rowGrid[2 * ix + 1] + fx * rowGrid[2 * ix + 3]
                        }
                    }
                    Self.sampleRow(inner, stride: stride, ink: ink, x0: x0, dx: a00, y0: y0, dy: a10,
                                   ex: ex, ey: ey, columns: columns, cols: cols, into: dst + r * cols)
                }
            }
        }
        if lowres {
            next += elastic ? 2 * Self.gridSide(rows) * gw : 0
            let (apply, size, phase) = (take(), take(), take())
            if (apply + 1) / 2 < Self.lowresShare {
                let cell = Self.lowresCell.smallest + (size + 1) / 2 * (Self.lowresCell.largest - Self.lowresCell.smallest)
                coarsen(dst, rows: rows, cols: cols, cell: cell, phase: (phase + 1) / 2 * cell, work: work)
            }
        }
    }

    /// Sees `image` at a resolution of one coarse pixel per `cell × cell`
    /// pixels (the grid starting `phase` pixels before the first pixel):
    /// each coarse pixel the average it covers, read back bilinearly, then
    /// ramped between `lowresRamp` shares of the darkest value so strokes
    /// keep ink and paper. `work` holds `workSize(rows:cols:)` floats.
    func coarsen(_ image: UnsafeMutablePointer<UInt8>, rows: Int, cols: Int, cell: Double, phase: Double,
                 work: UnsafeMutablePointer<Float>) {
        // Coarse pixels per side, covering [−phase, side) entirely.
        let (gr, gc) = (max(2, Int((Double(rows) + phase) / cell) + 1), max(2, Int((Double(cols) + phase) / cell) + 1))
        precondition(gr * cols + gr * gc <= Self.workSize(rows: rows, cols: cols) && cell < Double(Self.span - 1))
        let span = Self.span
        withUnsafeTemporaryAllocation(of: Float.self, capacity: (gr + gc) * (span + 1) + 2 * (rows + cols)) { buffer in
            let t = buffer.baseAddress!
            // Per axis and coarse pixel i: its first pixel, then the weights of `span` pixels from it —
            // the overlap of [x, x+1) with [i·cell − phase, (i+1)·cell − phase), over cell.
            func weights(_ g: Int, _ n: Int, into w: UnsafeMutablePointer<Float>) {
                for i in 0..<g {
                    let (lo, hi) = (Double(i) * cell - phase, Double(i + 1) * cell - phase)
                    let first = max(0, Int(lo.rounded(.down)))
                    w[i * (span + 1)] = Float(first)
                    for k in 0..<span {
                        let x = first + k
                        let overlap = x < n ? min(Double(x + 1), hi) - max(Double(x), lo) : 0
                        w[i * (span + 1) + 1 + k] = overlap > 0 ? Float(overlap / cell) : 0
                    }
                }
            }
            let (wr, wc) = (t, t + gr * (span + 1))
            weights(gr, rows, into: wr)
            weights(gc, cols, into: wc)
            // A = the column averages (gr × cols), then C = the coarse image (gr × gc).
            let A = work, C = work + gr * cols
            for i in 0..<gr {
                let w = wr + i * (span + 1), first = Int(w[0])
                for c in 0..<cols { A[i * cols + c] = 0 }
                for k in 0..<span where w[1 + k] > 0 {
                    let line = image + (first + k) * cols
                    for c in 0..<cols { A[i * cols + c] += w[1 + k] * Float(line[c]) }
                }
            }
            var darkest: Float = 0
            for i in 0..<gr {
                for j in 0..<gc {
                    let w = wc + j * (span + 1), first = Int(w[0])
                    var sum: Float = 0
                    for k in 0..<span where w[1 + k] > 0 { sum += w[1 + k] * A[i * cols + first + k] }
                    C[i * gc + j] = sum
                    darkest = max(darkest, sum)
                }
            }
            guard darkest > 0 else { return }
            // Pixel x's center in coarse coordinates, (x + ½ + phase) / cell − ½, clamped to the grid:
            // the coarse pixel before it and the fraction towards the next.
            let (ri, ci) = (t + (gr + gc) * (span + 1), t + (gr + gc) * (span + 1) + 2 * rows)
            func coordinates(_ n: Int, _ g: Int, into out: UnsafeMutablePointer<Float>) {
                for x in 0..<n {
                    let v = min(max((Double(x) + 0.5 + phase) / cell - 0.5, 0), Double(g - 1))
                    let i = min(Int(v), g - 2)
                    out[2 * x] = Float(i)
                    out[2 * x + 1] = Float(v - Double(i))
                }
            }
            coordinates(rows, gr, into: ri)
            coordinates(cols, gc, into: ci)
            let (lo, scale) = (Self.lowresRamp.0 * darkest, 1 / ((Self.lowresRamp.1 - Self.lowresRamp.0) * darkest))
            for r in 0..<rows {
                let (i, fy) = (Int(ri[2 * r]), ri[2 * r + 1])
                for c in 0..<cols {
                    let (j, fx) = (Int(ci[2 * c]), ci[2 * c + 1])
                    let p = C + i * gc + j
                    let top = p[0] + fx * (p[1] - p[0]), bottom = p[gc] + fx * (p[gc + 1] - p[gc])
                    // ramp(v) = clamp((v − lo) / (hi − lo), 0, 1) · 255
                    let ramp = min(max((top + fy * (bottom - top) - lo) * scale, 0), 1)
                    image[r * cols + c] = UInt8(truncatingIfNeeded: Int32(ramp * 255 + 0.5))
                }
            }
        }
    }

    /// Pixels a coarse pixel can overlap along an axis (cells up to 3.2 px).
    static let span = 5

    /// The columns of a row whose straight-line sample point
    /// (x0 + c·dx, y0 + c·dy) comes within `margin` (the largest elastic
    /// displacement) of the ink's box `ink` widened by a pixel, with a column
    /// to spare either side: the only ones `sampleRow` needs to look at.
    @inline(__always)
    static func sampledColumns(x0: Float, dx: Float, y0: Float, dy: Float, ink: (Float, Float, Float, Float),
                               margin: Float, cols: Int) -> Range<Int> {
        // The columns c with start + c·step in (lo, hi), as a half-open range within 0..<cols, widened by one.
        func columns(_ start: Float, _ step: Float, _ lo: Float, _ hi: Float) -> (Int, Int) {
            if abs(step) < 1e-6 { return start > lo - 1 && start < hi + 1 ? (0, cols) : (0, 0) }
            let (a, b) = ((lo - start) / step, (hi - start) / step)
            let (first, last) = (min(a, b).rounded(.down) - 1, max(a, b).rounded(.up) + 1)
            guard first < Float(cols), last > 0 else { return (0, 0) }
            return (Int(max(first, 0)), Int(min(last, Float(cols - 1))) + 1)
        }
        let (xa, xb) = columns(x0, dx, ink.0 - 1 - margin, ink.2 + 1 + margin)
        let (ya, yb) = columns(y0, dy, ink.1 - 1 - margin, ink.3 + 1 + margin)
        let first = max(xa, ya)
        return first..<max(first, min(xb, yb))
    }

    /// One output row: pixel c samples the source (bilinear) at
    /// (x0 + c·dx + ex[c], y0 + c·dy + ey[c]) for c in `columns` (those of
    /// `sampledColumns`), and the others are background; a point at least a
    /// pixel outside the ink's box `ink` (x0, y0, x1, y1) is background
    /// without reading anything, and every other one reads inside the frame.
    @inline(__always)
    static func sampleRow(_ image: UnsafePointer<Float>, stride: Int, ink: (Float, Float, Float, Float),
                          x0: Float, dx: Float, y0: Float, dy: Float, ex: UnsafePointer<Float>, ey: UnsafePointer<Float>,
                          columns: Range<Int>, cols: Int, into out: UnsafeMutablePointer<UInt8>) {
        out.update(repeating: 0, count: columns.lowerBound)
        (out + columns.upperBound).update(repeating: 0, count: cols - columns.upperBound)
        for c in columns {
            let x = x0 + Float(c) * dx + ex[c], y = y0 + Float(c) * dy + ey[c]
            guard x > ink.0 - 1, x < ink.2 + 1, y > ink.1 - 1, y < ink.3 + 1 else { out[c] = 0; continue }
            let (xf, yf) = (x.rounded(.down), y.rounded(.down))
            let (fx, fy) = (x - xf, y - yf)
            let p = image + Int(yf) * stride + Int(xf)
            let top = p[0] + fx * (p[1] - p[0])
            let bottom = p[stride] + fx * (p[stride + 1] - p[stride])
            // In [0, 255] (a blend of values in it); + ½ truncated: rounded to the nearest byte.
            out[c] = UInt8(truncatingIfNeeded: Int32(top + fy * (bottom - top) + 0.5))
        }
    }

    /// Floats `distort` needs for an image of `rows × cols`.
    public static func workSize(rows: Int, cols: Int) -> Int { (rows + 3) * (cols + 3) }

    /// Blends the image towards its dilation (`u > 0`: thicker strokes, by
    /// `u · thickerChange`) or erosion (`u < 0`: thinner, by
    /// `|u| · thinnerChange`) over the 4-neighbourhood, within `box` (columns
    /// `box.0...box.2`, rows `box.1...box.3`; the background around it stays).
    func changeStrokes(_ src: UnsafePointer<UInt8>, rows: Int, cols: Int, box: (Int, Int, Int, Int), by u: Double,
                       into work: UnsafeMutablePointer<Float>, stride: Int) {
        let thicker = u > 0
        let t = Float(abs(u) * (thicker ? Self.thickerChange : Self.thinnerChange))
        for r in box.1...box.3 {
            for c in box.0...box.2 {
                // The 4-neighbours; outside the image is background (0).
                let up = r > 0 ? src[(r - 1) * cols + c] : 0, down = r + 1 < rows ? src[(r + 1) * cols + c] : 0
                let left = c > 0 ? src[r * cols + c - 1] : 0, right = c + 1 < cols ? src[r * cols + c + 1] : 0
                let here = src[r * cols + c]
                let extreme = thicker ? max(max(here, up), max(down, max(left, right)))
                                      : min(min(here, up), min(down, min(left, right)))
                let x = Float(here)
                work[r * stride + c] = x + t * (Float(extreme) - x)
            }
        }
    }

}

extension LabeledImages {
    /// `assemble` with every image distorted by `augmentation` (the random
    /// numbers `draws`, `drawsPerImage` per image in order, and the integer
    /// `shifts` as `assemble` takes them), the images spread over the
    /// engine's threads.
    package func assemble<T: Scalar>(_ indices: UnsafeBufferPointer<Int32>, table: [T], into X: Matrix<T>,
                                     labels: inout [Int32], shifts: [Int8]?, augmentation: Augmentation,
                                     draws: [Double]) {
        let m = indices.count, features = rows * cols
        let perImage = augmentation.drawsPerImage(rows: rows, cols: cols)
        precondition(labels.count >= m && (shifts?.count ?? Int.max) >= 2 * m && draws.count >= m * perImage)
        X.resize(cols: m)
        let x = X.data
        let (rows, cols) = (self.rows, self.cols)
        pixels.withUnsafeBufferPointer { px in
            self.labels.withUnsafeBufferPointer { lb in
                table.withUnsafeBufferPointer { t in
                    draws.withUnsafeBufferPointer { u in
                        labels.withUnsafeMutableBufferPointer { out in
                            for j in 0..<m { out[j] = Int32(lb[Int(indices[j])]) }
                        }
                        let shift = shifts
                        parallelRanges(m, minimumPerThread: 16, granularity: 16) { range in
                            let work = UnsafeMutablePointer<Float>.allocate(capacity: Augmentation.workSize(rows: rows, cols: cols))
                            let image = UnsafeMutablePointer<UInt8>.allocate(capacity: features)
                            defer { work.deallocate(); image.deallocate() }
                            for j in range {
                                let src = px.baseAddress! + Int(indices[j]) * features
                                let (dx, dy) = (Int(shift?[2 * j] ?? 0), Int(shift?[2 * j + 1] ?? 0))
                                augmentation.distort(src, rows: rows, cols: cols, draws: u.baseAddress! + j * perImage,
                                                     dx: dx, dy: dy, work: work, into: image)
                                for i in 0..<features { x[i * m + j] = t[Int(image[i])] }
                            }
                        }
                    }
                }
            }
        }
    }
}
