/*
 * query_cli.c — what the query commands share (see query_cli.h): options,
 * opening a study, table cells, aligned tables and flat JSON records.
 */
#include "query_cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int qcli_usage_err(const char *cmd, const char *msg, const char *arg)
{
    fprintf(stderr, "prunetune %s: %s%s%s (see prunetune %s --help)\n", cmd, msg, arg ? " " : "",
            arg ? arg : "", cmd);
    return PT_EXIT_USAGE;
}

/* Options of every query command; `allowed` lists the ones cmd takes. */
int qcli_parse_opts(const char *cmd, int argc, char **argv, const char *allowed, qcli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (o->db)
                return qcli_usage_err(cmd, "unexpected argument", a);
            o->db = a;
            continue;
        }
        const char *name = a[1] == '-' ? a + 2 : a + 1;
        if (!strcmp(a, "-n"))
            name = "n";
        else if (!strcmp(a, "-o"))
            name = "o";
        char want[32];
        snprintf(want, sizeof want, ",%s,", name);
        char list[160];
        snprintf(list, sizeof list, ",%s,", allowed);
        if (!strstr(list, want))
            return qcli_usage_err(cmd, "unknown option", a);
        if (!strcmp(name, "json") || !strcmp(name, "all")) {
            *(name[0] == 'j' ? &o->json : &o->all) = 1;
            continue;
        }
        if (i + 1 >= argc)
            return qcli_usage_err(cmd, "missing value after", a);
        const char *v = argv[++i];
        char *end;
        if (!strcmp(name, "study"))
            o->study = v;
        else if (!strcmp(name, "by"))
            o->by = v;
        else if (!strcmp(name, "where"))
            o->where = v;
        else if (!strcmp(name, "objectives"))
            o->objectives = v;
        else if (!strcmp(name, "state"))
            o->state = v;
        else if (!strcmp(name, "format"))
            o->format = v;
        else if (!strcmp(name, "o"))
            o->out = v;
        else if (!strcmp(name, "config"))
            o->config = v;
        else if (!strcmp(name, "n") || !strcmp(name, "trial")) {
            long x = strtol(v, &end, 10);
            if (*v == 0 || *end || x < 0 || x > 1000000000)
                return qcli_usage_err(cmd, "expected a number >= 0 after", a);
            if (name[0] == 'n')
                o->n = (int)x;
            else
                o->trial = (int)x, o->has_trial = 1;
        }
    }
    if (!o->db)
        return qcli_usage_err(cmd, "missing the study database", NULL);
    return -1;
}

/* Opens the DB and loads the study; an exit code when that fails, else -1. */
int qcli_open_ctx(qcli_ctx *c, const char *cmd, const qcli_opts *o)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->path = o->db;
    c->all = o->all;
    pt_err err = {{0}};
    query_study s;
    pt_status rc = query_open(&c->q, o->db, &err);
    if (rc == PT_OK)
        rc = query_study_pick(c->q, o->study, &s, &err);
    if (rc == PT_OK)
        rc = query_load(c->q, &s, &c->t, &err);
    if (rc != PT_OK) {
        fprintf(stderr, "prunetune %s: %s\n", cmd, err.msg);
        query_close(c->q);
        c->q = NULL;
        return PT_EXIT_USAGE;
    }
    return -1;
}

void qcli_close_ctx(qcli_ctx *c)
{
    query_trials_free(&c->t);
    query_close(c->q);
}

int qcli_fail_line(const qcli_ctx *c, const pt_err *err)
{
    fprintf(stderr, "prunetune %s: %s\n", c->cmd, err->msg);
    return PT_EXIT_USAGE;
}

/* ---- cells, tables, records --------------------------------------------- */

int qcli_col_is_int(const query_trials *t, const query_col *c)
{
    return c->kind == COL_NUMBER || (c->kind == COL_METRIC && query_metric_is_int(c->index)) ||
           (c->kind == COL_PARAM && t->param[c->index].kind == PARAM_INT);
}

void qcli_cell(const query_trials *t, const query_trial *tr, const query_col *c, char *buf,
               size_t cap)
{
    const char *choice = query_col_choice(t, tr, c);
    double v = query_col_get(t, tr, c);
    if (choice)
        snprintf(buf, cap, "%s", choice);
    else if (isnan(v))
        snprintf(buf, cap, "-");
    else if (qcli_col_is_int(t, c) && fabs(v) < 1e15)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%.6g", v);
}

/* The record key of a column (CSV header / JSON key). */
void qcli_col_key(const query_trials *t, const query_col *c, char *buf, size_t cap)
{
    if (c->kind == COL_VALUE && t->study.n_objectives == 1)
        snprintf(buf, cap, "value");
    else if (c->kind == COL_VALUE)
        snprintf(buf, cap, "values_%d", c->index);
    else if (c->kind == COL_PARAM)
        snprintf(buf, cap, "params.%s", t->param[c->index].name);
    else if (c->kind == COL_ATTR)
        snprintf(buf, cap, "attrs.%s", t->attr[c->index]);
    else
        snprintf(buf, cap, "%s", c->name);
}

int qcli_add_col(query_col *cols, int n, query_col_kind kind, int index, const char *name)
{
    for (int i = 0; i < n; i++)
        if (cols[i].kind == kind && cols[i].index == index)
            return n;
    memset(&cols[n], 0, sizeof cols[n]);
    cols[n].kind = kind;
    cols[n].index = index;
    snprintf(cols[n].name, sizeof cols[n].name, "%s", name);
    return n + 1;
}

/* Every column: objectives, metric columns, parameters. all = 0 keeps only
 * the metrics some of rows[0..n) have (tables stay narrow). */
int qcli_default_cols(const query_trials *t, const int *rows, int n, int all, query_col *cols)
{
    int k = 0;
    for (int o = 0; o < t->study.n_objectives; o++)
        k = qcli_add_col(cols, k, COL_VALUE, o, t->study.obj_name[o]);
    for (int m = 0; m < QUERY_N_METRICS; m++) {
        int any = all, same = 0;
        for (int i = 0; !any && i < n; i++)
            any = !isnan(t->t[rows[i]].metric[m]);
        for (int o = 0; o < t->study.n_objectives; o++)
            same |= !all && !strcmp(t->study.obj_name[o], query_metric_names[m]);
        if (any && !same)
            k = qcli_add_col(cols, k, COL_METRIC, m, query_metric_names[m]);
    }
    for (int a = 0; a < t->n_attrs; a++) {
        int any = all;
        for (int i = 0; !any && i < n; i++)
            any = t->t[rows[i]].attr && !isnan(t->t[rows[i]].attr[a]);
        if (any)
            k = qcli_add_col(cols, k, COL_ATTR, a, t->attr[a]);
    }
    for (int p = 0; p < t->n_params; p++) {
        /* a parameter named like a metric (an Optuna study's "sparsity") is
         * headed by its qualified name, as --where/--by must spell it */
        char name[64];
        int clash = 0;
        for (int m = 0; m < QUERY_N_METRICS; m++)
            clash |= t->has_metric[m] && !strcmp(query_metric_names[m], t->param[p].name);
        for (int a = 0; a < t->n_attrs; a++)
            clash |= !strcmp(t->attr[a], t->param[p].name);
        snprintf(name, sizeof name, "%s%.56s", clash ? "params." : "", t->param[p].name);
        k = qcli_add_col(cols, k, COL_PARAM, p, name);
    }
    return k;
}

/* An aligned table: number, state, then cols; numbers right-aligned. */
int qcli_print_table(FILE *f, const query_trials *t, const int *rows, int n, const query_col *cols,
                     int n_cols)
{
    int w[QCLI_MAX_COLS + 2];
    char buf[96];
    w[0] = 6;
    w[1] = 8;
    for (int c = 0; c < n_cols; c++)
        w[c + 2] = (int)strlen(cols[c].name);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < n_cols; c++) {
            qcli_cell(t, &t->t[rows[i]], &cols[c], buf, sizeof buf);
            if ((int)strlen(buf) > w[c + 2])
                w[c + 2] = (int)strlen(buf);
        }
    fprintf(f, "%*s  %-*s", w[0], "number", w[1], "state");
    for (int c = 0; c < n_cols; c++)
        fprintf(f, "  %*s", w[c + 2], cols[c].name);
    fputc('\n', f);
    for (int i = 0; i < n; i++) {
        const query_trial *tr = &t->t[rows[i]];
        fprintf(f, "%*d  %-*s", w[0], tr->number, w[1], trial_state_name(tr->state));
        for (int c = 0; c < n_cols; c++) {
            qcli_cell(t, tr, &cols[c], buf, sizeof buf);
            fprintf(f, "  %*s", w[c + 2], buf);
        }
        fputc('\n', f);
    }
    return ferror(f) ? PT_EXIT_FAIL : PT_EXIT_OK;
}

/* One flat record (see the top comment); cols = qcli_default_cols(all = 1). */
cJSON *qcli_record(const query_trials *t, const query_trial *tr, const query_col *cols, int n_cols)
{
    cJSON *r = cJSON_CreateObject();
    char key[96];
    cJSON_AddNumberToObject(r, "number", tr->number);
    cJSON_AddStringToObject(r, "state", trial_state_name(tr->state));
    cJSON_AddStringToObject(r, "datetime_start", tr->start);
    cJSON_AddStringToObject(r, "datetime_complete", tr->complete);
    for (int c = 0; c < n_cols; c++) {
        qcli_col_key(t, &cols[c], key, sizeof key);
        const char *choice = query_col_choice(t, tr, &cols[c]);
        double v = query_col_get(t, tr, &cols[c]);
        if (choice)
            cJSON_AddStringToObject(r, key, choice);
        else if (isfinite(v))
            cJSON_AddNumberToObject(r, key, v);
        else
            cJSON_AddNullToObject(r, key);
    }
    if (tr->fail_reason)
        cJSON_AddStringToObject(r, "fail_reason", tr->fail_reason);
    else
        cJSON_AddNullToObject(r, "fail_reason");
    return r;
}

int qcli_print_json(FILE *f, cJSON *j)
{
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) {
        fprintf(stderr, "prunetune: out of memory\n");
        return PT_EXIT_FAIL;
    }
    fprintf(f, "%s\n", text);
    free(text);
    return ferror(f) ? PT_EXIT_FAIL : PT_EXIT_OK;
}

void qcli_fmt_num(char *buf, size_t cap, double v)
{
    /* Number formatting is most of an export's time: integers take the
     * cheap path, the rest one or two fixed-format conversions (%.16g is
     * skipped; 17 digits always read back). */
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, cap, "%lld", (long long)v);
        return;
    }
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, cap, "%.17g", v);
}

/* s as a JSON string; plain runs go out in one fwrite (per-char stdio
 * calls take their lock each time and dominated a large export). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    while (*s) {
        size_t run = 0;
        while (s[run] && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20)
            run++;
        fwrite(s, 1, run, f);
        s += run;
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s++);
        else if (*s)
            fprintf(f, "\\u%04x", (unsigned char)*s++);
    }
    fputc('"', f);
}

/* Streamed rather than built as a cJSON tree: an export of 10,000 trials
 * would otherwise spend most of its time allocating and re-printing. One
 * record per line, the same keys and values as qcli_record. */
int qcli_print_records(FILE *f, const query_trials *t, const int *rows, int n)
{
    query_col cols[QCLI_MAX_COLS];
    char keys[QCLI_MAX_COLS][600], key[96], num[40];
    int n_cols = qcli_default_cols(t, rows, n, 1, cols);
    for (int c = 0; c < n_cols; c++) { /* ', "key": ' once, not per row */
        qcli_col_key(t, &cols[c], key, sizeof key);
        char *w = keys[c] + snprintf(keys[c], sizeof keys[c], ", \"");
        for (const char *k = key; *k; k++) /* names from an Optuna DB may hold anything */
            w += snprintf(w, 8,
                          (unsigned char)*k < 0x20  ? "\\u%04x"
                          : *k == '"' || *k == '\\' ? "\\%c"
                                                    : "%c",
                          *k);
        snprintf(w, 5, "\": ");
    }
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        const query_trial *tr = &t->t[rows[i]];
        fprintf(f, "%s\n{\"number\": %d, \"state\": \"%s\", \"datetime_start\": ", i ? "," : "",
                tr->number, trial_state_name(tr->state));
        json_str(f, tr->start);
        fputs(", \"datetime_complete\": ", f);
        json_str(f, tr->complete);
        for (int c = 0; c < n_cols; c++) {
            const char *choice = query_col_choice(t, tr, &cols[c]);
            double v = query_col_get(t, tr, &cols[c]);
            fputs(keys[c], f);
            if (choice)
                json_str(f, choice);
            else if (isfinite(v))
                qcli_fmt_num(num, sizeof num, v), fputs(num, f);
            else
                fputs("null", f);
        }
        fputs(", \"fail_reason\": ", f);
        if (tr->fail_reason)
            json_str(f, tr->fail_reason);
        else
            fputs("null", f);
        fputc('}', f);
    }
    fputs(n ? "\n]\n" : "]\n", f);
    return ferror(f) ? PT_EXIT_FAIL : PT_EXIT_OK;
}

/* Rows or records, as the options ask. */
int qcli_show(const qcli_opts *o, const query_trials *t, const int *rows, int n,
              const query_col *lead, int n_lead)
{
    if (o->json)
        return qcli_print_records(stdout, t, rows, n);
    query_col cols[QCLI_MAX_COLS];
    int k = 0;
    for (int i = 0; i < n_lead; i++)
        k = qcli_add_col(cols, k, lead[i].kind, lead[i].index, lead[i].name);
    query_col rest[QCLI_MAX_COLS];
    int n_rest = qcli_default_cols(t, rows, n, 0, rest);
    for (int i = 0; i < n_rest; i++)
        k = qcli_add_col(cols, k, rest[i].kind, rest[i].index, rest[i].name);
    return qcli_print_table(stdout, t, rows, n, cols, k);
}

/* Indexes of the trials in state st (-1: all). */
int *qcli_rows_in_state(const query_trials *t, int st, int *n)
{
    int *rows = malloc(sizeof(int) * (size_t)(t->n ? t->n : 1));
    *n = 0;
    for (int i = 0; rows && i < t->n; i++)
        if (st < 0 || (int)t->t[i].state == st)
            rows[(*n)++] = i;
    return rows;
}

/* ---- the commands ------------------------------------------------------- */

/* The objectives of --objectives "a,b:min" (or the study's own). */
int qcli_objective_cols(const qcli_ctx *c, const char *spec, query_col *cols, int *n, pt_err *err)
{
    *n = 0;
    if (!spec) {
        for (int o = 0; o < c->t.study.n_objectives; o++)
            qcli_add_col(cols, (*n)++, COL_VALUE, o, c->t.study.obj_name[o]),
                cols[o].dir = c->t.study.dir[o];
        return PT_OK;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (*n == 8)
            return pt_fail(err, PT_ERR_CONFIG, "--objectives: at most 8");
        pt_status rc = query_col_find(&c->t, tok, &cols[*n], err);
        if (rc != PT_OK)
            return rc;
        (*n)++;
    }
    return *n ? PT_OK : pt_fail(err, PT_ERR_CONFIG, "--objectives: none given");
}

/* The best COMPLETE trial by col, or -1. */
int qcli_best_by(qcli_ctx *c, const query_col *col)
{
    const query_trials *t = &c->t;
    int n, *rows = qcli_rows_in_state(t, TRIAL_COMPLETE, &n);
    int have = rows ? query_rank(t, col, !c->all, rows, &n, &c->n_infeasible) : 0;
    int best = have > 0 ? rows[0] : -1;
    free(rows);
    return best;
}

/* Indexes of the COMPLETE trials that pass --where (NULL + exit code in *rc). */
int *qcli_filtered(qcli_ctx *c, const char *where, int *n, int *rc)
{
    int *rows = qcli_rows_in_state(&c->t, TRIAL_COMPLETE, n);
    if (!rows) {
        *rc = PT_EXIT_FAIL;
        return NULL;
    }
    *n = query_keep_feasible(&c->t, rows, *n, &c->n_infeasible);
    if (c->all) { /* --all: everything back, the count kept for the note */
        free(rows);
        rows = qcli_rows_in_state(&c->t, TRIAL_COMPLETE, n);
        if (!rows) {
            *rc = PT_EXIT_FAIL;
            return NULL;
        }
    }
    if (!where)
        return rows;
    query_cond conds[16];
    int n_conds = 0, k = 0;
    pt_err err = {{0}};
    if (query_where_parse(&c->t, where, conds, 16, &n_conds, &err) != PT_OK) {
        *rc = qcli_fail_line(c, &err);
        free(rows);
        return NULL;
    }
    for (int i = 0; i < *n; i++)
        if (query_where_match(&c->t, &c->t.t[rows[i]], conds, n_conds))
            rows[k++] = rows[i];
    *n = k;
    return rows;
}

const query_trial *qcli_pick_trial(qcli_ctx *c, const qcli_opts *o, int *rc)
{
    pt_err err = {{0}};
    if (o->has_trial) {
        const query_trial *tr = query_find_number(&c->t, o->trial);
        if (!tr) {
            pt_fail(&err, PT_ERR_CONFIG, "%s: study '%s' has no trial %d", o->db, c->t.study.name,
                    o->trial);
            *rc = qcli_fail_line(c, &err);
        }
        return tr;
    }
    /* --by takes up to 8 columns; without it, every objective is one. */
    query_col by[8 > STUDY_MAX_OBJECTIVES ? 8 : STUDY_MAX_OBJECTIVES];
    int n_by = 0;
    if (qcli_objective_cols(c, o->by, by, &n_by, &err) != PT_OK) {
        *rc = qcli_fail_line(c, &err);
        return NULL;
    }
    int row = qcli_best_by(c, &by[0]);
    qcli_note_feasibility(c);
    if (row < 0) {
        fprintf(stderr, "prunetune %s: no complete trial in study '%s'\n", c->cmd, c->t.study.name);
        *rc = PT_EXIT_FAIL;
        return NULL;
    }
    return &c->t.t[row];
}

void qcli_note_feasibility(const qcli_ctx *c)
{
    const query_study *s = &c->t.study;
    if (!s->has_constraints)
        return;
    char what[300] = "the study's constraints";
    if (s->constraints_text[0])
        snprintf(what, sizeof what, "the constraints (%s)", s->constraints_text);
    if (c->all)
        fprintf(stderr, "prunetune %s: --all: %d complete trials that violate %s are included\n",
                c->cmd, c->n_infeasible, what);
    else
        fprintf(stderr,
                "prunetune %s: %d complete trials violate %s and are left out (--all includes "
                "them)\n",
                c->cmd, c->n_infeasible, what);
}
