import Foundation
import Glibc
import XCTest

/// The C toolchain of the C ABI tests: finds the tools, compiles C programs
/// against this build's libdeepscratch.so (under a sanitizer: with the Swift
/// toolchain's clang and the same sanitizer) into `outputFolder`, and gives
/// the environment they run in. Shared by CExamplesTests and
/// HostileModelCABITests.
struct CCompiler {
    /// Where the executables go.
    let outputFolder: String

    /// The path of `name` on PATH; fails naming the Debian package to install.
    func tool(_ name: String, package: String) throws -> String {
        guard let path = CPaths.onPath(name) else {
            throw CTestError("'\(name)' is not on PATH (\(ProcessInfo.processInfo.environment["PATH"] ?? "")): install the Debian package \(package)")
        }
        return path
    }

    /// The folder holding this build's libdeepscratch.so.
    func libraryFolder() throws -> String { try CPaths.buildProducts() }

    /// The folder of the Swift runtime (libswiftCore.so): where this test
    /// process loaded it from, else what `swift -print-target-info` says.
    func swiftRuntimeFolder() throws -> String {
        if let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) {
            for line in maps.split(separator: "\n") {
                guard let slash = line.firstIndex(of: "/") else { continue }
                let path = String(line[slash...])
                if path.hasSuffix("/libswiftCore.so") { return (path as NSString).deletingLastPathComponent }
            }
        }
        if let swift = CPaths.onPath("swift"),
           let result = try? runCProcess(swift, ["-print-target-info"], limit: 120), result.status == 0,
           let info = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
           let paths = (info["paths"] as? [String: Any])?["runtimeLibraryPaths"] as? [String],
           let first = paths.first(where: { FileManager.default.fileExists(atPath: $0 + "/libswiftCore.so") }) {
            return first
        }
        let fallback = "/opt/swift/usr/lib/swift/linux"
        guard FileManager.default.fileExists(atPath: fallback + "/libswiftCore.so") else {
            throw CTestError("cannot find the Swift runtime (libswiftCore.so) that libdeepscratch.so needs")
        }
        return fallback
    }

    /// True when `library` needs no Swift runtime from outside, or its
    /// RUNPATH/RPATH names a folder holding libswiftCore.so.
    func runpathReachesSwiftRuntime(_ library: String) -> Bool {
        guard let readelf = CPaths.onPath("readelf"),
              let result = try? runCProcess(readelf, ["-d", library], limit: 60), result.status == 0 else { return false }
        let lines = result.stdout.split(separator: "\n")
        guard lines.contains(where: { $0.contains("(NEEDED)") && $0.contains("libswiftCore.so") }) else { return true }
        let origin = (library as NSString).deletingLastPathComponent
        for line in lines where line.contains("(RUNPATH)") || line.contains("(RPATH)") {
            guard let open = line.lastIndex(of: "["), let close = line.lastIndex(of: "]"), open < close else { continue }
            for entry in line[line.index(after: open)..<close].split(separator: ":") {
                let dir = entry.replacingOccurrences(of: "$ORIGIN", with: origin)
                if FileManager.default.fileExists(atPath: dir + "/libswiftCore.so") { return true }
            }
        }
        return false
    }

    /// The environment the examples run in: this one, plus LD_LIBRARY_PATH
    /// to the Swift runtime when the library's RUNPATH does not reach it
    /// (a debug build that is not linked with -static-stdlib).
    func runEnvironment() throws -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        let library = try libraryFolder() + "/libdeepscratch.so"
        if !runpathReachesSwiftRuntime(library) {
            let runtime = try swiftRuntimeFolder()
            env["LD_LIBRARY_PATH"] = [runtime, env["LD_LIBRARY_PATH"] ?? ""].filter { !$0.isEmpty }.joined(separator: ":")
        }
        return env
    }

    /// The sanitizer this test build runs under (`swift test
    /// --sanitize=address` or `=thread`), recognized by its runtime's entry
    /// point in this process. This build's libdeepscratch.so is then
    /// instrumented too, and a program linking it needs the same runtime.
    enum Sanitizer: String { case address, thread }
    var sanitizer: Sanitizer? {
        if dlsym(nil, "__asan_init") != nil { return .address }
        if dlsym(nil, "__tsan_init") != nil { return .thread }
        return nil
    }

    /// The clang beside `swift` (the Swift toolchain's, whose sanitizer
    /// runtimes match the ones the library was instrumented for).
    func swiftClang() throws -> String {
        guard let swift = CPaths.onPath("swift") else { throw CTestError("'swift' is not on PATH") }
        let clang = (URL(fileURLWithPath: swift).resolvingSymlinksInPath().deletingLastPathComponent().path) + "/clang"
        guard FileManager.default.isExecutableFile(atPath: clang) else { throw CTestError("no clang beside \(swift)") }
        return clang
    }

    /// The shared sanitizer runtime of the Swift toolchain's clang, which a
    /// program not built with the sanitizer (python3) must preload to load
    /// an instrumented library.
    func sanitizerRuntime(_ s: Sanitizer) throws -> String {
        let clangLib = URL(fileURLWithPath: try swiftClang()).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("lib/clang").path
        let short = s == .address ? "asan" : "tsan"
        for version in (try? FileManager.default.contentsOfDirectory(atPath: clangLib)) ?? [] {
            let path = "\(clangLib)/\(version)/lib/linux/libclang_rt.\(short)-x86_64.so"
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw CTestError("no libclang_rt.\(short)-x86_64.so under \(clangLib)")
    }

    /// The environment python3 runs the example in: `base`, plus,
    /// under a sanitizer, its runtime preloaded (and, under ASan, no leak
    /// report: the interpreter keeps its objects to the end on purpose).
    func pythonEnvironment(_ base: [String: String]) throws -> [String: String] {
        var env = base
        if let s = sanitizer {
            var preload = [try sanitizerRuntime(s)]
            if s == .thread {
                // Swift's TSan runtime intercepts libdispatch and needs it loaded.
                let runtime = try swiftRuntimeFolder()
                preload += [runtime + "/libdispatch.so", runtime + "/libBlocksRuntime.so"]
            }
            env["LD_PRELOAD"] = preload.joined(separator: " ")
            if s == .address { env["ASAN_OPTIONS"] = "detect_leaks=0" }
        }
        return env
    }

    /// Compiles C `sources` into the executable `name` in the temporary
    /// folder, linked against this build's libdeepscratch.so (under a
    /// sanitizer: with the Swift toolchain's clang and the same sanitizer).
    func buildC(_ sources: [String], name: String, extraFlags: [String] = [], libraries: [String] = [],
                        file: StaticString = #filePath, line: UInt = #line) throws -> String {
        var cc = try tool("cc", package: "gcc")
        var sanitizerFlags: [String] = [], sanitizerLibraries: [String] = []
        if let s = sanitizer {
            cc = try swiftClang()
            sanitizerFlags = ["-fsanitize=\(s.rawValue)", "-fuse-ld=lld"]
            // Swift's TSan runtime also intercepts libdispatch.
            if s == .thread {
                let runtime = try swiftRuntimeFolder()
                sanitizerLibraries = ["-L" + runtime, "-ldispatch", "-lBlocksRuntime", "-Wl,-rpath," + runtime]
            }
        }
        let lib = try libraryFolder()
        let output = outputFolder + "/" + name
        let arguments = ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror"] + sanitizerFlags + extraFlags + ["-I", CPaths.root + "/include"]
            + sources + ["-L" + lib, "-ldeepscratch"] + libraries + sanitizerLibraries + ["-Wl,-rpath," + lib, "-o", output]
        let result = try runCProcess(cc, arguments, limit: 120)
        guard result.status == 0, FileManager.default.isExecutableFile(atPath: output) else {
            throw CTestError("cc \(arguments.joined(separator: " ")) failed:\n\(result.summary)")
        }
        XCTAssertEqual(result.stderr, "", "warnings building \(name)", file: file, line: line)
        return output
    }
}
