/*
 * worker.c — one worker rank's loop (see worker.h).
 *
 * The worker is deliberately thin: everything a trial needs is in its config
 * JSON, so the worker parses it with the same parser as `prunetune train`,
 * trains with core/, and sends back what `prunetune train` would print. The
 * only state kept across trials is the opened data, because reading and
 * decompressing Fashion-MNIST costs more than a small trial, and the
 * pre-trained model of net.init (every trial of a study starts from the same
 * one; it is checked against each trial's config, which is cheap, and read
 * again only when a trial names another file).
 *
 * Stop requests are checked once per epoch, from the epoch callback, so
 * training is never interrupted mid-epoch. With a pruner the trial message
 * says "verdicts" and the worker waits for the coordinator's verdict on each
 * report before the next epoch: the pruner judged this epoch, so a stop must
 * land on it (polling instead trained every stopped trial one epoch more:
 * ASHA saved 2.19x epochs instead of ~2.7x). Without a pruner nothing is
 * waited for, and a stray stop is read and ignored by the next trial.
 *
 * A PRUNED trial skips the inference-cost measurement (latency timing, tens
 * of ms to seconds) unless an objective needs one of its metrics: its
 * objective values are all the coordinator keeps of it. A COMPLETE trial
 * measures it with a timing budget of COST_SHARE of its training time (at
 * most the 0.12 s default): the report still gets every figure, and a
 * 4-epoch LeNet trial spends ~1% of its time on it instead of ~2% (the
 * engine's kernel choice, pt_infer_build, takes the rest). When
 * an objective or a constraint is a cost metric the search optimizes it, so
 * it gets the full budget (the least noisy median).
 *
 * Every real trial's result carries "overhead": where the worker's time on
 * the trial went (data, training batches, evaluation, reports, cost, model
 * bytes), so a study shows what is spent outside training (issue 12: at
 * most 3% of a 4-epoch LeNet-300-100 trial).
 *
 * The final model of a COMPLETE trial goes to rank 0 as raw .npz bytes when
 * the trial message says "keep_model" (or "checkpoint": a PBT member's
 * interval, whose model is the next interval's start): workers may run on
 * nodes without a shared file system. The other way, a PBT interval's start
 * checkpoint arrives as a "checkpoint" message right after its trial message
 * and replaces the file net.init names on rank 0's node. core/model.c writes files only, so the model goes
 * through a temporary file (~1 MB for LeNet-300-100, a few ms).
 *
 * Why one file of ~640 lines: it is one loop and the state it keeps between
 * trials (the data and net.init caches, the coordinator's liveness); the
 * trial's life (message, checkpoint, training with its epoch callback, cost
 * report, result, model bytes) reads in order here, and everything heavy is
 * already in core/ and proto/.
 */
#include "worker.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "data_open.h"
#include "infer.h"
#include "init.h"
#include "model.h"
#include "peer.h"
#include "protocol.h"
#include "result.h"
#include "sysinfo.h"
#include "train.h"

/* Timing budget of the cost report, as a share of the trial's training time. */
static const double COST_SHARE = 0.004;

/* The rows of the data sets the workers of this process opened, one copy
 * each (worker.h). Entries live until worker_shared_free: a study reads one
 * or two data sets. */
typedef struct shared_rows {
    struct shared_rows *next;
    pt_data_config cfg;
    pt_data data; /* its split and scaler are its opener's seed's, unused */
} shared_rows;

struct worker_shared {
    pthread_mutex_t mu;
    shared_rows *rows;
};

worker_shared *worker_shared_new(void)
{
    worker_shared *w = calloc(1, sizeof *w);
    if (w)
        pthread_mutex_init(&w->mu, NULL);
    return w;
}

void worker_shared_free(worker_shared *w)
{
    if (!w)
        return;
    for (shared_rows *r = w->rows, *next; r; r = next) {
        next = r->next;
        pt_data_close(&r->data);
        free(r);
    }
    pthread_mutex_destroy(&w->mu);
    free(w);
}

typedef struct {
    int open;
    pt_data_config cfg;
    uint64_t seed;
    pt_data data;
    worker_shared *shared; /* rows shared with the other threads, or NULL */
    int init_open;
    char init_path[PT_PATH_MAX];
    pt_model init; /* net.init's model, when init_open */
} data_cache;

/* The coordinator, when it runs on this node: spawned workers know its pid
 * from the command line, mpirun's from the trial message (peer.h). Open MPI
 * tells a rank nothing when another dies; under --enable-recovery a worker
 * that missed its coordinator's death would keep the job alive for ever. */
typedef struct {
    peer_proc self, coord;
} worker_peers;

static int coord_gone(void *ctx)
{
    const worker_peers *p = ctx;
    return peer_gone(&p->self, &p->coord);
}

/* Every send to rank 0 gives up when the coordinator's process is gone. */
static pt_status send0(proto_comm comm, int tag, cJSON *m, const worker_peers *peers, pt_err *err)
{
    return proto_send_watched(comm, 0, tag, m, coord_gone, (void *)peers, err);
}

typedef struct {
    proto_comm comm;
    int trial_id;
    char metric[64];
    const worker_peers *peers;
    int stopped;
    int verdicts; /* wait for the coordinator's verdict on every report */
    pt_status io; /* first MPI failure inside the callback; PT_ERR_STOPPED: "exit" came */
    pt_err err;
    double report_s; /* time spent in the callback: messages and verdict waits */
} epoch_ctx;

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

/* Opens cfg's data in c with rows from c->shared: the first worker to need
 * them reads them (the others wait: they would read the same files), each
 * then makes its own split and scaler for its seed. */
static pt_status shared_open(data_cache *c, const pt_config *cfg, pt_err *err)
{
    worker_shared *w = c->shared;
    pthread_mutex_lock(&w->mu);
    shared_rows *r = w->rows;
    while (r && !data_same(&r->cfg, &cfg->data))
        r = r->next;
    pt_status st = PT_OK;
    if (!r) {
        r = calloc(1, sizeof *r);
        st = r ? pt_data_open(&r->data, &cfg->data, cfg->seed, err)
               : pt_fail(err, PT_ERR_NOMEM, "worker: out of memory");
        if (st == PT_OK) {
            r->cfg = cfg->data;
            r->next = w->rows;
            w->rows = r;
        } else {
            free(r);
            r = NULL;
        }
    }
    if (st == PT_OK) {
        memset(&c->data, 0, sizeof c->data);
        c->data.train = r->data.train;
        c->data.test = r->data.test;
        c->data.rows_borrowed = 1;
    }
    pthread_mutex_unlock(&w->mu);
    if (st == PT_OK)
        st = pt_data_reseed(&c->data, &cfg->data, cfg->seed, err);
    if (st == PT_OK) {
        c->open = 1;
        c->cfg = cfg->data;
        c->seed = cfg->seed;
    }
    return st;
}

static pt_status cache_get(data_cache *c, const pt_config *cfg, pt_err *err)
{
    if (c->open && c->seed == cfg->seed && data_same(&c->cfg, &cfg->data))
        return PT_OK;
    /* Rows a seed does not change can be shared by the threads of this
     * process; a CSV whose test rows the seed cuts is each worker's own. */
    if (c->shared && pt_data_can_reseed(&cfg->data)) {
        if (c->open)
            pt_data_close(&c->data);
        c->open = 0;
        return shared_open(c, cfg, err);
    }
    /* Another seed over the same files: only the split changes. */
    if (c->open && data_same(&c->cfg, &cfg->data) && pt_data_can_reseed(&cfg->data)) {
        c->open = 0;
        pt_status st = pt_data_reseed(&c->data, &cfg->data, cfg->seed, err);
        if (st == PT_OK) {
            c->open = 1;
            c->seed = cfg->seed;
        }
        return st;
    }
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

/* The net.init model of cfg, loaded once per file and checked against this
 * trial's network and data; NULL in *out when the trial has no net.init. */
static pt_status init_get(data_cache *c, const pt_config *cfg, const pt_model **out, pt_err *err)
{
    *out = NULL;
    if (!cfg->net.init[0])
        return PT_OK;
    const pt_data *d = &c->data;
    int n_classes = d->test.n_classes > d->train.n_classes ? d->test.n_classes : d->train.n_classes;
    if (!c->init_open || strcmp(c->init_path, cfg->net.init)) {
        if (c->init_open)
            pt_model_free(&c->init);
        c->init_open = 0;
        pt_status st = pt_init_load(&c->init, cfg, d->train.dim, n_classes, err);
        if (st != PT_OK)
            return st;
        c->init_open = 1;
        snprintf(c->init_path, sizeof c->init_path, "%s", cfg->net.init);
    } else {
        pt_status st = pt_init_check(&c->init, cfg->net.init, cfg, d->train.dim, n_classes, err);
        if (st != PT_OK)
            return st;
    }
    *out = &c->init;
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

/* Waits for the verdict on this epoch's report, in 1 s slices so a vanished
 * coordinator is noticed. Verdicts on other trials (one given up earlier) are
 * dropped; an "exit" ends the trial (PT_ERR_STOPPED). */
static pt_status wait_verdict(epoch_ctx *e, int epoch)
{
    for (;;) {
        cJSON *in = NULL;
        int src, tag;
        pt_status st = proto_wait(e->comm, 0, MPI_ANY_TAG, 1.0, &in, &src, &tag, &e->err);
        if (st == PT_ERR_STOPPED) {
            if (coord_gone((void *)e->peers))
                return pt_fail(&e->err, PT_ERR_IO, "worker: the coordinator (pid %ld) is gone",
                               e->peers->coord.pid);
            continue;
        }
        if (st != PT_OK)
            return st;
        int ours = (int)proto_num(in, "trial_id", -1) == e->trial_id;
        int done = tag == MSG_VERDICT && ours && (int)proto_num(in, "epoch", -1) == epoch;
        if ((done && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "stop"))) ||
            (tag == MSG_STOP && ours))
            e->stopped = 1;
        cJSON_Delete(in);
        if (tag == MSG_EXIT)
            return PT_ERR_STOPPED;
        if (done)
            return PT_OK;
    }
}

static int on_epoch_inner(epoch_ctx *e, const pt_epoch_stats *s);

static int on_epoch(void *ctx, const pt_epoch_stats *s)
{
    epoch_ctx *e = ctx;
    double t0 = pt_now();
    int stop = on_epoch_inner(e, s);
    e->report_s += pt_now() - t0;
    return stop;
}

static int on_epoch_inner(epoch_ctx *e, const pt_epoch_stats *s)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "trial_id", e->trial_id);
    cJSON_AddNumberToObject(m, "epoch", s->epoch);
    pt_json_add_num(m, "value", epoch_value(e->metric, s));
    pt_json_add_num(m, "loss", s->loss);
    pt_json_add_num(m, "val_acc", s->val_acc);
    pt_json_add_num(m, "sparsity", s->sparsity);
    pt_status st = send0(e->comm, MSG_REPORT, m, e->peers, &e->err);
    cJSON_Delete(m);
    if (st == PT_OK && e->verdicts) {
        st = wait_verdict(e, s->epoch);
    } else {
        cJSON *in = NULL;
        int src, tag;
        while (st == PT_OK &&
               (st = proto_poll(e->comm, 0, MSG_STOP, &in, &src, &tag, &e->err)) == PT_OK) {
            if ((int)proto_num(in, "trial_id", -1) == e->trial_id)
                e->stopped = 1;
            cJSON_Delete(in);
        }
        if (st == PT_ERR_STOPPED)
            st = PT_OK;
    }
    if (st != PT_OK) {
        e->io = st;
        return 1;
    }
    if (coord_gone((void *)e->peers)) {
        e->io = pt_fail(&e->err, PT_ERR_IO, "worker: the coordinator (pid %ld) is gone",
                        e->peers->coord.pid);
        return 1;
    }
    return e->stopped;
}

/* Whether any name of the string array list is a metric of the
 * inference-cost report, or one a result does not have (NULL or empty: no). */
static int lists_cost(const cJSON *list)
{
    const cJSON *o;
    if (!cJSON_IsArray(list))
        return 0;
    cJSON_ArrayForEach(o, list)
    {
        if (!cJSON_IsString(o) || pt_result_metric_kind(o->valuestring) != PT_METRIC_TRAINED)
            return 1;
    }
    return 0;
}

/* pt_result_json without the cost report: it measures the cost only for a
 * run that succeeded, so ask for a failed one and make it "ok" again. */
static cJSON *result_without_cost(const pt_config *cfg, const pt_net *net, const pt_train_result *r)
{
    pt_err none = {{0}};
    cJSON *o = pt_result_json(cfg, net, r, PT_ERR_STOPPED, &none);
    if (!o)
        return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(o, "reason");
    cJSON_ReplaceItemInObjectCaseSensitive(o, "status", cJSON_CreateString("ok"));
    cJSON_AddBoolToObject(o, "cost_skipped", 1);
    return o;
}

/* The trained model as .npz bytes, through a temporary file (see the top). */
static pt_status model_bytes(const pt_config *cfg, const pt_data *data, const pt_scaler *sc,
                             const pt_net *net, const pt_train_result *r, unsigned char **buf,
                             size_t *len, pt_err *err)
{
    *buf = NULL;
    *len = 0;
    const char *dir = getenv("TMPDIR");
    char path[PT_PATH_MAX];
    snprintf(path, sizeof path, "%s/prunetune-model-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return pt_fail(err, PT_ERR_IO, "worker: %s: cannot create a temporary file: %s", path,
                       strerror(errno));
    close(fd);
    pt_model_info info = {.test_acc = r->test_acc,
                          .test_loss = r->test_loss,
                          .val_acc = r->val_acc,
                          .n_test = data->test.n,
                          .n_classes = data->train.n_classes,
                          .class_names = data->train.class_names,
                          .optim = r->optim.m ? &r->optim : NULL};
    pt_status st = pt_model_save(path, net, sc, cfg, &info, err);
    FILE *f = st == PT_OK ? fopen(path, "rb") : NULL;
    if (st == PT_OK && !f)
        st = pt_fail(err, PT_ERR_IO, "worker: %s: %s", path, strerror(errno));
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (f && n > 0 && fseek(f, 0, SEEK_SET) == 0 && (*buf = malloc((size_t)n)) &&
        fread(*buf, 1, (size_t)n, f) == (size_t)n)
        *len = (size_t)n;
    if (f && !*len) {
        free(*buf);
        *buf = NULL;
        st = pt_fail(err, PT_ERR_IO, "worker: %s: cannot read the saved model back", path);
    }
    if (f)
        fclose(f);
    unlink(path);
    return st;
}

/* The checkpoint message that follows a trial message announcing
 * checkpoint_bytes (a PBT member's weights and mask, protocol.h): received
 * before anything else of the trial, so it never reaches another receive,
 * in 1 s slices so a vanished coordinator is noticed. */
static pt_status recv_checkpoint(proto_comm comm, const worker_peers *peers, size_t len,
                                 unsigned char **buf, pt_err *err)
{
    *buf = malloc(len ? len : 1);
    if (!*buf)
        return pt_fail(err, PT_ERR_NOMEM, "worker: out of memory for a %zu-byte checkpoint", len);
    pt_status st =
        proto_recv_bytes_watched(comm, 0, MSG_CHECKPOINT, *buf, len, coord_gone, (void *)peers, err);
    if (st != PT_OK && peers->coord.pid && coord_gone((void *)peers))
        st = pt_fail(err, PT_ERR_IO, "worker: the coordinator (pid %ld) is gone", peers->coord.pid);
    return st;
}

/* The checkpoint's bytes as a net.init model for cfg, through a temporary
 * file (core reads models from files, as model_bytes writes them). */
static pt_status checkpoint_model(const unsigned char *bytes, size_t len, const pt_config *cfg,
                                  const pt_data *d, pt_model *out, pt_err *err)
{
    const char *dir = getenv("TMPDIR");
    pt_config c = *cfg;
    snprintf(c.net.init, sizeof c.net.init, "%s/prunetune-ckpt-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(c.net.init);
    if (fd < 0)
        return pt_fail(err, PT_ERR_IO, "worker: %s: cannot create a temporary file: %s",
                       c.net.init, strerror(errno));
    FILE *f = fdopen(fd, "wb");
    int ok = f && fwrite(bytes, 1, len, f) == len;
    if (f)
        ok &= fclose(f) == 0;
    else
        close(fd);
    int n_classes = d->test.n_classes > d->train.n_classes ? d->test.n_classes : d->train.n_classes;
    pt_status st = ok ? pt_init_load(out, &c, d->train.dim, n_classes, err)
                      : pt_fail(err, PT_ERR_IO, "worker: %s: cannot write the checkpoint",
                                c.net.init);
    unlink(c.net.init);
    return st;
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

static pt_status send_fail(proto_comm comm, const worker_peers *peers, int trial_id,
                           const char *reason, pt_err *err)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "trial_id", trial_id);
    cJSON_AddStringToObject(m, "reason", reason);
    pt_status st = send0(comm, MSG_FAIL, m, peers, err);
    cJSON_Delete(m);
    return st;
}

/* Sends the result (and the model bytes after it, when there are some). */
static pt_status send_result(proto_comm comm, const worker_peers *peers, int trial_id, cJSON *res,
                             int stopped, const unsigned char *model, size_t model_len,
                             const char *model_error, pt_err *err)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "trial_id", trial_id);
    cJSON_AddItemToObject(m, "metrics", res);
    cJSON_AddBoolToObject(m, "stopped", stopped);
    cJSON_AddNumberToObject(m, "model_bytes", (double)model_len);
    if (model_error)
        cJSON_AddStringToObject(m, "model_error", model_error);
    pt_status st = send0(comm, MSG_RESULT, m, peers, err);
    cJSON_Delete(m);
    if (st == PT_OK && model_len > 0)
        st = proto_send_bytes_watched(comm, 0, MSG_MODEL, model, model_len, coord_gone,
                                      (void *)peers, err);
    return st;
}

/* Runs one trial message and answers it; returns only MPI failures, and
 * PT_ERR_STOPPED when "exit" came during the trial. */
static pt_status run_trial(proto_comm comm, const cJSON *msg, data_cache *cache,
                           const worker_peers *peers, pt_err *err)
{
    int trial_id = (int)proto_num(msg, "trial_id", -1);
    int number = (int)proto_num(msg, "number", 0);
    double ck_len = proto_num(msg, "checkpoint_bytes", 0);
    unsigned char *ck = NULL;
    if (ck_len > 0) {
        pt_status cst = recv_checkpoint(comm, peers, (size_t)ck_len, &ck, err);
        if (cst != PT_OK) {
            free(ck);
            return cst;
        }
    }
    /* A PBT trial always returns its final model: the next interval's start. */
    int checkpoint = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "checkpoint"));
    const cJSON *cj = cJSON_GetObjectItemCaseSensitive(msg, "config");
    char *text = cJSON_IsObject(cj) ? cJSON_PrintUnformatted(cj) : NULL;
    pt_config cfg;
    pt_err terr = {{0}};
    pt_status st = text ? pt_config_parse(&cfg, text, "trial config", &terr)
                        : pt_fail(&terr, PT_ERR_FORMAT, "trial message without a config");
    free(text);
    if (st != PT_OK) {
        free(ck);
        return send_fail(comm, peers, trial_id, terr.msg, err);
    }
    /* Worker threads already share the cores, and OpenBLAS's thread count
     * is one setting for the whole process, which the others would race
     * to change: with more than one worker thread, BLAS runs one thread. */
    if (comm.hub && proto_size(comm) > 2)
        cfg.train.threads = 1;

    double t_trial = pt_now();
    epoch_ctx e = {.comm = comm, .trial_id = trial_id, .peers = peers};
    e.verdicts = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "verdicts"));
    int keep_model = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "keep_model")) ||
                     checkpoint;
    const char *metric = proto_str(msg, "report_metric");
    snprintf(e.metric, sizeof e.metric, "%s", metric ? metric : "val_acc");
    cJSON *res = NULL;
    unsigned char *model = NULL;
    size_t model_len = 0;
    pt_err merr = {{0}};
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "dry_run"))) {
        /* One report per epoch, as a real trial sends: the benchmark then
         * measures the same database traffic as a real study. */
        pt_epoch_stats es = {.epochs = pt_train_total_epochs(&cfg)};
        for (int ep = 1; ep <= es.epochs && !e.stopped && e.io == PT_OK; ep++) {
            es.epoch = ep;
            es.val_acc = es.train_acc = 0.5 * ep / es.epochs;
            es.loss = es.val_loss = 1.0 / ep;
            on_epoch(&e, &es);
        }
        if (e.io != PT_OK) {
            free(ck);
            *err = e.err;
            return e.io;
        }
        res = dry_result(&cfg, number);
    } else {
        const pt_model *init = NULL;
        pt_model ck_model; /* the checkpoint's, when one came: not cached */
        memset(&ck_model, 0, sizeof ck_model);
        double t0 = pt_now();
        if (cache_get(cache, &cfg, &terr) != PT_OK ||
            (ck ? checkpoint_model(ck, (size_t)ck_len, &cfg, &cache->data, &ck_model, &terr)
                : init_get(cache, &cfg, &init, &terr)) != PT_OK) {
            free(ck);
            return send_fail(comm, peers, trial_id, terr.msg, err);
        }
        free(ck);
        ck = NULL;
        if (ck_model.net.params)
            init = &ck_model;
        double data_s = pt_now() - t0;
        pt_net net;
        pt_train_result r;
        st = pt_train_from(&cfg, &cache->data, init, &net, on_epoch, &e, &r, &terr);
        if (e.io != PT_OK) {
            if (st == PT_OK || st == PT_ERR_DIVERGED)
                pt_net_free(&net);
            pt_optim_free(&r.optim);
            if (ck_model.net.params)
                pt_model_free(&ck_model);
            *err = e.err;
            return e.io;
        }
        int optimized = lists_cost(cJSON_GetObjectItemCaseSensitive(msg, "objectives")) ||
                        lists_cost(cJSON_GetObjectItemCaseSensitive(msg, "constraint_metrics"));
        double budget = optimized ? 0.0 : COST_SHARE * r.train_s, cost_s = 0, model_s = 0;
        if (st == PT_OK) {
            t0 = pt_now();
            res = result_without_cost(&cfg, &net, &r);
            if (res && (!e.stopped || optimized)) {
                pt_err cerr = {{0}};
                cJSON_DeleteItemFromObjectCaseSensitive(res, "cost_skipped");
                if (pt_infer_cost_report_budget(&net, budget, res, &cerr) != PT_OK)
                    cJSON_AddStringToObject(res, "cost_error", cerr.msg);
            }
            cost_s = pt_now() - t0;
        }
        if (st == PT_OK && res && keep_model && !e.stopped) {
            t0 = pt_now();
            model_bytes(&cfg, &cache->data, init ? &init->scaler : &cache->data.scaler, &net, &r,
                        &model, &model_len, &merr);
            model_s = pt_now() - t0;
        }
        if (res) {
            /* setup: what pt_train_from spent on none of its timed parts
             * (building the network, the final statistics, leaving sparse mode) */
            double trial_s = pt_now() - t_trial,
                   setup_s = r.wall_s - r.train_s - r.eval_s - r.prune_s - e.report_s;
            cJSON *o = cJSON_AddObjectToObject(res, "overhead");
            const struct {
                const char *k;
                double v;
            } f[] = {
                {"trial_s", trial_s},
                {"train_s", r.train_s},
                {"data_s", data_s},
                {"eval_s", r.eval_s},
                {"prune_s", r.prune_s},
                {"setup_s", setup_s > 0 ? setup_s : 0},
                {"report_s", e.report_s},
                {"cost_s", cost_s},
                {"model_s", model_s},
                {"other_s", trial_s - r.wall_s - data_s - cost_s - model_s},
                {"outside_frac", trial_s > 0 ? (trial_s - r.train_s) / trial_s : 0},
                {"cost_budget_s", budget},
            };
            for (size_t i = 0; o && i < sizeof f / sizeof f[0]; i++)
                pt_json_add_num(o, f[i].k, f[i].v);
        }
        if (st == PT_OK || st == PT_ERR_DIVERGED)
            pt_net_free(&net);
        pt_optim_free(&r.optim);
        if (ck_model.net.params)
            pt_model_free(&ck_model);
        if (st != PT_OK)
            return send_fail(comm, peers, trial_id, terr.msg, err);
    }
    free(ck);
    if (!res) {
        free(model);
        return send_fail(comm, peers, trial_id, "worker: out of memory building the result", err);
    }
    st = send_result(comm, peers, trial_id, res, e.stopped, model, model_len,
                     merr.msg[0] ? merr.msg : NULL, err);
    if (st == PT_OK) /* else the send may have been abandoned with MPI holding the bytes */
        free(model);
    return st;
}

pt_status worker_run(proto_comm comm, pid_t parent_pid, worker_shared *shared, int *finalize,
                     pt_err *err)
{
    *finalize = 1;
    data_cache cache;
    memset(&cache, 0, sizeof cache);
    cache.shared = shared;
    worker_peers peers;
    peer_self(&peers.self);
    peers.coord = peers.self; /* the parent's node is this one */
    peers.coord.pid = (long)parent_pid;
    peers.coord.start = 0;
    cJSON *hello = cJSON_CreateObject();
    peer_to_json(&peers.self, hello); /* so rank 0 can tell when this process is gone */
    pt_status st = send0(comm, MSG_READY, hello, &peers, err);
    cJSON_Delete(hello);
    while (st == PT_OK) {
        cJSON *msg = NULL;
        int src, tag;
        /* Wait in 1 s slices so a vanished coordinator is noticed. */
        st = proto_wait(comm, 0, MPI_ANY_TAG, 1.0, &msg, &src, &tag, err);
        if (st == PT_ERR_STOPPED) {
            st = peer_gone(&peers.self, &peers.coord)
                     ? pt_fail(err, PT_ERR_IO, "worker: the coordinator (pid %ld) is gone",
                               peers.coord.pid)
                     : PT_OK;
            continue;
        }
        if (st != PT_OK)
            break;
        if (tag == MSG_EXIT) {
            *finalize = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(msg, "finalize"));
            cJSON_Delete(msg);
            break;
        }
        if (tag == MSG_TRIAL && !parent_pid) /* under mpirun: learnt from the first trial */
            peer_from_json(&peers.coord, msg, "coordinator");
        if (tag == MSG_TRIAL)
            st = run_trial(comm, msg, &cache, &peers, err);
        /* anything else (a stale stop or verdict) is dropped */
        cJSON_Delete(msg);
        if (st == PT_ERR_STOPPED) { /* "exit" came while a trial ran */
            st = PT_OK;
            break;
        }
    }
    /* Told to leave without MPI_Finalize (a rank died or was lost): this
     * rank's exit ends the mpirun job, and could end it before rank 0 has
     * said why (its last lines were lost now and then). Rank 0 leaves right
     * after them, having given sends to the lost rank up to 5 s
     * (scheduler.c): wait for it, up to 10 s (a coordinator on another node
     * cannot be looked up). */
    for (double t0 = pt_now(); !*finalize && !comm.hub && pt_now() - t0 < 10.0;) {
        if (coord_gone(&peers))
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    if (cache.open)
        pt_data_close(&cache.data);
    if (cache.init_open)
        pt_model_free(&cache.init);
    return st;
}
