import Foundation
import Glibc
import XCTest

/// Every dsc command given a missing file, a directory, an unreadable file,
/// an empty file, a file of the wrong kind, and nonsense flag values: one
/// line on stderr ("dsc: error: ..." naming the file or flag), a non-zero
/// exit status, no signal, and no file written where one was asked for.
///
/// Unreadable files: the tests may run as root, whom file modes do not stop
/// (chmod 000 still reads). As root, the unreadable cases therefore run dsc
/// as the unprivileged user nobody (util-linux `setpriv`), for whom mode 000
/// does mean unreadable; as any other user they run dsc directly. Either way
/// the test first checks that the file really cannot be opened by the user
/// that runs dsc, so a case never passes without testing what it names.
final class CLIBadInputTests: XCTestCase {
    private var dsc: URL!
    private var fixture: TemporaryFolder!
    private var closedMirror = ""

    // Fixture paths.
    private var missing = "", directory = "", empty = "", unreadable = "", unreadableFolder = "", unwritableFolder = ""
    private var text = "", png = "", model = "", emptyIDX = "", wrongIDX = "", pngFolder = ""

    /// The repository's example drawing and shipped model.
    private static let root = DSCHarness.root

    override func setUpWithError() throws {
        try super.setUpWithError()
        dsc = try DSCHarness.executable()
        fixture = try TemporaryFolder()
        closedMirror = "http://127.0.0.1:\(try closedLocalPort())/"
        let f = fixture.path
        chmod(f, 0o755)  // so that user nobody can reach the readable files
        missing = f + "/no-such-file"
        directory = f + "/a-folder"
        mkdir(directory, 0o755)
        empty = try fixture.write("empty", [])
        text = try fixture.write("notes.txt", Array("these are not the bytes you are looking for\n".utf8))
        png = try fixture.write("seven.png", [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.root + "/examples/digits/0047_7.png"))))
        model = try fixture.write("model.dsm", [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.root + "/Sources/dsc/Resources/default.dsm"))))
        unreadable = try fixture.write("unreadable", [UInt8](try Data(contentsOf: URL(fileURLWithPath: model))))
        chmod(unreadable, 0)
        unreadableFolder = f + "/unreadable-folder"
        mkdir(unreadableFolder, 0o755)
        _ = try fixture.write("unreadable-folder/0_7.png", [UInt8](try Data(contentsOf: URL(fileURLWithPath: png))))
        chmod(unreadableFolder, 0)
        unwritableFolder = f + "/unwritable-folder"
        mkdir(unwritableFolder, 0o555)
        chmod(unwritableFolder, 0o555)
        emptyIDX = f + "/empty-idx"
        wrongIDX = f + "/wrong-idx"
        pngFolder = f + "/pngs"
        for folder in [emptyIDX, wrongIDX, pngFolder] { mkdir(folder, 0o755) }
        for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            _ = try fixture.write("empty-idx/" + name, [])
            _ = try fixture.write("wrong-idx/" + name, [UInt8](try Data(contentsOf: URL(fileURLWithPath: png))))
        }
        _ = try fixture.write("pngs/0_7.png", [UInt8](try Data(contentsOf: URL(fileURLWithPath: png))))
    }

    override func tearDown() {
        if let fixture {
            chmod(fixture.path + "/unreadable-folder", 0o755)
            chmod(fixture.path + "/unwritable-folder", 0o755)
        }
        fixture = nil
        super.tearDown()
    }

    private var isRoot: Bool { geteuid() == 0 }
    private static let nobody = "65534"

    /// Runs dsc (as nobody when `unprivileged` and this process is root)
    /// with an environment that can only reach 127.0.0.1.
    private func run(_ arguments: [String], unprivileged: Bool = false) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = fixture.path
        env["TMPDIR"] = fixture.path
        env["DEEPSCRATCH_MNIST_MIRROR"] = closedMirror
        env["DEEPSCRATCH_DATA"] = nil
        env["DEEPSCRATCH_MODEL"] = nil
        env["no_proxy"] = "127.0.0.1,localhost"
        env["NO_PROXY"] = "127.0.0.1,localhost"
        if unprivileged && isRoot {
            // A copy of dsc in the fixture folder, which nobody can reach
            // (the build folder may be inside a home folder only root enters).
            let copy = fixture.path + "/bin/dsc"
            if !FileManager.default.fileExists(atPath: copy) {
                try FileManager.default.createDirectory(atPath: fixture.path + "/bin", withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: dsc.path, toPath: copy)
                chmod(fixture.path + "/bin", 0o755)
                chmod(copy, 0o755)
            }
            let setpriv = URL(fileURLWithPath: "/usr/bin/setpriv")
            return try runProcess(setpriv, ["--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", "--clear-groups", "--",
                                            copy] + arguments, environment: env, limit: 300)
        }
        return try runProcess(dsc, arguments, environment: env, limit: 300)
    }

    /// Asserts one "dsc: error:" line on stderr that contains `mentions`,
    /// a non-zero exit status and no signal.
    private func assertCleanFailure(_ arguments: [String], mentions: String, unprivileged: Bool = false,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(arguments, unprivileged: unprivileged)
        let what = "dsc \(arguments.joined(separator: " "))"
        XCTAssertFalse(r.signaled, "\(what): killed by signal \(r.status); stderr: \(r.stderr)", file: file, line: line)
        XCTAssertNotEqual(r.status, 0, "\(what): exit status; stdout: \(r.stdout)", file: file, line: line)
        XCTAssertEqual(r.stderrLines.count, 1, "\(what): one line on stderr, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("dsc: error: "), "\(what): stderr: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(mentions), "\(what): the error names \(mentions): \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Stack dump"), "\(what): \(r.stderr)",
                       file: file, line: line)
    }

    // MARK: Model files: inspect, convert, predict --model, eval --model, bench --load, train --resume

    /// Every command that reads a model, each with each bad model path.
    private func modelReaders(_ path: String) -> [[String]] {
        [["inspect", path],
         ["convert", path, fixture.path + "/converted.dsm", "--precision", "f16"],
         ["predict", "--model", path, png],
         ["eval", "--model", path, "--images", pngFolder],
         ["bench", "--load", path, "--loads", "1"],
         ["bench", "--classify", png, "--model", path, "--loads", "1"],
         ["train", "--resume", path, "--epochs", "1", "--data", emptyIDX, "-o", fixture.path + "/trained.dsm"]]
    }

    /// Every command that reads a PNG, each with each bad picture path.
    private func pictureReaders(_ path: String) -> [[String]] {
        [["predict", "--model", model, path],
         ["preprocess", path, fixture.path + "/out.png"],
         ["bench", "--classify", path, "--model", model, "--loads", "1"]]
    }

    func testMissingFiles() throws {
        for args in modelReaders(missing) + pictureReaders(missing) {
            try assertCleanFailure(args, mentions: missing)
        }
        try assertCleanFailure(["eval", "--model", model, "--images", missing], mentions: missing)
        // A missing data folder is fetched from the mirror, here a closed port.
        try assertCleanFailure(["eval", "--model", model, "--data", missing], mentions: "train-images-idx3-ubyte")
        try assertCleanFailure(["train", "--data", missing, "--epochs", "1"], mentions: missing)
        XCTAssertEqual(fixture.entries().filter { $0.hasSuffix(".dsm") && $0 != "model.dsm" }, [], "nothing written")
    }

    func testDirectories() throws {
        for args in modelReaders(directory) + pictureReaders(directory) {
            try assertCleanFailure(args, mentions: directory)
        }
        // Outputs that are folders.
        try assertCleanFailure(["preprocess", png, directory], mentions: directory)
        try assertCleanFailure(["convert", model, directory, "--precision", "f16"], mentions: directory)
        try assertCleanFailure(["train", "--data", emptyIDX, "--epochs", "1", "-o", directory], mentions: directory)
        // Inputs that must be folders but are files.
        try assertCleanFailure(["eval", "--model", model, "--images", png], mentions: png)
        try assertCleanFailure(["eval", "--model", model, "--data", png], mentions: png)
        try assertCleanFailure(["train", "--data", png, "--epochs", "1"], mentions: png)
    }

    func testEmptyFiles() throws {
        for args in modelReaders(empty) + pictureReaders(empty) {
            try assertCleanFailure(args, mentions: empty)
        }
        try assertCleanFailure(["eval", "--model", model, "--images", directory], mentions: directory)  // no PNGs
        try assertCleanFailure(["eval", "--model", model, "--data", emptyIDX], mentions: emptyIDX)
        try assertCleanFailure(["train", "--data", emptyIDX, "--epochs", "1", "-o", fixture.path + "/t.dsm"], mentions: emptyIDX)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.path + "/t.dsm"))
    }

    func testFilesOfTheWrongKind() throws {
        // A PNG and a text file where a model belongs, a model and a text file where a PNG belongs.
        for wrong in [png, text] {
            for args in modelReaders(wrong) { try assertCleanFailure(args, mentions: wrong + ": not a valid model file") }
        }
        for wrong in [model, text] {
            for args in pictureReaders(wrong) { try assertCleanFailure(args, mentions: wrong + ": not a PNG file") }
        }
        try assertCleanFailure(["eval", "--model", model, "--data", wrongIDX], mentions: wrongIDX)
        try assertCleanFailure(["train", "--data", wrongIDX, "--epochs", "1", "-o", fixture.path + "/t.dsm"], mentions: wrongIDX)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.path + "/t.dsm"))
    }

    func testUnreadableFiles() throws {
        // The premise: the user that runs dsc cannot open these.
        let probe = try run(["inspect", unreadable], unprivileged: true)
        XCTAssertTrue(probe.stderr.hasPrefix("dsc: error: \(unreadable): cannot read: Permission denied"),
                      "the unreadable file must be unreadable to dsc's user (root runs dsc as nobody): \(probe.stderr)")
        for args in modelReaders(unreadable) + pictureReaders(unreadable) {
            try assertCleanFailure(args, mentions: unreadable, unprivileged: true)
        }
        try assertCleanFailure(["eval", "--model", model, "--images", unreadableFolder], mentions: unreadableFolder, unprivileged: true)
        try assertCleanFailure(["eval", "--model", model, "--data", unreadableFolder], mentions: unreadableFolder, unprivileged: true)
        let writable = fixture.path + "/writable-folder"
        mkdir(writable, 0o777)
        chmod(writable, 0o777)
        try assertCleanFailure(["train", "--data", unreadableFolder, "--epochs", "1", "-o", writable + "/t.dsm"],
                               mentions: unreadableFolder, unprivileged: true)
        // Outputs into a folder the user cannot write.
        try assertCleanFailure(["train", "--data", emptyIDX, "--epochs", "1", "-o", unwritableFolder + "/t.dsm"],
                               mentions: unwritableFolder, unprivileged: true)
        try assertCleanFailure(["convert", model, unwritableFolder + "/c.dsm", "--precision", "f16"],
                               mentions: unwritableFolder, unprivileged: true)
        try assertCleanFailure(["preprocess", png, unwritableFolder + "/o.png"], mentions: unwritableFolder, unprivileged: true)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: unwritableFolder)) ?? ["?"], [], "nothing written")
    }

    // MARK: Nonsense flag values

    func testNonsenseTrainFlags() throws {
        let output = fixture.path + "/never.dsm"
        let table: [(flag: String, value: String)] = [
            ("--epochs", "-1"), ("--epochs", "0"), ("--epochs", "99999999999999999999"), ("--epochs", "ten"),
            ("--keep", "0"), ("--keep", "1.5"), ("--keep", "-1"), ("--keep", "nan"), ("--keep", "0.5,0.5,0.5"),
            ("--batch", "0"), ("--batch", "-5"),
            ("--hidden", "0"), ("--hidden", ""), ("--hidden", "-3"), ("--hidden", "10,,10"), ("--hidden", "ten"),
            ("--lr", "-1"), ("--lr", "0"), ("--lr", "nan"), ("--lr", "inf"),
            ("--threads", "0"), ("--threads", "-1"),
            ("--checkpoint-every", "-1"), ("--dev", "-1"), ("--augment-shift", "-1"), ("--augment-shift", "100"),
            ("--precision", "f8"), ("--activation", "swish"), ("--optimizer", "lbfgs"), ("--initialization", "zeros"),
            ("--decay", "linear"), ("--decay-rate", "-1"), ("--decay-rate", "2"), ("--decay-every", "0"),
            ("--beta1", "1"), ("--beta2", "-0.1"), ("--l2", "-1"), ("--l2", "inf"), ("--seed", "-1"),
        ]
        for (flag, value) in table {
            // An empty data folder: a flag that slipped through would fail
            // later, on the data, and the message would not name the flag.
            try assertCleanFailure(["train", "--data", emptyIDX, flag, value, "-o", output], mentions: flag)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "no model written")
    }

    func testNonsenseFlagsOfTheOtherCommands() throws {
        let table: [[String]] = [
            ["predict", png, "--model", model, "--top", "0"],
            ["predict", png, "--model", model, "--top", "-1"],
            ["eval", "--model", model, "--images", pngFolder, "--mistakes", "-1"],
            ["eval", "--model", model, "--images", pngFolder, "--list-mistakes", "-1"],
            ["convert", model, fixture.path + "/c.dsm", "--precision", "f64"],
            ["bench", "--seconds", "0.01", "--threads", "0"],
            ["bench", "--seconds", "-1"],
            ["bench", "--seconds", "0"],
            ["bench", "--seconds", "nan"],
            ["bench", "--load", model, "--loads", "0"],
            ["bench", "--classify", png, "--model", model, "--loads", "-1"],
        ]
        for args in table {
            // The flag under test is the second to last argument.
            try assertCleanFailure(args, mentions: args[args.count - 2])
        }
        try assertCleanFailure(["gradcheck", "unexpected-argument"], mentions: "unexpected-argument")
        try assertCleanFailure(["inspect"], mentions: "model")
        try assertCleanFailure(["preprocess", png], mentions: "output")
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.path + "/c.dsm"))
    }
}
