/// The output layer: softmax over each column, with the cross-entropy cost
/// `J = −(1/m) Σ_j log A[y_j, j]` and their fused gradient `dZ = (A − Y)/m`.
///
/// The input `Z` is `classes × m`; labels are class indices, one per column.
public final class SoftmaxCrossEntropy<T: Scalar> {
    /// Number of classes (rows of `Z`).
    public let classes: Int
    /// The probabilities of the last forward pass, `classes × m`.
    public let A: Matrix<T>
    private let dZ: Matrix<T>
    private var columnMax: [T] = []
    private var columnSum: [T] = []
    private var logits: Matrix<T>?

    public init(classes: Int) {
        self.classes = classes
        A = Matrix(rows: classes, cols: 0)
        dZ = Matrix(rows: classes, cols: 0)
    }

    /// `A = softmax(Z)` column by column: `A[i, j] = e^(Z[i,j] − max_j) / Σ_k e^(Z[k,j] − max_j)`.
    public func forward(_ Z: Matrix<T>) -> Matrix<T> {
        precondition(Z.rows == classes, "softmax: \(Z.rows) rows, expected \(classes)")
        let m = Z.cols
        logits = Z
        A.resize(cols: m)
        if columnMax.count < m {
            columnMax = [T](repeating: 0, count: m)
            columnSum = [T](repeating: 0, count: m)
        }
        columnMax.withUnsafeMutableBufferPointer { mx in
            columnSum.withUnsafeMutableBufferPointer { sm in
                softmaxColumns(Z.data, A.data, classes, m, mx.baseAddress!, sm.baseAddress!)
            }
        }
        return A
    }

    /// The mean cross-entropy of the last forward pass against `labels`:
    /// `−(1/m) Σ_j log A[y_j, j]`, computed as `log Σ_k e^(Z[k,j] − max_j) − (Z[y_j, j] − max_j)`
    /// so it stays finite when a probability underflows.
    public func cost(labels: UnsafeBufferPointer<Int32>) -> T {
        guard let Z = logits else { preconditionFailure("cost before forward") }
        let m = A.cols
        precondition(labels.count == m, "\(labels.count) labels for \(m) columns")
        var total: T = 0
        for j in 0..<m {
            let y = Int(labels[j])
            total += T.log(columnSum[j]) - (Z[y, j] - columnMax[j])
        }
        return total / T(m)
    }

    /// `dZ = (A − Y) / m` with `Y` the one-hot matrix of `labels`.
    public func backward(labels: UnsafeBufferPointer<Int32>) -> Matrix<T> {
        let m = A.cols
        precondition(labels.count == m, "\(labels.count) labels for \(m) columns")
        dZ.resize(cols: m)
        let invM = 1 / T(m)
        scaledCopy(A.data, to: dZ.data, count: A.count, alpha: invM)
        for j in 0..<m { dZ.data[Int(labels[j]) * m + j] -= invM }
        return dZ
    }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func softmaxColumns<T: Scalar>(
    _ z: UnsafePointer<T>, _ a: UnsafeMutablePointer<T>, _ rows: Int, _ m: Int,
    _ mx: UnsafeMutablePointer<T>, _ sum: UnsafeMutablePointer<T>
) {
    // Row-wise sweeps keep every inner loop contiguous across the batch.
    for j in 0..<m { mx[j] = z[j] }
    for i in 1..<max(rows, 1) { let r = z + i * m; for j in 0..<m { mx[j] = Swift.max(mx[j], r[j]) } }
    for j in 0..<m { sum[j] = 0 }
    for i in 0..<rows {
        let r = z + i * m, o = a + i * m
        for j in 0..<m { let e = T.exp(r[j] - mx[j]); o[j] = e; sum[j] += e }
    }
    for i in 0..<rows {
        let o = a + i * m
        for j in 0..<m { o[j] /= sum[j] }
    }
}
