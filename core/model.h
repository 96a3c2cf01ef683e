/*
 * model.h — a trained network saved as a NumPy .npz, and loaded back.
 *
 * The file is plain NumPy (see npz.h): numpy.load("model.npz") opens it with
 * no prunetune code. The layout is documented and versioned in
 * schemas/model.md; in short, per weight layer l: w{l} float32 (n_out, n_in),
 * b{l} float32 (n_out,), and for a pruned network mask{l} uint8 (n_out, n_in)
 * and bmask{l} uint8 (n_out,); the scaler as scale_offset, scale_mul float32
 * (dim,); and meta, a uint8 array of UTF-8 JSON: format, version, layer
 * sizes, the resolved trial config, the pruning/regularization summary, the
 * metrics measured at training time and the class names. A conv net
 * (format version 2) stores a conv layer's weights as (K, C, k, k) and adds
 * meta.input_shape and meta.layers (kernel, stride, padding, pooling).
 *
 * Optionally (pt_model_info.optim, a run to be continued: a PBT checkpoint)
 * the optimizer state, shaped as the weights: optim_m_w{l}, optim_m_b{l}
 * (SGD's velocity or Adam's first moment) and for Adam optim_v_w{l},
 * optim_v_b{l}, with meta.optim = {"optimizer": "sgd"|"adam", "steps": t}.
 * Readers that do not know these arrays skip them, so the version stays.
 *
 * The network is saved as trained, uncompacted: pruned weights are stored as
 * exact zeros under a mask, so loading gives back the same pt_net bit for bit
 * and evaluation reproduces the training-time test accuracy exactly (the
 * compacted network of pt_net_compact computes the same logits only up to
 * the rounding of its folded biases). meta.strategy.live_neurons says how
 * small the compacted network would be.
 *
 * Errors (one line, starting with the file name): PT_ERR_IO when the file
 * cannot be read or written; PT_ERR_FORMAT when it is not an .npz, truncated,
 * corrupted, not a prunetune model ("m.npz: not a prunetune model (no 'meta'
 * array)"), from a newer format version, or has an array of the wrong dtype or
 * shape; PT_ERR_NOMEM.
 */
#ifndef PT_MODEL_H
#define PT_MODEL_H

#include "config.h"
#include "data.h"
#include "net.h"
#include "optim.h"
#include "status.h"

#define PT_MODEL_FORMAT "prunetune-model"
#define PT_MODEL_VERSION 2 /* bump only for changes old readers cannot skip;
                              2: conv layers (written only by conv nets) */

/* What training measured, stored in meta.metrics (NAN / 0 when unknown). */
typedef struct {
    double test_acc, test_loss, val_acc;
    int n_test;               /* test rows behind test_acc */
    int n_classes;            /* entries of class_names */
    char *const *class_names; /* class-id order, or NULL (numeric labels) */
    const pt_optim *optim;    /* optimizer state to save for a run that continues
                                 this one (train.keep_optim), or NULL */
} pt_model_info;

/* Writes net (weights, biases, mask if any), the scaler it was trained with,
 * cfg and info to path (atomically: a failed save leaves no file). net is
 * not modified. */
pt_status pt_model_save(const char *path, const pt_net *net, const pt_scaler *sc,
                        const pt_config *cfg, const pt_model_info *info, pt_err *err);

typedef struct {
    pt_net net;       /* as saved (mask included); batches of up to net.cap rows */
    pt_scaler scaler; /* as saved */
    pt_config cfg;    /* the resolved trial config stored in meta */
    double test_acc;  /* meta.metrics, NAN when the file has none */
    double test_loss;
    double val_acc;
    int n_test;         /* 0 when unknown */
    int eval_batch;     /* rows per batch at training time = net.cap */
    int n_classes;      /* entries of class_names */
    char **class_names; /* NULL when the data had numeric labels */
    char *meta;         /* the meta JSON text, NUL-terminated */
    pt_optim optim;     /* the saved optimizer state (rule, step count,
                           momentum/moments laid out like net.params; the
                           hyper-parameters are meta.config's); n == 0 when
                           the file has none */
} pt_model;

/* Reads a model written by pt_model_save (any version <= PT_MODEL_VERSION).
 * The network gets the batch capacity it had when saved (meta.eval_batch),
 * so pt_evaluate runs the same batches as at training time. On failure *m is
 * left zeroed. */
pt_status pt_model_load(pt_model *m, const char *path, pt_err *err);

/* Safe on a zeroed struct. */
void pt_model_free(pt_model *m);

#endif
