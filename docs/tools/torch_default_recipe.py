#!/usr/bin/env python3
"""PyTorch on DeepScratch's default `dsc train` recipe, for the peak-memory and
time-to-accuracy comparison in docs/performance.md (issue 6).

784-512-512-10, ReLU, He-normal init, dropout 0.2 (keep 0.8) after each hidden
layer, Adam lr 1e-3 with cosine decay to 0 over all steps, batch 128, 12 epochs,
every training image shifted by a random -1, 0 or +1 pixel in x and y each
epoch (zero fill), 55,000 training images (the last 5,000 held out, as dsc
does), standardization by the training set's mean and std. 2 threads.

    /usr/bin/time -v python3 docs/tools/torch_default_recipe.py ../shared/data/mnist [EPOCHS]

prints, per epoch, the test accuracy and the training time so far (test
evaluation not counted), like `dsc train --test-each-epoch`."""
import sys

import torch
import torch.nn as nn

from torch_mnist import load, train


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mnist"
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10))
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    train(model, 1e-3, epochs, load(d), (784,))


if __name__ == "__main__":
    main()
