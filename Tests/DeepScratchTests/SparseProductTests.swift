import CKernels
import XCTest
@testable import DeepScratch

final class SparseProductTests: XCTestCase {
    /// A deterministic dense matrix with about `inkShare` of its entries ≠ `background`.
    private func mostlyBackground(rows: Int, cols: Int, background: Float, inkShare: Double,
                                  seed: UInt64) -> [Float] {
        var state = seed
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        return (0..<rows * cols).map { _ in next() < inkShare ? Float(next() * 2 - 1) : background }
    }

    func testAppendRowKeepsOnlyEntriesThatDifferFromBackgroundScaled() {
        let S = SparseRows()
        let x: [Float] = [0.5, 2, 0.5, 0.5, -1, 3]
        S.reset(rows: 2, entries: 12)
        x.withUnsafeBufferPointer { S.appendRow($0.baseAddress!, count: 6, background: 0.5, scale: 2) }
        // every second element: 0.5, 0.5, -1
        x.withUnsafeBufferPointer { S.appendRow($0.baseAddress!, count: 3, stride: 2, background: 0.5, scale: 1) }
        XCTAssertEqual(S.rows, 2)
        XCTAssertEqual(S.count, 4)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: S.start, count: 3)), [0, 3, 4])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: S.index, count: 4)), [1, 4, 5, 2])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: S.value, count: 4)), [3, -3, 5, -1.5])
        // Reuse: reset empties it.
        S.reset(rows: 1, entries: 6)
        XCTAssertEqual(S.count, 0)
    }

    /// Every path of the kernel (64-column chunks, 8-wide, scalar tail),
    /// with and without accumulation, on a column range that starts inside
    /// the matrix, against a naive triple loop in Float64.
    func testSparseProductMatchesNaiveProductOnEveryColumnPath() {
        let m = 7, k = 50, n = 64 + 64 + 8 + 8 + 5 + 3, ldb = n + 2, ldc = n + 1
        let X = mostlyBackground(rows: m, cols: k, background: -0.25, inkShare: 0.3, seed: 1)
        let B = mostlyBackground(rows: k, cols: ldb, background: 0.1, inkShare: 1, seed: 2)
        let C0 = mostlyBackground(rows: m, cols: ldc, background: 0, inkShare: 1, seed: 3)
        let S = SparseRows()
        S.reset(rows: m, entries: m * k)
        X.withUnsafeBufferPointer { x in
            for r in 0..<m { S.appendRow(x.baseAddress! + r * k, count: k, background: -0.25, scale: 1.5) }
        }
        let columns = 3..<n
        for accumulate in [false, true] {
            var C = C0
            B.withUnsafeBufferPointer { b in
                C.withUnsafeMutableBufferPointer { c in
                    sparseProduct(S, rows: 0..<m, b.baseAddress!, ldb: ldb, columns: columns,
                                  into: c.baseAddress!, ldc: ldc, accumulate: accumulate)
                }
            }
            for r in 0..<m {
                for c in 0..<ldc {
                    let got = C[r * ldc + c]
                    guard columns.contains(c) else {
                        XCTAssertEqual(got, C0[r * ldc + c], "column \(c) outside the range was written")
                        continue
                    }
                    var want = accumulate ? Double(C0[r * ldc + c]) : 0
                    for j in 0..<k {
                        want += 1.5 * (Double(X[r * k + j]) + 0.25) * Double(B[j * ldb + c])
                    }
                    XCTAssertEqual(Double(got), want, accuracy: 1e-5, "C[\(r), \(c)] accumulate \(accumulate)")
                }
            }
        }
    }

    func testSparseProductOfAnAllBackgroundRowLeavesOrZeroesIt() {
        let S = SparseRows()
        S.reset(rows: 1, entries: 4)
        let x: [Float] = [0, 0, 0, 0]
        x.withUnsafeBufferPointer { S.appendRow($0.baseAddress!, count: 4, background: 0) }
        let B = [Float](repeating: 1, count: 4 * 70)
        for accumulate in [false, true] {
            var C = [Float](repeating: 7, count: 70)
            B.withUnsafeBufferPointer { b in
                C.withUnsafeMutableBufferPointer { c in
                    sparseProduct(S, rows: 0..<1, b.baseAddress!, ldb: 70, columns: 0..<70,
                                  into: c.baseAddress!, ldc: 70, accumulate: accumulate)
                }
            }
            XCTAssertEqual(C, [Float](repeating: accumulate ? 7 : 0, count: 70))
        }
    }

    /// The panel layout holds `Wᵀ` (every element where `copyRow` finds it),
    /// and the sparse product over panels equals the naive one on every
    /// column path: whole panels, a last panel of 8-wide and single columns.
    func testSparseProductOverColumnPanelsMatchesNaiveProduct() {
        let m = 6, k = 37
        for n in [5, 64, 64 + 8 + 3, 3 * 64 + 16] {
            let Wd = mostlyBackground(rows: n, cols: k, background: 0, inkShare: 1, seed: UInt64(n))
            let W = Matrix<Float>(rows: n, cols: k)
            for i in 0..<n * k { W.data[i] = Wd[i] }
            let P = ColumnPanels(transposeOf: W)
            XCTAssertEqual(P.rows, k)
            XCTAssertEqual(P.cols, n)
            var row = [Float](repeating: 0, count: n)
            for j in 0..<k {
                row.withUnsafeMutableBufferPointer { P.copyRow(j, into: $0.baseAddress!) }
                XCTAssertEqual(row, (0..<n).map { W[$0, j] }, "row \(j) of Wᵀ, \(n) columns")
            }
            let X = mostlyBackground(rows: m, cols: k, background: 0, inkShare: 0.3, seed: 5)
            let S = SparseRows()
            S.reset(rows: m, entries: m * k)
            X.withUnsafeBufferPointer { x in
                for r in 0..<m { S.appendRow(x.baseAddress! + r * k, count: k, background: 0) }
            }
            let C0 = mostlyBackground(rows: m, cols: n, background: 0, inkShare: 1, seed: 9)
            for accumulate in [false, true] {
                var C = C0
                C.withUnsafeMutableBufferPointer {
                    sparseProduct(S, rows: 1..<m, P, into: $0.baseAddress!, ldc: n, accumulate: accumulate)
                }
                XCTAssertEqual(Array(C[0..<n]), Array(C0[0..<n]), "row 0 is outside the rows and stays")
                for r in 1..<m {
                    for c in 0..<n {
                        var want = accumulate ? Double(C0[r * n + c]) : 0
                        for j in 0..<k { want += Double(X[r * k + j]) * Double(Wd[c * k + j]) }
                        XCTAssertEqual(Double(C[r * n + c]), want, accuracy: 1e-5,
                                       "C[\(r), \(c)] of \(n) columns, accumulate \(accumulate)")
                    }
                }
            }
        }
    }

    /// The CPU-specific versions of CKernels (AVX2) and the baseline ones
    /// give bit-identical results: the sparse product on every column path
    /// with and without accumulation, over a row-major matrix and over
    /// panels (as inference runs it, one image or a block).
    func testAVX2AndBaselineKernelsGiveBitIdenticalResults() {
        defer { dsk_select(1) }
        let m = 5, k = 40, n = 64 * 3 + 8 + 3, ldb = n, ldc = n
        let X = mostlyBackground(rows: m, cols: k, background: 0, inkShare: 0.4, seed: 11)
        let B = mostlyBackground(rows: k, cols: ldb, background: 0, inkShare: 1, seed: 12)
        let C0 = mostlyBackground(rows: m, cols: ldc, background: 0, inkShare: 1, seed: 13)
        let S = SparseRows()
        S.reset(rows: m, entries: m * k)
        X.withUnsafeBufferPointer { x in
            for r in 0..<m { S.appendRow(x.baseAddress! + r * k, count: k, background: 0, scale: 0.7) }
        }
        func run(wide: Int32) -> [[Float]] {
            dsk_select(wide)
            var results: [[Float]] = []
            for accumulate in [false, true] {
                var C = C0
                B.withUnsafeBufferPointer { b in
                    C.withUnsafeMutableBufferPointer { c in
                        sparseProduct(S, rows: 0..<m, b.baseAddress!, ldb: ldb, columns: 1..<n,
                                      into: c.baseAddress!, ldc: ldc, accumulate: accumulate)
                    }
                }
                results.append(C)
            }
            let W = Matrix<Float>(rows: n, cols: k)
            for i in 0..<n * k { W.data[i] = B[i] }
            let P = ColumnPanels(transposeOf: W)
            for rows in [0..<1, 0..<m] {
                var C = C0
                C.withUnsafeMutableBufferPointer {
                    sparseProduct(S, rows: rows, P, into: $0.baseAddress!, ldc: ldc, accumulate: true)
                }
                results.append(C)
            }
            return results
        }
        let baseline = run(wide: 0)
        XCTAssertEqual(String(cString: dsk_instruction_set()), "baseline")
        let wide = run(wide: 1)
        for (a, b) in zip(baseline, wide) {
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern))
        }
        // The product itself is right (the other test checks it in Float64 too).
        XCTAssertNotEqual(baseline[0], C0)
    }

    /// The product over a range of panels writes exactly those panels'
    /// columns, with the values the product over all panels gives: ranges
    /// that split the panels (as one image's threads do), the narrower last
    /// panel included, together give the whole product bit for bit.
    func testPanelRangesSplitTheProductExactly() {
        let k = 50, n = 64 * 3 + 17
        let X = mostlyBackground(rows: 1, cols: k, background: 0, inkShare: 0.5, seed: 21)
        let B = mostlyBackground(rows: n, cols: k, background: 0, inkShare: 1, seed: 22)
        let W = Matrix<Float>(rows: n, cols: k)
        for i in 0..<n * k { W.data[i] = B[i] }
        let P = ColumnPanels(transposeOf: W)
        XCTAssertEqual(P.panelCount, 4)
        let S = SparseRows()
        S.reset(rows: 1, entries: k)
        X.withUnsafeBufferPointer { S.appendRow($0.baseAddress!, count: k, background: 0) }
        let start: [Float] = (0..<n).map { Float($0) / 7 }
        var whole = start
        whole.withUnsafeMutableBufferPointer { sparseProduct(S, rows: 0..<1, P, into: $0.baseAddress!, ldc: n, accumulate: true) }
        for split in [[0..<1, 1..<4], [0..<2, 2..<4], [0..<3, 3..<4], [0..<4]] {
            var pieces = start
            for range in split {
                var alone = start
                pieces.withUnsafeMutableBufferPointer {
                    sparseProduct(start: S.start, index: S.index, value: S.value, rows: 0..<1, P, panels: range,
                                  into: $0.baseAddress!, ldc: n, accumulate: true)
                }
                alone.withUnsafeMutableBufferPointer {
                    sparseProduct(start: S.start, index: S.index, value: S.value, rows: 0..<1, P, panels: range,
                                  into: $0.baseAddress!, ldc: n, accumulate: true)
                }
                // columns outside the range untouched
                let columns = (range.lowerBound * 64)..<min(n, range.upperBound * 64)
                for c in 0..<n where !columns.contains(c) { XCTAssertEqual(alone[c], start[c], "\(range): column \(c) written") }
            }
            XCTAssertEqual(pieces, whole, "split \(split)")
        }
        // and the whole product is the product
        for c in 0..<n {
            var expected = Double(start[c])
            for j in 0..<k { expected += Double(X[j]) * Double(W[c, j]) }
            XCTAssertEqual(Double(whole[c]), expected, accuracy: 1e-4 * max(1, abs(expected)))
        }
    }
}
