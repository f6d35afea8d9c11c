import XCTest
@testable import DeepScratch
import DeepScratchTestSupport

/// The training distortions of `--augment`: what each draw does to an
/// image, determinism under the seed, and the batch they go into.
final class AugmentationTests: XCTestCase {
    /// A 28×28 image with a few strokes of varied gray.
    private func image() -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 784)
        for r in 4..<24 { p[r * 28 + 13] = 255; p[r * 28 + 14] = 180 }
        for c in 8..<20 { p[6 * 28 + c] = 220 }
        p[20 * 28 + 9] = 77
        return p
    }

    private func distort(_ a: Augmentation, _ draws: [Double], dx: Int = 0, dy: Int = 0, _ src: [UInt8]? = nil) -> [UInt8] {
        let src = src ?? image()
        precondition(draws.count == a.drawsPerImage(rows: 28, cols: 28))
        var work = [Float](repeating: 0, count: Augmentation.workSize(rows: 28, cols: 28)), out = [UInt8](repeating: 1, count: 784)
        a.distort(src, rows: 28, cols: 28, draws: draws, dx: dx, dy: dy, work: &work, into: &out)
        return out
    }

    func testParsingNamesEveryKindAndRefusesOthers() throws {
        XCTAssertEqual(try Augmentation(parsing: "elastic, affine"), Augmentation(affine: true, elastic: true))
        XCTAssertEqual(try Augmentation(parsing: "none"), .none)
        XCTAssertEqual(try Augmentation(parsing: "stroke").description, "stroke")
        XCTAssertEqual(Augmentation(affine: true, elastic: true, stroke: true).description, "affine,elastic,stroke")
        XCTAssertEqual(try Augmentation(parsing: "lowres,stroke"), Augmentation(stroke: true, lowres: true))
        XCTAssertEqual(Augmentation(affine: true, lowres: true).description, "affine,lowres")
        assertThrowsDeepScratchError(try Augmentation(parsing: "rotate"), mentions: ["--augment", "rotate", "affine"])
        assertThrowsDeepScratchError(try Augmentation(parsing: ""), mentions: ["--augment"])
    }

    func testZeroDrawsLeaveTheImageAsItIs() {
        let all = Augmentation(affine: true, elastic: true, stroke: true, lowres: true)
        let zeros = [Double](repeating: 0, count: all.drawsPerImage(rows: 28, cols: 28))
        XCTAssertEqual(distort(all, zeros), image())
    }

    func testTheShiftAndTheTranslationMoveTheImageByWholePixels() {
        // dx 3 right, dy 1 down: what --augment-shift does alone.
        var shifted = [UInt8](repeating: 0, count: 784)
        let src = image()
        for r in 0..<28 { for c in 0..<28 where r - 1 >= 0 && c - 3 >= 0 { shifted[r * 28 + c] = src[(r - 1) * 28 + c - 3] } }
        let affine = Augmentation(affine: true)
        XCTAssertEqual(distort(affine, [0, 0, 0, 0, 0], dx: 3, dy: 1), shifted)
        // The affine draw of translation: u = 1 is +2 px (Augmentation.translation) right, u = 0.5 +1 px down.
        var moved = [UInt8](repeating: 0, count: 784)
        for r in 0..<28 { for c in 0..<28 where r - 2 >= 0 && c - 5 >= 0 { moved[r * 28 + c] = src[(r - 2) * 28 + c - 5] } }
        XCTAssertEqual(distort(affine, [0, 0, 0, 1, 0.5], dx: 3, dy: 1), moved)
    }

    func testRotationAndScaleKeepTheInkNearTheCenterAndChangeIt() {
        let affine = Augmentation(affine: true)
        let src = image()
        let rotated = distort(affine, [1, 0, 0, 0, 0])   // +12°
        let larger = distort(affine, [0, 1, 0, 0, 0])    // 1.1×
        XCTAssertNotEqual(rotated, src)
        func ink(_ p: [UInt8]) -> Int { p.reduce(0) { $0 + Int($1) } }
        // Rotation keeps the amount of ink within interpolation's blur; 1.1× grows it by about 1.1 (a line's length).
        XCTAssertEqual(Double(ink(rotated)) / Double(ink(src)), 1, accuracy: 0.12)
        XCTAssertGreaterThan(Double(ink(larger)) / Double(ink(src)), 1.03)
        // The vertical stroke at x = 13…14 leans: its top and bottom ends move opposite ways.
        func column(_ p: [UInt8], row: Int) -> Double {
            let w = (0..<28).map { Double(p[row * 28 + $0]) }
            return zip(0..., w).reduce(0) { $0 + Double($1.0) * $1.1 } / max(1, w.reduce(0, +))
        }
        XCTAssertLessThan(column(rotated, row: 20) - 13.4, -0.5)
        XCTAssertGreaterThan(column(rotated, row: 9) - 13.4, 0.5)
    }

    func testStrokesGetThickerAndThinner() {
        let stroke = Augmentation(stroke: true)
        func ink(_ p: [UInt8]) -> Int { p.reduce(0) { $0 + Int($1) } }
        let src = image()
        XCTAssertGreaterThan(ink(distort(stroke, [0.9])), ink(src) * 3 / 2)
        XCTAssertLessThan(ink(distort(stroke, [-0.9])), ink(src) * 3 / 4)
    }

    func testLowresFillsSmallHolesKeepsTheDigitsPlaceAndSparesTheOtherHalf() {
        let lowres = Augmentation(lowres: true)
        XCTAssertEqual(lowres.drawsPerImage(rows: 28, cols: 28), 3)
        // A ring: a 3-pixel hole inside a 2-pixel stroke (an 8's loop), at rows and columns 8…14.
        var ring = [UInt8](repeating: 0, count: 784)
        for r in 8...14 { for c in 8...14 where !((10...12).contains(r) && (10...12).contains(c)) { ring[r * 28 + c] = 255 } }
        // First draw ≥ −0.5: the three quarters left alone.
        XCTAssertEqual(distort(lowres, [-0.4, 1, 0.3], ring), ring)
        XCTAssertEqual(distort(lowres, [0.9, 1, 0.3], ring), ring)
        // First draw < −0.5: coarse pixels of 3.2 px (second draw 1), the grid's phase from the third.
        var hole = 0
        for phase in [-1.0, -0.3, 0.4, 0.95] {
            let coarse = distort(lowres, [-0.8, 1, phase], ring)
            XCTAssertNotEqual(coarse, ring)
            XCTAssertGreaterThan(coarse[11 * 28 + 11], 64, "the hole fills in, at least partly (phase \(phase))")
            hole += Int(coarse[11 * 28 + 11])
            // The ink stays where the ring was, within a coarse pixel and a half (5 px).
            for r in 0..<28 { for c in 0..<28 where coarse[r * 28 + c] > 0 {
                XCTAssertTrue((3...19).contains(r) && (3...19).contains(c), "ink at \(r),\(c) (phase \(phase))")
            } }
            XCTAssertEqual(coarse.max(), 255, "the darkest coarse pixel is full ink")
        }
        XCTAssertGreaterThan(hole / 4, 160, "on average over the phases the hole is mostly ink")
        // The finest coarse pixels (2 px) keep a 3-pixel hole open at some phase, and an empty image stays empty.
        let fine = (0..<4).map { distort(lowres, [-0.8, -1, -1 + Double($0) / 2], ring)[11 * 28 + 11] }
        XCTAssertLessThan(fine.min()!, 128, "\(fine)")
        let empty = [UInt8](repeating: 0, count: 784)
        XCTAssertEqual(distort(lowres, [-0.8, 0, 0], empty), empty)
    }

    func testElasticDisplacementIsSmoothAndBounded() {
        let elastic = Augmentation(elastic: true)
        let n = elastic.drawsPerImage(rows: 28, cols: 28)
        XCTAssertEqual(n, 2 * 5 * 5, "control points every 7 px: 5 × 5, two axes")
        var rng = RandomSource(seed: 9)
        var draws: [Double] = []
        elastic.draw(count: 1, rows: 28, cols: 28, from: &rng, into: &draws)
        XCTAssertTrue(draws.allSatisfy { $0 >= -1 && $0 < 1 })
        let out = distort(elastic, Array(draws.prefix(n)))
        XCTAssertNotEqual(out, image())
        // No pixel moves more than the amplitude (2.4 px): ink stays within 3 px of where it was.
        let src = image()
        for r in 0..<28 { for c in 0..<28 where out[r * 28 + c] > 0 {
            let near = (max(0, r - 3)...min(27, r + 3)).contains { rr in (max(0, c - 3)...min(27, c + 3)).contains { src[rr * 28 + $0] > 0 } }
            XCTAssertTrue(near, "ink at \(r),\(c) came from farther than 3 px")
        } }
    }

    func testBatchesAreTheSameForTheSameDrawsAndOnAnyNumberOfThreads() throws {
        var pixels: [UInt8] = []
        for k in 0..<40 { pixels += image().map { UInt8((Int($0) * (k + 3)) % 256) } }
        let data = LabeledImages(rows: 28, cols: 28, pixels: pixels, labels: (0..<40).map { UInt8($0 % 10) })
        let all = Augmentation(affine: true, elastic: true, stroke: true)
        let indices: [Int32] = (0..<40).map { Int32((7 * $0) % 40) }
        let table = Standardization(mean: 0.1, std: 0.3).table(Float.self)
        func batch(seed: UInt64, threads: Int) -> [Float] {
            Parallelism.setThreads(threads)
            defer { Parallelism.setThreads(Parallelism.processorCount) }
            var rng = RandomSource(seed: seed), draws: [Double] = []
            all.draw(count: 40, rows: 28, cols: 28, from: &rng, into: &draws)
            let X = Matrix<Float>(rows: 784, cols: 40)
            var labels = [Int32](repeating: -1, count: 40)
            indices.withUnsafeBufferPointer {
                data.assemble($0, table: table, into: X, labels: &labels, shifts: nil, augmentation: all, draws: draws)
            }
            XCTAssertEqual(labels, indices.map { Int32($0 % 10) })
            return X.values
        }
        let one = batch(seed: 5, threads: 1)
        XCTAssertEqual(batch(seed: 5, threads: 2), one)
        XCTAssertEqual(batch(seed: 5, threads: 3), one)
        XCTAssertNotEqual(batch(seed: 6, threads: 2), one)
        // Column j is image indices[j] distorted with the j-th image's draws.
        var rng = RandomSource(seed: 5), draws: [Double] = []
        all.draw(count: 40, rows: 28, cols: 28, from: &rng, into: &draws)
        let per = all.drawsPerImage(rows: 28, cols: 28)
        let j = 11, k = Int(indices[j])
        let expected = distort(all, Array(draws[(j * per)..<((j + 1) * per)]), Array(pixels[(k * 784)..<((k + 1) * 784)]))
        XCTAssertEqual((0..<784).map { one[$0 * 40 + j] }, expected.map { table[Int($0)] })
    }
}
