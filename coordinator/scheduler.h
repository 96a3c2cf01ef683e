/*
 * scheduler.h — rank 0's event loop: hands trials to free workers, records
 * every event in the study database, stops when the budget is spent.
 *
 * sched_run() owns the study from open to close: it opens the store
 * (creating the study, or resuming it: trials a dead run left RUNNING become
 * FAIL and the stored trials are replayed into the sampler, COMPLETE and
 * PRUNED ones counting toward n_trials, and their intermediate values into
 * the pruner),
 * then loops:
 *   a free worker  -> sampler_ask -> study_trial_config -> store_trial_begin
 *                     -> "trial" message (a config invalid for the sampled
 *                     point is recorded FAIL with its reason, no worker used)
 *   "report"       -> store_trial_report (the intermediate value) -> pruner_report
 *                     -> with a pruner, a "verdict" (go on / stop) the worker
 *                     waits for before its next epoch
 *   "result"       -> the objectives, read from the metrics by name ->
 *                     store_trial_end COMPLETE (PRUNED when stopped, with its
 *                     last reported value as the first objective) + sampler_tell
 *                     -> the model bytes after it (received without waiting,
 *                     sched_models.c), kept when the trial enters the best
 *                     keep_models (models.h)
 *   "fail"         -> store_trial_end FAIL with the reason
 * until n_trials trials are COMPLETE or PRUNED (FAIL ones never count, as in
 * Optuna's MaxTrialsCallback: each leaves room for another), timeout_s has
 * passed, the study's max_failures trials in a row have FAILed, or the grid
 * is exhausted (running trials then finish); then every worker gets "exit".
 *
 * A running trial whose worker sent nothing for trial_timeout_s is FAILED
 * and its worker set aside as lost (taken back if it speaks again); a worker
 * whose model bytes do not arrive within it is set aside the same way, its
 * trial staying COMPLETE. When no worker is left the run stops with a
 * message instead of waiting forever. One run per study at a time
 * (runlock.h): a second one is refused before it touches the study.
 *
 * Waiting never blocks in MPI (see protocol.h): rank 0 sleeps between polls,
 * so it costs well under 5% of a core while workers train.
 *
 * Reference trial: unless jobs_only, a study that has none (no trial with
 * user attribute pt_role "baseline" that is not FAIL) runs it first
 * (confirm.h); it counts toward n_trials. Jobs are recorded with their marks
 * (store_trial_begin_fixed); the sampler is told their points without the
 * values outside the space.
 *
 * Output (unless quiet): one line per finished trial and a status line every
 * status_every_s on stderr. The best trial and the DB path go to stdout.
 *
 * Errors: PT_ERR_CONFIG when the stored study disagrees with sc (no --force);
 * PT_ERR_IO for database or MPI failures, all workers lost, a run stopped by
 * max_failures (err: the failures' most frequent reason), and a study that
 * ends with no COMPLETE trial at all (a run whose every trial failed never
 * succeeds). One line in err.
 */
#ifndef COORD_SCHEDULER_H
#define COORD_SCHEDULER_H

#include "protocol.h"

#include "status.h"
#include "study.h"

/* A trial given rather than sampled (Optuna's enqueue_trial): the
 * reference trial, a confirmation run (coordinator/confirm.h). */
typedef struct {
    study_point point;  /* its params as stored (a value may lie outside the space) */
    char *config_json;  /* the full train config the worker runs */
    char *user_attrs;   /* JSON object: trial user attributes, or NULL */
    char *system_attrs; /* JSON object: trial system attributes, or NULL */
    char label[64];     /* in progress lines: "reference", "hybrid#1 seed 3" */
} sched_job;

typedef struct {
    int quiet;
    int force;              /* resume even if the stored space differs */
    int dry_run;            /* workers answer at once with fake metrics */
    double trial_timeout_s; /* silence after which a trial and its worker are given up;
                               0 = the study's trial_timeout_s, else 600 */
    double status_every_s;  /* period of the status line */
    const sched_job *jobs;  /* run before any sampled trial, in order; never stopped early */
    int n_jobs;
    int jobs_only; /* run exactly the jobs (a confirmation): no sampling, no reference trial;
                      the status counts sc->n_trials - n_jobs as done before */
    int *pool;     /* NULL: this run owns the workers and sends them "exit" at the end. Else
                      one int per rank, zeroed before the first run, carried over to the next
                      run on the same comm (a worker says "ready" once); end with
                      sched_pool_dismiss */
} sched_opts;

typedef struct {
    int finished;  /* trials that ended in this run (any state) */
    int failed;    /* of which FAIL */
    int lost;      /* workers given up as lost at the end */
    int dead;      /* workers whose process died during the run (not lost) */
    double wall_s; /* of this run */
} sched_summary;

/* Defaults: status_every_s 10, the rest 0. */
void sched_opts_default(sched_opts *o);

/* Runs the study on comm, whose ranks 1..size-1 run worker_run(). */
pt_status sched_run(proto_comm comm, const study_config *sc, const sched_opts *o, sched_summary *sum,
                    pt_err *err);

/* A "pbt" study (sched_pbt.c), checked before anything runs: the epochs and
 * the kind of pruning schedule are fixed (a member continues its schedule
 * at the next interval: prune.schedule "none" or "gradual", neither searched
 * nor train.epochs), and n_trials becomes population * generations (one
 * trial per member-interval). PT_ERR_CONFIG with one line naming source and
 * the key. Other samplers: PT_OK, sc unchanged. */
pt_status sched_pbt_prepare(study_config *sc, const char *source, pt_err *err);

/* Sends "exit" to ranks 1..size-1 (used when the study never started). */
void sched_dismiss(proto_comm comm);
/* Sends "exit" to the ranks of a pool (sched_opts.pool) not given up as lost
 * or dead; returns how many were lost, and *dead how many died. */
int sched_pool_dismiss(proto_comm comm, const int *pool, int *dead);

#endif
