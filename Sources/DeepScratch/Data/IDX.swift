import CZlib
import Glibc

/// An IDX file of unsigned bytes (the MNIST format): dimensions and data.
///
/// Layout: magic `00 00 08 n` (type 0x08 = unsigned byte, `n` dimensions),
/// `n` big-endian 32-bit sizes, then the product of the sizes in bytes.
public struct IDXFile: Sendable {
    /// The sizes, outermost first (for images: count, rows, columns).
    public var dimensions: [Int]
    /// The data, `dimensions.reduce(1, *)` bytes.
    public var bytes: [UInt8]

    /// Reads an IDX file, gzip-compressed or not (zlib reads both).
    ///
    /// The announced data length is checked against what the file can hold
    /// before anything that size is allocated: the file size for raw files,
    /// and the deflate format's maximum ratio (1032:1) for gzip.
    /// - Parameters:
    ///   - path: the file.
    ///   - dimensionCount: the number of dimensions the caller needs (3 for
    ///     images, 1 for labels).
    /// - Throws: `DeepScratchError` naming the file and the problem.
    public static func read(path: String, dimensionCount: Int) throws -> IDXFile {
        var st = stat()
        guard stat(path, &st) == 0 else { throw DeepScratchError.cannotRead(path: path, reason: systemErrorText()) }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw DeepScratchError.cannotRead(path: path, reason: "is a directory")
        }
        let fileSize = Int(st.st_size)
        guard let gz = gzopen(path, "rb") else {
            throw DeepScratchError.cannotRead(path: path, reason: systemErrorText())
        }
        defer { gzclose(gz) }
        let compressed = gzdirect(gz) == 0

        func readExactly(_ n: Int, into buffer: UnsafeMutableRawPointer) throws -> Int {
            var done = 0
            while done < n {
                let chunk = UInt32(min(n - done, 1 << 24))
                let got = gzread(gz, buffer + done, chunk)
                if got < 0 {
                    var code: Int32 = 0
                    let text = gzerror(gz, &code).map { String(cString: $0) } ?? "read error"
                    throw code == Z_ERRNO
                        ? DeepScratchError.cannotRead(path: path, reason: systemErrorText())
                        : DeepScratchError.badGzip(path: path, reason: text)
                }
                if got == 0 {
                    // zlib reports a stream cut short (even one missing only its
                    // trailer) through gzerror, not through gzread's result.
                    var code: Int32 = 0
                    let text = gzerror(gz, &code).map { String(cString: $0) } ?? "unexpected end of file"
                    if code != Z_OK { throw DeepScratchError.badGzip(path: path, reason: text) }
                    break
                }
                done += Int(got)
            }
            return done
        }

        var magic = [UInt8](repeating: 0, count: 4)
        let gotMagic = try magic.withUnsafeMutableBytes { try readExactly(4, into: $0.baseAddress!) }
        let expectedMagic = "00 00 08 \(hexByte(dimensionCount))"
        let foundMagic = magic.prefix(gotMagic).map { hexByte(Int($0)) }.joined(separator: " ")
        guard gotMagic == 4, magic[0] == 0, magic[1] == 0, magic[2] == 0x08,
              Int(magic[3]) == dimensionCount else {
            if gotMagic == 4, magic[0] == 0, magic[1] == 0, magic[2] != 0x08 {
                throw DeepScratchError.idxBadMagic(
                    path: path, expected: expectedMagic,
                    found: foundMagic + " (element type 0x\(hexByte(Int(magic[2]))) is not unsigned byte)")
            }
            throw DeepScratchError.idxBadMagic(
                path: path, expected: expectedMagic, found: gotMagic == 0 ? "missing (empty file)" : foundMagic)
        }
        let headerCount = 4 * dimensionCount
        var header = [UInt8](repeating: 0, count: headerCount)
        let gotHeader = try header.withUnsafeMutableBytes { try readExactly(headerCount, into: $0.baseAddress!) }
        guard gotHeader == headerCount else {
            throw DeepScratchError.idxBadDimensions(
                path: path, reason: "file ends inside the header (\(gotHeader) of \(headerCount) size bytes)")
        }
        var dims: [Int] = []
        var total = 1
        for d in 0..<dimensionCount {
            let b = header[(4 * d)..<(4 * d + 4)].map(Int.init)
            let size = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
            dims.append(size)
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            guard !overflow, product <= Int(Int32.max) else {
                throw DeepScratchError.idxBadDimensions(path: path, reason: "sizes \(dims) multiply past 2^31 bytes")
            }
            total = product
        }
        let headerBytes = 4 + 4 * dimensionCount
        let limit = compressed ? fileSize * 1032 + 4096 : fileSize - headerBytes
        guard total <= limit else {
            if compressed {
                throw DeepScratchError.idxBadDimensions(
                    path: path, reason: "sizes \(dims) announce \(total) bytes, more than a \(fileSize)-byte gzip file can hold")
            }
            throw DeepScratchError.idxWrongLength(path: path, expected: total, found: max(0, limit))
        }
        // Grow the buffer as data arrives (a damaged gzip file cannot make us
        // allocate more than it really holds), reading one byte past the end
        // to detect trailing data.
        var bytes = [UInt8]()
        bytes.reserveCapacity(min(total + 1, max(1 << 20, fileSize * 8)))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        let chunkSize = chunk.count
        while bytes.count <= total {
            let want = min(chunkSize, total + 1 - bytes.count)
            let got = try chunk.withUnsafeMutableBytes { try readExactly(want, into: $0.baseAddress!) }
            bytes.append(contentsOf: chunk[0..<got])
            if got < want { break }
        }
        guard bytes.count == total else {
            throw DeepScratchError.idxWrongLength(path: path, expected: total, found: bytes.count)
        }
        return IDXFile(dimensions: dims, bytes: bytes)
    }
}

/// Two-digit lowercase hexadecimal of a byte.
private func hexByte(_ value: Int) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[(value >> 4) & 15], digits[value & 15]])
}
