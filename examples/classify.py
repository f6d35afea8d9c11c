#!/usr/bin/env python3
"""classify.py MODEL.dsm IMAGE.png ... -- the C example, through ctypes only.

Prints "IMAGE: LABEL (PROBABILITY %)" per image; exit status 1 if any image
failed, 2 for bad usage or a model that does not load. The library is found
through $DEEPSCRATCH_LIB, else the system's loader path (libdeepscratch.so.1).
"""
import ctypes
import os
import sys

DS_OK = 0
DS_VERSION_MAJOR = 1


def load_library():
    lib = ctypes.CDLL(os.environ.get("DEEPSCRATCH_LIB", "libdeepscratch.so.1"))
    lib.ds_version.restype = ctypes.c_char_p
    lib.ds_last_error.restype = ctypes.c_char_p
    lib.ds_check_version.argtypes = [ctypes.c_int]
    lib.ds_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.ds_model_free.argtypes = [ctypes.c_void_p]
    lib.ds_model_class_count.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
    lib.ds_model_label.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                                   ctypes.POINTER(ctypes.c_size_t)]
    lib.ds_classify_png_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_float),
                                         ctypes.c_size_t, ctypes.POINTER(ctypes.c_int)]
    return lib


def main(argv):
    if len(argv) < 3:
        print("usage: classify.py MODEL.dsm IMAGE.png ...", file=sys.stderr)
        return 2
    lib = load_library()
    if lib.ds_check_version(DS_VERSION_MAJOR) != DS_OK:
        print("classify.py: " + lib.ds_last_error().decode(), file=sys.stderr)
        return 2
    model = ctypes.c_void_p()
    if lib.ds_model_load(argv[1].encode(), ctypes.byref(model)) != DS_OK:
        print("classify.py: " + lib.ds_last_error().decode(), file=sys.stderr)
        return 2
    classes = ctypes.c_size_t()
    lib.ds_model_class_count(model, ctypes.byref(classes))
    probabilities = (ctypes.c_float * classes.value)()
    failures = 0
    for path in argv[2:]:
        k = ctypes.c_int()
        if lib.ds_classify_png_file(model, path.encode(), probabilities, classes.value, ctypes.byref(k)) != DS_OK:
            print("classify.py: " + lib.ds_last_error().decode(), file=sys.stderr)
            failures += 1
            continue
        label = ctypes.create_string_buffer(64)
        lib.ds_model_label(model, k.value, label, len(label), None)
        print("%s: %s (%.1f %%)" % (path, label.value.decode(), 100.0 * probabilities[k.value]))
    lib.ds_model_free(model)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
