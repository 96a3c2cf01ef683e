/*
 * test_grad.c — finite-difference checks of the backward pass.
 *
 * Every weight and bias of every layer of a small 3-hidden-layer network,
 * and the loss's gradient with respect to the logits, are compared with
 * central differences of the loss. The network runs in float, so the step
 * and tolerance are set for float rounding (h = 1e-3 on inputs of order 1;
 * the loss is smooth except at ReLU kinks, which random data avoids).
 *
 * The tolerance has the allclose form atol + rtol |fd| (tests/allclose.h),
 * both terms from the difference quotient itself, not from one machine:
 * atol bounds the float rounding of the two losses divided by 2h (each loss
 * is off by about u = 6e-8 times sums of O(1) terms of length <= 8, a few
 * 1e-7, so < 1e-4 after / 2h), with a margin of 20; rtol bounds the
 * truncation error h^2 f3 / 6 (f3 the third derivative) relative to the
 * slope, < 1e-2 for this smooth loss unless a ReLU kink lies within h.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "allclose.h"
#include "net.h"

#define N 6
#define IN 7
#define OUT 4

static pt_net net;
static float x[N * IN];
static int32_t y[N];

static void setup(void)
{
    int hidden[3] = {9, 8, 5};
    pt_rng r;
    pt_err err;
    pt_rng_seed(&r, 11);
    cr_assert_eq(pt_net_init_dense(&net, IN, hidden, 3, OUT, N, &r, &err), PT_OK);
    for (int i = 0; i < N * IN; i++)
        x[i] = (float)pt_rng_normal(&r);
    for (int i = 0; i < N; i++)
        y[i] = (int32_t)pt_rng_below(&r, OUT);
    /* Non-zero biases so their gradients are exercised off the origin. */
    for (int l = 0; l < net.n_layers; l++)
        for (int j = 0; j < net.layer[l].n_out; j++)
            net.layer[l].b[j] = 0.1f * (float)pt_rng_normal(&r);
}

static void teardown(void) { pt_net_free(&net); }

static double loss_now(void)
{
    memcpy(net.act[0], x, sizeof x);
    pt_net_forward(&net, N);
    return pt_net_loss(&net, N, y, NULL);
}

/* Checks d loss / d p[i] for all i against central differences. */
static void check_params(float *p, const float *g, size_t n, const char *what, int l)
{
    const double h = 1e-3;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = p[i];
        p[i] = keep + (float)h;
        double up = loss_now();
        p[i] = keep - (float)h;
        double down = loss_now();
        p[i] = keep;
        double fd = (up - down) / (2 * h);
        if (!pt_isclose(g[i], fd, 2e-2, 2e-3)) { /* see the top of the file */
            bad++;
            cr_log_warn("layer %d %s[%zu]: backprop %g, finite difference %g", l, what, i, g[i], fd);
        }
    }
    cr_assert_eq(bad, 0, "layer %d %s: %d of %zu gradients off", l, what, bad, n);
}

Test(grad, every_layer_weights_and_biases, .init = setup, .fini = teardown)
{
    memcpy(net.act[0], x, sizeof x);
    pt_net_forward(&net, N);
    double l0 = pt_net_backward(&net, N, y, NULL, NULL, NULL);
    /* The same forward pass on the same input and the same row_loss: the
     * same bits (exact by design). */
    cr_assert_eq(l0, loss_now(), "%.17g vs %.17g", l0, loss_now());
    /* Gradients must be copied: loss_now() does not touch grads, but be explicit. */
    static float g[4096];
    cr_assert_leq(net.n_params, sizeof g / sizeof g[0]);
    memcpy(g, net.grads, sizeof(float) * net.n_params);
    for (int l = 0; l < net.n_layers; l++) {
        pt_layer *L = &net.layer[l];
        check_params(L->w, g + (L->gw - net.grads), (size_t)L->n_in * L->n_out, "w", l);
        check_params(L->b, g + (L->gb - net.grads), (size_t)L->n_out, "b", l);
    }
}

Test(grad, softmax_cross_entropy_wrt_logits, .init = setup, .fini = teardown)
{
    memcpy(net.act[0], x, sizeof x);
    pt_net_forward(&net, N);
    pt_net_backward(&net, N, y, NULL, NULL, NULL);
    float *z = net.act[net.n_layers];
    const float *dz = net.delta[net.n_layers - 1];
    const double h = 1e-2;
    for (int i = 0; i < N * OUT; i++) {
        float keep = z[i];
        z[i] = keep + (float)h;
        double up = pt_net_loss(&net, N, y, NULL);
        z[i] = keep - (float)h;
        double down = pt_net_loss(&net, N, y, NULL);
        z[i] = keep;
        double fd = (up - down) / (2 * h);
        /* h = 1e-2 on the logits (the loss is smooth there): as above,
         * atol for the losses' float rounding (expf: u |loss| / h ~ 1e-5),
         * rtol for the truncation h^2 f3 / 6. */
        pt_assert_close(dz[i], fd, 1e-2, 1e-4, "logit %d", i);
    }
}

Test(grad, loss_is_stable_for_huge_logits)
{
    pt_net m;
    pt_rng r;
    pt_err err;
    pt_rng_seed(&r, 1);
    cr_assert_eq(pt_net_init_dense(&m, 2, NULL, 0, 3, 1, &r, &err), PT_OK);
    float *z = m.act[1];
    z[0] = 1000.0f;
    z[1] = -1000.0f;
    z[2] = 999.0f;
    int32_t lab = 2;
    int ok;
    double loss = pt_net_loss(&m, 1, &lab, &ok);
    cr_assert(isfinite(loss));
    /* In double but for one expf(-1) in float (relative error <= u): the
     * loss log(1 + e^-1) + 1 moves by < u; 8u, relative, for margin. */
    pt_assert_close(loss, log1p(exp(-1.0)) + 1.0, 8 * PT_U_F32, 0);
    cr_assert_eq(ok, 0);
    pt_net_free(&m);
}

typedef struct {
    int order[PT_NET_MAX_LAYERS];
    int k;
} hook_log;

static void log_hook(void *ctx, pt_net *m, int l)
{
    (void)m;
    hook_log *h = ctx;
    h->order[h->k++] = l;
}

Test(grad, hook_sees_layers_last_to_first, .init = setup, .fini = teardown)
{
    memcpy(net.act[0], x, sizeof x);
    pt_net_forward(&net, N);
    hook_log h = {.k = 0};
    pt_net_backward(&net, N, y, NULL, log_hook, &h);
    cr_assert_eq(h.k, net.n_layers);
    for (int i = 0; i < h.k; i++)
        cr_assert_eq(h.order[i], net.n_layers - 1 - i);
}
