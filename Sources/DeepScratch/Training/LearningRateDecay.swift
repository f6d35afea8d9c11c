import Glibc

/// How the learning rate changes over training.
public enum LearningRateDecay: Equatable, Sendable {
    /// Constant: `α = α₀`.
    case none
    /// Step decay: `α = α₀ · factor^⌊epoch / every⌋`.
    case step(every: Int, factor: Double)
    /// Exponential decay, continuous per step: `α = α₀ · rate^(epochs done)`.
    case exponential(rate: Double)
    /// Cosine to zero over the whole run: `α = α₀ · (1 + cos(π·t/T)) / 2`.
    case cosine

    /// The learning rate for step `t` (0-based, counting all epochs) of a run
    /// of `totalSteps` steps, `stepsPerEpoch` a epoch.
    public func learningRate(base: Double, step t: Int, stepsPerEpoch: Int, totalSteps: Int) -> Double {
        switch self {
        case .none:
            return base
        case let .step(every, factor):
            let epoch = t / max(1, stepsPerEpoch)
            return base * Glibc.pow(factor, Double(epoch / max(1, every)))
        case let .exponential(rate):
            return base * Glibc.pow(rate, Double(t) / Double(max(1, stepsPerEpoch)))
        case .cosine:
            let progress = Double(t) / Double(max(1, totalSteps))
            return base * 0.5 * (1 + Glibc.cos(Double.pi * min(1, progress)))
        }
    }
}
