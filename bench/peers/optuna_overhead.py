"""Peer of scripts/bench_sched (scheduling rate): Optuna 3.1's cost per trial
with SQLite storage, on an objective that costs nothing.

Measures: trials/s of study.optimize over N_TRIALS trials (wall), i.e. the
sampler's ask, 5 intermediate reports, and the tell, every one a write to
the SQLite file, plus the CPU seconds the process used.

Mirrors prunetune's side: bench_sched's --dry-run studies, whose workers
answer at once (no training), so prunetune's figure is also the
coordinator's cost per trial: the random sampler, seed 1, maximize, the same
three parameters (reg.l2 float log 1e-6..1e-1, prune.sparsity float
0.5..0.99, prune.schedule categorical none/oneshot/gradual), 5 reports per
trial (a 5-epoch trial), a fresh SQLite file. Optuna runs in one process;
prunetune's coordinator and workers are MPI ranks, so its figure includes a
message round trip per event, which Optuna does not pay.

Usage: /usr/bin/python3 bench/peers/optuna_overhead.py N_TRIALS [SAMPLER=random|tpe] [REPORTS=5]
Prints one line: optuna sampler= trials= reports= trials_per_s= cpu_ms_per_trial=
Needs Debian's python3-optuna (scripts/setup)."""
import os
import sys
import tempfile
import time

import optuna

n = int(sys.argv[1])
which = sys.argv[2] if len(sys.argv) > 2 else "random"
reports = int(sys.argv[3]) if len(sys.argv) > 3 else 5
optuna.logging.set_verbosity(optuna.logging.WARNING)
tmp = tempfile.TemporaryDirectory()
db = os.path.join(tmp.name, "optuna.db")
sampler = (optuna.samplers.TPESampler(seed=1) if which == "tpe"
           else optuna.samplers.RandomSampler(seed=1))
study = optuna.create_study(storage=f"sqlite:///{db}", sampler=sampler, direction="maximize")


def objective(t):
    l2 = t.suggest_float("reg.l2", 1e-6, 1e-1, log=True)
    s = t.suggest_float("prune.sparsity", 0.5, 0.99)
    t.suggest_categorical("prune.schedule", ["none", "oneshot", "gradual"])
    for e in range(reports):
        t.report(s - l2, e)
    return s - l2


t0, c0 = time.perf_counter(), time.process_time()
study.optimize(objective, n_trials=n)
dt, dc = time.perf_counter() - t0, time.process_time() - c0
print(f"optuna sampler={which} trials={n} reports={reports} trials_per_s={n / dt:.1f} "
      f"cpu_ms_per_trial={dc / n * 1e3:.2f}")
