#!/usr/bin/python3
"""stats_check.py — the figures of core/stats.c computed by scipy, for
tests/test_stats.c.

    stats_check.py CASES.json   (prints the expected values as JSON)

CASES.json: {"pairs": [{"a": [...], "b": [...]}, ...],
             "t_ppf": [[p, df], ...], "t_cdf": [[t, df], ...],
             "beta": [[a, b, x], ...]}.
For each pair: the summary of a (mean, sd ddof=1, 95% t interval), the
paired t-test of a vs b (statistic, two-sided p, 95% interval of the mean
difference) and the Wilcoxon signed-rank test, two-sided, zero_method
"wilcox", correction=False, method chosen by the rule stats.h states
(exact without zeros or ties and n <= 50, else the normal approximation):
scipy's "auto" would take the exact table even with tied ranks.
Exit 77 when scipy is missing (the test then skips).
"""
import json
import sys
import warnings

try:
    import numpy as np
    from scipy import special, stats
except ImportError as e:
    print(f"stats_check.py: {e} (apt-get install python3-scipy)", file=sys.stderr)
    sys.exit(77)

warnings.simplefilter("ignore")  # "sample size too small for normal approximation"


def num(v):
    v = float(v)
    return v if np.isfinite(v) else None


def summary(x):
    x = np.asarray(x, dtype=float)
    n = len(x)
    mean = x.mean()
    sd = x.std(ddof=1)
    lo, hi = stats.t.interval(0.95, n - 1, loc=mean, scale=sd / np.sqrt(n))
    return {"n": n, "mean": num(mean), "sd": num(sd), "ci_lo": num(lo), "ci_hi": num(hi)}


def pair(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = a - b
    t = stats.ttest_rel(a, b)
    ds = summary(d)
    nz = d[d != 0]
    ties = len(np.unique(np.abs(nz))) < len(nz)
    exact = len(nz) == len(d) and not ties and len(d) <= 50
    w = stats.wilcoxon(a, b, zero_method="wilcox", correction=False,
                       alternative="two-sided", method="exact" if exact else "approx")
    return {"summary_a": summary(a), "t": num(t.statistic), "t_p": num(t.pvalue),
            "diff": ds, "w": num(w.statistic), "w_p": num(w.pvalue), "w_exact": exact,
            "w_n": int(len(nz)), "w_z": num(getattr(w, "zstatistic", float("nan")))}


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    out = {"pairs": [pair(c["a"], c["b"]) for c in cases["pairs"]],
           "t_ppf": [float(stats.t.ppf(p, df)) for p, df in cases["t_ppf"]],
           "t_cdf": [float(stats.t.cdf(t, df)) for t, df in cases["t_cdf"]],
           "beta": [float(special.betainc(a, b, x)) for a, b, x in cases["beta"]]}
    json.dump(out, sys.stdout)


main()
