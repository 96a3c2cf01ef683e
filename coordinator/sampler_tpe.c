/*
 * sampler_tpe.c — Tree-structured Parzen Estimator (Bergstra et al. 2011),
 * as Optuna 3.1's TPESampler with its defaults: independent per parameter
 * (multivariate off), prior weight 1, magic clip on, endpoints off, Optuna's
 * default_gamma (n_below = min(ceil(0.1 n), 25)) and default_weights.
 *
 * How a proposal is made. The first n_startup_trials finished trials are
 * random (sampler_random_point, so they are exactly random search's first
 * points). After that, parameter by parameter in study order (a "when"
 * condition names an earlier parameter, so it is settled first):
 *   1. the finished trials in which the parameter exists are split into good
 *      (below) and bad (above): single objective by loss, COMPLETE before
 *      PRUNED; several objectives by non-dominated rank, the last front cut
 *      by greedy hypervolume (pareto.h, as Optuna's MOTPE);
 *   2. one Parzen estimator over each group: l(x) for good, g(x) for bad
 *      (truncated Gaussians in the (log-)transformed range, or weighted
 *      counts for categoricals, plus the prior kernel);
 *   3. n_ei_candidates draws from l; the one with the largest
 *      log l(x) - log g(x) is taken.
 * A parameter with fewer than n_startup_trials finished observations (a
 * rarely enabled conditional one) is drawn uniformly instead.
 *
 * Decisions (what Optuna leaves open or what differs):
 *  - Asynchrony: asked-not-told trials are pending and, with constant_liar
 *    (default on), join the bad group with their point, so a free worker is
 *    steered away from what the busy ones try (Optuna's constant_liar). n
 *    and gamma count finished trials only.
 *  - PRUNED trials (single objective) rank below every COMPLETE one, among
 *    themselves by their last value; the step they stopped at is not told,
 *    so Optuna's "later step first" is not applied. With several objectives
 *    they go to the bad group (Optuna's MOTPE refuses pruning).
 *  - Non-finite values rank last. FAIL trials are forgotten.
 *  - Determinism: trial n's draws come from pt_rng_derive(seed, n); the
 *    proposal depends only on that and on what was told and asked before.
 *  - Trials are kept sorted by number: that is Optuna's chronological order,
 *    which default_weights' ramp uses (older bad trials weigh less).
 *
 * Cost with H trials and P parameters: a sort of the H losses per ask, then
 * per parameter an O(H) split, a sort of H kernel centres, and
 * n_ei_candidates x H kernel evaluations (kernels farther than 9 sigma are
 * skipped without an exp). scripts/bench_tpe measures it against Optuna.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pareto.h"
#include "sampler_impl.h"
#include "study_internal.h"

#define TPE_MAX_BELOW 25             /* Optuna's default_gamma cap */
#define TPE_FLAT 25                  /* default_weights: the newest 25 weigh 1 */
#define TPE_EPS 1e-12                /* Optuna's EPS (MOTPE weights) */
#define TPE_FAR 9.0                  /* sigmas beyond which a kernel is skipped: */
#define TPE_FAR2 (TPE_FAR * TPE_FAR) /* it would add < e^-40 of its peak */
#define TPE_SQRT1_2 0.70710678118654752440
#define TPE_SQRT_2PI 2.50662827463100050242

typedef struct {
    int number;
    trial_state st; /* TRIAL_COMPLETE, TRIAL_PRUNED, or TRIAL_RUNNING (pending) */
    double loss[STUDY_MAX_OBJECTIVES]; /* minimised; non-finite -> +inf */
    study_point p;
} tpe_obs;

typedef struct {
    double key;
    int cls, i;
} tpe_rank;

typedef struct {
    tpe_obs *o; /* sorted by number */
    int n, cap, n_finished;
    /* per-ask scratch, sized for cap + 1 entries */
    int scap;
    tpe_rank *order;           /* single objective: finished trials, best first */
    signed char *group;        /* per trial, for the current split: 1 good, 0 bad, -1 unused */
    int split_param;           /* parameter whose presence the split was made for, -1 none */
    double *xb, *wb, *xa, *wa; /* observations and raw weights of good and bad */
    double *mu, *sg, *w, *co, *isg, *lmax, *rmax; /* bad group's kernels (parzen) */
    int *ki;                                      /* a front's picks */
    tpe_rank *ks;                                 /* kernel sort keys */
    double *mo_loss;                              /* several objectives: rows of the candidates */
    int *mo_idx, *mo_rank, *mo_sel;
} tpe;

/* ---- the history --------------------------------------------------------- */

static int find(const tpe *t, int number, int *at)
{
    int lo = 0, hi = t->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (t->o[mid].number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return lo < t->n && t->o[lo].number == number;
}

static void drop_at(tpe *t, int at)
{
    if (t->o[at].st != TRIAL_RUNNING)
        t->n_finished--;
    memmove(t->o + at, t->o + at + 1, sizeof *t->o * (size_t)(t->n - at - 1));
    t->n--;
}

/* Inserts or replaces trial `number`; 0 when out of memory (the sampler
 * then just knows one trial less: proposals stay valid). */
static int put(tpe *t, int number, const study_point *p, trial_state st, const double *values,
               int n_obj, const study_objective *obj)
{
    int at;
    if (find(t, number, &at)) {
        drop_at(t, at);
    } else if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        tpe_obs *o = realloc(t->o, sizeof *o * (size_t)cap);
        if (!o)
            return 0;
        t->o = o;
        t->cap = cap;
    }
    memmove(t->o + at + 1, t->o + at, sizeof *t->o * (size_t)(t->n - at));
    tpe_obs *e = &t->o[at];
    memset(e, 0, sizeof *e);
    e->number = number;
    e->st = st;
    e->p = *p;
    for (int k = 0; k < n_obj; k++) {
        double v = values ? values[k] : NAN;
        v = obj[k].dir == DIR_MAXIMIZE ? -v : v;
        e->loss[k] = isfinite(v) ? v : INFINITY;
    }
    t->n++;
    t->n_finished += st != TRIAL_RUNNING;
    return 1;
}

static int grow_scratch(tpe *t)
{
    if (t->scap >= t->n + 1)
        return 1;
    int c = t->cap + 1;
    size_t n = (size_t)c, m = STUDY_MAX_OBJECTIVES;
#define GROW(p, count)                                                                             \
    do {                                                                                           \
        void *q = realloc(p, sizeof *(p) * (count));                                               \
        if (!q)                                                                                    \
            return 0;                                                                              \
        p = q;                                                                                     \
    } while (0)
    GROW(t->order, n);
    GROW(t->group, n);
    GROW(t->xb, n);
    GROW(t->wb, n);
    GROW(t->xa, n);
    GROW(t->wa, n);
    GROW(t->mu, n);
    GROW(t->sg, n);
    GROW(t->co, n);
    GROW(t->isg, n);
    GROW(t->lmax, n);
    GROW(t->rmax, n);
    GROW(t->w, n);
    GROW(t->ks, n);
    GROW(t->ki, n);
    GROW(t->mo_loss, n * m);
    GROW(t->mo_idx, n);
    GROW(t->mo_rank, n);
    GROW(t->mo_sel, n);
#undef GROW
    t->scap = c;
    return 1;
}

/* ---- good / bad split ------------------------------------------------------ */

static int n_below_of(const study_tpe *opt, int n)
{
    int k = (int)ceil(opt->gamma * n);
    return k < TPE_MAX_BELOW ? k : TPE_MAX_BELOW;
}

static void sort_ranks(tpe_rank *a, int n);

/* Single objective: every finished trial ranked once per ask. */
static void rank_finished(tpe *t)
{
    int k = 0;
    for (int j = 0; j < t->n; j++)
        if (t->o[j].st != TRIAL_RUNNING)
            t->order[k++] = (tpe_rank){t->o[j].loss[0], t->o[j].st == TRIAL_PRUNED, j};
    sort_ranks(t->order, k);
}

/* Whether parameter a exists in exactly the trials b does: then b's split
 * is a's too (every unconditional parameter shares one). */
static int same_presence(const tpe *t, int a, int b)
{
    for (int j = 0; j < t->n; j++)
        if (t->o[j].p.present[a] != t->o[j].p.present[b])
            return 0;
    return 1;
}

static pt_status split_multi(tpe *t, const sampler *sm, int i, int n_below, pt_err *err)
{
    int m = sm->s->n_objectives, n = 0;
    for (int j = 0; j < t->n; j++)
        if (t->o[j].st == TRIAL_COMPLETE && t->o[j].p.present[i]) {
            memcpy(t->mo_loss + (size_t)n * (size_t)m, t->o[j].loss, sizeof(double) * (size_t)m);
            t->mo_idx[n++] = j;
        }
    if (n_below > n)
        n_below = n;
    pt_status st = pt_nondominated_sort(t->mo_loss, n, m, n_below, t->mo_rank, err);
    if (st != PT_OK)
        return st;
    /* Whole fronts while they fit, then the most covering part of the next. */
    int taken = 0, r = 0;
    for (;; r++) {
        int size = 0;
        for (int c = 0; c < n; c++)
            size += t->mo_rank[c] == r;
        if (size == 0 || taken + size > n_below)
            break;
        for (int c = 0; c < n; c++)
            if (t->mo_rank[c] == r)
                t->group[t->mo_idx[c]] = 1;
        taken += size;
    }
    if (taken < n_below) {
        int size = 0;
        for (int c = 0; c < n; c++)
            if (t->mo_rank[c] == r)
                t->mo_sel[size++] = c;
        st = pt_front_select(t->mo_loss, m, t->mo_sel, size, n_below - taken, t->ki, err);
        if (st != PT_OK)
            return st;
        for (int s = 0; s < n_below - taken; s++)
            t->group[t->mo_idx[t->ki[s]]] = 1;
    }
    return PT_OK;
}

/* Sets t->group for parameter i; returns through *n_obs the finished trials
 * that have it. */
static pt_status split(tpe *t, const sampler *sm, int i, int *n_obs, pt_err *err)
{
    const study_tpe *opt = &sm->s->tpe;
    int n = 0;
    for (int j = 0; j < t->n; j++)
        n += t->o[j].st != TRIAL_RUNNING && t->o[j].p.present[i];
    *n_obs = n;
    if (t->split_param >= 0 && same_presence(t, i, t->split_param))
        return PT_OK;
    for (int j = 0; j < t->n; j++) {
        const tpe_obs *e = &t->o[j];
        t->group[j] = !e->p.present[i]                                ? -1
                      : e->st == TRIAL_RUNNING && !opt->constant_liar ? -1
                                                                      : 0;
    }
    int n_below = n_below_of(opt, n);
    if (sm->s->n_objectives > 1) {
        pt_status st = split_multi(t, sm, i, n_below, err);
        if (st != PT_OK)
            return st;
    } else {
        int k = 0;
        for (int r = 0; r < t->n_finished && k < n_below; r++)
            if (t->o[t->order[r].i].p.present[i]) {
                t->group[t->order[r].i] = 1;
                k++;
            }
    }
    t->split_param = i;
    return PT_OK;
}

/* ---- Parzen estimators ------------------------------------------------------ */

/* Optuna's default_weights(n) into w[0..n): oldest first. */
static void default_weights(double *w, int n)
{
    int ramp = n < TPE_FLAT ? 0 : n - TPE_FLAT;
    for (int j = 0; j < n; j++)
        w[j] = 1;
    for (int j = 0; j < ramp; j++)
        w[j] = ramp == 1 ? 1.0 / n : 1.0 / n + (1.0 - 1.0 / n) * j / (ramp - 1);
}

/* MOTPE: the good trials weigh by hypervolume contribution, relative to the
 * largest. */
static pt_status weights_multi(tpe *t, const sampler *sm, double *w, int n, pt_err *err)
{
    int m = sm->s->n_objectives, k = 0;
    if (n <= 1) {
        default_weights(w, n);
        return PT_OK;
    }
    for (int j = 0; j < t->n; j++)
        if (t->group[j] == 1)
            t->mo_sel[k++] = j;
    for (int c = 0; c < k; c++)
        memcpy(t->mo_loss + (size_t)c * (size_t)m, t->o[t->mo_sel[c]].loss,
               sizeof(double) * (size_t)m);
    for (int c = 0; c < k; c++)
        t->mo_idx[c] = c;
    pt_status st = pt_hv_contributions(t->mo_loss, m, t->mo_idx, k, w, err);
    if (st != PT_OK)
        return st;
    double mx = 0;
    for (int c = 0; c < k; c++)
        mx = fmax(mx, w[c] += TPE_EPS);
    for (int c = 0; c < k; c++)
        w[c] = fmin(fmax(w[c] / mx, 0), 1);
    return PT_OK;
}

static double phi_cdf(double z)
{
    return 0.5 * erfc(-z * TPE_SQRT1_2);
}

/* Numerical parameter in its transformed range [lo, hi] (log for log
 * scales, widened by step/2 on a lattice). The observation kernels are kept
 * sorted by centre with running maxima of sigma from either end, so a
 * density scan can start at the point and stop where no farther kernel can
 * reach it; the prior kernel is kept apart (its sigma is the whole range). */
typedef struct {
    double lo, hi, q; /* q: lattice step, 0 = continuous */
    int n;            /* observation kernels */
    double *mu, *sg, *w, *isg, *co, *lmax, *rmax;
    double pmu, psg, pw, pisg, pco; /* the prior kernel */
} parzen;

static int rank_less(const tpe_rank *x, const tpe_rank *y)
{
    if (x->cls != y->cls)
        return x->cls < y->cls;
    if (x->key != y->key)
        return x->key < y->key;
    return x->i < y->i;
}

/* Quicksort with the comparison inlined (qsort's indirect call was a third
 * of a proposal's time with 1,000 trials); insertion sort below 16. */
static void sort_ranks(tpe_rank *a, int n)
{
    while (n > 16) {
        tpe_rank *m = &a[n / 2], *z = &a[n - 1], pv;
        /* median of three as the pivot */
        if (rank_less(m, a))
            pv = *m, *m = *a, *a = pv;
        if (rank_less(z, m)) {
            pv = *z, *z = *m, *m = pv;
            if (rank_less(m, a))
                pv = *m, *m = *a, *a = pv;
        }
        pv = *m;
        int i = 0, j = n - 1;
        for (;;) {
            while (rank_less(&a[i], &pv))
                i++;
            while (rank_less(&pv, &a[j]))
                j--;
            if (i >= j)
                break;
            tpe_rank t = a[i];
            a[i++] = a[j];
            a[j--] = t;
        }
        /* recurse into the smaller part, loop on the larger */
        int left = j + 1;
        if (left < n - left) {
            sort_ranks(a, left);
            a += left;
            n -= left;
        } else {
            sort_ranks(a + left, n - left);
            n = left;
        }
    }
    for (int i = 1; i < n; i++) {
        tpe_rank v = a[i];
        int j = i;
        for (; j > 0 && rank_less(&v, &a[j - 1]); j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

/* Kernel sigmas by Optuna's neighbour rule over the observations and the
 * prior together: the larger gap to the sorted neighbours (the two ends:
 * their inner gap), clipped to [(hi - lo) / min(100, n + 2), hi - lo]; the
 * prior is N((lo + hi) / 2, hi - lo). Weights: wraw and pw, normalised. */
static void parzen_build(parzen *pz, const double *x, const double *wraw, int n, double pw,
                         tpe_rank *ks)
{
    double range = pz->hi - pz->lo, wsum = pw;
    int N = n + 1;
    for (int j = 0; j < n; j++) {
        ks[j] = (tpe_rank){x[j], 0, j};
        wsum += wraw[j];
    }
    pz->pmu = 0.5 * (pz->lo + pz->hi);
    ks[n] = (tpe_rank){pz->pmu, 0, n};
    sort_ranks(ks, N);
    double minsg = range / fmin(100.0, 1.0 + N);
    int k = 0;
    for (int s = 0; s < N; s++) {
        double c = ks[s].key, left = s == 0 ? pz->lo : ks[s - 1].key,
               right = s == N - 1 ? pz->hi : ks[s + 1].key;
        double sg = fmax(c - left, right - c);
        if (N >= 2 && s == 0)
            sg = ks[1].key - c;
        else if (N >= 2 && s == N - 1)
            sg = c - ks[N - 2].key;
        int j = ks[s].i;
        double weight = (j < n ? wraw[j] : pw) / wsum;
        if (j == n) {
            pz->psg = range;
            pz->pw = weight;
            continue;
        }
        pz->mu[k] = c;
        pz->sg[k] = fmin(fmax(sg, minsg), range);
        pz->w[k] = weight;
        k++;
    }
    pz->n = n;
    for (int j = 0; j <= n; j++) {
        double mu = j < n ? pz->mu[j] : pz->pmu, sg = j < n ? pz->sg[j] : pz->psg;
        double w = j < n ? pz->w[j] : pz->pw;
        double z = phi_cdf((pz->hi - mu) / sg) - phi_cdf((pz->lo - mu) / sg);
        /* continuous: w / (sigma Z sqrt(2 pi)); lattice: w / Z */
        double co = pz->q > 0 ? w / z : w / (sg * z * TPE_SQRT_2PI);
        if (j < n) {
            pz->isg[j] = 1 / sg;
            pz->co[j] = co;
        } else {
            pz->pisg = 1 / sg;
            pz->pco = co;
        }
    }
    for (int j = 0; j < n; j++)
        pz->lmax[j] = fmax(pz->sg[j], j ? pz->lmax[j - 1] : 0);
    for (int j = n - 1; j >= 0; j--)
        pz->rmax[j] = fmax(pz->sg[j], j < n - 1 ? pz->rmax[j + 1] : 0);
}

static double kernel(const parzen *pz, double mu, double isg, double co, double x)
{
    if (pz->q <= 0) {
        double z = (x - mu) * isg;
        return z * z < TPE_FAR2 ? co * exp(-0.5 * z * z) : 0;
    }
    double a = fmax(x - pz->q / 2, pz->lo), b = fmin(x + pz->q / 2, pz->hi);
    double za = (a - mu) * isg, zb = (b - mu) * isg;
    return zb < -TPE_FAR || za > TPE_FAR ? 0 : co * (phi_cdf(zb) - phi_cdf(za));
}

/* Density (continuous) or mass (lattice) of the mixture at transformed x:
 * the kernels within TPE_FAR sigmas, found outward from x. */
static double parzen_pdf(const parzen *pz, double x)
{
    double p = kernel(pz, pz->pmu, pz->pisg, pz->pco, x);
    double reach = pz->q > 0 ? pz->q / 2 : 0;
    int lo = 0, hi = pz->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (pz->mu[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (int j = lo; j < pz->n && pz->mu[j] - x - reach <= TPE_FAR * pz->rmax[j]; j++)
        p += kernel(pz, pz->mu[j], pz->isg[j], pz->co[j], x);
    for (int j = lo - 1; j >= 0 && x - reach - pz->mu[j] <= TPE_FAR * pz->lmax[j]; j--)
        p += kernel(pz, pz->mu[j], pz->isg[j], pz->co[j], x);
    return p;
}

/* One draw from the mixture, in the transformed range. */
static double parzen_draw(const parzen *pz, pt_rng *r)
{
    double u = pt_rng_uniform(r), acc = 0, mu = pz->pmu, sg = pz->psg;
    for (int j = 0; j < pz->n; j++) {
        acc += pz->w[j];
        if (u < acc) {
            mu = pz->mu[j];
            sg = pz->sg[j];
            break;
        }
    }
    /* Truncated normal by rejection: the centre lies in [lo, hi] and sigma
     * <= hi - lo, so at least ~1/3 of draws land inside. */
    for (int tries = 0; tries < 1000; tries++) {
        double v = mu + sg * pt_rng_normal(r);
        if (v >= pz->lo && v <= pz->hi)
            return v;
    }
    return mu;
}

/* ---- one parameter's proposal ----------------------------------------------- */

static double to_model(const study_param *q, double v)
{
    return q->log ? log(v) : v;
}

static void model_range(const study_param *q, parzen *pz)
{
    pz->q = 0;
    if (q->log) {
        pz->lo = log(q->kind == PARAM_INT ? q->low - 0.5 : q->low);
        pz->hi = log(q->kind == PARAM_INT ? q->high + 0.5 : q->high);
    } else if (q->step > 0) {
        pz->q = q->step;
        pz->lo = q->low - 0.5 * q->step;
        pz->hi = q->high + 0.5 * q->step;
    } else {
        pz->lo = q->low;
        pz->hi = q->high;
    }
}

static double from_model(const study_param *q, double x)
{
    double v = x;
    if (q->log)
        v = q->kind == PARAM_INT ? round(exp(x)) : exp(x);
    else if (q->step > 0)
        v = round((x - q->low) / q->step) * q->step + q->low;
    return fmin(fmax(v, q->low), q->high);
}

static double log_pos(double p)
{
    return log(fmax(p, DBL_MIN));
}

/* The good and bad observations of parameter i, oldest first, with their
 * raw weights. */
static pt_status gather(tpe *t, const sampler *sm, int i, int *nb, int *na, pt_err *err)
{
    const study_param *q = &sm->s->param[i];
    *nb = *na = 0;
    for (int j = 0; j < t->n; j++) {
        double v = q->kind == PARAM_CAT ? t->o[j].p.value[i] : to_model(q, t->o[j].p.value[i]);
        if (t->group[j] == 1)
            t->xb[(*nb)++] = v;
        else if (t->group[j] == 0)
            t->xa[(*na)++] = v;
    }
    default_weights(t->wa, *na);
    if (sm->s->n_objectives > 1)
        return weights_multi(t, sm, t->wb, *nb, err);
    default_weights(t->wb, *nb);
    return PT_OK;
}

/* Categorical: Optuna's kernels put (prior_weight / n_kernels + [c == seen])
 * on each choice, normalised; the prior kernel is uniform. The mixture's
 * mass per choice is computed once, so a candidate costs O(1). */
static void cat_mass(const double *x, const double *w, int n, double pw, int n_choices, double *P)
{
    double wsum = pw;
    for (int j = 0; j < n; j++)
        wsum += w[j];
    double base = pw / (n + 1), d = base * n_choices + 1, rest = 0;
    for (int c = 0; c < n_choices; c++)
        P[c] = pw / wsum / n_choices;
    for (int j = 0; j < n; j++) {
        rest += w[j] / wsum * base / d;
        P[(int)x[j]] += w[j] / wsum / d;
    }
    for (int c = 0; c < n_choices; c++)
        P[c] += rest;
}

static double propose_cat(tpe *t, const sampler *sm, int i, int nb, int na, pt_rng *r)
{
    const study_param *q = &sm->s->param[i];
    double pl[STUDY_MAX_CHOICES], pg[STUDY_MAX_CHOICES];
    double pw = sm->s->tpe.prior_weight;
    cat_mass(t->xb, t->wb, nb, pw, q->n_choices, pl);
    cat_mass(t->xa, t->wa, na, pw, q->n_choices, pg);
    int best = 0;
    double best_score = -INFINITY;
    for (int k = 0; k < sm->s->tpe.n_ei_candidates; k++) {
        double u = pt_rng_uniform(r), acc = 0;
        int c = q->n_choices - 1;
        for (int j = 0; j < q->n_choices; j++)
            if (u < (acc += pl[j])) {
                c = j;
                break;
            }
        double score = log_pos(pl[c]) - log_pos(pg[c]);
        if (score > best_score) {
            best_score = score;
            best = c;
        }
    }
    return best;
}

static double propose_num(tpe *t, const sampler *sm, int i, int nb, int na, pt_rng *r)
{
    const study_param *q = &sm->s->param[i];
    double pw = sm->s->tpe.prior_weight;
    enum { B = TPE_MAX_BELOW };
    double bmu[B], bsg[B], bw[B], bisg[B], bco[B], blmax[B], brmax[B];
    parzen l = {
        .mu = bmu, .sg = bsg, .w = bw, .isg = bisg, .co = bco, .lmax = blmax, .rmax = brmax};
    parzen g = {.mu = t->mu,
                .sg = t->sg,
                .w = t->w,
                .isg = t->isg,
                .co = t->co,
                .lmax = t->lmax,
                .rmax = t->rmax};
    model_range(q, &l);
    model_range(q, &g);
    parzen_build(&l, t->xb, t->wb, nb, pw, t->ks);
    parzen_build(&g, t->xa, t->wa, na, pw, t->ks);
    double best = q->low, best_score = -INFINITY;
    for (int k = 0; k < sm->s->tpe.n_ei_candidates; k++) {
        double v = from_model(q, parzen_draw(&l, r)), x = to_model(q, v);
        double score = log_pos(parzen_pdf(&l, x)) - log_pos(parzen_pdf(&g, x));
        if (score > best_score) {
            best_score = score;
            best = v;
        }
    }
    return best;
}

/* ---- the sampler_ops ---------------------------------------------------------- */

static pt_status tpe_init(sampler *sm, pt_err *err)
{
    tpe *t = calloc(1, sizeof *t);
    if (!t)
        return pt_fail(err, PT_ERR_NOMEM, "tpe sampler: out of memory");
    t->split_param = -1;
    sm->impl = t;
    return PT_OK;
}

static pt_status propose(tpe *t, const sampler *sm, int number, study_point *out, pt_err *err)
{
    const study_config *s = sm->s;
    if (!grow_scratch(t))
        return pt_fail(err, PT_ERR_NOMEM, "tpe sampler: out of memory for %d trials", t->n);
    if (s->n_objectives == 1)
        rank_finished(t);
    t->split_param = -1;
    pt_rng r;
    pt_rng_derive(&r, s->seed, (uint64_t)number);
    for (int i = 0; i < s->n_params; i++) {
        const study_param *q = &s->param[i];
        out->present[i] = study_param_active(s, out, i);
        out->value[i] = 0;
        if (!out->present[i])
            continue;
        int n_obs, nb, na;
        pt_status st = split(t, sm, i, &n_obs, err);
        if (st != PT_OK)
            return st;
        if (n_obs < s->tpe.n_startup_trials || n_obs == 0) {
            out->value[i] = sampler_draw(q, &r);
            continue;
        }
        if ((st = gather(t, sm, i, &nb, &na, err)) != PT_OK)
            return st;
        out->value[i] = q->kind == PARAM_CAT ? propose_cat(t, sm, i, nb, na, &r)
                                             : propose_num(t, sm, i, nb, na, &r);
    }
    return PT_OK;
}

static pt_status tpe_ask(sampler *sm, int number, study_point *out, pt_err *err)
{
    tpe *t = sm->impl;
    if (t->n_finished < sm->s->tpe.n_startup_trials || t->n_finished == 0) {
        sampler_random_point(sm->s, sm->s->seed, number, out);
    } else {
        pt_status st = propose(t, sm, number, out, err);
        if (st != PT_OK)
            return st;
    }
    /* Pending until told. Out of memory here only costs the liar one trial. */
    put(t, number, out, TRIAL_RUNNING, NULL, 0, sm->s->obj);
    return PT_OK;
}

static void tpe_tell(sampler *sm, int number, const study_point *p, trial_state st,
                     const double *values)
{
    tpe *t = sm->impl;
    int at;
    switch (st) {
    case TRIAL_COMPLETE:
    case TRIAL_PRUNED:
        put(t, number, p, st, values, sm->s->n_objectives, sm->s->obj);
        break;
    case TRIAL_FAIL:
        if (find(t, number, &at))
            drop_at(t, at);
        break;
    case TRIAL_RUNNING:
        if (!find(t, number, &at))
            put(t, number, p, TRIAL_RUNNING, NULL, 0, sm->s->obj);
        break;
    case TRIAL_WAITING:
        break;
    }
}

static void tpe_destroy(sampler *sm)
{
    tpe *t = sm->impl;
    if (!t)
        return;
    free(t->o);
    free(t->order);
    free(t->group);
    free(t->xb);
    free(t->wb);
    free(t->xa);
    free(t->wa);
    free(t->mu);
    free(t->sg);
    free(t->w);
    free(t->co);
    free(t->isg);
    free(t->lmax);
    free(t->rmax);
    free(t->ki);
    free(t->ks);
    free(t->mo_loss);
    free(t->mo_idx);
    free(t->mo_rank);
    free(t->mo_sel);
    free(t);
}

const sampler_ops sampler_tpe_ops = {"tpe", tpe_init, tpe_ask, tpe_tell, tpe_destroy};
