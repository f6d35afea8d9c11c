/// One layer of a network, as an `Architecture` lists it (the softmax head
/// is implicit).
public enum LayerSpec: Equatable, Hashable, Sendable {
    /// A fully connected layer of this many outputs (any input is taken
    /// flattened, channel-major).
    case dense(Int)
    /// A 2-D convolution of `filters` square `kernel × kernel` filters.
    case conv(filters: Int, kernel: Int, stride: Int, padding: Int)
    /// Max or average pooling over `size × size` windows `stride` apart.
    case pool(PoolKind, size: Int, stride: Int)
    /// Batch normalization of each channel (each feature after a dense layer).
    case batchNorm
    /// An element-wise activation.
    case activation(ActivationKind)
    /// Inverted dropout keeping each value with probability `keep`.
    case dropout(keep: Double)

    /// Named architectures for `dsc train --arch`.
    public static let presets: [String: String] = [
        // 99.3 % on MNIST in four epochs (docs/performance.md): two 5×5 valid
        // convolutions, batch-normalized, each with 2×2 max pooling
        // (28→24→12→8→4), then 1024 → 256 → 10.
        "lenet": "conv 32 5x5 bn, pool 2, conv 64 5x5 bn, pool 2, dense 256 dropout 0.25, dense 10",
        // The shipped default model's network (docs/images.md, "The shipped
        // default model"): lenet's first convolution, then two batch-normalized
        // 3×3 ones before the second pooling (28→24→12→10→8→4), then
        // 1024 → 256 → 10.
        "conv3": "conv 32 5x5 bn, pool 2, conv 64 3x3 bn, conv 64 3x3 bn, pool 2, dense 256 dropout 0.3, dense 10",
    ]

    /// The output shape after each layer of `layers` on `input`, or the
    /// problem (naming the 1-based layer) when a layer does not fit.
    public static func shapes(of layers: [LayerSpec], input: ImageShape) -> Result<[ImageShape], LayerSpecProblem> {
        var shape = input
        var out = [ImageShape]()
        var flat = false
        for (i, layer) in layers.enumerated() {
            switch outputShape(of: layer, number: i + 1, input: shape, afterDense: flat) {
            case let .failure(problem): return .failure(problem)
            case let .success(next): shape = next
            }
            if case .dense = layer { flat = true }
            out.append(shape)
        }
        return .success(out)
    }

    /// The output shape of one layer, the `number`-th, on `shape`
    /// (`afterDense`: a dense layer came before, so no convolution or
    /// pooling may follow), or why it does not fit. `shape`'s sides must be
    /// at most 2^16 (or 1 after a dense layer) and its channels at most 2^20,
    /// as every shape this returns is.
    static func outputShape(of layer: LayerSpec, number: Int, input shape: ImageShape,
                            afterDense: Bool) -> Result<ImageShape, LayerSpecProblem> {
        func fail(_ reason: String) -> Result<ImageShape, LayerSpecProblem> {
            .failure(LayerSpecProblem(layer: number, reason: reason))
        }
        let next: ImageShape
        switch layer {
        case let .dense(n):
            guard (1...(1 << 20)).contains(n) else { return fail("dense size \(n) outside 1...\(1 << 20)") }
            next = ImageShape(channels: n, height: 1, width: 1)
        case let .conv(f, k, s, p):
            guard !afterDense else { return fail("a convolution cannot follow a dense layer") }
            guard (1...4096).contains(f) else { return fail("\(f) filters, expected 1...4096") }
            guard (1...15).contains(k) else { return fail("kernel \(k)x\(k), expected 1x1 to 15x15") }
            guard (1...15).contains(s) else { return fail("stride \(s), expected 1...15") }
            guard (0...k - 1).contains(p) else { return fail("padding \(p), expected 0...\(k - 1) for a \(k)x\(k) kernel") }
            guard let oh = windowCount(shape.height, kernel: k, stride: s, padding: p),
                  let ow = windowCount(shape.width, kernel: k, stride: s, padding: p) else {
                return fail("a \(k)x\(k) kernel does not fit the \(shape) input")
            }
            next = ImageShape(channels: f, height: oh, width: ow)
        case let .pool(_, size, s):
            guard !afterDense else { return fail("pooling cannot follow a dense layer") }
            guard (1...15).contains(size) else { return fail("pool size \(size), expected 1...15") }
            guard (1...15).contains(s) else { return fail("pool stride \(s), expected 1...15") }
            guard let oh = windowCount(shape.height, kernel: size, stride: s, padding: 0),
                  let ow = windowCount(shape.width, kernel: size, stride: s, padding: 0) else {
                return fail("a \(size)x\(size) pool does not fit the \(shape) input")
            }
            next = ImageShape(channels: shape.channels, height: oh, width: ow)
        case let .dropout(k):
            guard k > 0 && k <= 1 else { return fail("keep probability \(k), expected (0, 1]") }
            next = shape
        case .batchNorm, .activation:
            next = shape
        }
        // channels ≤ 2^20 and sides ≤ 2^16 + 28: the product stays below 2^53.
        let limit = ModelFormat.maximumLayerValues
        guard next.count <= limit else { return fail("\(next.count) values per example, more than \(limit)") }
        return .success(next)
    }

    /// Builds the network of `layers` on `input`, which `shapes(of:input:)`
    /// must accept. Weights are drawn in list order from one generator seeded
    /// with `seed`, with `initialization` (fan-in `C·k·k` for convolutions);
    /// biases are 0, batch normalization starts at γ = 1, β = 0; a layer
    /// followed by a batch normalization has no bias. The n-th dropout layer
    /// (from 1) draws its masks from its own generator, seeded
    /// `seed ^ (0xD509_0000 + n · 0x9E3779B9)`.
    public static func makeNetwork<T: Scalar>(
        _ layers: [LayerSpec], input: ImageShape, _: T.Type = T.self, initialization: WeightInit,
        seed: UInt64, drawWeights: Bool = true
    ) -> Network<T> {
        // Every caller validates first (Model.parse, TrainingConfig.validate,
        // Model.makeNetwork): unreachable from a file.
        guard case let .success(shapes) = shapes(of: layers, input: input) else {
            preconditionFailure("layer list does not fit its input; validate it first")
        }
        var rng = RandomSource(seed: seed)
        var built: [any Layer<T>] = []
        var shape = input
        var dropouts = 0
        let slots = TensorNames.slots(of: layers)
        for (i, spec) in layers.enumerated() {
            // Which weighted layer or normalization this is, and whether it has a bias.
            var (index, bias) = (0, true)
            switch slots[i] {
            case let .weighted(k, b): (index, bias) = (k, b)
            case let .normalization(k): index = k
            case .none: break
            }
            switch spec {
            case let .dense(n):
                let d = Dense<T>(inputSize: shape.count, outputSize: n, index: index, zeroed: drawWeights,
                                 usesBias: bias)
                if drawWeights { d.initialize(initialization, rng: &rng) }
                built.append(d)
            case let .conv(f, k, s, p):
                // Conv2D and Pool2D are nil only for a window that does not fit, which `shapes` refused above.
                let c = Conv2D<T>(input: shape, filters: f, kernel: k, stride: s, padding: p,
                                  usesBias: bias, index: index, zeroed: drawWeights)!
                if drawWeights { c.initialize(initialization, rng: &rng) }
                built.append(c)
            case let .pool(kind, size, s):
                built.append(Pool2D<T>(kind, input: shape, size: size, stride: s)!)
            case .batchNorm:
                built.append(BatchNorm<T>(channels: shape.channels, spatial: shape.area, index: index))
            case let .activation(a):
                built.append(a.makeLayer(size: shape.count, as: T.self))
            case let .dropout(k):
                // The n-th dropout layer of the list draws from seed ^ (0xD509_0000 + n·0x9E3779B9).
                dropouts += 1
                let dropoutRNG = RandomSource(seed: seed ^ (0xD509_0000 &+ UInt64(dropouts) &* 0x9E37_79B9))
                built.append(Dropout<T>(size: shape.count, keep: k, rng: dropoutRNG))
            }
            shape = shapes[i]
        }
        return Network(layers: built, classes: shape.count)
    }

    // MARK: The readable spec of `dsc train --arch`

    /// Parses a readable architecture: comma-separated layers, the last a
    /// dense layer of the class count, or the name of a preset (`lenet`, `conv3`).
    ///
    ///     conv F KxK [stride S] [pad P | same] [bn]
    ///     pool N | maxpool N | avgpool N  [stride S]   (stride defaults to N)
    ///     dense N [bn] [dropout P | keep K]
    ///     dropout P                                     (P = probability of dropping)
    ///     bn
    ///
    /// Every convolution and hidden dense layer is followed by `activation`
    /// (after its batch normalization when `bn` is given).
    /// - Throws: `DeepScratchError.invalidSetting` naming the offending token.
    public static func parse(_ spec: String, input: ImageShape, activation: ActivationKind) throws -> [LayerSpec] {
        let trimmed = spec.trimmedSpaces
        let text = presets[trimmed.lowercased()] ?? trimmed
        var layers: [LayerSpec] = []
        let tokens = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmedSpaces }
        guard !(tokens.count == 1 && tokens[0].isEmpty) else {
            throw DeepScratchError.invalidSetting(name: "--arch", value: spec,
                                                  expected: "comma-separated layers such as 'conv 32 5x5, pool 2, dense 10', or a preset: lenet, conv3")
        }
        for (t, token) in tokens.enumerated() {
            let isLast = t == tokens.count - 1
            if let problem = parseToken(token, isLast: isLast, activation: activation, into: &layers) {
                throw DeepScratchError.invalidSetting(name: "--arch layer \(t + 1)", value: token, expected: problem)
            }
        }
        guard case .dense? = layers.last else {
            throw DeepScratchError.invalidSetting(name: "--arch", value: tokens.last ?? "",
                                                  expected: "the last layer to be 'dense N' with N the class count")
        }
        if case let .failure(p) = shapes(of: layers, input: input) {
            // Name the token the failing layer came from.
            var token = tokens.last ?? ""
            var count = 0
            for candidate in tokens {
                var scratch: [LayerSpec] = []
                _ = parseToken(candidate, isLast: false, activation: activation, into: &scratch)
                count += scratch.count
                if count >= p.layer { token = candidate; break }
            }
            throw DeepScratchError.invalidSetting(name: "--arch", value: token, expected: "a layer that fits: \(p.reason)")
        }
        return layers
    }

    /// Appends the layers of one token; returns what was expected when it is not valid.
    static func parseToken(_ token: String, isLast: Bool, activation: ActivationKind,
                           into layers: inout [LayerSpec]) -> String? {
        let words = token.lowercased().split(separator: " ").map(String.init)
        guard let head = words.first else { return "a layer, not an empty entry" }
        var rest = Array(words.dropFirst())
        func positive(_ s: String?) -> Int? { s.flatMap { Int($0) }.flatMap { $0 >= 1 ? $0 : nil } }
        func takeOption(_ name: String) -> (present: Bool, value: String?) {
            guard let i = rest.firstIndex(of: name) else { return (false, nil) }
            let value = i + 1 < rest.count ? rest[i + 1] : nil
            rest.removeSubrange(i..<min(rest.count, i + 2))
            return (true, value)
        }
        switch head {
        case "conv":
            guard rest.count >= 2, let f = positive(rest[0]) else { return "'conv FILTERS KxK', e.g. 'conv 32 5x5'" }
            let sides = rest[1].split(separator: "x").map(String.init)
            guard sides.count == 2, let k = positive(sides[0]), sides[0] == sides[1] else {
                return "a square kernel 'KxK' such as 5x5, not '\(rest[1])'"
            }
            rest.removeFirst(2)
            var stride = 1, padding = 0
            let s = takeOption("stride")
            if s.present { guard let v = positive(s.value) else { return "'stride S' with S a positive integer" }; stride = v }
            let p = takeOption("pad")
            if p.present {
                guard let pv = p.value.flatMap({ Int($0) }), pv >= 0 else { return "'pad P' with P an integer >= 0" }
                padding = pv
            }
            if let i = rest.firstIndex(of: "same") {
                rest.remove(at: i)
                guard k % 2 == 1 else { return "'same' padding with an odd kernel" }
                padding = k / 2
            }
            let bn = rest.firstIndex(of: "bn").map { rest.remove(at: $0) } != nil
            guard rest.isEmpty else { return "conv options stride S, pad P, same, bn; not '\(rest.joined(separator: " "))'" }
            guard !isLast else { return "'dense N' as the last layer" }
            layers.append(.conv(filters: f, kernel: k, stride: stride, padding: padding))
            if bn { layers.append(.batchNorm) }
            layers.append(.activation(activation))
        case "pool", "maxpool", "avgpool":
            guard let n = positive(rest.first) else { return "'\(head) N' with N the window side, e.g. '\(head) 2'" }
            rest.removeFirst()
            var stride = n
            let s = takeOption("stride")
            if s.present { guard let v = positive(s.value) else { return "'stride S' with S a positive integer" }; stride = v }
            guard rest.isEmpty else { return "pool option stride S; not '\(rest.joined(separator: " "))'" }
            guard !isLast else { return "'dense N' as the last layer" }
            layers.append(.pool(head == "avgpool" ? .average : .max, size: n, stride: stride))
        case "dense", "fc":
            guard let n = positive(rest.first) else { return "'dense N' with N a positive number of units" }
            rest.removeFirst()
            let bn = rest.firstIndex(of: "bn").map { rest.remove(at: $0) } != nil
            var keep = 1.0
            let d = takeOption("dropout")
            if d.present {
                guard let p = d.value.flatMap(Double.init), p >= 0, p < 1 else { return "'dropout P' with P in [0, 1)" }
                keep = 1 - p
            }
            let k = takeOption("keep")
            if k.present {
                guard let v = k.value.flatMap(Double.init), v > 0, v <= 1 else { return "'keep K' with K in (0, 1]" }
                keep = v
            }
            guard rest.isEmpty else { return "dense options bn, dropout P, keep K; not '\(rest.joined(separator: " "))'" }
            if isLast {
                guard !bn, keep == 1 else { return "the last dense layer (the classes) without bn or dropout" }
                layers.append(.dense(n))
            } else {
                layers.append(.dense(n))
                if bn { layers.append(.batchNorm) }
                layers.append(.activation(activation))
                if keep < 1 { layers.append(.dropout(keep: keep)) }
            }
        case "dropout":
            guard rest.count == 1, let p = Double(rest[0]), p >= 0, p < 1 else { return "'dropout P' with P in [0, 1)" }
            guard !isLast else { return "'dense N' as the last layer" }
            if p > 0 { layers.append(.dropout(keep: 1 - p)) }
        case "bn", "batchnorm":
            guard rest.isEmpty, !isLast else { return isLast ? "'dense N' as the last layer" : "'bn' alone" }
            layers.append(.batchNorm)
        default:
            return "a layer: conv, pool, maxpool, avgpool, dense, dropout or bn"
        }
        return nil
    }

    /// The readable spec of `layers` (parses back to the same list with its activation).
    public static func describe(_ layers: [LayerSpec]) -> String {
        var parts: [String] = []
        for (i, layer) in layers.enumerated() {
            switch layer {
            case let .conv(f, k, s, p):
                var t = "conv \(f) \(k)x\(k)"
                if s != 1 { t += " stride \(s)" }
                if p != 0 { t += " pad \(p)" }
                parts.append(t)
            case let .pool(kind, size, s):
                parts.append((kind == .max ? "pool" : "avgpool") + " \(size)" + (s != size ? " stride \(s)" : ""))
            case let .dense(n):
                parts.append("dense \(n)")
            case .batchNorm:
                if i > 0, case .dense = layers[i - 1] { parts[parts.count - 1] += " bn" }
                else if i > 0, case .conv = layers[i - 1] { parts[parts.count - 1] += " bn" }
                else { parts.append("bn") }
            case .activation:
                break
            case let .dropout(k):
                if i > 1, case .dense = layers[i - 2], case .activation = layers[i - 1] {
                    parts[parts.count - 1] += " dropout \(Self.number(1 - k))"
                } else if i > 2, case .dense = layers[i - 3], case .batchNorm = layers[i - 2] {
                    parts[parts.count - 1] += " dropout \(Self.number(1 - k))"
                } else {
                    parts.append("dropout \(Self.number(1 - k))")
                }
            }
        }
        return parts.joined(separator: ", ")
    }

    static func number(_ x: Double) -> String {
        let rounded = (x * 1e6).rounded() / 1e6
        return rounded == rounded.rounded() ? String(Int(rounded)) : "\(rounded)"
    }

    // MARK: The model file's `model.layers` strings

    /// The inference layers as a model file lists them (dropout left out):
    /// `conv IN_C FILTERS K STRIDE PAD`, `maxpool K STRIDE`, `avgpool K STRIDE`,
    /// `batchnorm C`, `dense IN OUT`, activation names, then `softmax`.
    public static func fileStrings(_ layers: [LayerSpec], input: ImageShape) -> [String] {
        var shape = input
        var out: [String] = []
        guard case let .success(shapes) = shapes(of: layers, input: input) else { return [] }
        for (i, layer) in layers.enumerated() {
            switch layer {
            case let .dense(n): out.append("dense \(shape.count) \(n)")
            case let .conv(f, k, s, p): out.append("conv \(shape.channels) \(f) \(k) \(s) \(p)")
            case let .pool(kind, size, s): out.append("\(kind.rawValue) \(size) \(s)")
            case .batchNorm: out.append("batchnorm \(shape.channels)")
            case let .activation(a): out.append(a.rawValue)
            case .dropout: break
            }
            shape = shapes[i]
        }
        out.append("softmax")
        return out
    }

    /// Parses a model file's `model.layers` (see `fileStrings`); returns the
    /// layers or the problem. Each layer is checked against the shape the
    /// layers before it give (once: the list may hold 2^16 strings).
    static func parseFileStrings(_ strings: [String], input: ImageShape) -> Result<[LayerSpec], LayerSpecProblem> {
        guard strings.last == "softmax" else { return .failure(LayerSpecProblem(layer: strings.count, reason: "model.layers must end with softmax")) }
        var layers: [LayerSpec] = []
        var shape = input
        var afterDense = false
        for (i, text) in strings.dropLast().enumerated() {
            func fail(_ reason: String) -> Result<[LayerSpec], LayerSpecProblem> {
                .failure(LayerSpecProblem(layer: i + 1, reason: "'\(text)': \(reason)"))
            }
            let w = text.split(separator: " ").map(String.init)
            let v = w.dropFirst().compactMap { Int($0) }
            guard v.count == w.count - 1 || w.isEmpty else { return fail("expected integers after the layer name") }
            let layer: LayerSpec
            switch w.first ?? "" {
            case "dense":
                guard v.count == 2 else { return fail("expected 'dense IN OUT'") }
                guard v[0] == shape.count else { return fail("takes \(v[0]) inputs, the previous layer gives \(shape.count)") }
                layer = .dense(v[1])
            case "conv":
                guard v.count == 5 else { return fail("expected 'conv IN_CHANNELS FILTERS KERNEL STRIDE PADDING'") }
                guard v[0] == shape.channels else { return fail("takes \(v[0]) channels, the previous layer gives \(shape.channels)") }
                layer = .conv(filters: v[1], kernel: v[2], stride: v[3], padding: v[4])
            case PoolKind.max.rawValue, PoolKind.average.rawValue:
                guard v.count == 2 else { return fail("expected '\(w[0]) SIZE STRIDE'") }
                layer = .pool(w[0] == PoolKind.max.rawValue ? .max : .average, size: v[0], stride: v[1])
            case "batchnorm":
                guard v.count == 1 else { return fail("expected 'batchnorm CHANNELS'") }
                guard v[0] == shape.channels else { return fail("normalizes \(v[0]) channels, the previous layer gives \(shape.channels)") }
                layer = .batchNorm
            default:
                guard v.isEmpty, let a = ActivationKind(rawValue: text) else { return fail("not a known layer") }
                layer = .activation(a)
            }
            switch outputShape(of: layer, number: i + 1, input: shape, afterDense: afterDense) {
            case let .success(next): shape = next
            case let .failure(problem): return fail(problem.reason)
            }
            if case .dense = layer { afterDense = true }
            layers.append(layer)
        }
        guard case .dense? = layers.last else {
            return .failure(LayerSpecProblem(layer: strings.count, reason: "model.layers must end with a dense layer before softmax"))
        }
        return .success(layers)
    }
}

/// Why a layer list does not fit its input.
public struct LayerSpecProblem: Error, Equatable, Sendable {
    /// The 1-based layer.
    public var layer: Int
    public var reason: String
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmedSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
