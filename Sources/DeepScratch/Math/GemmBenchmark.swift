/// Measures the engine's matrix product (`gemm`) on one shape.
public enum GemmBenchmark {
    /// GFLOP/s of `C = op(A)·op(B)` for an `m×k` by `k×n` product, as the
    /// median over repetitions filling about `seconds`, with min and max.
    public static func measure(m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false,
                               seconds: Double = 1) -> (median: Double, min: Double, max: Double) {
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
        return (rates[rates.count / 2], rates.first!, rates.last!)
    }
}
