/// The engine's random number generator: xoshiro256** (Blackman and Vigna),
/// seeded through SplitMix64. Small, fast, and its whole state is four
/// 64-bit words, so a checkpoint can store it and a resumed run continues
/// the same sequence.
public struct RandomSource: RandomNumberGenerator, Sendable, Equatable {
    /// The generator state.
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        var z = seed
        func splitMix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// A generator continuing from a saved `state` (not all zero).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        self.state = state
        if state == (0, 0, 0, 0) { self = RandomSource(seed: 0) }
    }

    public static func == (a: RandomSource, b: RandomSource) -> Bool { a.state == b.state }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = RandomSource.rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = RandomSource.rotl(state.3, 45)
        return result
    }

    /// A uniform value in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal value (Box–Muller).
    public mutating func nextGaussian() -> Double {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - nextUniform()
        let u2 = nextUniform()
        return (-2.0 * _log(u1)).squareRoot() * _cos(2.0 * Double.pi * u2)
    }

    /// A uniform integer in `0..<bound` (bound > 0), without modulo bias (Lemire).
    @inline(__always)
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound")
        let b = UInt64(bound)
        var product = next().multipliedFullWidth(by: b)
        if product.low < b {
            let threshold = (0 &- b) % b
            while product.low < threshold { product = next().multipliedFullWidth(by: b) }
        }
        return Int(product.high)
    }

    /// Shuffles `a` in place (Fisher–Yates).
    public mutating func shuffle(_ a: inout [Int32]) {
        var i = a.count - 1
        while i > 0 {
            let j = nextInt(below: i + 1)
            a.swapAt(i, j)
            i -= 1
        }
    }
}

import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
