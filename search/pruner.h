/*
 * pruner.h — early stopping: which running trials to stop, from the
 * per-epoch intermediate values their workers report.
 *
 * Pure logic (no MPI, no SQL): the scheduler feeds it every report and every
 * trial's end, and sends "stop" when it says so; the stopped trial then ends
 * PRUNED with its last value. Two rules, as Optuna 3.1 has them:
 *
 *   asha    asynchronous successive halving (Li et al. 2020; Optuna's
 *           SuccessiveHalvingPruner). Rung k sits at step
 *           min_resource * eta^(min_early_stopping_rate + k). A trial that
 *           reaches a rung records its value there and goes on only if that
 *           value is in the top 1/eta of all values recorded at the rung so
 *           far (itself included); while fewer than eta values are recorded
 *           it must be the best of them. With n_brackets > 1 it is Optuna's
 *           HyperbandPruner: bracket b uses min_early_stopping_rate + b, a
 *           trial's bracket is a fixed function of its number, weighted by
 *           Hyperband's budgets, and a trial competes only within its
 *           bracket. The default is one bracket (plain ASHA).
 *   median  the median stopping rule (Optuna's MedianPruner): once
 *           n_startup_trials trials are COMPLETE and past n_warmup_steps, a
 *           trial stops when the best of its values so far is worse than the
 *           median of the COMPLETE trials' values at the same step.
 *   none    never stops anything.
 *
 * Fair to pruning (the "compare" option of either rule, default
 * "schedule"). Optuna compares every trial with every other at the same
 * step, which judges a pruning trial on the very epochs its own schedule
 * removes weights: a gradual trial 60% of the way to 90% sparsity, or an
 * iterative one just after a round, dips below dense trials that will end
 * no better, and was stopped for it (87 of 100 trials of study_lenet.json).
 * So each value here is compared only with values of the same pool:
 *
 *   group   "schedule": the trial's prune.schedule (none, oneshot,
 *           iterative, gradual: four groups); "strategy": schedule and
 *           granularity (dense trials are one group whatever their
 *           granularity); "all": one group, and no phases (Optuna's rule).
 *   phase   at each step (epoch) a trial is in one of three phases, worked
 *           out from its config (pruner_window): dense warm-up (no pruning
 *           event yet), pruning (an epoch in which its schedule pruned: a
 *           one-shot's first fine-tuning epoch, every iterative round but
 *           the last round's later epochs, a gradual trial's epochs from
 *           prune.start_epoch to prune.end_epoch), fine-tuning (after its
 *           last pruning event). Dense and fine-tuning values form a pool
 *           per group; a value in the pruning phase is compared only with
 *           trials of its group that prune in exactly the same epochs (the
 *           same window): they are at the same point of the same dip, so
 *           no trial is stopped for the dip its own schedule causes, only
 *           for being below peers going through it too.
 *
 * Why groups and phases, not phases alone: fine-tuned sparse networks are
 * rightly below dense ones at the same epoch, and a sparsity constraint
 * makes the dense ones infeasible anyway, so pruned trials must not race
 * dense ones even after their dip; and within one schedule the searched
 * start/end epochs still move the dip, which the phase catches. Why the
 * same window, not just the same phase, while pruning: two gradual trials at
 * one epoch but with other windows are at different points of their cubic
 * ramps, and comparing them would stop the one whose ramp is steeper; and
 * why judge there at all: a first version passed those epochs unjudged,
 * which left a gradual trial pruning over 7 of 9 epochs never judged and cut
 * scripts/bench_asha's saving from 2.67x to 1.25x. The price is fewer rivals
 * per pool (the first values of a pool always go on), so "schedule" saves a
 * little less than "all"; scripts/bench_fair_asha measures both. (When the
 * window is searched, windows rarely repeat and the pruning epochs go
 * practically unjudged, which is the safe side.)
 *
 * The median rule's n_startup_trials counts COMPLETE trials of the trial's
 * group, and "the best value so far" is the best of the current phase (a
 * fine-tuning value is not excused by the dense value before the cut).
 *
 * A trial the pruner was not told about (pruner_trial) is in group "none"
 * with no pruning phase.
 *
 * The direction is the study's first objective's. As in Optuna, a NaN
 * stops its trial when it falls on a rung (asha) or when the trial has no
 * number among its values (median), and records nothing. Reports of a trial already told to stop
 * (the worker finishes the epoch it is in) are ignored, so they record nothing.
 *
 * Decisions depend only on the trials' configs and the sequence of reports
 * and ends, so resume rebuilds the state by telling it every stored trial's
 * config (pruner_trial, from its stored parameters), then replaying the
 * stored intermediate values in the order they were recorded (pruner_report,
 * ignoring the answers) and the stored trials' end states (pruner_finish).
 *
 * Cost: a report is O(values at its rung or step) for the sorted insert;
 * the decision itself is O(1). Memory: one record per trial plus every value
 * at the rungs (asha) or of COMPLETE trials (median).
 *
 * Errors: PT_ERR_NOMEM / PT_ERR_CONFIG (bad options), one line in err.
 */
#ifndef SEARCH_PRUNER_H
#define SEARCH_PRUNER_H

#include "config.h"
#include "sampler.h"
#include "status.h"
#include "study.h"

typedef struct pruner pruner;

/* A pruner of the study's kind (sc->pruner, with sc->asha / sc->median);
 * sc is read only here. */
pt_status pruner_new(pruner **out, const study_config *sc, pt_err *err);
void pruner_free(pruner *p);

/* Tells the pruner trial `number`'s config (its schedule, granularity and
 * pruning epochs), before its first report; also on resume, before the
 * stored reports are replayed. */
pt_status pruner_trial(pruner *p, int number, const pt_config *cfg, pt_err *err);

/* The steps (epochs, from 1) in which cfg's schedule prunes: [*first, *last],
 * both 0 when no pruning happens between two reports (no schedule, or a
 * one-shot/iterative config with finetune_epochs 0, or a gradual window
 * after the last epoch: the final prune comes after training). */
void pruner_window(const pt_config *cfg, int *first, int *last);

/* Trial `number` reported `value` at `step` (its epoch, from 1). *stop = 1
 * when it should stop now (at most once per trial). */
pt_status pruner_report(pruner *p, int number, int step, double value, int *stop, pt_err *err);

/* Trial `number` ended in state st (COMPLETE trials feed the median rule). */
pt_status pruner_finish(pruner *p, int number, trial_state st, pt_err *err);

/* The step of rung k of bracket b (asha), or -1 for other kinds. */
long pruner_rung_step(const pruner *p, int bracket, int k);
/* The bracket of trial `number` (0 unless asha with n_brackets > 1). */
int pruner_bracket(const pruner *p, int number);

#endif
