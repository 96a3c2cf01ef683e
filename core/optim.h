/*
 * optim.h — optimizers and learning-rate schedules.
 *
 * An optimizer owns its state (momentum buffer, Adam moments) laid out like
 * pt_mlp.params, and updates any segment [off, off + n) of the parameters in
 * one fused pass over w, g and the state. Segments let the trainer update a
 * layer the moment its gradient is ready (see pt_layer_hook) and give each
 * segment its own weight decay (biases get none).
 *
 * Update rules (as PyTorch's, so results are comparable):
 *   SGD:      g += wd*w;  v = mu*v + g;  w -= lr * (nesterov ? g + mu*v : v)
 *   Adam:     g += wd*w;  m = b1*m + (1-b1) g;  v = b2*v + (1-b2) g^2;
 *             w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 * wd is the coupled L2 weight-decay hook the regularization work builds on.
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

/* Updates w[off..off+n) from g[off..off+n) with learning rate lr and weight
 * decay wd, using the state at the same offsets. */
void pt_optim_update(pt_optim *o, float *w, const float *g, size_t off, size_t n,
                     float lr, float wd);

/* Learning rate for epoch e (0-based) of a run of `epochs` epochs:
 * constant: lr; step: lr * gamma^floor(e / step_epochs);
 * cosine: min_lr + (lr - min_lr) * (1 + cos(pi * e / epochs)) / 2. */
double pt_lr_at(const pt_train_config *tc, int e, int epochs);

#endif
