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
 * inside 0..w-1, else 0. */
static void patch_row(float *restrict d, const float *restrict src, int ow, int w, int stride,
                      int off)
{
    if (stride == 1) {
        int x0 = off < 0 ? -off : 0, x1 = w - off < ow ? w - off : ow;
        if (x1 < x0)
            x1 = x0;
        memset(d, 0, sizeof(float) * (size_t)x0);
        memcpy(d + x0, src + x0 + off, sizeof(float) * (size_t)(x1 - x0));
        memset(d + x1, 0, sizeof(float) * (size_t)(ow - x1));
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
                            memset(d, 0, sizeof(float) * (size_t)g->ow);
                        else
                            patch_row(d, src + (size_t)iy * g->w, g->ow, g->w, g->stride,
                                      kj - g->pad);
                    }
                }
            }
}

/* dx (n samples, NCHW) = the sum of the patch gradients in col over where
 * each patch came from: the transpose of pt_im2col. */
static void col2im(const pt_conv_geom *g, const float *col, int n, float *dx)
{
    int k = g->k, P = g->oh * g->ow;
    size_t np = (size_t)n * P, img = (size_t)g->c * g->h * g->w, plane = (size_t)g->h * g->w;
    memset(dx, 0, sizeof(float) * img * (size_t)n);
    for (int c = 0; c < g->c; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *row = col + ((size_t)(c * k + ki) * k + kj) * np;
                for (int s = 0; s < n; s++) {
                    float *dst = dx + s * img + c * plane;
                    const float *src = row + (size_t)s * P;
                    for (int y = 0; y < g->oh; y++) {
                        int iy = y * g->stride - g->pad + ki;
                        if (iy < 0 || iy >= g->h)
                            continue;
                        float *d = dst + (size_t)iy * g->w;
                        const float *r = src + (size_t)y * g->ow;
                        for (int x = 0; x < g->ow; x++) {
                            int ix = x * g->stride - g->pad + kj;
                            if (ix >= 0 && ix < g->w)
                                d[ix] += r[x];
                        }
                    }
                }
            }
}

static void max_pool(const pt_layer *L, const float *z, int n, float *out, int32_t *arg)
{
    const pt_conv_geom *g = &L->g;
    int K = L->n_out, P = g->oh * g->ow, ps = g->ps;
    size_t np = (size_t)n * P;
    for (int s = 0; s < n; s++)
        for (int o = 0; o < K; o++) {
            size_t base = (size_t)o * np + (size_t)s * P;
            const float *p = z + base;
            float b = L->b[o];
            size_t oi = ((size_t)s * K + o) * g->ph * g->pw;
            for (int py = 0; py < g->ph; py++)
                for (int px = 0; px < g->pw; px++) {
                    int best = py * ps * g->ow + px * ps;
                    for (int i = 0; i < ps; i++)
                        for (int j = 0; j < ps; j++) {
                            int at = (py * ps + i) * g->ow + px * ps + j;
                            if (p[at] > p[best])
                                best = at;
                        }
                    float v = p[best] + b;
                    out[oi] = v > 0.0f ? v : 0.0f;
                    arg[oi++] = (int32_t)(base + (size_t)best);
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

void pt_conv_forward(pt_mlp *m, int l, int n)
{
    const pt_layer *L = &m->layer[l];
    int np = n * L->g.oh * L->g.ow;
    pt_im2col(&L->g, m->act[l], n, m->col[l]);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L->n_out, np, L->n_in, 1.0f, L->w,
                L->n_in, m->col[l], np, 0.0f, m->pre[l], np);
    if (L->g.pool == PT_POOL_MAX)
        max_pool(L, m->pre[l], n, m->act[l + 1], m->arg[l]);
    else
        avg_pool(L, m->pre[l], n, m->act[l + 1]);
}

/* pre[l] := dL/dZ from delta[l] = dL/d act[l+1]; gb = its row sums. */
static void unpool(pt_mlp *m, int l, int n)
{
    pt_layer *L = &m->layer[l];
    const pt_conv_geom *g = &L->g;
    int K = L->n_out, P = g->oh * g->ow, ps = g->ps, out_sz = g->ph * g->pw;
    size_t np = (size_t)n * P;
    const float *gout = m->delta[l], *a = m->act[l + 1];
    float *dz = m->pre[l];
    memset(L->gb, 0, sizeof(float) * (size_t)K);
    if (g->pool == PT_POOL_MAX) {
        memset(dz, 0, sizeof(float) * np * (size_t)K);
        for (int s = 0; s < n; s++)
            for (int o = 0; o < K; o++) {
                size_t oi = ((size_t)s * K + o) * out_sz;
                float sum = 0.0f;
                for (int i = 0; i < out_sz; i++, oi++)
                    if (a[oi] > 0.0f) {
                        dz[m->arg[l][oi]] = gout[oi];
                        sum += gout[oi];
                    }
                L->gb[o] += sum;
            }
        return;
    }
    float inv = 1.0f / (float)(ps * ps);
    for (int o = 0; o < K; o++) {
        float sum = 0.0f;
        for (int s = 0; s < n; s++) {
            float *d = dz + (size_t)o * np + (size_t)s * P;
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
        L->gb[o] = sum;
    }
}

void pt_conv_backward(pt_mlp *m, int l, int n)
{
    pt_layer *L = &m->layer[l];
    int np = n * L->g.oh * L->g.ow;
    unpool(m, l, n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L->n_out, L->n_in, np, 1.0f, m->pre[l], np,
                m->col[l], np, 0.0f, L->gw, L->n_in);
    if (l == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L->n_in, np, L->n_out, 1.0f, L->w, L->n_in,
                m->pre[l], np, 0.0f, m->col[l], np);
    col2im(&L->g, m->col[l], n, m->delta[l - 1]);
}
