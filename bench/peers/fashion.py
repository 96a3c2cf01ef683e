"""Fashion-MNIST loading shared by the PyTorch peers (torch_lenet300.py,
torch_lenet5.py): the four gzip'd IDX files of Debian's dataset-fashion-mnist,
pixels scaled to [0, 1] as prunetune's IDX loader does (core/idx.c), labels
as int64 for CrossEntropyLoss. Loading is outside every timed region."""
import gzip
import struct

import numpy as np
import torch


def _idx(path):
    with gzip.open(path) as f:
        data = f.read()
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)


def load(d, shape):
    """(X, Y, Xt, Yt): train and test sets, each image reshaped to shape
    (e.g. (784,) or (1, 28, 28))."""
    def x(name):
        a = _idx(f"{d}/{name}-images-idx3-ubyte.gz")
        return torch.tensor(a.reshape((-1,) + tuple(shape)), dtype=torch.float32) / 255

    def y(name):
        return torch.tensor(_idx(f"{d}/{name}-labels-idx1-ubyte.gz").astype(np.int64))
    return x("train"), y("train"), x("t10k"), y("t10k")


def train(m, X, Y, Xt, Yt, epochs, batch):
    """SGD epochs over a fresh permutation each, timed (wall and CPU), then
    test accuracy (untimed). Prints the line scripts/bench_* parse."""
    import resource
    import time
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    lossf = torch.nn.CrossEntropyLoss()
    t0, c0, n = time.perf_counter(), time.process_time(), 0
    for _ in range(epochs):
        perm = torch.randperm(X.shape[0])
        for i in range(0, X.shape[0], batch):
            b = perm[i:i + batch]
            opt.zero_grad()
            lossf(m(X[b]), Y[b]).backward()
            opt.step()
            n += len(b)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    with torch.no_grad():
        acc = (m(Xt).argmax(1) == Yt).float().mean().item()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"threads={torch.get_num_threads()} epochs={epochs} batch={batch} samples_per_s={n / dt:.0f} "
          f"cpu_samples_per_s={n / dc:.0f} train_s={dt:.2f} test_acc={acc:.4f} peak_rss_bytes={rss}")
