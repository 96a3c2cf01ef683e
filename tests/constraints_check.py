#!/usr/bin/python3
"""constraints_check.py — Optuna 3.1's side of the constraints tests (test_constraints.c).

    constraints_check.py read DB STUDY   what Optuna reads of a prunetune study's constraints:
                                         {"attrs": {number: system_attrs["constraints"]},
                                          "numbers": [...], "violations": [...]} where the
                                         violations are those Optuna's own TPE computes
                                         (_get_observation_pairs with constraints enabled)
    constraints_check.py split CASES     Optuna's _split_observation_pairs on each case of the
                                         JSON file CASES ([{"loss": [...], "viol": [...],
                                         "n_below": k}]): the good ("below") indexes per case
    constraints_check.py make DB         a study "opt" made by Optuna itself, the way a PyTorch
                                         user would: params sparsity and lr, user attributes
                                         sparsity (measured), test_acc, val_acc, and a
                                         constraints_func (sparsity >= 0.9); prints the counts
                                         the queries must reproduce

Exit status: 0 ok, 1 a check failed, 77 Optuna is not installed (tests skip on 77). Run with
/usr/bin/python3 (Debian's python3-optuna).
"""
import json
import math
import sys
import warnings

try:
    import optuna
    from optuna.samplers._tpe.sampler import _get_observation_pairs, _split_observation_pairs
except Exception as e:  # noqa: BLE001 - any import failure means "no Optuna"
    print(f"constraints_check: cannot import optuna ({e}); install python3-optuna", file=sys.stderr)
    sys.exit(77)

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.simplefilter("ignore")  # constraints_func is "experimental" in 3.1


def num(x):
    """JSON has no inf: say it as a string."""
    return "inf" if x == math.inf else x


def read(db, name):
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    attrs = {}
    for t in study.trials:
        c = t.system_attrs.get("constraints")
        if c is not None:
            attrs[str(t.number)] = [num(v) for v in c]
    _, _, viol = _get_observation_pairs(study, [], False, True)
    numbers = [t.number for t in study.get_trials(deepcopy=False)
               if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    print(json.dumps({"attrs": attrs, "numbers": numbers, "violations": [num(v) for v in viol]}))


def split(path):
    out = []
    for case in json.load(open(path)):
        loss = [(-math.inf, [v]) for v in case["loss"]]
        viol = [math.inf if v == "inf" else v for v in case["viol"]]
        below, _ = _split_observation_pairs(loss, case["n_below"], viol)
        out.append(sorted(int(i) for i in below))
    print(json.dumps(out))


def make(db):
    def constraints(t):
        return (0.9 - t.user_attrs["sparsity"],)

    # Random points (every trial a startup one), with the constraints recorded by the
    # sampler's after_trial as Optuna does for a constrained TPE study.
    sampler = optuna.samplers.TPESampler(seed=7, n_startup_trials=1000,
                                         constraints_func=constraints)
    study = optuna.create_study(study_name="opt", storage=f"sqlite:///{db}", direction="maximize",
                                sampler=sampler)
    for _ in range(40):
        t = study.ask()
        sp = t.suggest_float("sparsity", 0.5, 0.99)
        lr = t.suggest_float("lr", 1e-3, 0.2, log=True)
        achieved = sp * 0.97  # what pruning really reached
        acc = 0.9 - 0.3 * (achieved - 0.5) ** 2 - 0.1 * abs(math.log10(lr) + 1.3)
        t.set_user_attr("sparsity", achieved)
        t.set_user_attr("test_acc", acc - 0.01 * math.sin(7 * lr))
        t.set_user_attr("val_acc", acc)
        t.set_user_attr("note", "a string attribute: not a metric")
        study.tell(t, acc)
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    feasible = [t for t in trials if all(c <= 0 for c in t.system_attrs["constraints"])]
    best = max(feasible, key=lambda t: (t.value, -t.number))
    print(json.dumps({
        "param_sparsity_ge_09": sum(t.params["sparsity"] >= 0.9 for t in trials),
        "attr_sparsity_ge_09": sum(t.user_attrs["sparsity"] >= 0.9 for t in trials),
        "lr_ge_005": sum(t.params["lr"] >= 0.05 for t in trials),
        "n_complete": len(trials),
        "n_infeasible": len(trials) - len(feasible),
        "best_feasible": best.number,
        "best_all": max(trials, key=lambda t: (t.value, -t.number)).number,
        "best_test_acc": max(trials, key=lambda t: (t.user_attrs["test_acc"], -t.number)).number,
    }))


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "read" and len(sys.argv) == 4:
        read(sys.argv[2], sys.argv[3])
    elif mode == "split" and len(sys.argv) == 3:
        split(sys.argv[2])
    elif mode == "make" and len(sys.argv) == 3:
        make(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(1)
