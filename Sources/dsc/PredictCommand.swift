import ArgumentParser
import DeepScratch
import DeepScratchImage
import DeepScratchTools
import Foundation

/// `dsc predict`: classifies PNG images of digits.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify PNG images of single digits.",
        discussion: """
            Any PNG works (gray, RGB, palette, alpha, 16-bit, interlaced, any size): \
            each is turned into MNIST's 28x28 form first (see 'dsc preprocess'). \
            One line per file; a file that fails reports its error and the others \
            still run; the exit status is 1 if any failed.
            """)

    @Argument(help: "PNG files.")
    var images: [String]

    @Option(help: ArgumentHelp(ShippedModels.optionHelp))
    var model: String?

    @Option(parsing: .unconditional, help: "Show the k most probable classes.")
    var top: Int = 1

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() throws {
        guard !images.isEmpty else { throw CLIError("no images given") }
        guard top >= 1 else { throw DeepScratchError.invalidSetting(name: "--top", value: "\(top)", expected: "a positive integer") }
        Parallelism.setThreads(1)
        let classifier = try DigitClassifier(modelPath: try ShippedModels.path(model))
        let k = min(top, classifier.model.classes.count)
        var failures = 0
        var results: [[String: Any]] = []
        for path in images {
            do {
                let p = try classifier.classify(pngPath: path)
                let best = p.top(k)
                if json {
                    results.append(["file": path, "label": p.label, "probability": Double(best[0].probability),
                                    "top": best.map { ["label": classifier.model.classes[$0.index], "probability": Double($0.probability)] }])
                } else if k == 1 {
                    print("\(path): \(p.label) (\(Format.percent(Double(best[0].probability), 1)))")
                } else {
                    print("\(path): " + best.map { "\(classifier.model.classes[$0.index]) \(Format.percent(Double($0.probability), 1))" }.joined(separator: ", "))
                }
            } catch {
                failures += 1
                if json { results.append(["file": path, "error": "\(error)"]) }
                FileHandle.standardError.write(Data("dsc: error: \(error)\n".utf8))
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
