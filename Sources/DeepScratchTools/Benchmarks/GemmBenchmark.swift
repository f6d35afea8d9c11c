import DeepScratch
/// Measures the engine's matrix product (`gemm`) on one shape.
public enum GemmBenchmark {
    /// GFLOP/s of `C = op(A)·op(B)` for an `m×k` by `k×n` product, as the
    /// median over repetitions filling about `seconds`, with min and max.
    public static func measure(m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false,
                               seconds: Double = 1) -> (median: Double, min: Double, max: Double, runs: Int) {
        var rng = RandomSource(seed: 1)
        let A = transposeA ? Matrix<Float>(rows: k, cols: m) : Matrix<Float>(rows: m, cols: k)
        let B = transposeB ? Matrix<Float>(rows: n, cols: k) : Matrix<Float>(rows: k, cols: n)
        for i in 0..<A.count { A.data[i] = Float(rng.nextGaussian()) }
        for i in 0..<B.count { B.data[i] = Float(rng.nextGaussian()) }
        let C = Matrix<Float>(rows: m, cols: n)
        gemm(A, transposeA: transposeA, B, transposeB: transposeB, into: C)
        var rates = [Double]()
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let start = monotonicSeconds()
        while monotonicSeconds() - start < seconds || rates.count < 5 {
            let t = monotonicSeconds()
            gemm(A, transposeA: transposeA, B, transposeB: transposeB, into: C)
            rates.append(flops / (monotonicSeconds() - t) / 1e9)
        }
        rates.sort()
        return (rates[rates.count / 2], rates.first!, rates.last!, rates.count)
    }
}

extension GemmBenchmark {
    /// GFLOP/s of an `n×n` by `n×n` `cblas_sgemm` called directly, with
    /// OpenBLAS running its own `threads` threads (the machine's ceiling for
    /// products, as the peers measure it); the median over repetitions
    /// filling about `seconds`, with min and max. OpenBLAS is set back to the
    /// thread count it had.
    public static func ceiling(n: Int = 1024, threads: Int, seconds: Double = 1) -> (median: Double, min: Double, max: Double, runs: Int) {
        var rng = RandomSource(seed: 2)
        var A = [Float](repeating: 0, count: n * n), B = A, C = A
        for i in 0..<A.count { A[i] = Float(rng.nextGaussian()); B[i] = Float(rng.nextGaussian()) }
        let before = BLASThreads.current
        BLASThreads.set(threads)
        defer { BLASThreads.set(before) }
        func product() {
            A.withUnsafeBufferPointer { a in
                B.withUnsafeBufferPointer { b in
                    C.withUnsafeMutableBufferPointer { c in
                        Float.blasGemm(transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: a.baseAddress!, lda: n,
                                       b: b.baseAddress!, ldb: n, beta: 0, c: c.baseAddress!, ldc: n)
                    }
                }
            }
        }
        product()
        var rates = [Double]()
        let flops = 2.0 * Double(n) * Double(n) * Double(n)
        let start = monotonicSeconds()
        while monotonicSeconds() - start < seconds || rates.count < 5 {
            let t = monotonicSeconds()
            product()
            rates.append(flops / (monotonicSeconds() - t) / 1e9)
        }
        rates.sort()
        return (rates[rates.count / 2], rates.first!, rates.last!, rates.count)
    }
}
