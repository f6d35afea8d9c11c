import XCTest
@testable import DeepScratch

/// The Float loops written with SIMD vectors (so they vectorize without the
/// masked stores of AVX) give the scalar definition's values bit for bit,
/// on every length around the vector width, with NaN, ±0 and ±∞ inputs.
final class VectorizedLoopTests: XCTestCase {
    private let specials: [Float] = [0, -0.0, 1, -1, .nan, .infinity, -.infinity, 3 * .leastNonzeroMagnitude, -3.5, 2.25]

    private func values(_ n: Int, seed: UInt64) -> [Float] {
        var rng = RandomSource(seed: seed)
        return (0..<n).map { i in i % 3 == 0 ? specials[(i / 3) % specials.count] : Float(rng.nextGaussian()) }
    }

    func testReLUBackwardInFloatMatchesTheScalarDefinitionBitForBit() {
        for n in 0...41 {
            let a = values(n, seed: UInt64(n)), d0 = values(n, seed: UInt64(100 + n))
            var d = d0
            a.withUnsafeBufferPointer { ap in
                d.withUnsafeMutableBufferPointer { reluBackward(ap.baseAddress!, $0.baseAddress!, n) }
            }
            // dZ = dA ⊙ [A > 0]
            let want = (0..<n).map { a[$0] > 0 ? d0[$0] : Float(0) }
            XCTAssertEqual(d.map(\.bitPattern), want.map(\.bitPattern), "n = \(n)")
        }
    }

    func testDropoutMaskInFloatKeepsTheSamePositionsAsTheScalarHashBitForBit() {
        let key: UInt64 = 0x1234_5678_9ABC_DEF0, threshold: UInt32 = 3_000_000_000, scale: Float = 1.25
        for (lo, hi) in [(0, 0), (0, 7), (0, 8), (3, 40), (5, 77), (1_000_003, 1_000_100)] {
            let x = values(hi, seed: UInt64(hi))
            var separate = [Float](repeating: 9, count: hi), inPlace = x
            x.withUnsafeBufferPointer { xp in
                separate.withUnsafeMutableBufferPointer {
                    applyDropoutMask(xp.baseAddress!, into: $0.baseAddress!, range: lo..<hi, key: key,
                                     threshold: threshold, scale: scale)
                }
            }
            inPlace.withUnsafeMutableBufferPointer {
                applyDropoutMask($0.baseAddress!, into: $0.baseAddress!, range: lo..<hi, key: key,
                                 threshold: threshold, scale: scale)
            }
            for i in lo..<hi {
                let want: Float = dropoutKeeps(i, key: key, threshold: threshold) ? x[i] * scale : 0
                XCTAssertEqual(separate[i].bitPattern, want.bitPattern, "position \(i) of \(lo)..<\(hi)")
                XCTAssertEqual(inPlace[i].bitPattern, want.bitPattern, "in place, position \(i)")
            }
            XCTAssertTrue(separate[..<lo].allSatisfy { $0 == 9 }, "positions before the range were written")
        }
        // The hash keeps about threshold / 2^32 of the positions (0.698 here).
        let kept = (0..<100_000).filter { dropoutKeeps($0, key: key, threshold: threshold) }.count
        XCTAssertEqual(Double(kept) / 100_000, Double(threshold) / 4_294_967_296, accuracy: 0.01)
    }
}
