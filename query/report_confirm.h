/*
 * report_confirm.h — the confirmation runs of a study and what they say:
 * the figures per variant over seeds, the paired tests, the verdict.
 *
 * The runs live in the linked study "<name>/confirm" of the same DB, which
 * `prunetune confirm` (or the study key "confirm") writes: one trial per run, with
 * user attributes pt_variant ("baseline", "regularization_only",
 * "pruning_only", "hybrid"), pt_rank (1..K; 0 for the baseline, shared by
 * every rank), pt_source_trial (the main study's trial number) and pt_seed,
 * and the metrics of any trial (pt_trial_metrics, or the user attributes
 * val_acc/test_acc/sparsity/latency_b1_us when a DB has no prunetune tables).
 * Only COMPLETE runs count; a (variant, rank, seed) run recorded twice counts
 * once (the later one). A run without pt_variant/pt_rank/pt_seed is ignored.
 *
 * Variants are report_family values: baseline, regularization only
 * (REPORT_REG), pruning only (REPORT_PRUNE), hybrid. Comparisons pair two
 * variants of one rank by seed (the baseline of rank 0 pairs with any
 * rank) and give the paired t-test and the Wilcoxon signed-rank test of
 * core/stats.h on accuracy as a fraction (differences shown in points).
 *
 * Reading never writes. report_confirm_free releases a loaded struct (safe
 * on a zeroed one).
 */
#ifndef QUERY_REPORT_CONFIRM_H
#define QUERY_REPORT_CONFIRM_H

#include <stddef.h>

#include "report_data.h"
#include "stats.h"
#include "store.h"

#define REPORT_CONFIRM_SUFFIX "/confirm"

/* The metrics summarised per variant. */
typedef enum {
    CONFIRM_VAL_ACC = 0,
    CONFIRM_TEST_ACC = 1,
    CONFIRM_SPARSITY = 2,
    CONFIRM_LATENCY = 3
} report_confirm_metric;
#define CONFIRM_N_METRICS 4
/* "val_acc", "test_acc", "sparsity", "latency_b1_us" */
extern const char *const report_confirm_metric_names[CONFIRM_N_METRICS];

typedef struct {
    int number;
    trial_state state;
    report_family variant;
    int rank, source_trial, seed;
    double m[CONFIRM_N_METRICS]; /* NAN = not measured */
} report_confirm_run;

typedef struct report_confirm {
    char name[STUDY_NAME_MAX + 16]; /* "<study>/confirm" */
    int n_runs;
    report_confirm_run *runs; /* number order */
    int max_rank;             /* highest pt_rank seen */
    /* per rank 0..max_rank: the strategy in words ("gradual global 90% +
     * L1 1e-05"), from the config of the rank's hybrid run (baseline's for
     * rank 0); "" when none is stored */
    char (*strategy)[160];
} report_confirm;

/* Reads "<main_name>/confirm" through an open store (the caller's read
 * transaction). *found = 0 and c zeroed when the DB has no such study. */
pt_status report_confirm_read(store *st, const char *main_name, report_confirm *c, int *found,
                              pt_err *err);
/* The same from the file at path (opened read-only, closed again). */
pt_status report_confirm_load(report_confirm *c, const char *path, const char *main_name,
                              int *found, pt_err *err);
void report_confirm_free(report_confirm *c);

/* "baseline", "regularization_only", "pruning_only", "hybrid" (the stored
 * names); NULL for another family. */
const char *report_confirm_variant_name(report_family v);

/* The COMPLETE runs of (rank, v) — the baseline's are rank 0 whatever rank
 * says — one per seed: the metric into vals and the seed into seeds (either
 * may be NULL), at most cap. Returns how many (metric NAN included). */
int report_confirm_values(const report_confirm *c, int rank, report_family v,
                          report_confirm_metric m, double *vals, int *seeds, int cap);
/* Mean, sd and 95% CI of the metric over the seeds of (rank, v). */
pt_stats_summary report_confirm_summary(const report_confirm *c, int rank, report_family v,
                                        report_confirm_metric m);

typedef struct {
    pt_stats_ttest t;           /* of a - b, by seed */
    pt_stats_wilcoxon_result w; /* of a - b, by seed */
} report_confirm_cmp;
/* Variant a vs variant b of one rank, paired by seed. */
report_confirm_cmp report_confirm_compare(const report_confirm *c, int rank, report_family a,
                                          report_family b, report_confirm_metric m);

/* The accuracy the comparisons use: test accuracy when the runs measured
 * it (held out from the search, so not biased by the selection of the
 * strategy), else validation accuracy. */
report_confirm_metric report_confirm_accuracy(const report_confirm *c);
/* The rank confirming main-study trial `number` (its hybrid runs), 0 when
 * it is the baseline's source, -1 when it has no confirmation runs. */
int report_confirm_rank_of(const report_confirm *c, int number);
/* Number of distinct seeds with a COMPLETE run of any variant at rank. */
int report_confirm_seeds(const report_confirm *c, int rank);

/* A strategy in words from a trial config JSON: schedule, granularity and
 * target sparsity, then each regularizer that is on; "no pruning, no
 * regularization" when neither; "" when the config does not parse. */
void report_strategy_text(const char *config_json, char *buf, size_t cap);

/* What the verdict is made of (accuracy differences as fractions). */
typedef struct {
    const char *strategy;    /* the hybrid's strategy in words */
    const char *metric;      /* "test accuracy" / "validation accuracy" */
    double min_sparsity;     /* the hybrid's lowest sparsity over the seeds; NAN unknown */
    pt_stats_ttest vs_prune; /* hybrid - pruning only */
    pt_stats_ttest vs_reg;   /* hybrid - regularization only (n = 0: not run) */
    double latency_hybrid, latency_baseline; /* mean us; NAN unknown */
} report_verdict_in;

/* The verdict in one sentence: the hybrid against pruning alone — beats,
 * loses to (significant: two-sided paired t-test p < 0.05, i.e. the 95% CI
 * of the difference excludes 0) or "is not significantly different from"
 * — with the difference in points, its CI, p and the number of seeds;
 * then its latency against the baseline's and the comparison with
 * regularization alone. Fewer than 2 paired seeds say so instead. Returns
 * the length written (truncated to cap like snprintf). */
int report_verdict_text(const report_verdict_in *v, char *buf, size_t cap);
/* report_verdict_text for rank `rank` of the loaded runs. */
int report_confirm_verdict(const report_confirm *c, int rank, char *buf, size_t cap);

#endif
