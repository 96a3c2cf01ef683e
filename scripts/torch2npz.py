#!/usr/bin/python3
"""torch2npz.py — a PyTorch network as a prunetune model file (.npz).

usage: /usr/bin/python3 scripts/torch2npz.py MODEL.pt OUT.npz [options]

MODEL.pt is what torch.save wrote: a whole nn.Sequential (torch.save(model)),
or its state_dict (torch.save(model.state_dict())). Supported modules, in
prunetune's order (ReLU after every hidden conv / linear layer, pooling after
a conv's ReLU, the last Linear the output, its softmax implied):
  Linear, ReLU, Dropout (identity at evaluation: dropped; fine-tuning sets
  reg.dropout), Conv2d (square kernel, one stride, zero padding, no
  dilation or groups), MaxPool2d / AvgPool2d (window = stride, no padding),
  Flatten, and a final Softmax / LogSoftmax (dropped).
A state_dict has no modules: its 2-d weights are read as Linear layers with
ReLU between them; a CNN's state_dict needs --layers (the net.layers list
that describes it; see schemas/train.schema.json), a whole nn.Sequential
needs nothing.

The weights go in as they are: prunetune's .npz already has PyTorch's layouts
(Linear [out][in], Conv2d [K][C][k][k], NCHW flatten), so `prunetune eval
OUT.npz` computes the network PyTorch computed, and `net.init: "OUT.npz"`
fine-tunes and prunes it. The input scaling is stored with it: by default
ToTensor's x / 255 (offset 0, scale 1/255, float32); --normalize MEAN STD adds
a transforms.Normalize after it. The stored config names the data
(--data-dir, default Debian's Fashion-MNIST) so that eval can run it.

options:
  --data-dir DIR         IDX folder eval reads (default /usr/share/datasets/fashion-mnist)
  --input-shape C,H,W    one sample's shape for a CNN (default 1,28,28)
  --normalize MEAN STD   the network expects Normalize(MEAN, STD) after ToTensor
  --layers JSON          net.layers of a CNN given as a state_dict
Exit status: 0 written, 2 unsupported model or bad option (one line on stderr).
"""
import json
import sys

import numpy as np


class Unsupported(Exception):
    pass


def parse_args(argv):
    opts = {"data_dir": "/usr/share/datasets/fashion-mnist", "input_shape": (1, 28, 28),
            "normalize": None, "layers": None}
    pos = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(__doc__.strip())
            sys.exit(0)
        if a == "--data-dir" and i + 1 < len(argv):
            opts["data_dir"] = argv[i + 1]
            i += 2
        elif a == "--input-shape" and i + 1 < len(argv):
            try:
                opts["input_shape"] = tuple(int(v) for v in argv[i + 1].split(","))
            except ValueError:
                raise Unsupported(f"--input-shape: expected C,H,W, got '{argv[i + 1]}'")
            if len(opts["input_shape"]) != 3 or min(opts["input_shape"]) < 1:
                raise Unsupported(f"--input-shape: expected C,H,W, got '{argv[i + 1]}'")
            i += 2
        elif a == "--normalize" and i + 2 < len(argv):
            opts["normalize"] = (float(argv[i + 1]), float(argv[i + 2]))
            i += 3
        elif a == "--layers" and i + 1 < len(argv):
            opts["layers"] = json.loads(argv[i + 1])
            i += 2
        elif a.startswith("-"):
            raise Unsupported(f"unknown or incomplete option '{a}' (see --help)")
        else:
            pos.append(a)
            i += 1
    if len(pos) != 2:
        raise Unsupported("expected MODEL.pt and OUT.npz (see --help)")
    return pos[0], pos[1], opts


def f32(t):
    return np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32))


def pair(v, what, name):
    """A module's int-or-tuple attribute as one int (square only)."""
    if isinstance(v, (tuple, list)):
        if len(set(v)) != 1:
            raise Unsupported(f"{name}: {what} {tuple(v)}: only square / equal values are supported")
        v = v[0]
    if not isinstance(v, int):
        raise Unsupported(f"{name}: {what} {v!r}: expected an integer")
    return v


def from_sequential(model, nn):
    """Layers as a list of dicts from a whole nn.Sequential."""
    out = []
    mods = list(model.children()) if isinstance(model, nn.Sequential) else None
    if mods is None:
        raise Unsupported(f"a {type(model).__name__}: expected an nn.Sequential or a state_dict")
    for i, m in enumerate(mods):
        name = f"module {i} ({type(m).__name__})"
        if isinstance(m, nn.Linear):
            out.append({"kind": "dense", "w": f32(m.weight),
                        "b": f32(m.bias) if m.bias is not None else np.zeros(m.out_features, np.float32)})
        elif isinstance(m, nn.Conv2d):
            if m.groups != 1 or pair(m.dilation, "dilation", name) != 1:
                raise Unsupported(f"{name}: groups and dilation must be 1")
            if m.padding_mode != "zeros" or isinstance(m.padding, str):
                raise Unsupported(f"{name}: only numeric zero padding is supported")
            out.append({"kind": "conv", "w": f32(m.weight),
                        "b": f32(m.bias) if m.bias is not None else np.zeros(m.out_channels, np.float32),
                        "k": pair(m.kernel_size, "kernel", name), "stride": pair(m.stride, "stride", name),
                        "pad": pair(m.padding, "padding", name), "pool": "none", "ps": 1})
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            k = pair(m.kernel_size, "kernel", name)
            s = pair(m.stride if m.stride is not None else k, "stride", name)
            if s != k or pair(m.padding, "padding", name) != 0 or getattr(m, "ceil_mode", False):
                raise Unsupported(f"{name}: the window must equal the stride, without padding or ceil_mode")
            if isinstance(m, nn.MaxPool2d) and pair(m.dilation, "dilation", name) != 1:
                raise Unsupported(f"{name}: dilation must be 1")
            if not out or out[-1]["kind"] != "conv" or out[-1]["pool"] != "none":
                raise Unsupported(f"{name}: a pooling layer must follow a Conv2d (and its ReLU)")
            if isinstance(m, nn.AvgPool2d) and not out[-1].get("relu"):
                raise Unsupported(f"{name}: average pooling must come after the conv's ReLU")
            out[-1]["pool"] = "max" if isinstance(m, nn.MaxPool2d) else "avg"
            out[-1]["ps"] = k
        elif isinstance(m, nn.ReLU):
            if not out or out[-1].get("relu"):
                raise Unsupported(f"{name}: ReLU must follow a Linear or Conv2d layer")
            out[-1]["relu"] = True
        elif isinstance(m, (nn.Dropout, nn.Flatten)):
            continue
        elif isinstance(m, (nn.Softmax, nn.LogSoftmax)) and i == len(mods) - 1:
            continue
        else:
            raise Unsupported(f"{name}: not supported (Linear, ReLU, Dropout, Conv2d, "
                              "MaxPool2d, AvgPool2d, Flatten)")
    for i, l in enumerate(out):
        last = i == len(out) - 1
        if last and (l["kind"] != "dense" or l.get("relu")):
            raise Unsupported("the last layer must be a Linear without ReLU (the logits)")
        if not last and not l.get("relu"):
            raise Unsupported(f"weight layer {i}: every hidden layer needs its ReLU")
    return out


def from_state_dict(sd, layers_json):
    """Layers from a state_dict: weights in key order, ReLU between them."""
    names = [k[:-len(".weight")] for k in sd if k.endswith(".weight")]
    out = []
    for n in names:
        w = sd[n + ".weight"]
        b = sd.get(n + ".bias")
        b = f32(b) if b is not None else np.zeros(w.shape[0], np.float32)
        if w.dim() == 2:
            out.append({"kind": "dense", "w": f32(w), "b": b})
        elif w.dim() == 4:
            out.append({"kind": "conv", "w": f32(w), "b": b, "pool": "none", "ps": 1})
        else:
            raise Unsupported(f"{n}.weight: a {w.dim()}-d tensor is neither Linear nor Conv2d")
    if not out:
        raise Unsupported("the state_dict holds no weights")
    convs = [l for l in out if l["kind"] == "conv"]
    if convs and layers_json is None:
        raise Unsupported("a CNN's state_dict needs --layers (its net.layers list: kernels, "
                          "strides, padding and pooling are not in the weights)")
    if layers_json is not None:
        geo = [e for e in layers_json if e.get("type") in ("conv2d", "maxpool", "avgpool")]
        ci = -1
        for e in geo:
            if e["type"] == "conv2d":
                ci += 1
                if ci >= len(convs):
                    raise Unsupported("--layers has more conv2d entries than the state_dict")
                convs[ci].update(k=e["kernel"], stride=e.get("stride", 1), pad=e.get("pad", 0))
            elif ci >= 0:
                convs[ci].update(pool="max" if e["type"] == "maxpool" else "avg", ps=e.get("size", 2))
        if ci + 1 != len(convs):
            raise Unsupported("--layers and the state_dict disagree in conv2d layers")
    return out


def build(layers, opts):
    """sizes, meta.layers, config net section and the arrays."""
    conv = layers[0]["kind"] == "conv"
    if conv:
        c, h, w = opts["input_shape"]
        if layers[0]["w"].shape[1] != c:
            raise Unsupported(f"the first Conv2d takes {layers[0]['w'].shape[1]} channels, "
                              f"--input-shape says {c}")
    else:
        c, h, w = 1, 1, layers[0]["w"].shape[1]
    sizes = [c * h * w]
    meta_layers, net_layers = [], []
    for i, l in enumerate(layers):
        if l["kind"] == "conv":
            K, C, k, k2 = l["w"].shape
            if k != k2 or k != l["k"]:
                raise Unsupported(f"weight layer {i}: kernel {k}x{k2} does not match")
            if C != c:
                raise Unsupported(f"weight layer {i}: takes {C} channels, gets {c}")
            oh = (h + 2 * l["pad"] - k) // l["stride"] + 1
            ow = (w + 2 * l["pad"] - k) // l["stride"] + 1
            if oh < 1 or ow < 1:
                raise Unsupported(f"weight layer {i}: kernel larger than its input")
            if l["pool"] != "none":
                oh, ow = oh // l["ps"], ow // l["ps"]
            c, h, w = K, oh, ow
            sizes.append(K * oh * ow)
            meta_layers.append({"type": "conv2d", "out": K, "kernel": k, "stride": l["stride"],
                                "pad": l["pad"], "pool": l["pool"], "pool_size": l["ps"]})
            net_layers.append({"type": "conv2d", "out": K, "kernel": k, "stride": l["stride"],
                               "pad": l["pad"]})
            if l["pool"] != "none":
                net_layers.append({"type": l["pool"] + "pool", "size": l["ps"]})
        else:
            n_out, n_in = l["w"].shape
            if n_in != sizes[-1]:
                raise Unsupported(f"weight layer {i}: Linear takes {n_in} inputs, "
                                  f"the layer before gives {sizes[-1]}")
            sizes.append(n_out)
            meta_layers.append({"type": "dense", "out": n_out})
            if i < len(layers) - 1:
                net_layers.append({"type": "dense", "out": n_out})
            c, h, w = n_out, 1, 1
    if conv:
        net = {"layers": net_layers}
    else:
        net = {"hidden": sizes[1:-1]}
    return sizes, meta_layers, net


def main(argv):
    src, dst, opts = parse_args(argv)
    try:
        import torch
        import torch.nn as nn
    except ImportError:
        raise Unsupported("PyTorch is not installed (Debian: apt install python3-torch)")
    try:
        obj = torch.load(src, map_location="cpu")
    except Exception as e:  # torch raises many kinds for a bad file
        raise Unsupported(f"{src}: cannot load with torch.load: {e}")
    if isinstance(obj, dict):
        if "state_dict" in obj and isinstance(obj["state_dict"], dict):
            obj = obj["state_dict"]
        layers = from_state_dict(obj, opts["layers"])
    else:
        layers = from_sequential(obj, nn)
    sizes, meta_layers, net = build(layers, opts)
    dim = sizes[0]
    conv = layers[0]["kind"] == "conv"
    # x_scaled = (x - offset) * mul, x the raw 0..255 pixel: ToTensor's x / 255
    # is offset 0, mul 1/255; Normalize(m, s) after it gives offset 255 m,
    # mul 1 / (255 s).
    mean, std = opts["normalize"] or (0.0, 1.0)
    offset = np.full(dim, 255.0 * mean, np.float32)
    mul = np.full(dim, 1.0 / (255.0 * std), np.float32)
    config = {"data": {"format": "idx", "dir": opts["data_dir"]}, "net": net}
    if conv:
        config["data"]["shape"] = list(opts["input_shape"])
    meta = {"format": "prunetune-model", "version": 2 if conv else 1, "sizes": sizes,
            "activation": "relu", "output": "softmax", "masked": False, "config": config,
            "metrics": {"test_acc": None, "test_loss": None, "val_acc": None, "n_test": 0},
            "eval_batch": 128 if conv else 1024, "source": {"torch2npz": src}}
    if conv:
        meta["input_shape"] = list(opts["input_shape"])
        meta["layers"] = meta_layers
    arrays = {}
    for i, l in enumerate(layers):
        arrays[f"w{i}"] = l["w"]
        arrays[f"b{i}"] = l["b"]
    arrays["scale_offset"] = offset
    arrays["scale_mul"] = mul
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    # np.savez adds ".npz" to a name without it; write through a file object.
    with open(dst, "wb") as f:
        np.savez(f, **arrays)
    print(f"torch2npz: {dst}: {'-'.join(map(str, sizes))}"
          f"{' (conv)' if conv else ''}, {sum(a.size for k, a in arrays.items() if k[0] in 'wb')} "
          f"parameters", file=sys.stderr)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (Unsupported, ValueError, KeyError, json.JSONDecodeError) as e:
        print(f"torch2npz: {e}", file=sys.stderr)
        sys.exit(2)
