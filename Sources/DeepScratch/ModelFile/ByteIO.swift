/// Appends little-endian values to a byte array.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    /// A `u32` byte count and the UTF-8 bytes.
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(UInt32(utf8.count))
        bytes += utf8
    }
    /// A `u16` byte count and the UTF-8 bytes.
    mutating func key(_ s: String) {
        let utf8 = Array(s.utf8)
        u16(UInt16(utf8.count))
        bytes += utf8
    }
    /// Zero bytes up to the next multiple of `alignment`.
    mutating func pad(to alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }
    /// Overwrites 8 bytes at `offset` with `v`.
    mutating func patchU64(at offset: Int, _ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { raw in
            for k in 0..<8 { bytes[offset + k] = raw[k] }
        }
    }
}

/// Reads little-endian values from a byte range, checking every read
/// against the range's end; a read past it throws instead of trapping.
struct ByteReader {
    let base: UnsafeRawPointer
    /// Absolute offset of the next read.
    private(set) var offset: Int
    /// Absolute end of the readable range.
    let end: Int
    /// Turns a problem description into the error to throw.
    let fail: (String) -> DeepScratchError

    init(_ base: UnsafeRawPointer, from offset: Int, to end: Int, fail: @escaping (String) -> DeepScratchError) {
        self.base = base
        self.offset = offset
        self.end = end
        self.fail = fail
    }

    /// Bytes left.
    var remaining: Int { end - offset }

    private mutating func take(_ n: Int, _ what: String) throws -> Int {
        guard n >= 0, n <= remaining else {
            throw fail("\(what) needs \(n) bytes at offset \(offset), only \(remaining) left")
        }
        let at = offset
        offset += n
        return at
    }

    mutating func u8(_ what: String) throws -> UInt8 { base.load(fromByteOffset: try take(1, what), as: UInt8.self) }
    mutating func u16(_ what: String) throws -> UInt16 {
        UInt16(littleEndian: base.loadUnaligned(fromByteOffset: try take(2, what), as: UInt16.self))
    }
    mutating func u32(_ what: String) throws -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: try take(4, what), as: UInt32.self))
    }
    mutating func u64(_ what: String) throws -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: try take(8, what), as: UInt64.self))
    }
    mutating func i64(_ what: String) throws -> Int64 { Int64(bitPattern: try u64(what)) }
    mutating func f64(_ what: String) throws -> Double { Double(bitPattern: try u64(what)) }

    /// `n` raw bytes as UTF-8 text (invalid sequences are rejected).
    mutating func utf8(_ n: Int, _ what: String) throws -> String {
        let at = try take(n, what)
        let buffer = UnsafeRawBufferPointer(start: base + at, count: n)
        guard let s = String(validating: buffer, as: UTF8.self) else { throw fail("\(what) is not valid UTF-8") }
        return s
    }
    /// A `u32`-counted string of at most `limit` bytes.
    mutating func string(_ what: String, limit: Int = 1 << 20) throws -> String {
        let n = Int(try u32(what))
        guard n <= limit else { throw fail("\(what) is \(n) bytes long, more than the \(limit) allowed") }
        return try utf8(n, what)
    }
    /// A `u16`-counted key of 1 to 256 bytes.
    mutating func key(_ what: String) throws -> String {
        let n = Int(try u16(what))
        guard (1...256).contains(n) else { throw fail("\(what) has length \(n), expected 1 to 256") }
        return try utf8(n, what)
    }
    /// A count of entries, each at least `minimumSize` bytes, that must fit in what is left.
    mutating func count(_ what: String, minimumSize: Int, limit: Int) throws -> Int {
        let n = Int(try u32(what))
        guard n <= limit else { throw fail("\(what) is \(n), more than the \(limit) allowed") }
        guard n * minimumSize <= remaining else {
            throw fail("\(what) is \(n) but only \(remaining) bytes are left for them")
        }
        return n
    }
}
