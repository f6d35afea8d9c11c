import CZlib

/// A trained network with what inference needs: the architecture, the input
/// standardization and the parameters.
public struct Model: Sendable {
    /// Layer sizes and activation (dropout does not apply at inference).
    public var architecture: Architecture
    /// The standardization fitted on the training split.
    public var standardization: Standardization
    /// Parameter values in network order (`W1, b1, W2, b2, ...`), row-major.
    public var parameters: [[Float]]

    /// The model of a trained network.
    public init(network: Network<Float>, architecture: Architecture, standardization: Standardization) {
        self.architecture = architecture
        self.standardization = standardization
        self.parameters = network.parameters.map { $0.value.values }
    }

    init(architecture: Architecture, standardization: Standardization, parameters: [[Float]]) {
        self.architecture = architecture
        self.standardization = standardization
        self.parameters = parameters
    }

    /// A network (Float32, no dropout) holding this model's parameters.
    public func makeNetwork() -> Network<Float> {
        var inference = architecture
        inference.keep = Array(repeating: 1, count: inference.keep.count)
        let net = inference.makeNetwork(Float.self, seed: 0)
        for (p, values) in zip(net.parameters, parameters) {
            values.withUnsafeBufferPointer { p.value.data.update(from: $0.baseAddress!, count: values.count) }
        }
        return net
    }

    // A deliberately simple interim format (the versioned format with its
    // spec replaces it): magic, sizes, activation, standardization, the
    // parameters as little-endian float32, and a CRC-32 of all of it.
    static let magic: [UInt8] = Array("DSMODEL0".utf8)

    /// The model as file bytes.
    public func serialized() -> [UInt8] {
        var out = Model.magic
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out += $0 } }
        func f64(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        u32(architecture.sizes.count)
        architecture.sizes.forEach(u32)
        let name = Array(architecture.activation.rawValue.utf8)
        u32(name.count)
        out += name
        f64(standardization.mean)
        f64(standardization.std)
        u32(parameters.count)
        for p in parameters {
            u32(p.count)
            for v in p { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        }
        let crc = out.withUnsafeBufferPointer { crc32(0, $0.baseAddress, UInt32($0.count)) }
        u32(Int(crc))
        return out
    }

    /// Writes the model to `path` atomically.
    /// - Throws: `DeepScratchError.cannotWrite`.
    public func save(to path: String) throws {
        try AtomicFile.write(serialized(), to: path)
    }

    /// Reads a model file, checking every length against the file size.
    /// - Throws: `DeepScratchError.cannotRead` or `.badModel` naming the problem.
    public static func load(path: String) throws -> Model {
        let bytes = try AtomicFile.read(path, limit: 1 << 30)
        return try parse(bytes, path: path)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> Model {
        func bad(_ reason: String) -> DeepScratchError { .badModel(path: path, reason: reason) }
        guard bytes.count >= magic.count + 4, Array(bytes.prefix(magic.count)) == magic else {
            throw bad("missing the DSMODEL0 magic bytes")
        }
        let body = bytes.count - 4
        let stored = bytes[body..<bytes.count].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        let crc = bytes.withUnsafeBufferPointer { crc32(0, $0.baseAddress, UInt32(body)) }
        guard stored == UInt32(crc) else { throw bad("checksum mismatch (file damaged)") }
        var at = magic.count
        func u32(_ field: String) throws -> Int {
            guard at + 4 <= body else { throw bad("truncated at \(field)") }
            var v = 0
            for k in 0..<4 { v |= Int(bytes[at + k]) << (8 * k) }
            at += 4
            return v
        }
        func f64(_ field: String) throws -> Double {
            guard at + 8 <= body else { throw bad("truncated at \(field)") }
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[at + k]) << (8 * UInt64(k)) }
            at += 8
            return Double(bitPattern: v)
        }
        let layerCount = try u32("layer count")
        guard (2...64).contains(layerCount) else { throw bad("layer count \(layerCount) outside 2...64") }
        var sizes = [Int]()
        for _ in 0..<layerCount {
            let s = try u32("layer size")
            guard (1...1 << 20).contains(s) else { throw bad("layer size \(s) outside 1...1048576") }
            sizes.append(s)
        }
        let nameLength = try u32("activation")
        guard nameLength <= 32, at + nameLength <= body else { throw bad("activation name length \(nameLength)") }
        let name = String(decoding: bytes[at..<(at + nameLength)], as: UTF8.self)
        at += nameLength
        guard let activation = ActivationKind(rawValue: name) else { throw bad("unknown activation '\(name)'") }
        let mean = try f64("mean"), std = try f64("std")
        guard mean.isFinite, std.isFinite, std > 0 else { throw bad("standardization mean \(mean), std \(std)") }
        let architecture = Architecture(sizes: sizes, activation: activation)
        let expected = (1..<sizes.count).flatMap { [sizes[$0] * sizes[$0 - 1], sizes[$0]] }
        let count = try u32("parameter count")
        guard count == expected.count else { throw bad("\(count) parameter tensors, expected \(expected.count)") }
        var parameters = [[Float]]()
        for e in expected {
            let n = try u32("tensor length")
            guard n == e else { throw bad("tensor of \(n) values, expected \(e)") }
            guard at + 4 * n <= body else { throw bad("truncated inside a tensor") }
            var values = [Float](repeating: 0, count: n)
            for i in 0..<n {
                let o = at + 4 * i
                let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
                values[i] = Float(bitPattern: bits)
            }
            at += 4 * n
            parameters.append(values)
        }
        guard at == body else { throw bad("\(body - at) unexpected trailing bytes") }
        return Model(architecture: architecture, standardization: Standardization(mean: mean, std: std),
                     parameters: parameters)
    }
}
