"""What the tests share: the repository's places, MNIST's IDX files, a tiny
PNG writer and camera-like frames made from MNIST digits. Standard library
only (numpy is used by the tests that ask for it)."""

import array
import gzip
import os
import re
import struct
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON_DIR = REPO / "python"
DEFAULT_LIB = REPO / ".build-lib" / "release" / "libdeepscratch.so"
SHIPPED_MODEL = REPO / "Sources" / "dsc" / "Resources" / "default.dsm"
HEADER = REPO / "include" / "deepscratch.h"
EXAMPLE_DIGITS = sorted((REPO / "examples" / "digits").glob("*.png"))
FIXTURE_DIGITS = sorted((REPO / "Tests" / "Fixtures" / "digits-png").glob("*.png"))


def label_of(path) -> str:
    """The digit a file name ends in: 0047_7.png -> "7"."""
    m = re.search(r"_(\d+)\.png$", str(path))
    assert m, "%s: no _<label>.png in the name" % path
    return m.group(1)


def header_version() -> str:
    m = re.search(r'#define DS_VERSION_STRING "([^"]+)"', HEADER.read_text())
    assert m, "no DS_VERSION_STRING in %s" % HEADER
    return m.group(1)


def read_idx(path):
    """(shape, bytes) of an IDX file (gzip or not)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


# --- PNG -----------------------------------------------------------------


def png(width: int, height: int, pixels: bytes, channels: int = 4, bit_depth: int = 8) -> bytes:
    """A PNG file of `pixels` (rows of width x channels samples, 8-bit, or
    16-bit big-endian for bit_depth 16): channels 1 gray, 3 RGB, 4 RGBA."""
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    row = width * channels * bit_depth // 8
    assert len(pixels) == row * height

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + pixels[y * row:(y + 1) * row] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


# --- camera-like frames ----------------------------------------------------------------

INK = (24, 32, 70)  # blue-black


def rgba_frame(digit: bytes, side: int = 28, scale: int = 3):
    """An RGBA frame (bytes, height = width = side * scale) of an MNIST
    digit (light on dark, `side` x `side` bytes) as a camera would see a
    dark digit on lit paper: enlarged `scale` times (nearest), inverted
    polarity, on a light background that darkens towards one corner
    (uneven light), alpha 255."""
    n = side * scale
    out = bytearray(n * n * 4)
    for y in range(n):
        for x in range(n):
            ink = digit[(y // scale) * side + x // scale] / 255.0
            light = 235 - 45 * (x + y) / (2 * n)  # 235 at the top left, 190 at the bottom right
            paper = (light, light * 0.97, light * 0.9)
            o = (y * n + x) * 4
            for c in range(3):
                out[o + c] = int(round(paper[c] * (1 - ink) + INK[c] * ink))
            out[o + 3] = 255
    return bytes(out), n


def gray_of(rgba: bytes) -> bytes:
    """The library's gray of RGBA pixels (77:150:29 of 256), for gray PNGs."""
    return bytes((77 * rgba[i] + 150 * rgba[i + 1] + 29 * rgba[i + 2] + 128) >> 8 for i in range(0, len(rgba), 4))


def nested(flat, height: int, width: int, channels: int):
    """Flat samples as nested lists (height x width x channels, or height x
    width for one channel)."""
    rows = []
    for y in range(height):
        row = []
        for x in range(width):
            o = (y * width + x) * channels
            row.append(flat[o] if channels == 1 else list(flat[o:o + channels]))
        rows.append(row)
    return rows


def u16(values) -> array.array:
    return array.array("H", values)
