/// Every error the engine reports. Messages are rendered in one place,
/// `description`, and name the file, the field, and expected versus actual.
public enum DeepScratchError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A file could not be opened or read (`reason` is the system's text).
    case cannotRead(path: String, reason: String)
    /// A file could not be written.
    case cannotWrite(path: String, reason: String)
    /// A gzip stream is damaged or cut short.
    case badGzip(path: String, reason: String)
    /// An IDX file's magic number is wrong.
    case idxBadMagic(path: String, expected: String, found: String)
    /// An IDX file's dimensions are not what the data set needs.
    case idxBadDimensions(path: String, reason: String)
    /// An IDX file holds fewer or more bytes than its header announces.
    case idxWrongLength(path: String, expected: Int, found: Int)
    /// Two files that belong together disagree (e.g. image and label counts).
    case dataMismatch(reason: String)
    /// A label is outside `0..<classes`.
    case labelOutOfRange(path: String, index: Int, label: Int, classes: Int)
    /// A setting is out of its range.
    case invalidSetting(name: String, value: String, expected: String)
    /// Training produced a non-finite cost.
    case diverged(epoch: Int, step: Int, cost: String, learningRate: Double)
    /// A model file is malformed.
    case badModel(path: String, reason: String)
    /// An image cannot be decoded or holds no digit.
    case badImage(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .cannotWrite(path, reason):
            return "\(path): cannot write: \(reason)"
        case let .badGzip(path, reason):
            return "\(path): damaged gzip data: \(reason)"
        case let .idxBadMagic(path, expected, found):
            return "\(path): not an IDX file of the expected kind: magic number is \(found), expected \(expected)"
        case let .idxBadDimensions(path, reason):
            return "\(path): bad IDX dimensions: \(reason)"
        case let .idxWrongLength(path, expected, found):
            let what = found < expected ? "truncated" : "has trailing bytes"
            return "\(path): \(what): header announces \(expected) bytes of data, file holds \(found)"
        case let .dataMismatch(reason):
            return reason
        case let .labelOutOfRange(path, index, label, classes):
            return "\(path): label \(label) at index \(index) is outside 0..<\(classes)"
        case let .invalidSetting(name, value, expected):
            return "invalid \(name) '\(value)': expected \(expected)"
        case let .diverged(epoch, step, cost, lr):
            return "training diverged at epoch \(epoch), step \(step): cost is \(cost); "
                + "try a lower learning rate (was \(lr))"
        case let .badModel(path, reason):
            return "\(path): not a valid model file: \(reason)"
        case let .badImage(path, reason):
            return "\(path): \(reason)"
        }
    }
}

import Glibc

/// The system's text for the current `errno`.
package func systemErrorText() -> String {
    String(cString: strerror(errno))
}
