"""PNG pictures: the example drawings and the fixtures classify to the digit
in their file names, by path and by bytes, with the same probabilities."""

import pathlib

import pytest

import deepscratch
from _support import EXAMPLE_DIGITS, FIXTURE_DIGITS, label_of

ALL_DIGITS = EXAMPLE_DIGITS + FIXTURE_DIGITS


def test_there_are_pictures_to_test():
    assert len(EXAMPLE_DIGITS) >= 4 and len(FIXTURE_DIGITS) == 30


@pytest.mark.parametrize("path", ALL_DIGITS, ids=lambda p: p.parent.name + "/" + p.name)
def test_png_by_path_and_by_bytes(model, path, numpy_mode):
    by_path = model.classify_png(str(path))
    assert by_path.label == label_of(path), path
    by_pathlib = model.classify_png(pathlib.Path(path))
    data = path.read_bytes()
    for by_bytes in (model.classify_png(data), model.classify_png(bytearray(data)), model.classify_png(memoryview(data))):
        assert by_bytes.label == by_path.label == by_pathlib.label
        assert list(by_bytes.probabilities) == list(by_path.probabilities)
    assert 0.5 < by_path.probability <= 1
    assert abs(sum(float(p) for p in by_path.probabilities) - 1) < 1e-5
    if numpy_mode is None:
        assert isinstance(by_path.probabilities, list)
    else:
        assert by_path.probabilities.dtype == numpy_mode.float32


def test_top_lists_the_most_probable_first(model):
    p = model.classify_png(str(EXAMPLE_DIGITS[0]))
    top = p.top(3)
    assert top[0] == (p.label, p.probability)
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
    assert len(p.top(100)) == 10 and p.top(0) == []
    assert "label=" in repr(p) and "probabilities" not in repr(p)


@pytest.mark.parametrize("path", EXAMPLE_DIGITS[:2] + FIXTURE_DIGITS[:3], ids=lambda p: p.name)
def test_preprocess_of_a_png_classifies_as_the_png(model, path, numpy_mode, needs_1_2):
    by_png = model.classify_png(str(path))
    for source in (str(path), path.read_bytes()):
        x = model.preprocess(source)
        if numpy_mode is None:
            assert isinstance(x, list) and len(x) == 28 and all(len(row) == 28 for row in x)
            flat = [v for row in x for v in row]
        else:
            assert x.shape == (28, 28) and x.dtype == numpy_mode.float32
            flat = list(x.reshape(-1))
        assert all(0 <= v <= 1 for v in flat) and max(flat) > 0.5
        again = model.classify(x)
        assert again.index == by_png.index
        assert list(again.probabilities) == list(by_png.probabilities)


def test_many_files_in_one_call(model, tmp_path, numpy_mode, needs_1_2):
    paths = [str(p) for p in ALL_DIGITS]
    results = model.classify_png_files(paths)
    assert [p.label for p in results] == [label_of(p) for p in paths]
    for path, p in zip(paths, results):
        assert list(p.probabilities) == list(model.classify_png(path).probabilities)
    assert model.classify_png_files([]) == []
    missing = str(tmp_path / "missing_4.png")
    text = tmp_path / "text_4.png"
    text.write_bytes(b"not a png")
    mixed = [paths[0], missing, paths[1], str(text)]
    with pytest.raises(deepscratch.FileError, match="missing_4.png"):
        model.classify_png_files(mixed)
    results = model.classify_png_files(mixed, return_errors=True)
    assert results[0].label == label_of(paths[0]) and results[2].label == label_of(paths[1])
    assert isinstance(results[1], deepscratch.FileError) and missing in str(results[1])
    assert isinstance(results[3], deepscratch.BadImage) and "text_4.png" in str(results[3])
    with pytest.raises(deepscratch.InvalidArgument):
        model.classify_png_files(paths[0])
