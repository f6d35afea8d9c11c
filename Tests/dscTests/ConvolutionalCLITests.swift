import DeepScratch
import DeepScratchImage
import Foundation
import XCTest

/// `dsc train --arch`, `inspect`, `eval` and `--resume` with a convolutional
/// network, through the built dsc (a tiny network on 1,000 training images).
final class ConvolutionalCLITests: ScratchFolderTestCase {
    func testTrainInspectEvalAndResumeATinyCNN() throws {
        let model = scratch.path + "/cnn.dsm"
        let data = try DSCHarness.mnist()
        let train = try DSCHarness.run(["train", "--data", data, "--arch", "conv 4 5x5 stride 3 bn, maxpool 2, dense 10",
                                        "--epochs", "1", "--dev", "59000", "--threads", "1", "-o", model], home: scratch.path)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertNotNil(DSCHarness.match("^network: conv 4 5x5 stride 3 bn, pool 2, dense 10 \\(relu\\)", in: train.stdout), train.stdout)
        XCTAssertNotNil(DSCHarness.match("^test: loss [0-9.]+ accuracy [0-9.]+% on 10000 images", in: train.stdout), train.stdout)

        let inspect = try DSCHarness.run(["inspect", model], home: scratch.path)
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("format 1.1"), inspect.stdout)
        // The batch normalization is folded into the convolution, which gains a bias.
        XCTAssertTrue(inspect.stdout.contains("layers: conv 1 4 5 3 0 → relu → maxpool 2 2 → dense 64 10 → softmax"), inspect.stdout)
        XCTAssertTrue(inspect.stdout.contains("4x1x5x5"), inspect.stdout)

        let eval = try DSCHarness.run(["eval", "--model", model, "--images", DSCHarness.digitPNGFolder], home: scratch.path)
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertNotNil(DSCHarness.match("^accuracy: [0-9.]+% on 30 PNG files", in: eval.stdout), eval.stdout)

        // A finished model resumes with its (folded) layers and a fresh optimizer.
        let resumed = try DSCHarness.run(["train", "--data", data, "--resume", model, "--epochs", "2", "--dev", "59000",
                                          "--threads", "1"], home: scratch.path)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertNotNil(DSCHarness.match("^epoch 2/2 ", in: resumed.stdout), resumed.stdout)
        XCTAssertEqual(try Model.load(path: model).metadata["train.epochs"], .int(2))
    }

    func testBadArchIsOneLineNamingTheToken() throws {
        let r = try DSCHarness.run(["train", "--data", try DSCHarness.mnist(), "--arch", "conv 8 3x3, pool 2 stride x, dense 10",
                                    "-o", scratch.path + "/x.dsm"], home: scratch.path)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("pool 2 stride x"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.path + "/x.dsm"))
    }
}
