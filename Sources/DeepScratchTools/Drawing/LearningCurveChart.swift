import DeepScratch
import Glibc

/// The numbers of one training epoch, as plotted and logged.
public struct CurvePoint: Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    /// Fraction correct, 0…1.
    public var trainAccuracy: Double
    public var devLoss: Double?
    /// Fraction correct, 0…1.
    public var devAccuracy: Double?

    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, devLoss: Double? = nil, devAccuracy: Double? = nil) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.devLoss = devLoss
        self.devAccuracy = devAccuracy
    }
}

/// A linear axis from `lo` to `hi` with tick values at multiples of `step`.
public struct ChartAxis: Equatable, Sendable {
    public var lo: Double
    public var hi: Double
    public var step: Double

    /// The ticks `lo, lo + step, …, hi`.
    public var ticks: [Double] {
        let n = Int(((hi - lo) / step).rounded())
        return (0...max(0, n)).map { lo + Double($0) * step }
    }

    /// The smallest axis with a "nice" step (1, 2 or 5 × 10^k, at least
    /// `minimumStep`) that holds `lo…hi` in about `tickCount` intervals.
    public static func nice(_ lo: Double, _ hi: Double, tickCount: Int = 5, minimumStep: Double = 0) -> ChartAxis {
        var (lo, hi) = (lo.isFinite ? lo : 0, hi.isFinite ? hi : 1)
        if hi <= lo { hi = lo + max(1e-9, abs(lo) * 0.1, minimumStep) }
        let raw = max((hi - lo) / Double(tickCount), 1e-12)
        let magnitude = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * 0.999 } ?? 10 * magnitude
        step = max(step, minimumStep)
        return ChartAxis(lo: floor(lo / step + 1e-9) * step, hi: ceil(hi / step - 1e-9) * step, step: step)
    }

    /// `value` as a tick label, with as many decimals as the step needs.
    public func label(_ value: Double) -> String {
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        return fixed(value, decimals)
    }
}

/// `value` with `decimals` digits after the point, rounded half away from zero.
func fixed(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let n = Int64((abs(value) * scale).rounded())
    let whole = n / Int64(scale), fraction = n % Int64(scale)
    var text = (value < 0 && n != 0 ? "-" : "") + String(whole)
    if decimals > 0 {
        let digits = String(fraction)
        text += "." + String(repeating: "0", count: decimals - digits.count) + digits
    }
    return text
}

/// One panel of the chart: a plot rectangle on the canvas and its two axes.
public struct ChartPanel: Equatable, Sendable {
    /// The plot area: left, top, width, height in canvas pixels.
    public var left: Int, top: Int, width: Int, height: Int
    public var x: ChartAxis
    public var y: ChartAxis

    /// The canvas pixel of the data point `(x, y)`.
    public func pixel(_ xValue: Double, _ yValue: Double) -> (x: Int, y: Int) {
        let fx = (xValue - x.lo) / (x.hi - x.lo), fy = (yValue - y.lo) / (y.hi - y.lo)
        return (left + Int((fx * Double(width - 1)).rounded()), top + height - 1 - Int((fy * Double(height - 1)).rounded()))
    }
}

/// The learning-curve chart `dsc train --plot` draws: loss (left panel) and
/// accuracy in percent (right panel) of the training and dev splits against
/// the epoch, with ticks, grid lines, axis labels and a legend.
public enum LearningCurveChart {
    public static let width = 1000
    public static let height = 460
    /// Curve colors.
    public static let trainColor = RGB.blue
    public static let devColor = RGB.orange

    /// Where each panel sits and what its axes span for these points; the
    /// epoch axis reaches at least `epochs` (the planned total, so that the
    /// axis stays put while training runs).
    public static func layout(_ points: [CurvePoint], epochs: Int = 1) -> (loss: ChartPanel, accuracy: ChartPanel) {
        let lastEpoch = max(epochs, points.map(\.epoch).max() ?? 1)
        let x = ChartAxis.nice(0, Double(max(1, lastEpoch)), tickCount: 6, minimumStep: 1)
        let losses = points.flatMap { [$0.trainLoss] + ($0.devLoss.map { [$0] } ?? []) }.filter(\.isFinite)
        let accuracies = points.flatMap { [$0.trainAccuracy] + ($0.devAccuracy.map { [$0] } ?? []) }.map { $0 * 100 }
        let loss = ChartAxis.nice(0, losses.max() ?? 1)
        var accuracy = ChartAxis.nice(accuracies.min() ?? 0, accuracies.max() ?? 100)
        accuracy.hi = min(accuracy.hi, max(100, accuracy.lo + accuracy.step))
        let (marginLeft, marginRight, marginTop, marginBottom) = (72, 20, 40, 56)
        let panelWidth = width / 2
        func panel(_ index: Int, _ y: ChartAxis) -> ChartPanel {
            ChartPanel(left: index * panelWidth + marginLeft, top: marginTop,
                       width: panelWidth - marginLeft - marginRight, height: height - marginTop - marginBottom, x: x, y: y)
        }
        return (panel(0, loss), panel(1, accuracy))
    }

    /// The chart of `points` (epochs in increasing order), the epoch axis
    /// reaching at least `epochs`.
    public static func draw(_ points: [CurvePoint], epochs: Int = 1) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        let (lossPanel, accuracyPanel) = layout(points, epochs: epochs)
        drawPanel(&canvas, lossPanel, title: "loss",
                  train: points.map { (Double($0.epoch), $0.trainLoss) },
                  dev: points.compactMap { p in p.devLoss.map { (Double(p.epoch), $0) } })
        drawPanel(&canvas, accuracyPanel, title: "accuracy (%)",
                  train: points.map { (Double($0.epoch), $0.trainAccuracy * 100) },
                  dev: points.compactMap { p in p.devAccuracy.map { (Double(p.epoch), $0 * 100) } })
        return canvas
    }

    private static func drawPanel(_ c: inout Canvas, _ p: ChartPanel, title: String,
                                  train: [(Double, Double)], dev: [(Double, Double)]) {
        let bottom = p.top + p.height - 1, right = p.left + p.width - 1
        // Grid lines and tick labels.
        for v in p.y.ticks {
            let y = p.pixel(p.x.lo, v).y
            c.line(p.left, y, right, y, .lightGray)
            c.line(p.left - 4, y, p.left - 1, y, .black)
            let label = p.y.label(v)
            c.text(label, x: p.left - 8 - BitmapFont.width(label, scale: 2), y: y - 7, .black, scale: 2)
        }
        for v in p.x.ticks {
            let x = p.pixel(v, p.y.lo).x
            c.line(x, p.top, x, bottom, .lightGray)
            c.line(x, bottom + 1, x, bottom + 4, .black)
            let label = p.x.label(v)
            c.text(label, x: x - BitmapFont.width(label, scale: 2) / 2, y: bottom + 8, .black, scale: 2)
        }
        c.frame(x: p.left - 1, y: p.top - 1, width: p.width + 2, height: p.height + 2, .black)
        c.text("epoch", x: p.left + p.width / 2 - BitmapFont.width("epoch", scale: 2) / 2, y: bottom + 32, .black, scale: 2)
        c.text(title, x: p.left - 1, y: 10, .black, scale: 2)
        // Legend, right-aligned above the plot.
        let entries = [("train", trainColor)] + (dev.isEmpty ? [] : [("dev", devColor)])
        var lx = right - entries.reduce(0) { $0 + BitmapFont.width($1.0, scale: 2) + 44 } + 16
        for (name, color) in entries {
            c.line(lx, p.top - 16, lx + 20, p.top - 16, color, thickness: 3)
            c.text(name, x: lx + 26, y: p.top - 23, .black, scale: 2)
            lx += BitmapFont.width(name, scale: 2) + 44
        }
        // Curves: lines between epochs, a dot on each.
        for (points, color) in [(train, trainColor), (dev, devColor)] {
            let pixels = points.filter { $0.1.isFinite }.map { p.pixel($0.0, min(max($0.1, p.y.lo), p.y.hi)) }
            for (a, b) in zip(pixels, pixels.dropFirst()) { c.line(a.x, a.y, b.x, b.y, color, thickness: 2) }
            for q in pixels { c.dot(q.x, q.y, radius: 2, color) }
        }
    }
}
