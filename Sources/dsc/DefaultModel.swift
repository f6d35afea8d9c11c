import DeepScratch
import Foundation

/// Where the model comes from when `--model` is not given: the model that
/// ships with DeepScratch, found beside the executable whatever the
/// working directory.
enum DefaultModel {
    /// The file SwiftPM copies next to the executable (target resource), and
    /// the installed layout.
    static var candidates: [String] {
        var out = [String]()
        if let env = ProcessInfo.processInfo.environment["DEEPSCRATCH_MODEL"], !env.isEmpty { out.append(env) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let dir = (exe as NSString).deletingLastPathComponent
        out.append("\(dir)/DeepScratch_dsc.resources/default.dsm")
        out.append("\(dir)/../share/deepscratch/default.dsm")
        return out
    }

    /// The model path to use: `flag`, else `$DEEPSCRATCH_MODEL`, else the shipped model.
    /// - Throws: `CLIError` listing the places searched.
    static func path(_ flag: String?) throws -> String {
        if let flag { return flag }
        for c in candidates where FileManager.default.fileExists(atPath: c) { return c }
        throw CLIError("no --model given and no default model found (looked in \(candidates.joined(separator: ", ")))")
    }
}
