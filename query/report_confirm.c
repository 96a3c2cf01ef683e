/*
 * report_confirm.c — reads the "<study>/confirm" runs and turns them into
 * figures, paired tests and the verdict (see report_confirm.h).
 *
 * One SELECT reads every run with its metrics and the four pt_* user
 * attributes (correlated subqueries on the (trial_id, key) unique index),
 * in trial-number order, so "the later run wins" for a repeated
 * (variant, rank, seed) is simply the last one seen. The statistics are
 * computed on demand from the loaded runs: a confirmation has K * 3 + 1
 * groups of S seeds, tens of runs, so nothing is worth caching.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_confirm.h"
#include "store_impl.h"

const char *const report_confirm_metric_names[CONFIRM_N_METRICS] = {"val_acc", "test_acc",
                                                                    "sparsity", "latency_b1_us"};

static const char *const variant_names[4] = {"baseline", "regularization_only", "pruning_only",
                                             "hybrid"};

const char *report_confirm_variant_name(report_family v)
{
    return v >= REPORT_BASELINE && v <= REPORT_HYBRID ? variant_names[v] : NULL;
}

/* ---- strategy in words ------------------------------------------------------ */

static double num_or(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* The largest rate of a number or an array of numbers (reg.dropout). */
static double max_rate(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    double m = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) if (cJSON_IsNumber(e) && e->valuedouble > m) m = e->valuedouble;
    return m;
}

void report_strategy_text(const char *config_json, char *buf, size_t cap)
{
    if (cap)
        buf[0] = 0;
    cJSON *c = config_json ? cJSON_Parse(config_json) : NULL;
    if (!cJSON_IsObject(c)) {
        cJSON_Delete(c);
        return;
    }
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(c, "prune");
    const cJSON *reg = cJSON_GetObjectItemCaseSensitive(c, "reg");
    const cJSON *sched = cJSON_GetObjectItemCaseSensitive(pr, "schedule");
    const cJSON *gran = cJSON_GetObjectItemCaseSensitive(pr, "granularity");
    size_t len = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (len < cap) {                                                                           \
            int w_ = snprintf(buf + len, cap - len, __VA_ARGS__);                                  \
            len += w_ > 0 ? (size_t)w_ : 0;                                                        \
        }                                                                                          \
    } while (0)
    if (cJSON_IsString(sched) && strcmp(sched->valuestring, "none") != 0) {
        PUT("%s", sched->valuestring);
        if (cJSON_IsString(gran))
            PUT(" %s", gran->valuestring);
        double s = num_or(pr, "sparsity", NAN);
        if (!isnan(s))
            PUT(" %.0f%%", s * 100);
    }
    struct {
        const char *label;
        double v;
    } regs[] = {{"L1", num_or(reg, "l1", 0)},
                {"L2", num_or(reg, "l2", 0)},
                {"dropout", max_rate(cJSON_GetObjectItemCaseSensitive(reg, "dropout"))},
                {"input dropout", num_or(reg, "dropout_input", 0)},
                {"max-norm", num_or(reg, "max_norm", 0)}};
    for (size_t k = 0; k < sizeof regs / sizeof regs[0]; k++)
        if (regs[k].v > 0)
            PUT("%s%s %.3g", len ? " + " : "", regs[k].label, regs[k].v);
    if (!len)
        PUT("no pruning, no regularization");
#undef PUT
    cJSON_Delete(c);
}

/* ---- loading ---------------------------------------------------------------- */

static double col_num(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

/* A user attribute's JSON text as a number (NAN when absent or not one).
 * A string holding a number ("3") counts too: a writer in another language
 * may have stored it so, and a run must not silently drop out of the table. */
static double json_num(const unsigned char *text)
{
    cJSON *j = text ? cJSON_Parse((const char *)text) : NULL;
    double v = NAN;
    if (cJSON_IsNumber(j)) {
        v = j->valuedouble;
    } else if (cJSON_IsString(j) && j->valuestring[0]) {
        char *end;
        v = strtod(j->valuestring, &end);
        v = *end ? NAN : v;
    }
    cJSON_Delete(j);
    return v;
}

static report_family variant_of(const unsigned char *text)
{
    cJSON *j = text ? cJSON_Parse((const char *)text) : NULL;
    report_family v = REPORT_UNKNOWN;
    for (int k = 0; k < 4 && cJSON_IsString(j); k++)
        if (!strcmp(j->valuestring, variant_names[k]))
            v = (report_family)k;
    cJSON_Delete(j);
    return v;
}

static int has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *s;
    int n = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?1",
                           -1, &s, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n > 0;
}

/* A user attribute of the row's trial (value_json), by key. */
/* clang-format off */
#define UATTR(k) "(SELECT value_json FROM trial_user_attributes a" \
                 " WHERE a.trial_id=t.trial_id AND a.\"key\"='" k "')"
#define RUN_ATTRS UATTR("pt_variant") ", " UATTR("pt_rank") ", " \
                  UATTR("pt_source_trial") ", " UATTR("pt_seed")

static const char runs_sql_pt[] =
    "SELECT t.number, t.state, m.val_acc, m.test_acc, m.sparsity, m.latency_b1_us,"
    " m.config_json, " RUN_ATTRS
    " FROM trials t LEFT JOIN pt_trial_metrics m ON m.trial_id=t.trial_id"
    " WHERE t.study_id=?1 ORDER BY t.number";
/* A DB without prunetune's tables: the metrics from the user attributes. */
static const char runs_sql_optuna[] =
    "SELECT t.number, t.state, " UATTR("val_acc") ", " UATTR("test_acc") ", "
    UATTR("sparsity") ", " UATTR("latency_b1_us") ", NULL, " RUN_ATTRS
    " FROM trials t WHERE t.study_id=?1 ORDER BY t.number";
/* clang-format on */

static trial_state state_of(const char *name)
{
    for (int i = 0; i < 5; i++)
        if (name && !strcmp(name, store_state_names[i]))
            return (trial_state)i;
    return TRIAL_FAIL;
}

pt_status report_confirm_read(store *st, const char *main_name, report_confirm *c, int *found,
                              pt_err *err)
{
    memset(c, 0, sizeof *c);
    *found = 0;
    snprintf(c->name, sizeof c->name, "%s" REPORT_CONFIRM_SUFFIX, main_name);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT study_id FROM studies WHERE study_name=?1", -1, &s,
                           NULL) != SQLITE_OK)
        return store_dberr(st, err, "find the confirmation study");
    sqlite3_bind_text(s, 1, c->name, -1, SQLITE_TRANSIENT);
    int sid = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_finalize(s);
    if (sid < 0)
        return PT_OK;
    int pt = has_table(st->db, "pt_trial_metrics");
    if (sqlite3_prepare_v2(st->db, pt ? runs_sql_pt : runs_sql_optuna, -1, &s, NULL) != SQLITE_OK)
        return store_dberr(st, err, "read the confirmation runs");
    sqlite3_bind_int(s, 1, sid);
    pt_status rc = PT_OK;
    int cap = 0, step;
    char **config = NULL; /* config_json of each run, kept until the strategies are known */
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        report_confirm_run run;
        memset(&run, 0, sizeof run);
        run.number = sqlite3_column_int(s, 0);
        run.state = state_of((const char *)sqlite3_column_text(s, 1));
        for (int m = 0; m < CONFIRM_N_METRICS; m++)
            run.m[m] = pt ? col_num(s, 2 + m) : json_num(sqlite3_column_text(s, 2 + m));
        run.variant = variant_of(sqlite3_column_text(s, 7));
        double rank = json_num(sqlite3_column_text(s, 8));
        double src = json_num(sqlite3_column_text(s, 9));
        double seed = json_num(sqlite3_column_text(s, 10));
        if (run.variant == REPORT_UNKNOWN || isnan(rank) || isnan(seed) || rank < 0 ||
            rank > 100000)
            continue; /* not a confirmation run of the contract */
        run.rank = run.variant == REPORT_BASELINE ? 0 : (int)rank;
        run.source_trial = isnan(src) ? -1 : (int)src;
        run.seed = (int)seed;
        if (c->n_runs == cap) {
            cap = cap ? 2 * cap : 32;
            report_confirm_run *g = realloc(c->runs, (size_t)cap * sizeof *g);
            char **gc = realloc(config, (size_t)cap * sizeof *gc);
            if (g)
                c->runs = g;
            if (gc)
                config = gc;
            if (!g || !gc) {
                rc = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory reading %s", st->path, c->name);
                break;
            }
        }
        const char *cj = (const char *)sqlite3_column_text(s, 6);
        config[c->n_runs] = cj ? strdup(cj) : NULL;
        c->runs[c->n_runs++] = run;
        if (run.rank > c->max_rank)
            c->max_rank = run.rank;
    }
    sqlite3_finalize(s);
    if (rc == PT_OK && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = store_dberr(st, err, "read the confirmation runs");
    if (rc == PT_OK) {
        c->strategy = calloc((size_t)c->max_rank + 1, sizeof *c->strategy);
        if (!c->strategy)
            rc = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory reading %s", st->path, c->name);
    }
    /* Each rank's strategy from its hybrid run's config (a COMPLETE one
     * first: the one whose figures are shown); rank 0 from the baseline. */
    for (int pass = 0; rc == PT_OK && pass < 2; pass++)
        for (int i = 0; i < c->n_runs; i++) {
            const report_confirm_run *r = &c->runs[i];
            int want = r->rank == 0 ? REPORT_BASELINE : REPORT_HYBRID;
            if ((int)r->variant != want || c->strategy[r->rank][0] || !config[i] ||
                (pass == 0 && r->state != TRIAL_COMPLETE))
                continue;
            report_strategy_text(config[i], c->strategy[r->rank], sizeof c->strategy[0]);
        }
    for (int i = 0; i < c->n_runs; i++)
        free(config[i]);
    free(config);
    if (rc != PT_OK) {
        report_confirm_free(c);
        return rc;
    }
    *found = 1;
    return PT_OK;
}

pt_status report_confirm_load(report_confirm *c, const char *path, const char *main_name,
                              int *found, pt_err *err)
{
    memset(c, 0, sizeof *c);
    *found = 0;
    store *st = NULL;
    pt_status rc = store_open(&st, path, 1, err);
    if (rc != PT_OK)
        return rc;
    if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        rc = store_dberr(st, err, "begin read");
    if (rc == PT_OK)
        rc = report_confirm_read(st, main_name, c, found, err);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    store_close(st);
    return rc;
}

void report_confirm_free(report_confirm *c)
{
    free(c->runs);
    free(c->strategy);
    memset(c, 0, sizeof *c);
}

/* ---- figures ----------------------------------------------------------------- */

int report_confirm_values(const report_confirm *c, int rank, report_family v,
                          report_confirm_metric m, double *vals, int *seeds, int cap)
{
    if (v == REPORT_BASELINE)
        rank = 0;
    int *own = NULL, n = 0;
    if (!seeds) {
        own = malloc(((size_t)cap + 1) * sizeof *own);
        if (!own)
            return 0;
        seeds = own;
    }
    for (int i = 0; i < c->n_runs; i++) {
        const report_confirm_run *r = &c->runs[i];
        if (r->variant != v || r->rank != rank || r->state != TRIAL_COMPLETE)
            continue;
        int k = 0;
        while (k < n && seeds[k] != r->seed)
            k++;
        if (k == n) {
            if (n == cap)
                continue;
            seeds[n++] = r->seed;
        }
        if (vals)
            vals[k] = r->m[m]; /* number order: a later run of the same seed replaces it */
    }
    free(own);
    return n;
}

/* The values of a group, with their seeds, in malloc'd arrays. */
static int group(const report_confirm *c, int rank, report_family v, report_confirm_metric m,
                 double **vals, int **seeds)
{
    *vals = malloc(((size_t)c->n_runs + 1) * sizeof **vals);
    *seeds = malloc(((size_t)c->n_runs + 1) * sizeof **seeds);
    if (!*vals || !*seeds)
        return 0;
    return report_confirm_values(c, rank, v, m, *vals, *seeds, c->n_runs);
}

pt_stats_summary report_confirm_summary(const report_confirm *c, int rank, report_family v,
                                        report_confirm_metric m)
{
    double *vals;
    int *seeds;
    int n = group(c, rank, v, m, &vals, &seeds);
    pt_stats_summary s = pt_stats_summarize(vals ? vals : (double[1]){0}, n);
    free(vals);
    free(seeds);
    return s;
}

report_confirm_cmp report_confirm_compare(const report_confirm *c, int rank, report_family a,
                                          report_family b, report_confirm_metric m)
{
    double *va, *vb, *pa = malloc(((size_t)c->n_runs + 1) * sizeof *pa);
    double *pb = malloc(((size_t)c->n_runs + 1) * sizeof *pb);
    int *sa, *sb;
    int na = group(c, rank, a, m, &va, &sa), nb = group(c, rank, b, m, &vb, &sb), n = 0;
    for (int i = 0; pa && pb && i < na; i++)
        for (int j = 0; j < nb; j++)
            if (sa[i] == sb[j]) {
                pa[n] = va[i];
                pb[n++] = vb[j];
            }
    report_confirm_cmp r;
    r.t = pt_stats_paired_t(pa ? pa : (double[1]){0}, pb ? pb : (double[1]){0}, n);
    r.w = pt_stats_wilcoxon(pa ? pa : (double[1]){0}, pb ? pb : (double[1]){0}, n);
    free(va);
    free(vb);
    free(sa);
    free(sb);
    free(pa);
    free(pb);
    return r;
}

report_confirm_metric report_confirm_accuracy(const report_confirm *c)
{
    for (int i = 0; i < c->n_runs; i++)
        if (c->runs[i].state == TRIAL_COMPLETE && isfinite(c->runs[i].m[CONFIRM_TEST_ACC]))
            return CONFIRM_TEST_ACC;
    return CONFIRM_VAL_ACC;
}

int report_confirm_rank_of(const report_confirm *c, int number)
{
    int base = 0;
    for (int i = 0; i < c->n_runs; i++) {
        if (c->runs[i].source_trial != number)
            continue;
        if (c->runs[i].variant == REPORT_HYBRID)
            return c->runs[i].rank;
        base |= c->runs[i].variant == REPORT_BASELINE;
    }
    return base ? 0 : -1;
}

int report_confirm_seeds(const report_confirm *c, int rank)
{
    int n = 0;
    for (int i = 0; i < c->n_runs; i++) {
        const report_confirm_run *r = &c->runs[i];
        if (r->state != TRIAL_COMPLETE || (r->rank != rank && r->rank != 0))
            continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = c->runs[j].state == TRIAL_COMPLETE &&
                   (c->runs[j].rank == rank || c->runs[j].rank == 0) && c->runs[j].seed == r->seed;
        n += !seen;
    }
    return n;
}

/* ---- the verdict --------------------------------------------------------------- */

/* "p = 0.012" / "p < 0.001" */
static void p_text(char *buf, size_t cap, double p)
{
    if (isnan(p))
        snprintf(buf, cap, "p undefined");
    else if (p < 0.001)
        snprintf(buf, cap, "p < 0.001");
    else
        snprintf(buf, cap, "p = %.3f", p);
}

/* Significant: p < 0.05 and the interval on one side of 0 (for the t-test
 * the two agree; both are checked so a rounding at the edge cannot make
 * the sentence contradict its own numbers). */
static int significant(const pt_stats_ttest *t)
{
    return t->n >= 2 && t->p < 0.05 && (t->ci_lo > 0 || t->ci_hi < 0);
}

int report_verdict_text(const report_verdict_in *v, char *buf, size_t cap)
{
    size_t len = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0, __VA_ARGS__);   \
        len += w_ > 0 ? (size_t)w_ : 0;                                                            \
    } while (0)
    if (cap)
        buf[0] = 0;
    const char *strategy = v->strategy && v->strategy[0] ? v->strategy : "the top strategy";
    const char *metric = v->metric ? v->metric : "accuracy";
    if (isfinite(v->min_sparsity) && v->min_sparsity >= 0.01)
        PUT("At >= %d%% sparsity the hybrid (%s)", (int)floor(v->min_sparsity * 100 + 1e-9),
            strategy);
    else
        PUT("The hybrid (%s)", strategy);
    const pt_stats_ttest *t = &v->vs_prune;
    char p[32];
    p_text(p, sizeof p, t->p);
    if (t->n < 2 || isnan(t->ci_lo)) {
        PUT(" has %d seed%s paired with pruning alone: too few for a confidence interval, "
            "so nothing can be said yet (run prunetune confirm with --seeds 5)",
            t->n, t->n == 1 ? "" : "s");
        PUT(".");
        return (int)len;
    }
    if (t->mean_diff == 0 && t->ci_lo == 0 && t->ci_hi == 0) {
        /* Every seed gave the same figure with and without the strategy's
         * regularization: runs are deterministic per seed, so the two are
         * one config — the winner uses no regularization at all. */
        PUT(" uses no regularization: it is pruning alone (%d seeds, the same runs)", t->n);
    } else {
        const char *how = !significant(t)    ? "is not significantly different from pruning alone:"
                          : t->mean_diff > 0 ? "beats pruning alone by"
                                             : "loses to pruning alone by";
        PUT(" %s %+.2f pp %s (95%% CI %+.2f..%+.2f, paired t-test %s, %d seeds)", how,
            t->mean_diff * 100, metric, t->ci_lo * 100, t->ci_hi * 100, p, t->n);
    }
    if (isfinite(v->latency_hybrid) && isfinite(v->latency_baseline) && v->latency_hybrid > 0 &&
        v->latency_baseline > 0) {
        double ratio = v->latency_baseline / v->latency_hybrid;
        if (ratio >= 1.05)
            PUT(" and costs %.1fx less latency than the baseline (%.3g vs %.3g us)", ratio,
                v->latency_hybrid, v->latency_baseline);
        else if (ratio <= 1 / 1.05)
            PUT(" and costs %.1fx more latency than the baseline (%.3g vs %.3g us)", 1 / ratio,
                v->latency_hybrid, v->latency_baseline);
        else
            PUT(" at about the baseline's latency (%.3g vs %.3g us)", v->latency_hybrid,
                v->latency_baseline);
    }
    const pt_stats_ttest *r = &v->vs_reg;
    if (r->n >= 2 && !isnan(r->ci_lo)) {
        p_text(p, sizeof p, r->p);
        PUT("; against regularization alone it is %+.2f pp (95%% CI %+.2f..%+.2f, %s, %s)",
            r->mean_diff * 100, r->ci_lo * 100, r->ci_hi * 100, p,
            significant(r) ? "significant" : "not significant");
    }
    PUT(".");
#undef PUT
    return (int)len;
}

int report_confirm_verdict(const report_confirm *c, int rank, char *buf, size_t cap)
{
    report_confirm_metric acc = report_confirm_accuracy(c);
    report_verdict_in v;
    memset(&v, 0, sizeof v);
    v.strategy = rank <= c->max_rank && c->strategy ? c->strategy[rank] : "";
    v.metric = acc == CONFIRM_TEST_ACC ? "test accuracy" : "validation accuracy";
    double *sp = malloc(((size_t)c->n_runs + 1) * sizeof *sp);
    int n =
        sp ? report_confirm_values(c, rank, REPORT_HYBRID, CONFIRM_SPARSITY, sp, NULL, c->n_runs)
           : 0;
    v.min_sparsity = n ? INFINITY : NAN;
    for (int i = 0; i < n; i++)
        v.min_sparsity = isfinite(sp[i]) ? fmin(v.min_sparsity, sp[i]) : NAN;
    if (!isfinite(v.min_sparsity))
        v.min_sparsity = NAN;
    free(sp);
    v.vs_prune = report_confirm_compare(c, rank, REPORT_HYBRID, REPORT_PRUNE, acc).t;
    v.vs_reg = report_confirm_compare(c, rank, REPORT_HYBRID, REPORT_REG, acc).t;
    v.latency_hybrid = report_confirm_summary(c, rank, REPORT_HYBRID, CONFIRM_LATENCY).mean;
    v.latency_baseline = report_confirm_summary(c, 0, REPORT_BASELINE, CONFIRM_LATENCY).mean;
    return report_verdict_text(&v, buf, cap);
}
