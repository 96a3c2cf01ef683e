/*
 * query_cli.h — the plumbing the read-only query commands (cmd_query.c,
 * cmd_export_model.c) share: option parsing, opening a study, picking a
 * trial, cells, tables and JSON records.
 *
 * Exit codes follow cli.h; every helper that fails prints its one line on
 * stderr itself ("prunetune CMD: ...") and returns PT_EXIT_USAGE for bad
 * input. Row lists are indexes into qcli_ctx.t.t.
 */
#ifndef PT_QUERY_CLI_H
#define PT_QUERY_CLI_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "cli.h"
#include "query.h"

/* The options of all query commands (unused ones stay zero). */
typedef struct {
    const char *db, *study, *by, *where, *objectives, *state, *format, *out;
    int n, trial, has_trial, json;
    int all; /* --all: infeasible trials too (a study with constraints) */
    const char *config; /* strategy --config FILE */
} qcli_opts;

/* An open DB and its loaded study. */
typedef struct {
    const char *cmd;
    const char *path;
    query_db *q;
    query_trials t;
    int all;          /* --all given: rank infeasible trials too */
    int n_infeasible; /* complete trials the last selection left out as infeasible */
} qcli_ctx;

#define QCLI_MAX_COLS                                                                              \
    (3 + STUDY_MAX_OBJECTIVES + QUERY_N_METRICS + QUERY_MAX_ATTRS + QUERY_MAX_PARAMS)

/* Parses argv (argv[0] = cmd): the DB path and the options named in
 * `allowed` ("study,by,where,n,json,objectives,state,format,o,trial").
 * Returns -1 when fine, else the exit code (the line is printed). */
int qcli_parse_opts(const char *cmd, int argc, char **argv, const char *allowed, qcli_opts *o);
int qcli_usage_err(const char *cmd, const char *msg, const char *arg);
/* Opens o->db read-only and loads the picked study: -1, or an exit code. */
int qcli_open_ctx(qcli_ctx *c, const char *cmd, const qcli_opts *o);
void qcli_close_ctx(qcli_ctx *c);
/* Prints err's line for c's command; PT_EXIT_USAGE. */
int qcli_fail_line(const qcli_ctx *c, const pt_err *err);

/* A cell as the tables show it: choice text, integer, %.6g, "-" when absent. */
void qcli_cell(const query_trials *t, const query_trial *tr, const query_col *c, char *buf,
               size_t cap);
/* A column's record key: value | values_K | metric | params.NAME. */
void qcli_col_key(const query_trials *t, const query_col *c, char *buf, size_t cap);
/* Appends the column unless cols[0..n) has it; the new count. */
int qcli_add_col(query_col *cols, int n, query_col_kind kind, int index, const char *name);
/* Objectives, metric columns, parameters; all = 0 drops metrics that none
 * of rows[0..n) has and those an objective already shows. */
int qcli_default_cols(const query_trials *t, const int *rows, int n, int all, query_col *cols);
int qcli_print_table(FILE *f, const query_trials *t, const int *rows, int n, const query_col *cols,
                     int n_cols);
/* One flat record of a trial (caller owns it). */
cJSON *qcli_record(const query_trials *t, const query_trial *tr, const query_col *cols, int n_cols);
/* Prints and frees j. */
int qcli_print_json(FILE *f, cJSON *j);
/* Every record of rows[0..n) as a JSON array, one record a line (streamed). */
int qcli_print_records(FILE *f, const query_trials *t, const int *rows, int n);
/* v in text that reads back exactly: an integer, %.15g when that is exact, else %.17g. */
void qcli_fmt_num(char *buf, size_t cap, double v);
/* --json records, or a table led by lead[0..n_lead) then the default columns. */
int qcli_show(const qcli_opts *o, const query_trials *t, const int *rows, int n,
              const query_col *lead, int n_lead);
/* malloc'd indexes of the trials in state st (-1: all); NULL when out of memory. */
int *qcli_rows_in_state(const query_trials *t, int st, int *n);
/* --objectives / --by "a,b:min" as columns, or the study's objectives when spec is NULL. */
int qcli_objective_cols(const qcli_ctx *c, const char *spec, query_col *cols, int *n, pt_err *err);
/* The best COMPLETE trial by col (an index), or -1; feasible ones only
 * unless --all (c->n_infeasible counts those left out). */
int qcli_best_by(qcli_ctx *c, const query_col *col);
/* COMPLETE trials passing --where, feasible ones only unless --all
 * (c->n_infeasible counts those left out); NULL with the exit code in *rc. */
int *qcli_filtered(qcli_ctx *c, const char *where, int *n, int *rc);
/* When the study has constraints, one line on stderr: how many complete
 * trials were left out as infeasible (or, with --all, are included). */
void qcli_note_feasibility(const qcli_ctx *c);
/* The trial --trial names, else the best COMPLETE one by the first column of
 * --by (default: the first objective); NULL with the line printed and the
 * exit code in *rc when there is none. */
const query_trial *qcli_pick_trial(qcli_ctx *c, const qcli_opts *o, int *rc);

/* cmd_strategy.c: whether the study is a PBT one (its trials have the
 * pbt_member attribute), and `strategy` of one: the winner's lineage and
 * schedule, --config the replay config. Returns the exit code. */
int qcli_is_pbt(const query_trials *t);
int qcli_strategy_pbt(qcli_ctx *c, const qcli_opts *o);

#endif
