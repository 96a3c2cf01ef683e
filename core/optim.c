/* optim.c — SGD (momentum, Nesterov) and Adam; see optim.h. */
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

/* The common case, unpruned and unregularized but for coupled L2: short
 * loops the compiler vectorizes fully. */
static void sgd_plain(const pt_optim *o, float *restrict w, const float *restrict g,
                      float *restrict v, size_t n, float lr, float l2)
{
    float mu = o->momentum;
    if (o->nesterov) {
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] + l2 * w[i];
            float vi = mu * v[i] + gi;
            v[i] = vi;
            w[i] -= lr * (gi + mu * vi);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float vi = mu * v[i] + g[i] + l2 * w[i];
            v[i] = vi;
            w[i] -= lr * vi;
        }
    }
}

static void adam_plain(const pt_optim *o, float *restrict w, const float *restrict g,
                       float *restrict m, float *restrict v, size_t n, float lr, float l2)
{
    float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    /* Fold the bias corrections into two scalars: one division per step. */
    float step = lr / o->bc1, rs = 1.0f / sqrtf(o->bc2);
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * w[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= step * mi / (sqrtf(vi) * rs + eps);
    }
}

/* Everything else: mask, decoupled decay, proximal L1 (see optim.h). */
static void update_full(const pt_optim *o, float *restrict w, const float *restrict g,
                        const float *restrict mask, float *restrict m, float *restrict v,
                        size_t n, const pt_step *s)
{
    float mu = o->momentum, b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    float step = o->kind == PT_OPT_ADAM ? s->lr / o->bc1 : s->lr;
    float rs = o->kind == PT_OPT_ADAM ? 1.0f / sqrtf(o->bc2) : 1.0f;
    float shrink = s->lr * s->decay, thr = s->lr * s->l1;
    for (size_t i = 0; i < n; i++) {
        float keep = mask ? mask[i] : 1.0f;
        float wi = w[i], gi = keep * g[i] + s->l2 * wi, u;
        if (o->kind == PT_OPT_ADAM) {
            float mi = b1 * m[i] + (1.0f - b1) * gi;
            float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            u = mi / (sqrtf(vi) * rs + eps);
        } else {
            float vi = mu * m[i] + gi;
            m[i] = vi;
            u = o->nesterov ? gi + mu * vi : vi;
        }
        float nw = wi - step * u - shrink * wi;
        if (thr > 0.0f) {
            float a = fabsf(nw) - thr;
            nw = a > 0.0f ? copysignf(a, nw) : 0.0f;
        }
        w[i] = keep * nw;
    }
}

void pt_optim_update(pt_optim *o, float *w, const float *g, const float *mask, size_t off,
                     size_t n, const pt_step *s)
{
    if (mask || s->decay > 0.0f || s->l1 > 0.0f)
        update_full(o, w + off, g + off, mask ? mask + off : NULL, o->m + off,
                    o->v ? o->v + off : NULL, n, s);
    else if (o->kind == PT_OPT_ADAM)
        adam_plain(o, w + off, g + off, o->m + off, o->v + off, n, s->lr, s->l2);
    else
        sgd_plain(o, w + off, g + off, o->m + off, n, s->lr, s->l2);
}

void pt_optim_mask(pt_optim *o, const float *mask)
{
    for (size_t i = 0; i < o->n; i++) {
        o->m[i] *= mask[i];
        if (o->v)
            o->v[i] *= mask[i];
    }
}

void pt_optim_reset(pt_optim *o)
{
    memset(o->m, 0, sizeof(float) * o->n);
    if (o->v)
        memset(o->v, 0, sizeof(float) * o->n);
    o->t = 0;
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
