/*
 * test_gemm.c — pt_sgemm (core/gemm.h) against a double-precision product.
 *
 * Every transpose pair, alpha and beta, over shapes that exercise each edge
 * of the AVX-512 blocks (rows left over from 12 and under 16, columns from
 * 16 and 32, k = 0 and 1) and the shapes of a LeNet-300-100 step; C's
 * entries outside the product (a leading dimension wider than n) must stay
 * untouched. The tolerance bounds float accumulation: |error| <= k * 2^-22
 * * sum |a b| + |beta c| * 2^-23 (k roundings of the running sum at most,
 * whichever order the kernel sums in).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "rng.h"

static void fill(float *x, size_t n, pt_rng *r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2 * pt_rng_uniform(r) - 1);
}

/* op(X)(i, j) of a row-major X with leading dimension ld. */
static double at(const float *x, int ld, int trans, int i, int j)
{
    return trans ? x[(size_t)j * (size_t)ld + (size_t)i] : x[(size_t)i * (size_t)ld + (size_t)j];
}

static void check_with(int ta, int tb, int m, int n, int k, float alpha, float beta, uint64_t seed,
                       int use_work)
{
    pt_rng r;
    pt_rng_seed(&r, seed);
    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 7;
    size_t na = (size_t)(ta ? k : m) * (size_t)lda, nb = (size_t)(tb ? n : k) * (size_t)ldb,
           nc = (size_t)m * (size_t)ldc;
    float *a = malloc(sizeof *a * (na + 1)), *b = malloc(sizeof *b * (nb + 1));
    float *c = malloc(sizeof *c * (nc + 1)), *c0 = malloc(sizeof *c0 * (nc + 1));
    cr_assert(a && b && c && c0);
    fill(a, na, &r);
    fill(b, nb, &r);
    fill(c, nc, &r);
    memcpy(c0, c, sizeof *c * nc);
    size_t nw = pt_sgemm_work(ta, tb, n, k);
    float *work = use_work ? malloc(sizeof *work * (nw + 1)) : NULL;
    cr_assert(!use_work || work);
    pt_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, work);
    free(work);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < ldc; j++) {
            size_t ij = (size_t)i * (size_t)ldc + (size_t)j;
            if (j >= n) {
                cr_assert_eq(c[ij], c0[ij], "ta %d tb %d %dx%dx%d: C(%d, %d) past n was written",
                             ta, tb, m, n, k, i, j);
                continue;
            }
            double s = 0, mag = 0;
            for (int p = 0; p < k; p++) {
                double t = at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
                s += t;
                mag += fabs(t);
            }
            double want = alpha * s + (beta != 0 ? beta * (double)c0[ij] : 0);
            double tol = (k + 2) * ldexp(1, -22) * fabs(alpha) * mag +
                         ldexp(1, -22) * fabs(beta * (double)c0[ij]) + 1e-30;
            cr_assert(fabs(c[ij] - want) <= tol,
                      "ta %d tb %d %dx%dx%d alpha %g beta %g work %d: C(%d, %d) = %.9g, want %.9g "
                      "(tol %.3g)",
                      ta, tb, m, n, k, alpha, beta, use_work, i, j, c[ij], want, tol);
        }
    }
    free(a);
    free(b);
    free(c);
    free(c0);
}

/* With the scratch pt_sgemm_work asks for (A B^T: B^T's panels copied out,
 * then the broadcast form, from 16 rows of C) and without (OpenBLAS). */
static void check(int ta, int tb, int m, int n, int k, float alpha, float beta, uint64_t seed)
{
    check_with(ta, tb, m, n, k, alpha, beta, seed, 1);
    check_with(ta, tb, m, n, k, alpha, beta, seed, 0);
}

Test(gemm, every_transpose_and_edge_against_double)
{
    static const int shapes[][3] = {{1, 1, 1},    {1, 1, 0},    {3, 5, 7},    {4, 6, 16},
                                    {5, 7, 17},   {12, 32, 1},  {13, 33, 33}, {11, 31, 15},
                                    {25, 65, 48}, {4, 16, 100}, {17, 6, 300}, {16, 1, 1},
                                    {40, 47, 19}};
    uint64_t seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                check(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f, seed++);
                check(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 0.5f, 1.0f, seed++);
                check(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], -1.5f, -0.5f, seed++);
            }
}

/* The products of a LeNet-300-100 step at batch 128 (core/net.c's calls):
 * forward A W^T, input gradient A W, weight gradient A^T X. */
Test(gemm, lenet_step_shapes)
{
    static const int dim[4] = {784, 300, 100, 10};
    uint64_t seed = 100;
    for (int l = 0; l < 3; l++) {
        check(0, 1, 128, dim[l + 1], dim[l], 1.0f, 0.0f, seed++);
        check(0, 0, 128, dim[l], dim[l + 1], 1.0f, 0.0f, seed++);
        check(1, 0, dim[l + 1], dim[l], 128, 1.0f, 0.0f, seed++);
    }
}

/* Same inputs, same bits: the order of operations is fixed by the shapes. */
Test(gemm, deterministic)
{
    pt_rng r;
    pt_rng_seed(&r, 7);
    enum { M = 37, N = 45, K = 53 };
    float a[M * K], b[N * K], c1[M * N], c2[M * N];
    fill(a, M * K, &r);
    fill(b, N * K, &r);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = ta ? M : K, ldb = tb ? K : N;
            float work[N * K];
            pt_sgemm(ta, tb, M, N, K, 1.0f, a, lda, b, ldb, 0.0f, c1, N, work);
            pt_sgemm(ta, tb, M, N, K, 1.0f, a, lda, b, ldb, 0.0f, c2, N, work);
            cr_assert_eq(memcmp(c1, c2, sizeof c1), 0, "ta %d tb %d: two runs differ", ta, tb);
        }
}

/* Every element lands in its place, for blocks cut at both edges; what the
 * contract allows past column `rows` (zeros, up to a multiple of 16) is all
 * that is written. */
Test(gemm, transpose_every_edge)
{
    static const int shapes[][2] = {{1, 1}, {16, 16}, {17, 3}, {5, 33}, {40, 784}, {128, 300}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int rows = shapes[s][0], cols = shapes[s][1], lds = cols + 3;
        int ldd = (rows + 15) / 16 * 16 + 5;
        float *src = malloc(sizeof(float) * (size_t)rows * lds);
        float *dst = malloc(sizeof(float) * (size_t)cols * ldd);
        for (int i = 0; i < rows * lds; i++)
            src[i] = (float)(i + 1);
        for (int i = 0; i < cols * ldd; i++)
            dst[i] = -1.0f;
        pt_transpose(rows, cols, src, lds, dst, ldd);
        int pad = (rows + 15) / 16 * 16;
        for (int j = 0; j < cols; j++)
            for (int i = 0; i < ldd; i++) {
                float v = dst[(size_t)j * ldd + i];
                if (i < rows)
                    cr_assert_eq(v, src[(size_t)i * lds + j], "%dx%d: [%d][%d]", rows, cols, j, i);
                else if (i >= pad)
                    cr_assert_eq(v, -1.0f, "%dx%d: [%d][%d] written past the padding", rows,
                                 cols, j, i);
                else
                    cr_assert(v == 0.0f || v == -1.0f, "%dx%d: padding [%d][%d] = %g", rows,
                              cols, j, i, v);
            }
        free(src);
        free(dst);
    }
}
