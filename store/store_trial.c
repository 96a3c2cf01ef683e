/*
 * store_trial.c — recording and replaying trials (see store.h, store_impl.h).
 *
 * Each event is one transaction; a report is a single statement and so its
 * own transaction, without a BEGIN/COMMIT round trip. Trial numbers are
 * MAX(number) + 1 inside the writing transaction: with one writer that equals
 * Optuna's "count of earlier trials", and the (study_id, number) index makes
 * it a B-tree lookup rather than a count.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* The metrics of a worker's result object that get their own column (in
 * Q_METRICS_SET's order, from ?2) and are mirrored as trial user attributes. */
static const struct {
    const char *key;
    int integer;
} metric[] = {
    {"sparsity", 0},         {"nnz", 1},           {"bytes_dense", 1},     {"bytes_stored", 1},
    {"flops_per_sample", 0}, {"latency_b1_us", 0}, {"latency_b128_us", 0}, {"speedup_b1", 0},
    {"speedup_b128", 0},     {"val_acc", 0},       {"test_acc", 0},        {"epochs", 1},
    {"wall_s", 0},
};
#define N_METRICS ((int)(sizeof metric / sizeof metric[0]))

/* Trial system attribute key = the JSON text json, in the caller's
 * transaction. Only marked trials have any (rare), so the statement is not
 * kept. */
static pt_status put_sattr(store *st, int trial_id, const char *key, const char *json, pt_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO trial_system_attributes (trial_id, \"key\", value_json)"
                           " VALUES (?1, ?2, ?3) ON CONFLICT (trial_id, \"key\") DO UPDATE SET"
                           " value_json=excluded.value_json",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int(s, 1, trial_id);
        sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, json, -1, SQLITE_STATIC);
    }
    pt_status rc = store_exec(st, s, err, "trial system attribute");
    sqlite3_finalize(s);
    return rc;
}

static pt_status put_uattr(store *st, int trial_id, const char *key, const char *json, pt_err *err);

/* Every member of the JSON object text attrs as one attribute (user or
 * system) of the trial. */
static pt_status put_attrs(store *st, int trial_id, const char *attrs, int system, pt_err *err)
{
    if (!attrs)
        return PT_OK;
    cJSON *o = cJSON_Parse(attrs);
    pt_status rc = cJSON_IsObject(o) ? PT_OK
                                     : pt_fail(err, PT_ERR_ARG, "%s: trial attributes are not a "
                                                                "JSON object", st->path);
    for (const cJSON *m = o ? o->child : NULL; rc == PT_OK && m; m = m->next) {
        char *json = cJSON_PrintUnformatted(m);
        rc = !json     ? pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", st->path)
             : system ? put_sattr(st, trial_id, m->string, json, err)
                      : put_uattr(st, trial_id, m->string, json, err);
        free(json);
    }
    cJSON_Delete(o);
    return rc;
}

static pt_status trial_begin(store *st, int study_id, const study_config *sc, const study_point *p,
                             const char *config_json, int fixed, const char *user_attrs,
                             const char *system_attrs, int *trial_id, int *number, pt_err *err);

pt_status store_trial_begin(store *st, int study_id, const study_config *sc, const study_point *p,
                            const char *config_json, int *trial_id, int *number, pt_err *err)
{
    return trial_begin(st, study_id, sc, p, config_json, 0, NULL, NULL, trial_id, number, err);
}

pt_status store_trial_begin_fixed(store *st, int study_id, const study_config *sc,
                                  const study_point *p, const char *config_json,
                                  const char *user_attrs, const char *system_attrs, int *trial_id,
                                  int *number, pt_err *err)
{
    return trial_begin(st, study_id, sc, p, config_json, 1, user_attrs, system_attrs, trial_id,
                       number, err);
}

static pt_status trial_begin(store *st, int study_id, const study_config *sc, const study_point *p,
                             const char *config_json, int fixed, const char *user_attrs,
                             const char *system_attrs, int *trial_id, int *number, pt_err *err)
{
    for (int i = 0; i < sc->n_params; i++)
        if (p->present[i] && !fixed && !study_param_contains(&sc->param[i], p->value[i]))
            return pt_fail(err, PT_ERR_ARG,
                           "%s: parameter %s: value %.17g is outside its distribution", st->path,
                           sc->param[i].name, p->value[i]);
    char now[32], dist[4096];
    store_now(now);
    pt_status rc = store_begin(st, err);
    if (rc != PT_OK)
        return rc;
    sqlite3_stmt *s = store_query(st, Q_NEXT_NUMBER);
    if (!s || (sqlite3_bind_int(s, 1, study_id), sqlite3_step(s)) != SQLITE_ROW) {
        rc = store_dberr(st, err, "next trial number");
        goto fail;
    }
    *number = sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    if ((s = store_query(st, Q_TRIAL_ADD))) {
        sqlite3_bind_int(s, 1, *number);
        sqlite3_bind_int(s, 2, study_id);
        sqlite3_bind_text(s, 3, now, -1, SQLITE_STATIC);
    }
    if ((rc = store_exec(st, s, err, "add trial")) != PT_OK)
        goto fail;
    *trial_id = (int)sqlite3_last_insert_rowid(st->db);
    for (int i = 0; i < sc->n_params; i++) {
        if (!p->present[i])
            continue;
        if ((s = store_query(st, Q_PARAM_ADD))) {
            sqlite3_bind_int(s, 1, *trial_id);
            sqlite3_bind_text(s, 2, sc->param[i].name, -1, SQLITE_STATIC);
            sqlite3_bind_double(s, 3, p->value[i]);
            sqlite3_bind_text(s, 4, study_distribution_json(&sc->param[i], dist, sizeof dist), -1,
                              SQLITE_STATIC);
        }
        if ((rc = store_exec(st, s, err, "add trial parameter")) != PT_OK)
            goto fail;
    }
    if ((s = store_query(st, Q_METRICS_ADD))) {
        sqlite3_bind_int(s, 1, *trial_id);
        sqlite3_bind_int(s, 2, study_id);
        sqlite3_bind_int(s, 3, *number);
        sqlite3_bind_text(s, 4, config_json, -1, SQLITE_STATIC);
    }
    if ((rc = store_exec(st, s, err, "add trial metrics")) != PT_OK)
        goto fail;
    if ((rc = put_attrs(st, *trial_id, user_attrs, 0, err)) != PT_OK ||
        (rc = put_attrs(st, *trial_id, system_attrs, 1, err)) != PT_OK)
        goto fail;
    return store_commit(st, err);
fail:
    store_rollback(st);
    return rc;
}

pt_status store_trial_report(store *st, int trial_id, int step, double value, pt_err *err)
{
    if (st->readonly)
        return pt_fail(err, PT_ERR_ARG, "%s: opened read-only", st->path);
    /* One statement is its own transaction: no BEGIN/COMMIT round trip. */
    sqlite3_stmt *s = store_query(st, Q_REPORT);
    if (s) {
        sqlite3_bind_int(s, 1, trial_id);
        sqlite3_bind_int(s, 2, step);
        if (isfinite(value))
            sqlite3_bind_double(s, 3, value);
        sqlite3_bind_text(s, 4,
                          isnan(value)       ? "NAN"
                          : !isfinite(value) ? (value > 0 ? "INF_POS" : "INF_NEG")
                                             : "FINITE",
                          -1, SQLITE_STATIC);
    }
    pt_status rc = store_exec(st, s, err, "report");
    if (rc == PT_OK && sqlite3_changes(st->db) == 0)
        return pt_fail(err, PT_ERR_ARG, "%s: trial id %d is not running", st->path, trial_id);
    return rc;
}

/* Sets the trial user attribute key to the JSON text json. */
static pt_status put_uattr(store *st, int trial_id, const char *key, const char *json, pt_err *err)
{
    sqlite3_stmt *s = store_query(st, Q_UATTR_PUT);
    if (s) {
        sqlite3_bind_int(s, 1, trial_id);
        sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, json, -1, SQLITE_TRANSIENT);
    }
    return store_exec(st, s, err, "trial user attribute");
}

/* Fills the metric columns and their user attributes from the result. */
static pt_status put_metrics(store *st, int trial_id, const cJSON *res, const char *result_json,
                             const char *fail_reason, pt_err *err)
{
    double v[N_METRICS]; /* NaN: absent, null or not finite -> SQL NULL, no attribute */
    for (int m = 0; m < N_METRICS; m++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(res, metric[m].key);
        v[m] = cJSON_IsNumber(j) && isfinite(j->valuedouble) ? j->valuedouble : NAN;
    }
    sqlite3_stmt *s = store_query(st, Q_METRICS_SET);
    if (s) {
        sqlite3_bind_int(s, 1, trial_id);
        for (int m = 0; m < N_METRICS; m++) {
            if (isnan(v[m]))
                continue;
            if (metric[m].integer)
                sqlite3_bind_int64(s, 2 + m, (sqlite3_int64)llround(v[m]));
            else
                sqlite3_bind_double(s, 2 + m, v[m]);
        }
        sqlite3_bind_text(s, 15, result_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 16, fail_reason, -1, SQLITE_STATIC);
    }
    pt_status rc = store_exec(st, s, err, "trial metrics");
    char num[40];
    for (int m = 0; rc == PT_OK && m < N_METRICS; m++) {
        if (isnan(v[m]))
            continue;
        if (metric[m].integer)
            snprintf(num, sizeof num, "%lld", llround(v[m]));
        else
            store_fmt_num(num, sizeof num, v[m]);
        rc = put_uattr(st, trial_id, metric[m].key, num, err);
    }
    /* The worker's timing breakdown (worker.c), as one object attribute. */
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(res, "overhead");
    if (rc == PT_OK && cJSON_IsObject(ov)) {
        char *json = cJSON_PrintUnformatted(ov);
        rc = json ? put_uattr(st, trial_id, "pt_overhead", json, err)
                  : pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", st->path);
        free(json);
    }
    if (rc == PT_OK && fail_reason) {
        cJSON *j = cJSON_CreateStringReference(fail_reason);
        char *json = j ? cJSON_PrintUnformatted(j) : NULL;
        rc = json ? put_uattr(st, trial_id, "fail_reason", json, err)
                  : pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", st->path);
        free(json);
        cJSON_Delete(j);
    }
    return rc;
}

/* The trial system attribute "constraints" of a COMPLETE or PRUNED trial, as
 * Optuna's _process_constraints_after_trial records it (not for FAIL). */
static pt_status put_constraints(store *st, int trial_id, const cJSON *res, pt_err *err)
{
    double c[STUDY_MAX_CONSTRAINTS];
    char json[STUDY_MAX_CONSTRAINTS * 32 + 8];
    study_constraint_values(st->con, st->n_constraints, res, c);
    if (!study_constraints_json(c, st->n_constraints, json, sizeof json))
        return pt_fail(err, PT_ERR_ARG, "%s: constraint values do not fit", st->path);
    sqlite3_stmt *s = store_query(st, Q_TSATTR_PUT);
    if (s) {
        sqlite3_bind_int(s, 1, trial_id);
        sqlite3_bind_text(s, 2, "constraints", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, json, -1, SQLITE_TRANSIENT);
    }
    return store_exec(st, s, err, "trial constraints");
}

pt_status store_trial_end(store *st, int trial_id, trial_state state, const double *values,
                          int n_values, const char *result_json, const char *fail_reason,
                          pt_err *err)
{
    if (state != TRIAL_COMPLETE && state != TRIAL_PRUNED && state != TRIAL_FAIL)
        return pt_fail(err, PT_ERR_ARG, "%s: trial id %d cannot end as %s", st->path, trial_id,
                       (unsigned)state < 5 ? store_state_names[state] : "?");
    if (state == TRIAL_FAIL)
        n_values = 0;
    if (state == TRIAL_COMPLETE && n_values < 1)
        return pt_fail(err, PT_ERR_ARG, "%s: trial id %d: COMPLETE needs its values", st->path,
                       trial_id);
    for (int i = 0; i < n_values; i++)
        if (isnan(values[i]))
            return pt_fail(err, PT_ERR_ARG, "%s: trial id %d: objective %d is NaN; end it as FAIL",
                           st->path, trial_id, i);
    cJSON *res = result_json ? cJSON_Parse(result_json) : NULL;
    if (result_json && !cJSON_IsObject(res)) {
        cJSON_Delete(res);
        return pt_fail(err, PT_ERR_ARG, "%s: trial id %d: result is not a JSON object", st->path,
                       trial_id);
    }
    char now[32];
    store_now(now);
    pt_status rc = store_begin(st, err);
    if (rc != PT_OK)
        goto out;
    sqlite3_stmt *s = store_query(st, Q_TRIAL_FINISH);
    if (s) {
        sqlite3_bind_int(s, 1, trial_id);
        sqlite3_bind_text(s, 2, store_state_names[state], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, now, -1, SQLITE_STATIC);
    }
    rc = store_exec(st, s, err, "end trial");
    if (rc == PT_OK && sqlite3_changes(st->db) == 0)
        rc = pt_fail(err, PT_ERR_ARG, "%s: trial id %d is not running", st->path, trial_id);
    for (int i = 0; rc == PT_OK && i < n_values; i++) {
        if ((s = store_query(st, Q_VALUE_ADD))) {
            sqlite3_bind_int(s, 1, trial_id);
            sqlite3_bind_int(s, 2, i);
            if (isfinite(values[i]))
                sqlite3_bind_double(s, 3, values[i]);
            sqlite3_bind_text(s, 4,
                              isfinite(values[i]) ? "FINITE"
                              : values[i] > 0     ? "INF_POS"
                                                  : "INF_NEG",
                              -1, SQLITE_STATIC);
        }
        rc = store_exec(st, s, err, "trial value");
    }
    if (rc == PT_OK)
        rc = put_metrics(st, trial_id, res, result_json, state == TRIAL_FAIL ? fail_reason : NULL,
                         err);
    if (rc == PT_OK && st->n_constraints > 0 && state != TRIAL_FAIL)
        rc = put_constraints(st, trial_id, res, err);
    if (rc == PT_OK)
        rc = store_commit(st, err);
    else
        store_rollback(st);
out:
    cJSON_Delete(res);
    return rc;
}

#define ORPHAN_REASON "the run that owned this trial ended before it finished"

pt_status store_fail_running(store *st, int study_id, int *n, pt_err *err)
{
    char now[32];
    store_now(now);
    *n = 0;
    pt_status rc = store_begin(st, err);
    if (rc != PT_OK)
        return rc;
    sqlite3_stmt *s;
    if ((s = store_query(st, Q_FAIL_METRICS))) {
        sqlite3_bind_int(s, 1, study_id);
        sqlite3_bind_text(s, 2, ORPHAN_REASON, -1, SQLITE_STATIC);
    }
    rc = store_exec(st, s, err, "fail running trials");
    if (rc == PT_OK && (s = store_query(st, Q_FAIL_UATTR))) {
        sqlite3_bind_int(s, 1, study_id);
        sqlite3_bind_text(s, 2, "\"" ORPHAN_REASON "\"", -1, SQLITE_STATIC);
    }
    if (rc == PT_OK)
        rc = store_exec(st, s, err, "fail running trials");
    if (rc == PT_OK && (s = store_query(st, Q_FAIL_TRIALS))) {
        sqlite3_bind_int(s, 1, study_id);
        sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
    }
    if (rc == PT_OK)
        rc = store_exec(st, s, err, "fail running trials");
    if (rc != PT_OK) {
        store_rollback(st);
        return rc;
    }
    *n = sqlite3_changes(st->db);
    return store_commit(st, err);
}

/* ---- reading ------------------------------------------------------------- */

/* Rebuilds trial trial_id's point against sc's parameters and its values;
 * *has_values when all sc's objectives were found. A stored parameter sc
 * does not have, or whose value lies outside sc's distribution (a space
 * changed with --force), is left out: a sampler only sees points of its space. */
static pt_status read_trial(store *st, int trial_id, const study_config *sc, study_point *p,
                            double *values, int *has_values, pt_err *err)
{
    memset(p, 0, sizeof *p);
    sqlite3_stmt *s = store_query(st, Q_EACH_PARAM);
    if (!s)
        return store_dberr(st, err, "read trial parameters");
    sqlite3_bind_int(s, 1, trial_id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        double v = sqlite3_column_double(s, 1);
        for (int i = 0; name && i < sc->n_params; i++) {
            const study_param *q = &sc->param[i];
            if (strcmp(q->name, name) != 0)
                continue;
            if (study_param_contains(q, v)) {
                p->present[i] = 1;
                p->value[i] = v;
            }
            break;
        }
    }
    if (rc != SQLITE_DONE)
        return store_dberr(st, err, "read trial parameters");
    if (!(s = store_query(st, Q_EACH_VALUE)))
        return store_dberr(st, err, "read trial values");
    sqlite3_bind_int(s, 1, trial_id);
    int found = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int k = sqlite3_column_int(s, 0);
        const char *type = (const char *)sqlite3_column_text(s, 2);
        if (k < 0 || k >= sc->n_objectives)
            continue;
        values[k] = !type || !strcmp(type, "FINITE") ? sqlite3_column_double(s, 1)
                    : !strcmp(type, "INF_POS")       ? INFINITY
                                                     : -INFINITY;
        found++;
    }
    if (rc != SQLITE_DONE)
        return store_dberr(st, err, "read trial values");
    *has_values = sc->n_objectives > 0 && found == sc->n_objectives;
    return PT_OK;
}

/* Trial trial_id's values of sc's constraints, recomputed from its stored
 * result (so a study resumed with --force after its constraints changed
 * replays the new ones); a trial without a result is infeasible (+inf). */
static pt_status read_constraints(store *st, int trial_id, const study_config *sc, double *c,
                                  pt_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT result_json FROM pt_trial_metrics WHERE trial_id=?1", -1,
                           &s, NULL) != SQLITE_OK)
        return store_dberr(st, err, "read trial result");
    sqlite3_bind_int(s, 1, trial_id);
    const char *text =
        sqlite3_step(s) == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    cJSON *res = text ? cJSON_Parse(text) : NULL;
    study_constraint_values(sc->con, sc->n_constraints, res, c);
    cJSON_Delete(res);
    sqlite3_finalize(s);
    return PT_OK;
}

pt_status store_each_trial(store *st, int study_id, const study_config *sc, store_trial_fn fn,
                           void *ctx, pt_err *err)
{
    /* Its own statement, not the cache's: the per-trial queries below run
     * while it is stepping. */
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, store_query_sql[Q_EACH_TRIAL], -1, &s, NULL) != SQLITE_OK)
        return store_dberr(st, err, "read trials");
    sqlite3_bind_int(s, 1, study_id);
    /* One read transaction: the replay sees one consistent snapshot. */
    sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
    pt_status rc = PT_OK;
    int step = SQLITE_DONE;
    while (rc == PT_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        int trial_id = sqlite3_column_int(s, 0), number = sqlite3_column_int(s, 1);
        const char *name = (const char *)sqlite3_column_text(s, 2);
        int state = -1;
        for (int k = 0; name && k < 5; k++)
            if (!strcmp(name, store_state_names[k]))
                state = k;
        if (state < 0) {
            rc = pt_fail(err, PT_ERR_FORMAT, "%s: trial id %d has unknown state '%s'", st->path,
                         trial_id, name ? name : "NULL");
            break;
        }
        study_point p;
        double values[STUDY_MAX_VALUES] = {0};
        int has = 0;
        rc = read_trial(st, trial_id, sc, &p, values, &has, err);
        if (rc == PT_OK && has && sc->n_constraints > 0)
            rc = read_constraints(st, trial_id, sc, values + sc->n_objectives, err);
        if (rc == PT_OK)
            fn(ctx, number, (trial_state)state, &p,
               has && (state == TRIAL_COMPLETE || state == TRIAL_PRUNED) ? values : NULL);
    }
    if (rc == PT_OK && step != SQLITE_DONE)
        rc = store_dberr(st, err, "read trials");
    sqlite3_finalize(s);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

pt_status store_each_report(store *st, int study_id, store_report_fn fn, void *ctx, pt_err *err)
{
    sqlite3_stmt *s = store_query(st, Q_EACH_REPORT);
    if (!s)
        return store_dberr(st, err, "read intermediate values");
    sqlite3_bind_int(s, 1, study_id);
    sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(s, 3);
        double v = !type || !strcmp(type, "FINITE") ? sqlite3_column_double(s, 2)
                   : !strcmp(type, "INF_POS")       ? INFINITY
                   : !strcmp(type, "INF_NEG")       ? -INFINITY
                                                    : NAN;
        fn(ctx, sqlite3_column_int(s, 0), sqlite3_column_int(s, 1), v);
    }
    pt_status ret = rc == SQLITE_DONE ? PT_OK : store_dberr(st, err, "read intermediate values");
    sqlite3_reset(s);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    return ret;
}

pt_status store_trial_attr(store *st, int trial_id, const char *key, const char *json, pt_err *err)
{
    pt_status rc = store_begin(st, err);
    if (rc != PT_OK)
        return rc;
    if (json) {
        rc = put_uattr(st, trial_id, key, json, err);
    } else {
        sqlite3_stmt *s = store_query(st, Q_UATTR_DEL);
        if (s) {
            sqlite3_bind_int(s, 1, trial_id);
            sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
        }
        rc = store_exec(st, s, err, "trial user attribute");
    }
    if (rc != PT_OK) {
        store_rollback(st);
        return rc;
    }
    return store_commit(st, err);
}
