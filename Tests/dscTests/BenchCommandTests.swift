import Foundation
import XCTest
@testable import dsc

/// `dsc bench` as a subprocess: the suite's JSON, and the promise that a
/// training step allocates nothing once training runs (counted by
/// docs/tools/malloc_count.c, preloaded).
final class BenchCommandTests: XCTestCase {
    private let root = DSCHarness.root

    private struct Report: Decodable {
        var threads: Int
        var figures: [BenchFigure]
    }

    /// Compiles malloc_count.c into a shared library in `folder`.
    private func mallocCounter(in folder: TemporaryFolder) throws -> String {
        let output = folder.path + "/malloc_count.so"
        let source = root + "/docs/tools/malloc_count.c"
        let cc = try runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                ["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", source, "-o", output], limit: 120)
        guard cc.status == 0 else { throw TestSupportError("cc malloc_count.c failed (install gcc): \(cc.stderr)") }
        return output
    }

    func testTrainingStepsOfEveryJobAllocateNothingAfterTheFirst() throws {
        let folder = try TemporaryFolder()
        let counter = try mallocCounter(in: folder)
        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = counter
        let r = try runProcess(try DSCHarness.executable(),
                               ["bench", "--only", "training", "--json", "--data", try DSCHarness.mnist(), "--repeats", "2", "--steps", "6",
                                "--threads", "2"],
                               environment: env, limit: 600)
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
        XCTAssertEqual(report.threads, 2)
        let counts = report.figures.filter { $0.name.hasSuffix("heap allocations per step") }
        XCTAssertEqual(counts.count, 4, "one count per training job: \(report.figures.map(\.name))")
        for figure in counts {
            XCTAssertEqual(figure.runs, 2, figure.name)
            XCTAssertEqual(figure.max, 0, "\(figure.name): \(figure.max) heap allocations in a step")
        }
        let rates = report.figures.filter { $0.name.hasSuffix(": samples/s") }
        XCTAssertEqual(rates.count, 4)
        for figure in rates {
            XCTAssertGreaterThan(figure.min, 0, figure.name)
            XCTAssertLessThanOrEqual(figure.min, figure.median, figure.name)
            XCTAssertLessThanOrEqual(figure.median, figure.max, figure.name)
        }
    }

    /// `dsc bench` names what computes the products and the engine's own
    /// kernels (the baseline ones when DEEPSCRATCH_KERNELS says so); forced to OpenBLAS's
    /// oldest x86-64 kernels (as Debian 12's OpenBLAS picks by itself on a
    /// CPU it does not know), it says so in one warning line and keeps the
    /// user's choice.
    func testBenchNamesTheProductKernelsAndWarnsOnFallbackKernels() throws {
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_CORETYPE"] = "Prescott"
        env["DEEPSCRATCH_BLAS_CORE"] = nil
        let forced = try runProcess(try DSCHarness.executable(), ["bench", "--only", "gemm", "--seconds", "0.05", "--threads", "1"],
                                    environment: env, limit: 300)
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(forced.stdout.contains("products: OpenBLAS ") && forced.stdout.contains(", Prescott kernels, CPU "), forced.stdout)
        XCTAssertEqual(forced.stderrLines.count, 1, forced.stderr)
        XCTAssertTrue(forced.stderr.hasPrefix("warning: OpenBLAS ") && forced.stderr.contains("OPENBLAS_CORETYPE=Prescott asks"), forced.stderr)

        env["OPENBLAS_CORETYPE"] = nil
        let chosen = try runProcess(try DSCHarness.executable(), ["bench", "--only", "gemm", "--seconds", "0.05", "--threads", "1"],
                                    environment: env, limit: 300)
        XCTAssertEqual(chosen.status, 0, chosen.stderr)
        let line = try XCTUnwrap(chosen.stdout.split(separator: "\n").first { $0.hasPrefix("products: ") }, chosen.stdout)
        XCTAssertFalse(line.contains("Prescott"), "on a CPU with AVX the engine never leaves OpenBLAS on Prescott: \(line)")
        // The engine's own kernels are named too, narrowed by DEEPSCRATCH_KERNELS.
        XCTAssertTrue(chosen.stdout.contains("\nkernels: convolutions "), chosen.stdout)
        env["DEEPSCRATCH_KERNELS"] = "baseline"
        let narrow = try runProcess(try DSCHarness.executable(), ["bench", "--only", "gemm", "--seconds", "0.05", "--threads", "1"],
                                    environment: env, limit: 300)
        XCTAssertTrue(narrow.stdout.contains("\nkernels: convolutions baseline, sparse products baseline, int8 float\n"), narrow.stdout)
        // A warning only when OpenBLAS's own choice was replaced, and then it says with what.
        XCTAssertTrue(chosen.stderr.isEmpty || chosen.stderr.contains("switched it to its"), chosen.stderr)
    }

    /// The zero above is only worth something if the counter counts: a C
    /// program that allocates ten times reads 10 from it.
    func testTheAllocationCounterCountsEachAllocation() throws {
        let folder = try TemporaryFolder()
        let counter = try mallocCounter(in: folder)
        let probe = try folder.write("probe.c", Array("""
            #include <stdio.h>
            #include <stdlib.h>
            unsigned long dsbench_allocations(void);
            int main(void) {
                unsigned long before = dsbench_allocations();
                for (int i = 0; i < 10; i++) free(malloc(100));
                printf("%lu\\n", dsbench_allocations() - before);
                return 0;
            }
            """.utf8))
        let exe = folder.path + "/probe"
        let cc = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["cc", "-O0", probe, counter, "-o", exe], limit: 120)
        XCTAssertEqual(cc.status, 0, cc.stderr)
        let r = try runProcess(URL(fileURLWithPath: exe), [], environment: ["LD_LIBRARY_PATH": folder.path], limit: 60)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "10")
    }

    func testSparsePartTimesEachStepAndFindsTheSparseFirstLayerEqualToTheDenseOne() throws {
        let r = try runProcess(try DSCHarness.executable(),
                               ["bench", "--only", "sparse", "--json", "--data", try DSCHarness.mnist(), "--seconds", "0.02"],
                               limit: 600)
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
        XCTAssertTrue(report.figures.allSatisfy { $0.group == "sparse" }, "\(report.figures.map(\.group))")
        let timings = report.figures.filter { $0.unit == "ms" }
        XCTAssertEqual(timings.count, 9, "\(report.figures.map(\.name))")
        for figure in timings {
            XCTAssertGreaterThan(figure.min, 0, figure.name)
            XCTAssertLessThanOrEqual(figure.min, figure.median, figure.name)
            XCTAssertLessThanOrEqual(figure.median, figure.max, figure.name)
            XCTAssertGreaterThanOrEqual(figure.runs, 5, figure.name)
        }
        let density = try XCTUnwrap(report.figures.first { $0.unit == "%" })
        XCTAssertGreaterThan(density.median, 5, "MNIST digits are about a fifth ink")
        XCTAssertLessThan(density.median, 40)
        let difference = try XCTUnwrap(report.figures.first { $0.name.hasPrefix("largest difference") })
        XCTAssertLessThan(difference.median, 1e-5, "the sparse products compute the dense ones")
    }

    func testUnknownPartIsRefusedWithOneLine() throws {
        let r = try runProcess(try DSCHarness.executable(), ["bench", "--only", "gemm,nonsense"], limit: 120)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("nonsense"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }
}
