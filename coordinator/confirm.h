/*
 * confirm.h — the reference trial and the ablation + confirmation of a
 * study's winners (issue 11 §3-4; the shared contract is in README.md,
 * "Confirming the winner").
 *
 * Reference trial: every study runs first (and a resumed study that has none
 * runs next) the base trial config with pruning off and every regularizer
 * off — the true baseline TPE would rarely sample — like Optuna's
 * enqueue_trial: trial system attribute "fixed_params" (its params as a JSON
 * object) and user attribute pt_role = "baseline". It counts toward n_trials.
 *
 * Confirmation: for the best K COMPLETE strategies of the study (ranked by
 * the first objective through the query module's ranking, the reference
 * trial left out), S seeds (trial seed 1..S) of each variant
 *   hybrid               the strategy as it was sampled
 *   pruning_only         the same, regularization off
 *   regularization_only  the same, pruning off (prune.schedule "none")
 * and once per seed the baseline (the reference config, rank 0), in the
 * linked study "<name>/confirm" of the same DB, one trial per run, with user
 * attributes pt_variant, pt_rank (1..K, 0 baseline), pt_source_trial (the
 * strategy's trial number; the reference trial's for baseline, -1 when the
 * study has none) and pt_seed. The runs go through the scheduler's own loop
 * (a fixed job list, no sampling, no early stopping) on the same workers.
 * A rerun skips the runs already COMPLETE for the same (variant, rank,
 * source, seed); runs a killed run left RUNNING are FAIL and run again.
 *
 * "Off" means: prune.schedule = "none"; reg.l1 = reg.l2 = reg.dropout =
 * reg.dropout_input = reg.max_norm = 0, reg.l2_layers = [] and the rate of
 * every dropout layer of net.layers 0. Everything else (seed aside) is the
 * source config's.
 *
 * Errors: one line in err; PT_ERR_STOPPED when the study has no COMPLETE
 * strategy to confirm (nothing was run), PT_ERR_CONFIG for a name too long
 * for "/confirm".
 */
#ifndef COORD_CONFIRM_H
#define COORD_CONFIRM_H

#include "protocol.h"
#include <stdint.h>

#include "config.h"
#include "scheduler.h"
#include "status.h"
#include "study.h"

typedef enum {
    CONFIRM_HYBRID = 0,
    CONFIRM_PRUNING_ONLY = 1,
    CONFIRM_REG_ONLY = 2,
    CONFIRM_BASELINE = 3
} confirm_variant;

/* "hybrid", "pruning_only", "regularization_only", "baseline". */
const char *confirm_variant_name(confirm_variant v);

/* The one definition of the variants: cfg = src with variant v's keys off
 * (hybrid: none) and, when set_seed, seed = seed; p = cfg's params in sc's
 * space (confirm_point_of). PT_ERR_CONFIG when the result is not a valid
 * config (one line naming the variant). */
pt_status confirm_variant_make(const study_config *sc, confirm_variant v, const pt_config *src,
                               int set_seed, uint64_t seed, pt_config *cfg, study_point *p,
                               pt_err *err);

/* The point of sc's space that config cfg stands for: each parameter whose
 * condition holds takes cfg's value of its key (an element "key[k]": the
 * k-th value of the list). A value may lie outside the parameter's range
 * (the reference's 0 under a log range); a categorical value that is none
 * of the choices leaves the parameter out, as Optuna cannot store it. */
void confirm_point_of(const study_config *sc, const pt_config *cfg, study_point *p);

/* p with every value outside its parameter's distribution left out: what a
 * sampler may be told (TPE takes the log of a log-range value). */
void confirm_point_in_space(const study_config *sc, const study_point *p, study_point *out);

/* The reference trial of study sc as a scheduler job (sched_job_free frees it). */
pt_status confirm_reference_job(const study_config *sc, sched_job *job, pt_err *err);

/* Frees what a job holds. */
void sched_job_free(sched_job *job);

/* Runs the confirmation of study sc (already in sc->storage) on comm's
 * workers: top strategies x 3 variants x seeds + seeds baseline runs, minus
 * those done. o: the run's options (quiet, timeouts, pool). Prints what it
 * does on stderr unless quiet. */
pt_status confirm_run(proto_comm comm, const study_config *sc, int top, int seeds,
                      const sched_opts *o, sched_summary *sum, pt_err *err);

#endif
