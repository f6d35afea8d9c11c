import Foundation
import XCTest
import DeepScratchTestSupport
@testable import DeepScratch

// Helpers for the DeepScratchTests files (no tests here); those other
// test targets share are in Tests/Support.

/// A matrix from rows written as nested arrays.
func matrix<T: Scalar>(_ rows: [[T]]) -> Matrix<T> {
    let r = rows.count, c = rows.first?.count ?? 0
    return Matrix(rows: r, cols: c, values: rows.flatMap { $0 })
}

/// A synthetic labeled set of `count` images of `rows × cols` pixels with
/// labels `i % classes`, pixels pseudo-random from `seed`.
func syntheticImages(count: Int, rows: Int, cols: Int, classes: Int, seed: UInt64) -> LabeledImages {
    LabeledImages(rows: rows, cols: cols,
                  pixels: randomBytes(count * rows * cols, seed: seed),
                  labels: (0..<count).map { UInt8($0 % classes) })
}
