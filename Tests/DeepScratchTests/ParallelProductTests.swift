@testable import DeepScratch
import XCTest

/// The engine's matrix product splits C over its threads (by rows or by
/// columns, for every combination of transposes); each split product equals
/// one BLAS call over the whole matrices.
final class ParallelProductTests: XCTestCase {
    override func tearDown() { Parallelism.setThreads(Parallelism.processorCount) }

    /// (m, n, k): tall (split by rows), wide (split by columns: a
    /// convolution's F × P·m output), long k (a convolution's dW), and sizes
    /// that are no multiple of the 16-wide blocks.
    private let shapes = [(1024, 128, 96), (32, 4608, 25), (64, 800, 2048), (10, 1000, 130), (333, 517, 71)]

    func testEverySplitOfAProductEqualsOneBLASCall() {
        var rng = RandomSource(seed: 11)
        for threads in [2, 3] {
            Parallelism.setThreads(threads)
            for (m, n, k) in shapes {
                for transposeA in [false, true] {
                    for transposeB in [false, true] {
                        let a = (0..<(m * k)).map { _ in rng.nextGaussian() }
                        let b = (0..<(k * n)).map { _ in rng.nextGaussian() }
                        let c0 = (0..<(m * n)).map { _ in rng.nextGaussian() }
                        let (lda, ldb) = (transposeA ? m : k, transposeB ? k : n)
                        var expected = c0, split = c0
                        Double.blasGemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda,
                                        b: b, ldb: ldb, beta: 0.25, c: &expected, ldc: n)
                        split.withUnsafeMutableBufferPointer { c in
                            gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a, lda: lda, b, ldb: ldb,
                                 into: c.baseAddress!, ldc: n, alpha: 0.5, beta: 0.25)
                        }
                        var worst = 0.0
                        for i in 0..<(m * n) { worst = max(worst, abs(split[i] - expected[i]) / max(1, abs(expected[i]))) }
                        XCTAssertLessThan(worst, 1e-12, "\(threads) threads, \(m)×\(n)×\(k), transposeA \(transposeA), transposeB \(transposeB)")
                    }
                }
            }
        }
    }
}
