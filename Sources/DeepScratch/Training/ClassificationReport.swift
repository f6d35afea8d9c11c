/// Accuracy, per-class precision and recall, the confusion matrix and the
/// most confident mistakes of a set of predictions.
public struct ClassificationReport: Sendable {
    /// One wrong answer.
    public struct Mistake: Sendable {
        /// Index of the example in the evaluated set.
        public var index: Int
        public var trueClass: Int
        public var predictedClass: Int
        /// The probability given to the (wrong) prediction.
        public var probability: Float
    }

    /// Number of classes.
    public let classes: Int
    /// `confusion[t][p]`: examples of true class t predicted as p.
    public let confusion: [[Int]]
    /// Wrong answers, most confident first.
    public let mistakes: [Mistake]

    /// - Parameters:
    ///   - labels: the true class of each example.
    ///   - probabilities: `labels.count × classes` values, example after example.
    public init(labels: [Int], probabilities: [Float], classes: Int) {
        precondition(probabilities.count == labels.count * classes)
        self.classes = classes
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var mistakes = [Mistake]()
        for (i, t) in labels.enumerated() {
            let row = probabilities[(i * classes)..<((i + 1) * classes)]
            var best = row.startIndex
            for k in row.indices where row[k] > row[best] { best = k }
            let p = best - row.startIndex
            confusion[t][p] += 1
            if p != t { mistakes.append(Mistake(index: i, trueClass: t, predictedClass: p, probability: row[best])) }
        }
        self.confusion = confusion
        self.mistakes = mistakes.sorted { $0.probability > $1.probability || ($0.probability == $1.probability && $0.index < $1.index) }
    }

    /// Number of examples.
    public var count: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }
    /// Fraction right.
    public var accuracy: Double {
        count == 0 ? 0 : Double((0..<classes).reduce(0) { $0 + confusion[$1][$1] }) / Double(count)
    }
    /// Of the examples predicted as class `k`, the fraction that are `k` (nil if none were).
    public func precision(_ k: Int) -> Double? {
        let predicted = (0..<classes).reduce(0) { $0 + confusion[$1][k] }
        return predicted == 0 ? nil : Double(confusion[k][k]) / Double(predicted)
    }
    /// Of the examples of class `k`, the fraction predicted as `k` (nil if there are none).
    public func recall(_ k: Int) -> Double? {
        let actual = confusion[k].reduce(0, +)
        return actual == 0 ? nil : Double(confusion[k][k]) / Double(actual)
    }
}

extension Network where T == Float {
    /// Class probabilities (dropout off) for every image of `images`,
    /// `images.count × classes` values, in batches.
    public func probabilities(_ images: LabeledImages, standardization: Standardization, batchSize: Int = 1000) throws -> [Float] {
        try checkLabels(images, name: "evaluation")
        let batchSize = max(1, batchSize)
        let table = standardization.table(Float.self)
        let X = Matrix<Float>(rows: inputSize, cols: 0)
        var labels = [Int32](repeating: 0, count: batchSize)
        var out = [Float](repeating: 0, count: images.count * classes)
        var lo = 0
        while lo < images.count {
            let hi = min(images.count, lo + batchSize)
            let indices = (Int32(lo)..<Int32(hi)).map { $0 }
            indices.withUnsafeBufferPointer { images.assemble($0, table: table, into: X, labels: &labels) }
            let A = forward(X, training: false)
            // A is classes × m: transpose into example-major rows.
            for j in 0..<(hi - lo) {
                for k in 0..<classes { out[(lo + j) * classes + k] = A[k, j] }
            }
            lo = hi
        }
        return out
    }
}
