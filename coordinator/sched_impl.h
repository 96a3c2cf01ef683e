/*
 * sched_impl.h — the scheduler's state, shared by its files and nothing else:
 * scheduler.c (the loop, trials, heartbeats, resume), sched_models.c (model
 * bytes on their way to rank 0) and sched_output.c (what a person reads:
 * trial lines, status lines, the final report). Not for other modules.
 */
#ifndef COORD_SCHED_IMPL_H
#define COORD_SCHED_IMPL_H

#include <stddef.h>

#include "models.h"
#include "peer.h"
#include "protocol.h"
#include "pruner.h"
#include "sampler.h"
#include "scheduler.h"
#include "store.h"

/* W_MODEL: the trial is recorded, its model bytes are on their way (the
 * worker is in its blocking send of them and takes no trial until then).
 * W_LOST: silent for trial_timeout_s (it may still run, stuck); W_DEAD: its
 * process is gone (peer.h), so it never needs to reach MPI_Finalize. */
enum { W_UNKNOWN = 0, W_IDLE, W_BUSY, W_MODEL, W_LOST, W_DEAD };

typedef struct {
    int state;
    int trial_id, number;
    study_point point;
    double t_start, t_last;
    int have_last, stop_sent;       /* the pruner's view of the trial */
    double last_value;              /* its last reported value: a PRUNED trial's value */
    size_t model_len;               /* W_MODEL: the bytes announced by the result */
    int model_complete;             /* W_MODEL: the trial ended COMPLETE (else never kept) */
    double v[STUDY_MAX_OBJECTIVES]; /* W_MODEL: its objective values */
    proto_bytes_in in;              /* model bytes being received while in.buf */
    peer_proc proc;                 /* the worker's process, from its ready message */
    int job;                        /* index of its job (sched.job), -1 = sampled */
} wslot;

enum { SCHED_FAIL_KINDS = 8 }; /* distinct reasons tallied in a failure streak */

typedef struct {
    proto_comm comm;
    const study_config *sc;
    const sched_opts *o;
    store *db;
    sampler *sm;
    pruner *pr;
    models *keep; /* the best trials' model files */
    double trial_timeout_s;
    int study_id;
    int n_workers; /* ranks 1..n_workers */
    wslot *w;      /* indexed by rank; w[0] unused */
    int next_number;
    int done_before; /* finished trials that count toward the budget, from earlier runs */
    int started, finished, failed, running;
    int exhausted;       /* the sampler has nothing left */
    double t0;
    int have_best, best_number; /* the best feasible trial */
    int have_complete;          /* a trial of the study completed, feasible or not */
    double best_value;
    proto_outbox out; /* trial messages on their way */
    double cpu0;      /* this process's CPU seconds when the run started */
    /* FAIL trials in a row (sched_fail.c): reset by a COMPLETE or PRUNED one;
     * at the study's max_failures no new trial starts and the run fails. */
    int fail_streak, fail_stop, n_fail_kinds;
    struct {
        char text[256];
        int n;
    } fail_kind[SCHED_FAIL_KINDS]; /* the streak's reasons, numbers ignored */
    peer_proc self;   /* this process: workers on its node watch it (trial message) */
    double t_alive;   /* when the workers' processes were last looked up */
    const sched_job **job; /* the jobs (the reference trial, sched_opts.jobs), in order */
    int *job_number;       /* the trial number each job got, -1 = not started */
    int n_jobs, next_job;
    const sched_job *ref_job; /* the reference trial's job when this run starts it, else NULL */
    int ref_number;           /* the reference trial's number, -1 = none (yet) */
    struct sched_pbt *pbt; /* sampler "pbt": the population (sched_pbt.c), else NULL */
} sched;

/* scheduler.c, for sched_pbt.c: the trial message of a trial whose config is
 * json (the caller sends and frees it); a slot marked busy with a trial; a
 * trial recorded FAIL with its reason (the sampler, pruner and streak told). */
cJSON *sched_trial_message(const sched *s, int trial_id, int number, const char *json);
void sched_slot_busy(sched *s, int rank, int trial_id, int number, const study_point *p, int job);
pt_status sched_end_fail(sched *s, int trial_id, int number, const study_point *p, const char *why,
                         pt_err *err);

/* ---- sched_pbt.c: Population Based Training's run (sched_pbt.h) ---------- */
/* Opens the population: fresh, or resumed from the files beside the DB. */
pt_status sched_pbt_open(sched *s, pt_err *err);
void sched_pbt_free(struct sched_pbt *p);
/* Whether member-intervals are left to run (the run's budget). */
int sched_pbt_left(const sched *s);
/* Starts the next member-interval of the current generation on worker rank;
 * *used = 0 when none is ready (the generation is running or recording). */
pt_status sched_pbt_start(sched *s, int rank, int *used, pt_err *err);
/* Trial `number` ended COMPLETE with values v (objectives, then constraint
 * values) and final sparsity; its checkpoint follows when model_coming. */
void sched_pbt_result(sched *s, int number, const double *v, double sparsity, int model_coming);
/* The checkpoint bytes of trial `number` arrived (bytes NULL: wrong size). */
void sched_pbt_model(sched *s, int number, const void *bytes, size_t len);
/* Trial `number` failed, or its checkpoint will never come. */
void sched_pbt_lost(sched *s, int number);
/* Once every member of the generation is recorded: exploit/explore, the
 * state written beside the DB, the next generation made ready. */
pt_status sched_pbt_turn(sched *s, pt_err *err);

/* The label of the job trial `number` ran, or NULL for a sampled trial. */
const char *sched_job_label(const sched *s, int number);

/* One line on stderr for a finished trial (why: a FAIL's reason). */
void sched_progress(const sched *s, int number, const study_point *p, trial_state st,
                    const double *values, double sparsity, double elapsed, const char *why);
/* "[   61s] 3/6 done (0 failed), 1 running, best ..., ETA 61s" on stderr. */
void sched_status_line(const sched *s);
/* The best trial, the DB and the run's figures, on stdout. */
void sched_final_report(const sched *s, const study_config *sc);

/* This process's CPU time (user + system), in seconds. */
double sched_cpu_s(void);

/* A trial ended FAIL with reason why: one more in the streak; at
 * max_failures sets fail_stop (and says so on stderr unless quiet). */
void sched_fail_note(sched *s, const char *why);
/* A trial ended COMPLETE or PRUNED: the streak is over. */
void sched_fail_reset(sched *s);
/* The run's error once fail_stop is set: the streak and its most frequent
 * reason, one line (PT_ERR_IO: the run failed). */
pt_status sched_fail_error(const sched *s, pt_err *err);

/* Model bytes whose receive has started (proto_poll_bytes) from rank src. */
void sched_start_model(sched *s, int src, const proto_bytes_in *in);
/* Finishes the model receives that are done; never waits. */
void sched_finish_models(sched *s);
/* Whether a slot still waits for its model bytes (W_MODEL). */
int sched_models_awaited(const sched *s);

#endif
