import ArgumentParser
import DeepScratch

/// `dsc gradcheck`: numerical gradient checks of every layer, the loss and
/// whole networks in Float64.
struct GradcheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check every backward pass against central differences in Float64.",
        discussion: """
            Prints, for each check, the relative difference ‖g − g̃‖ / (‖g‖ + ‖g̃‖) between \
            the analytic gradient g and the central-difference estimate g̃ (ε = 1e-6). \
            Every check must stay below 1e-7; the exit status is 1 otherwise.
            """)

    func run() throws {
        let results = GradientCheck.runAll()
        var failed = 0
        for r in results {
            let ok = r.relativeDifference < GradientCheck.threshold
            if !ok { failed += 1 }
            let name = r.name.padding(toLength: 36, withPad: " ", startingAt: 0)
            print("\(name) \(String(format: "%.3e", r.relativeDifference))  (\(r.entries) entries)  \(ok ? "ok" : "FAILED")")
        }
        print("\(results.count - failed) of \(results.count) checks below \(GradientCheck.threshold)")
        if failed > 0 { throw CLIError("\(failed) gradient check(s) above \(GradientCheck.threshold)") }
    }
}
