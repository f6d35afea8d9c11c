import DeepScratch
import DeepScratchTools
import Foundation

/// The CSV log of `dsc train --log`: one row per epoch, the numbers the
/// chart plots. Accuracies are fractions (0…1); dev columns are empty
/// without a dev split.
enum TrainingLog {
    static let header = "epoch,train_loss,train_accuracy,dev_loss,dev_accuracy"

    /// The CSV text of `points`.
    static func csv(_ points: [CurvePoint]) -> String {
        var text = header + "\n"
        for p in points {
            let dev = [p.devLoss, p.devAccuracy].map { $0.map { "\($0)" } ?? "" }
            text += (["\(p.epoch)", "\(p.trainLoss)", "\(p.trainAccuracy)"] + dev).joined(separator: ",") + "\n"
        }
        return text
    }

    /// Rewrites the log at `path` atomically (temporary file, flush, rename).
    static func write(_ points: [CurvePoint], to path: String) throws {
        try AtomicFile.write(Array(csv(points).utf8), to: path)
    }

    /// The rows of an existing log with epoch < `before` (nil if the file is
    /// missing or is not such a log), so a resumed run continues its curves.
    static func read(_ path: String, before: Int) -> [CurvePoint]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        guard lines.first == header else { return nil }
        var points = [CurvePoint]()
        for line in lines.dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 5, let epoch = Int(f[0]), let loss = Double(f[1]), let accuracy = Double(f[2]) else { return nil }
            if epoch < before {
                points.append(CurvePoint(epoch: epoch, trainLoss: loss, trainAccuracy: accuracy,
                                         devLoss: Double(f[3]), devAccuracy: Double(f[4])))
            }
        }
        return points
    }
}
