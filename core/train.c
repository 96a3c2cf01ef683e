/*
 * train.c — the epoch/batch loop around pt_net, pt_optim and pt_prune.
 *
 * Everything the batch loop touches is allocated before the first epoch:
 * the network's buffers, the optimizer state, the shuffled index list, the
 * label buffer and (for rewinding) one copy of the weights. A batch is
 * gathered straight into the network's input buffer, and each layer is
 * updated by the optimizer from inside the backward pass (update_layer)
 * while its weights and gradient are still in cache; the same pass applies
 * the mask and the regularizers (see optim.h).
 */
#include "train.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "init.h"
#include "netspec.h"
#include "optim.h"
#include "prune.h"
#include "sptrain.h"
#include "schedule.h"
#include "sysinfo.h"

typedef struct {
    const pt_config *cfg;
    pt_optim *opt;
    pt_sptrain *sp;
    float lr;
} update_ctx;

/* Strength of L2 for weight layer l: reg.l2_layers when given, else reg.l2. */
static float l2_of(const pt_reg_config *r, int l)
{
    if (r->l2_layers.n == -1)
        return (float)r->l2_layers.v[0];
    if (r->l2_layers.n > l)
        return (float)r->l2_layers.v[l];
    return (float)r->l2;
}

/* One fused optimizer pass per segment (optim.h): the mask, L2, L1 and
 * max-norm (row by row, a row being a neuron's incoming weights) ride along
 * with the update instead of taking passes of their own. */
static void update_layer(void *ctx, pt_net *m, int l)
{
    update_ctx *u = ctx;
    const pt_reg_config *r = &u->cfg->reg;
    pt_layer *L = &m->layer[l];
    size_t nw = (size_t)L->n_in * L->n_out, boff = (size_t)(L->b - m->params);
    float l2 = l2_of(r, l);
    pt_step w = {.lr = u->lr,
                 .l2 = r->l2_decoupled ? 0.0f : l2,
                 .decay = r->l2_decoupled ? l2 : 0.0f,
                 .l1 = (float)r->l1};
    int sparse = pt_sptrain_active(u->sp, l);
    if (sparse) { /* packed weights, packed state; max-norm per packed row */
        pt_sptrain_update(u->sp, m, l, u->opt, &w, (float)r->max_norm);
    } else {
        w.max_norm = (float)r->max_norm;
        w.row = (size_t)L->n_in;
        pt_optim_update(u->opt, m->params, m->grads, m->mask, L->off, nw, &w);
    }
    /* Biases are regularized only when asked: decay on them just shifts the
     * ReLU thresholds. Max-norm bounds weight rows only. */
    pt_step b = r->bias ? w : (pt_step){.lr = u->lr};
    b.max_norm = 0.0f;
    pt_optim_update(u->opt, m->params, m->grads, m->mask, boff, (size_t)L->n_out, &b);
}

/* pt_evaluate through an inference engine built for this evaluation
 * (kernels by density, no timing), in chunks of 256 rows: layers at most
 * PT_INFER_SPARSE_DENSITY dense cost their surviving weights and dead
 * neurons are compacted away, while dense layers run the same products as
 * the training forward pass at the same speed (a dense LeNet-300-100:
 * 285-322k rows/s either way), so one path serves every MLP. 0 when the
 * engine or its buffers could not be allocated: the caller evaluates with
 * the training forward pass instead. */
static int evaluate_engine(const pt_net *net, const pt_dataset *ds, const pt_scaler *sc,
                           const uint32_t *idx, int n, long *correct, double *total)
{
    enum { CHUNK = 256 };
    int c = net->sizes[net->n_layers];
    pt_infer e;
    pt_err err = {{0}};
    if (pt_infer_build(&e, net, CHUNK, PT_INFER_BY_DENSITY, &err) != PT_OK)
        return 0;
    float *x = malloc(sizeof(float) * (size_t)CHUNK * (size_t)net->sizes[0]);
    float *logits = malloc(sizeof(float) * (size_t)CHUNK * (size_t)c);
    uint32_t rows[CHUNK];
    int32_t y[CHUNK];
    for (int i = 0; x && logits && i < n; i += CHUNK) {
        int nb = n - i < CHUNK ? n - i : CHUNK, ok;
        const uint32_t *r = idx ? idx + i : rows;
        if (!idx)
            for (int k = 0; k < nb; k++)
                rows[k] = (uint32_t)(i + k);
        pt_dataset_gather(ds, sc, r, nb, x, y);
        pt_infer_run(&e, x, nb, logits);
        *total += pt_logits_loss(logits, nb, c, y, &ok) * nb;
        *correct += ok;
    }
    int done = x && logits;
    free(x);
    free(logits);
    pt_infer_free(&e);
    return done;
}

void pt_evaluate(pt_net *net, const pt_dataset *ds, const pt_scaler *sc, const uint32_t *idx, int n,
                 double *acc, double *loss)
{
    if (!idx)
        n = ds->n;
    long correct = 0;
    double total = 0.0;
    if (n > 0 && !pt_net_has_conv(net) && evaluate_engine(net, ds, sc, idx, n, &correct, &total)) {
        *acc = (double)correct / n;
        *loss = total / n;
        return;
    }
    correct = 0;
    total = 0.0;
    /* Conv nets run as they train, in batches of net->cap rows (conv.h).
     * While layers train sparse, in chunks their kernels take (a training
     * batch): they then cost their surviving weights here too. */
    int chunk = net->sparse && net->sparse->cap < net->cap ? net->sparse->cap : net->cap;
    uint32_t *rows = malloc(sizeof(uint32_t) * (size_t)chunk);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)chunk);
    for (int i = 0; rows && y && i < n; i += chunk) {
        int nb = n - i < chunk ? n - i : chunk;
        const uint32_t *r = idx ? idx + i : rows;
        if (!idx)
            for (int k = 0; k < nb; k++)
                rows[k] = (uint32_t)(i + k);
        pt_dataset_gather(ds, sc, r, nb, net->act[0], y);
        pt_net_forward(net, nb);
        int ok;
        total += pt_net_loss(net, nb, y, &ok) * nb;
        correct += ok;
    }
    int done = rows && y;
    free(rows);
    free(y);
    *acc = done && n > 0 ? (double)correct / n : NAN;
    *loss = done && n > 0 ? total / n : NAN;
}

/* pt_evaluate, its time added to *spent. */
static void evaluate_timed(pt_net *net, const pt_dataset *ds, const pt_scaler *sc,
                           const uint32_t *idx, int n, double *acc, double *loss, double *spent)
{
    double t0 = pt_now();
    pt_evaluate(net, ds, sc, idx, n, acc, loss);
    *spent += pt_now() - t0;
}

int pt_train_total_epochs(const pt_config *cfg)
{
    const pt_prune_config *p = &cfg->prune;
    switch (p->schedule) {
    case PT_PRUNE_ONESHOT:
        return cfg->train.epochs + p->finetune_epochs;
    case PT_PRUNE_ITERATIVE:
        return cfg->train.epochs + p->rounds * p->finetune_epochs;
    case PT_PRUNE_NONE:
    case PT_PRUNE_GRADUAL:
        break;
    }
    return cfg->train.epochs;
}

static int n_classes_of(const pt_data *d)
{
    return d->test.n_classes > d->train.n_classes ? d->test.n_classes : d->train.n_classes;
}

/* State of one run, so the phases below can be small functions. */
typedef struct {
    const pt_config *cfg;
    const pt_data *data;
    const pt_model *init; /* net.init's model, or NULL */
    const pt_scaler *sc;  /* the init model's scaler, else the data's */
    pt_net *net;
    pt_optim opt;
    pt_sptrain sp; /* sparse training of layers whose mask is fixed */
    pt_rng shuf, drop;
    uint32_t *order;
    int32_t *y;
    float *rewind; /* weights saved for rewinding, or NULL */
    pt_prune_ws prune_ws; /* reused by every pruning event */
    long step;     /* optimizer steps so far */
    double pruned; /* target of the last pruning event, 0 before any */
    long steps_per_epoch;
    int phase_start, phase_len; /* the learning-rate schedule's current run */
} run;

/* Prunes to target and clears the optimizer state of what was removed. */
static pt_status prune_now(run *r, double target, pt_err *err)
{
    pt_sptrain_leave(&r->sp, r->net, &r->opt); /* the mask is about to change */
    pt_status st = pt_prune_to_ws(r->net, &r->cfg->prune, target, &r->prune_ws, err);
    if (st == PT_OK) {
        pt_optim_mask(&r->opt, r->net->mask);
        r->pruned = target;
    }
    return st;
}

/* Iterative/oneshot pruning events happen at epoch boundaries. */
static pt_status at_epoch_start(run *r, int e, pt_err *err)
{
    const pt_prune_config *p = &r->cfg->prune;
    int base = r->cfg->train.epochs;
    if (e < base || p->finetune_epochs == 0 ||
        (p->schedule != PT_PRUNE_ONESHOT && p->schedule != PT_PRUNE_ITERATIVE))
        return PT_OK;
    if ((e - base) % p->finetune_epochs != 0)
        return PT_OK;
    int round = (e - base) / p->finetune_epochs + 1;
    double target = p->schedule == PT_PRUNE_ONESHOT
                        ? p->sparsity
                        : pt_iterative_sparsity(p->sparsity, round, p->rounds);
    pt_status st = prune_now(r, target, err);
    if (st != PT_OK)
        return st;
    if (r->rewind) {
        pt_net *m = r->net;
        for (size_t i = 0; i < m->n_params; i++)
            m->params[i] = r->rewind[i] * m->mask[i];
        pt_optim_reset(&r->opt);
    }
    r->phase_start = e;
    r->phase_len = p->finetune_epochs;
    /* The mask stays fixed for this fine-tuning phase. */
    return pt_sptrain_enter(&r->sp, r->net, &r->opt, err);
}

/* Gradual pruning happens every prune.frequency steps inside its window. */
static pt_status at_step(run *r, pt_err *err)
{
    const pt_prune_config *p = &r->cfg->prune;
    if (p->schedule != PT_PRUNE_GRADUAL)
        return PT_OK;
    long t0 = lround(p->start_epoch * r->steps_per_epoch);
    long span = lround(p->end_epoch * r->steps_per_epoch) - t0;
    long t = r->step;
    if (t < t0 || t > t0 + span || ((t - t0) % p->frequency != 0 && t != t0 + span))
        return PT_OK;
    double target = pt_gradual_sparsity(p->initial_sparsity, p->sparsity, t, t0, span);
    /* A target lowered by schedule.sparsity must not un-prune: the mask
     * reached so far is the floor (schedule.h). */
    pt_status st = prune_now(r, target > r->pruned ? target : r->pruned, err);
    /* After the window's last event the mask stays fixed. */
    if (st == PT_OK && t == t0 + span)
        st = pt_sptrain_enter(&r->sp, r->net, &r->opt, err);
    return st;
}

static void save_rewind(run *r)
{
    memcpy(r->rewind, r->net->params, sizeof(float) * r->net->n_params);
}

/* train.first_epoch > 0: puts the run where a run from epoch 0 stands at
 * that epoch (only none and gradual schedules, config.c): the batch order
 * and dropout streams advanced by the earlier epochs' draws (the shuffle is
 * cumulative; one dropout draw per batch and dropout layer), the step
 * count, and the target of the last pruning event so far (the floor a
 * lowered schedule.sparsity does not go under). The weights, mask and
 * (setup) optimizer state are net.init's. Dropout rates are taken as this
 * config's for the earlier epochs too. */
static pt_status continue_at(run *r, const pt_config *base, int first, pt_err *err)
{
    int n = r->data->split.n_train;
    int draws = r->net->drop[0] > 0.0f;
    for (int l = 0; l + 1 < r->net->n_layers; l++)
        draws += r->net->layer[l].kind != PT_LAYER_CONV && r->net->drop[l + 1] > 0.0f;
    const pt_prune_config *p = &r->cfg->prune;
    long t0 = lround(p->start_epoch * r->steps_per_epoch);
    long span = lround(p->end_epoch * r->steps_per_epoch) - t0;
    for (int e = 0; e < first; e++) {
        pt_rng_shuffle(&r->shuf, r->order, (uint32_t)n);
        for (long b = 0; b < r->steps_per_epoch * draws; b++)
            pt_rng_next(&r->drop);
        if (p->schedule != PT_PRUNE_GRADUAL)
            continue;
        double target = pt_schedule_at(&base->schedule.sparsity, e, base->prune.sparsity);
        for (long t = e * r->steps_per_epoch; t < (e + 1) * r->steps_per_epoch; t++) {
            if (t < t0 || t > t0 + span || ((t - t0) % p->frequency != 0 && t != t0 + span))
                continue;
            double v = pt_gradual_sparsity(p->initial_sparsity, target, t, t0, span);
            if (v > r->pruned)
                r->pruned = v;
        }
    }
    r->step = first * r->steps_per_epoch;
    /* Past the window's last event the mask is fixed: train as a run from
     * epoch 0 does there. */
    if (p->schedule == PT_PRUNE_GRADUAL && r->step > t0 + span)
        return pt_sptrain_enter(&r->sp, r->net, &r->opt, err);
    return PT_OK;
}

/* One pass over the training rows; returns PT_ERR_DIVERGED on a NaN/inf loss. */
static pt_status train_epoch(run *r, update_ctx *u, int e, pt_epoch_stats *s, pt_err *err)
{
    int n = r->data->split.n_train, bs = r->cfg->train.batch_size;
    pt_net *net = r->net;
    double loss_sum = 0.0;
    long correct = 0;
    pt_rng_shuffle(&r->shuf, r->order, (uint32_t)n);
    for (int i = 0; i < n; i += bs) {
        int nb = n - i < bs ? n - i : bs, ok;
        pt_status st = at_step(r, err);
        if (st != PT_OK)
            return st;
        pt_dataset_gather(&r->data->train, r->sc, r->order + i, nb, net->act[0], r->y);
        pt_net_forward_train(net, nb, &r->drop);
        pt_optim_begin_step(&r->opt);
        double loss = pt_net_backward(net, nb, r->y, &ok, update_layer, u);
        r->step++;
        if (!isfinite(loss)) {
            s->loss = loss;
            return pt_fail(err, PT_ERR_DIVERGED, "training diverged: loss %s at epoch %d, batch %d",
                           isnan(loss) ? "nan" : "inf", e + 1, i / bs + 1);
        }
        loss_sum += loss * nb;
        correct += ok;
    }
    s->loss = loss_sum / n;
    s->train_acc = (double)correct / n;
    pt_sptrain_sync(&r->sp, net); /* evaluation and statistics read params */
    return PT_OK;
}

/* Starts from net.init's weights (and mask: a pruned model stays pruned).
 * pt_init_check made sure the layers match, so the params blocks have the
 * same layout; the sizes are checked again since a copy cannot be undone. */
static pt_status adopt_init(run *r, pt_err *err)
{
    const pt_net *src = &r->init->net;
    pt_net *m = r->net;
    if (src->n_params != m->n_params || src->n_layers != m->n_layers)
        return pt_fail(err, PT_ERR_CONFIG, "net.init: %s: the network does not match the config",
                       r->cfg->net.init);
    memcpy(m->params, src->params, sizeof(float) * m->n_params);
    if (!src->mask)
        return PT_OK;
    pt_status st = pt_net_mask_enable(m, err);
    if (st == PT_OK)
        memcpy(m->mask, src->mask, sizeof(float) * m->n_params);
    return st;
}

static pt_status setup(run *r, pt_err *err)
{
    const pt_config *cfg = r->cfg;
    int n = r->data->split.n_train, bs = cfg->train.batch_size;
    pt_rng init;
    pt_rng_derive(&init, cfg->seed, PT_STREAM_INIT);
    pt_rng_derive(&r->shuf, cfg->seed, PT_STREAM_SHUFFLE);
    pt_rng_derive(&r->drop, cfg->seed, PT_STREAM_DROPOUT);
    /* Evaluation runs in chunks of at least 256 rows: a chunk of 64 made
     * LeNet-300-100's evaluation ~10% slower, while 1024 rows were no faster
     * than 128 or 256 and held ~5 MB more activations per worker (the
     * memory of a study's workers). A conv layer's patch matrix grows with
     * the chunk (conv.h), so conv nets evaluate in batches. */
    int shape[3], n_spec;
    pt_layer_spec spec[PT_NET_MAX_LAYERS];
    float drop[PT_NET_MAX_LAYERS + 1];
    pt_status st = pt_net_specs(cfg, r->data->train.dim, n_classes_of(r->data), shape, spec,
                                &n_spec, drop, err);
    if (st != PT_OK)
        return st;
    int cap = bs >= 256 || spec[0].kind == PT_LAYER_CONV ? bs : 256;
    if ((st = pt_net_init(r->net, shape, spec, n_spec, cap, NULL, err)) != PT_OK)
        return st;
    pt_net_draw_weights(r->net, (pt_weight_init)cfg->net.weight_init, &init);
    if (r->init && (st = adopt_init(r, err)) != PT_OK)
        return st;
    memcpy(r->net->drop, drop, sizeof r->net->drop);
    pt_sptrain_init(&r->sp, cfg->train.sparse, bs);
    st = pt_optim_init(&r->opt, &cfg->train, r->net->n_params, err);
    if (st != PT_OK)
        return st;
    /* A continued run picks up the momentum its checkpoint carries: without
     * it the first steps after every PBT boundary would run without. */
    if (r->init && cfg->train.first_epoch > 0)
        pt_optim_adopt(&r->opt, &r->init->optim);
    r->order = malloc(sizeof(uint32_t) * (size_t)n);
    r->y = malloc(sizeof(int32_t) * (size_t)cap);
    int rewinds = cfg->prune.schedule == PT_PRUNE_ITERATIVE && cfg->prune.rewind_epoch >= 0;
    if (rewinds)
        r->rewind = malloc(sizeof(float) * r->net->n_params);
    if (!r->order || !r->y || (rewinds && !r->rewind))
        return pt_fail(err, PT_ERR_NOMEM, "training: out of memory");
    if (cfg->prune.schedule != PT_PRUNE_NONE && (st = pt_net_mask_enable(r->net, err)) != PT_OK)
        return st;
    memcpy(r->order, r->data->split.train, sizeof(uint32_t) * (size_t)n);
    r->steps_per_epoch = (n + bs - 1) / bs;
    r->phase_start = 0;
    r->phase_len = cfg->train.epochs;
    if (rewinds && cfg->prune.rewind_epoch == 0)
        save_rewind(r);
    return PT_OK;
}

static void teardown(run *r)
{
    pt_sptrain_free(&r->sp);
    pt_optim_free(&r->opt);
    free(r->order);
    free(r->y);
    free(r->rewind);
    pt_prune_ws_free(&r->prune_ws);
}

pt_status pt_train(const pt_config *cfg, const pt_data *data, pt_net *net, pt_epoch_fn on_epoch,
                   void *ctx, pt_train_result *res, pt_err *err)
{
    if (!cfg->net.init[0])
        return pt_train_from(cfg, data, NULL, net, on_epoch, ctx, res, err);
    pt_model init;
    memset(res, 0, sizeof *res);
    res->val_acc = res->val_loss = res->test_acc = res->test_loss = NAN;
    memset(net, 0, sizeof *net);
    pt_status st = pt_init_load(&init, cfg, data->train.dim, n_classes_of(data), err);
    if (st != PT_OK)
        return st;
    st = pt_train_from(cfg, data, &init, net, on_epoch, ctx, res, err);
    pt_model_free(&init);
    return st;
}

pt_status pt_train_from(const pt_config *cfg, const pt_data *data, const pt_model *init,
                        pt_net *net, pt_epoch_fn on_epoch, void *ctx, pt_train_result *res,
                        pt_err *err)
{
    double t_start = pt_now();
    memset(res, 0, sizeof *res);
    res->val_acc = res->val_loss = res->test_acc = res->test_loss = NAN;
    memset(net, 0, sizeof *net);
    if (data->split.n_train < 1)
        return pt_fail(err, PT_ERR_CONFIG,
                       "data: no training rows left after the validation split");
    openblas_set_num_threads(cfg->train.threads);
    if (init && init->scaler.dim != data->train.dim)
        return pt_fail(err, PT_ERR_CONFIG, "net.init: %s has %d inputs, the data %d features",
                       cfg->net.init, init->scaler.dim, data->train.dim);
    /* The config every epoch reads: cfg with schedule.* applied (schedule.h). */
    pt_config live = *cfg;
    pt_schedule_apply(&live, cfg, 0);
    run r = {.cfg = &live,
             .data = data,
             .init = init,
             .sc = init ? &init->scaler : &data->scaler,
             .net = net};
    pt_status st = setup(&r, err);
    if (st != PT_OK) {
        teardown(&r);
        pt_net_free(net);
        return st;
    }
    update_ctx u = {.cfg = &live, .opt = &r.opt, .sp = &r.sp};
    int total = pt_train_total_epochs(cfg), n = data->split.n_train;
    int first = cfg->train.first_epoch;
    int stop = cfg->train.stop_epoch > 0 ? cfg->train.stop_epoch : total;
    if (first > 0 && (st = continue_at(&r, cfg, first, err)) != PT_OK) {
        teardown(&r);
        pt_net_free(net);
        return st;
    }
    long seen = 0;
    int validated = first; /* the last epoch validated */
    for (int e = first; e < stop; e++) {
        pt_epoch_stats s = {.epoch = e + 1, .epochs = total};
        pt_schedule_apply(&live, cfg, e);
        if (cfg->train.optim_reset > 0 && e > first && e % cfg->train.optim_reset == 0) {
            /* Packed state (sptrain.h) goes back to the dense layout to be
             * cleared, and the layers are packed again: the mask is as fixed
             * as before. */
            int packed = net->sparse != NULL;
            pt_sptrain_leave(&r.sp, net, &r.opt);
            pt_optim_reset(&r.opt);
            if (packed && (st = pt_sptrain_enter(&r.sp, net, &r.opt, err)) != PT_OK)
                break;
        }
        double tp = pt_now();
        st = at_epoch_start(&r, e, err);
        res->prune_s += pt_now() - tp;
        if (st != PT_OK)
            break;
        s.lr = pt_lr_at(&live.train, e - r.phase_start, r.phase_len);
        u.lr = (float)s.lr;
        double t0 = pt_now();
        st = train_epoch(&r, &u, e, &s, err);
        double dt = pt_now() - t0;
        res->train_s += dt;
        if (st != PT_OK) {
            res->loss = s.loss;
            break;
        }
        seen += n;
        res->epochs = e + 1;
        res->loss = s.loss;
        s.samples_per_s = n / dt;
        if (r.rewind && e + 1 == cfg->prune.rewind_epoch)
            save_rewind(&r);
        /* train.val_every: the epochs not validated report NAN, and the
         * run's last epoch is always validated (the trial's value). */
        int every = cfg->train.val_every;
        s.val_acc = s.val_loss = NAN;
        if (e + 1 == stop || (every > 0 && (e + 1) % every == 0)) {
            evaluate_timed(net, &data->train, r.sc, data->split.val, data->split.n_val,
                           &s.val_acc, &s.val_loss, &res->eval_s);
            res->val_acc = s.val_acc;
            res->val_loss = s.val_loss;
            validated = e + 1;
        }
        s.sparsity = pt_sparsity_total(net);
        s.elapsed_s = pt_now() - t_start;
        if (on_epoch && on_epoch(ctx, &s)) {
            res->stopped = 1;
            break;
        }
    }
    /* The network leaves dense and whole: weights and optimizer state. */
    pt_sptrain_leave(&r.sp, net, &r.opt);
    memcpy(res->sparse_steps, r.sp.steps, sizeof res->sparse_steps);
    /* A zero-length fine-tuning phase still owes its prune, and a gradual
     * window that ends with training has its last event after the last step.
     * Whether it ran is known from the last target, not from the weights'
     * sparsity: neuron targets count neurons, and L1 adds zeros of its own. */
    const pt_prune_config *p = &live.prune;
    int owed = (p->finetune_epochs == 0 &&
                (p->schedule == PT_PRUNE_ONESHOT || p->schedule == PT_PRUNE_ITERATIVE)) ||
               p->schedule == PT_PRUNE_GRADUAL;
    int val_done = 0;
    if (st == PT_OK && !res->stopped && stop == total && owed && r.pruned < p->sparsity) {
        double tp = pt_now();
        st = prune_now(&r, p->sparsity, err);
        res->prune_s += pt_now() - tp;
        val_done = 1;
        if (st == PT_OK)
            evaluate_timed(net, &data->train, r.sc, data->split.val, data->split.n_val,
                           &res->val_acc, &res->val_loss, &res->eval_s);
    }
    /* No epoch ran (net.init with train.epochs 0): the network is the loaded
     * one, maybe pruned above, and still owes its validation figures; so
     * does a run the callback stopped after an epoch train.val_every
     * skipped. */
    if (st == PT_OK && !val_done && (total == 0 || validated < res->epochs))
        evaluate_timed(net, &data->train, r.sc, data->split.val, data->split.n_val, &res->val_acc,
                       &res->val_loss, &res->eval_s);
    if ((st == PT_OK) && data->test.n > 0)
        evaluate_timed(net, &data->test, r.sc, NULL, 0, &res->test_acc, &res->test_loss,
                       &res->eval_s);
    res->sparsity = pt_sparsity_total(net);
    res->train_samples_per_s = res->train_s > 0 ? seen / res->train_s : 0.0;
    if (st == PT_OK && cfg->train.keep_optim)
        st = pt_optim_copy(&res->optim, &r.opt, err);
    res->wall_s = pt_now() - t_start;
    teardown(&r);
    if (st != PT_OK && st != PT_ERR_DIVERGED)
        pt_net_free(net);
    return st;
}
