import DeepScratch
/// Measures the sparse first-layer product (`sparseProduct`) against the
/// dense one (OpenBLAS) on digits, one thread each: whether skipping the
/// background pixels pays once the data is turned into sparse rows and the
/// weights are in the layout the sparse product reads.
public enum SparseBenchmark {
    /// Milliseconds of one operation: median over repetitions, min, max.
    public struct Timing: Sendable {
        public let name: String
        public let median: Double, min: Double, max: Double
        public let runs: Int
    }

    /// Times of a first layer `W` (`outputs × inputs`) on the first `m`
    /// images of `images`, standardized with `standardization` as training
    /// does (`X` is `inputs × m`, background `x_bg` = the value of byte 0):
    /// the forward product `W·X` and the weight gradient `dZ·Xᵀ`, dense and
    /// sparse, and the conversions the sparse way needs (the sparse rows of
    /// `X`, the transposes of `W`, `dZ` and `dWᵀ`). Also returns the share of
    /// `X`'s entries that are not background, and the largest difference
    /// between the sparse and the dense results (`Z` and `dW`) relative to
    /// the largest dense value.
    public static func firstLayer(images: LabeledImages, standardization: Standardization, outputs: Int = 784,
                                  batch m: Int = 128, seconds: Double = 0.5)
        -> (density: Double, difference: Double, timings: [Timing]) {
        let n = images.rows * images.cols, count = Swift.min(m, images.count)
        let table = standardization.table(Float.self)
        let X = Matrix<Float>(rows: n, cols: count)
        var labels = [Int32](repeating: 0, count: count)
        (0..<Int32(count)).map { $0 }.withUnsafeBufferPointer { images.assemble($0, table: table, into: X, labels: &labels) }
        let bg = table[0]
        var rng = RandomSource(seed: 7)
        let W = UnsafeMutablePointer<Float>.allocate(capacity: outputs * n)
        let Wt = UnsafeMutablePointer<Float>.allocate(capacity: outputs * n)
        let dW = UnsafeMutablePointer<Float>.allocate(capacity: outputs * n)
        let Z = UnsafeMutablePointer<Float>.allocate(capacity: outputs * count)
        let Zt = UnsafeMutablePointer<Float>.allocate(capacity: outputs * count)
        defer { W.deallocate(); Wt.deallocate(); dW.deallocate(); Z.deallocate(); Zt.deallocate() }
        for i in 0..<outputs * n { W[i] = Float(rng.nextGaussian() * 0.01); Wt[i] = 0; dW[i] = 0 }
        for i in 0..<outputs * count { Z[i] = Float(rng.nextGaussian()); Zt[i] = 0 }
        let samples = SparseRows(), pixels = SparseRows()
        // dst = srcᵀ for a rows × cols src
        func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
            for r in 0..<rows { for c in 0..<cols { dst[c * rows + r] = src[r * cols + c] } }
        }
        var timings = [Timing]()
        func time(_ name: String, _ body: () -> Void) {
            body()
            var ts = [Double]()
            let start = monotonicSeconds()
            while monotonicSeconds() - start < seconds || ts.count < 5 {
                let t = monotonicSeconds()
                body()
                ts.append((monotonicSeconds() - t) * 1e3)
            }
            ts.sort()
            timings.append(Timing(name: name, median: ts[ts.count / 2], min: ts[0], max: ts[ts.count - 1], runs: ts.count))
        }
        let x = UnsafePointer(X.data)
        let shape = "\(outputs)×\(n) · \(n)×\(count)"
        time("dense  W·X  \(shape)") {
            Float.blasGemm(transA: false, transB: false, m: outputs, n: count, k: n, alpha: 1, a: W, lda: n,
                           b: x, ldb: count, beta: 0, c: Z, ldc: count)
        }
        time("sparse W·X: the rows of Xᵀ that are not background") {
            samples.reset(rows: count, entries: n * count)
            for j in 0..<count { samples.appendRow(x + j, count: n, stride: count, background: bg) }
        }
        time("sparse W·X: Wᵀ from W") {
            transpose(W, rows: outputs, cols: n, into: Wt)
        }
        time("sparse W·X: Zᵀ = (Xᵀ − x_bg)·Wᵀ") {
            sparseProduct(samples, rows: 0..<count, UnsafePointer(Wt), ldb: outputs, columns: 0..<outputs, into: Zt, ldc: outputs,
                          accumulate: false)
        }
        time("dense  dW = dZ·Xᵀ") {
            Float.blasGemm(transA: false, transB: true, m: outputs, n: n, k: count, alpha: 1, a: Z, lda: count,
                           b: x, ldb: count, beta: 0, c: dW, ldc: n)
        }
        time("sparse dW: the rows of X that are not background") {
            pixels.reset(rows: n, entries: n * count)
            for i in 0..<n { pixels.appendRow(x + i * count, count: count, background: bg) }
        }
        time("sparse dW: dZᵀ from dZ") {
            transpose(Z, rows: outputs, cols: count, into: Zt)
        }
        time("sparse dW: dWᵀ = (X − x_bg)·dZᵀ") {
            sparseProduct(pixels, rows: 0..<n, Zt, ldb: outputs, columns: 0..<outputs, into: Wt, ldc: outputs,
                          accumulate: false)
        }
        time("sparse dW: dW from dWᵀ") {
            transpose(Wt, rows: n, cols: outputs, into: dW)
        }
        // The sparse results against the dense ones: Z = Zᵀ + x_bg·W·𝟙 and
        // dW = dWᵀ + x_bg·dZ·𝟙ᵀ (the background part the sparse way leaves out).
        func largestRelative(_ dense: (Int) -> Double, _ sparse: (Int) -> Double, _ n: Int) -> Double {
            var diff = 0.0, scale = 0.0
            for k in 0..<n { diff = Swift.max(diff, abs(dense(k) - sparse(k))); scale = Swift.max(scale, abs(dense(k))) }
            return scale > 0 ? diff / scale : diff
        }
        Float.blasGemm(transA: false, transB: false, m: outputs, n: count, k: n, alpha: 1, a: W, lda: n,
                       b: x, ldb: count, beta: 0, c: Z, ldc: count)
        transpose(W, rows: outputs, cols: n, into: Wt)
        sparseProduct(samples, rows: 0..<count, UnsafePointer(Wt), ldb: outputs, columns: 0..<outputs, into: Zt,
                      ldc: outputs, accumulate: false)
        var rowSumW = [Double](repeating: 0, count: outputs), rowSumZ = [Double](repeating: 0, count: outputs)
        for o in 0..<outputs {
            for i in 0..<n { rowSumW[o] += Double(W[o * n + i]) }
            for j in 0..<count { rowSumZ[o] += Double(Z[o * count + j]) }
        }
        let forward = largestRelative({ Double(Z[$0]) }, { k in
            let o = k / count, j = k % count
            return Double(Zt[j * outputs + o]) + Double(bg) * rowSumW[o]
        }, outputs * count)
        transpose(Z, rows: outputs, cols: count, into: Zt)
        sparseProduct(pixels, rows: 0..<n, Zt, ldb: outputs, columns: 0..<outputs, into: Wt, ldc: outputs,
                      accumulate: false)
        Float.blasGemm(transA: false, transB: true, m: outputs, n: n, k: count, alpha: 1, a: Z, lda: count,
                       b: x, ldb: count, beta: 0, c: dW, ldc: n)
        let backward = largestRelative({ Double(dW[$0]) }, { k in
            let o = k / n, i = k % n
            return Double(Wt[i * outputs + o]) + Double(bg) * rowSumZ[o]
        }, outputs * n)
        return (Double(samples.count) / Double(n * count), Swift.max(forward, backward), timings)
    }
}
