"""Peer of scripts/bench_tpe (part 1) and bench/bench_tpe.c `overhead`:
the cost of one Optuna 3.1 TPE proposal with H finished trials in the history.

Measures: the mean wall and CPU time of 20 ask + tell pairs after H trials
were asked and told (in-memory storage: the sampler alone, no SQL).

Mirrors prunetune's side, bench_tpe.c's overhead study: TPE, seed 0, the
same six parameters (reg.l2 float log 1e-6..1e-1, prune.sparsity float
0.5..0.99, prune.schedule categorical none/iterative/gradual, train.lr float
log 1e-3..0.3, reg.dropout float 0..0.5, reg.l1 float log 1e-7..1e-3), the
same objective -|sparsity - 0.9| - l2 to maximize, 10 startup trials
(Optuna's default and prunetune's), and the same timed window (trials H+1 to
H+20). Both sides use the ask/tell interface, not a worker.

Usage: /usr/bin/python3 bench/peers/optuna_tpe_cost.py H
Prints one line: optuna_tpe history= ms_per_trial= cpu_ms_per_trial=
Needs Debian's python3-optuna (scripts/setup)."""
import sys
import time

import optuna

H = int(sys.argv[1])
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=10),
                            direction="maximize")


def one():
    t = study.ask()
    l2 = t.suggest_float("reg.l2", 1e-6, 1e-1, log=True)
    s = t.suggest_float("prune.sparsity", 0.5, 0.99)
    t.suggest_categorical("prune.schedule", ["none", "iterative", "gradual"])
    t.suggest_float("train.lr", 1e-3, 0.3, log=True)
    t.suggest_float("reg.dropout", 0.0, 0.5)
    t.suggest_float("reg.l1", 1e-7, 1e-3, log=True)
    study.tell(t, -abs(s - 0.9) - l2)


for _ in range(H):
    one()
t0, c0 = time.perf_counter(), time.process_time()
for _ in range(20):
    one()
dt, dc = (time.perf_counter() - t0) / 20, (time.process_time() - c0) / 20
print(f"optuna_tpe history={H} ms_per_trial={dt * 1e3:.2f} cpu_ms_per_trial={dc * 1e3:.2f}")
