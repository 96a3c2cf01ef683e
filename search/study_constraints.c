/*
 * study_constraints.c — the study key "constraints" and the one definition
 * of feasibility every part of prunetune uses (see study.h).
 *
 * Why Optuna's convention and not a flag: Optuna 3.1 stores the output of a
 * constraints_func as the trial system attribute "constraints", a list of one
 * float per constraint where <= 0 means satisfied, and its TPE, its
 * visualizations and its best-trial filters read exactly that. Storing the
 * same list makes a prunetune study's feasibility readable by Optuna, and
 * lets prunetune's queries read the feasibility of a study Optuna made.
 *
 * A metric the result lacks (a PRUNED trial that skipped the latency timing,
 * a failed cost report) is +inf rather than "unknown": a trial nobody can
 * show to satisfy a constraint must not win under it. Optuna refuses NaN
 * constraint values, so NaN never gets stored.
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"
#include "study_internal.h"

/* A constraint may name any number of a train result (core/result.h) but
 * the seed, which is an input echoed back, not a figure to bound. */
int study_result_metric(const char *name)
{
    return pt_result_metric_kind(name) != 0 && strcmp(name, "seed") != 0;
}

static pt_status bound(const study_ctx *x, const cJSON *o, const char *path, const char *key,
                       int *has, double *v)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, key);
    *has = b != NULL;
    if (!b)
        return PT_OK;
    char at[96];
    snprintf(at, sizeof at, "%s.%s", path, key);
    if (!cJSON_IsNumber(b) || !isfinite(b->valuedouble))
        return study_expected(x, at, "a finite number", b);
    *v = b->valuedouble;
    return PT_OK;
}

pt_status study_parse_constraints(const study_ctx *x, study_config *s, const cJSON *root)
{
    static const char *const keys[] = {"metric", "min", "max", NULL};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "constraints");
    s->n_constraints = 0;
    if (!v)
        return PT_OK;
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (n < 0 || n > STUDY_MAX_CONSTRAINTS)
        return study_expected(x, "constraints",
                              "an array of at most 8 constraints {\"metric\": ..., \"min\": ...}",
                              v);
    int i = 0;
    for (const cJSON *o = v->child; o; o = o->next, i++) {
        char path[48], at[64];
        snprintf(path, sizeof path, "constraints[%d]", i);
        if (!cJSON_IsObject(o))
            return study_expected(x, path,
                                  "an object {\"metric\": ..., \"min\" and/or \"max\": ...}", o);
        pt_status st = study_check_members(x, o, path, keys);
        if (st != PT_OK)
            return st;
        study_constraint *c = &s->con[i];
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metric");
        snprintf(at, sizeof at, "%s.metric", path);
        if (!cJSON_IsString(m) || !study_result_metric(m->valuestring)) {
            const char *best = NULL;
            int best_d = INT_MAX;
            const char *r;
            for (int k = 0; cJSON_IsString(m) && (r = pt_result_metric_name(k)) != NULL; k++) {
                int d = pt_name_distance(m->valuestring, r);
                if (d <= 2 && d < best_d && study_result_metric(r))
                    best_d = d, best = r;
            }
            char what[160];
            snprintf(what, sizeof what,
                     "%s%s%sa number of the train result (sparsity, val_acc, "
                     "test_acc, nnz, bytes_stored, flops_per_sample, latency_b1_us, ...)",
                     best ? "'" : "", best ? best : "", best ? "' or " : "");
            return study_expected(x, at, what, m);
        }
        snprintf(c->metric, sizeof c->metric, "%s", m->valuestring);
        if ((st = bound(x, o, path, "min", &c->has_min, &c->min)) != PT_OK ||
            (st = bound(x, o, path, "max", &c->has_max, &c->max)) != PT_OK)
            return st;
        if (!c->has_min && !c->has_max)
            return study_expected(x, path, "\"min\" and/or \"max\" besides \"metric\"", o);
        if (c->has_min && c->has_max && c->min > c->max) {
            snprintf(at, sizeof at, "%s.max", path);
            return study_expected(x, at, "a number >= min",
                                  cJSON_GetObjectItemCaseSensitive(o, "max"));
        }
    }
    s->n_constraints = n;
    return PT_OK;
}

void study_constraint_values(const study_constraint *con, int n, const cJSON *result, double *out)
{
    for (int i = 0; i < n; i++) {
        const study_constraint *c = &con[i];
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(result, c->metric);
        double v = cJSON_IsNumber(m) ? m->valuedouble : NAN;
        if (!isfinite(v)) {
            out[i] = INFINITY;
            continue;
        }
        double lo = c->has_min ? c->min - v : -INFINITY, hi = c->has_max ? v - c->max : -INFINITY;
        out[i] = fmax(lo, hi);
    }
}

int study_feasible(int has_constraints, double violation)
{
    return !has_constraints || violation == 0;
}

double study_violation(const double *c, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += isnan(c[i]) ? INFINITY : c[i] > 0 ? c[i] : 0;
    return sum;
}

int study_constraints_json(const double *c, int n, char *buf, size_t cap)
{
    size_t o = 0;
    int w = snprintf(buf, cap, "[");
    for (int i = 0; w >= 0 && (size_t)w < cap - o && i < n; i++) {
        o += (size_t)w;
        char num[40];
        if (isnan(c[i]))
            snprintf(num, sizeof num, "NaN");
        else if (isinf(c[i]))
            snprintf(num, sizeof num, "%sInfinity", c[i] < 0 ? "-" : "");
        else
            study_py_float(num, sizeof num, c[i]);
        w = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", num);
    }
    if (w < 0 || (size_t)w >= cap - o)
        return 0;
    o += (size_t)w;
    w = snprintf(buf + o, cap - o, "]");
    return w >= 0 && (size_t)w < cap - o;
}

int study_constraints_parse(const char *json, double *c, int cap)
{
    /* By hand rather than cJSON: Python's json writes Infinity and NaN, which
     * are not JSON and which cJSON refuses; strtod reads both. */
    const char *p = json;
    while (p && (*p == ' ' || *p == '\n' || *p == '\t'))
        p++;
    if (!p || *p++ != '[')
        return -1;
    int n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        if (*p == ']' && n == 0)
            return 0;
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            return -1;
        if (n < cap)
            c[n] = v;
        n++;
        p = end;
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        if (*p == ']')
            return n < cap ? n : cap;
        if (*p++ != ',')
            return -1;
    }
}
