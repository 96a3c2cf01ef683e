/*
 * sptrain.h — sparse training of dense layers whose pruning mask is fixed.
 *
 * Once a layer's mask no longer changes (after the last event of a gradual
 * schedule, during each fine-tuning phase of oneshot/iterative pruning), a
 * masked dense step wastes most of its work: three GEMMs over the whole
 * n_out x n_in matrix and an optimizer pass over every weight, pruned or
 * not. A layer in sparse mode instead keeps its surviving weights packed in
 * mask order (row-major: the CSR order of the mask) and computes, as
 * SparseProp (Nikdan et al., ICML 2023) does on CPUs,
 *   forward   Z = X W^T      CSR of W   times X^T (feature-major),
 *   input     dX = dZ W      CSC of W   times dZ^T,
 *   weights   dW = dZ^T X    only at the surviving weights (SDDMM),
 * each kernel one broadcast weight times a contiguous run of the batch, the
 * accumulators in registers (core/csr.c's batch kernel, applied three ways).
 * Activations and deltas are transposed to feature-major on the way in and
 * back on the way out, so the rest of the network (bias, ReLU, dropout,
 * softmax, dense layers) is untouched. The optimizer then updates only the
 * packed weights, with packed state, through pt_optim_update on packed arrays
 * (mask NULL): L1, L2 (coupled or decoupled) and max-norm act exactly as in
 * the dense path, because a pruned weight is 0 there and contributes nothing.
 *
 * Life cycle, driven by train.c:
 *   pt_sptrain_enter  after a pruning event that fixes the mask: packs each
 *                     eligible layer's weights and optimizer state and
 *                     chooses sparse or dense per layer (below);
 *   pt_sptrain_sync   writes the packed weights back into pt_net.params
 *                     (each epoch's end: evaluation, sparsity, callbacks);
 *   pt_sptrain_leave  before the next pruning event and at the end: weights
 *                     and optimizer state back into the dense layout.
 * While a layer is sparse its dense weights are stale between syncs and its
 * dense gradient (pt_layer.gw) is not written.
 *
 * Choice (train.sparse): "off" never; "on" every dense layer with pruned
 * weights; "auto" (default) the dense layers whose sparsity is at least
 * pt_sptrain_auto_sparsity() (with the AVX-512 kernels 0.70, 0.80 for
 * batches over 128; 0.75 AVX2, 0.90 scalar: from there the sparse step
 * measured at least as fast as the dense products, sptrain.c). The choice is
 * made once per fixed mask and kept until the next pruning event.
 *
 * Determinism: the choice depends only on the mask and the kernel path
 * built, never on timing, and the kernels have a fixed summation order that
 * depends only on the mask and the batch size (never on timing or threads):
 * a run is bit-identical per seed. The sparse and dense paths differ only by
 * float reassociation (sums over the batch and over a row in another order;
 * tests/test_sptrain.c bounds it).
 */
#ifndef PT_SPTRAIN_H
#define PT_SPTRAIN_H

#include <stdint.h>

#include "config.h"
#include "net.h"
#include "optim.h"
#include "status.h"

/* One layer's sparse state; all arrays NULL while the layer is dense. */
typedef struct {
    int active;            /* trains sparse now */
    int nnz;               /* surviving weights */
    int32_t *rowptr, *col; /* CSR of the mask: n_out + 1, nnz */
    int32_t *cptr, *crow;  /* CSC: n_in + 1, nnz */
    int32_t *cperm;        /* CSC entry -> packed index */
    float *val, *grad;     /* packed weights and their gradient (CSR order) */
    float *valt;           /* val in CSC order, refreshed after each update */
    float *m, *v;          /* packed optimizer state (v: Adam only) */
    float *xt;             /* the layer's input of the last forward,
                              feature-major: n_in rows of ld floats */
} pt_splayer;

typedef struct pt_sptrain_s {
    int mode;   /* pt_sparse_mode */
    int cap;    /* rows a training batch may have (train.batch_size) */
    int synced; /* dense params hold the packed weights */
    float *t0, *t1; /* feature-major scratch: deltas in, deltas out */
    size_t t0_len, t1_len;
    pt_splayer layer[PT_NET_MAX_LAYERS];
    /* The record of the choices, for reports and tests: */
    int chosen[PT_NET_MAX_LAYERS]; /* last choice: 0 no pruned weights or
                                      not a dense layer, 1 dense, 2 sparse */
    long steps[PT_NET_MAX_LAYERS]; /* backward passes run sparse */
} pt_sptrain;

/* A zeroed state for training batches of up to cap rows. */
void pt_sptrain_init(pt_sptrain *s, int mode, int cap);
/* Frees everything (leaves no layer active). Safe on a zeroed struct. Does
 * not touch the network: call pt_sptrain_leave first to keep the weights. */
void pt_sptrain_free(pt_sptrain *s);

/* Chooses and switches layers to sparse mode from the current mask (m->mask
 * must be set; nothing happens without it), gathering their weights and the
 * optimizer state of o. Sets m->sparse when a layer went sparse.
 * Errors: PT_ERR_NOMEM (the layers stay dense, nothing lost). */
pt_status pt_sptrain_enter(pt_sptrain *s, pt_net *m, pt_optim *o, pt_err *err);

/* Scatters every sparse layer's weights and optimizer state back into m and
 * o and makes all layers dense again; m->sparse becomes NULL. */
void pt_sptrain_leave(pt_sptrain *s, pt_net *m, pt_optim *o);

/* Copies the packed weights into m->params (no-op when already in sync). */
void pt_sptrain_sync(pt_sptrain *s, pt_net *m);

/* 1 when layer l trains sparse. */
static inline int pt_sptrain_active(const pt_sptrain *s, int l)
{
    return s && s->layer[l].active;
}

/* Hooks of pt_net (net.c). Forward: when layer l is sparse and n <= cap,
 * writes act[l+1] = act[l] W^T (no bias) for n rows, keeps act[l] for the
 * weight gradient and returns 1; otherwise returns 0 and the caller runs the
 * dense GEMM (a larger evaluation chunk: the weights are synced first). */
int pt_sptrain_forward(pt_sptrain *s, pt_net *m, int l, int n);
/* Backward: when layer l is sparse, writes delta[l-1] = delta[l] W (l > 0)
 * and the packed gradient at the surviving weights; returns 1. Else 0. */
int pt_sptrain_backward(pt_sptrain *s, pt_net *m, int l, int n);

/* The optimizer step of a sparse layer's weights: pt_optim_update with o's
 * settings on the packed weights and packed state, then max-norm (> 0) per
 * neuron as train.c does on dense rows. Biases stay with the caller. */
void pt_sptrain_update(pt_sptrain *s, const pt_net *m, int l, const pt_optim *o,
                       const pt_step *st, float max_norm);

/* The sparsity from which "auto" trains a layer sparse, for batches of up to
 * cap rows (kernel path's). */
double pt_sptrain_auto_sparsity(int cap);

/* Kernel path compiled in (PT_KERNEL): "avx512", "avx2" or "scalar". */
const char *pt_sptrain_path(void);

#endif
