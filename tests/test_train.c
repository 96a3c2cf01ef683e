/*
 * test_train.c — the training loop on real data: it learns, it is
 * deterministic, it stops when asked, it reports divergence; and the
 * optimizers and schedules follow their formulas.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allclose.h"
#include "config.h"
#include "data_open.h"
#include "optim.h"
#include "prune.h"
#include "train.h"

/* A few hundred Fashion-MNIST rows: seconds of training, far above chance. */
static void small_fashion(pt_config *c)
{
    pt_config_defaults(c);
    snprintf(c->data.dir, sizeof c->data.dir, "%s", PT_FASHION_DIR);
    c->data.limit = 600;
    c->data.test_limit = 500;
    c->data.val_fraction = 0.2;
    c->net.n_hidden = 1;
    c->net.hidden[0] = 64;
    c->train.epochs = 8;
    c->train.batch_size = 32;
}

static pt_status run(const pt_config *c, pt_net *net, pt_train_result *res, pt_err *err)
{
    pt_data d;
    memset(&d, 0, sizeof d);
    pt_status st = pt_data_open(&d, &c->data, c->seed, err);
    cr_assert_eq(st, PT_OK, "%s", err->msg);
    st = pt_train(c, &d, net, NULL, NULL, res, err);
    pt_data_close(&d);
    return st;
}

Test(train, learns_fashion_mnist_subset)
{
    pt_config c;
    small_fashion(&c);
    pt_net net;
    pt_train_result r;
    pt_err err;
    cr_assert_eq(run(&c, &net, &r, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(r.epochs, 8);
    cr_assert_gt(r.test_acc, 0.65, "test accuracy %.3f (chance is 0.10)", r.test_acc);
    cr_assert_gt(r.val_acc, 0.60, "val accuracy %.3f", r.val_acc);
    cr_assert_lt(r.loss, 1.0);
    cr_assert_gt(r.train_samples_per_s, 0.0);
    pt_net_free(&net);
}

Test(train, adam_with_cosine_schedule_learns)
{
    pt_config c;
    small_fashion(&c);
    c.train.optimizer = PT_OPT_ADAM;
    c.train.lr = 2e-3;
    c.train.lr_schedule = PT_LR_COSINE;
    pt_net net;
    pt_train_result r;
    pt_err err;
    cr_assert_eq(run(&c, &net, &r, &err), PT_OK, "%s", err.msg);
    cr_assert_gt(r.test_acc, 0.65, "test accuracy %.3f", r.test_acc);
    pt_net_free(&net);
}

Test(train, same_seed_gives_identical_weights)
{
    pt_config c;
    small_fashion(&c);
    c.train.epochs = 2;
    c.net.n_hidden = 2;
    c.net.hidden[1] = 32;
    pt_net a, b, d;
    pt_train_result ra, rb, rd;
    pt_err err;
    cr_assert_eq(run(&c, &a, &ra, &err), PT_OK);
    cr_assert_eq(run(&c, &b, &rb, &err), PT_OK);
    cr_assert_eq(a.n_params, b.n_params);
    cr_assert(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0,
              "same seed, different weights");
    cr_assert_eq(ra.loss, rb.loss);
    cr_assert_eq(ra.test_acc, rb.test_acc);
    c.seed = 2;
    cr_assert_eq(run(&c, &d, &rd, &err), PT_OK);
    cr_assert(memcmp(a.params, d.params, sizeof(float) * a.n_params) != 0,
              "different seeds, same weights");
    pt_net_free(&a);
    pt_net_free(&b);
    pt_net_free(&d);
}

static int stop_at_two(void *ctx, const pt_epoch_stats *s)
{
    int *calls = ctx;
    (*calls)++;
    cr_assert_eq(s->epoch, *calls);
    cr_assert(isfinite(s->loss) && isfinite(s->val_acc));
    return s->epoch == 2;
}

Test(train, callback_sees_each_epoch_and_can_stop)
{
    pt_config c;
    small_fashion(&c);
    pt_data d;
    memset(&d, 0, sizeof d);
    pt_err err;
    cr_assert_eq(pt_data_open(&d, &c.data, c.seed, &err), PT_OK);
    pt_net net;
    pt_train_result r;
    int calls = 0;
    cr_assert_eq(pt_train(&c, &d, &net, stop_at_two, &calls, &r, &err), PT_OK);
    cr_assert_eq(calls, 2);
    cr_assert_eq(r.epochs, 2);
    cr_assert(r.stopped);
    pt_net_free(&net);
    pt_data_close(&d);
}

/* Records which epochs came with a validation value; stops at *stop_at. */
typedef struct {
    int validated[16], stop_at;
    double val_acc[16];
} val_log;

static int log_validation(void *ctx, const pt_epoch_stats *s)
{
    val_log *v = ctx;
    cr_assert(s->epoch >= 1 && s->epoch <= 16);
    cr_assert(isfinite(s->loss), "epoch %d has no training loss", s->epoch);
    v->validated[s->epoch - 1] = !isnan(s->val_acc);
    v->val_acc[s->epoch - 1] = s->val_acc;
    return s->epoch == v->stop_at;
}

static pt_status run_logged(pt_config *c, int every, val_log *v, pt_net *net, pt_train_result *r)
{
    pt_data d;
    pt_err err;
    memset(&d, 0, sizeof d);
    memset(v->validated, 0, sizeof v->validated);
    c->train.val_every = every;
    cr_assert_eq(pt_data_open(&d, &c->data, c->seed, &err), PT_OK, "%s", err.msg);
    pt_status st = pt_train(c, &d, net, log_validation, v, r, &err);
    pt_data_close(&d);
    return st;
}

/* train.val_every: only the epochs asked (and the last) are validated, and
 * skipping validation changes nothing else: same weights, same final
 * figures, bit for bit; a run stopped after a skipped epoch still gets its
 * validation figures. */
Test(train, val_every_validates_only_the_epochs_asked)
{
    pt_config c;
    small_fashion(&c);
    c.train.epochs = 5;
    pt_net a, b, z;
    pt_train_result ra, rb, rz;
    val_log va = {.stop_at = 0}, vb = {.stop_at = 0}, vz = {.stop_at = 0};
    cr_assert_eq(run_logged(&c, 1, &va, &a, &ra), PT_OK);
    cr_assert_eq(run_logged(&c, 2, &vb, &b, &rb), PT_OK);
    cr_assert_eq(run_logged(&c, 0, &vz, &z, &rz), PT_OK);
    const int want_b[5] = {0, 1, 0, 1, 1}, want_z[5] = {0, 0, 0, 0, 1};
    for (int e = 0; e < 5; e++) {
        cr_assert(va.validated[e], "val_every 1: epoch %d not validated", e + 1);
        cr_assert_eq(vb.validated[e], want_b[e], "val_every 2, epoch %d", e + 1);
        cr_assert_eq(vz.validated[e], want_z[e], "val_every 0, epoch %d", e + 1);
        if (vb.validated[e])
            cr_assert_eq(vb.val_acc[e], va.val_acc[e], "epoch %d's value differs", e + 1);
    }
    cr_assert(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0);
    cr_assert(memcmp(a.params, z.params, sizeof(float) * a.n_params) == 0);
    cr_assert_eq(rz.val_acc, ra.val_acc);
    cr_assert_eq(rz.val_loss, ra.val_loss);
    cr_assert_eq(rz.test_acc, ra.test_acc);
    cr_assert_gt(ra.eval_s, rz.eval_s, "validating 5 epochs took no longer than 1");
    pt_net_free(&b);
    pt_net_free(&z);
    /* Stopped by the callback after epoch 3, which val_every 2 skips. */
    val_log vs = {.stop_at = 3};
    pt_net s;
    pt_train_result rs;
    cr_assert_eq(run_logged(&c, 2, &vs, &s, &rs), PT_OK);
    cr_assert(rs.stopped);
    cr_assert_eq(rs.epochs, 3);
    cr_assert_not(vs.validated[2]);
    cr_assert(isfinite(rs.val_acc), "the stopped run has no validation figure");
    cr_assert_gt(rs.val_acc, 0.3);
    pt_net_free(&s);
    pt_net_free(&a);
}

/* net.weight_init: "uniform" is PyTorch's nn.Linear start (weights and
 * biases U(+-1/sqrt(fan_in)): variance bound^2 / 3), "he_normal" N(0,
 * 2/fan_in) with zero biases; both drawn from the seed alone. */
Test(train, weight_init_schemes_draw_as_documented)
{
    const int hidden[2] = {300, 100};
    for (int scheme = PT_WEIGHTS_UNIFORM; scheme <= PT_WEIGHTS_HE_NORMAL; scheme++) {
        pt_net a, b;
        pt_err err;
        pt_rng ra, rb;
        pt_rng_seed(&ra, 5);
        pt_rng_seed(&rb, 5);
        cr_assert_eq(pt_net_init_dense(&a, 784, hidden, 2, 10, 4, NULL, &err), PT_OK);
        cr_assert_eq(pt_net_init_dense(&b, 784, hidden, 2, 10, 4, NULL, &err), PT_OK);
        pt_net_draw_weights(&a, (pt_weight_init)scheme, &ra);
        pt_net_draw_weights(&b, (pt_weight_init)scheme, &rb);
        cr_assert(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0);
        for (int l = 0; l < a.n_layers; l++) {
            const pt_layer *L = &a.layer[l];
            size_t nw = (size_t)L->n_in * L->n_out;
            double bound = 1.0 / sqrt((double)L->n_in), sum = 0, sq = 0;
            for (size_t i = 0; i < nw; i++) {
                if (scheme == PT_WEIGHTS_UNIFORM)
                    cr_assert(fabsf(L->w[i]) <= bound, "layer %d weight %g out of bounds", l,
                              L->w[i]);
                sum += L->w[i];
                sq += (double)L->w[i] * L->w[i];
            }
            double var = sq / nw - (sum / nw) * (sum / nw);
            double want = scheme == PT_WEIGHTS_UNIFORM ? bound * bound / 3 : 2.0 / L->n_in;
            /* the sample variance of nw >= 1,000 draws is within 15% */
            cr_assert(fabs(var / want - 1) < 0.15, "layer %d variance %g, expected %g", l, var,
                      want);
            int nonzero = 0;
            for (int o = 0; o < L->n_out; o++) {
                nonzero += L->b[o] != 0.0f;
                cr_assert(fabsf(L->b[o]) <= bound);
            }
            cr_assert_eq(nonzero, scheme == PT_WEIGHTS_UNIFORM ? L->n_out : 0, "layer %d biases",
                         l);
        }
        pt_net_free(&a);
        pt_net_free(&b);
    }
}

Test(train, huge_inputs_diverge_with_a_clear_reason)
{
    char dir[] = "/tmp/pt_train_XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/huge.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "a,b,label\n");
    for (int i = 0; i < 64; i++)
        fprintf(f, "%g,%g,%d\n", (i % 7) * 1e30, (i % 5) * -1e30, i % 2);
    fclose(f);
    pt_config c;
    pt_config_defaults(&c);
    c.data.format = PT_FMT_CSV;
    snprintf(c.data.train, sizeof c.data.train, "%s", path);
    c.data.scale = PT_SCALE_NONE;
    c.net.hidden[0] = 8;
    c.net.n_hidden = 1;
    c.train.lr = 10;
    pt_net net;
    pt_train_result r;
    pt_err err;
    cr_assert_eq(run(&c, &net, &r, &err), PT_ERR_DIVERGED);
    cr_assert(strstr(err.msg, "training diverged: loss") && strstr(err.msg, "at epoch"), "%s", err.msg);
    cr_assert(isnan(r.loss) || isinf(r.loss));
    pt_net_free(&net);
    unlink(path);
    rmdir(dir);
}

static void step(pt_optim *o, float *w, const float *g, size_t n, float lr, float l2)
{
    pt_step s = {.lr = lr, .l2 = l2};
    pt_optim_update(o, w, g, NULL, 0, n, &s);
}

Test(optim, sgd_momentum_and_nesterov_follow_the_formula)
{
    pt_train_config tc = {.optimizer = PT_OPT_SGD, .momentum = 0.5};
    pt_optim o;
    pt_err err;
    float w[2] = {1.0f, -2.0f}, g[2] = {0.5f, 1.0f};
    cr_assert_eq(pt_optim_init(&o, &tc, 2, &err), PT_OK);
    pt_optim_begin_step(&o);
    step(&o, w, g, 2, 0.1f, 0.0f); /* v = g; w -= 0.1 g */
    /* Float arithmetic: each of a handful of operations rounds by <= u
     * relative, so the updated weight is within a few u of the formula's
     * value; 8u (5e-7 relative) leaves margin and still sees a wrong step. */
    pt_assert_close(w[0], 0.95f, 8 * PT_U_F32, 0);
    pt_optim_begin_step(&o);
    step(&o, w, g, 2, 0.1f, 0.0f); /* v = 0.5 g + g = 0.75 */
    pt_assert_close(w[0], 0.95f - 0.075f, 8 * PT_U_F32, 0);
    pt_optim_free(&o);

    tc.nesterov = 1;
    float wn[1] = {1.0f}, gn[1] = {1.0f};
    cr_assert_eq(pt_optim_init(&o, &tc, 1, &err), PT_OK);
    pt_optim_begin_step(&o);
    step(&o, wn, gn, 1, 0.1f, 0.0f); /* v = 1; w -= 0.1 (1 + 0.5) */
    pt_assert_close(wn[0], 0.85f, 8 * PT_U_F32, 0);
    pt_optim_free(&o);

    tc.nesterov = 0;
    float wd[1] = {2.0f}, gz[1] = {0.0f};
    cr_assert_eq(pt_optim_init(&o, &tc, 1, &err), PT_OK);
    pt_optim_begin_step(&o);
    step(&o, wd, gz, 1, 0.1f, 0.01f); /* g = 0.01 * 2 */
    pt_assert_close(wd[0], 2.0f - 0.002f, 8 * PT_U_F32, 0);
    pt_optim_free(&o);
}

Test(optim, adam_first_steps_match_the_formula)
{
    pt_train_config tc = {.optimizer = PT_OPT_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    pt_optim o;
    pt_err err;
    float w[1] = {1.0f}, g[1] = {0.3f};
    cr_assert_eq(pt_optim_init(&o, &tc, 1, &err), PT_OK);
    pt_optim_begin_step(&o);
    step(&o, w, g, 1, 0.01f, 0.0f);
    /* Bias-corrected first step is lr * g / |g| = lr. */
    /* As for SGD: a few float roundings of w, and the update lr m/sqrt(v)
     * (itself within ~10u, i.e. 1e-9 absolute at lr 0.01): 8u relative. */
    pt_assert_close(w[0], 0.99f, 8 * PT_U_F32, 0);
    double m = 0.1 * 0.3, v = 0.001 * 0.09;
    g[0] = -0.2f;
    pt_optim_begin_step(&o);
    step(&o, w, g, 1, 0.01f, 0.0f);
    m = 0.9 * m + 0.1 * -0.2;
    v = 0.999 * v + 0.001 * 0.04;
    double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
    pt_assert_close(w[0], 0.99 - 0.01 * mh / (sqrt(vh) + 1e-8), 8 * PT_U_F32, 0);
    pt_optim_free(&o);
}

Test(optim, learning_rate_schedules)
{
    /* Closed forms in double on both sides: PT_RTOL_FORMULA (allclose.h). */
    pt_train_config tc = {.lr = 0.1, .lr_schedule = PT_LR_CONSTANT, .step_epochs = 3,
                          .gamma = 0.5, .min_lr = 0.01};
    pt_assert_close(pt_lr_at(&tc, 7, 10), 0.1, PT_RTOL_FORMULA, 0);
    tc.lr_schedule = PT_LR_STEP;
    pt_assert_close(pt_lr_at(&tc, 2, 10), 0.1, PT_RTOL_FORMULA, 0);
    pt_assert_close(pt_lr_at(&tc, 3, 10), 0.05, PT_RTOL_FORMULA, 0);
    pt_assert_close(pt_lr_at(&tc, 7, 10), 0.025, PT_RTOL_FORMULA, 0);
    tc.lr_schedule = PT_LR_COSINE;
    pt_assert_close(pt_lr_at(&tc, 0, 10), 0.1, PT_RTOL_FORMULA, 0);
    pt_assert_close(pt_lr_at(&tc, 5, 10), 0.055, PT_RTOL_FORMULA, 0);
    cr_assert_lt(pt_lr_at(&tc, 9, 10), 0.015);
}

/* Accuracy and loss of rows 0..n of ds by the training forward pass, in
 * batches of net->cap rows: what pt_evaluate's engine must agree with. */
static void forward_figures(pt_net *net, const pt_dataset *ds, const pt_scaler *sc, double *acc,
                            double *loss)
{
    long correct = 0;
    double total = 0.0;
    uint32_t *rows = malloc(sizeof(uint32_t) * (size_t)net->cap);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)net->cap);
    cr_assert(rows && y);
    for (int i = 0; i < ds->n; i += net->cap) {
        int nb = ds->n - i < net->cap ? ds->n - i : net->cap, ok;
        for (int k = 0; k < nb; k++)
            rows[k] = (uint32_t)(i + k);
        pt_dataset_gather(ds, sc, rows, nb, net->act[0], y);
        pt_net_forward(net, nb);
        total += pt_net_loss(net, nb, y, &ok) * nb;
        correct += ok;
    }
    free(rows);
    free(y);
    *acc = (double)correct / ds->n;
    *loss = total / ds->n;
}

/* pt_evaluate runs an MLP through the inference engine (dense products,
 * sparse kernels for layers at most a quarter dense, dead neurons
 * compacted away with their constant outputs folded): dense, 90% sparse
 * and with half its neurons pruned, it gives the training forward pass's
 * figures up to float rounding. */
Test(train, evaluation_engine_agrees_with_the_forward_pass)
{
    pt_config c;
    small_fashion(&c);
    c.net.n_hidden = 2;
    c.net.hidden[0] = 64;
    c.net.hidden[1] = 32;
    c.train.epochs = 3;
    pt_data d;
    pt_err err;
    memset(&d, 0, sizeof d);
    cr_assert_eq(pt_data_open(&d, &c.data, c.seed, &err), PT_OK, "%s", err.msg);
    pt_net net;
    pt_train_result r;
    cr_assert_eq(pt_train(&c, &d, &net, NULL, NULL, &r, &err), PT_OK, "%s", err.msg);
    for (int stage = 0; stage < 3; stage++) {
        if (stage == 1)
            cr_assert_eq(pt_prune_magnitude(&net, 0.9, 1, 1, &err), PT_OK, "%s", err.msg);
        if (stage == 2)
            cr_assert_eq(pt_prune_neurons(&net, 0.5, PT_NORM_L2, &err), PT_OK, "%s", err.msg);
        double acc, loss, want_acc, want_loss;
        pt_evaluate(&net, &d.test, &d.scaler, NULL, 0, &acc, &loss);
        forward_figures(&net, &d.test, &d.scaler, &want_acc, &want_loss);
        cr_assert_gt(want_acc, 0.3, "stage %d: accuracy %.3f", stage, want_acc);
        cr_assert(fabs(acc - want_acc) <= 1.0 / d.test.n + 1e-12,
                  "stage %d: accuracy %.4f, the forward pass %.4f", stage, acc, want_acc);
        cr_assert(fabs(loss - want_loss) <= 1e-4 * fabs(want_loss),
                  "stage %d: loss %.6f, the forward pass %.6f", stage, loss, want_loss);
    }
    pt_net_free(&net);
    pt_data_close(&d);
}
