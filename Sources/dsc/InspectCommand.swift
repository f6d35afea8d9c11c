import ArgumentParser
import DeepScratch
import Foundation

/// `dsc inspect`: what a model file holds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a model file's header, layers, tensors and training metadata.")

    @Argument(help: "The model file, or a shipped model's name (default, mlp).")
    var model: String

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() throws {
        let m = try Model.load(path: try ShippedModels.resolve(model))
        guard let info = m.fileInfo else { throw CLIError("\(model): no file information") }
        if json {
            var root: [String: Any] = [
                "path": info.path,
                "file_size": info.fileSize,
                "format_version": "\(info.majorVersion).\(info.minorVersion)",
                "sections": info.sections,
                "layers": m.layerList,
                "input_shape": m.inputShape,
                "classes": m.classes,
                "input": ["mean": m.standardization.mean, "std": m.standardization.std, "polarity": m.polarity.rawValue],
                "precision": m.precision.rawValue,
                "parameter_count": m.parameterCount,
                "tensors": info.tensors.map { ["name": $0.name, "shape": $0.shape, "type": $0.type, "bytes": $0.byteLength] },
                "checkpoint": m.trainingState != nil,
            ]
            var meta: [String: Any] = [:]
            for (k, v) in m.metadata { meta[k] = jsonValue(v) }
            root["metadata"] = meta
            let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("\(info.path): DeepScratch model, format \(info.majorVersion).\(info.minorVersion), \(Format.grouped(Double(info.fileSize))) bytes")
        print("sections: \(info.sections.joined(separator: ", "))")
        print("input: \(m.inputShape.map(String.init).joined(separator: "x")), \(m.polarity.rawValue), standardized with mean \(m.standardization.mean) std \(m.standardization.std)")
        print("layers: \(m.layerList.joined(separator: " → "))")
        print("classes: \(m.classes.joined(separator: " "))")
        print("parameters: \(Format.grouped(Double(m.parameterCount))), weights stored as \(m.precision.rawValue)")
        print("tensors:")
        for t in info.tensors {
            let shape = t.shape.map(String.init).joined(separator: "x")
            print("  \(t.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(shape.padding(toLength: 10, withPad: " ", startingAt: 0)) \(t.type.padding(toLength: 4, withPad: " ", startingAt: 0)) \(Format.grouped(Double(t.byteLength))) bytes")
        }
        if let s = m.trainingState {
            print("checkpoint: \(s.epochsDone) of \(s.config.epochs) epochs done, \(s.examplesDone) examples into the next, optimizer \(s.config.optimizer.kind.rawValue) at step \(s.optimizerStep)")
        }
        print("metadata:")
        for (k, v) in m.metadata where !k.hasPrefix("checkpoint.") && !k.hasPrefix("train.config.") {
            print("  \(k) = \(v)")
        }
    }

    private func jsonValue(_ v: MetaValue) -> Any {
        switch v {
        case let .int(x): return x
        case let .double(x): return x
        case let .string(x): return x
        case let .ints(x): return x
        case let .doubles(x): return x
        case let .strings(x): return x
        }
    }
}
