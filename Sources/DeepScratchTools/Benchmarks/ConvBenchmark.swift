import DeepScratch
/// Timing of the convolution layers of `--arch lenet`, forward and backward.
public enum ConvBenchmark {
    /// One measured layer.
    public struct Result: Sendable {
        public var name: String
        /// Median milliseconds of one forward + backward pass of the batch.
        public var milliseconds: Double
        /// Multiply-adds × 2 of forward, dW and (when computed) dX, per second.
        public var gflops: Double
    }

    /// Times forward + backward of lenet's two convolutions (the first
    /// without `dX`, as in training, where its input is the data) on random
    /// data: the median of `runs` passes after two warm-up passes.
    public static func lenetLayers(batch m: Int, runs: Int) -> [Result] {
        let cases: [(String, ImageShape, Int, Bool)] = [
            ("conv1 1->32 5x5 on 28x28 (no dX)", ImageShape(channels: 1, height: 28, width: 28), 32, false),
            ("conv2 32->64 5x5 on 12x12 (with dX)", ImageShape(channels: 32, height: 12, width: 12), 64, true),
        ]
        var results = [Result]()
        var rng = RandomSource(seed: 1)
        for (name, shape, filters, inputGradient) in cases {
            let conv = Conv2D<Float>(input: shape, filters: filters, kernel: 5)!
            conv.initialize(.he, rng: &rng)
            conv.computesInputGradient = inputGradient
            let X = Matrix<Float>(rows: shape.count, cols: m)
            for i in 0..<X.count { X.data[i] = Float(rng.nextGaussian()) }
            let dZ = Matrix<Float>(rows: conv.outputSize, cols: m)
            var times = [Double]()
            for r in 0..<(runs + 2) {
                dZ.fill(0.01)
                let t0 = monotonicSeconds()
                _ = conv.forward(X, training: true)
                _ = conv.backward(dZ)
                conv.W.gradientIsZero = true
                if r >= 2 { times.append(monotonicSeconds() - t0) }
            }
            times.sort()
            let seconds = times[times.count / 2]
            let macs = Double(conv.W.value.count * conv.output.area * m)
            let flops = 2 * macs * (inputGradient ? 3 : 2)
            results.append(Result(name: name, milliseconds: seconds * 1e3, gflops: flops / seconds / 1e9))
        }
        return results
    }
}
