import DeepScratch
/// Turns a photo, scan or drawing of one digit into the 28×28 input MNIST
/// networks expect, the way MNIST itself was made: light ink on a dark
/// background, cropped to the ink, the longer side scaled to 20 pixels with
/// area averaging, and placed in a 28×28 frame with its center of mass at
/// the center — plus what real pictures need first: transparency,
/// polarity, uneven light and tinted paper, ruled or squared paper, specks,
/// and strokes far thinner or thicker than MNIST's.
public struct DigitPreprocessor: Sendable {
    /// Output side (28 for MNIST).
    public var frame = 28
    /// Side of the box the digit's longer side is scaled to (20 for MNIST).
    public var box = 20
    /// Where the center of mass lands, in pixel coordinates (MNIST's training
    /// images average (14.0, 14.0)).
    public var center = (x: 14.0, y: 14.0)
    /// Working resolution: larger images are first area-averaged down to this longer side.
    public var workingSide = 256
    /// Target stroke width in output pixels (MNIST: 2 to 4, edges included).
    public var strokeWidth = 3.0

    public init() {}

    /// The 28×28 image (row-major, 0 = background … 255 = ink) for `image`.
    /// - Parameter name: the file name, for errors.
    /// - Throws: `DeepScratchError.badImage` when no ink can be found.
    public func process(_ image: GrayImage, name: String = "<image>") throws -> [UInt8] {
        // 1. Ink map at a bounded working resolution.
        var (g, w, h) = inkMap(image)
        // 2. Remove uneven background: subtract a coarse local background level.
        Self.subtractBackground(&g, w, h)
        // 3. Threshold (Otsu) and find the ink.
        guard let (lo, hi) = Self.inkLevels(g) else {
            throw DeepScratchError.badImage(path: name, reason: "no digit found: the image has no ink (it is blank or nearly uniform)")
        }
        var mask = g.map { $0 > lo }
        // 4. Ruled or squared paper: long thin lines across the image.
        Self.removeLines(&mask, &g, w, h)
        // 5. Specks: keep the largest component and those of comparable size.
        guard let (x0, y0, x1, y1) = Self.keepDigitComponents(&mask, w, h) else {
            throw DeepScratchError.badImage(path: name, reason: "no digit found: no ink remains after removing specks and lines")
        }
        // Soft ink values, 0…1, only where the digit is.
        let cw = x1 - x0 + 1, ch = y1 - y0 + 1
        var soft = [Float](repeating: 0, count: cw * ch)
        var cropMask = [Bool](repeating: false, count: cw * ch)
        let span = max(1e-6, hi - lo * 0.5)
        for y in 0..<ch {
            for x in 0..<cw {
                let i = (y + y0) * w + (x + x0)
                // Near the kept ink only (one pixel around it), for anti-aliased edges.
                if mask[i] || Self.neighborsMask(mask, w, h, x + x0, y + y0) {
                    soft[y * cw + x] = min(1, max(0, (g[i] - lo * 0.5) / span))
                }
                cropMask[y * cw + x] = mask[i]
            }
        }
        // 6. Stroke width: strokes far from MNIST's (1-pixel pens, markers) are redrawn.
        let scale = Double(box) / Double(max(cw, ch))
        // Images already near MNIST's scale keep their strokes (their pixels
        // are all the evidence there is). Every larger one is redrawn at the
        // target width, whatever its pen, so the output does not jump as a
        // pen crosses some threshold.
        if scale < 0.7 {
            let width = Self.strokeWidth(cropMask, cw, ch)
            if abs(strokeWidth - width * scale) > 0.25 {
                soft = Self.restroke(cropMask, cw, ch, current: width, target: strokeWidth / scale)
            }
        }
        // 7. Longer side to `box` pixels with area averaging.
        let bw = max(1, Int((Double(cw) * scale).rounded())), bh = max(1, Int((Double(ch) * scale).rounded()))
        let small = Self.areaResize(soft, cw, ch, bw, bh)
        // 8. Into the frame, center of mass at `center`.
        var mass = 0.0, mx = 0.0, my = 0.0
        for y in 0..<bh { for x in 0..<bw { let v = Double(small[y * bw + x]); mass += v; mx += v * Double(x); my += v * Double(y) } }
        guard mass > 0 else { throw DeepScratchError.badImage(path: name, reason: "no digit found: the ink vanished when scaled") }
        let ox = Int((center.x - mx / mass).rounded()), oy = Int((center.y - my / mass).rounded())
        var out = [UInt8](repeating: 0, count: frame * frame)
        for y in 0..<bh {
            let ty = y + oy
            guard ty >= 0, ty < frame else { continue }
            for x in 0..<bw {
                let tx = x + ox
                guard tx >= 0, tx < frame else { continue }
                out[ty * frame + tx] = UInt8(min(255, max(0, (small[y * bw + x] * 255).rounded())))
            }
        }
        return out
    }

    // MARK: Steps

    /// Ink strength per pixel, 0…255 with ink bright, area-averaged down to
    /// at most `workingSide` pixels on the longer side: transparent pixels
    /// are background, and light backgrounds are inverted.
    func inkMap(_ image: GrayImage) -> (map: [Float], width: Int, height: Int) {
        let (w, h) = (image.width, image.height)
        let n = w * h
        let f = max(1, (max(w, h) + workingSide - 1) / workingSide)
        let nw = (w + f - 1) / f, nh = (h + f - 1) / f
        var sums = [UInt32](repeating: 0, count: nw * nh)
        var counts = [UInt32](repeating: 0, count: nw * nh)
        image.gray.withUnsafeBufferPointer { gray in
            image.alpha.withUnsafeBufferPointer { alpha in
                // Composite over the background that contrasts with the opaque
                // pixels (black strokes on a transparent canvas become black on white).
                var minimumAlpha: UInt8 = 255
                for i in 0..<n { minimumAlpha = min(minimumAlpha, alpha[i]) }
                let transparent = minimumAlpha < 255
                var opaqueSum = 0, opaqueCount = 0
                if transparent {
                    for i in 0..<n where alpha[i] >= 128 { opaqueSum += Int(gray[i]); opaqueCount += 1 }
                }
                let backdrop: UInt32 = opaqueCount > 0 && opaqueSum < 128 * opaqueCount ? 255 : 0
                // Column sums over each band of f rows (vectorizes), then cell sums.
                var columns = [UInt32](repeating: 0, count: w)
                columns.withUnsafeMutableBufferPointer { columns in
                    let c = columns.baseAddress!
                    for cy in 0..<nh {
                        c.update(repeating: 0, count: w)
                        let y1 = min(h, cy * f + f)
                        for y in (cy * f)..<y1 {
                            let g = gray.baseAddress! + y * w, a = alpha.baseAddress! + y * w
                            if transparent {
                                // 255 × composite, exact in integers.
                                for x in 0..<w {
                                    let al = UInt32(a[x])
                                    c[x] &+= UInt32(g[x]) &* al &+ backdrop &* (255 &- al)
                                }
                            } else {
                                for x in 0..<w { c[x] &+= UInt32(g[x]) }
                            }
                        }
                        let rows = UInt32(y1 - cy * f)
                        for cx in 0..<nw {
                            let x0 = cx * f, x1 = min(w, x0 + f)
                            var acc: UInt32 = 0
                            for x in x0..<x1 { acc &+= c[x] }
                            sums[cy * nw + cx] = transparent ? acc : acc &* 255
                            counts[cy * nw + cx] = rows * UInt32(x1 - x0)
                        }
                    }
                }
            }
        }
        // Every cell counts at least one pixel: g is finite (0…255), so the
        // Int(…) conversions of its values in the steps below cannot trap.
        var g = [Float](repeating: 0, count: nw * nh)
        for i in 0..<g.count { g[i] = Float(sums[i]) / (255 * Float(counts[i])) }
        // Polarity from the border: a light border means dark ink.
        if Self.borderMedian(g, nw, nh) > 127 {
            for i in 0..<g.count { g[i] = 255 - g[i] }
        }
        return (g, nw, nh)
    }

    /// The `q`-quantile (0…1) of values in 0…255, from a histogram.
    static func percentile(_ g: [Float], _ q: Double) -> Float {
        var histogram = [Int](repeating: 0, count: 256)
        for v in g { histogram[Int(min(255, max(0, v)))] += 1 }
        let target = Int(Double(g.count) * q)
        var seen = 0
        for v in 0..<256 {
            seen += histogram[v]
            if seen > target { return Float(v) }
        }
        return 255
    }

    static func borderMedian(_ g: [Float], _ w: Int, _ h: Int) -> Float {
        let t = max(1, min(w, h) / 20)
        var histogram = [Int](repeating: 0, count: 256)
        var count = 0
        for y in 0..<h {
            let edgeRow = y < t || y >= h - t
            for x in 0..<w where edgeRow || x < t || x >= w - t {
                histogram[Int(min(255, max(0, g[y * w + x])))] += 1
                count += 1
            }
        }
        var seen = 0
        for v in 0..<256 {
            seen += histogram[v]
            if 2 * seen >= count { return Float(v) }
        }
        return 0
    }

    /// Subtracts a smooth background estimate where the background is
    /// uneven (shading, tinted or unevenly lit paper): the 20th percentile of
    /// each cell of a 4×4 grid (ink rarely covers 80 % of a cell),
    /// interpolated bilinearly. Small images (already cropped digits) and
    /// even backgrounds only lose their common background level.
    static func subtractBackground(_ g: inout [Float], _ w: Int, _ h: Int) {
        if max(w, h) < 64 {
            // A small image is a cropped digit: only its common background level goes.
            let level = percentile(g, 0.05)
            for i in 0..<g.count { g[i] = max(0, g[i] - level) }
            return
        }
        let cells = 4
        let cw = max(1, (w + cells - 1) / cells), ch = max(1, (h + cells - 1) / cells)
        let gx = (w + cw - 1) / cw, gy = (h + ch - 1) / ch
        // Per-cell histograms of the 0…255 values, then each cell's 20th percentile.
        var histograms = [Int32](repeating: 0, count: gx * gy * 256)
        var cellCounts = [Int](repeating: 0, count: gx * gy)
        for y in 0..<h {
            let cy = y / ch
            for x in 0..<w {
                let cell = cy * gx + x / cw
                histograms[cell * 256 + Int(min(255, max(0, g[y * w + x])))] += 1
                cellCounts[cell] += 1
            }
        }
        var level = [Float](repeating: 0, count: gx * gy)
        for cell in 0..<(gx * gy) {
            let target = cellCounts[cell] / 5
            var seen = 0
            for v in 0..<256 {
                seen += Int(histograms[cell * 256 + v])
                if seen > target { level[cell] = Float(v); break }
            }
        }
        let lowest = level.min() ?? 0, highest = level.max() ?? 0
        if highest - lowest < 24 {
            for i in 0..<g.count { g[i] = max(0, g[i] - lowest) }
            return
        }
        for y in 0..<h {
            // Cell centers at (c + 0.5)·size.
            let fy = max(0, min(Float(gy - 1), (Float(y) + 0.5) / Float(ch) - 0.5))
            let y0 = Int(fy), y1 = min(gy - 1, y0 + 1), ty = fy - Float(y0)
            for x in 0..<w {
                let fx = max(0, min(Float(gx - 1), (Float(x) + 0.5) / Float(cw) - 0.5))
                let x0 = Int(fx), x1 = min(gx - 1, x0 + 1), tx = fx - Float(x0)
                let top = level[y0 * gx + x0] * (1 - tx) + level[y0 * gx + x1] * tx
                let bottom = level[y1 * gx + x0] * (1 - tx) + level[y1 * gx + x1] * tx
                let bg = top * (1 - ty) + bottom * ty
                g[y * w + x] = max(0, g[y * w + x] - bg)
            }
        }
    }

    /// Otsu's threshold of the ink map, and a robust ink level (the 95th
    /// percentile above the threshold); nil when there is no contrast.
    static func inkLevels(_ g: [Float]) -> (threshold: Float, ink: Float)? {
        var histogram = [Double](repeating: 0, count: 256)
        for v in g { histogram[Int(min(255, max(0, v)))] += 1 }
        let total = Double(g.count)
        var sum = 0.0
        for v in 0..<256 { sum += Double(v) * histogram[v] }
        var sumB = 0.0, weightB = 0.0, best = -1.0, threshold = 0
        for t in 0..<255 {
            weightB += histogram[t]
            if weightB == 0 { continue }
            let weightF = total - weightB
            if weightF == 0 { break }
            sumB += Double(t) * histogram[t]
            let mB = sumB / weightB, mF = (sum - sumB) / weightF
            let between = weightB * weightF * (mB - mF) * (mB - mF)
            if between > best { best = between; threshold = t }
        }
        // The ink level: the 95th percentile of the pixels above the threshold.
        var aboveCount = 0.0
        for v in (threshold + 1)..<256 { aboveCount += histogram[v] }
        guard aboveCount > 0 else { return nil }
        var seen = 0.0, inkBin = 255
        for v in (threshold + 1)..<256 {
            seen += histogram[v]
            if seen >= 0.95 * aboveCount { inkBin = v; break }
        }
        let ink = Float(inkBin)
        // Ink must stand out: at least 24 gray levels above the background.
        guard ink >= 24 else { return nil }
        // Faint pens: never threshold below a third of the ink level.
        return (max(Float(threshold), ink / 3), ink)
    }

    /// Clears rows and columns that are mostly ink (ruled and squared paper)
    /// when they are thin.
    static func removeLines(_ mask: inout [Bool], _ g: inout [Float], _ w: Int, _ h: Int) {
        // Small images are cropped digits: a full row of ink there is the digit.
        guard w >= 48, h >= 48 else { return }
        var rowFull = [Bool](repeating: false, count: h)
        for y in 0..<h {
            var c = 0
            for x in 0..<w where mask[y * w + x] { c += 1 }
            rowFull[y] = Double(c) > 0.6 * Double(w)
        }
        var colFull = [Bool](repeating: false, count: w)
        for x in 0..<w {
            var c = 0
            for y in 0..<h where mask[y * w + x] { c += 1 }
            colFull[x] = Double(c) > 0.6 * Double(h)
        }
        // Only thin runs of full rows are lines (a thick run would be the digit).
        func thinRuns(_ full: [Bool], _ maxRun: Int) -> [Bool] {
            var out = [Bool](repeating: false, count: full.count)
            var i = 0
            while i < full.count {
                if full[i] {
                    var j = i
                    while j < full.count && full[j] { j += 1 }
                    if j - i <= maxRun { for k in i..<j { out[k] = true } }
                    i = j
                } else { i += 1 }
            }
            return out
        }
        let rows = thinRuns(rowFull, max(2, h / 40)), cols = thinRuns(colFull, max(2, w / 40))
        for y in 0..<h {
            for x in 0..<w where rows[y] || cols[x] {
                // Keep the pixel if the digit crosses the line here (ink just above and below).
                let i = y * w + x
                let crossing = rows[y] ? (y > 1 && y < h - 2 && mask[i - 2 * w] && mask[i + 2 * w])
                                       : (x > 1 && x < w - 2 && mask[i - 2] && mask[i + 2])
                if !crossing { mask[i] = false; g[i] = 0 }
            }
        }
    }

    /// Labels 8-connected components of `mask`, keeps the largest and any at
    /// least 12 % of its size (broken strokes), clears the rest, and returns
    /// the bounding box of what is kept.
    static func keepDigitComponents(_ mask: inout [Bool], _ w: Int, _ h: Int) -> (Int, Int, Int, Int)? {
        var label = [Int32](repeating: -1, count: w * h)
        var sizes = [Int]()
        var stack = [Int]()
        for start in 0..<(w * h) where mask[start] && label[start] < 0 {
            let id = Int32(sizes.count)  // at most w·h ≤ workingSide² components
            var size = 0
            label[start] = id
            stack.append(start)
            while let i = stack.popLast() {
                size += 1
                let x = i % w, y = i / w
                for dy in -1...1 {
                    let ny = y + dy
                    guard ny >= 0, ny < h else { continue }
                    for dx in -1...1 {
                        let nx = x + dx
                        guard nx >= 0, nx < w else { continue }
                        let j = ny * w + nx
                        if mask[j] && label[j] < 0 { label[j] = id; stack.append(j) }
                    }
                }
            }
            sizes.append(size)
        }
        guard let largest = sizes.max(), largest > 0 else { return nil }
        let keep = sizes.map { $0 >= max(2, largest * 12 / 100) }
        var x0 = w, y0 = h, x1 = -1, y1 = -1
        for i in 0..<(w * h) where mask[i] {
            if keep[Int(label[i])] {
                let x = i % w, y = i / w
                x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            } else {
                mask[i] = false
            }
        }
        return x1 >= 0 ? (x0, y0, x1, y1) : nil
    }

    static func neighborsMask(_ mask: [Bool], _ w: Int, _ h: Int, _ x: Int, _ y: Int) -> Bool {
        for dy in -1...1 {
            let ny = y + dy
            guard ny >= 0, ny < h else { continue }
            for dx in -1...1 {
                let nx = x + dx
                if nx >= 0, nx < w, mask[ny * w + nx] { return true }
            }
        }
        return false
    }

    /// Chamfer (3-4) distance, in pixels, from each pixel to the nearest
    /// pixel where `inside` is false (`toInk == false`) or true (`toInk`).
    static func distance(_ mask: [Bool], _ w: Int, _ h: Int, toInk: Bool) -> [Float] {
        let far: Int32 = 1 << 28
        var d = [Int32](repeating: 0, count: w * h)
        d.withUnsafeMutableBufferPointer { buffer in
            let d = buffer.baseAddress!
            for i in 0..<(w * h) { d[i] = (mask[i] != toInk) ? far : 0 }
            @inline(__always) func relax(_ i: Int, _ j: Int, _ c: Int32) { if d[j] + c < d[i] { d[i] = d[j] + c } }
            for y in 0..<h {
                for x in 0..<w {
                    let i = y * w + x
                    if x > 0 { relax(i, i - 1, 3) }
                    if y > 0 {
                        relax(i, i - w, 3)
                        if x > 0 { relax(i, i - w - 1, 4) }
                        if x < w - 1 { relax(i, i - w + 1, 4) }
                    }
                }
            }
            for y in stride(from: h - 1, through: 0, by: -1) {
                for x in stride(from: w - 1, through: 0, by: -1) {
                    let i = y * w + x
                    if x < w - 1 { relax(i, i + 1, 3) }
                    if y < h - 1 {
                        relax(i, i + w, 3)
                        if x < w - 1 { relax(i, i + w + 1, 4) }
                        if x > 0 { relax(i, i + w - 1, 4) }
                    }
                }
            }
        }
        return d.map { $0 >= far ? Float(w + h) : Float($0) / 3 }
    }

    /// Stroke width in pixels, from the mean distance of an ink pixel to the
    /// background.
    static func strokeWidth(_ mask: [Bool], _ w: Int, _ h: Int) -> Double {
        // Pad by one so ink touching the crop edge still has background beside it.
        let pw = w + 2, ph = h + 2
        var padded = [Bool](repeating: false, count: pw * ph)
        for y in 0..<h { for x in 0..<w { padded[(y + 1) * pw + x + 1] = mask[y * w + x] } }
        let d = distance(padded, pw, ph, toInk: false)
        var sum = 0.0, count = 0.0
        for i in 0..<(pw * ph) where padded[i] { sum += Double(d[i]); count += 1 }
        guard count > 0 else { return 1 }
        // Across a stroke W pixels wide the distances run 1, 2, …, 2, 1: their
        // mean is about W/4 + 0.55 (W = 3: 1.33, W = 7: 2.29).
        return max(1, 4 * (sum / count) - 2.2)
    }

    /// Redraws the ink with strokes `target` pixels wide: thin strokes are
    /// dilated, thick ones eroded, using distance transforms.
    static func restroke(_ mask: [Bool], _ w: Int, _ h: Int, current: Double, target: Double) -> [Float] {
        let pad = Int(target.rounded(.up)) + 1
        let pw = w + 2 * pad, ph = h + 2 * pad
        var padded = [Bool](repeating: false, count: pw * ph)
        for y in 0..<h { for x in 0..<w { padded[(y + pad) * pw + x + pad] = mask[y * w + x] } }
        var out = [Float](repeating: 0, count: w * h)
        if target > current {
            // Dilate: pixels within (target − current)/2 of the ink.
            let d = distance(padded, pw, ph, toInk: true)
            let r = Float((target - current) / 2)
            for y in 0..<h { for x in 0..<w {
                let v = d[(y + pad) * pw + x + pad]
                out[y * w + x] = min(1, max(0, r + 0.5 - v))
            } }
        } else {
            // Erode: ink pixels deeper than (current − target)/2 inside.
            let d = distance(padded, pw, ph, toInk: false)
            let r = Float((current - target) / 2)
            for y in 0..<h { for x in 0..<w {
                let v = d[(y + pad) * pw + x + pad]
                out[y * w + x] = min(1, max(0, v - r + 0.5))
            } }
        }
        return out
    }

    /// Resizes `src` (`w × h`) to `nw × nh` by area averaging: each output
    /// pixel is the mean of the source area it covers, fractional edges weighted.
    static func areaResize(_ src: [Float], _ w: Int, _ h: Int, _ nw: Int, _ nh: Int) -> [Float] {
        let sx = Double(w) / Double(nw), sy = Double(h) / Double(nh)
        // Per output column: the source columns it covers and their weights.
        func spans(_ n: Int, _ s: Double, _ limit: Int) -> [[(Int, Float)]] {
            (0..<n).map { o in
                let a = Double(o) * s, b = Double(o + 1) * s
                var parts = [(Int, Float)]()
                var i = Int(a.rounded(.down))
                while Double(i) < b && i < limit {
                    let cover = min(b, Double(i + 1)) - max(a, Double(i))
                    if cover > 0 { parts.append((i, Float(cover / s))) }
                    i += 1
                }
                return parts
            }
        }
        let xs = spans(nw, sx, w), ys = spans(nh, sy, h)
        var out = [Float](repeating: 0, count: nw * nh)
        for oy in 0..<nh {
            for ox in 0..<nw {
                var v: Float = 0
                for (y, wy) in ys[oy] {
                    for (x, wx) in xs[ox] { v += src[y * w + x] * wx * wy }
                }
                out[oy * nw + ox] = v
            }
        }
        return out
    }
}
