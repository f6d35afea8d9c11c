import ArgumentParser
import DeepScratch
import DeepScratchImage
import DeepScratchTools
import Foundation

/// `dsc eval`: accuracy, per-class precision and recall, the confusion
/// matrix and the most confident mistakes.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model on the MNIST test set or on a folder of PNGs named *_<label>.png.",
        discussion: """
            'dsc eval --mistakes mistakes.png' also draws the most confident mistakes \
            (the images, their true and predicted labels) as a PNG grid; \
            --list-mistakes N sets how many are listed.
            """)

    @Option(help: ArgumentHelp(ShippedModels.optionHelp))
    var model: String?

    @Option(help: "Data folder with the IDX test files (default: $DEEPSCRATCH_DATA, else ~/.cache/deepscratch/mnist; Fashion-MNIST's folder for a model trained on it).")
    var data: String?

    @Option(help: "Named data set: mnist or fashion. (default: the one the model was trained on)")
    var dataset: String?

    @Option(help: "Evaluate the PNG files of this folder instead; each name ends in _<label>.png.")
    var images: String?

    @Option(help: "Also draw the --count most confident mistakes as a grid in this PNG file. (A number here is the old spelling of --list-mistakes.)")
    var mistakes: String?

    @Option(parsing: .unconditional, help: "How many of the most confident mistakes to list.")
    var listMistakes: Int = 20

    @Option(parsing: .unconditional, help: "How many mistakes the --mistakes PNG shows.")
    var count: Int = 64

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() throws {
        var listed = listMistakes
        var gridPath: String?
        if let mistakes, let n = Int(mistakes) {
            // The spelling before --list-mistakes existed.
            Terminal.warning("--mistakes \(mistakes) is deprecated: use --list-mistakes \(mistakes) (--mistakes takes a PNG path)")
            guard n >= 0 else { throw DeepScratchError.invalidSetting(name: "--mistakes", value: mistakes, expected: "a path ending in .png") }
            listed = n
        } else if let mistakes {
            guard mistakes.lowercased().hasSuffix(".png") else {
                throw DeepScratchError.invalidSetting(name: "--mistakes", value: mistakes, expected: "a path ending in .png")
            }
            gridPath = mistakes
        }
        guard listed >= 0 else { throw DeepScratchError.invalidSetting(name: "--list-mistakes", value: "\(listed)", expected: "a number >= 0") }
        guard (1...1024).contains(count) else { throw DeepScratchError.invalidSetting(name: "--count", value: "\(count)", expected: "1 to 1024 images") }
        try DataLocation.checkDataset(dataset)
        // The 28x28 (or data set sized) gray image of example i, for the grid.
        var imageOf: (Int) throws -> GridTile? = { _ in nil }
        let modelPath = try ShippedModels.path(model)
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
            let shape = classifier.model.inputShape
            imageOf = { [names] i in
                let pixels = try DigitPreprocessor().process(try PNG.read(path: names[i]), name: names[i])
                return GridTile(pixels: pixels[...], rows: shape[0], cols: shape[1], captions: [])
            }
        } else {
            Parallelism.setThreads(Parallelism.processorCount)
            let (m, network) = try Model.loadNetwork(path: modelPath)
            classes = m.classes
            let directory = try DataLocation.resolve(data, dataset: dataset, for: m)
            let set = try IDXDataset.load(directory: directory, classes: classes.count)
            guard set.test.featureCount == m.architecture.sizes[0] else {
                throw DeepScratchError.dataMismatch(reason: "\(directory): images have \(set.test.featureCount) pixels, the model takes \(m.architecture.sizes[0])")
            }
            let test = set.test
            imageOf = { i in
                let n = test.featureCount
                return GridTile(pixels: test.pixels[(i * n)..<((i + 1) * n)], rows: test.rows, cols: test.cols, captions: [])
            }
            let probs = try network.probabilities(set.test, standardization: m.standardization)
            report = ClassificationReport(labels: set.test.labels.map(Int.init), probabilities: probs, classes: classes.count)
        }
        let shown = Array(report.mistakes.prefix(listed))
        var wroteGrid = false
        if let gridPath {
            var tiles = [GridTile]()
            for m in report.mistakes.prefix(count) {
                guard var tile = try imageOf(m.index) else { continue }
                tile.captions = [("true " + classes[m.trueClass], RGB.green),
                                 ("said " + classes[m.predictedClass] + " " + Format.percent(Double(m.probability), 0), RGB.red)]
                tiles.append(tile)
            }
            wroteGrid = !tiles.isEmpty
            if tiles.isEmpty {
                FileHandle.standardError.write(Data("dsc: no mistakes to draw; \(gridPath) not written\n".utf8))
            } else {
                let name = (modelPath as NSString).lastPathComponent
                let title = "\(name): \(tiles.count) worst of \(report.mistakes.count) mistakes"
                try PNG.write(ImageGrid.draw(tiles, columns: 8, scale: 2, title: title), to: gridPath)
            }
        }
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
            // Columns as wide as the longest class name (Fashion-MNIST's "T-shirt/top").
            let nameWidth = max(5, classes.map(\.count).max() ?? 0)
            let columnWidth = max(5, (classes.map(\.count).max() ?? 0) + 1)
            print("class".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  precision  recall")
            for k in 0..<classes.count {
                let p = report.precision(k).map { Format.percent($0) } ?? "-"
                let r = report.recall(k).map { Format.percent($0) } ?? "-"
                print("\(classes[k].padding(toLength: nameWidth, withPad: " ", startingAt: 0))  \(p.padding(toLength: 9, withPad: " ", startingAt: 0))  \(r)")
            }
            print("confusion matrix (rows: true class, columns: predicted):")
            print(String(repeating: " ", count: nameWidth + 1) + classes.map { $0.padding(toLength: columnWidth, withPad: " ", startingAt: 0) }.joined())
            for t in 0..<classes.count {
                print(classes[t].padding(toLength: nameWidth + 1, withPad: " ", startingAt: 0) + report.confusion[t].map { String($0).padding(toLength: columnWidth, withPad: " ", startingAt: 0) }.joined())
            }
            if !shown.isEmpty {
                print("most confident mistakes:")
                for m in shown {
                    print("  \(where_(m)): true \(classes[m.trueClass]), predicted \(classes[m.predictedClass]) (\(Format.percent(Double(m.probability), 1)))")
                }
            }
            if let gridPath, wroteGrid { print("mistakes drawn: \(gridPath)") }
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
