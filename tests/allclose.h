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
 *   lambda = 8 makes that failure probability < 3e-10 for K <= 10^4, so the
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
 *   (induction on l). pt_net_tol() (net_tol.h) computes that per output
 *   for conv networks; for dense ones it follows each row's own
 *   activations, which is tighter (pt_dense_tol).
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
        cr_assert(                                                                                 \
            pt_isclose(pt_a_, pt_b_, pt_r_, pt_t_),                                                \
            "%.17g vs %.17g: |diff| %.3g > atol %.3g + rtol %.3g x |b| (%.3g): " __VA_ARGS__,      \
            pt_a_, pt_b_, fabs(pt_a_ - pt_b_), pt_t_, pt_r_, pt_t_ + pt_r_ * fabs(pt_b_));         \
    } while (0)

/* pt_assert_close's cr_expect twin: the test goes on after a failure. */
#define pt_expect_close(a, b, rtol, atol, ...)                                                     \
    do {                                                                                           \
        double pt_a_ = (double)(a), pt_b_ = (double)(b), pt_r_ = (rtol), pt_t_ = (atol);           \
        cr_expect(                                                                                 \
            pt_isclose(pt_a_, pt_b_, pt_r_, pt_t_),                                                \
            "%.17g vs %.17g: |diff| %.3g > atol %.3g + rtol %.3g x |b| (%.3g): " __VA_ARGS__,      \
            pt_a_, pt_b_, fabs(pt_a_ - pt_b_), pt_t_, pt_r_, pt_t_ + pt_r_ * fabs(pt_b_));         \
    } while (0)

/* rtol of a closed-form value (a schedule, a ratio, a formula) computed in
 * double by the code and again by the test along other short sequences of
 * operations: tens of roundings of u = 1.1e-16 and libm calls within a few
 * ulps put them ~1e-15 apart; 1e-12 leaves a margin of 1000 and is still
 * far below what any wrong formula, step or off-by-one would move. */
#define PT_RTOL_FORMULA 1e-12

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

#endif
