/*
 * pbt_lineage.h — a PBT study's lineages, read from its loaded trials
 * (coordinator/sched_pbt.c records each member-interval as a trial whose
 * user attribute pbt_parent is the trial its checkpoint came from).
 *
 * Shared by `prunetune strategy` (cli/cmd_strategy.c), which prints a
 * winner's lineage and writes its replay config, and the confirmation of a
 * PBT study (coordinator/confirm.c), which re-runs that replay over seeds:
 * the schedule PBT found, trained from epoch 0 in one run.
 *
 * The replay config of a lineage lin[0..n) (oldest first): the last trial's
 * stored config without the continuation keys (train.first_epoch,
 * stop_epoch, keep_optim, net.init), the first interval's values in the
 * plain keys and, for a numeric parameter that changes along the lineage,
 * the per-epoch list schedule.l2 / l1 / lr / sparsity of reg.l2, reg.l1,
 * train.lr and prune.sparsity (core/schedule.h). It trains bit for bit as
 * the lineage did (train.h: with train.sparse "on" or "off"), except for a
 * changing parameter with no per-epoch key (dropout, a categorical): the
 * config holds its last value, and `changed` is told its name.
 */
#ifndef QUERY_PBT_LINEAGE_H
#define QUERY_PBT_LINEAGE_H

#include "query.h"

/* 1 when t was recorded by a PBT run (its trials carry pbt_member and
 * pbt_start_epoch). */
int query_is_pbt(const query_trials *t);

/* The index of the user attribute name in t->attr, -1 when absent; and a
 * trial's value of attribute index a (NaN when absent). */
int query_attr_index(const query_trials *t, const char *name);
double query_attr_of(const query_trial *tr, int a);

/* The lineage of w back through pbt_parent, oldest first, in *lin (the
 * caller frees it); returns its length, or -1 when out of memory. */
int query_pbt_lineage(const query_trials *t, const query_trial *w, const query_trial ***lin);

/* The replay config of lin[0..n) (see the top) as JSON text the caller
 * frees; config is lin[n-1]'s stored config. NULL when config is not a
 * JSON object or memory runs out. changed (may be NULL) is called with each
 * changing parameter the config cannot schedule. */
char *query_pbt_replay(const query_trials *t, const query_trial *const *lin, int n,
                       const char *config, void (*changed)(const char *param, void *ctx),
                       void *ctx);

/* query_pbt_replay of w's whole lineage, with no note of what changes:
 * the config a confirmation re-runs for member-interval w (config is w's
 * stored config). NULL as query_pbt_replay. */
char *query_pbt_replay_of(const query_trials *t, const query_trial *w, const char *config);

#endif
