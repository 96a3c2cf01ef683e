/*
 * infer.c — the inference engine: per-layer kernel choice, batch layouts, and
 * the cost figures of a final network.
 *
 * Layout: a batch runs feature-major (X^T: one row of ld floats per feature)
 * from the first layer's output on. That is what the sparse batch kernel
 * needs (csr.h), and sgemm does not care: Y^T = W X^T is the same product as
 * Y = X W^T. The caller's row-major input is read directly by a dense first
 * layer (sgemm with X transposed) and transposed once for a sparse one; the
 * logits are transposed back at the end. Batch 1 needs none of this.
 *
 * Kernel choice by timing, not by a sparsity threshold: where sparse starts
 * to win depends on the layer's shape, the batch, the input's zeros and the
 * machine. Timing both costs a few milliseconds per layer at build time.
 * Inputs for it are synthetic (half zeros, as after ReLU), identical for both
 * kernels.
 */
#include "infer.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm.h"
#include "prune.h"

const char *pt_kernel_name(pt_kernel k)
{
    return k == PT_KERNEL_SPARSE ? "sparse" : "dense";
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static float *alloc_floats(size_t n)
{
    size_t bytes = (n ? n : 1) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

/* Deterministic inputs in [0, 1), about half exactly 0 (no global state). */
static void synth(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (s >> 31) ? (float)(s >> 8 & 0xFFFF) / 65536.0f : 0.0f;
    }
}

static void bias_relu_vec(float *y, const float *b, int n, int relu)
{
    for (int i = 0; i < n; i++) {
        float v = y[i] + b[i];
        y[i] = relu && !(v > 0.0f) ? 0.0f : v;
    }
}

/* Feature-major rows: y[o][0..n) += b[o], then ReLU. */
static void bias_relu_t(float *yt, const float *b, int n_out, int n, int ld, int relu)
{
    for (int o = 0; o < n_out; o++) {
        float *r = yt + (size_t)o * ld, bo = b[o];
        for (int i = 0; i < n; i++) {
            float v = r[i] + bo;
            r[i] = relu && !(v > 0.0f) ? 0.0f : v;
        }
    }
}

/* Layer l on one padded input vector; writes out[0..n_out) and zeroes the
 * padding the next sparse layer reads. */
static void layer_b1(pt_infer *e, int l, pt_kernel k, const float *in, float *out)
{
    const pt_layer *L = &e->net.layer[l];
    int relu = l + 1 < e->net.n_layers;
    if (k == PT_KERNEL_SPARSE) {
        pt_csr_gemv(&e->csr[l], in, out, relu);
    } else {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, L->n_out, L->n_in, 1.0f, L->w, L->n_in, in, 1,
                    0.0f, out, 1);
        bias_relu_vec(out, L->b, L->n_out, relu);
    }
    memset(out + L->n_out, 0, sizeof(float) * (size_t)(pt_csr_padded(L->n_out) - L->n_out));
}

/* Layer l on n >= 2 samples into out (feature-major). Layer 0 reads the
 * row-major x (transposed into buf[0] first when sparse); later layers read
 * buf[l & 1]. */
static void layer_bn(pt_infer *e, int l, pt_kernel k, const float *x, int n, float *out)
{
    const pt_layer *L = &e->net.layer[l];
    int relu = l + 1 < e->net.n_layers, ld = e->ld;
    const float *in = e->buf[l & 1];
    if (l == 0 && k == PT_KERNEL_SPARSE)
        pt_transpose(n, L->n_in, x, L->n_in, e->buf[0], ld); /* ld: n rounded up to 16 */
    if (k == PT_KERNEL_SPARSE) {
        pt_csr_spmm_t(&e->csr[l], in, ld, n, out, relu);
        return;
    }
    /* Y^T = W X^T: the first layer reads the rows of x (A B^T; pt_sgemm
     * copies B^T's panels into e->work), later ones the feature-major batch
     * (A B). pt_sgemm is what training's dense layers run (gemm.h);
     * PT_INFER_BLAS keeps OpenBLAS's, the reference speed-ups are quoted
     * against. */
    int tb = l == 0;
    const float *b = tb ? x : in;
    int ldb = tb ? L->n_in : ld;
    if (e->blas)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, L->n_out, n,
                    L->n_in, 1.0f, L->w, L->n_in, b, ldb, 0.0f, out, ld);
    else
        pt_sgemm(0, tb, L->n_out, n, L->n_in, 1.0f, L->w, L->n_in, b, ldb, 0.0f, out, ld, e->work);
    bias_relu_t(out, L->b, L->n_out, n, ld, relu);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Times layer l with both kernels, alternating so that both see the same
 * machine load; returns the faster. */
static pt_kernel pick(pt_infer *e, int l, int batch, const float *x, double budget_us)
{
    /* Up to MAX_REPS rounds, but past budget_us only as many as it takes to
     * have one (big layers: building must not take seconds). */
    enum { MAX_REPS = 21 };
    const double BUDGET_US = budget_us;
    double t[2][MAX_REPS], start = now_us();
    float *out = e->buf[(l + 1) & 1];
    int reps = 0;
    for (int r = -1; r < MAX_REPS && (r < 1 || now_us() - start < BUDGET_US); r++) {
        for (int k = 0; k < 2; k++) { /* r = -1 warms caches up */
            double t0 = now_us();
            if (batch == 1)
                layer_b1(e, l, (pt_kernel)k, e->buf[l & 1], out);
            else
                layer_bn(e, l, (pt_kernel)k, x, batch, out);
            if (r >= 0)
                t[k][r] = now_us() - t0;
        }
        reps = r + 1;
    }
    return median(t[1], reps) < median(t[0], reps) ? PT_KERNEL_SPARSE : PT_KERNEL_DENSE;
}

static pt_status copy_net(const pt_net *src, pt_net *dst, int cap, pt_err *err)
{
    pt_layer_spec spec[PT_NET_MAX_LAYERS];
    for (int l = 0; l < src->n_layers; l++)
        spec[l] = pt_layer_spec_of(src, l);
    pt_status st = pt_net_init(dst, src->shape, spec, src->n_layers, cap, NULL, err);
    if (st == PT_OK)
        memcpy(dst->params, src->params, sizeof(float) * src->n_params);
    return st;
}

/* Chooses the kernels of every layer (timing when flags is AUTO) and keeps
 * the sparse form only where one of them uses it. */
static pt_status choose(pt_infer *e, int flags, double pick_us, pt_err *err)
{
    pt_net *m = &e->net;
    float *x0 = NULL;
    pt_status st = PT_OK;
    if (!(flags & (PT_INFER_DENSE | PT_INFER_SPARSE | PT_INFER_BY_DENSITY)) && e->max_batch > 1) {
        x0 = alloc_floats((size_t)e->max_batch * m->sizes[0]);
        if (!x0)
            return pt_fail(err, PT_ERR_NOMEM, "inference: out of memory");
        synth(x0, (size_t)e->max_batch * m->sizes[0], 1);
    }
    for (int l = 0; l < m->n_layers && st == PT_OK; l++) {
        const pt_layer *L = &m->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out, nnz = 0;
        for (size_t i = 0; i < nw; i++)
            nnz += L->w[i] != 0.0f;
        int by_density = (flags & PT_INFER_BY_DENSITY) != 0;
        int can = L->n_in <= PT_CSR_MAX_IN && !(flags & PT_INFER_DENSE) &&
                  ((flags & PT_INFER_SPARSE) ||
                   (by_density ? (double)nnz <= PT_INFER_SPARSE_DENSITY * (double)nw
                               : 2 * nnz <= nw));
        e->k1[l] = e->kn[l] = PT_KERNEL_DENSE;
        if (!can)
            continue;
        if ((st = pt_csr_build(&e->csr[l], L->w, L->b, L->n_out, L->n_in, err)) != PT_OK)
            break;
        if (flags & (PT_INFER_SPARSE | PT_INFER_BY_DENSITY)) {
            e->k1[l] = e->kn[l] = PT_KERNEL_SPARSE;
            continue;
        }
        synth(e->buf[l & 1], (size_t)pt_csr_padded(L->n_in) * e->ld, (uint32_t)l + 2);
        for (int i = L->n_in; i < pt_csr_padded(L->n_in); i++)
            e->buf[l & 1][i] = 0.0f; /* the batch-1 vector's padding */
        e->k1[l] = pick(e, l, 1, NULL, pick_us);
        e->kn[l] = e->max_batch > 1 ? pick(e, l, e->max_batch, x0, pick_us) : e->k1[l];
        if (e->k1[l] == PT_KERNEL_DENSE && e->kn[l] == PT_KERNEL_DENSE)
            pt_csr_free(&e->csr[l]);
    }
    free(x0);
    return st;
}

pt_status pt_infer_build(pt_infer *e, const pt_net *net, int max_batch, int flags, pt_err *err)
{
    return pt_infer_build_timed(e, net, max_batch, flags, PT_INFER_PICK_US, err);
}

pt_status pt_infer_build_timed(pt_infer *e, const pt_net *net, int max_batch, int flags,
                               double pick_us, pt_err *err)
{
    memset(e, 0, sizeof *e);
    if (max_batch < 1 || (flags & ~31) || (flags & 3) == 3 ||
        ((flags & PT_INFER_BY_DENSITY) && (flags & 3)))
        return pt_fail(err, PT_ERR_ARG, "inference: max_batch %d, flags %d", max_batch, flags);
    /* A conv net runs as it trains (conv.h), on buffers for a whole batch:
     * every layer dense; compaction is where its pruning pays. */
    int conv = pt_net_has_conv(net), cap = conv ? max_batch : 1;
    pt_status st = flags & PT_INFER_NO_COMPACT ? copy_net(net, &e->net, cap, err)
                                               : pt_net_compact(net, &e->net, cap, err);
    if (st != PT_OK) {
        memset(e, 0, sizeof *e);
        return st;
    }
    e->max_batch = max_batch;
    if (conv)
        return PT_OK;
    e->ld = (max_batch + 15) / 16 * 16;
    size_t need = 0;
    for (int l = 0; l <= e->net.n_layers; l++) {
        size_t n = (size_t)pt_csr_padded(e->net.sizes[l]) * (size_t)e->ld;
        need = n > need ? n : need;
    }
    e->buf[0] = alloc_floats(need);
    e->buf[1] = alloc_floats(need);
    e->blas = (flags & PT_INFER_BLAS) != 0;
    size_t nwork = pt_sgemm_work(0, 1, max_batch, e->net.sizes[0]);
    e->work = nwork && !e->blas ? alloc_floats(nwork) : NULL;
    if (!e->buf[0] || !e->buf[1] || (nwork && !e->blas && !e->work))
        st = pt_fail(err, PT_ERR_NOMEM, "inference: out of memory");
    if (st == PT_OK)
        st = choose(e, flags, pick_us > 0 ? pick_us : PT_INFER_PICK_US, err);
    if (st != PT_OK)
        pt_infer_free(e);
    return st;
}

void pt_infer_free(pt_infer *e)
{
    pt_net_free(&e->net);
    for (int l = 0; l < PT_NET_MAX_LAYERS; l++)
        pt_csr_free(&e->csr[l]);
    free(e->buf[0]);
    free(e->buf[1]);
    free(e->work);
    memset(e, 0, sizeof *e);
}

void pt_infer_run(pt_infer *e, const float *x, int n, float *logits)
{
    int nl = e->net.n_layers, n_in = e->net.sizes[0], n_out = e->net.sizes[nl];
    for (; n > e->max_batch; n -= e->max_batch) {
        pt_infer_run(e, x, e->max_batch, logits);
        x += (size_t)e->max_batch * n_in;
        logits += (size_t)e->max_batch * n_out;
    }
    if (n < 1)
        return;
    if (pt_net_has_conv(&e->net)) {
        memcpy(e->net.act[0], x, sizeof(float) * (size_t)n * n_in);
        pt_net_forward(&e->net, n);
        memcpy(logits, e->net.act[nl], sizeof(float) * (size_t)n * n_out);
        return;
    }
    if (n == 1) {
        memcpy(e->buf[0], x, sizeof(float) * (size_t)n_in);
        memset(e->buf[0] + n_in, 0, sizeof(float) * (size_t)(pt_csr_padded(n_in) - n_in));
        for (int l = 0; l < nl; l++)
            layer_b1(e, l, e->k1[l], e->buf[l & 1], e->buf[(l + 1) & 1]);
        memcpy(logits, e->buf[nl & 1], sizeof(float) * (size_t)n_out);
        return;
    }
    for (int l = 0; l < nl; l++)
        layer_bn(e, l, e->kn[l], x, n, e->buf[(l + 1) & 1]);
    const float *yt = e->buf[nl & 1];
    for (int i = 0; i < n; i++)
        for (int o = 0; o < n_out; o++)
            logits[(size_t)i * n_out + o] = yt[(size_t)o * e->ld + i];
}
