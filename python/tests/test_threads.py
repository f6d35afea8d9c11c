"""One Model used from 8 Python threads at once answers as one thread does."""

import threading

import pytest

from _support import EXAMPLE_DIGITS, FIXTURE_DIGITS, png, rgba_frame

THREADS = 8


def _run_in_threads(work):
    """Runs work(n) on THREADS threads started together; returns their
    results by n, re-raising the first exception."""
    barrier = threading.Barrier(THREADS)
    results, failures = {}, []

    def body(n):
        try:
            barrier.wait()
            results[n] = work(n)
        except BaseException as e:  # reported below
            failures.append(e)

    threads = [threading.Thread(target=body, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return results


def test_float_images_and_batches_from_8_threads(model, mnist):
    np = pytest.importorskip("numpy")
    count, rows, cols, images, labels = mnist
    x = np.frombuffer(images, dtype=np.uint8).reshape(count, 784).astype(np.float32)[:2000] / 255
    expected_batch = [p.index for p in model.classify(x)]
    expected_single = [model.classify(x[i]).index for i in range(0, 2000, 7)]

    def work(n):
        singles = [model.classify(x[i]).index for i in range(0, 2000, 7)]
        batch = [p.index for p in model.classify(x[n * 250:(n + 1) * 250])]
        return singles, batch

    for n, (singles, batch) in _run_in_threads(work).items():
        assert singles == expected_single
        assert batch == expected_batch[n * 250:(n + 1) * 250]


def test_pngs_from_8_threads(model):
    paths = [str(p) for p in EXAMPLE_DIGITS + FIXTURE_DIGITS]
    expected = [list(model.classify_png(p).probabilities) for p in paths]

    def work(n):
        out = []
        for _ in range(3):
            out.append([list(model.classify_png(p).probabilities) for p in paths])
        return out

    for rounds in _run_in_threads(work).values():
        for answers in rounds:
            assert answers == expected


def test_pixel_frames_from_8_threads(model, mnist, needs_1_2):
    count, rows, cols, images, labels = mnist
    frames = [rgba_frame(images[i * 784:(i + 1) * 784]) for i in range(16)]
    expected = [model.classify_png(png(side, side, rgba)).index for rgba, side in frames]

    def work(n):
        return [[model.classify_pixels(rgba, side, side, "rgba8").index for rgba, side in frames] for _ in range(3)]

    for rounds in _run_in_threads(work).values():
        assert all(answers == expected for answers in rounds)
