/*
 * query_rank.c — columns, --where filters, ranking and the Pareto set over a
 * loaded study (see query.h). No SQL here: query.c reads the rows, this file
 * only computes on them, so user text (metric names, conditions) is resolved
 * against the loaded columns and never reaches the database.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pareto.h"
#include "query.h"

static study_direction dir_by_name(const char *name)
{
    static const char *const up[] = {"acc", "sparsity", "speedup"};
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++)
        if (strstr(name, up[i]))
            return DIR_MAXIMIZE;
    return DIR_MINIMIZE;
}

pt_status query_col_find(const query_trials *t, const char *spec, query_col *c, pt_err *err)
{
    char name[64];
    snprintf(name, sizeof name, "%s", spec);
    int forced = 0;
    char *colon = strrchr(name, ':');
    if (colon && (!strcmp(colon, ":max") || !strcmp(colon, ":min"))) {
        forced = colon[2] == 'a' ? DIR_MAXIMIZE : DIR_MINIMIZE;
        *colon = 0;
    }
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    const query_study *s = &t->study;
    /* Qualified names pick one side: params.X a parameter, attrs.X (or
     * user_attrs.X, Optuna's dataframe prefix) a metric or user attribute. */
    int only_param = !strncmp(name, "params.", 7);
    const char *pfx = !strncmp(name, "attrs.", 6)         ? "attrs."
                      : !strncmp(name, "user_attrs.", 11) ? "user_attrs."
                                                          : NULL;
    int only_metric = pfx != NULL;
    const char *pname = only_param ? name + 7 : name;
    const char *mname = only_metric ? name + strlen(pfx) : name;
    c->kind = (query_col_kind)-1;
    int param = -1;
    for (int p = 0; !only_metric && p < t->n_params; p++)
        if (!strcmp(pname, t->param[p].name))
            param = p;
    if (only_param && param < 0)
        return pt_fail(err, PT_ERR_CONFIG, "unknown parameter '%s' of study '%s'", pname, s->name);
    if (only_param) {
        c->kind = COL_PARAM;
        c->index = param;
        c->dir = DIR_MINIMIZE;
    }
    if ((int)c->kind < 0 && !only_metric && !strcmp(name, "number")) {
        c->kind = COL_NUMBER;
        c->dir = DIR_MINIMIZE;
    }
    for (int k = 0; (int)c->kind < 0 && !only_metric && k < s->n_objectives; k++) {
        char alias[16];
        snprintf(alias, sizeof alias, "value%d", k);
        if (!strcmp(name, s->obj_name[k]) || !strcmp(name, alias) ||
            (k == 0 && !strcmp(name, "value"))) {
            c->kind = COL_VALUE;
            c->index = k;
            c->dir = s->dir[k];
        }
    }
    int metric = -1, attr = -1;
    for (int m = 0; (int)c->kind < 0 && m < QUERY_N_METRICS; m++)
        if (!strcmp(mname, query_metric_names[m]))
            metric = m;
    for (int a = 0; (int)c->kind < 0 && a < t->n_attrs; a++)
        if (!strcmp(mname, t->attr[a]))
            attr = a;
    /* A metric column no trial has (a study Optuna made, without that user
     * attribute) is not a metric of this study: it would match nothing. */
    if (metric >= 0 && !t->has_metric[metric]) {
        if (only_metric || param < 0)
            return pt_fail(err, PT_ERR_CONFIG,
                           "metric '%s' has no value in any trial of study '%s' (it was not "
                           "recorded by whatever made this study)",
                           mname, s->name);
        metric = -1;
    }
    if ((int)c->kind < 0 && param >= 0 && (metric >= 0 || attr >= 0))
        return pt_fail(err, PT_ERR_CONFIG,
                       "'%s' is both a parameter and a metric (user attribute) of study '%s': "
                       "say params.%s or attrs.%s",
                       name, s->name, name, name);
    if ((int)c->kind < 0 && metric >= 0) {
        c->kind = COL_METRIC;
        c->index = metric;
        c->dir = dir_by_name(mname);
    } else if ((int)c->kind < 0 && attr >= 0) {
        c->kind = COL_ATTR;
        c->index = attr;
        c->dir = dir_by_name(mname);
    } else if ((int)c->kind < 0 && param >= 0) {
        c->kind = COL_PARAM;
        c->index = param;
        c->dir = DIR_MINIMIZE;
    }
    if ((int)c->kind < 0)
        return pt_fail(err, PT_ERR_CONFIG,
                       "unknown metric '%s' (not an objective, metric column or parameter of study "
                       "'%s'; e.g. val_acc, test_acc, sparsity, nnz, bytes_stored, latency_b1_us)",
                       spec, s->name);
    if (forced)
        c->dir = (study_direction)forced;
    return PT_OK;
}

double query_col_get(const query_trials *t, const query_trial *tr, const query_col *c)
{
    (void)t;
    switch (c->kind) {
    case COL_NUMBER:
        return tr->number;
    case COL_VALUE:
        return tr->value[c->index];
    case COL_METRIC:
        return tr->metric[c->index];
    case COL_PARAM:
        return tr->param[c->index];
    case COL_ATTR:
        return tr->attr ? tr->attr[c->index] : NAN;
    }
    return NAN;
}

const char *query_col_choice(const query_trials *t, const query_trial *tr, const query_col *c)
{
    if (c->kind != COL_PARAM || t->param[c->index].kind != PARAM_CAT)
        return NULL;
    double v = tr->param[c->index];
    return isnan(v) ? NULL : t->param[c->index].choices[(int)v];
}

static const char *const op_text[] = {"<=", ">=", "!=", "==", "<", ">", "="};
static const int op_code[] = {1, 3, 5, 4, 0, 2, 4};

/* One clause "METRIC OP VALUE" (text trimmed) into *c. */
static pt_status parse_clause(const query_trials *t, const char *clause, query_cond *c, pt_err *err)
{
    size_t at = strcspn(clause, "<>=!");
    if (clause[at] == 0 || at == 0 || at >= 64)
        return pt_fail(err, PT_ERR_CONFIG,
                       "--where: '%s': expected METRIC OP NUMBER (OP one of "
                       "< <= > >= = !=)",
                       clause);
    char name[64];
    memcpy(name, clause, at);
    while (at > 0 && name[at - 1] == ' ')
        at--;
    name[at] = 0;
    const char *rest = clause + strcspn(clause, "<>=!");
    size_t o = 0;
    while (o < sizeof op_text / sizeof op_text[0] && strncmp(rest, op_text[o], strlen(op_text[o])))
        o++;
    if (o == sizeof op_text / sizeof op_text[0])
        return pt_fail(err, PT_ERR_CONFIG, "--where: '%s': unknown operator", clause);
    memset(c, 0, sizeof *c);
    c->op = op_code[o];
    pt_status rc = query_col_find(t, name, &c->col, err);
    if (rc != PT_OK)
        return rc;
    const char *val = rest + strlen(op_text[o]);
    while (*val == ' ')
        val++;
    char *end;
    c->num = strtod(val, &end);
    while (end && *end == ' ')
        end++;
    if (*val && end && *end == 0)
        return PT_OK;
    int cat = c->col.kind == COL_PARAM && t->param[c->col.index].kind == PARAM_CAT;
    if (!cat || (c->op != 4 && c->op != 5) || !*val)
        return pt_fail(err, PT_ERR_CONFIG, "--where: '%s': expected a number after the operator",
                       clause);
    c->is_text = 1;
    snprintf(c->text, sizeof c->text, "%s", val);
    size_t n = strlen(c->text);
    while (n > 0 && c->text[n - 1] == ' ')
        c->text[--n] = 0;
    if (n >= 2 && (c->text[0] == '\'' || c->text[0] == '"') && c->text[n - 1] == c->text[0]) {
        memmove(c->text, c->text + 1, n - 2);
        c->text[n - 2] = 0;
    }
    /* A misspelt choice would silently match nothing: say which exist. */
    const query_param *p = &t->param[c->col.index];
    char list[256] = "";
    for (int k = 0; k < p->n_choices; k++) {
        if (!strcmp(p->choices[k], c->text))
            return PT_OK;
        if (strlen(list) + strlen(p->choices[k]) < 200)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "",
                     p->choices[k]);
    }
    return pt_fail(err, PT_ERR_CONFIG, "--where: '%s': %s has no choice '%s' (it has: %s)", clause,
                   p->name, c->text, list);
}

pt_status query_where_parse(const query_trials *t, const char *text, query_cond *conds, int cap,
                            int *n, pt_err *err)
{
    *n = 0;
    char buf[1024];
    if (strlen(text) >= sizeof buf)
        return pt_fail(err, PT_ERR_CONFIG, "--where: too long");
    snprintf(buf, sizeof buf, "%s", text);
    char *p = buf;
    while (*p) {
        /* The clause ends at ',' or at the word "and" (any case). */
        char *end = p;
        size_t skip = 0;
        for (; *end; end++) {
            if (*end == ',') {
                skip = 1;
                break;
            }
            if (end > p && end[-1] == ' ' && !strncasecmp(end, "and", 3) && end[3] == ' ') {
                skip = 3;
                break;
            }
        }
        char save = *end;
        *end = 0;
        while (*p == ' ')
            p++;
        size_t len = strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            p[--len] = 0;
        if (len == 0)
            return pt_fail(err, PT_ERR_CONFIG, "--where: '%s': empty condition", text);
        if (*n == cap)
            return pt_fail(err, PT_ERR_CONFIG, "--where: more than %d conditions", cap);
        pt_status rc = parse_clause(t, p, &conds[*n], err);
        if (rc != PT_OK)
            return rc;
        (*n)++;
        p = save ? end + skip : end;
    }
    if (*n == 0)
        return pt_fail(err, PT_ERR_CONFIG, "--where: no condition");
    return PT_OK;
}

int query_where_match(const query_trials *t, const query_trial *tr, const query_cond *conds, int n)
{
    for (int i = 0; i < n; i++) {
        const query_cond *c = &conds[i];
        if (c->is_text) {
            const char *v = query_col_choice(t, tr, &c->col);
            if (!v || (!strcmp(v, c->text)) != (c->op == 4))
                return 0;
            continue;
        }
        double v = query_col_get(t, tr, &c->col);
        int ok = !isnan(v) && (c->op == 0   ? v < c->num
                               : c->op == 1 ? v <= c->num
                               : c->op == 2 ? v > c->num
                               : c->op == 3 ? v >= c->num
                               : c->op == 4 ? v == c->num
                                            : v != c->num);
        if (!ok)
            return 0;
    }
    return 1;
}

/* Sort keys, "bigger is better" in every column, so one comparator serves. */
#define KEY_MAX 8
typedef struct {
    double k[KEY_MAX];
    int n_keys, number, idx;
} key;

static int cmp_key(const void *a, const void *b)
{
    const key *x = a, *y = b;
    for (int i = 0; i < x->n_keys; i++)
        if (x->k[i] != y->k[i])
            return x->k[i] > y->k[i] ? -1 : 1;
    return (x->number > y->number) - (x->number < y->number);
}

/* Keys of idx[0..n) under cols; trials missing a value are dropped. */
static key *make_keys(const query_trials *t, const query_col *cols, int n_cols, const int *idx,
                      int n, int *n_out)
{
    key *k = malloc(sizeof *k * (size_t)(n ? n : 1));
    *n_out = 0;
    for (int i = 0; k && i < n; i++) {
        key *x = &k[*n_out];
        x->n_keys = n_cols < KEY_MAX ? n_cols : KEY_MAX;
        x->number = t->t[idx[i]].number;
        x->idx = idx[i];
        int ok = 1;
        for (int c = 0; c < x->n_keys; c++) {
            double v = query_col_get(t, &t->t[idx[i]], &cols[c]);
            ok &= !isnan(v);
            x->k[c] = cols[c].dir == DIR_MAXIMIZE ? v : -v;
        }
        *n_out += ok;
    }
    return k;
}

int query_sort(const query_trials *t, const query_col *c, int *idx, int n)
{
    int m;
    key *k = make_keys(t, c, 1, idx, n, &m);
    if (!k)
        return 0;
    qsort(k, (size_t)m, sizeof *k, cmp_key);
    /* The ones without a value keep their order after the ranked ones
     * (compacted in place: the write position never passes the read one). */
    int j = 0;
    for (int i = 0; i < n; i++)
        if (isnan(query_col_get(t, &t->t[idx[i]], c)))
            idx[j++] = idx[i];
    memmove(idx + m, idx, sizeof *idx * (size_t)j);
    for (int i = 0; i < m; i++)
        idx[i] = k[i].idx;
    free(k);
    return m;
}

int query_pareto(const query_trials *t, const query_col *cols, int n_cols, const int *idx, int n,
                 int *out)
{
    int m;
    key *k = make_keys(t, cols, n_cols, idx, n, &m);
    if (!k)
        return 0;
    /* Sorted for the output order; the front itself is pareto.c's
     * non-dominated sort (the TPE sampler's too), on losses = -keys. */
    qsort(k, (size_t)m, sizeof *k, cmp_key);
    int nk = m ? k[0].n_keys : 1;
    double *loss = malloc(sizeof *loss * (size_t)(m ? m : 1) * (size_t)nk);
    int *rank = malloc(sizeof *rank * (size_t)(m ? m : 1));
    int n_front = 0;
    if (loss && rank) {
        for (int i = 0; i < m; i++)
            for (int c = 0; c < nk; c++)
                loss[(size_t)i * (size_t)nk + (size_t)c] = -k[i].k[c];
        if (pt_nondominated_sort(loss, m, nk, 1, rank, NULL) == PT_OK)
            for (int i = 0; i < m; i++)
                if (rank[i] == 0)
                    out[n_front++] = k[i].idx;
    }
    free(loss);
    free(rank);
    free(k);
    return n_front;
}

int query_feasible(const query_trials *t, const query_trial *tr)
{
    return study_feasible(t->study.has_constraints, tr->violation);
}

int query_keep_feasible(const query_trials *t, int *idx, int n, int *n_infeasible)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (query_feasible(t, &t->t[idx[i]]))
            idx[k++] = idx[i];
    if (n_infeasible)
        *n_infeasible = n - k;
    return k;
}

int query_rank(const query_trials *t, const query_col *c, int feasible_only, int *idx, int *n,
               int *n_infeasible)
{
    int dropped = 0;
    if (feasible_only) {
        *n = query_keep_feasible(t, idx, *n, &dropped);
    } else {
        for (int i = 0; i < *n; i++)
            dropped += !query_feasible(t, &t->t[idx[i]]);
    }
    if (n_infeasible)
        *n_infeasible = dropped;
    return query_sort(t, c, idx, *n);
}
