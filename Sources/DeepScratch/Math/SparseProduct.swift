import CKernels

/// The rows of a sparse matrix in compressed form (CSR): row `r` holds the
/// values `value[start[r] ..< start[r + 1]]` in the columns `index[…]`.
///
/// Used for the data entering the first layer: a digit is mostly
/// background, so `W·x` needs only the weights of its ink pixels. The
/// buffers grow on demand and are reused, so a training loop that keeps one
/// allocates nothing after its first batch.
package final class SparseRows {
    /// Number of rows.
    package private(set) var rows = 0
    /// Row `r` is entries `start[r] ..< start[r + 1]`; `rows + 1` values.
    package private(set) var start: UnsafeMutablePointer<Int32>
    /// The column of each entry.
    package private(set) var index: UnsafeMutablePointer<Int32>
    /// The value of each entry.
    package private(set) var value: UnsafeMutablePointer<Float>
    private var rowCapacity = 0
    private var entryCapacity = 0

    package init() {
        start = .allocate(capacity: 1)
        start[0] = 0
        index = .allocate(capacity: 1)
        value = .allocate(capacity: 1)
    }

    deinit {
        start.deallocate()
        index.deallocate()
        value.deallocate()
    }

    /// Number of stored entries.
    package var count: Int { Int(start[rows]) }

    /// Empties the matrix and makes room for `rows` rows of up to `entries`
    /// entries in all (at most `Int32.max`: positions are 32-bit).
    package func reset(rows: Int, entries: Int) {
        precondition(entries <= Int(Int32.max) && rows < Int(Int32.max), "SparseRows: too many entries")
        if rows + 1 > rowCapacity {
            start.deallocate()
            rowCapacity = rows + 1
            start = .allocate(capacity: rowCapacity)
        }
        if entries > entryCapacity {
            index.deallocate()
            value.deallocate()
            entryCapacity = entries
            index = .allocate(capacity: entries)
            value = .allocate(capacity: entries)
        }
        self.rows = 0
        start[0] = 0
    }

    /// Appends a row: the entries of `x[0 ..< n]` (stride `stride`) that
    /// differ from `background`, stored as `scale · (x − background)`.
    /// `reset` must have made room for this row and its `n` entries.
    @inline(__always)
    package func appendRow(_ x: UnsafePointer<Float>, count n: Int, stride: Int = 1, background: Float, scale: Float = 1) {
        assert(rows + 1 < rowCapacity && Int(start[rows]) + n <= entryCapacity, "SparseRows: no room for the row")
        var e = Int(start[rows])
        for i in 0..<n {
            let v = x[i * stride]
            if v != background {
                index[e] = Int32(i)
                value[e] = scale * (v - background)
                e += 1
            }
        }
        rows += 1
        start[rows] = Int32(e)
    }
}

/// A `rows × cols` matrix stored as panels of 64 columns: panel `p` holds
/// columns `64p ..< 64p + 64` as a `rows × 64` row-major block, one after
/// another, and the last `cols % 64` columns close it as a `rows × (cols % 64)`
/// block. The sparse product reads one panel's rows for all of a batch's
/// rows: a panel of the first layer (784 × 64 floats, 200 kB) is contiguous,
/// so it stays in L2 and the prefetchers follow it, where a row-major
/// matrix spreads it over 784 rows 2 kB apart (1.4× faster on AMD Zen 4).
struct ColumnPanels: Sendable {
    static let width = 64
    let rows: Int
    let cols: Int
    let data: [Float]
    /// Number of panels, the last one narrower when `cols` is not a multiple of 64.
    var panelCount: Int { (cols + Self.width - 1) / Self.width }

    /// `Wᵀ` as panels: element `(j, i)` is `W[i, j]`, for `W` `cols × rows`.
    init(transposeOf W: Matrix<Float>) {
        rows = W.cols
        cols = W.rows
        var data = [Float](repeating: 0, count: rows * cols)
        let (rows, cols) = (self.rows, self.cols)
        for i in 0..<cols {
            let p = i / Self.width, c = i % Self.width
            let width = min(Self.width, cols - p * Self.width)
            for j in 0..<rows { data[p * Self.width * rows + j * width + c] = W[i, j] }
        }
        self.data = data
    }

    /// Row `j` (`cols` values) into `row`.
    func copyRow(_ j: Int, into row: UnsafeMutablePointer<Float>) {
        for p in stride(from: 0, to: cols, by: Self.width) {
            let width = min(Self.width, cols - p)
            for c in 0..<width { row[p + c] = data[p * rows + j * width + c] }
        }
    }
}

/// `C[r, c] = Σ_t value[t] · P[index[t], c]` (plus `C[r, c]` when
/// `accumulate`) for the CSR rows `rows` (`start`, `index`, `value` as in
/// `SparseRows`) and the columns of the panels `panels` of `P` (all of
/// them when nil; the last panel may be narrower than 64): the product of
/// sparse rows and a matrix stored as `ColumnPanels`.
func sparseProduct(start: UnsafePointer<Int32>, index: UnsafePointer<Int32>, value: UnsafePointer<Float>,
                   rows: Range<Int>, _ P: ColumnPanels, panels: Range<Int>? = nil, into C: UnsafeMutablePointer<Float>,
                   ldc: Int, accumulate: Bool) {
    let full = P.cols / ColumnPanels.width, K = P.rows
    let panels = panels ?? 0..<P.panelCount
    P.data.withUnsafeBufferPointer { data in
        let B = data.baseAddress!
        let whole = panels.clamped(to: 0..<full)
        if !whole.isEmpty && !rows.isEmpty {
            let first = whole.lowerBound * ColumnPanels.width
            dsk_sparse_rows_times_dense64(start, index, value, rows.lowerBound, rows.upperBound, B + first * K,
                                          ColumnPanels.width, ColumnPanels.width * K, whole.count, C + first, ldc,
                                          accumulate ? 1 : 0)
        }
        let c0 = full * ColumnPanels.width
        if c0 < P.cols && panels.contains(full) {
            sparseProductColumns(start: start, index: index, value: value, rows: rows, B + c0 * K,
                                 ldb: P.cols - c0, columns: 0..<(P.cols - c0), into: C + c0, ldc: ldc,
                                 accumulate: accumulate)
        }
    }
}

/// `sparseProduct` of the rows of `S` and the panels `P`.
func sparseProduct(_ S: SparseRows, rows: Range<Int>, _ P: ColumnPanels, into C: UnsafeMutablePointer<Float>,
                   ldc: Int, accumulate: Bool) {
    sparseProduct(start: S.start, index: S.index, value: S.value, rows: rows, P, into: C, ldc: ldc,
                  accumulate: accumulate)
}

/// `C[r, c] = Σ_t value[t] · B[index[t], c]` (plus `C[r, c]` when
/// `accumulate`) for the rows `r` of the sparse `S` and the columns `c` of
/// `columns`: the product `S·B` of a CSR matrix and a dense row-major one.
///
/// The columns are taken 64 at a time (`dsk_sparse_rows_times_dense64`, in
/// CKernels, compiled for AVX2 too and chosen by the CPU), so the slice of
/// `B` they read (`K × 256` bytes) stays in the core's L2 cache across all
/// rows, and the 64 sums of a row live in eight vector registers. Multiply
/// and add are separate operations (no fused multiply-add), so results do
/// not depend on the processor.
package func sparseProduct(_ S: SparseRows, rows: Range<Int>, _ B: UnsafePointer<Float>, ldb: Int, columns: Range<Int>,
                   into C: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
    let start = S.start, index = S.index, value = S.value
    var c0 = columns.lowerBound
    // 64 columns at a time: eight vectors per row.
    let blocks = (columns.upperBound - c0) / 64
    if blocks > 0 && !rows.isEmpty {
        dsk_sparse_rows_times_dense64(start, index, value, rows.lowerBound, rows.upperBound, B + c0, ldb,
                                      64, blocks, C + c0, ldc, accumulate ? 1 : 0)
        c0 += 64 * blocks
    }
    sparseProductColumns(start: start, index: index, value: value, rows: rows, B, ldb: ldb,
                         columns: c0..<columns.upperBound, into: C, ldc: ldc, accumulate: accumulate)
}

/// The columns of `sparseProduct` that are not a whole block of 64: 8 and
/// then 1 at a time.
private func sparseProductColumns(start: UnsafePointer<Int32>, index: UnsafePointer<Int32>,
                                  value: UnsafePointer<Float>, rows: Range<Int>, _ B: UnsafePointer<Float>,
                                  ldb: Int, columns: Range<Int>, into C: UnsafeMutablePointer<Float>, ldc: Int,
                                  accumulate: Bool) {
    typealias V = SIMD8<Float>
    var c0 = columns.lowerBound
    // 8 columns at a time.
    while c0 + 8 <= columns.upperBound {
        for r in rows {
            let out = UnsafeMutableRawPointer(C + r * ldc + c0)
            var a = accumulate ? out.loadUnaligned(as: V.self) : V()
            for t in Int(start[r])..<Int(start[r + 1]) {
                a += V(repeating: value[t]) * UnsafeRawPointer(B + Int(index[t]) * ldb + c0).loadUnaligned(as: V.self)
            }
            out.storeBytes(of: a, as: V.self)
        }
        c0 += 8
    }
    // The last few, one at a time.
    while c0 < columns.upperBound {
        for r in rows {
            var a: Float = accumulate ? C[r * ldc + c0] : 0
            for t in Int(start[r])..<Int(start[r + 1]) { a += value[t] * B[Int(index[t]) * ldb + c0] }
            C[r * ldc + c0] = a
        }
        c0 += 1
    }
}
