"""pytest setup: the package under test is this checkout's (python/), the
library is $DEEPSCRATCH_LIB or else this checkout's
.build-lib/release/libdeepscratch.so (`make -C examples lib`), MNIST is in
$DEEPSCRATCH_DATA (required: the MNIST tests fail without it)."""

import os
import sys

import pytest

from _support import DEFAULT_LIB, PYTHON_DIR, SHIPPED_MODEL, read_idx

os.environ.setdefault("DEEPSCRATCH_LIB", str(DEFAULT_LIB))
sys.path.insert(0, str(PYTHON_DIR))

import deepscratch  # noqa: E402
from deepscratch import _arrays, _library  # noqa: E402


def pytest_report_header(config):
    try:
        return "deepscratch %s from %s; library %s from %s" % (
            deepscratch.__version__, os.path.dirname(deepscratch.__file__), deepscratch.library_version(),
            deepscratch.library_path())
    except deepscratch.Error as e:
        return "deepscratch: %s" % e


@pytest.fixture(scope="session")
def lib():
    return _library.get()


@pytest.fixture(scope="session")
def model_path():
    assert SHIPPED_MODEL.exists(), "the shipped model %s is missing" % SHIPPED_MODEL
    return str(SHIPPED_MODEL)


@pytest.fixture(scope="session")
def model(model_path):
    with deepscratch.Model(model_path) as m:
        yield m


@pytest.fixture
def needs_1_2(lib):
    """For tests of the 1.2 functions: they run whenever the library has
    them (test_library_is_the_headers_version fails for an older build)."""
    if not lib.has_1_2:
        pytest.skip("the library at %s is %s, without the 1.2 functions: rebuild it (make -C examples lib)"
                    % (lib.path, lib.version))


@pytest.fixture(params=["numpy", "no-numpy"])
def numpy_mode(request, monkeypatch):
    """Runs a test with numpy and again as if numpy were not installed
    (deepscratch._arrays.np = None); yields the numpy module or None."""
    if request.param == "numpy":
        np = pytest.importorskip("numpy")
        yield np
    else:
        monkeypatch.setattr(_arrays, "np", None)
        yield None


@pytest.fixture
def no_numpy(monkeypatch):
    monkeypatch.setattr(_arrays, "np", None)


def _mnist_file(stem):
    folder = os.environ.get("DEEPSCRATCH_DATA", "")
    if not folder:
        pytest.fail("DEEPSCRATCH_DATA is not set: set it to the folder holding MNIST's t10k-images-idx3-ubyte.gz "
                    "and t10k-labels-idx1-ubyte.gz (CI: ../shared/data/mnist)", pytrace=False)
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    pytest.fail("%s[.gz] is not in DEEPSCRATCH_DATA=%s" % (stem, folder), pytrace=False)


@pytest.fixture(scope="session")
def mnist():
    """MNIST's test set: (count, rows, cols, image bytes, label bytes)."""
    (count, rows, cols), images = read_idx(_mnist_file("t10k-images-idx3-ubyte"))
    (label_count,), labels = read_idx(_mnist_file("t10k-labels-idx1-ubyte"))
    assert count == label_count == 10000 and rows == cols == 28
    return count, rows, cols, images, labels
