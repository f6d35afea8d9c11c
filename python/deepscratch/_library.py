"""Finding and loading libdeepscratch.so, and the ctypes signature of every
function of ``include/deepscratch.h``.

The library is looked for, in this order:

1. ``$DEEPSCRATCH_LIB``: the path of the library file (when set, it must
   load: the package does not fall back to another copy behind the user's
   back);
2. the copy inside the package, ``deepscratch/_lib/libdeepscratch.so``
   (bundled by the wheel, ``make -C examples wheel``);
3. the system's loader path: ``libdeepscratch.so.1`` (after
   ``make -C examples install``, or LD_LIBRARY_PATH).

It is loaded once per process, on first use, with ``ctypes.CDLL`` (which
releases the GIL during every call). ``ds_check_version(1)`` must accept it;
a library older than 1.2 (no ``ds_version_minor``) still serves the 1.0/1.1
functions, and the methods that need a 1.2 function raise VersionMismatch.
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import POINTER, c_char_p, c_float, c_int, c_size_t, c_uint, c_void_p
from typing import Mapping, Optional

from . import errors

#: The major version of the header this package follows.
HEADER_MAJOR = 1
#: The minor version of the header this package follows (1.2: pixel buffers,
#: preprocessing, input shape, load options).
HEADER_MINOR = 2

ENV_VARIABLE = "DEEPSCRATCH_LIB"
SYSTEM_NAME = "libdeepscratch.so.1"
BUNDLED_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib", "libdeepscratch.so")

# ds_pixel_format
DS_PIXELS_GRAY8 = 1
DS_PIXELS_RGB8 = 2
DS_PIXELS_RGBA8 = 3
DS_PIXELS_GRAY16 = 4


class LoadOptions(ctypes.Structure):
    """``ds_load_options`` as the 1.2 header declares it."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("threads", c_size_t),
        ("max_model_bytes", c_size_t),
    ]


_status = c_int
_model = c_void_p  # ds_model * (opaque)
_size_p = POINTER(c_size_t)
_float_p = c_void_p  # float * (passed as an address: numpy, array.array or ctypes arrays)
_int_p = c_void_p  # int * (likewise)

#: name: (restype, argtypes), for every function of the 1.0 and 1.1 headers.
SIGNATURES = {
    "ds_version": (c_char_p, []),
    "ds_version_major": (c_int, []),
    "ds_check_version": (_status, [c_int]),
    "ds_last_error": (c_char_p, []),
    "ds_status_name": (c_char_p, [c_int]),
    "ds_model_load": (_status, [c_char_p, POINTER(c_void_p)]),
    "ds_model_load_memory": (_status, [c_void_p, c_size_t, POINTER(c_void_p)]),
    "ds_model_free": (_status, [_model]),
    "ds_model_input_size": (_status, [_model, _size_p]),
    "ds_model_class_count": (_status, [_model, _size_p]),
    "ds_model_label": (_status, [_model, c_size_t, c_char_p, c_size_t, _size_p]),
    "ds_model_metadata": (_status, [_model, c_char_p, c_size_t, _size_p]),
    "ds_classify": (_status, [_model, _float_p, c_size_t, _float_p, c_size_t, POINTER(c_int)]),
    "ds_classify_batch": (_status, [_model, _float_p, c_size_t, c_size_t, _float_p, c_size_t, _int_p]),
    "ds_classify_png_file": (_status, [_model, c_char_p, _float_p, c_size_t, POINTER(c_int)]),
    "ds_classify_png_memory": (_status, [_model, c_void_p, c_size_t, _float_p, c_size_t, POINTER(c_int)]),
    # 1.1
    "ds_set_threads": (_status, [c_size_t]),
    "ds_get_threads": (_status, [_size_p]),
    "ds_set_spin": (_status, [c_uint]),
}

#: The functions 1.2 added.
SIGNATURES_1_2 = {
    "ds_version_minor": (c_int, []),
    "ds_model_input_shape": (_status, [_model, _size_p, _size_p, _size_p]),
    "ds_classify_pixels": (_status, [_model, c_void_p, c_size_t, c_size_t, c_size_t, c_int, _float_p, c_size_t,
                                     POINTER(c_int)]),
    "ds_classify_png_files": (_status, [_model, POINTER(c_char_p), c_size_t, _float_p, c_size_t, _int_p, _int_p]),
    "ds_preprocess_png_file": (_status, [_model, c_char_p, _float_p, c_size_t]),
    "ds_preprocess_png_memory": (_status, [_model, c_void_p, c_size_t, _float_p, c_size_t]),
    "ds_preprocess_pixels": (_status, [_model, c_void_p, c_size_t, c_size_t, c_size_t, c_int, _float_p, c_size_t]),
    "ds_load_options_default": (_status, [POINTER(LoadOptions)]),
    "ds_model_load_with_options": (_status, [c_char_p, POINTER(LoadOptions), POINTER(c_void_p)]),
    "ds_model_load_memory_with_options": (_status, [c_void_p, c_size_t, POINTER(LoadOptions),
                                                    POINTER(c_void_p)]),
}


class Library:
    """A loaded libdeepscratch with its functions typed.

    Attributes:
        cdll: the ``ctypes.CDLL``; every function has argtypes and restype.
        path: where it was loaded from (a path, or the SONAME for the system
            loader).
        version: the library's "MAJOR.MINOR.PATCH".
        major, minor: its version numbers (minor from ds_version_minor, or
            from the version string for a library older than 1.2).
        has_1_2: whether the 1.2 functions exist.
    """

    def __init__(self, cdll: ctypes.CDLL, path: str):
        self.cdll = cdll
        self.path = path
        for name, (restype, argtypes) in SIGNATURES.items():
            function = getattr(cdll, name)  # AttributeError: not a DeepScratch library
            function.restype = restype
            function.argtypes = argtypes
        self.version = cdll.ds_version().decode("utf-8", "replace")
        self.major = cdll.ds_version_major()
        if cdll.ds_check_version(HEADER_MAJOR) != errors.DS_OK:
            raise errors.VersionMismatch("%s: %s" % (path, self.last_error()))
        # A 1.0 or 1.1 library has no ds_version_minor (hasattr looks it up with dlsym).
        self.has_1_2 = hasattr(cdll, "ds_version_minor")
        if self.has_1_2:
            for name, (restype, argtypes) in SIGNATURES_1_2.items():
                function = getattr(cdll, name)
                function.restype = restype
                function.argtypes = argtypes
            self.minor = cdll.ds_version_minor()
        else:
            parts = self.version.split(".")
            self.minor = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    def last_error(self) -> str:
        """``ds_last_error()`` of the calling thread, decoded (UTF-8)."""
        text = self.cdll.ds_last_error()
        return text.decode("utf-8", "replace") if text else ""

    def check(self, status: int, filename: Optional[str] = None) -> None:
        """Raises the exception for `status` (with this thread's
        ``ds_last_error()``) unless it is DS_OK. Call it right after the
        call that returned `status`, on the same thread."""
        if status != errors.DS_OK:
            raise errors.error_for_status(status, self.last_error(), filename=filename)

    def require_1_2(self, what: str) -> None:
        """Raises VersionMismatch unless the 1.2 functions exist; `what`
        names the method or option that needs them."""
        if not self.has_1_2:
            raise errors.VersionMismatch(
                "%s needs libdeepscratch 1.2 or newer; the library loaded from %s is version %s"
                % (what, self.path, self.version))


_lock = threading.Lock()
_library: Optional[Library] = None


def find_library(environ: Optional[Mapping[str, str]] = None, bundled: str = BUNDLED_PATH,
                 system_name: str = SYSTEM_NAME) -> Library:
    """Loads the library from the first place that has it (see the module's
    docstring); the arguments exist for tests. Raises LibraryNotFound
    listing the three places and what happened in each, or naming
    $DEEPSCRATCH_LIB when it is set and does not load."""
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_VARIABLE, "")
    if explicit:
        try:
            cdll = ctypes.CDLL(explicit)
        except OSError as e:
            raise errors.LibraryNotFound("$%s=%s does not load: %s" % (ENV_VARIABLE, explicit, e)) from None
        return _typed(cdll, explicit)
    tried = ["$%s (not set)" % ENV_VARIABLE]
    if os.path.exists(bundled):
        try:
            return _typed(ctypes.CDLL(bundled), bundled)
        except OSError as e:
            tried.append("the package's copy %s (%s)" % (bundled, e))
    else:
        tried.append("the package's copy %s (absent)" % bundled)
    try:
        return _typed(ctypes.CDLL(system_name), system_name)
    except OSError as e:
        tried.append("the system loader's path: %s (%s)" % (system_name, e))
    raise errors.LibraryNotFound(
        "libdeepscratch not found; looked in: %s. Set %s to the library file (built by "
        "'make -C examples lib': .build-lib/release/libdeepscratch.so), install the wheel "
        "('make -C examples wheel'), or install the library ('make -C examples install')"
        % ("; ".join("(%d) %s" % (i + 1, t) for i, t in enumerate(tried)), ENV_VARIABLE))


def _typed(cdll: ctypes.CDLL, path: str) -> Library:
    try:
        return Library(cdll, path)
    except AttributeError as e:
        raise errors.LibraryNotFound("%s is not libdeepscratch (%s)" % (path, e)) from None


def get() -> Library:
    """The process's library, loaded on the first call (thread-safe)."""
    global _library
    if _library is None:
        with _lock:
            if _library is None:
                _library = find_library()
    return _library
