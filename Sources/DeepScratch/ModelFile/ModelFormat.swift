/// Constants of the model file format (docs/model-format.md).
enum ModelFormat {
    static let magic: [UInt8] = [0x89, 0x44, 0x53, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A]
    static let major: UInt16 = 1
    static let minor: UInt16 = 1
    static let headerSize = 32
    static let checksumSize = 8
    static let tensorAlignment = 64
    static let maximumFileSize = 1 << 31
    static let maximumSections = 64
    /// Values of one tensor: 2^31 (8 GiB as f32).
    static let maximumTensorValues = 1 << 31
    /// Side of the input image and its channel count: 2^16 each.
    static let maximumInputSide = 1 << 16
    /// Values of one example at any point of the network, the input
    /// included: 2^28 (1 GiB as f32). With at most 4096 filters of 15 × 15
    /// over at most 2^16 channels, every product of shapes below stays far
    /// from 2^63.
    static let maximumLayerValues = 1 << 28
    /// The largest ratio of decompressed to compressed length deflate can
    /// reach (258-byte matches coded in about two bits): a `q8z` tensor
    /// claiming more is refused before anything is inflated.
    static let maximumDeflateRatio = 1032
    /// Float values the buffers of one classification call may take
    /// (`InferenceWorkspace`): 2^28, 1 GiB. It also keeps every dimension
    /// handed to BLAS below 2^31 (its `blasint` is 32 bits).
    static let maximumWorkingValues = 1 << 28
    /// Images classified together in a batch call (fewer when they would
    /// not fit in `maximumWorkingValues`).
    static let batchChunk = 256

    static let meta = "META", directory = "TDIR", data = "TDAT"

    /// The layer strings that need format 1.1 (conv, pooling, batch normalization).
    static let layerKinds11 = ["conv", "maxpool", "avgpool", "batchnorm"]

    /// The minor version a file of these layer strings is written as: the
    /// lowest that has every kind they use (fully connected models stay 1.0,
    /// readable by every 1.x reader).
    static func minor(forLayerStrings strings: [String]) -> UInt16 {
        strings.contains { s in layerKinds11.contains { s.hasPrefix($0) } } ? 1 : 0
    }
    static let requiredFlag: UInt32 = 1
}

/// Which way round a model's images are: ink lighter than the background
/// (MNIST's white digits on black) or darker.
public enum Polarity: String, Sendable {
    case lightOnDark = "light-on-dark"
    case darkOnLight = "dark-on-light"
}

/// A named tensor of a model file, decoded to Float32.
public struct NamedTensor: Sendable, Equatable {
    /// Its name in the file, e.g. `W1`, `b1`, `opt.v.W1`.
    public var name: String
    /// Its dimensions, outermost first.
    public var shape: [Int]
    /// Its values, row-major.
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }

    var rows: Int { shape.first ?? 1 }
    var cols: Int { shape.dropFirst().reduce(1, *) }
}

/// What `dsc inspect` shows of a tensor: its directory entry.
public struct TensorInfo: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    /// `f32`, `f16`, `q8` or `q8z`.
    public var type: String
    /// Bytes it takes in the file.
    public var byteLength: Int
}

/// Facts about a model file as read from disk.
public struct ModelFileInfo: Sendable {
    public var path: String
    public var fileSize: Int
    public var majorVersion: Int
    public var minorVersion: Int
    /// Section tags in file order.
    public var sections: [String]
    public var tensors: [TensorInfo]
}
