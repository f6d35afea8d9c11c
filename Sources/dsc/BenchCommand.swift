import ArgumentParser
import DeepScratch
import DeepScratchImage
import DeepScratchTools
import Foundation

/// `dsc bench`: measures the engine on this machine.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the engine on this machine: products, training, inference, the default recipe (release builds only).",
        discussion: """
            Without --load or --classify, runs the suite (or the parts named by --only):
              gemm       sgemm GFLOP/s through the engine on 1024³ and the training shapes, and the
                         ceiling: cblas_sgemm 1024³ with OpenBLAS's own threads
              training   samples/s, GFLOP/s and share of the ceiling for the peers' jobs C1 and C3
                         (batch 128 and 32); heap allocations per step when run with
                         LD_PRELOAD=malloc_count.so (docs/tools/malloc_count.c)
              inference  one image and batches of 1,000 classified by the engine's
                         inference model (what ds_classify and ds_classify_batch run)
              recipe     the default dsc train as a child process: training time to 98.0 % and
                         98.5 % test accuracy, final accuracy, wall time, peak memory
              sparse     (only when named) the first layer's products on one thread, dense and
                         skipping background pixels, with the conversions the sparse way needs
            Every figure is a median with min and max; docs/performance.md explains each.
            """)

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

    @Option(help: ArgumentHelp("Model for --classify and the inference part: " + ShippedModels.optionHelp))
    var model: String?

    @Option(help: "Parts of the suite to run, comma-separated: gemm, training, inference, recipe, sparse. (default: all but sparse)")
    var only: String = "gemm,training,inference,recipe"

    @Flag(help: "Print the suite's figures as JSON.")
    var json = false

    @Option(help: "Folder with the MNIST IDX files (training, inference and recipe). Default: as dsc train.")
    var data: String?

    @Option(parsing: .unconditional, help: "Timed epochs per training job (after one untimed).")
    var repeats: Int = 5

    @Option(parsing: .unconditional, help: "Steps per timed training epoch.")
    var steps: Int = 100

    @Option(parsing: .unconditional, help: "Runs of the default recipe.")
    var runs: Int = 3

    @Option(parsing: .unconditional, help: "Single-image classifications.")
    var calls: Int = 10000

    @Flag(help: "Instead of products: convolution forward+backward throughput for the lenet layer shapes (batch --batch, median of --loads runs).")
    var conv = false

    @Option(parsing: .unconditional, help: "Batch size for --conv.")
    var batch: Int = 128

    func run() throws {
        guard seconds > 0, seconds.isFinite else {
            throw DeepScratchError.invalidSetting(name: "--seconds", value: "\(seconds)", expected: "a positive number of seconds")
        }
        if conv {
            guard loads >= 1, batch >= 1 else { throw DeepScratchError.invalidSetting(name: "--loads/--batch", value: "\(loads)/\(batch)", expected: "positive integers") }
            if let threads, threads < 1 { throw DeepScratchError.invalidSetting(name: "--threads", value: "\(threads)", expected: "a positive integer") }
            Parallelism.setThreads(threads ?? Parallelism.processorCount)
            print("convolution forward+backward, batch \(batch), \(Parallelism.threads) threads, median of \(min(loads, 1000)) runs")
            for r in ConvBenchmark.lenetLayers(batch: batch, runs: min(loads, 1000)) {
                print("  \(r.name.padding(toLength: 44, withPad: " ", startingAt: 0)) \(Format.fixed(r.milliseconds, 2)) ms = \(Format.grouped(Double(batch) / r.milliseconds * 1000)) images/s  (\(Format.fixed(r.gflops, 1)) GFLOP/s)")
            }
            return
        }
        if let classify {
            guard loads >= 1 else { throw DeepScratchError.invalidSetting(name: "--loads", value: "\(loads)", expected: "a positive integer") }
            Parallelism.setThreads(threads ?? 1)
            let classifier = try DigitClassifier(modelPath: try ShippedModels.path(model))
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
        let parts = only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let known: Set<String> = ["gemm", "training", "inference", "recipe", "sparse"]
        if let unknown = parts.first(where: { !known.contains($0) }) {
            throw DeepScratchError.invalidSetting(name: "--only", value: unknown, expected: "gemm, training, inference, recipe or sparse")
        }
        for (name, value) in [("--repeats", repeats), ("--steps", steps), ("--runs", runs), ("--calls", calls)] where value < 1 {
            throw DeepScratchError.invalidSetting(name: name, value: "\(value)", expected: "a positive integer")
        }
        let threadCount = threads ?? Parallelism.processorCount
        Parallelism.setThreads(threadCount)
        if json {
            if let warning = BLASBackend.report.warning { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        } else {
            Terminal.products()
        }
        let started = Date()
        var figures = [BenchFigure]()
        func report(_ new: [BenchFigure]) {
            figures += new
            guard !json else { return }
            for f in new {
                let digits = f.median >= 1000 ? 0 : (f.median >= 10 ? 1 : 2)
                var line = "  \(f.name.padding(toLength: 72, withPad: " ", startingAt: 0)) \(Format.fixed(f.median, digits)) \(f.unit)"
                line += "  [\(Format.fixed(f.min, digits)), \(Format.fixed(f.max, digits))]"
                line += f.runs > 1 ? "  (\(f.runs) runs)" : ""
                if let note = f.note { line += "  \(note)" }
                print(line)
            }
            fflush(nil)
        }
        func header(_ text: String) { if !json { print(text); fflush(nil) } }
        var ceiling: Double?
        if parts.contains("gemm") {
            header("gemm (\(threadCount) threads; GFLOP/s: median [min, max])")
            let g = BenchSuite.gemm(threads: threadCount, seconds: seconds)
            ceiling = g.first?.median
            report(g)
        }
        let needsData = parts.contains("training") || parts.contains("inference") || parts.contains("recipe")
            || parts.contains("sparse")
        let directory = needsData ? try DataLocation.resolve(data) : ""
        let dataset = parts.contains("training") || parts.contains("inference") || parts.contains("sparse")
            ? try IDXDataset.load(directory: directory) : nil
        if parts.contains("training"), let dataset {
            header("training (\(threadCount) threads; \(repeats) timed epochs of \(steps) steps each, after one untimed)"
                   + (BenchSuite.allocationCounter == nil ? "; heap allocations not counted (no LD_PRELOAD=malloc_count.so)" : ""))
            for job in [TrainingJob.c1, TrainingJob.c3(batch: 128), TrainingJob.c3(batch: 32), TrainingJob.defaultRecipe] {
                report(try BenchSuite.training(job, data: dataset.train, repeats: repeats, steps: steps, ceiling: ceiling))
            }
        }
        if parts.contains("inference"), let dataset {
            header("inference (\(threadCount) threads)")
            report(try BenchSuite.inference(modelPath: try ShippedModels.path(model), images: dataset.test, calls: calls))
        }
        if parts.contains("sparse"), let dataset {
            guard dataset.train.count > 0 else { throw CLIError("\(directory): no training images") }
            let (density, difference, timings) = SparseBenchmark.firstLayer(images: dataset.train,
                                                                standardization: Standardization(fitting: dataset.train),
                                                                seconds: seconds / 2)
            header("first layer 784-784, batch 128, one thread (ms: median [min, max]); "
                   + "\(Format.fixed(100 * density, 1)) % of the inputs are not background; sparse and dense results "
                   + "differ by at most \(String(format: "%.1e", difference)) of the largest value")
            figures.append(BenchFigure("sparse", "share of the inputs that are not background", "%",
                                       median: 100 * density, min: 100 * density, max: 100 * density, runs: 1))
            figures.append(BenchFigure("sparse", "largest difference sparse − dense, relative", "",
                                       median: difference, min: difference, max: difference, runs: 1))
            report(timings.map { BenchFigure("sparse", $0.name, "ms", median: $0.median, min: $0.min, max: $0.max, runs: $0.runs) })
        }
        if parts.contains("recipe") {
            header("default recipe: \(runs) runs of dsc train --data \(directory) --test-each-epoch")
            report(try BenchSuite.recipe(dataDirectory: directory, runs: runs, threads: threadCount))
        }
        if json {
            struct Report: Codable {
                var date: String
                var machine: String
                var threads: Int
                var products: String
                var kernels: String
                var figures: [BenchFigure]
            }
            let formatter = ISO8601DateFormatter()
            let report = Report(date: formatter.string(from: started), machine: Self.machine(), threads: threadCount,
                                products: BLASBackend.report.summary, kernels: EngineKernels.summary, figures: figures)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }

    /// The CPU model and count, from /proc/cpuinfo.
    static func machine() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        return "\(model), \(Parallelism.processorCount) CPUs"
    }
}
