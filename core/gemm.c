/*
 * gemm.c — pt_sgemm (gemm.h): AVX-512 kernels for a training step's three
 * product forms, cblas_sgemm for the rest and on other builds.
 */
#include "gemm.h"

#include <cblas.h>
#include <stddef.h>

#if defined(__AVX512F__)
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

/* ---- A B and A^T B: broadcasts of A against rows of B along n ----------- */

/* An mr x 32 block (mr <= 12) of C: per k, two loads of B's row (masked at
 * C's right edge), mr broadcasts of A(i, k) = a[i sa + k sk] and 2 mr FMAs
 * (24 accumulators). */
INLINE void bc_block(int mr, int k, const float *a, size_t sa, size_t sk, const float *b, int ldb,
                     __mmask16 m0, __mmask16 m1, float alpha, float beta, float *c, int ldc)
{
    __m512 c0[12], c1[12];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        c0[i] = c1[i] = _mm512_setzero_ps();
    for (int p = 0; p < k; p++) {
        const float *bp = b + (size_t)p * (size_t)ldb, *ap = a + (size_t)p * sk;
        __m512 b0 = _mm512_maskz_loadu_ps(m0, bp), b1 = _mm512_maskz_loadu_ps(m1, bp + 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(ap[(size_t)i * sa]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        float *ci = c + (size_t)i * (size_t)ldc;
        __m512 r0 = _mm512_mul_ps(va, c0[i]), r1 = _mm512_mul_ps(va, c1[i]);
        if (beta != 0.0f) {
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
        }
        _mm512_mask_storeu_ps(ci, m0, r0);
        _mm512_mask_storeu_ps(ci + 16, m1, r1);
    }
}

static void bc_any(int mr, int k, const float *a, size_t sa, size_t sk, const float *b, int ldb,
                   __mmask16 m0, __mmask16 m1, float alpha, float beta, float *c, int ldc)
{
#define BC(R)                                                                                      \
    case R:                                                                                        \
        bc_block(R, k, a, sa, sk, b, ldb, m0, m1, alpha, beta, c, ldc);                            \
        return;
    switch (mr) {
        BC(1) BC(2) BC(3) BC(4) BC(5) BC(6) BC(7) BC(8) BC(9) BC(10) BC(11) BC(12) default : return;
    }
#undef BC
}

/* ---- transposes --------------------------------------------------------- */

/* dst[p][i] = src[i][p] for i < nr rows and p < np columns (both <= 16), in
 * registers: 16 masked row loads, three rounds of shuffles (pairs of
 * floats, then of 64-bit pairs, then of 128-bit lanes, twice), 16 stores of
 * 16 floats (columns i >= nr get zeros). */
INLINE void tr16(const float *src, size_t lds, int nr, int np, float *dst, size_t ldd)
{
    __mmask16 mk = (__mmask16)(np >= 16 ? 0xFFFFu : (1u << np) - 1);
    __m512 r[16], t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = i < nr ? _mm512_maskz_loadu_ps(mk, src + (size_t)i * lds) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 16; i += 8) {
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
            t[i + q] = _mm512_shuffle_f32x4(r[i + q], r[i + q + 4], 0x88);
            t[i + q + 4] = _mm512_shuffle_f32x4(r[i + q], r[i + q + 4], 0xDD);
        }
    }
#pragma GCC unroll 8
    for (int q = 0; q < 8; q++) {
        r[q] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0x88);
        r[q + 8] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0xDD);
    }
#pragma GCC unroll 16
    for (int p = 0; p < 16; p++)
        if (p < np)
            _mm512_storeu_ps(dst + (size_t)p * ldd, r[p]);
}

/* panel (k x 32, along the 32) = columns j..j+w of B^T, i.e. rows j..j+w
 * of b (n x k along k), 16 x 16 blocks at a time; columns past w are zero.
 * (Copied an element at a time, this took a tenth of a training step.) */
static void pack_bt(int w, int k, const float *b, int ldb, float *panel)
{
    int w0 = w < 16 ? w : 16, w1 = w > 16 ? w - 16 : 0;
    const float *b1 = w1 ? b + (size_t)16 * (size_t)ldb : b;
    for (int p0 = 0; p0 < k; p0 += 16) {
        int np = k - p0 < 16 ? k - p0 : 16;
        tr16(b + p0, (size_t)ldb, w0, np, panel + (size_t)p0 * 32, 32);
        tr16(b1 + p0, (size_t)ldb, w1, np, panel + (size_t)p0 * 32 + 16, 32);
    }
}

void pt_transpose(int rows, int cols, const float *src, int lds, float *dst, int ldd)
{
    for (int i0 = 0; i0 < rows; i0 += 16)
        for (int j0 = 0; j0 < cols; j0 += 16)
            tr16(src + (size_t)i0 * (size_t)lds + j0, (size_t)lds,
                 rows - i0 < 16 ? rows - i0 : 16, cols - j0 < 16 ? cols - j0 : 16,
                 dst + (size_t)j0 * (size_t)ldd + i0, (size_t)ldd);
}

/* op(A) is m x k with A(i, p) = a[i sa + p sk]; B is k x n along n, or
 * (bt) b is n x k along k and each 32-column panel of B = b^T is packed
 * into work (k x 32) first. */
static void gemm_bc(int m, int n, int k, float alpha, const float *a, size_t sa, size_t sk,
                    const float *b, int ldb, int bt, float *work, float beta, float *c, int ldc)
{
    /* A 32-column panel of B (k rows of 128 bytes) is reused by every row
     * block of C before the next panel is read. */
    for (int j = 0; j < n; j += 32) {
        int w = n - j < 32 ? n - j : 32;
        __mmask16 m0 = (__mmask16)(w >= 16 ? 0xFFFFu : (1u << w) - 1);
        __mmask16 m1 = (__mmask16)(w >= 32 ? 0xFFFFu : w > 16 ? (1u << (w - 16)) - 1 : 0);
        const float *bj = b + j;
        int ldp = ldb;
        if (bt) {
            pack_bt(w, k, b + (size_t)j * (size_t)ldb, ldb, work);
            bj = work;
            ldp = 32;
        }
        for (int i = 0; i < m; i += 12) {
            int mr = m - i < 12 ? m - i : 12;
            bc_any(mr, k, a + (size_t)i * sa, sa, sk, bj, ldp, m0, m1, alpha, beta,
                   c + (size_t)i * (size_t)ldc + j, ldc);
        }
    }
}

size_t pt_sgemm_work(int trans_a, int trans_b, int n, int k)
{
    (void)n;
    return trans_b && !trans_a ? (size_t)k * 32 : 0;
}

void pt_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc, float *work)
{
    /* Ours: A B and A^T B; A B^T given scratch and >= 16 rows (B^T's panels
     * are copied out first: a few rows would not pay for the copies). Not
     * while OpenBLAS runs several threads (train.threads > 1). */
    int ours = (!trans_b || (!trans_a && work && m >= 16)) && openblas_get_num_threads() == 1;
    if (!ours) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc);
        return;
    }
    if (m <= 0 || n <= 0 || (k <= 0 && beta == 1.0f))
        return;
    if (trans_b)
        gemm_bc(m, n, k, alpha, a, (size_t)lda, 1, b, ldb, 1, work, beta, c, ldc);
    else
        gemm_bc(m, n, k, alpha, a, trans_a ? 1 : (size_t)lda, trans_a ? (size_t)lda : 1, b, ldb, 0,
                NULL, beta, c, ldc);
}

const char *pt_sgemm_path(void)
{
    return "avx512";
}

#else /* no AVX-512: OpenBLAS's kernels are as wide as the CPU's */

/* In tiles of 16 x 16, so that both sides stay in cache. */
void pt_transpose(int rows, int cols, const float *src, int lds, float *dst, int ldd)
{
    for (int i0 = 0; i0 < rows; i0 += 16)
        for (int j0 = 0; j0 < cols; j0 += 16)
            for (int i = i0; i < rows && i < i0 + 16; i++)
                for (int j = j0; j < cols && j < j0 + 16; j++)
                    dst[(size_t)j * (size_t)ldd + i] = src[(size_t)i * (size_t)lds + j];
}

size_t pt_sgemm_work(int trans_a, int trans_b, int n, int k)
{
    (void)trans_a, (void)trans_b, (void)n, (void)k;
    return 0;
}

void pt_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc, float *work)
{
    (void)work;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *pt_sgemm_path(void)
{
    return "openblas";
}

#endif
