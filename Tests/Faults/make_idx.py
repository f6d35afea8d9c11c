#!/usr/bin/env python3
"""make_idx.py OUT_DIR [TRAIN] [TEST] -- a small synthetic MNIST in raw IDX
files (train-images-idx3-ubyte, ...): 28x28 images of class k = a bright
6x6 square at a place that depends on k, plus noise. Learnable in one epoch,
small enough that `dsc train` spends most of its time writing checkpoints."""
import os
import random
import struct
import sys


def images(count, rng):
    pixels, labels = bytearray(), bytearray()
    for _ in range(count):
        k = rng.randrange(10)
        x0, y0 = 2 + (k % 5) * 5, 4 + (k // 5) * 12
        for y in range(28):
            for x in range(28):
                on = x0 <= x < x0 + 6 and y0 <= y < y0 + 6
                pixels.append(min(255, (200 if on else 0) + rng.randrange(40)))
        labels.append(k)
    return bytes(pixels), bytes(labels)


def write(folder, prefix, count, rng):
    pixels, labels = images(count, rng)
    with open(os.path.join(folder, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, count, 28, 28) + pixels)
    with open(os.path.join(folder, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, count) + labels)


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(7)
    write(out, "train", int(sys.argv[2]) if len(sys.argv) > 2 else 1000, rng)
    write(out, "t10k", int(sys.argv[3]) if len(sys.argv) > 3 else 200, rng)
