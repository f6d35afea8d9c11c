import DeepScratch
import Foundation

/// Where the data set lives: `--data`, else `$DEEPSCRATCH_DATA`, else
/// `~/.cache/deepscratch/mnist`; missing MNIST files are downloaded there.
enum DataLocation {
    static var defaultDirectory: String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return "\(home)/.cache/deepscratch/mnist"
    }

    /// The data folder to use, with the four files present.
    /// - Throws: when files are missing and cannot be downloaded.
    static func resolve(_ flag: String?) throws -> String {
        let env = ProcessInfo.processInfo.environment["DEEPSCRATCH_DATA"].flatMap { $0.isEmpty ? nil : $0 }
        let directory = flag ?? env ?? defaultDirectory
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), !isDir.boolValue {
            throw CLIError("\(directory): is a file, expected a folder holding the MNIST IDX files")
        }
        let missing = IDXDataset.missingFiles(in: directory)
        if missing.isEmpty { return directory }
        try MNISTDownloader().download(missing, to: directory)
        return directory
    }
}
