/*
 * test_conv.c — conv layers: im2col against a naive direct convolution,
 * finite-difference gradients through conv + max/avg pooling + dense, the
 * layer-list config, and a short real CNN training run that learns.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conv.h"
#include "infer.h"
#include "net.h"
#include "net_tol.h"
#include "netspec.h"
#include "prune.h"
#include "train.h"

/* out[s][o][y][x] = b[o] + sum w[o][c][i][j] x[s][c][y*st-p+i][x*st-p+j],
 * in double; mag[...] the sum of the magnitudes of those terms. */
static void direct_conv(const pt_conv_geom *g, int K, const float *w, const float *b,
                        const float *x, int n, float *out, double *mag)
{
    for (int s = 0; s < n; s++)
        for (int o = 0; o < K; o++)
            for (int y = 0; y < g->oh; y++)
                for (int xx = 0; xx < g->ow; xx++) {
                    double acc = b[o], sum_abs = fabs(b[o]);
                    for (int c = 0; c < g->c; c++)
                        for (int i = 0; i < g->k; i++)
                            for (int j = 0; j < g->k; j++) {
                                int iy = y * g->stride - g->pad + i,
                                    ix = xx * g->stride - g->pad + j;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                    continue;
                                double t = (double)w[((o * g->c + c) * g->k + i) * g->k + j] *
                                           x[((s * g->c + c) * g->h + iy) * g->w + ix];
                                acc += t;
                                sum_abs += fabs(t);
                            }
                    out[((s * K + o) * g->oh + y) * g->ow + xx] = (float)acc;
                    mag[((s * K + o) * g->oh + y) * g->ow + xx] = sum_abs;
                }
}

/* A conv layer without pooling followed by nothing: its act[1] before ReLU
 * is the direct convolution; with ReLU it is its positive part. */
static void check_conv_matches_direct(int c, int h, int w, int K, int k, int stride, int pad)
{
    pt_rng r;
    pt_err err;
    pt_net m;
    pt_rng_seed(&r, 3);
    int shape[3] = {c, h, w}, n = 3;
    pt_layer_spec spec[2] = {
        {.kind = PT_LAYER_CONV, .out = K, .k = k, .stride = stride, .pad = pad},
        {.kind = PT_LAYER_DENSE, .out = 2}};
    cr_assert_eq(pt_net_init(&m, shape, spec, 2, n, &r, &err), PT_OK, "%s", err.msg);
    const pt_layer *L = &m.layer[0];
    for (int j = 0; j < K; j++)
        L->b[j] = 0.1f * (float)pt_rng_normal(&r);
    for (int i = 0; i < n * m.sizes[0]; i++)
        m.act[0][i] = (float)pt_rng_normal(&r);
    pt_net_forward(&m, n);
    float *want = malloc(sizeof(float) * (size_t)n * m.sizes[1]);
    double *mag = malloc(sizeof(double) * (size_t)n * m.sizes[1]);
    direct_conv(&L->g, K, L->w, L->b, m.act[0], n, want, mag);
    /* im2col + sgemm is one float sum of the c k k + 1 terms (allclose.h),
     * against the double sum rounded once to float (u |v|). */
    long terms = (long)c * k * k + 1;
    for (int i = 0; i < n * m.sizes[1]; i++) {
        float v = want[i] > 0.0f ? want[i] : 0.0f;
        pt_assert_close(m.act[1][i], v, PT_U_F32, pt_gamma_f32(terms) * mag[i],
                        "%dx%dx%d k%d s%d p%d: [%d]", c, h, w, k, stride, pad, i);
    }
    free(mag);
    free(want);
    pt_net_free(&m);
}

Test(conv, im2col_gemm_equals_direct_convolution)
{
    check_conv_matches_direct(1, 8, 8, 3, 3, 1, 1);
    check_conv_matches_direct(2, 7, 9, 4, 3, 2, 1);
    check_conv_matches_direct(3, 6, 6, 2, 5, 1, 2);
    check_conv_matches_direct(2, 5, 5, 3, 5, 1, 0);
    check_conv_matches_direct(1, 9, 7, 2, 2, 3, 0);
}

/* ---- finite differences through conv + pool + dense ------------------- */

#define N 3
static float gx[N * 2 * 9 * 9];
static int32_t gy[N];

static double loss_of(pt_net *m)
{
    memcpy(m->act[0], gx, sizeof(float) * (size_t)N * m->sizes[0]);
    pt_net_forward(m, N);
    return pt_net_loss(m, N, gy, NULL);
}

static void grad_check(int pool)
{
    pt_rng r;
    pt_err err;
    pt_net m;
    pt_rng_seed(&r, 5);
    int shape[3] = {2, 9, 9};
    pt_layer_spec spec[4] = {
        {.kind = PT_LAYER_CONV, .out = 3, .k = 3, .stride = 1, .pad = 1, .pool = pool, .ps = 2},
        {.kind = PT_LAYER_CONV, .out = 4, .k = 2, .stride = 1, .pad = 0, .pool = pool, .ps = 2},
        {.kind = PT_LAYER_DENSE, .out = 5},
        {.kind = PT_LAYER_DENSE, .out = 3}};
    cr_assert_eq(pt_net_init(&m, shape, spec, 4, N, &r, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(m.sizes[1], pool ? 3 * 4 * 4 : 3 * 9 * 9);
    cr_assert_eq(m.sizes[2], pool ? 4 * 1 * 1 : 4 * 8 * 8);
    for (int i = 0; i < N * m.sizes[0]; i++)
        gx[i] = (float)pt_rng_normal(&r);
    for (int i = 0; i < N; i++)
        gy[i] = (int32_t)pt_rng_below(&r, 3);
    for (int l = 0; l < m.n_layers; l++)
        for (int j = 0; j < m.layer[l].n_out; j++)
            m.layer[l].b[j] = 0.2f + 0.1f * (float)pt_rng_normal(&r);
    loss_of(&m);
    pt_net_backward(&m, N, gy, NULL, NULL, NULL);
    float *g = malloc(sizeof(float) * m.n_params);
    memcpy(g, m.grads, sizeof(float) * m.n_params);
    int bad = 0, total = 0;
    for (size_t i = 0; i < m.n_params; i++) {
        /* A ReLU kink within h of a unit bends one difference; a smaller
         * step (at a looser float tolerance) steps over most of them. */
        double fd = 0.0, h = 1e-3;
        for (int t = 0; t < 2; t++, h /= 8) {
            float keep = m.params[i];
            m.params[i] = keep + (float)h;
            double up = loss_of(&m);
            m.params[i] = keep - (float)h;
            double down = loss_of(&m);
            m.params[i] = keep;
            fd = (up - down) / (2 * h);
            /* allclose form, atol for the losses' float rounding / 2h
             * and rtol for the truncation, as derived in test_grad.c; the
             * step h / 8 makes the rounding part 8x larger (still < 1e-3
             * for these O(1) losses), hence atol 6e-3 there */
            if (pt_isclose(g[i], fd, 2e-2, t ? 6e-3 : 2e-3))
                break;
        }
        total++;
        if (!pt_isclose(g[i], fd, 2e-2, 6e-3)) {
            bad++;
            cr_log_warn("pool %d param %zu: backprop %g, finite difference %g", pool, i, g[i], fd);
        }
    }
    cr_assert_eq(bad, 0, "pool %d: %d of %d gradients off", pool, bad, total);
    free(g);
    pt_net_free(&m);
}

Test(conv, gradients_through_max_pooling)
{
    grad_check(PT_POOL_MAX);
}
Test(conv, gradients_through_avg_pooling)
{
    grad_check(PT_POOL_AVG);
}
Test(conv, gradients_without_pooling)
{
    grad_check(PT_POOL_NONE);
}

/* ---- config and a real run -------------------------------------------- */

static const char *lenet5 =
    "{\"data\": {\"dir\": \"" PT_FASHION_DIR "\", \"limit\": 3000, \"test_limit\": 1000},"
    " \"net\": {\"layers\": [{\"type\": \"conv2d\", \"out\": 6, \"kernel\": 5, \"pad\": 2},"
    " {\"type\": \"maxpool\", \"size\": 2}, {\"type\": \"conv2d\", \"out\": 16, \"kernel\": 5},"
    " {\"type\": \"maxpool\"}, {\"type\": \"flatten\"}, {\"type\": \"dense\", \"out\": 32},"
    " {\"type\": \"dropout\", \"rate\": 0.1}]},"
    " \"train\": {\"epochs\": 2, \"lr\": 0.05}}";

Test(conv, config_layers_parse_print_and_build)
{
    pt_config c;
    pt_err err;
    cr_assert_eq(pt_config_parse(&c, lenet5, "t", &err), PT_OK, "%s", err.msg);
    cr_assert_eq(c.net.n_layers, 7);
    char *text = pt_config_to_json(&c);
    pt_config back;
    cr_assert_eq(pt_config_parse(&back, text, "back", &err), PT_OK, "%s", err.msg);
    free(text);
    cr_assert_eq(memcmp(&back.net, &c.net, sizeof c.net), 0);
    int shape[3], n;
    pt_layer_spec spec[PT_NET_MAX_LAYERS];
    float drop[PT_NET_MAX_LAYERS + 1];
    cr_assert_eq(pt_net_specs(&c, 784, 10, shape, spec, &n, drop, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(n, 4);
    cr_assert_eq(shape[1], 28);
    cr_assert_eq(spec[1].pool, PT_POOL_MAX);
    cr_assert_eq(spec[1].ps, 2);
    cr_assert_eq(drop[3], 0.1f, "the config's 0.1, as a float");
    cr_assert_eq(spec[3].out, 10);
}

Test(conv, config_rejects_bad_layer_lists)
{
    const char *bad[][2] = {
        {"{\"net\": {\"layers\": [{\"type\": \"maxpool\"}]}}", "net.layers[0]: a pooling layer"},
        {"{\"net\": {\"layers\": [{\"type\": \"dense\", \"out\": 4}, {\"type\": \"conv2d\", "
         "\"out\": 2, \"kernel\": 3}]}}",
         "net.layers[1]: conv2d"},
        {"{\"net\": {\"layers\": [{\"type\": \"conv2d\", \"out\": 2}]}}",
         "net.layers[0].kernel: expected an integer"},
        {"{\"net\": {\"layers\": [{\"type\": \"conv2d\", \"out\": 2, \"kernel\": 3, \"size\": "
         "2}]}}",
         "net.layers[0].size: unknown key"},
        {"{\"net\": {\"layers\": [{\"type\": \"conv\"}]}}", "net.layers[0].type: expected one of"},
        {"{\"net\": {\"layers\": [{\"type\": \"dropout\", \"rate\": 0.5}]}}", "dropout must"},
        {"{\"data\": {\"shape\": [1, 28]}}", "data.shape"},
        {"{\"prune\": {\"schedule\": \"oneshot\", \"granularity\": \"filter\"}}", "needs a conv2d"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_config c;
        pt_err err;
        cr_assert_eq(pt_config_parse(&c, bad[i][0], "t", &err), PT_ERR_CONFIG, "%s", bad[i][0]);
        cr_expect(strstr(err.msg, bad[i][1]) != NULL, "%s: %s", bad[i][0], err.msg);
    }
}

Test(conv, lenet5_learns_in_two_short_epochs)
{
    pt_config c;
    pt_err err;
    cr_assert_eq(pt_config_parse(&c, lenet5, "t", &err), PT_OK, "%s", err.msg);
    pt_data d;
    cr_assert_eq(pt_data_open(&d, &c.data, c.seed, &err), PT_OK, "%s", err.msg);
    pt_net net;
    pt_train_result res;
    cr_assert_eq(pt_train(&c, &d, &net, NULL, NULL, &res, &err), PT_OK, "%s", err.msg);
    /* 3000 rows, 2 epochs: chance is 0.1; this reaches ~0.7. */
    cr_expect_gt(res.test_acc, 0.55, "test_acc %g", res.test_acc);
    cr_expect_lt(res.loss, 1.2, "loss %g", res.loss);
    cr_assert_eq(net.layer[0].kind, PT_LAYER_CONV);
    cr_assert_eq(net.sizes[1], 6 * 14 * 14);
    cr_assert_eq(net.sizes[2], 16 * 5 * 5);
    pt_net_free(&net);
    pt_data_close(&d);
}

/* ---- pruning conv layers ------------------------------------------------ */

static void build_small(pt_net *m, int cap)
{
    pt_rng r;
    pt_err err;
    pt_rng_seed(&r, 9);
    int shape[3] = {2, 12, 12};
    pt_layer_spec spec[4] = {{.kind = PT_LAYER_CONV,
                              .out = 8,
                              .k = 3,
                              .stride = 1,
                              .pad = 1,
                              .pool = PT_POOL_MAX,
                              .ps = 2},
                             {.kind = PT_LAYER_CONV,
                              .out = 6,
                              .k = 3,
                              .stride = 1,
                              .pad = 1,
                              .pool = PT_POOL_AVG,
                              .ps = 2},
                             {.kind = PT_LAYER_DENSE, .out = 7},
                             {.kind = PT_LAYER_DENSE, .out = 4}};
    cr_assert_eq(pt_net_init(m, shape, spec, 4, cap, &r, &err), PT_OK, "%s", err.msg);
    for (int l = 0; l < m->n_layers; l++)
        for (int j = 0; j < m->layer[l].n_out; j++)
            m->layer[l].b[j] = 0.1f * (float)pt_rng_normal(&r);
    for (int i = 0; i < cap * m->sizes[0]; i++)
        m->act[0][i] = (float)pt_rng_uniform(&r);
}

Test(conv, filter_pruning_masks_filters_and_next_channels_and_compacts_exactly)
{
    pt_net m, c;
    pt_err err;
    int n = 5;
    build_small(&m, n);
    cr_assert_eq(pt_prune_filters(&m, 0.5, PT_NORM_L1, &err), PT_OK, "%s", err.msg);
    pt_sparsity sp;
    pt_sparsity_of(&m, &sp);
    cr_assert_eq(sp.neurons[0], 4);
    cr_assert_eq(sp.neurons[1], 3);
    cr_assert_eq(sp.neurons[2], 7, "dense layers are left alone");
    /* A pruned filter's next-layer channel is zero in every next filter. */
    const pt_layer *L0 = &m.layer[0], *L1 = &m.layer[1];
    for (int j = 0; j < L0->n_out; j++) {
        int dead = 1;
        for (int i = 0; i < L0->n_in; i++)
            dead &= L0->w[j * L0->n_in + i] == 0.0f;
        for (int k = 0; dead && k < L1->n_out; k++)
            for (int t = 0; t < 9; t++)
                cr_assert_eq(L1->w[k * L1->n_in + j * 9 + t], 0.0f);
    }
    float x[5 * 288];
    memcpy(x, m.act[0], sizeof x);
    pt_net_forward(&m, n);
    cr_assert_eq(pt_net_compact(&m, &c, n, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(c.layer[0].n_out, 4);
    cr_assert_eq(c.layer[1].n_out, 3);
    cr_assert_eq(c.layer[1].n_in, 4 * 9);
    cr_assert_eq(c.layer[2].n_in, 3 * 3 * 3);
    memcpy(c.act[0], x, sizeof x);
    pt_net_forward(&c, n);
    /* The compacted net sums fewer terms, in other blocks (allclose.h). */
    double tol[5 * 4];
    pt_net_tol(&m, x, n, tol);
    for (int i = 0; i < n * 4; i++)
        pt_assert_close(c.act[4][i], m.act[4][i], 0, tol[i], "logit %d", i);
    /* The inference engine runs the compacted conv net to the same logits. */
    pt_infer e;
    float out[5 * 4];
    cr_assert_eq(pt_infer_build(&e, &m, 4, PT_INFER_AUTO, &err), PT_OK, "%s", err.msg);
    pt_infer_run(&e, x, n, out);
    for (int i = 0; i < n * 4; i++)
        pt_assert_close(out[i], m.act[4][i], 0, tol[i], "engine logit %d", i);
    pt_infer_free(&e);
    pt_net_free(&c);
    pt_net_free(&m);
}

/* prune.layer_sparsity: each pruned layer goes to its own fraction, scaled
 * by the schedule's progress (target / prune.sparsity). build_small has
 * conv 8 -> conv 6 -> dense 7 -> 4 outputs. */
Test(conv, per_layer_targets_follow_the_schedule_in_proportion)
{
    pt_err err;
    pt_prune_config p = {.granularity = PT_GRAN_FILTER, .norm = PT_NORM_L2, .sparsity = 0.5};
    p.layer_sparsity.n = 2;
    p.layer_sparsity.v[0] = 0.25;
    p.layer_sparsity.v[1] = 0.5;
    struct {
        double target;
        int left[3];
    } want[] = {{0.25, {7, 4, 7}}, /* halfway: 0.125 of 8 -> 1 (rounded), 0.25 of 6 -> 2 */
                {0.5, {6, 3, 7}}}; /* the end: 0.25 of 8, 0.5 of 6; dense untouched */
    for (int i = 0; i < 2; i++) {
        pt_net m;
        build_small(&m, 2);
        cr_assert_eq(pt_prune_to(&m, &p, want[i].target, &err), PT_OK, "%s", err.msg);
        pt_sparsity sp;
        pt_sparsity_of(&m, &sp);
        for (int l = 0; l < 3; l++)
            cr_expect_eq(sp.neurons[l], want[i].left[l], "target %g, layer %d: %d left",
                         want[i].target, l, sp.neurons[l]);
        pt_net_free(&m);
    }
    /* Neuron granularity lists every hidden layer, conv and dense. */
    p.granularity = PT_GRAN_NEURON;
    p.layer_sparsity.n = 3;
    p.layer_sparsity.v[0] = 0.5;
    p.layer_sparsity.v[1] = 0.0;
    p.layer_sparsity.v[2] = 0.5;
    pt_net m;
    build_small(&m, 2);
    cr_assert_eq(pt_prune_to(&m, &p, 0.5, &err), PT_OK, "%s", err.msg);
    pt_sparsity sp;
    pt_sparsity_of(&m, &sp);
    cr_expect_eq(sp.neurons[0], 4);
    cr_expect_eq(sp.neurons[1], 6);
    cr_expect_eq(sp.neurons[2], 3); /* 0.5 of 7 rounds to 4 removed */
    pt_net_free(&m);
}

Test(conv, magnitude_pruning_covers_conv_weights)
{
    pt_net m;
    pt_err err;
    build_small(&m, 2);
    cr_assert_eq(pt_prune_magnitude(&m, 0.75, 0, 1, &err), PT_OK, "%s", err.msg);
    pt_sparsity sp;
    pt_sparsity_of(&m, &sp);
    for (int l = 0; l < 2; l++)
        cr_assert_eq(sp.zeros[l], lround(0.75 * sp.weights[l]), "conv layer %d", l);
    pt_net_free(&m);
}

/* ---- export: train --save, eval and an independent numpy forward ------- */

/* Runs cmd, its stdout into out; returns the exit status. */
static int run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double json_num(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(text, pat);
    cr_assert_not_null(at, "%s missing in %s", key, text);
    return strtod(at + strlen(pat), NULL);
}

Test(conv, filter_pruned_cnn_saves_evals_and_numpy_agrees)
{
    static char out[1 << 16];
    char cmd[4096], model[] = "/tmp/pt_conv_XXXXXX";
    int fd = mkstemp(model);
    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(cmd, sizeof cmd,
             "%s train '%s/examples/lenet5_fashion.json' --quiet --set data.dir='\"%s\"' "
             "--set data.limit=1500 --set data.test_limit=300 --set train.epochs=1 "
             "--set prune.schedule=oneshot --set prune.granularity=filter --set prune.sparsity=0.5 "
             "--set prune.finetune_epochs=1 --save '%s'",
             PT_BIN, PT_SOURCE_DIR, PT_FASHION_DIR, model);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    double acc = json_num(out, "test_acc"), loss = json_num(out, "test_loss");
    cr_assert_gt(acc, 0.4, "%s", out);
    /* The result names what is left of each conv layer. */
    cr_assert(strstr(out, "\"type\":\t\"conv\""), "%s", out);
    cr_assert(strstr(out, "\"run_out\":\t3,"), "conv1: 3 of 6 filters left: %s", out);

    snprintf(cmd, sizeof cmd, "%s eval '%s' --json", PT_BIN, model);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_eq(json_num(out, "test_acc"), acc, "%s", out);
    cr_assert(strstr(out, "\"reproduced\":\ttrue"), "%s", out);

    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/npz_check.py' '%s' '%s'", PT_SOURCE_DIR,
             model, PT_FASHION_DIR);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_eq(json_num(out, "n"), 300);
    /* numpy sums in other orders: another argmax only on a near-tie, the
     * loss within the bound npz_check.py derives from the model
     * (allclose.h); acc * 300 is a count up to the division's rounding. */
    cr_assert_leq(fabs(json_num(out, "correct") - acc * 300), json_num(out, "near_ties") + 1e-9,
                  "%s", out);
    pt_assert_close(json_num(out, "test_loss"), loss, 0, json_num(out, "loss_tol"), "%s", out);
    unlink(model);
}
