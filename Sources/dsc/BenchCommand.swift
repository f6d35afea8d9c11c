import ArgumentParser
import DeepScratch
import Foundation

/// `dsc bench`: measures the engine on this machine.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure matrix-product speed on this machine (release builds only give meaningful figures).")

    @Option(parsing: .unconditional, help: "Threads (default: the number of CPUs).")
    var threads: Int?

    @Option(parsing: .unconditional, help: "Seconds per measurement.")
    var seconds: Double = 1

    @Option(help: "Instead of products: time loading this model file (median of --loads loads from the page cache).")
    var load: String?

    @Option(parsing: .unconditional, help: "Number of loads for --load.")
    var loads: Int = 1000

    @Option(help: "Instead of products: time decode + preprocess + classify of this PNG (median of --loads runs).")
    var classify: String?

    @Option(help: "Model for --classify (default: the shipped model).")
    var model: String?

    func run() throws {
        guard seconds > 0, seconds.isFinite else {
            throw DeepScratchError.invalidSetting(name: "--seconds", value: "\(seconds)", expected: "a positive number of seconds")
        }
        if let classify {
            guard loads >= 1 else { throw DeepScratchError.invalidSetting(name: "--loads", value: "\(loads)", expected: "a positive integer") }
            Parallelism.setThreads(threads ?? 1)
            let classifier = try DigitClassifier(modelPath: try DefaultModel.path(model))
            let bytes = try AtomicFile.read(classify)
            var decode = [Double](), prep = [Double](), net = [Double](), total = [Double]()
            var label = ""
            for _ in 0..<loads {
                let t0 = monotonicSeconds()
                let image = try PNG.decode(bytes, name: classify)
                let t1 = monotonicSeconds()
                label = try classifier.classify(image, name: classify).label
                let t2 = monotonicSeconds()
                decode.append((t1 - t0) * 1e6)
                total.append((t2 - t0) * 1e6)
            }
            // The two halves of classify, timed apart.
            let image = try PNG.decode(bytes, name: classify)
            for _ in 0..<loads {
                let t0 = monotonicSeconds()
                let input = try classifier.preprocessor.process(image, name: classify)
                let t1 = monotonicSeconds()
                _ = classifier.classify(preprocessed: input)
                let t2 = monotonicSeconds()
                prep.append((t1 - t0) * 1e6)
                net.append((t2 - t1) * 1e6)
            }
            func summary(_ xs: [Double]) -> String {
                let s = xs.sorted()
                return "median \(Format.fixed(s[s.count / 2], 1)) µs  [min \(Format.fixed(s[0], 1)), max \(Format.fixed(s[s.count - 1], 1))]"
            }
            print("\(classify) (\(bytes.count) bytes) → \(label), \(loads) runs, \(Parallelism.threads) thread(s):")
            print("  PNG decode:                          \(summary(decode))")
            print("  preprocess:                          \(summary(prep))")
            print("  network (standardize + forward):     \(summary(net))")
            print("  decode + preprocess + classify:      \(summary(total))")
            return
        }
        if let load {
            guard loads >= 1 else { throw DeepScratchError.invalidSetting(name: "--loads", value: "\(loads)", expected: "a positive integer") }
            Parallelism.setThreads(1)
            _ = try Model.load(path: load)  // into the page cache
            var parse = [Double](), full = [Double]()
            for _ in 0..<loads {
                let t0 = monotonicSeconds()
                _ = try Model.load(path: load)
                parse.append((monotonicSeconds() - t0) * 1e3)
            }
            for _ in 0..<loads {
                let t0 = monotonicSeconds()
                _ = try Model.loadNetwork(path: load)
                full.append((monotonicSeconds() - t0) * 1e3)
            }
            func summary(_ xs: [Double]) -> String {
                let s = xs.sorted()
                return "median \(Format.fixed(s[s.count / 2], 3)) ms  [min \(Format.fixed(s[0], 3)), max \(Format.fixed(s[s.count - 1], 3))]"
            }
            let size = Format.fileSize(load)
            var hashTimes = [Double]()
            try AtomicFile.withContents(of: load) { raw in
                for _ in 0..<loads {
                    let t0 = monotonicSeconds()
                    _ = XXH64.hash(raw)
                    hashTimes.append((monotonicSeconds() - t0) * 1e3)
                }
            }
            print("\(load) (\(Format.grouped(Double(size))) bytes), \(loads) loads:")
            print("  checksum alone (XXH64):            \(summary(hashTimes))")
            print("  Model.load (validate, decode):     \(summary(parse))")
            print("  Model.loadNetwork (ready to run):  \(summary(full))")
            return
        }
        if let threads, threads < 1 { throw DeepScratchError.invalidSetting(name: "--threads", value: "\(threads)", expected: "a positive integer") }
        Parallelism.setThreads(threads ?? Parallelism.processorCount)
        let shapes: [(String, Int, Int, Int, Bool, Bool)] = [
            ("1024x1024x1024", 1024, 1024, 1024, false, false),
            ("forward W1·X   (1024x784 · 784x128)", 1024, 128, 784, false, false),
            ("forward W2·A   (1024x1024 · 1024x128)", 1024, 128, 1024, false, false),
            ("dW1 = dZ·Xᵀ     (1024x128 · 128x784)", 1024, 784, 128, false, true),
            ("dW2 = dZ·Aᵀ     (1024x128 · 128x1024)", 1024, 1024, 128, false, true),
            ("dA = W2ᵀ·dZ     (1024x1024ᵀ · 1024x128)", 1024, 128, 1024, true, false),
        ]
        print("sgemm through the engine, \(Parallelism.threads) threads (GFLOP/s: median [min, max])")
        for (name, m, n, k, ta, tb) in shapes {
            let r = GemmBenchmark.measure(m: m, n: n, k: k, transposeA: ta, transposeB: tb, seconds: seconds)
            print("  \(name.padding(toLength: 42, withPad: " ", startingAt: 0)) \(Format.fixed(r.median, 1))  [\(Format.fixed(r.min, 1)), \(Format.fixed(r.max, 1))]")
        }
    }
}
