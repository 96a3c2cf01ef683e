/*
 * parzen.h — the univariate Parzen estimators of the TPE sampler
 * (sampler_tpe.c), as Optuna 3.1's _ParzenEstimator with multivariate off:
 * a weighted mixture of truncated Gaussians over one numerical parameter
 * (in its log scale when log, widened by step/2 on a lattice), or weighted
 * counts over a categorical's choices, each with a prior kernel.
 *
 * Memory: a parzen points into arrays its caller owns (mu, sg, w, isg, co,
 * lmax, rmax, tmp: room for the observation count each); nothing here
 * allocates, nothing fails. Internal to coordinator/: only sampler_tpe.c and
 * its tests include it.
 */
#ifndef SEARCH_PARZEN_H
#define SEARCH_PARZEN_H

#include "rng.h"
#include "study.h"

/* A sort key: key, then cls, then i (ascending). */
typedef struct {
    double key;
    int cls, i;
} parzen_key;

int parzen_key_less(const parzen_key *x, const parzen_key *y);
/* In place, by parzen_key_less. */
void parzen_sort(parzen_key *a, int n);

/* Numerical parameter in its transformed range [lo, hi] (log for log
 * scales, widened by step/2 on a lattice). The observation kernels are kept
 * sorted by centre with running maxima of sigma from either end, so a
 * density scan can start at the point and stop where no farther kernel can
 * reach it; the prior kernel is kept apart (its sigma is the whole range). */
typedef struct {
    double lo, hi, q; /* q: lattice step, 0 = continuous */
    int n;            /* observation kernels */
    double *mu, *sg, *w, *isg, *co, *lmax, *rmax, *tmp;
    double pmu, psg, pw, pisg, pco; /* the prior kernel */
} parzen;

/* Optuna's default_weights(n) into w[0..n), oldest first: 1 for the newest
 * 25, a ramp from 1/n up to 1 for the older ones. */
void parzen_default_weights(double *w, int n);

/* The model space of parameter q: pz->lo, hi, q set (log scale for log
 * params; a lattice of step q, widened by q/2, otherwise when step > 0). */
void parzen_range(const study_param *q, parzen *pz);
double parzen_to_model(const study_param *q, double v);
/* A model-space draw back to a value of q: exp, rounding to the step or
 * integer, clamped to [low, high]. */
double parzen_from_model(const study_param *q, double x);

/* Kernels by Optuna's neighbour rule over the observations and the prior
 * N((lo + hi) / 2, hi - lo) together: sigma = the larger gap to the sorted
 * neighbours (the two ends: their inner gap), clipped to
 * [(hi - lo) / min(100, n + 2), hi - lo] ("magic clip"). ks[0..n) are the
 * observations sorted by model value, ks[s].i indexing their raw weight in
 * wraw; ks must have room for n + 1 (the prior is merged in). pw: the prior's
 * raw weight; weights are normalised. pz's range is set (parzen_range). */
void parzen_build(parzen *pz, parzen_key *ks, int n, const double *wraw, double pw);
/* Density at model value x (continuous) or mass of x's lattice cell. */
double parzen_pdf(const parzen *pz, double x);
/* One draw (model space) from the mixture. */
double parzen_draw(const parzen *pz, pt_rng *r);

/* Categorical: P[c] for c < n_choices, the mixture mass of choice c given
 * observations x[0..n) (choice indices) of raw weights w and the prior
 * weight pw: Optuna's kernels put pw / (n + 1) + [c == seen] on each choice,
 * normalised; the prior kernel is uniform. */
void parzen_cat_mass(const double *x, const double *w, int n, double pw, int n_choices, double *P);

#endif
