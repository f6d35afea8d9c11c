import ArgumentParser
import DeepScratch
import Foundation

/// `dsc convert`: rewrites a model with its weights in another precision.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Rewrite a model file with its weight matrices in f32, f16 or int8.",
        discussion: "Training state (of a checkpoint) is dropped. Converting to a wider type does not restore precision already lost.")

    @Argument(help: "The model file to read, or a shipped model's name (default, mlp).")
    var input: String

    @Argument(help: "The model file to write (may be the same path).")
    var output: String

    @Option(help: "f32, f16 or int8.")
    var precision: String

    @Option(help: "Evaluate the converted model on this data folder's test set and record its accuracy.")
    var data: String?

    func run() throws {
        guard let p = Precision(rawValue: precision) else {
            throw DeepScratchError.invalidSetting(name: "--precision", value: precision, expected: "f32, f16 or int8")
        }
        var m = try Model.load(path: try ShippedModels.resolve(input))
        let from = m.precision
        m.trainingState = nil
        m.metadata.removeAll(withPrefix: "checkpoint.")
        m.metadata.removeAll(withPrefix: "train.config.")
        m.precision = p
        if from != p { m.metadata["deepscratch.converted_from"] = .string(from.rawValue) }
        if let data {
            let directory = try DataLocation.resolve(data)
            let set = try IDXDataset.load(directory: directory, classes: m.classes.count)
            let stored = try Model.parse(m.serialized(), path: output)
            let e = try stored.makeNetwork().evaluate(set.test, standardization: stored.standardization)
            m.metadata["train.test_accuracy"] = .double(e.accuracy)
            print("test accuracy with \(p.rawValue) weights: \(Format.percent(e.accuracy))")
        } else if from != p {
            // The recorded accuracy was measured on other weights.
            if let a = m.metadata["train.test_accuracy"] { m.metadata["train.test_accuracy_\(from.rawValue)"] = a }
            m.metadata["train.test_accuracy"] = nil
        }
        try m.save(to: output)
        let size = Format.fileSize(output)
        print("\(output): \(p.rawValue), \(Format.grouped(Double(size))) bytes (was \(from.rawValue))")
    }
}
