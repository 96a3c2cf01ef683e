/*
 * prune.c — see prune.h.
 *
 * Magnitude thresholds by selection, not sorting. A gradual schedule prunes
 * every prune.frequency steps (every 50 in a typical study), so an event
 * must cost a small fraction of 50 training steps: sorting (|w|, position)
 * pairs of LeNet-300-100's 266k weights took ~20 ms and a 3 MB malloc per
 * event. Instead the k-th smallest key is found by a three-level radix
 * select over the bits of |w| (for floats >= 0 the bit patterns order as
 * the values): a histogram of the top 11 bits over all weights, then of the
 * next 10 and the last 10 bits over the few candidates of the chosen bin,
 * kept in a position list of the reused workspace. The chosen set is the
 * one the sort chose, exactly: every key strictly below the threshold key
 * t, then the keys equal to t in position order until k are taken (ties are
 * broken by position, which matters once many weights are exactly zero).
 */
#include "prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Only the neuron ranking still sorts: n_out entries per layer. */
typedef struct {
    float key;
    uint32_t pos; /* neuron index */
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void prune_at(pt_net *m, size_t pos)
{
    m->mask[pos] = 0.0f;
    m->params[pos] = 0.0f;
}

static int prunable(const pt_net *m, int l, int include_output)
{
    return include_output || l + 1 < m->n_layers;
}

void pt_prune_ws_free(pt_prune_ws *ws)
{
    free(ws->cand);
    memset(ws, 0, sizeof *ws);
}

static pt_status ws_reserve(pt_prune_ws *ws, size_t n, pt_err *err)
{
    if (ws->cap >= n)
        return PT_OK;
    uint32_t *c = realloc(ws->cand, sizeof(uint32_t) * (n ? n : 1));
    if (!c)
        return pt_fail(err, PT_ERR_NOMEM, "pruning: out of memory");
    ws->cand = c;
    ws->cap = n;
    return PT_OK;
}

/* The ranking key of a weight: the bits of |w|. */
static inline uint32_t key_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u & 0x7fffffffu;
}

/* The k smallest (key, position) pairs of a set of layers: all keys < t,
 * then the first `eq` keys == t in position order. */
typedef struct {
    uint32_t t;
    size_t eq;
} cut;

#define L1_BITS 11 /* top bits: 8 of the exponent, 3 of the mantissa (sign is 0) */
#define L2_BITS 10
#define L3_BITS 10

/* Smallest bin b of h[0..nb) with below + h[0..b] >= k; *below gets the
 * count of bins before it. */
static uint32_t find_bin(const uint32_t *h, uint32_t nb, size_t k, size_t *below)
{
    size_t c = 0;
    uint32_t b = 0;
    while (b + 1 < nb && c + h[b] < k)
        c += h[b++];
    *below = c;
    return b;
}

/* Radix select of the k-th smallest key over the layers flagged in `in`
 * (n keys in all, 0 < k <= n), leaving in ws->cand[0..*n_cand) the
 * positions, in order, of every key in the threshold's top-level bin (all
 * keys == t among them), and in below[l] the number of layer l's keys in
 * lower top-level bins (all < t). */
static cut select_k(const pt_net *m, const int *in, size_t k, pt_prune_ws *ws, size_t *n_cand,
                    size_t *below_l)
{
    /* Exact zeros (most keys, once a schedule is under way) are counted in
     * 8 spare bins in turn: incrementing one bin again and again makes each
     * increment wait for the previous one's store. */
    uint32_t h1[(1u << L1_BITS) + 8] = {0}, h2[1u << L2_BITS] = {0}, h3[1u << L3_BITS] = {0};
    for (int l = 0; l < m->n_layers; l++) {
        if (!in[l])
            continue;
        const pt_layer *L = &m->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out;
        for (size_t i = 0; i < nw; i++) {
            /* Branch-free (a branch on zero mispredicts as often as
             * pruning leaves zeros scattered): bin 0 for a zero key is
             * replaced by one of the spare bins. */
            uint32_t key = key_of(L->w[i]), zero = -(uint32_t)(key == 0);
            h1[(key >> (32 - 1 - L1_BITS)) + (zero & ((1u << L1_BITS) + ((uint32_t)i & 7)))]++;
        }
    }
    for (uint32_t j = 0; j < 8; j++)
        h1[0] += h1[(1u << L1_BITS) + j];
    size_t below, b2, b3;
    uint32_t top = find_bin(h1, 1u << L1_BITS, k, &below);
    size_t nc = 0;
    for (int l = 0; l < m->n_layers; l++) {
        if (!in[l])
            continue;
        const pt_layer *L = &m->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out, lower = 0;
        for (size_t i = 0; i < nw; i++) {
            /* Branch-free append (the slot past the end is always
             * written, hence the workspace's spare entry). */
            uint32_t bin = key_of(L->w[i]) >> (32 - 1 - L1_BITS);
            lower += bin < top;
            ws->cand[nc] = (uint32_t)(L->off + i);
            nc += bin == top;
        }
        below_l[l] = lower;
    }
    *n_cand = nc;
    k -= below;
    const float *p = m->params;
    for (size_t c = 0; c < nc; c++)
        h2[(key_of(p[ws->cand[c]]) >> L3_BITS) & ((1u << L2_BITS) - 1)]++;
    uint32_t mid = find_bin(h2, 1u << L2_BITS, k, &b2);
    k -= b2;
    for (size_t c = 0; c < nc; c++) {
        uint32_t key = key_of(p[ws->cand[c]]);
        if (((key >> L3_BITS) & ((1u << L2_BITS) - 1)) == mid)
            h3[key & ((1u << L3_BITS) - 1)]++;
    }
    uint32_t low = find_bin(h3, 1u << L3_BITS, k, &b3);
    k -= b3;
    return (cut){.t = top << (L2_BITS + L3_BITS) | mid << L3_BITS | low, .eq = k};
}

/* Layer l's share of a cut: its keys < t plus its part of the first c.eq
 * keys == t (in cand, positions in order; *eq_seen counts the equal keys of
 * the earlier layers). */
static size_t share_of(const pt_net *m, int l, cut c, const uint32_t *cand, size_t nc,
                       size_t below_in_layer, size_t *eq_seen)
{
    const pt_layer *L = &m->layer[l];
    size_t lo = L->off, hi = L->off + (size_t)L->n_in * L->n_out, n = below_in_layer;
    for (size_t i = 0; i < nc; i++) {
        if (cand[i] < lo || cand[i] >= hi)
            continue;
        uint32_t key = key_of(m->params[cand[i]]);
        if (key < c.t)
            n++;
        else if (key == c.t && *eq_seen < c.eq) {
            n++;
            ++*eq_seen;
        }
    }
    return n;
}

/* Applies a cut to the layers flagged in `in`: prunes every key < t, then
 * the first c.eq keys == t in position order (taken from cand). */
static void apply_cut(pt_net *m, const int *in, cut c, const uint32_t *cand, size_t nc)
{
    for (int l = 0; l < m->n_layers; l++) {
        if (!in[l])
            continue;
        pt_layer *L = &m->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out;
        float *w = L->w, *mk = m->mask + L->off;
        for (size_t i = 0; i < nw; i++) {
            int gone = key_of(w[i]) < c.t;
            mk[i] = gone ? 0.0f : mk[i];
            w[i] = gone ? 0.0f : w[i];
        }
    }
    size_t taken = 0;
    for (size_t i = 0; i < nc && taken < c.eq; i++)
        if (key_of(m->params[cand[i]]) == c.t) {
            prune_at(m, cand[i]);
            taken++;
        }
}

/* Prunes the k smallest weights of layer l alone (k < its weight count). */
static void prune_smallest(pt_net *m, int l, size_t k, pt_prune_ws *ws)
{
    if (k == 0)
        return;
    int in[PT_NET_MAX_LAYERS] = {0};
    in[l] = 1;
    size_t nc, below[PT_NET_MAX_LAYERS];
    cut c = select_k(m, in, k, ws, &nc, below);
    apply_cut(m, in, c, ws->cand, nc);
}

/* Magnitude pruning: frac[l] of each prunable layer l (layer-wise), or, when
 * global, `sparsity` of all prunable weights against one threshold. */
static pt_status magnitude(pt_net *m, const double *frac, double sparsity, int global,
                           int include_output, pt_prune_ws *ws, pt_err *err)
{
    pt_status st = pt_net_mask_enable(m, err);
    if (st != PT_OK)
        return st;
    size_t total = 0, nw[PT_NET_MAX_LAYERS];
    int in[PT_NET_MAX_LAYERS] = {0};
    for (int l = 0; l < m->n_layers; l++) {
        nw[l] = (size_t)m->layer[l].n_in * m->layer[l].n_out;
        in[l] = prunable(m, l, include_output);
        total += in[l] ? nw[l] : 0;
    }
    if ((st = ws_reserve(ws, total + 1, err)) != PT_OK)
        return st;
    if (!global) {
        for (int l = 0; l < m->n_layers; l++) {
            if (!in[l])
                continue;
            size_t want = (size_t)lround(frac[l] * (double)nw[l]);
            prune_smallest(m, l, want >= nw[l] ? nw[l] - 1 : want, ws);
        }
        return PT_OK;
    }
    /* Global: the sort took weights in (|w|, position) order, skipping a
     * layer whose budget (all but ceil(1%), at least 1) was spent, until
     * `want` were pruned. Each layer thus loses its smallest
     * min(budget, n_l(T)) weights, n_l(T) being its share of the first T
     * in that order. Select `want` among the layers not yet capped; a layer
     * whose share exceeds its budget is capped for good (T only grows), so
     * it loses exactly its budget, and the rest is selected again among the
     * others. No layer over budget: that selection is the sort's. */
    size_t budget[PT_NET_MAX_LAYERS];
    for (int l = 0; l < m->n_layers; l++) {
        size_t keep = (size_t)ceil(0.01 * (double)nw[l]);
        budget[l] = nw[l] - (keep < 1 ? 1 : keep);
    }
    long want_l = lround(sparsity * (double)total);
    size_t want = want_l > 0 ? (size_t)want_l : 0, left = total;
    while (want > 0 && left > 0) {
        int capped = 0;
        if (want >= left) { /* every remaining layer would lose all */
            for (int l = 0; l < m->n_layers; l++)
                if (in[l]) {
                    prune_smallest(m, l, budget[l], ws);
                    in[l] = 0;
                }
            break;
        }
        size_t nc, below[PT_NET_MAX_LAYERS], eq_seen = 0, share[PT_NET_MAX_LAYERS] = {0};
        cut c = select_k(m, in, want, ws, &nc, below);
        for (int l = 0; l < m->n_layers; l++) {
            if (!in[l])
                continue;
            share[l] = share_of(m, l, c, ws->cand, nc, below[l], &eq_seen);
            capped |= share[l] > budget[l];
        }
        if (!capped) {
            apply_cut(m, in, c, ws->cand, nc);
            break;
        }
        for (int l = 0; l < m->n_layers; l++)
            if (in[l] && share[l] > budget[l]) {
                prune_smallest(m, l, budget[l], ws);
                in[l] = 0;
                want -= budget[l];
                left -= nw[l];
            }
    }
    return PT_OK;
}

static void fill(double *frac, double v)
{
    for (int l = 0; l < PT_NET_MAX_LAYERS; l++)
        frac[l] = v;
}

pt_status pt_prune_magnitude(pt_net *m, double sparsity, int global, int include_output,
                             pt_err *err)
{
    double frac[PT_NET_MAX_LAYERS];
    fill(frac, sparsity);
    pt_prune_ws ws = {0};
    pt_status st = magnitude(m, frac, sparsity, global, include_output, &ws, err);
    pt_prune_ws_free(&ws);
    return st;
}

static double row_norm(const float *w, int n, pt_norm norm)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += norm == PT_NORM_L1 ? fabs(w[i]) : (double)w[i] * w[i];
    return s;
}

/* Masks hidden neuron (or filter) j of layer l: its row, its bias, and the
 * next layer's matching group of columns (one column after a dense layer;
 * a k x k slice of every filter after a conv, or the channel's ph x pw
 * columns after flatten). */
static void prune_neuron(pt_net *m, int l, int j)
{
    pt_layer *L = &m->layer[l], *N = &m->layer[l + 1];
    for (int i = 0; i < L->n_in; i++)
        prune_at(m, L->off + (size_t)j * L->n_in + i);
    prune_at(m, (size_t)(L->b - m->params) + j);
    for (int k = 0; k < N->n_out; k++)
        for (int t = 0; t < N->in_grp; t++)
            prune_at(m, N->off + (size_t)k * N->n_in + (size_t)j * N->in_grp + t);
}

/* Masks the round(frac[l] * n) weakest units of every hidden layer l (conv
 * layers only when only_conv), at least one left per layer. */
static pt_status prune_units(pt_net *m, const double *frac, pt_norm norm, int only_conv,
                             pt_err *err)
{
    pt_status st = pt_net_mask_enable(m, err);
    if (st != PT_OK)
        return st;
    for (int l = 0; l + 1 < m->n_layers; l++) {
        pt_layer *L = &m->layer[l];
        if (only_conv && L->kind != PT_LAYER_CONV)
            continue;
        ranked *r = malloc(sizeof(ranked) * (size_t)L->n_out);
        if (!r)
            return pt_fail(err, PT_ERR_NOMEM, "pruning: out of memory");
        for (int j = 0; j < L->n_out; j++)
            r[j] = (ranked){(float)row_norm(L->w + (size_t)j * L->n_in, L->n_in, norm),
                            (uint32_t)j};
        qsort(r, (size_t)L->n_out, sizeof(ranked), cmp_ranked);
        long want = lround(frac[l] * L->n_out);
        want = want >= L->n_out ? L->n_out - 1 : want;
        for (long i = 0; i < want; i++)
            prune_neuron(m, l, (int)r[i].pos);
        free(r);
    }
    return PT_OK;
}

pt_status pt_prune_neurons(pt_net *m, double fraction, pt_norm norm, pt_err *err)
{
    double frac[PT_NET_MAX_LAYERS];
    fill(frac, fraction);
    return prune_units(m, frac, norm, 0, err);
}

pt_status pt_prune_filters(pt_net *m, double fraction, pt_norm norm, pt_err *err)
{
    double frac[PT_NET_MAX_LAYERS];
    fill(frac, fraction);
    return prune_units(m, frac, norm, 1, err);
}

/* Whether layer l takes part in pruning with p's granularity (the layers
 * prune.layer_sparsity lists, in order). */
static int targeted(const pt_net *m, const pt_prune_config *p, int l)
{
    if (p->granularity == PT_GRAN_FILTER)
        return l + 1 < m->n_layers && m->layer[l].kind == PT_LAYER_CONV;
    if (p->granularity == PT_GRAN_NEURON)
        return l + 1 < m->n_layers;
    return prunable(m, l, p->prune_output);
}

pt_status pt_prune_to(pt_net *m, const pt_prune_config *p, double target, pt_err *err)
{
    pt_prune_ws ws = {0};
    pt_status st = pt_prune_to_ws(m, p, target, &ws, err);
    pt_prune_ws_free(&ws);
    return st;
}

pt_status pt_prune_to_ws(pt_net *m, const pt_prune_config *p, double target, pt_prune_ws *ws,
                         pt_err *err)
{
    /* Per-layer targets follow the schedule in proportion: each layer is at
     * layer_sparsity[k] * target / sparsity, its own final value at the end. */
    double frac[PT_NET_MAX_LAYERS];
    fill(frac, target);
    const pt_layer_values *v = &p->layer_sparsity;
    for (int l = 0, k = 0; v->n != 0 && p->sparsity > 0 && l < m->n_layers; l++)
        if (targeted(m, p, l)) {
            double final = v->n < 0 ? v->v[0] : k < v->n ? v->v[k] : p->sparsity;
            frac[l] = final * target / p->sparsity;
            k++;
        }
    if (p->granularity == PT_GRAN_NEURON || p->granularity == PT_GRAN_FILTER)
        return prune_units(m, frac, p->norm, p->granularity == PT_GRAN_FILTER, err);
    return magnitude(m, frac, target, p->granularity == PT_GRAN_GLOBAL, p->prune_output, ws,
                     err);
}

double pt_gradual_sparsity(double s_i, double s_f, long t, long t0, long span)
{
    if (t <= t0)
        return s_i;
    if (span <= 0 || t >= t0 + span)
        return s_f;
    double f = 1.0 - (double)(t - t0) / (double)span;
    return s_f + (s_i - s_f) * f * f * f;
}

double pt_iterative_sparsity(double s_f, int r, int k)
{
    return 1.0 - pow(1.0 - s_f, (double)r / (double)k);
}

/* A hidden neuron is live unless its incoming row or its outgoing column is
 * all zero; output neurons are always live. */
static int row_zero(const pt_layer *L, int j)
{
    const float *w = L->w + (size_t)j * L->n_in;
    for (int i = 0; i < L->n_in; i++)
        if (w[i] != 0.0f)
            return 0;
    return 1;
}

/* Whether input channel j of N (its group of in_grp columns) is all zero. */
static int col_zero(const pt_layer *N, int j)
{
    for (int k = 0; k < N->n_out; k++)
        for (int t = 0; t < N->in_grp; t++)
            if (N->w[(size_t)k * N->n_in + (size_t)j * N->in_grp + t] != 0.0f)
                return 0;
    return 1;
}

/* A conv filter with zero weights still outputs relu(bias) everywhere, but
 * the next conv's zero padding makes that a position-dependent input, not
 * a bias to fold; such a filter stays unless its bias is <= 0 too. */
static int live(const pt_net *m, int l, int j)
{
    if (l + 1 >= m->n_layers)
        return 1;
    const pt_layer *L = &m->layer[l];
    if (col_zero(&m->layer[l + 1], j))
        return 0;
    if (L->kind == PT_LAYER_CONV)
        return !row_zero(L, j) || L->b[j] > 0.0f;
    return !row_zero(L, j);
}

void pt_sparsity_of(const pt_net *m, pt_sparsity *s)
{
    memset(s, 0, sizeof *s);
    for (int l = 0; l < m->n_layers; l++) {
        const pt_layer *L = &m->layer[l];
        long nw = (long)L->n_in * L->n_out, z = 0;
        for (long i = 0; i < nw; i++)
            z += L->w[i] == 0.0f;
        s->weights[l] = nw;
        s->zeros[l] = z;
        s->total_weights += nw;
        s->total_zeros += z;
        for (int j = 0; j < L->n_out; j++)
            s->neurons[l] += live(m, l, j);
    }
}

/* Called every epoch: one vectorized count, without pt_sparsity_of's
 * neuron liveness (a strided scan of every column). */
double pt_sparsity_total(const pt_net *m)
{
    long total = 0, zeros = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const pt_layer *L = &m->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out;
        long z = 0;
        for (size_t i = 0; i < nw; i++)
            z += L->w[i] == 0.0f;
        total += (long)nw;
        zeros += z;
    }
    return total ? (double)zeros / (double)total : 0.0;
}

pt_status pt_net_compact(const pt_net *src, pt_net *dst, int cap, pt_err *err)
{
    int nl = src->n_layers;
    pt_layer_spec spec[PT_NET_MAX_LAYERS];
    int *keep[PT_NET_MAX_LAYERS] = {0};
    pt_status st = PT_OK;
    for (int l = 0; l + 1 < nl && st == PT_OK; l++) {
        int n = src->layer[l].n_out, k = 0;
        if (!(keep[l] = malloc(sizeof(int) * (size_t)n)))
            st = pt_fail(err, PT_ERR_NOMEM, "compaction: out of memory");
        for (int j = 0; st == PT_OK && j < n; j++)
            if (live(src, l, j))
                keep[l][k++] = j;
        if (st == PT_OK && k == 0)
            keep[l][k++] = 0; /* a layer keeps one neuron, left unfolded */
        spec[l] = pt_layer_spec_of(src, l);
        spec[l].out = k;
    }
    spec[nl - 1] = pt_layer_spec_of(src, nl - 1);
    if (st == PT_OK)
        st = pt_net_init(dst, src->shape, spec, nl, cap, NULL, err);
    for (int l = 0; st == PT_OK && l < nl; l++) {
        const pt_layer *S = &src->layer[l];
        pt_layer *D = &dst->layer[l];
        int grp = S->in_grp;
        for (int o = 0; o < D->n_out; o++) {
            int so = l + 1 < nl ? keep[l][o] : o;
            D->b[o] = S->b[so];
            for (int i = 0; i < D->in_ch; i++) {
                int si = l > 0 ? keep[l - 1][i] : i;
                memcpy(D->w + (size_t)o * D->n_in + (size_t)i * grp,
                       S->w + (size_t)so * S->n_in + (size_t)si * grp, sizeof(float) * (size_t)grp);
            }
        }
        if (l == 0 || src->layer[l - 1].kind != PT_LAYER_DENSE)
            continue;
        /* Fold dropped neurons of the previous layer with a constant output. */
        const pt_layer *P = &src->layer[l - 1];
        for (int j = 0, kept = 0; j < P->n_out; j++) {
            if (kept < D->n_in && keep[l - 1][kept] == j) {
                kept++;
                continue;
            }
            float c = row_zero(P, j) && P->b[j] > 0.0f ? P->b[j] : 0.0f;
            if (c == 0.0f)
                continue;
            for (int o = 0; o < D->n_out; o++) {
                int so = l + 1 < nl ? keep[l][o] : o;
                D->b[o] += S->w[(size_t)so * S->n_in + j] * c;
            }
        }
    }
    for (int l = 0; l < PT_NET_MAX_LAYERS; l++)
        free(keep[l]);
    return st;
}
