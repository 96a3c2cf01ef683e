/*
 * test_pbt.c — Population Based Training's study keys and its exploit /
 * explore decisions (search/pbt.h): the ranking (feasible first, the
 * objective's direction, ties by index), Ray Tune's quantile size, exploits
 * only from the top into the bottom, perturbations by exactly the given
 * factors, resampling inside the space, conditions kept consistent, the
 * sparsity floor, and decisions that are a function of (seed, generation,
 * figures).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pbt.h"
#include "run_fixture.h"
#include "sampler_fixture.h"
#include "sampler_impl.h"

#define PBT_SPACE                                                                                  \
    "{'study': 't', 'seed': %d, 'sampler': 'pbt', %s 'search_space': {"                            \
    " 'reg.l2': {'type': 'float', 'low': 1e-6, 'high': 1e-2, 'log': true},"                        \
    " 'reg.dropout': {'type': 'float', 'low': 0.0, 'high': 0.5},"                                  \
    " 'train.lr': {'type': 'float', 'low': 1e-3, 'high': 0.5, 'log': true},"                       \
    " 'prune.sparsity': {'type': 'float', 'low': 0.5, 'high': 0.98}}}"

static void load_pbt(study_config *s, int seed, const char *opts)
{
    char text[2048];
    snprintf(text, sizeof text, PBT_SPACE, seed, opts);
    parse_ok(s, text);
}

/* A population of n: member i has value v[i], violation 0, sparsity sp and
 * the random sampler's point i (a population starts as random trials). */
static void population(const study_config *s, pbt_member *m, int n, const double *v, double sp)
{
    for (int i = 0; i < n; i++) {
        memset(&m[i], 0, sizeof m[i]);
        m[i].value = v[i];
        m[i].sparsity = sp;
        sampler_random_point(s, s->seed, i, &m[i].point);
    }
}

static int param_index(const study_config *s, const char *name)
{
    for (int i = 0; i < s->n_params; i++)
        if (!strcmp(s->param[i].name, name))
            return i;
    cr_assert_fail("no parameter %s", name);
    return -1;
}

/* Field by field: the struct has padding memcmp would read. */
static int same_decisions(const study_config *s, const pbt_decision *a, const pbt_decision *b,
                          int n)
{
    for (int i = 0; i < n; i++) {
        if (a[i].parent != b[i].parent || a[i].factor != b[i].factor)
            return 0;
        for (int k = 0; k < s->n_params; k++)
            if (a[i].point.present[k] != b[i].point.present[k] ||
                a[i].point.value[k] != b[i].point.value[k])
                return 0;
    }
    return 1;
}

Test(pbt, study_keys_defaults_and_errors)
{
    study_config s;
    load_pbt(&s, 1, "");
    cr_expect_eq(s.sampler, SAMPLER_PBT);
    cr_expect(s.pbt.population == 8 && s.pbt.interval == 1 && s.pbt.quantile == 0.25 &&
              s.pbt.n_perturb == 2 && s.pbt.perturb[0] == 0.8 && s.pbt.perturb[1] == 1.2 &&
              s.pbt.resample_probability == 0.25);
    study_free(&s);
    load_pbt(&s, 1,
             "'pbt': {'population': 5, 'interval': 3, 'quantile': 0.5, 'perturb': [0.5, 1, 2],"
             " 'resample_probability': 0},");
    cr_expect(s.pbt.population == 5 && s.pbt.interval == 3 && s.pbt.quantile == 0.5 &&
              s.pbt.n_perturb == 3 && s.pbt.perturb[2] == 2 && s.pbt.resample_probability == 0);
    study_free(&s);

    static const struct {
        const char *opts, *want;
    } bad[] = {
        {"'pbt': {'population': 1},", "s.json: pbt.population: expected an integer >= 2"},
        {"'pbt': {'interval': 0},", "s.json: pbt.interval: expected an integer >= 1"},
        {"'pbt': {'quantile': 0.6},", "s.json: pbt.quantile: expected a number > 0 and <= 0.5"},
        {"'pbt': {'perturb': []},", "s.json: pbt.perturb: expected a list of 1 to 8 factors > 0"},
        {"'pbt': {'perturb': [1.2, -1]},", "s.json: pbt.perturb: expected a list of 1 to 8"},
        {"'pbt': {'resample_probability': 1.5},",
         "s.json: pbt.resample_probability: expected a number >= 0 and <= 1"},
        {"'pbt': {'populaton': 4},", "s.json: pbt.populaton"},
        {"'pbt': 3,", "s.json: pbt: expected an object of options"},
        {"'pruner': 'asha',", "s.json: pruner: expected \"none\" with sampler \"pbt\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[2048];
        pt_err err;
        snprintf(text, sizeof text, PBT_SPACE, 1, bad[i].opts);
        cr_expect_eq(parse_q(&s, text, &err), PT_ERR_CONFIG, "%s", bad[i].opts);
        cr_expect(strstr(err.msg, bad[i].want) == err.msg, "%s: got \"%s\", want \"%s...\"",
                  bad[i].opts, err.msg, bad[i].want);
        cr_expect_null(strchr(err.msg, '\n'), "one line");
    }
}

Test(pbt, rank_feasible_first_then_objective_ties_by_index)
{
    study_config s;
    load_pbt(&s, 1, "");
    pbt_member m[6];
    double v[6] = {0.5, 0.9, 0.7, 0.9, 0.95, NAN};
    population(&s, m, 6, v, 0);
    m[4].violation = 0.1; /* the best value, but infeasible */
    m[2].violation = 0.05;
    int order[6];
    pbt_rank(&s, m, 6, order);
    /* Feasible 1 and 3 tie at 0.9 (lower index first), then 0 (0.5), then
     * 5 (no value), then the infeasible by violation: 2 (0.05), 4 (0.1). */
    int want[6] = {1, 3, 0, 5, 2, 4};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(order[i], want[i], "rank %d: member %d, want %d", i, order[i], want[i]);
    study_free(&s);

    /* A minimized objective turns the order around. */
    char text[2048];
    snprintf(text, sizeof text, PBT_SPACE, 1,
             "'objectives': [{'name': 'loss', 'direction': 'minimize'}],");
    parse_ok(&s, text);
    double w[3] = {0.3, 0.1, 0.2};
    population(&s, m, 3, w, 0);
    pbt_rank(&s, m, 3, order);
    cr_expect(order[0] == 1 && order[1] == 2 && order[2] == 0);
    study_free(&s);
}

/* Inside the gradual window (pbt.h) a sparsity constraint is judged on the
 * member's target and other constraints wait: a member part-way to 0.95 is
 * not "less feasible" than one part-way to 0.97, and one bound for 0.85
 * under a 0.9 minimum is. After the window, the measured values count. */
Test(pbt, constraints_inside_the_pruning_window_judge_the_target)
{
    study_config s;
    load_pbt(&s, 1, "'constraints': [{'metric': 'sparsity', 'min': 0.9},"
                    " {'metric': 'latency_b1_us', 'max': 50}],");
    cr_assert_eq(s.n_constraints, 2);
    /* Measured after epoch 1 of a window to epoch 4: sparsity 0.4, latency 80 us. */
    double c[2] = {0.9 - 0.4, 80 - 50};
    cr_expect_eq(pbt_violation(&s, c, 0.4, 0.95, 1), 0, "on its way to 0.95: feasible");
    cr_expect_eq(pbt_violation(&s, c, 0.4, 0.97, 1), 0);
    cr_expect_float_eq(pbt_violation(&s, c, 0.4, 0.85, 1), 0.05, 1e-12, "bound for 0.85");
    cr_expect_float_eq(pbt_violation(&s, c, 0.4, 0.95, 0), 0.5 + 30, 1e-12,
                       "past the window: as measured");
    double done[2] = {0.9 - 0.93, 40 - 50};
    cr_expect_eq(pbt_violation(&s, done, 0.93, 0.95, 0), 0);
    /* Ranked with it: by the objective, not by how far pruning has run. */
    pbt_member m[3];
    double v[3] = {0.80, 0.85, 0.83};
    population(&s, m, 3, v, 0);
    double sp[3] = {0.6, 0.3, 0.5}, tgt[3] = {0.97, 0.92, 0.85};
    for (int i = 0; i < 3; i++) {
        double ci[2] = {0.9 - sp[i], 60 - 50};
        m[i].violation = pbt_violation(&s, ci, sp[i], tgt[i], 1);
    }
    int order[3];
    pbt_rank(&s, m, 3, order);
    cr_expect(order[0] == 1 && order[1] == 0 && order[2] == 2, "order %d %d %d", order[0],
              order[1], order[2]);
    study_free(&s);
}

Test(pbt, quantile_size_is_ray_tunes)
{
    study_config s;
    load_pbt(&s, 1, "");
    cr_expect_eq(pbt_quantile_size(&s, 8), 2); /* ceil(8 * 0.25) */
    cr_expect_eq(pbt_quantile_size(&s, 4), 1);
    cr_expect_eq(pbt_quantile_size(&s, 5), 2); /* ceil(1.25) */
    cr_expect_eq(pbt_quantile_size(&s, 2), 1); /* ceil(0.5), <= 2 / 2 */
    s.pbt.quantile = 0.5;
    cr_expect_eq(pbt_quantile_size(&s, 3), 1); /* ceil(1.5) = 2 > floor(3 / 2) */
    study_free(&s);
}

Test(pbt, bottom_exploits_top_with_exact_perturbations)
{
    study_config s;
    load_pbt(&s, 7, "'pbt': {'resample_probability': 0},");
    enum { N = 8 };
    pbt_member m[N];
    double v[N] = {0.80, 0.60, 0.85, 0.70, 0.50, 0.75, 0.65, 0.55};
    population(&s, m, N, v, 0.3);
    pbt_decision d[N];
    pt_err err;
    int sp = param_index(&s, "prune.sparsity");
    for (int gen = 0; gen < 20; gen++) {
        cr_assert_eq(pbt_step(&s, gen, m, N, d, &err), PT_OK, "%s", err.msg);
        for (int i = 0; i < N; i++) {
            int bottom = i == 4 || i == 7; /* 0.50 and 0.55 */
            if (!bottom) {
                cr_expect_eq(d[i].parent, -1, "member %d is not in the bottom quantile", i);
                cr_expect_eq(memcmp(&d[i].point, &m[i].point, sizeof d[i].point), 0);
                continue;
            }
            cr_assert(d[i].parent == 2 || d[i].parent == 0, "gen %d: member %d took %d", gen, i,
                      d[i].parent);
            const study_point *pp = &m[d[i].parent].point;
            for (int k = 0; k < s.n_params; k++) {
                const study_param *q = &s.param[k];
                double got = d[i].point.value[k];
                cr_expect(d[i].point.present[k] && study_param_contains(q, got), "%s = %g", q->name,
                          got);
                if (k == sp) {
                    /* What is still to be pruned is scaled: 0.3 + (t - 0.3) * f,
                     * then the bounds. */
                    double t = pp->value[k];
                    double a = fmin(fmax(0.3 + (t - 0.3) * 0.8, q->low), q->high);
                    double b = fmin(fmax(0.3 + (t - 0.3) * 1.2, q->low), q->high);
                    cr_expect(got == a || got == b, "target %g from %g: want %g or %g", got, t, a,
                              b);
                    cr_expect(d[i].factor == 0.8 || d[i].factor == 1.2);
                    continue;
                }
                /* Bit-exact: the same product the code computes, clamped. */
                double a = fmin(fmax(pp->value[k] * 0.8, q->low), q->high);
                double b = fmin(fmax(pp->value[k] * 1.2, q->low), q->high);
                cr_expect(got == a || got == b, "%s: %g from %g", q->name, got, pp->value[k]);
            }
        }
    }
    study_free(&s);
}

Test(pbt, decisions_are_a_function_of_seed_generation_and_figures)
{
    study_config s, t;
    load_pbt(&s, 3, "");
    load_pbt(&t, 4, "");
    enum { N = 8 };
    pbt_member m[N];
    double v[N] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
    population(&s, m, N, v, 0.5);
    pbt_decision a[N], b[N], c[N];
    pt_err err;
    int differ_gen = 0, differ_seed = 0;
    for (int gen = 0; gen < 10; gen++) {
        cr_assert_eq(pbt_step(&s, gen, m, N, a, &err), PT_OK);
        cr_assert_eq(pbt_step(&s, gen, m, N, b, &err), PT_OK);
        cr_expect(same_decisions(&s, a, b, N), "gen %d: same inputs, other decisions", gen);
        cr_assert_eq(pbt_step(&t, gen, m, N, c, &err), PT_OK);
        differ_seed += !same_decisions(&s, a, c, N);
        cr_assert_eq(pbt_step(&s, gen + 1, m, N, c, &err), PT_OK);
        differ_gen += !same_decisions(&s, a, c, N);
    }
    /* Members 0 and 1 explore from 6 or 7 with their own streams: with
     * continuous draws two streams agreeing would be a broken derivation. */
    cr_expect_eq(differ_seed, 10);
    cr_expect_eq(differ_gen, 10);
    cr_expect_eq(pbt_step(&s, 0, m, 0, a, &err), PT_ERR_ARG);
    study_free(&s);
    study_free(&t);
}

Test(pbt, sparsity_target_never_falls_below_the_copied_mask)
{
    study_config s;
    /* Always resampled from [0.5, 0.98], or halved: both would go below a
     * 0.9 floor without it. */
    load_pbt(&s, 11, "'pbt': {'resample_probability': 0.5, 'perturb': [0.5, 0.1]},");
    enum { N = 4 };
    pbt_member m[N];
    double v[N] = {0.9, 0.8, 0.7, 0.6};
    population(&s, m, N, v, 0);
    int sp = param_index(&s, "prune.sparsity");
    for (int i = 0; i < N; i++) {
        m[i].sparsity = 0.9; /* gradual pruning reached 0.9 */
        m[i].point.value[sp] = 0.95;
    }
    pbt_decision d[N];
    pt_err err;
    int moved = 0;
    for (int gen = 0; gen < 200; gen++) {
        cr_assert_eq(pbt_step(&s, gen, m, N, d, &err), PT_OK);
        cr_assert_eq(d[3].parent, 0);
        double got = d[3].point.value[sp];
        cr_expect(got >= 0.9 && got <= 0.98, "gen %d: target %.17g below the floor 0.9", gen, got);
        moved += got != 0.95;
        if (d[3].factor > 0) /* perturbed: 0.9 + 0.05 * f, exactly as computed */
            cr_expect_eq(got, 0.9 + (0.95 - 0.9) * d[3].factor);
    }
    cr_expect_gt(moved, 100, "the target does move");
    study_free(&s);
}

Test(pbt, categoricals_move_to_a_neighbour_and_conditions_follow)
{
    study_config s;
    parse_ok(&s, "{'study': 't', 'seed': 5, 'sampler': 'pbt', 'pbt': {'population': 2,"
                 " 'resample_probability': 0}, 'search_space': {"
                 " 'prune.granularity': {'type': 'categorical', 'choices': ['layer', 'global',"
                 " 'neuron']},"
                 " 'prune.norm': {'type': 'categorical', 'choices': ['l2', 'l1'],"
                 "                'when': {'prune.granularity': ['neuron']}}}}");
    pbt_member m[2];
    double v[2] = {1, 0};
    population(&s, m, 2, v, 0);
    m[0].point.present[0] = 1, m[0].point.value[0] = 1; /* global: norm absent */
    m[0].point.present[1] = 0, m[0].point.value[1] = 0;
    pbt_decision d[2];
    pt_err err;
    int seen[3] = {0};
    for (int gen = 0; gen < 50; gen++) {
        cr_assert_eq(pbt_step(&s, gen, m, 2, d, &err), PT_OK);
        cr_assert_eq(d[1].parent, 0);
        int g = (int)d[1].point.value[0];
        cr_assert(g == 0 || g == 2, "gen %d: granularity %d is not a neighbour of 1", gen, g);
        seen[g]++;
        /* neuron switches norm on (drawn from the space), layer keeps it off. */
        cr_expect_eq(d[1].point.present[1], g == 2);
        if (g == 2)
            cr_expect(study_param_contains(&s.param[1], d[1].point.value[1]));
    }
    cr_expect(seen[0] > 0 && seen[2] > 0);
    study_free(&s);
}
