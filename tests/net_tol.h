/*
 * net_tol.h — per-output tolerances for comparing two float evaluations of
 * a network (pt_net_tol), derived in allclose.h. Apart from allclose.h
 * because it needs core/'s net.h: tests that do not link ptcore include
 * allclose.h alone.
 */
#ifndef PT_TESTS_NET_TOL_H
#define PT_TESTS_NET_TOL_H

#include <stdlib.h>

#include "allclose.h"
#include "net.h"

/* The reduction length of layer l per output: n_in for a dense layer, the
 * taps C k k of a conv filter; + 1 for the bias. */
static inline long pt_layer_terms(const pt_net *m, int l)
{
    const pt_layer *L = &m->layer[l];
    if (L->kind == PT_LAYER_CONV)
        return (long)L->g.c * L->g.k * L->g.k + 1;
    return (long)L->n_in + 1;
}

/* Weight w of layer L as the network computes with it (pruned: 0). */
static inline double pt_w_eff(const pt_net *m, const pt_layer *L, size_t i, int bias)
{
    size_t at = (size_t)((bias ? L->b : L->w) - m->params) + i;
    return m->mask ? (double)m->params[at] * m->mask[at] : (double)m->params[at];
}

/* Dense networks: the bound of the comment above, layer by layer on each
 * row, with the row's own activations (in double) instead of the absolute
 * network's, which is much tighter (ReLU zeroes half the units, and a unit
 * whose pre-activation is below minus its own error bound carries no error
 * on). For output o of layer l: E_o = gamma S_o + sum_j |w_oj| E~_j, where
 * S_o = |b_o| + sum_j |w_oj| (|a_j| + E~_j) is the sum of the magnitudes
 * of the float terms, and E~_j is E_j of the previous layer, or 0 when
 * that unit's pre-activation z_j <= -E_j (both evaluations then give 0). */
static inline void pt_dense_tol(const pt_net *net, const float *x, int n, double *tol)
{
    int width = 0;
    for (int l = 0; l <= net->n_layers; l++)
        width = net->sizes[l] > width ? net->sizes[l] : width;
    double *a = malloc(sizeof(double) * 4 * (size_t)width);
    double *e = a + width, *z = a + 2 * (size_t)width, *ez = a + 3 * (size_t)width;
    int n_in = net->sizes[0], n_out = net->sizes[net->n_layers];
    for (int r = 0; r < n; r++) {
        for (int j = 0; j < n_in; j++) {
            a[j] = x[(size_t)r * n_in + j];
            e[j] = 0.0;
        }
        for (int l = 0; l < net->n_layers; l++) {
            const pt_layer *L = &net->layer[l];
            double g = pt_gamma_f32(pt_layer_terms(net, l));
            for (int o = 0; o < L->n_out; o++) {
                double b = pt_w_eff(net, L, (size_t)o, 1), zo = b, s = fabs(b), carried = 0;
                for (int j = 0; j < L->n_in; j++) {
                    double w = pt_w_eff(net, L, (size_t)o * L->n_in + j, 0);
                    zo += w * a[j];
                    s += fabs(w) * (fabs(a[j]) + e[j]);
                    carried += fabs(w) * e[j];
                }
                z[o] = zo;
                ez[o] = g * s + carried;
            }
            int last = l == net->n_layers - 1;
            for (int o = 0; o < L->n_out; o++) {
                a[o] = last || z[o] > 0 ? z[o] : 0.0;
                e[o] = last || z[o] > -ez[o] ? ez[o] : 0.0;
            }
        }
        for (int k = 0; k < n_out; k++)
            tol[(size_t)r * n_out + k] = 2.0 * e[k];
    }
    free(a);
}

/* Per-output tolerances tol[0 .. n x n_out) for comparing two float
 * evaluations of net's logits on the n rows x (n x n_in, row-major) that
 * sum in different orders (twice one evaluation's bound). Dense networks:
 * pt_dense_tol. With conv layers: 2 (sum over layers of gamma) times the
 * absolute network's output (see above), from a copy of net. net is not
 * changed. */
static inline void pt_net_tol(const pt_net *net, const float *x, int n, double *tol)
{
    if (!pt_net_has_conv(net)) {
        pt_dense_tol(net, x, n, tol);
        return;
    }
    pt_layer_spec spec[PT_NET_MAX_LAYERS];
    for (int l = 0; l < net->n_layers; l++)
        spec[l] = pt_layer_spec_of(net, l);
    int cap = n < 64 ? n : 64;
    pt_net a;
    pt_rng rng;
    pt_err err;
    pt_rng_seed(&rng, 1);
    cr_assert_eq(pt_net_init(&a, net->shape, spec, net->n_layers, cap, &rng, &err), PT_OK, "%s",
                 err.msg);
    cr_assert_eq(a.n_params, net->n_params);
    for (size_t i = 0; i < net->n_params; i++)
        a.params[i] = fabsf(net->mask ? net->params[i] * net->mask[i] : net->params[i]);
    double gamma = 0;
    for (int l = 0; l < net->n_layers; l++)
        gamma += pt_gamma_f32(pt_layer_terms(net, l));
    int n_in = net->sizes[0], n_out = net->sizes[net->n_layers];
    for (int i0 = 0; i0 < n; i0 += cap) {
        int r = n - i0 < cap ? n - i0 : cap;
        for (size_t k = 0; k < (size_t)r * (size_t)n_in; k++)
            a.act[0][k] = fabsf(x[(size_t)i0 * n_in + k]);
        pt_net_forward(&a, r);
        /* Every term is >= 0 here, so ReLU passes everything, and m's own
         * rounding is relative and below gamma: (1 + gamma) covers it. */
        for (size_t k = 0; k < (size_t)r * (size_t)n_out; k++)
            tol[(size_t)i0 * n_out + k] =
                2.0 * gamma * (1.0 + gamma) * (double)a.act[a.n_layers][k];
    }
    pt_net_free(&a);
}

#endif
