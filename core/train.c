/*
 * train.c — the epoch/batch loop around pt_mlp and pt_optim.
 *
 * Everything the batch loop touches is allocated before the first epoch:
 * the network's buffers, the optimizer state, the shuffled index list and the
 * label buffer. A batch is gathered straight into the network's input buffer,
 * and each layer is updated by the optimizer from inside the backward pass
 * (update_layer below) while its weights and gradient are still in cache.
 */
#include "train.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "sysinfo.h"

typedef struct {
    pt_optim *opt;
    float lr, wd;
} update_ctx;

static void update_layer(void *ctx, pt_mlp *m, int l)
{
    update_ctx *u = ctx;
    const pt_layer *L = &m->layer[l];
    size_t nw = (size_t)L->n_in * L->n_out;
    pt_optim_update(u->opt, m->params, m->grads, L->off, nw, u->lr, u->wd);
    /* Biases are not decayed: decay on them only shifts the ReLU thresholds. */
    pt_optim_update(u->opt, m->params, m->grads, (size_t)(L->b - m->params),
                    (size_t)L->n_out, u->lr, 0.0f);
}

void pt_evaluate(pt_mlp *net, const pt_dataset *ds, const pt_scaler *sc,
                 const uint32_t *idx, int n, double *acc, double *loss)
{
    if (!idx)
        n = ds->n;
    uint32_t *rows = malloc(sizeof(uint32_t) * (size_t)net->cap);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)net->cap);
    long correct = 0;
    double total = 0.0;
    for (int i = 0; rows && y && i < n; i += net->cap) {
        int nb = n - i < net->cap ? n - i : net->cap;
        const uint32_t *r = idx ? idx + i : rows;
        if (!idx)
            for (int k = 0; k < nb; k++)
                rows[k] = (uint32_t)(i + k);
        pt_dataset_gather(ds, sc, r, nb, net->act[0], y);
        pt_mlp_forward(net, nb);
        int ok;
        total += pt_mlp_loss(net, nb, y, &ok) * nb;
        correct += ok;
    }
    int done = rows && y;
    free(rows);
    free(y);
    *acc = done && n > 0 ? (double)correct / n : NAN;
    *loss = done && n > 0 ? total / n : NAN;
}

static int n_classes_of(const pt_data *d)
{
    return d->test.n_classes > d->train.n_classes ? d->test.n_classes : d->train.n_classes;
}

pt_status pt_train(const pt_config *cfg, const pt_data *data, pt_mlp *net,
                   pt_epoch_fn on_epoch, void *ctx, pt_train_result *res, pt_err *err)
{
    const pt_train_config *tc = &cfg->train;
    double t_start = pt_now();
    int n = data->split.n_train, bs = tc->batch_size;
    memset(res, 0, sizeof *res);
    res->val_acc = res->val_loss = res->test_acc = res->test_loss = NAN;
    memset(net, 0, sizeof *net);
    if (n < 1)
        return pt_fail(err, PT_ERR_CONFIG, "data: no training rows left after the validation split");

    openblas_set_num_threads(tc->threads);
    pt_rng init, shuf;
    pt_rng_derive(&init, cfg->seed, PT_STREAM_INIT);
    pt_rng_derive(&shuf, cfg->seed, PT_STREAM_SHUFFLE);
    /* Evaluation runs in chunks of at least 1024 rows: fewer, larger GEMMs. */
    int cap = bs > 1024 ? bs : 1024;
    pt_status st = pt_mlp_init(net, data->train.dim, cfg->net.hidden, cfg->net.n_hidden,
                               n_classes_of(data), cap, &init, err);
    if (st != PT_OK)
        return st;
    pt_optim opt;
    uint32_t *order = malloc(sizeof(uint32_t) * (size_t)n);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)cap);
    st = pt_optim_init(&opt, tc, net->n_params, err);
    if (st == PT_OK && (!order || !y))
        st = pt_fail(err, PT_ERR_NOMEM, "training: out of memory");
    if (st != PT_OK)
        goto fail;
    memcpy(order, data->split.train, sizeof(uint32_t) * (size_t)n);

    update_ctx u = {.opt = &opt, .wd = (float)cfg->reg.l2};
    long seen = 0;
    for (int e = 0; e < tc->epochs; e++) {
        pt_epoch_stats s = {.epoch = e + 1, .epochs = tc->epochs};
        s.lr = pt_lr_at(tc, e, tc->epochs);
        u.lr = (float)s.lr;
        pt_rng_shuffle(&shuf, order, (uint32_t)n);
        double t0 = pt_now(), loss_sum = 0.0;
        long correct = 0;
        for (int i = 0; i < n; i += bs) {
            int nb = n - i < bs ? n - i : bs, ok;
            pt_dataset_gather(&data->train, &data->scaler, order + i, nb, net->act[0], y);
            pt_mlp_forward(net, nb);
            pt_optim_begin_step(&opt);
            double loss = pt_mlp_backward(net, nb, y, &ok, update_layer, &u);
            if (!isfinite(loss)) {
                st = pt_fail(err, PT_ERR_DIVERGED, "training diverged: loss %s at epoch %d, batch %d",
                             isnan(loss) ? "nan" : "inf", e + 1, i / bs + 1);
                res->loss = loss;
                goto done;
            }
            loss_sum += loss * nb;
            correct += ok;
        }
        double dt = pt_now() - t0;
        seen += n;
        res->train_s += dt;
        res->epochs = e + 1;
        s.loss = res->loss = loss_sum / n;
        s.train_acc = (double)correct / n;
        s.samples_per_s = n / dt;
        pt_evaluate(net, &data->train, &data->scaler, data->split.val, data->split.n_val,
                    &s.val_acc, &s.val_loss);
        res->val_acc = s.val_acc;
        res->val_loss = s.val_loss;
        s.elapsed_s = pt_now() - t_start;
        if (on_epoch && on_epoch(ctx, &s)) {
            res->stopped = 1;
            break;
        }
    }
    if (data->test.n > 0)
        pt_evaluate(net, &data->test, &data->scaler, NULL, 0, &res->test_acc, &res->test_loss);
done:
    res->train_samples_per_s = res->train_s > 0 ? seen / res->train_s : 0.0;
    res->wall_s = pt_now() - t_start;
    pt_optim_free(&opt);
    free(order);
    free(y);
    return st;
fail:
    pt_optim_free(&opt);
    free(order);
    free(y);
    pt_mlp_free(net);
    return st;
}
