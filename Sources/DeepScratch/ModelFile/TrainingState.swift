/// What a checkpoint holds beyond the weights so that training resumes
/// exactly where it stopped: the settings, the progress, the optimizer's
/// moments and step, and every random generator's state.
public struct TrainingState: Sendable {
    /// The settings of the interrupted run.
    public var config: TrainingConfig
    /// The number of training images held out as the dev split.
    public var devCount: Int
    /// Epochs finished.
    public var epochsDone: Int
    /// Steps finished, all epochs together (drives the learning-rate schedule).
    public var stepsDone: Int
    /// Examples of the current epoch already trained on.
    public var examplesDone: Int
    /// The optimizer's update count (Adam's `t`).
    public var optimizerStep: Int
    /// Running sums of the current epoch: cost × examples, and correct answers.
    public var epochCostSum: Double
    public var epochCorrect: Int
    /// The shuffle generator's state before the current epoch's shuffle.
    public var shuffleState: (UInt64, UInt64, UInt64, UInt64)
    /// The augmentation generator's state.
    public var augmentState: (UInt64, UInt64, UInt64, UInt64)
    /// Each dropout layer's generator state, in order.
    public var dropoutStates: [(UInt64, UInt64, UInt64, UInt64)]
    /// Optimizer moments: `opt.v.<parameter>` and `opt.s.<parameter>`.
    public var moments: [NamedTensor]

    public init(config: TrainingConfig, devCount: Int, epochsDone: Int, stepsDone: Int, examplesDone: Int,
                optimizerStep: Int, epochCostSum: Double, epochCorrect: Int,
                shuffleState: (UInt64, UInt64, UInt64, UInt64), augmentState: (UInt64, UInt64, UInt64, UInt64),
                dropoutStates: [(UInt64, UInt64, UInt64, UInt64)], moments: [NamedTensor]) {
        self.config = config
        self.devCount = devCount
        self.epochsDone = epochsDone
        self.stepsDone = stepsDone
        self.examplesDone = examplesDone
        self.optimizerStep = optimizerStep
        self.epochCostSum = epochCostSum
        self.epochCorrect = epochCorrect
        self.shuffleState = shuffleState
        self.augmentState = augmentState
        self.dropoutStates = dropoutStates
        self.moments = moments
    }

    private static func words(_ s: (UInt64, UInt64, UInt64, UInt64)) -> [Int64] {
        [s.0, s.1, s.2, s.3].map { Int64(bitPattern: $0) }
    }

    func write(to meta: inout Metadata) {
        let c = config
        // A fully connected list as its widths and keep probabilities (the
        // form every 1.x reader reads); any other list as its --arch spec and
        // input shape, with sizes [inputs, classes] and no keep values.
        let a = c.architecture
        let form = a.fullyConnected
        meta["train.config.sizes"] = .ints((form?.sizes ?? [a.inputShape.count, a.classes]).map(Int64.init))
        meta["train.config.activation"] = .string(a.activation.rawValue)
        meta["train.config.keep"] = .doubles(form?.keep ?? [])
        if form == nil {
            let shape = a.inputShape
            meta["train.config.arch"] = .string(LayerSpec.describe(a.layers))
            meta["train.config.input_shape"] = .ints([shape.height, shape.width, shape.channels].map(Int64.init))
        }
        meta["train.config.init"] = .string(c.initialization?.rawValue ?? "default")
        meta["train.config.epochs"] = .int(Int64(c.epochs))
        meta["train.config.batch"] = .int(Int64(c.batchSize))
        meta["train.config.optimizer"] = .string(c.optimizer.kind.rawValue)
        meta["train.config.lr"] = .double(c.learningRate)
        switch c.decay {
        case .none: meta["train.config.decay"] = .string("none")
        case let .step(every, factor):
            meta["train.config.decay"] = .string("step")
            meta["train.config.decay_every"] = .int(Int64(every))
            meta["train.config.decay_rate"] = .double(factor)
        case let .exponential(rate):
            meta["train.config.decay"] = .string("exp")
            meta["train.config.decay_rate"] = .double(rate)
        case .cosine: meta["train.config.decay"] = .string("cosine")
        }
        meta["train.config.beta1"] = .double(c.optimizer.beta1)
        meta["train.config.beta2"] = .double(c.optimizer.beta2)
        meta["train.config.epsilon"] = .double(c.optimizer.epsilon)
        meta["train.config.l2"] = .double(c.l2)
        meta["train.config.seed"] = .int(Int64(bitPattern: c.seed))
        meta["train.config.augment_shift"] = .int(Int64(c.augmentShift))
        if !c.augment.isEmpty { meta["train.config.augment"] = .string(c.augment.description) }
        meta["train.config.dev"] = .int(Int64(devCount))
        meta["checkpoint.epochs_done"] = .int(Int64(epochsDone))
        meta["checkpoint.steps_done"] = .int(Int64(stepsDone))
        meta["checkpoint.examples_done"] = .int(Int64(examplesDone))
        meta["checkpoint.optimizer_step"] = .int(Int64(optimizerStep))
        meta["checkpoint.epoch_cost_sum"] = .double(epochCostSum)
        meta["checkpoint.epoch_correct"] = .int(Int64(epochCorrect))
        meta["checkpoint.rng.shuffle"] = .ints(Self.words(shuffleState))
        meta["checkpoint.rng.augment"] = .ints(Self.words(augmentState))
        meta["checkpoint.rng.dropout"] = .ints(dropoutStates.flatMap(Self.words))
    }

    /// Reads the state from checkpoint metadata and moment tensors, checking
    /// it against the model's parameters.
    init(reading meta: Metadata, moments: [NamedTensor], parameters: [NamedTensor],
         fail bad: (String) -> DeepScratchError) throws {
        func value(_ k: String) throws -> MetaValue {
            guard let v = meta[k] else { throw bad("checkpoint key \(k) is missing") }
            return v
        }
        func int(_ k: String, _ range: ClosedRange<Int> = 0...Int(Int32.max)) throws -> Int {
            guard let v = try value(k).intValue, range.contains(v) else { throw bad("checkpoint key \(k) is not an integer in \(range)") }
            return v
        }
        func double(_ k: String) throws -> Double {
            guard let v = try value(k).doubleValue, v.isFinite else { throw bad("checkpoint key \(k) is not a finite number") }
            return v
        }
        func string(_ k: String) throws -> String {
            guard let v = try value(k).stringValue else { throw bad("checkpoint key \(k) is not a string") }
            return v
        }
        func state(_ words: ArraySlice<Int64>) -> (UInt64, UInt64, UInt64, UInt64) {
            let w = words.map { UInt64(bitPattern: $0) }
            return (w[w.startIndex], w[w.startIndex + 1], w[w.startIndex + 2], w[w.startIndex + 3])
        }
        func states(_ k: String, count: Int?) throws -> [(UInt64, UInt64, UInt64, UInt64)] {
            guard let w = try value(k).intsValue, w.count % 4 == 0, count == nil || w.count == 4 * count! else {
                throw bad("checkpoint key \(k) does not hold generator states")
            }
            return stride(from: 0, to: w.count, by: 4).map { state(w[$0..<($0 + 4)]) }
        }
        guard let sizes64 = try value("train.config.sizes").intsValue, sizes64.count >= 2,
              sizes64.allSatisfy({ (1...(1 << 20)).contains($0) }) else { throw bad("checkpoint key train.config.sizes is not a list of layer sizes") }
        guard let activation = ActivationKind(rawValue: try string("train.config.activation")) else {
            throw bad("checkpoint key train.config.activation is unknown")
        }
        guard let keep = try value("train.config.keep").doublesValue, keep.count == sizes64.count - 2 else {
            throw bad("checkpoint key train.config.keep does not give one value per hidden layer")
        }
        let initName = try string("train.config.init")
        guard let kind = OptimizerKind(rawValue: try string("train.config.optimizer")) else {
            throw bad("checkpoint key train.config.optimizer is unknown")
        }
        let decay: LearningRateDecay
        switch try string("train.config.decay") {
        case "none": decay = .none
        case "step": decay = .step(every: try int("train.config.decay_every", 1...Int(Int32.max)), factor: try double("train.config.decay_rate"))
        case "exp": decay = .exponential(rate: try double("train.config.decay_rate"))
        case "cosine": decay = .cosine
        default: throw bad("checkpoint key train.config.decay is unknown")
        }
        guard let seed = try value("train.config.seed").intValue else { throw bad("checkpoint key train.config.seed is not an integer") }
        var architecture = Architecture(sizes: sizes64.map { Int($0) }, activation: activation, keep: keep)
        if let spec = meta["train.config.arch"] {
            guard let text = spec.stringValue, let hwc = meta["train.config.input_shape"]?.intsValue, hwc.count == 3,
                  hwc.allSatisfy({ (1...65536).contains($0) }) else {
                throw bad("checkpoint keys train.config.arch and train.config.input_shape are not a layer list and [height, width, channels]")
            }
            let input = ImageShape(channels: Int(hwc[2]), height: Int(hwc[0]), width: Int(hwc[1]))
            let layers: [LayerSpec]
            do { layers = try LayerSpec.parse(text, input: input, activation: activation) } catch let e as DeepScratchError {
                throw bad("checkpoint key train.config.arch: \(e)")
            }
            architecture = Architecture(layers: layers, inputShape: input, activation: activation)
        }
        var config = TrainingConfig(
            architecture: architecture,
            initialization: initName == "default" ? nil : WeightInit(rawValue: initName),
            epochs: try int("train.config.epochs", 1...Int(Int32.max)), batchSize: try int("train.config.batch", 1...Int(Int32.max)),
            optimizer: OptimizerSettings(kind: kind, beta1: try double("train.config.beta1"),
                                         beta2: try double("train.config.beta2"), epsilon: try double("train.config.epsilon")),
            learningRate: try double("train.config.lr"), decay: decay, l2: try double("train.config.l2"),
            seed: UInt64(bitPattern: Int64(seed)))
        config.augmentShift = try int("train.config.augment_shift", 0...8)
        if let spec = meta["train.config.augment"] {
            guard let text = spec.stringValue, let augment = try? Augmentation(parsing: text) else {
                throw bad("checkpoint key train.config.augment is not a list of distortions (affine, elastic, stroke, lowres)")
            }
            config.augment = augment
        }
        do { try config.validate() } catch let e as DeepScratchError { throw bad("checkpoint settings: \(e)") }
        let dropoutCount = architecture.layers.filter { if case .dropout = $0 { return true } else { return false } }.count
        self.init(
            config: config, devCount: try int("train.config.dev"),
            epochsDone: try int("checkpoint.epochs_done"), stepsDone: try int("checkpoint.steps_done"),
            examplesDone: try int("checkpoint.examples_done"), optimizerStep: try int("checkpoint.optimizer_step"),
            epochCostSum: try double("checkpoint.epoch_cost_sum"), epochCorrect: try int("checkpoint.epoch_correct"),
            shuffleState: try states("checkpoint.rng.shuffle", count: 1)[0],
            augmentState: try states("checkpoint.rng.augment", count: 1)[0],
            dropoutStates: try states("checkpoint.rng.dropout", count: dropoutCount),
            moments: moments)
        // Moments must match the optimizer and the parameters.
        let needed = (kind == .momentum || kind == .adam ? ["v"] : []) + (kind == .rmsprop || kind == .adam ? ["s"] : [])
        for which in needed {
            // Running statistics of batch normalization are not trained.
            for p in parameters where !(p.name.hasPrefix("mean") || p.name.hasPrefix("var")) {
                guard let m = moments.first(where: { $0.name == "opt.\(which).\(p.name)" }) else {
                    throw bad("checkpoint tensor opt.\(which).\(p.name) is missing")
                }
                guard m.values.count == p.values.count else { throw bad("checkpoint tensor \(m.name) does not match \(p.name)") }
            }
        }
        guard meta["train.config.arch"] != nil || Array(sizes64.map { Int($0) }) == parameters.chainSizes else {
            throw bad("checkpoint settings describe layers \(sizes64), the weights have \(parameters.chainSizes)")
        }
    }
}

extension Array where Element == NamedTensor {
    /// Layer sizes implied by `W1, b1, W2, b2, …`.
    var chainSizes: [Int] {
        let weights = filter { $0.name.hasPrefix("W") && $0.shape.count == 2 }
        guard let first = weights.first else { return [] }
        return [first.shape[1]] + weights.map { $0.shape[0] }
    }
}
