/*
 * stats.c — summaries over seeds, paired t-test and Wilcoxon signed-rank
 * test (see stats.h for exactly what each computes).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* ---- special functions ---------------------------------------------------- */

/* The continued fraction of I_x(a, b) (modified Lentz). It converges fast
 * for x < (a + 1) / (a + b + 2); the caller uses the symmetry otherwise. */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-16)
            break;
    }
    return h;
}

double pt_stats_betainc(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || isnan(x))
        return NAN;
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    /* log of x^a (1-x)^b / B(a, b), through lgamma so large df do not overflow */
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2))
        return exp(lbt) * betacf(a, b, x) / a;
    return 1 - exp(lbt) * betacf(b, a, 1 - x) / b;
}

double pt_stats_t_cdf(double t, double df)
{
    if (isnan(t) || !(df > 0))
        return NAN;
    if (isinf(t))
        return t > 0 ? 1 : 0;
    /* P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2); the lower tail is half of it. */
    double tail = 0.5 * pt_stats_betainc(df / 2, 0.5, df / (df + t * t));
    return t > 0 ? 1 - tail : tail;
}

double pt_stats_t_quantile(double p, double df)
{
    if (!(p > 0) || !(p < 1) || !(df > 0))
        return NAN;
    if (p == 0.5)
        return 0;
    /* Solve for the upper half by symmetry; bracket, then bisect until the
     * interval stops shrinking (the last representable bit). */
    double q = p > 0.5 ? p : 1 - p;
    double lo = 0, hi = 1;
    while (pt_stats_t_cdf(hi, df) < q && hi < 1e300)
        hi *= 2;
    for (int i = 0; i < 2000; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi)
            break;
        if (pt_stats_t_cdf(mid, df) < q)
            lo = mid;
        else
            hi = mid;
    }
    double t = 0.5 * (lo + hi);
    return p > 0.5 ? t : -t;
}

double pt_stats_norm_sf(double z)
{
    return 0.5 * erfc(z / sqrt(2.0));
}

/* ---- summaries and tests --------------------------------------------------- */

pt_stats_summary pt_stats_summarize(const double *v, int n)
{
    pt_stats_summary s = {0, NAN, NAN, NAN, NAN};
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            sum += v[i];
            s.n++;
        }
    if (s.n == 0)
        return s;
    s.mean = sum / s.n;
    if (s.n < 2)
        return s;
    /* Two passes: the deviations from the mean, not sum of squares minus
     * square of sums, which cancels badly for accuracies near 0.9. */
    double ss = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = sqrt(ss / (s.n - 1));
    double half = pt_stats_t_quantile(0.975, s.n - 1) * s.sd / sqrt((double)s.n);
    s.ci_lo = s.mean - half;
    s.ci_hi = s.mean + half;
    return s;
}

pt_stats_ttest pt_stats_paired_t(const double *a, const double *b, int n)
{
    pt_stats_ttest r = {0, NAN, NAN, NAN, NAN, NAN, NAN};
    double *d = calloc((size_t)n + 1, sizeof *d);
    if (!d)
        return r;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(a[i]) && isfinite(b[i]))
            d[m++] = a[i] - b[i];
    pt_stats_summary s = pt_stats_summarize(d, m);
    free(d);
    r.n = m;
    r.mean_diff = s.mean;
    r.sd_diff = s.sd;
    r.ci_lo = s.ci_lo;
    r.ci_hi = s.ci_hi;
    if (m < 2)
        return r;
    if (s.sd == 0) {
        /* every difference equal: scipy gives +-inf and p = 0, or NAN for 0 / 0 */
        if (s.mean != 0) {
            r.t = s.mean > 0 ? INFINITY : -INFINITY;
            r.p = 0;
        }
        return r;
    }
    r.t = s.mean / (s.sd / sqrt((double)m));
    double df = m - 1;
    r.p = pt_stats_betainc(df / 2, 0.5, df / (df + r.t * r.t));
    return r;
}

typedef struct {
    double abs;
    int sign;
} signed_diff;

static int by_abs(const void *x, const void *y)
{
    const signed_diff *a = x, *b = y;
    return a->abs < b->abs ? -1 : a->abs > b->abs ? 1 : 0;
}

/* 2 * min(P(R+ <= r), P(R+ >= r)) under H0, by counting the sign patterns
 * of ranks 1..n with each rank sum (doubles: exact below 2^53, n <= 50). */
static double wilcoxon_exact_p(int n, int r_plus)
{
    int top = n * (n + 1) / 2;
    double count[PT_STATS_WILCOXON_EXACT_MAX * (PT_STATS_WILCOXON_EXACT_MAX + 1) / 2 + 1];
    memset(count, 0, sizeof(double) * (size_t)(top + 1));
    count[0] = 1;
    for (int k = 1; k <= n; k++)
        for (int s = k * (k + 1) / 2; s >= k; s--)
            count[s] += count[s - k];
    if (r_plus == top / 2)
        return 1; /* the centre of the distribution (scipy: p = 1) */
    double total = ldexp(1.0, n), le = 0, ge = 0;
    for (int s = 0; s <= top; s++) {
        if (s <= r_plus)
            le += count[s];
        if (s >= r_plus)
            ge += count[s];
    }
    double p = 2 * fmin(le, ge) / total;
    return p > 1 ? 1 : p;
}

pt_stats_wilcoxon_result pt_stats_wilcoxon(const double *a, const double *b, int n)
{
    pt_stats_wilcoxon_result r = {0, 0, NAN, NAN, NAN, NAN};
    if (n > PT_STATS_WILCOXON_MAX)
        return r;
    signed_diff *d = malloc(((size_t)n + 1) * sizeof *d);
    if (!d)
        return r;
    int m = 0, zeros = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i]))
            continue;
        double x = a[i] - b[i];
        if (x == 0) {
            zeros++; /* zero_method "wilcox": dropped before ranking */
            continue;
        }
        d[m++] = (signed_diff){fabs(x), x > 0 ? 1 : -1};
    }
    r.n = m;
    if (m == 0) {
        free(d);
        return r;
    }
    qsort(d, (size_t)m, sizeof *d, by_abs);
    /* Average ranks over runs of equal |d|; the runs also give the tie term
     * sum t (t^2 - 1) of the variance. */
    double r_plus = 0, r_minus = 0, tie_term = 0;
    for (int i = 0; i < m;) {
        int j = i;
        while (j < m && d[j].abs == d[i].abs)
            j++;
        double rank = 0.5 * (i + 1 + j); /* mean of ranks i+1 .. j */
        for (int k = i; k < j; k++) {
            if (d[k].sign > 0)
                r_plus += rank;
            else
                r_minus += rank;
        }
        double t = j - i;
        tie_term += t * (t * t - 1);
        i = j;
    }
    free(d);
    r.r_plus = r_plus;
    r.w = fmin(r_plus, r_minus);
    r.exact = zeros == 0 && tie_term == 0 && m <= PT_STATS_WILCOXON_EXACT_MAX;
    if (r.exact) {
        r.p = wilcoxon_exact_p(m, (int)lround(r_plus));
        return r;
    }
    double mn = m * (m + 1.0) * 0.25;
    double se = sqrt((m * (m + 1.0) * (2.0 * m + 1.0) - 0.5 * tie_term) / 24);
    r.z = (r.w - mn) / se;
    r.p = 2 * pt_stats_norm_sf(fabs(r.z));
    return r;
}
