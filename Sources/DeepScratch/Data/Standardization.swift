/// Input standardization `x = (p/255 − mean) / std` with one mean and one
/// standard deviation over all pixels of the training split.
///
/// It is stored with the model, so inference standardizes exactly as
/// training did.
public struct Standardization: Equatable, Sendable {
    /// Mean of `p/255` over the training pixels.
    public var mean: Double
    /// Standard deviation of `p/255` over the training pixels (> 0).
    public var std: Double

    public init(mean: Double, std: Double) {
        self.mean = mean
        self.std = std
    }

    /// The statistics of `images` (the training split only).
    public init(fitting images: LabeledImages) {
        var histogram = [Int](repeating: 0, count: 256)
        images.pixels.withUnsafeBufferPointer { p in for v in p { histogram[Int(v)] += 1 } }
        let n = Double(max(1, images.pixels.count))
        var sum = 0.0, sumSq = 0.0
        for (v, c) in histogram.enumerated() {
            let x = Double(v) / 255
            sum += x * Double(c)
            sumSq += x * x * Double(c)
        }
        let mean = sum / n
        let variance = max(0, sumSq / n - mean * mean)
        self.init(mean: mean, std: variance > 0 ? variance.squareRoot() : 1)
    }

    /// The standardized value of each of the 256 pixel values.
    public func table<T: Scalar>(_: T.Type = T.self) -> [T] {
        (0..<256).map { T((Double($0) / 255 - mean) / std) }
    }
}

/// Fills `X` (`features × m`, one example per column) with the
/// standardized pixels of the images `indices` names, and `labels` with
/// their labels.
///
/// With `shifts`, example `j` is translated by `shifts[2j]` pixels to the
/// right and `shifts[2j+1]` down (images are `rows × cols`); pixels moved in
/// from outside are background (byte 0).
@_specialize(where T == Float)
@_specialize(where T == Double)
func assembleBatch<T: Scalar>(
    _ images: UnsafePointer<UInt8>, _ imageLabels: UnsafePointer<UInt8>, rows: Int, cols: Int,
    indices: UnsafeBufferPointer<Int32>, table: UnsafePointer<T>,
    into X: Matrix<T>, labels: UnsafeMutablePointer<Int32>, shifts: UnsafePointer<Int8>? = nil
) {
    let m = indices.count
    let features = rows * cols
    X.resize(cols: m)
    let x = X.data
    for j in 0..<m {
        let k = Int(indices[j])
        labels[j] = Int32(imageLabels[k])
        let src = images + k * features
        let dx = shifts.map { Int($0[2 * j]) } ?? 0
        let dy = shifts.map { Int($0[2 * j + 1]) } ?? 0
        if dx == 0 && dy == 0 {
            for i in 0..<features { x[i * m + j] = table[Int(src[i])] }
            continue
        }
        let background = table[0]
        for r in 0..<rows {
            let sr = r - dy
            for c in 0..<cols {
                let sc = c - dx
                let inside = sr >= 0 && sr < rows && sc >= 0 && sc < cols
                x[(r * cols + c) * m + j] = inside ? table[Int(src[sr * cols + sc])] : background
            }
        }
    }
}

extension LabeledImages {
    /// Fills `X` with the standardized images `indices` names (one per
    /// column, looked up in `table`) and the start of `labels` with their
    /// labels, shifting example `j` by `shifts[2j], shifts[2j+1]` if given.
    package func assemble<T: Scalar>(_ indices: UnsafeBufferPointer<Int32>, table: [T], into X: Matrix<T>,
                             labels: inout [Int32], shifts: [Int8]? = nil) {
        precondition(labels.count >= indices.count && (shifts?.count ?? Int.max) >= 2 * indices.count)
        pixels.withUnsafeBufferPointer { px in
            self.labels.withUnsafeBufferPointer { lb in
                table.withUnsafeBufferPointer { t in
                    labels.withUnsafeMutableBufferPointer { out in
                        func run(_ sh: UnsafePointer<Int8>?) {
                            assembleBatch(px.baseAddress!, lb.baseAddress!, rows: rows, cols: cols, indices: indices,
                                          table: t.baseAddress!, into: X, labels: out.baseAddress!, shifts: sh)
                        }
                        if let shifts { shifts.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
                    }
                }
            }
        }
    }
}
