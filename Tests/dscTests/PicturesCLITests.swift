import DeepScratch
import DeepScratchImage
import DeepScratchTools
import Foundation
import XCTest
@testable import dsc

/// `dsc train --plot/--log`, `dsc show`, `dsc eval --mistakes`, `--data
/// DIR --classes …` on a data set that is not MNIST, and `--dataset fashion`.
final class PicturesCLITests: XCTestCase {
    static let names = ["bar", "pole", "slash"]

    /// An IDX data set of 8×8 images in three classes — a horizontal bar, a
    /// vertical bar, a diagonal — at random positions with noise; every
    /// tenth test label is wrong, so any model makes mistakes.
    static func writeTinyDataset(to folder: String, train: Int = 600, test: Int = 90) throws {
        var rng = RandomSource(seed: 42)
        func images(_ n: Int, flipEvery: Int?) -> (pixels: [UInt8], labels: [UInt8]) {
            var pixels = [UInt8](), labels = [UInt8]()
            for i in 0..<n {
                var image = (0..<64).map { _ in UInt8(rng.nextUniform() * 60) }
                let label = i % 3, at = 1 + Int(rng.nextUniform() * 6)
                for k in 0..<8 {
                    let (r, c) = label == 0 ? (at, k) : label == 1 ? (k, at) : (k, k)
                    image[r * 8 + c] = 200 + UInt8(rng.nextUniform() * 55)
                }
                pixels += image
                labels.append(UInt8(flipEvery.map { i % $0 == 0 } == true ? (label + 1) % 3 : label))
            }
            return (pixels, labels)
        }
        func idx(_ dims: [Int], _ data: [UInt8]) -> [UInt8] {
            var out: [UInt8] = [0, 0, 8, UInt8(dims.count)]
            for d in dims { out += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
            return out + data
        }
        let (trainPixels, trainLabels) = images(train, flipEvery: nil)
        let (testPixels, testLabels) = images(test, flipEvery: 10)
        let files: [(String, [UInt8])] = [
            ("train-images-idx3-ubyte", idx([train, 8, 8], trainPixels)), ("train-labels-idx1-ubyte", idx([train], trainLabels)),
            ("t10k-images-idx3-ubyte", idx([test, 8, 8], testPixels)), ("t10k-labels-idx1-ubyte", idx([test], testLabels)),
        ]
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/\(name)")) }
    }

    /// The CSV log as points (the numbers the chart must show).
    private func readLog(_ path: String) throws -> [CurvePoint] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = DSCHarness.lines(text)
        XCTAssertEqual(lines.first, "epoch,train_loss,train_accuracy,dev_loss,dev_accuracy")
        return try lines.dropFirst().map { line in
            let f = line.split(separator: ",").map { Double($0) }
            guard f.count == 5, f.allSatisfy({ $0 != nil && $0!.isFinite }) else { throw TestSupportError("bad log line '\(line)'") }
            return CurvePoint(epoch: Int(f[0]!), trainLoss: f[1]!, trainAccuracy: f[2]!, devLoss: f[3]!, devAccuracy: f[4]!)
        }
    }

    func testTrainOnCustomIDXSetDrawsCurvesLogsEpochsAndKeepsClassNames() throws {
        let folder = try TemporaryFolder()
        let data = folder.path + "/tiny"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Self.writeTinyDataset(to: data)
        let model = folder.path + "/tiny.dsm", plot = folder.path + "/curve.png", log = folder.path + "/train.csv"
        let r = try DSCHarness.run(["train", "--data", data, "--classes", Self.names.joined(separator: ","), "--hidden", "16",
                                    "--epochs", "4", "--dev", "90", "--augment-shift", "0", "--threads", "1",
                                    "--plot", plot, "--log", log, "-o", model], home: folder.path)
        XCTAssertEqual(r.status, 0, r.stderr)

        // The model: 64 inputs, 3 outputs, the names given, the 8x8 input shape.
        let m = try Model.load(path: model)
        XCTAssertEqual(m.classes, Self.names)
        XCTAssertEqual(m.architecture.sizes, [64, 16, 3])
        XCTAssertEqual(m.inputShape, [8, 8, 1])
        XCTAssertEqual(m.metadata["train.dataset"]?.stringValue, "tiny")

        // The log: one row per epoch with the numbers training printed.
        let points = try readLog(log)
        XCTAssertEqual(points.map(\.epoch), [1, 2, 3, 4])
        for p in points {
            XCTAssertTrue((0...1).contains(p.trainAccuracy) && (0...1).contains(p.devAccuracy!), "\(p)")
            XCTAssertGreaterThan(p.trainLoss, 0)
            let printed = "dev loss \(String(format: "%.4f", p.devLoss!))"
            XCTAssertTrue(r.stdout.contains(printed), "epoch \(p.epoch): '\(printed)' not in the output")
        }

        // The chart: a PNG of the chart's size whose curve pixels sit where the logged numbers say.
        let image = try PNG.read(path: plot)
        XCTAssertEqual(image.width, LearningCurveChart.width)
        XCTAssertEqual(image.height, LearningCurveChart.height)
        let (lossPanel, accuracyPanel) = LearningCurveChart.layout(points, epochs: 4)
        func luma(_ c: RGB) -> UInt8 { PNG.luma(c.r, c.g, c.b) }
        func gray(_ q: (x: Int, y: Int)) -> UInt8 { image.gray[q.y * image.width + q.x] }
        for p in points {
            let e = Double(p.epoch)
            // Dev curves are drawn last: their points are never covered.
            XCTAssertEqual(gray(lossPanel.pixel(e, p.devLoss!)), luma(LearningCurveChart.devColor), "dev loss, epoch \(p.epoch)")
            XCTAssertEqual(gray(accuracyPanel.pixel(e, p.devAccuracy! * 100)), luma(LearningCurveChart.devColor), "dev accuracy, epoch \(p.epoch)")
            // Train points, where no dev point lies within 4 pixels.
            for (panel, train, dev) in [(lossPanel, p.trainLoss, p.devLoss!), (accuracyPanel, p.trainAccuracy * 100, p.devAccuracy! * 100)] {
                let q = panel.pixel(e, train), d = panel.pixel(e, dev)
                if abs(q.y - d.y) > 4 { XCTAssertEqual(gray(q), luma(LearningCurveChart.trainColor), "train, epoch \(p.epoch)") }
            }
        }

        // dsc inspect and dsc eval name the classes.
        let inspect = try DSCHarness.run(["inspect", model], home: folder.path)
        XCTAssertTrue(inspect.stdout.contains("classes: bar pole slash"), inspect.stdout)

        // dsc eval --mistakes: the grid of the worst mistakes, and the list with class names.
        let mistakes = folder.path + "/mistakes.png"
        let e = try DSCHarness.run(["eval", "--model", model, "--data", data, "--mistakes", mistakes, "--count", "5"], home: folder.path)
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertNotNil(DSCHarness.match(#"^  test image \d+: true (bar|pole|slash), predicted (bar|pole|slash) "#, in: e.stdout), e.stdout)
        let grid = try PNG.read(path: mistakes)
        // Cells are at least as wide as "said slash 97%" and as tall as the image and two captions.
        XCTAssertGreaterThanOrEqual(grid.width, 5 * (BitmapFont.width("said bar 9%") + 2 * ImageGrid.padding), "five mistakes in a row")
        XCTAssertGreaterThanOrEqual(grid.height, 16 + 2 * ImageGrid.lineHeight + 2 * ImageGrid.padding)
        // --list-mistakes N sets how many are listed; --mistakes N, the old spelling, still does, with a warning.
        let listed = try DSCHarness.run(["eval", "--model", model, "--data", data, "--list-mistakes", "2"], home: folder.path)
        XCTAssertEqual(listed.stdout.components(separatedBy: "  test image ").count - 1, 2, listed.stdout)
        XCTAssertFalse(listed.stderr.contains("deprecated"), listed.stderr)
        let old = try DSCHarness.run(["eval", "--model", model, "--data", data, "--mistakes", "3"], home: folder.path)
        XCTAssertEqual(old.status, 0, old.stderr)
        XCTAssertEqual(old.stdout.components(separatedBy: "  test image ").count - 1, 3, old.stdout)
        XCTAssertTrue(old.stderr.contains("--mistakes 3 is deprecated: use --list-mistakes 3"), old.stderr)
        let bad = try DSCHarness.run(["eval", "--model", model, "--data", data, "--mistakes", "m.jpg"], home: folder.path)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--mistakes"), bad.stderr)
    }

    func testShowDrawsTheFirstImagesWithTheirLabels() throws {
        let folder = try TemporaryFolder()
        try Self.writeTinyDataset(to: folder.path)
        let out = folder.path + "/show.png"
        let r = try DSCHarness.run(["show", "--data", folder.path, "--classes", Self.names.joined(separator: ","),
                                    "--split", "train", "--count", "5", out], home: folder.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        let image = try PNG.read(path: out)
        let set = try IDXDataset.load(directory: folder.path, classes: 3)
        let tiles = (0..<5).map { i in
            GridTile(pixels: set.train.pixels[(i * 64)..<((i + 1) * 64)], rows: 8, cols: 8, captions: [(Self.names[Int(set.train.labels[i])], .black)])
        }
        let cell = ImageGrid.cellSize(tiles, scale: 2)
        XCTAssertGreaterThanOrEqual(image.width, 5 * cell.width, "the title may be wider than the cells")
        let top = image.height - cell.height   // one row of cells under the title
        XCTAssertGreaterThan(top, 0)
        // Each image is drawn 2x: its pixel (r, c) fills a 2x2 block.
        for i in 0..<5 {
            let x0 = i * cell.width + (cell.width - 16) / 2, y0 = top + ImageGrid.padding
            for (r, c) in [(0, 0), (3, 5), (7, 7)] {
                XCTAssertEqual(image.gray[(y0 + 2 * r + 1) * image.width + x0 + 2 * c + 1], set.train.pixels[i * 64 + r * 8 + c], "image \(i) (\(r),\(c))")
            }
        }
        let tooMany = try DSCHarness.run(["show", "--data", folder.path, "--count", "0", out], home: folder.path)
        XCTAssertNotEqual(tooMany.status, 0)
        XCTAssertEqual(tooMany.stderrLines.count, 1, tooMany.stderr)
    }

    func testFashionTrainsWithItsClassNamesShownByEvalAndInspect() throws {
        let folder = try TemporaryFolder()
        let model = folder.path + "/f.dsm"
        let r = try DSCHarness.run(["train", "--dataset", "fashion", "--hidden", "16", "--epochs", "1", "--dev", "0", "-o", model],
                                   home: folder.path, limit: 900)
        XCTAssertEqual(r.status, 0, "needs Debian's dataset-fashion-mnist: \(r.stderr)")
        let m = try Model.load(path: model)
        XCTAssertEqual(m.classes, DataLocation.fashionClasses)
        XCTAssertEqual(m.metadata["train.dataset"]?.stringValue, "fashion-mnist")
        // eval finds Fashion-MNIST's test set by itself and names the classes.
        let e = try DSCHarness.run(["eval", "--model", model, "--json"], home: folder.path)
        XCTAssertEqual(e.status, 0, e.stderr)
        let report = try XCTUnwrap(try DSCHarness.json(e) as? [String: Any])
        XCTAssertEqual(report["classes"] as? [String], DataLocation.fashionClasses)
        XCTAssertEqual(report["examples"] as? Int, 10_000)
        let accuracy = try XCTUnwrap(report["accuracy"] as? Double)
        XCTAssertGreaterThan(accuracy, 0.7, "one epoch of a small network already beats chance by far")
        let mistakes = try XCTUnwrap(report["mistakes"] as? [[String: Any]])
        XCTAssertTrue(mistakes.allSatisfy { DataLocation.fashionClasses.contains($0["true"] as? String ?? "") })
        let show = try DSCHarness.run(["show", "--dataset", "fashion", "--count", "8", folder.path + "/s.png"], home: folder.path)
        XCTAssertEqual(show.status, 0, show.stderr)
        let width = try PNG.read(path: folder.path + "/s.png").width
        XCTAssertEqual(width % 8, 0, "eight cells in a row")
        XCTAssertGreaterThanOrEqual(width, 8 * (2 * 28 + 2 * ImageGrid.padding))
    }
}
