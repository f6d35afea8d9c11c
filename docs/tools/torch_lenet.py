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
import sys

import torch
import torch.nn as nn

from torch_mnist import load, train


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mnist"
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 5, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1024, 256), nn.ReLU(), nn.Dropout(0.25), nn.Linear(256, 10))
    train(model, 2e-3, epochs, load(d), (1, 28, 28))


if __name__ == "__main__":
    main()
