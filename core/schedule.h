/*
 * schedule.h — hyper-parameters that vary over epochs (config key
 * "schedule", pt_schedule_config in config.h): the strategy a PBT lineage
 * found (search/pbt.h), replayed by `prunetune train`.
 *
 * pt_train() trains with a copy of its config whose reg.l2, reg.l1,
 * train.lr and prune.sparsity are set from the schedule before each epoch
 * (pt_schedule_apply); everything else reads that copy as it read the
 * config, so a schedule whose values never change trains bit for bit as the
 * plain keys do.
 *   l2, l1     the strength used by every update of that epoch
 *   lr         the base rate of that epoch: train.lr_schedule (step, cosine)
 *              still shapes it within its phase
 *   sparsity   gradual pruning's final target from that epoch on (a target
 *              that moves); a pruning event never goes below the sparsity
 *              already reached, so a lower value only stops further pruning
 * Pure functions; nothing allocated.
 */
#ifndef PT_SCHEDULE_H
#define PT_SCHEDULE_H

#include "config.h"

/* The value in force in 0-based epoch e: the last entry whose epoch <= e,
 * or dflt when there is none (or the schedule is empty). */
double pt_schedule_at(const pt_hp_schedule *s, int e, double dflt);

/* Sets live's scheduled keys for epoch e from base (base's plain keys are
 * the values before the first entry). */
void pt_schedule_apply(pt_config *live, const pt_config *base, int e);

#endif
