import Glibc

/// Writes files so that a reader, a crash or a full disk never leaves a
/// partial file at the destination: the bytes go to a temporary file in the
/// same folder, which is flushed to disk and then renamed over the target.
public enum AtomicFile {
    /// Replaces `path` with `bytes` atomically.
    /// - Throws: `DeepScratchError.cannotWrite` naming the path and the
    ///   system's reason; the previous file, if any, is then untouched.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DeepScratchError.cannotWrite(path: path, reason: systemErrorText()) }
        func fail(_ reason: String) -> DeepScratchError {
            close(fd)
            unlink(temporary)
            return .cannotWrite(path: path, reason: reason)
        }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return true
        }
        guard ok else { throw fail(systemErrorText()) }
        guard fsync(fd) == 0 else { throw fail(systemErrorText()) }
        guard close(fd) == 0 else {
            unlink(temporary)
            throw DeepScratchError.cannotWrite(path: path, reason: systemErrorText())
        }
        guard rename(temporary, path) == 0 else {
            let reason = systemErrorText()
            unlink(temporary)
            throw DeepScratchError.cannotWrite(path: path, reason: reason)
        }
        // Make the rename itself durable.
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? "."
        let dfd = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Opens `path` for reading after checking it is not a directory and
    /// not larger than `limit`: the descriptor (the caller closes it) and stat.
    private static func openForReading(_ path: String, limit: Int) throws -> (Int32, stat) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DeepScratchError.cannotRead(path: path, reason: systemErrorText()) }
        var st = stat()
        func fail(_ reason: String) -> DeepScratchError {
            close(fd)
            return .cannotRead(path: path, reason: reason)
        }
        guard fstat(fd, &st) == 0 else { throw fail(systemErrorText()) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw fail("is a directory") }
        guard Int(st.st_size) <= limit else { throw fail("file is \(st.st_size) bytes, more than the \(limit) allowed") }
        return (fd, st)
    }

    /// Calls `body` with the contents of `path`, mapped into memory (or read,
    /// where mapping fails), for as long as `body` runs.
    /// - Throws: `DeepScratchError.cannotRead` naming the path, or what `body` throws.
    public static func withContents<R>(of path: String, limit: Int = 1 << 31,
                                       _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let (fd, st) = try openForReading(path, limit: limit)
        defer { close(fd) }
        let size = Int(st.st_size)
        if size > 0, (st.st_mode & S_IFMT) == S_IFREG,
           let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED {
            defer { munmap(p, size) }
            return try body(UnsafeRawBufferPointer(start: p, count: size))
        }
        let bytes = try read(path, limit: limit)
        return try bytes.withUnsafeBytes { try body($0) }
    }

    /// The whole contents of `path`.
    /// - Throws: `DeepScratchError.cannotRead` naming the path.
    public static func read(_ path: String, limit: Int = 1 << 31) throws -> [UInt8] {
        let (fd, st) = try openForReading(path, limit: limit)
        defer { close(fd) }
        let size = Int(st.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        try bytes.withUnsafeMutableBytes { raw in
            while done < size {
                let n = Glibc.read(fd, raw.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DeepScratchError.cannotRead(path: path, reason: systemErrorText())
                }
                if n == 0 { break }
                done += n
            }
        }
        if done < size { bytes.removeLast(size - done) }
        return bytes
    }
}
