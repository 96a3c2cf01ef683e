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
 * The direction is the study's first objective's. As in Optuna, a NaN
 * stops its trial when it falls on a rung (asha) or when the trial has no
 * number among its values (median), and records nothing. Reports of a trial already told to stop
 * (the worker finishes the epoch it is in) are ignored, so they record nothing.
 *
 * Decisions depend only on the sequence of reports and ends, so resume
 * rebuilds the state by replaying the stored intermediate values in the
 * order they were recorded (pruner_report, ignoring the answers) and the
 * stored trials' end states (pruner_finish).
 *
 * Cost: a report is O(values at its rung or step) for the sorted insert;
 * the decision itself is O(1). Memory: one record per trial plus every value
 * at the rungs (asha) or of COMPLETE trials (median).
 *
 * Errors: PT_ERR_NOMEM / PT_ERR_CONFIG (bad options), one line in err.
 */
#ifndef COORD_PRUNER_H
#define COORD_PRUNER_H

#include "sampler.h"
#include "status.h"
#include "study.h"

typedef struct pruner pruner;

/* A pruner of the study's kind (sc->pruner, with sc->asha / sc->median);
 * sc is read only here. */
pt_status pruner_new(pruner **out, const study_config *sc, pt_err *err);
void pruner_free(pruner *p);

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
