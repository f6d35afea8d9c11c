import ArgumentParser
import DeepScratch
import Foundation

/// `dsc`: the DeepScratch command-line tool.
@main
struct DSC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsc",
        abstract: "DeepScratch: a deep neural network engine written from scratch in Swift.",
        version: DeepScratchVersion.string,
        subcommands: [TrainCommand.self, PredictCommand.self, EvalCommand.self, ShowCommand.self, ExportCommand.self, PreprocessCommand.self, InspectCommand.self, ConvertCommand.self, GradcheckCommand.self, BenchCommand.self])

    /// Parses, runs, and turns every error into one line on stderr and a
    /// non-zero exit status.
    static func main() {
        // Past a file-size limit (ulimit -f), write() should fail with EFBIG
        // and be reported like a full disk, with the temporary file removed;
        // the default action of SIGXFSZ would kill dsc mid-write instead.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as DeepScratchError {
            fail("\(error)")
        } catch let error as CLIError {
            fail(error.message)
        } catch let code as ExitCode {
            // A command that already reported its errors (predict, eval).
            Foundation.exit(code.rawValue)
        } catch {
            // Help, version and clean exits are not errors.
            let code = exitCode(for: error)
            if code == .success || code == ExitCode(0) {
                exit(withError: error)
            }
            let message = DSC.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail(message + " (see 'dsc help')", code: code.rawValue)
        }
    }

    static func fail(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("dsc: error: \(message)\n".utf8))
        Foundation.exit(code == 0 ? 1 : code)
    }
}

/// An error of the command-line layer, already phrased for the user.
struct CLIError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
