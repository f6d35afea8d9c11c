"""The package itself: versions, finding the library, the model's
description, loading from every kind of source, load options."""

import ctypes
import os
import pathlib

import pytest

import deepscratch
from deepscratch import _library, errors
from _support import SHIPPED_MODEL, header_version


def test_package_version_is_the_headers():
    assert deepscratch.__version__ == header_version()


def test_library_is_the_headers_version(lib):
    # A library built before the Swift side of 1.2 fails here (and the 1.2 tests skip).
    assert lib.version == header_version(), "rebuild the library: make -C examples lib"
    assert lib.has_1_2 and (lib.major, lib.minor) == (1, 2)
    assert deepscratch.library_version() == lib.version
    assert deepscratch.library_path() == lib.path


def test_every_function_of_the_header_has_a_signature():
    import re
    text = re.sub(r"/\*.*?\*/", "", _support_header(), flags=re.S)
    declared = set(re.findall(r"\b(ds_[a-z0-9_]+)\s*\(", text))
    typed = set(_library.SIGNATURES) | set(_library.SIGNATURES_1_2)
    assert declared == typed


def _support_header():
    from _support import HEADER
    return HEADER.read_text()


def test_library_not_found_lists_the_three_places(tmp_path):
    absent = tmp_path / "deepscratch" / "_lib" / "libdeepscratch.so"
    with pytest.raises(deepscratch.LibraryNotFound) as info:
        _library.find_library(environ={}, bundled=str(absent), system_name="libdeepscratch-absent-for-test.so.1")
    message = str(info.value)
    assert isinstance(info.value, OSError) and isinstance(info.value, deepscratch.Error)
    assert "$DEEPSCRATCH_LIB (not set)" in message
    assert str(absent) in message
    assert "libdeepscratch-absent-for-test.so.1" in message and "system loader" in message
    assert message.index("DEEPSCRATCH_LIB") < message.index(str(absent)) < message.index("system loader")


def test_a_deepscratch_lib_that_does_not_load_is_an_error_naming_it(tmp_path):
    missing = str(tmp_path / "nowhere.so")
    with pytest.raises(deepscratch.LibraryNotFound, match="DEEPSCRATCH_LIB=" + missing):
        _library.find_library(environ={"DEEPSCRATCH_LIB": missing})
    not_a_library = tmp_path / "libfake.so"
    not_a_library.write_bytes(b"\x7fELF not really")
    with pytest.raises(deepscratch.LibraryNotFound, match="libfake.so"):
        _library.find_library(environ={"DEEPSCRATCH_LIB": str(not_a_library)})


def test_the_bundled_copy_comes_before_the_system_loader(tmp_path, lib):
    bundled = tmp_path / "libdeepscratch.so"
    os.symlink(lib.path, bundled)
    found = _library.find_library(environ={}, bundled=str(bundled), system_name="libdeepscratch-absent.so.1")
    assert found.path == str(bundled) and found.version == lib.version


def test_a_library_of_another_major_version_is_refused(lib, monkeypatch):
    monkeypatch.setattr(_library, "HEADER_MAJOR", 2)
    with pytest.raises(deepscratch.VersionMismatch) as info:
        _library.find_library(environ={"DEEPSCRATCH_LIB": lib.path})
    assert info.value.status == errors.DS_ERR_VERSION_MISMATCH
    assert "2" in str(info.value) and "1" in str(info.value)


def test_status_codes_become_their_exceptions():
    expected = {1: deepscratch.InvalidArgument, 2: deepscratch.FileError, 3: deepscratch.BadModel,
                4: deepscratch.BadImage, 5: deepscratch.VersionMismatch, 6: deepscratch.Internal,
                77: deepscratch.Internal}
    for status, cls in expected.items():
        e = errors.error_for_status(status, "text %d" % status)
        assert type(e) is cls and e.status == status and str(e) == "text %d" % status
        assert isinstance(e, deepscratch.Error)
    assert isinstance(errors.error_for_status(1, "x"), ValueError)
    assert isinstance(errors.error_for_status(2, "x"), OSError)
    assert errors.error_for_status(2, "x", filename="f.png").filename == "f.png"
    assert errors.error_for_status(3, "x").status_name == "DS_ERR_BAD_MODEL"
    assert errors.error_for_status(99, "").status_name == "status 99"
    # The package's names agree with the library's.
    lib = _library.get()
    for status, name in errors.STATUS_NAMES.items():
        assert lib.cdll.ds_status_name(status).decode() == name


def test_the_shipped_model_describes_itself(model):
    assert model.input_size == 784
    assert model.class_count == 10
    assert model.labels == [str(i) for i in range(10)]
    assert model.input_shape == (28, 28, 1)
    meta = model.metadata
    assert meta["input_shape"] == [28, 28, 1] and meta["classes"] == model.labels
    assert meta["layers"][0].startswith("conv 1 32 5 "), meta["layers"]  # the default model is the conv3 network
    model.metadata["classes"].append("x")  # a copy: the model is unchanged
    assert model.metadata["classes"] == model.labels
    assert "28x28x1" in repr(model)


def test_shipped_names_resolve_before_paths():
    for name in ("default", "mlp"):
        resolved = deepscratch.resolve_model(name)
        assert resolved == deepscratch.SHIPPED_MODELS[name]
        assert resolved.endswith(os.path.join("deepscratch", "_lib", name + ".dsm"))
    assert deepscratch.BUNDLED_MODEL == deepscratch.SHIPPED_MODELS["default"]
    for path in ("./mlp", "mlp.dsm", "/x/default", "MLP"):
        assert deepscratch.resolve_model(path) == path


def test_input_shape_is_the_librarys(model, lib, needs_1_2):
    h, w, c = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
    assert lib.cdll.ds_model_input_shape(model._h(), ctypes.byref(h), ctypes.byref(w), ctypes.byref(c)) == 0
    assert model.input_shape == (h.value, w.value, c.value)


@pytest.mark.parametrize("kind", ["str", "pathlib", "bytes", "bytearray", "memoryview"])
def test_a_model_loads_from_a_path_or_bytes(kind):
    data = SHIPPED_MODEL.read_bytes()
    source = {"str": str(SHIPPED_MODEL), "pathlib": pathlib.Path(SHIPPED_MODEL), "bytes": data,
              "bytearray": bytearray(data), "memoryview": memoryview(data)}[kind]
    with deepscratch.Model(source) as m:
        assert m.classify_png(str(SHIPPED_MODEL.parents[3] / "examples" / "digits" / "0047_7.png")).label == "7"
        assert m.labels == [str(i) for i in range(10)]


def test_close_is_idempotent_and_a_closed_model_refuses_use(model_path):
    m = deepscratch.Model(model_path)
    with m as same:
        assert same is m and not m.closed
    assert m.closed
    m.close()
    m.close()
    for use in (lambda: m.classify([0.0] * 784), lambda: m.classify_png(model_path), lambda: m.labels,
                lambda: m.input_shape, lambda: m.metadata, lambda: m.preprocess(b"x")):
        with pytest.raises(deepscratch.InvalidArgument, match="closed"):
            use()
    with pytest.raises(deepscratch.InvalidArgument):
        with m:
            pass
    assert "closed" in repr(m)


def test_threads_option_sets_the_librarys_threads(model_path):
    try:
        with deepscratch.Model(model_path, threads=1) as m:
            assert deepscratch.get_threads() == 1
            assert m.class_count == 10
        with deepscratch.Model(model_path, threads=2):
            assert deepscratch.get_threads() == 2
    finally:
        deepscratch.set_threads(0)
    with pytest.raises(deepscratch.InvalidArgument):
        deepscratch.Model(model_path, threads=-1)
    with pytest.raises(deepscratch.InvalidArgument):
        deepscratch.set_threads(257)
    deepscratch.set_spin(50)


def test_max_model_bytes_refuses_a_larger_model(model_path, needs_1_2):
    size = os.path.getsize(model_path)
    # A file: DS_ERR_IO (as a file past the format's limit); bytes: DS_ERR_BAD_MODEL.
    with pytest.raises(deepscratch.FileError, match=os.path.basename(model_path)):
        deepscratch.Model(model_path, max_model_bytes=size - 1)
    with pytest.raises(deepscratch.BadModel):
        deepscratch.Model(SHIPPED_MODEL.read_bytes(), max_model_bytes=size - 1)
    for source in (model_path, SHIPPED_MODEL.read_bytes()):
        with deepscratch.Model(source, max_model_bytes=size) as m:
            assert m.class_count == 10


def test_a_library_older_than_1_2_serves_the_rest_and_names_its_version(model, monkeypatch):
    lib = model._lib
    monkeypatch.setattr(lib, "has_1_2", False)
    monkeypatch.setattr(lib, "version", "1.1.0")
    for use in (lambda: model.preprocess(str(SHIPPED_MODEL)), lambda: model.classify([[0] * 28] * 28),
                lambda: model.classify_pixels(b"\0" * 4, 2, 2),
                lambda: deepscratch.Model(str(SHIPPED_MODEL), max_model_bytes=10 ** 9)):
        with pytest.raises(deepscratch.VersionMismatch, match=r"needs libdeepscratch 1\.2 or newer.*is version 1\.1\.0"):
            use()
    # The 1.0/1.1 functions still work.
    assert model.classify([0.0] * 784).index in range(10)
    with deepscratch.Model(str(SHIPPED_MODEL), threads=1) as m:
        assert m.input_shape == (28, 28, 1)  # from the metadata
    deepscratch.set_threads(0)


def test_numpy_is_imported_on_first_need_only():
    import subprocess
    import sys
    from _support import EXAMPLE_DIGITS, PYTHON_DIR
    code = (
        "import sys; sys.path.insert(0, %r); import deepscratch\n"
        "assert 'numpy' not in sys.modules\n"
        "deepscratch.use_numpy(False)\n"
        "m = deepscratch.Model(%r)\n"
        "p = m.classify_png(%r)\n"
        "assert 'numpy' not in sys.modules and isinstance(p.probabilities, list), p\n"
        "print(p.label)\n" % (str(PYTHON_DIR), str(SHIPPED_MODEL), str(EXAMPLE_DIGITS[0])))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXAMPLE_DIGITS[0].name[-5] + "\n"
