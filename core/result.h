/*
 * result.h — a training run's final metrics as one JSON object.
 *
 * `prunetune train` prints this object and a search worker sends it to the
 * coordinator, which stores it with the trial; building it in one place keeps
 * the two identical, so a trial's stored metrics are exactly what training
 * its config by hand prints. Keys: status ("ok" | "failed"), reason (when
 * failed), val_acc, test_acc, loss, val_loss, test_loss, epochs,
 * train_samples_per_s, train_s, peak_rss_bytes, wall_s, seed, params,
 * sparsity, and when training succeeded the inference cost of the final
 * network (pt_infer_cost_report: nnz, bytes, FLOPs, latency, per layer) or
 * cost_error. A figure that is NaN/inf (no validation rows, a diverged run) is
 * null. Memory: the caller owns the returned object (cJSON_Delete); NULL when
 * out of memory.
 */
#ifndef PT_RESULT_H
#define PT_RESULT_H

#include <cjson/cJSON.h>

#include "config.h"
#include "net.h"
#include "status.h"
#include "train.h"

/* st is pt_train's status (PT_OK or PT_ERR_DIVERGED); err its message. */
cJSON *pt_result_json(const pt_config *cfg, const pt_net *net, const pt_train_result *r,
                      pt_status st, const pt_err *err);

/* The numbers of a result, by name: PT_METRIC_TRAINED for what training
 * itself measures, PT_METRIC_COST for the inference-cost report's (which a
 * worker measures only when an objective or constraint needs it), 0 for a
 * name a result does not have. One list, read by the study's constraint
 * check and by the worker. */
enum { PT_METRIC_TRAINED = 1, PT_METRIC_COST = 2 };
int pt_result_metric_kind(const char *name);
/* The i-th of those names (i from 0), NULL past the last. */
const char *pt_result_metric_name(int i);

/* Adds k: v to o, or k: null when v is not finite (JSON has no NaN). */
void pt_json_add_num(cJSON *o, const char *k, double v);

#endif
