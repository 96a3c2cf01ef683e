/*
 * gemm.h — the dense products of training: C = alpha op(A) op(B) + beta C.
 *
 * pt_sgemm has cblas_sgemm's row-major contract (trans_a/trans_b 0 or 1,
 * leading dimensions in floats) and is what core/net.c calls for a dense
 * layer's forward pass (A B^T), input gradient (A B) and weight gradient
 * (A^T B).
 *
 * Why our own: on an AVX-512 CPU, OpenBLAS may run narrower kernels than the
 * CPU has (OPENBLAS_CORETYPE=Haswell, as some machines set it, or an older
 * OpenBLAS that does not know the CPU): measured on a 2-core AMD EPYC with
 * 16-lane FMAs at twice the 8-lane rate (build/bench_peak), the training
 * step's OpenBLAS calls ran at 44-56% of the core's peak. AVX-512 builds
 * therefore compute these forms here: a 12 x 32 block of C in 24 registers,
 * per k two loads of B's row and 12 broadcasts of A, no packing of A or B
 * (a training step's shapes are small: a batch of rows, a layer's width)
 * for A B and A^T B; for A B^T each 32-column panel of B^T is first copied
 * out of B's rows into the caller's scratch (k x 32 floats, 16 x 16 blocks
 * transposed in registers). Measured against OpenBLAS's Haswell kernels on
 * that machine (1 thread, LeNet-300-100's and a 784-1024-1024-10's products
 * at batch 128): 1.3-2x on every product but A B^T with 10 columns (0.9x). Other
 * builds, A^T B^T, A B^T without scratch or with fewer than 16 rows (the
 * copies would not pay), and any product while OpenBLAS runs more than one
 * thread (train.threads > 1: its kernels split the work, ours do not) call
 * cblas_sgemm.
 *
 * Results are deterministic (a fixed order of operations for given shapes);
 * they differ from OpenBLAS's in the last bits (another summation order).
 */
#ifndef PT_GEMM_H
#define PT_GEMM_H

#include <stddef.h>

/* work: scratch of pt_sgemm_work(trans_a, trans_b, n, k) floats the caller
 * owns (0 = none needed), or NULL (then A B^T goes to OpenBLAS). */
void pt_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc, float *work);
size_t pt_sgemm_work(int trans_a, int trans_b, int n, int k);

/* dst (cols x rows, ldd floats per row) = src^T, src rows x cols with lds
 * floats per row. The AVX-512 build transposes 16 x 16 blocks in registers
 * and may write zeros into dst's rows past column `rows`, up to the next
 * multiple of 16: ldd must leave room for them. */
void pt_transpose(int rows, int cols, const float *src, int lds, float *dst, int ldd);

/* Whether pt_sgemm runs its own kernels in this build ("avx512") or
 * OpenBLAS's ("openblas"). */
const char *pt_sgemm_path(void);

#endif
