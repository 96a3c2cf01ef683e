/*
 * train.h — the training loop: mini-batch SGD/Adam over a pt_data.
 *
 * pt_train() builds the network from the config, trains it for
 * train.epochs epochs and evaluates it; the caller gets the trained network
 * (to inspect, prune or export) and a result struct. Per epoch it calls an
 * optional callback with the epoch's figures: that is how `prunetune train`
 * prints progress and how a search worker will report intermediate values
 * and obey a stop request (the callback returns non-zero to stop).
 *
 * Determinism: weights come from the stream pt_rng_derive(seed, PT_STREAM_INIT)
 * and batch order from pt_rng_derive(seed, PT_STREAM_SHUFFLE); with one BLAS
 * thread the same config gives bit-identical weights on one machine.
 *
 * Timing: samples_per_s counts only the training batches (gather, forward,
 * backward, update), not evaluation, as the PyTorch peer benchmark does.
 *
 * Pruning schedules (prune.schedule) and their epochs:
 *   none       train.epochs
 *   oneshot    train.epochs, prune to the target, prune.finetune_epochs
 *   iterative  train.epochs, then prune.rounds x (prune to
 *              pt_iterative_sparsity(r), optional rewind, finetune_epochs)
 *   gradual    train.epochs, pruning every prune.frequency steps between
 *              prune.start_epoch and prune.end_epoch (pt_gradual_sparsity)
 * Each fine-tuning phase runs the learning-rate schedule again over its own
 * length (learning-rate rewinding, Renda et al. 2020).
 *
 * Continuing a run (a PBT member's interval, coordinator/sched_pbt.c):
 * train.first_epoch F > 0 starts from net.init's weights and mask at epoch
 * F, train.stop_epoch S ends after epoch S (no final prune owed unless S is
 * the schedule's end). Batch order, dropout draws, the learning rate and
 * gradual pruning's progress are those of a run from epoch 0 at epoch F;
 * the optimizer state is net.init's when the model carries one of the same
 * rule (saved by a run with train.keep_optim, model.h), else it starts
 * empty. A chain of continued runs that carry their state thus trains bit
 * for bit as one run from epoch 0 with the lineage's schedule.* keys does.
 * train.optim_reset N clears the state at every epoch that is
 * a multiple of N (how a chain that did not carry it is replayed).
 */
#ifndef PT_TRAIN_H
#define PT_TRAIN_H

#include "config.h"
#include "data_open.h"
#include "net.h"
#include "model.h"
#include "status.h"

enum { PT_STREAM_INIT = 1, PT_STREAM_SHUFFLE = 2, PT_STREAM_DROPOUT = 3 }; /* append at the end */

typedef struct {
    int epoch;            /* 1-based */
    int epochs;           /* planned epochs */
    double lr;            /* learning rate used in this epoch */
    double loss;          /* mean training loss over the epoch's batches */
    double train_acc;     /* accuracy on the training batches as they ran */
    double val_loss;      /* NAN when there are no validation rows */
    double val_acc;       /* NAN when there are no validation rows */
    double samples_per_s; /* training samples / training time of this epoch */
    double sparsity;      /* fraction of weights that are exactly zero */
    double elapsed_s;     /* since training started */
} pt_epoch_stats;

/* Return non-zero to stop training after this epoch. */
typedef int (*pt_epoch_fn)(void *ctx, const pt_epoch_stats *s);

typedef struct {
    int epochs;                 /* epochs run */
    int stopped;                /* 1 when the callback stopped the run */
    double loss;                /* last epoch's mean training loss */
    double val_acc, val_loss;   /* NAN without validation rows */
    double test_acc, test_loss; /* NAN without a test set */
    double sparsity;            /* final fraction of zero weights */
    double train_samples_per_s; /* over all epochs */
    double train_s;             /* time in training batches */
    double wall_s;              /* whole pt_train call */
    double eval_s;              /* of it, evaluating (validation each epoch, test) */
    double prune_s;             /* of it, pruning at epoch boundaries and after the
                                   last epoch, and entering sparse mode (sptrain.h);
                                   gradual events inside an epoch count in train_s */
    long sparse_steps[PT_NET_MAX_LAYERS]; /* steps each weight layer trained
                                             with sparse kernels (sptrain.h) */
    pt_optim optim; /* train.keep_optim: the optimizer state at the end, dense
                       layout, for pt_model_info.optim; the caller frees it
                       with pt_optim_free. Zeroed otherwise (freeing is safe). */
} pt_train_result;

/* Trains a network described by cfg on data. On PT_OK, or PT_ERR_DIVERGED,
 * *net holds the network (caller frees it with pt_net_free); on other errors
 * *net is zeroed. PT_ERR_DIVERGED: a batch loss was NaN or infinite (the
 * message names the epoch and batch); res holds the figures so far. */
pt_status pt_train(const pt_config *cfg, const pt_data *data, pt_net *net,
                   pt_epoch_fn on_epoch, void *ctx, pt_train_result *res, pt_err *err);

/* As pt_train, but starting from init, a net.init model already loaded and
 * checked (init.h) — its weights, its mask when it has one, and its scaler
 * in place of the data's — instead of random weights; init NULL is
 * pt_train. pt_train itself loads cfg->net.init when the key is set; this is
 * for callers that keep the model across runs (a search worker). Training
 * epochs then fine-tune: train.epochs (may be 0) run before a oneshot or
 * iterative schedule's first prune, so with 0 a oneshot prunes the loaded
 * network at once and fine-tunes prune.finetune_epochs; with no epoch at all
 * the result is the loaded network evaluated (pruned, if the schedule owes a
 * prune). */
pt_status pt_train_from(const pt_config *cfg, const pt_data *data, const pt_model *init,
                        pt_net *net, pt_epoch_fn on_epoch, void *ctx, pt_train_result *res,
                        pt_err *err);

/* Epochs a config trains for, pruning phases included. */
int pt_train_total_epochs(const pt_config *cfg);

/* Accuracy and mean loss of net on rows idx[0..n) of ds (all rows when idx
 * is NULL; then n is ignored). An MLP is run through an inference engine
 * (infer.h, kernels by density, no timing) in chunks of 256 rows: its dead
 * neurons compacted away and its layers at most PT_INFER_SPARSE_DENSITY
 * dense costing their surviving weights, so evaluating a pruned network
 * costs what running it does, not a dense pass. Conv nets (and an MLP
 * whose engine could not be allocated) run pt_net_forward in batches of
 * net->cap rows. The two paths give the logits up to float rounding; which
 * one runs depends only on the network, so a seed still gives one result. */
void pt_evaluate(pt_net *net, const pt_dataset *ds, const pt_scaler *sc,
                 const uint32_t *idx, int n, double *acc, double *loss);

#endif
