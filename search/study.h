/*
 * study.h — the study config: what to search, over what, for how long.
 *
 * A study file is JSON (schemas/study.schema.json documents every key):
 *
 *   {
 *     "study": "lenet-prune",            name, unique in the storage
 *     "storage": "lenet.db",             SQLite file (relative to the cwd)
 *     "seed": 1,                         sampler seed (trials get trial.seed)
 *     "n_trials": 64,                    budget: COMPLETE + PRUNED trials (FAIL ones don't count)
 *     "max_failures": 5,                 FAIL trials in a row that end the run, 0 = never
 *     "timeout_s": 0,                    and/or wall-clock budget, 0 = none
 *     "sampler": "random",               "random" | "grid" | "tpe" | "pbt",
 *     "tpe": {"n_startup_trials": 10},   its options (search/sampler_tpe.c)
 *     "pbt": {"population": 8, "interval": 1, "quantile": 0.25,
 *             "perturb": [0.8, 1.2], "resample_probability": 0.25}   (search/pbt.h)
 *     "trial_timeout_s": 600,            give up a worker silent this long
 *     "keep_models": 5,                  keep the .npz of the best K trials (0 = none)
 *     "confirm": {"top": 3, "seeds": 5}, after the search: ablation of the best K over S seeds
 *     "pruner": "none",                  early stopping: "none" | "asha" | "median",
 *     "asha": {"reduction_factor": 3},   its options (also "median": {...})
 *     "objectives": [{"name": "val_acc", "direction": "maximize"}],
 *     "constraints": [{"metric": "sparsity", "min": 0.9}],   feasible trials only
 *     "trial": { ...a prunetune train config (data, net, train, reg, prune)... },
 *     "search_space": {
 *       "prune.schedule": {"type": "categorical", "choices": ["none", "gradual"]},
 *       "prune.sparsity": {"type": "float", "low": 0.5, "high": 0.95},
 *       "reg.l2":         {"type": "float", "low": 1e-6, "high": 1e-2, "log": true},
 *       "prune.rounds":   {"type": "int", "low": 1, "high": 4,
 *                          "when": {"prune.schedule": ["iterative"]}}
 *     }
 *   }
 *
 * A parameter's name IS the train-config key it sets, so a trial's config
 * is `trial` with the sampled values merged in (pt_config_merge): the same
 * JSON then trains the same network through `prunetune train` and through a
 * search. "when" makes a parameter conditional: it is sampled only when the
 * named, earlier parameter took one of the listed values (otherwise the key
 * keeps its `trial` value and the parameter is absent from the trial, as in
 * Optuna). Grid search takes every categorical choice, every int in
 * [low, high] by "step" (default 1), and for floats the list "grid": [...].
 *
 * Errors are one line naming the file and key path and what was expected:
 *   "study.json: search_space.reg.l2.high: must be > low (got 0.1 <= 0.5)"
 * and come before anything touches the database.
 */
#ifndef SEARCH_STUDY_H
#define SEARCH_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "status.h"

#define STUDY_MAX_PARAMS 32
#define STUDY_MAX_CHOICES 32
#define STUDY_MAX_OBJECTIVES 4
#define STUDY_NAME_MAX 128
#define STUDY_MAX_CONSTRAINTS 8
/* Objective values followed by constraint values: what sampler_tell gets. */
#define STUDY_MAX_VALUES (STUDY_MAX_OBJECTIVES + STUDY_MAX_CONSTRAINTS)

typedef enum { PARAM_FLOAT = 0, PARAM_INT = 1, PARAM_CAT = 2 } param_kind;

typedef struct {
    char name[64]; /* the train-config key path, e.g. "reg.l2" */
    param_kind kind;
    double low, high; /* float/int bounds, inclusive */
    int log;          /* float/int: sample on a log scale */
    double step;      /* int (and float when > 0): grid/quantization step */
    int n_choices;    /* categorical: choices as JSON texts ("\"gradual\"", "0.5", "true") */
    char choices[STUDY_MAX_CHOICES][64];
    int n_grid; /* float: explicit grid values for the grid sampler */
    double grid[STUDY_MAX_CHOICES];
    int cond;   /* index of the parameter this one depends on, -1 = none */
    int n_when; /* values of that parameter (choice indices) that enable this one */
    int when[STUDY_MAX_CHOICES];
} study_param;

typedef enum { DIR_MINIMIZE = 1, DIR_MAXIMIZE = 2 } study_direction; /* Optuna's enum values */

typedef struct {
    char name[64]; /* a metric of the final result: val_acc, test_acc, sparsity,
                      latency_b1_us, bytes_stored, flops_per_sample, ... */
    study_direction dir;
} study_objective;

/* "constraints": [{"metric": "sparsity", "min": 0.9}, ...]: a trial is feasible when every
 * metric lies within its bounds. Stored as Optuna 3.1 stores a constraints_func's output
 * (trial system attribute "constraints", one float per constraint, <= 0 = satisfied):
 * min - value for a lower bound, value - max for an upper one, the larger of the two when
 * both are given. A metric missing from the result (or not finite) is +inf: infeasible. */
typedef struct {
    char metric[64]; /* a number of the train result JSON (study_result_metric()) */
    int has_min, has_max;
    double min, max;
} study_constraint;

typedef enum {
    SAMPLER_RANDOM = 0,
    SAMPLER_GRID = 1,
    SAMPLER_TPE = 2,
    SAMPLER_PBT = 3
} sampler_kind;                                                                   /* add at end */
typedef enum { PRUNER_NONE = 0, PRUNER_ASHA = 1, PRUNER_MEDIAN = 2 } pruner_kind; /* add at end */

/* "asha": {...}: rungs at min_resource * reduction_factor^(min_early_stopping_rate + k)
 * steps (epochs); n_brackets > 1 is Hyperband (see search/pruner.h). */
/* "compare" of either rule: which values a trial's value competes with
 * (see search/pruner.h). */
typedef enum {
    PRUNER_COMPARE_SCHEDULE = 0, /* same prune.schedule and phase (default) */
    PRUNER_COMPARE_STRATEGY = 1, /* same schedule, granularity and phase */
    PRUNER_COMPARE_ALL = 2       /* every trial, every step: Optuna's rule */
} pruner_compare;                /* add at end */

typedef struct {
    int min_resource;            /* >= 1, default 1 */
    int reduction_factor;        /* eta >= 2, default 3 */
    int min_early_stopping_rate; /* >= 0, default 0 */
    int n_brackets;              /* >= 1, default 1 */
    pruner_compare compare;      /* default "schedule" */
} study_asha;

/* "median": {...}: Optuna's MedianPruner. */
typedef struct {
    int n_startup_trials;   /* COMPLETE trials before anything is stopped, default 5 */
    int n_warmup_steps;     /* a trial is not stopped before this step, default 0 */
    pruner_compare compare; /* default "schedule" */
} study_median;

/* "tpe": {...}: the TPE sampler's options, Optuna 3.1's TPESampler defaults. */
typedef struct {
    int n_startup_trials; /* random trials before the model, default 10 */
    int n_ei_candidates;  /* draws from l(x) per parameter, default 24 */
    double gamma;         /* good trials: min(ceil(gamma * n), 25) of n, default 0.1 */
    double prior_weight;  /* weight of the prior kernel, default 1 */
    int constant_liar;    /* running trials join the bad group, default 1 */
} study_tpe;

/* "pbt": {...}: Population Based Training (search/pbt.h), Ray Tune's defaults
 * where it has one. */
#define STUDY_MAX_PERTURB 8
typedef struct {
    int population;                    /* members training together, >= 2, default 8 */
    int interval;                      /* epochs between exploit/explore steps, >= 1, default 1 */
    double quantile;                   /* top/bottom fraction, (0, 0.5], default 0.25 */
    int n_perturb;                     /* factors a perturbed parameter is multiplied by, */
    double perturb[STUDY_MAX_PERTURB]; /* one chosen uniformly; default [0.8, 1.2] */
    double resample_probability;       /* [0, 1], default 0.25 */
} study_pbt;

typedef struct {
    char name[STUDY_NAME_MAX];
    char storage[PT_PATH_MAX];
    uint64_t seed;
    int n_trials;     /* 0 = unlimited (then timeout_s must be > 0); grid: default = grid size */
    double timeout_s; /* 0 = none */
    sampler_kind sampler;
    pruner_kind pruner;
    int n_objectives;
    study_objective obj[STUDY_MAX_OBJECTIVES];
    int n_constraints; /* 0 = every trial is feasible */
    study_constraint con[STUDY_MAX_CONSTRAINTS];
    pt_config trial; /* the base trial config */
    int n_params;
    study_param param[STUDY_MAX_PARAMS];
    char *space_json;       /* canonical JSON of search_space + objectives (malloc'd): what
                               resume compares against the stored study */
    study_asha asha;        /* pruner "asha" options (defaults also when another pruner) */
    study_median median;    /* pruner "median" options */
    study_tpe tpe;          /* sampler "tpe" options (defaults also when another sampler) */
    study_pbt pbt;          /* sampler "pbt" options (defaults also when another sampler) */
    int keep_models;        /* final models of the best K trials kept beside the DB, default 5 */
    double trial_timeout_s; /* silence before a trial is given up; 0 = not set (then 600;
                               the --trial-timeout flag wins over it) */
    int max_failures;       /* FAIL trials in a row that end the run (exit 1), default 5;
                               0 = never */
    int confirm_top;        /* "confirm": {"top": K, "seeds": S}: after the search, the best K
                               strategies' ablation is re-run over S seeds (coordinator/confirm.h);
                               0 = off (the default) */
    int confirm_seeds;      /* S >= 1, default 5 */
} study_config;

/* Loads and validates a study file. On error returns PT_ERR_IO / PT_ERR_CONFIG with one line
 * in err and leaves *s zeroed (nothing to free). */
pt_status study_load(study_config *s, const char *path, pt_err *err);
/* As study_load, from text; source names it in errors. */
pt_status study_parse(study_config *s, const char *json, const char *source, pt_err *err);
void study_free(study_config *s);

/* What can be checked before any trial runs, beyond the file's keys: the
 * base trial's data files exist and their headers read as its data.format
 * says (pt_data_probe; headers only, milliseconds). source names the study
 * file in the one-line error, with the key path the file came from:
 *   "study.json: trial.data.dir: /x/train-images-idx3-ubyte.gz: cannot open: ..."
 * A space that varies where the data comes from (a data.dir, data.format or
 * file-path parameter) is not checked here: each trial's worker finds out.
 * PT_ERR_CONFIG on any failure (so `prunetune run` exits 2), else PT_OK. */
pt_status study_probe(const study_config *s, const char *source, pt_err *err);

/* A sampled point: value[i] for parameter i, present[i] = 0 when a condition left it out.
 * Floats/ints hold the number; categoricals hold the choice index (Optuna's internal repr). */
typedef struct {
    int present[STUDY_MAX_PARAMS];
    double value[STUDY_MAX_PARAMS];
} study_point;

/* The trial config for point p: s->trial with p's values merged in, seed unchanged
 * (element params "key[k]" make one list per key, gaps filled from s->trial).
 * PT_ERR_CONFIG when the combination is invalid (e.g. prune.end_epoch > train.epochs);
 * the caller then records the trial as FAILED with that reason. */
pt_status study_trial_config(const study_config *s, const study_point *p, pt_config *out,
                             pt_err *err);

/* Optuna's distribution_json of parameter i, e.g.
 * {"name": "FloatDistribution", "attributes": {"step": null, "low": 1e-06, "high": 0.01, "log":
 * true}} written into buf (returns buf). */
const char *study_distribution_json(const study_param *p, char *buf, size_t cap);

/* Number of points of the full grid (product over params, conditions ignored), or 0 when
 * a float parameter has no grid. */
long study_grid_size(const study_config *s);

/* ---- constraints (study_constraints.c) ----------------------------------- */

/* The values of constraints con[0..n) for a trial whose result is the JSON object result
 * (NULL: none): out[0..n), Optuna's convention (<= 0 satisfied; +inf when the metric is
 * missing or not finite). */
struct cJSON;
void study_constraint_values(const study_constraint *con, int n, const struct cJSON *result,
                             double *out);
/* Total violation: the sum of the positive values (Optuna's TPE ranks infeasible trials by
 * it); 0 exactly when the trial is feasible. NaN counts as +inf. */
double study_violation(const double *c, int n);
/* The stored attribute text of values c[0..n): a JSON list as Python's json.dumps writes
 * it ([-0.05, Infinity]), so Optuna reads it back as the same floats. 0 when cap is short. */
int study_constraints_json(const double *c, int n, char *buf, size_t cap);
/* Parses a stored constraints attribute (also Optuna's own, with Infinity / NaN) into
 * c[0..cap); returns the count, or -1 when json is not a list of numbers. */
int study_constraints_parse(const char *json, double *c, int cap);
/* The feasibility rule of every reader (queries, report, kept models): in a study without
 * constraints every trial is feasible; with constraints a trial is feasible when the
 * violation of its stored values (study_violation) is 0, and one without stored values
 * (violation NaN: it never finished) is not, as Optuna treats a missing attribute. */
int study_feasible(int has_constraints, double violation);
/* Whether name is a number of the train result JSON a constraint may name. */
int study_result_metric(const char *name);

/* The i-th key the study parser accepts, as a path: "$schema", "study", ...,
 * "objectives[].name", ..., "search_space.*.type", ...; NULL past the end.
 * Lets tests check that schemas/study.schema.json documents exactly these. */
const char *study_key(int i);

/* Optuna's BaseDistribution._contains for value v (internal representation:
 * a categorical's index) of q. Optuna runs it on every stored parameter when
 * it loads a trial, so one value outside its distribution would make the
 * whole study unreadable there: the store refuses such a value, and a fixed
 * point (the reference trial) tells samplers only the values it holds. */
int study_param_contains(const study_param *q, double v);

/* Whether parameter i is sampled at point p: no condition, or its condition
 * parameter is present and took one of the "when" choices. Conditions name
 * earlier parameters only, so one pass in order settles every parameter. */
int study_param_active(const study_config *s, const study_point *p, int i);
#endif
