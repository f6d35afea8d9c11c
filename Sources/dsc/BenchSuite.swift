import DeepScratch
import DeepScratchTools
import Foundation
import Glibc

/// One figure of `dsc bench`: the median of several measurements, with
/// their min and max.
struct BenchFigure: Codable {
    /// What part of the suite measured it: gemm, training, inference, recipe.
    var group: String
    var name: String
    var unit: String
    var median: Double
    var min: Double
    var max: Double
    /// How many measurements the median is of.
    var runs: Int
    var note: String?

    init(_ group: String, _ name: String, _ unit: String, _ values: [Double], note: String? = nil) {
        let s = values.sorted()
        self.group = group
        self.name = name
        self.unit = unit
        self.runs = s.count
        self.note = note
        median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        min = s.first!
        max = s.last!
    }

    init(_ group: String, _ name: String, _ unit: String, median: Double, min: Double, max: Double, runs: Int, note: String? = nil) {
        (self.group, self.name, self.unit, self.note) = (group, name, unit, note)
        (self.median, self.min, self.max, self.runs) = (median, min, max, runs)
    }
}

/// A training job of the peers' benchmark (../shared/peers, common.py).
struct TrainingJob {
    var name: String
    var sizes: [Int]
    var keep: Double
    var learningRate: Double
    var batch: Int
    var initialization: WeightInit
    var optimizer: OptimizerKind = .sgd
    var augmentShift = 0

    /// C1 "seed": 784-784-1024-10, SGD 0.1, dropout 0.2, weights N(0, 0.01²), batch 128.
    static let c1 = TrainingJob(name: "C1 784-784-1024-10 sgd keep 0.8 batch 128", sizes: [784, 784, 1024, 10],
                                keep: 0.8, learningRate: 0.1, batch: 128, initialization: .small)
    /// C3 "throughput": 784-1024-1024-10, plain SGD 0.05, no dropout, He init.
    static func c3(batch: Int) -> TrainingJob {
        TrainingJob(name: "C3 784-1024-1024-10 sgd batch \(batch)", sizes: [784, 1024, 1024, 10],
                    keep: 1, learningRate: 0.05, batch: batch, initialization: .he)
    }

    /// The default `dsc train` recipe's network and update (Adam, one-pixel shifts).
    static let defaultRecipe = TrainingJob(name: "default 784-512-512-10 adam keep 0.8 shift 1", sizes: [784, 512, 512, 10],
                                           keep: 0.8, learningRate: 0.001, batch: 128, initialization: .he,
                                           optimizer: .adam, augmentShift: 1)

    /// Floating-point operations of one training example: the forward
    /// products `2·Σ n_in·n_out`, the weight gradients as many again, and
    /// the input gradients of every layer but the first.
    var flopsPerSample: Double {
        let products = zip(sizes, sizes.dropFirst()).map { Double($0) * Double($1) }
        return 6 * products.reduce(0, +) - 2 * products[0]
    }
}

/// The parts of `dsc bench`'s suite.
enum BenchSuite {
    /// The heap-allocation counter of docs/tools/malloc_count.c when it is
    /// preloaded (`LD_PRELOAD`), else nil.
    static let allocationCounter: (@convention(c) () -> UInt)? = {
        guard let symbol = dlsym(nil /* RTLD_DEFAULT */, "dsbench_allocations") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) () -> UInt).self)
    }()

    /// sgemm through the engine's matrix interface on 1024³ and the shapes
    /// training uses, and the ceiling: 1024³ through OpenBLAS with its own
    /// threads.
    static func gemm(threads: Int, seconds: Double) -> [BenchFigure] {
        var figures = [BenchFigure]()
        let ceiling = GemmBenchmark.ceiling(n: 1024, threads: threads, seconds: seconds)
        figures.append(BenchFigure("gemm", "ceiling: cblas_sgemm 1024³, OpenBLAS's \(threads) threads", "GFLOP/s",
                                   median: ceiling.median, min: ceiling.min, max: ceiling.max, runs: ceiling.runs))
        let shapes: [(String, Int, Int, Int, Bool, Bool)] = [
            ("engine gemm 1024³", 1024, 1024, 1024, false, false),
            ("W1·X    784×784 · 784×128 (C1 forward)", 784, 128, 784, false, false),
            ("W2·A    1024×784 · 784×128 (C1 forward)", 1024, 128, 784, false, false),
            ("W·A     1024×1024 · 1024×128 (C3 forward)", 1024, 128, 1024, false, false),
            ("dW = dZ·Aᵀ  1024×128 · 128×784", 1024, 784, 128, false, true),
            ("dW = dZ·Aᵀ  1024×128 · 128×1024", 1024, 1024, 128, false, true),
            ("dA = Wᵀ·dZ  1024×1024ᵀ · 1024×128", 1024, 128, 1024, true, false),
        ]
        for (name, m, n, k, ta, tb) in shapes {
            let r = GemmBenchmark.measure(m: m, n: n, k: k, transposeA: ta, transposeB: tb, seconds: seconds)
            figures.append(BenchFigure("gemm", name, "GFLOP/s", median: r.median, min: r.min, max: r.max, runs: r.runs))
        }
        return figures
    }

    /// Training samples/s of `job` on the first `steps × batch` training
    /// images: `repeats` timed epochs after one untimed; also GFLOP/s, the
    /// share of `ceiling`, and heap allocations per step when counted.
    static func training(_ job: TrainingJob, data: LabeledImages, repeats: Int, steps: Int,
                         ceiling: Double?) throws -> [BenchFigure] {
        let count = Swift.min(data.count, steps * job.batch)
        let subset = data.slice(0..<count)
        var config = TrainingConfig(
            architecture: Architecture(sizes: job.sizes, activation: .relu, keep: [job.keep]),
            initialization: job.initialization, epochs: repeats + 1, batchSize: job.batch,
            optimizer: OptimizerSettings(kind: job.optimizer), learningRate: job.learningRate)
        config.augmentShift = job.augmentShift
        let trainer = try Trainer(config: config, standardization: Standardization(fitting: subset))
        var rates = [Double](), allocations = [Double]()
        rates.reserveCapacity(repeats + 1)
        allocations.reserveCapacity(repeats + 1)
        var firstCount: UInt = 0
        let counter = allocationCounter
        let observer = TrainingObserver(
            onStep: { epoch, step, steps in
                guard let counter, epoch > 1, steps > 1 else { return }
                if step == 1 { firstCount = counter() }
                if step == steps { allocations.append(Double(counter() - firstCount) / Double(steps - 1)) }
            },
            onEpoch: { r in if r.epoch > 1 { rates.append(r.samplesPerSecond) } })
        try trainer.train(subset, observer: observer)
        var figures = [BenchFigure("training", "\(job.name): samples/s", "samples/s", rates,
                                   note: "\(count) images per timed epoch")]
        let gflops = rates.map { $0 * job.flopsPerSample / 1e9 }
        figures.append(BenchFigure("training", "\(job.name): achieved GFLOP/s", "GFLOP/s", gflops,
                                   note: "\(Format.fixed(job.flopsPerSample / 1e6, 2)) MFLOP per sample"))
        if let ceiling {
            figures.append(BenchFigure("training", "\(job.name): share of the sgemm ceiling", "%",
                                       gflops.map { 100 * $0 / ceiling }, note: "ceiling \(Format.fixed(ceiling, 1)) GFLOP/s"))
        }
        if !allocations.isEmpty {
            figures.append(BenchFigure("training", "\(job.name): heap allocations per step", "allocations", allocations,
                                       note: "steps 2… of each timed epoch, counted by malloc_count.so"))
        }
        return figures
    }

    /// Classification of MNIST test images with the model at `path` by the
    /// engine's inference model, the code the C ABI's `ds_classify` and
    /// `ds_classify_batch` run (the C library itself is timed from C by
    /// `examples/latency`).
    static func inference(modelPath path: String, images: LabeledImages, calls: Int, passes: Int = 7) throws -> [BenchFigure] {
        let model = try InferenceModel(path: path)
        let size = model.inputSize, classes = model.classCount
        guard size == images.rows * images.cols else {
            throw CLIError("\(path): the model takes \(size) inputs, the test images have \(images.rows * images.cols) pixels")
        }
        // As ../shared/peers/infer_peer.py measures ONNX Runtime: the test
        // images (up to 10,000) in batches of 1,000, the images per second of
        // whole passes over them, after one warm-up pass.
        guard images.count > 0 else { throw CLIError("no test images to classify") }
        let batchSize = Swift.min(1000, images.count)
        let count = Swift.min(10_000, images.count) / batchSize * batchSize
        let pixels = images.pixels[0..<(count * size)].map { Float($0) / 255 }
        var probabilities = [Float](repeating: 0, count: batchSize * classes)
        var single = [Double](), batch = [Double]()
        single.reserveCapacity(calls)
        pixels.withUnsafeBufferPointer { x in
            probabilities.withUnsafeMutableBufferPointer { p in
                for i in 0..<(calls + 100) {
                    let t0 = monotonicSeconds()
                    model.probabilities(pixels: x.baseAddress! + (i % count) * size, into: p.baseAddress!)
                    let t = monotonicSeconds() - t0
                    if i >= 100 { single.append(t * 1e6) }
                }
                for pass in 0...passes {
                    let t0 = monotonicSeconds()
                    for start in stride(from: 0, to: count, by: batchSize) {
                        model.probabilities(batch: x.baseAddress! + start * size, count: batchSize, into: p.baseAddress!)
                    }
                    let t = monotonicSeconds() - t0
                    if pass > 0 { batch.append(Double(count) / t) }
                }
            }
        }
        let name = (path as NSString).lastPathComponent
        return [
            BenchFigure("inference", "one image (\(name))", "µs", single, note: "\(calls) calls over \(count) test images"),
            BenchFigure("inference", "batches of \(batchSize) images (\(name))", "images/s", batch,
                        note: "\(passes) passes over \(count) test images"),
        ]
    }

    /// Runs of the default `dsc train` recipe as child processes (with
    /// `--test-each-epoch`): the training time until the test accuracy first
    /// reaches 98.0 % and 98.5 %, the final accuracy, wall time and peak
    /// resident memory of the process.
    static func recipe(dataDirectory: String, runs: Int, threads: Int) throws -> [BenchFigure] {
        let executable = try selfExecutable()
        var to980 = [Double](), to985 = [Double](), final = [Double](), wall = [Double](), peak = [Double]()
        let folder = FileManager.default.temporaryDirectory.path + "/dsc-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for run in 1...runs {
            let log = folder + "/train-\(run).log"
            let arguments = ["train", "--data", dataDirectory, "--test-each-epoch", "--threads", "\(threads)",
                             "-o", folder + "/model-\(run).dsm"]
            let t0 = monotonicSeconds()
            let (status, maxRSSKiB) = try spawnAndWait(executable, arguments, output: log)
            wall.append(monotonicSeconds() - t0)
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            guard status == 0 else {
                throw CLIError("dsc \(arguments.joined(separator: " ")) exited with status \(status): \(text.split(separator: "\n").last ?? "")")
            }
            peak.append(Double(maxRSSKiB) / 1024)
            var reached980: Double?, reached985: Double?, last: Double?
            for line in text.split(separator: "\n") where line.hasPrefix("test after epoch ") {
                // "test after epoch N: 98.12% (training 7.50 s)"
                let fields = line.split(separator: " ")
                guard fields.count >= 7, let accuracy = Double(fields[4].dropLast()),
                      let seconds = Double(fields[6]) else { continue }
                last = accuracy
                if accuracy >= 98.0, reached980 == nil { reached980 = seconds }
                if accuracy >= 98.5, reached985 == nil { reached985 = seconds }
            }
            guard let last else { throw CLIError("dsc train printed no 'test after epoch' line (\(log))") }
            final.append(last)
            if let reached980 { to980.append(reached980) }
            if let reached985 { to985.append(reached985) }
        }
        var figures = [BenchFigure]()
        let recipe = "default dsc train"
        if !to980.isEmpty {
            figures.append(BenchFigure("recipe", "\(recipe): training time to 98.0 % test accuracy", "s", to980,
                                       note: to980.count < runs ? "reached in \(to980.count) of \(runs) runs" : nil))
        }
        if !to985.isEmpty {
            figures.append(BenchFigure("recipe", "\(recipe): training time to 98.5 % test accuracy", "s", to985,
                                       note: to985.count < runs ? "reached in \(to985.count) of \(runs) runs" : nil))
        }
        figures.append(BenchFigure("recipe", "\(recipe): final test accuracy", "%", final))
        figures.append(BenchFigure("recipe", "\(recipe): wall time of the whole command", "s", wall))
        figures.append(BenchFigure("recipe", "\(recipe): peak resident memory", "MiB", peak, note: "ru_maxrss of the process"))
        return figures
    }

    /// The path of the running executable.
    static func selfExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw CLIError("cannot find the dsc executable (/proc/self/exe)") }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs `executable arguments` with stdout and stderr in the file
    /// `output`; returns the exit status and the child's peak resident
    /// memory in KiB (`wait4`'s `ru_maxrss`).
    static func spawnAndWait(_ executable: String, _ arguments: [String], output: String) throws -> (Int32, Int) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw CLIError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw CLIError("waiting for \(executable): \(String(cString: strerror(errno)))") }
        }
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitStatus, usage.ru_maxrss)
    }
}
