import DeepScratch
import Foundation

/// Where the data set lives: `--data`, else `$DEEPSCRATCH_DATA`, else
/// `~/.cache/deepscratch/mnist`; missing MNIST files are downloaded there.
/// `--dataset fashion` reads Fashion-MNIST from Debian's
/// `dataset-fashion-mnist` package instead (never downloaded).
enum DataLocation {
    static var defaultDirectory: String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return "\(home)/.cache/deepscratch/mnist"
    }

    /// Where Debian's `dataset-fashion-mnist` package installs the four files.
    static let fashionDirectory = "/usr/share/datasets/fashion-mnist"

    /// The ten Fashion-MNIST classes, in label order (Zalando's names).
    static let fashionClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// The value `train.dataset` records for Fashion-MNIST models.
    static let fashionTag = "fashion-mnist"

    /// The named data sets of `--dataset`.
    static let datasets = ["mnist", "fashion"]

    /// Checks a `--dataset` value.
    static func checkDataset(_ name: String?) throws {
        if let name, !datasets.contains(name) {
            throw DeepScratchError.invalidSetting(name: "--dataset", value: name, expected: datasets.joined(separator: " or "))
        }
    }

    /// The data folder to use, with the four files present.
    /// - Parameters:
    ///   - flag: `--data`, if given (it wins).
    ///   - dataset: `--dataset` (`mnist` or `fashion`), or nil for MNIST.
    /// - Throws: when files are missing and cannot be downloaded.
    static func resolve(_ flag: String?, dataset: String? = nil) throws -> String {
        try checkDataset(dataset)
        if dataset == "fashion" {
            let directory = flag ?? fashionDirectory
            let missing = IDXDataset.missingFiles(in: directory)
            guard missing.isEmpty else {
                throw CLIError("\(directory): missing \(missing.joined(separator: ", ")) (.gz); install Fashion-MNIST with 'apt-get install dataset-fashion-mnist' or pass --data DIR")
            }
            return directory
        }
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

    /// The data folder for evaluating `model` when no `--data` is given:
    /// Fashion-MNIST for a model trained on it, else MNIST's.
    static func resolve(_ flag: String?, dataset: String?, for model: Model) throws -> String {
        if flag == nil, dataset == nil, model.metadata["train.dataset"]?.stringValue == fashionTag {
            return try resolve(nil, dataset: "fashion")
        }
        return try resolve(flag, dataset: dataset)
    }

    /// Class names from `--classes` (comma-separated, each non-empty and
    /// unique), or nil when the flag is absent.
    static func parseClasses(_ flag: String?) throws -> [String]? {
        guard let flag else { return nil }
        let names = flag.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard names.count >= 2, !names.contains(where: \.isEmpty), Set(names).count == names.count else {
            throw DeepScratchError.invalidSetting(name: "--classes", value: flag, expected: "two or more distinct names separated by commas")
        }
        return names
    }

    /// The class names for a data set: `--classes`, else Fashion-MNIST's for
    /// `--dataset fashion`, else `fallback`, else the digits 0…9.
    static func classNames(_ flag: String?, dataset: String?, fallback: [String]? = nil) throws -> [String] {
        if let names = try parseClasses(flag) { return names }
        if dataset == "fashion" { return fashionClasses }
        return fallback ?? (0..<10).map(String.init)
    }
}
