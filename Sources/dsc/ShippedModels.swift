import DeepScratch
import Foundation

/// The models that ship with dsc, by name: `--model default` (the
/// convolutional network `dsc predict` uses when no model is given) and
/// `--model mlp` (the smaller, faster fully connected network). Names
/// resolve before paths (`./mlp` is the file), from beside the executable
/// whatever the working directory.
enum ShippedModels {
    /// The names `--model` accepts and the file each names.
    static let files: KeyValuePairs<String, String> = ["default": "default.dsm", "mlp": "mlp.dsm"]

    /// The shipped names, in the order above.
    static var names: [String] { files.map(\.key) }

    /// Folders searched for the shipped files: SwiftPM's resource bundle next
    /// to the executable, then the installed layout (`bin/../share/deepscratch`).
    static var directories: [String] {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let dir = (exe as NSString).deletingLastPathComponent
        return ["\(dir)/DeepScratch_dsc.resources", "\(dir)/../share/deepscratch"]
    }

    /// The model to use: `flag` if given, else `$DEEPSCRATCH_MODEL`, else the
    /// shipped `default`; a shipped name resolves to its file, anything else
    /// is a path.
    /// - Throws: `CLIError` naming the folders searched when a shipped file is missing.
    static func path(_ flag: String?) throws -> String {
        if let flag { return try resolve(flag) }
        if let env = ProcessInfo.processInfo.environment["DEEPSCRATCH_MODEL"], !env.isEmpty { return try resolve(env) }
        return try resolve("default")
    }

    /// `nameOrPath` as a file path: a shipped name's file, or the path itself.
    /// - Throws: `CLIError` when a shipped name's file is in none of `directories`.
    static func resolve(_ nameOrPath: String) throws -> String {
        guard let file = files.first(where: { $0.key == nameOrPath })?.value else { return nameOrPath }
        let searched = directories.map { "\($0)/\(file)" }
        if let found = searched.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw CLIError("the shipped model '\(nameOrPath)' is missing (looked for \(searched.joined(separator: ", ")))")
    }

    /// The help text of a `--model` option.
    static let optionHelp = "Model file, or a shipped model's name: default (the convolutional network) or mlp (smaller and faster). (default: $DEEPSCRATCH_MODEL, else default)"
}
