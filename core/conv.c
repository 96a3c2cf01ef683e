/*
 * conv.c — see conv.h.
 *
 * Patches ("wide" im2col). A chunk of inputs is first copied once into a
 * zero-padded buffer (hp x wp per channel). At stride 1 an output row is
 * then given wp columns instead of ow: the patch row of kernel tap (ki, kj)
 * for one sample is the padded channel shifted by ki wp + kj, one
 * contiguous block of oh wp floats, so im2col is a few long copies per
 * sample instead of C k k oh short, bounds-checked rows (LeNet: 700 + 1500
 * rows of 28 and 10 floats, which cost more than the GEMMs). The k - 1
 * extra columns per row are junk: they read across the row edge (or the
 * slack after the buffer) and are never pooled; their gradient is 0, so
 * they add nothing to dW, and their patch gradient W^T 0 = 0 adds nothing
 * back in col2im, which is the same shifted block added the other way. The
 * GEMMs pay for the junk (wp / ow: 14% on LeNet's first layer, 40% on its
 * second), yet even there wide patches train faster than rows of ow floats
 * copied one by one (18.1k vs 15.2k samples/s on LeNet-5, same machine, same
 * run). Strides > 1 gather per element from the padded buffer, pitch ow.
 *
 * Direct. A stride-1 layer with few filters (K <= 8: LeNet's first, 6 x 25
 * taps) skips the patch matrix: the GEMM would be K x (n P) x C k k with K
 * tiny, all packing and memory traffic. Each output block of 128 floats is
 * instead summed in registers over the taps, straight from the padded
 * input (a tap is a shift of it in the wide layout), and dW, dX likewise.
 * LeNet's first layer: forward + backward 2.3 -> 1.3 ms per batch of 128
 * (with the vector pooling below). With K = 16 (its second layer) direct
 * lost 7.7 vs 4.8 ms to the GEMMs, and a direct dX alone 3.2 vs 2.2 ms,
 * hence the bound; the choice is by shape only so a network always sums
 * in the same order. Plain (pitch ow) patches with vectorised row copies
 * for the second layer were also slower than wide ones (fwd + bwd 3.8 vs
 * 3.3 ms). Together (scripts/bench_cnn 3 1, one quiet run each): LeNet-5
 * training 20.4k -> 26.9k samples/s, 1.33x -> 1.70x PyTorch.
 *
 * Max pooling never materialises bias + ReLU: the bias is constant over a
 * channel and ReLU is monotone, so max(relu(z + b)) = relu(max(z) + b) and
 * one pass over the raw GEMM output finds each window's maximum, writes the
 * pooled value and remembers where it was (arg). The backward pass then
 * only scatters the kept gradients. Average pooling (and no pooling, which
 * is average pooling over 1 x 1 windows) needs every ReLU'd value, so it
 * runs a bias + ReLU pass first and reads its mask back from pre.
 */
#include "conv.h"

#include <cblas.h>
#include <string.h>

int pt_conv_chunk(const pt_layer *L, int cap)
{
    /* A chunk's patches, outputs and padded inputs, 256 KB, stay in L2.
     * Smaller than L2 needs, measured: LeNet's second layer (2 samples a chunk) forward +
     * backward 4.7 -> 4.1 ms per batch against 8 samples (768 KB); 4
     * samples 4.6 ms, 1 sample 4.4 ms. */
    enum { CHUNK_FLOATS = 64 * 1024 };
    const pt_conv_geom *g = &L->g;
    long per = (long)g->oh * g->pitch * (L->n_in + L->n_out) + (long)g->c * g->hp * g->wp;
    long c = CHUNK_FLOATS / (per > 0 ? per : 1);
    return c < 1 ? 1 : c > cap ? cap : (int)c;
}

/* pad := the n samples x (NCHW, h x w) with a zero border of g->pad. */
static void pad_inputs(const pt_conv_geom *g, const float *x, int n, float *pad)
{
    size_t plane = (size_t)g->hp * g->wp;
    memset(pad, 0, sizeof(float) * ((size_t)n * g->c * plane + (size_t)g->k));
    for (int sc = 0; sc < n * g->c; sc++)
        for (int y = 0; y < g->h; y++)
            memcpy(pad + sc * plane + (size_t)(y + g->pad) * g->wp + g->pad,
                   x + ((size_t)sc * g->h + y) * g->w, sizeof(float) * (size_t)g->w);
}

/* GCC turns the short row loops below (10-28 floats) into memcpy calls
 * that cost more than the copies: keep them loops. */
#if defined(__GNUC__) && !defined(__clang__)
#define PT_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define PT_NO_LIBCALLS
#endif

/* col := the (c k k) x (n oh pitch) patches of the padded samples. */
PT_NO_LIBCALLS static void im2col(const pt_conv_geom *g, const float *pad, int n, float *col)
{
    int k = g->k, P = g->oh * g->pitch;
    size_t np = (size_t)n * P, plane = (size_t)g->hp * g->wp;
    for (int c = 0; c < g->c; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *row = col + ((size_t)(c * k + ki) * k + kj) * np;
                for (int s = 0; s < n; s++) {
                    const float *src = pad + ((size_t)s * g->c + c) * plane;
                    float *dst = row + (size_t)s * P;
                    if (g->pitch != g->ow) {
                        memcpy(dst, src + (size_t)ki * g->wp + kj, sizeof(float) * (size_t)P);
                        continue;
                    }
                    for (int y = 0; y < g->oh; y++) {
                        const float *r = src + (size_t)(y * g->stride + ki) * g->wp + kj;
                        for (int x = 0; x < g->ow; x++)
                            dst[y * g->ow + x] = r[x * g->stride];
                    }
                }
            }
}

/* The transpose of im2col: pad := the patch gradients summed back where
 * each came from (padded layout). */
PT_NO_LIBCALLS static void col2im(const pt_conv_geom *g, const float *col, int n, float *pad)
{
    int k = g->k, P = g->oh * g->pitch;
    size_t np = (size_t)n * P, plane = (size_t)g->hp * g->wp;
    memset(pad, 0, sizeof(float) * ((size_t)n * g->c * plane + (size_t)k));
    for (int c = 0; c < g->c; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *row = col + ((size_t)(c * k + ki) * k + kj) * np;
                for (int s = 0; s < n; s++) {
                    float *restrict dst = pad + ((size_t)s * g->c + c) * plane;
                    const float *restrict src = row + (size_t)s * P;
                    if (g->pitch != g->ow) {
                        float *d = dst + (size_t)ki * g->wp + kj;
                        for (int i = 0; i < P; i++)
                            d[i] += src[i];
                        continue;
                    }
                    for (int y = 0; y < g->oh; y++) {
                        float *d = dst + (size_t)(y * g->stride + ki) * g->wp + kj;
                        for (int x = 0; x < g->ow; x++)
                            d[x * g->stride] += src[y * g->ow + x];
                    }
                }
            }
}

/* dx (n samples, h x w) := the inside of the padded gradients. */
static void unpad(const pt_conv_geom *g, const float *pad, int n, float *dx)
{
    size_t plane = (size_t)g->hp * g->wp;
    for (int sc = 0; sc < n * g->c; sc++)
        for (int y = 0; y < g->h; y++)
            memcpy(dx + ((size_t)sc * g->h + y) * g->w,
                   pad + sc * plane + (size_t)(y + g->pad) * g->wp + g->pad,
                   sizeof(float) * (size_t)g->w);
}

/* Direct convolution over the wide layout (stride 1, see "Direct" above).
 * off[t] is where kernel tap t = (c k + ki) k + kj starts in a sample's
 * padded channels; the caller checks n_in <= PT_DIRECT_MAX_TAPS. */
enum {
    PT_DIRECT_MAX_TAPS = 256,
    PT_DIRECT_MAX_FILTERS = 8,
    PT_VL = 16,
    PT_DIRECT_BLOCK = 8 * PT_VL
};

static void tap_offsets(const pt_conv_geom *g, int *off)
{
    int t = 0;
    for (int c = 0; c < g->c; c++)
        for (int ki = 0; ki < g->k; ki++)
            for (int kj = 0; kj < g->k; kj++)
                off[t++] = c * g->hp * g->wp + ki * g->wp + kj;
}

/* PT_VL floats in registers (GCC/Clang vector extension; one AVX-512
 * register here, two AVX ones elsewhere): the accumulators of a block stay
 * in registers across all taps, which plain arrays did not (the compiler
 * kept them in memory: 3x slower). 16 lanes beat 8 on LeNet's first
 * layer: 0.76 vs 0.84 ms forward, the same backward, same run. */
typedef float pt_vf __attribute__((vector_size(4 * PT_VL)));

/* -std=c11 turns off a * b + c -> fma contraction; these sums gain from it
 * (one rounding less, half the instructions). */
#if defined(__GNUC__) && !defined(__clang__)
#define PT_FMA __attribute__((optimize("fp-contract=fast")))
#else
#define PT_FMA
#endif

/* *v = p[0 .. PT_VL): an unaligned load. Through a pointer rather than
 * returned: a 64-byte vector returned by value has no ABI without AVX-512,
 * which GCC reports (-Wpsabi, an error under -Werror) in the avx2 and
 * scalar builds (PT_KERNEL); inlined, both forms give the same code. */
static inline void vf_load(pt_vf *v, const float *p)
{
    memcpy(v, p, sizeof *v);
}

/* out[0..PT_DIRECT_BLOCK) := sum over t < T of w[t * ws] * src[off[t] .. + PT_DIRECT_BLOCK). */
PT_FMA static inline void block8v(const float *src, const int *off, const float *w, int ws, int T,
                                  float *out)
{
    pt_vf a[8] = {0};
    for (int t = 0; t < T; t++) {
        const float *q = src + off[t];
        pt_vf wv = {0};
        wv += w[(size_t)t * ws];
        for (int j = 0; j < 8; j++) {
            pt_vf v;
            vf_load(&v, q + PT_VL * j);
            a[j] += wv * v;
        }
    }
    memcpy(out, a, sizeof a);
}

/* The same over len < PT_DIRECT_BLOCK floats. */
PT_FMA static void block_tail(const float *src, const int *off, const float *w, int ws, int T,
                              int len, float *out)
{
    float acc[PT_DIRECT_BLOCK] = {0};
    for (int t = 0; t < T; t++) {
        const float *q = src + off[t], wv = w[(size_t)t * ws];
        for (int j = 0; j < len; j++)
            acc[j] += wv * q[j];
    }
    memcpy(out, acc, sizeof(float) * (size_t)len);
}

/* z (K x (n P) rows, as the GEMM writes them) := W * the padded samples. */
PT_FMA static void direct_forward(const pt_layer *L, const float *pad, int n, float *z)
{
    const pt_conv_geom *g = &L->g;
    int T = L->n_in, P = g->oh * g->pitch, off[PT_DIRECT_MAX_TAPS];
    size_t np = (size_t)n * P, img = (size_t)g->c * g->hp * g->wp;
    tap_offsets(g, off);
    for (int s = 0; s < n; s++)
        for (int o = 0; o < L->n_out; o++) {
            const float *x = pad + s * img, *w = L->w + (size_t)o * T;
            float *zr = z + (size_t)o * np + (size_t)s * P;
            int i0 = 0;
            for (; i0 + PT_DIRECT_BLOCK <= P; i0 += PT_DIRECT_BLOCK)
                block8v(x + i0, off, w, 1, T, zr + i0);
            if (i0 < P)
                block_tail(x + i0, off, w, 1, T, P - i0, zr + i0);
        }
}

/* gw += dZ * patches^T: per sample and tap, one pass over the shifted
 * input feeds the dot products of all K (<= 8) filters, one vector
 * accumulator each, so each input load serves K products (a dot product
 * per filter loaded it K times). With fma contraction: LeNet's first layer
 * backward 1.09 -> 0.85 ms per batch. */
PT_FMA static void direct_grad_w(pt_layer *L, const float *pad, const float *z, int n)
{
    const pt_conv_geom *g = &L->g;
    int T = L->n_in, K = L->n_out, P = g->oh * g->pitch, off[PT_DIRECT_MAX_TAPS],
        body = P - P % PT_VL;
    size_t np = (size_t)n * P, img = (size_t)g->c * g->hp * g->wp;
    tap_offsets(g, off);
    for (int s = 0; s < n; s++)
        for (int t = 0; t < T; t++) {
            const float *q = pad + s * img + off[t], *d = z + (size_t)s * P;
            /* All 8 accumulators whatever K (rows past K repeat row 0 and
             * are dropped): a loop bound of K left them in memory. */
            const float *dr[PT_DIRECT_MAX_FILTERS];
            for (int o = 0; o < PT_DIRECT_MAX_FILTERS; o++)
                dr[o] = d + (o < K ? (size_t)o * np : 0);
            pt_vf a[PT_DIRECT_MAX_FILTERS] = {0};
            for (int i = 0; i < body; i += PT_VL) {
                pt_vf qv, dv;
                vf_load(&qv, q + i);
                for (int o = 0; o < PT_DIRECT_MAX_FILTERS; o++) {
                    vf_load(&dv, dr[o] + i);
                    a[o] += dv * qv;
                }
            }
            for (int o = 0; o < K; o++) {
                const float *dr = d + (size_t)o * np;
                float sum = 0.0f;
                for (int i = body; i < P; i++)
                    sum += dr[i] * q[i];
                for (int j = 0; j < PT_VL; j++)
                    sum += a[o][j];
                L->gw[(size_t)o * T + t] += sum;
            }
        }
}

/* pad := the gradient of the padded samples, W^T dZ added back tap by tap
 * (col2im without the patch matrix). */
PT_FMA static void direct_grad_x(const pt_layer *L, const float *z, int n, float *pad)
{
    const pt_conv_geom *g = &L->g;
    int T = L->n_in, K = L->n_out, P = g->oh * g->pitch, off[PT_DIRECT_MAX_TAPS];
    size_t np = (size_t)n * P, img = (size_t)g->c * g->hp * g->wp;
    tap_offsets(g, off);
    int zoff[PT_DIRECT_MAX_FILTERS];
    for (int o = 0; o < K; o++)
        zoff[o] = o * (int)np;
    memset(pad, 0, sizeof(float) * ((size_t)n * img + (size_t)g->k));
    for (int s = 0; s < n; s++)
        for (int t = 0; t < T; t++) {
            float *x = pad + s * img + off[t], acc[PT_DIRECT_BLOCK];
            const float *d = z + (size_t)s * P;
            for (int i0 = 0; i0 < P; i0 += PT_DIRECT_BLOCK) {
                int len = P - i0 < PT_DIRECT_BLOCK ? P - i0 : PT_DIRECT_BLOCK;
                if (len == PT_DIRECT_BLOCK)
                    block8v(d + i0, zoff, L->w + t, T, K, acc);
                else
                    block_tail(d + i0, zoff, L->w + t, T, K, len, acc);
                for (int j = 0; j < len; j++)
                    x[i0 + j] += acc[j];
            }
        }
}

/* Whether layer l runs direct (see "Direct" above): by shape only, so the
 * same network always sums in the same order. */
static int use_direct(const pt_layer *L)
{
    return L->g.stride == 1 && L->n_in <= PT_DIRECT_MAX_TAPS && L->n_out <= PT_DIRECT_MAX_FILTERS;
}

/* Pools the K x (n P) rows z of n samples into out (n x K x ph x pw);
 * arg gets base + the index in z of each window's maximum. */
typedef float pt_f8 __attribute__((vector_size(32)));
typedef int32_t pt_i8 __attribute__((vector_size(32)));
typedef float pt_f16 __attribute__((vector_size(64)));

/* m ? x : y lane by lane (m all ones or all zeros). A macro: a function
 * taking or returning 32-byte vectors has no ABI without AVX, which GCC
 * reports (-Wpsabi, an error under -Werror) in the scalar build (PT_KERNEL). */
#define F8_SELECT(m, x, y) ((pt_f8)(((m) & (pt_i8)(x)) | (~(m) & (pt_i8)(y))))

/* Windows px .. px + 8 of the row pair r0, r1: the scalar loop below in
 * lanes (even and odd columns split by shuffles), the same order of
 * comparisons, so the same values and indices. */
static inline void pool2_x8(const float *r0, const float *r1, int pitch, int px, float b,
                            int32_t row, float *q, int32_t *qa)
{
    pt_f16 a, c;
    memcpy(&a, r0 + 2 * px, sizeof a);
    memcpy(&c, r1 + 2 * px, sizeof c);
    pt_f8 a0 = __builtin_shufflevector(a, a, 0, 2, 4, 6, 8, 10, 12, 14),
          a1 = __builtin_shufflevector(a, a, 1, 3, 5, 7, 9, 11, 13, 15),
          c0 = __builtin_shufflevector(c, c, 0, 2, 4, 6, 8, 10, 12, 14),
          c1 = __builtin_shufflevector(c, c, 1, 3, 5, 7, 9, 11, 13, 15), v = a0, zero = {0};
    pt_i8 col = {0, 2, 4, 6, 8, 10, 12, 14}, at, m;
    col += 2 * px;
    at = col;
    m = a1 > v;
    at = (m & (col + 1)) | (~m & at);
    v = F8_SELECT(m, a1, v);
    m = c0 > v;
    at = (m & (col + pitch)) | (~m & at);
    v = F8_SELECT(m, c0, v);
    m = c1 > v;
    at = (m & (col + pitch + 1)) | (~m & at);
    v = F8_SELECT(m, c1, v);
    v += b;
    v = F8_SELECT(v > zero, v, zero);
    at += row;
    memcpy(q + px, &v, sizeof v);
    memcpy(qa + px, &at, sizeof at);
}

/* 2 x 2 windows (the common case) in branch-free selects over a row pair,
 * the same first-maximum-wins order as the general loop; the general loop's
 * per-window index arithmetic cost more than the comparisons. */
static void max_pool2(const pt_layer *L, const float *z, int n, float *out, int32_t *arg,
                      size_t base)
{
    const pt_conv_geom *g = &L->g;
    int K = L->n_out, pitch = g->pitch, P = g->oh * pitch, pw = g->pw;
    size_t np = (size_t)n * P;
    for (int s = 0; s < n; s++)
        for (int o = 0; o < K; o++) {
            size_t zo = (size_t)o * np + (size_t)s * P;
            float b = L->b[o];
            size_t oi = ((size_t)s * K + o) * g->ph * pw;
            for (int py = 0; py < g->ph; py++, oi += (size_t)pw) {
                const float *restrict r0 = z + zo + (size_t)2 * py * pitch, *restrict r1 =
                                                                                r0 + pitch;
                float *restrict q = out + oi;
                int32_t *restrict qa = arg + oi,
                                  row = (int32_t)(base + zo + (size_t)2 * py * pitch);
                if (pw >= 8) {
                    /* The last block may overlap the one before: it
                     * rewrites the same values. */
                    for (int px = 0; px < pw; px += 8)
                        pool2_x8(r0, r1, pitch, px + 8 <= pw ? px : pw - 8, b, row, q, qa);
                    continue;
                }
                for (int px = 0; px < pw; px++) {
                    int c = 2 * px, at = c;
                    float v = r0[c];
                    at = r0[c + 1] > v ? c + 1 : at;
                    v = r0[c + 1] > v ? r0[c + 1] : v;
                    at = r1[c] > v ? pitch + c : at;
                    v = r1[c] > v ? r1[c] : v;
                    at = r1[c + 1] > v ? pitch + c + 1 : at;
                    v = r1[c + 1] > v ? r1[c + 1] : v;
                    v += b;
                    q[px] = v > 0.0f ? v : 0.0f;
                    qa[px] = row + at;
                }
            }
        }
}

static void max_pool(const pt_layer *L, const float *z, int n, float *out, int32_t *arg,
                     size_t base)
{
    const pt_conv_geom *g = &L->g;
    int K = L->n_out, pitch = g->pitch, P = g->oh * pitch, ps = g->ps;
    size_t np = (size_t)n * P;
    for (int s = 0; s < n; s++)
        for (int o = 0; o < K; o++) {
            size_t zo = (size_t)o * np + (size_t)s * P;
            const float *p = z + zo;
            float b = L->b[o];
            size_t oi = ((size_t)s * K + o) * g->ph * g->pw;
            for (int py = 0; py < g->ph; py++)
                for (int px = 0; px < g->pw; px++, oi++) {
                    int best = py * ps * pitch + px * ps;
                    if (ps == 2) {
                        int c[3] = {best + 1, best + pitch, best + pitch + 1};
                        for (int i = 0; i < 3; i++)
                            best = p[c[i]] > p[best] ? c[i] : best;
                    } else {
                        int at0 = best;
                        for (int i = 0; i < ps; i++)
                            for (int j = 0; j < ps; j++) {
                                int at = at0 + i * pitch + j;
                                best = p[at] > p[best] ? at : best;
                            }
                    }
                    float v = p[best] + b;
                    out[oi] = v > 0.0f ? v : 0.0f;
                    arg[oi] = (int32_t)(base + zo + (size_t)best);
                }
        }
}

/* Bias + ReLU in place over the channel-major rows, then window means. */
static void avg_pool(const pt_layer *L, float *z, int n, float *out)
{
    const pt_conv_geom *g = &L->g;
    int K = L->n_out, pitch = g->pitch, P = g->oh * pitch, ps = g->ps;
    size_t np = (size_t)n * P;
    float inv = 1.0f / (float)(ps * ps);
    for (int o = 0; o < K; o++) {
        float *r = z + (size_t)o * np, b = L->b[o];
        for (size_t i = 0; i < np; i++) {
            float v = r[i] + b;
            r[i] = v > 0.0f ? v : 0.0f;
        }
    }
    for (int s = 0; s < n; s++)
        for (int o = 0; o < K; o++) {
            const float *p = z + (size_t)o * np + (size_t)s * P;
            float *q = out + ((size_t)s * K + o) * g->ph * g->pw;
            for (int py = 0; py < g->ph; py++)
                for (int px = 0; px < g->pw; px++) {
                    float sum = 0.0f;
                    for (int i = 0; i < ps; i++)
                        for (int j = 0; j < ps; j++)
                            sum += p[(py * ps + i) * pitch + px * ps + j];
                    q[py * g->pw + px] = sum * inv;
                }
        }
}

void pt_conv_forward(pt_net *m, int l, int n)
{
    const pt_layer *L = &m->layer[l];
    int P = L->g.oh * L->g.pitch, ch = pt_conv_chunk(L, m->cap);
    size_t img = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
    for (int s0 = 0; s0 < n; s0 += ch) {
        int cn = n - s0 < ch ? n - s0 : ch, np = cn * P;
        size_t base = (size_t)L->n_out * s0 * P;
        float *z = m->pre[l] + base;
        pad_inputs(&L->g, m->act[l] + s0 * img, cn, m->pad[l]);
        if (use_direct(L)) {
            direct_forward(L, m->pad[l], cn, z);
        } else {
            im2col(&L->g, m->pad[l], cn, m->col[l]);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L->n_out, np, L->n_in, 1.0f,
                        L->w, L->n_in, m->col[l], np, 0.0f, z, np);
        }
        if (L->g.pool == PT_POOL_MAX && L->g.ps == 2)
            max_pool2(L, z, cn, m->act[l + 1] + s0 * out, m->arg[l] + s0 * out, base);
        else if (L->g.pool == PT_POOL_MAX)
            max_pool(L, z, cn, m->act[l + 1] + s0 * out, m->arg[l] + s0 * out, base);
        else
            avg_pool(L, z, cn, m->act[l + 1] + s0 * out);
    }
}

/* The chunk's rows z := dL/dZ from gout = dL/d act[l+1] of its cn samples
 * (a = act[l+1], arg at the same offset), junk columns 0; adds its row sums
 * to gb. */
static void unpool(pt_net *m, int l, int s0, int cn, float *z)
{
    pt_layer *L = &m->layer[l];
    const pt_conv_geom *g = &L->g;
    int K = L->n_out, pitch = g->pitch, P = g->oh * pitch, ps = g->ps, out_sz = g->ph * g->pw;
    size_t np = (size_t)cn * P, at0 = (size_t)s0 * K * out_sz;
    const float *gout = m->delta[l] + at0, *a = m->act[l + 1] + at0;
    if (g->pool == PT_POOL_MAX) {
        const int32_t *arg = m->arg[l] + at0;
        memset(z, 0, sizeof(float) * np * (size_t)K);
        for (int s = 0; s < cn; s++)
            for (int o = 0; o < K; o++) {
                size_t oi = ((size_t)s * K + o) * out_sz;
                float sum = 0.0f;
                for (int i = 0; i < out_sz; i++, oi++)
                    if (a[oi] > 0.0f) {
                        m->pre[l][arg[oi]] = gout[oi];
                        sum += gout[oi];
                    }
                L->gb[o] += sum;
            }
        return;
    }
    float inv = 1.0f / (float)(ps * ps);
    for (int o = 0; o < K; o++) {
        float sum = 0.0f;
        for (int s = 0; s < cn; s++) {
            float *d = z + (size_t)o * np + (size_t)s * P;
            const float *go = gout + ((size_t)s * K + o) * out_sz;
            for (int y = 0; y < g->oh; y++)
                for (int x = 0; x < pitch; x++) {
                    int py = y / ps, px = x / ps, at = y * pitch + x;
                    int in = x < g->ow && py < g->ph && px < g->pw && d[at] > 0.0f;
                    float v = in ? go[py * g->pw + px] * inv : 0.0f;
                    d[at] = v;
                    sum += v;
                }
        }
        L->gb[o] += sum;
    }
}

void pt_conv_backward(pt_net *m, int l, int n)
{
    pt_layer *L = &m->layer[l];
    int P = L->g.oh * L->g.pitch, ch = pt_conv_chunk(L, m->cap);
    size_t img = (size_t)m->sizes[l];
    int direct = use_direct(L), T = L->n_in, K = L->n_out;
    memset(L->gb, 0, sizeof(float) * (size_t)K);
    if (direct)
        memset(L->gw, 0, sizeof(float) * (size_t)T * K);
    /* dcol = W^T dZ from a transposed copy of W when it is small: OpenBLAS
     * runs the NoTrans product without packing, the Trans one packs W^T per
     * chunk (LeNet's second layer: backward 2.86 -> 2.60 ms per batch). */
    enum { WT_MAX = 4096 };
    float wt[WT_MAX], gwt[WT_MAX];
    int small = !direct && (long)T * K <= WT_MAX, use_wt = small && l > 0;
    for (int i = 0; use_wt && i < T; i++)
        for (int o = 0; o < K; o++)
            wt[i * K + o] = L->w[(size_t)o * T + i];
    for (int s0 = 0; s0 < n; s0 += ch) {
        int cn = n - s0 < ch ? n - s0 : ch, np = cn * P;
        float *z = m->pre[l] + (size_t)L->n_out * s0 * P;
        unpool(m, l, s0, cn, z);
        /* The patches are rebuilt rather than kept from the forward pass:
         * one chunk's worth stays in cache, a batch's would not. */
        pad_inputs(&L->g, m->act[l] + s0 * img, cn, m->pad[l]);
        if (direct) {
            direct_grad_w(L, m->pad[l], z, cn);
            if (l > 0) {
                direct_grad_x(L, z, cn, m->pad[l]);
                unpad(&L->g, m->pad[l], cn, m->delta[l - 1] + s0 * img);
            }
            continue;
        }
        im2col(&L->g, m->pad[l], cn, m->col[l]);
        /* dW^T = col dZ^T for a small W (transposed back after the last
         * chunk): OpenBLAS runs it in 1.0 ms per LeNet batch, dW = dZ col^T
         * in 1.4 ms. */
        if (small)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, K, np, 1.0f, m->col[l], np, z,
                        np, s0 ? 1.0f : 0.0f, gwt, K);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, T, np, 1.0f, z, np, m->col[l],
                        np, s0 ? 1.0f : 0.0f, L->gw, T);
        if (l == 0)
            continue;
        if (use_wt)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, np, K, 1.0f, wt, K, z, np,
                        0.0f, m->col[l], np);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, np, K, 1.0f, L->w, T, z, np,
                        0.0f, m->col[l], np);
        col2im(&L->g, m->col[l], cn, m->pad[l]);
        unpad(&L->g, m->pad[l], cn, m->delta[l - 1] + s0 * img);
    }
    for (int o = 0; small && o < K; o++)
        for (int i = 0; i < T; i++)
            L->gw[(size_t)o * T + i] = gwt[i * K + o];
}
