#!/usr/bin/python3
"""The peer of scripts/bench_e2e: examples/study_e2e.json written as an
Optuna 3.1 + PyTorch user would write it.

What it measures: one 64-trial (--trials) TPE study of pruning x
regularization hybrids of LeNet-300-100 on Fashion-MNIST, ~5 epochs per trial,
objective val_acc subject to sparsity >= 0.9, two trials at a time
(study.optimize(n_jobs=2): threads of this one process, one torch thread each),
every trial in SQLite. It prints one JSON line: wall time, total epochs
trained, the best feasible trial (by val_acc) and its test accuracy; the
caller measures this process's peak RSS.

How it mirrors prunetune's side (examples/study_e2e.json, core/train.c,
core/prune.c):
- data: the IDX files as uint8, 6000 validation rows split off the 60000 by a
  seeded permutation, inputs scaled to [0, 1] per batch (prunetune keeps uint8
  rows too and scales while gathering a batch); the 10000 test rows.
- network: Linear 784-300-100-10 with PyTorch's default initialisation
  (prunetune's net.weight_init "uniform", which the study sets), ReLU,
  dropout (reg.dropout) after each hidden layer, softmax cross-entropy.
- training: SGD momentum 0.9, cosine learning rate per epoch, run again over
  each fine-tuning phase (learning-rate rewinding, as prunetune); L2 as SGD
  weight_decay (coupled) and L1 as l1 * sum|w| added to the loss, weights
  only (prunetune's reg.bias is false).
- pruning with torch.nn.utils.prune: "layer" = l1_unstructured per layer
  (output layer included, prunetune's prune_output), "global" =
  global_unstructured over all weights, "neuron" = ln_structured (L2) on the
  rows of the hidden layers plus the matching biases and next-layer columns
  (custom_from_mask), as prunetune masks a neuron. The torch pruning
  container prunes a given number of the units still unpruned, so each event
  asks for round(target * n) minus those already pruned: the same cumulative
  targets as prunetune.
- schedules: oneshot = train.epochs, prune to s, finetune_epochs; iterative =
  train.epochs, then rounds x (prune to 1 - (1 - s)^(r/R), finetune_epochs),
  no rewinding; gradual = Zhu & Gupta's cubic ramp, an event every
  prune.frequency steps from start_epoch to end_epoch (in steps of the epoch),
  and the final target at the end when the window reaches it.
- search: the same parameters, ranges and conditions; TPESampler(seed=1,
  n_startup_trials=10, constant_liar=True, constraints_func: sparsity >= 0.9),
  and first the reference trial (no pruning, no regularization) that
  prunetune enqueues.
- evaluation: validation accuracy after every epoch (reported to the trial),
  test accuracy at the end, batches of 1024 rows under torch.no_grad().
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import threading
import time
import warnings

import numpy as np
import optuna
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

EVAL_BATCH = 1024


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(dirname, val_rows, seed):
    def find(stem):
        for name in (stem + ".gz", stem):
            if os.path.exists(os.path.join(dirname, name)):
                return os.path.join(dirname, name)
        sys.exit("optuna_torch_study: %s: no %s[.gz]" % (dirname, stem))
    x = read_idx(find("train-images-idx3-ubyte")).reshape(-1, 784)
    y = read_idx(find("train-labels-idx1-ubyte")).astype(np.int64)
    xt = read_idx(find("t10k-images-idx3-ubyte")).reshape(-1, 784)
    yt = read_idx(find("t10k-labels-idx1-ubyte")).astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(x))
    va, tr = perm[:val_rows], perm[val_rows:]
    t = torch.from_numpy
    return {"train": (t(np.ascontiguousarray(x[tr])), t(y[tr])),
            "val": (t(np.ascontiguousarray(x[va])), t(y[va])),
            "test": (t(xt.copy()), t(yt))}


class LeNet(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.fc = nn.ModuleList([nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)])
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        for i, layer in enumerate(self.fc):
            x = layer(x)
            if i < len(self.fc) - 1:
                x = self.drop(F.relu(x))
        return x


def scaled(xb):
    return xb.float().div_(255.0)


def evaluate(net, split):
    x, y = split
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), EVAL_BATCH):
            correct += (net(scaled(x[i:i + EVAL_BATCH])).argmax(1) == y[i:i + EVAL_BATCH]).sum().item()
    net.train()
    return correct / len(x)


def weights(net):
    return [m.weight for m in net.fc]


def sparsity(net):
    zeros = sum(int((w == 0).sum()) for w in weights(net))
    return zeros / sum(w.numel() for w in weights(net))


def pruned_count(module, name="weight"):
    mask = getattr(module, name + "_mask", None)
    return 0 if mask is None else int((mask == 0).sum())


def prune_to(net, granularity, target):
    """Prunes to the cumulative fraction target (see the header)."""
    layers = list(net.fc)
    if granularity == "layer":
        for m in layers:
            k = round(target * m.weight.numel()) - pruned_count(m)
            if k > 0:
                prune.l1_unstructured(m, "weight", amount=k)
    elif granularity == "global":
        total = sum(m.weight.numel() for m in layers)
        k = round(target * total) - sum(pruned_count(m) for m in layers)
        if k > 0:
            prune.global_unstructured([(m, "weight") for m in layers],
                                      pruning_method=prune.L1Unstructured, amount=k)
    else:  # neuron: rows of the hidden layers, their biases, the next layer's columns
        for i, m in enumerate(layers[:-1]):
            n = m.weight.shape[0]
            dead = pruned_count(m, "bias")
            k = min(round(target * n), n - 1) - dead
            if k <= 0:
                continue
            prune.ln_structured(m, "weight", amount=k, n=2, dim=0)
            rows = (m.weight_mask.sum(1) != 0).float()
            prune.custom_from_mask(m, "bias", rows)
            prune.custom_from_mask(layers[i + 1], "weight", rows.expand_as(layers[i + 1].weight))


def cosine(lr, e, epochs):
    return 0.5 * lr * (1.0 + math.cos(math.pi * e / max(epochs, 1)))


def gradual_target(s_f, t, t0, span):
    if t < t0:
        return 0.0
    if t >= t0 + span:
        return s_f
    return s_f + (0.0 - s_f) * (1.0 - (t - t0) / span) ** 3


def run_trial(p, data, seed, on_epoch, val_every=1):
    """Trains one config p; returns (val_acc, test_acc, sparsity, epochs).
    on_epoch(epoch, val_acc) after every val_every-th epoch (0: never; the
    final validation is this function's result either way)."""
    torch.manual_seed(seed)
    net = LeNet(p["dropout"])
    wd = [m.weight for m in net.fc]  # named before pruning renames them weight_orig
    bias = [m.bias for m in net.fc]
    opt = torch.optim.SGD([{"params": wd, "weight_decay": p["l2"]},
                           {"params": bias, "weight_decay": 0.0}], lr=p["lr"], momentum=0.9)
    x, y = data["train"]
    n, bs = len(x), p["batch_size"]
    steps_per_epoch = (n + bs - 1) // bs
    gen = torch.Generator().manual_seed(seed)
    sched, s_f = p["schedule"], p["sparsity"]
    # the phases: (epochs, event before the phase)
    if sched == "none":
        phases = [(p["epochs"], None)]
    elif sched == "oneshot":
        phases = [(p["epochs"], None), (p["finetune_epochs"], s_f)]
    elif sched == "iterative":
        phases = [(p["epochs"], None)] + [
            (p["finetune_epochs"], 1.0 - (1.0 - s_f) ** (r / p["rounds"]))
            for r in range(1, p["rounds"] + 1)]
    else:
        phases = [(p["epochs"], None)]
        t0 = round(p["start_epoch"] * steps_per_epoch)
        span = round(p["end_epoch"] * steps_per_epoch) - t0
    step, epoch, last_target = 0, 0, 0.0
    for length, target in phases:
        if target is not None:
            prune_to(net, p["granularity"], target)
            last_target = target
        for e in range(length):
            for g in opt.param_groups:
                g["lr"] = cosine(p["lr"], e, length)
            order = torch.randperm(n, generator=gen)
            for i in range(0, n, bs):
                if sched == "gradual" and t0 <= step <= t0 + span and \
                        ((step - t0) % p["frequency"] == 0 or step == t0 + span):
                    last_target = gradual_target(s_f, step, t0, span)
                    prune_to(net, p["granularity"], last_target)
                idx = order[i:i + bs]
                loss = F.cross_entropy(net(scaled(x[idx])), y[idx])
                if p["l1"] > 0:
                    loss = loss + p["l1"] * sum(w.abs().sum() for w in weights(net))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
            epoch += 1
            if val_every > 0 and epoch % val_every == 0:
                on_epoch(epoch, evaluate(net, data["val"]))
    if sched == "gradual" and last_target < s_f:
        prune_to(net, p["granularity"], s_f)
    return evaluate(net, data["val"]), evaluate(net, data["test"]), sparsity(net), epoch


def suggest(trial, base_epochs):
    """The search space of examples/study_e2e.json, conditions included."""
    p = {"epochs": base_epochs, "finetune_epochs": 2, "rounds": 2}
    if trial.user_attrs.get("pt_role") == "baseline":
        p.update(schedule="none", granularity="layer", sparsity=0.0, l1=0.0, l2=0.0, dropout=0.0,
                 lr=0.05, batch_size=128)
        return p
    p["schedule"] = trial.suggest_categorical("prune.schedule", ["oneshot", "iterative", "gradual"])
    p["granularity"] = trial.suggest_categorical("prune.granularity", ["layer", "global", "neuron"])
    p["sparsity"] = trial.suggest_float("prune.sparsity", 0.85, 0.98)
    if p["schedule"] == "iterative":
        p["finetune_epochs"] = trial.suggest_categorical("prune.finetune_epochs", [1])
    if p["schedule"] in ("oneshot", "iterative"):
        p["epochs"] = trial.suggest_categorical("train.epochs", [base_epochs - 2])
    if p["schedule"] == "gradual":
        p["start_epoch"] = trial.suggest_float("prune.start_epoch", 0, 2)
        p["end_epoch"] = trial.suggest_float("prune.end_epoch", 3, base_epochs - 0.5)
        p["frequency"] = trial.suggest_int("prune.frequency", 50, 400, step=50)
    p["l1"] = trial.suggest_categorical("reg.l1", [0, 1e-6, 1e-5, 1e-4])
    p["l2"] = trial.suggest_categorical("reg.l2", [0, 1e-5, 1e-4, 1e-3])
    p["dropout"] = trial.suggest_categorical("reg.dropout", [0, 0.1, 0.2, 0.3, 0.5])
    p["lr"] = trial.suggest_float("train.lr", 0.005, 0.2, log=True)
    p["batch_size"] = trial.suggest_categorical("train.batch_size", [64, 128, 256])
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=5, help="epochs per trial (default 5)")
    ap.add_argument("--storage", default="optuna_e2e.db")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--val-every", type=int, default=1,
                    help="trial.report the validation accuracy after every N-th epoch "
                         "(prunetune's train.val_every; 0: only the final value)")
    a = ap.parse_args()
    if a.epochs < 4:
        ap.error("--epochs must be at least 4 (3 before pruning, 1 or 2 of fine-tuning)")
    t_start = time.time()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # constant_liar and constraints_func are "experimental" in Optuna 3.1
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    data = load(a.data, 6000, a.seed)
    sampler = optuna.samplers.TPESampler(
        seed=a.seed, n_startup_trials=10, constant_liar=True,
        constraints_func=lambda t: [0.9 - t.user_attrs.get("sparsity", 0.0)])
    study = optuna.create_study(study_name="e2e-peer", storage="sqlite:///" + a.storage,
                                sampler=sampler, direction="maximize", load_if_exists=True)
    study.enqueue_trial({}, user_attrs={"pt_role": "baseline"})
    lock = threading.Lock()
    epochs_total = [0]

    def objective(trial):
        torch.set_num_threads(1)
        p = suggest(trial, a.epochs)
        t0 = time.time()
        val, test, sp, ep = run_trial(p, data, a.seed + trial.number,
                                      lambda e, v: trial.report(v, e), a.val_every)
        trial.set_user_attr("sparsity", sp)
        trial.set_user_attr("test_acc", test)
        trial.set_user_attr("epochs", ep)
        trial.set_user_attr("wall_s", time.time() - t0)
        with lock:
            epochs_total[0] += ep
        print("trial %3d val_acc %.4f test_acc %.4f sparsity %.3f %5.1fs %s" %
              (trial.number, val, test, sp, time.time() - t0, json.dumps(trial.params)),
              file=sys.stderr, flush=True)
        return val

    study.optimize(objective, n_trials=a.trials, n_jobs=a.n_jobs)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    feasible = [t for t in done if t.user_attrs.get("sparsity", 0) >= 0.9]
    best = max(feasible, key=lambda t: t.value) if feasible else None
    print(json.dumps({
        "wall_s": time.time() - t_start,
        "trials": len(done),
        "epochs": epochs_total[0],
        "feasible": len(feasible),
        "best_val_acc": best.value if best else None,
        "best_test_acc": best.user_attrs["test_acc"] if best else None,
        "best_sparsity": best.user_attrs["sparsity"] if best else None,
        "best_trial": best.number if best else None,
    }))


if __name__ == "__main__":
    main()
