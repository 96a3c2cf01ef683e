/*
 * test_pruner.c — the early-stopping rules on scripted sequences of
 * intermediate values, checked against decisions worked out by hand (the
 * comments beside each line show the sorted rung or step values); then small
 * real studies through `prunetune run` (laptop mode: 2 worker threads,
 * 1,000 Fashion-MNIST rows, 9 epochs) where poor trials end PRUNED, read back
 * with sqlite3, and one resumed.
 *
 * Why one file of ~800 lines: the scripted rung tables and the small real studies check the same
 * rules (pruner.h) from both ends, and share the study fixture.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pruner.h"
#include "run_fixture.h"
#include "store.h"
#include "study.h"
#include "train.h"

static study_config cfg(pruner_kind kind, study_direction dir)
{
    study_config sc;
    memset(&sc, 0, sizeof sc);
    sc.pruner = kind;
    sc.n_objectives = 1;
    sc.obj[0].dir = dir;
    sc.asha = (study_asha){.min_resource = 1, .reduction_factor = 3, .n_brackets = 1};
    sc.median = (study_median){.n_startup_trials = 5, .n_warmup_steps = 0};
    return sc;
}

static pruner *make(const study_config *sc)
{
    pruner *p = NULL;
    pt_err err;
    cr_assert_eq(pruner_new(&p, sc, &err), PT_OK, "%s", err.msg);
    return p;
}

/* The decision for one report (flip: the value as a loss, 1 - v). */
static int rep(pruner *p, int number, int step, double v)
{
    int stop = -1;
    pt_err err;
    cr_assert_eq(pruner_report(p, number, step, v, &stop, &err), PT_OK, "%s", err.msg);
    return stop;
}

static void fin(pruner *p, int number, trial_state st)
{
    pt_err err;
    cr_assert_eq(pruner_finish(p, number, st, &err), PT_OK, "%s", err.msg);
}

/* eta 3, rungs at steps 1, 3, 9; maximize (or minimize 1 - v: same decisions). */
static void asha_script(study_direction dir)
{
    study_config sc = cfg(PRUNER_ASHA, dir);
    pruner *p = make(&sc);
    double s = dir == DIR_MAXIMIZE ? 1 : -1, o = dir == DIR_MAXIMIZE ? 0 : 1;
#define R(n, step, v) rep(p, n, step, o + s * (v))
    cr_expect_eq(R(0, 1, 0.50), 0); /* rung0 {.5}: alone, the best: on */
    cr_expect_eq(R(0, 2, 0.55), 0); /* no rung at step 2 */
    cr_expect_eq(R(1, 1, 0.40), 1); /* rung0 {.4 .5}: < 2 values, not the best: stop */
    cr_expect_eq(R(1, 2, 0.90), 0); /* the epoch it was in: ignored, records nothing */
    cr_expect_eq(R(0, 3, 0.60), 0); /* rung1 {.6}: on */
    cr_expect_eq(R(2, 1, 0.60), 0); /* rung0 {.4 .5 .6}: 3/3-1 = 0 -> the best: on */
    cr_expect_eq(R(3, 1, 0.45), 1); /* {.4 .45 .5 .6}: must be >= .6 */
    cr_expect_eq(R(4, 1, 0.55), 1); /* {.4 .45 .5 .55 .6}: must be >= .6 */
    cr_expect_eq(R(5, 1, 0.58), 0); /* 6 values: 2nd best .58 -> on (ties go on) */
    cr_expect_eq(R(2, 3, 0.65), 0); /* rung1 {.6 .65}: the best: on */
    cr_expect_eq(R(5, 3, 0.62), 1); /* rung1 {.6 .62 .65}: must be >= .65 */
    cr_expect_eq(R(0, 9, 0.70), 0); /* rung2 {.7}: on */
    cr_expect_eq(R(2, 9, 0.69), 1); /* rung2 {.69 .7}: not the best */
    cr_expect_eq(R(6, 1, 0.30), 1); /* 7 values {.3 .4 .45 .5 .55 .58 .6}: 2nd best .58 */
    cr_expect_eq(R(7, 1, 0.59), 0); /* 8 values: 2nd best .59 -> on */
    cr_expect_eq(R(8, 1, 0.57), 1); /* 9 values: 3rd best .58 -> stop */
#undef R
    pruner_free(p);
}

Test(pruner, asha_promotions_and_stops_maximize)
{
    asha_script(DIR_MAXIMIZE);
}

Test(pruner, asha_same_decisions_when_minimizing_the_loss)
{
    asha_script(DIR_MINIMIZE);
}

Test(pruner, rung_steps_and_min_early_stopping_rate)
{
    study_config sc = cfg(PRUNER_ASHA, DIR_MAXIMIZE);
    sc.asha.min_resource = 2;
    sc.asha.min_early_stopping_rate = 1;
    pruner *p = make(&sc);
    /* 2 * 3^(1 + k): 6, 18, 54 */
    cr_expect_eq(pruner_rung_step(p, 0, 0), 6);
    cr_expect_eq(pruner_rung_step(p, 0, 1), 18);
    cr_expect_eq(pruner_rung_step(p, 0, 2), 54);
    cr_expect_eq(pruner_rung_step(p, 1, 0), -1, "one bracket only");
    for (int step = 1; step <= 5; step++)
        cr_expect_eq(rep(p, 0, step, 0.9), 0);
    cr_expect_eq(rep(p, 0, 6, 0.9), 0); /* rung0 {.9} */
    for (int step = 1; step <= 5; step++)
        cr_expect_eq(rep(p, 1, step, 0.1), 0, "nothing is decided before the first rung");
    cr_expect_eq(rep(p, 1, 6, 0.1), 1); /* rung0 {.1 .9} */
    /* A NaN stops its trial and records nothing: trial 3 is then compared
     * with {.1 .9} only (.95 the best: on). */
    cr_expect_eq(rep(p, 2, 1, NAN), 0, "not on a rung");
    cr_expect_eq(rep(p, 2, 6, NAN), 1);
    cr_expect_eq(rep(p, 2, 7, 0.95), 0, "already stopped");
    cr_expect_eq(rep(p, 3, 6, 0.95), 0);
    pruner_free(p);
}

/* A step past several rungs at once (a trial that reports sparsely) records
 * its value at each and stops at the first it fails. */
Test(pruner, asha_step_past_two_rungs)
{
    study_config sc = cfg(PRUNER_ASHA, DIR_MAXIMIZE);
    pruner *p = make(&sc);
    cr_expect_eq(rep(p, 0, 3, 0.5), 0); /* rung0 {.5} and rung1 {.5} */
    cr_expect_eq(rep(p, 1, 1, 0.6), 0); /* rung0 {.5 .6}: the best */
    cr_expect_eq(rep(p, 1, 3, 0.4), 1); /* rung1 {.4 .5} */
    pruner_free(p);
}

Test(pruner, hyperband_brackets)
{
    study_config sc = cfg(PRUNER_ASHA, DIR_MAXIMIZE);
    sc.asha.n_brackets = 3;
    pruner *p = make(&sc);
    /* bracket b starts at 3^b; budgets ceil(3 * 3^s / (s + 1)), s = 2 - b: 9, 5, 3 */
    cr_expect_eq(pruner_rung_step(p, 0, 0), 1);
    cr_expect_eq(pruner_rung_step(p, 1, 0), 3);
    cr_expect_eq(pruner_rung_step(p, 2, 0), 9);
    int count[3] = {0}, first[3] = {-1, -1, -1};
    for (int n = 0; n < 1700; n++) {
        int b = pruner_bracket(p, n);
        cr_assert(b >= 0 && b < 3);
        count[b]++;
        if (first[b] < 0)
            first[b] = n;
    }
    cr_expect(abs(count[0] - 900) < 90 && abs(count[1] - 500) < 75 && abs(count[2] - 300) < 60,
              "%d %d %d", count[0], count[1], count[2]);
    /* Brackets do not compete: the first trial of each is alone at its rung. */
    int a = first[0], b = first[1];
    cr_expect_eq(rep(p, a, 1, 0.9), 0);
    cr_expect_eq(rep(p, b, 1, 0.1), 0, "no rung at step 1 in bracket 1");
    cr_expect_eq(rep(p, b, 3, 0.1), 0, "alone in bracket 1's first rung");
    pruner_free(p);
}

Test(pruner, median_rule)
{
    study_config sc = cfg(PRUNER_MEDIAN, DIR_MAXIMIZE);
    sc.median.n_startup_trials = 2;
    sc.median.n_warmup_steps = 2;
    pruner *p = make(&sc);
    double t0[] = {0.5, 0.6, 0.7}, t1[] = {0.7, 0.8, 0.9};
    for (int i = 0; i < 3; i++)
        cr_expect_eq(rep(p, 0, i + 1, t0[i]), 0, "no complete trial yet");
    fin(p, 0, TRIAL_COMPLETE);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(rep(p, 1, i + 1, t1[i]), 0, "1 complete < n_startup_trials");
    fin(p, 1, TRIAL_COMPLETE);
    /* medians: step 1 .6, step 2 .7, step 3 .8 */
    cr_expect_eq(rep(p, 2, 1, 0.1), 0, "step 1 < n_warmup_steps");
    cr_expect_eq(rep(p, 2, 2, 0.65), 1, "best .65 < .7");
    cr_expect_eq(rep(p, 3, 1, 0.2), 0);
    cr_expect_eq(rep(p, 3, 2, 0.75), 0, "best .75 >= .7");
    cr_expect_eq(rep(p, 3, 3, 0.70), 1, "best .75 < .8");
    fin(p, 2, TRIAL_PRUNED); /* pruned trials do not count */
    fin(p, 3, TRIAL_PRUNED);
    cr_expect_eq(rep(p, 4, 1, 0.9), 0);
    cr_expect_eq(rep(p, 4, 2, 0.5), 0, "the best so far counts: .9 >= .7");
    cr_expect_eq(rep(p, 4, 3, 0.5), 0, ".9 >= .8");
    fin(p, 4, TRIAL_COMPLETE);
    /* now step 2 {.5 .6 .8}: median .6; step 3 {.5 .7 .9}: median .7 */
    cr_expect_eq(rep(p, 5, 2, 0.61), 0, ".61 >= .6");
    cr_expect_eq(rep(p, 5, 3, 0.61), 1, ".61 < .7");
    fin(p, 5, TRIAL_PRUNED);
    fin(p, 6, TRIAL_FAIL); /* a trial that never reported */
    pruner_free(p);
}

Test(pruner, median_minimize_and_even_count)
{
    study_config sc = cfg(PRUNER_MEDIAN, DIR_MINIMIZE);
    sc.median.n_startup_trials = 2;
    pruner *p = make(&sc);
    rep(p, 0, 1, 1.0);
    rep(p, 1, 1, 2.0);
    fin(p, 0, TRIAL_COMPLETE);
    fin(p, 1, TRIAL_COMPLETE);
    /* step 1 {1 2}: median 1.5 */
    cr_expect_eq(rep(p, 2, 1, 1.5), 0);
    cr_expect_eq(rep(p, 3, 1, 1.6), 1);
    cr_expect_eq(rep(p, 4, 2, 9.0), 0, "no complete trial reached step 2");
    cr_expect_eq(rep(p, 5, 1, 1.2), 0);
    cr_expect_eq(rep(p, 5, 2, NAN), 0, "its best is still 1.2");
    cr_expect_eq(rep(p, 6, 1, NAN), 1, "no number among its values");
    pruner_free(p);
}

/* Resume: a pruner rebuilt from the stored reports (in their order, answers
 * ignored) decides the rest exactly as the one that saw them live. */
Test(pruner, replay_rebuilds_the_same_state)
{
    for (int kind = PRUNER_ASHA; kind <= PRUNER_MEDIAN; kind++) {
        study_config sc = cfg((pruner_kind)kind, DIR_MAXIMIZE);
        pruner *live = make(&sc), *again = make(&sc);
        uint64_t x = 12345;
        int running[4] = {0, 1, 2, 3}, step[4] = {0}, next = 4, same = 1, stops = 0;
        for (int e = 0; e < 400; e++) {
            int w = e % 4, n = running[w];
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double v = 0.5 + 0.3 * (double)(x >> 11) / 9007199254740992.0 + 0.01 * step[w];
            int s1 = rep(live, n, ++step[w], v);
            int s2 = rep(again, n, step[w], v);
            if (e >= 200)
                same &= s1 == s2;
            stops += s1;
            if (s1 || step[w] == 9) {
                fin(live, n, s1 ? TRIAL_PRUNED : TRIAL_COMPLETE);
                fin(again, n, s1 ? TRIAL_PRUNED : TRIAL_COMPLETE);
                running[w] = next++;
                step[w] = 0;
            }
        }
        cr_expect(same, "kind %d", kind);
        cr_expect_gt(stops, 10, "kind %d stopped only %d trials", kind, stops);
        pruner_free(live);
        pruner_free(again);
    }
}

Test(pruner, none_never_stops_and_bad_options_are_refused)
{
    study_config sc = cfg(PRUNER_NONE, DIR_MAXIMIZE);
    pruner *p = make(&sc);
    for (int n = 0; n < 10; n++)
        cr_expect_eq(rep(p, n, 1, n == 0 ? 1.0 : 0.0), 0);
    cr_expect_eq(rep(p, 11, 1, NAN), 0);
    pruner_free(p);
    sc = cfg(PRUNER_ASHA, DIR_MAXIMIZE);
    sc.asha.reduction_factor = 1;
    pt_err err;
    cr_expect_eq(pruner_new(&p, &sc, &err), PT_ERR_CONFIG);
    cr_expect_null(p);
    cr_expect_not_null(strstr(err.msg, "reduction_factor"), "%s", err.msg);
}

Test(pruner, study_options_parsed_with_optuna_defaults)
{
    const char *space =
        "\"search_space\": {\"reg.l2\": {\"type\": \"float\", \"low\": 0, \"high\": 1}}";
    char json[512];
    snprintf(json, sizeof json,
             "{\"study\": \"t\", \"pruner\": \"asha\", \"asha\": {\"min_resource\": 2,"
             " \"reduction_factor\": 4, \"min_early_stopping_rate\": 1, \"n_brackets\": 2}, %s}",
             space);
    study_config s;
    pt_err err;
    cr_assert_eq(study_parse(&s, json, "s.json", &err), PT_OK, "%s", err.msg);
    cr_expect_eq(s.pruner, PRUNER_ASHA);
    cr_expect(s.asha.min_resource == 2 && s.asha.reduction_factor == 4 &&
              s.asha.min_early_stopping_rate == 1 && s.asha.n_brackets == 2);
    cr_expect(s.median.n_startup_trials == 5 && s.median.n_warmup_steps == 0);
    study_free(&s);
    snprintf(json, sizeof json,
             "{\"study\": \"t\", \"pruner\": \"median\", \"median\": {\"n_warmup_steps\": 3}, %s}",
             space);
    cr_assert_eq(study_parse(&s, json, "s.json", &err), PT_OK, "%s", err.msg);
    cr_expect_eq(s.pruner, PRUNER_MEDIAN);
    cr_expect(s.median.n_startup_trials == 5 && s.median.n_warmup_steps == 3);
    cr_expect(s.asha.min_resource == 1 && s.asha.reduction_factor == 3 &&
              s.asha.min_early_stopping_rate == 0 && s.asha.n_brackets == 1);
    study_free(&s);
}

/* ---- fair to pruning (pruner.h: groups and phases) ---------------------- */

/* A trial config: schedule s over `epochs` training epochs, granularity g;
 * the schedule's other epochs are set by the caller. */
static pt_config tcfg(pt_prune_schedule s, pt_granularity g, int epochs)
{
    pt_config c;
    pt_config_defaults(&c);
    c.train.epochs = epochs;
    c.prune.schedule = s;
    c.prune.granularity = g;
    return c;
}

static void tell(pruner *p, int number, const pt_config *c)
{
    pt_err err;
    cr_assert_eq(pruner_trial(p, number, c, &err), PT_OK, "%s", err.msg);
}

static void expect_window(const pt_config *c, int first, int last, const char *what)
{
    int a = -1, b = -1;
    pruner_window(c, &a, &b);
    cr_expect(a == first && b == last, "%s: window [%d, %d], want [%d, %d]", what, a, b, first,
              last);
}

/* The epochs in which core/train.c prunes, per schedule (train.h's table). */
Test(pruner, pruning_window_per_schedule)
{
    pt_config c = tcfg(PT_PRUNE_NONE, PT_GRAN_LAYER, 10);
    expect_window(&c, 0, 0, "none");
    c = tcfg(PT_PRUNE_ONESHOT, PT_GRAN_LAYER, 6);
    c.prune.finetune_epochs = 3; /* prunes as epoch 7 starts; 8, 9 fine-tune */
    expect_window(&c, 7, 7, "oneshot");
    c.prune.finetune_epochs = 0; /* prunes after the last report */
    expect_window(&c, 0, 0, "oneshot, no fine-tuning");
    c = tcfg(PT_PRUNE_ITERATIVE, PT_GRAN_GLOBAL, 4);
    c.prune.rounds = 3;
    c.prune.finetune_epochs = 2; /* rounds prune as epochs 5, 7, 9 start; 10 fine-tunes */
    expect_window(&c, 5, 9, "iterative");
    c = tcfg(PT_PRUNE_GRADUAL, PT_GRAN_LAYER, 10);
    c.prune.start_epoch = 1.5; /* first event inside epoch 2 */
    c.prune.end_epoch = 6;     /* last one before the first batch of epoch 7 */
    expect_window(&c, 2, 7, "gradual");
    c.prune.start_epoch = 0;
    c.prune.end_epoch = 12; /* past training: the final prune follows the last report */
    expect_window(&c, 1, 10, "gradual to the end");
    c.prune.start_epoch = 10; /* nothing before training ends */
    expect_window(&c, 0, 0, "gradual after training");
}

/* The case: a gradual trial is below dense trials while its own
 * schedule removes weights; Optuna's rule stops it, the default does not,
 * and after its pruning it is judged among gradual trials only. */
static void dip_script(pruner_compare mode, int *stops_dip, int *stops_after)
{
    study_config sc = cfg(PRUNER_ASHA, DIR_MAXIMIZE);
    sc.asha.compare = mode;
    pruner *p = make(&sc);
    pt_config dense = tcfg(PT_PRUNE_NONE, PT_GRAN_LAYER, 10);
    pt_config grad = tcfg(PT_PRUNE_GRADUAL, PT_GRAN_GLOBAL, 10);
    grad.prune.start_epoch = 0;
    grad.prune.end_epoch = 5; /* prunes in epochs 1..6; 7..10 fine-tune */
    for (int n = 0; n < 4; n++) {
        tell(p, n, &dense);
        rep(p, n, 1, 0.80 + 0.01 * n);
        rep(p, n, 3, 0.85 + 0.01 * n); /* the later ones are the best: all go on */
    }
    tell(p, 4, &grad);
    *stops_dip = 0;
    const double dip[] = {0.70, 0.72, 0.66, 0.68, 0.70, 0.74};
    for (int e = 1; e <= 6 && !*stops_dip; e++)
        *stops_dip = rep(p, 4, e, dip[e - 1]);
    /* Rung 9: 0.84 is below every dense value at rung 1 and 3. */
    for (int n = 0; n < 4 && !*stops_dip; n++)
        rep(p, n, 9, 0.88);
    *stops_after = *stops_dip ? -1 : rep(p, 4, 9, 0.84);
    pruner_free(p);
}

Test(pruner, gradual_dip_is_not_judged_against_dense_trials)
{
    int dip = -1, after = -1;
    dip_script(PRUNER_COMPARE_SCHEDULE, &dip, &after);
    cr_expect_eq(dip, 0, "stopped in its pruning phase");
    cr_expect_eq(after, 0, "first gradual value at rung 9 (fine-tuning): goes on");
    dip_script(PRUNER_COMPARE_STRATEGY, &dip, &after);
    cr_expect(dip == 0 && after == 0, "strategy: %d %d", dip, after);
    /* Optuna's rule: 0.70 at rung 1 is below 4 dense values, fewer than eta... stopped. */
    dip_script(PRUNER_COMPARE_ALL, &dip, &after);
    cr_expect_eq(dip, 1, "compare all: the dip stops it at rung 1");
}

/* Within a group (and phase) nothing changed: the hand-worked script of
 * asha_script gives the same decisions when all its trials are oneshot
 * trials still in their dense warm-up, or iterative trials told nothing
 * (group "none"), whatever the mode. */
Test(pruner, same_group_compared_as_before)
{
    for (int mode = PRUNER_COMPARE_SCHEDULE; mode <= PRUNER_COMPARE_ALL; mode++) {
        study_config sc = cfg(PRUNER_ASHA, DIR_MAXIMIZE);
        sc.asha.compare = (pruner_compare)mode;
        pruner *p = make(&sc);
        pt_config one = tcfg(PT_PRUNE_ONESHOT, PT_GRAN_LAYER, 9); /* prunes as epoch 10 starts */
        for (int n = 0; n < 9; n++)
            tell(p, n, &one);
#define R(n, step, v) rep(p, n, step, v)
        cr_expect_eq(R(0, 1, 0.50), 0);
        cr_expect_eq(R(1, 1, 0.40), 1);
        cr_expect_eq(R(0, 3, 0.60), 0);
        cr_expect_eq(R(2, 1, 0.60), 0);
        cr_expect_eq(R(3, 1, 0.45), 1);
        cr_expect_eq(R(4, 1, 0.55), 1);
        cr_expect_eq(R(5, 1, 0.58), 0);
        cr_expect_eq(R(2, 3, 0.65), 0);
        cr_expect_eq(R(5, 3, 0.62), 1);
        cr_expect_eq(R(0, 9, 0.70), 0);
        cr_expect_eq(R(2, 9, 0.69), 1);
        cr_expect_eq(R(6, 1, 0.30), 1);
        cr_expect_eq(R(7, 1, 0.59), 0);
        cr_expect_eq(R(8, 1, 0.57), 1, "mode %d", mode);
#undef R
        pruner_free(p);
    }
}

/* Groups do not mix, phases do not mix, and fine-tuning values of one
 * schedule still stop the poorer of them. */
Test(pruner, groups_and_phases_are_separate_pools)
{
    study_config sc = cfg(PRUNER_ASHA, DIR_MAXIMIZE);
    sc.asha.min_resource = 2; /* rungs 2, 6, 18 */
    pruner *p = make(&sc);
    pt_config one = tcfg(PT_PRUNE_ONESHOT, PT_GRAN_LAYER, 4);
    one.prune.finetune_epochs = 4; /* dense 1..4, prunes in 5, fine-tunes 6..8 */
    pt_config late = one;
    late.train.epochs = 6; /* dense 1..6, prunes in 7: its rung 6 is dense */
    pt_config it = tcfg(PT_PRUNE_ITERATIVE, PT_GRAN_LAYER, 4);
    it.prune.rounds = 2;
    it.prune.finetune_epochs = 2; /* prunes in 5..7, fine-tunes 8 */
    tell(p, 0, &one);
    tell(p, 1, &one);
    tell(p, 2, &late);
    tell(p, 3, &it);
    tell(p, 4, &it);
    cr_expect_eq(rep(p, 0, 2, 0.80), 0, "oneshot dense rung 2: alone");
    cr_expect_eq(rep(p, 3, 2, 0.70), 0, "iterative: another group, alone");
    cr_expect_eq(rep(p, 4, 2, 0.60), 1, "iterative {.6 .7}: not the best");
    cr_expect_eq(rep(p, 0, 6, 0.75), 0, "oneshot fine-tuning rung 6: alone");
    cr_expect_eq(rep(p, 2, 2, 0.79), 1, "oneshot dense {.79 .8}: not the best");
    cr_expect_eq(rep(p, 1, 2, 0.81), 0, "oneshot dense {.79 .8 .81}: the best");
    cr_expect_eq(rep(p, 3, 6, 0.10), 0, "iterative rung 6 in its pruning phase: alone there");
    cr_expect_eq(rep(p, 4, 6, 0.05), 0, "trial 4 was stopped: its reports are ignored");
    cr_expect_eq(rep(p, 1, 6, 0.74), 1, "oneshot fine-tuning {.74 .75}: not the best");
    pruner_free(p);
    /* The dense pool of the same group is another pool: a late oneshot's
     * dense value at rung 6 is alone there, above or below the fine-tuned. */
    p = make(&sc);
    tell(p, 0, &one);
    tell(p, 1, &late);
    cr_expect_eq(rep(p, 0, 6, 0.90), 0);
    cr_expect_eq(rep(p, 1, 6, 0.50), 0, "dense rung 6 of oneshot: first value there");
    pruner_free(p);
}

Test(pruner, strategy_separates_granularities)
{
    study_config sc = cfg(PRUNER_ASHA, DIR_MAXIMIZE);
    pt_config glob = tcfg(PT_PRUNE_ONESHOT, PT_GRAN_GLOBAL, 6);
    pt_config neur = tcfg(PT_PRUNE_ONESHOT, PT_GRAN_NEURON, 6);
    for (int mode = PRUNER_COMPARE_SCHEDULE; mode <= PRUNER_COMPARE_STRATEGY; mode++) {
        sc.asha.compare = (pruner_compare)mode;
        pruner *p = make(&sc);
        tell(p, 0, &glob);
        tell(p, 1, &neur);
        rep(p, 0, 1, 0.8);
        cr_expect_eq(rep(p, 1, 1, 0.7), mode == PRUNER_COMPARE_SCHEDULE, "mode %d", mode);
        pruner_free(p);
    }
}

/* The median rule: a pruning-phase value meets only the medians of COMPLETE
 * trials that pruned in the same epochs, n_startup_trials counts the trial's
 * group, and fine-tuning values meet fine-tuning medians. */
Test(pruner, median_is_fair_to_pruning)
{
    study_config sc = cfg(PRUNER_MEDIAN, DIR_MAXIMIZE);
    sc.median.n_startup_trials = 1;
    pruner *p = make(&sc);
    pt_config dense = tcfg(PT_PRUNE_NONE, PT_GRAN_LAYER, 6);
    pt_config grad = tcfg(PT_PRUNE_GRADUAL, PT_GRAN_LAYER, 6);
    grad.prune.start_epoch = 1;
    grad.prune.end_epoch = 3; /* dense 1, prunes 2..4, fine-tunes 5, 6 */
    tell(p, 0, &dense);
    for (int e = 1; e <= 6; e++)
        rep(p, 0, e, 0.9);
    fin(p, 0, TRIAL_COMPLETE);
    tell(p, 1, &grad);
    cr_expect_eq(rep(p, 1, 1, 0.5), 0, "no COMPLETE gradual trial yet");
    for (int e = 2; e <= 6; e++)
        rep(p, 1, e, e <= 4 ? 0.4 : 0.8);
    fin(p, 1, TRIAL_COMPLETE); /* gradual medians: step 1 .5, steps 5, 6 .8 */
    tell(p, 2, &grad);
    cr_expect_eq(rep(p, 2, 1, 0.6), 0, ".6 >= .5");
    cr_expect_eq(rep(p, 2, 2, 0.45), 0, "pruning: .45 >= the same window's .4 (not dense's .9)");
    cr_expect_eq(rep(p, 2, 4, 0.41), 0, "pruning phase: best .45 >= .4");
    cr_expect_eq(rep(p, 2, 5, 0.81), 0, "fine-tuning best .81 >= .8");
    pt_config other = grad;
    other.prune.start_epoch = 2; /* prunes in 3..4: another pruning pool, empty */
    tell(p, 5, &other);
    cr_expect_eq(rep(p, 5, 3, 0.1), 0, "no COMPLETE trial pruned in epochs 3..4");
    tell(p, 6, &grad);
    cr_expect_eq(rep(p, 6, 2, 0.3), 1, "pruning: .3 < the same window's median .4");
    tell(p, 3, &grad);
    rep(p, 3, 1, 0.6);
    cr_expect_eq(rep(p, 3, 5, 0.79), 1,
                 "best of its fine-tuning .79 < .8 (its .6 before does not count)");
    pruner_free(p);
}

/* Determinism with groups and phases, which resume relies on: two pruners
 * told the same configs and fed the same mixed-schedule sequence of reports
 * and ends decide alike (a resumed pruner is the second one, its answers for
 * the stored reports ignored). */
Test(pruner, fair_decisions_are_deterministic_and_replayable)
{
    for (int kind = PRUNER_ASHA; kind <= PRUNER_MEDIAN; kind++) {
        study_config sc = cfg((pruner_kind)kind, DIR_MAXIMIZE);
        sc.median.n_startup_trials = 2;
        pruner *live = make(&sc), *again = make(&sc);
        pt_config c[4] = {
            tcfg(PT_PRUNE_NONE, PT_GRAN_LAYER, 9), tcfg(PT_PRUNE_ONESHOT, PT_GRAN_GLOBAL, 5),
            tcfg(PT_PRUNE_ITERATIVE, PT_GRAN_LAYER, 3), tcfg(PT_PRUNE_GRADUAL, PT_GRAN_GLOBAL, 9)};
        c[1].prune.finetune_epochs = 4;
        c[2].prune.rounds = 3;
        c[2].prune.finetune_epochs = 2;
        c[3].prune.start_epoch = 1;
        c[3].prune.end_epoch = 5;
        uint64_t x = 777;
        int running[4] = {0, 1, 2, 3}, step[4] = {0}, next = 4, same = 1, stops = 0;
        for (int w = 0; w < 4; w++) {
            tell(live, w, &c[w]);
            tell(again, w, &c[w]);
        }
        for (int e = 0; e < 600; e++) {
            int w = e % 4, n = running[w];
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double v = 0.5 + 0.3 * (double)(x >> 11) / 9007199254740992.0 + 0.01 * step[w];
            int s1 = rep(live, n, ++step[w], v);
            int s2 = rep(again, n, step[w], v);
            if (e >= 300)
                same &= s1 == s2;
            stops += s1;
            if (s1 || step[w] == pt_train_total_epochs(&c[n % 4])) {
                fin(live, n, s1 ? TRIAL_PRUNED : TRIAL_COMPLETE);
                fin(again, n, s1 ? TRIAL_PRUNED : TRIAL_COMPLETE);
                running[w] = next++;
                step[w] = 0;
                tell(live, running[w], &c[running[w] % 4]);
                tell(again, running[w], &c[running[w] % 4]);
            }
        }
        cr_expect(same, "kind %d", kind);
        cr_expect_gt(stops, 10, "kind %d stopped only %d trials", kind, stops);
        pruner_free(live);
        pruner_free(again);
    }
}

Test(pruner, compare_option_parsed_and_checked)
{
    const char *space =
        "\"search_space\": {\"reg.l2\": {\"type\": \"float\", \"low\": 0, \"high\": 1}}";
    char json[512];
    study_config s;
    pt_err err;
    snprintf(json, sizeof json, "{\"study\": \"t\", \"pruner\": \"asha\", %s}", space);
    cr_assert_eq(study_parse(&s, json, "s.json", &err), PT_OK, "%s", err.msg);
    cr_expect(s.asha.compare == PRUNER_COMPARE_SCHEDULE &&
                  s.median.compare == PRUNER_COMPARE_SCHEDULE,
              "the default is fair");
    study_free(&s);
    snprintf(json, sizeof json,
             "{\"study\": \"t\", \"asha\": {\"compare\": \"strategy\"}, \"median\": {\"compare\":"
             " \"all\"}, %s}",
             space);
    cr_assert_eq(study_parse(&s, json, "s.json", &err), PT_OK, "%s", err.msg);
    cr_expect(s.asha.compare == PRUNER_COMPARE_STRATEGY && s.median.compare == PRUNER_COMPARE_ALL);
    study_free(&s);
    snprintf(json, sizeof json, "{\"study\": \"t\", \"median\": {\"compare\": \"phase\"}, %s}",
             space);
    cr_expect_eq(study_parse(&s, json, "s.json", &err), PT_ERR_CONFIG);
    cr_expect(strstr(err.msg, "s.json") && strstr(err.msg, "median.compare") &&
                  strstr(err.msg, "\"schedule\""),
              "%s", err.msg);
}

/* ---- end to end ------------------------------------------------------- */

TestSuite(pruner_run, .init = run_setup, .fini = run_teardown, .timeout = 120);

/* Writes the study (pruner and its options as JSON members, train_more
 * further train.* members) and runs it; returns the exit code, stderr in err. */
static int run_study_with(const char *pruner, const char *train_more, int n_trials, char *err,
                          size_t cap)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"study\": \"p\", \"storage\": \"%s\", \"seed\": 3, \"n_trials\": %d,"
             " %s,\n \"trial\": {\"data\": {\"dir\": \"%s\", \"limit\": 1000, \"test_limit\": 200},"
             " \"net\": {\"hidden\": [32]}, \"train\": {\"epochs\": 9, \"batch_size\": 32%s}},\n"
             " \"search_space\": {\"train.lr\": {\"type\": \"float\", \"low\": 1e-4, \"high\": 0.5,"
             " \"log\": true}}}\n",
             path_of("study.db"), n_trials, pruner, PT_FASHION_DIR, train_more);
    write_in("study.json", text);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 2", PT_BIN, path_of("study.json"));
    int code = sh(cmd);
    slurp("err", err, cap);
    return code;
}

static int run_study(const char *pruner, int n_trials, char *err, size_t cap)
{
    return run_study_with(pruner, "", n_trials, err, cap);
}

/* The checks a pruned study passes; returns the number of PRUNED trials. */
static int check_pruned_study(int n_trials)
{
    char path[512];
    snprintf(path, sizeof path, "%s/study.db", tmpdir);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    int pruned = q_int(db, "SELECT COUNT(*) FROM trials WHERE state='PRUNED'");
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE','PRUNED')"),
                 n_trials);
    cr_expect_geq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'"), 1);
    /* A PRUNED trial's value is its last intermediate value (Optuna's rule). */
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials t JOIN trial_values v USING (trial_id)"
                           " WHERE t.state='PRUNED' AND v.value = (SELECT intermediate_value FROM"
                           " trial_intermediate_values i WHERE i.trial_id=t.trial_id"
                           " ORDER BY step DESC LIMIT 1)"),
                 pruned);
    /* Stopped trials really stop: some end before their 9th epoch, and the
     * study trains fewer epochs than 9 per trial. */
    cr_expect_geq(q_int(db, "SELECT COUNT(*) FROM trials t WHERE t.state='PRUNED' AND"
                            " (SELECT MAX(step) FROM trial_intermediate_values i"
                            " WHERE i.trial_id=t.trial_id) < 9"),
                  1);
    cr_expect_lt(q_int(db, "SELECT COUNT(*) FROM trial_intermediate_values"), 9 * n_trials);
    /* COMPLETE trials ran every epoch. */
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials t WHERE t.state='COMPLETE' AND"
                           " (SELECT COUNT(*) FROM trial_intermediate_values i"
                           " WHERE i.trial_id=t.trial_id) <> 9"),
                 0);
    sqlite3_close(db);
    return pruned;
}

Test(pruner_run, asha_study_prunes_and_resumes)
{
    char err[1 << 14];
    int code = run_study("\"pruner\": \"asha\"", 10, err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    cr_expect_not_null(strstr(err, "PRUNED"), "a progress line says PRUNED:\n%s", err);
    int pruned = check_pruned_study(10);
    /* eta 3: about 2 in 3 trials stop at epoch 1; the first few always go on */
    cr_expect_geq(pruned, 3, "only %d of 10 trials PRUNED", pruned);
    /* Resume with a larger budget: the pruner is rebuilt from the stored values. */
    code = run_study("\"pruner\": \"asha\"", 16, err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    cr_expect_not_null(strstr(err, "resuming"), "%s", err);
    cr_expect_gt(check_pruned_study(16), pruned);
    /* The worker waits for each verdict, so a stop lands on the rung that
     * judged it (rungs 1, 3, 9), not one epoch later; and a PRUNED trial
     * skipped the latency timing its val_acc objective does not need. */
    char path[512];
    snprintf(path, sizeof path, "%s/study.db", tmpdir);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials t WHERE t.state='PRUNED' AND"
                           " (SELECT MAX(step) FROM trial_intermediate_values i"
                           " WHERE i.trial_id=t.trial_id) NOT IN (1, 3, 9)"),
                 0);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials t JOIN pt_trial_metrics m USING"
                           " (trial_id) WHERE t.state='PRUNED' AND (m.latency_b1_us IS NOT NULL"
                           " OR m.result_json NOT LIKE '%\"cost_skipped\":true%')"),
                 0);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials t JOIN pt_trial_metrics m USING"
                           " (trial_id) WHERE t.state='COMPLETE' AND m.latency_b1_us IS NULL"),
                 0);
    sqlite3_close(db);
}

Test(pruner_run, median_study_prunes)
{
    char err[1 << 14];
    int code = run_study("\"pruner\": \"median\", \"median\": {\"n_startup_trials\": 2}", 10, err,
                         sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    cr_expect_geq(check_pruned_study(10), 2);
}

/* train.val_every 3: the epochs not validated send no value; the pruner
 * judges epochs 3 and 6 only, and a COMPLETE trial stores 3 values. */
Test(pruner_run, median_judges_only_the_validated_epochs)
{
    char err[1 << 14];
    int code = run_study_with("\"pruner\": \"median\", \"median\": {\"n_startup_trials\": 2}",
                              ", \"val_every\": 3", 10, err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    char path[512];
    snprintf(path, sizeof path, "%s/study.db", tmpdir);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE','PRUNED')"),
                 10);
    cr_expect_geq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='PRUNED'"), 1);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trial_intermediate_values"
                           " WHERE step NOT IN (3, 6, 9)"),
                 0);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials t WHERE t.state='COMPLETE' AND"
                           " (SELECT COUNT(*) FROM trial_intermediate_values i"
                           " WHERE i.trial_id=t.trial_id) <> 3"),
                 0);
    sqlite3_close(db);
}

/* Resume reads the reports back in the order they were recorded, across
 * trials; a report after a trial ended is refused. */
typedef struct {
    int n, number[8], step[8];
    double value[8];
} seen_reports;

static void collect(void *ctx, int number, int step, double value)
{
    seen_reports *s = ctx;
    if (s->n < 8) {
        s->number[s->n] = number;
        s->step[s->n] = step;
        s->value[s->n++] = value;
    }
}

Test(pruner_run, stored_reports_come_back_in_recorded_order)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"study\": \"r\", \"storage\": \"%s/r.db\", \"pruner\": \"asha\", \"search_space\":"
             " {\"reg.l2\": {\"type\": \"float\", \"low\": 0, \"high\": 1}}}",
             tmpdir);
    study_config sc;
    pt_err err;
    cr_assert_eq(study_parse(&sc, json, "r.json", &err), PT_OK, "%s", err.msg);
    store *st = NULL;
    cr_assert_eq(store_open(&st, sc.storage, 0, &err), PT_OK, "%s", err.msg);
    int sid = 0, created = 0, id[2], num[2];
    cr_assert_eq(store_study_open(st, &sc, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    study_point pt = {.present = {1}, .value = {0.5}};
    for (int i = 0; i < 2; i++)
        cr_assert_eq(store_trial_begin(st, sid, &sc, &pt, "{}", &id[i], &num[i], &err), PT_OK, "%s",
                     err.msg);
    const int who[] = {0, 1, 0, 1};
    const double val[] = {0.5, 0.4, 0.6, 0.45};
    for (int k = 0; k < 4; k++)
        cr_assert_eq(store_trial_report(st, id[who[k]], 1 + k / 2, val[k], &err), PT_OK, "%s",
                     err.msg);
    double v = 0.45;
    cr_assert_eq(store_trial_end(st, id[1], TRIAL_PRUNED, &v, 1, NULL, NULL, &err), PT_OK);
    cr_expect_neq(store_trial_report(st, id[1], 3, 0.9, &err), PT_OK, "an ended trial");
    seen_reports got = {0};
    cr_assert_eq(store_each_report(st, sid, collect, &got, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(got.n, 4);
    for (int k = 0; k < 4; k++) {
        cr_expect_eq(got.number[k], num[who[k]], "report %d", k);
        cr_expect_eq(got.step[k], 1 + k / 2, "report %d", k);
        cr_expect_eq(got.value[k], val[k], "report %d", k);
    }
    store_close(st);
    study_free(&sc);
}

/* The stopped trial's fairness rule, end to end and across a resume: in a
 * real ASHA study of dense and gradual trials (gradual prunes in epochs 2..6
 * of 9; rungs at 1, 3, 9), a gradual trial stopped in its pruning epochs
 * was beaten there by another gradual trial (it is compared only with
 * trials pruning in the same epochs, never with the dense ones, which are
 * above them all); dense trials still stop each other. */
Test(pruner_run, no_trial_stopped_in_its_own_pruning_epochs)
{
    char err[1 << 14];
    for (int round = 0; round < 2; round++) {
        char text[2048];
        snprintf(text, sizeof text,
                 "{\"study\": \"f\", \"storage\": \"%s\", \"seed\": 5, \"n_trials\": %d,"
                 " \"pruner\": \"asha\",\n \"trial\": {\"data\": {\"dir\": \"%s\", \"limit\": 1000,"
                 " \"test_limit\": 200}, \"net\": {\"hidden\": [32]}, \"train\": {\"epochs\": 9,"
                 " \"batch_size\": 32}, \"prune\": {\"sparsity\": 0.9, \"start_epoch\": 1,"
                 " \"end_epoch\": 5, \"frequency\": 5}},\n"
                 " \"search_space\": {\"prune.schedule\": {\"type\": \"categorical\", \"choices\":"
                 " [\"none\", \"gradual\"]}, \"train.lr\": {\"type\": \"float\", \"low\": 1e-3,"
                 " \"high\": 0.5, \"log\": true}}}\n",
                 path_of("study.db"), round ? 16 : 10, PT_FASHION_DIR);
        write_in("study.json", text);
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s run '%s' --workers 2", PT_BIN, path_of("study.json"));
        int code = sh(cmd);
        slurp("err", err, sizeof err);
        cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    }
    cr_expect_not_null(strstr(err, "resuming"), "%s", err);
    sqlite3 *db = db_open();
    const char *last_step = "(SELECT MAX(step) FROM trial_intermediate_values i"
                            " WHERE i.trial_id=t.trial_id)";
    const char *gradual = "(SELECT param_value FROM trial_params p WHERE p.trial_id=t.trial_id"
                          " AND p.param_name='prune.schedule') = 1";
    char q[2048];
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM trials t WHERE %s", gradual);
    int n_gradual = q_int(db, q);
    cr_expect(n_gradual >= 3 && n_gradual <= 13, "%d of 16 trials gradual", n_gradual);
    char peer[512];
    snprintf(peer, sizeof peer, "%s", gradual);
    for (char *c = strstr(peer, "t.trial_id"); c; c = strstr(c + 1, "t.trial_id"))
        c[0] = 'u'; /* the same test for another trial u */
    snprintf(q, sizeof q,
             "SELECT COUNT(*) FROM trials t JOIN trial_intermediate_values i USING (trial_id)"
             " WHERE t.state='PRUNED' AND %s AND i.step = %s AND i.step BETWEEN 2 AND 6"
             " AND NOT EXISTS (SELECT 1 FROM trials u JOIN trial_intermediate_values j"
             " USING (trial_id) WHERE %s AND j.step = i.step"
             " AND j.intermediate_value > i.intermediate_value)",
             gradual, last_step, peer);
    cr_expect_eq(q_int(db, q), 0,
                 "a gradual trial was stopped while it pruned, by no gradual peer");
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM trials t WHERE t.state='PRUNED' AND NOT %s",
             gradual);
    cr_expect_geq(q_int(db, q), 1, "the dense trials still compete among themselves");
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE','PRUNED')"), 16);
    sqlite3_close(db);
}
