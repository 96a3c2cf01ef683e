/*
 * worker.c — one worker rank's loop (see worker.h).
 *
 * The worker is deliberately thin: everything a trial needs is in its config
 * JSON, so the worker parses it with the same parser as `prunetune train`,
 * trains with core/, and sends back what `prunetune train` would print. The
 * only state kept across trials is the opened data, because reading and
 * decompressing Fashion-MNIST costs more than a small trial.
 *
 * Stop requests are checked once per epoch with a non-blocking probe, from
 * the epoch callback: training is never interrupted mid-epoch, and a stop for
 * a trial that already ended is read and ignored by the next one.
 */
#include "worker.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "data_open.h"
#include "protocol.h"
#include "result.h"
#include "train.h"

typedef struct {
    int open;
    pt_data_config cfg;
    uint64_t seed;
    pt_data data;
} data_cache;

typedef struct {
    MPI_Comm comm;
    int trial_id;
    char metric[64];
    pid_t parent;
    int stopped;
    pt_status io; /* first MPI failure inside the callback */
    pt_err err;
} epoch_ctx;

static int parent_gone(pid_t pid)
{
    return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

/* Field by field: the string buffers may hold stale bytes after their NUL. */
static int data_same(const pt_data_config *a, const pt_data_config *b)
{
    return a->format == b->format && !strcmp(a->dir, b->dir) &&
           !strcmp(a->train_images, b->train_images) && !strcmp(a->train_labels, b->train_labels) &&
           !strcmp(a->test_images, b->test_images) && !strcmp(a->test_labels, b->test_labels) &&
           !strcmp(a->train, b->train) && !strcmp(a->test, b->test) && a->header == b->header &&
           !strcmp(a->label_name, b->label_name) && a->label_index == b->label_index &&
           a->scale == b->scale && a->val_fraction == b->val_fraction &&
           a->test_fraction == b->test_fraction && a->limit == b->limit &&
           a->test_limit == b->test_limit;
}

static pt_status cache_get(data_cache *c, const pt_config *cfg, pt_err *err)
{
    if (c->open && c->seed == cfg->seed && data_same(&c->cfg, &cfg->data))
        return PT_OK;
    if (c->open)
        pt_data_close(&c->data);
    memset(&c->data, 0, sizeof c->data);
    c->open = 0;
    pt_status st = pt_data_open(&c->data, &cfg->data, cfg->seed, err);
    if (st != PT_OK) {
        pt_data_close(&c->data);
        return st;
    }
    c->open = 1;
    c->cfg = cfg->data;
    c->seed = cfg->seed;
    return PT_OK;
}

/* The intermediate value: the first objective's metric when an epoch has it. */
static double epoch_value(const char *metric, const pt_epoch_stats *s)
{
    if (!strcmp(metric, "loss"))
        return s->loss;
    if (!strcmp(metric, "val_loss"))
        return s->val_loss;
    if (!strcmp(metric, "train_acc"))
        return s->train_acc;
    if (!strcmp(metric, "sparsity"))
        return s->sparsity;
    return s->val_acc;
}

static int on_epoch(void *ctx, const pt_epoch_stats *s)
{
    epoch_ctx *e = ctx;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "trial_id", e->trial_id);
    cJSON_AddNumberToObject(m, "epoch", s->epoch);
    pt_json_add_num(m, "value", epoch_value(e->metric, s));
    pt_json_add_num(m, "loss", s->loss);
    pt_json_add_num(m, "val_acc", s->val_acc);
    pt_json_add_num(m, "sparsity", s->sparsity);
    pt_status st = proto_send(e->comm, 0, MSG_REPORT, m, &e->err);
    cJSON_Delete(m);
    cJSON *in = NULL;
    int src, tag;
    while (st == PT_OK &&
           (st = proto_poll(e->comm, 0, MSG_STOP, &in, &src, &tag, &e->err)) == PT_OK) {
        if ((int)proto_num(in, "trial_id", -1) == e->trial_id)
            e->stopped = 1;
        cJSON_Delete(in);
    }
    if (st != PT_OK && st != PT_ERR_STOPPED) {
        e->io = st;
        return 1;
    }
    if (parent_gone(e->parent)) {
        e->io =
            pt_fail(&e->err, PT_ERR_IO, "worker: the coordinator (pid %d) is gone", (int)e->parent);
        return 1;
    }
    return e->stopped;
}

/* Made-up metrics for --dry-run: deterministic in the trial number, in range. */
static cJSON *dry_result(const pt_config *cfg, int number)
{
    double u = fmod(number * 0.6180339887498949, 1.0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    cJSON_AddNumberToObject(o, "val_acc", 0.5 + 0.4 * u);
    cJSON_AddNumberToObject(o, "test_acc", 0.5 + 0.4 * u);
    cJSON_AddNumberToObject(o, "loss", 1.0 - 0.5 * u);
    cJSON_AddNumberToObject(o, "epochs", pt_train_total_epochs(cfg));
    cJSON_AddNumberToObject(o, "seed", (double)cfg->seed);
    cJSON_AddNumberToObject(o, "sparsity",
                            cfg->prune.schedule == PT_PRUNE_NONE ? 0.0 : cfg->prune.sparsity);
    cJSON_AddNumberToObject(o, "wall_s", 0.0);
    cJSON_AddBoolToObject(o, "dry_run", 1);
    return o;
}

static pt_status send_fail(MPI_Comm comm, int trial_id, const char *reason, pt_err *err)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "trial_id", trial_id);
    cJSON_AddStringToObject(m, "reason", reason);
    pt_status st = proto_send(comm, 0, MSG_FAIL, m, err);
    cJSON_Delete(m);
    return st;
}

/* Runs one trial message and answers it; returns only MPI failures. */
static pt_status run_trial(MPI_Comm comm, const cJSON *msg, data_cache *cache, pid_t parent,
                           pt_err *err)
{
    int trial_id = (int)proto_num(msg, "trial_id", -1);
    int number = (int)proto_num(msg, "number", 0);
    const cJSON *cj = cJSON_GetObjectItemCaseSensitive(msg, "config");
    char *text = cJSON_IsObject(cj) ? cJSON_PrintUnformatted(cj) : NULL;
    pt_config cfg;
    pt_err terr = {{0}};
    pt_status st = text ? pt_config_parse(&cfg, text, "trial config", &terr)
                        : pt_fail(&terr, PT_ERR_FORMAT, "trial message without a config");
    free(text);
    if (st != PT_OK)
        return send_fail(comm, trial_id, terr.msg, err);

    cJSON *res = NULL;
    int stopped = 0;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "dry_run"))) {
        /* One report per epoch, as a real trial sends: the benchmark then
         * measures the same database traffic as a real study. */
        epoch_ctx e = {.comm = comm, .trial_id = trial_id};
        snprintf(e.metric, sizeof e.metric, "val_acc");
        pt_epoch_stats es = {.epochs = pt_train_total_epochs(&cfg)};
        for (int ep = 1; ep <= es.epochs && !e.stopped && e.io == PT_OK; ep++) {
            es.epoch = ep;
            es.val_acc = es.train_acc = 0.5 * ep / es.epochs;
            es.loss = es.val_loss = 1.0 / ep;
            on_epoch(&e, &es);
        }
        if (e.io != PT_OK) {
            *err = e.err;
            return e.io;
        }
        stopped = e.stopped;
        res = dry_result(&cfg, number);
    } else {
        if (cache_get(cache, &cfg, &terr) != PT_OK)
            return send_fail(comm, trial_id, terr.msg, err);
        epoch_ctx e = {.comm = comm, .trial_id = trial_id, .parent = parent};
        const char *metric = proto_str(msg, "report_metric");
        snprintf(e.metric, sizeof e.metric, "%s", metric ? metric : "val_acc");
        pt_mlp net;
        pt_train_result r;
        st = pt_train(&cfg, &cache->data, &net, on_epoch, &e, &r, &terr);
        if (e.io != PT_OK) {
            if (st == PT_OK || st == PT_ERR_DIVERGED)
                pt_mlp_free(&net);
            *err = e.err;
            return e.io;
        }
        if (st == PT_OK)
            res = pt_result_json(&cfg, &net, &r, st, &terr);
        if (st == PT_OK || st == PT_ERR_DIVERGED)
            pt_mlp_free(&net);
        if (st != PT_OK)
            return send_fail(comm, trial_id, terr.msg, err);
        stopped = e.stopped;
    }
    if (!res)
        return send_fail(comm, trial_id, "worker: out of memory building the result", err);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "trial_id", trial_id);
    cJSON_AddItemToObject(m, "metrics", res);
    cJSON_AddBoolToObject(m, "stopped", stopped);
    st = proto_send(comm, 0, MSG_RESULT, m, err);
    cJSON_Delete(m);
    return st;
}

pt_status worker_run(MPI_Comm comm, pid_t parent_pid, pt_err *err)
{
    data_cache cache;
    memset(&cache, 0, sizeof cache);
    cJSON *hello = cJSON_CreateObject();
    pt_status st = proto_send(comm, 0, MSG_READY, hello, err);
    cJSON_Delete(hello);
    while (st == PT_OK) {
        cJSON *msg = NULL;
        int src, tag;
        /* Wait in 1 s slices so a vanished coordinator is noticed. */
        st = proto_wait(comm, 0, MPI_ANY_TAG, 1.0, &msg, &src, &tag, err);
        if (st == PT_ERR_STOPPED) {
            st = parent_gone(parent_pid)
                     ? pt_fail(err, PT_ERR_IO, "worker: the coordinator (pid %d) is gone",
                               (int)parent_pid)
                     : PT_OK;
            continue;
        }
        if (st != PT_OK)
            break;
        if (tag == MSG_EXIT) {
            cJSON_Delete(msg);
            break;
        }
        if (tag == MSG_TRIAL)
            st = run_trial(comm, msg, &cache, parent_pid, err);
        /* anything else (a stale stop) is dropped */
        cJSON_Delete(msg);
    }
    if (cache.open)
        pt_data_close(&cache.data);
    return st;
}
