/*
 * test_report.c — `prunetune report` on real study files: a fixture study
 * written through the store's own API (one trial of each family, known
 * metrics, a failed and a pruned trial), the analyses behind the page checked
 * number by number (Pareto set against brute force), the HTML checked for
 * its table rows and four plots and for being self-contained, a study made by
 * Optuna itself, and the bad inputs (exit 2, one line).
 *
 * Why one file of ~1020 lines: every case reads the same fixture study and the same rendered page;
 * split, each part would rebuild the fixture (seconds under ASan) for no gain.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allclose.h"
#include "report_confirm.h"
#include "report_data.h"
#include "stats.h"
#include "store.h"

static char tmpdir[] = "/tmp/pt_report_XXXXXX";
static char dbpath[600], htmlpath[600], errpath[600];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/study.db", tmpdir);
    snprintf(htmlpath, sizeof htmlpath, "%s/report.html", tmpdir);
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", tmpdir);
}

static void teardown(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(report, .init = setup, .fini = teardown);

/* ---- the fixture ----------------------------------------------------------- */

static const char study_json[] =
    "{\"study\": \"%s\", \"storage\": \"x.db\", \"n_trials\": 10,"
    " \"objectives\": [{\"name\": \"val_acc\", \"direction\": \"maximize\"}],"
    " \"trial\": {\"data\": {\"limit\": 100}, \"net\": {\"hidden\": [32]},"
    "  \"train\": {\"epochs\": 2}, \"prune\": {\"start_epoch\": 0, \"end_epoch\": 2}},"
    " \"search_space\": {"
    "  \"prune.schedule\": {\"type\": \"categorical\", \"choices\": [\"none\", \"gradual\"]},"
    "  \"prune.sparsity\": {\"type\": \"float\", \"low\": 0.5, \"high\": 0.95,"
    "                      \"when\": {\"prune.schedule\": [\"gradual\"]}},"
    "  \"reg.l2\": {\"type\": \"categorical\", \"choices\": [0, 0.0001]},"
    "  \"reg.dropout\": {\"type\": \"categorical\", \"choices\": [0, 0.2]}}}";

/* One trial: schedule (choice), target sparsity, l2 and dropout choices, the
 * final state, and the measured test accuracy and sparsity. */
typedef struct {
    int sched;
    double target;
    int l2, drop;
    trial_state state;
    double test_acc, sparsity;
} spec;

static const spec trials[] = {
    {0, 0, 0, 0, TRIAL_COMPLETE, 0.880, 0.0},     /* 0 baseline */
    {0, 0, 1, 0, TRIAL_COMPLETE, 0.890, 0.0},     /* 1 regularization: best */
    {0, 0, 0, 1, TRIAL_COMPLETE, 0.885, 0.0},     /* 2 regularization */
    {1, 0.5, 0, 0, TRIAL_COMPLETE, 0.875, 0.5},   /* 3 pruning: best by val_acc */
    {1, 0.9, 0, 0, TRIAL_COMPLETE, 0.860, 0.9},   /* 4 pruning */
    {1, 0.9, 1, 0, TRIAL_COMPLETE, 0.870, 0.9},   /* 5 hybrid: best */
    {1, 0.95, 0, 1, TRIAL_COMPLETE, 0.850, 0.95}, /* 6 hybrid */
    {1, 0.8, 0, 0, TRIAL_COMPLETE, 0.872, 0.8},   /* 7 pruning */
    {1, 0.7, 1, 1, TRIAL_FAIL, 0, 0},             /* 8 failed */
    {0, 0, 1, 1, TRIAL_PRUNED, 0.500, 0.0},       /* 9 stopped early */
};
#define N_TRIALS ((int)(sizeof trials / sizeof trials[0]))

static void add_study(store *st, const char *name)
{
    char json[2048];
    snprintf(json, sizeof json, study_json, name);
    study_config sc;
    pt_err err = {{0}};
    cr_assert_eq(study_parse(&sc, json, "fixture", &err), PT_OK, "%s", err.msg);
    int sid, created;
    cr_assert_eq(store_study_open(st, &sc, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    for (int k = 0; k < N_TRIALS; k++) {
        const spec *t = &trials[k];
        study_point p;
        memset(&p, 0, sizeof p);
        p.present[0] = p.present[2] = p.present[3] = 1;
        p.value[0] = t->sched;
        p.present[1] = t->sched == 1;
        p.value[1] = t->target;
        p.value[2] = t->l2;
        p.value[3] = t->drop;
        pt_config cfg;
        cr_assert_eq(study_trial_config(&sc, &p, &cfg, &err), PT_OK, "%s", err.msg);
        char *cj = pt_config_to_json(&cfg);
        int tid, number;
        cr_assert_eq(store_trial_begin(st, sid, &sc, &p, cj, &tid, &number, &err), PT_OK, "%s",
                     err.msg);
        free(cj);
        cr_assert_eq(number, k);
        double val = t->test_acc + 0.005;
        for (int step = 0; step < 2 && t->state != TRIAL_FAIL; step++)
            cr_assert_eq(store_trial_report(st, tid, step, val - 0.05 * (1 - step), &err), PT_OK);
        char res[1024];
        long long dense = 26506 * 4, nnz = (long long)(26506 * (1 - t->sparsity));
        snprintf(res, sizeof res,
                 "{\"val_acc\": %.3f, \"test_acc\": %.3f, \"sparsity\": %.2f, \"nnz\": %lld,"
                 " \"bytes_dense\": %lld, \"bytes_stored\": %lld, \"flops_per_sample\": %lld,"
                 " \"latency_b1_us\": %.1f, \"speedup_b1\": %.2f, \"epochs\": 2, \"wall_s\": 1.5}",
                 val, t->test_acc, t->sparsity, nnz, dense, t->sparsity > 0.6 ? nnz * 8 : dense,
                 2 * nnz, 40.0 * (1 - t->sparsity) + 5, 45.0 / (40.0 * (1 - t->sparsity) + 5));
        if (t->state == TRIAL_FAIL)
            cr_assert_eq(store_trial_end(st, tid, TRIAL_FAIL, NULL, 0, NULL, "diverged", &err),
                         PT_OK, "%s", err.msg);
        else
            cr_assert_eq(store_trial_end(st, tid, t->state, &val, 1, res, NULL, &err), PT_OK, "%s",
                         err.msg);
    }
    study_free(&sc);
}

static void make_db(const char *name1, const char *name2)
{
    store *st;
    pt_err err = {{0}};
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK, "%s", err.msg);
    add_study(st, name1);
    if (name2)
        add_study(st, name2);
    store_close(st);
}

/* ---- the confirmation study ("fixture/confirm", the shared contract) ---- */

/* Seed noise shared by every variant of a seed (what pairing removes) and
 * per-variant jitter: rank 1's hybrid beats its pruning-only variant by
 * 0.6 pp at every seed (+- 0.1), rank 2's is within noise of it. */
static const double noise[5] = {0.002, -0.001, 0.003, -0.002, 0.000};
static const double jit1[5] = {0.001, -0.001, 0.0005, 0.0, -0.0005};
static const double jit2[5] = {0.004, -0.003, 0.002, -0.005, 0.001};

/* Test accuracy of variant v of rank k at seed s (1..5). */
static double conf_acc(report_family v, int k, int s)
{
    double n = noise[s - 1];
    switch (v) {
    case REPORT_BASELINE:
        return 0.876 + n;
    case REPORT_REG:
        return (k == 1 ? 0.882 : 0.879) + 0.5 * n;
    case REPORT_PRUNE:
        return k == 1 ? 0.864 + n + jit1[s - 1] : 0.850 + n + jit2[s - 1];
    default:
        return k == 1 ? 0.870 + n : 0.850 + n;
    }
}

static double conf_sparsity(report_family v, int k, int s)
{
    return v == REPORT_PRUNE || v == REPORT_HYBRID ? (k == 1 ? 0.90 : 0.95) + 0.001 * s : 0.0;
}

static double conf_latency(report_family v, int s)
{
    return (v == REPORT_PRUNE || v == REPORT_HYBRID ? 9.0 : 45.0) + 0.1 * s;
}

static void set_attr(store *st, int tid, const char *k, const char *json)
{
    pt_err err = {{0}};
    cr_assert_eq(store_trial_attr(st, tid, k, json, &err), PT_OK, "%s", err.msg);
}

/* One run of the confirmation: params of the fixture space, config with
 * the seed, the contract's user attributes. */
static void add_run(store *st, int sid, const study_config *sc, report_family v, int rank,
                    int source, int seed, trial_state state)
{
    /* rank 1 confirms trial 5 (gradual 0.9 + L2), rank 2 trial 6 (gradual
     * 0.95 + dropout), the baseline trial 0 */
    int sched = v == REPORT_PRUNE || v == REPORT_HYBRID;
    int l2 = (v == REPORT_REG || v == REPORT_HYBRID) && rank == 1;
    int drop = (v == REPORT_REG || v == REPORT_HYBRID) && rank == 2;
    study_point p;
    memset(&p, 0, sizeof p);
    p.present[0] = p.present[2] = p.present[3] = 1;
    p.value[0] = sched;
    p.present[1] = sched;
    p.value[1] = rank == 1 ? 0.9 : 0.95;
    p.value[2] = l2;
    p.value[3] = drop;
    pt_config cfg;
    pt_err err = {{0}};
    cr_assert_eq(study_trial_config(sc, &p, &cfg, &err), PT_OK, "%s", err.msg);
    cfg.seed = (uint64_t)seed;
    char *cj = pt_config_to_json(&cfg);
    int tid, number;
    cr_assert_eq(store_trial_begin(st, sid, sc, &p, cj, &tid, &number, &err), PT_OK, "%s", err.msg);
    free(cj);
    char res[512], a[64];
    /* a FAILED run has no metrics (its seed may lie beyond the noise table) */
    double acc = state == TRIAL_FAIL ? 0 : conf_acc(v, rank, seed), val = acc + 0.004;
    snprintf(res, sizeof res,
             "{\"val_acc\": %.6f, \"test_acc\": %.6f, \"sparsity\": %.4f,"
             " \"latency_b1_us\": %.2f, \"epochs\": 2, \"seed\": %d}",
             val, acc, conf_sparsity(v, rank, seed), conf_latency(v, seed), seed);
    if (state == TRIAL_FAIL)
        cr_assert_eq(store_trial_end(st, tid, TRIAL_FAIL, NULL, 0, NULL, "diverged", &err), PT_OK);
    else
        cr_assert_eq(store_trial_end(st, tid, state, &val, 1, res, NULL, &err), PT_OK, "%s",
                     err.msg);
    snprintf(a, sizeof a, "\"%s\"", report_confirm_variant_name(v));
    set_attr(st, tid, "pt_variant", a);
    snprintf(a, sizeof a, "%d", rank);
    set_attr(st, tid, "pt_rank", a);
    snprintf(a, sizeof a, "%d", source);
    set_attr(st, tid, "pt_source_trial", a);
    snprintf(a, sizeof a, "%d", seed);
    set_attr(st, tid, "pt_seed", a);
}

/* The main study "fixture" (its trial 0 marked as the reference trial) and
 * "fixture/confirm": baseline x 5 seeds, then ranks 1 and 2 x 3 variants x
 * 5 seeds, the pruning-only runs recorded in reverse seed order (pairing
 * must go by pt_seed, not by position), one FAILED extra hybrid run. */
static void make_confirm_db(void)
{
    make_db("fixture", NULL);
    store *st;
    pt_err err = {{0}};
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK, "%s", err.msg);
    set_attr(st, 1, "pt_role", "\"baseline\""); /* trial_id 1 = trial number 0 */
    char json[2048];
    snprintf(json, sizeof json, study_json, "fixture/confirm");
    study_config sc;
    cr_assert_eq(study_parse(&sc, json, "fixture", &err), PT_OK, "%s", err.msg);
    int sid, created;
    cr_assert_eq(store_study_open(st, &sc, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    for (int s = 1; s <= 5; s++)
        add_run(st, sid, &sc, REPORT_BASELINE, 0, 0, s, TRIAL_COMPLETE);
    for (int k = 1; k <= 2; k++) {
        for (int s = 1; s <= 5; s++)
            add_run(st, sid, &sc, REPORT_HYBRID, k, k == 1 ? 5 : 6, s, TRIAL_COMPLETE);
        for (int s = 5; s >= 1; s--)
            add_run(st, sid, &sc, REPORT_PRUNE, k, k == 1 ? 5 : 6, s, TRIAL_COMPLETE);
        for (int s = 1; s <= 5; s++)
            add_run(st, sid, &sc, REPORT_REG, k, k == 1 ? 5 : 6, s, TRIAL_COMPLETE);
    }
    add_run(st, sid, &sc, REPORT_HYBRID, 2, 6, 6, TRIAL_FAIL);
    study_free(&sc);
    store_close(st);
}

/* ---- running the binary ---------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

/* Runs `prunetune report ARGS`; returns the exit code. */
static int run_report(const char *args)
{
    char cmd[2048];
    if (snprintf(cmd, sizeof cmd, "'%s' report %s 2>'%s'", PT_BIN, args, errpath) >=
        (int)sizeof cmd)
        return -1;
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The <tr> of a table that contains `key`, as text (caller frees). */
static char *row_with(const char *html, const char *table_id, const char *key)
{
    char open[64];
    snprintf(open, sizeof open, "<table id=\"%s\">", table_id);
    const char *t = strstr(html, open);
    cr_assert_not_null(t, "no table %s", table_id);
    const char *end = strstr(t, "</table>");
    const char *k = strstr(t, key);
    cr_assert(k && k < end, "table %s has no row with '%s'", table_id, key);
    const char *a = k;
    while (a > t && strncmp(a, "<tr>", 4))
        a--;
    const char *b = strstr(k, "</tr>");
    return strndup(a, (size_t)(b - a));
}

/* Every row of table `id` spans its `cols` columns; it has `want` rows. */
static void table_rows_full(const char *html, const char *id, int cols, int want)
{
    char open[64];
    snprintf(open, sizeof open, "<table id=\"%s\">", id);
    const char *t = strstr(html, open);
    cr_assert_not_null(t, "no table %s", id);
    const char *end = strstr(t, "</table>");
    int rows = 0;
    for (const char *r = strstr(t, "<tr>"); r && r < end; r = strstr(r + 4, "<tr>")) {
        char *row = strndup(r, (size_t)(strstr(r, "</tr>") - r));
        int cells = count_of(row, "<td") + count_of(row, "<th");
        const char *span = strstr(row, "colspan=\"");
        if (span)
            cells += atoi(span + 9) - 1;
        cr_assert_eq(cells, cols, "%s", row);
        free(row);
        rows++;
    }
    cr_assert_eq(rows, want, "table %s", id);
}

/* The comparison table: a header and 4 rows of 11 columns. */
static void compare_rows_full(const char *html)
{
    table_rows_full(html, "compare", 11, 5);
}

static void page_clean(const char *html);

static void self_contained(const char *html)
{
    compare_rows_full(html);
    page_clean(html);
}

static void page_clean(const char *html)
{
    cr_assert_eq(strncmp(html, "<!DOCTYPE html>", 15), 0);
    cr_assert_null(strstr(html, "http"), "the page refers to the network");
    cr_assert_null(strstr(html, "<script"), "the page has a script");
    cr_assert_null(strstr(html, "<link"), "the page links a resource");
    cr_assert_null(strstr(html, "@import"));
    cr_assert_null(strstr(html, "url("));
    for (const char *p = html; (p = strstr(p, "nan")); p++)
        cr_assert(!isalpha((unsigned char)p[-1]) && !isalpha((unsigned char)p[3]) ? 0 : 1,
                  "a NAN leaked into the page: %.40s", p - 10);
    cr_assert_eq(count_of(html, "<svg "), 4);
    cr_assert_eq(count_of(html, "</svg>"), 4);
    static const char *const ids[] = {"plot-history", "plot-pareto", "plot-curves",
                                      "plot-importance"};
    for (int i = 0; i < 4; i++)
        cr_assert_not_null(strstr(html, ids[i]), "missing %s", ids[i]);
    cr_assert_not_null(strstr(html, "</html>"));
}

Test(report, html_of_a_prunetune_study)
{
    make_db("fixture", NULL);
    char args[1400];
    snprintf(args, sizeof args, "'%s' -o '%s'", dbpath, htmlpath);
    cr_assert_eq(run_report(args), 0, "%s", slurp(errpath));
    char *html = slurp(htmlpath);
    self_contained(html);
    /* Summary: trials by state, best trial. */
    cr_assert_not_null(strstr(html, ">10: 8 complete; 1 pruned; 1 failed;<"));
    cr_assert_not_null(strstr(html, "#1: val_acc = 0.895"), "best trial");
    /* The comparison table, row by row: trial, accuracy, delta, sparsity. */
    static const char *const rows[][2] = {
        {">baseline<", "<td>0</td><td>88.00%</td><td>+0.00</td><td>0.0%</td>"},
        {"best regularization only", "<td>1</td><td>89.00%</td><td>+1.00</td><td>0.0%</td>"},
        {"best pruning only", "<td>3</td><td>87.50%</td><td>-0.50</td><td>50.0%</td>"},
        {"best hybrid", "<td>5</td><td>87.00%</td><td>-1.00</td><td>90.0%</td>"},
    };
    for (int i = 0; i < 4; i++) {
        char *row = row_with(html, "compare", rows[i][0]);
        cr_assert_not_null(strstr(row, rows[i][1]), "row %s: %s", rows[i][0], row);
        free(row);
    }
    char *row = row_with(html, "compare", "best hybrid");
    cr_assert_not_null(strstr(row, "<td>2650</td>"), "nnz: %s", row); /* 10% of 26506 */
    cr_assert_not_null(strstr(row, "<td>5.00&times;</td>"), "speed-up: %s", row);
    free(row);
    /* Winners by level: pruning at 50 and 80%, hybrid at 90 and 95%. */
    static const char *const wins[][2] = {{"<td>50%</td>", "pruning only"},
                                          {"<td>80%</td>", "pruning only"},
                                          {"<td>90%</td>", "hybrid"},
                                          {"<td>95%</td>", "hybrid"}};
    for (int i = 0; i < 4; i++) {
        row = row_with(html, "levels", wins[i][0]);
        char want[80];
        snprintf(want, sizeof want, "<td class=\"l\">%s</td>", wins[i][1]);
        cr_assert_not_null(strstr(row, want), "level %s: %s", wins[i][0], row);
        free(row);
    }
    row = row_with(html, "levels", "<td>90%</td>");
    cr_assert_not_null(strstr(row, "<td class=\"win\">87.00% <span class=\"note\">(#5)"), "%s",
                       row);
    free(row);
    free(html);
}

Test(report, analyses)
{
    make_db("fixture", NULL);
    report_study r;
    pt_err err = {{0}};
    cr_assert_eq(report_load(&r, dbpath, NULL, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(r.n_trials, N_TRIALS);
    cr_assert_eq(r.has_pt, 1);
    cr_assert_str_eq(r.objective[0], "val_acc");
    cr_assert_eq(r.by_state[TRIAL_COMPLETE], 8);
    static const report_family fam[] = {REPORT_BASELINE, REPORT_REG,    REPORT_REG,    REPORT_PRUNE,
                                        REPORT_PRUNE,    REPORT_HYBRID, REPORT_HYBRID, REPORT_PRUNE,
                                        REPORT_HYBRID,   REPORT_REG};
    for (int i = 0; i < N_TRIALS; i++)
        cr_assert_eq(r.trials[i].family, fam[i], "trial %d: %d", i, r.trials[i].family);
    int exact;
    cr_assert_eq(report_baseline(&r, &exact), 0);
    cr_assert_eq(exact, 1);
    cr_assert_eq(report_best_of(&r, REPORT_REG), 1);
    cr_assert_eq(report_best_of(&r, REPORT_PRUNE), 3);
    cr_assert_eq(report_best_of(&r, REPORT_HYBRID), 5);
    cr_assert_eq(report_best_at(&r, REPORT_PRUNE, 0.9), 4);
    cr_assert_eq(report_best_at(&r, REPORT_HYBRID, 0.95), 6);
    cr_assert_eq(report_best_at(&r, REPORT_REG, 0.5), -1);
    cr_assert_eq(r.n_params, 4);
    cr_assert_eq(r.n_points, 2 * 9); /* every trial but the failed one reported 2 steps */
    pt_assert_close(r.trials[7].latency_us, 13.0, PT_RTOL_FORMULA, 0);
    cr_assert_eq(r.trials[5].bytes_stored, 2650LL * 8);

    /* Pareto set against brute force: non-dominated in (accuracy, sparsity). */
    int idx[N_TRIALS], n = report_pareto(&r, idx), want = 0;
    for (int i = 0; i < N_TRIALS; i++) {
        if (r.trials[i].state != TRIAL_COMPLETE)
            continue;
        int dominated = 0;
        for (int j = 0; j < N_TRIALS; j++) {
            double ai = report_accuracy(&r, i), aj = report_accuracy(&r, j);
            double si = r.trials[i].sparsity, sj = r.trials[j].sparsity;
            dominated |=
                r.trials[j].state == TRIAL_COMPLETE && aj >= ai && sj >= si && (aj > ai || sj > si);
        }
        int in = 0;
        for (int k = 0; k < n; k++)
            in |= idx[k] == i;
        cr_assert_eq(in, !dominated, "trial %d", i);
        want += !dominated;
    }
    cr_assert_eq(n, want);
    cr_assert_eq(n, 5); /* 1, 3, 7, 5, 6 */
    for (int k = 1; k < n; k++)
        cr_assert(r.trials[idx[k]].sparsity > r.trials[idx[k - 1]].sparsity);

    /* Importance of prune.schedule: its two choices split the complete
     * trials in two groups; between-group over total variance. */
    double imp[8];
    report_importance(&r, imp);
    double y[8], mean = 0, tot = 0, g0 = 0, g1 = 0;
    int m = 0, n0 = 0;
    for (int i = 0; i < N_TRIALS; i++)
        if (r.trials[i].state == TRIAL_COMPLETE) {
            y[m] = r.trials[i].value;
            mean += y[m];
            if (trials[i].sched == 0) {
                g0 += y[m];
                n0++;
            } else {
                g1 += y[m];
            }
            m++;
        }
    mean /= m;
    for (int i = 0; i < m; i++)
        tot += (y[i] - mean) * (y[i] - mean);
    g0 /= n0;
    g1 /= m - n0;
    double expect = (n0 * (g0 - mean) * (g0 - mean) + (m - n0) * (g1 - mean) * (g1 - mean)) / tot;
    int sched = -1;
    for (int p = 0; p < r.n_params; p++) {
        cr_assert(imp[p] >= 0 && imp[p] <= 1 + PT_RTOL_FORMULA, "%s: %g", r.params[p].name, imp[p]);
        if (!strcmp(r.params[p].name, "prune.schedule"))
            sched = p;
    }
    cr_assert_geq(sched, 0);
    /* Between-group over total variance in double, summed in other orders
     * than report_data.c: m = 9 terms, and the spread of y is small next to
     * its mean (cancellation up to ~1e3), so ~1e-13 relative; 1e-9. */
    pt_assert_close(imp[sched], expect, 1e-9, 0);
    report_free(&r);
}

Test(report, families_from_config)
{
    double reg;
    cr_assert_eq(report_family_of("{\"prune\": {\"schedule\": \"none\"}, \"reg\": {\"l1\": 0,"
                                  " \"l2\": 0, \"dropout\": [0, 0]}}",
                                  &reg),
                 REPORT_BASELINE);
    cr_assert_eq(reg, 0);
    cr_assert_eq(report_family_of("{\"prune\": {\"schedule\": \"none\"}, \"reg\": {\"dropout\":"
                                  " [0, 0.25]}}",
                                  &reg),
                 REPORT_REG);
    cr_assert_eq(reg, 0.25, "parsed text, exact");
    cr_assert_eq(report_family_of("{\"prune\": {\"schedule\": \"oneshot\"}}", NULL), REPORT_PRUNE);
    cr_assert_eq(report_family_of("{\"prune\": {\"schedule\": \"iterative\"}, \"reg\":"
                                  " {\"l1\": 1e-5}}",
                                  NULL),
                 REPORT_HYBRID);
    cr_assert_eq(report_family_of("not json", NULL), REPORT_UNKNOWN);
    cr_assert_eq(report_family_of(NULL, NULL), REPORT_UNKNOWN);
}

Test(report, study_choice_and_bad_input)
{
    make_db("first", "second");
    char args[1400];
    snprintf(args, sizeof args, "'%s' -o '%s'", dbpath, htmlpath);
    cr_assert_eq(run_report(args), 2);
    char *msg = slurp(errpath);
    cr_assert_not_null(strstr(msg, "holds 2 studies ('first', 'second'); pick one with --study"),
                       "%s", msg);
    cr_assert_eq(count_of(msg, "\n"), 1, "one line: %s", msg);
    free(msg);
    snprintf(args, sizeof args, "'%s' -o '%s' --study second", dbpath, htmlpath);
    cr_assert_eq(run_report(args), 0);
    char *html = slurp(htmlpath);
    cr_assert_not_null(strstr(html, "Study <code>second</code>"));
    free(html);
    snprintf(args, sizeof args, "'%s' -o '%s' --study third", dbpath, htmlpath);
    cr_assert_eq(run_report(args), 2);
    msg = slurp(errpath);
    cr_assert_not_null(strstr(msg, "no study 'third'"), "%s", msg);
    free(msg);

    snprintf(args, sizeof args, "'%s/missing.db' -o '%s'", tmpdir, htmlpath);
    cr_assert_eq(run_report(args), 2);
    msg = slurp(errpath);
    cr_assert_not_null(strstr(msg, "no such database"), "%s", msg);
    free(msg);
    snprintf(args, sizeof args, "'%s' -o '%s'", errpath, htmlpath); /* a text file */
    cr_assert_eq(run_report(args), 2);
    snprintf(args, sizeof args, "'%s'", dbpath);
    cr_assert_eq(run_report(args), 2);
    msg = slurp(errpath);
    cr_assert_not_null(strstr(msg, "missing -o"), "%s", msg);
    free(msg);
    cr_assert_eq(run_report("--help >/dev/null"), 0);
}

/* A run still writing: the store stays open with a trial RUNNING and
 * uncheckpointed WAL; the report reads a consistent snapshot and says so. */
Test(report, while_a_run_writes)
{
    make_db("fixture", NULL);
    store *st;
    pt_err err = {{0}};
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK, "%s", err.msg);
    char json[2048];
    snprintf(json, sizeof json, study_json, "fixture");
    study_config sc;
    cr_assert_eq(study_parse(&sc, json, "fixture", &err), PT_OK, "%s", err.msg);
    int sid, created, tid, number;
    cr_assert_eq(store_study_open(st, &sc, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    study_point p;
    memset(&p, 0, sizeof p);
    p.present[0] = p.present[2] = p.present[3] = 1;
    cr_assert_eq(store_trial_begin(st, sid, &sc, &p, "{}", &tid, &number, &err), PT_OK);
    cr_assert_eq(store_trial_report(st, tid, 0, 0.7, &err), PT_OK);
    char args[1400];
    snprintf(args, sizeof args, "'%s' -o '%s'", dbpath, htmlpath);
    cr_assert_eq(run_report(args), 0, "%s", slurp(errpath));
    char *html = slurp(htmlpath);
    cr_assert_not_null(strstr(html, ">11: 1 running; 8 complete; 1 pruned; 1 failed;<"));
    free(html);
    store_close(st);
    study_free(&sc);
}

/* A study Optuna 3.1 wrote: parameters named like prunetune keys give the
 * families; the prunetune-only columns are empty. */
static const char optuna_script[] =
    "import optuna, sys\n"
    "optuna.logging.set_verbosity(optuna.logging.WARNING)\n"
    "s = optuna.create_study(study_name='opt', storage='sqlite:///' + sys.argv[1],"
    " direction='maximize', sampler=optuna.samplers.RandomSampler(seed=3))\n"
    "def f(t):\n"
    "    sched = t.suggest_categorical('prune.schedule', ['none', 'gradual'])\n"
    "    l2 = t.suggest_float('reg.l2', 1e-6, 1e-2, log=True)\n"
    "    x = t.suggest_float('x', -2, 2)\n"
    "    for step in range(3):\n"
    "        t.report(x * step, step)\n"
    "    if t.number == 5:\n"
    "        raise optuna.TrialPruned()\n"
    "    return -(x - 1) ** 2 + (0.5 if sched == 'none' else 0)\n"
    "s.optimize(f, n_trials=12)\n";

Test(report, optuna_made_study)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import optuna' 2>/dev/null") != 0) {
        cr_skip_test("python3-optuna is not installed");
    }
    char py[700], cmd[2000];
    snprintf(py, sizeof py, "%s/make.py", tmpdir);
    FILE *f = fopen(py, "w");
    cr_assert_not_null(f);
    fputs(optuna_script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", py, dbpath);
    cr_assert_eq(system(cmd), 0);
    report_study r;
    pt_err err = {{0}};
    cr_assert_eq(report_load(&r, dbpath, "opt", &err), PT_OK, "%s", err.msg);
    cr_assert_eq(r.has_pt, 0);
    cr_assert_eq(r.n_trials, 12);
    cr_assert_eq(r.by_state[TRIAL_PRUNED], 1);
    cr_assert_eq(r.n_params, 3);
    cr_assert_eq(r.n_points, 12 * 3);
    for (int i = 0; i < r.n_trials; i++) {
        cr_assert(isnan(r.trials[i].sparsity));
        cr_assert(r.trials[i].family == REPORT_REG || r.trials[i].family == REPORT_HYBRID);
    }
    report_free(&r);
    char args[1400];
    snprintf(args, sizeof args, "'%s' -o '%s'", dbpath, htmlpath);
    cr_assert_eq(run_report(args), 0, "%s", slurp(errpath));
    char *html = slurp(htmlpath);
    self_contained(html);
    cr_assert_not_null(strstr(html, "Optuna-made study"));
    char *row = row_with(html, "compare", "best hybrid");
    cr_assert_not_null(strstr(row, "<td>&ndash;</td><td>&ndash;</td>"), "%s", row);
    free(row);
    free(html);
}

/* ---- confirmation runs ------------------------------------------------------ */

/* The test accuracies of (v, rank) in seed order 1..5, as the fixture wrote them. */
static void accs(report_family v, int rank, double *out)
{
    for (int s = 1; s <= 5; s++)
        out[s - 1] = conf_acc(v, rank, s);
}

Test(report, confirmation_data)
{
    make_confirm_db();
    report_study r;
    pt_err err = {{0}};
    /* without --study: the main study, not the later-created "fixture/confirm" */
    cr_assert_eq(report_load(&r, dbpath, NULL, &err), PT_OK, "%s", err.msg);
    cr_assert_str_eq(r.name, "fixture");
    cr_assert_eq(r.trials[0].reference, 1);
    int exact;
    cr_assert_eq(report_baseline(&r, &exact), 0);
    cr_assert_eq(exact, 1);
    const report_confirm *c = r.confirm;
    cr_assert_not_null(c);
    cr_assert_str_eq(c->name, "fixture/confirm");
    cr_assert_eq(c->n_runs, 5 + 2 * 3 * 5 + 1);
    cr_assert_eq(c->max_rank, 2);
    cr_assert_str_eq(c->strategy[1], "gradual layer 90% + L2 0.0001");
    cr_assert_str_eq(c->strategy[2], "gradual layer 95% + dropout 0.2");
    cr_assert_str_eq(c->strategy[0], "no pruning, no regularization");
    cr_assert_eq(report_confirm_rank_of(c, 5), 1);
    cr_assert_eq(report_confirm_rank_of(c, 6), 2);
    cr_assert_eq(report_confirm_rank_of(c, 0), 0);
    cr_assert_eq(report_confirm_rank_of(c, 3), -1);
    cr_assert_eq(report_confirm_accuracy(c), CONFIRM_TEST_ACC);
    /* the failed 6th seed of rank 2 does not count */
    cr_assert_eq(report_confirm_seeds(c, 2), 5);
    double v[8];
    int seeds[8];
    cr_assert_eq(report_confirm_values(c, 2, REPORT_HYBRID, CONFIRM_TEST_ACC, v, seeds, 8), 5);
    /* the baseline is rank 0 whatever rank is asked */
    cr_assert_eq(report_confirm_values(c, 2, REPORT_BASELINE, CONFIRM_TEST_ACC, v, seeds, 8), 5);

    /* Figures per variant, by hand: the stored values are the %.6f texts of
     * conf_acc, so their means agree to the rounding of 5 additions. */
    double want[5], other[5];
    static const report_family fams[] = {REPORT_BASELINE, REPORT_REG, REPORT_PRUNE, REPORT_HYBRID};
    for (int k = 1; k <= 2; k++)
        for (int f = 0; f < 4; f++) {
            accs(fams[f], k, want);
            pt_stats_summary got = report_confirm_summary(c, k, fams[f], CONFIRM_TEST_ACC);
            pt_stats_summary exp = pt_stats_summarize(want, 5);
            cr_assert_eq(got.n, 5);
            cr_assert_float_eq(got.mean, exp.mean, 1e-12, "rank %d %s", k,
                               report_family_name(fams[f]));
            cr_assert_float_eq(got.sd, exp.sd, 1e-9);
            cr_assert_float_eq(got.ci_hi, exp.ci_hi, 1e-9);
        }
    pt_stats_summary lat = report_confirm_summary(c, 1, REPORT_HYBRID, CONFIRM_LATENCY);
    cr_assert_float_eq(lat.mean, 9.3, 1e-12);
    pt_stats_summary sp = report_confirm_summary(c, 1, REPORT_PRUNE, CONFIRM_SPARSITY);
    cr_assert_float_eq(sp.mean, 0.903, 1e-12);

    /* Paired by seed (the pruning-only runs were stored in reverse order):
     * rank 1's hybrid is +0.6 pp above pruning only, significant; rank 2's
     * is within noise. */
    accs(REPORT_HYBRID, 1, want);
    accs(REPORT_PRUNE, 1, other);
    report_confirm_cmp d =
        report_confirm_compare(c, 1, REPORT_HYBRID, REPORT_PRUNE, CONFIRM_TEST_ACC);
    pt_stats_ttest t = pt_stats_paired_t(want, other, 5);
    cr_assert_eq(d.t.n, 5);
    cr_assert_float_eq(d.t.mean_diff, 0.006, 1e-9);
    cr_assert_float_eq(d.t.p, t.p, 1e-9 * t.p);
    cr_assert_lt(d.t.p, 0.05);
    cr_assert_gt(d.t.ci_lo, 0);
    cr_assert_eq(d.w.n, 5);
    cr_assert_float_eq(d.w.p, 0.0625, 1e-12); /* all 5 differences positive: 2 / 2^5 */
    d = report_confirm_compare(c, 2, REPORT_HYBRID, REPORT_PRUNE, CONFIRM_TEST_ACC);
    cr_assert_eq(d.t.n, 5);
    cr_assert_gt(d.t.p, 0.05);
    cr_assert(d.t.ci_lo < 0 && d.t.ci_hi > 0);

    char verdict[1024];
    report_confirm_verdict(c, 1, verdict, sizeof verdict);
    static const char *const parts1[] = {
        "At >= 90% sparsity the hybrid (gradual layer 90% + L2 0.0001)",
        " beats pruning alone by +0.60 pp test accuracy (95% CI +0.",
        ", 5 seeds)",
        " and costs 4.9x less latency than the baseline (9.3 vs 45.3 us)",
        "; against regularization alone it is -1.18 pp",
        "significant)."};
    for (size_t i = 0; i < sizeof parts1 / sizeof parts1[0]; i++)
        cr_assert_not_null(strstr(verdict, parts1[i]), "'%s' not in: %s", parts1[i], verdict);
    report_confirm_verdict(c, 2, verdict, sizeof verdict);
    cr_assert_not_null(strstr(verdict, "At >= 95% sparsity the hybrid (gradual layer 95% + "
                                       "dropout 0.2) is not significantly different from "
                                       "pruning alone: +0.02 pp test accuracy (95% CI -"),
                       "%s", verdict);
    report_free(&r);
}

static report_verdict_in verdict_case(double diff, double half, double p, int n)
{
    report_verdict_in v;
    memset(&v, 0, sizeof v);
    v.strategy = "gradual global 90% + L1 1e-05";
    v.metric = "test accuracy";
    v.min_sparsity = 0.913;
    v.vs_prune = (pt_stats_ttest){n, diff, half, diff - half, diff + half, 2.5, p};
    v.latency_hybrid = 4.1;
    v.latency_baseline = 13.5;
    return v;
}

Test(report, verdict_sentences)
{
    char buf[1024];
    /* significantly better */
    report_verdict_in v = verdict_case(0.006, 0.004, 0.01, 5);
    report_verdict_text(&v, buf, sizeof buf);
    cr_assert_str_eq(buf, "At >= 91% sparsity the hybrid (gradual global 90% + L1 1e-05) beats "
                          "pruning alone by +0.60 pp test accuracy (95% CI +0.20..+1.00, paired "
                          "t-test p = 0.010, 5 seeds) and costs 3.3x less latency than the "
                          "baseline (4.1 vs 13.5 us).");
    /* significantly worse, with the regularization clause */
    v = verdict_case(-0.006, 0.004, 0.0004, 8);
    v.vs_reg = (pt_stats_ttest){8, 0.002, 0.01, -0.008, 0.012, 0.4, 0.61};
    report_verdict_text(&v, buf, sizeof buf);
    cr_assert_str_eq(buf, "At >= 91% sparsity the hybrid (gradual global 90% + L1 1e-05) loses "
                          "to pruning alone by -0.60 pp test accuracy (95% CI -1.00..-0.20, "
                          "paired t-test p < 0.001, 8 seeds) and costs 3.3x less latency than "
                          "the baseline (4.1 vs 13.5 us); against regularization alone it is "
                          "+0.20 pp (95% CI -0.80..+1.20, p = 0.610, not significant).");
    /* not significant: p >= 0.05, the interval spans 0 */
    v = verdict_case(0.002, 0.003, 0.21, 5);
    v.latency_hybrid = 14.0;
    report_verdict_text(&v, buf, sizeof buf);
    cr_assert_str_eq(buf, "At >= 91% sparsity the hybrid (gradual global 90% + L1 1e-05) is not "
                          "significantly different from pruning alone: +0.20 pp test accuracy "
                          "(95% CI -0.10..+0.50, paired t-test p = 0.210, 5 seeds) at about the "
                          "baseline's latency (14 vs 13.5 us).");
    /* one seed: no interval, no claim */
    v = verdict_case(0.002, NAN, NAN, 1);
    v.min_sparsity = NAN;
    report_verdict_text(&v, buf, sizeof buf);
    cr_assert_str_eq(buf, "The hybrid (gradual global 90% + L1 1e-05) has 1 seed paired with "
                          "pruning alone: too few for a confidence interval, so nothing can be "
                          "said yet (run prunetune confirm with --seeds 5).");
    /* the winner has no regularization: its hybrid and pruning-only runs are
     * one config, equal on every seed */
    v = verdict_case(0, 0, NAN, 5);
    report_verdict_text(&v, buf, sizeof buf);
    cr_assert_str_eq(buf, "At >= 91% sparsity the hybrid (gradual global 90% + L1 1e-05) uses no "
                          "regularization: it is pruning alone (5 seeds, the same runs) and costs "
                          "3.3x less latency than the baseline (4.1 vs 13.5 us).");
    /* truncation like snprintf: the full length is returned */
    v = verdict_case(0.006, 0.004, 0.01, 5);
    int n = report_verdict_text(&v, buf, 20);
    cr_assert_eq(strlen(buf), 19);
    cr_assert_gt(n, 100);
}

Test(report, html_with_confirmation)
{
    make_confirm_db();
    char args[1400];
    snprintf(args, sizeof args, "'%s' -o '%s'", dbpath, htmlpath);
    cr_assert_eq(run_report(args), 0, "%s", slurp(errpath));
    char *html = slurp(htmlpath);
    page_clean(html);
    /* header + baseline + 2 ranks x 3 variants, 11 columns each */
    table_rows_full(html, "compare", 11, 1 + 1 + 2 * 3);
    table_rows_full(html, "confirm-tests", 8, 1 + 2 * 3);
    table_rows_full(html, "compare-search", 11, 5);
    cr_assert_not_null(strstr(html, "(confirmed over seeds)"));
    cr_assert_not_null(strstr(html, "<code>fixture/confirm</code> (36 runs, 35 complete)"));
    /* rank 1's hybrid: source trial 5, 5 seeds, val 87.44 and test 87.04 (+- CI),
     * 0.6 pp below the baseline at every seed, 4.87x faster */
    char *row = row_with(html, "compare", "gradual layer 90% + L2 0.0001</td>");
    cr_assert_not_null(strstr(row, ">hybrid</td><td>1</td>"), "%s", row);
    cr_assert_not_null(strstr(row, "<td>5</td><td>5</td><td>87.44&nbsp;&plusmn;&nbsp;"), "%s", row);
    cr_assert_not_null(strstr(row, "<td>87.04&nbsp;&plusmn;&nbsp;"), "%s", row);
    cr_assert_not_null(strstr(row, "<td>-0.60&nbsp;&plusmn;&nbsp;0.00</td>"), "%s", row);
    cr_assert_not_null(
        strstr(row, "<td>90.3&nbsp;&plusmn;&nbsp;0.2</td><td>9.3&nbsp;&plusmn;&nbsp;0.2</td>"
                    "<td>4.87&times;</td>"),
        "%s", row);
    free(row);
    row = row_with(html, "compare", ">baseline<");
    cr_assert_not_null(strstr(row, "<td>&ndash;</td><td class=\"l\">no pruning, no "
                                   "regularization</td><td>0</td><td>5</td>"),
                       "%s", row);
    free(row);
    row = row_with(html, "compare", "(regularization off)");
    cr_assert_not_null(strstr(row, ">pruning only</td><td>1</td>"), "%s", row);
    free(row);
    /* the tests: rank 1 hybrid vs pruning only significant, exact Wilcoxon */
    row = row_with(html, "confirm-tests", "<td>1</td><td class=\"l\">hybrid vs pruning only");
    cr_assert_not_null(strstr(row, "<td>5</td><td>+0.60</td><td>+0."), "%s", row);
    cr_assert_not_null(strstr(row, "<td>0.0625 <span class=\"note\">(exact)</span></td>"), "%s",
                       row);
    cr_assert_not_null(strstr(row, ">hybrid better</td>"), "%s", row);
    free(row);
    row = row_with(html, "confirm-tests", "<td>2</td><td class=\"l\">hybrid vs pruning only");
    cr_assert_not_null(strstr(row, ">not significant</td>"), "%s", row);
    free(row);
    row = row_with(html, "confirm-tests", "<td>1</td><td class=\"l\">hybrid vs regularization");
    cr_assert_not_null(strstr(row, ">hybrid worse</td>"), "%s", row);
    free(row);
    const char *verdict = strstr(html, "<p id=\"verdict\"><b>Verdict:</b> At &gt;= 90% sparsity "
                                       "the hybrid (gradual layer 90% + L2 0.0001) beats pruning "
                                       "alone by +0.60 pp test accuracy");
    cr_assert_not_null(verdict, "no verdict");
    /* the search's table keeps its rows, the reference trial as baseline */
    row = row_with(html, "compare-search", "baseline (reference trial)");
    cr_assert_not_null(strstr(row, "<td>0</td><td>88.00%</td>"), "%s", row);
    free(row);
    free(html);
}

/* `best` shows the confirmed figures of a trial that has confirmation runs. */
Test(report, best_shows_confirmed_figures)
{
    make_confirm_db();
    char cmd[2000], outp[700];
    snprintf(outp, sizeof outp, "%s/best.txt", tmpdir);
    snprintf(cmd, sizeof cmd, "'%s' best '%s' --by sparsity >'%s' 2>'%s'", PT_BIN, dbpath, outp,
             errpath);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s", slurp(errpath));
    char *out = slurp(outp);
    cr_assert_not_null(strstr(out, "study 'fixture': 10 trials"), "%s", out);
    cr_assert_not_null(strstr(out, "trial 6,"), "%s", out);
    cr_assert_not_null(strstr(out, "confirmed over 5 seeds (study 'fixture/confirm', rank 2"), "%s",
                       out);
    cr_assert_not_null(strstr(out, "is not significantly different from pruning alone"), "%s", out);
    free(out);
    /* --json: the figures as numbers */
    snprintf(cmd, sizeof cmd, "'%s' best '%s' --by sparsity --json >'%s' 2>'%s'", PT_BIN, dbpath,
             outp, errpath);
    rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s", slurp(errpath));
    out = slurp(outp);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "%s", out);
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "best"), 0);
    const cJSON *conf = cJSON_GetObjectItem(b, "confirmed");
    cr_assert_not_null(conf, "%s", out);
    cr_assert_eq(cJSON_GetObjectItem(conf, "rank")->valueint, 2);
    const cJSON *h = cJSON_GetObjectItem(cJSON_GetObjectItem(conf, "variants"), "hybrid");
    const cJSON *ta = cJSON_GetObjectItem(h, "test_acc");
    cr_assert_eq(cJSON_GetObjectItem(ta, "n")->valueint, 5);
    double want[5];
    accs(REPORT_HYBRID, 2, want);
    pt_stats_summary s = pt_stats_summarize(want, 5);
    cr_assert_float_eq(cJSON_GetObjectItem(ta, "mean")->valuedouble, s.mean, 1e-12);
    cr_assert_float_eq(cJSON_GetObjectItem(ta, "ci_low")->valuedouble, s.ci_lo, 1e-9);
    const cJSON *t = cJSON_GetObjectItem(conf, "hybrid_vs_pruning_only");
    cr_assert_not_null(t, "%s", out);
    cr_assert_gt(cJSON_GetObjectItem(t, "t_test_p")->valuedouble, 0.05);
    cJSON_Delete(j);
    free(out);
    /* the best by the objective (trial 1) has no confirmation: nothing shown */
    snprintf(cmd, sizeof cmd, "'%s' best '%s' >'%s' 2>'%s'", PT_BIN, dbpath, outp, errpath);
    rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s", slurp(errpath));
    out = slurp(outp);
    cr_assert_not_null(strstr(out, "trial 1,"), "%s", out);
    cr_assert_null(strstr(out, "confirmed over"), "%s", out);
    free(out);
    /* top: a line per confirmed trial after the table (5 and 6; rank 1 is
     * 0.870 + mean noise = 0.8704 over its 5 seeds) */
    snprintf(cmd, sizeof cmd, "'%s' top '%s' -n 0 >'%s' 2>'%s'", PT_BIN, dbpath, outp, errpath);
    rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s", slurp(errpath));
    out = slurp(outp);
    cr_assert_not_null(strstr(out, "confirmed over seeds (study 'fixture/confirm', mean +- 95% "
                                   "CI):\n  trial 5 (rank 1): test_acc 0.8704 +- 0.00"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "difference +0.60 pp"), "%s", out);
    cr_assert_not_null(strstr(out, "\n  trial 6 (rank 2): test_acc 0.8504 +- "), "%s", out);
    free(out);
}

/* tests/report_check.sh renders the fixture in Chromium: it asks for the
 * study file with PT_REPORT_FIXTURE=path. The study has confirmation runs,
 * so the page shows the confirmed table, the paired tests, the verdict and
 * the search's own table. */
Test(report, fixture_file)
{
    const char *out = getenv("PT_REPORT_FIXTURE");
    if (!out)
        cr_skip_test("PT_REPORT_FIXTURE is not set (tests/report_check.sh sets it)");
    snprintf(dbpath, sizeof dbpath, "%s", out);
    make_confirm_db();
}

/* A confirmation Optuna wrote (no prunetune tables): the metrics come from
 * the user attributes, the same contract attributes mark the runs (the
 * baseline's seeds stored as strings, "1", still pair). */
static const char optuna_confirm_script[] =
    "import optuna, sys\n"
    "optuna.logging.set_verbosity(optuna.logging.WARNING)\n"
    "url = 'sqlite:///' + sys.argv[1]\n"
    "main = optuna.create_study(study_name='opt', storage=url, direction='maximize')\n"
    "main.enqueue_trial({'x': 0.0}, user_attrs={'pt_role': 'baseline'})\n"
    "main.optimize(lambda t: t.suggest_float('x', 0, 1), n_trials=3)\n"
    "conf = optuna.create_study(study_name='opt/confirm', storage=url, direction='maximize')\n"
    "accs = {'hybrid': [0.90, 0.91, 0.92], 'pruning_only': [0.89, 0.905, 0.91],\n"
    "        'regularization_only': [0.88, 0.88, 0.89], 'baseline': [0.87, 0.875, 0.88]}\n"
    "for v, a in accs.items():\n"
    "    for seed, acc in enumerate(a, 1):\n"
    "        t = conf.ask()\n"
    "        for k, val in (('pt_variant', v), ('pt_rank', 0 if v == 'baseline' else 1),\n"
    "                       ('pt_source_trial', 0 if v == 'baseline' else 2),\n"
    "                       ('pt_seed', str(seed) if v == 'baseline' else seed),\n"
    "                       ('test_acc', acc), ('val_acc', acc + 0.01),\n"
    "                       ('sparsity', 0.9 if 'pr' in v or v == 'hybrid' else 0.0),\n"
    "                       ('latency_b1_us', 5.0 if v in ('hybrid', 'pruning_only') else 20.0)):\n"
    "            t.set_user_attr(k, val)\n"
    "        conf.tell(t, acc + 0.01)\n";

Test(report, optuna_made_confirmation)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import optuna' 2>/dev/null") != 0) {
        cr_skip_test("python3-optuna is not installed");
    }
    char py[700], cmd[2000];
    snprintf(py, sizeof py, "%s/make.py", tmpdir);
    FILE *f = fopen(py, "w");
    cr_assert_not_null(f);
    fputs(optuna_confirm_script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", py, dbpath);
    cr_assert_eq(system(cmd), 0);
    report_study r;
    pt_err err = {{0}};
    cr_assert_eq(report_load(&r, dbpath, NULL, &err), PT_OK, "%s", err.msg);
    cr_assert_str_eq(r.name, "opt");
    cr_assert_eq(r.trials[0].reference, 1);
    const report_confirm *c = r.confirm;
    cr_assert_not_null(c);
    cr_assert_eq(c->n_runs, 12);
    cr_assert_eq(c->max_rank, 1);
    cr_assert_eq(report_confirm_rank_of(c, 2), 1);
    pt_stats_summary s = report_confirm_summary(c, 1, REPORT_HYBRID, CONFIRM_TEST_ACC);
    cr_assert_eq(s.n, 3);
    cr_assert_float_eq(s.mean, 0.91, 1e-12);
    s = report_confirm_summary(c, 1, REPORT_PRUNE, CONFIRM_LATENCY);
    cr_assert_float_eq(s.mean, 5.0, 1e-12);
    double h[] = {0.90, 0.91, 0.92}, p[] = {0.89, 0.905, 0.91};
    report_confirm_cmp d =
        report_confirm_compare(c, 1, REPORT_HYBRID, REPORT_PRUNE, CONFIRM_TEST_ACC);
    pt_stats_ttest t = pt_stats_paired_t(h, p, 3);
    cr_assert_eq(d.t.n, 3);
    cr_assert_float_eq(d.t.p, t.p, 1e-12);
    d = report_confirm_compare(c, 1, REPORT_HYBRID, REPORT_BASELINE, CONFIRM_TEST_ACC);
    cr_assert_eq(d.t.n, 3);
    report_free(&r);
    char args[1400];
    snprintf(args, sizeof args, "'%s' -o '%s'", dbpath, htmlpath);
    cr_assert_eq(run_report(args), 0, "%s", slurp(errpath));
    char *html = slurp(htmlpath);
    page_clean(html);
    table_rows_full(html, "compare", 11, 1 + 1 + 3);
    cr_assert_not_null(strstr(html, "<p id=\"verdict\"><b>Verdict:</b> At &gt;= 90% sparsity"));
    free(html);
}
