"""Turning what callers pass (numpy arrays, nested lists, array.array,
memoryviews, bytes) into flat C buffers with a shape, with or without numpy.

numpy is optional: when it imports, arrays stay numpy arrays (no copy when
their layout already fits) and results are numpy arrays; without it the
same inputs work as nested lists, ``array.array`` or (multi-dimensional)
``memoryview`` objects, and results are lists. numpy is imported on first
need, not with the package, and not at all after ``use_numpy(False)``.
Every use goes through ``_numpy()``, which resolves the module variable
``np`` (None: no numpy; the tests set it to None to run the pure-Python
paths).
"""

from __future__ import annotations

import array
import ctypes
import numbers
from typing import Any, List, Optional, Sequence, Tuple

from .errors import InvalidArgument

_UNRESOLVED = object()
np: Any = _UNRESOLVED  # the numpy module, None, or not looked for yet


def _numpy():
    """The numpy module, imported on the first call; None if it is not
    installed or use_numpy(False) turned it off."""
    global np
    if np is _UNRESOLVED:
        try:
            import numpy
        except ImportError:
            numpy = None
        np = numpy
    return np


def use_numpy(enabled: bool = True) -> None:
    """With False, the package never imports numpy and returns lists (as if
    numpy were not installed); with True (the default), it uses numpy when
    it is installed."""
    global np
    np = _UNRESOLVED if enabled else None

U8 = "uint8"
U16 = "uint16"
F32 = "float32"

# memoryview / array.array type codes
_INT_CODES = set("bhilqBHILQ")
_FLOAT_CODES = set("fde")


class Tensor:
    """Values with a shape.

    kind: U8 or U16 (pixels), or F32 (model-input floats).
    shape: a tuple of ints.
    data: a numpy array of that shape (numpy path; for F32 C-contiguous
        float32; for pixels any strides), or a flat C-ordered buffer
        (``array.array`` of 'f' / 'H', or a bytes-like object for U8).
    """

    __slots__ = ("kind", "shape", "data")

    def __init__(self, kind: str, shape: Tuple[int, ...], data: Any):
        self.kind = kind
        self.shape = tuple(int(n) for n in shape)
        self.data = data

    @property
    def count(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def item(self, i: int) -> "Tensor":
        """Element `i` along the first axis (an image of a batch)."""
        inner = self.shape[1:]
        if _numpy() is not None and isinstance(self.data, np.ndarray):
            return Tensor(self.kind, inner, self.data[i])
        n = 1
        for s in inner:
            n *= s
        return Tensor(self.kind, inner, self.data[i * n:(i + 1) * n])


def describe(x: Any) -> str:
    """A short description of a value for error messages."""
    if _numpy() is not None and isinstance(x, np.ndarray):
        return "a numpy array of shape %s and dtype %s" % (tuple(x.shape), x.dtype)
    if isinstance(x, memoryview):
        return "a memoryview of shape %s and format %r" % (tuple(x.shape or ()), x.format)
    if isinstance(x, array.array):
        return "an array.array of type %r and length %d" % (x.typecode, len(x))
    return "a %s" % type(x).__name__


def is_image_list(x: Any) -> bool:
    """Whether `x` is a list or tuple of separate images (numpy arrays,
    memoryviews, array.arrays, or nested lists of different shapes) rather
    than one rectangular nested list of numbers."""
    if not isinstance(x, (list, tuple)) or not x:
        return False
    first = x[0]
    if isinstance(first, numbers.Number):
        return False
    if isinstance(first, (list, tuple)):
        try:
            _flatten(x)
        except _Ragged:
            return True  # images of different sizes
        return False
    return True


class _Ragged(Exception):
    pass


def _flatten(x: Sequence) -> Tuple[Tuple[int, ...], list]:
    """The shape and the flat values of a rectangular nested list."""
    shape = []
    level = [x]
    while isinstance(level[0], (list, tuple)):
        n = len(level[0])
        for item in level:
            if not isinstance(item, (list, tuple)) or len(item) != n:
                raise _Ragged()
        shape.append(n)
        level = [e for item in level for e in item]
        if not level:
            break
    for v in level:
        if isinstance(v, (list, tuple)):
            raise _Ragged()
    return tuple(shape), level


def _ints_to_u8(values, where: str) -> array.array:
    try:
        return array.array("B", values)
    except (OverflowError, TypeError):
        raise InvalidArgument("%s: integer pixel values must be 0 to 255 (use numpy uint16 or array.array('H') "
                              "for 16-bit gray)" % where) from None


def to_tensor(x: Any) -> Tensor:
    """`x` as a Tensor: uint8 / uint16 pixels or float32 values with a shape.

    numpy arrays: uint8 and uint16 stay as they are; other integer dtypes
    become uint8 (values must be 0..255); floating dtypes become float32.
    Nested lists: all integers -> uint8 (0..255); any float -> float32.
    Buffer objects (memoryview, array.array): formats 'B' (uint8), 'H'
    (uint16), 'f' / 'd' / 'e' (floats), other integer formats -> uint8.
    Raises InvalidArgument for anything else.
    """
    if _numpy() is not None and isinstance(x, np.ndarray):
        return _numpy_tensor(x)
    if isinstance(x, (list, tuple)):
        try:
            shape, flat = _flatten(x)
        except _Ragged:
            raise InvalidArgument("a nested list whose rows differ in length is not an image") from None
        if not flat:
            raise InvalidArgument("an empty list is not an image")
        if all(isinstance(v, numbers.Integral) for v in flat):
            return Tensor(U8, shape, _ints_to_u8(flat, "a nested list"))
        if all(isinstance(v, numbers.Real) for v in flat):
            return Tensor(F32, shape, array.array("f", flat))
        raise InvalidArgument("a nested list of images must hold only numbers")
    if _numpy() is not None and not isinstance(x, (memoryview, array.array, bytes, bytearray)):
        # Other array-likes (array interface, PIL images, ...): through numpy.
        try:
            converted = np.asarray(x)
        except Exception:
            converted = None
        if converted is not None and converted.dtype != object and converted.ndim > 0:
            return _numpy_tensor(converted)
    try:
        mv = memoryview(x)
    except TypeError:
        raise InvalidArgument("%s is not an image: pass a numpy array, a nested list, an array.array or a "
                              "memoryview" % describe(x)) from None
    return _memoryview_tensor(mv)


def _numpy_tensor(a) -> Tensor:
    kind = a.dtype.kind
    if a.ndim == 0:
        raise InvalidArgument("a scalar is not an image")
    if kind == "u" and a.dtype.itemsize == 1:
        return Tensor(U8, a.shape, a)
    if kind == "u" and a.dtype.itemsize == 2:
        if a.dtype.byteorder not in ("=", "|"):
            a = a.astype(a.dtype.newbyteorder("="))
        return Tensor(U16, a.shape, a)
    if kind in "iu":
        if a.size and (a.min() < 0 or a.max() > 255):
            raise InvalidArgument("a numpy array of dtype %s: integer pixel values must be 0 to 255 (use uint16 for "
                                  "16-bit gray)" % a.dtype)
        return Tensor(U8, a.shape, a.astype(np.uint8))
    if kind == "f":
        return Tensor(F32, a.shape, np.ascontiguousarray(a, dtype=np.float32))
    raise InvalidArgument("a numpy array of dtype %s is not an image: use uint8 or uint16 pixels, or floats" % a.dtype)


def _memoryview_tensor(mv: memoryview) -> Tensor:
    fmt = mv.format
    if fmt[:1] in ("@", "=", "<", ">", "!"):
        if fmt[0] in (">", "!") or (fmt[0] == "<" and not _little_endian()):
            raise InvalidArgument("a memoryview in non-native byte order (%r) is not supported" % fmt)
        fmt = fmt[1:]
    shape = tuple(mv.shape) if mv.shape else (len(mv),)
    if not mv.c_contiguous:  # a C-ordered copy, flat
        try:
            mv = memoryview(mv.tobytes()).cast(fmt)
        except (TypeError, ValueError):
            raise InvalidArgument("a buffer of format %r is not an image: use bytes (uint8), 'H' (uint16) or "
                                  "floats" % fmt) from None
    if fmt in ("B", "c"):
        return Tensor(U8, shape, mv.cast("B") if mv.ndim != 1 or mv.format != "B" else mv)
    if fmt == "H":
        flat = array.array("H")
        flat.frombytes(mv.tobytes())
        return Tensor(U16, shape, flat)
    if fmt == "f":
        flat = array.array("f")
        flat.frombytes(mv.tobytes())
        return Tensor(F32, shape, flat)
    if fmt in _FLOAT_CODES:
        return Tensor(F32, shape, array.array("f", _flat_values(mv)))
    if fmt in _INT_CODES:
        return Tensor(U8, shape, _ints_to_u8(_flat_values(mv), "a buffer of format %r" % fmt))
    raise InvalidArgument("a buffer of format %r is not an image: use bytes (uint8), 'H' (uint16) or floats" % fmt)


def _flat_values(mv: memoryview) -> list:
    values = mv.tolist()
    for _ in range(max(0, mv.ndim - 1)):
        values = [v for row in values for v in row]
    return values


def _little_endian() -> bool:
    import sys
    return sys.byteorder == "little"


def is_png_bytes(x: Any) -> bool:
    """Whether `x` is encoded file contents: bytes, bytearray, or a 1-D
    byte buffer (memoryview, array.array('B'), numpy uint8 vector)."""
    if isinstance(x, (bytes, bytearray)):
        return True
    if _numpy() is not None and isinstance(x, np.ndarray):
        return x.ndim == 1 and x.dtype == np.uint8
    if isinstance(x, (memoryview, array.array)):
        mv = memoryview(x)
        return mv.ndim == 1 and mv.format in ("B", "b", "c")
    return False


# --- C buffers ---------------------------------------------------------------


def address(buffer: Any) -> Tuple[int, Any]:
    """The address of a C-contiguous buffer's first byte, and the object(s)
    to keep alive while C reads it. Read-only buffers other than bytes are
    copied."""
    if _numpy() is not None and isinstance(buffer, np.ndarray):
        if not buffer.flags.c_contiguous:
            buffer = np.ascontiguousarray(buffer)
        return buffer.ctypes.data, buffer
    if isinstance(buffer, array.array):
        return buffer.buffer_info()[0], buffer
    if isinstance(buffer, bytes):
        pointer = ctypes.c_char_p(buffer)
        return ctypes.cast(pointer, ctypes.c_void_p).value or 0, (buffer, pointer)
    mv = memoryview(buffer)
    if mv.readonly or not mv.c_contiguous:
        return address(mv.tobytes())
    if mv.nbytes == 0:
        return 0, mv
    block = (ctypes.c_char * mv.nbytes).from_buffer(mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv)
    return ctypes.addressof(block), (block, mv)


def nbytes(buffer: Any) -> int:
    """The size in bytes of a buffer object."""
    if _numpy() is not None and isinstance(buffer, np.ndarray):
        return int(buffer.nbytes)
    return memoryview(buffer).nbytes


def float_buffer(count: int):
    """A zeroed float32 output buffer of `count` values and its address."""
    if _numpy() is not None:
        out = np.zeros(count, dtype=np.float32)
        return out, out.ctypes.data
    out = array.array("f", bytes(4 * count))
    return out, out.buffer_info()[0]


def int_buffer(count: int):
    """A zeroed C int output buffer of `count` values and its address."""
    if _numpy() is not None:
        out = np.zeros(count, dtype=np.intc)
        return out, out.ctypes.data
    out = array.array("i", bytes(ctypes.sizeof(ctypes.c_int) * count))
    return out, out.buffer_info()[0]


def floats_result(values, shape: Tuple[int, ...]):
    """Output floats as the package returns them: a float32 numpy array of
    `shape`, or (without numpy) nested lists of Python floats of that
    shape."""
    if _numpy() is not None and isinstance(values, np.ndarray):
        return values.reshape(shape)
    flat = list(values)
    for size in reversed(shape[1:]):
        flat = [flat[i:i + size] for i in range(0, len(flat), size)]
    return flat


def concat_floats(tensors: List[Tensor]):
    """One flat float32 buffer holding the tensors' values one after the
    other."""
    if _numpy() is not None and all(isinstance(t.data, np.ndarray) for t in tensors):
        return np.concatenate([t.data.reshape(-1) for t in tensors])
    out = array.array("f")
    for t in tensors:
        if _numpy() is not None and isinstance(t.data, np.ndarray):
            out.frombytes(np.ascontiguousarray(t.data, dtype=np.float32).tobytes())
        else:
            out.extend(t.data)
    return out


def pixel_layout(t: Tensor) -> Tuple[Any, int, int, int, int]:
    """For a one-image pixel Tensor of shape (H, W) or (H, W, C): the buffer
    to pass (the numpy array itself when its rows are contiguous, even with
    padding between them; else a contiguous copy), its height, width,
    channels and row stride in bytes."""
    if len(t.shape) == 2:
        height, width = t.shape
        channels = 1
    else:
        height, width, channels = t.shape
    data = t.data
    item = 2 if t.kind == U16 else 1
    row = width * channels * item
    if _numpy() is not None and isinstance(data, np.ndarray):
        a = data if data.ndim == 3 else data[:, :, None]
        strides = a.strides
        rows_fit = (height <= 1 or strides[0] >= row) and strides[0] > 0 and \
            (width <= 1 or strides[1] == channels * item) and (channels <= 1 or strides[2] == item)
        if rows_fit and height > 0 and width > 0:
            # The buffer starts at a's first element; numpy's ctypes.data is that address.
            stride = strides[0] if height > 1 else row
            return a, height, width, channels, stride
        return np.ascontiguousarray(a), height, width, channels, row
    return data, height, width, channels, row


def strided_address(a) -> Tuple[int, Any]:
    """The address of a numpy array's first element (which need not be
    C-contiguous), else of a flat buffer."""
    if _numpy() is not None and isinstance(a, np.ndarray):
        return a.ctypes.data, a
    return address(a)
