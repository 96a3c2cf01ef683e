#!/usr/bin/env python3
"""onnx_check.py MODEL.onnx DATADIR — check an ONNX model prunetune exported.

1. ONNX's own checker, full: onnx.checker.check_model(model, full_check=True)
   (the IR, every operator's schema, and strict type and shape inference).
2. An evaluation of the graph written here with numpy alone (a few lines per
   operator, nothing of prunetune's or of a runtime's): the Fashion-MNIST test
   set read from DATADIR's t10k-*.gz IDX files with gzip + numpy, its first
   data.test_limit rows (from the prunetune.config metadata) as prunetune
   keeps them, fed as raw float32 features in the graph input's shape.
   Weights come from graph.initializer, graph.sparse_initializer and Constant
   nodes (value or sparse_value); a SparseTensorProto is densified from its
   COO values and indices (linear [NNZ] or [NNZ, rank]).

Prints one JSON line: correct, n, test_acc, recorded_test_acc and n_test (what
training measured, from the metadata), opset, ops (the operator types used),
sparse (SparseTensorProtos in the model), sizes (prunetune.sizes), bytes.
Exit 1 with a message on any failure. tests/test_onnx.c compares it with
`prunetune train`.
"""
import json
import os
import sys

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import numpy_helper

from npz_check import read_idx  # the IDX reader the .npz check already has (same folder)

CHUNK = 500  # rows per evaluation step: bounds the memory of conv windows


def densify(sp):
    """SparseTensorProto -> dense numpy array (zeros elsewhere)."""
    values = numpy_helper.to_array(sp.values)
    idx = numpy_helper.to_array(sp.indices).astype(np.int64)
    dims = tuple(sp.dims)
    dense = np.zeros(int(np.prod(dims)), dtype=values.dtype)
    if idx.ndim == 2:  # [NNZ, rank] coordinates
        idx = np.ravel_multi_index(tuple(idx.T), dims)
    if len(idx) and (np.any(np.diff(idx) <= 0) or idx[0] < 0 or idx[-1] >= dense.size):
        sys.exit(f"{sp.values.name}: COO indices not ascending and in range")
    dense[idx] = values
    return dense.reshape(dims)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def conv(x, w, b, at):
    """ONNX Conv (group 1, dilation 1): cross-correlation with zero pads."""
    assert at.get("group", 1) == 1 and set(at.get("dilations", [1, 1])) == {1}
    k = w.shape[2:]
    assert list(at.get("kernel_shape", k)) == list(k)
    sh, sw = at.get("strides", [1, 1])
    pt, pl, pb, pr = at.get("pads", [0, 0, 0, 0])
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    win = sliding_window_view(x, k, axis=(2, 3))[:, :, ::sh, ::sw]
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (n, oh, ow, K)
    return out.transpose(0, 3, 1, 2) + (0 if b is None else b[None, :, None, None])


def pool(x, at, reduce):
    """MaxPool / AveragePool with window = stride, no pads, floor at the edge."""
    kh, kw = at["kernel_shape"]
    assert list(at.get("strides", [1, 1])) == [kh, kw], "window = stride only"
    assert not any(at.get("pads", [0] * 4)) and not at.get("ceil_mode", 0)
    n, c, h, w = x.shape
    ph, pw = h // kh, w // kw
    x = x[:, :, : ph * kh, : pw * kw].reshape(n, c, ph, kh, pw, kw)
    return reduce(x, axis=(3, 5)).astype(np.float32)


def gemm(a, b, c, at):
    a = a.T if at.get("transA", 0) else a
    b = b.T if at.get("transB", 0) else b
    out = at.get("alpha", 1.0) * (a @ b)
    return out + at.get("beta", 1.0) * c if c is not None else out


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def run_graph(graph, consts, x):
    """The graph's outputs for input x (one chunk), node by node."""
    env = dict(consts)
    env[graph.input[0].name] = x
    for node in graph.node:
        at = attrs(node)
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Constant":
            continue  # evaluated once, in consts
        if op == "Sub":
            out = ins[0] - ins[1]
        elif op == "Mul":
            out = ins[0] * ins[1]
        elif op == "Add":
            out = ins[0] + ins[1]
        elif op == "Gemm":
            out = gemm(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at)
        elif op == "MatMul":
            out = ins[0] @ ins[1]
        elif op == "Relu":
            out = np.maximum(ins[0], 0)
        elif op == "Conv":
            out = conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at)
        elif op == "MaxPool":
            out = pool(ins[0], at, np.max)
        elif op == "AveragePool":
            out = pool(ins[0], at, np.mean)
        elif op == "Flatten":
            axis = at.get("axis", 1)
            out = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
        elif op == "Softmax":
            out = softmax(ins[0], at.get("axis", -1))
        else:
            sys.exit(f"onnx_check: operator {op} is not evaluated here")
        env[node.output[0]] = out.astype(np.float32)
    return [env[o.name] for o in graph.output]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, data_dir = sys.argv[1], sys.argv[2]
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 13:
        sys.exit(f"{path}: opset {opset}, expected 13 or later")
    graph = model.graph
    meta = {p.key: p.value for p in model.metadata_props}

    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    n_sparse = 0
    for sp in graph.sparse_initializer:
        consts[sp.values.name] = densify(sp)
        n_sparse += 1
    for node in graph.node:
        if node.op_type != "Constant":
            continue
        a = node.attribute[0]
        if a.name == "sparse_value":
            consts[node.output[0]] = densify(a.sparse_tensor)
            n_sparse += 1
        elif a.name == "value":
            consts[node.output[0]] = numpy_helper.to_array(a.t)
        else:
            sys.exit(f"onnx_check: Constant with {a.name} is not evaluated here")

    images = read_idx(f"{data_dir}/t10k-images-idx3-ubyte.gz")
    labels = read_idx(f"{data_dir}/t10k-labels-idx1-ubyte.gz")
    limit = json.loads(meta["prunetune.config"])["data"]["test_limit"]
    if limit > 0:
        images, labels = images[:limit], labels[:limit]
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim[1:]]
    x = images.reshape(len(images), *dims).astype(np.float32)  # raw features

    correct = 0
    for i in range(0, len(x), CHUNK):
        logits, probs = run_graph(graph, consts, x[i : i + CHUNK])
        assert probs.shape == logits.shape and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
        correct += int((logits.argmax(axis=1) == labels[i : i + CHUNK]).sum())
    n = len(labels)
    print(json.dumps({
        "correct": correct, "n": n, "test_acc": correct / n,
        "recorded_test_acc": float(meta["prunetune.test_acc"]),
        "n_test": int(meta["prunetune.n_test"]), "opset": opset,
        "ops": sorted({nd.op_type for nd in graph.node}), "sparse": n_sparse,
        "sizes": json.loads(meta["prunetune.sizes"]), "bytes": os.path.getsize(path)}))


if __name__ == "__main__":
    main()
