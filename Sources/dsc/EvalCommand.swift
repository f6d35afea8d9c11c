import ArgumentParser
import DeepScratch
import Foundation

/// `dsc eval`: accuracy, per-class precision and recall, the confusion
/// matrix and the most confident mistakes.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model on the MNIST test set or on a folder of PNGs named *_<label>.png.")

    @Option(help: "Model file (default: the model that ships with DeepScratch, or $DEEPSCRATCH_MODEL).")
    var model: String?

    @Option(help: "Data folder with the IDX test files (default: $DEEPSCRATCH_DATA, else ~/.cache/deepscratch/mnist).")
    var data: String?

    @Option(help: "Evaluate the PNG files of this folder instead; each name ends in _<label>.png.")
    var images: String?

    @Option(parsing: .unconditional, help: "How many of the most confident mistakes to list.")
    var mistakes: Int = 20

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() throws {
        guard mistakes >= 0 else { throw DeepScratchError.invalidSetting(name: "--mistakes", value: "\(mistakes)", expected: "a number >= 0") }
        let modelPath = try DefaultModel.path(model)
        let report: ClassificationReport
        var names: [String] = []
        let classes: [String]
        var failures: [(String, String)] = []
        if let images {
            Parallelism.setThreads(1)
            let classifier = try DigitClassifier(modelPath: modelPath)
            classes = classifier.model.classes
            let files = try pngFiles(images)
            var labels = [Int](), probs = [Float]()
            for (file, label) in files {
                guard let k = classes.firstIndex(of: label) else {
                    failures.append((file, "\(file): label '\(label)' is not one of the model's classes"))
                    continue
                }
                do {
                    let p = try classifier.classify(pngPath: file)
                    labels.append(k)
                    probs += p.probabilities
                    names.append(file)
                } catch {
                    failures.append((file, "\(error)"))
                }
            }
            if labels.isEmpty {
                for (_, error) in failures { FileHandle.standardError.write(Data("dsc: error: \(error)\n".utf8)) }
                throw CLIError("\(images): none of the \(files.count) PNG files could be evaluated")
            }
            report = ClassificationReport(labels: labels, probabilities: probs, classes: classes.count)
        } else {
            Parallelism.setThreads(Parallelism.processorCount)
            let (m, network) = try Model.loadNetwork(path: modelPath)
            classes = m.classes
            let directory = try DataLocation.resolve(data)
            let set = try IDXDataset.load(directory: directory, classes: classes.count)
            let probs = try network.probabilities(set.test, standardization: m.standardization)
            report = ClassificationReport(labels: set.test.labels.map(Int.init), probabilities: probs, classes: classes.count)
        }
        let shown = Array(report.mistakes.prefix(mistakes))
        func where_(_ m: ClassificationReport.Mistake) -> String { names.isEmpty ? "test image \(m.index)" : names[m.index] }
        if json {
            let root: [String: Any] = [
                "model": modelPath,
                "examples": report.count,
                "accuracy": report.accuracy,
                "classes": classes,
                "precision": (0..<classes.count).map { report.precision($0) as Any? ?? NSNull() },
                "recall": (0..<classes.count).map { report.recall($0) as Any? ?? NSNull() },
                "confusion": report.confusion,
                "mistakes": shown.map { ["index": $0.index, "file": names.isEmpty ? NSNull() : names[$0.index] as Any,
                                         "true": classes[$0.trueClass], "predicted": classes[$0.predictedClass],
                                         "probability": Double($0.probability)] as [String: Any] },
                "failures": failures.map { ["file": $0.0, "error": $0.1] },
            ]
            let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("model: \(modelPath)")
            print("accuracy: \(Format.percent(report.accuracy)) on \(report.count) \(images == nil ? "test images" : "PNG files")")
            print("class  precision  recall")
            for k in 0..<classes.count {
                let p = report.precision(k).map { Format.percent($0) } ?? "-"
                let r = report.recall(k).map { Format.percent($0) } ?? "-"
                print("\(classes[k].padding(toLength: 5, withPad: " ", startingAt: 0))  \(p.padding(toLength: 9, withPad: " ", startingAt: 0))  \(r)")
            }
            print("confusion matrix (rows: true class, columns: predicted):")
            print("      " + classes.map { $0.padding(toLength: 5, withPad: " ", startingAt: 0) }.joined())
            for t in 0..<classes.count {
                print(classes[t].padding(toLength: 6, withPad: " ", startingAt: 0) + report.confusion[t].map { String($0).padding(toLength: 5, withPad: " ", startingAt: 0) }.joined())
            }
            if !shown.isEmpty {
                print("most confident mistakes:")
                for m in shown {
                    print("  \(where_(m)): true \(classes[m.trueClass]), predicted \(classes[m.predictedClass]) (\(Format.percent(Double(m.probability), 1)))")
                }
            }
            // Each error names its file already.
            for (_, error) in failures { FileHandle.standardError.write(Data("dsc: error: \(error)\n".utf8)) }
        }
        if !failures.isEmpty { throw ExitCode(1) }
    }

    /// The PNG files of `folder` whose names end in `_<label>.png`, sorted.
    func pngFiles(_ folder: String) throws -> [(String, String)] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw CLIError("\(folder): not a folder")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        var out = [(String, String)]()
        for name in names where name.lowercased().hasSuffix(".png") {
            let stem = String(name.dropLast(4))
            guard let underscore = stem.lastIndex(of: "_") else { continue }
            out.append(("\(folder)/\(name)", String(stem[stem.index(after: underscore)...])))
        }
        guard !out.isEmpty else { throw CLIError("\(folder): no PNG files named *_<label>.png") }
        return out
    }
}
