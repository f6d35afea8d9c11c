"""Bad input raises the exception of its status, with the library's message."""

import array
import math
import os
import threading

import pytest

import deepscratch
from deepscratch import errors
from _support import EXAMPLE_DIGITS, SHIPPED_MODEL, png


def test_a_missing_png_is_an_oserror_naming_the_file(model, tmp_path):
    missing = str(tmp_path / "missing_5.png")
    with pytest.raises(deepscratch.FileError) as info:
        model.classify_png(missing)
    e = info.value
    assert isinstance(e, OSError) and isinstance(e, deepscratch.Error)
    assert missing in str(e) and e.filename == missing
    assert e.status == errors.DS_ERR_IO and e.status_name == "DS_ERR_IO"
    with pytest.raises(OSError, match="missing_5.png"):
        model.classify_png(tmp_path / "missing_5.png")


def test_a_missing_png_in_preprocess(model, tmp_path, needs_1_2):
    missing = str(tmp_path / "missing_5.png")
    with pytest.raises(deepscratch.FileError, match="missing_5.png"):
        model.preprocess(missing)


def test_a_missing_model_file_is_an_oserror_naming_it(tmp_path):
    missing = str(tmp_path / "no-model.dsm")
    with pytest.raises(OSError) as info:
        deepscratch.Model(missing)
    assert isinstance(info.value, deepscratch.FileError) and missing in str(info.value)


def test_not_a_png_is_bad_image(model, tmp_path):
    with pytest.raises(deepscratch.BadImage, match="PNG") as info:
        model.classify_png(b"this is not a PNG file")
    assert info.value.status == errors.DS_ERR_BAD_IMAGE
    text = tmp_path / "text_3.png"
    text.write_bytes(b"hello")
    with pytest.raises(deepscratch.BadImage, match="text_3.png"):
        model.classify_png(str(text))
    truncated = EXAMPLE_DIGITS[0].read_bytes()[:60]
    with pytest.raises(deepscratch.BadImage):
        model.classify_png(truncated)


def test_not_a_png_in_preprocess_is_bad_image(model, needs_1_2):
    with pytest.raises(deepscratch.BadImage):
        model.preprocess(b"GIF89a not a png")


def test_a_picture_without_a_digit_is_bad_image(model, numpy_mode, needs_1_2):
    blank = [[255] * 40 for _ in range(30)]
    with pytest.raises(deepscratch.BadImage):
        model.classify(blank)
    with pytest.raises(deepscratch.BadImage):
        model.classify_png(png(40, 30, bytes([255]) * 1200, channels=1))


def test_garbage_model_bytes_are_bad_model(tmp_path):
    with pytest.raises(deepscratch.BadModel) as info:
        deepscratch.Model(b"garbage, not a model" * 10)
    assert info.value.status == errors.DS_ERR_BAD_MODEL and str(info.value)
    damaged = bytearray(SHIPPED_MODEL.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path = tmp_path / "damaged.dsm"
    path.write_bytes(bytes(damaged))
    with pytest.raises(deepscratch.BadModel, match="damaged.dsm"):
        deepscratch.Model(str(path))
    with pytest.raises(deepscratch.BadModel):
        deepscratch.Model(bytes(damaged[:100]))


def test_model_wants_a_path_or_bytes():
    with pytest.raises(deepscratch.InvalidArgument):
        deepscratch.Model(42)


def test_a_float_vector_of_the_wrong_size_is_invalid_argument(model, numpy_mode):
    with pytest.raises(deepscratch.InvalidArgument, match="783") as info:
        model.classify([0.5] * 783)
    assert isinstance(info.value, ValueError) and info.value.status == errors.DS_ERR_INVALID_ARGUMENT
    assert "784" in str(info.value)
    with pytest.raises(ValueError):
        model.classify(array.array("f", [0.0] * 785))
    if numpy_mode is not None:
        with pytest.raises(deepscratch.InvalidArgument):
            model.classify(numpy_mode.zeros((27, 28), numpy_mode.float32))
        with pytest.raises(deepscratch.InvalidArgument):
            model.classify(numpy_mode.zeros((5, 783), numpy_mode.float32))


def test_a_nan_pixel_is_invalid_argument_naming_it(model, numpy_mode):
    image = [0.0] * 784
    image[100] = math.nan
    with pytest.raises(deepscratch.InvalidArgument, match="100"):
        model.classify(image)
    batch = [[0.0] * 784, image]
    with pytest.raises(deepscratch.InvalidArgument):
        model.classify(batch)


def test_what_classify_does_not_take(model, numpy_mode):
    for bad in ("digit.png", b"\x89PNG...", bytearray(10), 3, None, [], [["a"] * 28] * 28, [[1, 2], [3]]):
        with pytest.raises(deepscratch.InvalidArgument):
            model.classify(bad)
    with pytest.raises(deepscratch.InvalidArgument, match="0 to 255"):
        model.classify([[0, 256]] * 2)
    if numpy_mode is not None:
        np = numpy_mode
        for bad in (np.zeros((28, 28), bool), np.zeros((28, 28), complex), np.zeros((2, 2, 2, 2, 2), np.uint8),
                    np.full((28, 28), -1, np.int32), np.zeros((4, 4, 3), np.uint16), np.zeros(10, np.uint8)):
            with pytest.raises(deepscratch.InvalidArgument):
                model.classify(bad)


def test_classify_png_does_not_take_arrays(model):
    with pytest.raises(deepscratch.InvalidArgument, match="classify_png"):
        model.classify_png([[0] * 28] * 28)


def test_raw_pixel_arguments_are_checked(model, needs_1_2):
    frame = bytes(4 * 10 * 10)
    for args, match in (((frame, 10, 10, "bgr8"), "format"), ((frame, 0, 10, "rgba8"), "width"),
                        ((frame, 10, 10, "rgba8", 39), "stride"), ((frame, 11, 10, "rgba8"), "holds 400 bytes"),
                        ((frame, 10, 10, 9), "format"), ((42, 10, 10), "not a buffer")):
        with pytest.raises(deepscratch.InvalidArgument, match=match):
            model.classify_pixels(*args)


def test_preprocess_takes_one_picture(model, numpy_mode, needs_1_2):
    with pytest.raises(deepscratch.InvalidArgument, match="floats"):
        model.preprocess([0.5] * 784)


def test_each_thread_gets_its_own_error_message(model, tmp_path):
    """ds_last_error is per thread: eight threads failing at once on
    different files each report their own file."""
    barrier = threading.Barrier(8)
    messages = {}

    def work(n):
        path = str(tmp_path / ("missing_%d.png" % n))
        barrier.wait()
        for _ in range(200):
            try:
                model.classify_png(path)
            except deepscratch.FileError as e:
                if path not in str(e):
                    messages[n] = str(e)
                    return
        messages[n] = "ok"

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert messages == {n: "ok" for n in range(8)}
