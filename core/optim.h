/*
 * optim.h — optimizers and learning-rate schedules.
 *
 * An optimizer owns its state (momentum buffer, Adam moments) laid out like
 * pt_net.params, and updates any segment [off, off + n) of the parameters in
 * one fused pass over w, g and the state. Segments let the trainer update a
 * layer the moment its gradient is ready (see pt_layer_hook) and give each
 * segment its own weight decay (biases get none).
 *
 * Update rules (as PyTorch's, so results are comparable), for one segment,
 * in this order and with float operations grouped exactly as written (the
 * build does not contract them into FMAs: -std=c11 implies
 * -ffp-contract=off), so a scalar loop of these lines gives the same bits:
 *   g = mask * g + l2 * w                      (coupled L2)
 *   SGD:  v = mu*v + g;  u = nesterov ? g + mu*v : v;  step = lr
 *   Adam: m = b1*m + (1-b1) g;  v = b2*v + (1-b2) g*g;
 *         u = m / (sqrt(v) * rs + eps),  rs = 1/sqrt(1-b2^t),
 *         step = lr / (1-b1^t)             (PyTorch's bias corrections,
 *                                           folded into two scalars)
 *   w = w - step*u - (lr*decay)*w              (decoupled L2, AdamW style)
 *   w = sign(w) * max(|w| - lr*l1, 0)          (L1 as a proximal step, so
 *                                               weights really reach zero;
 *                                               skipped when lr*l1 is 0)
 *   w = mask * w
 * The mask factors are skipped without a mask; the l2 and decay terms are
 * always computed (0 * w adds nothing). A masked (pruned) weight thus stays
 * exactly zero: its gradient is dropped and, once pt_optim_mask() has
 * cleared its state, its momentum/moments stay zero too.
 *
 * Max-norm (pt_step.max_norm > 0, rows of pt_step.row floats): right after
 * a row's update, a row whose L2 norm exceeds max_norm is scaled by
 * max_norm / norm (the norm summed in double over 8 interleaved lanes).
 *
 * Cost: one pass over w, g, the state and the mask per segment, no
 * allocation; every variant is a vectorized loop (see optim.c).
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
    float max_norm; /* > 0: rescale each row of `row` floats to L2 norm
                       <= max_norm after its update (0 = off) */
    size_t row;     /* floats per row (a neuron's incoming weights) */
} pt_step;

/* Updates w[off..off+n) from g[off..off+n), using the state at the same
 * offsets; mask (same layout as w, or NULL) holds 1 for kept, 0 for pruned. */
void pt_optim_update(pt_optim *o, float *w, const float *g, const float *mask, size_t off,
                     size_t n, const pt_step *s);

/* Clears the optimizer state where mask is 0 (call after pruning). */
void pt_optim_mask(pt_optim *o, const float *mask);

/* Clears all optimizer state and the step count (e.g. after rewinding). */
void pt_optim_reset(pt_optim *o);

/* Carrying the state from one run to the run that continues it (a PBT
 * checkpoint, train.keep_optim): pt_optim_copy makes *dst a deep copy of o
 * (zeroed on failure; free it with pt_optim_free). pt_optim_adopt copies
 * src's momentum/moments and step count into o when src is the same rule
 * over the same number of parameters, and returns 1; otherwise (another
 * optimizer, another network, no state) it returns 0 and leaves o as it
 * was: state of another rule means nothing to this one. The update's
 * hyper-parameters (momentum, betas, eps) stay o's, the config's. */
pt_status pt_optim_copy(pt_optim *dst, const pt_optim *o, pt_err *err);
int pt_optim_adopt(pt_optim *o, const pt_optim *src);

/* Learning rate for epoch e (0-based) of a run of `epochs` epochs:
 * constant: lr; step: lr * gamma^floor(e / step_epochs);
 * cosine: min_lr + (lr - min_lr) * (1 + cos(pi * e / epochs)) / 2. */
double pt_lr_at(const pt_train_config *tc, int e, int epochs);

#endif
