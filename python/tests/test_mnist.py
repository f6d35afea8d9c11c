"""The 10,000 MNIST test images through Model.classify agree exactly with
the C library's own ds_classify_batch, called directly through ctypes."""

import array
import ctypes

import pytest

import deepscratch


def _c_classes(lib_path, model_path, floats, count):
    """The classes ds_classify_batch gives, through a ctypes binding of its
    own (not the package's)."""
    c = ctypes.CDLL(lib_path)
    c.ds_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    c.ds_model_load.restype = ctypes.c_int
    c.ds_model_free.argtypes = [ctypes.c_void_p]
    c.ds_classify_batch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                    ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    c.ds_classify_batch.restype = ctypes.c_int
    handle = ctypes.c_void_p()
    assert c.ds_model_load(model_path.encode(), ctypes.byref(handle)) == 0
    classes = (ctypes.c_int * count)()
    pixels = (ctypes.c_float * (count * 784)).from_buffer(floats)
    assert c.ds_classify_batch(handle, pixels, count, 784, None, 0, classes) == 0
    c.ds_model_free(handle)
    return list(classes)


@pytest.fixture(scope="module")
def mnist_floats(mnist):
    count, rows, cols, images, labels = mnist
    floats = array.array("f", (v / 255.0 for v in images))
    return count, floats, list(labels)


@pytest.fixture(scope="module")
def c_classes(mnist_floats, model_path, lib):
    count, floats, _ = mnist_floats
    return _c_classes(lib.path, model_path, floats, count)


def test_mnist_numpy_batch_agrees_exactly_with_the_c_library(model, mnist, mnist_floats, c_classes):
    np = pytest.importorskip("numpy")
    count, rows, cols, images, labels = mnist
    x = np.frombuffer(images, dtype=np.uint8).reshape(count, rows * cols).astype(np.float32) / 255
    predictions = model.classify(x)
    assert isinstance(predictions, list) and len(predictions) == count
    ours = [p.index for p in predictions]
    assert ours == c_classes
    accuracy = sum(p == y for p, y in zip(ours, labels)) / count
    assert accuracy > 0.985, "accuracy %.4f" % accuracy
    p = predictions[0]
    assert isinstance(p.probabilities, np.ndarray) and p.probabilities.dtype == np.float32
    assert p.probabilities.shape == (10,) and abs(float(p.probabilities.sum()) - 1) < 1e-5
    assert p.label == model.labels[p.index] and p.probability == float(p.probabilities[p.index])
    # The same images as (N, 28, 28) and as float64 give the same classes.
    assert [p.index for p in model.classify(x.reshape(count, 28, 28).astype(np.float64))] == c_classes


def test_mnist_without_numpy_agrees_exactly_with_the_c_library(model, mnist_floats, c_classes, no_numpy):
    count, floats, labels = mnist_floats
    batch = memoryview(floats).cast("B").cast("f", (count, 784))
    predictions = model.classify(batch)
    assert [p.index for p in predictions] == c_classes
    assert isinstance(predictions[0].probabilities, list) and len(predictions[0].probabilities) == 10


def test_single_images_agree_with_the_batch(model, mnist_floats, c_classes, numpy_mode):
    count, floats, _ = mnist_floats
    for i in range(0, count, 97):
        one = floats[i * 784:(i + 1) * 784]
        image = numpy_mode.asarray(one, dtype=numpy_mode.float32).reshape(28, 28) if numpy_mode is not None \
            else [list(one[r * 28:(r + 1) * 28]) for r in range(28)]
        assert model.classify(image).index == c_classes[i], "image %d" % i
        assert model.classify(array.array("f", one)).index == c_classes[i]


def test_a_list_of_float_images_is_one_batch(model, mnist_floats, c_classes, numpy_mode):
    count, floats, _ = mnist_floats
    images = [floats[i * 784:(i + 1) * 784] for i in range(20)]
    if numpy_mode is not None:
        images = [numpy_mode.asarray(im, dtype=numpy_mode.float32) for im in images]
    predictions = model.classify(images)
    assert [p.index for p in predictions] == c_classes[:20]


def test_an_empty_float_batch_is_an_empty_list(model):
    np = pytest.importorskip("numpy")
    assert model.classify(np.zeros((0, 784), np.float32)) == []
