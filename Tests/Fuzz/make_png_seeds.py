#!/usr/bin/env python3
"""make_png_seeds.py OUT_DIR -- small PNGs of every color type and bit depth
(plus Adam7 interlacing, a palette with transparency, a gamma chunk and a text
chunk) for the fuzz_png seed corpus, written with the standard library only.
The picture is a hand-drawn-like "7", dark on light or light on dark."""
import os
import struct
import sys
import zlib

W, H = 20, 24


def seven(x, y):
    """1.0 on the strokes of a 7, else 0.0."""
    top = 3 <= y <= 5 and 4 <= x <= 15
    diagonal = 5 <= y <= 20 and abs(x - (15 - (y - 5) * 0.55)) <= 1.5
    return 1.0 if top or diagonal else 0.0


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """Samples of `depth` bits (1, 2, 4, 8, 16) packed big-endian."""
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = acc << depth | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def pixel(x, y, color_type, depth, light_on_dark):
    ink = seven(x, y)
    v = ink if light_on_dark else 1.0 - ink
    top = (1 << depth) - 1
    g = int(round(v * top))
    if color_type == 0:
        return [g]
    if color_type == 2:
        return [g, g, top - g // 2 if depth == 8 else g, ][:3]
    if color_type == 3:
        return [1 if ink else 0]
    if color_type == 4:
        return [g, top]
    return [g, g, g, top if ink or x % 2 else top // 2]


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(color_type, depth, light_on_dark=False, interlace=False, extra=b"", filter_type=0):
    def scan(xs, ys):
        raw = bytearray()
        for y in ys:
            samples = []
            for x in xs:
                samples += pixel(x, y, color_type, depth, light_on_dark)
            raw.append(filter_type if filter_type in (0, 2) else 0)
            row = pack_row(samples, depth)
            raw += row
        return bytes(raw)

    if interlace:
        data = b"".join(scan(range(x0, W, dx), range(y0, H, dy))
                        for x0, y0, dx, dy in ADAM7 if x0 < W and y0 < H)
    else:
        data = scan(range(W), range(H))
    ihdr = struct.pack(">IIBBBBB", W, H, depth, color_type, 0, 0, 1 if interlace else 0)
    body = chunk(b"IHDR", ihdr) + extra
    if color_type == 3:
        body += chunk(b"PLTE", bytes([250, 250, 250, 10, 10, 10] + [128, 0, 0] * 2))
        body += chunk(b"tRNS", bytes([255, 200]))
    body += chunk(b"IDAT", zlib.compress(data, 9)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = {
        "gray8.png": png(0, 8),
        "gray8-light-on-dark.png": png(0, 8, light_on_dark=True),
        "gray1.png": png(0, 1),
        "gray2.png": png(0, 2),
        "gray4.png": png(0, 4),
        "gray16.png": png(0, 16),
        "rgb8.png": png(2, 8),
        "rgb16.png": png(2, 16),
        "palette4-trns.png": png(3, 4),
        "palette8.png": png(3, 8),
        "gray-alpha8.png": png(4, 8),
        "rgba8.png": png(6, 8),
        "rgba16-interlaced.png": png(6, 16, interlace=True),
        "gray8-interlaced.png": png(0, 8, interlace=True),
        "gray8-gamma-text.png": png(0, 8, extra=chunk(b"gAMA", struct.pack(">I", 45455))
                                    + chunk(b"tEXt", b"Comment\x00fuzz seed")),
    }
    for name, data in cases.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "seeds/fuzz_png")
