"""What docs/tools/torch_default_recipe.py and torch_lenet.py share: 2
threads, MNIST as dsc train reads it (55,000 training images, the last
5,000 held out; standardized by the training set's mean and std), and the
random ±1-pixel shifts of every training image each epoch (background fill)."""
import os

for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[v] = "2"
import gzip

import numpy as np
import torch

torch.set_num_threads(2)
torch.set_num_interop_threads(1)


def idx(path):
    data = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(d):
    """(Xpad, y, Xte, yte): training images standardized and padded by one
    pixel of background (55000 x 30 x 30), their labels, and the test images
    standardized (10000 x 28 x 28) with their labels."""
    find = lambda stem: next(os.path.join(d, f) for f in (stem, stem + ".gz") if os.path.exists(os.path.join(d, f)))
    Xall = idx(find("train-images-idx3-ubyte")).astype(np.float32) / 255
    yall = idx(find("train-labels-idx1-ubyte")).astype(np.int64)
    Xte = idx(find("t10k-images-idx3-ubyte")).astype(np.float32) / 255
    yte = idx(find("t10k-labels-idx1-ubyte")).astype(np.int64)
    X, y = Xall[:55000], yall[:55000]
    mean, std = X.mean(), X.std()
    Xpad = torch.full((len(X), 30, 30), float((0 - mean) / std))
    Xpad[:, 1:29, 1:29] = torch.from_numpy((X - mean) / std)
    return Xpad, torch.from_numpy(y), torch.from_numpy((Xte - mean) / std), torch.from_numpy(yte)


_rows = torch.arange(28).view(1, 28, 1)
_cols = torch.arange(28).view(1, 1, 28)


def shifted(Xpad, ids, gen):
    """The images `ids`, each shifted by -1, 0 or +1 pixel in x and y: len(ids) x 28 x 28."""
    dy = torch.randint(0, 3, (len(ids), 1, 1), generator=gen)
    dx = torch.randint(0, 3, (len(ids), 1, 1), generator=gen)
    return Xpad[ids.view(-1, 1, 1), _rows + dy, _cols + dx]


def train(model, lr, epochs, data, shape):
    """Adam at `lr` with cosine decay to 0 over all steps, batch 128, shifted
    images reshaped to (batch,) + shape; after each epoch prints the training
    samples/s, the test accuracy and the training time so far (test
    evaluation not counted), like `dsc train --test-each-epoch`."""
    import math
    import time
    Xpad, y, Xte, yte = data
    Xte = Xte.reshape((-1,) + shape)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    lossf = torch.nn.CrossEntropyLoss()
    n, batch = len(Xpad), 128
    total = epochs * ((n + batch - 1) // batch)
    gen = torch.Generator().manual_seed(1)
    step, trained = 0, 0.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch):
            ids = perm[i:i + batch]
            xb = shifted(Xpad, ids, gen).reshape((len(ids),) + shape)
            for g in opt.param_groups:
                g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
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
