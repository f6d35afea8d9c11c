"""deepscratch.Model and deepscratch.Prediction."""

from __future__ import annotations

import ctypes
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple, Union

from . import _arrays, _library
from ._arrays import F32, U16, U8, Tensor
from .errors import Error, InvalidArgument, error_for_status

PathLike = Union[str, "os.PathLike[str]"]

#: Pixel formats by name, for classify_pixels / preprocess_pixels.
PIXEL_FORMATS = {
    "gray8": _library.DS_PIXELS_GRAY8,
    "rgb8": _library.DS_PIXELS_RGB8,
    "rgba8": _library.DS_PIXELS_RGBA8,
    "gray16": _library.DS_PIXELS_GRAY16,
}
_BYTES_PER_PIXEL = {
    _library.DS_PIXELS_GRAY8: 1,
    _library.DS_PIXELS_RGB8: 3,
    _library.DS_PIXELS_RGBA8: 4,
    _library.DS_PIXELS_GRAY16: 2,
}
_FORMAT_OF_CHANNELS = {
    (U8, 1): _library.DS_PIXELS_GRAY8,
    (U8, 3): _library.DS_PIXELS_RGB8,
    (U8, 4): _library.DS_PIXELS_RGBA8,
    (U16, 1): _library.DS_PIXELS_GRAY16,
}


@dataclass(frozen=True, eq=False)
class Prediction:
    """What the model answers for one image.

    Attributes:
        label: the predicted class's label (str, e.g. "7").
        index: the predicted class's index, 0 <= index < class_count.
        probability: the predicted class's probability (a Python float
            holding the library's float32 value).
        probabilities: every class's probability, class_count values that
            sum to 1: a numpy float32 array of shape (class_count,) when
            numpy is installed, else a list of Python floats.
        labels: the model's labels (index -> label), for ``top``.
    """

    label: str
    index: int
    probability: float
    probabilities: Any = field(repr=False)
    labels: Tuple[str, ...] = field(repr=False)

    def top(self, k: int = 1) -> List[Tuple[str, float]]:
        """The `k` most probable classes as (label, probability) pairs, most
        probable first; equal probabilities in class order (as ``dsc predict
        --top`` lists them)."""
        values = [float(p) for p in self.probabilities]
        order = sorted(range(len(values)), key=lambda i: (-values[i], i))
        return [(self.labels[i], values[i]) for i in order[:max(0, k)]]


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def _encode_path(path: PathLike) -> Tuple[bytes, str]:
    """The path as the library takes it (the file system's bytes, UTF-8 on
    Linux) and as text for messages."""
    return os.fsencode(path), os.fsdecode(path)


class Model:
    """A loaded DeepScratch model (.dsm) that classifies digits.

    ``Model(source, threads=None, max_model_bytes=None)``

    Args:
        source: the model file's path (str or os.PathLike), or the file's
            contents (bytes, bytearray, memoryview or any bytes-like
            object; only read while loading).
        threads: if given, the library's process-wide thread count
            (``ds_set_threads``: 1 = only the calling thread, 0 = one per
            CPU), set before the model loads.
        max_model_bytes: if given, refuse a model of more bytes than this
            before reading it (a file: FileError, as the library reports a
            file past the format's 2 GiB; bytes: BadModel). Needs a 1.2
            library.

    Raises:
        FileError (an OSError): the file cannot be read; the message names it.
        BadModel: not a valid model file.
        InvalidArgument: a bad argument.
        VersionMismatch: max_model_bytes with a library older than 1.2.
        LibraryNotFound: libdeepscratch.so could not be loaded.

    A model is immutable: any number of Python threads may call its methods
    at the same time (the library runs them in parallel; ctypes releases the
    GIL during each call). Use it as a context manager or call ``close()``
    to free it at once; closing twice is harmless, and any use after
    ``close()`` raises InvalidArgument. Calls other threads already started
    finish normally; do not close a model other threads still use.
    """

    def __init__(self, source: Union[PathLike, bytes, bytearray, memoryview], threads: Optional[int] = None,
                 max_model_bytes: Optional[int] = None):
        self._handle: Optional[int] = None
        self._lock = threading.Lock()
        lib = _library.get()
        self._lib = lib
        for name, value in (("threads", threads), ("max_model_bytes", max_model_bytes)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise InvalidArgument("%s must be a non-negative int, not %r" % (name, value))
        options = None
        if max_model_bytes is not None or (threads is not None and lib.has_1_2):
            lib.require_1_2("Model(max_model_bytes=...)")
            options = _library.LoadOptions()
            lib.check(lib.cdll.ds_load_options_default(ctypes.byref(options)))
            options.threads = threads or 0
            options.max_model_bytes = max_model_bytes or 0
            if threads == 0:  # "one per CPU" has no load-option spelling (0 means: leave alone)
                lib.check(lib.cdll.ds_set_threads(0))
        elif threads is not None:  # a 1.0/1.1 library: the same, by hand
            lib.check(lib.cdll.ds_set_threads(threads))

        handle = ctypes.c_void_p()
        if _is_path(source):
            path, text = _encode_path(source)
            if options is not None:
                status = lib.cdll.ds_model_load_with_options(path, ctypes.byref(options), ctypes.byref(handle))
            else:
                status = lib.cdll.ds_model_load(path, ctypes.byref(handle))
            lib.check(status, filename=text)
            self.source = text
        else:
            try:
                size = _arrays.nbytes(source)
            except TypeError:
                raise InvalidArgument("Model() takes a path (str or os.PathLike) or the model file's bytes, not "
                                      "%s" % _arrays.describe(source)) from None
            data, keep = _arrays.address(source)
            if options is not None:
                status = lib.cdll.ds_model_load_memory_with_options(data, size, ctypes.byref(options),
                                                                    ctypes.byref(handle))
            else:
                status = lib.cdll.ds_model_load_memory(data, size, ctypes.byref(handle))
            del keep
            lib.check(status)
            self.source = "<%d bytes>" % size
        self._handle = handle.value
        try:
            self._describe()
        except BaseException:
            self.close()
            raise

    def _describe(self) -> None:
        """Reads what the model says about itself (it never changes)."""
        lib, cdll, h = self._lib, self._lib.cdll, self._handle
        size = ctypes.c_size_t()
        lib.check(cdll.ds_model_input_size(h, ctypes.byref(size)))
        self._input_size = size.value
        lib.check(cdll.ds_model_class_count(h, ctypes.byref(size)))
        self._class_count = size.value
        self._labels = tuple(self._string(cdll.ds_model_label, i) for i in range(self._class_count))
        self._metadata_json = self._string(cdll.ds_model_metadata)
        if lib.has_1_2:
            height, width, channels = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
            lib.check(cdll.ds_model_input_shape(h, ctypes.byref(height), ctypes.byref(width), ctypes.byref(channels)))
            self._input_shape = (height.value, width.value, channels.value)
        else:
            # A 1.0/1.1 library: the metadata states the same shape.
            shape = json.loads(self._metadata_json).get("input_shape") or [self._input_size, 1, 1]
            self._input_shape = tuple(int(n) for n in shape)

    def _string(self, getter, *index) -> str:
        length = ctypes.c_size_t()
        self._lib.check(getter(self._handle, *index, None, 0, ctypes.byref(length)))
        buffer = ctypes.create_string_buffer(length.value + 1)
        self._lib.check(getter(self._handle, *index, buffer, len(buffer), None))
        return buffer.value.decode("utf-8", "replace")

    # --- lifetime --------------------------------------------------------

    def close(self) -> None:
        """Frees the model (``ds_model_free``). Safe to call more than once."""
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.check(self._lib.cdll.ds_model_free(handle))

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._handle is None

    def __enter__(self) -> "Model":
        self._h()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            try:
                self._lib.cdll.ds_model_free(handle)
            except Exception:  # interpreter shutdown
                pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else "%d inputs (%dx%dx%d), %d classes" % (
            (self._input_size,) + tuple(self._input_shape) + (self._class_count,))
        return "<deepscratch.Model %s: %s>" % (self.source, state)

    def _h(self) -> int:
        handle = self._handle
        if handle is None:
            raise InvalidArgument("the model (%s) is closed" % self.source)
        return handle

    # --- what the model is ----------------------------------------------

    @property
    def input_size(self) -> int:
        """The number of input values of one image (784 for 28x28x1)."""
        self._h()
        return self._input_size

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """(height, width, channels) of the model's input image, e.g.
        (28, 28, 1); their product is input_size. From
        ``ds_model_input_shape`` (with a 1.0/1.1 library: from the
        metadata's "input_shape")."""
        self._h()
        return self._input_shape

    @property
    def class_count(self) -> int:
        """The number of classes (10 for digits)."""
        self._h()
        return self._class_count

    @property
    def labels(self) -> List[str]:
        """The class labels, index by index (``ds_model_label``)."""
        self._h()
        return list(self._labels)

    @property
    def metadata(self) -> dict:
        """The model's metadata (``ds_model_metadata``) as a dict: "layers",
        "input_shape", "classes", "input" (standardization and polarity),
        "precision", "parameter_count", "metadata" (training information)."""
        self._h()
        return json.loads(self._metadata_json)

    # --- classifying ------------------------------------------------------

    def classify(self, images: Any) -> Union[Prediction, List[Prediction]]:
        """Classifies one image or a batch.

        One image -> a Prediction:
          - pixels: a 2-D (height, width) array of uint8 gray (or uint16
            gray), or a 3-D (height, width, channels) uint8 array with 1
            (gray), 3 (RGB) or 4 (RGBA, not premultiplied) channels, of any
            size and polarity: the library preprocesses it exactly as a PNG
            of the same pixels (``ds_classify_pixels``; needs a 1.2 library).
            Rows may be padded (a numpy view of a larger frame is not copied).
          - floats (numpy float16/32/64, or nested lists containing floats)
            already in the model's input form: input_size values in [0, 1],
            0 background, 1 ink, of shape (input_size,), (height, width) when
            channels is 1, or (height, width, channels) (``ds_classify``).

        A batch -> a list of Predictions, in order:
          - floats of shape (N, input_size), (N, height, width) or
            (N, height, width, channels): one ``ds_classify_batch`` call (on
            the library's threads);
          - a 4-D (N, height, width, channels) integer array, or a 3-D one
            whose last axis is not 1, 3 or 4 (N gray images): one
            ``ds_classify_pixels`` call per image;
          - a list or tuple of images (each as above, any mix of sizes): the
            float images of the model's shape go through one
            ``ds_classify_batch`` call, the others one call each.

        Without numpy the same shapes work as nested lists (integers ->
        uint8 pixels, 0..255; any float -> floats), ``array.array`` or
        multi-dimensional ``memoryview`` objects ('B', 'H', 'f', 'd'). A 3-D
        integer array whose last axis is 1, 3 or 4 is always one image.

        Raises:
            InvalidArgument: a shape, dtype or value the model cannot take
                (also NaN or infinite floats, or a closed model).
            BadImage: pixels with no digit in them, or beyond the library's
                limits (sides up to 16384, at most 2^26 pixels).
            VersionMismatch: pixels with a library older than 1.2.
        """
        if _is_path(images) or _arrays.is_png_bytes(images):
            raise InvalidArgument("classify() takes pixel arrays or floats, not %s: for PNG files or their bytes "
                                  "use classify_png(); for a raw pixel buffer use classify_pixels(buffer, width, "
                                  "height, format)" % _arrays.describe(images))
        if _arrays.is_image_list(images):
            return self._classify_list(list(images))
        t = _arrays.to_tensor(images)
        if t.kind == F32:
            form = self._float_form(t.shape)
            if form == "one":
                return self._classify_floats([t])[0]
            return self._classify_float_batch(t)
        if self._pixel_form(t) == "one":
            return self._classify_pixel_tensor(t)
        return [self._classify_pixel_tensor(t.item(i)) for i in range(t.shape[0])]

    def classify_png(self, png: Union[PathLike, bytes, bytearray, memoryview]) -> Prediction:
        """Classifies a PNG picture of a digit: a file's path (str or
        os.PathLike: ``ds_classify_png_file``) or the file's contents
        (bytes-like: ``ds_classify_png_memory``). Any color type, bit depth,
        size or polarity.

        Raises:
            FileError (an OSError): the file cannot be read (the message
                names it).
            BadImage: not a PNG, damaged, too large, or no digit in it.
        """
        lib, h = self._lib, self._h()
        probabilities, p_address = _arrays.float_buffer(self._class_count)
        k = ctypes.c_int(-1)
        if _is_path(png):
            path, text = _encode_path(png)
            status = lib.cdll.ds_classify_png_file(h, path, p_address, self._class_count, ctypes.byref(k))
            lib.check(status, filename=text)
        elif _arrays.is_png_bytes(png):
            data, keep = _arrays.address(png)
            status = lib.cdll.ds_classify_png_memory(h, data, _arrays.nbytes(png), p_address, self._class_count,
                                                     ctypes.byref(k))
            del keep
            lib.check(status)
        else:
            raise InvalidArgument("classify_png() takes a path or PNG bytes, not %s (for pixel arrays use "
                                  "classify())" % _arrays.describe(png))
        return self._prediction(probabilities, k.value)

    def classify_png_files(self, paths: Sequence[PathLike], return_errors: bool = False
                           ) -> List[Union[Prediction, Error]]:
        """Classifies many PNG files in one call, across the library's
        threads (``ds_classify_png_files``; needs a 1.2 library); each file
        as classify_png() would.

        Returns one entry per path, in order: a Prediction, or -- for a file
        that failed, when `return_errors` is true -- the exception
        classify_png() raises for it (FileError, BadImage, ...; not raised).
        With `return_errors` false (the default) the first failed file's
        exception is raised once all files have been tried.
        """
        lib, h = self._lib, self._h()
        lib.require_1_2("Model.classify_png_files()")
        if _is_path(paths) or _arrays.is_png_bytes(paths):
            raise InvalidArgument("classify_png_files() takes a list of paths, not %s" % _arrays.describe(paths))
        encoded = []
        for p in paths:
            if not _is_path(p):
                raise InvalidArgument("classify_png_files(): %r is not a path" % (p,))
            encoded.append(_encode_path(p))
        count = len(encoded)
        if count == 0:
            return []
        c = self._class_count
        path_array = (ctypes.c_char_p * count)(*(path for path, _ in encoded))
        probabilities, p_address = _arrays.float_buffer(count * c)
        classes, c_address = _arrays.int_buffer(count)
        statuses, s_address = _arrays.int_buffer(count)
        status = lib.cdll.ds_classify_png_files(h, path_array, count, p_address, count * c, c_address, s_address)
        message = lib.last_error() if status != 0 else ""
        results: List[Union[Prediction, Error]] = []
        rows = probabilities.reshape(count, c) if hasattr(probabilities, "reshape") else None
        first_error: Optional[Error] = None
        for i, (path, text) in enumerate(encoded):
            if int(statuses[i]) == 0:
                row = rows[i] if rows is not None else probabilities[i * c:(i + 1) * c]
                results.append(self._prediction(row, int(classes[i])))
                continue
            # The library's message names only the first failure: ask again
            # for this file's own (on this thread, right after the call).
            try:
                self.classify_png(text)
                error: Error = error_for_status(int(statuses[i]), message, filename=text)
            except Error as e:
                error = e
            first_error = first_error or error
            results.append(error)
        if first_error is not None and not return_errors:
            raise first_error
        if status != 0 and first_error is None:
            lib.check(status)  # a failure of the call itself
        return results

    def classify_pixels(self, buffer: Any, width: int, height: int, format: Union[str, int] = "gray8",
                        stride_bytes: Optional[int] = None) -> Prediction:
        """Classifies a raw pixel buffer, such as a camera frame or a canvas
        (``ds_classify_pixels``; needs a 1.2 library).

        Args:
            buffer: bytes-like (bytes, bytearray, memoryview, array.array,
                numpy array) holding `height` rows of `width` pixels.
            format: "gray8" (1 byte), "rgb8" (3), "rgba8" (4: alpha not
                premultiplied, 0 transparent), "gray16" (2 bytes, host
                byte order), or the ds_pixel_format number.
            stride_bytes: bytes from the start of one row to the next
                (default: width times the pixel's bytes).

        Returns a Prediction; raises as classify() does.
        """
        args = self._raw_pixel_args(buffer, width, height, format, stride_bytes, "classify_pixels()")
        return self._classify_pixels(*args)

    def preprocess(self, image: Any) -> Any:
        """What classification sees: the model-input image that a PNG
        (a path, or bytes / bytearray / a 1-D byte buffer of a file's
        contents) or a pixel array (as classify() takes for one image)
        becomes (``ds_preprocess_png_file``, ``ds_preprocess_png_memory``,
        ``ds_preprocess_pixels``; needs a 1.2 library).

        Returns input_size float32 values in [0, 1] (0 background, 1 ink):
        a numpy float32 array of shape (height, width) -- (height, width,
        channels) for a model with several channels -- or, without numpy,
        nested lists of Python floats of that shape. ``classify()`` of the
        result gives the same answer as classifying the original.
        """
        lib, h = self._lib, self._h()
        lib.require_1_2("Model.preprocess()")
        out, out_address = _arrays.float_buffer(self._input_size)
        if _is_path(image):
            path, text = _encode_path(image)
            lib.check(lib.cdll.ds_preprocess_png_file(h, path, out_address, self._input_size), filename=text)
        elif _arrays.is_png_bytes(image):
            data, keep = _arrays.address(image)
            status = lib.cdll.ds_preprocess_png_memory(h, data, _arrays.nbytes(image), out_address, self._input_size)
            del keep
            lib.check(status)
        else:
            t = _arrays.to_tensor(image)
            if t.kind == F32:
                raise InvalidArgument("preprocess() takes pixels (uint8 or uint16) or a PNG, not floats: floats are "
                                      "already the model's input")
            if self._pixel_form(t) != "one":
                raise InvalidArgument("preprocess() takes one image, not a batch of shape %s" % (t.shape,))
            buffer, height, width, channels, stride = _arrays.pixel_layout(t)
            pixel_format = self._format_of(t, channels)
            data, keep = _arrays.strided_address(buffer)
            status = lib.cdll.ds_preprocess_pixels(h, data, width, height, stride, pixel_format, out_address,
                                                   self._input_size)
            del keep
            lib.check(status)
        height, width, channels = self._input_shape
        return _arrays.floats_result(out, (height, width) if channels == 1 else (height, width, channels))

    # --- internals ------------------------------------------------------------

    def _float_forms(self) -> List[Tuple[int, ...]]:
        height, width, channels = self._input_shape
        forms = [(self._input_size,), (height, width, channels)]
        if channels == 1:
            forms.append((height, width))
        return forms

    def _float_form(self, shape: Tuple[int, ...]) -> str:
        forms = self._float_forms()
        if shape in forms:
            return "one"
        if len(shape) >= 2 and shape[1:] in forms:
            return "batch"
        height, width, channels = self._input_shape
        raise InvalidArgument(
            "floats of shape %s (%d values) do not fit the model: one image is %d values (%dx%dx%d) of shape %s; "
            "a batch is N of them, shape (N, ...)" % (
                shape, _count(shape), self._input_size, height, width, channels,
                " or ".join(str(f) for f in forms)))

    def _pixel_form(self, t: Tensor) -> str:
        shape = t.shape
        if len(shape) == 2:
            return "one"
        if len(shape) == 3:
            return "one" if shape[2] in (1, 3, 4) else "batch"
        if len(shape) == 4:
            return "batch"
        raise InvalidArgument("%s pixels of shape %s are not an image: pass (height, width), (height, width, "
                              "channels) or a batch (N, height, width, channels); for PNG bytes use classify_png(), "
                              "for a raw buffer classify_pixels()" % (t.kind, shape))

    def _format_of(self, t: Tensor, channels: int) -> int:
        pixel_format = _FORMAT_OF_CHANNELS.get((t.kind, channels))
        if pixel_format is None:
            raise InvalidArgument("%s pixels with %d channels: supported are uint8 with 1 (gray), 3 (RGB) or 4 "
                                  "(RGBA) channels, and uint16 gray" % (t.kind, channels))
        return pixel_format

    def _prediction(self, probabilities, index: int) -> Prediction:
        if not 0 <= index < self._class_count:
            raise InvalidArgument("the library returned class %d of %d" % (index, self._class_count))
        values = probabilities if _arrays._numpy() is not None and not isinstance(probabilities, list) \
            and hasattr(probabilities, "dtype") else [float(v) for v in probabilities]
        return Prediction(self._labels[index], index, float(values[index]), values, self._labels)

    def _classify_floats(self, tensors: List[Tensor]) -> List[Prediction]:
        """Single images through ds_classify (one) or ds_classify_batch (several)."""
        if len(tensors) == 1:
            lib, h = self._lib, self._h()
            t = tensors[0]
            data, keep = _arrays.address(t.data)
            probabilities, p_address = _arrays.float_buffer(self._class_count)
            k = ctypes.c_int(-1)
            status = lib.cdll.ds_classify(h, data, self._input_size, p_address, self._class_count, ctypes.byref(k))
            del keep
            lib.check(status)
            return [self._prediction(probabilities, k.value)]
        flat = _arrays.concat_floats(tensors)
        return self._classify_float_batch(Tensor(F32, (len(tensors), self._input_size), flat))

    def _classify_float_batch(self, t: Tensor) -> List[Prediction]:
        lib, h = self._lib, self._h()
        count = t.shape[0]
        if count == 0:
            return []
        data, keep = _arrays.address(t.data)
        probabilities, p_address = _arrays.float_buffer(count * self._class_count)
        classes, c_address = _arrays.int_buffer(count)
        status = lib.cdll.ds_classify_batch(h, data, count, self._input_size, p_address,
                                            count * self._class_count, c_address)
        del keep
        lib.check(status)
        c = self._class_count
        if _arrays._numpy() is not None and hasattr(probabilities, "reshape"):
            rows = probabilities.reshape(count, c)
            return [self._prediction(rows[i], int(classes[i])) for i in range(count)]
        return [self._prediction(probabilities[i * c:(i + 1) * c], classes[i]) for i in range(count)]

    def _classify_pixel_tensor(self, t: Tensor) -> Prediction:
        buffer, height, width, channels, stride = _arrays.pixel_layout(t)
        pixel_format = self._format_of(t, channels)
        return self._classify_pixels(buffer, width, height, stride, pixel_format)

    def _classify_pixels(self, buffer, width: int, height: int, stride: int, pixel_format: int) -> Prediction:
        lib, h = self._lib, self._h()
        lib.require_1_2("Model.classify() of pixels")
        if width <= 0 or height <= 0:
            raise InvalidArgument("a picture of %dx%d pixels has no pixels" % (width, height))
        data, keep = _arrays.strided_address(buffer)
        probabilities, p_address = _arrays.float_buffer(self._class_count)
        k = ctypes.c_int(-1)
        status = lib.cdll.ds_classify_pixels(h, data, width, height, stride, pixel_format, p_address,
                                             self._class_count, ctypes.byref(k))
        del keep
        lib.check(status)
        return self._prediction(probabilities, k.value)

    def _raw_pixel_args(self, buffer, width, height, format, stride_bytes, what):
        pixel_format = PIXEL_FORMATS.get(format) if isinstance(format, str) else format
        if pixel_format not in _BYTES_PER_PIXEL:
            raise InvalidArgument("%s: unknown pixel format %r (use %s)" % (what, format, ", ".join(PIXEL_FORMATS)))
        for name, value in (("width", width), ("height", height)):
            if not isinstance(value, int) or value <= 0:
                raise InvalidArgument("%s: %s must be a positive int, not %r" % (what, name, value))
        row = width * _BYTES_PER_PIXEL[pixel_format]
        stride = row if stride_bytes is None else stride_bytes
        if not isinstance(stride, int) or stride < row:
            raise InvalidArgument("%s: stride_bytes %r is shorter than a row (%d pixels of %d bytes)" % (
                what, stride_bytes, width, _BYTES_PER_PIXEL[pixel_format]))
        try:
            size = _arrays.nbytes(buffer)
        except TypeError:
            raise InvalidArgument("%s: %s is not a buffer" % (what, _arrays.describe(buffer))) from None
        needed = stride * (height - 1) + row
        if size < needed:
            raise InvalidArgument("%s: the buffer holds %d bytes; %dx%d pixels with a stride of %d bytes need %d" % (
                what, size, width, height, stride, needed))
        if _arrays._numpy() is not None and isinstance(buffer, _arrays.np.ndarray) and not buffer.flags.c_contiguous:
            buffer = _arrays.np.ascontiguousarray(buffer)
        return buffer, width, height, stride, pixel_format

    def _classify_list(self, images: List[Any]) -> List[Prediction]:
        tensors = [_arrays.to_tensor(x) for x in images]
        results: List[Optional[Prediction]] = [None] * len(tensors)
        floats = []
        for i, t in enumerate(tensors):
            if t.kind == F32:
                if self._float_form(t.shape) != "one":
                    raise InvalidArgument("image %d of the list is a batch of shape %s, not one image" % (i, t.shape))
                floats.append(i)
            elif self._pixel_form(t) != "one":
                raise InvalidArgument("image %d of the list is a batch of shape %s, not one image" % (i, t.shape))
        if floats:
            for i, p in zip(floats, self._classify_floats([tensors[i] for i in floats])):
                results[i] = p
        for i, t in enumerate(tensors):
            if results[i] is None:
                results[i] = self._classify_pixel_tensor(t)
        return results  # type: ignore[return-value]


def _count(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
