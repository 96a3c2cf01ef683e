/*
 * net.h — a network: weight layers (conv, then dense), softmax cross-entropy head.
 *
 * Layout, chosen for the BLAS calls that consume it (kann style):
 * - weights of layer l are row-major n_out x n_in (PyTorch's nn.Linear
 *   layout, so exported models need no transposes), followed by the n_out
 *   biases; all layers' parameters live in ONE contiguous block (params),
 *   gradients in a second block of the same shape (grads), so an optimizer
 *   can treat a layer, or the whole net, as one flat segment;
 * - activations for a batch of up to `cap` rows are allocated once, at init;
 *   forward and backward never allocate. act[0] is the input batch the caller
 *   fills (e.g. with pt_dataset_gather), act[l] the output of layer l-1 after
 *   ReLU, act[n_layers] the logits.
 *
 * Forward:  Z = X W^T (cblas_sgemm), then one fused pass adds the bias and
 *           applies ReLU in place (the pre-activation is never stored: ReLU's
 *           derivative is read back from the output, a > 0).
 * Backward: one pass turns logits into softmax - onehot (and the loss),
 *           then per layer, last to first: dX = dZ W (before W changes),
 *           a fused pass applies ReLU's mask and sums the bias gradient, and
 *           dW = dZ^T X. As soon as a layer's gradient is complete the
 *           optional hook runs, so an optimizer can update that layer while
 *           its weights are still in cache.
 *
 * Convolutional layers (conv.h has their passes) are weight layers of the
 * same sequence, so the params/grads blocks, the mask, the optimizer hook,
 * magnitude pruning and export need no second engine: a conv layer's weights
 * are the K x (C k k) matrix of PyTorch's Conv2d [K][C][k][k] layout and its
 * K biases, i.e. a "neuron" is a filter. Every conv layer precedes every
 * dense layer; ReLU and an optional max/avg pooling (window = stride) follow
 * each conv; the flatten before the first dense layer is implicit, because
 * act[] holds each sample NCHW-contiguous (PyTorch's flatten order). The
 * output layer is always dense. For pruning, a layer's weight row is seen as
 * in_ch groups of in_grp columns, one group per input channel (a previous
 * filter or neuron), so a filter and the next layer's matching columns are
 * masked and compacted together like a neuron (prune.h).
 */
#ifndef PT_NET_H
#define PT_NET_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "status.h"

#define PT_NET_MAX_LAYERS 17 /* weight layers: up to 16 hidden + output */
#define PT_NET_ALIGN 16      /* floats: every segment starts on 64 bytes */

/* Values reach files (model.md): always add at the end. */
typedef enum { PT_LAYER_DENSE = 0, PT_LAYER_CONV = 1 } pt_layer_kind;
typedef enum { PT_POOL_NONE = 0, PT_POOL_MAX = 1, PT_POOL_AVG = 2 } pt_pool_kind;

/* Geometry of a conv layer: input C x H x W, square kernel k, then ReLU and
 * pooling of ps x ps windows with stride ps (PyTorch's floor on the edge). */
typedef struct {
    int c, h, w;
    int k, stride, pad;
    int oh, ow;   /* convolution output */
    int hp, wp;   /* input with its zero padding */
    int pitch;    /* floats per output row in col/pre: wp at stride 1
                     ("wide": columns ow..wp-1 are junk, see conv.c), else ow */
    int pool, ps; /* pt_pool_kind and window; ps = 1 without pooling */
    int ph, pw;   /* layer output after pooling */
} pt_conv_geom;

/* A weight layer to build: dense (out neurons) or conv (out filters). */
typedef struct {
    int kind, out;
    int k, stride, pad, pool, ps; /* conv only */
} pt_layer_spec;

typedef struct {
    int kind; /* pt_layer_kind */
    int n_in, n_out;
    int in_ch, in_grp; /* n_in = in_ch x in_grp: a dense layer after dense
                          has in_grp 1, a conv layer k*k, the first dense
                          layer after a conv the previous output's ph*pw */
    pt_conv_geom g;    /* conv only */
    float *w, *b;      /* into pt_net.params */
    float *gw, *gb;    /* into pt_net.grads */
    size_t off;        /* offset of w in params; b follows at off + n_out*n_in
                          rounded up to PT_NET_ALIGN floats */
    size_t len;        /* floats from w to the end of b (alignment padding
                          included; padding stays zero) */
} pt_layer;

typedef struct {
    int n_layers;                     /* weight layers */
    int sizes[PT_NET_MAX_LAYERS + 1]; /* sizes[0] input ... sizes[n_layers] classes */
    pt_layer layer[PT_NET_MAX_LAYERS];
    float *params, *grads;
    size_t n_params; /* floats in params (with padding) */
    float *mask;     /* like params: 1 kept, 0 pruned; NULL
                        until pt_net_mask_enable() */
    /* Inverted-dropout rate on act[l] during training (l = 0 the input,
     * 1..n_layers-1 the hidden layers); 0 = none. */
    float drop[PT_NET_MAX_LAYERS];
    int cap;                           /* rows a batch may have */
    float *act[PT_NET_MAX_LAYERS + 1]; /* cap x sizes[l] each */
    float *delta[PT_NET_MAX_LAYERS];   /* cap x sizes[l+1]: dL/dZ of layer l
                                          (conv: dL/d its pooled output) */
    int shape[3];                      /* input C, H, W (an MLP: 1, 1, n_in) */
    /* Conv layers only, NULL elsewhere: */
    float *pad[PT_NET_MAX_LAYERS];   /* one chunk of zero-padded inputs,
                                        then of their gradients (conv.h) */
    float *col[PT_NET_MAX_LAYERS];   /* (C k k) x (cap oh ow) patches, then
                                        their gradient in the backward pass */
    float *pre[PT_NET_MAX_LAYERS];   /* K x (cap oh ow) after bias + ReLU,
                                        channel-major, then dL/dZ */
    int32_t *arg[PT_NET_MAX_LAYERS]; /* max pooling: index into pre of each
                                        pooled output's maximum */
    float *gemm_work; /* pt_sgemm's scratch for a dense layer's forward pass
                         (gemm.h), NULL when the build needs none */
    /* Sparse training (sptrain.h) while some layer's mask is fixed, else
     * NULL; owned by the trainer, never freed by pt_net_free. */
    struct pt_sptrain_s *sparse;
} pt_net;

/* Called by pt_net_backward once layer l's gradient (gw, gb) is complete and
 * its weights are no longer needed by the backward pass. */
typedef void (*pt_layer_hook)(void *ctx, pt_net *m, int l);

/* Builds a network n_in -> hidden[0] -> ... -> hidden[n_hidden-1] -> n_out
 * with buffers for batches of up to cap rows. Weights get He initialisation
 * (normal, std sqrt(2 / n_in)) from rng; biases start at 0.
 * Errors: PT_ERR_ARG for sizes < 1 or too many layers, PT_ERR_NOMEM. */
pt_status pt_net_init_dense(pt_net *m, int n_in, const int *hidden, int n_hidden, int n_out, int cap,
                      pt_rng *rng, pt_err *err);
/* Random initial weights (net.weight_init), fan_in = n_in (C k k for conv):
 *   UNIFORM     weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), what
 *               PyTorch's nn.Linear and nn.Conv2d start from (kaiming_uniform
 *               with a = sqrt(5));
 *   HE_NORMAL   weights N(0, 2/fan_in), biases 0 (He et al. 2015). */
typedef enum { PT_WEIGHTS_UNIFORM = 0, PT_WEIGHTS_HE_NORMAL = 1 } pt_weight_init;

/* Draws every layer's weights (and, UNIFORM, biases) from rng, layer by
 * layer, weights before biases. */
void pt_net_draw_weights(pt_net *m, pt_weight_init scheme, pt_rng *rng);

/* Builds a layer sequence spec[0..n) on inputs of shape C x H x W (the
 * last spec is the output layer: dense). Same initialisation as
 * pt_net_init_dense (He normal with fan-in n_in = C k k for conv, layer by
 * layer: pt_net_draw_weights HE_NORMAL), so an all-dense spec gives
 * pt_net_init_dense's network, bit for bit; training draws by
 * net.weight_init instead (train.c). rng NULL leaves every weight 0, for a
 * caller that fills them (a copy, a compacted or loaded network): drawing
 * LeNet-300-100's 266k normals costs ~5 ms, more than the evaluation that
 * builds such a copy.
 * Errors: PT_ERR_ARG naming the layer (a conv after a dense layer, a kernel
 * larger than its padded input, a pooling window larger than the conv
 * output, sizes < 1, too many layers), PT_ERR_NOMEM. */
pt_status pt_net_init(pt_net *m, const int shape[3], const pt_layer_spec *spec, int n, int cap,
                      pt_rng *rng, pt_err *err);

/* 1 when the network has a conv layer. */
int pt_net_has_conv(const pt_net *m);

/* The spec of layer l of m (to rebuild it, e.g. smaller). */
pt_layer_spec pt_layer_spec_of(const pt_net *m, int l);

/* Multiply-adds per sample of layer l at its full (dense) size: n_in n_out,
 * times oh ow for a conv layer. */
long pt_layer_macs(const pt_net *m, int l);

/* Safe on a zeroed struct. */
void pt_net_free(pt_net *m);

/* Forward pass over the first n (<= cap) rows of act[0]; logits land in
 * act[n_layers]. Evaluation mode: no dropout. */
void pt_net_forward(pt_net *m, int n);

/* Layer l alone, evaluation mode: act[l] -> act[l+1] for n rows (to time
 * a layer; pt_net_forward is the same, layer after layer). */
void pt_net_forward_layer(pt_net *m, int l, int n);

/* Training-mode forward pass: as pt_net_forward, but each act[l] with a
 * non-zero drop[l] is thinned by inverted dropout (kept units scaled by
 * 1/(1-rate)), in the same pass as the bias and ReLU. Each such layer takes
 * one 64-bit key from rng per call; unit i of the batch (row-major) is
 * dropped when a counter-based hash of (key, i) is below rate * 2^32
 * (net.c), so the rate holds to 2^-32, the masks are a pure function of the
 * seed (the same on every CPU), and the generator vectorizes.
 * pt_net_backward accounts for it. */
void pt_net_forward_train(pt_net *m, int n, pt_rng *rng);

/* Allocates the mask (all ones) if the network has none. PT_ERR_NOMEM. */
pt_status pt_net_mask_enable(pt_net *m, pt_err *err);

/* Softmax cross-entropy of the logits of the last forward pass against the
 * labels y[0..n); returns the mean loss and writes the number of correct
 * argmax predictions to *correct (when non-NULL). Does not modify logits. */
double pt_net_loss(const pt_net *m, int n, const int32_t *y, int *correct);

/* The same of n rows of c logits z (row-major) from anywhere, e.g. an
 * inference engine's output (infer.h). */
double pt_logits_loss(const float *z, int n, int c, const int32_t *y, int *correct);

/* Backward pass after pt_net_forward(m, n): fills grads with the gradient of
 * the mean softmax cross-entropy over the n rows, calling hook (if non-NULL)
 * for each layer from last to first. Returns the mean loss (the logits are left
 * as they are) and counts correct predictions as
 * pt_net_loss does. */
double pt_net_backward(pt_net *m, int n, const int32_t *y, int *correct, pt_layer_hook hook,
                       void *ctx);

#endif
