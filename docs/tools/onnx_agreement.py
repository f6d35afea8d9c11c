# Usage: python3 onnx_agreement.py LIBDEEPSCRATCH.so MODEL.dsm MODEL.onnx MNIST_DIR
# Needs numpy, onnx, onnxruntime. Checks MODEL.onnx (from dsc export MODEL.dsm) with
# onnx.checker, runs it in ONNX Runtime on the 10,000 MNIST test images and compares
# with the C library (ds_classify_batch and ds_classify one image at a time):
# label mismatches and the largest probability difference, as JSON.
import ctypes, gzip, sys, json
import numpy as np, onnx, onnxruntime as ort
lib_path, dsm, onnx_path, mnist = sys.argv[1:5]
raw = gzip.open(mnist + "/t10k-images-idx3-ubyte.gz").read()
x = (np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255)
labels = np.frombuffer(gzip.open(mnist + "/t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
n = x.shape[0]
onnx.checker.check_model(onnx.load(onnx_path), full_check=True)
(p,) = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(["probabilities"], {"pixels": x})
lib = ctypes.CDLL(lib_path)
m = ctypes.c_void_p()
assert lib.ds_model_load(dsm.encode(), ctypes.byref(m)) == 0
k = p.shape[1]
fp = ctypes.POINTER(ctypes.c_float)
ours = np.zeros((n, k), np.float32); cls = np.zeros(n, np.int32)
assert lib.ds_classify_batch(m, x.ctypes.data_as(fp), ctypes.c_size_t(n), ctypes.c_size_t(784), ours.ctypes.data_as(fp), ctypes.c_size_t(n * k), cls.ctypes.data_as(ctypes.POINTER(ctypes.c_int))) == 0
single = np.zeros((n, k), np.float32); c1 = ctypes.c_int()
for i in range(n):
    row = np.ascontiguousarray(x[i])
    assert lib.ds_classify(m, row.ctypes.data_as(fp), ctypes.c_size_t(784), single[i].ctypes.data_as(fp), ctypes.c_size_t(k), ctypes.byref(c1)) == 0
print(json.dumps({
    "images": n,
    "batch": {"label_mismatches": int((p.argmax(1) != ours.argmax(1)).sum()), "max_abs_diff": float(np.abs(p.astype(np.float64) - ours).max())},
    "single": {"label_mismatches": int((p.argmax(1) != single.argmax(1)).sum()), "max_abs_diff": float(np.abs(p.astype(np.float64) - single).max())},
    "ort_accuracy": float((p.argmax(1) == labels).mean()),
    "ours_accuracy": float((ours.argmax(1) == labels).mean()),
}))
