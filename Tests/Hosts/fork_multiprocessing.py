#!/usr/bin/env python3
"""fork_multiprocessing.py LIBDEEPSCRATCH.so MODEL.dsm

Python's multiprocessing with the "fork" start method, through ctypes only:
the parent loads a model and classifies a batch (which starts the library's
worker threads), then a pool of 4 forked worker processes classify batches
with the model the parent loaded. Each must finish within 60 s and give the
parent's classes. Prints "multiprocessing fork ok" and exits 0, or exits 1.
"""
import ctypes
import multiprocessing as mp
import sys

IMAGES, SIZE = 400, 784
lib = model = None
pixels = None


def classify(_):
    classes = (ctypes.c_int * IMAGES)()
    status = lib.ds_classify_batch(model, pixels, IMAGES, SIZE, None, 0, classes)
    return status, list(classes)


def main():
    global lib, model, pixels
    lib = ctypes.CDLL(sys.argv[1])
    lib.ds_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.ds_classify_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t,
                                      ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int)]
    lib.ds_last_error.restype = ctypes.c_char_p
    handle = ctypes.c_void_p()
    if lib.ds_model_load(sys.argv[2].encode(), ctypes.byref(handle)) != 0:
        sys.exit(f"{sys.argv[2]}: {lib.ds_last_error().decode()}")
    model = handle
    pixels = (ctypes.c_float * (IMAGES * SIZE))()
    for i in range(IMAGES):
        for r in range(4 + i % 5, 24):
            pixels[i * SIZE + r * 28 + 6 + i % 15] = 1.0
    status, expected = classify(0)
    if status != 0:
        sys.exit(f"parent batch: {lib.ds_last_error().decode()}")
    with mp.get_context("fork").Pool(4) as pool:
        result = pool.map_async(classify, range(8))
        try:
            answers = result.get(timeout=60)
        except mp.TimeoutError:
            print("a forked worker hung")
            pool.terminate()
            return 1
    bad = [i for i, (s, classes) in enumerate(answers) if s != 0 or classes != expected]
    if bad:
        print(f"forked batches {bad} failed or differ")
        return 1
    print("multiprocessing fork ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
