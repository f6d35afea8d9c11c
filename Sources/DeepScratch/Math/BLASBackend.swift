import CBLASCore
import Glibc

/// What computes the engine's matrix products, and the one decision the
/// engine takes about it: when the system's OpenBLAS runs kernels older than
/// the CPU (Debian 12's OpenBLAS 0.3.21 runs its SSE3 "Prescott" kernels on
/// CPUs newer than itself, such as an Intel Xeon of family 6 model 207), the
/// engine makes it run the kernels the CPU's feature flags call for, once,
/// before its first product.
///
/// The user's choice wins: with `OPENBLAS_CORETYPE` set, or with
/// `DEEPSCRATCH_BLAS_CORE=keep`, the engine changes nothing and only says
/// what runs (with a warning when it is older than the CPU).
public enum BLASBackend {
    /// What runs and what the engine did about it.
    public struct Report: Sendable, Equatable {
        /// The BLAS library: "OpenBLAS 0.3.21" (from openblas_get_config), or
        /// "CBLAS (not OpenBLAS)".
        public var library: String
        /// The kernels OpenBLAS runs ("SkylakeX"), nil when not OpenBLAS.
        public var kernel: String?
        /// The widest instruction set this CPU runs: "AVX-512", "AVX2+FMA", "AVX", "SSE" or "not x86-64".
        public var cpu: String
        /// The kernels OpenBLAS chose by itself, when the engine replaced them.
        public var replaced: String?
        /// One line for the user when the kernels are (or were) older than the CPU; nil otherwise.
        public var warning: String?

        /// One line: "OpenBLAS 0.3.21, SkylakeX kernels, CPU AVX-512".
        public var summary: String {
            "\(library)\(kernel.map { ", \($0) kernels" } ?? ""), CPU \(cpu)"
        }
    }

    /// The report, made (and OpenBLAS's kernels chosen) on first use. Every
    /// matrix product of the engine reads it first.
    public static let report: Report = prepare(environment: { getenv($0).map { String(cString: $0) } })

    /// Makes sure the kernel choice happened; cheap after the first call.
    @inline(__always) public static func ensureChosen() { _ = report }

    /// Instruction-set level of an OpenBLAS x86-64 kernel name (the levels
    /// of `dsb_cpu_level`), nil for a name this table does not know.
    static func level(ofKernel name: String) -> Int? {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return 4
        case "haswell", "zen": return 3
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": return 2
        case "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn",
             "dunnington", "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat":
            return 1
        default: return nil
        }
    }

    /// The OpenBLAS kernels a CPU of `level` should run.
    static func kernel(forLevel level: Int, amd: Bool) -> String? {
        switch level {
        case 4: return "SkylakeX"
        case 3: return amd ? "Zen" : "Haswell"
        case 2: return "Sandybridge"
        default: return nil
        }
    }

    static func describe(level: Int) -> String {
        ["not x86-64", "SSE", "AVX", "AVX2+FMA", "AVX-512"][max(0, min(4, level))]
    }

    /// Decides and acts (see the type's summary). `environment` reads a
    /// variable. Not thread-safe; `report` calls it once.
    static func prepare(environment: (String) -> String?) -> Report {
        let cpuLevel = Int(dsb_cpu_level())
        let config = dsb_blas_config().map { String(cString: $0) }
        let library = config.map { $0.split(separator: " ").prefix(2).joined(separator: " ") } ?? "CBLAS (not OpenBLAS)"
        var report = Report(library: library, kernel: dsb_blas_corename().map { String(cString: $0) },
                            cpu: describe(level: cpuLevel), replaced: nil, warning: nil)
        guard let current = report.kernel, let currentLevel = level(ofKernel: current),
              currentLevel < cpuLevel, let wanted = kernel(forLevel: cpuLevel, amd: dsb_cpu_is_amd() != 0)
        else { return report }
        let slow = "\(library) runs its \(current) kernels (\(describe(level: currentLevel))) on a CPU with \(report.cpu)"
        if let user = environment("OPENBLAS_CORETYPE") {
            report.warning = "\(slow), as OPENBLAS_CORETYPE=\(user) asks: matrix products run several times slower than this CPU allows"
            return report
        }
        if environment("DEEPSCRATCH_BLAS_CORE") == "keep" {
            report.warning = "\(slow), as DEEPSCRATCH_BLAS_CORE=keep asks: matrix products run several times slower than this CPU allows"
            return report
        }
        let status = dsb_blas_set_core(wanted)
        report.kernel = dsb_blas_corename().map { String(cString: $0) }
        if status == 0 {
            report.replaced = current
            report.warning = "\(slow) (it does not know this CPU); switched it to its \(wanted) kernels (set DEEPSCRATCH_BLAS_CORE=keep to keep OpenBLAS's choice)"
        } else {
            report.warning = "\(slow) and could not be switched to its \(wanted) kernels: matrix products run several times slower than this CPU allows (set OPENBLAS_CORETYPE=\(wanted) before starting, or use a newer OpenBLAS)"
        }
        return report
    }
}
