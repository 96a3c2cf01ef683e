/*
 * net.c — forward and backward passes of the network (dense layers here, conv layers in conv.c).
 *
 * Time goes to the three GEMMs per layer (forward, dX, dW); everything else
 * is a single streaming pass over a batch-sized buffer, fused so each buffer
 * is read once: bias + ReLU (+ dropout) after the forward GEMM, ReLU mask + bias-gradient
 * sum after the dX GEMM, softmax + loss + its gradient on the logits. There
 * is no copy of the batch: the caller gathers rows straight into act[0].
 */
#include "net.h"

#include "conv.h"
#include "gemm.h"
#include "sptrain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t round_up(size_t n)
{
    return (n + PT_NET_ALIGN - 1) / PT_NET_ALIGN * PT_NET_ALIGN;
}

static float *alloc_floats(size_t n)
{
    /* aligned_alloc needs a size that is a multiple of the alignment. */
    size_t bytes = round_up(n ? n : 1) * sizeof(float);
    float *p = aligned_alloc(PT_NET_ALIGN * sizeof(float), bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

pt_status pt_net_init_dense(pt_net *m, int n_in, const int *hidden, int n_hidden, int n_out, int cap,
                      pt_rng *rng, pt_err *err)
{
    memset(m, 0, sizeof *m);
    if (n_hidden < 0 || n_hidden + 1 > PT_NET_MAX_LAYERS)
        return pt_fail(err, PT_ERR_ARG, "network: %d hidden layers (at most %d)", n_hidden,
                       PT_NET_MAX_LAYERS - 1);
    if (n_in < 1 || n_out < 1 || cap < 1)
        return pt_fail(err, PT_ERR_ARG, "network: input %d, output %d, batch %d must be >= 1", n_in,
                       n_out, cap);
    pt_layer_spec spec[PT_NET_MAX_LAYERS];
    for (int i = 0; i <= n_hidden; i++) {
        if (i < n_hidden && hidden[i] < 1)
            return pt_fail(err, PT_ERR_ARG, "network: hidden layer %d has %d neurons", i,
                           hidden[i]);
        spec[i] = (pt_layer_spec){.kind = PT_LAYER_DENSE, .out = i < n_hidden ? hidden[i] : n_out};
    }
    int shape[3] = {1, 1, n_in};
    return pt_net_init(m, shape, spec, n_hidden + 1, cap, rng, err);
}

/* Fills layer l's geometry from the previous layer (or the input shape);
 * ch/h/w is the shape flowing into it, updated to its output. */
static pt_status plan_layer(pt_net *m, int l, const pt_layer_spec *s, int *ch, int *h, int *w,
                            pt_err *err)
{
    pt_layer *L = &m->layer[l];
    L->kind = s->kind;
    L->n_out = s->out;
    if (s->out < 1)
        return pt_fail(err, PT_ERR_ARG, "network: layer %d has %d outputs", l + 1, s->out);
    if (s->kind == PT_LAYER_DENSE) {
        int prev_conv = l > 0 && m->layer[l - 1].kind == PT_LAYER_CONV;
        L->in_ch = prev_conv ? *ch : *ch * *h * *w;
        L->in_grp = prev_conv ? *h * *w : 1;
        L->n_in = L->in_ch * L->in_grp;
        *ch = s->out;
        *h = *w = 1;
        return PT_OK;
    }
    if (s->kind != PT_LAYER_CONV || (l > 0 && m->layer[l - 1].kind != PT_LAYER_CONV))
        return pt_fail(err, PT_ERR_ARG, "network: layer %d: conv layers must come first", l + 1);
    pt_conv_geom *g = &L->g;
    *g = (pt_conv_geom){.c = *ch,
                        .h = *h,
                        .w = *w,
                        .k = s->k,
                        .stride = s->stride,
                        .pad = s->pad,
                        .pool = s->pool,
                        .ps = s->pool ? s->ps : 1};
    if (g->k < 1 || g->stride < 1 || g->pad < 0 || g->ps < 1 || g->h + 2 * g->pad < g->k ||
        g->w + 2 * g->pad < g->k)
        return pt_fail(
            err, PT_ERR_ARG,
            "network: layer %d: kernel %d, stride %d, padding %d do not fit a %dx%d input", l + 1,
            g->k, g->stride, g->pad, g->h, g->w);
    g->oh = (g->h + 2 * g->pad - g->k) / g->stride + 1;
    g->ow = (g->w + 2 * g->pad - g->k) / g->stride + 1;
    g->hp = g->h + 2 * g->pad;
    g->wp = g->w + 2 * g->pad;
    /* Wide patches (conv.c) at stride 1: measured faster than pitch ow
     * even at LeNet's second layer, where 40% of the columns are junk. */
    g->pitch = g->stride == 1 ? g->wp : g->ow;
    g->ph = g->oh / g->ps;
    g->pw = g->ow / g->ps;
    if (g->ph < 1 || g->pw < 1)
        return pt_fail(err, PT_ERR_ARG,
                       "network: layer %d: pooling %d is larger than its %dx%d input", l + 1, g->ps,
                       g->oh, g->ow);
    L->in_ch = g->c;
    L->in_grp = g->k * g->k;
    L->n_in = L->in_ch * L->in_grp;
    *ch = s->out;
    *h = g->ph;
    *w = g->pw;
    return PT_OK;
}

static pt_status alloc_buffers(pt_net *m, int cap)
{
    int ok = m->params && m->grads;
    for (int l = 0; ok && l <= m->n_layers; l++) {
        m->act[l] = alloc_floats((size_t)cap * m->sizes[l]);
        ok = m->act[l] != NULL;
        if (ok && l < m->n_layers) {
            m->delta[l] = alloc_floats((size_t)cap * m->sizes[l + 1]);
            ok = m->delta[l] != NULL;
        }
        if (!ok || l == m->n_layers || m->layer[l].kind != PT_LAYER_CONV)
            continue;
        const pt_layer *L = &m->layer[l];
        size_t P = (size_t)L->g.oh * L->g.pitch, ch = (size_t)pt_conv_chunk(L, cap);
        m->col[l] = alloc_floats(ch * P * L->n_in);
        m->pre[l] = alloc_floats((size_t)cap * P * L->n_out);
        m->pad[l] = alloc_floats(ch * L->g.c * L->g.hp * L->g.wp + (size_t)L->g.k);
        ok = m->col[l] && m->pre[l] && m->pad[l];
        if (ok && L->g.pool == PT_POOL_MAX) {
            m->arg[l] = malloc(sizeof(int32_t) * (size_t)cap * m->sizes[l + 1]);
            ok = m->arg[l] != NULL;
        }
    }
    size_t work = 0;
    for (int l = 0; l < m->n_layers; l++)
        if (m->layer[l].kind == PT_LAYER_DENSE) {
            size_t w = pt_sgemm_work(0, 1, m->layer[l].n_out, m->layer[l].n_in);
            work = w > work ? w : work;
        }
    if (ok && work > 0)
        ok = (m->gemm_work = alloc_floats(work)) != NULL;
    return ok ? PT_OK : PT_ERR_NOMEM;
}

pt_status pt_net_init(pt_net *m, const int shape[3], const pt_layer_spec *spec, int n, int cap,
                      pt_rng *rng, pt_err *err)
{
    memset(m, 0, sizeof *m);
    if (n < 1 || n > PT_NET_MAX_LAYERS)
        return pt_fail(err, PT_ERR_ARG, "network: %d weight layers (at most %d)", n,
                       PT_NET_MAX_LAYERS);
    if (shape[0] < 1 || shape[1] < 1 || shape[2] < 1 || cap < 1)
        return pt_fail(err, PT_ERR_ARG, "network: input %dx%dx%d, batch %d must be >= 1", shape[0],
                       shape[1], shape[2], cap);
    if (spec[n - 1].kind != PT_LAYER_DENSE)
        return pt_fail(err, PT_ERR_ARG, "network: the output layer must be dense");
    memcpy(m->shape, shape, sizeof m->shape);
    m->n_layers = n;
    m->sizes[0] = shape[0] * shape[1] * shape[2];
    m->cap = cap;
    int ch = shape[0], h = shape[1], w = shape[2];
    size_t total = 0;
    for (int l = 0; l < n; l++) {
        pt_status st = plan_layer(m, l, &spec[l], &ch, &h, &w, err);
        if (st != PT_OK) {
            memset(m, 0, sizeof *m);
            return st;
        }
        pt_layer *L = &m->layer[l];
        m->sizes[l + 1] = ch * h * w;
        L->off = total;
        L->len = round_up((size_t)L->n_in * L->n_out) + round_up((size_t)L->n_out);
        total += L->len;
    }
    m->n_params = total;
    m->params = alloc_floats(total);
    m->grads = alloc_floats(total);
    if (alloc_buffers(m, cap) != PT_OK) {
        pt_net_free(m);
        return pt_fail(err, PT_ERR_NOMEM, "network: out of memory");
    }
    for (int l = 0; l < m->n_layers; l++) {
        pt_layer *L = &m->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out;
        L->w = m->params + L->off;
        L->b = L->w + round_up(nw);
        L->gw = m->grads + L->off;
        L->gb = L->gw + round_up(nw);
    }
    if (rng)
        pt_net_draw_weights(m, PT_WEIGHTS_HE_NORMAL, rng);
    return PT_OK;
}

void pt_net_draw_weights(pt_net *m, pt_weight_init scheme, pt_rng *rng)
{
    for (int l = 0; l < m->n_layers; l++) {
        pt_layer *L = &m->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out;
        if (scheme == PT_WEIGHTS_HE_NORMAL) {
            double sd = sqrt(2.0 / L->n_in);
            for (size_t i = 0; i < nw; i++)
                L->w[i] = (float)(sd * pt_rng_normal(rng));
            memset(L->b, 0, sizeof(float) * (size_t)L->n_out);
            continue;
        }
        double bound = 1.0 / sqrt((double)L->n_in);
        for (size_t i = 0; i < nw; i++)
            L->w[i] = (float)(bound * (2.0 * pt_rng_uniform(rng) - 1.0));
        for (int i = 0; i < L->n_out; i++)
            L->b[i] = (float)(bound * (2.0 * pt_rng_uniform(rng) - 1.0));
    }
}

int pt_net_has_conv(const pt_net *m)
{
    return m->n_layers > 0 && m->layer[0].kind == PT_LAYER_CONV;
}

pt_layer_spec pt_layer_spec_of(const pt_net *m, int l)
{
    const pt_layer *L = &m->layer[l];
    pt_layer_spec s = {.kind = L->kind, .out = L->n_out};
    if (L->kind == PT_LAYER_CONV) {
        s.k = L->g.k;
        s.stride = L->g.stride;
        s.pad = L->g.pad;
        s.pool = L->g.pool;
        s.ps = L->g.ps;
    }
    return s;
}

long pt_layer_macs(const pt_net *m, int l)
{
    const pt_layer *L = &m->layer[l];
    long macs = (long)L->n_in * L->n_out;
    return L->kind == PT_LAYER_CONV ? macs * L->g.oh * L->g.ow : macs;
}

void pt_net_free(pt_net *m)
{
    free(m->gemm_work);
    free(m->params);
    free(m->grads);
    free(m->mask);
    for (int l = 0; l <= PT_NET_MAX_LAYERS; l++)
        free(m->act[l]);
    for (int l = 0; l < PT_NET_MAX_LAYERS; l++) {
        free(m->delta[l]);
        free(m->col[l]);
        free(m->pad[l]);
        free(m->pre[l]);
        free(m->arg[l]);
    }
    memset(m, 0, sizeof *m);
}

/* z = max(z + b, 0) for every row; the hidden layers' fused epilogue. */
static void bias_relu(float *restrict z, const float *restrict b, int n, int width)
{
    for (int i = 0; i < n; i++) {
        float *row = z + (size_t)i * width;
        for (int j = 0; j < width; j++) {
            float v = row[j] + b[j];
            row[j] = v > 0.0f ? v : 0.0f;
        }
    }
}

static void bias_add(float *restrict z, const float *restrict b, int n, int width)
{
    for (int i = 0; i < n; i++) {
        float *row = z + (size_t)i * width;
        for (int j = 0; j < width; j++)
            row[j] += b[j];
    }
}

pt_status pt_net_mask_enable(pt_net *m, pt_err *err)
{
    if (m->mask)
        return PT_OK;
    m->mask = alloc_floats(m->n_params);
    if (!m->mask)
        return pt_fail(err, PT_ERR_NOMEM, "network: out of memory for the pruning mask");
    for (size_t i = 0; i < m->n_params; i++)
        m->mask[i] = 1.0f;
    return PT_OK;
}

/* Dropout's generator: counter-based, so that every unit's bit comes from
 * its own index and the loops below vectorize (a sequential generator such
 * as xoshiro makes each draw wait for the previous one). Unit i of a batch
 * (row-major) is dropped when bits(key, i) < thr, thr = rate * 2^32: two
 * rounds of Wellons' lowbias32 integer hash (each a bijection of 32 bits),
 * the first on a Weyl sequence offset by the key's low half, the second
 * keyed by its high half. Integer arithmetic only: the same bits on every
 * CPU and every vector width. The forward pass draws one 64-bit key per
 * layer and batch from the dropout stream. */
typedef struct {
    uint32_t lo, hi; /* key */
    uint32_t thr;    /* drop when bits < thr */
    float scale;     /* 1 / (1 - rate) for kept units */
} drop_key;

static inline uint32_t lowbias32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x21f0aaadu;
    x ^= x >> 15;
    x *= 0x735a2d97u;
    x ^= x >> 15;
    return x;
}

static inline uint32_t drop_bits(const drop_key *k, uint32_t i)
{
    return lowbias32(lowbias32(i * 0x9e3779b9u + k->lo) ^ k->hi);
}

static drop_key drop_key_of(float rate, pt_rng *rng)
{
    uint64_t r = pt_rng_next(rng);
    double t = (double)rate * 4294967296.0 + 0.5;
    return (drop_key){.lo = (uint32_t)r,
                      .hi = (uint32_t)(r >> 32),
                      .thr = t >= 4294967295.0 ? 4294967295u : (uint32_t)t,
                      .scale = 1.0f / (1.0f - rate)};
}

/* Inverted dropout on count values (the input layer's). */
static void dropout(float *restrict a, size_t count, const drop_key *k)
{
    const drop_key key = *k;
    for (size_t i = 0; i < count; i++)
        a[i] = drop_bits(&key, (uint32_t)i) < key.thr ? 0.0f : a[i] * key.scale;
}

/* bias_relu and inverted dropout in one pass: z = max(z + b, 0), then 0
 * for a dropped unit, z / (1 - rate) for a kept one. */
static void bias_relu_dropout(float *restrict z, const float *restrict b, int n, int width,
                              const drop_key *k)
{
    const drop_key key = *k;
    for (int i = 0; i < n; i++) {
        float *row = z + (size_t)i * width;
        uint32_t base = (uint32_t)i * (uint32_t)width;
        for (int j = 0; j < width; j++) {
            float v = row[j] + b[j];
            v = v > 0.0f ? v : 0.0f;
            row[j] = drop_bits(&key, base + (uint32_t)j) < key.thr ? 0.0f : v * key.scale;
        }
    }
}

static void forward_layer(pt_net *m, int l, int n, pt_rng *rng)
{
    pt_layer *L = &m->layer[l];
    float *out = m->act[l + 1];
    if (L->kind == PT_LAYER_CONV) {
        pt_conv_forward(m, l, n);
        return;
    }
    if (!(m->sparse && pt_sptrain_forward(m->sparse, m, l, n)))
        pt_sgemm(0, 1, n, L->n_out, L->n_in, 1.0f, m->act[l], L->n_in, L->w, L->n_in, 0.0f, out,
                 L->n_out, m->gemm_work);
    if (l + 1 < m->n_layers) {
        if (rng && m->drop[l + 1] > 0.0f) {
            drop_key k = drop_key_of(m->drop[l + 1], rng);
            bias_relu_dropout(out, L->b, n, L->n_out, &k);
        } else {
            bias_relu(out, L->b, n, L->n_out);
        }
    } else {
        bias_add(out, L->b, n, L->n_out);
    }
}

static void forward(pt_net *m, int n, pt_rng *rng)
{
    if (rng && m->drop[0] > 0.0f) {
        drop_key k = drop_key_of(m->drop[0], rng);
        dropout(m->act[0], (size_t)n * m->sizes[0], &k);
    }
    for (int l = 0; l < m->n_layers; l++)
        forward_layer(m, l, n, rng);
}

void pt_net_forward_layer(pt_net *m, int l, int n)
{
    forward_layer(m, l, n, NULL);
}

void pt_net_forward(pt_net *m, int n)
{
    forward(m, n, NULL);
}

void pt_net_forward_train(pt_net *m, int n, pt_rng *rng)
{
    forward(m, n, rng);
}

/* Loss of one row of logits: log-sum-exp - z[y], computed around the max so
 * exp never overflows. Writes the softmax probabilities into p when non-NULL. */
static double row_loss(const float *z, int c, int y, float *p, int *argmax)
{
    int am = 0;
    for (int j = 1; j < c; j++)
        if (z[j] > z[am])
            am = j;
    float mx = z[am];
    double sum = 0.0;
    for (int j = 0; j < c; j++) {
        float e = expf(z[j] - mx);
        if (p)
            p[j] = e;
        sum += e;
    }
    if (p) {
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < c; j++)
            p[j] *= inv;
    }
    *argmax = am;
    return log(sum) - (double)(z[y] - mx);
}

double pt_net_loss(const pt_net *m, int n, const int32_t *y, int *correct)
{
    return pt_logits_loss(m->act[m->n_layers], n, m->sizes[m->n_layers], y, correct);
}

double pt_logits_loss(const float *z, int n, int c, const int32_t *y, int *correct)
{
    int ok = 0;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        int am;
        total += row_loss(z + (size_t)i * c, c, y[i], NULL, &am);
        ok += am == y[i];
    }
    if (correct)
        *correct = ok;
    return n ? total / n : 0.0;
}

/* delta = (softmax(z) - onehot(y)) / n, and the output bias gradient. */
static double softmax_xent_grad(pt_net *m, int n, const int32_t *y, int *correct)
{
    int last = m->n_layers - 1, c = m->sizes[m->n_layers], ok = 0;
    const float *z = m->act[m->n_layers];
    float *d = m->delta[last], *gb = m->layer[last].gb;
    float inv_n = 1.0f / (float)n;
    double total = 0.0;
    memset(gb, 0, sizeof(float) * (size_t)c);
    for (int i = 0; i < n; i++) {
        float *p = d + (size_t)i * c;
        int am;
        total += row_loss(z + (size_t)i * c, c, y[i], p, &am);
        ok += am == y[i];
        p[y[i]] -= 1.0f;
        for (int j = 0; j < c; j++) {
            p[j] *= inv_n;
            gb[j] += p[j];
        }
    }
    if (correct)
        *correct = ok;
    return total / n;
}

/* delta = act > 0 ? delta * scale : 0 in place, and gb = column sums of the
 * result. act > 0 covers both ReLU's derivative and a dropped unit (0);
 * scale is dropout's 1/(1-rate) for kept units (1 without dropout). */
static void relu_mask_bias_grad(float *restrict d, const float *restrict a, float *restrict gb,
                                int n, int width, float scale)
{
    memset(gb, 0, sizeof(float) * (size_t)width);
    for (int i = 0; i < n; i++) {
        float *dr = d + (size_t)i * width;
        const float *ar = a + (size_t)i * width;
        for (int j = 0; j < width; j++) {
            float v = ar[j] > 0.0f ? dr[j] * scale : 0.0f;
            dr[j] = v;
            gb[j] += v;
        }
    }
}

double pt_net_backward(pt_net *m, int n, const int32_t *y, int *correct, pt_layer_hook hook,
                       void *ctx)
{
    double loss = softmax_xent_grad(m, n, y, correct);
    for (int l = m->n_layers - 1; l >= 0; l--) {
        pt_layer *L = &m->layer[l];
        const float *dz = m->delta[l];
        if (L->kind == PT_LAYER_CONV) {
            pt_conv_backward(m, l, n);
            if (hook)
                hook(ctx, m, l);
            continue;
        }
        /* A sparse layer computes dX and its packed dW here (sptrain.h). */
        int sparse = m->sparse && pt_sptrain_backward(m->sparse, m, l, n);
        if (l > 0) {
            /* dX must use W before the hook lets the optimizer change it. */
            float *dx = m->delta[l - 1];
            if (!sparse)
                pt_sgemm(0, 0, n, L->n_in, L->n_out, 1.0f, dz, L->n_out, L->w, L->n_in, 0.0f, dx,
                         L->n_in, NULL);
            float scale = m->drop[l] > 0.0f ? 1.0f / (1.0f - m->drop[l]) : 1.0f;
            /* A conv layer masks its own gradient (through its pooling). */
            if (m->layer[l - 1].kind == PT_LAYER_DENSE)
                relu_mask_bias_grad(dx, m->act[l], m->layer[l - 1].gb, n, L->n_in, scale);
        }
        if (!sparse)
            pt_sgemm(1, 0, L->n_out, L->n_in, n, 1.0f, dz, L->n_out, m->act[l], L->n_in, 0.0f, L->gw,
                     L->n_in, NULL);
        if (hook)
            hook(ctx, m, l);
    }
    return loss;
}
