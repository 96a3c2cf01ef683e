/*
 * query.h — the read side of the study database: studies, trials, columns,
 * filters, the Pareto set. Behind `prunetune best|top|pareto|trials|studies|
 * export|strategy`; all the SQL of those commands lives in query.c.
 *
 *   query_db *q;  query_open(&q, "study.db", &err);
 *   query_study s; query_study_pick(q, NULL, &s, &err);     (NULL = only/latest)
 *   query_trials t; query_load(q, &s, &t, &err);            (one snapshot)
 *   query_col c;  query_col_find(&t, "val_acc", &c, &err);
 *   ... query_col_get(&t, &t.t[i], &c) ...
 *   query_trials_free(&t); query_close(q);
 *
 * Read-only: the file is opened with SQLITE_OPEN_READONLY and never written,
 * so it can be queried while a run is writing it (WAL). A study is loaded
 * whole into memory (one row per trial, numbers only; long texts on demand),
 * then filtered and sorted in C: 10,000 trials load in tens of ms, and user
 * text (metric names, --where) never reaches SQL — names resolve against the
 * loaded columns, numbers are compared in C.
 *
 * Errors: one line in err. PT_ERR_IO (missing or unreadable file),
 * PT_ERR_FORMAT (not SQLite / not a study database), PT_ERR_CONFIG (no such
 * study, unknown metric, bad --where). Memory: query_studies' array and
 * query_trial_texts' strings are the caller's (free); query_trials is freed
 * by query_trials_free.
 */
#ifndef QUERY_QUERY_H
#define QUERY_QUERY_H

#include "sampler.h"
#include "status.h"
#include "study.h"

typedef struct query_db query_db;

/* The metric columns of pt_trial_metrics, in this order (NaN = not measured). */
#define QUERY_N_METRICS 13
extern const char *const query_metric_names[QUERY_N_METRICS];
/* 1 when metric m is an integer (nnz, bytes, epochs). */
int query_metric_is_int(int m);

#define QUERY_MAX_PARAMS 64
/* Numeric trial user attributes that are not metric columns (a study Optuna
 * made: whatever trial.set_user_attr stored), kept as extra metrics. */
#define QUERY_MAX_ATTRS 32

pt_status query_open(query_db **out, const char *path, pt_err *err);
void query_close(query_db *q);

typedef struct {
    int id;
    char name[STUDY_NAME_MAX];
    int n_objectives;
    /* From pt_studies.space_json; "value" / "value0".. for a study Optuna made. */
    char obj_name[STUDY_MAX_OBJECTIVES][64];
    study_direction dir[STUDY_MAX_OBJECTIVES];
    int n_trials;
    int n_state[5];   /* by trial_state */
    char created[32]; /* "" when unknown */
    /* The study has constraints: its stored space lists some, or a trial has
     * Optuna's system attribute "constraints". Then only feasible trials
     * count (query_feasible). */
    int has_constraints;
    char constraints_text[256]; /* "sparsity >= 0.9, latency_b1_us <= 5", "" when unknown */
} query_study;

/* Every study of the DB, by id; *out is malloc'd (NULL when n == 0). */
pt_status query_studies(query_db *q, query_study **out, int *n, pt_err *err);
/* The study named name, or (name NULL) the only / most recently created one
 * that is not a confirmation study ("<name>/confirm", coordinator/confirm.h):
 * after a confirmation, the queries still answer about the search. */
pt_status query_study_pick(query_db *q, const char *name, query_study *out, pt_err *err);
/* 1 when name is a confirmation study's ("<study>/confirm"). */
int query_is_confirm_study(const char *name);

typedef struct {
    int trial_id, number;
    trial_state state;
    double value[STUDY_MAX_OBJECTIVES]; /* NaN unless the trial has it */
    double metric[QUERY_N_METRICS];
    double *param; /* [n_params], NaN = absent (conditional) */
    double *attr;  /* [n_attrs], NaN = absent */
    /* Total constraint violation from the trial system attribute
     * "constraints" (sum of its positive values, study.h); NaN when the trial
     * has none (running, failed, or a study without constraints). */
    double violation;
    char start[32], complete[32];
    char *fail_reason; /* NULL unless FAIL with a reason */
} query_trial;

typedef struct {
    char name[64];
    param_kind kind;
    /* categorical: the choice texts (JSON strings unquoted); a trial's value
     * is an index into them, equal to Optuna's index for the study's space */
    int n_choices;
    char **choices;
} query_param;

typedef struct {
    query_study study;
    int n_params;
    query_param param[QUERY_MAX_PARAMS];
    int n_attrs;
    char attr[QUERY_MAX_ATTRS][64];
    /* metric column m has a value in some trial, or the DB is prunetune's
     * (whose columns exist before any trial finishes) */
    int has_metric[QUERY_N_METRICS];
    int n;
    query_trial *t; /* in number order */
    double *pbuf, *abuf;
} query_trials;

/* Loads all trials of s in one read transaction (a consistent snapshot). */
pt_status query_load(query_db *q, const query_study *s, query_trials *out, pt_err *err);
void query_trials_free(query_trials *t);
/* The trial with this number, or NULL. */
const query_trial *query_find_number(const query_trials *t, int number);

/* A trial's stored train config and result JSON (either may come back NULL
 * when not stored); malloc'd, the caller frees. */
pt_status query_trial_texts(query_db *q, int trial_id, char **config_json, char **result_json,
                            pt_err *err);

/* A column of the trial table, found by name. */
typedef enum { COL_NUMBER, COL_VALUE, COL_METRIC, COL_PARAM, COL_ATTR } query_col_kind;
typedef struct {
    query_col_kind kind;
    int index;
    study_direction dir; /* what "better" means for best/top/pareto */
    char name[64];
} query_col;

/* name: "number", an objective name, "value"/"valueK", a metric column, a
 * numeric user attribute (a study Optuna made: its set_user_attr numbers
 * fill the metric columns of the same name, others are extra metrics), or a
 * parameter ("reg.l2", also "params.reg.l2"); an optional ":max"/":min"
 * suffix sets the direction, else objectives keep theirs and others follow
 * the name (acc/sparsity/speedup maximize, everything else minimizes).
 * A name that is both a parameter and a metric is PT_ERR_CONFIG naming both
 * qualified spellings, "params.NAME" and "attrs.NAME", which then work; a
 * metric no trial of an Optuna-made study has is an error too, never a
 * silent match of nothing. PT_ERR_CONFIG "unknown metric 'x' ..." otherwise. */
pt_status query_col_find(const query_trials *t, const char *name, query_col *c, pt_err *err);
double query_col_get(const query_trials *t, const query_trial *tr, const query_col *c);
/* The display text of a categorical column's value, else NULL. */
const char *query_col_choice(const query_trials *t, const query_trial *tr, const query_col *c);

/* --where: "METRIC OP NUMBER" clauses joined by ',' or ' and ', OP one of
 * < <= > >= = != (== too); a categorical parameter also takes = / != TEXT.
 * Parsed into conds[0..*n) (at most cap). A trial without the metric fails
 * its clause. */
typedef struct {
    query_col col;
    int op; /* 0 <, 1 <=, 2 >, 3 >=, 4 =, 5 != */
    double num;
    int is_text;
    char text[64];
} query_cond;
pt_status query_where_parse(const query_trials *t, const char *text, query_cond *conds, int cap,
                            int *n, pt_err *err);
int query_where_match(const query_trials *t, const query_trial *tr, const query_cond *conds, int n);

/* Sorts idx[0..n) best first by c (ties by number); trials without the
 * value go last. Returns how many have it. */
int query_sort(const query_trials *t, const query_col *c, int *idx, int n);

/* Feasibility, the one rule every command follows: a trial of a study
 * without constraints is feasible; with constraints, a trial is feasible
 * when every stored constraint value is <= 0 (violation 0), and a trial
 * without stored values is not (Optuna's rule). */
int query_feasible(const query_trials *t, const query_trial *tr);
/* Keeps only the feasible trials of idx[0..n), in order; returns the new
 * count and puts how many were dropped in *n_infeasible (may be NULL). */
int query_keep_feasible(const query_trials *t, int *idx, int n, int *n_infeasible);
/* The ranking the query commands, the report and the ablation share:
 * feasible_only drops infeasible trials from idx[0..*n) (*n shrinks), then
 * query_sort by c; *n_infeasible (may be NULL) gets how many of the given
 * trials are infeasible, dropped or not. Returns how
 * many ranked trials have the value (they come first). */
int query_rank(const query_trials *t, const query_col *c, int feasible_only, int *idx, int *n,
               int *n_infeasible);

/* The non-dominated trials among idx[0..n) under cols[0..n_cols) (with
 * their directions; trials missing a value are left out), written to out in
 * order of the first column, best first. Returns their count. Sort + sweep
 * against the front: O(n log n + n * front). */
int query_pareto(const query_trials *t, const query_col *cols, int n_cols, const int *idx, int n,
                 int *out);

#endif
