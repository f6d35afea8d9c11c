/// The update rule applied to each parameter after a backward pass.
public enum OptimizerKind: String, CaseIterable, Sendable {
    /// `W −= α·dW`
    case sgd
    /// `v = β₁v + (1−β₁)dW;  W −= α·v`
    case momentum
    /// `s = β₂s + (1−β₂)dW²;  W −= α·dW / (√s + ε)`
    case rmsprop
    /// Momentum and RMSprop with bias correction (Kingma and Ba 2015).
    case adam
}

/// An optimizer and its hyperparameters.
public struct OptimizerSettings: Equatable, Sendable {
    public var kind: OptimizerKind
    /// Momentum decay β₁ (momentum, Adam).
    public var beta1: Double
    /// Squared-gradient decay β₂ (RMSprop, Adam).
    public var beta2: Double
    /// ε in the denominators (RMSprop, Adam).
    public var epsilon: Double

    public init(kind: OptimizerKind, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        self.kind = kind
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }
}

/// Applies an update rule to a fixed list of parameters, keeping one or two
/// moment buffers per parameter and the step count `t`.
public final class Optimizer<T: Scalar> {
    /// The rule and its hyperparameters (may change between epochs).
    public var settings: OptimizerSettings
    /// Number of updates applied so far (Adam's `t`).
    public private(set) var step: Int = 0
    /// First moments `v` (momentum, Adam), one per parameter.
    public let v: [Matrix<T>]
    /// Second moments `s` (RMSprop, Adam), one per parameter.
    public let s: [Matrix<T>]

    /// An optimizer for `parameters` with zero moments.
    public init(settings: OptimizerSettings, parameters: [Parameter<T>]) {
        self.settings = settings
        let needsV = settings.kind == .momentum || settings.kind == .adam
        let needsS = settings.kind == .rmsprop || settings.kind == .adam
        v = needsV ? parameters.map { Matrix(rows: $0.value.rows, cols: $0.value.cols) } : []
        s = needsS ? parameters.map { Matrix(rows: $0.value.rows, cols: $0.value.cols) } : []
    }

    /// Restores the step count (when resuming).
    public func setStep(_ t: Int) { step = t }

    /// Updates every parameter from its gradient with learning rate `alpha`,
    /// and clears the gradients (the next backward pass adds into them).
    public func update(_ parameters: [Parameter<T>], learningRate alpha: Double) {
        step += 1
        let lr = T(alpha)
        let b1 = T(settings.beta1), b2 = T(settings.beta2), eps = T(settings.epsilon)
        let kind = settings.kind
        var c1: T = 1, c2: T = 1
        if kind == .adam {
            // Bias corrections 1/(1−βᵗ), computed in Double.
            c1 = T(1 / (1 - Double.pow(settings.beta1, step)))
            c2 = T(1 / (1 - Double.pow(settings.beta2, step)))
        }
        for k in 0..<parameters.count {
            let p = parameters[k]
            let W = p.value.data, dW = p.gradient.data
            let v = k < self.v.count ? self.v[k].data : nil
            let s = k < self.s.count ? self.s[k].data : nil
            parallelRanges(p.value.count, UpdateJob(kind: kind, W: W, dW: dW, v: v, s: s, lr: lr, b1: b1, b2: b2,
                                                    c1: c1, c2: c2, eps: eps))
            p.gradientIsZero = true
        }
    }
}

/// One parameter's update over part of its values, for `parallelRanges`.
struct UpdateJob<T: Scalar>: RangeJob {
    let kind: OptimizerKind
    let W: UnsafeMutablePointer<T>, dW: UnsafeMutablePointer<T>
    /// The first and second moments (nil when the rule keeps none).
    let v: UnsafeMutablePointer<T>?, s: UnsafeMutablePointer<T>?
    let lr: T, b1: T, b2: T, c1: T, c2: T, eps: T

    func run(_ r: Range<Int>) {
        let (W, dW, n) = (self.W + r.lowerBound, self.dW + r.lowerBound, r.count)
        switch kind {
        case .sgd: sgdUpdate(W, dW, n, lr)
        case .momentum: momentumUpdate(W, dW, v! + r.lowerBound, n, lr, b1)
        case .rmsprop: rmspropUpdate(W, dW, s! + r.lowerBound, n, lr, b2, eps)
        case .adam: adamUpdate(W, dW, v! + r.lowerBound, s! + r.lowerBound, n, lr, b1, b2, c1, c2, eps)
        }
    }
}

extension Double {
    static func pow(_ x: Double, _ n: Int) -> Double {
        var result = 1.0, base = x, e = n
        while e > 0 {
            if e & 1 == 1 { result *= base }
            base *= base
            e >>= 1
        }
        return result
    }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func sgdUpdate<T: Scalar>(_ W: UnsafeMutablePointer<T>, _ dW: UnsafeMutablePointer<T>, _ n: Int, _ lr: T) {
    // W = W − α·dW   (and dW = 0: the gradient is consumed)
    for i in 0..<n { W[i] -= lr * dW[i]; dW[i] = 0 }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func momentumUpdate<T: Scalar>(
    _ W: UnsafeMutablePointer<T>, _ dW: UnsafeMutablePointer<T>, _ v: UnsafeMutablePointer<T>,
    _ n: Int, _ lr: T, _ b1: T
) {
    for i in 0..<n {
        // v = β₁v + (1−β₁)dW;  W = W − α·v
        let vi = b1 * v[i] + (1 - b1) * dW[i]
        dW[i] = 0
        v[i] = vi
        W[i] -= lr * vi
    }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func rmspropUpdate<T: Scalar>(
    _ W: UnsafeMutablePointer<T>, _ dW: UnsafeMutablePointer<T>, _ s: UnsafeMutablePointer<T>,
    _ n: Int, _ lr: T, _ b2: T, _ eps: T
) {
    for i in 0..<n {
        // s = β₂s + (1−β₂)dW²;  W = W − α·dW/(√s + ε)
        let g = dW[i]
        dW[i] = 0
        let si = b2 * s[i] + (1 - b2) * g * g
        s[i] = si
        W[i] -= lr * g / (si.squareRoot() + eps)
    }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func adamUpdate<T: Scalar>(
    _ W: UnsafeMutablePointer<T>, _ dW: UnsafeMutablePointer<T>,
    _ v: UnsafeMutablePointer<T>, _ s: UnsafeMutablePointer<T>,
    _ n: Int, _ lr: T, _ b1: T, _ b2: T, _ c1: T, _ c2: T, _ eps: T
) {
    for i in 0..<n {
        // v = β₁v + (1−β₁)dW;  s = β₂s + (1−β₂)dW²
        // W = W − α·v̂/(√ŝ + ε)  with v̂ = v/(1−β₁ᵗ), ŝ = s/(1−β₂ᵗ)
        let g = dW[i]
        dW[i] = 0
        let vi = b1 * v[i] + (1 - b1) * g
        let si = b2 * s[i] + (1 - b2) * g * g
        v[i] = vi
        s[i] = si
        W[i] -= lr * (vi * c1) / ((si * c2).squareRoot() + eps)
    }
}
