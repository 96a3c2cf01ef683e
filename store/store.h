/*
 * store.h — the study database: SQLite, Optuna-compatible, one writer.
 *
 * The tables are Optuna 3.1's RDB storage (schema "v3.0.0.d": studies,
 * study_directions, study_user/system_attributes, trials, trial_params,
 * trial_values, trial_intermediate_values, trial_user/system_attributes,
 * trial_heartbeats, version_info, alembic_version), so
 * optuna.load_study(storage="sqlite:///x.db") reads a prunetune study. What
 * Optuna has no column for (sparsity, nnz, bytes, FLOPs, latency, speed-up,
 * test accuracy, the trial's full config and result JSON) lives in
 * prunetune's own tables (see schemas/store.sql) and is mirrored as trial
 * user attributes. Schema upgrades go through PRAGMA user_version.
 *
 * Concurrency: only rank 0 of a run writes (one transaction per event);
 * the file is in WAL mode so readers (prunetune best/top/report, Optuna)
 * can query it at any time. Read-only handles never write. A store is used
 * by one thread at a time.
 *
 * Errors are one line naming the file: PT_ERR_IO when SQLite fails,
 * PT_ERR_ARG when the caller breaks a rule — a write through a read-only
 * handle, an event for a trial that is not RUNNING, a parameter value outside
 * its distribution (Optuna would then refuse to load the whole study), a NaN
 * objective value (end such a trial FAIL instead). A failed event writes
 * nothing. On a read-only handle store_study_open only finds the study
 * (PT_ERR_CONFIG when it is missing).
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include "sampler.h"
#include "status.h"
#include "study.h"

typedef struct store store;

/* Opens (creating when writable and missing) the database at path.
 * readonly: open with SQLITE_OPEN_READONLY; a missing file or a file that is
 * not a prunetune/Optuna database is PT_ERR_IO/PT_ERR_FORMAT with one line. */
pt_status store_open(store **out, const char *path, int readonly, pt_err *err);
void store_close(store *st);

/* Finds the study sc->name or creates it with its directions and its
 * space (sc->space_json, kept so a resumed run can be checked against it).
 * An existing study whose space or directions differ is PT_ERR_CONFIG
 * ("db: study 'x' exists with another search space; use --force") unless
 * force. *created says which happened. */
pt_status store_study_open(store *st, const study_config *sc, int force, int *study_id,
                           int *created, pt_err *err);

/* Resume: marks the study's RUNNING trials FAIL (reason: the run that owned
 * them ended) and returns how many in *n. */
pt_status store_fail_running(store *st, int study_id, int *n, pt_err *err);

/* Calls fn once per trial of the study, in number order, with its point
 * (rebuilt from trial_params against sc's parameters) and objective values
 * (NULL unless COMPLETE/PRUNED), followed by its values of sc's constraints
 * when sc has some (as sampler_tell takes them). Used to replay history into a sampler and to
 * count the budget on resume. The whole replay reads one snapshot; fn must
 * not call the store st itself. */
typedef void (*store_trial_fn)(void *ctx, int number, trial_state st, const study_point *p,
                               const double *values);
pt_status store_each_trial(store *st, int study_id, const study_config *sc, store_trial_fn fn,
                           void *ctx, pt_err *err);

/* Calls fn once per stored intermediate value of the study's trials, in the
 * order they were recorded (the order a pruner saw them; a non-finite value
 * as NaN/inf), to rebuild a pruner on resume. One snapshot, as
 * store_each_trial; fn must not call the store. */
typedef void (*store_report_fn)(void *ctx, int number, int step, double value);
pt_status store_each_report(store *st, int study_id, store_report_fn fn, void *ctx, pt_err *err);

/* One transaction: a new RUNNING trial (next number) with its params
 * (Optuna's distribution_json) and its full train config JSON. */
pt_status store_trial_begin(store *st, int study_id, const study_config *sc, const study_point *p,
                            const char *config_json, int *trial_id, int *number, pt_err *err);

/* One transaction: intermediate value of a trial at step (epoch). */
pt_status store_trial_report(store *st, int trial_id, int step, double value, pt_err *err);

/* One transaction: the trial ends in state st with values[0..n_values)
 * (n_values 0 for FAIL), result_json (the worker's final metrics object, or
 * NULL) and fail_reason (FAIL only, else NULL). When the study opened by
 * store_study_open has constraints, a COMPLETE or PRUNED trial also gets the
 * trial system attribute "constraints" computed from result_json (study.h),
 * which Optuna reads as its constraints_func output. */
pt_status store_trial_end(store *st, int trial_id, trial_state state, const double *values,
                          int n_values, const char *result_json, const char *fail_reason,
                          pt_err *err);

/* One transaction: sets the trial user attribute key to the JSON text json
 * (any state; NULL json deletes it). The model keeper records "model_path"
 * this way. */
pt_status store_trial_attr(store *st, int trial_id, const char *key, const char *json, pt_err *err);

/* Marked trials: the reference trial and the confirmation runs
 * (coordinator/confirm.h). As store_trial_begin, and in the same
 * transaction every member of the JSON object texts user_attrs and
 * system_attrs (either may be NULL) becomes a trial user / system attribute.
 * A parameter value outside its distribution is stored as given, as Optuna's
 * enqueue_trial does with fixed params (the reference trial's "off" values
 * lie outside the space); Optuna still loads such a study. */
pt_status store_trial_begin_fixed(store *st, int study_id, const study_config *sc,
                                  const study_point *p, const char *config_json,
                                  const char *user_attrs, const char *system_attrs, int *trial_id,
                                  int *number, pt_err *err);

/* The number of the study's first trial that is not FAIL and whose user
 * attribute key holds the JSON text value_json, or -1 in *number. */
pt_status store_find_marked(store *st, int study_id, const char *key, const char *value_json,
                            int *number, pt_err *err);

/* Calls fn once per COMPLETE confirmation run of the study (user attributes
 * pt_variant, pt_rank, pt_source_trial, pt_seed; runs missing one are
 * skipped), in number order. One snapshot; fn must not call the store. */
typedef void (*store_run_fn)(void *ctx, const char *variant, int rank, int source, int seed);
pt_status store_each_confirm_run(store *st, int study_id, store_run_fn fn, void *ctx, pt_err *err);

/* The stored canonical JSON of a study's search space and objectives
 * (pt_studies.space_json; malloc'd into *json, NULL for a study Optuna
 * made). Lets a command rebuild the study from its DB alone. */
pt_status store_study_space(store *st, int study_id, char **json, pt_err *err);

/* PRAGMA integrity_check and foreign_key_check: PT_OK when both are clean,
 * else PT_ERR_FORMAT with the first problem. */
pt_status store_integrity(store *st, pt_err *err);

#endif
