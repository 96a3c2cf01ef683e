#!/usr/bin/python3
"""torch2npz_check.py PRUNETUNE FASHION_DIR WORKDIR SOURCE_DIR

Trains a small MLP and a small CNN with PyTorch on Fashion-MNIST (a few
hundred steps each, seeded), converts them with scripts/torch2npz.py (the MLP
from its state_dict, the CNN both as a whole nn.Sequential and as a
state_dict with --layers), and checks that `prunetune eval` reproduces
PyTorch's test accuracy on the 10,000 test images, and that `prunetune train`
with net.init and train.epochs 0 gives the same figure (the loaded weights,
before any step). Prints one line per check; exit 0 when all hold.

Tolerance: 1e-4, one sample in 10,000. PyTorch (its own GEMM and conv) and
prunetune (OpenBLAS, its own conv kernels) sum the same products in different
orders, and PyTorch scales by x / 255 where prunetune multiplies by
float32(1 / 255): logits differ by float rounding, so a test image whose two
largest logits lie within that rounding may change class. A wrong layout,
scaler or layer order moves the accuracy by whole percents.
"""
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

PT, DATA, WORK, SRC = sys.argv[1:5]
# In-process: one PyTorch import instead of one per conversion (~1.5 s each).
sys.path.insert(0, os.path.join(SRC, "scripts"))
import torch2npz  # noqa: E402
TOL = 1e-4 + 1e-12  # one sample of 10,000 (see the top)


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


x_train = torch.from_numpy(idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
y_train = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
x_test = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
y_test = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))


def train(model, steps, batch, flat):
    torch.manual_seed(1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for step in range(steps):
        i = torch.randint(0, x_train.shape[0], (batch,))
        xb = x_train[i].reshape(batch, -1) if flat else x_train[i].unsqueeze(1)
        loss = nn.functional.cross_entropy(model(xb), y_train[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        xt = x_test.reshape(len(x_test), -1) if flat else x_test.unsqueeze(1)
        pred = torch.cat([model(xt[i:i + 1000]).argmax(1) for i in range(0, len(xt), 1000)])
    return (pred == y_test).double().mean().item()


def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def convert(src, dst, *extra):
    torch2npz.main([src, dst, "--data-dir", DATA, *extra])


def check(label, got, want):
    ok = abs(got - want) <= TOL
    print(f"{'ok' if ok else 'FAIL'}: {label}: prunetune {got:.4f}, PyTorch {want:.4f}")
    return ok


def eval_acc(npz):
    # The test set in full; of the training rows (opened for the split) few.
    return json.loads(run([PT, "eval", npz, "--json", "--set", "data.limit=1000"]))["test_acc"]


torch.set_num_threads(1)
torch.manual_seed(0)
good = True

mlp = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
acc_mlp = train(mlp, 200, 128, True)
torch.save(mlp.state_dict(), os.path.join(WORK, "mlp.pt"))
convert(os.path.join(WORK, "mlp.pt"), os.path.join(WORK, "mlp.npz"))
good &= check("MLP state_dict, eval", eval_acc(os.path.join(WORK, "mlp.npz")), acc_mlp)
# Fine-tuning starts from exactly these weights: with no epoch, the result
# is the loaded network evaluated.
res = json.loads(run([PT, "train", "--quiet", "--set", "net.init=" + os.path.join(WORK, "mlp.npz"),
                      "--set", "net.hidden=[64]", "--set", "train.epochs=0",
                      "--set", "data.dir=" + DATA, "--set", "data.limit=1000"]))
good &= check("MLP net.init, train.epochs 0", res["test_acc"], acc_mlp)

torch.manual_seed(0)
cnn = nn.Sequential(nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                    nn.Linear(8 * 6 * 6, 32), nn.ReLU(), nn.Linear(32, 10))
acc_cnn = train(cnn, 150, 64, False)
torch.save(cnn, os.path.join(WORK, "cnn.pt"))
convert(os.path.join(WORK, "cnn.pt"), os.path.join(WORK, "cnn.npz"))
good &= check("CNN nn.Sequential, eval", eval_acc(os.path.join(WORK, "cnn.npz")), acc_cnn)
layers = [{"type": "conv2d", "out": 4, "kernel": 5, "pad": 2}, {"type": "maxpool", "size": 2},
          {"type": "conv2d", "out": 8, "kernel": 3}, {"type": "avgpool", "size": 2},
          {"type": "flatten"}, {"type": "dense", "out": 32}]
torch.save(cnn.state_dict(), os.path.join(WORK, "cnn_sd.pt"))
convert(os.path.join(WORK, "cnn_sd.pt"), os.path.join(WORK, "cnn_sd.npz"), "--layers",
        json.dumps(layers))
good &= check("CNN state_dict --layers, eval", eval_acc(os.path.join(WORK, "cnn_sd.npz")), acc_cnn)

# A state_dict of a CNN without --layers is refused with one line (exit 2
# from the command line).
try:
    convert(os.path.join(WORK, "cnn_sd.pt"), os.path.join(WORK, "x.npz"))
    msg = None
except torch2npz.Unsupported as e:
    msg = str(e)
want = ("a CNN's state_dict needs --layers (its net.layers list: kernels, strides, "
        "padding and pooling are not in the weights)")
ok = msg == want and not os.path.exists(os.path.join(WORK, "x.npz"))
print(f"{'ok' if ok else 'FAIL'}: CNN state_dict without --layers: {msg!r}")
good &= ok
sys.exit(0 if good else 1)
