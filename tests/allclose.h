/*
 * allclose.h — how the tests compare floating-point results.
 *
 * Two computations of the same value that round differently (another
 * summation order, a compacted network, an fma or not, another OpenBLAS
 * kernel chosen by OPENBLAS_CORETYPE, the AVX-512 / AVX2 / scalar paths of
 * core/) agree only up to a bound that scales with the magnitude of what
 * was summed and with how many terms were summed. A fixed absolute bound
 * (|a - b| < 1e-5) is right on one machine and wrong on the next (issue 10:
 * 1.14e-5 on Zen 4 with OPENBLAS_CORETYPE=Haswell). So every comparison
 * here is numpy.isclose-style, |a - b| <= atol + rtol |b|, and where a
 * result is a float reduction the tolerance comes from the reduction:
 *
 *   One float sum of K terms t_i (a dot product, a layer's output) is off
 *   from the exact sum by at most gamma_K sum|t_i|, gamma_K ~= K u, for any
 *   order of summation (Higham, "Accuracy and Stability of Numerical
 *   Algorithms", 3.1; u = 2^-24, float's unit roundoff). With rounding
 *   errors that are independent and of mean zero — what round-to-nearest
 *   gives in practice — the error is at most lambda sqrt(K) u sum|t_i| with
 *   probability >= 1 - 2K exp(-lambda^2 / 2) (Higham & Mary, "A new
 *   approach to probabilistic rounding error analysis", SISC 2019, Thm 3.1).
 *   lambda = 8 makes that failure probability < 1e-10 for K <= 10^4, so the
 *   tests below take min(lambda sqrt(K), K) u sum|t_i| for each side, twice
 *   for the difference of two such sums: the worst-case bound where it is
 *   the smaller (K <= 64), the probabilistic one above.
 *
 *   Through a network the errors add up layer by layer: with m the output
 *   of the "absolute network" (every weight and bias replaced by its
 *   absolute value, fed |x|), |output error| <= (sum over layers of that
 *   layer's gamma) * m, because ReLU and max pooling never widen a
 *   difference, and m_l = |W_l| m_(l-1) + |b_l| bounds both the sum of
 *   |terms| of layer l and how far layer l carries an earlier error
 *   (induction on l). pt_net_tol() computes that per output for conv
 *   networks; for dense ones it follows each row's own activations, which
 *   is tighter (pt_dense_tol).
 *
 * Comparisons that are exact by design (same seed, same bits; eval of a
 * saved model reproducing what training measured with the same kernels)
 * stay exact and do not use this file.
 */
#ifndef PT_TESTS_ALLCLOSE_H
#define PT_TESTS_ALLCLOSE_H

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

/* float's unit roundoff u = 2^-24 (FLT_EPSILON is 2u). */
#define PT_U_F32 (FLT_EPSILON / 2.0)
/* double's, for results computed in double. */
#define PT_U_F64 (DBL_EPSILON / 2.0)
/* lambda of the probabilistic bound (see above). */
#define PT_LAMBDA 8.0

/* numpy.isclose(a, b, rtol, atol): |a - b| <= atol + rtol |b|. NaN never
 * is close; equal infinities are. */
static inline int pt_isclose(double a, double b, double rtol, double atol)
{
    if (a == b)
        return 1;
    return fabs(a - b) <= atol + rtol * fabs(b);
}

/* Asserts pt_isclose(a, b, rtol, atol), printing both values, the
 * difference and the bound before the caller's message. */
#define pt_assert_close(a, b, rtol, atol, ...)                                                     \
    do {                                                                                           \
        double pt_a_ = (double)(a), pt_b_ = (double)(b), pt_r_ = (rtol), pt_t_ = (atol);           \
        cr_assert(pt_isclose(pt_a_, pt_b_, pt_r_, pt_t_),                                         \
                  "%.9g vs %.9g: |diff| %.3g > atol %.3g + rtol %.3g x |b| (%.3g): " __VA_ARGS__,  \
                  pt_a_, pt_b_, fabs(pt_a_ - pt_b_), pt_t_, pt_r_, pt_t_ + pt_r_ * fabs(pt_b_));   \
    } while (0)

/* gamma of one float sum of k terms: how far it may be from the exact sum,
 * relative to the sum of the terms' magnitudes (see above). */
static inline double pt_gamma_f32(long k)
{
    double n = k > 1 ? (double)k : 1.0, p = PT_LAMBDA * sqrt(n);
    return (p < n ? p : n) * PT_U_F32;
}

/* Tolerance of |a - b| for two float sums of the same k terms whose
 * magnitudes add up to sum_abs, computed in any two orders. */
static inline double pt_sum_tol(long k, double sum_abs)
{
    return 2.0 * pt_gamma_f32(k) * sum_abs;
}

/* The reduction length of layer l per output: n_in for a dense layer, the
 * taps C k k of a conv filter; + 1 for the bias. */
static inline long pt_layer_terms(const pt_mlp *m, int l)
{
    const pt_layer *L = &m->layer[l];
    if (L->kind == PT_LAYER_CONV)
        return (long)L->g.c * L->g.k * L->g.k + 1;
    return (long)L->n_in + 1;
}

/* Weight w of layer L as the network computes with it (pruned: 0). */
static inline double pt_w_eff(const pt_mlp *m, const pt_layer *L, size_t i, int bias)
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
static inline void pt_dense_tol(const pt_mlp *net, const float *x, int n, double *tol)
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
static inline void pt_net_tol(const pt_mlp *net, const float *x, int n, double *tol)
{
    if (!pt_mlp_has_conv(net)) {
        pt_dense_tol(net, x, n, tol);
        return;
    }
    pt_layer_spec spec[PT_MLP_MAX_LAYERS];
    for (int l = 0; l < net->n_layers; l++)
        spec[l] = pt_layer_spec_of(net, l);
    int cap = n < 64 ? n : 64;
    pt_mlp a;
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
        pt_mlp_forward(&a, r);
        /* Every term is >= 0 here, so ReLU passes everything, and m's own
         * rounding is relative and below gamma: (1 + gamma) covers it. */
        for (size_t k = 0; k < (size_t)r * (size_t)n_out; k++)
            tol[(size_t)i0 * n_out + k] =
                2.0 * gamma * (1.0 + gamma) * (double)a.act[a.n_layers][k];
    }
    pt_mlp_free(&a);
}

#endif
