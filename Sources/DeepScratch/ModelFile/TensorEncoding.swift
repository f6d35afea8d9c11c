import CZlib

/// How a model's weight matrices are stored in the file.
public enum Precision: String, CaseIterable, Sendable {
    /// 4 bytes per value, exact.
    case f32
    /// IEEE binary16, 2 bytes per value.
    case f16
    /// 8-bit integers with one f32 scale per row, deflated (`q8z`).
    case int8

    /// The tensor type weight matrices get (biases and checkpoint state stay f32).
    var weightType: TensorType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .int8: return .q8z
        }
    }
}

/// A tensor type of the file's directory (`dtype`).
enum TensorType: UInt8, Sendable {
    case f32 = 1, f16 = 2, q8 = 3, q8z = 4

    var name: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .q8: return "q8"
        case .q8z: return "q8z"
        }
    }

    /// Exact byte length for `rows × cols` values (nil for `q8z`: variable).
    func byteLength(rows: Int, cols: Int) -> Int? {
        switch self {
        case .f32: return 4 * rows * cols
        case .f16: return 2 * rows * cols
        case .q8: return 4 * rows + rows * cols
        case .q8z: return nil
        }
    }
}

enum TensorEncoding {
    /// The file bytes of `values` (`rows × cols`, row-major) as `type`.
    static func encode(_ values: [Float], rows: Int, cols: Int, as type: TensorType) -> [UInt8] {
        precondition(values.count == rows * cols)
        switch type {
        case .f32:
            var out = [UInt8](repeating: 0, count: 4 * values.count)
            out.withUnsafeMutableBytes { raw in
                for (i, v) in values.enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            }
            return out
        case .f16:
            var out = [UInt8](repeating: 0, count: 2 * values.count)
            out.withUnsafeMutableBytes { raw in
                for (i, v) in values.enumerated() {
                    raw.storeBytes(of: Float16(v).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                }
            }
            return out
        case .q8:
            var out = [UInt8](repeating: 0, count: 4 * rows + rows * cols)
            out.withUnsafeMutableBytes { raw in
                for r in 0..<rows {
                    var maxAbs: Float = 0
                    for c in 0..<cols { maxAbs = max(maxAbs, abs(values[r * cols + c])) }
                    // scale = max|w| / 127, so q = round(w / scale) lies in −127…127.
                    let scale: Float = maxAbs > 0 ? maxAbs / 127 : 1
                    raw.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: 4 * r, as: UInt32.self)
                    for c in 0..<cols {
                        let q = max(-127, min(127, (values[r * cols + c] / scale).rounded()))
                        raw.storeBytes(of: Int8(q), toByteOffset: 4 * rows + r * cols + c, as: Int8.self)
                    }
                }
            }
            return out
        case .q8z:
            let raw = encode(values, rows: rows, cols: cols, as: .q8)
            var length = compressBound(UInt(raw.count))
            var out = [UInt8](repeating: 0, count: Int(length))
            let rc = out.withUnsafeMutableBufferPointer { dst in
                raw.withUnsafeBufferPointer { src in
                    compress2(dst.baseAddress, &length, src.baseAddress, UInt(src.count), Z_BEST_COMPRESSION)
                }
            }
            precondition(rc == Z_OK, "zlib compress2 failed with \(rc)")
            out.removeLast(out.count - Int(length))
            return out
        }
    }

    /// Decodes `length` bytes at `p` of a `rows × cols` tensor of `type`.
    /// - Throws: `fail(reason)` when the bytes do not match the type and shape.
    static func decode(_ p: UnsafeRawPointer, length: Int, rows: Int, cols: Int, type: TensorType,
                       fail: (String) -> DeepScratchError) throws -> [Float] {
        let n = rows * cols
        var problem: String?
        let values = [Float](unsafeUninitializedCapacity: n) { buffer, count in
            problem = decode(p, length: length, rows: rows, cols: cols, type: type, into: buffer.baseAddress!)
            if problem != nil { buffer.baseAddress!.initialize(repeating: 0, count: n) }
            count = n
        }
        if let problem { throw fail(problem) }
        return values
    }

    /// Decodes `length` bytes at `p` of a `rows × cols` tensor of `type`
    /// into `out` (room for `rows × cols` values).
    /// - Returns: nil, or what is wrong with the bytes.
    static func decode(_ p: UnsafeRawPointer, length: Int, rows: Int, cols: Int, type: TensorType,
                       into out: UnsafeMutablePointer<Float>) -> String? {
        let n = rows * cols
        if let expected = type.byteLength(rows: rows, cols: cols), expected != length {
            return "holds \(length) bytes, \(type.name) \(rows)x\(cols) needs \(expected)"
        }
        switch type {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: p, byteCount: 4 * n)
            #if _endian(big)
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
            #endif
        case .f16:
            for i in 0..<n {
                out[i] = Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            }
        case .q8:
            for r in 0..<rows {
                let scale = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * r, as: UInt32.self)))
                let q = (p + 4 * rows + r * cols).assumingMemoryBound(to: Int8.self)
                for c in 0..<cols { out[r * cols + c] = scale * Float(q[c]) }
            }
        case .q8z:
            let expected = 4 * rows + rows * cols
            var raw = [UInt8](repeating: 0, count: expected)
            var destLength = UInt(expected)
            var sourceLength = UInt(length)
            let rc = raw.withUnsafeMutableBufferPointer { dst in
                uncompress2(dst.baseAddress, &destLength, p.assumingMemoryBound(to: UInt8.self), &sourceLength)
            }
            guard rc == Z_OK else {
                return rc == Z_BUF_ERROR ? "decompresses to more than the \(expected) bytes its shape needs, or is cut short"
                    : rc == Z_DATA_ERROR ? "compressed data is damaged" : "zlib error \(rc)"
            }
            guard Int(destLength) == expected, Int(sourceLength) == length else {
                return "decompresses to \(destLength) bytes from \(sourceLength) of \(length), expected \(expected)"
            }
            return raw.withUnsafeBytes {
                decode($0.baseAddress!, length: expected, rows: rows, cols: cols, type: .q8, into: out)
            }
        }
        return nil
    }
}
