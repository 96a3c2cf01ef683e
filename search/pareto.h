/*
 * pareto.h — non-dominated sorting and picking a spread-out part of a front:
 * what a multi-objective search needs to tell good trials from bad ones
 * (sampler_tpe.c's split, as Optuna 3.1's MOTPE) and what a query needs for
 * the Pareto set.
 *
 * Points are rows of m losses, row i at loss[i * m], smaller better in every
 * column (negate a maximised objective first). a dominates b when a <= b in
 * every column and a < b in one. Losses must not be NaN (map a missing value
 * to +inf); equal points do not dominate each other, so they share a front.
 *
 * Memory: the functions allocate their scratch and free it before returning;
 * the caller owns every array it passes. Errors: PT_ERR_NOMEM (one line in
 * err), PT_ERR_ARG for n < 0 or m outside [1, PT_PARETO_MAX_M].
 */
#ifndef SEARCH_PARETO_H
#define SEARCH_PARETO_H

#include "status.h"

#define PT_PARETO_MAX_M 8

/* Fronts of loss[0..n): rank[i] = 0 for the non-dominated points, 1 for those
 * non-dominated once front 0 is removed, and so on (Deb et al. 2002). Fronts
 * are peeled only until they hold >= n_wanted points (n_wanted <= 0: all);
 * the points past them get rank -1. That early stop is what makes a TPE
 * split cheap: it needs the first ~25 points of 1,000, not every front.
 * Cost: a lexicographic sort, then per front one sweep of the remaining
 * points against that front: O(n log n + n * (size of the fronts peeled)). */
pt_status pt_nondominated_sort(const double *loss, int n, int m, int n_wanted, int *rank,
                               pt_err *err);

/* Picks k of the points idx[0..n_idx) (rows of loss, one front, so mutually
 * non-dominated) that cover the front best, into out[0..k) (k <= n_idx).
 * m == 2 and finite losses: greedy hypervolume subset selection, as Optuna
 * 3.1's _solve_hssp, with its reference point max(1.1 w, 0.9 w) from the
 * worst point w (0 replaced by 1e-12). Otherwise the k largest NSGA-II
 * crowding distances (ties: earlier in idx first). */
pt_status pt_front_select(const double *loss, int m, const int *idx, int n_idx, int k, int *out,
                          pt_err *err);

/* How much of the hypervolume of the points idx[0..n) each one alone adds:
 * contrib[j] = HV(all) - HV(all but idx[j]), reference point as
 * pt_front_select's. Exact for m == 2 and finite losses; otherwise every
 * contrib[j] = 1 (no preference). MOTPE weighs its good trials by this. */
pt_status pt_hv_contributions(const double *loss, int m, const int *idx, int n, double *contrib,
                              pt_err *err);

#endif
