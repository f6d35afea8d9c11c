import Glibc

/// Random distortions of the training images that match how people's
/// digits differ from MNIST's: slant, size and shape (`affine`), wobbly
/// strokes (`elastic`, in the manner of Simard, Steinkraus and Platt, 2003)
/// and pen width (`stroke`). Each image gets its own distortion, drawn per
/// epoch from the trainer's augmentation generator (whose state checkpoints
/// save), so a run is the same for the same seed and resumes exactly.
public struct Augmentation: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Rotation, scale, shear and translation.
    public var affine = false
    /// A smooth random displacement of every pixel.
    public var elastic = false
    /// Thinner or thicker strokes.
    public var stroke = false

    public init(affine: Bool = false, elastic: Bool = false, stroke: Bool = false) {
        self.affine = affine
        self.elastic = elastic
        self.stroke = stroke
    }

    /// No distortion.
    public static let none = Augmentation()

    /// True when nothing is distorted.
    public var isEmpty: Bool { !affine && !elastic && !stroke }

    /// The kinds, comma-separated (`affine,elastic`), or `none`.
    public var description: String {
        let kinds = [affine ? "affine" : nil, elastic ? "elastic" : nil, stroke ? "stroke" : nil].compactMap { $0 }
        return kinds.isEmpty ? "none" : kinds.joined(separator: ",")
    }

    /// Parses `affine,elastic,stroke` (any subset, any order) or `none`.
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
            default:
                throw DeepScratchError.invalidSetting(name: flag, value: spec,
                                                      expected: "affine, elastic, stroke (comma-separated) or none")
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

    /// Random numbers one image's distortion takes from the generator.
    public func drawsPerImage(rows: Int, cols: Int) -> Int {
        (affine ? 5 : 0) + (elastic ? 2 * Self.gridSide(rows) * Self.gridSide(cols) : 0) + (stroke ? 1 : 0)
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
        for r in 0..<rows { for c in 0..<cols { inner[r * stride + c] = Float(src[r * cols + c]) } }
        if stroke { changeStrokes(src, rows: rows, cols: cols, by: take(), into: inner, stride: stride) }
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
        let (cx, cy) = (Float(cols - 1) / 2, Float(rows - 1) / 2)
        let (a00, a01, a10, a11) = (Float(m00), Float(m01), Float(m10), Float(m11))
        let (bx, by) = (Float(tx) + cx, Float(ty) + cy)
        let spacing = Float(Self.elasticSpacing), amplitude = Float(Self.elasticAmplitude)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * cols) { e in
            let (ex, ey) = (e.baseAddress!, e.baseAddress! + cols)
            for r in 0..<rows {
                let py = Float(r) - cy
                if elastic {
                    // e(p) along this row: the control points' displacements, bilinear between them.
                    let grid = u + next
                    let gy = Float(r) / spacing
                    let iy = Int(gy), fy = gy - Float(iy)
                    for c in 0..<cols {
                        let gx = Float(c) / spacing
                        let ix = Int(gx), fx = gx - Float(ix)
                        let (p00, p10) = (2 * (iy * gw + ix), 2 * (iy * gw + ix + 1))
                        let (p01, p11) = (2 * ((iy + 1) * gw + ix), 2 * ((iy + 1) * gw + ix + 1))
                        let w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy
                        ex[c] = amplitude * (w00 * Float(grid[p00]) + w10 * Float(grid[p10]) + w01 * Float(grid[p01]) + w11 * Float(grid[p11]))
                        ey[c] = amplitude * (w00 * Float(grid[p00 + 1]) + w10 * Float(grid[p10 + 1])
                                             + w01 * Float(grid[p01 + 1]) + w11 * Float(grid[p11 + 1]))
                    }
                } else {
                    ex.update(repeating: 0, count: cols)
                    ey.update(repeating: 0, count: cols)
                }
                for c in 0..<cols {
                    let px = Float(c) - cx
                    let sx = a00 * px + a01 * py + bx + ex[c]
                    let sy = a10 * px + a11 * py + by + ey[c]
                    dst[r * cols + c] = UInt8(Self.bilinear(inner, stride: stride, rows: rows, cols: cols, x: sx, y: sy).rounded())
                }
            }
        }
    }

    /// Floats `distort` needs for an image of `rows × cols`.
    public static func workSize(rows: Int, cols: Int) -> Int { (rows + 3) * (cols + 3) }

    /// The image at the real point (x, y), bilinear between its four
    /// neighbours; 0 outside. `image` rows are `stride` apart and framed by
    /// background (1 pixel before, 2 after), so a point clamped to
    /// [−1, side] reads only the frame where it is outside.
    @inline(__always)
    static func bilinear(_ image: UnsafePointer<Float>, stride: Int, rows: Int, cols: Int, x: Float, y: Float) -> Float {
        let cx = min(max(x, -1), Float(cols)), cy = min(max(y, -1), Float(rows))
        let (x0, y0) = (Int(cx.rounded(.down)), Int(cy.rounded(.down)))
        let (fx, fy) = (cx - Float(x0), cy - Float(y0))
        let p = image + y0 * stride + x0
        let top = p[0] + fx * (p[1] - p[0])
        let bottom = p[stride] + fx * (p[stride + 1] - p[stride])
        return min(255, max(0, top + fy * (bottom - top)))
    }

    /// Blends the image towards its dilation (`u > 0`: thicker strokes, by
    /// `u · thickerChange`) or erosion (`u < 0`: thinner, by
    /// `|u| · thinnerChange`) over the 4-neighbourhood.
    func changeStrokes(_ src: UnsafePointer<UInt8>, rows: Int, cols: Int, by u: Double,
                       into work: UnsafeMutablePointer<Float>, stride: Int) {
        let thicker = u > 0
        let t = Float(abs(u) * (thicker ? Self.thickerChange : Self.thinnerChange))
        for r in 0..<rows {
            for c in 0..<cols {
                // The 4-neighbours; outside the image is background (0).
                let up = r > 0 ? src[(r - 1) * cols + c] : 0, down = r + 1 < rows ? src[(r + 1) * cols + c] : 0
                let left = c > 0 ? src[r * cols + c - 1] : 0, right = c + 1 < cols ? src[r * cols + c + 1] : 0
                let here = src[r * cols + c]
                let extreme = thicker ? max(max(here, up), max(down, max(left, right)))
                                      : min(min(here, up), min(down, min(left, right)))
                let x = Float(src[r * cols + c])
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
