/*
 * conv.c — see conv.h.
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

/* One output row of a patch row: d[x] = src[x * stride + off] where that is
 * inside 0..w-1, else 0. Plain loops, not memcpy/memset: rows are a few
 * dozen floats, where the calls cost more than the copy. */
static void patch_row(float *restrict d, const float *restrict src, int ow, int w, int stride,
                      int off)
{
    if (stride == 1) {
        int x0 = off < 0 ? -off : 0, x1 = w - off < ow ? w - off : ow;
        if (x1 < x0)
            x1 = x0;
        for (int x = 0; x < x0; x++)
            d[x] = 0.0f;
        for (int x = x0; x < x1; x++)
            d[x] = src[x + off];
        for (int x = x1; x < ow; x++)
            d[x] = 0.0f;
        return;
    }
    for (int x = 0; x < ow; x++) {
        int ix = x * stride + off;
        d[x] = ix >= 0 && ix < w ? src[ix] : 0.0f;
    }
}

void pt_im2col(const pt_conv_geom *g, const float *x, int n, float *col)
{
    int k = g->k, P = g->oh * g->ow;
    size_t np = (size_t)n * P, img = (size_t)g->c * g->h * g->w, plane = (size_t)g->h * g->w;
    for (int c = 0; c < g->c; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *row = col + ((size_t)(c * k + ki) * k + kj) * np;
                for (int s = 0; s < n; s++) {
                    const float *src = x + s * img + c * plane;
                    float *dst = row + (size_t)s * P;
                    for (int y = 0; y < g->oh; y++) {
                        int iy = y * g->stride - g->pad + ki;
                        float *d = dst + (size_t)y * g->ow;
                        if (iy < 0 || iy >= g->h)
                            for (int x = 0; x < g->ow; x++)
                                d[x] = 0.0f;
                        else
                            patch_row(d, src + (size_t)iy * g->w, g->ow, g->w, g->stride,
                                      kj - g->pad);
                    }
                }
            }
}

/* dx (n samples, NCHW) += the patch gradients in col, each where its patch
 * came from: the transpose of pt_im2col. */
static void col2im(const pt_conv_geom *g, const float *col, int n, float *dx)
{
    int k = g->k, P = g->oh * g->ow;
    size_t np = (size_t)n * P, img = (size_t)g->c * g->h * g->w, plane = (size_t)g->h * g->w;
    for (int c = 0; c < g->c; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *row = col + ((size_t)(c * k + ki) * k + kj) * np;
                int off = kj - g->pad;
                /* Output columns whose input column is inside the image. */
                int x0 = 0, x1 = g->ow;
                while (x0 < x1 && x0 * g->stride + off < 0)
                    x0++;
                while (x1 > x0 && (x1 - 1) * g->stride + off >= g->w)
                    x1--;
                for (int s = 0; s < n; s++) {
                    float *dst = dx + s * img + c * plane;
                    const float *src = row + (size_t)s * P;
                    for (int y = 0; y < g->oh; y++) {
                        int iy = y * g->stride - g->pad + ki;
                        if (iy < 0 || iy >= g->h)
                            continue;
                        float *restrict d = dst + (size_t)iy * g->w + off;
                        const float *restrict r = src + (size_t)y * g->ow;
                        if (g->stride == 1)
                            for (int x = x0; x < x1; x++)
                                d[x] += r[x];
                        else
                            for (int x = x0; x < x1; x++)
                                d[x * g->stride] += r[x];
                    }
                }
            }
}

/* Pools the K x (n P) rows z of n samples into out (n x K x ph x pw);
 * arg gets base + the index in z of each window's maximum. */
static void max_pool(const pt_layer *L, const float *z, int n, float *out, int32_t *arg,
                     size_t base)
{
    const pt_conv_geom *g = &L->g;
    int K = L->n_out, P = g->oh * g->ow, ps = g->ps, ow = g->ow;
    size_t np = (size_t)n * P;
    for (int s = 0; s < n; s++)
        for (int o = 0; o < K; o++) {
            size_t zo = (size_t)o * np + (size_t)s * P;
            const float *p = z + zo;
            float b = L->b[o];
            size_t oi = ((size_t)s * K + o) * g->ph * g->pw;
            for (int py = 0; py < g->ph; py++)
                for (int px = 0; px < g->pw; px++, oi++) {
                    int best = py * ps * ow + px * ps;
                    if (ps == 2) {
                        int c[3] = {best + 1, best + ow, best + ow + 1};
                        for (int i = 0; i < 3; i++)
                            best = p[c[i]] > p[best] ? c[i] : best;
                    } else {
                        int at0 = best;
                        for (int i = 0; i < ps; i++)
                            for (int j = 0; j < ps; j++) {
                                int at = at0 + i * ow + j;
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
    int K = L->n_out, P = g->oh * g->ow, ps = g->ps;
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
            if (ps == 1) {
                memcpy(q, p, sizeof(float) * (size_t)P);
                continue;
            }
            for (int py = 0; py < g->ph; py++)
                for (int px = 0; px < g->pw; px++) {
                    float sum = 0.0f;
                    for (int i = 0; i < ps; i++)
                        for (int j = 0; j < ps; j++)
                            sum += p[(py * ps + i) * g->ow + px * ps + j];
                    q[py * g->pw + px] = sum * inv;
                }
        }
}

int pt_conv_chunk(const pt_layer *L, int cap)
{
    /* A chunk's patches and outputs, 768 KB, stay in L2 (2 MB here) from
     * im2col through the GEMM to the pooling. */
    enum { CHUNK_FLOATS = 192 * 1024 };
    long per = (long)L->g.oh * L->g.ow * (L->n_in + L->n_out);
    long c = CHUNK_FLOATS / (per > 0 ? per : 1);
    return c < 1 ? 1 : c > cap ? cap : (int)c;
}

void pt_conv_forward(pt_mlp *m, int l, int n)
{
    const pt_layer *L = &m->layer[l];
    int P = L->g.oh * L->g.ow, ch = pt_conv_chunk(L, m->cap);
    size_t img = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
    for (int s0 = 0; s0 < n; s0 += ch) {
        int cn = n - s0 < ch ? n - s0 : ch, np = cn * P;
        size_t base = (size_t)L->n_out * s0 * P;
        float *z = m->pre[l] + base;
        pt_im2col(&L->g, m->act[l] + s0 * img, cn, m->col[l]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L->n_out, np, L->n_in, 1.0f, L->w,
                    L->n_in, m->col[l], np, 0.0f, z, np);
        if (L->g.pool == PT_POOL_MAX)
            max_pool(L, z, cn, m->act[l + 1] + s0 * out, m->arg[l] + s0 * out, base);
        else
            avg_pool(L, z, cn, m->act[l + 1] + s0 * out);
    }
}

/* The chunk's rows z := dL/dZ from gout = dL/d act[l+1] of its cn samples
 * (a = act[l+1], arg at the same offset); adds its row sums to gb. */
static void unpool(pt_mlp *m, int l, int s0, int cn, float *z)
{
    pt_layer *L = &m->layer[l];
    const pt_conv_geom *g = &L->g;
    int K = L->n_out, P = g->oh * g->ow, ps = g->ps, out_sz = g->ph * g->pw;
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
                for (int x = 0; x < g->ow; x++) {
                    int py = y / ps, px = x / ps, at = y * g->ow + x;
                    float v =
                        py < g->ph && px < g->pw && d[at] > 0.0f ? go[py * g->pw + px] * inv : 0.0f;
                    d[at] = v;
                    sum += v;
                }
        }
        L->gb[o] += sum;
    }
}

void pt_conv_backward(pt_mlp *m, int l, int n)
{
    pt_layer *L = &m->layer[l];
    int P = L->g.oh * L->g.ow, ch = pt_conv_chunk(L, m->cap);
    size_t img = (size_t)m->sizes[l];
    memset(L->gb, 0, sizeof(float) * (size_t)L->n_out);
    if (l > 0)
        memset(m->delta[l - 1], 0, sizeof(float) * img * (size_t)n);
    for (int s0 = 0; s0 < n; s0 += ch) {
        int cn = n - s0 < ch ? n - s0 : ch, np = cn * P;
        float *z = m->pre[l] + (size_t)L->n_out * s0 * P;
        unpool(m, l, s0, cn, z);
        /* The patches are rebuilt rather than kept from the forward pass:
         * one chunk's worth stays in cache, a batch's would not. */
        pt_im2col(&L->g, m->act[l] + s0 * img, cn, m->col[l]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L->n_out, L->n_in, np, 1.0f, z, np,
                    m->col[l], np, s0 ? 1.0f : 0.0f, L->gw, L->n_in);
        if (l == 0)
            continue;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L->n_in, np, L->n_out, 1.0f, L->w,
                    L->n_in, z, np, 0.0f, m->col[l], np);
        col2im(&L->g, m->col[l], cn, m->delta[l - 1] + s0 * img);
    }
}
