import DeepScratch
import Foundation
import XCTest
@testable import dsc

/// `dsc train` flags → `TrainingConfig`.
final class TrainCommandTests: XCTestCase {
    private func config(_ arguments: [String]) throws -> TrainingConfig {
        try command(arguments).makeConfig()
    }

    private func command(_ arguments: [String]) throws -> TrainCommand { try TrainCommand.parse(arguments) }

    func testDefaultsAre784x512x512x10ReluAdamCosineWithOnePixelShifts() throws {
        let c = try config([])
        XCTAssertEqual(c.architecture.sizes, [784, 512, 512, 10])
        XCTAssertEqual(c.epochs, 12)
        XCTAssertEqual(c.batchSize, 128)
        XCTAssertEqual(c.augmentShift, 1)
        XCTAssertEqual(c.architecture.activation, .relu)
        XCTAssertEqual(c.optimizer.kind, .adam)
        XCTAssertEqual(c.decay, .cosine)
        XCTAssertEqual(c.learningRate, 0.001, "the help promises 0.001 for adam")
        XCTAssertEqual(c.architecture.keep, [0.8, 0.8])
        XCTAssertEqual(c.l2, 0)
    }

    func test2017RecipeGivesSGDWithoutDecayAndOneKeepPerHiddenLayer() throws {
        let c = try config(["--hidden", "784,1024", "--optimizer", "sgd", "--lr", "0.1", "--batch", "128", "--keep", "0.8"])
        XCTAssertEqual(c.architecture.sizes, [784, 784, 1024, 10])
        XCTAssertEqual(c.optimizer.kind, .sgd)
        XCTAssertEqual(c.learningRate, 0.1)
        XCTAssertEqual(c.batchSize, 128)
        XCTAssertEqual(c.architecture.keep, [0.8, 0.8])
        XCTAssertEqual(c.decay, LearningRateDecay.none)
    }

    func testAugmentNamesTheDistortionsAndIsOffByDefault() throws {
        XCTAssertEqual(try config([]).augment, .none)
        XCTAssertEqual(try config(["--augment", "affine,stroke"]).augment, Augmentation(affine: true, stroke: true))
        XCTAssertThrowsError(try config(["--augment", "blur"])) { XCTAssertTrue("\($0)".contains("--augment"), "\($0)") }
    }

    func testThePresetConv3BringsItsRecipeAndFlagsStillOverrideIt() throws {
        let c = try config(["--arch", "conv3"])
        XCTAssertEqual(LayerSpec.describe(c.architecture.layers),
                       "conv 32 5x5 bn, pool 2, conv 64 3x3 bn, conv 64 3x3 bn, pool 2, dense 256 dropout 0.3, dense 10")
        XCTAssertEqual(c.epochs, TrainDefaults.conv3.epochs)
        XCTAssertEqual(c.augment, try Augmentation(parsing: TrainDefaults.conv3.augment))
        XCTAssertFalse(c.augment.isEmpty)
        XCTAssertEqual(c.learningRate, TrainDefaults.convolutionalAdamRate)
        XCTAssertEqual(try command(["--arch", "conv3"]).presetRecipe(resuming: false)?.dev, 0, "trained on all 60,000 images")
        XCTAssertNil(try command(["--arch", "conv3"]).presetRecipe(resuming: true), "a resumed run keeps its checkpoint's settings")
        XCTAssertNil(try command(["--arch", "lenet"]).presetRecipe(resuming: false))
        let own = try config(["--arch", " CONV3 ", "--epochs", "2", "--augment", "none"])
        XCTAssertEqual(own.epochs, 2)
        XCTAssertEqual(own.augment, .none)
        // The same layers spelled out are not the preset: the general defaults for convolutions.
        let spelled = try config(["--arch", LayerSpec.presets["conv3"]!])
        XCTAssertEqual(spelled.architecture.layers, c.architecture.layers)
        XCTAssertEqual(spelled.epochs, TrainDefaults.convolutionalEpochs)
        XCTAssertEqual(spelled.augment, .none)
    }

    func testHiddenNoneGivesSoftmaxRegression() throws {
        let c = try config(["--hidden", "none"])
        XCTAssertEqual(c.architecture.sizes, [784, 10])
        XCTAssertEqual(c.architecture.layers, [.dense(10)])
        XCTAssertEqual(c.architecture.keep, [])
    }

    func testDropoutIsTheShareDroppedOneOrOnePerHiddenLayer() throws {
        let c = try config(["--hidden", "100,50,20", "--dropout", "0.1, 0.3,0"])
        XCTAssertEqual(c.architecture.keep, [0.9, 0.7, 1.0])
        XCTAssertEqual(try config(["--dropout", "0.2"]).architecture.keep, [0.8, 0.8], "the default recipe's, exactly")
    }

    func testOneKeepPerHiddenLayerIsKeptInOrder() throws {
        let c = try config(["--hidden", "100,50,20", "--keep", "0.9, 0.7,1"])
        XCTAssertEqual(c.architecture.sizes, [784, 100, 50, 20, 10])
        XCTAssertEqual(c.architecture.keep, [0.9, 0.7, 1.0])
    }

    func testDecayFlagsBuildTheirSchedules() throws {
        XCTAssertEqual(try config(["--decay", "step", "--decay-every", "3", "--decay-rate", "0.25"]).decay,
                       .step(every: 3, factor: 0.25))
        XCTAssertEqual(try config(["--decay", "exp"]).decay, .exponential(rate: 0.9))
        XCTAssertEqual(try config(["--optimizer", "adam", "--decay", "none"]).decay, LearningRateDecay.none)
    }

    /// `arguments` must make `makeConfig()` (or parsing) throw a
    /// `DeepScratchError` whose description names `flag`.
    private func assertRejected(_ arguments: [String], naming flag: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        let label = arguments.joined(separator: " ")
        do {
            let command = try TrainCommand.parse(arguments)
            do {
                let c = try command.makeConfig()
                XCTFail("\(label) was accepted: \(c)", file: file, line: line)
            } catch let error as DeepScratchError {
                XCTAssertTrue("\(error)".contains(flag), "\(label): '\(error)' does not name \(flag)", file: file, line: line)
            } catch {
                XCTFail("\(label): expected a DeepScratchError, got \(type(of: error)): \(error)", file: file, line: line)
            }
        } catch {
            XCTFail("\(label): rejected by the argument parser instead of makeConfig: \(TrainCommand.message(for: error))",
                    file: file, line: line)
        }
    }

    func testZeroEpochsIsRejectedNamingEpochs() { assertRejected(["--epochs", "0"], naming: "--epochs") }
    func testNegativeEpochsIsRejectedNamingEpochs() { assertRejected(["--epochs", "-3"], naming: "--epochs") }
    func testZeroBatchIsRejectedNamingBatch() { assertRejected(["--batch", "0"], naming: "--batch") }
    func testZeroKeepIsRejectedNamingKeep() { assertRejected(["--keep", "0"], naming: "--keep") }
    func testDropoutOfOneOrBelowZeroIsRejectedNamingDropout() {
        for value in ["1", "-0.1", "nan", "x"] { assertRejected(["--dropout", value], naming: "--dropout") }
    }
    func testThreeDropoutsForTwoHiddenLayersAreRejectedNamingDropout() {
        assertRejected(["--hidden", "1024,1024", "--dropout", "0.5,0.5,0.5"], naming: "--dropout")
    }
    func testDropoutAndItsOldSpellingTogetherAreRejected() {
        assertRejected(["--dropout", "0.2", "--keep", "0.8"], naming: "--keep")
    }
    func testKeepAboveOneIsRejectedNamingKeep() { assertRejected(["--keep", "1.5"], naming: "--keep") }
    func testThreeKeepsForTwoHiddenLayersAreRejectedNamingKeep() {
        assertRejected(["--hidden", "1024,1024", "--keep", "0.5,0.5,0.5"], naming: "--keep")
    }
    func testZeroHiddenSizeIsRejectedNamingHidden() { assertRejected(["--hidden", "0"], naming: "--hidden") }
    func testNonNumericHiddenSizeIsRejectedNamingHidden() { assertRejected(["--hidden", "12,abc"], naming: "--hidden") }
    func testUnknownActivationIsRejectedNamingActivation() { assertRejected(["--activation", "foo"], naming: "--activation") }
    func testUnknownOptimizerIsRejectedNamingOptimizer() { assertRejected(["--optimizer", "foo"], naming: "--optimizer") }
    func testUnknownDecayIsRejectedNamingDecay() { assertRejected(["--decay", "foo"], naming: "--decay") }
    func testNegativeL2IsRejectedNamingL2() { assertRejected(["--l2", "-1"], naming: "--l2") }
    func testZeroLearningRateIsRejectedNamingLr() { assertRejected(["--lr", "0"], naming: "--lr") }

    func testFashionRecipeAppliesToFlagsLeftOutOnly() throws {
        let c = try TrainCommand.parse(["--dataset", "fashion"]).makeConfig(fashion: true)
        XCTAssertEqual(c.architecture.sizes, [784] + TrainDefaults.fashion.hidden.split(separator: ",").map { Int($0)! } + [10])
        XCTAssertEqual(c.epochs, TrainDefaults.fashion.epochs)
        XCTAssertEqual(c.augmentShift, TrainDefaults.fashion.augmentShift)
        let own = try TrainCommand.parse(["--dataset", "fashion", "--hidden", "64", "--epochs", "2", "--augment-shift", "1"])
            .makeConfig(fashion: true)
        XCTAssertEqual(own.architecture.sizes, [784, 64, 10])
        XCTAssertEqual(own.epochs, 2)
        XCTAssertEqual(own.augmentShift, 1)
    }

    func testInputAndClassCountComeFromTheDataSet() throws {
        let c = try TrainCommand.parse(["--hidden", "16"]).makeConfig(classCount: 3, image: ImageShape(channels: 1, height: 8, width: 8))
        XCTAssertEqual(c.architecture.sizes, [64, 16, 3])
        XCTAssertEqual(try DataLocation.parseClasses(" a, b ,c"), ["a", "b", "c"])
        XCTAssertEqual(try DataLocation.classNames(nil, dataset: "fashion").last, "Ankle boot")
        XCTAssertEqual(try DataLocation.classNames(nil, dataset: nil), (0..<10).map(String.init))
    }

    func testBadClassesAndDatasetsAreRejectedNamingTheFlag() {
        for bad in ["a", "a,,b", "a,b,a", ""] {
            XCTAssertThrowsError(try DataLocation.parseClasses(bad), bad) { XCTAssertTrue("\($0)".contains("--classes"), "\($0)") }
        }
        XCTAssertThrowsError(try DataLocation.checkDataset("cifar")) { XCTAssertTrue("\($0)".contains("--dataset"), "\($0)") }
    }
}

/// `dsc train --arch`: the convolutional spec and its errors.
final class TrainArchFlagTests: XCTestCase {
    private func config(_ arguments: [String]) throws -> TrainingConfig {
        try TrainCommand.parse(arguments).makeConfig()
    }

    func testHiddenAndDropoutAreShorthandForTheSameLayerList() throws {
        let sugar = try config(["--hidden", "512,256", "--dropout", "0.2,0.1", "--seed", "7"])
        let spelled = try config(["--arch", "dense 512 dropout 0.2, dense 256 dropout 0.1, dense 10", "--seed", "7"])
        XCTAssertEqual(sugar.architecture, spelled.architecture)
        XCTAssertEqual(sugar.architecture.layers, [.dense(512), .activation(.relu), .dropout(keep: 0.8),
                                                   .dense(256), .activation(.relu), .dropout(keep: 0.9), .dense(10)])
        XCTAssertEqual(spelled.architecture.fullyConnected?.sizes, [784, 512, 256, 10])
        XCTAssertEqual(spelled.architecture.fullyConnected?.keep, [0.8, 0.9])
        // Without convolutions, the fully connected recipe's defaults hold however the list is spelled.
        XCTAssertEqual(spelled.epochs, sugar.epochs)
        XCTAssertEqual(spelled.learningRate, sugar.learningRate)
        // Same seed, same list: the same weights and dropout streams.
        let (a, b) = (sugar.architecture.makeNetwork(Float.self, seed: 7), spelled.architecture.makeNetwork(Float.self, seed: 7))
        XCTAssertEqual(a.parameters.map(\.value.values), b.parameters.map(\.value.values))
        XCTAssertEqual(a.dropoutLayers.map { $0.rng.next() }, b.dropoutLayers.map { $0.rng.next() })
        XCTAssertNotEqual(a.dropoutLayers[0].rng.next(), a.dropoutLayers[1].rng.next(), "each dropout layer has its own stream")
    }

    func testLenetPresetGivesItsLayersFourEpochsAndKeepsTheOtherDefaults() throws {
        let c = try config(["--arch", "lenet"])
        let layers = try XCTUnwrap(c.architecture.layers)
        XCTAssertEqual(layers.first, .conv(filters: 32, kernel: 5, stride: 1, padding: 0))
        XCTAssertEqual(layers.last, .dense(10))
        XCTAssertEqual(c.architecture.sizes, [784, 256, 10], "the input, then every dense layer's width")
        XCTAssertNil(c.architecture.fullyConnected, "lenet has no --hidden form")
        XCTAssertEqual(c.architecture.inputShape, ImageShape(channels: 1, height: 28, width: 28))
        XCTAssertEqual(c.epochs, 4)
        XCTAssertEqual(c.optimizer.kind, .adam)
        XCTAssertEqual(c.learningRate, 0.002)
        XCTAssertEqual(c.augmentShift, 1)
    }

    func testSpecUsesTheActivationFlag() throws {
        let c = try config(["--arch", "conv 8 3x3, pool 2, dense 10", "--activation", "tanh", "--epochs", "2"])
        XCTAssertEqual(c.architecture.layers, [.conv(filters: 8, kernel: 3, stride: 1, padding: 0), .activation(.tanh),
                                               .pool(.max, size: 2, stride: 2), .dense(10)])
        XCTAssertEqual(c.epochs, 2)
    }

    /// `--keep`, the old spelling, still works and says so on stderr before anything else happens.
    func testKeepStillWorksAndSaysItIsDeprecated() throws {
        let home = try TemporaryFolder()
        let r = try DSCHarness.run(["train", "--keep", "0.5,1", "--optimizer", "bogus"], home: home.path)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("warning: --keep 0.5,1 is deprecated: use --dropout 0.5,0.0"), r.stderr)
        XCTAssertTrue(r.stderr.contains("--optimizer"), r.stderr)
    }

    func testArchWithHiddenOrKeepIsRefused() {
        for extra in [["--hidden", "100"], ["--dropout", "0.5"], ["--keep", "0.5"]] {
            XCTAssertThrowsError(try config(["--arch", "lenet"] + extra)) { e in
                XCTAssertTrue("\(e)".contains(extra[0]), "\(e)")
            }
        }
    }

    func testBadSpecNamesTheTokenOnOneLine() {
        XCTAssertThrowsError(try config(["--arch", "conv 32 5x5, pool two, dense 10"])) { e in
            XCTAssertTrue("\(e)".contains("pool two"), "\(e)")
            XCTAssertFalse("\(e)".contains("\n"))
        }
        XCTAssertThrowsError(try config(["--arch", "conv 8 3x3, dense 7"])) { e in
            XCTAssertTrue("\(e)".contains("dense 10"), "\(e)")
        }
    }
}
