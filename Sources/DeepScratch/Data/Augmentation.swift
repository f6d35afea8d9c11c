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
    /// background (0). `work` holds `rows × cols` floats.
    public func distort(_ src: UnsafePointer<UInt8>, rows: Int, cols: Int, draws u: UnsafePointer<Double>, dx: Int, dy: Int,
                 work: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<UInt8>) {
        var next = 0
        func take() -> Double { defer { next += 1 }; return u[next] }
        // The source as floats, strokes changed first (the pen, then the page).
        let count = rows * cols
        for i in 0..<count { work[i] = Float(src[i]) }
        if stroke { changeStrokes(src, rows: rows, cols: cols, by: take(), into: work) }
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
        let grid = elastic ? u + next : nil
        let (cx, cy) = (Double(cols - 1) / 2, Double(rows - 1) / 2)
        let spacing = Double(Self.elasticSpacing)
        for r in 0..<rows {
            for c in 0..<cols {
                let (px, py) = (Double(c) - cx, Double(r) - cy)
                var sx = m00 * px + m01 * py + cx + tx
                var sy = m10 * px + m11 * py + cy + ty
                if let grid {
                    // e(p): the control points' displacements, bilinear between them.
                    let gx = Double(c) / spacing, gy = Double(r) / spacing
                    let (ix, iy) = (Int(gx), Int(gy))
                    let (fx, fy) = (gx - Double(ix), gy - Double(iy))
                    func at(_ x: Int, _ y: Int, _ axis: Int) -> Double { grid[2 * (y * gw + x) + axis] }
                    for axis in 0..<2 {
                        let e = (1 - fy) * ((1 - fx) * at(ix, iy, axis) + fx * at(ix + 1, iy, axis))
                            + fy * ((1 - fx) * at(ix, iy + 1, axis) + fx * at(ix + 1, iy + 1, axis))
                        if axis == 0 { sx += e * Self.elasticAmplitude } else { sy += e * Self.elasticAmplitude }
                    }
                }
                dst[r * cols + c] = UInt8(Self.bilinear(work, rows: rows, cols: cols, x: sx, y: sy).rounded())
            }
        }
    }

    /// The image at the real point (x, y), bilinear between its four
    /// neighbours; 0 outside.
    @inline(__always)
    static func bilinear(_ image: UnsafePointer<Float>, rows: Int, cols: Int, x: Double, y: Double) -> Float {
        guard x > -1, y > -1, x < Double(cols), y < Double(rows) else { return 0 }
        let (x0, y0) = (Int(Glibc.floor(x)), Int(Glibc.floor(y)))
        let (fx, fy) = (Float(x - Double(x0)), Float(y - Double(y0)))
        func v(_ xx: Int, _ yy: Int) -> Float {
            xx >= 0 && yy >= 0 && xx < cols && yy < rows ? image[yy * cols + xx] : 0
        }
        let top = v(x0, y0) + fx * (v(x0 + 1, y0) - v(x0, y0))
        let bottom = v(x0, y0 + 1) + fx * (v(x0 + 1, y0 + 1) - v(x0, y0 + 1))
        return min(255, max(0, top + fy * (bottom - top)))
    }

    /// Blends the image towards its dilation (`u > 0`: thicker strokes, by
    /// `u · thickerChange`) or erosion (`u < 0`: thinner, by
    /// `|u| · thinnerChange`) over the 4-neighbourhood.
    func changeStrokes(_ src: UnsafePointer<UInt8>, rows: Int, cols: Int, by u: Double,
                       into work: UnsafeMutablePointer<Float>) {
        let thicker = u > 0
        let t = Float(abs(u) * (thicker ? Self.thickerChange : Self.thinnerChange))
        for r in 0..<rows {
            for c in 0..<cols {
                var extreme = src[r * cols + c]
                for (nr, nc) in [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)] {
                    // Outside the image is background (0).
                    let v: UInt8 = nr >= 0 && nr < rows && nc >= 0 && nc < cols ? src[nr * cols + nc] : 0
                    extreme = thicker ? max(extreme, v) : min(extreme, v)
                }
                let x = Float(src[r * cols + c])
                work[r * cols + c] = x + t * (Float(extreme) - x)
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
                            let work = UnsafeMutablePointer<Float>.allocate(capacity: features)
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
