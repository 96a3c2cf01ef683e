"""Peer of scripts/bench_cnn: LeNet-5 training throughput in PyTorch (CPU).

Measures: training samples/s (wall and CPU) over EPOCHS epochs of the 60,000
Fashion-MNIST training images, test accuracy after, peak RSS of the process.

Mirrors prunetune's side, examples/lenet5_fashion.json as scripts/bench_cnn
runs it (val_fraction 0, lr_schedule constant): conv 6@5x5 pad 2 - ReLU -
maxpool 2 - conv 16@5x5 - ReLU - maxpool 2 - flatten - dense 120 - dense 84
- dense 10, ReLU after each hidden layer, softmax cross-entropy, SGD lr 0.05
momentum 0.9, coupled L2 1e-4 (weight_decay), batch 128 from a fresh
permutation per epoch, THREADS intra-op threads. Both time the training loop
only. prunetune runs the conv layers as im2col + OpenBLAS sgemm (core/conv.c);
PyTorch's CPU convolution is its own (mkldnn/oneDNN when built with it).

Usage: /usr/bin/python3 bench/peers/torch_lenet5.py DATADIR [THREADS=1] [EPOCHS=1] [BATCH=128]
Prints one line: threads= epochs= batch= samples_per_s= cpu_samples_per_s= train_s= test_acc= peak_rss_bytes=
Needs Debian's python3-torch (scripts/setup --bench)."""
import sys

import torch

import fashion

d = sys.argv[1]
threads, epochs, batch = (int(a) for a in (sys.argv[2:5] + ["1", "1", "128"][len(sys.argv[2:5]):]))
torch.set_num_threads(threads)
torch.manual_seed(0)
X, Y, Xt, Yt = fashion.load(d, (1, 28, 28))
nn = torch.nn
m = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                  nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
fashion.train(m, X, Y, Xt, Yt, epochs, batch)
