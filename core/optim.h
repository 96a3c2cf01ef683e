/*
 * optim.h — optimizers and learning-rate schedules.
 *
 * An optimizer owns its state (momentum buffer, Adam moments) laid out like
 * pt_mlp.params, and updates any segment [off, off + n) of the parameters in
 * one fused pass over w, g and the state. Segments let the trainer update a
 * layer the moment its gradient is ready (see pt_layer_hook) and give each
 * segment its own weight decay (biases get none).
 *
 * Update rules (as PyTorch's, so results are comparable), for one segment:
 *   g = mask * g + l2 * w                      (coupled L2)
 *   SGD:  v = mu*v + g;  u = nesterov ? g + mu*v : v
 *   Adam: m = b1*m + (1-b1) g;  v = b2*v + (1-b2) g^2;
 *         u = (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 *   w = w - lr*u - lr*decay*w                  (decoupled L2, AdamW style)
 *   w = sign(w) * max(|w| - lr*l1, 0)          (L1 as a proximal step, so
 *                                               weights really reach zero)
 *   w = mask * w
 * A masked (pruned) weight thus stays exactly zero: its gradient is dropped
 * and, once pt_optim_mask() has cleared its state, its momentum/moments stay
 * zero too. The plain case (no mask, no decay, no L1) runs a shorter loop.
 */
#ifndef PT_OPTIM_H
#define PT_OPTIM_H

#include <stddef.h>

#include "config.h"
#include "status.h"

typedef struct {
    pt_opt_kind kind;
    float momentum, beta1, beta2, eps;
    int nesterov;
    size_t n;      /* floats of state per buffer */
    float *m, *v;  /* SGD: m = velocity; Adam: first and second moments */
    long t;        /* steps taken (Adam bias correction) */
    float bc1, bc2; /* Adam: 1 - beta^t for the current step */
} pt_optim;

/* Allocates zeroed state for n parameters. Errors: PT_ERR_NOMEM. */
pt_status pt_optim_init(pt_optim *o, const pt_train_config *tc, size_t n, pt_err *err);
void pt_optim_free(pt_optim *o);

/* Starts a step: call once per mini-batch before the segment updates. */
void pt_optim_begin_step(pt_optim *o);

/* Per-segment step settings. */
typedef struct {
    float lr;
    float l2;    /* coupled L2, added to the gradient */
    float decay; /* decoupled L2 */
    float l1;    /* proximal L1 */
} pt_step;

/* Updates w[off..off+n) from g[off..off+n), using the state at the same
 * offsets; mask (same layout as w, or NULL) holds 1 for kept, 0 for pruned. */
void pt_optim_update(pt_optim *o, float *w, const float *g, const float *mask, size_t off,
                     size_t n, const pt_step *s);

/* Clears the optimizer state where mask is 0 (call after pruning). */
void pt_optim_mask(pt_optim *o, const float *mask);

/* Clears all optimizer state and the step count (e.g. after rewinding). */
void pt_optim_reset(pt_optim *o);

/* Learning rate for epoch e (0-based) of a run of `epochs` epochs:
 * constant: lr; step: lr * gamma^floor(e / step_epochs);
 * cosine: min_lr + (lr - min_lr) * (1 + cos(pi * e / epochs)) / 2. */
double pt_lr_at(const pt_train_config *tc, int e, int epochs);

#endif
