/*
 * sampler_pbt.c — PBT's exploit/explore decisions (pbt.h). A sampler file
 * because explore draws from the space as the other samplers do
 * (sampler_draw), so a resampled value follows the same law as a random
 * trial's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pbt.h"
#include "sampler_impl.h"

/* Stream ids above any trial number the random sampler uses
 * (pt_rng_derive(seed, number), number < 2^31), so a member's draws never
 * repeat a random trial's. */
#define PBT_STREAM (UINT64_C(1) << 40)

typedef struct {
    const study_config *s;
    const pbt_member *m;
} rank_ctx;

/* 1 when member a ranks before member b (see pbt.h): feasible first, then
 * the better first objective, infeasible ones by violation; a NaN value
 * (a member that produced none) ranks last among its group. */
static int better(const study_config *s, const pbt_member *a, int ia, const pbt_member *b, int ib)
{
    double va = isnan(a->violation) ? INFINITY : a->violation;
    double vb = isnan(b->violation) ? INFINITY : b->violation;
    int fa = va == 0, fb = vb == 0;
    if (fa != fb)
        return fa;
    if (!fa && va != vb)
        return va < vb;
    double xa = a->value, xb = b->value;
    if (isnan(xa) != isnan(xb))
        return !isnan(xa);
    if (!isnan(xa) && xa != xb)
        return s->obj[0].dir == DIR_MAXIMIZE ? xa > xb : xa < xb;
    return ia < ib;
}

double pbt_violation(const study_config *s, const double *c, double sparsity, double target,
                     int in_window)
{
    if (!in_window)
        return study_violation(c, s->n_constraints);
    double sum = 0, v = fmax(sparsity, target);
    for (int i = 0; i < s->n_constraints; i++) {
        const study_constraint *k = &s->con[i];
        if (strcmp(k->metric, "sparsity") || isnan(v))
            continue; /* judged at the window's end */
        double lo = k->has_min ? k->min - v : -INFINITY, hi = k->has_max ? v - k->max : -INFINITY;
        double x = fmax(lo, hi);
        sum += x > 0 ? x : 0;
    }
    return sum;
}

void pbt_rank(const study_config *s, const pbt_member *m, int n, int *order)
{
    /* Insertion sort: a population is small, and the comparison is a strict
     * total order (index breaks ties), so the result is unique. */
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && better(s, &m[i], i, &m[order[j - 1]], order[j - 1])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

int pbt_quantile_size(const study_config *s, int n)
{
    int q = (int)ceil(n * s->pbt.quantile - 1e-12); /* 8 * 0.25 is 2, not 3 */
    return q > n / 2 ? n / 2 : q;
}

/* Puts a float of a stepped space back on its lattice; bounds hold. */
static double on_lattice(const study_param *q, double v)
{
    if (v < q->low)
        v = q->low;
    if (v > q->high)
        v = q->high;
    if (q->kind == PARAM_INT) {
        double step = q->step > 0 ? q->step : 1;
        v = q->low + round((v - q->low) / step) * step;
        while (v > q->high)
            v -= step;
    } else if (q->step > 0) {
        v = q->low + round((v - q->low) / q->step) * q->step;
        while (v > q->high + 1e-12)
            v -= q->step;
        if (v > q->high)
            v = q->high;
    }
    return v;
}

static int is_target(const study_param *q)
{
    return q->kind != PARAM_CAT && !strcmp(q->name, "prune.sparsity");
}

/* Explores from the parent's point (pbt.h): *out starts as parent. */
static void explore(const study_config *s, pt_rng *r, double floor_sp, const study_point *parent,
                    study_point *out, double *factor)
{
    *out = *parent;
    *factor = 0;
    for (int i = 0; i < s->n_params; i++) {
        const study_param *q = &s->param[i];
        int active = study_param_active(s, out, i);
        /* Every draw is made whatever happens next, so one parameter's
         * outcome never shifts the stream of the parameters after it. */
        double u = pt_rng_uniform(r);
        double fresh = sampler_draw(q, r);
        uint32_t pick = pt_rng_below(r, (uint32_t)(q->kind == PARAM_CAT ? 2 : s->pbt.n_perturb));
        if (!active) {
            out->present[i] = 0;
            out->value[i] = 0;
            continue;
        }
        double v;
        if (!parent->present[i] || u < s->pbt.resample_probability) {
            v = fresh; /* switched on by a changed condition, or resampled */
        } else if (q->kind == PARAM_CAT) {
            int k = (int)parent->value[i] + (pick ? 1 : -1);
            v = k < 0 ? 0 : k >= q->n_choices ? q->n_choices - 1 : k;
        } else if (is_target(q)) {
            double f = s->pbt.perturb[pick];
            double base = parent->value[i] > floor_sp ? parent->value[i] : floor_sp;
            v = floor_sp + (base - floor_sp) * f;
            *factor = f;
        } else {
            v = parent->value[i] * s->pbt.perturb[pick];
        }
        if (q->kind != PARAM_CAT) {
            /* The mask already holds floor_sp: a lower target would not
             * un-prune anything, it would only misreport the target. */
            if (is_target(q) && v < floor_sp)
                v = floor_sp;
            v = on_lattice(q, v);
            double step = q->kind == PARAM_INT ? (q->step > 0 ? q->step : 1) : q->step;
            while (is_target(q) && v < floor_sp && step > 0 && v + step <= q->high)
                v += step; /* rounding to the lattice must not go below the floor */
        }
        out->present[i] = 1;
        out->value[i] = v;
    }
}

pt_status pbt_step(const study_config *s, int generation, const pbt_member *m, int n,
                   pbt_decision *out, pt_err *err)
{
    if (!s || !m || !out || n < 1 || n > PBT_MAX_POPULATION || generation < 0)
        return pt_fail(err, PT_ERR_ARG, "pbt_step: bad arguments (population %d)", n);
    int order[PBT_MAX_POPULATION];
    pbt_rank(s, m, n, order);
    int q = pbt_quantile_size(s, n);
    for (int i = 0; i < n; i++) {
        out[i].parent = -1;
        out[i].point = m[i].point;
        out[i].factor = 0;
    }
    for (int k = n - q; k < n; k++) {
        int me = order[k];
        pt_rng r;
        pt_rng_derive(&r, s->seed, PBT_STREAM + ((uint64_t)generation << 20) + (uint64_t)me);
        int parent = order[pt_rng_below(&r, (uint32_t)q)];
        out[me].parent = parent;
        double floor_sp = m[parent].sparsity > 0 ? m[parent].sparsity : 0;
        explore(s, &r, floor_sp, &m[parent].point, &out[me].point, &out[me].factor);
    }
    return PT_OK;
}
