#!/usr/bin/env python3
"""npz_check.py MODEL.npz DATADIR — evaluate a prunetune model with numpy only.

An independent check of the .npz layout (schemas/model.md): it opens the model
with numpy.load (no pickle, no prunetune code), reads the Fashion-MNIST test
set from DATADIR's t10k-*.gz IDX files with gzip + numpy, keeps the first
meta.config.data.test_limit rows as prunetune does, applies the stored scaler
and the forward pass (ReLU hidden layers, softmax output; for a version 2
model with meta.layers, conv2d layers as cross-correlation with zero padding,
ReLU, then max/avg pooling, and NCHW flattening before the first dense layer)
and prints one JSON line: {"test_acc", "test_loss", "correct", "n", "loss_tol",
"near_ties"}: the last two say how far another float evaluation may be
(tests/allclose.h's bound).
tests/test_npz.c and tests/test_conv.c compare it with `prunetune eval`.
"""
import gzip
import json
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def read_idx(path):
    """An IDX file (ubyte) as a numpy array of its declared shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"{path}: not a ubyte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def conv2d(a, w, b, stride, pad):
    """a (n, C, H, W), w (K, C, k, k): PyTorch's Conv2d, written independently."""
    k = w.shape[2]
    a = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(a, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (n, oh, ow, K)
    return out.transpose(0, 3, 1, 2) + b[None, :, None, None]


def term_gamma(k):
    """Bound of one float sum of k terms relative to the sum of their
    magnitudes: tests/allclose.h's pt_gamma_f32."""
    return min(8.0 * np.sqrt(k), float(k)) * 2.0**-24


def pool(a, kind, size):
    """Windows of size x size, stride size, the edge floored (PyTorch's default)."""
    n, c, h, w = a.shape
    ph, pw = h // size, w // size
    a = a[:, :, : ph * size, : pw * size].reshape(n, c, ph, size, pw, size)
    return a.max(axis=(3, 5)) if kind == "max" else a.mean(axis=(3, 5))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model, data_dir = sys.argv[1], sys.argv[2]
    z = np.load(model)  # allow_pickle stays False: the format must not need it
    meta = json.loads(z["meta"].tobytes().decode("utf-8"))
    if meta.get("format") != "prunetune-model" or meta.get("version") not in (1, 2):
        sys.exit(f"{model}: not a version 1 or 2 prunetune model")
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
    layers = meta.get("layers", [{"type": "dense"}] * n_layers)
    if layers[0]["type"] == "conv2d":
        a = a.reshape(len(a), *meta["input_shape"])
    # e: how far a float evaluation of each activation may be from the exact
    # value (tests/allclose.h, pt_dense_tol): through a layer
    # e' = g (|W| (|a| + e) + |b|) + |W| e, g = term_gamma(K) for its K
    # terms; a unit whose pre-activation is below -e' is 0 in every
    # evaluation and carries no error on. Pooling keeps the window's largest
    # (max) or mean (avg, plus its own float sum) error.
    f64 = np.float64
    e = np.zeros(a.shape)
    for layer in range(n_layers):
        w, b = z[f"w{layer}"], z[f"b{layer}"]
        if f"mask{layer}" in z.files:  # pruned weights are stored as zeros
            assert not np.any(w[z[f"mask{layer}"] == 0])
        spec = layers[layer]
        absw, absb = np.abs(w).astype(f64), np.abs(b).astype(f64)
        if spec["type"] == "conv2d":
            assert w.dtype == np.float32 and w.ndim == 4 and w.shape[0] == spec["out"]
            st, pd = spec["stride"], spec["pad"]
            pre = conv2d(a, w, b, st, pd)
            e = (term_gamma(w[0].size + 1) * conv2d(np.abs(a).astype(f64) + e, absw, absb, st, pd)
                 + conv2d(e, absw, 0.0 * absb, st, pd))
            e = np.where(pre > -e, e, 0.0)
            a = np.maximum(pre, 0)
            if spec["pool"] != "none":
                size = spec["pool_size"]
                e = pool(e, spec["pool"], size)
                if spec["pool"] != "max":
                    e += term_gamma(size * size) * pool(np.abs(a).astype(f64), "avg", size)
                a = pool(a, spec["pool"], size)
            continue
        a = a.reshape(len(a), -1)  # flatten: NCHW order
        e = e.reshape(len(e), -1)
        assert w.dtype == np.float32 and w.shape == (sizes[layer + 1], sizes[layer])
        pre = a @ w.T + b
        e = (term_gamma(w.shape[1] + 1) * ((np.abs(a).astype(f64) + e) @ absw.T + absb)
             + e @ absw.T)
        a = pre
        if layer + 1 < n_layers:
            e = np.where(pre > -e, e, 0.0)
            a = np.maximum(pre, 0)

    logits = a.astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    n = len(labels)
    loss = float(-log_p[np.arange(n), labels].mean())
    correct = int((a.argmax(axis=1) == labels).sum())
    # How far prunetune's float logits may be from these (each side within e
    # of the exact ones), per row the largest: the loss (log-sum-exp and the
    # label's logit move at most that much each) may differ by twice its
    # mean, and only a row whose top two logits are closer than twice it
    # may have another argmax.
    row_tol = (2.0 * e).max(axis=1)
    top2 = np.sort(a.astype(np.float64), axis=1)[:, -2:]
    near_ties = int((top2[:, 1] - top2[:, 0] <= 2.0 * row_tol).sum())
    print(json.dumps({"test_acc": correct / n, "test_loss": loss, "correct": correct, "n": n,
                      "loss_tol": float(2.0 * row_tol.mean()), "near_ties": near_ties}))


if __name__ == "__main__":
    main()
