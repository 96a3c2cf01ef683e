/*
 * stats.h — the statistics of confirmation runs: summaries over seeds and
 * paired tests between variants. Pure C, no allocation visible to the
 * caller, no MPI, no SQL.
 *
 * What each function computes, stated so a reader can check it against
 * scipy 1.10 (tests/stats_check.py does, on fixed numbers):
 *
 *  - pt_stats_summary: mean, standard deviation with n - 1 (numpy
 *    std(ddof=1)), and the 95% confidence interval of the mean from
 *    Student's t, mean +- t(0.975, n - 1) * sd / sqrt(n)
 *    (scipy.stats.t.interval(0.95, n - 1, mean, sem)). n = 1 gives sd and
 *    the interval NAN; n = 0 gives everything NAN. NAN inputs are skipped.
 *  - pt_stats_paired_t: differences d = a - b; t = mean(d) / (sd(d) /
 *    sqrt(n)), df = n - 1, two-sided p = 2 * P(T > |t|)
 *    (scipy.stats.ttest_rel), and the 95% CI of mean(d). When every
 *    difference is equal, sd = 0: t = +-inf and p = 0 if mean(d) != 0, NAN
 *    when all are zero (as scipy).
 *  - pt_stats_wilcoxon: the Wilcoxon signed-rank test, two-sided, zero
 *    differences dropped (scipy's default zero_method="wilcox"), |d| ranked
 *    with average ranks for ties, statistic W = min(R+, R-). The p-value is
 *    exact (the distribution of R+ over all 2^n sign patterns, counted by
 *    dynamic programming; p = 2 * min(P(R+ <= r), P(R+ >= r)), 1 at the
 *    centre, as scipy's method="exact") when there are no ties among |d|, no
 *    zero difference and n <= PT_STATS_WILCOXON_EXACT_MAX; otherwise the
 *    normal approximation with the tie correction of the variance and no
 *    continuity correction (scipy's method="approx", correction=False).
 *    scipy's own "auto" would use the exact table even with ties, truncating
 *    a half-integer R+; we do not, since that table assumes distinct ranks.
 *    All differences zero: n = 0, p = NAN.
 *
 * The t distribution comes from the regularized incomplete beta function
 * (continued fraction, Lentz's method), accurate to ~1e-13 relative for the
 * degrees of freedom seen here (1..1000); the quantile inverts the CDF by
 * bisection to the last bit.
 */
#ifndef PT_STATS_H
#define PT_STATS_H

#define PT_STATS_WILCOXON_EXACT_MAX 50

typedef struct {
    int n;               /* finite values used */
    double mean;         /* NAN when n == 0 */
    double sd;           /* n - 1 denominator; NAN when n < 2 */
    double ci_lo, ci_hi; /* 95% CI of the mean; NAN when n < 2 */
} pt_stats_summary;

typedef struct {
    int n;               /* pairs used (both values finite) */
    double mean_diff;    /* mean of a - b */
    double sd_diff;      /* sd of a - b (n - 1) */
    double ci_lo, ci_hi; /* 95% CI of mean_diff (t) */
    double t, p;         /* statistic and two-sided p; NAN when n < 2 */
} pt_stats_ttest;

typedef struct {
    int n;         /* non-zero differences ranked */
    int exact;     /* 1: exact distribution; 0: normal approximation */
    double w;      /* min(R+, R-) */
    double r_plus; /* sum of the ranks of the positive differences */
    double z;      /* the normal approximation's z (NAN when exact) */
    double p;      /* two-sided; NAN when n == 0 */
} pt_stats_wilcoxon_result;

/* Regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1]. */
double pt_stats_betainc(double a, double b, double x);
/* Student's t with df > 0 degrees of freedom: CDF, and its inverse for p in (0, 1). */
double pt_stats_t_cdf(double t, double df);
double pt_stats_t_quantile(double p, double df);
/* Standard normal survival function P(Z > z). */
double pt_stats_norm_sf(double z);

/* Summary of v[0..n) (NAN entries skipped). */
pt_stats_summary pt_stats_summarize(const double *v, int n);
/* Paired t-test of a[i] vs b[i], i < n (pairs with a NAN skipped). */
pt_stats_ttest pt_stats_paired_t(const double *a, const double *b, int n);
/* Wilcoxon signed-rank test of a[i] - b[i], i < n (pairs with a NAN
 * skipped). n may be at most PT_STATS_WILCOXON_MAX; beyond, p = NAN. */
#define PT_STATS_WILCOXON_MAX 4096
pt_stats_wilcoxon_result pt_stats_wilcoxon(const double *a, const double *b, int n);

#endif
