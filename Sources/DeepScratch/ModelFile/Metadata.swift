/// A typed metadata value of the model file (`META` section).
public enum MetaValue: Equatable, Sendable, CustomStringConvertible {
    case int(Int64)
    case double(Double)
    case string(String)
    case ints([Int64])
    case doubles([Double])
    case strings([String])

    var typeCode: UInt8 {
        switch self {
        case .int: return 1
        case .double: return 2
        case .string: return 3
        case .ints: return 4
        case .doubles: return 5
        case .strings: return 6
        }
    }

    public var description: String {
        switch self {
        case let .int(v): return "\(v)"
        case let .double(v): return "\(v)"
        case let .string(v): return v
        case let .ints(v): return "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
        case let .doubles(v): return "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
        case let .strings(v): return "[" + v.joined(separator: ", ") + "]"
        }
    }

    /// The value as an integer, if it is one.
    public var intValue: Int? { if case let .int(v) = self { return Int(exactly: v) } else { return nil } }
    /// The value as a number (integers convert).
    public var doubleValue: Double? {
        switch self {
        case let .double(v): return v
        case let .int(v): return Double(v)
        default: return nil
        }
    }
    /// The value as a string, if it is one.
    public var stringValue: String? { if case let .string(v) = self { return v } else { return nil } }
    /// The value as an integer array, if it is one.
    public var intsValue: [Int64]? { if case let .ints(v) = self { return v } else { return nil } }
    /// The value as a number array, if it is one.
    public var doublesValue: [Double]? { if case let .doubles(v) = self { return v } else { return nil } }
    /// The value as a string array, if it is one.
    public var stringsValue: [String]? { if case let .strings(v) = self { return v } else { return nil } }
}

/// Ordered, unique-keyed metadata.
public struct Metadata: Equatable, Sendable, Sequence {
    public private(set) var entries: [(key: String, value: MetaValue)] = []

    public init() {}

    public static func == (a: Metadata, b: Metadata) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// The value of `key`; setting replaces it in place or appends it; nil removes it.
    public subscript(key: String) -> MetaValue? {
        get { entries.first { $0.key == key }?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    /// Removes every key starting with `prefix`.
    public mutating func removeAll(withPrefix prefix: String) {
        entries.removeAll { $0.key.hasPrefix(prefix) }
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: MetaValue)]> { entries.makeIterator() }

    func write(to w: inout ByteWriter) {
        w.u32(UInt32(entries.count))
        for (key, value) in entries {
            w.key(key)
            w.u8(value.typeCode)
            switch value {
            case let .int(v): w.i64(v)
            case let .double(v): w.f64(v)
            case let .string(v): w.string(v)
            case let .ints(v): w.u32(UInt32(v.count)); v.forEach { w.i64($0) }
            case let .doubles(v): w.u32(UInt32(v.count)); v.forEach { w.f64($0) }
            case let .strings(v): w.u32(UInt32(v.count)); v.forEach { w.string($0) }
            }
        }
    }

    static func read(from r: inout ByteReader) throws -> Metadata {
        var meta = Metadata()
        // Each entry is at least a 2-byte key length, 1 key byte, a type byte and 4 value bytes.
        let count = try r.count("metadata entry count", minimumSize: 8, limit: 4096)
        for _ in 0..<count {
            let key = try r.key("metadata key")
            guard meta[key] == nil else { throw r.fail("metadata key '\(key)' appears twice") }
            let type = try r.u8("type of '\(key)'")
            let value: MetaValue
            switch type {
            case 1: value = .int(try r.i64(key))
            case 2: value = .double(try r.f64(key))
            case 3: value = .string(try r.string(key))
            case 4:
                let n = try r.count("length of '\(key)'", minimumSize: 8, limit: 1 << 20)
                value = .ints(try (0..<n).map { _ in try r.i64(key) })
            case 5:
                let n = try r.count("length of '\(key)'", minimumSize: 8, limit: 1 << 20)
                value = .doubles(try (0..<n).map { _ in try r.f64(key) })
            case 6:
                let n = try r.count("length of '\(key)'", minimumSize: 4, limit: 1 << 16)
                value = .strings(try (0..<n).map { _ in try r.string(key) })
            default:
                throw r.fail("metadata '\(key)' has unknown type \(type)")
            }
            meta[key] = value
        }
        return meta
    }
}
