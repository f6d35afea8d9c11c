#!/usr/bin/env python3
"""PyTorch on DeepScratch's `dsc train --arch lenet` preset, for the
samples/s comparison in docs/performance.md (issue 16).

conv 32 5x5 + batch norm + ReLU, max pool 2, conv 64 5x5 + batch norm + ReLU,
max pool 2, dense 256 + ReLU + dropout 0.25, dense 10; Adam lr 2e-3 with
cosine decay to 0 over all steps, batch 128, 55,000 training images (the last
5,000 held out, as dsc does), every image shifted by a random -1, 0 or +1
pixel in x and y each epoch (zero fill after standardization, as dsc does),
standardization by the training set's mean and std. 2 threads.

    python3 docs/tools/torch_lenet.py ../shared/data/mnist [EPOCHS]

prints, per epoch, the training samples/s, the test accuracy and the
training time so far (test evaluation not counted), like `dsc train
--test-each-epoch`."""
import os
import sys

for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[v] = "2"
import gzip
import math
import time

import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(2)
torch.set_num_interop_threads(1)


def idx(path):
    data = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mnist"
    find = lambda stem: next(os.path.join(d, f) for f in (stem, stem + ".gz") if os.path.exists(os.path.join(d, f)))
    Xall = idx(find("train-images-idx3-ubyte")).astype(np.float32) / 255
    yall = idx(find("train-labels-idx1-ubyte")).astype(np.int64)
    Xte = idx(find("t10k-images-idx3-ubyte")).astype(np.float32) / 255
    yte = idx(find("t10k-labels-idx1-ubyte")).astype(np.int64)
    X, y = Xall[:55000], yall[:55000]
    mean, std = X.mean(), X.std()
    background = (0 - mean) / std
    X = torch.from_numpy((X - mean) / std)
    Xte = torch.from_numpy(((Xte - mean) / std).reshape(-1, 1, 28, 28))
    y, yte = torch.from_numpy(y), torch.from_numpy(yte)
    Xpad = torch.full((len(X), 30, 30), float(background))
    Xpad[:, 1:29, 1:29] = X

    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 5, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1024, 256), nn.ReLU(), nn.Dropout(0.25), nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    lossf = nn.CrossEntropyLoss()
    epochs, batch, n = int(sys.argv[2]) if len(sys.argv) > 2 else 4, 128, len(X)
    steps_per_epoch = (n + batch - 1) // batch
    total = epochs * steps_per_epoch
    gen = torch.Generator().manual_seed(1)
    rows = torch.arange(28).view(1, 28, 1)
    cols = torch.arange(28).view(1, 1, 28)
    step, trained = 0, 0.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch):
            ids = perm[i:i + batch]
            dy = torch.randint(0, 3, (len(ids), 1, 1), generator=gen)
            dx = torch.randint(0, 3, (len(ids), 1, 1), generator=gen)
            xb = Xpad[ids.view(-1, 1, 1), rows + dy, cols + dx].reshape(len(ids), 1, 28, 28)
            for g in opt.param_groups:
                g["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * step / total))
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(xb), y[ids])
            loss.backward()
            opt.step()
            step += 1
        seconds = time.perf_counter() - t0
        trained += seconds
        model.eval()
        with torch.inference_mode():
            acc = sum((model(Xte[j:j + 1000]).argmax(1) == yte[j:j + 1000]).sum().item()
                      for j in range(0, len(Xte), 1000)) / len(Xte)
        print(f"epoch {epoch}: {n / seconds:,.0f} samples/s; test after epoch {epoch}: {100 * acc:.2f}% "
              f"(training {trained:.2f} s)", flush=True)


if __name__ == "__main__":
    main()
