#!/usr/bin/python3
"""optuna_check.py — does Optuna 3.1 read (and continue) a prunetune study DB?

    optuna_check.py DB STUDY...       load each STUDY with optuna.load_study, check
                                      it, print what Optuna sees as one JSON object
                                      (an array of them for several studies)
    optuna_check.py --make DB STUDY   create STUDY in DB with Optuna itself
                                      (3 trials), for the reverse test

The check asserts what Optuna's own code would trip on later: every Optuna
table has exactly the columns, types, keys and indexes that Optuna 3.1 creates
(compared with a fresh Optuna storage), the study loads, each trial validates
(Optuna checks params against their distributions when it builds a
FrozenTrial), finished trials carry datetimes, COMPLETE ones their values,
and Optuna can continue the study: on a copy of DB it asks for one more trial
with the same distributions and tells its result.

Exit status: 0 ok, 1 a check failed (message on stderr), 77 Optuna is not
installed (tests skip on 77). Run it with /usr/bin/python3: Debian's
python3-optuna lives there, not in a virtualenv.
"""
import json
import math
import os
import shutil
import sqlite3
import sys
import tempfile

try:
    import optuna
except Exception as e:  # noqa: BLE001 - any import failure means "no Optuna"
    print(f"optuna_check: cannot import optuna ({e}); install python3-optuna", file=sys.stderr)
    sys.exit(77)

optuna.logging.set_verbosity(optuna.logging.WARNING)

STATES = {"RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING"}


def fail(msg):
    print(f"optuna_check: {msg}", file=sys.stderr)
    sys.exit(1)


def shape(path):
    """Per Optuna table: columns, unique/primary keys, indexes, foreign keys."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out = {}
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for t in tables:
        if t.startswith("pt_") or t.startswith("sqlite_"):
            continue
        cols = [tuple(r[1:]) for r in db.execute(f'PRAGMA table_info("{t}")')]
        idx = []
        for r in db.execute(f'PRAGMA index_list("{t}")'):
            name, unique, origin = r[1], r[2], r[3]
            if name.startswith("pt_"):
                continue  # prunetune's extra indexes: invisible to Optuna
            keys = [c[2] for c in db.execute(f'PRAGMA index_info("{name}")')]
            # autoindex names depend on creation order; the columns are what count
            idx.append((unique, origin, tuple(keys), name if origin == "c" else ""))
        fks = [tuple(r[2:5]) for r in db.execute(f'PRAGMA foreign_key_list("{t}")')]
        out[t] = {"columns": cols, "indexes": sorted(idx), "foreign_keys": sorted(fks)}
    db.close()
    return out


def schema_diff(path):
    with tempfile.TemporaryDirectory() as d:
        ref = os.path.join(d, "ref.db")
        optuna.storages.RDBStorage(f"sqlite:///{ref}")
        want, got = shape(ref), shape(path)
    diffs = []
    for t in sorted(set(want) | set(got)):
        if t not in got:
            diffs.append(f"table {t} missing")
        elif t not in want:
            diffs.append(f"table {t} is not Optuna's (rename it pt_...)")
        elif want[t] != got[t]:
            for k in want[t]:
                if want[t][k] != got[t][k]:
                    diffs.append(f"{t}.{k}: optuna {want[t][k]} != db {got[t][k]}")
    return diffs


def num(v):
    """JSON-safe number: non-finite values become strings (cJSON has no NaN)."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def check_trial(t):
    if t.state.name not in STATES:
        fail(f"trial {t.number}: state {t.state.name}")
    if t.state.is_finished() and t.datetime_complete is None:
        fail(f"trial {t.number}: finished without datetime_complete")
    if t.state.name == "COMPLETE" and t.values is None:
        fail(f"trial {t.number}: COMPLETE without values")
    if t.state.name == "FAIL" and t.values is not None:
        fail(f"trial {t.number}: FAIL with values {t.values}")
    for name, value in t.params.items():
        d = t.distributions[name]
        if not d._contains(d.to_internal_repr(value)):
            fail(f"trial {t.number}: {name}={value} outside {d}")


def can_continue(path, study_name, trials):
    """Optuna adds a trial to a copy, reusing the last trial's distributions."""
    with tempfile.TemporaryDirectory() as d:
        copy = os.path.join(d, "copy.db")
        src = sqlite3.connect(path)
        dst = sqlite3.connect(copy)
        src.backup(dst)  # consistent even while a writer is active
        src.close()
        dst.close()
        study = optuna.load_study(study_name=study_name, storage=f"sqlite:///{copy}")
        dists = trials[-1].distributions if trials else {}
        t = study.ask(dists)
        study.tell(t, [0.5] * len(study.directions))
        after = study.get_trials(deepcopy=False)
        if len(after) != len(trials) + 1 or after[-1].state.name != "COMPLETE":
            fail("Optuna could not add a trial to the study")
        return after[-1].number


def make(path, study_name):
    study = optuna.create_study(study_name=study_name, storage=f"sqlite:///{path}",
                                direction="maximize", sampler=optuna.samplers.RandomSampler(3))

    def objective(trial):
        s = trial.suggest_categorical("prune.schedule", ["none", "gradual", "iterative"])
        x = trial.suggest_float("prune.sparsity", 0.5, 0.95)
        trial.suggest_float("reg.l2", 1e-6, 1e-2, log=True)
        if s == "iterative":
            trial.suggest_int("prune.rounds", 1, 4)
        trial.report(x / 2, 0)
        return x

    study.optimize(objective, n_trials=3)


def report(path, storage, study_name):
    """What Optuna sees of one study, after checking every trial."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    for t in trials:
        check_trial(t)
    out = {
        "optuna": optuna.__version__,
        "schema": storage.get_current_version(),
        "directions": [d.name for d in study.directions],
        "system_attrs": study.system_attrs,
        "n_trials": len(trials),
        "trials": [
            {
                "number": t.number,
                "state": t.state.name,
                "params": {k: num(v) for k, v in t.params.items()},
                "values": None if t.values is None else [num(v) for v in t.values],
                "intermediate": {str(k): num(v) for k, v in t.intermediate_values.items()},
                "user_attrs": {k: num(v) for k, v in t.user_attrs.items()},
            }
            for t in trials
        ],
    }
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    if complete and len(study.directions) == 1:
        out["best_number"] = study.best_trial.number
        out["best_value"] = num(study.best_value)
    elif complete:
        out["pareto_numbers"] = sorted(t.number for t in study.best_trials)
    out["continued_number"] = can_continue(path, study_name, trials)
    return out


def main(argv):
    if len(argv) == 4 and argv[1] == "--make":
        make(argv[2], argv[3])
        return
    if len(argv) < 3:
        fail("usage: optuna_check.py DB STUDY [STUDY...] | optuna_check.py --make DB STUDY")
    path, names = argv[1], argv[2:]
    if not os.path.exists(path):
        fail(f"{path}: no such file")
    diffs = schema_diff(path)
    if diffs:
        fail("schema differs from Optuna 3.1's: " + "; ".join(diffs))
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}", skip_compatibility_check=False)
    outs = [report(path, storage, n) for n in names]
    json.dump(outs[0] if len(outs) == 1 else outs, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv)
