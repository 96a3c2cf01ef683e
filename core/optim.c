/*
 * optim.c — SGD (momentum, Nesterov) and Adam; see optim.h.
 *
 * Every update is ONE pass over w, g, the state and the mask: the gradient
 * masking, coupled L2, the optimizer rule, decoupled decay, the L1 proximal
 * step and the re-masking all happen on one element while it is in a
 * register. The three rules x mask or not x L1 or not are twelve copies of
 * one always-inlined loop body with those choices as compile-time constants
 * (the switch in pt_optim_update picks one outside the loop), so each copy is
 * a branch-free loop gcc vectorizes (check: -fopt-info-vec-optimized reports
 * the loops of fused_*). The strengths that are 0 in the common cases (l2,
 * decay) stay plain multiplications: a multiply by 0 adds nothing to the
 * memory traffic that bounds this pass, and x - 0 is x, bit for bit.
 */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

pt_status pt_optim_init(pt_optim *o, const pt_train_config *tc, size_t n, pt_err *err)
{
    memset(o, 0, sizeof *o);
    o->kind = tc->optimizer;
    o->momentum = (float)tc->momentum;
    o->nesterov = tc->nesterov;
    o->beta1 = (float)tc->beta1;
    o->beta2 = (float)tc->beta2;
    o->eps = (float)tc->eps;
    o->n = n;
    o->m = calloc(n ? n : 1, sizeof(float));
    if (o->kind == PT_OPT_ADAM)
        o->v = calloc(n ? n : 1, sizeof(float));
    if (!o->m || (o->kind == PT_OPT_ADAM && !o->v)) {
        pt_optim_free(o);
        return pt_fail(err, PT_ERR_NOMEM, "optimizer: out of memory");
    }
    return PT_OK;
}

void pt_optim_free(pt_optim *o)
{
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

void pt_optim_begin_step(pt_optim *o)
{
    o->t++;
    if (o->kind == PT_OPT_ADAM) {
        o->bc1 = (float)(1.0 - pow(o->beta1, (double)o->t));
        o->bc2 = (float)(1.0 - pow(o->beta2, (double)o->t));
    }
}

enum { RULE_SGD, RULE_NESTEROV, RULE_ADAM };

/* Scalars of one segment update, computed once outside the loop. */
typedef struct {
    float mu, b1, b2, eps;
    float step;   /* lr (SGD) or lr / (1 - b1^t) (Adam) */
    float rs;     /* Adam: 1 / sqrt(1 - b2^t) */
    float l2;     /* coupled */
    float shrink; /* lr * decay */
    float thr;    /* lr * l1 */
} consts;

/* The loop body of optim.h's rules for one element. rule, masked and prox
 * are compile-time constants at every call site, so each instantiation is
 * a straight-line body without branches. */
static inline __attribute__((always_inline)) void
fused(const consts *k, float *restrict w, const float *restrict g, const float *restrict mask,
      float *restrict m, float *restrict v, size_t n, const int rule, const int masked,
      const int prox)
{
    const float mu = k->mu, b1 = k->b1, b2 = k->b2, eps = k->eps, step = k->step, rs = k->rs,
                l2 = k->l2, shrink = k->shrink, thr = k->thr;
    for (size_t i = 0; i < n; i++) {
        float wi = w[i];
        float gi = (masked ? mask[i] * g[i] : g[i]) + l2 * wi, u;
        if (rule == RULE_ADAM) {
            float mi = b1 * m[i] + (1.0f - b1) * gi;
            float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            u = mi / (sqrtf(vi) * rs + eps);
        } else {
            float vi = mu * m[i] + gi;
            m[i] = vi;
            u = rule == RULE_NESTEROV ? gi + mu * vi : vi;
        }
        float nw = wi - step * u - shrink * wi;
        if (prox) {
            float a = fabsf(nw) - thr;
            nw = a > 0.0f ? copysignf(a, nw) : 0.0f;
        }
        w[i] = masked ? mask[i] * nw : nw;
    }
}

/* One named function per variant: profiles and -fopt-info name them. */
#define VARIANT(name, rule, masked, prox)                                                   \
    static void name(const consts *k, float *restrict w, const float *restrict g,           \
                     const float *restrict mask, float *restrict m, float *restrict v,      \
                     size_t n)                                                              \
    {                                                                                       \
        fused(k, w, g, mask, m, v, n, rule, masked, prox);                                  \
    }
VARIANT(fused_sgd, RULE_SGD, 0, 0)
VARIANT(fused_sgd_l1, RULE_SGD, 0, 1)
VARIANT(fused_sgd_mask, RULE_SGD, 1, 0)
VARIANT(fused_sgd_mask_l1, RULE_SGD, 1, 1)
VARIANT(fused_nesterov, RULE_NESTEROV, 0, 0)
VARIANT(fused_nesterov_l1, RULE_NESTEROV, 0, 1)
VARIANT(fused_nesterov_mask, RULE_NESTEROV, 1, 0)
VARIANT(fused_nesterov_mask_l1, RULE_NESTEROV, 1, 1)
VARIANT(fused_adam, RULE_ADAM, 0, 0)
VARIANT(fused_adam_l1, RULE_ADAM, 0, 1)
VARIANT(fused_adam_mask, RULE_ADAM, 1, 0)
VARIANT(fused_adam_mask_l1, RULE_ADAM, 1, 1)

typedef void (*variant_fn)(const consts *, float *restrict, const float *restrict,
                           const float *restrict, float *restrict, float *restrict, size_t);

/* [rule][masked][prox] */
static const variant_fn variants[3][2][2] = {
    {{fused_sgd, fused_sgd_l1}, {fused_sgd_mask, fused_sgd_mask_l1}},
    {{fused_nesterov, fused_nesterov_l1}, {fused_nesterov_mask, fused_nesterov_mask_l1}},
    {{fused_adam, fused_adam_l1}, {fused_adam_mask, fused_adam_mask_l1}},
};

/* Squared L2 norm of a row, in double as max-norm always computed it, over
 * eight independent lanes (a fixed association, so the same bits every
 * time) so the loop vectorizes without -ffast-math. */
static double sum_squares(const float *restrict x, size_t n)
{
    double lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            lane[j] += (double)x[i + j] * x[i + j];
    for (; i < n; i++)
        lane[i % 8] += (double)x[i] * x[i];
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

void pt_optim_update(pt_optim *o, float *w, const float *g, const float *mask, size_t off,
                     size_t n, const pt_step *s)
{
    int adam = o->kind == PT_OPT_ADAM;
    consts k = {.mu = o->momentum,
                .b1 = o->beta1,
                .b2 = o->beta2,
                .eps = o->eps,
                .step = adam ? s->lr / o->bc1 : s->lr,
                .rs = adam ? 1.0f / sqrtf(o->bc2) : 1.0f,
                .l2 = s->l2,
                .shrink = s->lr * s->decay,
                .thr = s->lr * s->l1};
    int rule = adam ? RULE_ADAM : o->nesterov ? RULE_NESTEROV : RULE_SGD;
    variant_fn f = variants[rule][mask != NULL][k.thr > 0.0f];
    w += off;
    g += off;
    mask = mask ? mask + off : NULL;
    float *m = o->m + off, *v = o->v ? o->v + off : NULL;
    size_t row = s->row;
    if (!(s->max_norm > 0.0f) || row == 0) {
        f(&k, w, g, mask, m, v, n);
        return;
    }
    /* Max-norm row by row, right after the row's update, while it is in L1. */
    double c2 = (double)s->max_norm * s->max_norm;
    for (size_t r = 0; r < n; r += row) {
        size_t len = n - r < row ? n - r : row;
        f(&k, w + r, g + r, mask ? mask + r : NULL, m + r, v ? v + r : NULL, len);
        double ss = sum_squares(w + r, len);
        if (ss > c2) {
            float scale = (float)(s->max_norm / sqrt(ss));
            for (size_t i = 0; i < len; i++)
                w[r + i] *= scale;
        }
    }
}

void pt_optim_mask(pt_optim *o, const float *mask)
{
    for (size_t i = 0; i < o->n; i++)
        o->m[i] *= mask[i];
    if (o->v)
        for (size_t i = 0; i < o->n; i++)
            o->v[i] *= mask[i];
}

void pt_optim_reset(pt_optim *o)
{
    memset(o->m, 0, sizeof(float) * o->n);
    if (o->v)
        memset(o->v, 0, sizeof(float) * o->n);
    o->t = 0;
}

pt_status pt_optim_copy(pt_optim *dst, const pt_optim *o, pt_err *err)
{
    *dst = *o;
    dst->m = dst->v = NULL;
    size_t bytes = sizeof(float) * (o->n ? o->n : 1);
    dst->m = o->m ? malloc(bytes) : NULL;
    dst->v = o->v ? malloc(bytes) : NULL;
    if ((o->m && !dst->m) || (o->v && !dst->v)) {
        pt_optim_free(dst);
        return pt_fail(err, PT_ERR_NOMEM, "optimizer: out of memory");
    }
    if (o->m)
        memcpy(dst->m, o->m, sizeof(float) * o->n);
    if (o->v)
        memcpy(dst->v, o->v, sizeof(float) * o->n);
    return PT_OK;
}

int pt_optim_adopt(pt_optim *o, const pt_optim *src)
{
    if (src->kind != o->kind || src->n != o->n || !src->m || !o->m ||
        (o->v && !src->v))
        return 0;
    memcpy(o->m, src->m, sizeof(float) * o->n);
    if (o->v)
        memcpy(o->v, src->v, sizeof(float) * o->n);
    o->t = src->t;
    o->bc1 = src->bc1;
    o->bc2 = src->bc2;
    return 1;
}

double pt_lr_at(const pt_train_config *tc, int e, int epochs)
{
    switch (tc->lr_schedule) {
    case PT_LR_STEP:
        return tc->lr * pow(tc->gamma, (double)(e / tc->step_epochs));
    case PT_LR_COSINE:
        return tc->min_lr + (tc->lr - tc->min_lr) * 0.5 *
                                (1.0 + cos(3.141592653589793 * e / (epochs > 0 ? epochs : 1)));
    case PT_LR_CONSTANT:
        break;
    }
    return tc->lr;
}
