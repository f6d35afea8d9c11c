import XCTest
@testable import DeepScratch
@testable import DeepScratchImage
@testable import DeepScratchTools

/// Canvas, font, learning-curve chart, image grid and their PNG encoding.
final class ChartTests: XCTestCase {
    /// Known training numbers: loss falls, accuracy rises, dev lags train.
    private let points = [
        CurvePoint(epoch: 1, trainLoss: 1.9, trainAccuracy: 0.61, devLoss: 1.2, devAccuracy: 0.70),
        CurvePoint(epoch: 2, trainLoss: 0.8, trainAccuracy: 0.80, devLoss: 0.9, devAccuracy: 0.78),
        CurvePoint(epoch: 3, trainLoss: 0.5, trainAccuracy: 0.88, devLoss: 0.7, devAccuracy: 0.84),
        CurvePoint(epoch: 4, trainLoss: 0.3, trainAccuracy: 0.93, devLoss: 0.65, devAccuracy: 0.86),
    ]

    func testNiceAxesHoldTheDataWithRoundSteps() {
        let a = ChartAxis.nice(0, 1.9)
        XCTAssertEqual(a.lo, 0)
        XCTAssertEqual(a.step, 0.5, accuracy: 1e-12)
        XCTAssertEqual(a.hi, 2, accuracy: 1e-12)
        XCTAssertEqual(a.ticks.map { a.label($0) }, ["0.0", "0.5", "1.0", "1.5", "2.0"])
        let b = ChartAxis.nice(61, 93)
        XCTAssertEqual(b.step, 10, accuracy: 1e-12)
        XCTAssertEqual(b.lo, 60, accuracy: 1e-12)
        XCTAssertEqual(b.hi, 100, accuracy: 1e-12)
        XCTAssertEqual(b.label(70), "70")
        let epochs = ChartAxis.nice(0, 3, tickCount: 6, minimumStep: 1)
        XCTAssertEqual(epochs.ticks, [0, 1, 2, 3], "epoch ticks are whole numbers")
        let flat = ChartAxis.nice(0.5, 0.5)
        XCTAssertLessThan(flat.lo, flat.hi, "a single value still gets an axis")
    }

    func testFixedFormatting() {
        XCTAssertEqual(fixed(0.125, 2), "0.13")
        XCTAssertEqual(fixed(-1.5, 1), "-1.5")
        XCTAssertEqual(fixed(99.96, 1), "100.0")
        XCTAssertEqual(fixed(7, 0), "7")
        XCTAssertEqual(fixed(0.05, 2), "0.05")
    }

    func testEveryPlottedPointLandsWhereItsNumbersSay() {
        let canvas = LearningCurveChart.draw(points)
        XCTAssertEqual(canvas.width, LearningCurveChart.width)
        XCTAssertEqual(canvas.height, LearningCurveChart.height)
        let (loss, accuracy) = LearningCurveChart.layout(points)
        // The axes hold every value: loss from 0, accuracy in percent.
        XCTAssertEqual(loss.y.lo, 0)
        XCTAssertGreaterThanOrEqual(loss.y.hi, 1.9)
        XCTAssertLessThanOrEqual(accuracy.y.lo, 61)
        XCTAssertGreaterThanOrEqual(accuracy.y.hi, 93)
        XCTAssertLessThanOrEqual(accuracy.y.hi, 100)
        XCTAssertLessThan(loss.left + loss.width, accuracy.left, "the panels do not overlap")
        for p in points {
            let e = Double(p.epoch)
            let checks: [(ChartPanel, Double, RGB, String)] = [
                (loss, p.trainLoss, LearningCurveChart.trainColor, "train loss"),
                (loss, p.devLoss!, LearningCurveChart.devColor, "dev loss"),
                (accuracy, p.trainAccuracy * 100, LearningCurveChart.trainColor, "train accuracy"),
                (accuracy, p.devAccuracy! * 100, LearningCurveChart.devColor, "dev accuracy"),
            ]
            for (panel, value, color, what) in checks {
                let q = panel.pixel(e, value)
                // The mapping is linear between the plot's edges, independent of the drawing.
                let fy = (value - panel.y.lo) / (panel.y.hi - panel.y.lo)
                XCTAssertEqual(Double(panel.top + panel.height - 1 - q.y), fy * Double(panel.height - 1), accuracy: 0.5, what)
                XCTAssertEqual(canvas[q.x, q.y], color, "\(what) of epoch \(p.epoch) at \(q)")
            }
        }
        // Far from any curve the plot shows background or grid, not a curve color.
        let empty = loss.pixel(3.5, 1.7)
        XCTAssertTrue([RGB.white, RGB.lightGray].contains(canvas[empty.x, empty.y]), "\(canvas[empty.x, empty.y])")
        // A frame surrounds each plot area.
        XCTAssertEqual(canvas[loss.left - 1, loss.top + loss.height / 2], .black)
        XCTAssertEqual(canvas[accuracy.left + accuracy.width, accuracy.top + 3], .black)
        // The segment between epochs 1 and 2 passes through its midpoint.
        let mid = loss.pixel(1.5, (1.9 + 0.8) / 2)
        let near = (-1...1).flatMap { dy in (-1...1).map { dx in canvas[mid.x + dx, mid.y + dy] } }
        XCTAssertTrue(near.contains(LearningCurveChart.trainColor), "the train line is drawn between its points")
    }

    func testEpochAxisReachesThePlannedEpochsWhileTrainingRuns() {
        let (loss, _) = LearningCurveChart.layout(Array(points.prefix(2)), epochs: 30)
        XCTAssertEqual(loss.x.hi, 30)
        let canvas = LearningCurveChart.draw(Array(points.prefix(2)), epochs: 30)
        let q = loss.pixel(2, 0.8)
        XCTAssertEqual(canvas[q.x, q.y], LearningCurveChart.trainColor)
    }

    func testChartWithoutDevSplitDrawsOnlyTrainCurves() {
        let trainOnly = points.map { CurvePoint(epoch: $0.epoch, trainLoss: $0.trainLoss, trainAccuracy: $0.trainAccuracy) }
        let canvas = LearningCurveChart.draw(trainOnly)
        XCTAssertFalse(stride(from: 0, to: canvas.pixels.count, by: 3).contains { i in
            RGB(canvas.pixels[i], canvas.pixels[i + 1], canvas.pixels[i + 2]) == LearningCurveChart.devColor
        }, "no dev color anywhere, not even in the legend")
    }

    func testChartPNGDecodesAtItsSize() throws {
        let canvas = LearningCurveChart.draw(points)
        let png = PNG.encodeRGB(width: canvas.width, height: canvas.height, pixels: canvas.pixels)
        XCTAssertEqual(Array(png.prefix(8)), PNG.pngSignature)
        let decoded = try PNG.decode(png)
        XCTAssertEqual(decoded.width, LearningCurveChart.width)
        XCTAssertEqual(decoded.height, LearningCurveChart.height)
        // The decoder turns RGB into luma; a train point keeps the luma of the train color.
        let q = LearningCurveChart.layout(points).loss.pixel(2, 0.8)
        let c = LearningCurveChart.trainColor
        XCTAssertEqual(decoded.gray[q.y * decoded.width + q.x], PNG.luma(c.r, c.g, c.b))
    }

    func testTextDrawsGlyphPixelsInsideItsBox() {
        var c = Canvas(width: 40, height: 12)
        c.text("1", x: 2, y: 3, .black)
        // "1": rows 04 0C 04 04 04 04 0E; the stem is column 2 of the glyph.
        for row in 0..<7 { XCTAssertEqual(c[2 + 2, 3 + row], .black, "stem row \(row)") }
        XCTAssertEqual(c[2, 3], .white, "top-left of '1' is empty")
        XCTAssertEqual(c[2 + 1, 3 + 6], .black, "the foot (0E) starts at column 1")
        XCTAssertEqual(c[2, 3 + 6], .white, "and leaves column 0 empty")
        XCTAssertEqual(BitmapFont.width("abc", scale: 2), (3 * 6 - 1) * 2)
        var unknown = Canvas(width: 10, height: 10)
        unknown.text("é", x: 0, y: 0, .black)   // drawn as '?', not skipped
        XCTAssertTrue(unknown.pixels.contains(0))
    }

    func testLinesReachBothEndsAndClipAtTheEdges() {
        var c = Canvas(width: 20, height: 10)
        c.line(-5, 2, 30, 7, .red, thickness: 2)
        c.line(3, 1, 15, 8, .blue)
        XCTAssertEqual(c[3, 1], .blue)
        XCTAssertEqual(c[15, 8], .blue)
        XCTAssertEqual(c[0, 2] == .red || c[0, 3] == .red, true)
    }

    func testGridCellsHoldTheImagesAndCaptions() throws {
        let pixels = (0..<(3 * 4 * 5)).map { UInt8($0 * 4) }
        let tiles = (0..<3).map { i in
            GridTile(pixels: pixels[(i * 20)..<((i + 1) * 20)], rows: 4, cols: 5, captions: [("class \(i)", .black), ("x", .red)])
        }
        let cell = ImageGrid.cellSize(tiles, scale: 2)
        XCTAssertEqual(cell.width, BitmapFont.width("class 0") + 2 * ImageGrid.padding)
        XCTAssertEqual(cell.height, 4 * 2 + 2 * ImageGrid.lineHeight + 2 * ImageGrid.padding)
        let canvas = ImageGrid.draw(tiles, columns: 2, scale: 2)
        XCTAssertEqual(canvas.width, 2 * cell.width)
        XCTAssertEqual(canvas.height, 2 * cell.height)
        // Tile 2 sits in the second row, first column; its pixel (row 1, col 3) is enlarged 2x.
        let x0 = (cell.width - 5 * 2) / 2, y0 = cell.height + ImageGrid.padding
        let v = pixels[40 + 1 * 5 + 3]
        XCTAssertEqual(canvas[x0 + 3 * 2 + 1, y0 + 1 * 2 + 1], RGB(v, v, v))
        let decoded = try PNG.decode(PNG.encodeRGB(width: canvas.width, height: canvas.height, pixels: canvas.pixels))
        XCTAssertEqual(decoded.width, canvas.width)
        XCTAssertEqual(decoded.gray[(y0 + 2) * canvas.width + x0 + 6], v, "gray pixels survive the PNG round trip")
    }

    func testProtobufWireFormat() {
        var w = ProtobufWriter()
        w.varint(300)
        XCTAssertEqual(w.bytes, [0xAC, 0x02])
        w = ProtobufWriter()
        w.int(1, 150)
        XCTAssertEqual(w.bytes, [0x08, 0x96, 0x01])
        w = ProtobufWriter()
        w.string(2, "testing")
        XCTAssertEqual(w.bytes, [0x12, 0x07] + Array("testing".utf8))
        w = ProtobufWriter()
        w.int(3, -1)
        XCTAssertEqual(w.bytes, [0x18] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        w = ProtobufWriter()
        w.float(2, 1)
        XCTAssertEqual(w.bytes, [0x15, 0x00, 0x00, 0x80, 0x3F])
        w = ProtobufWriter()
        w.message(3) { $0.int(1, 150) }
        XCTAssertEqual(w.bytes, [0x1A, 0x03, 0x08, 0x96, 0x01])
    }

    func testJSONArrayEscapesClassNames() {
        XCTAssertEqual(ONNXExport.jsonArray(["T-shirt/top", "a\"b", "c\\d", "\n"]), #"["T-shirt/top","a\"b","c\\d","\n"]"#)
    }
}
