/*
 * report_data.c — the reads and analyses behind `prunetune report` (see
 * report_data.h).
 *
 * Four queries, each one pass over an index in trial-number order: trials
 * (with objective 0 and, when present, prunetune's metrics row), params,
 * intermediate values. The later ones are merged into the trial array by
 * walking it in the same order rather than looking trial ids up, so loading
 * is linear: a 10,000-trial study loads in tens of milliseconds, most of it
 * parsing each trial's config JSON for its family. All of it runs in one
 * read transaction (WAL snapshot), so a writer in another process cannot
 * make the queries disagree.
 *
 * The file is opened through store_open() so that the report refuses exactly
 * what the store refuses; it borrows the store's connection (store_impl.h).
 *
 * Why one file of ~760 lines: the four queries and the analyses they feed share one loaded
 * table of trials; split apart they would pass that table around for nothing.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "report_confirm.h"
#include "report_data.h"
#include "store_impl.h"

static const char *const family_names[REPORT_N_FAMILIES] = {"baseline", "regularization", "pruning",
                                                            "hybrid", "unknown"};

const char *report_family_name(report_family f)
{
    return f >= 0 && f < REPORT_N_FAMILIES ? family_names[f] : "unknown";
}

/* ---- families ------------------------------------------------------------ */

/* Sum of a number or of an array of numbers (reg.dropout, reg.l2_layers). */
static double sum_item(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return v->valuedouble > 0 ? v->valuedouble : 0;
    double s = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) s += cJSON_IsNumber(e) && e->valuedouble > 0 ? e->valuedouble : 0;
    return s;
}

static report_family family_from(int pruned, double reg)
{
    return pruned    ? (reg > 0 ? REPORT_HYBRID : REPORT_PRUNE)
           : reg > 0 ? REPORT_REG
                     : REPORT_BASELINE;
}

/* Whether a trial config starts from a saved model (a non-empty net.init). */
static int has_init(const char *config_json)
{
    cJSON *c = config_json ? cJSON_Parse(config_json) : NULL;
    const cJSON *init =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "net"), "init");
    int yes = cJSON_IsString(init) && init->valuestring[0];
    cJSON_Delete(c);
    return yes;
}

report_family report_family_of(const char *config_json, double *reg_total)
{
    if (reg_total)
        *reg_total = 0;
    cJSON *c = config_json ? cJSON_Parse(config_json) : NULL;
    if (!cJSON_IsObject(c)) {
        cJSON_Delete(c);
        return REPORT_UNKNOWN;
    }
    const cJSON *prune = cJSON_GetObjectItemCaseSensitive(c, "prune");
    const cJSON *sched = cJSON_GetObjectItemCaseSensitive(prune, "schedule");
    int pruned = cJSON_IsString(sched) && strcmp(sched->valuestring, "none") != 0;
    const cJSON *reg = cJSON_GetObjectItemCaseSensitive(c, "reg");
    static const char *const keys[] = {"l1", "l2", "l2_layers", "dropout", "dropout_input"};
    double total = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        total += sum_item(cJSON_GetObjectItemCaseSensitive(reg, keys[k]));
    cJSON_Delete(c);
    if (reg_total)
        *reg_total = total;
    return family_from(pruned, total);
}

/* An Optuna-made study has no config: judge by the parameters that carry
 * prunetune's key names; absent ones count as "off". */
static void family_from_params(report_study *r)
{
    int any = 0;
    for (int p = 0; p < r->n_params; p++)
        any |= !strncmp(r->params[p].name, "prune.", 6) || !strncmp(r->params[p].name, "reg.", 4);
    for (int i = 0; any && i < r->n_trials; i++) {
        int pruned = 0;
        double reg = 0;
        for (int p = 0; p < r->n_params; p++) {
            const report_param *q = &r->params[p];
            double v = q->value[i];
            if (isnan(v))
                continue;
            if (!strcmp(q->name, "prune.schedule") && q->categorical && v >= 0 && v < q->n_choices)
                pruned = strcmp(q->choices[(int)v], "\"none\"") != 0;
            else if (!strcmp(q->name, "prune.sparsity") && !q->categorical)
                pruned |= v > 0;
            else if (!strncmp(q->name, "reg.", 4) && strcmp(q->name, "reg.max_norm") &&
                     !q->categorical)
                reg += v > 0 ? v : 0;
        }
        r->trials[i].family = family_from(pruned, reg);
        r->trials[i].reg_total = reg;
    }
}

/* ---- loading ------------------------------------------------------------- */

static double col_num(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

static long long col_int(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, i);
}

static trial_state state_of(const char *name)
{
    for (int i = 0; i < 5; i++)
        if (name && !strcmp(name, store_state_names[i]))
            return (trial_state)i;
    return TRIAL_FAIL;
}

/* 1 when the file has prunetune's tables (a study Optuna made has not). */
static int has_pt_tables(sqlite3 *db)
{
    sqlite3_stmt *s;
    int n = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM sqlite_master WHERE type='table'"
                           " AND name IN ('pt_studies', 'pt_trial_metrics')",
                           -1, &s, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n == 2;
}

/* Prepares sql, binding ?1 to the study id. */
static sqlite3_stmt *prep(store *st, const report_study *r, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int(s, 1, r->study_id);
    return s;
}

static pt_status pick_study(store *st, report_study *r, const char *name, pt_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT study_id, study_name FROM studies ORDER BY study_id", -1,
                           &s, NULL) != SQLITE_OK)
        return store_dberr(st, err, "list studies");
    char names[256] = "";
    int n = 0, found = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *nm = (const char *)sqlite3_column_text(s, 1);
        nm = nm ? nm : "";
        /* A linked "<study>/confirm" belongs to its study: without --study
         * it is not a candidate (the main study's report shows it). */
        if (!name && query_is_confirm_study(nm))
            continue;
        if (name ? !strcmp(nm, name) : n == 0) {
            r->study_id = sqlite3_column_int(s, 0);
            snprintf(r->name, sizeof r->name, "%s", nm);
            found = 1;
        }
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s'%s'", n ? ", " : "", nm);
        n++;
    }
    sqlite3_finalize(s);
    if (n == 0)
        return pt_fail(err, PT_ERR_CONFIG, "%s: no study in this database", st->path);
    if (name && !found)
        return pt_fail(err, PT_ERR_CONFIG, "%s: no study '%s' (studies: %s)", st->path, name,
                       names);
    if (!name && n > 1)
        return pt_fail(err, PT_ERR_CONFIG, "%s: holds %d studies (%s); pick one with --study",
                       st->path, n, names);
    return PT_OK;
}

/* Directions, objective names (from the stored space) and wall time. */
static pt_status read_study(store *st, report_study *r, pt_err *err)
{
    sqlite3_stmt *s = prep(st, r,
                           "SELECT direction FROM study_directions WHERE study_id=?1"
                           " ORDER BY objective");
    if (!s)
        return store_dberr(st, err, "read directions");
    while (sqlite3_step(s) == SQLITE_ROW && r->n_objectives < STUDY_MAX_OBJECTIVES) {
        const char *d = (const char *)sqlite3_column_text(s, 0);
        int k = r->n_objectives++;
        r->dir[k] = d && !strcmp(d, "MAXIMIZE") ? DIR_MAXIMIZE : DIR_MINIMIZE;
        snprintf(r->objective[k], sizeof r->objective[k], "value %d", k);
    }
    sqlite3_finalize(s);
    if (r->n_objectives == 0) {
        r->n_objectives = 1;
        r->dir[0] = DIR_MINIMIZE;
        snprintf(r->objective[0], sizeof r->objective[0], "value 0");
    }
    if (r->has_pt && (s = prep(st, r, "SELECT space_json FROM pt_studies WHERE study_id=?1"))) {
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
            r->space_json = strdup((const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
    }
    cJSON *sp = r->space_json ? cJSON_Parse(r->space_json) : NULL;
    const cJSON *o;
    int k = 0;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(sp, "objectives"))
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (k < r->n_objectives && cJSON_IsString(nm))
            snprintf(r->objective[k], sizeof r->objective[k], "%s", nm->valuestring);
        k++;
    }
    cJSON_Delete(sp);
    s = prep(st, r,
             "SELECT (max(julianday(coalesce(datetime_complete, datetime_start)))"
             " - min(julianday(datetime_start))) * 86400.0 FROM trials WHERE study_id=?1");
    if (!s)
        return store_dberr(st, err, "read wall time");
    r->wall_s = sqlite3_step(s) == SQLITE_ROW ? col_num(s, 0) : NAN;
    sqlite3_finalize(s);
    return PT_OK;
}

static pt_status read_trials(store *st, report_study *r, pt_err *err)
{
    const char *sql =
        r->has_pt ? "SELECT t.trial_id, t.number, t.state, v.value, m.sparsity, m.nnz,"
                    " m.bytes_dense, m.bytes_stored, m.flops_per_sample, m.latency_b1_us,"
                    " m.speedup_b1, m.val_acc, m.test_acc, m.wall_s, m.config_json"
                    " FROM trials t LEFT JOIN trial_values v ON v.trial_id=t.trial_id"
                    " AND v.objective=0 LEFT JOIN pt_trial_metrics m ON m.trial_id=t.trial_id"
                    " WHERE t.study_id=?1 ORDER BY t.number"
                  : "SELECT t.trial_id, t.number, t.state, v.value FROM trials t"
                    " LEFT JOIN trial_values v ON v.trial_id=t.trial_id AND v.objective=0"
                    " WHERE t.study_id=?1 ORDER BY t.number";
    sqlite3_stmt *c = prep(st, r, "SELECT count(*) FROM trials WHERE study_id=?1");
    if (!c)
        return store_dberr(st, err, "count trials");
    int n = sqlite3_step(c) == SQLITE_ROW ? sqlite3_column_int(c, 0) : 0;
    sqlite3_finalize(c);
    r->trials = calloc((size_t)n + 1, sizeof *r->trials);
    if (!r->trials)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory (%d trials)", st->path, n);
    sqlite3_stmt *s = prep(st, r, sql);
    if (!s)
        return store_dberr(st, err, "read trials");
    while (r->n_trials < n && sqlite3_step(s) == SQLITE_ROW) {
        report_trial *t = &r->trials[r->n_trials++];
        t->trial_id = sqlite3_column_int(s, 0);
        t->number = sqlite3_column_int(s, 1);
        t->state = state_of((const char *)sqlite3_column_text(s, 2));
        t->value = col_num(s, 3);
        t->sparsity = t->flops = t->latency_us = t->speedup = NAN;
        t->val_acc = t->test_acc = t->wall_s = NAN;
        t->nnz = t->bytes_dense = t->bytes_stored = -1;
        t->family = REPORT_UNKNOWN;
        t->pbt_member = t->pbt_generation = t->pbt_start_epoch = t->pbt_parent = -1;
        r->by_state[t->state]++;
        if (!r->has_pt)
            continue;
        t->sparsity = col_num(s, 4);
        t->nnz = col_int(s, 5);
        t->bytes_dense = col_int(s, 6);
        t->bytes_stored = col_int(s, 7);
        t->flops = col_num(s, 8);
        t->latency_us = col_num(s, 9);
        t->speedup = col_num(s, 10);
        t->val_acc = col_num(s, 11);
        t->test_acc = col_num(s, 12);
        t->wall_s = col_num(s, 13);
        t->family = report_family_of((const char *)sqlite3_column_text(s, 14), &t->reg_total);
        t->pretrained = has_init((const char *)sqlite3_column_text(s, 14));
    }
    sqlite3_finalize(s);
    return PT_OK;
}

/* Parses Optuna's distribution_json into q (kind, log, choices). */
static void param_kind_from(report_param *q, const char *dist)
{
    cJSON *d = dist ? cJSON_Parse(dist) : NULL;
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(d, "name");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(d, "attributes");
    q->categorical = cJSON_IsString(nm) && strstr(nm->valuestring, "Categorical") != NULL;
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(at, "low");
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(at, "high");
    q->low = cJSON_IsNumber(lo) ? lo->valuedouble : NAN;
    q->high = cJSON_IsNumber(hi) ? hi->valuedouble : NAN;
    q->log = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(at, "log")) ||
             (cJSON_IsString(nm) && strstr(nm->valuestring, "LogUniform") != NULL);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(at, "choices"))
    {
        if (q->n_choices >= STUDY_MAX_CHOICES)
            break;
        char *txt = cJSON_PrintUnformatted(c);
        snprintf(q->choices[q->n_choices++], sizeof q->choices[0], "%s", txt ? txt : "?");
        free(txt);
    }
    cJSON_Delete(d);
}

/* The parameter called name, added (all values absent) when new. */
static report_param *param_slot(report_study *r, const char *name, const char *dist)
{
    for (int p = 0; p < r->n_params; p++)
        if (!strcmp(r->params[p].name, name))
            return &r->params[p];
    if (r->n_params >= STUDY_MAX_PARAMS * 4)
        return NULL;
    report_param *grown = realloc(r->params, (size_t)(r->n_params + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    r->params = grown;
    report_param *q = &r->params[r->n_params];
    memset(q, 0, sizeof *q);
    q->value = malloc(((size_t)r->n_trials + 1) * sizeof *q->value);
    if (!q->value)
        return NULL;
    for (int i = 0; i < r->n_trials; i++)
        q->value[i] = NAN;
    r->n_params++;
    snprintf(q->name, sizeof q->name, "%s", name);
    param_kind_from(q, dist);
    return q;
}

/* Walks r->trials (number order) to the trial with this id, from *cur on. */
static int seek(const report_study *r, int *cur, int trial_id)
{
    while (*cur < r->n_trials && r->trials[*cur].trial_id != trial_id)
        (*cur)++;
    return *cur < r->n_trials ? *cur : -1;
}

static pt_status read_params(store *st, report_study *r, pt_err *err)
{
    sqlite3_stmt *s = prep(st, r,
                           "SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json"
                           " FROM trials t JOIN trial_params p ON p.trial_id=t.trial_id"
                           " WHERE t.study_id=?1 ORDER BY t.number, p.param_name");
    if (!s)
        return store_dberr(st, err, "read params");
    int cur = 0, rc;
    pt_status out = PT_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int i = seek(r, &cur, sqlite3_column_int(s, 0));
        const char *name = (const char *)sqlite3_column_text(s, 1);
        if (i < 0 || !name)
            continue;
        report_param *q = param_slot(r, name, (const char *)sqlite3_column_text(s, 3));
        if (!q) {
            out = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory reading params", st->path);
            break;
        }
        q->value[i] = col_num(s, 2);
    }
    sqlite3_finalize(s);
    if (out == PT_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        out = store_dberr(st, err, "read params");
    return out;
}

static pt_status read_points(store *st, report_study *r, pt_err *err)
{
    sqlite3_stmt *c = prep(st, r,
                           "SELECT count(*) FROM trials t JOIN trial_intermediate_values i"
                           " ON i.trial_id=t.trial_id WHERE t.study_id=?1");
    if (!c)
        return store_dberr(st, err, "count intermediate values");
    int n = sqlite3_step(c) == SQLITE_ROW ? sqlite3_column_int(c, 0) : 0;
    sqlite3_finalize(c);
    r->points = malloc(((size_t)n + 1) * sizeof *r->points);
    if (!r->points)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory (%d values)", st->path, n);
    sqlite3_stmt *s = prep(st, r,
                           "SELECT i.trial_id, i.step, i.intermediate_value FROM trials t"
                           " JOIN trial_intermediate_values i ON i.trial_id=t.trial_id"
                           " WHERE t.study_id=?1 ORDER BY t.number, i.step");
    if (!s)
        return store_dberr(st, err, "read intermediate values");
    int cur = 0;
    while (r->n_points < n && sqlite3_step(s) == SQLITE_ROW) {
        int i = seek(r, &cur, sqlite3_column_int(s, 0));
        double v = col_num(s, 2);
        if (i < 0 || isnan(v))
            continue;
        r->points[r->n_points++] = (report_point){i, sqlite3_column_int(s, 1), v};
    }
    sqlite3_finalize(s);
    return PT_OK;
}

/* Feasibility by the one rule (study_feasible) from the trials' "constraints"
 * system attributes (the store's, or Optuna's own); the text from the stored
 * space. */
static pt_status read_constraints(store *st, report_study *r, pt_err *err)
{
    cJSON *sp = r->space_json ? cJSON_Parse(r->space_json) : NULL;
    const cJSON *c;
    size_t o = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(sp, "constraints"))
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "metric");
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(c, "min");
        const cJSON *hi = cJSON_GetObjectItemCaseSensitive(c, "max");
        if (!cJSON_IsString(m) || o + 100 > sizeof r->constraints_text)
            continue;
        r->has_constraints = 1;
        if (cJSON_IsNumber(lo))
            o += (size_t)snprintf(r->constraints_text + o, sizeof r->constraints_text - o,
                                  "%s%s >= %g", o ? ", " : "", m->valuestring, lo->valuedouble);
        if (cJSON_IsNumber(hi))
            o += (size_t)snprintf(r->constraints_text + o, sizeof r->constraints_text - o,
                                  "%s%s <= %g", o ? ", " : "", m->valuestring, hi->valuedouble);
    }
    cJSON_Delete(sp);
    double *viol = malloc(((size_t)r->n_trials + 1) * sizeof *viol);
    if (!viol)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", st->path);
    for (int i = 0; i < r->n_trials; i++)
        viol[i] = NAN;
    sqlite3_stmt *s = prep(st, r,
                           "SELECT t.number, a.value_json FROM trials t"
                           " JOIN trial_system_attributes a ON a.trial_id = t.trial_id"
                           " WHERE t.study_id=?1 AND a.\"key\"='constraints' ORDER BY t.number");
    if (!s) {
        free(viol);
        return store_dberr(st, err, "read trial constraints");
    }
    int j = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int number = sqlite3_column_int(s, 0);
        while (j < r->n_trials && r->trials[j].number < number)
            j++;
        if (j == r->n_trials || r->trials[j].number != number)
            continue;
        double c[64];
        int n = study_constraints_parse((const char *)sqlite3_column_text(s, 1), c, 64);
        viol[j] = n < 0 ? INFINITY : study_violation(c, n);
        r->has_constraints = 1;
    }
    sqlite3_finalize(s);
    for (int i = 0; i < r->n_trials; i++) {
        r->trials[i].feasible = study_feasible(r->has_constraints, viol[i]);
        r->n_infeasible += r->trials[i].state == TRIAL_COMPLETE && !r->trials[i].feasible;
    }
    free(viol);
    return PT_OK;
}

/* The reference trial(s): user attribute pt_role = "baseline" (the shared
 * contract of the reference trial, issue 11). */
static pt_status read_roles(store *st, report_study *r, pt_err *err)
{
    sqlite3_stmt *s = prep(st, r,
                           "SELECT t.trial_id FROM trials t JOIN trial_user_attributes a"
                           " ON a.trial_id=t.trial_id WHERE t.study_id=?1 AND a.\"key\"='pt_role'"
                           " AND a.value_json='\"baseline\"' ORDER BY t.number");
    if (!s)
        return store_dberr(st, err, "read trial roles");
    int cur = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int i = seek(r, &cur, sqlite3_column_int(s, 0));
        if (i >= 0)
            r->trials[i].reference = 1;
    }
    sqlite3_finalize(s);
    return PT_OK;
}

/* PBT's user attributes (sched_pbt.c): member, generation, start, parent. */
static pt_status read_pbt(store *st, report_study *r, pt_err *err)
{
    sqlite3_stmt *s = prep(st, r,
                           "SELECT t.trial_id, a.\"key\", a.value_json FROM trials t"
                           " JOIN trial_user_attributes a ON a.trial_id=t.trial_id"
                           " WHERE t.study_id=?1 AND a.\"key\" IN ('pbt_member', 'pbt_generation',"
                           " 'pbt_start_epoch', 'pbt_parent') ORDER BY t.number");
    if (!s)
        return store_dberr(st, err, "read PBT attributes");
    int cur = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int i = seek(r, &cur, sqlite3_column_int(s, 0));
        const char *k = (const char *)sqlite3_column_text(s, 1);
        const char *v = (const char *)sqlite3_column_text(s, 2);
        if (i < 0 || !k || !v || !strcmp(v, "null"))
            continue;
        report_trial *t = &r->trials[i];
        int x = atoi(v);
        if (!strcmp(k, "pbt_member"))
            t->pbt_member = x, r->is_pbt = 1;
        else if (!strcmp(k, "pbt_generation"))
            t->pbt_generation = x;
        else if (!strcmp(k, "pbt_start_epoch"))
            t->pbt_start_epoch = x;
        else
            t->pbt_parent = x;
    }
    sqlite3_finalize(s);
    return PT_OK;
}

int report_pbt_lineage(const report_study *r, int *idx)
{
    int last = -1, best = -1;
    for (int i = 0; r->is_pbt && i < r->n_trials; i++)
        if (r->trials[i].state == TRIAL_COMPLETE && r->trials[i].pbt_generation > last)
            last = r->trials[i].pbt_generation;
    for (int i = 0; last >= 0 && i < r->n_trials; i++) {
        const report_trial *t = &r->trials[i];
        if (t->state == TRIAL_COMPLETE && t->feasible && t->pbt_generation == last &&
            (best < 0 || report_better(r->dir[0], t->value, r->trials[best].value)))
            best = i;
    }
    int n = 0;
    for (int i = best; i >= 0 && n < r->n_trials;) {
        idx[n++] = i;
        int parent = r->trials[i].pbt_parent;
        i = -1;
        for (int j = 0; parent >= 0 && j < r->n_trials; j++)
            if (r->trials[j].number == parent)
                i = j;
    }
    for (int a = 0, b = n - 1; a < b; a++, b--) { /* oldest first */
        int x = idx[a];
        idx[a] = idx[b];
        idx[b] = x;
    }
    return n;
}

static pt_status read_confirm(store *st, report_study *r, pt_err *err)
{
    report_confirm c;
    int found = 0;
    pt_status rc = report_confirm_read(st, r->name, &c, &found, err);
    if (rc != PT_OK || !found)
        return rc;
    r->confirm = malloc(sizeof *r->confirm);
    if (!r->confirm) {
        report_confirm_free(&c);
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", st->path);
    }
    *r->confirm = c;
    return PT_OK;
}

pt_status report_load(report_study *r, const char *path, const char *name, pt_err *err)
{
    memset(r, 0, sizeof *r);
    store *st = NULL;
    pt_status rc = store_open(&st, path, 1, err);
    if (rc != PT_OK)
        return rc;
    r->has_pt = has_pt_tables(st->db);
    if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        rc = store_dberr(st, err, "begin read");
    if (rc == PT_OK)
        rc = pick_study(st, r, name, err);
    if (rc == PT_OK)
        rc = read_study(st, r, err);
    if (rc == PT_OK)
        rc = read_trials(st, r, err);
    if (rc == PT_OK)
        rc = read_params(st, r, err);
    if (rc == PT_OK)
        rc = read_points(st, r, err);
    if (rc == PT_OK)
        rc = read_constraints(st, r, err);
    if (rc == PT_OK)
        rc = read_roles(st, r, err);
    if (rc == PT_OK)
        rc = read_pbt(st, r, err);
    if (rc == PT_OK)
        rc = read_confirm(st, r, err);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    store_close(st);
    if (rc != PT_OK) {
        report_free(r);
        return rc;
    }
    if (!r->has_pt)
        family_from_params(r);
    return PT_OK;
}

void report_free(report_study *r)
{
    for (int p = 0; p < r->n_params; p++)
        free(r->params[p].value);
    free(r->params);
    free(r->trials);
    free(r->points);
    free(r->space_json);
    if (r->confirm)
        report_confirm_free(r->confirm);
    free(r->confirm);
    memset(r, 0, sizeof *r);
}

/* ---- analyses ------------------------------------------------------------ */

int report_better(study_direction d, double a, double b)
{
    if (isnan(a))
        return 0;
    if (isnan(b))
        return 1;
    return d == DIR_MAXIMIZE ? a > b : a < b;
}

static int complete(const report_study *r, int i)
{
    return r->trials[i].state == TRIAL_COMPLETE && !isnan(r->trials[i].value) &&
           r->trials[i].feasible;
}

/* The comparison's reference rows (baseline, regularization only) are
 * unpruned by definition, so a sparsity constraint would always hide them;
 * they are what the feasible strategies are measured against, and are shown
 * whatever the constraints say. */
static int reference_family(report_family f)
{
    return f == REPORT_BASELINE || f == REPORT_REG;
}

static int complete_in(const report_study *r, int i, report_family f)
{
    return r->trials[i].state == TRIAL_COMPLETE && !isnan(r->trials[i].value) &&
           (r->trials[i].feasible || reference_family(f));
}

int report_best_of(const report_study *r, report_family f)
{
    int best = -1;
    for (int i = 0; i < r->n_trials; i++)
        if (complete_in(r, i, f) && r->trials[i].family == f &&
            (best < 0 || report_better(r->dir[0], r->trials[i].value, r->trials[best].value)))
            best = i;
    return best;
}

int report_baseline(const report_study *r, int *exact)
{
    for (int i = 0; i < r->n_trials; i++)
        if (r->trials[i].reference && complete_in(r, i, REPORT_BASELINE)) {
            *exact = 1;
            return i;
        }
    int best = report_best_of(r, REPORT_BASELINE);
    *exact = best >= 0;
    if (best >= 0)
        return best;
    for (int i = 0; i < r->n_trials; i++) {
        if (!complete_in(r, i, REPORT_BASELINE) || r->trials[i].family == REPORT_UNKNOWN)
            continue;
        const report_trial *t = &r->trials[i];
        double s = isnan(t->sparsity) ? 0 : t->sparsity;
        if (best < 0) {
            best = i;
            continue;
        }
        const report_trial *b = &r->trials[best];
        double bs = isnan(b->sparsity) ? 0 : b->sparsity;
        if (s < bs || (s == bs && t->reg_total < b->reg_total))
            best = i;
    }
    return best;
}

double report_accuracy(const report_study *r, int i)
{
    const report_trial *t = &r->trials[i];
    if (!isnan(t->test_acc))
        return t->test_acc;
    if (!isnan(t->val_acc))
        return t->val_acc;
    return strstr(r->objective[0], "acc") ? t->value : NAN;
}

int report_best_at(const report_study *r, report_family f, double level)
{
    int best = -1;
    double best_acc = NAN;
    for (int i = 0; i < r->n_trials; i++) {
        const report_trial *t = &r->trials[i];
        double acc = report_accuracy(r, i);
        if (t->state != TRIAL_COMPLETE || !t->feasible || t->family != f || isnan(acc) ||
            isnan(t->sparsity) || t->sparsity < level - 1e-9)
            continue;
        if (best < 0 || acc > best_acc) {
            best = i;
            best_acc = acc;
        }
    }
    return best;
}

typedef struct {
    double sparsity, acc;
    int i;
} pareto_item;

/* Sparsity descending, then accuracy descending: a sweep then keeps each
 * point more accurate than every sparser one. */
static int by_sparsity_desc(const void *a, const void *b)
{
    const pareto_item *x = a, *y = b;
    if (x->sparsity != y->sparsity)
        return x->sparsity < y->sparsity ? 1 : -1;
    if (x->acc != y->acc)
        return x->acc < y->acc ? 1 : -1;
    return x->i - y->i;
}

int report_pareto(const report_study *r, int *idx)
{
    pareto_item *it = malloc(((size_t)r->n_trials + 1) * sizeof *it);
    if (!it)
        return 0;
    int n = 0, k = 0;
    for (int i = 0; i < r->n_trials; i++) {
        double acc = report_accuracy(r, i);
        if (r->trials[i].state == TRIAL_COMPLETE && r->trials[i].feasible && !isnan(acc) &&
            !isnan(r->trials[i].sparsity))
            it[n++] = (pareto_item){r->trials[i].sparsity, acc, i};
    }
    qsort(it, (size_t)n, sizeof *it, by_sparsity_desc);
    double best = -INFINITY;
    for (int j = 0; j < n; j++)
        if (it[j].acc > best) {
            best = it[j].acc;
            idx[k++] = it[j].i;
        }
    free(it);
    for (int a = 0, b = k - 1; a < b; a++, b--) {
        int t = idx[a];
        idx[a] = idx[b];
        idx[b] = t;
    }
    return k;
}

#define IMP_BINS 8
#define IMP_MAX_BIN (1 + (STUDY_MAX_CHOICES > IMP_BINS ? STUDY_MAX_CHOICES : IMP_BINS))

/* Bin of parameter q's value v: 0 absent, 1 + choice, or 1 + equal-width bin
 * of [lo, hi] (already on the log scale when q is log). */
static int bin_of(const report_param *q, double v, double lo, double hi)
{
    if (isnan(v))
        return 0;
    if (q->categorical)
        return v < 0 || v >= IMP_MAX_BIN - 1 ? 0 : 1 + (int)v;
    if (q->log)
        v = v > 0 ? log(v) : lo;
    int b = hi > lo ? (int)((v - lo) / (hi - lo) * IMP_BINS) : 0;
    return 1 + (b < 0 ? 0 : b >= IMP_BINS ? IMP_BINS - 1 : b);
}

void report_importance(const report_study *r, double *out)
{
    double mean = 0, total = 0;
    int n = 0;
    for (int i = 0; i < r->n_trials; i++)
        if (complete(r, i)) {
            mean += r->trials[i].value;
            n++;
        }
    mean = n ? mean / n : 0;
    for (int i = 0; i < r->n_trials; i++)
        if (complete(r, i))
            total += (r->trials[i].value - mean) * (r->trials[i].value - mean);
    for (int p = 0; p < r->n_params; p++) {
        const report_param *q = &r->params[p];
        out[p] = NAN;
        if (n < 2 || !(total > 0))
            continue;
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < r->n_trials; i++) {
            double v = q->value[i];
            if (!complete(r, i) || isnan(v) || (q->log && v <= 0))
                continue;
            v = q->log ? log(v) : v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        double sum[IMP_MAX_BIN] = {0};
        int cnt[IMP_MAX_BIN] = {0};
        for (int i = 0; i < r->n_trials; i++)
            if (complete(r, i)) {
                int b = bin_of(q, q->value[i], lo, hi);
                sum[b] += r->trials[i].value;
                cnt[b]++;
            }
        double between = 0;
        for (int b = 0; b < IMP_MAX_BIN; b++)
            if (cnt[b])
                between += cnt[b] * (sum[b] / cnt[b] - mean) * (sum[b] / cnt[b] - mean);
        out[p] = between / total;
    }
}
