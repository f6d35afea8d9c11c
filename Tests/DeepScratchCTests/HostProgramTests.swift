import DeepScratch
import Foundation
import Glibc
import XCTest

/// What a host program does to the library it loaded, from outside, through
/// the C programs of `Tests/Hosts` built against this build's
/// libdeepscratch.so: fork() after a batch, dlclose() while its threads live
/// on, choosing the library's threads, and NaN or infinite pixels. Each
/// program checks its own results and exits 0; a crash, a hang (the
/// subprocess watchdog) or a failed check fails the test.
extension CExamplesTests {
    private var hosts: String { CPaths.root + "/Tests/Hosts" }

    private func runHost(_ name: String, _ arguments: [String], libraries: [String] = [], limit: Double = 300,
                         setting variables: [String: String?] = [:],
                         file: StaticString = #filePath, line: UInt = #line) throws -> CProcessResult {
        let program = try compiler.buildC([hosts + "/\(name).c"], name: name, libraries: libraries, file: file, line: line)
        var environment = try compiler.runEnvironment()
        for (name, value) in variables { environment[name] = value }
        let result = try runCProcess(program, arguments, environment: environment, limit: limit)
        XCTAssertEqual(result.status, 0, result.summary, file: file, line: line)
        return result
    }

    /// Issue 15's case 2 from outside: a 2-channel 1×1 input, a 3×3
    /// convolution of stride 2 and padding 1 whose only non-zero weight lies
    /// on a tap that sees nothing but padding, then `dense 1 2` with
    /// weights (1, −1): both logits are 0 for every image, so 0.5/0.5. (The
    /// convolution used to read the next channel's pixel there: 0.881/0.119.)
    func testAConvolutionTapInThePaddingSeesZerosThroughTheCLibrary() throws {
        let input = ImageShape(channels: 2, height: 1, width: 1)
        let architecture = Architecture(layers: [.conv(filters: 1, kernel: 3, stride: 2, padding: 1), .dense(2)],
                                        inputShape: input)
        let network = architecture.makeNetwork(Float.self, seed: 3)
        let conv = try XCTUnwrap(network.convolutionLayers.first), dense = try XCTUnwrap(network.denseLayers.first)
        conv.W.value.fill(0)
        conv.b.value.fill(0)
        conv.W.value.data[(0 * 3 + 1) * 3 + 2] = 1     // W[filter 0, channel 0, ky 1, kx 2]: right of the only pixel
        dense.W.value.data[0] = 1
        dense.W.value.data[1] = -1
        dense.b.value.fill(0)
        let model = Model(network: network, architecture: architecture,
                          standardization: Standardization(mean: 0, std: 1), inputShape: [1, 1, 2], classes: ["a", "b"])
        XCTAssertEqual(model.layerList.first, "conv 2 1 3 2 1")
        let path = try folder.write("padding-tap.dsm", model.serialized())
        let result = try runHost("expect_probabilities", [path, "0.5", "0.5"], libraries: ["-lm"])
        XCTAssertEqual(result.stdoutLines, ["0.500000 0.500000", "expected probabilities ok"], result.summary)
    }

    func testAChildProcessClassifiesWithAModelLoadedBeforeForkEvenWhileTheParentIsBusy() throws {
        let result = try runHost("fork", [CPaths.shippedModel], libraries: ["-lpthread"])
        XCTAssertEqual(result.stdoutLines.last, "forks ok 12", result.summary)
    }

    func testPythonMultiprocessingWithForkClassifiesInTheChildren() throws {
        let python = try compiler.tool("python3", package: "python3")
        let lib = try compiler.libraryFolder() + "/libdeepscratch.so"
        let result = try runCProcess(python, [hosts + "/fork_multiprocessing.py", lib, CPaths.shippedModel],
                                     environment: try compiler.pythonEnvironment(try compiler.runEnvironment()), limit: 300)
        XCTAssertEqual(result.status, 0, result.summary)
        XCTAssertEqual(result.stdoutLines.last, "multiprocessing fork ok", result.summary)
    }

    func testAThreadExitingAfterDlcloseAndThousandsOfDlopenCyclesLeaveTheHostRunning() throws {
        // The library is loaded by path, as a plugin host does; this program does not link it.
        let lib = try compiler.libraryFolder() + "/libdeepscratch.so"
        let result = try runHost("dlclose", [lib, CPaths.shippedModel, "2000"], libraries: ["-ldl", "-lpthread"])
        XCTAssertEqual(result.stdoutLines.last, "dlclose ok", result.summary)
    }

    func testTheHostChoosesTheLibrarysThreadsAndIdleWorkersSleep() throws {
        let result = try runHost("thread_control", [CPaths.shippedModel], libraries: ["-ldl", "-lpthread"])
        XCTAssertEqual(result.stdoutLines.last, "thread control ok", result.summary)
    }

    /// Issue 16: once the library has loaded a model, OpenBLAS does not run
    /// its oldest x86-64 kernels on this CPU (Debian 12's OpenBLAS picks them
    /// by itself on an Intel CPU newer than it knows); a host that chose
    /// kernels with OPENBLAS_CORETYPE keeps them. Classifications agree.
    func testTheLibraryRunsOpenBLASsWideKernelsUnlessTheHostChoseOthers() throws {
        let wide = try runHost("blas_kernels", [CPaths.shippedModel, "wide"], libraries: ["-ldl"],
                               setting: ["OPENBLAS_CORETYPE": nil, "DEEPSCRATCH_BLAS_CORE": nil])
        XCTAssertEqual(wide.stdoutLines.last, "blas kernels ok", wide.summary)
        let kept = try runHost("blas_kernels", [CPaths.shippedModel, "Prescott"], libraries: ["-ldl"],
                               setting: ["OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertEqual(kept.stdoutLines.last, "blas kernels ok", kept.summary)
    }

    func testNaNAndInfinitePixelsAreInvalidArgumentsNamingThePixel() throws {
        let result = try runHost("nonfinite", [CPaths.shippedModel], libraries: ["-lm"])
        XCTAssertEqual(result.stdoutLines.last, "nonfinite ok", result.summary)
    }

    /// The library `make -C examples` builds (and `make install` installs)
    /// runs on any x86-64 CPU: every instruction beyond the x86-64-v2
    /// baseline (VEX or EVEX encoded: AVX, AVX2, AVX-512) lies in a CKernels
    /// function compiled for AVX2, AVX-512 or AVX-512 VNNI, which only runs on a CPU
    /// that has it; and
    /// the C example runs under valgrind (which emulates no AVX-512) with no
    /// error, forced to the baseline kernels and not, with the same output.
    func testTheInstalledLibraryHasNoInstructionBeyondTheBaselineOutsideItsAVX2KernelsAndRunsUnderValgrind() throws {
        #if arch(x86_64)
        guard compiler.sanitizer == nil else { return }  // the Makefile's build is not instrumented; nothing to compare
        let make = try compiler.tool("make", package: "make")
        let built = try runCProcess(make, ["-C", CPaths.examples, "lib", "classify"], limit: 1200)
        XCTAssertEqual(built.status, 0, built.summary)
        let library = CPaths.root + "/.build-lib/release/libdeepscratch.so"

        let objdump = try compiler.tool("objdump", package: "binutils")
        let listing = try runCProcess(objdump, ["-d", "--no-show-raw-insn", library], limit: 300)
        XCTAssertEqual(listing.status, 0, listing.stderr)
        var function = "", wide: [String: Int] = [:], instructions = 0
        for line in listing.stdout.split(separator: "\n") {
            if line.hasSuffix(">:"), let open = line.firstIndex(of: "<") {
                function = String(line[line.index(after: open)..<line.index(line.endIndex, offsetBy: -2)])
                continue
            }
            let fields = line.split(separator: "\t")
            guard fields.count >= 2, fields[0].hasSuffix(":") else { continue }
            instructions += 1
            // AVX and later instructions are VEX/EVEX encoded: their mnemonics start with "v" (vmovups, vpxor, ...).
            let mnemonic = fields[1].split(separator: " ").first ?? ""
            if mnemonic.hasPrefix("v") { wide[function, default: 0] += 1 }
        }
        XCTAssertGreaterThan(instructions, 100_000, "objdump listed too little of \(library)")
        XCTAssertFalse(wide.isEmpty, "no AVX2 kernel found: is CKernels compiled for AVX2?")
        for (name, count) in wide where !name.hasSuffix("_avx2") && !name.hasSuffix("_avx512") && !name.hasSuffix("_vnni") {
            XCTFail("\(name) has \(count) instructions beyond x86-64-v2 but is not a kernel chosen by the CPU's features")
        }

        let valgrind = try compiler.tool("valgrind", package: "valgrind")
        let digits = try FileManager.default.contentsOfDirectory(atPath: CPaths.examples + "/digits")
            .filter { $0.hasSuffix(".png") }.sorted().map { CPaths.examples + "/digits/" + $0 }
        var outputs: [String] = []
        for kernels in ["", "baseline"] {
            var env = ProcessInfo.processInfo.environment
            env["DEEPSCRATCH_KERNELS"] = kernels
            let run = try runCProcess(valgrind, ["--error-exitcode=99", "--quiet", CPaths.examples + "/classify",
                                                 CPaths.shippedModel] + digits, environment: env, limit: 600)
            XCTAssertEqual(run.status, 0, "kernels '\(kernels)': " + run.summary)
            XCTAssertEqual(run.stdoutLines.count, digits.count, run.summary)
            outputs.append(run.stdout)
        }
        XCTAssertEqual(outputs[0], outputs[1], "AVX2 and baseline kernels classified differently")
        #endif
    }
}
