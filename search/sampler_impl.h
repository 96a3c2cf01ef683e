/*
 * sampler_impl.h — what a sampler kind provides (the vtable behind
 * sampler.h) and the drawing helpers the kinds share. Included by
 * sampler*.c only.
 *
 * A kind is one file defining one sampler_ops: sampler_random.c,
 * sampler_grid.c, and later sampler_tpe.c, which keeps the told trials in
 * its impl state, models the COMPLETE ones, treats asked-not-told numbers as
 * pending, and falls back to sampler_random_point() for its first trials.
 * Adding a kind: a new file, a new ops, one line in sampler_new().
 */
#ifndef SEARCH_SAMPLER_IMPL_H
#define SEARCH_SAMPLER_IMPL_H

#include "rng.h"
#include "sampler.h"

typedef struct sampler_ops {
    const char *name;
    /* Sets sm->impl; sm->s is already set. */
    pt_status (*init)(sampler *sm, pt_err *err);
    pt_status (*ask)(sampler *sm, int number, study_point *out, pt_err *err);
    void (*tell)(sampler *sm, int number, const study_point *p, trial_state st,
                 const double *values);
    void (*destroy)(sampler *sm); /* frees sm->impl */
} sampler_ops;

struct sampler {
    const sampler_ops *ops;
    const study_config *s;
    void *impl;
};

extern const sampler_ops sampler_random_ops;
extern const sampler_ops sampler_grid_ops;
extern const sampler_ops sampler_tpe_ops;

/* One value of parameter q drawn from r: floats uniform or log-uniform in
 * [low, high] (on the step lattice when step > 0), ints uniform on
 * low + k * step or log-uniform rounded, categoricals a uniform choice index. */
double sampler_draw(const study_param *q, pt_rng *r);

/* Trial `number`'s random point: one stream per trial number,
 * pt_rng_derive(seed, number), so the point depends on nothing else. Every
 * parameter is drawn, in order, even when its condition then drops it, so a
 * parameter's value does not shift with the values drawn before it. */
void sampler_random_point(const study_config *s, uint64_t seed, int number, study_point *out);

/* Optuna 3.1's constrained good/bad split (_split_observation_pairs with
 * violations): candidates 0..n) in chronological order with total violation
 * viol[c] (0 = feasible), by_loss[0..n) their indexes best first by loss.
 * More than n_below feasible: good = the n_below best feasible by loss; else
 * good = every feasible one plus the least violating others (ties: the lower
 * index). Sets good[c] to 1 or 0; returns how many are good. Pure, so tests
 * check it against Optuna's own function on the same numbers. */
int tpe_split_constrained(const double *viol, const int *by_loss, int n, int n_below,
                          signed char *good);

#endif
