import DeepScratch
/// A writer of the protocol buffers wire format — just what ONNX files
/// need: varint fields (wire type 0), 32-bit floats (wire type 5) and
/// length-delimited bytes, strings and nested messages (wire type 2).
/// Fields are written in the order they are called; readers accept any order.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    /// An unsigned LEB128 varint: 7 bits per byte, low bits first, the top bit set on all but the last.
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// The key of a field: `field << 3 | wireType`.
    mutating func key(_ field: Int, _ wireType: Int) {
        varint(UInt64(field << 3 | wireType))
    }

    /// An int32/int64/enum field (negative values take ten bytes, as in protobuf).
    mutating func int(_ field: Int, _ value: Int64) {
        key(field, 0)
        varint(UInt64(bitPattern: value))
    }

    /// A `float` field: four little-endian bytes.
    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    /// A `bytes` field.
    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, 2)
        varint(UInt64(value.count))
        bytes += value
    }

    /// A `string` field (UTF-8).
    mutating func string(_ field: Int, _ value: String) {
        bytes(field, Array(value.utf8))
    }

    /// A nested message field, written by `body` into its own writer.
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        body(&inner)
        bytes(field, inner.bytes)
    }
}
