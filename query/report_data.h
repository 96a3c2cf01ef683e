/*
 * report_data.h — everything `prunetune report` shows, read from a study DB.
 *
 * report_load() opens the database read-only (store_open's checks: a missing
 * file, a non-SQLite file or a foreign schema is refused with one line),
 * picks the study, and reads it inside one read transaction, so a run that
 * is writing at the same time is seen as a consistent snapshot. It never
 * writes. A DB made by Optuna itself (no pt_* tables) loads too: the
 * prunetune-only figures (sparsity, bytes, FLOPs, latency, test accuracy)
 * are then NAN / -1, and a trial's family comes from its parameters when
 * they carry prunetune's key names (else REPORT_UNKNOWN).
 *
 * The analyses the report draws (best per family, winner per sparsity level,
 * Pareto front, parameter importance) are plain functions of the loaded
 * data, here so that tests check them without parsing HTML.
 *
 * Memory: a report_study owns all its arrays; report_free() releases them
 * (and is safe on a zeroed or failed-to-load struct).
 */
#ifndef QUERY_REPORT_DATA_H
#define QUERY_REPORT_DATA_H

#include "sampler.h"
#include "status.h"
#include "study.h"

/* What a trial tried, from its config: prune.schedule != none => pruning;
 * reg.l1 > 0, reg.l2 > 0 (or per-layer L2) or any dropout > 0 =>
 * regularization; both => hybrid; neither => baseline. */
typedef enum {
    REPORT_BASELINE = 0,
    REPORT_REG = 1,
    REPORT_PRUNE = 2,
    REPORT_HYBRID = 3,
    REPORT_UNKNOWN = 4
} report_family;
#define REPORT_N_FAMILIES 5

typedef struct {
    int trial_id, number;
    trial_state state;
    double value; /* objective 0; NAN when none (running, failed, inf) */
    report_family family;
    double reg_total; /* l1 + l2 + dropout rates: ranks "least regularized" */
    double sparsity, flops, latency_us, speedup, val_acc, test_acc, wall_s; /* NAN = none */
    long long nnz, bytes_dense, bytes_stored;                               /* -1 = none */
    int feasible; /* meets the study's constraints (study_feasible; 1 without constraints) */
    int reference; /* the study's reference trial (user attr pt_role = "baseline") */
    int pretrained; /* its config starts from a saved model (net.init): a reference trial
                       is then that network as loaded, evaluated */
    /* A PBT member-interval's user attributes (coordinator/sched_pbt.c), -1 = none:
     * its member, generation, start epoch (0-based) and parent trial's number. */
    int pbt_member, pbt_generation, pbt_start_epoch, pbt_parent;
} report_trial;

typedef struct {
    char name[64];
    int categorical, log; /* from Optuna's distribution_json */
    double low, high;     /* its bounds (numbers), NAN when it has none */
    int n_choices;
    char choices[STUDY_MAX_CHOICES][64]; /* JSON text of each choice */
    double *value; /* [n_trials]: the value (choice index for categoricals), NAN absent */
} report_param;

typedef struct {
    int trial; /* index into trials */
    int step;
    double value;
} report_point;

typedef struct {
    char name[STUDY_NAME_MAX];
    int study_id;
    int has_pt; /* the DB has prunetune's tables */
    int n_objectives;
    study_direction dir[STUDY_MAX_OBJECTIVES];
    char objective[STUDY_MAX_OBJECTIVES][64]; /* names when the space says them, else "value" */
    char *space_json; /* pt_studies.space_json, NULL for an Optuna-made study */
    double wall_s;    /* first start .. last end (or last start), seconds */
    int by_state[5];  /* trials per trial_state */
    /* Constraints (study.h): a study with some compares, ranks and draws its
     * feasible COMPLETE trials only; n_infeasible counts the others. */
    int has_constraints;
    char constraints_text[256]; /* "sparsity >= 0.9", "" when the DB does not say */
    int n_infeasible;
    int n_trials;
    report_trial *trials; /* number order */
    int n_params;
    report_param *params;
    int n_points;
    report_point *points; /* intermediate values, by trial then step */
    /* The confirmation runs of the linked study "<name>/confirm"
     * (report_confirm.h), NULL when the DB has none. */
    struct report_confirm *confirm;
    int is_pbt; /* trials carry PBT's attributes (pbt_member ...) */
} report_study;

/* Loads study `name` (NULL: the only study in the DB, not counting the
 * linked "<name>/confirm" studies; several => PT_ERR_CONFIG naming them) from the SQLite file at
 * path. PT_ERR_IO / PT_ERR_FORMAT for a missing or foreign file, PT_ERR_CONFIG for an unknown
 * study, PT_ERR_NOMEM. On error *r is left zeroed. */
pt_status report_load(report_study *r, const char *path, const char *name, pt_err *err);
void report_free(report_study *r);

/* The family of a trial config (JSON text); REPORT_UNKNOWN when it does not
 * parse. *reg_total (may be NULL) gets l1 + l2 + the dropout rates. */
report_family report_family_of(const char *config_json, double *reg_total);
/* "baseline", "regularization", "pruning", "hybrid", "unknown". */
const char *report_family_name(report_family f);

/* 1 when objective value a is better than b under direction d (NAN never is). */
int report_better(study_direction d, double a, double b);

/* Every function below considers feasible COMPLETE trials only, except the
 * reference rows: the baseline and the best of the regularization-only
 * family are unpruned, and are shown whatever the constraints. */
/* Index of the COMPLETE trial of family f with the best objective 0, or -1. */
int report_best_of(const report_study *r, report_family f);
/* The baseline row: the reference trial (user attr pt_role = "baseline",
 * COMPLETE), else the best baseline trial, else the COMPLETE trial with the
 * least pruning (measured sparsity) then the least regularization (family
 * known); *exact = 1 when it is a true baseline. -1 when nothing qualifies. */
int report_baseline(const report_study *r, int *exact);
/* The accuracy the comparison ranks by: test_acc, else val_acc, else the
 * objective when it is an accuracy (NAN otherwise). */
double report_accuracy(const report_study *r, int i);
/* Index of the COMPLETE trial of family f with sparsity >= level and the
 * best report_accuracy, or -1. */
int report_best_at(const report_study *r, report_family f, double level);

/* A PBT study's winner, the feasible COMPLETE trial of the last generation
 * with the best objective 0, and its lineage back through pbt_parent:
 * indices into trials written to idx (capacity n_trials), oldest first.
 * Returns the count, 0 when the study is not PBT or has no such trial. */
int report_pbt_lineage(const report_study *r, int *idx);

/* The Pareto front of (accuracy max, sparsity max) over COMPLETE trials
 * that have both: indices into trials written to idx (capacity n_trials),
 * by increasing sparsity. Returns the count. */
int report_pareto(const report_study *r, int *idx);

/* Share of the variance of objective 0 (COMPLETE trials) explained by each
 * parameter: values binned (categoricals by choice, numbers in 8 equal-width
 * bins, on a log scale when the parameter is log; absent is a bin of its
 * own), between-bin variance / total variance, in [0, 1]. out[n_params];
 * NAN when fewer than 2 trials or no variance. */
void report_importance(const report_study *r, double *out);

#endif
