#!/usr/bin/env python3
"""Records what a released libdeepscratch.so answers for model files written
by earlier versions, so ModelFileCompatibilityTests can hold later versions
to the same answers.

    python3 make_golden.py /path/to/old/libdeepscratch.so > golden.json

For every model of Tests/Fuzz/seeds/fuzz_model and the shipped MLP (mlp.dsm, the
shipped default.dsm before the conv3 model): three
synthetic images, pixel i of image j = ((37 i + 101 j + 13) mod 256) / 256
(exact in float32), through ds_classify; for models of 784 inputs also the
PNGs of Tests/Fixtures/digits-png through ds_classify_png_file. Each answer
is the class and the probabilities (float32 values, printed exactly).
"""
import ctypes, glob, json, os, sys

root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
lib = ctypes.CDLL(sys.argv[1])
lib.ds_last_error.restype = ctypes.c_char_p


def check(status, what):
    if status != 0:
        raise SystemExit(f"{what}: status {status}: {lib.ds_last_error().decode()}")


def image(j, n):
    return [((37 * i + 101 * j + 13) % 256) / 256 for i in range(n)]


models = sorted(glob.glob(os.path.join(root, "Tests/Fuzz/seeds/fuzz_model/*.dsm")))
models.append(os.path.join(root, "Sources/dsc/Resources/mlp.dsm"))
pngs = sorted(glob.glob(os.path.join(root, "Tests/Fixtures/digits-png/*.png")))
out = {"made_by": "make_golden.py over " + os.path.basename(sys.argv[1]), "models": []}
for path in models:
    m = ctypes.c_void_p()
    check(lib.ds_model_load(path.encode(), ctypes.byref(m)), path)
    n, c = ctypes.c_size_t(), ctypes.c_size_t()
    check(lib.ds_model_input_size(m, ctypes.byref(n)), path)
    check(lib.ds_model_class_count(m, ctypes.byref(c)), path)
    entry = {"file": os.path.relpath(path, root), "inputs": n.value, "answers": []}
    probs = (ctypes.c_float * c.value)()
    cls = ctypes.c_int()
    for j in range(3):
        x = (ctypes.c_float * n.value)(*image(j, n.value))
        check(lib.ds_classify(m, x, n.value, probs, c.value, ctypes.byref(cls)), path)
        entry["answers"].append({"image": j, "class": cls.value, "probabilities": list(probs)})
    if n.value == 784:
        for png in pngs:
            check(lib.ds_classify_png_file(m, png.encode(), probs, c.value, ctypes.byref(cls)), png)
            entry["answers"].append({"png": os.path.relpath(png, root), "class": cls.value, "probabilities": list(probs)})
    lib.ds_model_free(m)
    out["models"].append(entry)
json.dump(out, sys.stdout, indent=1)
print()
