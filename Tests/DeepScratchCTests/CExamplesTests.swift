import DeepScratch
import DeepScratchImage
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

    /// Compiles C programs against this build's library into the temporary folder.
    var compiler: CCompiler { CCompiler(outputFolder: folder.path) }

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

        /* 1.2: input shape, what classification sees, pixel buffers, PNG batches, load options. */
        CHECK(ds_version_minor() == DS_VERSION_MINOR);
        size_t height = 0, width = 0, channels = 0;
        CHECK(ds_model_input_shape(view, &height, &width, &channels) == DS_OK && height == 28 && width == 28 && channels == 1);
        float seen[784], seen2[784];
        CHECK(ds_preprocess_png_file(view, argv[2], seen, 784) == DS_OK);
        png = read_file(argv[2], &png_size);
        CHECK(png != NULL && ds_preprocess_png_memory(view, png, png_size, seen2, 784) == DS_OK && memcmp(seen, seen2, sizeof seen) == 0);
        free(png);
        CHECK(ds_classify(view, seen, 784, q, 10, &k2) == DS_OK && k2 == k && memcmp(p, q, sizeof p) == 0);
        /* The input as an RGBA frame, light ink on black, rows padded: the same input again. */
        unsigned char frame[28 * 120];
        memset(frame, 0x55, sizeof frame);
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) {
                unsigned char v = (unsigned char)(seen[y * 28 + x] * 255 + 0.5f);
                unsigned char *px = frame + y * 120 + 4 * x;
                px[0] = px[1] = px[2] = v;
                px[3] = 255;
            }
        CHECK(ds_preprocess_pixels(view, frame, 28, 28, 120, DS_PIXELS_RGBA8, seen2, 784) == DS_OK);
        CHECK(ds_classify_pixels(view, frame, 28, 28, 120, DS_PIXELS_RGBA8, q, 10, &k2) == DS_OK && k2 == k);
        CHECK(ds_classify_pixels(view, frame, 28, 28, 111, DS_PIXELS_RGBA8, q, 10, &k2) == DS_ERR_INVALID_ARGUMENT);
        const char *files[2] = {argv[2], "/nonexistent/digit.png"};
        int file_classes[2] = {-2, -2};
        ds_status file_statuses[2] = {DS_OK, DS_OK};
        CHECK(ds_classify_png_files(view, files, 2, NULL, 0, file_classes, file_statuses) == DS_ERR_IO);
        CHECK(file_classes[0] == k && file_classes[1] == -1 && file_statuses[0] == DS_OK && file_statuses[1] == DS_ERR_IO);
        ds_load_options options;
        CHECK(ds_load_options_default(&options) == DS_OK && options.struct_size == sizeof options && options.threads == 0);
        options.max_model_bytes = 100;
        ds_model *limited = NULL;
        CHECK(ds_model_load_with_options(argv[1], &options, &limited) == DS_ERR_IO && limited == NULL);
        CHECK(ds_model_load_memory_with_options(frame, sizeof frame, &options, &limited) == DS_ERR_BAD_MODEL);
        options.max_model_bytes = 0;
        CHECK(ds_model_load_with_options(argv[1], &options, &limited) == DS_OK && ds_model_free(limited) == DS_OK);
        CHECK(ds_model_load_with_options(argv[1], NULL, &limited) == DS_OK && ds_model_free(limited) == DS_OK);

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
        XCTAssertEqual(functions.count, 29, "\(functions.sorted())")
        for name in functions.sorted() {
            XCTAssertTrue(Self.smokeProgram.contains(name + "("), "the smoke program does not call \(name)")
        }
    }

    func testHeaderCompilesAsC99WithoutWarnings() throws {
        let cc = try compiler.tool("cc", package: "gcc")
        let source = try folder.write("smoke.c", text: Self.smokeProgram)
        let result = try runCProcess(cc, ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                                          "-I", CPaths.root + "/include", "-x", "c", source], limit: 120)
        XCTAssertEqual(result.status, 0, result.summary)
        XCTAssertEqual(result.stderr, "")
    }

    func testHeaderCompilesAsCxxWithoutWarnings() throws {
        let cxx = try compiler.tool("c++", package: "g++")
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
        let cc = try compiler.tool("cc", package: "gcc"), cxx = try compiler.tool("c++", package: "g++")
        for (compiler, flags) in [(cc, ["-std=c99", "-x", "c"]), (cxx, ["-std=c++11", "-x", "c++"])] {
            let result = try runCProcess(compiler, flags + ["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                                                            "-I", CPaths.root + "/include", source], limit: 120)
            XCTAssertEqual(result.status, 0, "\(compiler): \(result.summary)")
        }
    }

    func testSmokeProgramInCLinksAndPassesAgainstTheBuiltLibrary() throws {
        let source = try folder.write("smoke.c", text: Self.smokeProgram)
        let smoke = try compiler.buildC([source], name: "smoke", extraFlags: ["-pedantic"], libraries: ["-lm"])
        let digit = try XCTUnwrap(exampleDigits().first)
        let result = try runCProcess(smoke, [CPaths.shippedModel, digit.path], environment: try compiler.runEnvironment(), limit: 120)
        XCTAssertEqual(result.status, 0, result.summary)
        XCTAssertEqual(result.stdoutLines, ["class \(digit.label)", "ok"], result.summary)
    }

    // MARK: - classify.c and classify.py

    func testClassifyExamplePrintsTheDigitOfEveryExampleDrawing() throws {
        let classify = try compiler.buildC([CPaths.examples + "/classify.c"], name: "classify")
        let digits = try exampleDigits()
        let result = try runCProcess(classify, [CPaths.shippedModel] + digits.map(\.path),
                                     environment: try compiler.runEnvironment(), limit: 120)
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
        let list = try compiler.libraryFolder() + "/deepscratch.product/Objects.LinkFileList"
        guard FileManager.default.fileExists(atPath: list) else { throw CTestError("no \(list): build the deepscratch product first") }
        let archive = folder.path + "/libdeepscratch.a"
        let made = try runCProcess(CPaths.examples + "/static-archive.sh",
                                   [list, CPaths.root + "/include/deepscratch.h", archive], limit: 300)
        XCTAssertEqual(made.status, 0, made.summary)
        let nm = try compiler.tool("nm", package: "binutils")
        let symbols = try runCProcess(nm, ["-g", "--defined-only", archive], limit: 120)
        XCTAssertEqual(symbols.status, 0, symbols.summary)
        let globals = Set(symbols.stdoutLines.compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count == 3 ? String(fields[2]) : nil
        })
        XCTAssertEqual(globals, try headerFunctions())

        let cc = try compiler.tool("cc", package: "gcc")
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
        let dynamic = try runCProcess(try compiler.buildC([CPaths.examples + "/classify.c"], name: "classify"),
                                      [CPaths.shippedModel] + digits.map(\.path), environment: try compiler.runEnvironment(), limit: 120)
        XCTAssertEqual(result.stdoutLines, dynamic.stdoutLines)
        XCTAssertEqual(result.stdoutLines.count, digits.count, result.summary)
        let needed = try runCProcess(try compiler.tool("readelf", package: "binutils"), ["-d", output], limit: 60)
        XCTAssertFalse(needed.stdout.contains("libswift"), "classify-static needs a Swift library:\n\(needed.stdout)")
    }

    // MARK: - frames.c (1.2: pixel buffers)

    func testFramesExampleClassifiesCameraLikeRGBAFramesAsThePNGsInBothPolarities() throws {
        let frames = try compiler.buildC([CPaths.examples + "/frames.c"], name: "frames")
        let digits = try exampleDigits() + (try CPaths.digitPNGs())
        let result = try runCProcess(frames, [CPaths.shippedModel] + digits.map(\.path),
                                     environment: try compiler.runEnvironment(), limit: 300)
        XCTAssertEqual(result.status, 0, result.summary)
        XCTAssertEqual(result.stdoutLines.count, digits.count, result.summary)
        for (line, digit) in zip(result.stdoutLines, digits) {
            // "PATH: png L, page L, board L (W x H)": the same label three times, the file's own.
            XCTAssertTrue(line.hasPrefix("\(digit.path): png \(digit.label), page \(digit.label), board \(digit.label) ("), line)
        }
        let missing = try runCProcess(frames, [CPaths.shippedModel, folder.path + "/missing_3.png"],
                                      environment: try compiler.runEnvironment(), limit: 60)
        XCTAssertEqual(missing.status, 1, missing.summary)
        XCTAssertTrue(missing.stderr.contains("missing_3.png"), missing.summary)
    }

    func testClassifyExampleReportsAMissingFileAndStillClassifiesTheOthers() throws {
        let classify = try compiler.buildC([CPaths.examples + "/classify.c"], name: "classify")
        let digits = try exampleDigits()
        let missing = folder.path + "/missing_5.png"
        var arguments = digits.map(\.path)
        arguments.insert(missing, at: 1)
        let result = try runCProcess(classify, [CPaths.shippedModel] + arguments, environment: try compiler.runEnvironment(), limit: 120)
        XCTAssertEqual(result.status, 1, result.summary)
        XCTAssertEqual(result.stdoutLines.count, digits.count, result.summary)
        for (line, digit) in zip(result.stdoutLines, digits) {
            checkLine(line, path: digit.path, label: digit.label)
        }
        XCTAssertTrue(result.stderr.contains(missing), result.summary)
        XCTAssertFalse(result.stdout.contains(missing), result.summary)
    }

    func testClassifyExampleExitsWith2ForBadUsageOrAModelThatDoesNotLoad() throws {
        let classify = try compiler.buildC([CPaths.examples + "/classify.c"], name: "classify")
        let env = try compiler.runEnvironment()
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
        let python = try compiler.tool("python3", package: "python3")
        let classify = try compiler.buildC([CPaths.examples + "/classify.c"], name: "classify")
        let digits = try exampleDigits()
        var env = try compiler.runEnvironment()
        let arguments = [CPaths.shippedModel] + digits.map(\.path)
        let c = try runCProcess(classify, arguments, environment: env, limit: 120)
        env["DEEPSCRATCH_LIB"] = try compiler.libraryFolder() + "/libdeepscratch.so"
        let py = try runCProcess(python, [CPaths.examples + "/classify.py"] + arguments, environment: try compiler.pythonEnvironment(env), limit: 120)
        XCTAssertEqual(c.status, 0, c.summary)
        XCTAssertEqual(py.status, 0, py.summary)
        XCTAssertEqual(py.stdoutLines.count, digits.count, py.summary)
        XCTAssertEqual(py.stdout, c.stdout)
        for (line, digit) in zip(py.stdoutLines, digits) {
            checkLine(line, path: digit.path, label: digit.label)
        }
    }

    func testPythonExampleReportsAMissingFileLikeTheCExample() throws {
        let python = try compiler.tool("python3", package: "python3")
        let classify = try compiler.buildC([CPaths.examples + "/classify.c"], name: "classify")
        let missing = folder.path + "/missing_5.png"
        var env = try compiler.runEnvironment()
        let arguments = [CPaths.shippedModel, missing] + (try exampleDigits()).map(\.path)
        let c = try runCProcess(classify, arguments, environment: env, limit: 120)
        env["DEEPSCRATCH_LIB"] = try compiler.libraryFolder() + "/libdeepscratch.so"
        let py = try runCProcess(python, [CPaths.examples + "/classify.py"] + arguments, environment: try compiler.pythonEnvironment(env), limit: 120)
        XCTAssertEqual(c.status, 1, c.summary)
        XCTAssertEqual(py.status, 1, py.summary)
        XCTAssertEqual(py.stdout, c.stdout)
        XCTAssertTrue(py.stderr.contains(missing), py.summary)
    }

    // MARK: - threads.c

    func testThreadsExampleFindsNoMismatchesOnTheMNISTTestImagesWithEightThreads() throws {
        let images = try CPaths.mnistTestImages()
        let count = try IDXFile.read(path: images, dimensionCount: 3).dimensions[0]
        let threads = try compiler.buildC([CPaths.examples + "/threads.c"], name: "threads",
                                 extraFlags: ["-D_POSIX_C_SOURCE=200809L"], libraries: ["-lz", "-lpthread"])
        let result = try runCProcess(threads, [CPaths.shippedModel, images, "8"], environment: try compiler.runEnvironment(), limit: 600)
        XCTAssertEqual(result.status, 0, result.summary)
        XCTAssertEqual(result.stdoutLines, ["8 threads, \(count) classifications, 0 mismatches, 0 errors"], result.summary)
        XCTAssertEqual(result.stderr, "")
    }

    // MARK: - latency.c

    func testLatencyExampleBuildsAndReportsBothMeasurements() throws {
        // Only the shape of its output: the numbers are timings.
        let images = try CPaths.mnistTestImages()
        let latency = try compiler.buildC([CPaths.examples + "/latency.c"], name: "latency",
                                 extraFlags: ["-D_POSIX_C_SOURCE=200809L"], libraries: ["-lz"])
        let result = try runCProcess(latency, [CPaths.shippedModel, images, "50"], environment: try compiler.runEnvironment(), limit: 600)
        XCTAssertEqual(result.status, 0, result.summary)
        let lines = result.stdoutLines
        XCTAssertEqual(lines.count, 2, result.summary)
        XCTAssertTrue(lines.first?.hasPrefix("single image: median ") == true && lines.first?.hasSuffix(" (50 calls)") == true,
                      result.summary)
        XCTAssertTrue(lines.last?.hasPrefix("batch of 1000: median ") == true, result.summary)
    }
}
