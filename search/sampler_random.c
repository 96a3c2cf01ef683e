/*
 * sampler_random.c — independent draws, seeded per trial number.
 *
 * Stateless by design: trial n's point is a function of (seed, n) alone, so
 * a resumed study or a different number of workers proposes exactly the
 * same points, and tell() has nothing to record.
 */
#include <math.h>
#include <stdint.h>

#include "sampler_impl.h"
#include "study_internal.h"

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Uniform k in [0, n): Lemire's method when n fits, else by scaling. */
static double below(pt_rng *r, double n)
{
    if (n <= UINT32_MAX)
        return pt_rng_below(r, (uint32_t)n);
    return fmin(floor(pt_rng_uniform(r) * n), n - 1);
}

double sampler_draw(const study_param *q, pt_rng *r)
{
    if (q->kind == PARAM_CAT)
        return pt_rng_below(r, (uint32_t)q->n_choices);
    if (q->log) {
        /* Ints: log-uniform over [low - 0.5, high + 0.5] then rounded, as
         * Optuna does, so the end values get their half-width share. */
        double lo = q->kind == PARAM_INT ? q->low - 0.5 : q->low;
        double hi = q->kind == PARAM_INT ? q->high + 0.5 : q->high;
        double v = exp(log(lo) + pt_rng_uniform(r) * (log(hi) - log(lo)));
        return clamp(q->kind == PARAM_INT ? round(v) : v, q->low, q->high);
    }
    if (q->step > 0) {
        double n = round((q->high - q->low) / q->step) + 1;
        return clamp(q->low + below(r, n) * q->step, q->low, q->high);
    }
    return clamp(q->low + pt_rng_uniform(r) * (q->high - q->low), q->low, q->high);
}

void sampler_random_point(const study_config *s, uint64_t seed, int number, study_point *out)
{
    pt_rng r;
    pt_rng_derive(&r, seed, (uint64_t)number);
    for (int i = 0; i < s->n_params; i++) {
        double v = sampler_draw(&s->param[i], &r);
        out->present[i] = study_param_active(s, out, i);
        out->value[i] = out->present[i] ? v : 0;
    }
}

static pt_status random_init(sampler *sm, pt_err *err)
{
    (void)err;
    sm->impl = NULL;
    return PT_OK;
}

static pt_status random_ask(sampler *sm, int number, study_point *out, pt_err *err)
{
    (void)err;
    sampler_random_point(sm->s, sm->s->seed, number, out);
    return PT_OK;
}

static void random_tell(sampler *sm, int number, const study_point *p, trial_state st,
                        const double *values)
{
    (void)sm, (void)number, (void)p, (void)st, (void)values;
}

static void random_destroy(sampler *sm)
{
    (void)sm;
}

const sampler_ops sampler_random_ops = {"random", random_init, random_ask, random_tell,
                                        random_destroy};
