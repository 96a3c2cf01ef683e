/*
 * test_sampler.c — the random and grid samplers: determinism, bounds, the
 * shape of log-uniform draws, conditions, and a grid that enumerates exactly
 * its product, skips what is done or running, retries a failure once, and
 * stops.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_fixture.h"

static int same_point(const study_config *s, const study_point *a, const study_point *b)
{
    for (int i = 0; i < s->n_params; i++)
        if (a->present[i] != b->present[i] || (a->present[i] && a->value[i] != b->value[i]))
            return 0;
    return 1;
}

#define SPACE                                                                                      \
    "{'study': 't', 'seed': %d, 'search_space': {"                                                 \
    " 'prune.schedule': {'type': 'categorical', 'choices': ['none', 'iterative', 'gradual']},"     \
    " 'prune.rounds': {'type': 'int', 'low': 1, 'high': 5,"                                        \
    "                  'when': {'prune.schedule': ['iterative']}},"                                \
    " 'prune.granularity': {'type': 'categorical', 'choices': ['layer', 'neuron'],"                \
    "                       'when': {'prune.schedule': ['iterative', 'gradual']}},"                \
    " 'prune.norm': {'type': 'categorical', 'choices': ['l2', 'l1'],"                              \
    "                'when': {'prune.granularity': ['neuron']}},"                                  \
    " 'reg.l2': {'type': 'float', 'low': 1e-6, 'high': 1e-2, 'log': true},"                        \
    " 'reg.dropout': {'type': 'float', 'low': 0.1, 'high': 0.5},"                                  \
    " 'prune.sparsity': {'type': 'float', 'low': 0.5, 'high': 0.9, 'step': 0.1},"                  \
    " 'train.batch_size': {'type': 'int', 'low': 16, 'high': 256, 'step': 16},"                    \
    " 'prune.frequency': {'type': 'int', 'low': 1, 'high': 1000, 'log': true}}}"

static void load_space(study_config *s, int seed)
{
    char text[2048];
    snprintf(text, sizeof text, SPACE, seed);
    parse_ok(s, text);
}

enum { N = 4000 };

Test(sampler, random_is_a_function_of_seed_and_number)
{
    study_config s, t;
    load_space(&s, 7);
    load_space(&t, 8);
    sampler *a = new_sampler(&s), *b = new_sampler(&s), *c = new_sampler(&t);
    study_point pa[64], pb, pc;
    pt_err err;
    for (int n = 0; n < 64; n++)
        cr_assert_eq(sampler_ask(a, n, &pa[n], &err), PT_OK);
    /* Asked in another order, after other tells: the same points. */
    int differ = 0;
    for (int n = 63; n >= 0; n--) {
        cr_assert_eq(sampler_ask(b, n, &pb, &err), PT_OK);
        cr_expect(same_point(&s, &pa[n], &pb), "trial %d differs", n);
        sampler_tell(b, n, &pb, TRIAL_COMPLETE, (double[]){0.5});
        cr_assert_eq(sampler_ask(c, n, &pc, &err), PT_OK);
        differ += !same_point(&s, &pa[n], &pc);
    }
    cr_expect_geq(differ, 60, "another seed gives other points (%d of 64 differ)", differ);
    int distinct = 0;
    for (int n = 1; n < 64; n++)
        distinct += !same_point(&s, &pa[n], &pa[n - 1]);
    cr_expect_eq(distinct, 63);
    sampler_free(a);
    sampler_free(b);
    sampler_free(c);
    study_free(&s);
    study_free(&t);
}

Test(sampler, random_respects_bounds_steps_and_conditions)
{
    study_config s;
    load_space(&s, 1);
    sampler *sm = new_sampler(&s);
    int sched[3] = {0}, rounds[6] = {0}, norm = 0, lo_l2 = 0, first_decade = 0, freq1 = 0;
    double mean_drop = 0, log_sum = 0;
    pt_err err;
    for (int n = 0; n < N; n++) {
        study_point p;
        cr_assert_eq(sampler_ask(sm, n, &p, &err), PT_OK);
        int sc = (int)p.value[0];
        cr_assert(p.present[0] && sc >= 0 && sc < 3 && p.value[0] == sc);
        sched[sc]++;
        /* Conditions: rounds only for iterative, granularity for iterative or
         * gradual, norm only under neuron granularity. */
        cr_assert_eq(p.present[1], sc == 1);
        cr_assert_eq(p.present[2], sc == 1 || sc == 2);
        cr_assert_eq(p.present[3], p.present[2] && p.value[2] == 1);
        norm += p.present[3];
        if (p.present[1]) {
            double r = p.value[1];
            cr_assert(r >= 1 && r <= 5 && r == floor(r), "rounds %g", r);
            rounds[(int)r]++;
        }
        double l2 = p.value[4], drop = p.value[5], sp = p.value[6], bs = p.value[7],
               fr = p.value[8];
        cr_assert(l2 >= 1e-6 && l2 <= 1e-2, "l2 %g", l2);
        cr_assert(drop >= 0.1 && drop <= 0.5, "dropout %g", drop);
        cr_assert(sp >= 0.5 && sp <= 0.9 + 1e-12, "sparsity %g", sp);
        /* On the lattice: 0.5 + k 0.1 in double, k recovered to within a
         * few ulps of an integer of size <= 4 (1e-9 leaves a wide margin
         * and still rejects any point off the lattice by > 1e-10). */
        double k = (sp - 0.5) / 0.1;
        cr_assert(fabs(k - round(k)) < 1e-9, "sparsity %g off the 0.1 lattice", sp);
        cr_assert(bs >= 16 && bs <= 256 && fmod(bs, 16) == 0, "batch %g", bs);
        cr_assert(fr >= 1 && fr <= 1000 && fr == floor(fr), "frequency %g", fr);
        lo_l2 += l2 < 1e-5;
        first_decade += l2 >= 1e-3;
        log_sum += log10(l2);
        mean_drop += drop / N;
        freq1 += fr == 1;
        pt_config c;
        cr_assert_eq(study_trial_config(&s, &p, &c, &err), PT_OK, "%s", err.msg);
        cr_assert_eq(c.reg.l2, l2);
        static const pt_prune_schedule as[] = {PT_PRUNE_NONE, PT_PRUNE_ITERATIVE, PT_PRUNE_GRADUAL};
        cr_assert_eq(c.prune.schedule, as[sc]);
    }
    /* Sampling error, not rounding (the seed is fixed): with N = 4000 draws
     * a frequency p has standard deviation sqrt(p (1 - p) / N), 0.0075 at
     * p = 1/3 and 0.0068 at 1/4, so 0.03 is over 4 of them; a mean of
     * uniform draws has (width / sqrt 12) / sqrt N: 0.018 for log10 l2
     * (0.06: 3.3), 0.0018 for dropout (0.01: 5.5); P(1) = 0.1445 has 0.0056
     * (0.02: 3.6). */
    for (int i = 0; i < 3; i++)
        cr_expect(fabs(sched[i] / (double)N - 1.0 / 3) < 0.03, "choice %d: %d", i, sched[i]);
    for (int r = 1; r <= 5; r++)
        cr_expect_gt(rounds[r], sched[1] / 5 - 100, "rounds %d drawn %d times", r, rounds[r]);
    cr_expect(fabs(norm / (double)N - 1.0 / 3) < 0.03, "norm present %d", norm);
    /* Log-uniform over four decades: a quarter in each, mean exponent -4. */
    cr_expect(fabs(lo_l2 / (double)N - 0.25) < 0.03, "decade [1e-6,1e-5): %d", lo_l2);
    cr_expect(fabs(first_decade / (double)N - 0.25) < 0.03, "decade [1e-3,1e-2]: %d", first_decade);
    cr_expect(fabs(log_sum / N + 4) < 0.06, "mean log10 %g", log_sum / N);
    cr_expect(fabs(mean_drop - 0.3) < 0.01, "uniform mean %g", mean_drop);
    /* Int log over [0.5, 1000.5]: P(1) = ln 3 / ln 2001 = 0.1445. */
    cr_expect(fabs(freq1 / (double)N - 0.1445) < 0.02, "P(frequency = 1) = %g", freq1 / (double)N);
    sampler_free(sm);
    study_free(&s);
}

Test(sampler, lenet_example_points_all_make_valid_trials)
{
    study_config s;
    pt_err err;
    cr_assert_eq(study_load(&s, PT_SOURCE_DIR "/examples/study_lenet.json", &err), PT_OK, "%s",
                 err.msg);
    sampler *sm = new_sampler(&s);
    int gradual = 0;
    for (int n = 0; n < 500; n++) {
        study_point p;
        pt_config c;
        cr_assert_eq(sampler_ask(sm, n, &p, &err), PT_OK);
        cr_assert_eq(study_trial_config(&s, &p, &c, &err), PT_OK, "trial %d: %s", n, err.msg);
        gradual += c.prune.schedule == PT_PRUNE_GRADUAL;
    }
    cr_expect_gt(gradual, 80);
    sampler_free(sm);
    study_free(&s);
}

#define GRID                                                                                       \
    "{'study': 'g', 'sampler': 'grid', 'search_space': {"                                          \
    " 'prune.schedule': {'type': 'categorical', 'choices': ['none', 'oneshot', 'gradual']},"       \
    " 'train.epochs': {'type': 'int', 'low': 1, 'high': 3},"                                       \
    " 'train.lr': {'type': 'float', 'low': 0.01, 'high': 0.5, 'grid': [0.1, 0.2]}}}"

Test(sampler, grid_enumerates_the_product_in_order_then_stops)
{
    study_config s;
    parse_ok(&s, GRID);
    cr_expect_eq(study_grid_size(&s), 18);
    cr_expect_eq(s.n_trials, 18 + 1, "the grid + the reference trial");
    sampler *sm = new_sampler(&s);
    int seen[3][4][2] = {{{0}}};
    pt_err err;
    for (int n = 0; n < 18; n++) {
        study_point p;
        cr_assert_eq(sampler_ask(sm, n, &p, &err), PT_OK, "%s", err.msg);
        int a = (int)p.value[0], b = (int)p.value[1], c = p.value[2] == 0.2;
        cr_assert(p.present[0] && p.present[1] && p.present[2]);
        cr_assert(p.value[2] == 0.1 || p.value[2] == 0.2);
        /* Parameter 0 varies slowest, the last fastest. */
        cr_expect_eq(a * 6 + (b - 1) * 2 + c, n, "trial %d is (%d, %d, %g)", n, a, b, p.value[2]);
        seen[a][b][c]++;
        sampler_tell(sm, n, &p, TRIAL_COMPLETE, (double[]){0.5});
    }
    for (int a = 0; a < 3; a++)
        for (int b = 1; b <= 3; b++)
            for (int c = 0; c < 2; c++)
                cr_expect_eq(seen[a][b][c], 1);
    study_point p;
    cr_expect_eq(sampler_ask(sm, 18, &p, &err), PT_ERR_STOPPED);
    cr_expect_str_eq(err.msg, "grid sampler: every point is done or running");
    sampler_free(sm);
    study_free(&s);
}

Test(sampler, grid_skips_done_and_running_points_and_retries_a_failure_once)
{
    study_config s;
    parse_ok(&s, GRID);
    sampler *first = new_sampler(&s);
    study_point pts[18];
    pt_err err;
    for (int n = 0; n < 18; n++)
        cr_assert_eq(sampler_ask(first, n, &pts[n], &err), PT_OK);
    sampler_free(first);

    /* Resume: 0-9 finished (3 of them failed), 10-11 still running. */
    sampler *sm = new_sampler(&s);
    for (int n = 0; n < 12; n++)
        sampler_tell(sm, n, &pts[n],
                     n >= 10                      ? TRIAL_RUNNING
                     : n == 2 || n == 5 || n == 7 ? TRIAL_FAIL
                                                  : TRIAL_COMPLETE,
                     (double[]){0.5});
    study_point p;
    for (int n = 12; n < 18; n++) { /* the untried points first, in order */
        cr_assert_eq(sampler_ask(sm, n, &p, &err), PT_OK);
        cr_expect(same_point(&s, &p, &pts[n]), "ask %d is not grid point %d", n, n);
    }
    int retry[3] = {2, 5, 7};
    for (int k = 0; k < 3; k++) { /* then each failure once more */
        cr_assert_eq(sampler_ask(sm, 18 + k, &p, &err), PT_OK);
        cr_expect(same_point(&s, &p, &pts[retry[k]]), "retry %d", k);
    }
    cr_expect_eq(sampler_ask(sm, 21, &p, &err), PT_ERR_STOPPED);
    /* A running trial that fails frees its point; a second failure gives up. */
    sampler_tell(sm, 10, &pts[10], TRIAL_FAIL, NULL);
    cr_assert_eq(sampler_ask(sm, 22, &p, &err), PT_OK);
    cr_expect(same_point(&s, &p, &pts[10]));
    sampler_tell(sm, 22, &p, TRIAL_FAIL, NULL);
    sampler_tell(sm, 19, &pts[5], TRIAL_FAIL, NULL);
    cr_expect_eq(sampler_ask(sm, 23, &p, &err), PT_ERR_STOPPED);
    /* A point from another space is ignored. */
    study_point off = pts[0];
    off.value[2] = 0.3;
    sampler_tell(sm, 24, &off, TRIAL_FAIL, NULL);
    cr_expect_eq(sampler_ask(sm, 24, &p, &err), PT_ERR_STOPPED);
    sampler_free(sm);
    study_free(&s);
}

Test(sampler, grid_runs_each_effective_point_once_under_conditions)
{
    study_config s;
    parse_ok(&s, "{'study': 'g', 'sampler': 'grid', 'search_space': {"
                 " 'prune.schedule': {'type': 'categorical', 'choices': ['none', 'iterative']},"
                 " 'prune.rounds': {'type': 'int', 'low': 1, 'high': 3,"
                 "                  'when': {'prune.schedule': ['iterative']}},"
                 " 'prune.rewind_epoch': {'type': 'int', 'low': 0, 'high': 1,"
                 "                        'when': {'prune.schedule': ['iterative']}},"
                 " 'reg.l1': {'type': 'float', 'low': 0, 'high': 1, 'grid': [0, 0.001]}}}");
    cr_expect_eq(study_grid_size(&s), 24);
    cr_expect_eq(s.n_trials, 2 + 3 * 2 * 2 + 1,
                 "none x l1 + iterative x rounds x rewind x l1, + the reference trial");
    sampler *sm = new_sampler(&s);
    study_point pts[14];
    pt_err err;
    int n = 0;
    while (n < 15 && sampler_ask(sm, n, &pts[n < 14 ? n : 13], &err) == PT_OK)
        n++;
    cr_expect_eq(n, 14);
    for (int i = 0; i < 14; i++) {
        int iterative = pts[i].value[0] == 1;
        cr_expect_eq(pts[i].present[1], iterative);
        cr_expect_eq(pts[i].present[2], iterative);
        for (int j = 0; j < i; j++)
            cr_expect(!same_point(&s, &pts[i], &pts[j]), "points %d and %d are the same", i, j);
    }
    sampler_free(sm);
    study_free(&s);
}

Test(sampler, names_and_unknown_kinds)
{
    cr_expect_str_eq(trial_state_name(TRIAL_RUNNING), "RUNNING");
    cr_expect_str_eq(trial_state_name(TRIAL_COMPLETE), "COMPLETE");
    cr_expect_str_eq(trial_state_name(TRIAL_PRUNED), "PRUNED");
    cr_expect_str_eq(trial_state_name(TRIAL_FAIL), "FAIL");
    cr_expect_str_eq(trial_state_name(TRIAL_WAITING), "WAITING");
    study_config s;
    load_space(&s, 1);
    s.sampler = (sampler_kind)99;
    sampler *sm = (sampler *)&s;
    pt_err err;
    cr_expect_eq(sampler_new(&sm, &s, &err), PT_ERR_CONFIG);
    cr_expect_null(sm);
    cr_expect_str_eq(err.msg, "sampler: kind 99 is not implemented");
    study_free(&s);
}
