/*
 * init.h — net.init: the saved model a trial starts from (pruning after
 * training).
 *
 * pt_init_load() reads cfg->net.init with pt_model_load (any format version
 * it reads: a prunetune .npz or one written by scripts/torch2npz.py) and
 * checks that its network is exactly the one the config describes for the
 * data (pt_net_specs for dim features and n_classes classes): the same
 * weight layers with the same sizes and, for conv layers, the same kernel,
 * stride, padding and pooling. The config keeps describing the shape
 * (net.hidden / net.layers) instead of taking it from the file, so that its
 * cross-key rules (how many rates reg.dropout and fractions
 * prune.layer_sparsity hold) and a study's search space are settled before
 * any file is read; the default net.hidden [300, 100] is LeNet-300-100's.
 *
 * The model's scaler belongs to its weights: the network was trained on
 * inputs scaled that way (for a PyTorch model, ToTensor's x / 255 and maybe
 * a Normalize), and a scaler refitted on another split would shift them. So
 * a run from net.init scales its inputs with the model's scaler (pt_train
 * and the models it saves).
 *
 * Errors are one line starting "net.init: FILE", and are all PT_ERR_CONFIG
 * (bad input: exit 2) but PT_ERR_NOMEM: the model's own load errors
 * ("net.init: m.npz: cannot open: No such file or directory") and a shape
 * mismatch naming both shapes:
 *   "net.init: m.npz holds a 784-300-100-10 network, but net.hidden/net.layers
 *    describe 784-200-10"
 *   "net.init: m.npz takes 784 features to 10 classes, but the data has 4
 *    features and 3 classes"
 */
#ifndef PT_INIT_H
#define PT_INIT_H

#include "config.h"
#include "model.h"
#include "status.h"

/* Loads cfg->net.init into *m and checks it against cfg's network for data
 * of dim features and n_classes classes. On failure *m is zeroed. */
pt_status pt_init_load(pt_model *m, const pt_config *cfg, int dim, int n_classes, pt_err *err);

/* Checks a loaded model against cfg's network for dim features and
 * n_classes classes; path names the file in the message. */
pt_status pt_init_check(const pt_model *m, const char *path, const pt_config *cfg, int dim,
                        int n_classes, pt_err *err);

/* The shape of a layer list as text ("784-300-100-10"; conv layers as
 * "1x28x28-conv6k5p2/max2-..."), cut to fit cap bytes. */
void pt_init_shape_text(const int shape[3], const pt_layer_spec *spec, int n, int dim, char *buf,
                        size_t cap);

#endif
