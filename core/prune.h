/*
 * prune.h — masks, pruning criteria, schedules and structured compaction.
 *
 * A pruned network is a pt_net with a mask (pt_net.mask, the layout of
 * params, 1 kept / 0 pruned). Every criterion below only ever adds zeros to
 * the mask, sets the pruned weights to exactly 0, and leaves the rest alone;
 * the optimizer keeps them at 0 from then on (see optim.h). Structured
 * pruning masks whole neurons — a hidden neuron's incoming row, its bias and
 * the next layer's matching column — and pt_net_compact() then builds the
 * physically smaller network for inference and export.
 *
 * Conv layers (net.h) take part as weight layers: magnitude pruning covers
 * their weights, and their "neurons" are filters. Filter pruning (Li et
 * al. 2017, "Pruning Filters for Efficient ConvNets") masks a filter's
 * k x k x C weights and its bias together with the next layer's matching
 * input channel (a k x k slice of every next filter, or after flatten the
 * channel's ph x pw dense columns), and compaction removes them.
 *
 * Over-pruning guard: no layer ever loses all its weights (layer-wise keeps
 * at least one; global keeps at least 1% of each layer, and at least one) and
 * no hidden layer loses all its neurons; output neurons are never removed.
 */
#ifndef PT_PRUNE_H
#define PT_PRUNE_H

#include "config.h"
#include "net.h"
#include "status.h"

/* Unstructured magnitude pruning to a total fraction `sparsity` of the
 * prunable weights (every layer, or every layer but the output when
 * include_output is 0): layer-wise gives each layer that fraction, global
 * ranks all prunable weights against one threshold. Ties are broken by
 * position (the k smallest (|w|, position) pairs go), so the result is
 * deterministic. Enables the mask if needed. */
pt_status pt_prune_magnitude(pt_net *m, double sparsity, int global, int include_output,
                             pt_err *err);

/* Structured pruning: in every hidden layer, masks the round(fraction * n)
 * neurons with the smallest incoming-weight norm (L2 or L1), at least one
 * neuron left per layer. */
pt_status pt_prune_neurons(pt_net *m, double fraction, pt_norm norm, pt_err *err);

/* The same for conv layers only: in every conv layer, masks the
 * round(fraction * K) filters with the smallest weight norm, at least one
 * left per layer. Dense layers are left alone. */
pt_status pt_prune_filters(pt_net *m, double fraction, pt_norm norm, pt_err *err);

/* Prunes to `target` with the config's granularity (dispatches to the
 * functions above). With prune.layer_sparsity, the k-th pruned layer (conv
 * layers for "filter", hidden layers for "neuron", prunable weight layers
 * for "layer") goes to layer_sparsity[k] * target / prune.sparsity: the
 * schedule runs on prune.sparsity and every layer follows it in proportion,
 * reaching its own final fraction when target reaches prune.sparsity. */
pt_status pt_prune_to(pt_net *m, const pt_prune_config *p, double target, pt_err *err);

/* Scratch memory of magnitude pruning (a list of candidate positions, at
 * most one per prunable weight), kept between pruning events so that a
 * schedule that prunes every few steps allocates nothing after its first
 * event. Start from {0}; free with pt_prune_ws_free. */
typedef struct {
    uint32_t *cand;
    size_t cap;
} pt_prune_ws;

/* pt_prune_to with a reusable workspace (pt_prune_to makes a temporary
 * one). Cost of a magnitude event: three passes over the prunable weights
 * (radix select, prune.c), no sort. */
pt_status pt_prune_to_ws(pt_net *m, const pt_prune_config *p, double target, pt_prune_ws *ws,
                         pt_err *err);
void pt_prune_ws_free(pt_prune_ws *ws);

/* Zhu & Gupta (2017): s_t = s_f + (s_i - s_f) (1 - (t - t0) / span)^3 for
 * t0 <= t <= t0 + span; s_i before t0, s_f after. */
double pt_gradual_sparsity(double s_i, double s_f, long t, long t0, long span);

/* Target after round r (1-based) of k iterative rounds that each prune the
 * same fraction of the remaining weights: 1 - (1 - s_f)^(r / k). */
double pt_iterative_sparsity(double s_f, int r, int k);

/* Exact-zero counts of the weights (biases excluded). */
typedef struct {
    long weights[PT_NET_MAX_LAYERS], zeros[PT_NET_MAX_LAYERS];
    long total_weights, total_zeros;
    int neurons[PT_NET_MAX_LAYERS]; /* live neurons per layer output (see
                                       pt_net_compact for "live") */
} pt_sparsity;

void pt_sparsity_of(const pt_net *m, pt_sparsity *s);
/* Fraction of the weights that are exactly zero. */
double pt_sparsity_total(const pt_net *m);

/* Builds in dst (cap rows per batch) the network with every dead hidden
 * neuron removed: a neuron whose incoming weights are all zero outputs the
 * constant relu(bias), which is folded into the next layer's biases; a
 * neuron whose outgoing weights are all zero affects nothing. A conv filter
 * is dropped when its outgoing channel is all zero, or its weights are zero
 * and its bias <= 0 (a constant positive map is kept, not folded: the next
 * conv's padding would make it position-dependent). Output neurons always
 * stay. dst computes the same logits as src (up to float rounding of
 * the folded biases). dst has no mask. */
pt_status pt_net_compact(const pt_net *src, pt_net *dst, int cap, pt_err *err);

#endif
