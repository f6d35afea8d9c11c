"""Pixels in memory (1.2): camera-like RGBA frames made from MNIST digits --
enlarged 3x, dark ink on unevenly lit paper, alpha 255 -- classify exactly
as the PNG of the same pixels does, whatever container holds them."""

import array

import pytest

import deepscratch
from _support import gray_of, nested, png, rgba_frame

FRAMES = 40  # MNIST test images 0..39


@pytest.fixture(scope="module")
def frames(mnist):
    count, rows, cols, images, labels = mnist
    out = []
    for i in range(FRAMES):
        rgba, side = rgba_frame(images[i * 784:(i + 1) * 784])
        out.append((i, labels[i], rgba, side))
    return out


def _same(a, b):
    assert a.index == b.index
    assert list(a.probabilities) == list(b.probabilities)


def test_rgba_frames_classify_as_their_png(model, frames, needs_1_2):
    np = pytest.importorskip("numpy")
    correct = 0
    for i, label, rgba, side in frames:
        by_png = model.classify_png(png(side, side, rgba, channels=4))
        frame = np.frombuffer(rgba, dtype=np.uint8).reshape(side, side, 4)
        _same(model.classify(frame), by_png)
        _same(model.classify_pixels(rgba, side, side, "rgba8"), by_png)
        correct += by_png.index == label
    # The shipped model reads these frames as MNIST (it misses at most a few).
    assert correct >= FRAMES - 2, "%d of %d" % (correct, FRAMES)


def test_rgba_frames_without_numpy(model, frames, no_numpy, needs_1_2):
    for i, label, rgba, side in frames[:6]:
        by_png = model.classify_png(png(side, side, rgba, channels=4))
        _same(model.classify(nested(rgba, side, side, 4)), by_png)
        _same(model.classify(memoryview(rgba).cast("B", (side, side, 4))), by_png)
        _same(model.classify(array.array("B", rgba).tobytes() and memoryview(bytearray(rgba)).cast("B", (side, side, 4))),
              by_png)
        assert isinstance(model.classify(nested(rgba, side, side, 4)).probabilities, list)


def test_gray_rgb_and_16_bit_buffers_classify_as_their_pngs(model, frames, numpy_mode, needs_1_2):
    for i, label, rgba, side in frames[:8]:
        gray = gray_of(rgba)
        rgb = bytes(b for j, b in enumerate(rgba) if j % 4 != 3)
        gray16 = [g * 257 for g in gray]
        gray16_be = b"".join(v.to_bytes(2, "big") for v in gray16)
        cases = [
            (png(side, side, gray, channels=1), gray, 1, "gray8", "B"),
            (png(side, side, rgb, channels=3), rgb, 3, "rgb8", "B"),
            (png(side, side, gray16_be, channels=1, bit_depth=16), gray16, 1, "gray16", "H"),
        ]
        for png_bytes, flat, channels, name, code in cases:
            by_png = model.classify_png(png_bytes)
            if numpy_mode is not None:
                dtype = numpy_mode.uint16 if code == "H" else numpy_mode.uint8
                a = numpy_mode.asarray(list(flat), dtype=dtype).reshape((side, side) if channels == 1 else (side, side, channels))
            elif code == "H":
                a = memoryview(array.array("H", flat)).cast("B").cast("H", (side, side))
            else:
                a = nested(flat, side, side, channels)
            _same(model.classify(a), by_png)
            raw = array.array(code, flat)
            _same(model.classify_pixels(raw, side, side, name), by_png)


def test_a_frame_inside_a_larger_canvas_is_read_in_place(model, frames, needs_1_2):
    np = pytest.importorskip("numpy")
    i, label, rgba, side = frames[0]
    frame = np.frombuffer(rgba, dtype=np.uint8).reshape(side, side, 4)
    canvas = np.full((side + 40, side + 64, 4), 255, dtype=np.uint8)
    canvas[20:20 + side, 30:30 + side] = frame
    view = canvas[20:20 + side, 30:30 + side]  # rows padded: not contiguous
    assert not view.flags.c_contiguous
    _same(model.classify(view), model.classify(frame))
    # The same through classify_pixels with an explicit stride.
    start = (20 * canvas.shape[1] + 30) * 4
    flat = canvas.tobytes()[start:]
    _same(model.classify_pixels(flat, side, side, "rgba8", stride_bytes=canvas.shape[1] * 4), model.classify(frame))
    # Columns flipped (negative stride) are copied, and classify as the flipped picture's PNG.
    flipped = frame[:, ::-1]
    _same(model.classify(flipped), model.classify_png(png(side, side, np.ascontiguousarray(flipped).tobytes())))


def test_preprocess_of_pixels_equals_preprocess_of_the_png(model, frames, numpy_mode, needs_1_2):
    for i, label, rgba, side in frames[:5]:
        png_bytes = png(side, side, rgba, channels=4)
        if numpy_mode is not None:
            frame = numpy_mode.frombuffer(rgba, dtype=numpy_mode.uint8).reshape(side, side, 4)
            assert (model.preprocess(frame) == model.preprocess(png_bytes)).all()
        else:
            frame = nested(rgba, side, side, 4)
            assert model.preprocess(frame) == model.preprocess(png_bytes)
        _same(model.classify(model.preprocess(frame)), model.classify(frame))


def test_batches_of_pixel_images(model, frames, numpy_mode, needs_1_2):
    singles = [model.classify_png(png(side, side, rgba)) for _, _, rgba, side in frames[:5]]
    side = frames[0][3]
    if numpy_mode is not None:
        batch = numpy_mode.stack([numpy_mode.frombuffer(f[2], dtype=numpy_mode.uint8).reshape(side, side, 4)
                                  for f in frames[:5]])
        results = model.classify(batch)  # 4-D: N images
        grays = numpy_mode.stack([numpy_mode.frombuffer(gray_of(f[2]), dtype=numpy_mode.uint8).reshape(side, side)
                                  for f in frames[:5]])
        gray_results = model.classify(grays)  # 3-D, last axis not 1/3/4: N gray images
        listed = model.classify(list(batch))
    else:
        results = model.classify([nested(f[2], side, side, 4) for f in frames[:5]])
        gray_results = model.classify([nested(gray_of(f[2]), side, side, 1) for f in frames[:5]])
        listed = model.classify([memoryview(f[2]).cast("B", (side, side, 4)) for f in frames[:5]])
    assert len(results) == len(listed) == len(gray_results) == 5
    for single, a, b, g in zip(singles, results, listed, gray_results):
        _same(a, single)
        _same(b, single)
        assert g.index == single.index


def test_a_mixed_list_of_floats_and_pixels(model, frames, mnist, needs_1_2):
    count, rows, cols, images, labels = mnist
    i, label, rgba, side = frames[0]
    floats = [v / 255.0 for v in images[784:2 * 784]]
    results = model.classify([floats, nested(rgba, side, side, 4), floats])
    assert [p.index for p in results] == [model.classify(floats).index, model.classify_png(png(side, side, rgba)).index,
                                          model.classify(floats).index]
