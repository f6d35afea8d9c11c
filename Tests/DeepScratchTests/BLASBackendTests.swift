import CBLASCore
@testable import DeepScratch
import XCTest

/// The engine's one decision about the system's OpenBLAS: kernels older than
/// the CPU are replaced by the ones its feature flags call for, unless the
/// user chose them. The detection bug is simulated by making OpenBLAS run its
/// Prescott kernels, as Debian 12's OpenBLAS does by itself on a CPU newer
/// than it knows.
final class BLASBackendTests: XCTestCase {
    private var cpuLevel: Int { Int(dsb_cpu_level()) }

    override func tearDown() {
        // Back to the kernels this process chose at its first product.
        if let kernel = BLASBackend.report.kernel { _ = dsb_blas_set_core(kernel) }
    }

    func testOpenBLASIsInTheProcessAndNamesItsKernels() throws {
        XCTAssertTrue(BLASBackend.report.library.hasPrefix("OpenBLAS "), BLASBackend.report.library)
        let kernel = try XCTUnwrap(BLASBackend.report.kernel)
        XCTAssertNotNil(BLASBackend.level(ofKernel: kernel), "a kernel name the table does not know: \(kernel)")
    }

    func testTheKernelsThatRunAreAsWideAsTheCPUUnlessTheUserChoseOthers() throws {
        let report = BLASBackend.report
        let level = try XCTUnwrap(report.kernel.flatMap(BLASBackend.level(ofKernel:)))
        if ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
           ProcessInfo.processInfo.environment["DEEPSCRATCH_BLAS_CORE"] == nil {
            XCTAssertGreaterThanOrEqual(level, min(cpuLevel, 4), report.summary)
        } else {
            XCTAssertEqual(report.replaced, nil, "the user's choice is never replaced")
        }
    }

    func testFallbackKernelsAreReplacedByTheCPUsOwnAndTheWarningSaysSo() throws {
        XCTAssertGreaterThanOrEqual(cpuLevel, 2, "this test needs an x86-64 CPU with AVX")
        XCTAssertEqual(dsb_blas_set_core("Prescott"), 0)
        XCTAssertEqual(dsb_blas_corename().map { String(cString: $0) }, "Prescott")
        let report = BLASBackend.prepare(environment: { _ in nil })
        let wanted = try XCTUnwrap(BLASBackend.kernel(forLevel: cpuLevel, amd: dsb_cpu_is_amd() != 0))
        XCTAssertEqual(report.replaced, "Prescott")
        XCTAssertEqual(report.kernel?.lowercased(), wanted.lowercased())
        XCTAssertEqual(dsb_blas_corename().map { String(cString: $0).lowercased() }, wanted.lowercased())
        let warning = try XCTUnwrap(report.warning)
        XCTAssertTrue(warning.contains("Prescott") && warning.contains("switched it to its \(wanted) kernels")
                      && warning.contains("DEEPSCRATCH_BLAS_CORE=keep"), warning)
        XCTAssertFalse(warning.contains("\n"))
        // The products still compute the same thing after the switch.
        var c = [Float](repeating: 0, count: 4)
        Float.blasGemm(transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, a: [1, 2, 3, 4], lda: 2,
                       b: [5, 6, 7, 8], ldb: 2, beta: 0, c: &c, ldc: 2)
        XCTAssertEqual(c, [19, 22, 43, 50])
    }

    func testTheUsersChoiceOfKernelsIsKeptWithAWarning() throws {
        XCTAssertGreaterThanOrEqual(cpuLevel, 2, "this test needs an x86-64 CPU with AVX")
        for (variable, value) in [("OPENBLAS_CORETYPE", "Prescott"), ("DEEPSCRATCH_BLAS_CORE", "keep")] {
            XCTAssertEqual(dsb_blas_set_core("Prescott"), 0)
            let report = BLASBackend.prepare(environment: { $0 == variable ? value : nil })
            XCTAssertNil(report.replaced, variable)
            XCTAssertEqual(report.kernel, "Prescott", variable)
            XCTAssertEqual(dsb_blas_corename().map { String(cString: $0) }, "Prescott", variable)
            let warning = try XCTUnwrap(report.warning, variable)
            XCTAssertTrue(warning.contains("\(variable)=\(value) asks") && warning.contains("slower"), warning)
        }
    }

    func testKernelsAsWideAsTheCPUGetNoWarning() throws {
        let wanted = try XCTUnwrap(BLASBackend.kernel(forLevel: cpuLevel, amd: dsb_cpu_is_amd() != 0))
        XCTAssertEqual(dsb_blas_set_core(wanted), 0)
        let report = BLASBackend.prepare(environment: { _ in nil })
        XCTAssertNil(report.warning)
        XCTAssertNil(report.replaced)
        XCTAssertEqual(report.kernel, wanted)
    }

    func testEveryKernelTheTableChoosesIsOneThisOpenBLASKnows() {
        for level in 2...4 {
            for amd in [false, true] {
                guard let kernel = BLASBackend.kernel(forLevel: level, amd: amd) else { return XCTFail("level \(level)") }
                XCTAssertEqual(BLASBackend.level(ofKernel: kernel), level, kernel)
            }
        }
        XCTAssertNil(BLASBackend.kernel(forLevel: 1, amd: false))
        XCTAssertNil(BLASBackend.level(ofKernel: "Neoverse-N1"))
    }
}
