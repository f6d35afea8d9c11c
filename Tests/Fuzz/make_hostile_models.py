#!/usr/bin/env python3
"""Writes the hand-made hostile model files of Tests/Fuzz/regressions/fuzz_model_struct.

Each is a consistent, sealed .dsm file (sections, 64-aligned tensors, declared
size, XXH64) written from docs/model-format.md by the small writer below,
independent of the engine, whose structure is hostile in one way: a class of
bug the reader had (issue 15: an embeddable runtime never takes its host down).
Every one must be refused with DS_ERR_BAD_MODEL by ds_model_load(_memory)
and with one error line by dsc inspect / dsc predict --model
(FuzzCorpusTests, HostileModelCABITests, HostileModelCLITests).

    python3 Tests/Fuzz/make_hostile_models.py      # rewrites the files

The output is deterministic (zlib level 9 of zeros, no dates)."""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions", "fuzz_model_struct")
MASK = (1 << 64) - 1
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


def rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & MASK


def xxh64(data):
    """XXH64 with seed 0 (xxHash specification 0.1.1)."""
    def round_(acc, lane):
        return (rotl((acc + lane * P2) & MASK, 31) * P1) & MASK

    def merge(acc, v):
        return (((acc ^ round_(0, v)) * P1) + P4) & MASK
    n, i = len(data), 0
    if n >= 32:
        v = [(P1 + P2) & MASK, P2, 0, (-P1) & MASK]
        while i + 32 <= n:
            for k in range(4):
                v[k] = round_(v[k], struct.unpack_from("<Q", data, i + 8 * k)[0])
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & MASK
        for k in range(4):
            h = merge(h, v[k])
    else:
        h = P5
    h = (h + n) & MASK
    while i + 8 <= n:
        h ^= round_(0, struct.unpack_from("<Q", data, i)[0])
        h = (rotl(h, 27) * P1 + P4) & MASK
        i += 8
    if i + 4 <= n:
        h ^= (struct.unpack_from("<I", data, i)[0] * P1) & MASK
        h = (rotl(h, 23) * P2 + P3) & MASK
        i += 4
    while i < n:
        h ^= (data[i] * P5) & MASK
        h = (rotl(h, 11) * P1) & MASK
        i += 1
    h ^= h >> 33
    h = (h * P2) & MASK
    h ^= h >> 29
    h = (h * P3) & MASK
    h ^= h >> 32
    return h


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<I", len(b)) + b


def meta_payload(entries):
    """entries: (key, value) with int, float, str, ('ints', [..]), ('doubles', [..]), [str, ...]."""
    out = struct.pack("<I", len(entries))
    for key, value in entries:
        k = key.encode()
        out += struct.pack("<H", len(k)) + k
        if isinstance(value, bool) or isinstance(value, int):
            out += b"\x01" + struct.pack("<q", value)
        elif isinstance(value, float):
            out += b"\x02" + struct.pack("<d", value)
        elif isinstance(value, str):
            out += b"\x03" + string(value)
        elif isinstance(value, tuple) and value[0] == "ints":
            out += b"\x04" + struct.pack("<I", len(value[1])) + b"".join(struct.pack("<q", v) for v in value[1])
        elif isinstance(value, tuple) and value[0] == "doubles":
            out += b"\x05" + struct.pack("<I", len(value[1])) + b"".join(struct.pack("<d", v) for v in value[1])
        else:
            out += b"\x06" + struct.pack("<I", len(value)) + b"".join(string(s) for s in value)
    return out


def model_file(layers, input_shape, classes, tensors, minor=0, extra_meta=()):
    """tensors: (name, dtype, dims, bytes). Sections META, TDIR, TDAT; tensors 64-aligned."""
    meta = meta_payload([("model.layers", layers), ("model.input_shape", ("ints", input_shape)),
                         ("model.classes", classes), ("input.mean", 0.1307), ("input.std", 0.3081),
                         ("input.polarity", "light-on-dark")] + list(extra_meta))

    def section(tag, payload):
        block = tag + struct.pack("<IQ", 1, len(payload)) + payload
        return block + b"\0" * (-len(block) % 8)

    def directory(offsets):
        d = struct.pack("<I", len(tensors))
        for (name, dtype, dims, data), offset in zip(tensors, offsets):
            n = name.encode()
            d += struct.pack("<H", len(n)) + n + struct.pack("<BB", dtype, len(dims))
            d += b"".join(struct.pack("<I", x) for x in dims) + struct.pack("<QQ", offset, len(data))
        return d
    head = 32 + len(section(b"META", meta)) + len(section(b"TDIR", directory([0] * len(tensors))))
    at, offsets, data = head + 16, [], b""
    for _, _, _, payload in tensors:
        at = (at + 63) // 64 * 64
        offsets.append(at)
        data += b"\0" * (at - head - 16 - len(data)) + payload
        at += len(payload)
    body = section(b"META", meta) + section(b"TDIR", directory(offsets)) + section(b"TDAT", data)
    header = b"\x89DSM\r\n\x1a\n" + struct.pack("<HHIQII", 1, minor, 32, 32 + len(body) + 8, 3, 0)
    file = header + body
    return file + struct.pack("<Q", xxh64(file))


def f32(n, value=0.01):
    return struct.pack("<f", value) * n


def q8z(decoded_length):
    return zlib.compress(bytes(decoded_length), 9)


DIGITS = [str(k) for k in range(10)]
FILES = {}

# The file of the issue, 312 bytes: dense 2^48 -> 1 on a 65536 x 65536 x 65536
# input passed every per-dimension limit; loading built the network (W of
# 2^48 floats) before comparing the tensors: SIGABRT in Swift's allocator.
FILES["hostile-312-bytes-dense-2p48-on-65536-cubed.dsm"] = model_file(
    ["dense 281474976710656 1", "softmax"], [65536, 65536, 65536], ["0"], [])

# An input within the limit (2^28 values), a first layer of 1024 outputs:
# W1 would be 2^38 values (1 TiB); the file has none of it.
FILES["hostile-dense-weights-2p38-values.dsm"] = model_file(
    ["dense 268435456 1024", "relu", "dense 1024 10", "softmax"], [16384, 16384, 1], DIGITS, [])

# Overflow: the reader compared the product of the shape the layers imply,
# 2^48 * 2^20 = 2^68, which trapped in Swift (dsc inspect, Model.load).
FILES["hostile-overflow-dense-2p48-by-2p20.dsm"] = model_file(
    ["dense 281474976710656 1048576", "relu", "dense 1048576 2", "softmax"], [65536, 65536, 65536], ["a", "b"], [])

# Overflow: input dimensions near 2^63.
FILES["hostile-input-shape-int64-max.dsm"] = model_file(
    ["dense 1 2", "softmax"], [2**63 - 1, 2**63 - 1, 1], ["a", "b"], [])

# A convolution whose weights are tiny (4 x 15 x 15) but whose patch matrix
# for one image is 4 * 15 * 15 * 4096 * 4096 = 1.5e10 values: the model
# loaded, and the first classification asked for 60 GB.
conv_dense_inputs = 273 * 273  # 4096 -> conv 15 stride 1 pad 7 -> 4096 -> maxpool 15 15 -> 273
FILES["hostile-conv-patch-matrix-1.5e10-values.dsm"] = model_file(
    ["conv 4 1 15 1 7", "relu", "maxpool 15 15", "dense %d 2" % conv_dense_inputs, "softmax"],
    [4096, 4096, 4], ["a", "b"],
    [("W1", 1, [1, 4, 15, 15], f32(900)), ("b1", 1, [1], f32(1)),
     ("W2", 4, [2, conv_dense_inputs], q8z(2 * 4 + 2 * conv_dense_inputs)), ("b2", 1, [2], f32(2))], minor=1)

# A fully connected model on 4096 x 4096 x 4 images (2^26 inputs): its
# weights (2^26 values, stored deflated) are in the file, but a batch block of
# 256 images needed 2 x 256 x 2^26 floats per thread (128 GiB).
FILES["hostile-dense-2p26-inputs-working-memory.dsm"] = model_file(
    ["dense 67108864 1", "softmax"], [4096, 4096, 4], ["only"],
    [("W1", 4, [1, 2**26], q8z(4 + 2**26)), ("b1", 1, [1], f32(1))])

# A q8z tensor of 2^31 values (the per-tensor maximum) whose stream is 100-odd
# bytes: the reader allocated the network's 8 GiB and a 2 GiB inflate buffer
# before finding the stream short.
FILES["hostile-q8z-claims-2p31-values-from-a-few-bytes.dsm"] = model_file(
    ["dense 1048576 2048", "relu", "dense 2048 2", "softmax"], [1024, 1024, 1], ["a", "b"],
    [("W1", 4, [2048, 1048576], q8z(1000)), ("b1", 1, [2048], f32(2048)),
     ("W2", 1, [2, 2048], f32(4096)), ("b2", 1, [2], f32(2))])

# A q8z stream that inflates to 16 MiB for a tensor of 4,352 bytes: the
# inflater must stop at the expected size.
FILES["hostile-q8z-inflates-to-16-MiB.dsm"] = model_file(
    ["dense 64 64", "relu", "dense 64 2", "softmax"], [8, 8, 1], ["a", "b"],
    [("W1", 4, [64, 64], q8z(16 << 20)), ("b1", 1, [64], f32(64)),
     ("W2", 1, [2, 64], f32(128)), ("b2", 1, [2], f32(2))])

# A convolution's weights [F, C, k, k] = [2, 3, 5, 5] stored as [2, 5, 3, 5]:
# the same number of values and the same first dimension, which was all the
# reader compared.
FILES["hostile-conv-weight-shape-permuted.dsm"] = model_file(
    ["conv 3 2 5 1 0", "relu", "dense 1152 2", "softmax"], [28, 28, 3], ["a", "b"],
    [("W1", 1, [2, 5, 3, 5], f32(150)), ("b1", 1, [2], f32(2)),
     ("W2", 1, [2, 1152], f32(2304)), ("b2", 1, [2], f32(2))], minor=1)

# An optimizer moment of another shape than its parameter (same value count).
FILES["hostile-moment-shape-transposed.dsm"] = model_file(
    ["dense 12 7", "tanh", "dense 7 5", "softmax"], [3, 4, 1], ["a", "b", "c", "d", "e"],
    [("W1", 1, [7, 12], f32(84)), ("b1", 1, [7], f32(7)), ("W2", 1, [5, 7], f32(35)), ("b2", 1, [5], f32(5)),
     ("opt.v.W1", 1, [12, 7], f32(84))])


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in FILES.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print("%s: %d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
