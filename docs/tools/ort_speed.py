#!/usr/bin/env python3
"""ONNX Runtime on a model exported by `dsc export`, measured the way
examples/latency measures the C library (issue 16): one image per call
(median of 10,000 calls over the test images) and the 10,000 test images as
10 batches of 1,000 (median of 7 passes after a warm-up pass). 2 threads
(intra-op 2, inter-op 1, as the peers' infer_peer.py).

    python3 docs/tools/ort_speed.py MODEL.onnx ../shared/data/mnist/t10k-images-idx3-ubyte.gz"""
import gzip
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    model, images = sys.argv[1], sys.argv[2]
    raw = gzip.open(images).read() if images.endswith(".gz") else open(images, "rb").read()
    X = (np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    times = np.empty(10000)
    for i in range(len(times)):
        x = X[i % len(X)][None, :]
        t = time.perf_counter()
        session.run(None, {name: x})
        times[i] = time.perf_counter() - t
    print(f"ort one image: median {np.median(times) * 1e6:.1f} us over {len(times)} calls")
    passes = []
    for p in range(8):
        t = time.perf_counter()
        for b in range(0, len(X), 1000):
            session.run(None, {name: X[b:b + 1000]})
        passes.append(len(X) / (time.perf_counter() - t))
    print(f"ort batch 1000: median {np.median(passes[1:]):,.0f} images/s over {len(passes) - 1} passes")


if __name__ == "__main__":
    main()
