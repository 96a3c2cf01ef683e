/*
 * pruner.c — ASHA (with Hyperband brackets) and the median stopping rule
 * (see pruner.h).
 *
 * Both rules only ever ask "where does this value rank among those values",
 * so each keeps its values in sorted arrays: ASHA one per (bracket, rung),
 * the median rule one per step holding the COMPLETE trials' values. A
 * report is then a binary search and one memmove, and the decision reads
 * one element. A balanced tree would make the insert O(log n) too, but at
 * 10,000 trials the memmove is a few microseconds, far under the database
 * transaction every report also costs.
 *
 * The asynchronous promotion rule is Optuna's (SuccessiveHalvingPruner):
 * the candidate's own value is among the compared ones, the cut is the
 * (n / eta)-th best, and with fewer than eta values the candidate must be the
 * best. So the very first trial always goes on, which is what makes the
 * rule asynchronous: nobody waits for a rung to fill.
 *
 * Per-trial records are an array indexed by trial number (numbers are dense,
 * 0.. in a study), grown by doubling.
 *
 * Fairness to pruning (pruner.h) multiplies those arrays by pools. A dense
 * or fine-tuning pool is (group, phase), index group * 2 + phase: at most 13
 * groups ("strategy": dense, then 3 schedules x 4 granularities), so 26
 * fixed pools. A pruning pool is (group, first, last) and is added when first
 * met, after the fixed ones; it is found by a linear scan, O(distinct
 * windows) per report, nothing next to the report's database transaction.
 * With "all" only pool 0 is used and every value lands there, as in Optuna.
 */
#include "pruner.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BRACKETS 16
#define MAX_RUNGS 32
#define MAX_GROUPS 13
#define N_FIXED (2 * MAX_GROUPS)

typedef struct {
    int n, cap;
    double *v; /* ascending */
} sorted_vals;

typedef struct {
    int group, first, last; /* a pruning pool's key (first = 0: a fixed pool) */
    sorted_vals *rung;      /* asha: [bracket * MAX_RUNGS + k], allocated when first used */
    sorted_vals *at_step;   /* median: COMPLETE trials' values, index step - 1 */
    int n_at_step;
} pool;

typedef struct {
    int seen;                    /* has a record */
    int stopped;                 /* told to stop, or ended: later reports are ignored */
    int complete;                /* ended COMPLETE (median) */
    int bracket;                 /* asha */
    int next_rung;               /* asha: rungs recorded so far */
    int group;                   /* pruner_trial, else 0 */
    int prune_first, prune_last; /* the pruning phase's steps, 0 0 = none */
    int best_phase;              /* median: the phase `best` belongs to */
    double best; /* median: best value so far in best_phase (NaN until one is finite) */
    int n_steps, cap_steps;
    int *step; /* median: the trial's steps and values, kept until it ends */
    double *value;
} trial_rec;

struct pruner {
    pruner_kind kind;
    int maximize;
    study_asha asha;
    study_median median;
    pruner_compare compare;
    int budget[MAX_BRACKETS]; /* Hyperband's trial allocation per bracket */
    int budget_total;
    int n_complete[MAX_GROUPS];
    pool *pool; /* N_FIXED fixed pools, then the pruning pools */
    int n_pool, cap_pool;
    trial_rec *t;
    int n_t;
};

static pt_status vals_insert(sorted_vals *s, double x, pt_err *err)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        double *v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v)
            return pt_fail(err, PT_ERR_NOMEM, "pruner: out of memory");
        s->v = v;
        s->cap = cap;
    }
    int lo = 0, hi = s->n; /* first index with v > x: equal values keep arrival order */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s->v[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(s->v + lo + 1, s->v + lo, (size_t)(s->n - lo) * sizeof *s->v);
    s->v[lo] = x;
    s->n++;
    return PT_OK;
}

/* splitmix64: a fixed, platform-independent hash of a trial number (Optuna
 * uses Python's hash of "study_number", which is salted per process; a
 * stable one keeps brackets identical across a resume). */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static pt_status check_opts(const study_config *sc, pt_err *err)
{
    const study_asha *a = &sc->asha;
    if (sc->pruner == PRUNER_ASHA &&
        (a->min_resource < 1 || a->reduction_factor < 2 || a->min_early_stopping_rate < 0 ||
         a->n_brackets < 1 || a->n_brackets > MAX_BRACKETS))
        return pt_fail(err, PT_ERR_CONFIG,
                       "pruner: asha needs min_resource >= 1, reduction_factor >= 2, "
                       "min_early_stopping_rate >= 0, 1 <= n_brackets <= %d",
                       MAX_BRACKETS);
    pruner_compare c = sc->pruner == PRUNER_MEDIAN ? sc->median.compare : a->compare;
    if (sc->pruner != PRUNER_NONE && (c < PRUNER_COMPARE_SCHEDULE || c > PRUNER_COMPARE_ALL))
        return pt_fail(err, PT_ERR_CONFIG, "pruner: unknown compare mode %d", (int)c);
    if (sc->pruner == PRUNER_MEDIAN &&
        (sc->median.n_startup_trials < 0 || sc->median.n_warmup_steps < 0))
        return pt_fail(err, PT_ERR_CONFIG,
                       "pruner: median needs n_startup_trials >= 0 and n_warmup_steps >= 0");
    if (sc->pruner != PRUNER_NONE && sc->pruner != PRUNER_ASHA && sc->pruner != PRUNER_MEDIAN)
        return pt_fail(err, PT_ERR_CONFIG, "pruner: unknown kind %d", (int)sc->pruner);
    return PT_OK;
}

pt_status pruner_new(pruner **out, const study_config *sc, pt_err *err)
{
    *out = NULL;
    pt_status st = check_opts(sc, err);
    if (st != PT_OK)
        return st;
    pruner *p = calloc(1, sizeof *p);
    if (!p)
        return pt_fail(err, PT_ERR_NOMEM, "pruner: out of memory");
    p->kind = sc->pruner;
    p->maximize = sc->n_objectives > 0 && sc->obj[0].dir == DIR_MAXIMIZE;
    p->asha = sc->asha;
    p->median = sc->median;
    p->compare = p->kind == PRUNER_MEDIAN ? sc->median.compare : sc->asha.compare;
    p->pool = calloc(N_FIXED, sizeof *p->pool);
    if (!p->pool) {
        free(p);
        return pt_fail(err, PT_ERR_NOMEM, "pruner: out of memory");
    }
    p->n_pool = p->cap_pool = N_FIXED;
    if (p->kind == PRUNER_ASHA) {
        /* Hyperband's budget of bracket b: ceil(B * eta^s / (s + 1)) with
         * s = B - 1 - b, so the most aggressive bracket gets the most trials. */
        int nb = p->asha.n_brackets;
        for (int b = 0; b < nb; b++) {
            int s = nb - 1 - b;
            double pw = pow(p->asha.reduction_factor, s);
            p->budget[b] = (int)ceil(nb * pw / (s + 1));
            p->budget_total += p->budget[b];
        }
    }
    *out = p;
    return PT_OK;
}

void pruner_free(pruner *p)
{
    if (!p)
        return;
    for (int q = 0; q < p->n_pool; q++) {
        pool *o = &p->pool[q];
        for (int i = 0; o->rung && i < p->asha.n_brackets * MAX_RUNGS; i++)
            free(o->rung[i].v);
        free(o->rung);
        for (int i = 0; i < o->n_at_step; i++)
            free(o->at_step[i].v);
        free(o->at_step);
    }
    free(p->pool);
    for (int i = 0; i < p->n_t; i++) {
        free(p->t[i].step);
        free(p->t[i].value);
    }
    free(p->t);
    free(p);
}

int pruner_bracket(const pruner *p, int number)
{
    if (p->kind != PRUNER_ASHA || p->asha.n_brackets <= 1 || number < 0)
        return 0;
    long n = (long)(mix((uint64_t)number) % (uint64_t)p->budget_total);
    for (int b = 0; b < p->asha.n_brackets; b++) {
        n -= p->budget[b];
        if (n < 0)
            return b;
    }
    return p->asha.n_brackets - 1;
}

long pruner_rung_step(const pruner *p, int bracket, int k)
{
    if (p->kind != PRUNER_ASHA || bracket < 0 || bracket >= p->asha.n_brackets || k < 0)
        return -1;
    double s = p->asha.min_resource *
               pow(p->asha.reduction_factor, p->asha.min_early_stopping_rate + bracket + k);
    return s > 1e15 ? (long)1e15 : (long)s;
}

static pt_status rec_get(pruner *p, int number, trial_rec **out, pt_err *err)
{
    if (number < 0)
        return pt_fail(err, PT_ERR_ARG, "pruner: trial number %d < 0", number);
    if (number >= p->n_t) {
        int n = p->n_t ? p->n_t : 64;
        while (n <= number)
            n *= 2;
        trial_rec *t = realloc(p->t, (size_t)n * sizeof *t);
        if (!t)
            return pt_fail(err, PT_ERR_NOMEM, "pruner: out of memory");
        memset(t + p->n_t, 0, (size_t)(n - p->n_t) * sizeof *t);
        p->t = t;
        p->n_t = n;
    }
    trial_rec *r = &p->t[number];
    if (!r->seen) {
        r->seen = 1;
        r->best = NAN;
        r->bracket = pruner_bracket(p, number);
    }
    *out = r;
    return PT_OK;
}

enum { PHASE_DENSE = 0, PHASE_FINETUNE = 1, PHASE_PRUNING = 2 };

void pruner_window(const pt_config *cfg, int *first, int *last)
{
    const pt_prune_config *pc = &cfg->prune;
    int e = cfg->train.epochs, f = pc->finetune_epochs;
    *first = *last = 0;
    switch (pc->schedule) {
    case PT_PRUNE_NONE:
        return;
    case PT_PRUNE_ONESHOT: /* prunes as epoch e + 1 starts (none reported if f == 0) */
        if (f > 0)
            *first = *last = e + 1;
        return;
    case PT_PRUNE_ITERATIVE: /* round r prunes as epoch e + r * f + 1 starts */
        if (f > 0 && pc->rounds > 0) {
            *first = e + 1;
            *last = e + (pc->rounds - 1) * f + 1;
        }
        return;
    case PT_PRUNE_GRADUAL: {
        /* core/train.c prunes before the batch at step t in [t0, t0 + span],
         * t0 = start_epoch * steps_per_epoch: the epoch holding step
         * x * steps_per_epoch is floor(x) + 1. Events past the last epoch
         * collapse into the final prune after training, which no report sees. */
        double s0 = pc->start_epoch > 0 ? pc->start_epoch : 0;
        double s1 = pc->end_epoch > s0 ? pc->end_epoch : s0;
        int a = s0 < e ? (int)floor(s0) + 1 : e + 1;
        int b = s1 < e ? (int)floor(s1) + 1 : e;
        if (a <= e) {
            *first = a;
            *last = b < a ? a : b;
        }
        return;
    }
    }
}

pt_status pruner_trial(pruner *p, int number, const pt_config *cfg, pt_err *err)
{
    if (p->kind == PRUNER_NONE || p->compare == PRUNER_COMPARE_ALL)
        return PT_OK;
    trial_rec *r = NULL;
    pt_status st = rec_get(p, number, &r, err);
    if (st != PT_OK)
        return st;
    int sched = (int)cfg->prune.schedule, gran = (int)cfg->prune.granularity;
    if (sched < 0 || sched > 3 || gran < 0 || gran > 3)
        return pt_fail(err, PT_ERR_ARG, "pruner: trial %d: unknown schedule %d or granularity %d",
                       number, sched, gran);
    r->group = p->compare == PRUNER_COMPARE_STRATEGY && sched != PT_PRUNE_NONE
                   ? 1 + (sched - 1) * 4 + gran
                   : sched;
    pruner_window(cfg, &r->prune_first, &r->prune_last);
    return PT_OK;
}

static int phase_at(const trial_rec *r, int step)
{
    if (r->prune_first == 0 || step < r->prune_first)
        return PHASE_DENSE;
    return step <= r->prune_last ? PHASE_PRUNING : PHASE_FINETUNE;
}

/* The pool of trial r's values in phase ph: fixed for dense and
 * fine-tuning, its (group, window) pool in the pruning phase. */
static pt_status pool_of(pruner *p, const trial_rec *r, int ph, pool **out, pt_err *err)
{
    int q = 2 * r->group + ph;
    if (ph == PHASE_PRUNING) {
        for (q = N_FIXED; q < p->n_pool; q++) {
            const pool *o = &p->pool[q];
            if (o->group == r->group && o->first == r->prune_first && o->last == r->prune_last)
                break;
        }
        if (q == p->n_pool) {
            if (p->n_pool == p->cap_pool) {
                int cap = 2 * p->cap_pool;
                pool *a = realloc(p->pool, (size_t)cap * sizeof *a);
                if (!a)
                    return pt_fail(err, PT_ERR_NOMEM, "pruner: out of memory");
                p->pool = a;
                p->cap_pool = cap;
            }
            p->pool[q] = (pool){.group = r->group, .first = r->prune_first, .last = r->prune_last};
            p->n_pool++;
        }
    }
    pool *o = &p->pool[q];
    if (p->kind == PRUNER_ASHA && !o->rung &&
        !(o->rung = calloc((size_t)p->asha.n_brackets * MAX_RUNGS, sizeof *o->rung)))
        return pt_fail(err, PT_ERR_NOMEM, "pruner: out of memory");
    *out = o;
    return PT_OK;
}

/* ASHA: record the value at every rung this step has reached; stop at the
 * first rung where it is not in the top 1/eta of its pool. */
static pt_status asha_report(pruner *p, trial_rec *r, int step, double value, int *stop,
                             pt_err *err)
{
    int eta = p->asha.reduction_factor;
    while (r->next_rung < MAX_RUNGS) {
        long at = pruner_rung_step(p, r->bracket, r->next_rung);
        if (step < at)
            return PT_OK;
        if (isnan(value)) {
            *stop = 1; /* as Optuna: a NaN at a rung stops, recording nothing */
            return PT_OK;
        }
        pool *o = NULL;
        pt_status st = pool_of(p, r, phase_at(r, step), &o, err);
        if (st != PT_OK)
            return st;
        sorted_vals *rv = &o->rung[r->bracket * MAX_RUNGS + r->next_rung];
        st = vals_insert(rv, value, err);
        if (st != PT_OK)
            return st;
        r->next_rung++;
        int idx = rv->n / eta - 1;
        if (idx < 0)
            idx = 0; /* fewer than eta values: only the best goes on */
        int keep = p->maximize ? value >= rv->v[rv->n - 1 - idx] : value <= rv->v[idx];
        if (!keep) {
            *stop = 1;
            return PT_OK;
        }
    }
    return PT_OK;
}

static pt_status median_remember(trial_rec *r, int step, double value, pt_err *err)
{
    if (r->n_steps == r->cap_steps) {
        int cap = r->cap_steps ? 2 * r->cap_steps : 16;
        int *s = realloc(r->step, (size_t)cap * sizeof *s);
        if (s)
            r->step = s;
        double *v = s ? realloc(r->value, (size_t)cap * sizeof *v) : NULL;
        if (!v)
            return pt_fail(err, PT_ERR_NOMEM, "pruner: out of memory");
        r->value = v;
        r->cap_steps = cap;
    }
    r->step[r->n_steps] = step;
    r->value[r->n_steps] = value;
    r->n_steps++;
    return PT_OK;
}

/* numpy's 50th percentile: the middle value, or the mean of the two middle ones. */
static double median_of(const sorted_vals *s)
{
    if (s->n == 0)
        return NAN;
    return s->n % 2 ? s->v[s->n / 2] : 0.5 * (s->v[s->n / 2 - 1] + s->v[s->n / 2]);
}

static pt_status median_report(pruner *p, trial_rec *r, int step, double value, int *stop,
                               pt_err *err)
{
    pt_status st = median_remember(r, step, value, err);
    if (st != PT_OK)
        return st;
    int ph = phase_at(r, step);
    if (ph != r->best_phase) {
        r->best_phase = ph;
        r->best = NAN;
    }
    if (isfinite(value) && (isnan(r->best) || (p->maximize ? value > r->best : value < r->best)))
        r->best = value;
    int nc = p->n_complete[r->group];
    if (nc == 0 || nc < p->median.n_startup_trials || step < p->median.n_warmup_steps)
        return PT_OK;
    if (isnan(r->best)) {
        *stop = 1;
        return PT_OK;
    }
    pool *o = NULL;
    if ((st = pool_of(p, r, ph, &o, err)) != PT_OK)
        return st;
    double m = step >= 1 && step <= o->n_at_step ? median_of(&o->at_step[step - 1]) : NAN;
    if (!isnan(m) && (p->maximize ? r->best < m : r->best > m))
        *stop = 1;
    return PT_OK;
}

pt_status pruner_report(pruner *p, int number, int step, double value, int *stop, pt_err *err)
{
    *stop = 0;
    if (p->kind == PRUNER_NONE)
        return PT_OK;
    trial_rec *r = NULL;
    pt_status st = rec_get(p, number, &r, err);
    if (st != PT_OK || r->stopped)
        return st;
    if (p->kind == PRUNER_ASHA) {
        st = asha_report(p, r, step, value, stop, err);
    } else {
        st = median_report(p, r, step, value, stop, err);
    }
    if (*stop)
        r->stopped = 1;
    return st;
}

/* Adds a COMPLETE trial's values to the per-step arrays the median reads. */
static pt_status median_complete(pruner *p, trial_rec *r, pt_err *err)
{
    for (int i = 0; i < r->n_steps; i++) {
        int s = r->step[i];
        if (s < 1 || !isfinite(r->value[i]))
            continue;
        pool *o = NULL;
        pt_status st = pool_of(p, r, phase_at(r, s), &o, err);
        if (st != PT_OK)
            return st;
        if (s > o->n_at_step) {
            int n = o->n_at_step ? o->n_at_step : 16;
            while (n < s)
                n *= 2;
            sorted_vals *a = realloc(o->at_step, (size_t)n * sizeof *a);
            if (!a)
                return pt_fail(err, PT_ERR_NOMEM, "pruner: out of memory");
            memset(a + o->n_at_step, 0, (size_t)(n - o->n_at_step) * sizeof *a);
            o->at_step = a;
            o->n_at_step = n;
        }
        st = vals_insert(&o->at_step[s - 1], r->value[i], err);
        if (st != PT_OK)
            return st;
    }
    p->n_complete[r->group]++;
    return PT_OK;
}

pt_status pruner_finish(pruner *p, int number, trial_state st, pt_err *err)
{
    if (p->kind == PRUNER_NONE || st == TRIAL_RUNNING || st == TRIAL_WAITING)
        return PT_OK;
    trial_rec *r = NULL;
    pt_status s = rec_get(p, number, &r, err);
    if (s != PT_OK || r->complete)
        return s;
    r->stopped = 1;
    if (p->kind == PRUNER_MEDIAN && st == TRIAL_COMPLETE) {
        r->complete = 1;
        s = median_complete(p, r, err);
    }
    /* The median rule needs a trial's own values only until it ends. */
    free(r->step);
    free(r->value);
    r->step = NULL;
    r->value = NULL;
    r->n_steps = r->cap_steps = 0;
    return s;
}
