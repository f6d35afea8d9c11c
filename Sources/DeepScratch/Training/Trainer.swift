import Glibc

/// Everything that decides a training run, except the data.
public struct TrainingConfig: Equatable, Sendable {
    /// Layer sizes, activation and dropout.
    public var architecture: Architecture
    /// Weight initialization (nil: the one suited to the activation).
    public var initialization: WeightInit?
    /// Number of passes over the training split.
    public var epochs: Int
    /// Examples per mini-batch (the last batch of an epoch may be smaller).
    public var batchSize: Int
    /// The update rule.
    public var optimizer: OptimizerSettings
    /// Initial learning rate α₀.
    public var learningRate: Double
    /// Learning-rate schedule.
    public var decay: LearningRateDecay
    /// L2 strength λ (cost gains `λ/(2m)·Σ‖W‖²`).
    public var l2: Double
    /// Seed of every random choice: initial weights, shuffles, dropout masks.
    public var seed: UInt64
    /// Data augmentation: each training example is shifted by up to this
    /// many pixels in each direction, drawn per example and epoch (0 = off).
    public var augmentShift: Int = 0
    /// Data augmentation: random distortions of each training image, drawn
    /// per image and epoch (none by default).
    public var augment: Augmentation = .none

    public init(architecture: Architecture, initialization: WeightInit? = nil, epochs: Int, batchSize: Int,
                optimizer: OptimizerSettings, learningRate: Double, decay: LearningRateDecay = .none,
                l2: Double = 0, seed: UInt64 = 1) {
        self.architecture = architecture
        self.initialization = initialization
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.decay = decay
        self.l2 = l2
        self.seed = seed
    }

    /// Checks every field's range.
    /// - Throws: `DeepScratchError.invalidSetting` for the first bad field.
    public func validate() throws {
        func bad(_ name: String, _ value: Any, _ expected: String) -> DeepScratchError {
            .invalidSetting(name: name, value: "\(value)", expected: expected)
        }
        let layers = architecture.layers
        guard case .dense? = layers.last else {
            throw bad("layer sizes", architecture.sizes, "an input size and a class count (layers ending in a dense layer)")
        }
        if case let .failure(p) = LayerSpec.shapes(of: layers, input: architecture.inputShape) {
            // Named as the fully connected form's settings are, where the layer is one of them.
            switch layers[p.layer - 1] {
            case let .dropout(k): throw bad("keep probability", k, p.reason)
            case let .dense(n): throw bad("layer size", n, p.reason)
            default: throw bad("layer \(p.layer)", LayerSpec.describe(layers), p.reason)
            }
        }
        guard epochs >= 1 else { throw bad("epochs", epochs, "a positive integer") }
        guard (0...8).contains(augmentShift) else { throw bad("augmentation shift", augmentShift, "0 to 8 pixels") }
        guard batchSize >= 1 else { throw bad("batch size", batchSize, "a positive integer") }
        guard learningRate > 0, learningRate.isFinite else { throw bad("learning rate", learningRate, "a positive number") }
        guard l2 >= 0, l2.isFinite else { throw bad("L2 strength", l2, "a number >= 0") }
        guard optimizer.beta1 >= 0, optimizer.beta1 < 1 else { throw bad("beta1", optimizer.beta1, "a number in [0, 1)") }
        guard optimizer.beta2 >= 0, optimizer.beta2 < 1 else { throw bad("beta2", optimizer.beta2, "a number in [0, 1)") }
        guard optimizer.epsilon > 0 else { throw bad("epsilon", optimizer.epsilon, "a positive number") }
        switch decay {
        case let .step(every, factor):
            guard every >= 1 else { throw bad("decay step", every, "a positive number of epochs") }
            guard factor > 0, factor <= 1 else { throw bad("decay factor", factor, "a number in (0, 1]") }
        case let .exponential(rate):
            guard rate > 0, rate <= 1 else { throw bad("decay rate", rate, "a number in (0, 1]") }
        case .none, .cosine: break
        }
    }
}

/// Cost and accuracy on a set of examples.
public struct Evaluation: Sendable {
    /// Mean cross-entropy (without the L2 term).
    public var cost: Double
    /// Fraction classified right.
    public var accuracy: Double
    /// Number of examples.
    public var count: Int
}

/// What one finished epoch measured.
public struct EpochReport: Sendable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Running mean over the epoch's batches (dropout on) of the cost,
    /// including the L2 term.
    public var trainCost: Double
    /// Running accuracy over the epoch's batches (dropout on).
    public var trainAccuracy: Double
    /// The dev split, evaluated after the epoch (nil without a dev split).
    public var dev: Evaluation?
    /// Training examples per second in this epoch (evaluation excluded).
    public var samplesPerSecond: Double
    /// Seconds of training in this epoch (evaluation excluded).
    public var trainSeconds: Double
    /// Seconds since training started, evaluation included.
    public var elapsed: Double
    /// The learning rate at the epoch's last step.
    public var learningRate: Double
}

/// How a call to `Trainer.train` ended.
public enum TrainingOutcome: Sendable {
    /// Every epoch is done.
    case finished
    /// `shouldStop` asked to stop; the trainer can checkpoint and go on later.
    case stopped
}

/// Callbacks a training run makes; all optional.
public struct TrainingObserver {
    /// After each step: (epoch, step within the epoch, steps in the epoch).
    public var onStep: ((Int, Int, Int) -> Void)?
    /// After each epoch.
    public var onEpoch: ((EpochReport) -> Void)?
    /// Before each step, with the training-set indices of its batch.
    public var onBatch: ((UnsafeBufferPointer<Int32>) -> Void)?
    /// After each step and epoch: true stops training (resumable).
    public var shouldStop: (() -> Bool)?

    public init(onStep: ((Int, Int, Int) -> Void)? = nil, onEpoch: ((EpochReport) -> Void)? = nil,
                onBatch: ((UnsafeBufferPointer<Int32>) -> Void)? = nil, shouldStop: (() -> Bool)? = nil) {
        self.onStep = onStep
        self.onEpoch = onEpoch
        self.onBatch = onBatch
        self.shouldStop = shouldStop
    }
}

/// Monotonic seconds.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Mini-batch training of a network in Float32.
public final class Trainer {
    /// The settings of this run.
    public private(set) var config: TrainingConfig
    /// The network being trained.
    public let network: Network<Float>
    /// The input standardization (fitted on the training split).
    public let standardization: Standardization
    /// The update rule's state.
    public let optimizer: Optimizer<Float>
    /// The generator of the epoch shuffles.
    public var shuffleRNG: RandomSource
    /// The generator of the augmentation shifts.
    public var augmentRNG: RandomSource
    /// Number of epochs finished.
    public private(set) var epochsDone = 0
    /// Number of steps finished.
    public private(set) var stepsDone = 0

    private let parameters: [Parameter<Float>]
    private let table: [Float]
    private let X: Matrix<Float>
    private var batchLabels: [Int32]
    private var shifts: [Int8] = []
    /// The random numbers of the batch's distortions.
    private var draws: [Double] = []

    /// Examples of the current epoch already trained on (0 at an epoch boundary).
    public private(set) var examplesDone = 0
    private var preEpochShuffleState: RandomSource
    private var epochCostSum = 0.0
    private var epochCorrect = 0

    /// A new network for `config`, to be trained on data standardized by `standardization`.
    /// - Throws: `DeepScratchError.invalidSetting` if `config` is out of range.
    public init(config: TrainingConfig, standardization: Standardization) throws {
        try config.validate()
        self.config = config
        self.standardization = standardization
        network = config.architecture.makeNetwork(Float.self, initialization: config.initialization, seed: config.seed)
        network.setL2(Float(config.l2))
        parameters = network.parameters
        optimizer = Optimizer(settings: config.optimizer, parameters: parameters)
        shuffleRNG = RandomSource(seed: config.seed &+ 0x5EED_5EED)
        preEpochShuffleState = shuffleRNG
        augmentRNG = RandomSource(seed: config.seed &+ 0xA11D_A11D)
        table = standardization.table(Float.self)
        X = Matrix(rows: network.inputSize, cols: 0)
        batchLabels = []
    }

    /// Continues training `model` with `config`, whose architecture (layer
    /// sizes and activation) must be the model's; every other setting may
    /// differ. A checkpoint's weights, optimizer moments and step, progress
    /// and generator states are restored, so with unchanged settings the run
    /// continues exactly as if it had never stopped. A model without training
    /// state keeps its weights and starts a fresh optimizer.
    /// - Throws: `DeepScratchError.invalidSetting` if the architecture differs
    ///   (the message says how) or a setting is out of range.
    public convenience init(resuming model: Model, config: TrainingConfig) throws {
        let had = model.architecture
        let want = config.architecture
        // Dropout does not change the weights (and finished files do not record it).
        if had.sizes != want.sizes || had.activation != want.activation || had.inferenceLayers != want.inferenceLayers {
            func describe(_ a: Architecture) -> String {
                if let form = a.fullyConnected { return form.sizes.map(String.init).joined(separator: "-") + " " + a.activation.rawValue }
                return "'" + LayerSpec.describe(a.layers) + "' " + a.activation.rawValue
            }
            throw DeepScratchError.invalidSetting(
                name: "architecture", value: describe(want),
                expected: "the model's \(describe(had)): layer sizes and activation cannot change on resume")
        }
        try self.init(config: config, standardization: model.standardization)
        try model.load(into: network)
        guard let state = model.trainingState else { return }
        epochsDone = state.epochsDone
        stepsDone = state.stepsDone
        examplesDone = state.examplesDone
        epochCostSum = state.epochCostSum
        epochCorrect = state.epochCorrect
        preEpochShuffleState = RandomSource(state: state.shuffleState)
        shuffleRNG = preEpochShuffleState
        augmentRNG = RandomSource(state: state.augmentState)
        let dropouts = network.dropoutLayers
        if dropouts.count == state.dropoutStates.count {
            for (d, s) in zip(dropouts, state.dropoutStates) { d.rng = RandomSource(state: s) }
        }
        // Moments apply only to the same update rule.
        if state.config.optimizer.kind == config.optimizer.kind {
            optimizer.setStep(state.optimizerStep)
            for (k, p) in parameters.enumerated() {
                for (which, store) in [("v", optimizer.v), ("s", optimizer.s)] where k < store.count {
                    if let m = state.moments.first(where: { $0.name == "opt.\(which).\(p.name)" }), m.values.count == p.value.count {
                        m.values.withUnsafeBufferPointer { store[k].data.update(from: $0.baseAddress!, count: m.values.count) }
                    }
                }
            }
        }
    }

    /// The state a checkpoint needs to resume this run exactly.
    /// - Parameter devCount: the size of the dev split (recorded for resuming).
    public func trainingState(devCount: Int) -> TrainingState {
        var moments = [NamedTensor]()
        for (which, store) in [("v", optimizer.v), ("s", optimizer.s)] {
            for (k, p) in parameters.enumerated() where k < store.count {
                let shape = p.value.cols == 1 ? [p.value.rows] : [p.value.rows, p.value.cols]
                moments.append(NamedTensor(name: "opt.\(which).\(p.name)", shape: shape, values: store[k].values))
            }
        }
        return TrainingState(
            config: config, devCount: devCount, epochsDone: epochsDone, stepsDone: stepsDone,
            examplesDone: examplesDone, optimizerStep: optimizer.step, epochCostSum: epochCostSum,
            // At an epoch boundary the next epoch's shuffle starts from the current state.
            epochCorrect: epochCorrect, shuffleState: (examplesDone == 0 ? shuffleRNG : preEpochShuffleState).state,
            augmentState: augmentRNG.state,
            dropoutStates: network.dropoutLayers.map { $0.rng.state }, moments: moments)
    }

    /// Trains until `config.epochs` epochs are done, reshuffling `train` each
    /// epoch and using every example exactly once per epoch, the last
    /// partial batch included. A resumed trainer continues where it stopped,
    /// even inside an epoch.
    /// - Parameters:
    ///   - train: the training split (its image size must match the input size).
    ///   - dev: evaluated after each epoch when given.
    ///   - observer: progress callbacks; `shouldStop` ends training early.
    /// - Returns: `.finished`, or `.stopped` when `shouldStop` answered true
    ///   (call `trainingState` to checkpoint, and `train` again to go on).
    /// - Throws: `DeepScratchError.diverged` when the cost stops being finite,
    ///   `.dataMismatch` when the images do not fit the network.
    @discardableResult
    public func train(_ train: LabeledImages, dev: LabeledImages? = nil, observer: TrainingObserver = .init()) throws -> TrainingOutcome {
        guard train.count > 0 else { throw DeepScratchError.dataMismatch(reason: "the training split is empty") }
        try network.checkLabels(train, name: "training")
        if let dev { try network.checkLabels(dev, name: "dev") }
        let n = train.count
        let batch = config.batchSize
        let stepsPerEpoch = (n + batch - 1) / batch
        let totalSteps = stepsPerEpoch * config.epochs
        if batchLabels.count < batch { batchLabels = [Int32](repeating: 0, count: batch) }
        if examplesDone >= n { examplesDone = 0 }
        var order = [Int32](repeating: 0, count: n)
        let start = monotonicSeconds()

        while epochsDone < config.epochs {
            let epoch = epochsDone + 1
            if examplesDone == 0 {
                preEpochShuffleState = shuffleRNG
                epochCostSum = 0
                epochCorrect = 0
            }
            // The epoch's order: a fresh shuffle of 0..<n from the state saved
            // before it, so a resumed epoch rebuilds the same order.
            for i in 0..<n { order[i] = Int32(i) }
            shuffleRNG = preEpochShuffleState
            shuffleRNG.shuffle(&order)
            let epochStart = monotonicSeconds()
            let firstExample = examplesDone
            var lr = config.learningRate
            while examplesDone < n {
                let lo = examplesDone, hi = min(n, lo + batch)
                let stepInEpoch = (hi + batch - 1) / batch
                lr = config.decay.learningRate(base: config.learningRate, step: stepsDone,
                                               stepsPerEpoch: stepsPerEpoch, totalSteps: totalSteps)
                let (cost, right) = try order.withUnsafeBufferPointer { all -> (Double, Int) in
                    let idx = UnsafeBufferPointer(rebasing: all[lo..<hi])
                    observer.onBatch?(idx)
                    return try step(train, indices: idx, learningRate: lr, epoch: epoch, stepInEpoch: stepInEpoch)
                }
                epochCostSum += cost * Double(hi - lo)
                epochCorrect += right
                stepsDone += 1
                examplesDone = hi
                observer.onStep?(epoch, stepInEpoch, stepsPerEpoch)
                if examplesDone < n, observer.shouldStop?() == true { return .stopped }
            }
            let trainSeconds = monotonicSeconds() - epochStart
            epochsDone += 1
            examplesDone = 0
            let devEval = try dev.map { try evaluate($0) }
            observer.onEpoch?(EpochReport(
                epoch: epoch, trainCost: epochCostSum / Double(n), trainAccuracy: Double(epochCorrect) / Double(n),
                dev: devEval, samplesPerSecond: Double(n - firstExample) / trainSeconds, trainSeconds: trainSeconds,
                elapsed: monotonicSeconds() - start, learningRate: lr))
            if epochsDone < config.epochs, observer.shouldStop?() == true { return .stopped }
        }
        return .finished
    }

    /// One forward/backward/update on the examples `indices`; returns the
    /// batch cost (L2 term included) and the number classified right.
    private func step(_ data: LabeledImages, indices: UnsafeBufferPointer<Int32>, learningRate: Double,
                      epoch: Int, stepInEpoch: Int) throws -> (Double, Int) {
        let m = indices.count
        let shift = config.augmentShift
        if shift > 0 {
            if shifts.count < 2 * m { shifts = [Int8](repeating: 0, count: 2 * m) }
            for i in 0..<(2 * m) { shifts[i] = Int8(augmentRNG.nextInt(below: 2 * shift + 1) - shift) }
        }
        if config.augment.isEmpty {
            data.assemble(indices, table: table, into: X, labels: &batchLabels, shifts: shift > 0 ? shifts : nil)
        } else {
            config.augment.draw(count: m, rows: data.rows, cols: data.cols, from: &augmentRNG, into: &draws)
            data.assemble(indices, table: table, into: X, labels: &batchLabels, shifts: shift > 0 ? shifts : nil,
                          augmentation: config.augment, draws: draws)
        }
        let A = network.forward(X, training: true)
        return try batchLabels.withUnsafeBufferPointer { all -> (Double, Int) in
            let labels = UnsafeBufferPointer(rebasing: all[0..<m])
            var cost = Double(network.cost(labels: labels))
            if config.l2 > 0 { cost += Double(network.l2Cost(batchSize: m)) }
            guard cost.isFinite else {
                throw DeepScratchError.diverged(epoch: epoch, step: stepInEpoch, cost: "\(cost)",
                                                learningRate: learningRate)
            }
            let right = countCorrect(A, labels: labels)
            network.backward(labels: labels)
            optimizer.update(parameters, learningRate: learningRate)
            return (cost, right)
        }
    }

    /// Cost and accuracy of the network (dropout off) on `images`.
    /// - Throws: `DeepScratchError.dataMismatch` if the images do not fit the network.
    public func evaluate(_ images: LabeledImages, batchSize: Int = 1000) throws -> Evaluation {
        // Convolutional networks evaluate in batches of 256: a batch of 1,000 would grow every
        // layer's buffers (im2col above all) fourfold over training's.
        let batch = !config.architecture.hasConvolution ? batchSize : min(batchSize, max(256, config.batchSize))
        return try network.evaluate(images, standardization: standardization, batchSize: batch)
    }
}

/// The number of columns of `A` whose largest entry is at the row `labels` names.
func countCorrect(_ A: Matrix<Float>, labels: UnsafeBufferPointer<Int32>) -> Int {
    var right = 0
    for j in 0..<A.cols where argmaxColumn(A, j) == Int(labels[j]) { right += 1 }
    return right
}

/// The row of the largest entry of column `j` (the first one on ties).
@inline(__always)
func argmaxColumn<T: Scalar>(_ A: Matrix<T>, _ j: Int) -> Int {
    var best = 0
    var bestValue = A[0, j]
    for i in 1..<max(1, A.rows) where A[i, j] > bestValue {
        best = i
        bestValue = A[i, j]
    }
    return best
}

extension Network {
    /// Checks that `images` fit this network: pixel count and labels.
    /// - Throws: `DeepScratchError.dataMismatch` naming the split.
    public func checkLabels(_ images: LabeledImages, name: String) throws {
        guard images.featureCount == inputSize else {
            throw DeepScratchError.dataMismatch(
                reason: "\(name) images have \(images.featureCount) pixels, the network expects \(inputSize)")
        }
        if let bad = images.labels.firstIndex(where: { Int($0) >= classes }) {
            throw DeepScratchError.dataMismatch(
                reason: "\(name) label \(images.labels[bad]) at index \(bad) is outside the network's \(classes) classes")
        }
    }
}

extension Network where T == Float {
    /// Cost and accuracy (dropout off) on `images`, in batches.
    /// - Parameter batchSize: images per forward pass; by default 1,000, or
    ///   256 for a network with convolutions (whose buffers, im2col's above
    ///   all, grow with the batch: 1,000 images of conv3 take about 870 MB).
    /// - Throws: `DeepScratchError.dataMismatch` if the images do not fit the network.
    public func evaluate(_ images: LabeledImages, standardization: Standardization, batchSize: Int? = nil) throws -> Evaluation {
        try checkLabels(images, name: "evaluation")
        let batchSize = max(1, batchSize ?? (convolutionLayers.isEmpty ? 1000 : 256))
        let table = standardization.table(Float.self)
        let X = Matrix<Float>(rows: inputSize, cols: 0)
        var labels = [Int32](repeating: 0, count: batchSize)
        let n = images.count
        var costSum = 0.0, right = 0
        var lo = 0
        while lo < n {
            let hi = min(n, lo + batchSize)
            let indices = (Int32(lo)..<Int32(hi)).map { $0 }
            indices.withUnsafeBufferPointer { images.assemble($0, table: table, into: X, labels: &labels) }
            let A = forward(X, training: false)
            labels.withUnsafeBufferPointer { all in
                let lab = UnsafeBufferPointer(rebasing: all[0..<(hi - lo)])
                costSum += Double(cost(labels: lab)) * Double(hi - lo)
                right += countCorrect(A, labels: lab)
            }
            lo = hi
        }
        return Evaluation(cost: n > 0 ? costSum / Double(n) : 0, accuracy: n > 0 ? Double(right) / Double(n) : 0, count: n)
    }
}
