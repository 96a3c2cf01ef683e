/*
 * query.c — the read side of the study database (see query.h).
 *
 * Why load a whole study instead of asking SQL for each answer: the questions
 * mix objective values (trial_values), metric columns (pt_trial_metrics) and
 * sampled parameters (trial_params, one row per parameter), filter on any of
 * them and rank by any of them. Three scans over the study's rows (trials +
 * metrics, params, values, each through the (study_id, ...) and trial_id
 * indexes) give every answer from memory, with no SQL text built from user
 * input, and cost tens of milliseconds for 10,000 trials. The long texts
 * (config and result JSON) are read only for the trials shown.
 *
 * The file is opened through store_open(readonly), so foreign files are
 * refused with the store's own messages; a study Optuna made (no pt_ tables)
 * loads with its values and parameters and empty metric columns.
 *
 * Why one file of ~760 lines: loading, filtering (the --where language) and ranking share the
 * loaded study structure; query_rank.c already holds the ranking rules.
 */
#include "query.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_impl.h"

struct query_db {
    store *st;
    int has_pt; /* prunetune's tables exist */
};

const char *const query_metric_names[QUERY_N_METRICS] = {"sparsity",
                                                         "nnz",
                                                         "bytes_dense",
                                                         "bytes_stored",
                                                         "flops_per_sample",
                                                         "latency_b1_us",
                                                         "latency_b128_us",
                                                         "speedup_b1",
                                                         "speedup_b128",
                                                         "val_acc",
                                                         "test_acc",
                                                         "epochs",
                                                         "wall_s"};

int query_metric_is_int(int m)
{
    return m == 1 || m == 2 || m == 3 || m == 11;
}

static pt_status dberr(query_db *q, pt_err *err, const char *what)
{
    return store_dberr(q->st, err, what);
}

/* A statement on q's connection; NULL with err set when it does not prepare. */
static sqlite3_stmt *prep(query_db *q, const char *sql, pt_err *err, const char *what)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(q->st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        dberr(q, err, what);
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

pt_status query_open(query_db **out, const char *path, pt_err *err)
{
    *out = NULL;
    query_db *q = calloc(1, sizeof *q);
    if (!q)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    pt_status rc = store_open(&q->st, path, 1, err);
    if (rc != PT_OK) {
        free(q);
        return rc;
    }
    sqlite3_stmt *s = prep(q,
                           "SELECT count(*) FROM sqlite_master WHERE type='table' AND"
                           " name IN ('pt_studies','pt_trial_metrics')",
                           err, "read schema");
    if (!s) {
        query_close(q);
        return PT_ERR_IO;
    }
    if (sqlite3_step(s) == SQLITE_ROW)
        q->has_pt = sqlite3_column_int(s, 0) == 2;
    sqlite3_finalize(s);
    /* Reads through a memory map instead of a pread() copy per page: the
     * whole-study scans below touch most of the file. Nothing is written. */
    sqlite3_exec(q->st->db, "PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
    *out = q;
    return PT_OK;
}

void query_close(query_db *q)
{
    if (!q)
        return;
    store_close(q->st);
    free(q);
}

/* ---- studies ------------------------------------------------------------- */

static int state_of(const char *name)
{
    for (int k = 0; name && k < 5; k++)
        if (!strcmp(name, store_state_names[k]))
            return k;
    return -1;
}

/* Objective names: prunetune's stored space ({"objectives": [{"name": ..}]}),
 * else Optuna's system attribute study:metric_names (["a", "b"], written by
 * Optuna >= 3.2 and by the store), else "value" / "value0".. as Optuna names
 * them in its dataframes. */
static void objective_names(query_study *s, const char *space_json, const char *metric_names)
{
    for (int k = 0; k < STUDY_MAX_OBJECTIVES; k++) {
        if (s->n_objectives == 1)
            snprintf(s->obj_name[k], sizeof s->obj_name[k], "value");
        else
            snprintf(s->obj_name[k], sizeof s->obj_name[k], "value%d", k);
    }
    cJSON *j = space_json ? cJSON_Parse(space_json) : NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "objectives"), *o;
    if (!list) {
        cJSON_Delete(j);
        list = j = metric_names ? cJSON_Parse(metric_names) : NULL;
    }
    int k = 0;
    cJSON_ArrayForEach(o, list)
    {
        const cJSON *n = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "name") : o;
        if (k < s->n_objectives && cJSON_IsString(n) && n->valuestring[0])
            snprintf(s->obj_name[k], sizeof s->obj_name[k], "%s", n->valuestring);
        k++;
    }
    cJSON_Delete(j);
}

/* The constraints of a stored space ({"constraints": [{"metric": ..}]}) as
 * s->has_constraints and a text for people. */
static void constraints_of(query_study *s, const char *space_json)
{
    cJSON *j = space_json ? cJSON_Parse(space_json) : NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "constraints"), *c;
    size_t o = 0;
    cJSON_ArrayForEach(c, list)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "metric");
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(c, "min");
        const cJSON *hi = cJSON_GetObjectItemCaseSensitive(c, "max");
        if (!cJSON_IsString(m) || o + 100 > sizeof s->constraints_text)
            continue;
        s->has_constraints = 1;
        if (cJSON_IsNumber(lo))
            o += (size_t)snprintf(s->constraints_text + o, sizeof s->constraints_text - o,
                                  "%s%s >= %g", o ? ", " : "", m->valuestring, lo->valuedouble);
        if (cJSON_IsNumber(hi))
            o += (size_t)snprintf(s->constraints_text + o, sizeof s->constraints_text - o,
                                  "%s%s <= %g", o ? ", " : "", m->valuestring, hi->valuedouble);
    }
    cJSON_Delete(j);
}

/* Fills directions, space, created date and state counts of s->id. */
static pt_status study_details(query_db *q, query_study *s, pt_err *err)
{
    sqlite3_stmt *d = prep(q,
                           "SELECT objective, direction FROM study_directions WHERE study_id=?1"
                           " ORDER BY objective",
                           err, "read study directions");
    if (!d)
        return PT_ERR_IO;
    sqlite3_bind_int(d, 1, s->id);
    while (sqlite3_step(d) == SQLITE_ROW) {
        int k = sqlite3_column_int(d, 0);
        const char *dir = (const char *)sqlite3_column_text(d, 1);
        if (k < 0 || k >= STUDY_MAX_OBJECTIVES)
            continue;
        s->dir[k] = dir && !strcmp(dir, "MAXIMIZE") ? DIR_MAXIMIZE : DIR_MINIMIZE;
        if (k + 1 > s->n_objectives)
            s->n_objectives = k + 1;
    }
    sqlite3_finalize(d);
    const char *space = NULL;
    sqlite3_stmt *p = NULL;
    if (q->has_pt &&
        (p = prep(q, "SELECT space_json, datetime_create FROM pt_studies WHERE study_id=?1", err,
                  "read study space"))) {
        sqlite3_bind_int(p, 1, s->id);
        if (sqlite3_step(p) == SQLITE_ROW) {
            space = (const char *)sqlite3_column_text(p, 0);
            const char *c = (const char *)sqlite3_column_text(p, 1);
            snprintf(s->created, sizeof s->created, "%.26s", c ? c : "");
        }
    }
    sqlite3_stmt *m = prep(q,
                           "SELECT value_json FROM study_system_attributes WHERE study_id=?1"
                           " AND key='study:metric_names'",
                           err, "read study attributes");
    if (m)
        sqlite3_bind_int(m, 1, s->id);
    const char *names =
        m && sqlite3_step(m) == SQLITE_ROW ? (const char *)sqlite3_column_text(m, 0) : NULL;
    objective_names(s, space, names);
    constraints_of(s, space);
    sqlite3_finalize(m);
    sqlite3_finalize(p);
    sqlite3_stmt *c = prep(q, "SELECT state, count(*) FROM trials WHERE study_id=?1 GROUP BY state",
                           err, "count trials");
    if (!c)
        return PT_ERR_IO;
    sqlite3_bind_int(c, 1, s->id);
    while (sqlite3_step(c) == SQLITE_ROW) {
        int k = state_of((const char *)sqlite3_column_text(c, 0)), n = sqlite3_column_int(c, 1);
        if (k >= 0)
            s->n_state[k] += n;
        s->n_trials += n;
    }
    sqlite3_finalize(c);
    return PT_OK;
}

pt_status query_studies(query_db *q, query_study **out, int *n, pt_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s =
        prep(q, "SELECT study_id, study_name FROM studies ORDER BY study_id", err, "read studies");
    if (!s)
        return PT_ERR_IO;
    pt_status rc = PT_OK;
    int cap = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            query_study *grown = realloc(*out, sizeof **out * (size_t)cap);
            if (!grown) {
                rc = pt_fail(err, PT_ERR_NOMEM, "out of memory");
                break;
            }
            *out = grown;
        }
        query_study *x = &(*out)[(*n)++];
        memset(x, 0, sizeof *x);
        x->id = sqlite3_column_int(s, 0);
        const char *name = (const char *)sqlite3_column_text(s, 1);
        snprintf(x->name, sizeof x->name, "%s", name ? name : "");
    }
    if (rc == PT_OK && step != SQLITE_DONE)
        rc = dberr(q, err, "read studies");
    sqlite3_finalize(s);
    for (int i = 0; rc == PT_OK && i < *n; i++)
        rc = study_details(q, &(*out)[i], err);
    if (rc != PT_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int query_is_confirm_study(const char *name)
{
    size_t n = strlen(name), k = strlen("/confirm");
    return n > k && !strcmp(name + n - k, "/confirm");
}

pt_status query_study_pick(query_db *q, const char *name, query_study *out, pt_err *err)
{
    query_study *all;
    int n;
    pt_status rc = query_studies(q, &all, &n, err);
    if (rc != PT_OK)
        return rc;
    int pick = -1;
    for (int i = 0; i < n; i++)
        if (name ? !strcmp(all[i].name, name) : !query_is_confirm_study(all[i].name))
            pick = i; /* without a name: the highest id, the latest created */
    for (int i = 0; !name && pick < 0 && i < n; i++)
        pick = i; /* only confirmation studies: the latest of them */
    if (pick >= 0) {
        *out = all[pick];
    } else if (n == 0) {
        rc = pt_fail(err, PT_ERR_CONFIG, "%s: no study in this database", q->st->path);
    } else {
        char names[256] = "";
        for (int i = 0; i < n && strlen(names) < 200; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s'%s'", i ? ", " : "",
                     all[i].name);
        rc = pt_fail(err, PT_ERR_CONFIG, "%s: no study '%s' (it has %s)", q->st->path, name, names);
    }
    free(all);
    return rc;
}

/* ---- trials -------------------------------------------------------------- */

void query_trials_free(query_trials *t)
{
    for (int i = 0; t->t && i < t->n; i++)
        free(t->t[i].fail_reason);
    for (int p = 0; p < t->n_params; p++) {
        for (int c = 0; c < t->param[p].n_choices; c++)
            free(t->param[p].choices[c]);
        free(t->param[p].choices);
    }
    free(t->t);
    free(t->pbuf);
    free(t->abuf);
    memset(t, 0, sizeof *t);
}

static double col_or_nan(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *s, int i)
{
    const char *v = (const char *)sqlite3_column_text(s, i);
    snprintf(dst, cap, "%s", v ? v : "");
}

/* The trials of the study in trial_id order (so params and values find
 * theirs by binary search). */
static pt_status load_rows(query_db *q, query_trials *t, pt_err *err)
{
    static const char with_pt[] =
        "SELECT t.trial_id, t.number, t.state, t.datetime_start, t.datetime_complete,"
        " m.sparsity, m.nnz, m.bytes_dense, m.bytes_stored, m.flops_per_sample,"
        " m.latency_b1_us, m.latency_b128_us, m.speedup_b1, m.speedup_b128, m.val_acc,"
        " m.test_acc, m.epochs, m.wall_s,"
        " CASE WHEN t.state = 'FAIL' THEN m.fail_reason END FROM trials t"
        " LEFT JOIN pt_trial_metrics m ON m.trial_id = t.trial_id"
        " WHERE t.study_id=?1 ORDER BY t.trial_id";
    static const char optuna_only[] =
        "SELECT trial_id, number, state, datetime_start, datetime_complete, NULL, NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM trials"
        " WHERE study_id=?1 ORDER BY trial_id";
    sqlite3_stmt *s = prep(q, q->has_pt ? with_pt : optuna_only, err, "read trials");
    if (!s)
        return PT_ERR_IO;
    sqlite3_bind_int(s, 1, t->study.id);
    int cap = t->study.n_trials + 16, step;
    t->t = calloc((size_t)cap, sizeof *t->t);
    if (!t->t) {
        sqlite3_finalize(s);
        return pt_fail(err, PT_ERR_NOMEM, "out of memory");
    }
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (t->n == cap) {
            query_trial *grown = realloc(t->t, sizeof *t->t * (size_t)cap * 2);
            if (!grown)
                break;
            memset(grown + cap, 0, sizeof *grown * (size_t)cap);
            t->t = grown;
            cap *= 2;
        }
        query_trial *r = &t->t[t->n++];
        r->trial_id = sqlite3_column_int(s, 0);
        r->number = sqlite3_column_int(s, 1);
        int k = state_of((const char *)sqlite3_column_text(s, 2));
        r->state = k < 0 ? TRIAL_WAITING : (trial_state)k;
        copy_text(r->start, sizeof r->start, s, 3);
        copy_text(r->complete, sizeof r->complete, s, 4);
        for (int m = 0; m < QUERY_N_METRICS; m++)
            r->metric[m] = col_or_nan(s, 5 + m);
        for (int v = 0; v < STUDY_MAX_OBJECTIVES; v++)
            r->value[v] = NAN;
        r->violation = NAN;
        const char *why = (const char *)sqlite3_column_text(s, 18);
        if (why && r->state == TRIAL_FAIL)
            r->fail_reason = strdup(why);
    }
    sqlite3_finalize(s);
    if (step != SQLITE_DONE)
        return step == SQLITE_ROW ? pt_fail(err, PT_ERR_NOMEM, "out of memory")
                                  : dberr(q, err, "read trials");
    return PT_OK;
}

static query_trial *by_id(query_trials *t, int trial_id)
{
    int lo = 0, hi = t->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (t->t[mid].trial_id == trial_id)
            return &t->t[mid];
        if (t->t[mid].trial_id < trial_id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* Index of choice text in p's list, appending it when new; -1 on no memory. */
static int intern_choice(query_param *p, const char *text)
{
    for (int c = 0; c < p->n_choices; c++)
        if (!strcmp(p->choices[c], text))
            return c;
    char **grown = realloc(p->choices, sizeof *grown * (size_t)(p->n_choices + 1));
    if (!grown)
        return -1;
    p->choices = grown;
    if (!(p->choices[p->n_choices] = strdup(text)))
        return -1;
    return p->n_choices++;
}

/* Parameter name's index, registering it (kind from its distribution) when
 * new; -1 when there are too many. */
static int param_index(query_trials *t, const char *name, const char *dist)
{
    for (int p = 0; p < t->n_params; p++)
        if (!strcmp(t->param[p].name, name))
            return p;
    if (t->n_params == QUERY_MAX_PARAMS)
        return -1;
    query_param *p = &t->param[t->n_params];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = !dist                                     ? PARAM_FLOAT
              : strstr(dist, "CategoricalDistribution") ? PARAM_CAT
              : strstr(dist, "IntDistribution") || strstr(dist, "IntUniform") ||
                      strstr(dist, "IntLogUniform")
                  ? PARAM_INT
                  : PARAM_FLOAT;
    return t->n_params++;
}

/* Maps a categorical trial value (Optuna's index into this row's choices)
 * to p's interned choice list. The distribution is parsed once per distinct
 * text: *last/last_map cache the previous one. */
static double choice_value(query_param *p, const char *dist, double v, char **last, int *map,
                           int *n_map)
{
    if (!dist)
        return v;
    if (!*last || strcmp(*last, dist) != 0) {
        free(*last);
        *last = strdup(dist);
        *n_map = 0;
        cJSON *j = cJSON_Parse(dist);
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "attributes"), "choices");
        const cJSON *c;
        cJSON_ArrayForEach(c, ch)
        {
            if (*n_map == STUDY_MAX_CHOICES * 4)
                break;
            char *text = cJSON_IsString(c) ? NULL : cJSON_PrintUnformatted(c);
            map[(*n_map)++] = intern_choice(p, text ? text : c->valuestring);
            free(text);
        }
        cJSON_Delete(j);
    }
    int k = (int)v;
    return k >= 0 && k < *n_map && map[k] >= 0 ? map[k] : NAN;
}

/* Trials in the whole file (all studies), or -1. */
static int count_all_trials(query_db *q)
{
    sqlite3_stmt *s = prep(q, "SELECT count(*) FROM trials", NULL, "count trials");
    int n = s && sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_finalize(s);
    return n;
}

static pt_status load_params(query_db *q, query_trials *t, pt_err *err)
{
    /* When the study is most of the file, one sequential pass over
     * trial_params (rows of other studies dropped by the trial_id lookup)
     * beats an index seek plus a row seek per parameter: ~2x on 10,000
     * trials. Otherwise walk the study's trials through the index. */
    int all = count_all_trials(q);
    int scan = all >= 0 && t->n * 2 >= all;
    sqlite3_stmt *s =
        prep(q,
             scan ? "SELECT trial_id, param_name, param_value, distribution_json FROM trial_params"
                  : "SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json"
                    " FROM trials t JOIN trial_params p ON p.trial_id = t.trial_id"
                    " WHERE t.study_id=?1",
             err, "read parameters");
    if (!s)
        return PT_ERR_IO;
    if (!scan)
        sqlite3_bind_int(s, 1, t->study.id);
    t->pbuf = malloc(sizeof(double) * (size_t)(t->n ? t->n : 1) * QUERY_MAX_PARAMS);
    if (!t->pbuf) {
        sqlite3_finalize(s);
        return pt_fail(err, PT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < (size_t)t->n * QUERY_MAX_PARAMS; i++)
        t->pbuf[i] = NAN;
    for (int i = 0; i < t->n; i++)
        t->t[i].param = t->pbuf + (size_t)i * QUERY_MAX_PARAMS;
    char *last[QUERY_MAX_PARAMS] = {0};
    int(*map)[STUDY_MAX_CHOICES * 4] = malloc(sizeof *map * QUERY_MAX_PARAMS);
    int n_map[QUERY_MAX_PARAMS] = {0}, step = SQLITE_NOMEM;
    while (map && (step = sqlite3_step(s)) == SQLITE_ROW) {
        query_trial *r = by_id(t, sqlite3_column_int(s, 0));
        const char *name = (const char *)sqlite3_column_text(s, 1);
        const char *dist = (const char *)sqlite3_column_text(s, 3);
        int p = r && name ? param_index(t, name, dist) : -1;
        if (p < 0)
            continue;
        double v = col_or_nan(s, 2);
        if (t->param[p].kind == PARAM_CAT)
            v = choice_value(&t->param[p], dist, v, &last[p], map[p], &n_map[p]);
        r->param[p] = v;
    }
    for (int p = 0; p < QUERY_MAX_PARAMS; p++)
        free(last[p]);
    free(map);
    sqlite3_finalize(s);
    if (step == SQLITE_NOMEM)
        return pt_fail(err, PT_ERR_NOMEM, "out of memory");
    return step == SQLITE_DONE ? PT_OK : dberr(q, err, "read parameters");
}

/* Runs sql with ?1 bound to the study's id and calls row for each result
 * row until it returns other than PT_OK; what names the read in errors. */
typedef pt_status (*row_fn)(query_trials *t, sqlite3_stmt *s, pt_err *err);

static pt_status each_row(query_db *q, query_trials *t, const char *sql, const char *what,
                          row_fn row, pt_err *err)
{
    sqlite3_stmt *s = prep(q, sql, err, what);
    if (!s)
        return PT_ERR_IO;
    sqlite3_bind_int(s, 1, t->study.id);
    int step;
    pt_status st = PT_OK;
    while (st == PT_OK && (step = sqlite3_step(s)) == SQLITE_ROW)
        st = row(t, s, err);
    sqlite3_finalize(s);
    if (st != PT_OK)
        return st;
    return step == SQLITE_DONE ? PT_OK : dberr(q, err, what);
}

static pt_status value_row(query_trials *t, sqlite3_stmt *s, pt_err *err)
{
    (void)err;
    query_trial *r = by_id(t, sqlite3_column_int(s, 0));
    int k = sqlite3_column_int(s, 1);
    const char *type = (const char *)sqlite3_column_text(s, 3);
    if (!r || k < 0 || k >= STUDY_MAX_OBJECTIVES)
        return PT_OK;
    r->value[k] = !type || !strcmp(type, "FINITE") ? col_or_nan(s, 2)
                  : !strcmp(type, "INF_POS")       ? INFINITY
                                                   : -INFINITY;
    return PT_OK;
}

static pt_status load_values(query_db *q, query_trials *t, pt_err *err)
{
    return each_row(q, t,
                    "SELECT v.trial_id, v.objective, v.value, v.value_type"
                    " FROM trials t JOIN trial_values v ON v.trial_id = t.trial_id"
                    " WHERE t.study_id=?1",
                    "read values", value_row, err);
}

/* A JSON number's text as a double; 0 when the text is anything else (a
 * string, true, a list: not a metric). */
static int json_number(const char *text, double *v)
{
    if (!text || !*text || *text == '"')
        return 0;
    char *end;
    *v = strtod(text, &end);
    while (*end == ' ')
        end++;
    return end != text && *end == 0 && isfinite(*v);
}

/* Numeric trial user attributes. One named like a metric column fills that
 * column where it is empty (a study Optuna made stores sparsity, test_acc,
 * ... only there); others become extra metrics (t->attr). In a prunetune DB
 * the metric columns are already read: their mirrors are skipped in SQL. */
static pt_status attr_row(query_trials *t, sqlite3_stmt *s, pt_err *err)
{
    query_trial *r = by_id(t, sqlite3_column_int(s, 0));
    const char *key = (const char *)sqlite3_column_text(s, 1);
    double v;
    if (!r || !key || !json_number((const char *)sqlite3_column_text(s, 2), &v))
        return PT_OK;
    int m = 0;
    while (m < QUERY_N_METRICS && strcmp(query_metric_names[m], key) != 0)
        m++;
    if (m < QUERY_N_METRICS) {
        if (isnan(r->metric[m]))
            r->metric[m] = v;
        return PT_OK;
    }
    int a = 0;
    while (a < t->n_attrs && strcmp(t->attr[a], key) != 0)
        a++;
    if (a == t->n_attrs) {
        if (a == QUERY_MAX_ATTRS || strlen(key) >= sizeof t->attr[0])
            return PT_OK;
        snprintf(t->attr[t->n_attrs++], sizeof t->attr[0], "%s", key);
    }
    if (!t->abuf) {
        t->abuf = malloc(sizeof(double) * (size_t)(t->n ? t->n : 1) * QUERY_MAX_ATTRS);
        if (!t->abuf)
            return pt_fail(err, PT_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < (size_t)t->n * QUERY_MAX_ATTRS; i++)
            t->abuf[i] = NAN;
        for (int i = 0; i < t->n; i++)
            t->t[i].attr = t->abuf + (size_t)i * QUERY_MAX_ATTRS;
    }
    r->attr[a] = v;
    return PT_OK;
}

static pt_status load_attrs(query_db *q, query_trials *t, pt_err *err)
{
    static const char all[] =
        "SELECT a.trial_id, a.\"key\", a.value_json FROM trials t"
        " JOIN trial_user_attributes a ON a.trial_id = t.trial_id WHERE t.study_id=?1";
    static const char extra[] =
        "SELECT a.trial_id, a.\"key\", a.value_json FROM trials t"
        " JOIN trial_user_attributes a ON a.trial_id = t.trial_id WHERE t.study_id=?1"
        " AND a.\"key\" NOT IN ('sparsity', 'nnz', 'bytes_dense', 'bytes_stored',"
        " 'flops_per_sample', 'latency_b1_us', 'latency_b128_us', 'speedup_b1', 'speedup_b128',"
        " 'val_acc', 'test_acc', 'epochs', 'wall_s', 'model_path', 'fail_reason')";
    return each_row(q, t, q->has_pt ? extra : all, "read user attributes", attr_row, err);
}

/* Optuna's trial system attribute "constraints" (what the store writes, and
 * what Optuna writes for a constraints_func) as each trial's violation. */
static pt_status constraints_row(query_trials *t, sqlite3_stmt *s, pt_err *err)
{
    (void)err;
    query_trial *r = by_id(t, sqlite3_column_int(s, 0));
    if (!r)
        return PT_OK;
    double c[64];
    int n = study_constraints_parse((const char *)sqlite3_column_text(s, 1), c, 64);
    /* Optuna stores null when its constraints_func raised: not feasible. */
    r->violation = n < 0 ? INFINITY : study_violation(c, n);
    t->study.has_constraints = 1;
    return PT_OK;
}

static pt_status load_constraints(query_db *q, query_trials *t, pt_err *err)
{
    return each_row(q, t,
                    "SELECT a.trial_id, a.value_json FROM trials t"
                    " JOIN trial_system_attributes a ON a.trial_id = t.trial_id"
                    " WHERE t.study_id=?1 AND a.\"key\"='constraints'",
                    "read trial constraints", constraints_row, err);
}

static int cmp_number(const void *a, const void *b)
{
    const query_trial *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

/* Puts the parameters in name order (trials keep their slots, permuted). */
static void sort_params(query_trials *t)
{
    int order[QUERY_MAX_PARAMS];
    for (int p = 0; p < t->n_params; p++)
        order[p] = p;
    for (int i = 1; i < t->n_params; i++) /* insertion sort: a handful of names */
        for (int j = i; j > 0 && strcmp(t->param[order[j - 1]].name, t->param[order[j]].name) > 0;
             j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    query_param sorted[QUERY_MAX_PARAMS];
    double row[QUERY_MAX_PARAMS];
    for (int p = 0; p < t->n_params; p++)
        sorted[p] = t->param[order[p]];
    memcpy(t->param, sorted, sizeof sorted[0] * (size_t)t->n_params);
    for (int i = 0; i < t->n; i++) {
        for (int p = 0; p < t->n_params; p++)
            row[p] = t->t[i].param[order[p]];
        memcpy(t->t[i].param, row, sizeof row[0] * (size_t)t->n_params);
    }
}

pt_status query_load(query_db *q, const query_study *s, query_trials *out, pt_err *err)
{
    memset(out, 0, sizeof *out);
    out->study = *s;
    /* One read transaction: a run writing meanwhile cannot tear the view. */
    sqlite3_exec(q->st->db, "BEGIN", NULL, NULL, NULL);
    pt_status rc = load_rows(q, out, err);
    if (rc == PT_OK)
        rc = load_params(q, out, err);
    if (rc == PT_OK)
        rc = load_values(q, out, err);
    if (rc == PT_OK)
        rc = load_attrs(q, out, err);
    if (rc == PT_OK)
        rc = load_constraints(q, out, err);
    sqlite3_exec(q->st->db, "COMMIT", NULL, NULL, NULL);
    if (rc != PT_OK) {
        query_trials_free(out);
        return rc;
    }
    sort_params(out);
    qsort(out->t, (size_t)out->n, sizeof *out->t, cmp_number);
    for (int m = 0; m < QUERY_N_METRICS; m++) {
        out->has_metric[m] = q->has_pt;
        for (int i = 0; !out->has_metric[m] && i < out->n; i++)
            out->has_metric[m] = !isnan(out->t[i].metric[m]);
    }

    return PT_OK;
}

const query_trial *query_find_number(const query_trials *t, int number)
{
    int lo = 0, hi = t->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (t->t[mid].number == number)
            return &t->t[mid];
        if (t->t[mid].number < number)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static char *dup_col(sqlite3_stmt *s, int i)
{
    const char *v = (const char *)sqlite3_column_text(s, i);
    return v ? strdup(v) : NULL;
}

pt_status query_trial_texts(query_db *q, int trial_id, char **config_json, char **result_json,
                            pt_err *err)
{
    *config_json = *result_json = NULL;
    if (!q->has_pt)
        return PT_OK;
    sqlite3_stmt *s = prep(q,
                           "SELECT config_json, result_json FROM pt_trial_metrics"
                           " WHERE trial_id=?1",
                           err, "read trial config");
    if (!s)
        return PT_ERR_IO;
    sqlite3_bind_int(s, 1, trial_id);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *config_json = dup_col(s, 0);
        *result_json = dup_col(s, 1);
    }
    sqlite3_finalize(s);
    return step == SQLITE_ROW || step == SQLITE_DONE ? PT_OK : dberr(q, err, "read trial config");
}
