import Glibc
/// A dense row-major matrix of `rows × cols` scalars in a 64-byte aligned
/// buffer the matrix owns.
///
/// Activations are stored the way the course writes them: one column per
/// example, so a batch of `m` inputs of `n` features is an `n × m` matrix.
/// The column count can shrink and grow again within the allocated capacity
/// without reallocating, so the last, partial batch of an epoch reuses the
/// buffers of the full batches.
public final class Matrix<T: Scalar> {
    /// Number of rows.
    public let rows: Int
    /// Number of columns (for activations: the batch size).
    public private(set) var cols: Int
    /// Number of scalars the buffer holds (at least `rows × cols`).
    public private(set) var capacity: Int
    /// The elements, row after row: element (i, j) is at `data[i * cols + j]`.
    public private(set) var data: UnsafeMutablePointer<T>

    /// A zero-filled `rows × cols` matrix (with `zeroed: false`, its values
    /// are unspecified until written: for buffers filled right away).
    public init(rows: Int, cols: Int, zeroed: Bool = true) {
        precondition(rows >= 0 && cols >= 0, "negative matrix shape")
        self.rows = rows
        self.cols = cols
        self.capacity = max(1, rows * cols)
        self.data = Matrix.allocate(capacity, zeroed: zeroed)
    }

    /// A `rows × cols` matrix holding `values` (row-major, `rows × cols` of them).
    public convenience init(rows: Int, cols: Int, values: [T]) {
        precondition(values.count == rows * cols, "matrix value count differs from its shape")
        self.init(rows: rows, cols: cols, zeroed: false)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { data.update(from: base, count: values.count) }
        }
    }

    deinit { data.deallocate() }

    private static func allocate(_ count: Int, zeroed: Bool = true) -> UnsafeMutablePointer<T> {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: count * MemoryLayout<T>.stride, alignment: 64)
        let p = raw.bindMemory(to: T.self, capacity: count)
        // Scalars are trivial types: unzeroed memory is valid, just unspecified.
        // Zeroed bytes are +0.0; a byte fill, not a per-element store in generic
        // code (which took 20 ms for the shipped model's weights).
        if zeroed { memset(raw, 0, count * MemoryLayout<T>.stride) }
        return p
    }

    /// Number of elements, `rows × cols`.
    @inline(__always) public var count: Int { rows * cols }

    /// Changes the column count, keeping the row count. Grows the buffer when
    /// needed (contents are then undefined); never shrinks it.
    public func resize(cols newCols: Int) {
        precondition(newCols >= 0)
        if rows * newCols > capacity {
            data.deallocate()
            capacity = rows * newCols
            data = Matrix.allocate(capacity)
        }
        cols = newCols
    }

    /// Element (i, j).
    @inline(__always) public subscript(i: Int, j: Int) -> T {
        get { data[i * cols + j] }
        set { data[i * cols + j] = newValue }
    }

    /// The elements as an array, row after row.
    public var values: [T] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// Sets every element to `value`.
    public func fill(_ value: T) { data.update(repeating: value, count: count) }

    /// Copies the shape-compatible contents of `other` into this matrix.
    public func copy(from other: Matrix<T>) {
        precondition(other.rows == rows, "row count differs")
        resize(cols: other.cols)
        data.update(from: other.data, count: count)
    }
}

extension Matrix: CustomStringConvertible {
    public var description: String {
        var s = "Matrix \(rows)x\(cols)"
        if count <= 64 {
            for i in 0..<rows {
                s += "\n  " + (0..<cols).map { "\(self[i, $0])" }.joined(separator: " ")
            }
        }
        return s
    }
}

/// `C = alpha · op(A) · op(B) + beta · C`: the one place every matrix
/// product of the engine goes through (BLAS `sgemm` / `dgemm`).
///
/// `op(X)` is `X` or `Xᵀ`. `C` must already have the shape of the product;
/// its column count is adjusted to it.
@inline(__always)
package func gemm<T: Scalar>(
    _ A: Matrix<T>, transposeA: Bool = false,
    _ B: Matrix<T>, transposeB: Bool = false,
    into C: Matrix<T>, alpha: T = 1, beta: T = 0
) {
    let m = transposeA ? A.cols : A.rows
    let k = transposeA ? A.rows : A.cols
    let kB = transposeB ? B.cols : B.rows
    let n = transposeB ? B.rows : B.cols
    precondition(k == kB, "gemm: inner dimensions \(k) and \(kB) differ")
    precondition(C.rows == m, "gemm: result has \(C.rows) rows, product has \(m)")
    C.resize(cols: n)
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { C.fill(0) } else { scale(C.data, count: C.count, by: beta) }
        return
    }
    // One column (a single example): a matrix-vector product, which streams
    // A once instead of packing it as GEMM does.
    if n == 1 && C.cols == 1 {
        // x is B's only column (k × 1), or its only row when B is transposed (1 × k): contiguous either way.
        let (a, x, y, lda) = (A.data, B.data, C.data, max(1, A.cols))
        let pool = Parallelism.pool
        let pieces = !transposeA && m * k >= 1 << 16 ? min(pool.threads, m / 16) : 1
        if pieces <= 1 {
            T.blasGemv(transA: transposeA, m: A.rows, n: A.cols, alpha: alpha, a: a, lda: lda,
                       x: x, incx: 1, beta: beta, y: y, incy: 1)
            return
        }
        // Row blocks of A, one per thread: each streams its share of the weights.
        let chunk = ((m + pieces - 1) / pieces + 15) / 16 * 16
        pool.run(GemvRowsJob(m: m, k: k, alpha: alpha, a: a, lda: lda, x: x, beta: beta, y: y, chunk: chunk, pieces: pieces))
        return
    }
    gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
         A.data, lda: max(1, A.cols), B.data, ldb: max(1, B.cols), into: C.data, ldc: max(1, C.cols),
         alpha: alpha, beta: beta)
}

/// `C = alpha · op(A) · op(B) + beta · C` on row-major buffers: `op(A)` is
/// `m × k`, `op(B)` is `k × n`, `C` is `m × n`. The split over the engine's
/// threads behind `gemm(_:_:into:)`, for products whose operands are views
/// of a buffer with another shape (a convolution's `F × (P·m)` output is the
/// same memory as its `(F·P) × m` activation matrix).
package func gemm<T: Scalar>(
    transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
    _ a: UnsafePointer<T>, lda: Int, _ b: UnsafePointer<T>, ldb: Int,
    into c: UnsafeMutablePointer<T>, ldc: Int, alpha: T = 1, beta: T = 0
) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m {
            if beta == 0 { (c + i * ldc).update(repeating: 0, count: n) } else { scale(c + i * ldc, count: n, by: beta) }
        }
        return
    }
    // One block of C per thread, each a single-threaded BLAS call. Each
    // call packs its share of one operand and all of the other, so C is
    // split along its longer side: a convolution's F × P·m output by
    // columns, a dense layer's weights-sized products by rows. A transposed
    // A is split by columns (its row blocks would be strided column slices
    // of A, measured slower), unless B is transposed too.
    let pool = Parallelism.pool
    let splitColumns = transposeA ? !transposeB : n > m
    let extent = splitColumns ? n : m
    let pieces = m * n * k >= 1 << 20 ? min(pool.threads, extent / 16) : 1
    if pieces <= 1 {
        T.blasGemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                   alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    // Blocks are multiples of 16 rows or columns (64-byte aligned in Float).
    let chunk = ((extent + pieces - 1) / pieces + 15) / 16 * 16
    pool.run(GemmBlocksJob(transposeA: transposeA, transposeB: transposeB, splitColumns: splitColumns,
                           m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                           extent: extent, chunk: chunk, pieces: pieces))
}

/// One row block of `y = alpha·A·x + beta·y` per piece (a value, not a
/// closure, so that handing it to the threads allocates nothing).
struct GemvRowsJob<T: Scalar>: ParallelJob {
    let m: Int, k: Int, alpha: T
    let a: UnsafePointer<T>, lda: Int
    let x: UnsafePointer<T>
    let beta: T, y: UnsafeMutablePointer<T>
    let chunk: Int, pieces: Int

    func run(piece i: Int) {
        let lo = min(m, i * chunk), hi = min(m, lo + chunk)
        guard i < pieces, lo < hi else { return }
        T.blasGemv(transA: false, m: hi - lo, n: k, alpha: alpha, a: a + lo * lda, lda: lda,
                   x: x, incx: 1, beta: beta, y: y + lo, incy: 1)
    }
}

/// One block of `C = alpha·op(A)·op(B) + beta·C` per piece: rows of C, or
/// columns when `splitColumns`.
struct GemmBlocksJob<T: Scalar>: ParallelJob {
    let transposeA: Bool, transposeB: Bool, splitColumns: Bool
    let m: Int, n: Int, k: Int, alpha: T
    let a: UnsafePointer<T>, lda: Int
    let b: UnsafePointer<T>, ldb: Int
    let beta: T, c: UnsafeMutablePointer<T>, ldc: Int
    let extent: Int, chunk: Int, pieces: Int

    func run(piece i: Int) {
        let lo = min(extent, i * chunk), hi = min(extent, lo + chunk)
        guard i < pieces, lo < hi else { return }
        if splitColumns {
            // Columns lo..<hi of C = op(A) · columns lo..<hi of B.
            let bBlock = transposeB ? b + lo * ldb : b + lo
            T.blasGemm(transA: transposeA, transB: transposeB, m: m, n: hi - lo, k: k,
                       alpha: alpha, a: a, lda: lda, b: bBlock, ldb: ldb, beta: beta, c: c + lo, ldc: ldc)
        } else {
            // Rows lo..<hi of C = rows lo..<hi of op(A) · op(B).
            let aBlock = transposeA ? a + lo : a + lo * lda
            T.blasGemm(transA: transposeA, transB: transposeB, m: hi - lo, n: n, k: k,
                       alpha: alpha, a: aBlock, lda: lda, b: b, ldb: ldb, beta: beta, c: c + lo * ldc, ldc: ldc)
        }
    }
}
