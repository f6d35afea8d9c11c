import DeepScratch
import DeepScratchTestSupport
import DeepScratchImage
import Foundation
import Glibc
import XCTest

// MARK: - Harness CheckpointCLITests uses too

/// The built `dsc`, the MNIST files, and an environment that can reach
/// nothing but 127.0.0.1.
enum DSCHarness {
    /// The `dsc` executable of the same build as this test bundle.
    static func executable() throws -> URL {
        var folders: [URL] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            folders.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        let bundle = Bundle(for: PredictEvalCLITests.self).bundleURL
        folders += [bundle, bundle.deletingLastPathComponent(), Bundle.main.bundleURL,
                    Bundle.main.bundleURL.deletingLastPathComponent()]
        for folder in folders {
            let candidate = folder.appendingPathComponent("dsc")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
        }
        throw TestSupportError("dsc executable not found next to the test bundle (looked in \(folders.map(\.path))); build with 'swift build --build-tests'")
    }

    /// The package root (#filePath = <root>/Tests/dscTests/PredictEvalCLITests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The 30 labelled digit pictures kept in the repository (Tests/Fixtures/README.md).
    static var digitPNGFolder: String { root + "/Tests/Fixtures/digits-png" }

    /// The MNIST folder (`MNISTFixture`: `$DEEPSCRATCH_DATA`).
    static var mnistFolder: String { MNISTFixture.folder }

    /// The MNIST folder, checked to hold the four files (the test fails, it is not skipped, when they are missing).
    static func mnist() throws -> String { try MNISTFixture.checkedFolder() }

    /// The MNIST test set, read once.
    static func testSet() throws -> LabeledImages { try MNISTFixture.testSet() }

    /// Test image `index` as a PNG: as MNIST stores it (light on dark), or
    /// inverted and scaled up 3× (dark on light, 84×84).
    static func digitPNG(_ index: Int, darkOnLight: Bool = false) throws -> (png: [UInt8], label: Int) {
        let set = try testSet()
        let m = Array(set.pixels[(index * 784)..<((index + 1) * 784)])
        let label = Int(set.labels[index])
        guard darkOnLight else { return (PNG.encodeGray(width: 28, height: 28, pixels: m), label) }
        var big = [UInt8](repeating: 0, count: 84 * 84)
        for y in 0..<84 { for x in 0..<84 { big[y * 84 + x] = 255 - m[(y / 3) * 28 + x / 3] } }
        return (PNG.encodeGray(width: 84, height: 84, pixels: big), label)
    }

    /// The environment for dsc: a private HOME and TMPDIR, a closed local
    /// port as the MNIST mirror, no DEEPSCRATCH_DATA, no proxies for loopback.
    static func environment(home: String) throws -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = home
        env["TMPDIR"] = home
        env["DEEPSCRATCH_MNIST_MIRROR"] = "http://127.0.0.1:\(try closedLocalPort())/"
        env["DEEPSCRATCH_DATA"] = nil
        env["DEEPSCRATCH_MODEL"] = nil
        env["no_proxy"] = "127.0.0.1,localhost"
        env["NO_PROXY"] = "127.0.0.1,localhost"
        return env
    }

    /// Runs dsc to the end (killed after `limit` seconds: a hang guard).
    static func run(_ arguments: [String], home: String, limit: Double = 600) throws -> ProcessResult {
        try runProcess(try executable(), arguments, environment: try environment(home: home), limit: limit)
    }

    /// The lines of `text`, without empty ones.
    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// The JSON value printed on standard output.
    static func json(_ r: ProcessResult) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    }

    /// The first match of `pattern` in `text`: its capture groups.
    static func match(_ pattern: String, in text: String) -> [String]? {
        guard let re = try? NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines]),
              let m = re.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else { return nil }
        return (0..<m.numberOfRanges).map { i in
            Range(m.range(at: i), in: text).map { String(text[$0]) } ?? ""
        }
    }

    /// `s` as a regular expression matching itself.
    static func literal(_ s: String) -> String { NSRegularExpression.escapedPattern(for: s) }

    /// Size of the file at `path` in bytes.
    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
    }
}

// MARK: - Tests

/// `dsc predict`, `preprocess`, `eval`, `inspect` and `convert`, run as
/// subprocesses on a model trained once for the class.
final class PredictEvalCLITests: ScratchFolderTestCase {
    /// The model every test uses: `dsc train --hidden 32 --epochs 1 --dev 0`,
    /// trained on first use and removed after the last test.
    nonisolated(unsafe) private static var modelFolder: TemporaryFolder?
    nonisolated(unsafe) private static var modelFailure: String?

    private static func model() throws -> String {
        if let f = modelFolder { return f.path + "/m.dsm" }
        if let modelFailure { throw TestSupportError(modelFailure) }
        let folder = try TemporaryFolder()
        let path = folder.path + "/m.dsm"
        let r = try DSCHarness.run(["train", "--data", try DSCHarness.mnist(), "--hidden", "32", "--epochs", "1",
                                    "--dev", "0", "-o", path], home: folder.path, limit: 900)
        guard r.status == 0, FileManager.default.fileExists(atPath: path) else {
            modelFailure = "training the test model failed (status \(r.status)): \(r.stderr)\n\(r.stdout)"
            throw TestSupportError(modelFailure!)
        }
        modelFolder = folder
        return path
    }

    override class func tearDown() {
        modelFolder = nil
        super.tearDown()
    }

    private var modelPath = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        modelPath = try Self.model()
    }

    private func dsc(_ arguments: [String], limit: Double = 600) throws -> ProcessResult {
        try DSCHarness.run(arguments, home: scratch.path, limit: limit)
    }

    /// a.png (test image 0, as MNIST stores it) and b.png (test image 1, dark on light, 84x84).
    private func twoDigits() throws -> (a: String, b: String) {
        let a = try scratch.write("a.png", try DSCHarness.digitPNG(0).png)
        let b = try scratch.write("b.png", try DSCHarness.digitPNG(1, darkOnLight: true).png)
        return (a, b)
    }

    /// What the engine's classifier says of `path`, in-process: the reference for the CLI's output.
    private func classify(_ path: String) throws -> DigitClassifier.Prediction {
        try DigitClassifier(modelPath: modelPath).classify(pngPath: path)
    }

    private func percent(_ p: Float) -> String { String(format: "%.1f%%", Double(p) * 100) }

    // MARK: predict

    func testPredictPrintsOneLineWithADigitAndAPercentagePerFile() throws {
        let (a, b) = try twoDigits()
        let r = try dsc(["predict", "--model", modelPath, a, b])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let lines = DSCHarness.lines(r.stdout)
        XCTAssertEqual(lines.count, 2, r.stdout)
        for (line, path) in zip(lines, [a, b]) {
            guard let m = DSCHarness.match("^" + DSCHarness.literal(path) + #": ([0-9]) \(([0-9]+\.[0-9])%\)$"#, in: line) else {
                XCTFail("'\(line)' is not '<file>: <digit> (<percent>)'"); continue
            }
            let expected = try classify(path)
            XCTAssertEqual(m[1], expected.label, line)
            XCTAssertEqual(m[2] + "%", percent(expected.probabilities[expected.classIndex]), line)
            let p = Double(m[2])!
            XCTAssertTrue(p >= 10 && p <= 100, "the most probable of 10 classes has at least 10 %: \(line)")
        }
    }

    func testPredictTop3PrintsThreeDistinctClassesMostProbableFirst() throws {
        let (a, b) = try twoDigits()
        let r = try dsc(["predict", "--model", modelPath, "--top", "3", a, b])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = DSCHarness.lines(r.stdout)
        XCTAssertEqual(lines.count, 2, r.stdout)
        for (line, path) in zip(lines, [a, b]) {
            let entry = #"([0-9]) ([0-9]+\.[0-9])%"#
            guard let m = DSCHarness.match("^" + DSCHarness.literal(path) + ": " + [entry, entry, entry].joined(separator: ", ") + "$", in: line) else {
                XCTFail("'\(line)' is not '<file>: d p%, d p%, d p%'"); continue
            }
            let labels = [m[1], m[3], m[5]], probs = [m[2], m[4], m[6]].map { Double($0)! }
            XCTAssertEqual(Set(labels).count, 3, line)
            XCTAssertGreaterThanOrEqual(probs[0], probs[1], line)
            XCTAssertGreaterThanOrEqual(probs[1], probs[2], line)
            XCTAssertLessThanOrEqual(probs.reduce(0, +), 100.2, line)
            let expected = try classify(path).top(3)
            XCTAssertEqual(labels, expected.map { "\($0.index)" }, line)
        }
    }

    func testPredictJSONIsValidWithOneEntryPerFile() throws {
        let (a, b) = try twoDigits()
        for top in [1, 3] {
            let r = try dsc(["predict", "--model", modelPath, "--json", "--top", "\(top)", a, b])
            XCTAssertEqual(r.status, 0, r.stderr)
            guard let entries = try DSCHarness.json(r) as? [[String: Any]] else { return XCTFail("not an array of objects: \(r.stdout)") }
            XCTAssertEqual(entries.count, 2)
            for (entry, path) in zip(entries, [a, b]) {
                XCTAssertEqual(entry["file"] as? String, path)
                let expected = try classify(path)
                XCTAssertEqual(entry["label"] as? String, expected.label)
                let p = try XCTUnwrap(entry["probability"] as? Double)
                XCTAssertEqual(p, Double(expected.probabilities[expected.classIndex]), accuracy: 1e-6)
                let list = try XCTUnwrap(entry["top"] as? [[String: Any]])
                XCTAssertEqual(list.count, top)
                XCTAssertEqual(list.first?["label"] as? String, expected.label)
                let ps = list.compactMap { $0["probability"] as? Double }
                XCTAssertEqual(ps.count, top)
                XCTAssertEqual(ps, ps.sorted(by: >))
                XCTAssertLessThanOrEqual(ps.reduce(0, +), 1.0 + 1e-6)
            }
        }
    }

    func testPredictReportsAFailingFileOnStderrStillPrintsTheOthersAndExits1() throws {
        let (a, b) = try twoDigits()
        let x = try scratch.write("x.png", Array("this is a text file, not a PNG\n".utf8))
        let r = try dsc(["predict", "--model", modelPath, a, x, b])
        XCTAssertEqual(r.status, 1, r.stderr)
        let lines = DSCHarness.lines(r.stdout)
        XCTAssertEqual(lines.count, 2, r.stdout)
        XCTAssertTrue(lines.first?.hasPrefix(a + ": ") ?? false, r.stdout)
        XCTAssertTrue(lines.last?.hasPrefix(b + ": ") ?? false, r.stdout)
        XCTAssertFalse(r.stdout.contains(x), r.stdout)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("dsc: error: "), r.stderr)
        XCTAssertTrue(r.stderr.contains(x), r.stderr)

        // In JSON too: the failing file has an error entry, the others their result.
        let j = try dsc(["predict", "--model", modelPath, "--json", a, x, b])
        XCTAssertEqual(j.status, 1)
        guard let entries = try DSCHarness.json(j) as? [[String: Any]] else { return XCTFail("not JSON: \(j.stdout)") }
        XCTAssertEqual(entries.map { $0["file"] as? String }, [a, x, b])
        XCTAssertNotNil(entries[0]["label"])
        XCTAssertTrue((entries[1]["error"] as? String)?.contains(x) ?? false, "\(entries[1])")
        XCTAssertNil(entries[1]["label"])
        XCTAssertNotNil(entries[2]["label"])
    }

    // MARK: preprocess

    func testPreprocessWritesThe28x28ImageTheClassifierSees() throws {
        let (_, b) = try twoDigits()
        let out = scratch.path + "/out.png"
        let r = try dsc(["preprocess", b, out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(out), r.stdout)
        let image = try PNG.read(path: out)
        XCTAssertEqual(image.width, 28)
        XCTAssertEqual(image.height, 28)
        XCTAssertFalse(image.hasTransparency)
        XCTAssertEqual(image.gray, try DigitPreprocessor().process(try PNG.read(path: b), name: b))
        // Light digit on black, as MNIST: the corners are background.
        XCTAssertEqual([image.gray[0], image.gray[27], image.gray[27 * 28], image.gray[783]], [0, 0, 0, 0])
        XCTAssertGreaterThan(image.gray.max() ?? 0, 200)
    }

    func testPreprocessOfATextFileFailsWithOneErrorLineAndWritesNothing() throws {
        let x = try scratch.write("x.png", Array("not a PNG".utf8))
        let out = scratch.path + "/out.png"
        let r = try dsc(["preprocess", x, out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(x), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    // MARK: eval

    /// The first `count` test images as `img<i>_<label>.png` in a new folder
    /// (every third one dark on light); their labels.
    private func labeledFolder(count: Int) throws -> (folder: String, labels: [Int]) {
        let folder = scratch.path + "/digits"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        var labels = [Int]()
        for i in 0..<count {
            let (png, label) = try DSCHarness.digitPNG(i, darkOnLight: i % 3 == 2)
            try Data(png).write(to: URL(fileURLWithPath: folder + String(format: "/img%03d_%d.png", i, label)))
            labels.append(label)
        }
        return (folder, labels)
    }

    func testEvalOnAFolderOfLabeledPNGsReportsAccuracyAndAConfusionMatrix() throws {
        let (folder, labels) = try labeledFolder(count: 30)
        let r = try dsc(["eval", "--model", modelPath, "--images", folder])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let acc = DSCHarness.match(#"^accuracy: ([0-9]+\.[0-9]{2})% on 30 PNG files$"#, in: r.stdout) else {
            return XCTFail("no accuracy line for 30 PNG files: \(r.stdout)")
        }
        let lines = DSCHarness.lines(r.stdout)
        guard let header = lines.firstIndex(where: { $0.hasPrefix("confusion matrix") }), lines.count > header + 11 else {
            return XCTFail("no confusion matrix: \(r.stdout)")
        }
        // Rows: "<true class> <count for each predicted class>".
        var matrix = [[Int]]()
        for row in lines[(header + 2)...(header + 11)] {
            let fields = row.split(separator: " ").map(String.init)
            XCTAssertEqual(fields.count, 11, "row '\(row)'")
            matrix.append(fields.dropFirst().compactMap { Int($0) })
        }
        XCTAssertEqual(matrix.map { $0.reduce(0, +) }, (0..<10).map { k in labels.filter { $0 == k }.count },
                       "each row sums to the number of files of its class")
        let correct = (0..<10).reduce(0) { $0 + (matrix[$1].count == 10 ? matrix[$1][$1] : 0) }
        XCTAssertEqual(Double(acc[1])!, 100 * Double(correct) / 30, accuracy: 0.006)
        // Even a one-epoch model gets most MNIST digits right (chance is 10 %).
        XCTAssertGreaterThanOrEqual(correct, 18, "accuracy \(acc[1])%")
    }

    func testEvalOnAFolderJSONParsesAndItsConfusionMatrixSumsToTheFileCount() throws {
        let (folder, labels) = try labeledFolder(count: 30)
        let r = try dsc(["eval", "--model", modelPath, "--images", folder, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let root = try DSCHarness.json(r) as? [String: Any] else { return XCTFail("not a JSON object: \(r.stdout)") }
        XCTAssertEqual(root["examples"] as? Int, 30)
        let confusion = try XCTUnwrap(root["confusion"] as? [[Int]])
        XCTAssertEqual(confusion.count, 10)
        XCTAssertEqual(confusion.flatMap { $0 }.reduce(0, +), 30)
        XCTAssertEqual(confusion.map { $0.reduce(0, +) }, (0..<10).map { k in labels.filter { $0 == k }.count })
        let trace = (0..<10).reduce(0) { $0 + confusion[$1][$1] }
        XCTAssertEqual(try XCTUnwrap(root["accuracy"] as? Double), Double(trace) / 30, accuracy: 1e-9)
        XCTAssertEqual((root["failures"] as? [Any])?.count, 0)
    }

    func testEvalOnAFolderWithAnUnreadableFileReportsItAndExits1() throws {
        let (folder, _) = try labeledFolder(count: 5)
        let bad = folder + "/broken_3.png"
        try Data("not a PNG".utf8).write(to: URL(fileURLWithPath: bad))
        let r = try dsc(["eval", "--model", modelPath, "--images", folder])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertNotNil(DSCHarness.match(#"^accuracy: [0-9.]+% on 5 PNG files$"#, in: r.stdout), r.stdout)
        XCTAssertEqual(r.stderrLines.count, 1, "one line for the one failing file: \(r.stderr)")
        XCTAssertTrue(r.stderr.hasPrefix("dsc: error: " + bad), r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: bad).count - 1, 1, "names the file once: \(r.stderr)")
    }

    func testEvalOnTheMNISTTestSetReportsAccuracyOn10000Images() throws {
        let r = try dsc(["eval", "--model", modelPath, "--data", try DSCHarness.mnist()])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let acc = DSCHarness.match(#"^accuracy: ([0-9]+\.[0-9]{2})% on 10000 test images$"#, in: r.stdout) else {
            return XCTFail("no accuracy line for 10000 test images: \(r.stdout)")
        }
        // The training run measured the same weights on the same images.
        guard case let .double(recorded)? = try Model.load(path: modelPath).metadata["train.test_accuracy"] else {
            return XCTFail("the model records no test accuracy")
        }
        XCTAssertEqual(Double(acc[1])! / 100, recorded, accuracy: 0.0003)
        XCTAssertGreaterThan(recorded, 0.5)

        let j = try dsc(["eval", "--model", modelPath, "--data", try DSCHarness.mnist(), "--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        guard let root = try DSCHarness.json(j) as? [String: Any] else { return XCTFail("not JSON: \(j.stdout)") }
        XCTAssertEqual(root["examples"] as? Int, 10000)
        let confusion = try XCTUnwrap(root["confusion"] as? [[Int]])
        let set = try DSCHarness.testSet()
        XCTAssertEqual(confusion.map { $0.reduce(0, +) }, (0..<10).map { k in set.labels.filter { Int($0) == k }.count })
    }

    // MARK: inspect and convert

    func testInspectShowsLayersTensorsAndPrecision() throws {
        let r = try dsc(["inspect", modelPath])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("layers: dense 784 32 → relu → dense 32 10 → softmax"), r.stdout)
        XCTAssertTrue(r.stdout.contains("weights stored as f32"), r.stdout)
        for (name, shape) in [("W1", "32x784"), ("b1", "32"), ("W2", "10x32"), ("b2", "10")] {
            XCTAssertNotNil(DSCHarness.match("^  \(name) +\(shape) +f32 ", in: r.stdout), "tensor \(name) \(shape): \(r.stdout)")
        }
        XCTAssertFalse(r.stdout.contains("checkpoint:"), "a finished model is not a checkpoint")
    }

    func testInspectJSONListsLayersTensorsAndSizes() throws {
        let r = try dsc(["inspect", "--json", modelPath])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let root = try DSCHarness.json(r) as? [String: Any] else { return XCTFail("not JSON: \(r.stdout)") }
        XCTAssertEqual(root["layers"] as? [String], ["dense 784 32", "relu", "dense 32 10", "softmax"])
        let tensors = try XCTUnwrap(root["tensors"] as? [[String: Any]])
        XCTAssertEqual(tensors.compactMap { $0["name"] as? String }, ["W1", "b1", "W2", "b2"])
        XCTAssertEqual(tensors.compactMap { $0["shape"] as? [Int] }, [[32, 784], [32], [10, 32], [10]])
        XCTAssertEqual(tensors.compactMap { $0["bytes"] as? Int }, [32 * 784 * 4, 32 * 4, 10 * 32 * 4, 10 * 4])
        XCTAssertEqual(root["parameter_count"] as? Int, 784 * 32 + 32 + 32 * 10 + 10)
        XCTAssertEqual(root["precision"] as? String, "f32")
        XCTAssertEqual(root["file_size"] as? Int, try DSCHarness.fileSize(modelPath))
        XCTAssertEqual(root["checkpoint"] as? Bool, false)
        XCTAssertEqual(root["classes"] as? [String], (0..<10).map { "\($0)" })
    }

    func testConvertToInt8WritesASmallerFileThatInspectReportsAsInt8() throws {
        let out = scratch.path + "/out.dsm"
        let r = try dsc(["convert", modelPath, out, "--precision", "int8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let before = try DSCHarness.fileSize(modelPath), after = try DSCHarness.fileSize(out)
        // 25,408 weights: 4 bytes each in f32, 1 in int8 (2 in f16 would be half).
        XCTAssertLessThan(Double(after), 0.4 * Double(before), "\(after) bytes, was \(before)")

        let text = try dsc(["inspect", out])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("weights stored as int8"), text.stdout)
        let j = try dsc(["inspect", "--json", out])
        guard let root = try DSCHarness.json(j) as? [String: Any] else { return XCTFail("not JSON: \(j.stdout)") }
        XCTAssertEqual(root["precision"] as? String, "int8")
        XCTAssertEqual(root["layers"] as? [String], ["dense 784 32", "relu", "dense 32 10", "softmax"])
        let tensors = try XCTUnwrap(root["tensors"] as? [[String: Any]])
        let w1 = try XCTUnwrap(tensors.first { $0["name"] as? String == "W1" })
        XCTAssertNotEqual(w1["type"] as? String, "f32")
        XCTAssertLessThanOrEqual(try XCTUnwrap(w1["bytes"] as? Int), 32 * 784 + 32 * 4, "about one byte per weight")
        XCTAssertEqual(root["file_size"] as? Int, after)

        // The converted model still classifies.
        let (a, _) = try twoDigits()
        let p = try dsc(["predict", "--model", out, a])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertNotNil(DSCHarness.match("^" + DSCHarness.literal(a) + #": [0-9] \([0-9.]+%\)$"#, in: p.stdout), p.stdout)
    }
}
