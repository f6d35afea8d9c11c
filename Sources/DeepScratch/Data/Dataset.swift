import Glibc

/// Labeled grayscale images kept as bytes, the way IDX stores them; they
/// are converted to scalars one batch at a time.
public struct LabeledImages: Sendable {
    /// Image height in pixels.
    public var rows: Int
    /// Image width in pixels.
    public var cols: Int
    /// `count × rows × cols` bytes, image after image, row-major.
    public var pixels: [UInt8]
    /// One label per image.
    public var labels: [UInt8]

    /// - Parameters: the shape, `rows × cols` bytes per image, one label each.
    public init(rows: Int, cols: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(pixels.count == labels.count * rows * cols, "pixel count differs from labels × image size")
        self.rows = rows
        self.cols = cols
        self.pixels = pixels
        self.labels = labels
    }

    /// Number of images.
    public var count: Int { labels.count }
    /// Pixels per image (the network's input size).
    public var featureCount: Int { rows * cols }

    /// The images at `range`, in order.
    public func slice(_ range: Range<Int>) -> LabeledImages {
        LabeledImages(rows: rows, cols: cols,
                      pixels: Array(pixels[(range.lowerBound * featureCount)..<(range.upperBound * featureCount)]),
                      labels: Array(labels[range]))
    }

    /// Splits off the last `devCount` images: `(train, dev)`.
    public func splitLast(_ devCount: Int) -> (train: LabeledImages, dev: LabeledImages) {
        let n = max(0, min(devCount, count))
        return (slice(0..<(count - n)), slice((count - n)..<count))
    }
}

/// An IDX data set on disk: four files in one folder, gzip or raw.
public struct IDXDataset: Sendable {
    /// The training images and labels.
    public var train: LabeledImages
    /// The test images and labels.
    public var test: LabeledImages

    /// The four MNIST file names (without `.gz`), in download order.
    public static let fileNames = [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ]

    /// The path of `name` in `directory`: `name.gz` if present, else `name`,
    /// else nil.
    public static func locate(_ name: String, in directory: String) -> String? {
        for candidate in ["\(directory)/\(name).gz", "\(directory)/\(name)"] where access(candidate, F_OK) == 0 {
            return candidate
        }
        return nil
    }

    /// The names of the four files missing from `directory`.
    public static func missingFiles(in directory: String) -> [String] {
        fileNames.filter { locate($0, in: directory) == nil }
    }

    /// Loads the four files from `directory`.
    /// - Parameter classes: labels must lie in `0..<classes`.
    /// - Throws: `DeepScratchError` naming the first missing or malformed file.
    public static func load(directory: String, classes: Int = 10) throws -> IDXDataset {
        func set(_ images: String, _ labels: String) throws -> LabeledImages {
            guard let ip = locate(images, in: directory) else {
                throw DeepScratchError.cannotRead(path: "\(directory)/\(images)(.gz)", reason: "no such file")
            }
            guard let lp = locate(labels, in: directory) else {
                throw DeepScratchError.cannotRead(path: "\(directory)/\(labels)(.gz)", reason: "no such file")
            }
            return try loadPair(images: ip, labels: lp, classes: classes)
        }
        return IDXDataset(train: try set(fileNames[0], fileNames[1]), test: try set(fileNames[2], fileNames[3]))
    }

    /// Loads one images file and its labels file, checking that they agree.
    public static func loadPair(images: String, labels: String, classes: Int) throws -> LabeledImages {
        let img = try IDXFile.read(path: images, dimensionCount: 3)
        let lab = try IDXFile.read(path: labels, dimensionCount: 1)
        let (n, rows, cols) = (img.dimensions[0], img.dimensions[1], img.dimensions[2])
        guard rows > 0, cols > 0 else {
            throw DeepScratchError.idxBadDimensions(path: images, reason: "image size \(rows)x\(cols) is empty")
        }
        guard lab.dimensions[0] == n else {
            throw DeepScratchError.dataMismatch(
                reason: "\(labels) holds \(lab.dimensions[0]) labels but \(images) holds \(n) images")
        }
        if let bad = lab.bytes.firstIndex(where: { Int($0) >= classes }) {
            throw DeepScratchError.labelOutOfRange(path: labels, index: bad, label: Int(lab.bytes[bad]), classes: classes)
        }
        return LabeledImages(rows: rows, cols: cols, pixels: img.bytes, labels: lab.bytes)
    }
}
