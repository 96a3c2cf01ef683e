"""Peer of scripts/bench_train: LeNet-300-100 training throughput in PyTorch (CPU).

Measures: training samples/s (wall and CPU) over EPOCHS epochs of the 60,000
Fashion-MNIST training images, test accuracy after, peak RSS of the process.

Mirrors prunetune's side, `prunetune train --set net.hidden=[300,100]` as
scripts/bench_train runs it: 784-300-100-10 with ReLU, softmax cross-entropy,
SGD lr 0.05 momentum 0.9, coupled L2 1e-4 (PyTorch's weight_decay is the same
g + l2 w as core/optim.h), batch 128 from a fresh permutation per epoch, all
training rows (val_fraction 0), THREADS intra-op threads (1 = one BLAS thread,
like a search worker). Both time the training loop only, not loading nor the
test pass. He/Kaiming-uniform initialisations differ; the accuracy is printed
so a broken run shows, not to compare.

Usage: /usr/bin/python3 bench/peers/torch_lenet300.py DATADIR [THREADS=1] [EPOCHS=1] [BATCH=128]
Prints one line: threads= epochs= batch= samples_per_s= cpu_samples_per_s= train_s= test_acc= peak_rss_bytes=
Needs Debian's python3-torch (scripts/setup --bench)."""
import sys

import torch

import fashion

d = sys.argv[1]
threads, epochs, batch = (int(a) for a in (sys.argv[2:5] + ["1", "1", "128"][len(sys.argv[2:5]):]))
torch.set_num_threads(threads)
torch.manual_seed(0)
X, Y, Xt, Yt = fashion.load(d, (784,))
nn = torch.nn
m = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
fashion.train(m, X, Y, Xt, Yt, epochs, batch)
