import XCTest
@testable import DeepScratch

/// The inference executor's per-thread buffers.
final class InferenceBuffersTests: XCTestCase {
    /// A thread's block buffers are freed once the batch call that made
    /// them is done: the buffers `run` takes refer back to them, and a
    /// stored reference would keep them (1.6 MB for the shipped model's
    /// block of 256) alive after every call.
    func testBlockBuffersAreFreedWhenTheirLastUserDrops() throws {
        weak var weakBuffers: InferenceModel.BlockBuffers?
        do {
            let buffers = InferenceModel.BlockBuffers(rows: 8, widest: 32, scratch: 4, int8: nil)
            weakBuffers = buffers
            let scratch = buffers.scratch
            XCTAssert(scratch.block === buffers)
            // The regions do not overlap: x, y (8 × 32 each), one image's two activations (32 each),
            // a convolution's scratch (4), then one image's values.
            let (a, b) = try XCTUnwrap(scratch.image)
            XCTAssertEqual(scratch.y - scratch.x, 8 * 32)
            XCTAssertEqual(a - scratch.y, 8 * 32)
            XCTAssertEqual(b - a, 32)
            XCTAssertEqual(scratch.scratch - b, 32)
            XCTAssertEqual(scratch.value - scratch.scratch, 4)
        }
        XCTAssertNil(weakBuffers, "the block buffers outlived their last user")
    }
}
