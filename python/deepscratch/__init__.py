"""deepscratch: classify digits with DeepScratch models from Python.

A thin layer over the C library libdeepscratch.so (``include/deepscratch.h``)
through ctypes: no compiler at install, numpy optional.

    import deepscratch

    with deepscratch.Model("model.dsm") as model:
        p = model.classify_png("digit.png")
        print(p.label, p.probability)

Contents:
    Model        a loaded model: classify, classify_png, classify_pixels,
                 preprocess, labels, metadata, input_shape, input_size,
                 class_count
    Prediction   one image's answer (label, index, probability, probabilities)
    Error and its subclasses (deepscratch.errors): InvalidArgument,
                 FileError, BadModel, BadImage, VersionMismatch, Internal,
                 LibraryNotFound
    library_version(), library_path(), set_threads(), get_threads(),
    set_spin(), default_model_path(), use_numpy()

numpy is optional and imported on first need: with it, results are numpy
arrays; without it (or after use_numpy(False)) they are lists.

The library is found through $DEEPSCRATCH_LIB, else the copy inside the
package (the wheel bundles one), else the system loader
(libdeepscratch.so.1); it is loaded on first use.
"""

from __future__ import annotations

import ctypes
import os
from typing import List, Optional

from . import _library
from ._arrays import use_numpy
from ._model import PIXEL_FORMATS, Model, Prediction
from ._version import __version__
from .errors import (BadImage, BadModel, Error, FileError, Internal, InvalidArgument, LibraryNotFound,
                     VersionMismatch)

__all__ = [
    "Model", "Prediction", "PIXEL_FORMATS",
    "Error", "InvalidArgument", "FileError", "BadModel", "BadImage", "VersionMismatch", "Internal",
    "LibraryNotFound",
    "library_version", "library_path", "set_threads", "get_threads", "set_spin", "default_model_path", "default_model_candidates", "resolve_model", "use_numpy",
    "__version__",
]

#: The shipped models the wheel carries, by name, as dsc names them:
#: "default" (the convolutional network, Sources/dsc/Resources/default.dsm)
#: and "mlp" (the smaller, faster fully connected one, mlp.dsm).
SHIPPED_MODELS = {name: os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib", name + ".dsm")
                  for name in ("default", "mlp")}
#: Where the wheel puts the default model.
BUNDLED_MODEL = SHIPPED_MODELS["default"]


def resolve_model(name_or_path: str) -> str:
    """A shipped model's name ("default", "mlp") as its bundled file, any
    other string as the path it is: names resolve before paths, as in dsc
    (write "./mlp" for a file of that name)."""
    return SHIPPED_MODELS.get(name_or_path, name_or_path)


def library_version() -> str:
    """The loaded library's version, "MAJOR.MINOR.PATCH" (``ds_version``)."""
    return _library.get().version


def library_path() -> str:
    """Where the library was loaded from (a path, or "libdeepscratch.so.1"
    for the system loader)."""
    return _library.get().path


def set_threads(threads: int) -> None:
    """``ds_set_threads``: how many threads the library computes batches
    (and convolutional layers) on, the calling thread included; 1 = only
    the caller's, 0 = one per CPU (the default). Process-wide."""
    lib = _library.get()
    if not isinstance(threads, int) or threads < 0:
        raise InvalidArgument("threads must be a non-negative int, not %r" % (threads,))
    lib.check(lib.cdll.ds_set_threads(threads))


def get_threads() -> int:
    """``ds_get_threads``: the number of threads the library uses."""
    lib = _library.get()
    n = ctypes.c_size_t()
    lib.check(lib.cdll.ds_get_threads(ctypes.byref(n)))
    return n.value


def set_spin(microseconds: int) -> None:
    """``ds_set_spin``: how long idle worker threads spin before sleeping,
    0 to 1,000,000 microseconds (default 50). Process-wide."""
    lib = _library.get()
    if not isinstance(microseconds, int) or microseconds < 0:
        raise InvalidArgument("spin must be a non-negative int, not %r" % (microseconds,))
    lib.check(lib.cdll.ds_set_spin(microseconds))


def default_model_candidates() -> List[str]:
    """Where the default model is looked for, in order: $DEEPSCRATCH_MODEL
    (if set), then the model bundled in the package (the wheel carries the
    shipped model, Sources/dsc/Resources/default.dsm)."""
    env = os.environ.get("DEEPSCRATCH_MODEL", "")
    return ([resolve_model(env)] if env else []) + [BUNDLED_MODEL]


def default_model_path() -> Optional[str]:
    """The model to use when none is named, as ``dsc predict`` picks it: the
    first of default_model_candidates() that exists, or None."""
    for candidate in default_model_candidates():
        if os.path.exists(candidate):
            return candidate
    return None
