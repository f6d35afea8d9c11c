// Small vectorizable loops shared by the layers and optimizers.
//
// Each is generic over `Scalar` and pre-specialized for Float and Double:
// layers are called through a protocol, where Swift would otherwise run the
// unspecialized generic body (about 40x slower on these loops).

/// `x[i] *= alpha` for `i < count`.
@_specialize(where T == Float)
@_specialize(where T == Double)
func scale<T: Scalar>(_ x: UnsafeMutablePointer<T>, count: Int, by alpha: T) {
    for i in 0..<count { x[i] *= alpha }
}

/// `y[i] = alpha * x[i]` for `i < count`.
@_specialize(where T == Float)
@_specialize(where T == Double)
func scaledCopy<T: Scalar>(_ x: UnsafePointer<T>, to y: UnsafeMutablePointer<T>, count: Int, alpha: T) {
    for i in 0..<count { y[i] = alpha * x[i] }
}

/// `y[i] = alpha * x[i] + beta * y[i]` for `i < count` (`beta` 0 or 1 skips reading y when 0).
@_specialize(where T == Float)
@_specialize(where T == Double)
func scaledAdd<T: Scalar>(_ x: UnsafePointer<T>, to y: UnsafeMutablePointer<T>, count: Int, alpha: T, beta: T) {
    if beta == 0 {
        for i in 0..<count { y[i] = alpha * x[i] }
    } else {
        for i in 0..<count { y[i] = alpha * x[i] + beta * y[i] }
    }
}

/// `Z[i, j] = b[i]`: the column vector `b` in every column of `Z` (rows × cols).
///
/// A function of its own so that generic callers (`Dense<T>.forward`,
/// which is not specialized) reach the Float code, not a per-element copy
/// through the type's value witness (1.8 % of a C1 training step).
@_specialize(where T == Float)
@_specialize(where T == Double)
func broadcastColumn<T: Scalar>(_ b: UnsafePointer<T>, into Z: UnsafeMutablePointer<T>, rows: Int, cols: Int) {
    for i in 0..<rows {
        let bi = b[i]
        let row = Z + i * cols
        for j in 0..<cols { row[j] = bi }
    }
}

/// `s[i] = Σ_j X[i, j]`: the row sums of `X` (rows × cols).
@_specialize(where T == Float)
@_specialize(where T == Double)
func rowSums<T: Scalar>(_ X: UnsafePointer<T>, rows: Int, cols: Int, into s: UnsafeMutablePointer<T>) {
    for i in 0..<rows {
        let row = X + i * cols
        // Eight partial sums, so the loop vectorizes without reassociation flags.
        var acc = (T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0))
        var j = 0
        while j + 8 <= cols {
            acc.0 += row[j]; acc.1 += row[j + 1]; acc.2 += row[j + 2]; acc.3 += row[j + 3]
            acc.4 += row[j + 4]; acc.5 += row[j + 5]; acc.6 += row[j + 6]; acc.7 += row[j + 7]
            j += 8
        }
        var total = ((acc.0 + acc.1) + (acc.2 + acc.3)) + ((acc.4 + acc.5) + (acc.6 + acc.7))
        while j < cols { total += row[j]; j += 1 }
        s[i] = total
    }
}

/// `Σ x[i]²` for `i < count`.
@_specialize(where T == Float)
@_specialize(where T == Double)
func sumOfSquares<T: Scalar>(_ x: UnsafePointer<T>, count: Int) -> T {
    var acc = (T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0))
    var i = 0
    while i + 8 <= count {
        acc.0 += x[i] * x[i]; acc.1 += x[i + 1] * x[i + 1]
        acc.2 += x[i + 2] * x[i + 2]; acc.3 += x[i + 3] * x[i + 3]
        acc.4 += x[i + 4] * x[i + 4]; acc.5 += x[i + 5] * x[i + 5]
        acc.6 += x[i + 6] * x[i + 6]; acc.7 += x[i + 7] * x[i + 7]
        i += 8
    }
    var total = ((acc.0 + acc.1) + (acc.2 + acc.3)) + ((acc.4 + acc.5) + (acc.6 + acc.7))
    while i < count { total += x[i] * x[i]; i += 1 }
    return total
}
