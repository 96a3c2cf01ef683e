/*
 * prune.c — see prune.h.
 *
 * Ranking sorts (|w|, position) pairs with qsort: pruning happens at most a
 * few times per epoch (gradual: every prune.frequency steps), so an
 * O(n log n) sort of 266k weights (~20 ms) is noise next to training, and
 * the position tie-break makes the chosen set exact and deterministic, which
 * a threshold compare alone is not when many weights are already zero.
 */
#include "prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float key;
    uint32_t layer;
    uint32_t pos; /* index into params */
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void prune_at(pt_mlp *m, size_t pos)
{
    m->mask[pos] = 0.0f;
    m->params[pos] = 0.0f;
}

static int prunable(const pt_mlp *m, int l, int include_output)
{
    return include_output || l + 1 < m->n_layers;
}

/* Magnitude pruning: frac[l] of each prunable layer l (layer-wise), or, when
 * global, `sparsity` of all prunable weights against one threshold. */
static pt_status magnitude(pt_mlp *m, const double *frac, double sparsity, int global,
                           int include_output, pt_err *err)
{
    pt_status st = pt_mlp_mask_enable(m, err);
    if (st != PT_OK)
        return st;
    size_t total = 0;
    for (int l = 0; l < m->n_layers; l++)
        if (prunable(m, l, include_output))
            total += (size_t)m->layer[l].n_in * m->layer[l].n_out;
    ranked *r = malloc(sizeof(ranked) * (total ? total : 1));
    if (!r)
        return pt_fail(err, PT_ERR_NOMEM, "pruning: out of memory");
    size_t k = 0, start[PT_MLP_MAX_LAYERS + 1];
    for (int l = 0; l < m->n_layers; l++) {
        start[l] = k;
        if (!prunable(m, l, include_output))
            continue;
        const pt_layer *L = &m->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out;
        for (size_t i = 0; i < nw; i++)
            r[k++] = (ranked){fabsf(L->w[i]), (uint32_t)l, (uint32_t)(L->off + i)};
    }
    start[m->n_layers] = k;
    if (global) {
        long budget[PT_MLP_MAX_LAYERS];
        for (int l = 0; l < m->n_layers; l++) {
            long nw = (long)(start[l + 1] - start[l]);
            long keep = (long)ceil(0.01 * nw);
            budget[l] = nw - (keep < 1 ? 1 : keep);
        }
        long want = lround(sparsity * (double)total);
        qsort(r, total, sizeof(ranked), cmp_ranked);
        for (size_t i = 0; i < total && want > 0; i++)
            if (budget[r[i].layer] > 0) {
                budget[r[i].layer]--;
                want--;
                prune_at(m, r[i].pos);
            }
    } else {
        for (int l = 0; l < m->n_layers; l++) {
            size_t nw = start[l + 1] - start[l];
            if (!nw)
                continue;
            size_t want = (size_t)lround(frac[l] * (double)nw);
            want = want >= nw ? nw - 1 : want;
            qsort(r + start[l], nw, sizeof(ranked), cmp_ranked);
            for (size_t i = 0; i < want; i++)
                prune_at(m, r[start[l] + i].pos);
        }
    }
    free(r);
    return PT_OK;
}

static void fill(double *frac, double v)
{
    for (int l = 0; l < PT_MLP_MAX_LAYERS; l++)
        frac[l] = v;
}

pt_status pt_prune_magnitude(pt_mlp *m, double sparsity, int global, int include_output,
                             pt_err *err)
{
    double frac[PT_MLP_MAX_LAYERS];
    fill(frac, sparsity);
    return magnitude(m, frac, sparsity, global, include_output, err);
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
static void prune_neuron(pt_mlp *m, int l, int j)
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
static pt_status prune_units(pt_mlp *m, const double *frac, pt_norm norm, int only_conv,
                             pt_err *err)
{
    pt_status st = pt_mlp_mask_enable(m, err);
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
            r[j] = (ranked){(float)row_norm(L->w + (size_t)j * L->n_in, L->n_in, norm), (uint32_t)l,
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

pt_status pt_prune_neurons(pt_mlp *m, double fraction, pt_norm norm, pt_err *err)
{
    double frac[PT_MLP_MAX_LAYERS];
    fill(frac, fraction);
    return prune_units(m, frac, norm, 0, err);
}

pt_status pt_prune_filters(pt_mlp *m, double fraction, pt_norm norm, pt_err *err)
{
    double frac[PT_MLP_MAX_LAYERS];
    fill(frac, fraction);
    return prune_units(m, frac, norm, 1, err);
}

/* Whether layer l takes part in pruning with p's granularity (the layers
 * prune.layer_sparsity lists, in order). */
static int targeted(const pt_mlp *m, const pt_prune_config *p, int l)
{
    if (p->granularity == PT_GRAN_FILTER)
        return l + 1 < m->n_layers && m->layer[l].kind == PT_LAYER_CONV;
    if (p->granularity == PT_GRAN_NEURON)
        return l + 1 < m->n_layers;
    return prunable(m, l, p->prune_output);
}

pt_status pt_prune_to(pt_mlp *m, const pt_prune_config *p, double target, pt_err *err)
{
    /* Per-layer targets follow the schedule in proportion: each layer is at
     * layer_sparsity[k] * target / sparsity, its own final value at the end. */
    double frac[PT_MLP_MAX_LAYERS];
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
    return magnitude(m, frac, target, p->granularity == PT_GRAN_GLOBAL, p->prune_output, err);
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
static int live(const pt_mlp *m, int l, int j)
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

void pt_sparsity_of(const pt_mlp *m, pt_sparsity *s)
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

double pt_sparsity_total(const pt_mlp *m)
{
    pt_sparsity s;
    pt_sparsity_of(m, &s);
    return s.total_weights ? (double)s.total_zeros / (double)s.total_weights : 0.0;
}

pt_status pt_mlp_compact(const pt_mlp *src, pt_mlp *dst, int cap, pt_err *err)
{
    int nl = src->n_layers;
    pt_layer_spec spec[PT_MLP_MAX_LAYERS];
    int *keep[PT_MLP_MAX_LAYERS] = {0};
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
    pt_rng unused;
    pt_rng_seed(&unused, 0);
    if (st == PT_OK)
        st = pt_net_init(dst, src->shape, spec, nl, cap, &unused, err);
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
    for (int l = 0; l < PT_MLP_MAX_LAYERS; l++)
        free(keep[l]);
    return st;
}
