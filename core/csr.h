/*
 * csr.h — one sparse weight layer, y = relu?(W x + b), and its kernels.
 *
 * A pt_csr holds a layer's non-zero weights twice, each form laid out for the
 * kernel that reads it:
 * - CSR (row pointers, uint16 column indices, values), read by the batch
 *   kernel pt_csr_spmm_t: with activations stored feature-major (X^T, one
 *   row of `ld` floats per input feature), every non-zero weight becomes one
 *   broadcast times a contiguous run of up to 128 batch columns, so the batch
 *   is streamed once per non-zero and the accumulators stay in registers;
 * - "permute steps" for batch 1 (pt_csr_gemv, AVX-512 builds only): rows
 *   are grouped 16 at a time (one zmm of outputs); a step gives each of the
 *   16 rows one of its non-zeros inside one window of 32 inputs (two
 *   registers of x): the weight, and a 5-bit position in the window that
 *   vpermt2ps turns into the input value. A gather would cost a load-port
 *   slot per non-zero (the gather kernel reaches ~1.5x dense at 90%
 *   sparsity); a register permute costs one instruction per 16 non-zeros.
 *   The price is padding: a step is as long as 16 lanes whether or not
 *   every row has a non-zero left in the window. Rows are grouped in order
 *   of non-zero count, and windows start every 16 inputs, so a row that
 *   runs out in one window can go on with the next 16 inputs; both cut the
 *   padding (csr.c). A group's steps form one branch-free stream.
 * Builds without AVX-512 run a CSR row loop for batch 1 (AVX2 gathers, or
 * scalar).
 *
 * Ownership: pt_csr_build allocates everything; pt_csr_free releases it and
 * is safe on a zeroed struct.
 */
#ifndef PT_CSR_H
#define PT_CSR_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define PT_CSR_MAX_IN 65536 /* column indices are uint16 */

typedef struct {
    int n_in, n_out;
    long nnz;
    int32_t *rowptr; /* n_out + 1 */
    uint16_t *col;   /* nnz, ascending within a row */
    float *val;      /* nnz */
    float *bias;     /* n_out */
    /* permute steps (NULL without AVX-512): n_rg groups of 16 rows; n_cb
     * windows of inputs 16 b .. 16 b + 31 */
    int n_rg, n_cb;
    int32_t *gsteps;   /* steps of each group, a multiple of 4 */
    uint16_t *pwin;    /* window of each step */
    int32_t *slot_row; /* n_rg * 16: row of each slot, -1 for padding */
    float *slot_bias;  /* n_rg * 16 */
    float *pw;         /* 16 weights per step */
    uint8_t *pidx;     /* per 4 steps 16 lanes x 4 bytes: lane i's positions */
    long n_steps;
} pt_csr;

/* Builds the sparse form of the row-major n_out x n_in weights w (entries
 * that are exactly 0 are dropped) and biases b. Errors: PT_ERR_ARG when
 * n_in > PT_CSR_MAX_IN, PT_ERR_NOMEM. On error *c is zeroed. */
pt_status pt_csr_build(pt_csr *c, const float *w, const float *b, int n_out, int n_in, pt_err *err);
void pt_csr_free(pt_csr *c);

/* Floats a batch-1 input or output vector of n features must have: the
 * kernel reads windows of 32 at steps of 16, so entries n.. must be 0. */
static inline int pt_csr_padded(int n)
{
    return (n + 15) / 16 * 16 + 16;
}

/* y[0..n_out) = relu?(W x + b) for one input vector x (pt_csr_padded(n_in)
 * floats, padding 0). Writes only y[0..n_out). */
void pt_csr_gemv(const pt_csr *c, const float *x, float *y, int relu);

/* Feature-major batch: xt is n_in rows of ld floats (column i = sample i),
 * yt gets n_out rows of ld floats; columns 0..n) are computed, the others
 * are left alone. 1 <= n <= ld. */
void pt_csr_spmm_t(const pt_csr *c, const float *xt, int ld, int n, float *yt, int relu);

/* Which of this file's kernel paths the build compiled (chosen by the
 * instruction set, see PT_KERNEL in CMakeLists.txt): "avx512", "avx2" or
 * "scalar". The tests check it against the path they were built for. */
const char *pt_csr_path(void);

/* Bytes of the stored CSR form of a layer: values + uint16 column indices +
 * int32 row pointers + biases. */
static inline long pt_csr_bytes(long nnz, int n_out)
{
    return nnz * (long)(sizeof(float) + sizeof(uint16_t)) +
           (long)(n_out + 1) * (long)sizeof(int32_t) + (long)n_out * (long)sizeof(float);
}

#endif
