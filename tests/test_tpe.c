/*
 * test_tpe.c — the TPE sampler and non-dominated sorting.
 *
 * TPE is driven through sampler_new/ask/tell on known functions of real
 * study spaces and compared with random search at fixed seeds: the same
 * budget must find better points (a quadratic over a uniform float, a
 * log-scale float and an int, plus a categorical with one right answer).
 * Also: conditions, determinism, pending trials, PRUNED/FAIL, two
 * objectives; and pareto.c against brute force on random points.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allclose.h"
#include "pareto.h"
#include "rng.h"
#include "sampler_fixture.h"

/* dropout (uniform), l2 (log), batch (int), schedule (categorical): the
 * optimum is dropout 0.3, l2 1e-3, batch 100, schedule "gradual" (2). */
#define MIXED                                                                                      \
    "{'study': 't', 'seed': %d, 'sampler': '%s', 'objectives': "                                   \
    "[{'name': 'loss', 'direction': 'minimize'}], 'search_space': {"                               \
    " 'reg.dropout': {'type': 'float', 'low': 0.0, 'high': 0.9},"                                  \
    " 'reg.l2': {'type': 'float', 'low': 1e-6, 'high': 1e-1, 'log': true},"                        \
    " 'train.batch_size': {'type': 'int', 'low': 16, 'high': 256},"                                \
    " 'prune.schedule': {'type': 'categorical', 'choices': ['none', 'iterative', 'gradual']}}}"

static double mixed_loss(const study_point *p)
{
    double a = (p->value[0] - 0.3) / 0.9, b = (log10(p->value[1]) + 3) / 5,
           c = (p->value[2] - 100) / 240;
    return a * a + b * b + c * c + (p->value[3] != 2) * 0.05;
}

static void load(study_config *s, const char *fmt, int seed, const char *kind)
{
    char text[2048];
    snprintf(text, sizeof text, fmt, seed, kind);
    parse_ok(s, text);
}

/* Sequential search of n trials; the best loss. */
static double search(const char *fmt, int seed, const char *kind, int n,
                     double (*f)(const study_point *))
{
    study_config s;
    load(&s, fmt, seed, kind);
    sampler *sm = new_sampler(&s);
    double best = INFINITY;
    pt_err err;
    for (int k = 0; k < n; k++) {
        study_point p;
        cr_assert_eq(sampler_ask(sm, k, &p, &err), PT_OK, "%s", err.msg);
        double v = f(&p);
        best = fmin(best, v);
        sampler_tell(sm, k, &p, TRIAL_COMPLETE, &v);
    }
    sampler_free(sm);
    study_free(&s);
    return best;
}

Test(tpe, beats_random_on_a_mixed_quadratic)
{
    int wins = 0;
    double tpe_sum = 0, rnd_sum = 0;
    for (int seed = 1; seed <= 7; seed++) {
        double t = search(MIXED, seed, "tpe", 80, mixed_loss);
        double r = search(MIXED, seed, "random", 80, mixed_loss);
        wins += t < r;
        tpe_sum += t;
        rnd_sum += r;
    }
    cr_expect_geq(wins, 6, "TPE better than random on %d of 7 seeds", wins);
    cr_expect_lt(tpe_sum, 0.5 * rnd_sum, "mean best: TPE %g, random %g", tpe_sum / 7, rnd_sum / 7);
}

/* How often the last proposals of an 80-trial search hit the right
 * categorical choice and land near the int / log-float optimum. */
Test(tpe, concentrates_on_the_right_choice_int_and_decade)
{
    study_config s;
    load(&s, MIXED, 3, "tpe");
    sampler *sm = new_sampler(&s);
    int right = 0, near_int = 0, near_l2 = 0;
    pt_err err;
    for (int k = 0; k < 80; k++) {
        study_point p;
        cr_assert_eq(sampler_ask(sm, k, &p, &err), PT_OK, "%s", err.msg);
        cr_assert(p.value[2] >= 16 && p.value[2] <= 256 && p.value[2] == floor(p.value[2]));
        cr_assert(p.value[1] >= 1e-6 && p.value[1] <= 1e-1);
        cr_assert(p.value[0] >= 0 && p.value[0] <= 0.9);
        if (k >= 50) {
            right += p.value[3] == 2;
            near_int += fabs(p.value[2] - 100) <= 40;
            near_l2 += fabs(log10(p.value[1]) + 3) <= 1;
        }
        double v = mixed_loss(&p);
        sampler_tell(sm, k, &p, TRIAL_COMPLETE, &v);
    }
    /* random: 1/3, 1/3, 2/5 */
    cr_expect_geq(right, 20, "right choice in %d of the last 30", right);
    cr_expect_geq(near_int, 18, "batch within 40 of 100 in %d of 30", near_int);
    cr_expect_geq(near_l2, 20, "l2 within a decade of 1e-3 in %d of 30", near_l2);
    sampler_free(sm);
    study_free(&s);
}

#define COND                                                                                       \
    "{'study': 't', 'seed': %d, 'sampler': '%s', 'objectives': "                                   \
    "[{'name': 'loss', 'direction': 'minimize'}], 'search_space': {"                               \
    " 'prune.schedule': {'type': 'categorical', 'choices': ['none', 'iterative', 'gradual']},"     \
    " 'prune.rounds': {'type': 'int', 'low': 1, 'high': 8,"                                        \
    "                  'when': {'prune.schedule': ['iterative']}},"                                \
    " 'prune.frequency': {'type': 'int', 'low': 1, 'high': 1000, 'log': true,"                     \
    "                  'when': {'prune.schedule': ['gradual']}},"                                  \
    " 'reg.dropout': {'type': 'float', 'low': 0.0, 'high': 0.5, 'step': 0.05}}}"

/* Best: iterative with 6 rounds; gradual is good too near frequency 30. */
static double cond_loss(const study_point *p)
{
    double d = fabs(p->value[3] - 0.2);
    if (p->value[0] == 1)
        return fabs(p->value[1] - 6) / 8 + d;
    if (p->value[0] == 2)
        return 0.3 + fabs(log10(p->value[2]) - log10(30)) / 3 + d;
    return 1 + d;
}

Test(tpe, conditional_parameters_are_modelled_where_they_exist)
{
    study_config s;
    load(&s, COND, 5, "tpe");
    sampler *sm = new_sampler(&s);
    int six = 0, iterative = 0;
    pt_err err;
    for (int k = 0; k < 100; k++) {
        study_point p;
        cr_assert_eq(sampler_ask(sm, k, &p, &err), PT_OK, "%s", err.msg);
        int sc = (int)p.value[0];
        cr_assert(p.present[0] && sc >= 0 && sc < 3);
        cr_assert_eq(p.present[1], sc == 1, "rounds present only under iterative");
        cr_assert_eq(p.present[2], sc == 2, "frequency present only under gradual");
        if (!p.present[1])
            cr_assert_eq(p.value[1], 0);
        if (p.present[1])
            cr_assert(p.value[1] >= 1 && p.value[1] <= 8 && p.value[1] == floor(p.value[1]));
        if (p.present[2])
            cr_assert(p.value[2] >= 1 && p.value[2] <= 1000 && p.value[2] == floor(p.value[2]));
        /* lattice point k 0.05 in double: q within a few ulps of k */
        double q = p.value[3] / 0.05;
        cr_assert(fabs(q - round(q)) < 1e-9 && p.value[3] >= 0 && p.value[3] <= 0.5 + 1e-12,
                  "dropout %g off its 0.05 lattice", p.value[3]);
        if (k >= 60 && sc == 1) {
            iterative++;
            six += fabs(p.value[1] - 6) <= 1;
        }
        double v = cond_loss(&p);
        sampler_tell(sm, k, &p, TRIAL_COMPLETE, &v);
    }
    cr_expect_geq(iterative, 20, "iterative in %d of the last 40", iterative);
    cr_expect_geq(six, iterative * 3 / 4, "rounds 5..7 in %d of %d iterative", six, iterative);
    sampler_free(sm);
    study_free(&s);
}

/* Optuna 3.1 splits the whole study into good and bad, and a conditional
 * parameter takes the trials of each group where it exists: from the
 * startup on it learns from its first few trials (5 of 30 here: iterative,
 * the best three with 6 rounds, two worse with 1 and 2), where a split among
 * its own trials only would wait for n_startup_trials of them and draw
 * uniformly until then (rounds >= 5 in 1/2 of the draws). */
Test(tpe, conditional_parameters_learn_from_their_first_trials)
{
    study_config s;
    load(&s, COND, 7, "tpe");
    sampler *sm = new_sampler(&s);
    pt_err err;
    for (int k = 0; k < 30; k++) {
        study_point p;
        memset(&p, 0, sizeof p);
        p.present[0] = p.present[3] = 1;
        p.value[3] = 0.05 * (k % 11);
        double v = 1 + 0.01 * k;
        if (k >= 25) {
            p.value[0] = 1, p.present[1] = 1;
            p.value[1] = k < 28 ? 6 : k - 27; /* 6, 6, 6, then 1 and 2 */
            v = k < 28 ? 0.1 + 0.01 * k : 0.5;
        }
        sampler_tell(sm, k, &p, TRIAL_COMPLETE, &v);
    }
    int iterative = 0, high = 0;
    for (int k = 30; k < 70; k++) {
        study_point p;
        cr_assert_eq(sampler_ask(sm, k, &p, &err), PT_OK, "%s", err.msg);
        if (p.present[1]) {
            iterative++;
            high += p.value[1] >= 5;
        }
        sampler_tell(sm, k, &p, TRIAL_FAIL, NULL); /* forgotten: every ask sees the same 30 */
    }
    cr_expect_geq(iterative, 20, "iterative in %d of 40 proposals", iterative);
    cr_expect_geq(high, iterative * 9 / 10, "rounds >= 5 in %d of %d", high, iterative);
    sampler_free(sm);
    study_free(&s);
}

static int same_point(const study_config *s, const study_point *a, const study_point *b)
{
    for (int i = 0; i < s->n_params; i++)
        if (a->present[i] != b->present[i] || (a->present[i] && a->value[i] != b->value[i]))
            return 0;
    return 1;
}

Test(tpe, deterministic_and_seeded)
{
    study_config s, t;
    load(&s, MIXED, 11, "tpe");
    load(&t, MIXED, 12, "tpe");
    sampler *a = new_sampler(&s), *b = new_sampler(&s), *c = new_sampler(&t);
    pt_err err;
    int differ = 0;
    for (int k = 0; k < 40; k++) {
        study_point pa, pb, pc;
        cr_assert_eq(sampler_ask(a, k, &pa, &err), PT_OK);
        cr_assert_eq(sampler_ask(b, k, &pb, &err), PT_OK);
        cr_assert_eq(sampler_ask(c, k, &pc, &err), PT_OK);
        cr_assert(same_point(&s, &pa, &pb), "trial %d differs with the same seed and history", k);
        differ += !same_point(&s, &pa, &pc);
        double v = mixed_loss(&pa);
        sampler_tell(a, k, &pa, TRIAL_COMPLETE, &v);
        sampler_tell(b, k, &pb, TRIAL_COMPLETE, &v);
        v = mixed_loss(&pc);
        sampler_tell(c, k, &pc, TRIAL_COMPLETE, &v);
    }
    cr_expect_geq(differ, 38, "another seed, other points (%d of 40)", differ);
    /* The first n_startup_trials are random search's points exactly. */
    study_config r;
    load(&r, MIXED, 11, "random");
    sampler *rs = new_sampler(&r), *ts = new_sampler(&s);
    for (int k = 0; k < 10; k++) {
        study_point pr, pt;
        cr_assert_eq(sampler_ask(rs, k, &pr, &err), PT_OK);
        cr_assert_eq(sampler_ask(ts, k, &pt, &err), PT_OK);
        cr_expect(same_point(&s, &pr, &pt), "startup trial %d is not random search's", k);
        double v = 1;
        sampler_tell(ts, k, &pt, TRIAL_COMPLETE, &v);
    }
    sampler_free(rs);
    sampler_free(ts);
    study_free(&r);
    sampler_free(a);
    sampler_free(b);
    sampler_free(c);
    study_free(&s);
    study_free(&t);
}

/* 1-D: only reg.dropout, optimum 0.3; after 30 told trials, 8 workers ask at
 * once. With the liar the 8 points spread; without it they crowd more. */
#define ONE_D                                                                                      \
    "{'study': 't', 'seed': %d, 'sampler': 'tpe', 'tpe': {'constant_liar': %s},"                   \
    " 'search_space': {'reg.dropout': {'type': 'float', 'low': 0.0, 'high': 0.9}}}"

static double spread_of_pending(int seed, const char *liar, int *distinct)
{
    char text[512];
    snprintf(text, sizeof text, ONE_D, seed, liar);
    study_config s;
    parse_ok(&s, text);
    sampler *sm = new_sampler(&s);
    pt_err err;
    for (int k = 0; k < 30; k++) {
        study_point p;
        cr_assert_eq(sampler_ask(sm, k, &p, &err), PT_OK);
        double v = fabs(p.value[0] - 0.3);
        sampler_tell(sm, k, &p, TRIAL_COMPLETE, &v);
    }
    double x[8], spread = 0;
    *distinct = 0;
    for (int k = 0; k < 8; k++) {
        study_point p;
        cr_assert_eq(sampler_ask(sm, 30 + k, &p, &err), PT_OK);
        x[k] = p.value[0];
        int dup = 0;
        for (int j = 0; j < k; j++) {
            dup |= x[j] == x[k];
            spread += fabs(x[j] - x[k]);
        }
        *distinct += !dup;
    }
    /* A pending trial that fails is forgotten; one that completes is a result. */
    study_point p = {{1}, {x[0]}};
    sampler_tell(sm, 30, &p, TRIAL_FAIL, NULL);
    double v = 0.5;
    p.value[0] = x[1];
    sampler_tell(sm, 31, &p, TRIAL_PRUNED, &v);
    cr_assert_eq(sampler_ask(sm, 38, &p, &err), PT_OK);
    sampler_free(sm);
    study_free(&s);
    return spread / 28;
}

Test(tpe, pending_trials_get_distinct_spread_points)
{
    double with = 0, without = 0;
    for (int seed = 1; seed <= 5; seed++) {
        int d1, d2;
        with += spread_of_pending(seed, "true", &d1);
        without += spread_of_pending(seed, "false", &d2);
        cr_expect_eq(d1, 8, "seed %d: %d of 8 pending points distinct", seed, d1);
    }
    cr_expect_gt(with, without, "mean spread with the liar %g, without %g", with / 5, without / 5);
}

#define TWO_OBJ                                                                                    \
    "{'study': 't', 'seed': %d, 'sampler': '%s', 'objectives': "                                   \
    "[{'name': 'a', 'direction': 'minimize'}, {'name': 'b', 'direction': 'maximize'}],"            \
    " 'search_space': {'reg.dropout': {'type': 'float', 'low': 0.0, 'high': 0.9},"                 \
    " 'reg.l1': {'type': 'float', 'low': 0.0, 'high': 0.9}}}"

/* Pareto set: x on [0.2, 0.4] with y = 0.5. */
static void two_obj(const study_point *p, double *v)
{
    double x = p->value[0], y = p->value[1] - 0.5;
    v[0] = (x - 0.2) * (x - 0.2) + y * y;
    v[1] = -((x - 0.4) * (x - 0.4) + y * y); /* maximised */
}

static int on_front_count(int seed, const char *kind)
{
    study_config s;
    load(&s, TWO_OBJ, seed, kind);
    sampler *sm = new_sampler(&s);
    pt_err err;
    int hits = 0;
    for (int k = 0; k < 80; k++) {
        study_point p;
        cr_assert_eq(sampler_ask(sm, k, &p, &err), PT_OK, "%s", err.msg);
        double v[2];
        two_obj(&p, v);
        if (k >= 40)
            hits += p.value[0] >= 0.15 && p.value[0] <= 0.45 && fabs(p.value[1] - 0.5) < 0.1;
        sampler_tell(sm, k, &p, TRIAL_COMPLETE, v);
    }
    sampler_free(sm);
    study_free(&s);
    return hits;
}

Test(tpe, two_objectives_move_towards_the_pareto_set)
{
    int tpe = 0, rnd = 0;
    for (int seed = 1; seed <= 3; seed++) {
        tpe += on_front_count(seed, "tpe");
        rnd += on_front_count(seed, "random");
    }
    /* random lands there ~7% of the time */
    cr_expect_geq(tpe, 3 * rnd, "near the front: TPE %d, random %d of 120", tpe, rnd);
    cr_expect_geq(tpe, 30, "near the front: TPE %d of 120", tpe);
}

/* ---- pareto.c -------------------------------------------------------------- */

static int dominates(const double *a, const double *b, int m)
{
    int better = 0;
    for (int c = 0; c < m; c++) {
        if (a[c] > b[c])
            return 0;
        better |= a[c] < b[c];
    }
    return better;
}

/* Rank by definition: a point's rank is 1 + the largest rank of a point
 * dominating it (0 when none), found by repeated relaxation. */
static void brute_ranks(const double *x, int n, int m, int *rank)
{
    for (int i = 0; i < n; i++)
        rank[i] = 0;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (dominates(x + j * m, x + i * m, m) && rank[i] < rank[j] + 1) {
                    rank[i] = rank[j] + 1;
                    changed = 1;
                }
    }
}

Test(pareto, nondominated_sort_matches_brute_force)
{
    pt_rng r;
    pt_rng_seed(&r, 42);
    enum { N = 300 };
    static double x[N * 3];
    int got[N], want[N];
    pt_err err;
    for (int trial = 0; trial < 12; trial++) {
        int m = 1 + trial % 3, n = trial < 6 ? 40 : N;
        for (int i = 0; i < n * m; i++) /* coarse values: many ties and duplicates */
            x[i] = trial % 2 ? pt_rng_uniform(&r) : (double)pt_rng_below(&r, 6);
        if (trial == 5)
            x[0] = INFINITY;
        cr_assert_eq(pt_nondominated_sort(x, n, m, 0, got, &err), PT_OK);
        brute_ranks(x, n, m, want);
        for (int i = 0; i < n; i++)
            cr_assert_eq(got[i], want[i], "trial %d (m %d): point %d rank %d, brute force %d",
                         trial, m, i, got[i], want[i]);
        /* Early stop: the fronts that cover 25 points, the rest -1. */
        int wanted = 25 < n ? 25 : n, ranked = 0, last = -1;
        cr_assert_eq(pt_nondominated_sort(x, n, m, wanted, got, &err), PT_OK);
        for (int i = 0; i < n; i++)
            if (got[i] >= 0) {
                cr_assert_eq(got[i], want[i]);
                ranked++;
                last = got[i] > last ? got[i] : last;
            }
        int before_last = 0;
        for (int i = 0; i < n; i++) {
            before_last += want[i] < last;
            if (got[i] < 0)
                cr_assert_gt(want[i], last, "an unranked point lies in a peeled front");
        }
        cr_assert_geq(ranked, wanted);
        cr_assert_lt(before_last, wanted, "one front too many peeled");
    }
}

/* Exact 2-D hypervolume by coordinate compression, for checking. */
static double brute_hv2(const double *x, const int *idx, int n, const double *ref)
{
    double xs[64], ys[64];
    for (int i = 0; i < n; i++) {
        xs[i] = x[idx[i] * 2];
        ys[i] = x[idx[i] * 2 + 1];
    }
    xs[n] = ref[0];
    ys[n] = ref[1];
    double hv = 0;
    for (int a = 0; a <= n; a++)
        for (int b = 0; b <= n; b++) {
            /* cell [xs[a], next x) x [ys[b], next y) */
            double nx = ref[0], ny = ref[1];
            for (int i = 0; i <= n; i++) {
                if (xs[i] > xs[a] && xs[i] < nx)
                    nx = xs[i];
                if (ys[i] > ys[b] && ys[i] < ny)
                    ny = ys[i];
            }
            int dup = 0;
            for (int i = 0; i < a; i++)
                dup |= xs[i] == xs[a];
            for (int i = 0; i < b; i++)
                dup |= ys[i] == ys[b];
            int covered = 0;
            for (int i = 0; i < n && !covered; i++)
                covered = xs[i] <= xs[a] && ys[i] <= ys[b];
            if (!dup && covered)
                hv += (nx - xs[a]) * (ny - ys[b]);
        }
    return hv;
}

Test(pareto, hypervolume_contributions_and_front_selection)
{
    pt_rng r;
    pt_rng_seed(&r, 7);
    double x[2 * 20], c[20];
    int idx[20];
    pt_err err;
    for (int trial = 0; trial < 20; trial++) {
        int n = 2 + trial % 15;
        for (int i = 0; i < n; i++) {
            x[2 * i] = pt_rng_uniform(&r);
            x[2 * i + 1] = pt_rng_uniform(&r);
            idx[i] = i;
        }
        cr_assert_eq(pt_hv_contributions(x, 2, idx, n, c, &err), PT_OK);
        double ref[2] = {0, 0};
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 2; k++)
                ref[k] = fmax(ref[k], 1.1 * x[2 * i + k]);
        double all = brute_hv2(x, idx, n, ref);
        for (int j = 0; j < n; j++) {
            int rest[20], k = 0;
            for (int i = 0; i < n; i++)
                if (i != j)
                    rest[k++] = i;
            double want = all - brute_hv2(x, rest, k, ref);
            /* Two double computations of areas summing to `all`: the
             * rounding scales with that magnitude, not with the (maybe
             * tiny) contribution itself (allclose.h). */
            pt_assert_close(c[j], want, 0, PT_RTOL_FORMULA * all, "contribution %d", j);
        }
    }
    /* A front on the line a + b = 1: the middle point alone covers most,
     * and the next pick is not its neighbour. */
    for (int i = 0; i < 9; i++) {
        x[2 * i] = i / 8.0;
        x[2 * i + 1] = 1 - i / 8.0;
        idx[i] = i;
    }
    int out[9];
    cr_assert_eq(pt_front_select(x, 2, idx, 9, 9, out, &err), PT_OK);
    int seen[9] = {0};
    for (int i = 0; i < 9; i++)
        seen[out[i]]++;
    for (int i = 0; i < 9; i++)
        cr_assert_eq(seen[i], 1, "every point once");
    cr_assert_eq(pt_front_select(x, 2, idx, 9, 2, out, &err), PT_OK);
    cr_expect_eq(out[0], 4, "first pick %d, the middle", out[0]);
    cr_expect(abs(out[0] - out[1]) >= 2, "two picks %d and %d are spread", out[0], out[1]);
    /* Three objectives: crowding keeps the extremes first. */
    double y[3 * 5] = {0, 1, 1, 1, 0, 1, 1, 1, 0, 0.5, 0.5, 0.6, 0.4, 0.6, 0.5};
    int id5[5] = {0, 1, 2, 3, 4}, o3[3];
    cr_assert_eq(pt_front_select(y, 3, id5, 5, 3, o3, &err), PT_OK);
    int ext = 0;
    for (int i = 0; i < 3; i++)
        ext += o3[i] <= 2;
    cr_expect_eq(ext, 3, "the three extreme points first");
}
