/// One gradient check: the analytic gradient of a function against central
/// differences, as the relative difference `‖g − g̃‖ / (‖g‖ + ‖g̃‖)`.
public struct GradientCheckResult: Sendable {
    /// What was checked, e.g. `Dense dW` or `network W2`.
    public var name: String
    /// `‖g − g̃‖ / (‖g‖ + ‖g̃‖)`.
    public var relativeDifference: Double
    /// Number of gradient entries compared.
    public var entries: Int
}

/// Numerical gradient checking in Float64, run on the same layer code that
/// trains in Float32.
///
/// Each derivative is estimated as `(J(θ + ε) − J(θ − ε)) / 2ε` with
/// `ε = 1e-6`. A layer `f` is checked through the scalar `J = Σ R ⊙ f(X)`
/// with a fixed random `R`, whose gradient with respect to the output is `R`.
public enum GradientCheck {
    /// The step of the central differences.
    public static let epsilon = 1e-6
    /// The bound every check must stay below.
    public static let threshold = 1e-7

    /// `‖g − g̃‖ / (‖g‖ + ‖g̃‖)` (0 when both are zero).
    public static func relativeDifference(_ g: [Double], _ gApprox: [Double]) -> Double {
        precondition(g.count == gApprox.count)
        var diff = 0.0, ng = 0.0, na = 0.0
        for i in 0..<g.count {
            diff += (g[i] - gApprox[i]) * (g[i] - gApprox[i])
            ng += g[i] * g[i]
            na += gApprox[i] * gApprox[i]
        }
        let denominator = ng.squareRoot() + na.squareRoot()
        return denominator == 0 ? 0 : diff.squareRoot() / denominator
    }

    /// Central difference of `J` with respect to every entry of `x`.
    static func numericalGradient(_ x: UnsafeMutablePointer<Double>, count: Int, _ J: () -> Double) -> [Double] {
        var g = [Double](repeating: 0, count: count)
        for i in 0..<count {
            let saved = x[i]
            x[i] = saved + epsilon
            let plus = J()
            x[i] = saved - epsilon
            let minus = J()
            x[i] = saved
            g[i] = (plus - minus) / (2 * epsilon)
        }
        return g
    }

    static func randomMatrix(_ rows: Int, _ cols: Int, _ rng: inout RandomSource) -> Matrix<Double> {
        let M = Matrix<Double>(rows: rows, cols: cols)
        for i in 0..<M.count { M.data[i] = rng.nextGaussian() }
        return M
    }

    /// Checks `∂J/∂X` and the gradient of every parameter of `layer` on a
    /// random batch of `m` examples, with `J = Σ R ⊙ layer(X)`.
    public static func checkLayer(_ layer: any Layer<Double>, name: String, batch m: Int = 4,
                                  seed: UInt64 = 7) -> [GradientCheckResult] {
        var rng = RandomSource(seed: seed)
        let X = randomMatrix(layer.inputSize, m, &rng)
        let R = randomMatrix(layer.outputSize, m, &rng)
        func J() -> Double {
            let out = layer.forward(X, training: true)
            var total = 0.0
            for i in 0..<out.count { total += out.data[i] * R.data[i] }
            return total
        }
        _ = J()
        let dOut = Matrix<Double>(rows: R.rows, cols: R.cols)
        dOut.copy(from: R)
        let dX = layer.backward(dOut).values
        let analytic = layer.parameters.map { $0.gradient.values }
        var results = [GradientCheckResult]()
        let numericX = numericalGradient(X.data, count: X.count, J)
        results.append(.init(name: "\(name) dX", relativeDifference: relativeDifference(dX, numericX), entries: X.count))
        for (p, g) in zip(layer.parameters, analytic) {
            let numeric = numericalGradient(p.value.data, count: p.value.count, J)
            results.append(.init(name: "\(name) d\(p.name.filter { !$0.isNumber })", relativeDifference: relativeDifference(g, numeric),
                                 entries: g.count))
        }
        return results
    }

    /// Checks `dZ = (A − Y)/m` of softmax + cross-entropy against the cost.
    public static func checkLoss(classes: Int = 5, batch m: Int = 6, seed: UInt64 = 11) -> GradientCheckResult {
        var rng = RandomSource(seed: seed)
        let Z = randomMatrix(classes, m, &rng)
        let labels = (0..<m).map { _ in Int32(rng.nextInt(below: classes)) }
        let head = SoftmaxCrossEntropy<Double>(classes: classes)
        return labels.withUnsafeBufferPointer { y in
            func J() -> Double { _ = head.forward(Z); return head.cost(labels: y) }
            _ = J()
            let dZ = head.backward(labels: y).values
            let numeric = numericalGradient(Z.data, count: Z.count, J)
            return GradientCheckResult(name: "softmax + cross-entropy dZ",
                                       relativeDifference: relativeDifference(dZ, numeric), entries: dZ.count)
        }
    }

    /// Checks every parameter gradient of a whole network, with dropout masks
    /// fixed and the L2 term in the cost.
    public static func checkNetwork(_ architecture: Architecture, l2: Double, batch m: Int = 5,
                                    seed: UInt64 = 3) -> [GradientCheckResult] {
        let net = architecture.makeNetwork(Double.self, seed: seed)
        net.setL2(l2)
        for d in net.dropoutLayers { d.freezesMask = true }
        var rng = RandomSource(seed: seed &+ 1)
        let X = randomMatrix(net.inputSize, m, &rng)
        let labels = (0..<m).map { _ in Int32(rng.nextInt(below: net.classes)) }
        return labels.withUnsafeBufferPointer { y in
            func J() -> Double {
                net.forward(X, training: true)
                return net.cost(labels: y) + net.l2Cost(batchSize: m)
            }
            _ = J()
            net.backward(labels: y)
            return net.parameters.map { p in
                let g = p.gradient.values
                let numeric = numericalGradient(p.value.data, count: p.value.count, J)
                return GradientCheckResult(name: "network d\(p.name)", relativeDifference: relativeDifference(g, numeric),
                                           entries: g.count)
            }
        }
    }

    /// Every check `dsc gradcheck` runs and the tests assert: each layer
    /// alone, the loss, and whole networks (ReLU with dropout and L2, and
    /// each other activation).
    public static func runAll() -> [GradientCheckResult] {
        var results = [GradientCheckResult]()
        let dense = Dense<Double>(inputSize: 6, outputSize: 4)
        var rng = RandomSource(seed: 9)
        dense.initialize(.he, rng: &rng)
        for i in 0..<dense.b.value.count { dense.b.value.data[i] = rng.nextGaussian() }
        dense.l2 = 0
        results += checkLayer(dense, name: "Dense")
        results += checkLayer(ReLU<Double>(size: 7), name: "ReLU")
        results += checkLayer(LeakyReLU<Double>(size: 7), name: "LeakyReLU")
        results += checkLayer(Tanh<Double>(size: 7), name: "Tanh")
        results += checkLayer(Sigmoid<Double>(size: 7), name: "Sigmoid")
        let dropout = Dropout<Double>(size: 7, keep: 0.6, rng: RandomSource(seed: 5))
        dropout.freezesMask = true
        results += checkLayer(dropout, name: "Dropout")
        results.append(checkLoss())
        results += checkNetwork(Architecture(sizes: [12, 10, 8, 5], activation: .relu, keep: [0.7, 0.8]), l2: 0.7)
        for activation in [ActivationKind.leakyReLU, .tanh, .sigmoid] {
            results += checkNetwork(Architecture(sizes: [9, 7, 4], activation: activation, keep: [0.75]), l2: 0.3)
                .map { r in var r = r; r.name = "\(activation.rawValue) " + r.name; return r }
        }
        results += checkConvolutionalLayers()
        return results
    }

    /// The checks of convolution, pooling and batch normalization: each
    /// layer alone (strides, padding, overlapping windows, with and without
    /// bias) and two small convolutional networks.
    public static func checkConvolutionalLayers() -> [GradientCheckResult] {
        var results = [GradientCheckResult]()
        var rng = RandomSource(seed: 21)
        let image = ImageShape(channels: 2, height: 6, width: 5)
        for (k, s, p, bias) in [(3, 1, 0, true), (3, 2, 1, true), (2, 1, 1, false)] {
            let conv = Conv2D<Double>(input: image, filters: 3, kernel: k, stride: s, padding: p, usesBias: bias)!
            conv.initialize(.he, rng: &rng)
            if bias { for i in 0..<3 { conv.b.value.data[i] = rng.nextGaussian() } }
            results += checkLayer(conv, name: "Conv2D \(k)x\(k) s\(s) p\(p)\(bias ? "" : " no bias")", batch: 3)
        }
        for (kind, size, stride) in [(PoolKind.max, 2, 2), (.max, 3, 1), (.average, 2, 2), (.average, 3, 2)] {
            let pool = Pool2D<Double>(kind, input: image, size: size, stride: stride)!
            results += checkLayer(pool, name: "\(kind == .max ? "MaxPool" : "AvgPool") \(size) s\(stride)", batch: 3)
        }
        for (name, channels, spatial) in [("BatchNorm dense", 5, 1), ("BatchNorm conv", 3, 6)] {
            let norm = BatchNorm<Double>(channels: channels, spatial: spatial)
            for i in 0..<channels {
                norm.gamma.value.data[i] = 1 + 0.5 * rng.nextGaussian()
                norm.beta.value.data[i] = rng.nextGaussian()
            }
            results += checkLayer(norm, name: name, batch: 4)
        }
        let input = ImageShape(channels: 1, height: 8, width: 8)
        let nets: [(String, String, ActivationKind, Double)] = [
            ("cnn", "conv 3 3x3 bn, pool 2, conv 4 3x3 pad 1, dense 6 bn dropout 0.3, dense 4", .relu, 0.5),
            ("cnn tanh", "conv 2 3x3 stride 2 pad 1, avgpool 2, dense 5, dense 3", .tanh, 0.2),
        ]
        for (label, spec, activation, l2) in nets {
            let layers = try! LayerSpec.parse(spec, input: input, activation: activation)
            let arch = Architecture(layers: layers, inputShape: input, activation: activation)
            results += checkNetwork(arch, l2: l2, batch: 4).map { r in var r = r; r.name = "\(label) " + r.name; return r }
        }
        return results
    }
}
