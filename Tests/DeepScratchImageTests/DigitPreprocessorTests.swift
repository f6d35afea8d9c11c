import Foundation
import XCTest
@testable import DeepScratch
import DeepScratchTestSupport
@testable import DeepScratchImage

/// A digit drawn with a round pen along line segments, anti-aliased: each
/// pixel's ink coverage is `pen/2 + 0.5 − d` clamped to 0…1, where `d` is
/// the distance from the pixel's center to the nearest segment.
struct PenDigit {
    /// A "4": the stem, the diagonal from its top, and the crossbar, in a unit box (y down).
    static let four: [(Double, Double, Double, Double)] = [
        (0.70, 0.00, 0.70, 1.00),
        (0.70, 0.00, 0.00, 0.68),
        (0.00, 0.68, 1.00, 0.68),
    ]

    var width: Int
    var height: Int
    /// Ink coverage per pixel, 0 (paper) … 1 (ink), row-major.
    var coverage: [Double]

    /// `segments` scaled into the box (x, y, w, h) of a `width × height` canvas, drawn with a pen `pen` pixels wide.
    init(width: Int, height: Int, box: (x: Double, y: Double, w: Double, h: Double), pen: Double,
         segments: [(Double, Double, Double, Double)] = PenDigit.four) {
        self.width = width
        self.height = height
        coverage = [Double](repeating: 0, count: width * height)
        let segs = segments.map { (box.x + $0.0 * box.w, box.y + $0.1 * box.h, box.x + $0.2 * box.w, box.y + $0.3 * box.h) }
        let reach = pen / 2 + 1
        let x0 = max(0, Int((box.x - reach).rounded(.down))), x1 = min(width - 1, Int((box.x + box.w + reach).rounded(.up)))
        let y0 = max(0, Int((box.y - reach).rounded(.down))), y1 = min(height - 1, Int((box.y + box.h + reach).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                let px = Double(x) + 0.5, py = Double(y) + 0.5
                var d = Double.infinity
                for (ax, ay, bx, by) in segs { d = min(d, PenDigit.distance(px, py, ax, ay, bx, by)) }
                coverage[y * width + x] = min(1, max(0, pen / 2 + 0.5 - d))
            }
        }
    }

    /// Distance from (px, py) to the segment (ax, ay)–(bx, by).
    static func distance(_ px: Double, _ py: Double, _ ax: Double, _ ay: Double, _ bx: Double, _ by: Double) -> Double {
        let dx = bx - ax, dy = by - ay
        let len2 = dx * dx + dy * dy
        let t = len2 == 0 ? 0 : min(1, max(0, ((px - ax) * dx + (py - ay) * dy) / len2))
        let cx = ax + t * dx - px, cy = ay + t * dy - py
        return (cx * cx + cy * cy).squareRoot()
    }

    /// Dark ink on paper: gray = paper(x, y) · (1 − (1 − inkReflectance) · coverage).
    func image(paper: (Int, Int) -> Double = { _, _ in 255 }, inkReflectance: Double = 0) -> GrayImage {
        var gray = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let c = coverage[y * width + x]
                let v = paper(x, y) * (1 - (1 - inkReflectance) * c)
                gray[y * width + x] = UInt8(min(255, max(0, v.rounded())))
            }
        }
        return GrayImage(width: width, height: height, gray: gray)
    }

    /// Bounding box (x0, y0, x1, y1) of the pixels at least half covered.
    var inkBox: (x0: Int, y0: Int, x1: Int, y1: Int) {
        var b = (x0: width, y0: height, x1: -1, y1: -1)
        for y in 0..<height { for x in 0..<width where coverage[y * width + x] >= 0.5 {
            b = (min(b.x0, x), min(b.y0, y), max(b.x1, x), max(b.y1, y))
        } }
        return b
    }
}

/// Facts about a 28×28 output, computed here from its pixels.
struct FrameStats {
    let pixels: [UInt8]
    init(_ pixels: [UInt8]) {
        precondition(pixels.count == 784)
        self.pixels = pixels
    }

    /// Intensity-weighted center of mass, in pixel-index coordinates.
    var centerOfMass: (x: Double, y: Double) {
        var m = 0.0, mx = 0.0, my = 0.0
        for y in 0..<28 { for x in 0..<28 {
            let v = Double(pixels[y * 28 + x]); m += v; mx += v * Double(x); my += v * Double(y)
        } }
        return m > 0 ? (mx / m, my / m) : (.nan, .nan)
    }

    /// Bounding box of the pixels above `threshold`: width and height (0 if none).
    func extent(above threshold: UInt8 = 0) -> (width: Int, height: Int, x0: Int, y0: Int, x1: Int, y1: Int) {
        var x0 = 28, y0 = 28, x1 = -1, y1 = -1
        for y in 0..<28 { for x in 0..<28 where pixels[y * 28 + x] > threshold {
            x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
        } }
        return x1 < 0 ? (0, 0, 0, 0, -1, -1) : (x1 - x0 + 1, y1 - y0 + 1, x0, y0, x1, y1)
    }

    /// Fraction of the 784 pixels brighter than 128 (ink).
    var inkFraction: Double { Double(pixels.filter { $0 > 128 }.count) / 784 }

    /// How many pixels differ from `other` by more than `levels`.
    func countDiffering(from other: [UInt8], by levels: Int) -> Int {
        zip(pixels, other).filter { abs(Int($0) - Int($1)) > levels }.count
    }
}

/// `DigitPreprocessor`: what real pictures of digits become.
final class DigitPreprocessorTests: XCTestCase {
    private let preprocessor = DigitPreprocessor()

    /// The clean "4" most tests start from: black ink on white, 280×280, centered, 14-pixel pen.
    private func cleanFour() -> PenDigit {
        PenDigit(width: 280, height: 280, box: (x: 80, y: 50, w: 120, h: 180), pen: 14)
    }

    func testDarkOnLightAndLightOnDarkVersionsGiveTheSameInput() throws {
        let digit = cleanFour().image()
        let inverted = GrayImage(width: digit.width, height: digit.height, gray: digit.gray.map { 255 - $0 })
        let a = try preprocessor.process(digit, name: "dark-on-light")
        let b = try preprocessor.process(inverted, name: "light-on-dark")
        XCTAssertGreaterThan(FrameStats(a).inkFraction, 0.02, "a digit came out")
        XCTAssertLessThanOrEqual(maxAbsDifference(a, b), 1)

        // The MNIST digit, both ways round.
        let (side, mnistDark) = try ReferenceDigit.darkOnLight(factor: 3)
        let c = try preprocessor.process(GrayImage(width: side, height: side, gray: mnistDark))
        let d = try preprocessor.process(GrayImage(width: side, height: side, gray: mnistDark.map { 255 - $0 }))
        XCTAssertGreaterThan(FrameStats(c).inkFraction, 0.02, "a digit came out")
        XCTAssertLessThanOrEqual(maxAbsDifference(c, d), 1)
    }

    func testDarkOnLightOutputIsLightInkOnBlackLikeMNIST() throws {
        let out = try preprocessor.process(cleanFour().image())
        // MNIST: the border is background (0) and the strokes are bright.
        for i in 0..<28 {
            XCTAssertEqual(out[i], 0, "top row"); XCTAssertEqual(out[27 * 28 + i], 0, "bottom row")
            XCTAssertEqual(out[i * 28], 0, "left column"); XCTAssertEqual(out[i * 28 + 27], 0, "right column")
        }
        XCTAssertGreaterThanOrEqual(out.max() ?? 0, 230)
    }

    func testDigitInTheTopLeftCornerComesOutCenteredByMassWithItsLongerSide20Pixels() throws {
        let digit = PenDigit(width: 280, height: 280, box: (x: 12, y: 10, w: 64, h: 100), pen: 9)
        let out = FrameStats(try preprocessor.process(digit.image(), name: "corner"))
        let com = out.centerOfMass
        XCTAssertEqual(com.x, 14, accuracy: 1, "center of mass x")
        XCTAssertEqual(com.y, 14, accuracy: 1, "center of mass y")
        let e = out.extent()
        // The digit is taller than wide: its height becomes 20, its width keeps the aspect ratio.
        let box = digit.inkBox
        let inkW = Double(box.x1 - box.x0 + 1), inkH = Double(box.y1 - box.y0 + 1)
        XCTAssertGreaterThan(inkH, inkW)
        XCTAssertEqual(Double(max(e.width, e.height)), 20, accuracy: 1, "longer side: \(e)")
        XCTAssertEqual(Double(e.height), 20, accuracy: 1, "the taller side is the one scaled to 20: \(e)")
        XCTAssertEqual(Double(e.width), 20 * inkW / inkH, accuracy: 1.5, "aspect ratio kept: \(e), ink \(inkW)x\(inkH)")
    }

    func testWideDigitComesOutWithItsWidth20Pixels() throws {
        // The same "4" stretched wide, in the bottom-right corner.
        let digit = PenDigit(width: 280, height: 280, box: (x: 150, y: 200, w: 110, h: 60), pen: 8)
        let out = FrameStats(try preprocessor.process(digit.image(), name: "wide"))
        let e = out.extent()
        XCTAssertEqual(Double(e.width), 20, accuracy: 1, "the wider side is scaled to 20: \(e)")
        XCTAssertLessThan(e.height, e.width)
        XCTAssertEqual(out.centerOfMass.x, 14, accuracy: 1)
        XCTAssertEqual(out.centerOfMass.y, 14, accuracy: 1)
    }

    func testMNISTInkFractionsLieInThePlausibleRangeUsedBelow() throws {
        // The 8–30 % range used for stroke width is MNIST's own: check it on
        // the real test images of 4s (the digit drawn in these tests).
        let set = try ReferenceDigit.testSet()
        var fractions = [Double]()
        for i in 0..<set.count where set.labels[i] == 4 {
            let img = set.pixels[(i * 784)..<((i + 1) * 784)]
            fractions.append(Double(img.filter { $0 > 128 }.count) / 784)
        }
        fractions.sort()
        let p10 = fractions[fractions.count / 10], p90 = fractions[fractions.count * 9 / 10]
        XCTAssertGreaterThanOrEqual(p10, 0.08)
        XCTAssertLessThanOrEqual(p90, 0.30)
    }

    /// The stroke-width tests' digit: 200 pixels tall on a 280×280 canvas.
    private func four(pen: Double) -> PenDigit {
        PenDigit(width: 280, height: 280, box: (x: 70, y: 40, w: 140, h: 200), pen: pen)
    }

    func testOnePixelStrokeIsRedrawnToMNISTLikeWidth() throws {
        let digit = four(pen: 1)
        // Without redrawing, a 1-pixel line scaled by 20/201 would leave almost no pixel above 128.
        let out = FrameStats(try preprocessor.process(digit.image(), name: "thin"))
        XCTAssertGreaterThanOrEqual(out.inkFraction, 0.08, "ink fraction \(out.inkFraction)")
        XCTAssertLessThanOrEqual(out.inkFraction, 0.30, "ink fraction \(out.inkFraction)")
    }

    func testVeryThickStrokeIsRedrawnToMNISTLikeWidth() throws {
        // A 50-pixel marker on a 200-pixel digit: 5 pixels at MNIST's 20, twice its width.
        let digit = four(pen: 50)
        let out = FrameStats(try preprocessor.process(digit.image(), name: "thick"))
        XCTAssertGreaterThanOrEqual(out.inkFraction, 0.08, "ink fraction \(out.inkFraction)")
        XCTAssertLessThanOrEqual(out.inkFraction, 0.30, "ink fraction \(out.inkFraction)")
    }

    func testOrdinaryStrokeHasMNISTLikeWidth() throws {
        let out = FrameStats(try preprocessor.process(four(pen: 22).image(), name: "ordinary"))
        XCTAssertGreaterThanOrEqual(out.inkFraction, 0.08, "ink fraction \(out.inkFraction)")
        XCTAssertLessThanOrEqual(out.inkFraction, 0.30, "ink fraction \(out.inkFraction)")
    }

    func testStrongLightingGradientGivesNearlyTheCleanOutput() throws {
        let digit = cleanFour()
        let clean = try preprocessor.process(digit.image(paper: { _, _ in 250 }, inkReflectance: 0.2), name: "clean")
        // Paper from 250 (top left) down to 100 (bottom right); ink reflects 20 % of the light.
        let shaded = digit.image(paper: { x, y in 250 - 150 * Double(x + y) / Double(2 * 279) }, inkReflectance: 0.2)
        let out = FrameStats(try preprocessor.process(shaded, name: "shaded"))
        let far = out.countDiffering(from: clean, by: 64)
        XCTAssertLessThanOrEqual(far, 78, "\(far) of 784 pixels differ by more than 64 levels")
    }

    func testSideLightingWithDarkEdgeGivesNearlyTheCleanOutput() throws {
        // Light falling off steeply from the left edge (250) to the right (70).
        let digit = cleanFour()
        let clean = try preprocessor.process(digit.image(paper: { _, _ in 250 }, inkReflectance: 0.15), name: "clean")
        let shaded = digit.image(paper: { x, _ in 250 - 180 * pow(Double(x) / 279, 1.5) }, inkReflectance: 0.15)
        let out = FrameStats(try preprocessor.process(shaded, name: "side-lit"))
        let far = out.countDiffering(from: clean, by: 64)
        XCTAssertLessThanOrEqual(far, 78, "\(far) of 784 pixels differ by more than 64 levels")
    }

    func testRuledPaperLinesAreIgnored() throws {
        let digit = cleanFour()
        let clean = try preprocessor.process(digit.image(), name: "clean")
        // Thin gray (150) lines every 20 pixels across the whole page, under the ink.
        let ruled = digit.image(paper: { _, y in y % 20 == 10 ? 150 : 255 })
        XCTAssertEqual(ruled.gray[10 * 280 + 5], 150, "a line at the page edge")
        let out = FrameStats(try preprocessor.process(ruled, name: "ruled"))
        let far = out.countDiffering(from: clean, by: 64)
        XCTAssertLessThanOrEqual(far, 78, "\(far) of 784 pixels differ by more than 64 levels")
    }

    func testSquaredPaperLinesAreIgnored() throws {
        let digit = cleanFour()
        let clean = try preprocessor.process(digit.image(), name: "clean")
        let squared = digit.image(paper: { x, y in (y % 20 == 10 || x % 20 == 10) ? 160 : 255 })
        let out = FrameStats(try preprocessor.process(squared, name: "squared"))
        let far = out.countDiffering(from: clean, by: 64)
        XCTAssertLessThanOrEqual(far, 78, "\(far) of 784 pixels differ by more than 64 levels")
    }

    func testSpecksAwayFromTheDigitAreRemoved() throws {
        let digit = cleanFour()
        let cleanImage = digit.image()
        let clean = FrameStats(try preprocessor.process(cleanImage, name: "clean"))
        // 40 dark dots, 3 pixels across, at least 20 pixels away from the digit's ink.
        let box = digit.inkBox
        var rng = RandomSource(seed: 42)
        var specks = cleanImage
        var placed = 0
        while placed < 40 {
            let cx = 3 + rng.nextInt(below: 274), cy = 3 + rng.nextInt(below: 274)
            if cx > box.x0 - 20 && cx < box.x1 + 20 && cy > box.y0 - 20 && cy < box.y1 + 20 { continue }
            for y in (cy - 2)...(cy + 2) { for x in (cx - 2)...(cx + 2) {
                let d = ((Double(x - cx)) * Double(x - cx) + Double(y - cy) * Double(y - cy)).squareRoot()
                let c = min(1, max(0, 1.5 + 0.5 - d))
                let i = y * 280 + x
                specks.gray[i] = min(specks.gray[i], UInt8((255 * (1 - c)).rounded()))
            } }
            placed += 1
        }
        XCTAssertGreaterThan(zip(specks.gray, cleanImage.gray).filter { $0 != $1 }.count, 40 * 5)
        let out = FrameStats(try preprocessor.process(specks, name: "specks"))
        let e = out.extent(), ce = clean.extent()
        XCTAssertEqual([e.x0, e.y0, e.x1, e.y1], [ce.x0, ce.y0, ce.x1, ce.y1], "the digit's place and size are unchanged")
        let far = out.countDiffering(from: clean.pixels, by: 16)
        XCTAssertLessThanOrEqual(far, 8, "\(far) of 784 pixels differ by more than 16 levels")
    }

    func testBlankPageHasNoDigit() {
        let blank = GrayImage(width: 280, height: 280, gray: [UInt8](repeating: 240, count: 280 * 280))
        assertThrowsDeepScratchError(try preprocessor.process(blank, name: "blank.png"), mentions: ["blank.png", "no digit found"])
    }
}
