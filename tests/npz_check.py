#!/usr/bin/env python3
"""npz_check.py MODEL.npz DATADIR — evaluate a prunetune model with numpy only.

An independent check of the .npz layout (schemas/model.md): it opens the model
with numpy.load (no pickle, no prunetune code), reads the Fashion-MNIST test
set from DATADIR's t10k-*.gz IDX files with gzip + numpy, keeps the first
meta.config.data.test_limit rows as prunetune does, applies the stored scaler
and the forward pass (ReLU hidden layers, softmax output), and prints one JSON
line: {"test_acc", "test_loss", "correct", "n"}. tests/test_npz.c compares it
with `prunetune eval`.
"""
import gzip
import json
import sys

import numpy as np


def read_idx(path):
    """An IDX file (ubyte) as a numpy array of its declared shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"{path}: not a ubyte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model, data_dir = sys.argv[1], sys.argv[2]
    z = np.load(model)  # allow_pickle stays False: the format must not need it
    meta = json.loads(z["meta"].tobytes().decode("utf-8"))
    if meta.get("format") != "prunetune-model" or meta.get("version") != 1:
        sys.exit(f"{model}: not a version 1 prunetune model")
    sizes = meta["sizes"]
    n_layers = len(sizes) - 1

    images = read_idx(f"{data_dir}/t10k-images-idx3-ubyte.gz")
    labels = read_idx(f"{data_dir}/t10k-labels-idx1-ubyte.gz")
    limit = meta["config"]["data"]["test_limit"]
    if limit > 0:
        images, labels = images[:limit], labels[:limit]
    x = images.reshape(len(images), -1).astype(np.float32)

    # Same float32 operations as prunetune's gather: (x - offset) * mul.
    a = (x - z["scale_offset"]) * z["scale_mul"]
    for layer in range(n_layers):
        w, b = z[f"w{layer}"], z[f"b{layer}"]
        assert w.dtype == np.float32 and w.shape == (sizes[layer + 1], sizes[layer])
        if f"mask{layer}" in z.files:  # pruned weights are stored as zeros
            assert not np.any(w[z[f"mask{layer}"] == 0])
        a = a @ w.T + b
        if layer + 1 < n_layers:
            a = np.maximum(a, 0)

    logits = a.astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    n = len(labels)
    loss = float(-log_p[np.arange(n), labels].mean())
    correct = int((a.argmax(axis=1) == labels).sum())
    print(json.dumps({"test_acc": correct / n, "test_loss": loss, "correct": correct, "n": n}))


if __name__ == "__main__":
    main()
