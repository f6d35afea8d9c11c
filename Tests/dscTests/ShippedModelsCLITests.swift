import DeepScratch
import DeepScratchImage
import Foundation
import XCTest

/// The models that ship with dsc, by name: `default` (the convolutional
/// network) and `mlp`; names resolve before paths, from any working folder.
final class ShippedModelsCLITests: ScratchFolderTestCase {
    /// The repository's copy of a shipped file (what SwiftPM copies beside dsc).
    private func repositoryFile(_ name: String) -> String { DSCHarness.root + "/Sources/dsc/Resources/" + name }

    private func dsc(_ arguments: [String], in directory: String? = nil, model env: String? = nil) throws -> ProcessResult {
        var environment = try DSCHarness.environment(home: scratch.path)
        environment["DEEPSCRATCH_MODEL"] = env
        return try runProcess(try DSCHarness.executable(), arguments, environment: environment, directory: directory)
    }

    /// The digit of `png` as the engine classifies it with the model at `path`, in-process.
    private func expected(_ png: String, model path: String) throws -> String {
        let p = try DigitClassifier(modelPath: path).classify(pngPath: png)
        return "\(png): \(p.label) (" + String(format: "%.1f%%", Double(p.probabilities[p.classIndex]) * 100) + ")"
    }

    func testInspectByNameShowsTheConvolutionalDefaultAndTheMLPEvenWhenFilesOfThoseNamesAreHere() throws {
        // Files called "default" and "mlp" in the working folder: the names still mean the shipped models.
        _ = try scratch.write("default", Array("not a model".utf8))
        _ = try scratch.write("mlp", Array("not a model".utf8))
        let d = try dsc(["inspect", "default"], in: scratch.path)
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertTrue(d.stdout.contains("default.dsm: DeepScratch model"), d.stdout)
        XCTAssertTrue(d.stdout.contains("layers: conv 1 32 5 1 0 → relu → maxpool 2 2 → conv 32 64 3 1 0 → relu → conv 64 64 3 1 0"), d.stdout)
        XCTAssertTrue(d.stdout.contains("weights stored as f16"), d.stdout)
        let m = try dsc(["inspect", "mlp"], in: scratch.path)
        XCTAssertEqual(m.status, 0, m.stderr)
        XCTAssertTrue(m.stdout.contains("mlp.dsm: DeepScratch model"), m.stdout)
        XCTAssertTrue(m.stdout.contains("layers: dense 784 512 → relu → dense 512 512 → relu → dense 512 10 → softmax"), m.stdout)
        // A path is a path: ./mlp is the local file, which is not a model.
        let local = try dsc(["inspect", "./mlp"], in: scratch.path)
        XCTAssertEqual(local.status, 1, local.stdout)
        XCTAssertTrue(local.stderr.contains("./mlp"), local.stderr)
    }

    func testPredictUsesTheShippedDefaultWithoutModelAndEachNameGivesItsOwnModelsAnswer() throws {
        let set = try DSCHarness.testSet()
        // Test image 8 (a 5 that the two models give different probabilities).
        let png = try scratch.write("digit.png", PNG.encodeGray(width: 28, height: 28, pixels: Array(set.pixels[(8 * 784)..<(9 * 784)])))
        let implicit = try dsc(["predict", png], in: scratch.path)
        let named = try dsc(["predict", "--model", "default", png], in: scratch.path)
        let mlp = try dsc(["predict", "--model", "mlp", png], in: scratch.path)
        let byEnvironment = try dsc(["predict", png], in: scratch.path, model: "mlp")
        for r in [implicit, named, mlp, byEnvironment] { XCTAssertEqual(r.status, 0, r.stderr) }
        let cnnLine = try expected(png, model: repositoryFile("default.dsm"))
        let mlpLine = try expected(png, model: repositoryFile("mlp.dsm"))
        XCTAssertNotEqual(cnnLine, mlpLine, "the two shipped models are different networks")
        XCTAssertEqual(implicit.stdout, cnnLine + "\n")
        XCTAssertEqual(named.stdout, cnnLine + "\n")
        XCTAssertEqual(mlp.stdout, mlpLine + "\n")
        XCTAssertEqual(byEnvironment.stdout, mlpLine + "\n", "$DEEPSCRATCH_MODEL takes the names too")
    }

    func testAShippedNameWhoseFileIsMissingNamesTheFoldersSearched() throws {
        // dsc copied alone to a folder: nothing beside it, no installed share/ folder.
        let lone = scratch.path + "/bin/dsc"
        try FileManager.default.createDirectory(atPath: scratch.path + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try DSCHarness.executable().path, toPath: lone)
        var environment = try DSCHarness.environment(home: scratch.path)
        environment["DEEPSCRATCH_MODEL"] = nil
        let png = try scratch.write("digit.png", try DSCHarness.digitPNG(0).png)
        for arguments in [["predict", png], ["predict", "--model", "mlp", png], ["inspect", "default"]] {
            let r = try runProcess(URL(fileURLWithPath: lone), arguments, environment: environment)
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.stdout)")
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("is missing (looked for " + scratch.path + "/bin/DeepScratch_dsc.resources/"), r.stderr)
            XCTAssertTrue(r.stderr.contains("/bin/../share/deepscratch/"), r.stderr)
        }
    }
}
