import DeepScratch
import Foundation
import Glibc
import XCTest

/// The C side of libdeepscratch.so, through real compilers: the header
/// compiles as C99 and C++ without warnings, a C program calling every
/// function links and runs against the library this build produced, and
/// the examples (classify.c, threads.c, classify.py) work with the shipped
/// model and print what they should.
///
/// Needs `cc` and `c++` (Debian: gcc, g++), `python3`, and zlib's header
/// (zlib1g-dev, which the package needs anyway). A missing tool fails the
/// test with the name of the package to install.
final class CExamplesTests: XCTestCase {
    var folder: CTemporaryFolder!

    override func setUpWithError() throws {
        folder = try CTemporaryFolder()
    }

    override func tearDown() {
        folder = nil
    }

    // MARK: - Tools and paths

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
    private func swiftRuntimeFolder() throws -> String {
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
    private func runpathReachesSwiftRuntime(_ library: String) -> Bool {
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
    private func swiftClang() throws -> String {
        guard let swift = CPaths.onPath("swift") else { throw CTestError("'swift' is not on PATH") }
        let clang = (URL(fileURLWithPath: swift).resolvingSymlinksInPath().deletingLastPathComponent().path) + "/clang"
        guard FileManager.default.isExecutableFile(atPath: clang) else { throw CTestError("no clang beside \(swift)") }
        return clang
    }

    /// The shared sanitizer runtime of the Swift toolchain's clang, which a
    /// program not built with the sanitizer (python3) must preload to load
    /// an instrumented library.
    private func sanitizerRuntime(_ s: Sanitizer) throws -> String {
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
        let output = folder.path + "/" + name
        let arguments = ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror"] + sanitizerFlags + extraFlags + ["-I", CPaths.root + "/include"]
            + sources + ["-L" + lib, "-ldeepscratch"] + libraries + sanitizerLibraries + ["-Wl,-rpath," + lib, "-o", output]
        let result = try runCProcess(cc, arguments, limit: 120)
        guard result.status == 0, FileManager.default.isExecutableFile(atPath: output) else {
            throw CTestError("cc \(arguments.joined(separator: " ")) failed:\n\(result.summary)")
        }
        XCTAssertEqual(result.stderr, "", "warnings building \(name)", file: file, line: line)
        return output
    }

    /// The example drawings, sorted, with the digit of each file name.
    private func exampleDigits() throws -> [(path: String, label: Int)] {
        let dir = CPaths.examples + "/digits"
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".png") }.sorted()
        guard !names.isEmpty else { throw CTestError("no PNG files in \(dir)") }
        return try names.map { name in
            guard let label = CPaths.labelOfFileName(name) else { throw CTestError("\(name): no _L label in the name") }
            return (dir + "/" + name, label)
        }
    }

    /// Checks classify's output line for `path`: "PATH: LABEL (P %)", with
    /// LABEL the expected digit and P a percentage with one decimal.
    private func checkLine(_ line: String, path: String, label: Int, file: StaticString = #filePath, line number: UInt = #line) {
        guard line.hasPrefix(path + ": ") else {
            XCTFail("line '\(line)' does not start with '\(path): '", file: file, line: number)
            return
        }
        let rest = line.dropFirst(path.count + 2)
        let parts = rest.split(separator: " ", maxSplits: 1)
        XCTAssertEqual(parts.first.map(String.init), String(label), "label of \(path) in '\(line)'", file: file, line: number)
        guard parts.count == 2, parts[1].hasPrefix("("), parts[1].hasSuffix(" %)") else {
            XCTFail("no '(P %)' in '\(line)'", file: file, line: number)
            return
        }
        let percent = parts[1].dropFirst().dropLast(3)
        let decimals = percent.split(separator: ".")
        XCTAssertTrue(decimals.count == 2 && decimals[1].count == 1, "'\(percent)' has one decimal", file: file, line: number)
        let value = Double(percent) ?? -1
        XCTAssertTrue(value >= 0 && value <= 100, "percentage \(percent) in '\(line)'", file: file, line: number)
    }

    // MARK: - The header

    /// A C program (also valid C++) that includes the header twice and calls
    /// every function it declares, checking the results: run with a model
    /// file and a PNG file, it prints the PNG's class and "ok".
    static let smokeProgram = #"""
    #include <math.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include "deepscratch.h"
    #include "deepscratch.h" /* a second time: the include guard */

    static int failures = 0;
    #define CHECK(cond) do { if (!(cond)) { printf("FAIL line %d: %s [%s]\n", __LINE__, #cond, ds_last_error()); failures++; } } while (0)

    static unsigned char *read_file(const char *path, size_t *size) {
        FILE *f = fopen(path, "rb");
        if (f == NULL) return NULL;
        unsigned char *bytes = (unsigned char *)malloc(1 << 22);
        *size = bytes ? fread(bytes, 1, 1 << 22, f) : 0;
        fclose(f);
        return bytes;
    }

    int main(int argc, char **argv) {
        if (argc != 3) {
            fprintf(stderr, "usage: %s MODEL.dsm DIGIT.png\n", argv[0]);
            return 2;
        }
        CHECK(strcmp(ds_version(), DS_VERSION_STRING) == 0);
        CHECK(ds_version_major() == DS_VERSION_MAJOR);
        CHECK(sizeof(ds_status) == sizeof(int));
        ds_status status = DS_CHECK_VERSION();
        CHECK(status == DS_OK);
        CHECK(ds_check_version(DS_VERSION_MAJOR + 1) == DS_ERR_VERSION_MISMATCH);
        CHECK(strlen(ds_last_error()) > 0);
        CHECK(strcmp(ds_status_name(DS_ERR_BAD_IMAGE), "DS_ERR_BAD_IMAGE") == 0);

        ds_model *model = NULL;
        CHECK(ds_model_load(argv[1], &model) == DS_OK);
        if (model == NULL) return 1;
        const ds_model *view = model;
        size_t input = 0, classes = 0, length = 0;
        CHECK(ds_model_input_size(view, &input) == DS_OK && input == 784);
        CHECK(ds_model_class_count(view, &classes) == DS_OK && classes == 10);
        char label[8];
        CHECK(ds_model_label(view, 7, label, sizeof label, &length) == DS_OK && strcmp(label, "7") == 0 && length == 1);
        CHECK(ds_model_label(view, 10, label, sizeof label, &length) == DS_ERR_INVALID_ARGUMENT);
        CHECK(ds_model_metadata(view, NULL, 0, &length) == DS_OK && length > 2);
        char *meta = (char *)malloc(length + 1);
        CHECK(meta != NULL && ds_model_metadata(view, meta, length + 1, NULL) == DS_OK);
        CHECK(meta != NULL && meta[0] == '{' && meta[length - 1] == '}' && strlen(meta) == length);
        free(meta);

        float p[10], q[10];
        int k = -1, k2 = -2;
        CHECK(ds_classify_png_file(view, argv[2], p, 10, &k) == DS_OK);
        size_t png_size = 0;
        unsigned char *png = read_file(argv[2], &png_size);
        CHECK(png != NULL && png_size > 8);
        CHECK(ds_classify_png_memory(view, png, png_size, q, 10, &k2) == DS_OK);
        CHECK(k2 == k && memcmp(p, q, sizeof p) == 0);
        free(png);
        CHECK(ds_classify_png_file(view, "/nonexistent/digit.png", NULL, 0, &k2) == DS_ERR_IO);
        CHECK(strstr(ds_last_error(), "/nonexistent/digit.png") != NULL);

        /* Two images of floats: blank, and a vertical bar. */
        float *images = (float *)calloc(2 * 784, sizeof *images);
        if (images == NULL) return 1;
        for (int r = 4; r < 24; r++) images[784 + r * 28 + 14] = 1.0f;
        float batch[20];
        int batch_classes[2] = {-1, -1};
        CHECK(ds_classify_batch(view, images, 2, 784, batch, 20, batch_classes) == DS_OK);
        for (int i = 0; i < 2; i++) {
            float one[10];
            int c = -1;
            double sum = 0;
            CHECK(ds_classify(view, images + i * 784, 784, one, 10, &c) == DS_OK && c == batch_classes[i]);
            for (int j = 0; j < 10; j++) {
                sum += one[j];
                CHECK(fabs(one[j] - batch[i * 10 + j]) < 1e-5);
            }
            CHECK(fabs(sum - 1) < 1e-5);
        }
        CHECK(ds_classify(view, images, 783, NULL, 0, &k2) == DS_ERR_INVALID_ARGUMENT);
        CHECK(strstr(ds_last_error(), "783") != NULL && strstr(ds_last_error(), "784") != NULL);
        free(images);

        size_t model_size = 0;
        unsigned char *bytes = read_file(argv[1], &model_size);
        size_t threads = 0;
        CHECK(ds_set_threads(1) == DS_OK && ds_get_threads(&threads) == DS_OK && threads == 1);
        CHECK(ds_set_spin(0) == DS_OK && ds_set_spin(50) == DS_OK && ds_set_threads(0) == DS_OK);
        CHECK(ds_set_threads(257) == DS_ERR_INVALID_ARGUMENT && ds_get_threads(NULL) == DS_ERR_INVALID_ARGUMENT);

        ds_model *copy = NULL;
        CHECK(bytes != NULL && ds_model_load_memory(bytes, model_size, &copy) == DS_OK && copy != NULL);
        free(bytes);
        CHECK(ds_model_load_memory(NULL, 0, &copy) == DS_ERR_INVALID_ARGUMENT);
        CHECK(ds_model_load_memory(&model_size, (size_t)-1, &copy) == DS_ERR_INVALID_ARGUMENT);
        CHECK(ds_model_free(copy) == DS_OK);
        CHECK(ds_model_free(model) == DS_OK);
        CHECK(ds_model_free(model) == DS_ERR_INVALID_ARGUMENT);
        CHECK(ds_model_input_size(model, &input) == DS_ERR_INVALID_ARGUMENT);
        CHECK(ds_model_free(NULL) == DS_OK);

        printf("class %d\n%s\n", k, failures ? "failed" : "ok");
        return failures ? 1 : 0;
    }
    """#

    /// The functions include/deepscratch.h declares (outside comments).
    private func headerFunctions() throws -> Set<String> {
        var text = try String(contentsOfFile: CPaths.header, encoding: .utf8)
        while let open = text.range(of: "/*") {
            guard let close = text.range(of: "*/", range: open.upperBound..<text.endIndex) else { break }
            text.removeSubrange(open.lowerBound..<close.upperBound)
        }
        var names = Set<String>()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var rest = Substring(line)
            while let start = rest.range(of: "ds_") {
                let name = rest[start.lowerBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                let after = rest[name.endIndex...].drop { $0 == " " }
                if after.hasPrefix("(") { names.insert(String(name)) }
                rest = rest[name.endIndex...]
            }
        }
        return names
    }

    func testSmokeProgramCallsEveryFunctionTheHeaderDeclares() throws {
        let functions = try headerFunctions()
        XCTAssertEqual(functions.count, 19, "\(functions.sorted())")
        for name in functions.sorted() {
            XCTAssertTrue(Self.smokeProgram.contains(name + "("), "the smoke program does not call \(name)")
        }
    }

    func testHeaderCompilesAsC99WithoutWarnings() throws {
        let cc = try tool("cc", package: "gcc")
        let source = try folder.write("smoke.c", text: Self.smokeProgram)
        let result = try runCProcess(cc, ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                                          "-I", CPaths.root + "/include", "-x", "c", source], limit: 120)
        XCTAssertEqual(result.status, 0, result.summary)
        XCTAssertEqual(result.stderr, "")
    }

    func testHeaderCompilesAsCxxWithoutWarnings() throws {
        let cxx = try tool("c++", package: "g++")
        let source = try folder.write("smoke.cpp", text: Self.smokeProgram)
        for standard in ["c++11", "c++17"] {
            let result = try runCProcess(cxx, ["-std=\(standard)", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                                               "-I", CPaths.root + "/include", "-x", "c++", source], limit: 120)
            XCTAssertEqual(result.status, 0, "\(standard): \(result.summary)")
            XCTAssertEqual(result.stderr, "", standard)
        }
    }

    func testHeaderAloneCompilesAsCAndCxx() throws {
        // Only the header, nothing included before it: it must bring what it uses.
        let source = try folder.write("only.h.c", text: "#include \"deepscratch.h\"\n")
        let cc = try tool("cc", package: "gcc"), cxx = try tool("c++", package: "g++")
        for (compiler, flags) in [(cc, ["-std=c99", "-x", "c"]), (cxx, ["-std=c++11", "-x", "c++"])] {
            let result = try runCProcess(compiler, flags + ["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                                                            "-I", CPaths.root + "/include", source], limit: 120)
            XCTAssertEqual(result.status, 0, "\(compiler): \(result.summary)")
        }
    }

    func testSmokeProgramInCLinksAndPassesAgainstTheBuiltLibrary() throws {
        let source = try folder.write("smoke.c", text: Self.smokeProgram)
        let smoke = try buildC([source], name: "smoke", extraFlags: ["-pedantic"], libraries: ["-lm"])
        let digit = try XCTUnwrap(exampleDigits().first)
        let result = try runCProcess(smoke, [CPaths.shippedModel, digit.path], environment: try runEnvironment(), limit: 120)
        XCTAssertEqual(result.status, 0, result.summary)
        XCTAssertEqual(result.stdoutLines, ["class \(digit.label)", "ok"], result.summary)
    }

    // MARK: - classify.c and classify.py

    func testClassifyExamplePrintsTheDigitOfEveryExampleDrawing() throws {
        let classify = try buildC([CPaths.examples + "/classify.c"], name: "classify")
        let digits = try exampleDigits()
        let result = try runCProcess(classify, [CPaths.shippedModel] + digits.map(\.path),
                                     environment: try runEnvironment(), limit: 120)
        XCTAssertEqual(result.status, 0, result.summary)
        XCTAssertEqual(result.stderr, "")
        XCTAssertEqual(result.stdoutLines.count, digits.count, result.summary)
        for (line, digit) in zip(result.stdoutLines, digits) {
            checkLine(line, path: digit.path, label: digit.label)
        }
    }

    /// examples/static-archive.sh on this build's objects: the archive
    /// defines only the header's ds_* functions as globals, and classify.c
    /// linked with it by a plain `cc` (no Swift runtime on the command line
    /// or in the run environment) prints what the shared library's build
    /// prints.
    func testStaticArchiveHasOnlyTheHeadersSymbolsAndLinksAPlainCProgram() throws {
        let list = try libraryFolder() + "/deepscratch.product/Objects.LinkFileList"
        guard FileManager.default.fileExists(atPath: list) else { throw CTestError("no \(list): build the deepscratch product first") }
        let archive = folder.path + "/libdeepscratch.a"
        let made = try runCProcess(CPaths.examples + "/static-archive.sh",
                                   [list, CPaths.root + "/include/deepscratch.h", archive], limit: 300)
        XCTAssertEqual(made.status, 0, made.summary)
        let nm = try tool("nm", package: "binutils")
        let symbols = try runCProcess(nm, ["-g", "--defined-only", archive], limit: 120)
        XCTAssertEqual(symbols.status, 0, symbols.summary)
        let globals = Set(symbols.stdoutLines.compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count == 3 ? String(fields[2]) : nil
        })
        XCTAssertEqual(globals, try headerFunctions())

        let cc = try tool("cc", package: "gcc")
        let output = folder.path + "/classify-static"
        let link = try runCProcess(cc, ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", CPaths.root + "/include",
                                        CPaths.examples + "/classify.c", archive, "-lpng16", "-lz", "-lopenblas",
                                        "-lstdc++", "-lm", "-lpthread", "-ldl", "-o", output], limit: 300)
        XCTAssertEqual(link.status, 0, link.summary)
        let digits = try exampleDigits()
        var plain = ProcessInfo.processInfo.environment
        plain["LD_LIBRARY_PATH"] = nil
        let result = try runCProcess(output, [CPaths.shippedModel] + digits.map(\.path), environment: plain, limit: 120)
        XCTAssertEqual(result.status, 0, result.summary)
        let dynamic = try runCProcess(try buildC([CPaths.examples + "/classify.c"], name: "classify"),
                                      [CPaths.shippedModel] + digits.map(\.path), environment: try runEnvironment(), limit: 120)
        XCTAssertEqual(result.stdoutLines, dynamic.stdoutLines)
        XCTAssertEqual(result.stdoutLines.count, digits.count, result.summary)
        let needed = try runCProcess(try tool("readelf", package: "binutils"), ["-d", output], limit: 60)
        XCTAssertFalse(needed.stdout.contains("libswift"), "classify-static needs a Swift library:\n\(needed.stdout)")
    }

    func testClassifyExampleReportsAMissingFileAndStillClassifiesTheOthers() throws {
        let classify = try buildC([CPaths.examples + "/classify.c"], name: "classify")
        let digits = try exampleDigits()
        let missing = folder.path + "/missing_5.png"
        var arguments = digits.map(\.path)
        arguments.insert(missing, at: 1)
        let result = try runCProcess(classify, [CPaths.shippedModel] + arguments, environment: try runEnvironment(), limit: 120)
        XCTAssertEqual(result.status, 1, result.summary)
        XCTAssertEqual(result.stdoutLines.count, digits.count, result.summary)
        for (line, digit) in zip(result.stdoutLines, digits) {
            checkLine(line, path: digit.path, label: digit.label)
        }
        XCTAssertTrue(result.stderr.contains(missing), result.summary)
        XCTAssertFalse(result.stdout.contains(missing), result.summary)
    }

    func testClassifyExampleExitsWith2ForBadUsageOrAModelThatDoesNotLoad() throws {
        let classify = try buildC([CPaths.examples + "/classify.c"], name: "classify")
        let env = try runEnvironment()
        let digit = try XCTUnwrap(exampleDigits().first).path
        let usage = try runCProcess(classify, [CPaths.shippedModel], environment: env, limit: 60)
        XCTAssertEqual(usage.status, 2, usage.summary)
        XCTAssertTrue(usage.stderr.contains("usage"), usage.summary)
        let missing = folder.path + "/no-model.dsm"
        let noModel = try runCProcess(classify, [missing, digit], environment: env, limit: 60)
        XCTAssertEqual(noModel.status, 2, noModel.summary)
        XCTAssertTrue(noModel.stderr.contains(missing), noModel.summary)
        XCTAssertEqual(noModel.stdout, "")
    }

    func testPythonExamplePrintsTheSameLinesAsTheCExample() throws {
        let python = try tool("python3", package: "python3")
        let classify = try buildC([CPaths.examples + "/classify.c"], name: "classify")
        let digits = try exampleDigits()
        var env = try runEnvironment()
        let arguments = [CPaths.shippedModel] + digits.map(\.path)
        let c = try runCProcess(classify, arguments, environment: env, limit: 120)
        env["DEEPSCRATCH_LIB"] = try libraryFolder() + "/libdeepscratch.so"
        let py = try runCProcess(python, [CPaths.examples + "/classify.py"] + arguments, environment: try pythonEnvironment(env), limit: 120)
        XCTAssertEqual(c.status, 0, c.summary)
        XCTAssertEqual(py.status, 0, py.summary)
        XCTAssertEqual(py.stdoutLines.count, digits.count, py.summary)
        XCTAssertEqual(py.stdout, c.stdout)
        for (line, digit) in zip(py.stdoutLines, digits) {
            checkLine(line, path: digit.path, label: digit.label)
        }
    }

    func testPythonExampleReportsAMissingFileLikeTheCExample() throws {
        let python = try tool("python3", package: "python3")
        let classify = try buildC([CPaths.examples + "/classify.c"], name: "classify")
        let missing = folder.path + "/missing_5.png"
        var env = try runEnvironment()
        let arguments = [CPaths.shippedModel, missing] + (try exampleDigits()).map(\.path)
        let c = try runCProcess(classify, arguments, environment: env, limit: 120)
        env["DEEPSCRATCH_LIB"] = try libraryFolder() + "/libdeepscratch.so"
        let py = try runCProcess(python, [CPaths.examples + "/classify.py"] + arguments, environment: try pythonEnvironment(env), limit: 120)
        XCTAssertEqual(c.status, 1, c.summary)
        XCTAssertEqual(py.status, 1, py.summary)
        XCTAssertEqual(py.stdout, c.stdout)
        XCTAssertTrue(py.stderr.contains(missing), py.summary)
    }

    // MARK: - threads.c

    func testThreadsExampleFindsNoMismatchesOnTheMNISTTestImagesWithEightThreads() throws {
        let images = try CPaths.mnistTestImages()
        let count = try IDXFile.read(path: images, dimensionCount: 3).dimensions[0]
        let threads = try buildC([CPaths.examples + "/threads.c"], name: "threads",
                                 extraFlags: ["-D_POSIX_C_SOURCE=200809L"], libraries: ["-lz", "-lpthread"])
        let result = try runCProcess(threads, [CPaths.shippedModel, images, "8"], environment: try runEnvironment(), limit: 600)
        XCTAssertEqual(result.status, 0, result.summary)
        XCTAssertEqual(result.stdoutLines, ["8 threads, \(count) classifications, 0 mismatches, 0 errors"], result.summary)
        XCTAssertEqual(result.stderr, "")
    }

    // MARK: - latency.c

    func testLatencyExampleBuildsAndReportsBothMeasurements() throws {
        // Only the shape of its output: the numbers are timings.
        let images = try CPaths.mnistTestImages()
        let latency = try buildC([CPaths.examples + "/latency.c"], name: "latency",
                                 extraFlags: ["-D_POSIX_C_SOURCE=200809L"], libraries: ["-lz"])
        let result = try runCProcess(latency, [CPaths.shippedModel, images, "50"], environment: try runEnvironment(), limit: 600)
        XCTAssertEqual(result.status, 0, result.summary)
        let lines = result.stdoutLines
        XCTAssertEqual(lines.count, 2, result.summary)
        XCTAssertTrue(lines.first?.hasPrefix("single image: median ") == true && lines.first?.hasSuffix(" (50 calls)") == true,
                      result.summary)
        XCTAssertTrue(lines.last?.hasPrefix("batch of 1000: median ") == true, result.summary)
    }
}
