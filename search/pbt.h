/*
 * pbt.h — Population Based Training's decisions (Jaderberg et al. 2017, as
 * Ray Tune's PopulationBasedTraining makes them), over pruning and
 * regularization parameters: which members exploit whom, and what each
 * exploiting member's parameters become (explore).
 *
 * `"sampler": "pbt"` with a `"pbt": {...}` block (study.h, study_pbt) asks
 * for a population of `population` members that train together; every
 * `interval` epochs pbt_step() is called once with every member's figures:
 *
 *   rank     feasible members first (total constraint violation 0, the
 *            study's constraints), best first by the first objective; then
 *            the infeasible ones by violation, least first; ties: the lower
 *            member index (so the order never depends on float noise in the
 *            equal case, nor on the order workers finished in).
 *   quantile q = ceil(population * quantile) members, at most
 *            floor(population / 2) (Ray Tune's rule, so top and bottom never
 *            overlap); with q = 0 nothing happens.
 *   exploit  each of the q bottom members takes one of the q top members,
 *            uniformly: its weights, mask, epoch count (and, where the
 *            trainer can carry it, its optimizer state) come from that parent.
 *   explore  the exploiting member's parameters start from the parent's
 *            point; each present parameter, in order, is resampled from the
 *            space with resample_probability, else:
 *              float/int     multiplied by one of the `perturb` factors
 *                            (uniform choice), clamped to [low, high],
 *                            ints rounded, a stepped float put back on its
 *                            lattice;
 *              categorical   moved to a neighbouring choice (-1 or +1,
 *                            clamped), as Ray Tune does with a list.
 *            A parameter that a changed condition switches on is drawn from
 *            the space; one switched off is dropped (present 0), so the new
 *            point is always one Optuna's distributions contain.
 *
 * Constraints inside the pruning window. Until a member's gradual window
 * has ended, its mask is part-way to its target by construction: the
 * measured sparsity (and latency, FLOPs, size) says how far the schedule
 * has run, not how good the member is, and ranking by it would make every
 * member exploit the one with the highest target (it prunes fastest). So at
 * a boundary inside the window (pbt_violation) a constraint on "sparsity" is
 * judged on where the member is going, max(its sparsity, its target), and
 * every other constraint waits for the window's end (counts 0). From the
 * window's end on, members are judged on what they measure.
 *
 * Sparsity only grows. The parent's mask is copied, so the member's sparsity
 * is at least the parent's current sparsity `floor` (pbt_member.sparsity).
 * A parameter named "prune.sparsity" is the target of a gradual schedule
 * that may move: a perturbation scales what is still to be pruned,
 *   target' = floor + (target - floor) * factor,
 * and every new target (perturbed or resampled) is raised to floor (and to
 * the parameter's low bound), so an exploit never un-prunes.
 *
 * Determinism: the decisions depend only on the study seed, the generation
 * (0, 1, ... : the interval boundary) and the members' figures: each member
 * draws from its own stream pt_rng_derive(seed, PBT_STREAM + generation *
 * 2^20 + member), disjoint from the random sampler's per-trial streams.
 *
 * Not thread-safe per call, no global state; pbt_step allocates nothing
 * beyond its stack (population <= PBT_MAX_POPULATION).
 */
#ifndef SEARCH_PBT_H
#define SEARCH_PBT_H

#include "status.h"
#include "study.h"

#define PBT_MAX_POPULATION 1024

/* A member as it stands at an interval boundary. */
typedef struct {
    double value;      /* its first objective after the interval (study direction) */
    double violation;  /* total constraint violation (study_violation), 0 = feasible */
    double sparsity;   /* fraction of pruned weights its mask holds now */
    study_point point; /* the parameters in force during the interval */
} pbt_member;

/* What a member does next. */
typedef struct {
    int parent;        /* member index it exploits, -1 = it keeps its own state */
    study_point point; /* parameters for the next interval (a copy when parent < 0) */
    double factor;     /* the perturbation factor given to "prune.sparsity", 0 = none
                          (resampled, absent, or no exploit): for the lineage record */
} pbt_decision;

/* The violation a member is ranked by at a boundary (see "Constraints
 * inside the pruning window" above): c[0..s->n_constraints) are its
 * measured constraint values (study_constraint_values), sparsity its
 * measured sparsity, target the prune.sparsity it trained toward, and
 * in_window 1 when the boundary is not past its gradual window's end. */
double pbt_violation(const study_config *s, const double *c, double sparsity, double target,
                     int in_window);

/* The member ranks best first (see the top) into order[0..n). */
void pbt_rank(const study_config *s, const pbt_member *m, int n, int *order);

/* The size of the top and bottom quantiles for n members. */
int pbt_quantile_size(const study_config *s, int n);

/* One interval boundary: out[i] for member m[i], i in [0, n). generation
 * counts the boundaries from 0. PT_ERR_ARG when n is not in
 * [1, PBT_MAX_POPULATION] or a pointer is NULL. */
pt_status pbt_step(const study_config *s, int generation, const pbt_member *m, int n,
                   pbt_decision *out, pt_err *err);

#endif
