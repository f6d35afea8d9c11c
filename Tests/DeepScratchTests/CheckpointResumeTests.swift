import Foundation
import XCTest
@testable import DeepScratch
import DeepScratchTestSupport

/// Checkpoints: a run stopped by `shouldStop`, written to a model file, read
/// back and resumed must end bit for bit where an uninterrupted run ends.
final class CheckpointResumeTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory("checkpoint")
    }

    override func tearDown() {
        removeDirectory(dir)
    }

    /// 200 random 4×4 images of 3 classes: 7 steps of 32 per epoch, the last of 8.
    private let data = syntheticImages(count: 200, rows: 4, cols: 4, classes: 3, seed: 11)
    private let stepsPerEpoch = 7

    /// 16-12-3 relu with dropout (keep 0.7), one-pixel shifts, batch 32, 4 epochs, seed 5.
    private func config(_ kind: OptimizerKind = .adam) -> TrainingConfig {
        var c = TrainingConfig(architecture: Architecture(sizes: [16, 12, 3], activation: .relu, keep: [0.7]),
                               epochs: 4, batchSize: 32, optimizer: OptimizerSettings(kind: kind),
                               learningRate: kind == .sgd ? 0.1 : 0.01, seed: 5)
        c.augmentShift = 1
        return c
    }

    private struct Report: Equatable, CustomStringConvertible {
        var epoch: Int
        var costBits: UInt64
        var accuracyBits: UInt64
        var description: String {
            "epoch \(epoch): cost \(Double(bitPattern: costBits)), accuracy \(Double(bitPattern: accuracyBits))"
        }
    }

    /// Asserts two sets of parameter bit patterns are identical, reporting
    /// how many values differ instead of printing them all.
    private func assertSameWeights(_ a: [[UInt32]], _ b: [[UInt32]], _ message: String,
                                   file: StaticString = #filePath, line: UInt = #line) {
        guard a != b else { return }
        let shapes = a.map(\.count) == b.map(\.count)
        let differing = zip(a, b).reduce(0) { $0 + zip($1.0, $1.1).filter { $0 != $1 }.count }
        XCTFail("\(message): weights differ (\(shapes ? "\(differing) of \(a.joined().count) values" : "shapes differ"))",
                file: file, line: line)
    }

    private struct Outcome {
        var weights: [[UInt32]]
        var reports: [Report]
        var epochsDone: Int
        var stepsDone: Int
    }

    private func bits(_ network: Network<Float>) -> [[UInt32]] {
        network.parameters.map { $0.value.values.map(\.bitPattern) }
    }

    /// Trains `trainer` until it finishes or `shouldStop` fires once `stepsDone`
    /// reaches `stopAt`; appends the epoch reports.
    private func run(_ trainer: Trainer, stopAt: Int?, reports: inout [Report]) throws -> TrainingOutcome {
        var seen = [Report]()
        let observer = TrainingObserver(
            onEpoch: { seen.append(Report(epoch: $0.epoch, costBits: $0.trainCost.bitPattern,
                                          accuracyBits: $0.trainAccuracy.bitPattern)) },
            shouldStop: { stopAt.map { trainer.stepsDone >= $0 } ?? false })
        let outcome = try trainer.train(data, observer: observer)
        reports += seen
        return outcome
    }

    private func uninterrupted(_ c: TrainingConfig) throws -> Outcome {
        let trainer = try Trainer(config: c, standardization: Standardization(fitting: data))
        var reports = [Report]()
        let outcome = try run(trainer, stopAt: nil, reports: &reports)
        guard case .finished = outcome else { throw HelperFailure("uninterrupted run did not finish") }
        return Outcome(weights: bits(trainer.network), reports: reports, epochsDone: trainer.epochsDone,
                       stepsDone: trainer.stepsDone)
    }

    /// The checkpoint of `trainer` as a model: its weights and training state.
    private func checkpoint(_ trainer: Trainer, devCount: Int = 0) -> Model {
        var model = Model(network: trainer.network, architecture: trainer.config.architecture,
                          standardization: trainer.standardization, inputShape: [4, 4, 1],
                          classes: ["a", "b", "c"])
        model.trainingState = trainer.trainingState(devCount: devCount)
        return model
    }

    /// Saves `model` to a file and loads it back.
    private func roundTrip(_ model: Model, name: String, precision: Precision? = nil) throws -> Model {
        let path = "\(dir)/\(name).dsm"
        try model.save(to: path, precision: precision)
        return try Model.load(path: path)
    }

    /// Stops after each step count of `stops` in turn (total steps), each
    /// time checkpointing to a file, loading it and resuming a new trainer
    /// with `resumeConfig` (default: the same config); then trains to the end.
    private func interrupted(_ c: TrainingConfig, stops: [Int], resumeConfig: TrainingConfig? = nil,
                             file: StaticString = #filePath, line: UInt = #line) throws -> Outcome {
        var trainer = try Trainer(config: c, standardization: Standardization(fitting: data))
        var reports = [Report]()
        for (k, stop) in stops.enumerated() {
            let outcome = try run(trainer, stopAt: stop, reports: &reports)
            guard case .stopped = outcome else {
                XCTFail("stop \(stop): the run was expected to stop", file: file, line: line)
                break
            }
            XCTAssertEqual(trainer.stepsDone, stop, "stops right after step \(stop)", file: file, line: line)
            XCTAssertEqual(trainer.epochsDone, stop / stepsPerEpoch, file: file, line: line)
            let loaded = try roundTrip(checkpoint(trainer), name: "stop-\(k)-\(stop)")
            XCTAssertNotNil(loaded.trainingState, "a checkpoint holds training state", file: file, line: line)
            trainer = try Trainer(resuming: loaded, config: resumeConfig ?? c)
            XCTAssertEqual(trainer.stepsDone, stop, file: file, line: line)
            XCTAssertEqual(trainer.epochsDone, stop / stepsPerEpoch, file: file, line: line)
        }
        let outcome = try run(trainer, stopAt: nil, reports: &reports)
        guard case .finished = outcome else {
            XCTFail("the resumed run did not finish", file: file, line: line)
            return Outcome(weights: [], reports: reports, epochsDone: 0, stepsDone: 0)
        }
        return Outcome(weights: bits(trainer.network), reports: reports, epochsDone: trainer.epochsDone,
                       stepsDone: trainer.stepsDone)
    }

    private func assertSameEnd(_ c: TrainingConfig, stops: [Int], file: StaticString = #filePath, line: UInt = #line) throws {
        let straight = try uninterrupted(c)
        XCTAssertEqual(straight.reports.map(\.epoch), [1, 2, 3, 4], file: file, line: line)
        XCTAssertEqual(straight.stepsDone, 4 * stepsPerEpoch, file: file, line: line)
        let resumed = try interrupted(c, stops: stops, file: file, line: line)
        let what = "\(c.optimizer.kind) stopped at \(stops)"
        assertSameWeights(resumed.weights, straight.weights, "\(what): final weights must be bit-identical", file: file, line: line)
        XCTAssertEqual(resumed.reports.last, straight.reports.last, "\(what): last epoch's cost and accuracy", file: file, line: line)
        XCTAssertEqual(resumed.reports, straight.reports, "\(what): every epoch's report", file: file, line: line)
        XCTAssertEqual(resumed.stepsDone, straight.stepsDone, what, file: file, line: line)
        XCTAssertEqual(resumed.epochsDone, 4, what, file: file, line: line)
    }

    // MARK: Exact resume

    func testResumingAdamMidEpochEndsBitIdentical() throws {
        try assertSameEnd(config(.adam), stops: [5])
    }

    func testResumingAdamAtAnEpochBoundaryEndsBitIdentical() throws {
        try assertSameEnd(config(.adam), stops: [stepsPerEpoch])
    }

    func testResumingAdamAfterEveryPossibleStopEndsBitIdentical() throws {
        let straight = try uninterrupted(config(.adam))
        for stop in 1..<(4 * stepsPerEpoch) {
            let resumed = try interrupted(config(.adam), stops: [stop])
            assertSameWeights(resumed.weights, straight.weights, "stopped after step \(stop)")
            XCTAssertEqual(resumed.reports, straight.reports, "stopped after step \(stop)")
        }
    }

    func testResumingSeveralTimesInARowEndsBitIdentical() throws {
        try assertSameEnd(config(.adam), stops: [3, 5, 12, 14, 26])
    }

    func testResumingSGDEndsBitIdentical() throws {
        try assertSameEnd(config(.sgd), stops: [5])
        try assertSameEnd(config(.sgd), stops: [2 * stepsPerEpoch])
    }

    func testResumingMomentumRestoresItsMomentsAndEndsBitIdentical() throws {
        try assertSameEnd(config(.momentum), stops: [5])
        try assertSameEnd(config(.momentum), stops: [2 * stepsPerEpoch])
    }

    func testResumingRMSpropEndsBitIdentical() throws {
        try assertSameEnd(config(.rmsprop), stops: [9])
    }

    func testResumingWithEveryDistortionEndsBitIdenticalAndTheCheckpointKeepsThem() throws {
        var c = config(.adam)
        c.augment = Augmentation(affine: true, elastic: true, stroke: true, lowres: true)
        try assertSameEnd(c, stops: [3, 7])
        // The setting itself survives a checkpoint (and is absent, as before, when off).
        let trainer = try Trainer(config: c, standardization: Standardization(mean: 0, std: 1))
        var model = Model(network: trainer.network, architecture: c.architecture, standardization: trainer.standardization,
                          inputShape: [4, 4, 1], foldBatchNorm: false)
        model.trainingState = trainer.trainingState(devCount: 0)
        let back = try Model.parse(model.serialized(), path: "augment.dsm")
        XCTAssertEqual(back.trainingState?.config.augment, c.augment)
        XCTAssertEqual(back.metadata["train.config.augment"], .string("affine,elastic,stroke,lowres"))
        model.trainingState = try Trainer(config: config(.adam), standardization: trainer.standardization).trainingState(devCount: 0)
        XCTAssertNil(try Model.parse(model.serialized(), path: "plain.dsm").metadata["train.config.augment"])
    }

    func testResumingWithoutDropoutOrAugmentationEndsBitIdentical() throws {
        var c = config(.adam)
        c.architecture = Architecture(sizes: c.architecture.sizes, activation: c.architecture.activation, keep: [1])
        c.augmentShift = 0
        try assertSameEnd(c, stops: [4])
    }

    func testMomentsMatterSoAFreshOptimizerWouldNotMatch() throws {
        // Control: resuming the same checkpoint with its moments and step
        // zeroed (as a model without training state does) gives other weights,
        // so the comparisons above do detect lost optimizer state.
        let c = config(.adam)
        let straight = try uninterrupted(c)
        let trainer = try Trainer(config: c, standardization: Standardization(fitting: data))
        var reports = [Report]()
        _ = try run(trainer, stopAt: 5, reports: &reports)
        var model = try roundTrip(checkpoint(trainer), name: "fresh")
        var state = try XCTUnwrap(model.trainingState)
        state.moments = state.moments.map { NamedTensor(name: $0.name, shape: $0.shape, values: $0.values.map { _ in 0 }) }
        state.optimizerStep = 0
        model.trainingState = state
        let resumed = try Trainer(resuming: model, config: c)
        _ = try run(resumed, stopAt: nil, reports: &reports)
        XCTAssertTrue(bits(resumed.network) != straight.weights, "zeroed moments must change the outcome")
    }

    // MARK: What a checkpoint file holds

    func testCheckpointFileRestoresEveryPartOfTheTrainingState() throws {
        let c = config(.adam)
        let trainer = try Trainer(config: c, standardization: Standardization(fitting: data))
        var reports = [Report]()
        _ = try run(trainer, stopAt: 9, reports: &reports)
        let saved = trainer.trainingState(devCount: 37)
        let loaded = try roundTrip(checkpoint(trainer, devCount: 37), name: "state")
        let state = try XCTUnwrap(loaded.trainingState)
        XCTAssertEqual(state.config, c)
        XCTAssertEqual(state.devCount, 37)
        XCTAssertEqual(state.epochsDone, 1)
        XCTAssertEqual(state.stepsDone, 9)
        XCTAssertEqual(state.examplesDone, 64, "two batches of 32 into the second epoch")
        XCTAssertEqual(state.optimizerStep, 9)
        XCTAssertEqual(state.epochCostSum.bitPattern, saved.epochCostSum.bitPattern)
        XCTAssertGreaterThan(state.epochCostSum, 0)
        XCTAssertEqual(state.epochCorrect, saved.epochCorrect)
        func words(_ s: (UInt64, UInt64, UInt64, UInt64)) -> [UInt64] { [s.0, s.1, s.2, s.3] }
        XCTAssertEqual(words(state.shuffleState), words(saved.shuffleState))
        XCTAssertEqual(words(state.augmentState), words(saved.augmentState))
        XCTAssertEqual(state.dropoutStates.map(words), saved.dropoutStates.map(words))
        XCTAssertEqual(state.dropoutStates.count, 1)
        XCTAssertEqual(state.moments.map(\.name), saved.moments.map(\.name))
        XCTAssertEqual(state.moments.map { $0.values.map(\.bitPattern) }, saved.moments.map { $0.values.map(\.bitPattern) })
        XCTAssertTrue(state.moments.contains { $0.values.contains { $0 != 0 } }, "moments after 9 steps are not zero")
        assertSameWeights(loaded.parameters.map { $0.values.map(\.bitPattern) }, bits(trainer.network), "checkpoint weights")
    }

    func testAdamCheckpointHoldsBothMomentsAsF32EvenWhenInt8IsRequested() throws {
        let trainer = try Trainer(config: config(.adam), standardization: Standardization(fitting: data))
        var reports = [Report]()
        _ = try run(trainer, stopAt: 3, reports: &reports)
        var model = checkpoint(trainer)
        model.precision = .int8
        for (name, precision) in [("default-int8", nil), ("explicit-int8", Precision.int8), ("explicit-f16", .f16)] {
            let loaded = try roundTrip(model, name: name, precision: precision)
            let tensors = try XCTUnwrap(loaded.fileInfo?.tensors)
            let params = ["W1", "b1", "W2", "b2"]
            XCTAssertEqual(Set(tensors.map(\.name)),
                           Set(params + params.map { "opt.v.\($0)" } + params.map { "opt.s.\($0)" }), name)
            XCTAssertEqual(Set(tensors.map(\.type)), ["f32"], "\(name): a checkpoint is always f32")
            assertSameWeights(loaded.parameters.map { $0.values.map(\.bitPattern) }, bits(trainer.network),
                              "\(name): checkpoint weights are exact")
        }
    }

    func testMomentTensorsMatchTheOptimizer() throws {
        let params = ["W1", "b1", "W2", "b2"]
        let expected: [OptimizerKind: [String]] = [
            .sgd: [],
            .momentum: params.map { "opt.v.\($0)" },
            .rmsprop: params.map { "opt.s.\($0)" },
            .adam: params.map { "opt.v.\($0)" } + params.map { "opt.s.\($0)" },
        ]
        for kind in OptimizerKind.allCases {
            let trainer = try Trainer(config: config(kind), standardization: Standardization(fitting: data))
            var reports = [Report]()
            _ = try run(trainer, stopAt: 2, reports: &reports)
            let loaded = try roundTrip(checkpoint(trainer), name: "moments-\(kind)")
            let names = try XCTUnwrap(loaded.fileInfo?.tensors.map(\.name))
            XCTAssertEqual(names.filter { $0.hasPrefix("opt.") }.sorted(), expected[kind]!.sorted(), "\(kind)")
            XCTAssertEqual(loaded.trainingState?.moments.map(\.name).sorted(), expected[kind]!.sorted(), "\(kind)")
            for m in loaded.trainingState?.moments ?? [] {
                XCTAssertEqual(m.shape, m.name.hasSuffix("W1") ? [12, 16] : m.name.hasSuffix("W2") ? [3, 12]
                               : m.name.hasSuffix("b1") ? [12] : [3], "\(kind): \(m.name)")
            }
        }
    }

    func testCheckpointMetadataUsesTheSpecifiedKeys() throws {
        let trainer = try Trainer(config: config(.adam), standardization: Standardization(fitting: data))
        var reports = [Report]()
        _ = try run(trainer, stopAt: 4, reports: &reports)
        let f = ModelFileBytes(checkpoint(trainer, devCount: 20).serialized())
        let types = Dictionary(f.metadata.map { ($0.key, $0.type) }, uniquingKeysWith: { a, _ in a })
        // Types: 1 i64, 2 f64, 3 string, 4 i64s, 5 f64s.
        let expected: [String: UInt8] = [
            "train.config.sizes": 4, "train.config.activation": 3, "train.config.keep": 5,
            "train.config.init": 3, "train.config.epochs": 1, "train.config.batch": 1,
            "train.config.optimizer": 3, "train.config.lr": 2, "train.config.decay": 3,
            "train.config.beta1": 2, "train.config.beta2": 2, "train.config.epsilon": 2, "train.config.l2": 2,
            "train.config.seed": 1, "train.config.augment_shift": 1, "train.config.dev": 1,
            "checkpoint.epochs_done": 1, "checkpoint.steps_done": 1, "checkpoint.examples_done": 1,
            "checkpoint.optimizer_step": 1, "checkpoint.epoch_cost_sum": 2, "checkpoint.epoch_correct": 1,
            "checkpoint.rng.shuffle": 4, "checkpoint.rng.augment": 4, "checkpoint.rng.dropout": 4,
        ]
        for (key, type) in expected {
            XCTAssertEqual(types[key], type, key)
        }
        XCTAssertEqual(f.u32(f.meta("checkpoint.rng.dropout").valueAt), 4, "four words per dropout layer")
        XCTAssertEqual(f.u32(f.meta("checkpoint.rng.shuffle").valueAt), 4)
        XCTAssertEqual(Int64(bitPattern: f.u64(f.meta("checkpoint.steps_done").valueAt)), 4)
        XCTAssertEqual(Int64(bitPattern: f.u64(f.meta("train.config.dev").valueAt)), 20)
    }

    func testFinishedModelHasNoCheckpointKeysOrMomentTensors() throws {
        let trainer = try Trainer(config: config(.adam), standardization: Standardization(fitting: data))
        var reports = [Report]()
        _ = try run(trainer, stopAt: 4, reports: &reports)
        var model = try roundTrip(checkpoint(trainer), name: "ckpt")
        XCTAssertNotNil(model.metadata["checkpoint.steps_done"], "a loaded checkpoint keeps its keys as metadata")
        model.trainingState = nil
        let finished = try roundTrip(model, name: "finished", precision: .int8)
        XCTAssertNil(finished.trainingState)
        XCTAssertEqual(finished.metadata.entries.filter { $0.key.hasPrefix("checkpoint.") || $0.key.hasPrefix("train.config.") }
            .map(\.key), [])
        XCTAssertEqual(finished.fileInfo?.tensors.map(\.name), ["W1", "b1", "W2", "b2"])
        XCTAssertEqual(finished.fileInfo?.tensors.map(\.type), ["q8z", "f32", "q8z", "f32"])
    }

    func testDamagedCheckpointStateIsRejected() throws {
        let trainer = try Trainer(config: config(.adam), standardization: Standardization(fitting: data))
        var reports = [Report]()
        _ = try run(trainer, stopAt: 4, reports: &reports)
        let good = ModelFileBytes(checkpoint(trainer).serialized())
        // A missing moment tensor.
        var f = good
        f.bytes[f.tensor("opt.v.W1").nameAt + 6] = UInt8(ascii: "x")   // opt.v.W1 → opt.x.W1
        f.refresh()
        assertThrowsDeepScratchError(try Model.parse(f.bytes, path: "ckpt.dsm"), mentions: ["ckpt.dsm", "opt.v.W1", "missing"])
        // A missing checkpoint key.
        var g = good
        g.bytes[g.meta("checkpoint.steps_done").keyAt + 2] = UInt8(ascii: "C")
        g.refresh()
        assertThrowsDeepScratchError(try Model.parse(g.bytes, path: "ckpt.dsm"),
                                     mentions: ["ckpt.dsm", "checkpoint.steps_done", "missing"])
        // Generator state of the wrong length: 4 words → 3 (the fourth read as the next key).
        var h = good
        let e = h.meta("checkpoint.rng.augment")
        h.setU32(e.valueAt, 3)
        h.refresh()
        XCTAssertThrowsError(try Model.parse(h.bytes, path: "ckpt.dsm"))
        // A negative step count.
        var n = good
        n.setU64(n.meta("checkpoint.steps_done").valueAt, UInt64(bitPattern: -1))
        n.refresh()
        assertThrowsDeepScratchError(try Model.parse(n.bytes, path: "ckpt.dsm"), mentions: ["checkpoint.steps_done"])
    }

    // MARK: Resuming with other settings

    func testResumingWithAnotherHiddenSizeThrowsNamingBothArchitectures() throws {
        let trainer = try Trainer(config: config(), standardization: Standardization(fitting: data))
        var reports = [Report]()
        _ = try run(trainer, stopAt: 5, reports: &reports)
        let loaded = try roundTrip(checkpoint(trainer), name: "arch")
        var other = config()
        other.architecture = Architecture(sizes: [16, 13, 3], activation: .relu, keep: [0.7])
        let error = assertThrowsDeepScratchError(try Trainer(resuming: loaded, config: other), mentions: ["16-12-3", "16-13-3"])
        if case .invalidSetting? = error {} else { XCTFail("expected .invalidSetting, got \(String(describing: error))") }
        var deeper = config()
        deeper.architecture = Architecture(sizes: [16, 12, 12, 3], activation: .relu, keep: [0.7])
        assertThrowsDeepScratchError(try Trainer(resuming: loaded, config: deeper), mentions: ["16-12-3", "16-12-12-3"])
    }

    func testResumingWithAnotherActivationThrowsNamingBoth() throws {
        let trainer = try Trainer(config: config(), standardization: Standardization(fitting: data))
        var reports = [Report]()
        _ = try run(trainer, stopAt: 5, reports: &reports)
        let loaded = try roundTrip(checkpoint(trainer), name: "activation")
        var other = config()
        other.architecture.activation = .tanh
        let error = assertThrowsDeepScratchError(try Trainer(resuming: loaded, config: other), mentions: ["relu", "tanh"])
        if case .invalidSetting? = error {} else { XCTFail("expected .invalidSetting, got \(String(describing: error))") }
    }

    func testResumingWithAnOutOfRangeSettingThrowsInvalidSetting() throws {
        let trainer = try Trainer(config: config(), standardization: Standardization(fitting: data))
        let model = checkpoint(trainer)
        var bad = config()
        bad.learningRate = 0
        let error = assertThrowsDeepScratchError(try Trainer(resuming: model, config: bad), mentions: ["learning rate"])
        if case .invalidSetting? = error {} else { XCTFail("expected .invalidSetting, got \(String(describing: error))") }
    }

    func testResumingWithOtherLearningRateBatchL2OrEpochsIsAccepted() throws {
        let trainer = try Trainer(config: config(), standardization: Standardization(fitting: data))
        var reports = [Report]()
        _ = try run(trainer, stopAt: 5, reports: &reports)
        let loaded = try roundTrip(checkpoint(trainer), name: "settings")
        var changes: [(String, TrainingConfig)] = []
        var c = config(); c.learningRate = 0.003; changes.append(("learning rate", c))
        c = config(); c.batchSize = 50; changes.append(("batch size", c))
        c = config(); c.l2 = 0.5; changes.append(("L2", c))
        c = config(); c.epochs = 6; changes.append(("epochs", c))
        c = config(); c.learningRate = 0.02; c.batchSize = 7; c.l2 = 0.1; c.epochs = 2; changes.append(("all four", c))
        for (what, changed) in changes {
            let resumed = try Trainer(resuming: loaded, config: changed)
            XCTAssertEqual(resumed.config, changed, what)
            XCTAssertEqual(resumed.stepsDone, 5, what)
            assertSameWeights(bits(resumed.network), bits(trainer.network), "\(what): the checkpoint's weights")
            var seen = [Report]()
            let outcome = try run(resumed, stopAt: nil, reports: &seen)
            guard case .finished = outcome else { XCTFail("\(what): did not finish"); continue }
            XCTAssertEqual(resumed.epochsDone, changed.epochs, what)
            XCTAssertEqual(seen.map(\.epoch), Array(1...changed.epochs), "\(what): resumes inside epoch 1")
            XCTAssertTrue(bits(resumed.network) != bits(trainer.network), "\(what): training went on")
        }
    }

    func testChangedLearningRateChangesTheOutcome() throws {
        // The new setting is really used: a smaller rate ends elsewhere.
        let c = config()
        let straight = try uninterrupted(c)
        var slower = c
        slower.learningRate = 0.001
        let resumed = try interrupted(c, stops: [5], resumeConfig: slower)
        XCTAssertTrue(resumed.weights != straight.weights, "a smaller learning rate must change the outcome")
        XCTAssertEqual(resumed.reports.map(\.epoch), [1, 2, 3, 4])
    }

    // MARK: Resuming a finished model

    func testModelWithoutTrainingStateResumesFromItsWeights() throws {
        let first = try Trainer(config: config(), standardization: Standardization(fitting: data))
        var reports = [Report]()
        _ = try run(first, stopAt: nil, reports: &reports)
        let model = Model(network: first.network, architecture: first.config.architecture,
                          standardization: first.standardization, inputShape: [4, 4, 1], classes: ["a", "b", "c"])
        for precision in Precision.allCases {
            let loaded = try roundTrip(model, name: "finished-\(precision.rawValue)", precision: precision)
            XCTAssertNil(loaded.trainingState)
            var other = config()
            other.seed = 99   // the weights must come from the file, not the seed
            let trainer = try Trainer(resuming: loaded, config: other)
            XCTAssertEqual(trainer.stepsDone, 0)
            XCTAssertEqual(trainer.epochsDone, 0)
            XCTAssertEqual(trainer.optimizer.step, 0)
            XCTAssertTrue(trainer.optimizer.v.allSatisfy { $0.values.allSatisfy { $0 == 0 } })
            XCTAssertEqual(trainer.standardization, first.standardization)
            assertSameWeights(bits(trainer.network), loaded.parameters.map { $0.values.map(\.bitPattern) }, precision.rawValue)
            let X = gaussianInputs(rows: 16, cols: 5)
            XCTAssertEqual(trainer.network.forward(X, training: false).values.map(\.bitPattern),
                           try loaded.makeNetwork().forward(X, training: false).values.map(\.bitPattern), precision.rawValue)
            if precision == .f32 {
                assertSameWeights(bits(trainer.network), bits(first.network), "f32 model")
            }
            var seen = [Report]()
            guard case .finished = try run(trainer, stopAt: nil, reports: &seen) else { return XCTFail("did not finish") }
            XCTAssertEqual(seen.map(\.epoch), [1, 2, 3, 4])
        }
    }
}

/// An error thrown by a test helper when a precondition of the test fails.
private struct HelperFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
