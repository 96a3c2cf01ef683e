/*
 * test_sptrain.c — sparse training (core/sptrain.h) against masked dense:
 * the three kernels element by element, the whole forward pass, the
 * optimizer step and the switch in and out with its state, and a short
 * training run on Fashion-MNIST with the sparse path forced.
 */
#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allclose.h"
#include "config.h"
#include "data_open.h"
#include "net_tol.h"
#include "optim.h"
#include "sptrain.h"
#include "train.h"

/* The kernel path the build was configured for is the one compiled. */
Test(sptrain, path_matches_the_build)
{
    const char *want = PT_KERNEL;
    if (strcmp(want, "native") != 0)
        cr_assert_str_eq(pt_sptrain_path(), want);
}

/* A network sizes[0] -> ... with a random mask of about `sparsity` on every
 * layer (weights and mask 0 together, as pruning leaves them), inputs
 * uniform in [0, 1) for n rows. */
static void masked_net(pt_net *m, const int *hidden, int n_hidden, int n_in, int n_out, int cap,
                       double sparsity, uint64_t seed)
{
    pt_rng rng;
    pt_err err;
    pt_rng_seed(&rng, seed);
    cr_assert_eq(pt_net_init_dense(m, n_in, hidden, n_hidden, n_out, cap, &rng, &err), PT_OK);
    cr_assert_eq(pt_net_mask_enable(m, &err), PT_OK);
    for (int l = 0; l < m->n_layers; l++) {
        pt_layer *L = &m->layer[l];
        for (size_t i = 0; i < (size_t)L->n_in * L->n_out; i++)
            if (pt_rng_uniform(&rng) < sparsity) {
                L->w[i] = 0.0f;
                m->mask[L->off + i] = 0.0f;
            }
        for (int o = 0; o < L->n_out; o++)
            L->b[o] = (float)(0.1 * pt_rng_normal(&rng));
    }
    for (size_t i = 0; i < (size_t)cap * n_in; i++)
        m->act[0][i] = (float)pt_rng_uniform(&rng);
}

static void fill_normal(float *p, size_t n, uint64_t seed)
{
    pt_rng rng;
    pt_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)pt_rng_normal(&rng);
}

/* Forward, dX and dW of each layer against the dense GEMMs on the same
 * inputs, for a batch of n rows (n not a multiple of any vector width
 * exercises the padding; n > 128 two panels). */
static void check_kernels(int n)
{
    int hidden[2] = {70, 37};
    pt_net m;
    masked_net(&m, hidden, 2, 100, 10, n, 0.9, 7);
    pt_optim o;
    pt_train_config tc;
    pt_config cfg;
    pt_err err;
    pt_config_defaults(&cfg);
    tc = cfg.train;
    cr_assert_eq(pt_optim_init(&o, &tc, m.n_params, &err), PT_OK);
    pt_sptrain s;
    pt_sptrain_init(&s, PT_SPARSE_ON, n);
    cr_assert_eq(pt_sptrain_enter(&s, &m, &o, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(m.sparse, &s);
    for (int l = 0; l < m.n_layers; l++) {
        const pt_layer *L = &m.layer[l];
        const pt_splayer *S = &s.layer[l];
        cr_assert(S->active, "layer %d not sparse", l);
        int ni = L->n_in, no = L->n_out;
        float *x = m.act[l];
        fill_normal(x, (size_t)n * ni, 100 + l); /* any signs: no ReLU zeros */
        float *want = malloc(sizeof(float) * (size_t)n * (ni > no ? ni : no));
        float *gw = malloc(sizeof(float) * (size_t)ni * no);
        /* forward: Z = X W^T, a sum of n_in terms per output */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, no, ni, 1.0f, x, ni, L->w, ni,
                    0.0f, want, no);
        cr_assert_eq(pt_sptrain_forward(&s, &m, l, n), 1);
        for (int i = 0; i < n; i++)
            for (int o2 = 0; o2 < no; o2++) {
                double sa = 0;
                for (int j = 0; j < ni; j++)
                    sa += fabs((double)L->w[(size_t)o2 * ni + j] * x[(size_t)i * ni + j]);
                pt_assert_close(m.act[l + 1][(size_t)i * no + o2], want[(size_t)i * no + o2], 0,
                                pt_sum_tol(ni, sa), "forward layer %d row %d out %d", l, i, o2);
            }
        /* backward: dX = dZ W (n_out terms) and dW = dZ^T X (n terms) */
        float *dz = m.delta[l];
        fill_normal(dz, (size_t)n * no, 200 + l);
        if (l > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, ni, no, 1.0f, dz, no, L->w,
                        ni, 0.0f, want, ni);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, n, 1.0f, dz, no, x, ni, 0.0f,
                    gw, ni);
        cr_assert_eq(pt_sptrain_backward(&s, &m, l, n), 1);
        if (l > 0)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < ni; j++) {
                    double sa = 0;
                    for (int o2 = 0; o2 < no; o2++)
                        sa += fabs((double)dz[(size_t)i * no + o2] * L->w[(size_t)o2 * ni + j]);
                    pt_assert_close(m.delta[l - 1][(size_t)i * ni + j], want[(size_t)i * ni + j],
                                    0, pt_sum_tol(no, sa), "dX layer %d row %d in %d", l, i, j);
                }
        long nnz = 0;
        for (int o2 = 0; o2 < no; o2++)
            for (int32_t k = S->rowptr[o2]; k < S->rowptr[o2 + 1]; k++, nnz++) {
                int j = S->col[k];
                cr_assert_eq(m.mask[L->off + (size_t)o2 * ni + j], 1.0f, "pattern off the mask");
                double sa = 0;
                for (int i = 0; i < n; i++)
                    sa += fabs((double)dz[(size_t)i * no + o2] * x[(size_t)i * ni + j]);
                pt_assert_close(S->grad[k], gw[(size_t)o2 * ni + j], 0, pt_sum_tol(n, sa),
                                "dW layer %d at (%d, %d)", l, o2, j);
            }
        long kept = 0;
        for (size_t i = 0; i < (size_t)ni * no; i++)
            kept += m.mask[L->off + i] != 0.0f;
        cr_assert_eq(nnz, kept, "layer %d: %ld packed weights, %ld kept", l, nnz, kept);
        free(want);
        free(gw);
    }
    pt_sptrain_leave(&s, &m, &o);
    cr_assert_null(m.sparse);
    pt_sptrain_free(&s);
    pt_optim_free(&o);
    pt_net_free(&m);
}

Test(sptrain, kernels_match_dense_masked_batch_128)
{
    check_kernels(128);
}

Test(sptrain, kernels_match_dense_masked_odd_batches)
{
    check_kernels(1);
    check_kernels(37);
    check_kernels(200);
}

/* The whole forward pass, sparse layers and dense epilogues together, is
 * within the network tolerance of net_tol.h of the masked dense pass. */
Test(sptrain, network_forward_matches_masked_dense)
{
    int hidden[2] = {300, 100}, n = 128;
    pt_net m;
    masked_net(&m, hidden, 2, 784, 10, n, 0.95, 3);
    float *x = malloc(sizeof(float) * (size_t)n * 784);
    memcpy(x, m.act[0], sizeof(float) * (size_t)n * 784);
    pt_net_forward(&m, n);
    float *want = malloc(sizeof(float) * (size_t)n * 10);
    memcpy(want, m.act[2 + 1], sizeof(float) * (size_t)n * 10);
    pt_optim o;
    pt_config cfg;
    pt_err err;
    pt_config_defaults(&cfg);
    cr_assert_eq(pt_optim_init(&o, &cfg.train, m.n_params, &err), PT_OK);
    pt_sptrain s;
    pt_sptrain_init(&s, PT_SPARSE_ON, n);
    cr_assert_eq(pt_sptrain_enter(&s, &m, &o, &err), PT_OK);
    memcpy(m.act[0], x, sizeof(float) * (size_t)n * 784);
    pt_net_forward(&m, n);
    double *tol = malloc(sizeof(double) * (size_t)n * 10);
    pt_dense_tol(&m, x, n, tol);
    for (int i = 0; i < n * 10; i++)
        pt_assert_close(m.act[3][i], want[i], 0, tol[i], "logit %d", i);
    pt_sptrain_leave(&s, &m, &o);
    pt_sptrain_free(&s);
    pt_optim_free(&o);
    pt_net_free(&m);
    free(x);
    free(want);
    free(tol);
}

/* Optimizer steps on the packed weights are the dense masked steps, bit for
 * bit, given the same gradient: same formula element by element (L1 and
 * decoupled decay take the same fused path with or without a mask, and a
 * kept weight has mask 1). State goes in at enter and back at leave, so
 * dense -> sparse -> dense steps equal dense steps all along. Max-norm too. */
static void check_switch(pt_opt_kind kind)
{
    int hidden[1] = {50};
    pt_net a, b;
    masked_net(&a, hidden, 1, 60, 10, 16, 0.8, 11);
    masked_net(&b, hidden, 1, 60, 10, 16, 0.8, 11);
    pt_config cfg;
    pt_err err;
    pt_config_defaults(&cfg);
    cfg.train.optimizer = kind;
    pt_optim oa, ob;
    cr_assert_eq(pt_optim_init(&oa, &cfg.train, a.n_params, &err), PT_OK);
    cr_assert_eq(pt_optim_init(&ob, &cfg.train, b.n_params, &err), PT_OK);
    pt_step st = {.lr = 0.05f, .decay = 1e-3f, .l1 = 1e-3f};
    pt_sptrain s;
    pt_sptrain_init(&s, PT_SPARSE_ON, 16);
    float max_norm = 0.5f;
    for (int step = 0; step < 9; step++) {
        /* steps 3..5 sparse on b, the others dense on both */
        if (step == 3)
            cr_assert_eq(pt_sptrain_enter(&s, &b, &ob, &err), PT_OK);
        if (step == 6)
            pt_sptrain_leave(&s, &b, &ob);
        pt_optim_begin_step(&oa);
        pt_optim_begin_step(&ob);
        for (int l = 0; l < a.n_layers; l++) {
            pt_layer *La = &a.layer[l], *Lb = &b.layer[l];
            size_t nw = (size_t)La->n_in * La->n_out;
            fill_normal(La->gw, nw, 1000 + 10 * step + l);
            memcpy(Lb->gw, La->gw, sizeof(float) * nw);
            pt_optim_update(&oa, a.params, a.grads, a.mask, La->off, nw, &st);
            /* train.c's max_norm, on the dense rows */
            for (int r = 0; r < La->n_out; r++) {
                float *w = La->w + (size_t)r * La->n_in;
                double sq = 0;
                for (int j = 0; j < La->n_in; j++)
                    sq += (double)w[j] * w[j];
                if (sq > (double)max_norm * max_norm) {
                    float f = (float)(max_norm / sqrt(sq));
                    for (int j = 0; j < La->n_in; j++)
                        w[j] *= f;
                }
            }
            if (pt_sptrain_active(b.sparse, l)) {
                pt_splayer *S = &s.layer[l];
                for (int r = 0; r < Lb->n_out; r++)
                    for (int32_t k = S->rowptr[r]; k < S->rowptr[r + 1]; k++)
                        S->grad[k] = Lb->gw[(size_t)r * Lb->n_in + S->col[k]];
                pt_sptrain_update(&s, &b, l, &ob, &st, max_norm);
            } else {
                pt_optim_update(&ob, b.params, b.grads, b.mask, Lb->off, nw, &st);
                for (int r = 0; r < Lb->n_out; r++) {
                    float *w = Lb->w + (size_t)r * Lb->n_in;
                    double sq = 0;
                    for (int j = 0; j < Lb->n_in; j++)
                        sq += (double)w[j] * w[j];
                    if (sq > (double)max_norm * max_norm) {
                        float f = (float)(max_norm / sqrt(sq));
                        for (int j = 0; j < Lb->n_in; j++)
                            w[j] *= f;
                    }
                }
            }
        }
        if (step == 4) {
            /* mid-way: the synced dense weights are the dense run's */
            pt_sptrain_sync(&s, &b);
            cr_assert(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0);
        }
    }
    cr_assert(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0, "weights differ");
    cr_assert(memcmp(oa.m, ob.m, sizeof(float) * a.n_params) == 0, "first state differs");
    if (kind == PT_OPT_ADAM)
        cr_assert(memcmp(oa.v, ob.v, sizeof(float) * a.n_params) == 0, "second moment differs");
    pt_sptrain_free(&s);
    pt_optim_free(&oa);
    pt_optim_free(&ob);
    pt_net_free(&a);
    pt_net_free(&b);
}

Test(sptrain, switch_keeps_optimizer_state_sgd)
{
    check_switch(PT_OPT_SGD);
}

Test(sptrain, switch_keeps_optimizer_state_adam)
{
    check_switch(PT_OPT_ADAM);
}

/* "off" leaves every layer dense; "auto" takes a layer at and above
 * pt_sptrain_auto_sparsity(), never one below it, and the same mask gets the
 * same choice every time (no timing decides); "on" takes every pruned one. */
Test(sptrain, modes_choose_as_documented)
{
    int hidden[1] = {64};
    pt_net m;
    masked_net(&m, hidden, 1, 256, 10, 64, 0.95, 5);
    /* layer 2 at 30%: below auto's floor */
    pt_layer *L = &m.layer[1];
    for (size_t i = 0; i < (size_t)L->n_in * L->n_out; i++)
        m.mask[L->off + i] = (float)(i % 10 >= 3);
    pt_config cfg;
    pt_err err;
    pt_config_defaults(&cfg);
    pt_optim o;
    cr_assert_eq(pt_optim_init(&o, &cfg.train, m.n_params, &err), PT_OK);
    pt_sptrain s;
    pt_sptrain_init(&s, PT_SPARSE_OFF, 64);
    cr_assert_eq(pt_sptrain_enter(&s, &m, &o, &err), PT_OK);
    cr_assert_null(m.sparse);
    double floor = pt_sptrain_auto_sparsity(64);
    cr_assert(floor > 0.3 && floor < 0.95, "auto floor %g", floor);
    for (int again = 0; again < 3; again++) {
        pt_sptrain_init(&s, PT_SPARSE_AUTO, 64);
        cr_assert_eq(pt_sptrain_enter(&s, &m, &o, &err), PT_OK);
        cr_assert_eq(s.chosen[0], 2, "layer at 95%% not sparse");
        cr_assert(s.layer[0].active);
        cr_assert_eq(s.chosen[1], 1, "layer at 30%% taken sparse");
        cr_assert_not(s.layer[1].active);
        pt_sptrain_leave(&s, &m, &o);
        pt_sptrain_free(&s);
    }
    pt_sptrain_init(&s, PT_SPARSE_ON, 64);
    cr_assert_eq(pt_sptrain_enter(&s, &m, &o, &err), PT_OK);
    cr_assert(s.layer[0].active && s.layer[1].active);
    pt_sptrain_leave(&s, &m, &o);
    pt_sptrain_free(&s);
    pt_optim_free(&o);
    pt_net_free(&m);
}

/* A real run: gradual pruning to 90% in the first epoch of 4, then the
 * mask fixed; forced sparse against forced dense, same seed. */
static void gradual_run(pt_config *c, int mode, int schedule, pt_net *net, pt_train_result *r)
{
    pt_config_defaults(c);
    snprintf(c->data.dir, sizeof c->data.dir, "%s", PT_FASHION_DIR);
    c->data.limit = 3000;
    c->data.test_limit = 2000;
    c->data.val_fraction = 0.1;
    c->net.n_hidden = 2;
    c->net.hidden[0] = 128;
    c->net.hidden[1] = 64;
    c->train.epochs = 4;
    c->train.batch_size = 64;
    c->train.sparse = mode;
    c->reg.l2 = 1e-4;
    c->reg.dropout.n = -1;
    c->reg.dropout.v[0] = 0.1;
    c->prune.schedule = schedule;
    c->prune.granularity = PT_GRAN_LAYER;
    c->prune.sparsity = 0.9;
    c->prune.start_epoch = 0;
    c->prune.end_epoch = 1;
    c->prune.frequency = 10;
    c->prune.finetune_epochs = 2;
    c->prune.rounds = 2;
    pt_data d;
    pt_err err;
    memset(&d, 0, sizeof d);
    cr_assert_eq(pt_data_open(&d, &c->data, c->seed, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(pt_train(c, &d, net, NULL, NULL, r, &err), PT_OK, "%s", err.msg);
    pt_data_close(&d);
}

static void check_run(int schedule)
{
    pt_config c;
    pt_net dn, sp;
    pt_train_result rd, rs;
    gradual_run(&c, PT_SPARSE_OFF, schedule, &dn, &rd);
    gradual_run(&c, PT_SPARSE_ON, schedule, &sp, &rs);
    long steps_dense = 0, steps_sparse = 0;
    for (int l = 0; l < PT_NET_MAX_LAYERS; l++) {
        steps_dense += rd.sparse_steps[l];
        steps_sparse += rs.sparse_steps[l];
    }
    cr_assert_eq(steps_dense, 0);
    cr_assert_gt(rs.sparse_steps[0], 0, "layer 1 never trained sparse");
    cr_assert_null(sp.sparse, "the network must leave pt_train dense");
    /* The same mask: pruning events all ran on identical weights before the
     * first sparse step (gradual), or on weights that differ by rounding
     * only; either way the layer-wise counts are the target's. */
    pt_assert_close(rs.sparsity, rd.sparsity, 0, 1e-3, "sparsity");
    for (size_t i = 0; i < dn.n_params; i++)
        if (dn.mask[i] == 0.0f && schedule == PT_PRUNE_GRADUAL)
            cr_assert_eq(sp.params[i], 0.0f, "a pruned weight came back at %zu", i);
    /* Similar accuracy: the two runs differ only by float rounding, which
     * moves a trained net less than the sampling noise of its test
     * accuracy; allow 3 standard errors of a proportion on this test set,
     * for each of the two estimates. */
    double p = rd.test_acc, se = sqrt(p * (1 - p) / c.data.test_limit);
    pt_assert_close(rs.test_acc, rd.test_acc, 0, 3.0 * sqrt(2.0) * se, "test accuracy");
    cr_assert_gt(rs.test_acc, 0.7, "sparse run learnt little: %.3f", rs.test_acc);
    pt_net_free(&dn);
    pt_net_free(&sp);
}

/* The default ("auto") chooses by the mask alone: a seed gives the same run,
 * bit for bit, and the 90% layers did train sparse. */
Test(sptrain, same_seed_same_sparse_run)
{
    pt_config c;
    pt_net a, b;
    pt_train_result ra, rb;
    gradual_run(&c, PT_SPARSE_AUTO, PT_PRUNE_GRADUAL, &a, &ra);
    gradual_run(&c, PT_SPARSE_AUTO, PT_PRUNE_GRADUAL, &b, &rb);
    if (pt_sptrain_auto_sparsity(c.train.batch_size) < 0.9)
        cr_assert_gt(ra.sparse_steps[0], 0, "layer 1 at 90%% never trained sparse");
    cr_assert_eq(memcmp(ra.sparse_steps, rb.sparse_steps, sizeof ra.sparse_steps), 0);
    cr_assert_eq(a.n_params, b.n_params);
    cr_assert(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0,
              "same seed, different weights");
    cr_assert_eq(ra.loss, rb.loss);
    cr_assert_eq(ra.test_acc, rb.test_acc);
    pt_net_free(&a);
    pt_net_free(&b);
}

Test(sptrain, gradual_run_matches_masked_dense)
{
    check_run(PT_PRUNE_GRADUAL);
}

Test(sptrain, iterative_run_matches_masked_dense)
{
    check_run(PT_PRUNE_ITERATIVE);
}
