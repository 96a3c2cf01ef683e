/*
 * sampler.h — proposes the parameters of the next trial (ask/tell, as Optuna).
 *
 * The coordinator asks for trial `number`'s point when a worker is free and
 * tells the sampler how each trial ended. A sampler therefore sees every
 * finished trial and knows which of its proposals are still running (asked,
 * not told): a model-based sampler (TPE, later) models the finished ones and
 * treats the running ones as pending, so free workers don't all get the same
 * point. On resume the coordinator replays the stored trials through
 * sampler_tell() before the first ask.
 *
 * Determinism: a proposal depends only on the study seed, the trial number
 * and what was told before it — never on wall time or worker order.
 */
#ifndef SEARCH_SAMPLER_H
#define SEARCH_SAMPLER_H

#include "status.h"
#include "study.h"

/* Optuna's TrialState values; stored as their names. Always add at the end. */
typedef enum {
    TRIAL_RUNNING = 0,
    TRIAL_COMPLETE = 1,
    TRIAL_PRUNED = 2,
    TRIAL_FAIL = 3,
    TRIAL_WAITING = 4
} trial_state;

typedef struct sampler sampler;

/* A sampler of the study's kind (s->sampler). s must outlive it. */
pt_status sampler_new(sampler **out, const study_config *s, pt_err *err);
void sampler_free(sampler *sm);

/* Proposes the point of trial `number`. PT_ERR_STOPPED when the sampler has nothing
 * left to propose (a grid whose every point is done or running). */
pt_status sampler_ask(sampler *sm, int number, study_point *out, pt_err *err);

/* Trial `number` with point p ended in state st; values[0..n_objectives) are its
 * objective values (COMPLETE; PRUNED: its last reported value; FAIL: ignored), followed,
 * when the study has constraints, by its constraint values
 * values[n_objectives..n_objectives + n_constraints) (study.h; TPE uses them, random and
 * grid ignore them). */
void sampler_tell(sampler *sm, int number, const study_point *p, trial_state st,
                  const double *values);

/* Name of a state as Optuna stores it ("RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING"). */
const char *trial_state_name(trial_state st);

#endif
