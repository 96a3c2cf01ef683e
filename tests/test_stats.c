/*
 * test_stats.c — core/stats.c against scipy: fixed numbers (accuracies of
 * five seeds, mixed signs, ties and a zero difference, 2 pairs, 60 pairs)
 * are written to a JSON file, tests/stats_check.py computes every figure
 * with scipy 1.10 (/usr/bin/python3, Debian's python3-scipy), and each of
 * ours must agree. Plus the edge cases scipy itself defines (all
 * differences zero, one seed).
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "stats.h"

static char tmpdir[] = "/tmp/pt_stats_XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(stats, .init = setup, .fini = teardown);

#define MAX_N 64
typedef struct {
    int n;
    double a[MAX_N], b[MAX_N];
} pair_case;

static pair_case cases[6];
static int n_cases;

static void add_case(int n, const double *a, const double *b)
{
    pair_case *c = &cases[n_cases++];
    c->n = n;
    memcpy(c->a, a, sizeof(double) * (size_t)n);
    memcpy(c->b, b, sizeof(double) * (size_t)n);
}

static void make_cases(void)
{
    n_cases = 0;
    /* 5 seeds, hybrid above pruning-only every time: exact, p = 2/32 */
    static const double a5[] = {0.8812, 0.8790, 0.8835, 0.8801, 0.8826};
    static const double b5[] = {0.8750, 0.8771, 0.8769, 0.8740, 0.8788};
    add_case(5, a5, b5);
    /* 8 seeds, mixed signs, distinct |d|: exact */
    static const double a8[] = {0.861, 0.874, 0.869, 0.858, 0.8805, 0.866, 0.871, 0.8632};
    static const double b8[] = {0.865, 0.8715, 0.8601, 0.8611, 0.872, 0.8693, 0.8627, 0.8659};
    add_case(8, a8, b8);
    /* ties among |d| and a zero difference: the normal approximation */
    static const double a10[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    static const double b10[] = {1.5, 1, 3, 2, 6, 4, 8, 7, 8, 12};
    add_case(10, a10, b10);
    /* two seeds */
    static const double a2[] = {0.9, 0.8};
    static const double b2[] = {0.85, 0.86};
    add_case(2, a2, b2);
    /* 20 seeds, mostly negative differences */
    double a[MAX_N], b[MAX_N];
    for (int i = 0; i < 20; i++) {
        a[i] = 0.80 + 0.0007 * i + 0.0001 * (i * i % 7);
        b[i] = a[i] + 0.00031 * (i + 1) * (i % 4 == 0 ? -1 : 1);
    }
    add_case(20, a, b);
    /* 60 pairs: beyond the exact table */
    for (int i = 0; i < 60; i++) {
        a[i] = 0.85 + 0.00113 * ((i * 37) % 23) + 1e-5 * i;
        b[i] = 0.85 + 0.00107 * ((i * 11) % 19);
    }
    add_case(60, a, b);
}

static const double t_ppf_cases[][2] = {{0.975, 1},  {0.975, 2},   {0.975, 4}, {0.975, 9},
                                        {0.975, 29}, {0.975, 200}, {0.001, 3}, {0.6, 7}};
static const double t_cdf_cases[][2] = {{2.776, 4}, {-1.5, 2}, {0.3, 30}, {12, 3}, {-40, 1}};
static const double beta_cases[][3] = {
    {2.5, 0.5, 0.3}, {0.5, 0.5, 0.9}, {10, 3, 0.7}, {100, 0.5, 0.99}, {1, 1, 0.42}};
#define N_OF(x) ((int)(sizeof x / sizeof x[0]))

static cJSON *nums(const double *v, int n)
{
    return cJSON_CreateDoubleArray(v, n);
}

/* Writes the cases, runs stats_check.py, returns its JSON (skips the test
 * when scipy is missing: exit 77). */
static cJSON *scipy_expected(void)
{
    make_cases();
    cJSON *j = cJSON_CreateObject(), *pairs = cJSON_AddArrayToObject(j, "pairs");
    for (int c = 0; c < n_cases; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "a", nums(cases[c].a, cases[c].n));
        cJSON_AddItemToObject(o, "b", nums(cases[c].b, cases[c].n));
        cJSON_AddItemToArray(pairs, o);
    }
    cJSON *t = cJSON_AddArrayToObject(j, "t_ppf");
    for (int i = 0; i < N_OF(t_ppf_cases); i++)
        cJSON_AddItemToArray(t, nums(t_ppf_cases[i], 2));
    t = cJSON_AddArrayToObject(j, "t_cdf");
    for (int i = 0; i < N_OF(t_cdf_cases); i++)
        cJSON_AddItemToArray(t, nums(t_cdf_cases[i], 2));
    t = cJSON_AddArrayToObject(j, "beta");
    for (int i = 0; i < N_OF(beta_cases); i++)
        cJSON_AddItemToArray(t, nums(beta_cases[i], 3));
    /* cJSON prints doubles with 17 significant digits, so scipy reads the
     * very numbers the C side uses. */
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    char in[700], out[700], errp[700], cmd[3000];
    snprintf(in, sizeof in, "%s/cases.json", tmpdir);
    snprintf(out, sizeof out, "%s/expected.json", tmpdir);
    snprintf(errp, sizeof errp, "%s/err.txt", tmpdir);
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/stats_check.py' '%s' >'%s' 2>'%s'",
             PT_SOURCE_DIR, in, out, errp);
    int rc = system(cmd);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    static char buf[1 << 16];
    f = fopen(errp, "r");
    buf[f ? fread(buf, 1, sizeof buf - 1, f) : 0] = 0;
    if (f)
        fclose(f);
    if (rc == 77 || rc == 127)
        cr_skip_test("scipy is not available to /usr/bin/python3 (apt-get install "
                     "python3-scipy): %s",
                     buf);
    cr_assert_eq(rc, 0, "stats_check.py failed: %s", buf);
    f = fopen(out, "r");
    cr_assert_not_null(f);
    buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
    fclose(f);
    cJSON *e = cJSON_Parse(buf);
    cr_assert_not_null(e, "not JSON: %.300s", buf);
    return e;
}

/* Both sides evaluate the same closed forms in double precision: sums of
 * <= 60 terms (relative rounding <= 60 eps ~ 1e-14), the incomplete beta's
 * continued fraction (converged to ~1e-15 relative) and its lgamma
 * prefactor (~1e-15 relative per term, amplified at most ~|a log x| ~ 1e3
 * times for a = 100), and the t quantile's bisection to the last bit. So
 * 1e-9 relative is far above any honest rounding difference and far below
 * what a wrong formula gives (an n vs n - 1, a one- vs two-sided p, a
 * missing tie correction all move the figures by >= 1e-3 relative).
 * atol 1e-15 covers expected values that are 0 (a mean difference, a CDF
 * in the far tail). A null expected value (scipy's NaN / inf) must be
 * NaN / inf here. */
#define RTOL 1e-9
#define ATOL 1e-15
/* Except where scipy's t quantile enters (t.ppf, hence the interval
 * bounds): scipy 1.10's t.ppf is itself only good to ~1e-9 relative
 * (t.cdf(t.ppf(0.975, 6), 6) = 0.97499999992, measured), while ours solves
 * cdf(q) = p to the last bit (checked in edge_cases). 1e-7 relative
 * leaves room for scipy's error, amplified by the cancellation in
 * mean - half, and still catches a wrong quantile or df (>= 1e-3). */
#define RTOL_PPF 1e-7

static void close_rtol(double got, const cJSON *want, const char *what, int c, double rtol)
{
    cr_assert_not_null(want, "case %d: scipy gave no %s", c, what);
    if (cJSON_IsNull(want)) {
        cr_assert(!isfinite(got), "case %d %s: scipy has NaN/inf, we have %.17g", c, what, got);
        return;
    }
    double w = want->valuedouble;
    cr_assert(fabs(got - w) <= ATOL + rtol * fabs(w), "case %d %s: %.17g, scipy %.17g", c, what,
              got, w);
}

static void close_to(double got, const cJSON *want, const char *what, int c)
{
    close_rtol(got, want, what, c, RTOL);
}

static const cJSON *key(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void check_summary(const pt_stats_summary *s, const cJSON *w, int c, const char *what)
{
    char label[64];
    cr_assert_eq(s->n, key(w, "n")->valueint, "case %d %s n", c, what);
    static const char *const keys[] = {"mean", "sd", "ci_lo", "ci_hi"};
    const double got[] = {s->mean, s->sd, s->ci_lo, s->ci_hi};
    for (int k = 0; k < 4; k++) {
        snprintf(label, sizeof label, "%s.%s", what, keys[k]);
        close_rtol(got[k], key(w, keys[k]), label, c, k >= 2 ? RTOL_PPF : RTOL);
    }
}

Test(stats, every_figure_matches_scipy)
{
    cJSON *e = scipy_expected();
    const cJSON *pairs = key(e, "pairs");
    cr_assert_eq(cJSON_GetArraySize(pairs), n_cases);
    int n_exact = 0, n_approx = 0;
    for (int c = 0; c < n_cases; c++) {
        const cJSON *w = cJSON_GetArrayItem(pairs, c);
        const pair_case *pc = &cases[c];
        pt_stats_summary s = pt_stats_summarize(pc->a, pc->n);
        check_summary(&s, key(w, "summary_a"), c, "summary");
        pt_stats_ttest t = pt_stats_paired_t(pc->a, pc->b, pc->n);
        cr_assert_eq(t.n, pc->n);
        close_to(t.t, key(w, "t"), "t", c);
        close_to(t.p, key(w, "t_p"), "t p", c);
        pt_stats_summary d = {t.n, t.mean_diff, t.sd_diff, t.ci_lo, t.ci_hi};
        check_summary(&d, key(w, "diff"), c, "diff");
        pt_stats_wilcoxon_result r = pt_stats_wilcoxon(pc->a, pc->b, pc->n);
        cr_assert_eq(r.exact, cJSON_IsTrue(key(w, "w_exact")), "case %d exact", c);
        cr_assert_eq(r.n, key(w, "w_n")->valueint, "case %d wilcoxon n", c);
        close_to(r.w, key(w, "w"), "wilcoxon W", c);
        close_to(r.p, key(w, "w_p"), "wilcoxon p", c);
        if (!r.exact)
            close_to(r.z, key(w, "w_z"), "wilcoxon z", c);
        n_exact += r.exact;
        n_approx += !r.exact;
    }
    /* the fixed numbers reach both branches of the Wilcoxon test */
    cr_assert_geq(n_exact, 2);
    cr_assert_geq(n_approx, 2);
    /* case 0: every difference positive, 5 pairs: exact p = 2 / 2^5 */
    pt_stats_wilcoxon_result r0 = pt_stats_wilcoxon(cases[0].a, cases[0].b, 5);
    cr_assert_float_eq(r0.p, 0.0625, 1e-15);
    for (int i = 0; i < N_OF(t_ppf_cases); i++)
        close_rtol(pt_stats_t_quantile(t_ppf_cases[i][0], t_ppf_cases[i][1]),
                   cJSON_GetArrayItem(key(e, "t_ppf"), i), "t quantile", i, RTOL_PPF);
    for (int i = 0; i < N_OF(t_cdf_cases); i++)
        close_to(pt_stats_t_cdf(t_cdf_cases[i][0], t_cdf_cases[i][1]),
                 cJSON_GetArrayItem(key(e, "t_cdf"), i), "t cdf", i);
    for (int i = 0; i < N_OF(beta_cases); i++)
        close_to(pt_stats_betainc(beta_cases[i][0], beta_cases[i][1], beta_cases[i][2]),
                 cJSON_GetArrayItem(key(e, "beta"), i), "betainc", i);
    cJSON_Delete(e);
}

Test(stats, edge_cases)
{
    /* one seed: a mean, no spread, no interval */
    double one = 0.9;
    pt_stats_summary s = pt_stats_summarize(&one, 1);
    cr_assert_eq(s.n, 1);
    cr_assert_float_eq(s.mean, 0.9, 1e-15);
    cr_assert(isnan(s.sd) && isnan(s.ci_lo) && isnan(s.ci_hi));
    /* NaN entries are skipped, not averaged */
    double v[] = {0.8, NAN, 0.9};
    s = pt_stats_summarize(v, 3);
    cr_assert_eq(s.n, 2);
    cr_assert_float_eq(s.mean, 0.85, 1e-15);
    /* identical variants: no ranked difference, no p-value */
    double a[] = {1, 2, 3}, b[] = {1, 2, 3};
    pt_stats_wilcoxon_result w = pt_stats_wilcoxon(a, b, 3);
    cr_assert_eq(w.n, 0);
    cr_assert(isnan(w.p));
    pt_stats_ttest t = pt_stats_paired_t(a, b, 3);
    cr_assert(isnan(t.p));
    /* a constant non-zero difference: t infinite, p 0 (scipy does the same) */
    double c[] = {1.5, 2.5, 3.5}; /* exact in binary: the differences are all 0.5 */
    t = pt_stats_paired_t(c, a, 3);
    cr_assert(isinf(t.t) && t.t > 0);
    cr_assert_eq(t.p, 0);
    /* the t quantile inverts the CDF */
    for (double df = 1; df < 100; df *= 3)
        cr_assert_float_eq(pt_stats_t_cdf(pt_stats_t_quantile(0.975, df), df), 0.975, 1e-13);
}
