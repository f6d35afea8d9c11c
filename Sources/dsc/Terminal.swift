import DeepScratch
import Foundation

/// Output helpers: plain lines, and a progress bar that redraws in place
/// when standard output is a terminal.
enum Terminal {
    static let isTTY = isatty(STDOUT_FILENO) != 0

    /// Writes a line to standard output and flushes it.
    static func line(_ text: String) {
        if isTTY { print("\r\u{1B}[K" + text) } else { print(text) }
        fflush(nil)
    }

    /// Says what computes the matrix products ("products: OpenBLAS 0.3.21,
    /// SkylakeX kernels, CPU AVX-512") and the engine's own kernels
    /// ("kernels: convolutions avx512, …") on standard output, and on standard
    /// error a one-line warning when OpenBLAS's own choice of kernels was
    /// older than the CPU, with what was done about it.
    static func products() {
        let report = BLASBackend.report
        line("products: \(report.summary)")
        line("kernels: \(EngineKernels.summary)")
        if let text = report.warning { warning(text) }
    }

    /// A one-line warning on standard error ("warning: …").
    static func warning(_ text: String) {
        FileHandle.standardError.write(Data("warning: \(text)\n".utf8))
    }

    /// Redraws the progress line (terminals only).
    static func progress(_ text: String) {
        guard isTTY else { return }
        print("\r\u{1B}[K" + text, terminator: "")
        fflush(nil)
    }

    /// A bar of `width` cells, `fraction` full.
    static func bar(_ fraction: Double, width: Int = 30) -> String {
        let f = max(0, min(1, fraction))
        let full = Int((f * Double(width)).rounded(.down))
        return "[" + String(repeating: "=", count: full)
            + (full < width ? ">" + String(repeating: " ", count: width - full - 1) : "") + "]"
    }
}

/// Number formatting shared by the commands.
enum Format {
    static func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
    static func percent(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f%%", x * 100) }
    /// An integer with thousands separators: 12,345.
    static func grouped(_ x: Double) -> String {
        let n = Int(x.rounded())
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }
    /// The size of the file at `path` in bytes (0 if it cannot be read).
    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }
    static func bytes(_ n: Int) -> String {
        if n >= 1 << 20 { return String(format: "%.1f MB", Double(n) / 1_048_576) }
        if n >= 1 << 10 { return String(format: "%.1f KB", Double(n) / 1024) }
        return "\(n) B"
    }
}
