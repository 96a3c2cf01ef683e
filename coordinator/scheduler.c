/*
 * scheduler.c — the coordinator's event loop (see scheduler.h).
 *
 * One thread, one loop, no blocking call: each turn hands work to every free
 * worker, drains every message waiting, checks the heartbeats, prints, and
 * pauses only when a turn found nothing to do. The pause first just yields
 * the core, then sleeps from 20 us doubling to 10 ms (proto_pause), so a
 * burst of instant trials is served at full speed while a study of
 * minute-long trials wakes rank 0 ~100 times a second at most: measured
 * 0.3-1% of a core while workers train (scripts/bench_sched). Trial messages
 * go out with MPI_Isend through an outbox, so a worker slow to receive never
 * holds the loop.
 *
 * Workers are a small array indexed by rank; finding a free one or a trial's
 * worker is a linear scan, O(workers) per event, which is nothing next to a
 * database transaction up to thousands of ranks. Dynamic load balancing
 * falls out of the protocol: a worker gets its next trial the moment its
 * result arrives, so fast and slow trials mix without a static split.
 *
 * The database sees one transaction per event (begin, report, end), written
 * by this rank only; a crash between events loses nothing but the running
 * trials, which the next run marks FAIL and samples again.
 *
 * Why one file of ~700 lines: the event loop's turn is one state machine over the workers;
 * failure bookkeeping (sched_fail.c), model transfer (sched_models.c) and
 * output (sched_output.c) are already apart.
 */
#include "scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "confirm.h"
#include "models.h"
#include "protocol.h"
#include "pruner.h"
#include "runlock.h"
#include "sampler.h"
#include "sched_impl.h"
#include "store.h"
#include "sysinfo.h"

void sched_opts_default(sched_opts *o)
{
    memset(o, 0, sizeof *o);
    o->trial_timeout_s = 0; /* the study's trial_timeout_s, else 600 */
    o->status_every_s = 10;
}

void sched_dismiss(proto_comm comm)
{
    int size = 1;
    size = proto_size(comm);
    for (int r = 1; r < size; r++) {
        cJSON *m = cJSON_CreateObject();
        pt_err e;
        proto_send(comm, r, MSG_EXIT, m, &e);
        cJSON_Delete(m);
    }
}

/* "exit" to every worker not given up as lost: a blocking send to a dead
 * process (over TCP, for spawned workers) could wait forever. After a
 * worker died or was lost, "finalize": false: Open MPI 4.1's MPI_Finalize
 * waits, now and then for ever, on a dead rank (its closing fence; seen in
 * 1 run of 3 under mpirun --enable-recovery), and a lost one may never
 * come, so every rank leaves without it. */
static void dismiss_live(sched *s)
{
    int dead = 0;
    for (int r = 1; s->w && r <= s->n_workers; r++)
        dead += s->w[r].state == W_DEAD || s->w[r].state == W_LOST;
    for (int r = 1; r <= s->n_workers; r++) {
        if (s->w && (s->w[r].state == W_LOST || s->w[r].state == W_DEAD))
            continue;
        cJSON *m = cJSON_CreateObject();
        if (dead)
            cJSON_AddBoolToObject(m, "finalize", 0);
        pt_err e;
        proto_isend(s->comm, r, MSG_EXIT, m, &s->out, &e);
        cJSON_Delete(m);
    }
}

static int better(const sched *s, double v)
{
    if (!s->have_best)
        return 1;
    return s->sc->obj[0].dir == DIR_MAXIMIZE ? v > s->best_value : v < s->best_value;
}

static void note_best(sched *s, int number, const double *values)
{
    if (values && isfinite(values[0]))
        s->have_complete = 1;
    /* values carry the constraint values after the objectives: "best" is feasible */
    if (values && isfinite(values[0]) && better(s, values[0]) &&
        study_violation(values + s->sc->n_objectives, s->sc->n_constraints) == 0) {
        s->have_best = 1;
        s->best_number = number;
        s->best_value = values[0];
    }
}

/* What the sampler is told of trial `number`'s point. The reference trial
 * is a point outside the space, pruning and regularization switched off by
 * us, not drawn: its values would tell the estimators that "no L1, no
 * dropout, the base learning rate" made a trial infeasible, where the
 * missing pruning did. Like Optuna's enqueued {} baseline it tells no
 * parameter: it counts among the trials (n, the split), moves no estimate. */
static const study_point *told_point(const sched *s, int number, const study_point *p)
{
    static const study_point none; /* every parameter absent */
    return number == s->ref_number ? &none : p;
}

/* Resume: replay stored trials into the sampler and the budget. */
typedef struct {
    sched *s;
    int counted; /* COMPLETE and PRUNED: the trials n_trials counts */
    int failed;
    pt_status st; /* the pruner's first failure */
    pt_err err;
} replay_ctx;

static void replay_one(void *ctx, int number, trial_state st, const study_point *p,
                       const double *values)
{
    replay_ctx *r = ctx;
    if (number + 1 > r->s->next_number)
        r->s->next_number = number + 1;
    if (st == TRIAL_RUNNING || st == TRIAL_WAITING)
        return;
    sampler_tell(r->s->sm, number, told_point(r->s, number, p), st, values);
    if (r->st == PT_OK)
        r->st = pruner_finish(r->s->pr, number, st, &r->err);
    /* Optuna's MaxTrialsCallback counts COMPLETE and PRUNED: a FAIL (a
     * missing file, a killed run) is sampled again rather than spending
     * the budget. */
    r->counted += st != TRIAL_FAIL;
    r->failed += st == TRIAL_FAIL;
    if (st == TRIAL_COMPLETE)
        note_best(r->s, number, values);
}

/* Resume: the pruner learns each stored trial's schedule (from its stored
 * point, as start_trial does) before its reports come back. */
static void replay_trial_config(void *ctx, int number, trial_state st, const study_point *p,
                                const double *values)
{
    (void)st;
    (void)values;
    replay_ctx *r = ctx;
    pt_config cfg;
    pt_err cerr = {{0}};
    if (r->st == PT_OK && study_trial_config(r->s->sc, p, &cfg, &cerr) == PT_OK)
        r->st = pruner_trial(r->s->pr, number, &cfg, &r->err);
}

/* Resume: the pruner sees the stored reports again, in their order (its
 * answers are already acted on). */
static void replay_report(void *ctx, int number, int step, double value)
{
    replay_ctx *r = ctx;
    int stop = 0;
    if (r->st == PT_OK)
        r->st = pruner_report(r->s->pr, number, step, value, &stop, &r->err);
}

/* A trial whose worker died is FAIL with this reason, and sampled again. */
#define WORKER_DIED "its worker died"

/* Running trials count toward n_trials (they may yet complete), FAIL ones
 * never: a failed one leaves room for one more. */
static int budget_left(const sched *s)
{
    if (s->exhausted || s->fail_stop)
        return 0;
    if (s->o->jobs_only)
        return s->next_job < s->n_jobs;
    if (s->sc->timeout_s > 0 && pt_now() - s->t0 >= s->sc->timeout_s)
        return 0;
    if (s->pbt) /* generations, not a count of trials (sched_pbt.h) */
        return sched_pbt_left(s);
    return s->sc->n_trials <= 0 || s->done_before + s->started - s->failed < s->sc->n_trials;
}

/* Records a trial that ended without a result (FAIL) and tells the sampler.
 * streak: whether it counts toward max_failures (a trial whose worker died
 * did nothing wrong: a node lost is not a study that cannot work). */
static pt_status end_fail_as(sched *s, int trial_id, int number, const study_point *p,
                             double elapsed, const char *why, int streak, pt_err *err)
{
    pt_status st = store_trial_end(s->db, trial_id, TRIAL_FAIL, NULL, 0, NULL, why, err);
    if (st != PT_OK)
        return st;
    sampler_tell(s->sm, number, told_point(s, number, p), TRIAL_FAIL, NULL);
    if (s->pbt)
        sched_pbt_lost(s, number);
    st = pruner_finish(s->pr, number, TRIAL_FAIL, err);
    if (st != PT_OK)
        return st;
    s->finished++;
    s->failed++;
    sched_progress(s, number, p, TRIAL_FAIL, NULL, 0, elapsed, why);
    if (streak)
        sched_fail_note(s, why);
    return PT_OK;
}

static pt_status end_fail(sched *s, int trial_id, int number, const study_point *p, double elapsed,
                          const char *why, pt_err *err)
{
    return end_fail_as(s, trial_id, number, p, elapsed, why, 1, err);
}

pt_status sched_end_fail(sched *s, int trial_id, int number, const study_point *p, const char *why,
                         pt_err *err)
{
    return end_fail(s, trial_id, number, p, 0, why, err);
}

cJSON *sched_trial_message(const sched *s, int trial_id, int number, const char *json)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "trial_id", trial_id);
    cJSON_AddNumberToObject(m, "number", number);
    cJSON_AddRawToObject(m, "config", json);
    cJSON_AddStringToObject(m, "report_metric", s->sc->obj[0].name);
    cJSON_AddBoolToObject(m, "dry_run", s->o->dry_run);
    cJSON_AddBoolToObject(m, "verdicts", s->sc->pruner != PRUNER_NONE);
    cJSON_AddBoolToObject(m, "keep_model", models_enabled(s->keep) && !s->o->dry_run);
    /* a worker on this node leaves when this process is gone (worker.h) */
    peer_to_json(&s->self, cJSON_AddObjectToObject(m, "coordinator"));
    cJSON *objs = cJSON_AddArrayToObject(m, "objectives");
    for (int i = 0; objs && i < s->sc->n_objectives; i++)
        cJSON_AddItemToArray(objs, cJSON_CreateString(s->sc->obj[i].name));
    cJSON *cons = cJSON_AddArrayToObject(m, "constraint_metrics"); /* cost timed in full */
    for (int i = 0; cons && i < s->sc->n_constraints; i++)
        cJSON_AddItemToArray(cons, cJSON_CreateString(s->sc->con[i].metric));
    return m;
}

void sched_slot_busy(sched *s, int rank, int trial_id, int number, const study_point *p, int job)
{
    wslot *w = &s->w[rank];
    w->state = W_BUSY;
    w->trial_id = trial_id;
    w->number = number;
    w->point = *p;
    w->t_start = w->t_last = pt_now();
    w->have_last = w->stop_sent = 0;
    w->job = job;
    s->running++;
}

/* Asks for a point (or takes the next job) and starts it on worker rank;
 * *used = 0 when no worker was needed (an invalid config, recorded FAIL) or
 * nothing is left. */
static pt_status start_trial(sched *s, int rank, int *used, pt_err *err)
{
    *used = 0;
    if (s->pbt)
        return sched_pbt_start(s, rank, used, err);
    study_point p;
    pt_err aerr = {{0}};
    pt_config cfg;
    pt_err cerr = {{0}};
    pt_status st = PT_OK, cst = PT_OK;
    const sched_job *job = s->next_job < s->n_jobs ? s->job[s->next_job] : NULL;
    char *json = NULL;
    if (job) { /* its config is built and checked (confirm.c); its point may leave the space */
        confirm_point_in_space(s->sc, &job->point, &p);
        json = strdup(job->config_json);
    } else {
        st = sampler_ask(s->sm, s->next_number, &p, &aerr);
        if (st == PT_ERR_STOPPED) {
            s->exhausted = 1;
            return PT_OK;
        }
        if (st != PT_OK)
            return pt_fail(err, st, "%s", aerr.msg);
        cst = study_trial_config(s->sc, &p, &cfg, &cerr);
        json = pt_config_to_json(cst == PT_OK ? &cfg : &s->sc->trial);
    }
    if (!json)
        return pt_fail(err, PT_ERR_NOMEM, "scheduler: out of memory");
    int trial_id = 0, number = 0;
    st = job ? store_trial_begin_fixed(s->db, s->study_id, s->sc, &job->point, json,
                                       job->user_attrs, job->system_attrs, &trial_id, &number, err)
             : store_trial_begin(s->db, s->study_id, s->sc, &p, json, &trial_id, &number, err);
    if (st != PT_OK) {
        free(json);
        return st;
    }
    if (job)
        s->job_number[s->next_job++] = number;
    if (job && job == s->ref_job)
        s->ref_number = number;
    s->next_number = number + 1;
    s->started++;
    if (cst != PT_OK) {
        free(json);
        return end_fail(s, trial_id, number, &p, 0, cerr.msg, err);
    }
    /* A job is never stopped early, and its cfg was not built here: the
     * pruner keeps it in the default group (no schedule). */
    if (!job && (st = pruner_trial(s->pr, number, &cfg, err)) != PT_OK) {
        free(json);
        return st;
    }
    cJSON *m = sched_trial_message(s, trial_id, number, json);
    free(json);
    st = proto_isend(s->comm, rank, MSG_TRIAL, m, &s->out, err);
    cJSON_Delete(m);
    if (st != PT_OK)
        return st;
    sched_slot_busy(s, rank, trial_id, number, &p, job ? s->next_job - 1 : -1);
    *used = 1;
    return PT_OK;
}

static pt_status dispatch(sched *s, pt_err *err)
{
    for (int r = 1; r <= s->n_workers; r++) {
        while (s->w[r].state == W_IDLE && budget_left(s)) {
            int used = 0;
            pt_status st = start_trial(s, r, &used, err);
            if (st != PT_OK)
                return st;
            if (used || s->pbt) /* a PBT member not ready yet waits for its generation */
                break;
        }
    }
    return PT_OK;
}

/* The objective values from a result's metrics, by name; NULL reason when all are finite. */
static const char *objective_values(const sched *s, const cJSON *metrics, double *v, char *why,
                                    size_t cap)
{
    for (int i = 0; i < s->sc->n_objectives; i++) {
        const char *name = s->sc->obj[i].name;
        v[i] = proto_num(metrics, name, NAN);
        if (!isfinite(v[i])) {
            snprintf(why, cap, "objective '%s' is missing or not finite in the result", name);
            return why;
        }
    }
    return NULL;
}

static pt_status on_result(sched *s, wslot *w, const cJSON *msg, pt_err *err)
{
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(msg, "metrics");
    int stopped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "stopped"));
    double v[STUDY_MAX_VALUES], elapsed = pt_now() - w->t_start;
    char whybuf[256];
    const char *why = cJSON_IsObject(metrics)
                          ? objective_values(s, metrics, v, whybuf, sizeof whybuf)
                          : "result message without metrics";
    study_constraint_values(s->sc->con, s->sc->n_constraints, metrics, v + s->sc->n_objectives);
    if (why)
        return end_fail(s, w->trial_id, w->number, &w->point, elapsed, why, err);
    trial_state ts = stopped ? TRIAL_PRUNED : TRIAL_COMPLETE;
    if (stopped && w->have_last)
        v[0] = w->last_value; /* Optuna's rule: a PRUNED trial's value is its last report */
    char *text = cJSON_PrintUnformatted(metrics);
    pt_status st = store_trial_end(s->db, w->trial_id, ts, v, s->sc->n_objectives, text, NULL, err);
    free(text);
    if (st != PT_OK)
        return st;
    double n = proto_num(msg, "model_bytes", 0);
    if (s->pbt)
        sched_pbt_result(s, w->number, v, proto_num(metrics, "sparsity", NAN), n > 0);
    /* A model that cannot be kept costs the model, not the study. */
    const char *why_no = proto_str(msg, "model_error");
    if (why_no && !s->o->quiet)
        fprintf(stderr, "trial %d: model not kept: %s\n", w->number, why_no);
    if (n > 0) { /* the bytes follow: on_model() takes them */
        w->state = W_MODEL;
        w->t_last = pt_now();
        w->model_len = (size_t)n;
        w->model_complete = ts == TRIAL_COMPLETE;
        memcpy(w->v, v, sizeof w->v);
    }
    sampler_tell(s->sm, w->number, told_point(s, w->number, &w->point), ts, v);
    if ((st = pruner_finish(s->pr, w->number, ts, err)) != PT_OK)
        return st;
    s->finished++;
    sched_fail_reset(s);
    if (ts == TRIAL_COMPLETE)
        note_best(s, w->number, v);
    sched_progress(s, w->number, &w->point, ts, v, proto_num(metrics, "sparsity", 0), elapsed,
                   NULL);
    return PT_OK;
}

/* The answer a worker waits for after each report when there is a pruner. */
static pt_status send_verdict(sched *s, int rank, int trial_id, int epoch, int stop, pt_err *err)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "trial_id", trial_id);
    cJSON_AddNumberToObject(m, "epoch", epoch);
    cJSON_AddBoolToObject(m, "stop", stop);
    pt_status st = proto_isend(s->comm, rank, MSG_VERDICT, m, &s->out, err);
    cJSON_Delete(m);
    return st;
}

/* A per-epoch value: stored, then judged by the pruner; the verdict goes
 * out at once, before the worker trains another epoch (see worker.c). */
static pt_status on_report(sched *s, wslot *w, int rank, const cJSON *msg, pt_err *err)
{
    w->t_last = pt_now();
    double v = proto_num(msg, "value", NAN);
    int epoch = (int)proto_num(msg, "epoch", 0), stop = 0;
    pt_status st = isfinite(v) ? store_trial_report(s->db, w->trial_id, epoch, v, err) : PT_OK;
    /* No value (an epoch train.val_every did not validate): nothing to
     * judge, but the worker still waits for its verdict. */
    if (st == PT_OK && !w->stop_sent && isfinite(v))
        st = pruner_report(s->pr, w->number, epoch, v, &stop, err);
    if (isfinite(v)) {
        w->have_last = 1;
        w->last_value = v;
    }
    if (st != PT_OK || s->sc->pruner == PRUNER_NONE)
        return st;
    /* A given trial (the baseline) is trained in full: the pruner sees its
     * values but never stops it. */
    w->stop_sent |= stop && w->job < 0;
    return send_verdict(s, rank, w->trial_id, epoch, w->stop_sent, err);
}

static pt_status on_message(sched *s, int src, int tag, const cJSON *msg, pt_err *err)
{
    if (src < 1 || src > s->n_workers)
        return PT_OK;
    wslot *w = &s->w[src];
    int tid = (int)proto_num(msg, "trial_id", -1);
    int mine = w->state == W_BUSY && tid == w->trial_id;
    if (tag == MSG_READY && w->state != W_BUSY) {
        w->state = W_IDLE;
        peer_from_json(&w->proc, msg, NULL);
        return PT_OK;
    }
    if (w->state == W_DEAD) /* sent before it died: its trial is already FAIL */
        return PT_OK;
    if (tag == MSG_REPORT && mine)
        return on_report(s, w, src, msg, err);
    if (tag == MSG_REPORT && s->sc->pruner != PRUNER_NONE) /* a trial given up: end it */
        return send_verdict(s, src, tid, (int)proto_num(msg, "epoch", 0), 1, err);
    if (tag != MSG_RESULT && tag != MSG_FAIL)
        return PT_OK;
    if (!mine) {
        /* A lost worker came back after its trial was given up: take it back. */
        if (w->state == W_LOST && !s->o->quiet)
            fprintf(stderr, "worker %d is back (its trial was already recorded FAIL)\n", src);
        if (w->state != W_BUSY)
            w->state = W_IDLE;
        return PT_OK;
    }
    pt_status st;
    w->state = W_IDLE;
    s->running--;
    if (tag == MSG_RESULT) {
        st = on_result(s, w, msg, err);
    } else {
        const char *why = proto_str(msg, "reason");
        st = end_fail(s, w->trial_id, w->number, &w->point, pt_now() - w->t_start,
                      why ? why : "the worker gave no reason", err);
    }
    return st;
}

/* A worker whose process is gone (peer.h; Open MPI tells nothing): its trial
 * is FAIL at once, not after trial_timeout_s, and sampled again (it does
 * not use the budget); a model on its way is not kept. */
static pt_status worker_died(sched *s, int r, pt_err *err)
{
    wslot *w = &s->w[r];
    int state = w->state;
    w->state = W_DEAD;
    if (!s->o->quiet)
        fprintf(stderr, "worker %d (pid %ld) died; %s\n", r, w->proc.pid,
                state == W_BUSY    ? "its trial is failed and sampled again"
                : state == W_MODEL ? "its trial's model is not kept"
                : state == W_LOST  ? "it was already given up"
                                   : "it had no trial");
    if (state == W_MODEL && s->pbt)
        sched_pbt_lost(s, w->number);
    if (state != W_BUSY)
        return PT_OK;
    char why[200];
    snprintf(why, sizeof why, WORKER_DIED " (rank %d, pid %ld: the process is gone)", r,
             w->proc.pid);
    s->running--;
    return end_fail_as(s, w->trial_id, w->number, &w->point, pt_now() - w->t_start, why, 0, err);
}

/* Gives up trials whose worker has died or been silent too long; returns
 * live workers. */
static int heartbeat(sched *s, pt_err *err, pt_status *st)
{
    int live = 0;
    double now = pt_now();
    /* A /proc read per worker: 5 times a second is plenty. */
    int look = now - s->t_alive >= 0.2;
    if (look)
        s->t_alive = now;
    for (int r = 1; r <= s->n_workers; r++) {
        wslot *w = &s->w[r];
        if (look && *st == PT_OK && w->state != W_DEAD &&
            peer_gone(&s->self, &w->proc))
            *st = worker_died(s, r, err);
        if (w->state == W_BUSY && now - w->t_last > s->trial_timeout_s && *st == PT_OK) {
            char why[200];
            snprintf(why, sizeof why,
                     "worker %d sent nothing for %.0f s (trial_timeout_s); considered lost", r,
                     now - w->t_last);
            if (!s->o->quiet)
                fprintf(stderr, "%s\n", why);
            *st = end_fail(s, w->trial_id, w->number, &w->point, now - w->t_start, why, err);
            w->state = W_LOST;
            s->running--;
        }
        if (w->state == W_MODEL && now - w->t_last > s->trial_timeout_s) {
            if (!s->o->quiet)
                fprintf(
                    stderr,
                    "trial %d: model not kept: worker %d did not deliver its %zu bytes in %.0f s"
                    " (trial_timeout_s); worker considered lost\n",
                    w->number, r, w->model_len, now - w->t_last);
            w->state = W_LOST;
            if (s->pbt)
                sched_pbt_lost(s, w->number);
        }
        live += w->state != W_LOST && w->state != W_DEAD;
    }
    return live;
}

static pt_status loop(sched *s, pt_err *err)
{
    double last_status = pt_now();
    for (int idle = 0;;) {
        /* A large send completes only as this rank drives MPI: poll briskly
         * while one is in flight. */
        if (proto_outbox_progress(&s->out) > 0 && idle > PROTO_SPIN_POLLS + 2)
            idle = PROTO_SPIN_POLLS + 2;
        pt_status st = dispatch(s, err);
        int got = 0;
        while (st == PT_OK) {
            cJSON *msg = NULL;
            proto_bytes_in in;
            int src = 0, tag = 0;
            st = proto_poll_bytes(s->comm, MPI_ANY_SOURCE, MPI_ANY_TAG, &msg, &src, &tag, &in, err);
            if (st == PT_ERR_STOPPED) {
                st = PT_OK;
                break;
            }
            if (st == PT_OK && tag == MSG_MODEL)
                sched_start_model(s, src, &in);
            else if (st == PT_OK)
                st = on_message(s, src, tag, msg, err);
            cJSON_Delete(msg);
            got++;
            if (got % 64 == 0 && (st = dispatch(s, err)) != PT_OK)
                break; /* keep workers fed during a long burst */
        }
        if (st != PT_OK)
            return st;
        sched_finish_models(s);
        int live = heartbeat(s, err, &st);
        if (st == PT_OK && s->pbt) /* a generation complete: exploit/explore, next one */
            st = sched_pbt_turn(s, err);
        if (st != PT_OK)
            return st;
        if (pt_now() - last_status >= s->o->status_every_s) {
            sched_status_line(s);
            last_status = pt_now();
        }
        if (s->running == 0 && !budget_left(s) && !sched_models_awaited(s))
            return PT_OK;
        if (live == 0)
            return pt_fail(err, PT_ERR_IO,
                           "every worker is lost; stopping the study (%d trials "
                           "finished in this run)",
                           s->finished);
        if (got) {
            idle = 0;
            continue;
        }
        proto_pause(idle++);
    }
}

pt_status sched_run(proto_comm comm, const study_config *sc, const sched_opts *o, sched_summary *sum,
                    pt_err *err)
{
    sched s;
    memset(&s, 0, sizeof s);
    memset(sum, 0, sizeof *sum);
    s.comm = comm;
    s.sc = sc;
    s.o = o;
    s.t0 = pt_now();
    s.cpu0 = sched_cpu_s();
    peer_self(&s.self);
    int size = 1, created = 0, interrupted = 0, lock = -1;
    size = proto_size(comm);
    s.n_workers = size - 1;
    pt_status st = PT_OK;
    if (s.n_workers < 1)
        st = pt_fail(err, PT_ERR_ARG, "scheduler: no workers (need 2 or more ranks)");
    if (st == PT_OK && !(s.w = calloc((size_t)size, sizeof *s.w)))
        st = pt_fail(err, PT_ERR_NOMEM, "scheduler: out of memory");
    /* Workers of an earlier run on this comm said "ready" to it, not to us. */
    for (int r = 1; st == PT_OK && o->pool && r < size; r++)
        if (o->pool[r] == W_IDLE || o->pool[r] == W_LOST || o->pool[r] == W_DEAD)
            s.w[r].state = o->pool[r];
    sched_job ref;
    memset(&ref, 0, sizeof ref);
    if (st == PT_OK)
        st = store_open(&s.db, sc->storage, 0, err);
    /* Before the study is touched: a live run's RUNNING trials are not orphans. */
    if (st == PT_OK)
        st = runlock_take(sc->storage, sc->name, &lock, err);
    if (st == PT_OK)
        st = store_study_open(s.db, sc, o->force, &s.study_id, &created, err);
    if (st == PT_OK && !created)
        st = store_fail_running(s.db, s.study_id, &interrupted, err);
    int ref_number = -1;
    if (st == PT_OK && !o->jobs_only)
        st = store_find_marked(s.db, s.study_id, "pt_role", "\"baseline\"", &ref_number, err);
    /* A PBT study's trials are its members' intervals: no reference trial. */
    int want_ref = st == PT_OK && !o->jobs_only && ref_number < 0 && sc->sampler != SAMPLER_PBT;
    pt_err rerr = {{0}};
    if (want_ref && confirm_reference_job(sc, &ref, &rerr) != PT_OK) {
        /* A base config that cannot be switched off costs the baseline, not the study. */
        if (!o->quiet)
            fprintf(stderr, "no reference trial: %s\n", rerr.msg);
        want_ref = 0;
    }
    s.n_jobs = want_ref + (o->jobs ? o->n_jobs : 0);
    if (st == PT_OK && s.n_jobs > 0 &&
        (!(s.job = calloc((size_t)s.n_jobs, sizeof *s.job)) ||
         !(s.job_number = malloc(sizeof *s.job_number * (size_t)s.n_jobs))))
        st = pt_fail(err, PT_ERR_NOMEM, "scheduler: out of memory");
    for (int j = 0; st == PT_OK && j < s.n_jobs; j++) {
        s.job[j] = want_ref && j == 0 ? &ref : &o->jobs[j - want_ref];
        s.job_number[j] = -1;
    }
    s.ref_job = want_ref ? &ref : NULL;
    s.ref_number = ref_number;
    if (st == PT_OK)
        st = sampler_new(&s.sm, sc, err);
    if (st == PT_OK)
        st = pruner_new(&s.pr, sc, err);
    if (st == PT_OK)
        st = models_open(&s.keep, s.db, sc, s.study_id, err);
    /* --trial-timeout wins over the study key, which wins over 600 s. */
    s.trial_timeout_s = o->trial_timeout_s > 0    ? o->trial_timeout_s
                        : sc->trial_timeout_s > 0 ? sc->trial_timeout_s
                                                  : 600;
    /* Reports before ends: a COMPLETE trial hands the median rule its values. */
    replay_ctx rc = {&s, 0, 0, PT_OK, {{0}}};
    if (st == PT_OK && !created && sc->pruner != PRUNER_NONE)
        st = store_each_trial(s.db, s.study_id, sc, replay_trial_config, &rc, err);
    if (st == PT_OK && !created && sc->pruner != PRUNER_NONE)
        st = store_each_report(s.db, s.study_id, replay_report, &rc, err);
    if (st == PT_OK && !created)
        st = store_each_trial(s.db, s.study_id, sc, replay_one, &rc, err);
    if (st == PT_OK && rc.st != PT_OK)
        st = pt_fail(err, rc.st, "%s", rc.err.msg);
    s.done_before = rc.counted;
    if (st == PT_OK && sc->sampler == SAMPLER_PBT && !o->jobs_only)
        st = sched_pbt_open(&s, err);
    if (o->jobs_only) /* the jobs are what is left of sc->n_trials */
        s.done_before = sc->n_trials - s.n_jobs;
    if (st == PT_OK && !o->quiet && !created)
        fprintf(stderr,
                "resuming study '%s' in %s: %d trials done, %d failed ones not counted"
                " (%d of them interrupted now)\n",
                sc->name, sc->storage, s.done_before, rc.failed, interrupted);
    if (st == PT_OK)
        st = loop(&s, err);
    /* A run that stopped for its failures, or whose study has no result at
     * all, failed: a script must not take it for a finished study. */
    if (st == PT_OK && s.fail_stop)
        st = sched_fail_error(&s, err);
    else if (st == PT_OK && !s.have_complete && !o->jobs_only)
        st = pt_fail(err, PT_ERR_IO,
                     "no trial of study '%s' completed (%d finished in this run, %d failed)",
                     sc->name, s.finished, s.failed);
    if (s.db && (st == PT_OK || st == PT_ERR_IO)) {
        sched_status_line(&s);
        sched_final_report(&s, sc);
    }
    if (!o->pool)
        dismiss_live(&s);
    /* A send to a dead process may never complete: give up after a while. */
    proto_outbox_close(&s.out, 5.0);
    for (int r = 1; o->pool && s.w && r <= s.n_workers; r++) /* a busy one is of no use now */
        o->pool[r] = s.w[r].state == W_IDLE || s.w[r].state == W_UNKNOWN || s.w[r].state == W_DEAD
                         ? s.w[r].state
                         : W_LOST;
    sum->finished = s.finished;
    sum->failed = s.failed;
    sum->wall_s = pt_now() - s.t0;
    for (int r = 1; s.w && r <= s.n_workers; r++) {
        sum->lost += s.w[r].state == W_LOST;
        sum->dead += s.w[r].state == W_DEAD;
        if (s.w[r].in.buf)
            proto_bytes_release(&s.w[r].in);
    }
    sched_pbt_free(s.pbt);
    if (s.sm)
        sampler_free(s.sm);
    pruner_free(s.pr);
    models_free(s.keep);
    if (s.db)
        store_close(s.db);
    runlock_release(lock);
    free(s.w);
    free(s.job);
    free(s.job_number);
    sched_job_free(&ref);
    return st;
}

int sched_pool_dismiss(proto_comm comm, const int *pool, int *dead)
{
    int size = 1, lost = 0;
    *dead = 0;
    size = proto_size(comm);
    for (int r = 1; pool && r < size; r++) {
        lost += pool[r] == W_LOST;
        *dead += pool[r] == W_DEAD;
    }
    proto_outbox out;
    memset(&out, 0, sizeof out);
    for (int r = 1; r < size; r++) {
        if (pool && (pool[r] == W_LOST || pool[r] == W_DEAD))
            continue;
        cJSON *m = cJSON_CreateObject();
        if (lost || *dead) /* as dismiss_live: MPI_Finalize could wait on them */
            cJSON_AddBoolToObject(m, "finalize", 0);
        pt_err e;
        proto_isend(comm, r, MSG_EXIT, m, &out, &e);
        cJSON_Delete(m);
    }
    proto_outbox_close(&out, 5.0);
    return lost;
}
