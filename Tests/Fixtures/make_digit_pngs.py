#!/usr/bin/env python3
"""Writes Tests/Fixtures/digits-png: the first 30 images of MNIST's test set
as PNG files that look like a user's own scan rather than MNIST's input.

    python3 Tests/Fixtures/make_digit_pngs.py [MNIST_DIR]   (default: $DEEPSCRATCH_DATA)

Each file NNNNN_L.png is test image number NNNNN with true label L, turned
into a dark digit on light, slightly warm paper (the opposite polarity of
MNIST), through a non-linear ink curve, as 8-bit RGBA; every third image is
enlarged 2x (bilinear) and every fifth 3x, so sizes vary. Standard library
only (gzip, zlib, struct); the output is byte-for-byte reproducible.
"""
import gzip
import os
import struct
import sys
import zlib

COUNT = 30


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def find(folder, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    sys.exit(f"{stem}[.gz] not found in {folder}")


def enlarge(pixels, side, factor):
    """Bilinear enlargement of a side x side gray image by an integer factor."""
    out_side = side * factor
    out = []
    for y in range(out_side):
        fy = min(max((y + 0.5) / factor - 0.5, 0), side - 1)
        y0 = int(fy); y1 = min(y0 + 1, side - 1); wy = fy - y0
        for x in range(out_side):
            fx = min(max((x + 0.5) / factor - 0.5, 0), side - 1)
            x0 = int(fx); x1 = min(x0 + 1, side - 1); wx = fx - x0
            top = pixels[y0 * side + x0] * (1 - wx) + pixels[y0 * side + x1] * wx
            bottom = pixels[y1 * side + x0] * (1 - wx) + pixels[y1 * side + x1] * wx
            out.append(top * (1 - wy) + bottom * wy)
    return out, out_side


def png_rgba(width, height, rgba):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes(rgba[y * width * 4:(y + 1) * width * 4]) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DEEPSCRATCH_DATA", "")
    if not folder:
        sys.exit("usage: make_digit_pngs.py MNIST_DIR (or set DEEPSCRATCH_DATA)")
    (count, rows, cols), images = read_idx(find(folder, "t10k-images-idx3-ubyte"))
    (_,), labels = read_idx(find(folder, "t10k-labels-idx1-ubyte"))
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits-png")
    os.makedirs(out_dir, exist_ok=True)
    paper = (246, 240, 228)   # warm paper
    ink = (28, 30, 52)        # blue-black ink
    for i in range(COUNT):
        gray = list(images[i * rows * cols:(i + 1) * rows * cols])
        side = rows
        factor = 3 if i % 5 == 4 else 2 if i % 3 == 2 else 1
        if factor > 1:
            gray, side = enlarge(gray, rows, factor)
        rgba = []
        for v in gray:
            t = (v / 255.0) ** 0.7   # ink coverage through a non-linear curve
            rgba += [round(p + (k - p) * t) for p, k in zip(paper, ink)] + [255]
        name = f"{i:05d}_{labels[i]}.png"
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(png_rgba(side, side, rgba))
    print(f"wrote {COUNT} files to {out_dir}")


if __name__ == "__main__":
    main()
