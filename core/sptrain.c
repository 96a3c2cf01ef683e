/*
 * sptrain.c — sparse training kernels and the per-layer state (sptrain.h).
 *
 * All three kernels work on feature-major panels: a row of `ld` floats per
 * feature, one column per sample, ld a multiple of the vector width (padding
 * columns are zero, so whole vectors can be read without masks). A panel is
 * up to 8 vectors of the batch (128 samples with AVX-512, 64 with AVX2): the
 * 8 accumulators or 8 loaded delta vectors stay in registers while the
 * kernel walks a row of non-zeros, and each non-zero costs one broadcast and
 * 8 FMAs on a contiguous, L1/L2-resident row of the other operand.
 *   spmm:  out[r] = sum over the entries k of row r: val[k] * in[idx[k]]
 *          (forward with the CSR, input gradient with the CSC);
 *   sddmm: grad[k] = dot(dzt[r], xt[col[k]]) over the batch, for the
 *          entries k of row r (the weight gradient at the surviving weights).
 * The transposes in and out go by 8 x 8 tiles (in registers with AVX2).
 */
#include "sptrain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define VW 16
typedef __m512 vf;
#define vload(p) _mm512_loadu_ps(p)
#define vstore(p, a) _mm512_storeu_ps(p, a)
#define vset1(x) _mm512_set1_ps(x)
#define vzero() _mm512_setzero_ps()
#define vfma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vmul(a, b) _mm512_mul_ps(a, b)
#define vadd(a, b) _mm512_add_ps(a, b)
static inline float vsum(vf a)
{
    return _mm512_reduce_add_ps(a);
}
#define PT_SP_PATH "avx512"
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define VW 8
typedef __m256 vf;
#define vload(p) _mm256_loadu_ps(p)
#define vstore(p, a) _mm256_storeu_ps(p, a)
#define vset1(x) _mm256_set1_ps(x)
#define vzero() _mm256_setzero_ps()
#define vfma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define vmul(a, b) _mm256_mul_ps(a, b)
#define vadd(a, b) _mm256_add_ps(a, b)
static inline float vsum(vf a)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}
#define PT_SP_PATH "avx2"
#else
/* The baseline build: 4 floats per "vector" as a plain struct the compiler
 * maps to SSE2 (or to scalars on any other target). */
#define VW 4
typedef struct {
    float f[4];
} vf;
static inline vf vload(const float *p)
{
    vf a;
    memcpy(a.f, p, sizeof a.f);
    return a;
}
static inline void vstore(float *p, vf a)
{
    memcpy(p, a.f, sizeof a.f);
}
static inline vf vset1(float x)
{
    return (vf){{x, x, x, x}};
}
static inline vf vzero(void)
{
    return vset1(0.0f);
}
static inline vf vfma(vf a, vf b, vf c)
{
    for (int i = 0; i < 4; i++)
        c.f[i] += a.f[i] * b.f[i];
    return c;
}
static inline vf vmul(vf a, vf b)
{
    for (int i = 0; i < 4; i++)
        a.f[i] *= b.f[i];
    return a;
}
static inline vf vadd(vf a, vf b)
{
    for (int i = 0; i < 4; i++)
        a.f[i] += b.f[i];
    return a;
}
static inline float vsum(vf a)
{
    return (a.f[0] + a.f[1]) + (a.f[2] + a.f[3]);
}
#define PT_SP_PATH "scalar"
#endif

#define NVMAX 8 /* vectors per panel */

const char *pt_sptrain_path(void)
{
    return PT_SP_PATH;
}

static int ld_of(int n)
{
    return (n + VW - 1) / VW * VW;
}

/* ---- transposes ---------------------------------------------------------- */

/* Tiles are 8 x 8: the 8 rows of a tile are often 4 KiB apart (1024-wide
 * layers), so they share an L1 set; 8 fit in its ways, 16 (the first
 * version) thrashed it and made the transposes cost more than the kernels. */
#if defined(__AVX2__)
/* dst[j][i] = src[i][j] for an 8 x 8 tile (the usual unpack / shuffle /
 * permute2f128 sequence). */
static inline void tr8x8(const float *src, size_t ls, float *dst, size_t ldd)
{
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ls),
           r2 = _mm256_loadu_ps(src + 2 * ls), r3 = _mm256_loadu_ps(src + 3 * ls),
           r4 = _mm256_loadu_ps(src + 4 * ls), r5 = _mm256_loadu_ps(src + 5 * ls),
           r6 = _mm256_loadu_ps(src + 6 * ls), r7 = _mm256_loadu_ps(src + 7 * ls);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
           t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
           t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
           s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
           s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
           s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)),
           s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)),
           s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2)),
           s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)),
           s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#else
static inline void tr8x8(const float *src, size_t ls, float *dst, size_t ldd)
{
    for (int j = 0; j < 8; j++)
        for (int i = 0; i < 8; i++)
            dst[(size_t)j * ldd + i] = src[(size_t)i * ls + j];
}
#endif

/* a: n rows of c floats -> at: c rows of ld floats; columns n..ld are 0. */
static void to_feature_major(const float *restrict a, int n, int c, float *restrict at, int ld)
{
    int n8 = n / 8 * 8, c8 = c / 8 * 8;
    for (int i0 = 0; i0 < n8; i0 += 8) {
        for (int j0 = 0; j0 < c8; j0 += 8)
            tr8x8(a + (size_t)i0 * c + j0, (size_t)c, at + (size_t)j0 * ld + i0, (size_t)ld);
        for (int j = c8; j < c; j++)
            for (int i = i0; i < i0 + 8; i++)
                at[(size_t)j * ld + i] = a[(size_t)i * c + j];
    }
    for (int j = 0; j < c; j++) {
        float *dst = at + (size_t)j * ld;
        for (int i = n8; i < n; i++)
            dst[i] = a[(size_t)i * c + j];
        for (int i = n; i < ld; i++)
            dst[i] = 0.0f;
    }
}

/* at: c rows of ld floats -> a: n rows of c floats. */
static void to_row_major(const float *restrict at, int ld, int n, int c, float *restrict a)
{
    int n8 = n / 8 * 8, c8 = c / 8 * 8;
    for (int i0 = 0; i0 < n8; i0 += 8) {
        for (int j0 = 0; j0 < c8; j0 += 8)
            tr8x8(at + (size_t)j0 * ld + i0, (size_t)ld, a + (size_t)i0 * c + j0, (size_t)c);
        for (int j = c8; j < c; j++)
            for (int i = i0; i < i0 + 8; i++)
                a[(size_t)i * c + j] = at[(size_t)j * ld + i];
    }
    for (int i = n8; i < n; i++)
        for (int j = 0; j < c; j++)
            a[(size_t)i * c + j] = at[(size_t)j * ld + i];
}

/* ---- kernels ------------------------------------------------------------- */

/* nv is a constant at every call site (see the switches below), so the
 * loops over it unroll and acc[] / d[] live in registers. */
static inline __attribute__((always_inline)) void
spmm_panel(const int32_t *restrict ptr, const int32_t *restrict idx, const float *restrict val,
           int rows, const float *restrict in, int ld, float *restrict out, int c0, const int nv)
{
    for (int r = 0; r < rows; r++) {
        vf acc[NVMAX];
        for (int v = 0; v < nv; v++)
            acc[v] = vzero();
        for (int32_t k = ptr[r]; k < ptr[r + 1]; k++) {
            vf w = vset1(val[k]);
            const float *x = in + (size_t)idx[k] * ld + c0;
            for (int v = 0; v < nv; v++)
                acc[v] = vfma(w, vload(x + v * VW), acc[v]);
        }
        float *y = out + (size_t)r * ld + c0;
        for (int v = 0; v < nv; v++)
            vstore(y + v * VW, acc[v]);
    }
}

static void spmm(const int32_t *ptr, const int32_t *idx, const float *val, int rows,
                 const float *in, int ld, float *out)
{
    for (int c0 = 0; c0 < ld; c0 += NVMAX * VW) {
        int nv = (ld - c0) / VW < NVMAX ? (ld - c0) / VW : NVMAX;
        switch (nv) {
#define CASE(k)                                                                                    \
    case k:                                                                                        \
        spmm_panel(ptr, idx, val, rows, in, ld, out, c0, k);                                       \
        break;
            CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7)
        default:
            spmm_panel(ptr, idx, val, rows, in, ld, out, c0, NVMAX);
            break;
#undef CASE
        }
    }
}

/* grad[k] (+)= dot over the panel's columns of dzt[r] and xt[col[k]]. Two
 * partial sums per non-zero halve the FMA chain; independent non-zeros
 * overlap in the out-of-order window. */
static inline __attribute__((always_inline)) void
sddmm_panel(const int32_t *restrict rowptr, const int32_t *restrict col, float *restrict grad,
            int rows, const float *restrict dzt, const float *restrict xt, int ld, int c0,
            const int nv, int first)
{
    for (int r = 0; r < rows; r++) {
        vf d[NVMAX];
        const float *dr = dzt + (size_t)r * ld + c0;
        for (int v = 0; v < nv; v++)
            d[v] = vload(dr + v * VW);
        for (int32_t k = rowptr[r]; k < rowptr[r + 1]; k++) {
            const float *x = xt + (size_t)col[k] * ld + c0;
            vf a = vmul(d[0], vload(x)), b = nv > 1 ? vmul(d[1], vload(x + VW)) : vzero();
            for (int v = 2; v + 1 < nv; v += 2) {
                a = vfma(d[v], vload(x + v * VW), a);
                b = vfma(d[v + 1], vload(x + (v + 1) * VW), b);
            }
            if (nv > 2 && nv % 2)
                a = vfma(d[nv - 1], vload(x + (nv - 1) * VW), a);
            float s = vsum(vadd(a, b));
            grad[k] = first ? s : grad[k] + s;
        }
    }
}

static void sddmm(const int32_t *rowptr, const int32_t *col, float *grad, int rows,
                  const float *dzt, const float *xt, int ld)
{
    for (int c0 = 0; c0 < ld; c0 += NVMAX * VW) {
        int nv = (ld - c0) / VW < NVMAX ? (ld - c0) / VW : NVMAX, first = c0 == 0;
        switch (nv) {
#define CASE(k)                                                                                    \
    case k:                                                                                        \
        sddmm_panel(rowptr, col, grad, rows, dzt, xt, ld, c0, k, first);                           \
        break;
            CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7)
        default:
            sddmm_panel(rowptr, col, grad, rows, dzt, xt, ld, c0, NVMAX, first);
            break;
#undef CASE
        }
    }
}

/* ---- state --------------------------------------------------------------- */

void pt_sptrain_init(pt_sptrain *s, int mode, int cap)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->cap = cap;
    s->synced = 1;
}

static void free_layer(pt_splayer *S)
{
    free(S->rowptr);
    free(S->col);
    free(S->cptr);
    free(S->crow);
    free(S->cperm);
    free(S->val);
    free(S->grad);
    free(S->valt);
    free(S->m);
    free(S->v);
    free(S->xt);
    memset(S, 0, sizeof *S);
}

void pt_sptrain_free(pt_sptrain *s)
{
    for (int l = 0; l < PT_NET_MAX_LAYERS; l++)
        free_layer(&s->layer[l]);
    free(s->t0);
    free(s->t1);
    s->t0 = s->t1 = NULL;
    s->t0_len = s->t1_len = 0;
}

/* Grows a scratch buffer to n floats; 0 on success. */
static int reserve(float **p, size_t *len, size_t n)
{
    if (*len >= n)
        return 0;
    float *q = realloc(*p, sizeof(float) * n);
    if (!q)
        return -1;
    *p = q;
    *len = n;
    return 0;
}

/* Builds layer l's pattern from the mask and packs its weights and the
 * optimizer state o; the layer is not active yet. 0 on success. */
static int build_layer(pt_splayer *S, const pt_net *m, int l, const pt_optim *o, int ld)
{
    const pt_layer *L = &m->layer[l];
    const float *mk = m->mask + L->off;
    size_t nw = (size_t)L->n_in * L->n_out;
    long nnz = 0;
    for (size_t i = 0; i < nw; i++)
        nnz += mk[i] != 0.0f;
    if (nnz > INT32_MAX)
        return -1;
    size_t z = (size_t)(nnz ? nnz : 1);
    S->nnz = (int)nnz;
    S->rowptr = malloc(sizeof(int32_t) * (size_t)(L->n_out + 1));
    S->col = malloc(sizeof(int32_t) * z);
    S->cptr = calloc((size_t)L->n_in + 1, sizeof(int32_t));
    S->crow = malloc(sizeof(int32_t) * z);
    S->cperm = malloc(sizeof(int32_t) * z);
    S->val = malloc(sizeof(float) * z);
    S->grad = calloc(z, sizeof(float));
    S->valt = malloc(sizeof(float) * z);
    S->m = malloc(sizeof(float) * z);
    S->v = o->v ? malloc(sizeof(float) * z) : NULL;
    S->xt = calloc((size_t)L->n_in * (size_t)ld, sizeof(float));
    if (!S->rowptr || !S->col || !S->cptr || !S->crow || !S->cperm || !S->val || !S->grad ||
        !S->valt || !S->m || (o->v && !S->v) || !S->xt)
        return -1;
    int32_t k = 0;
    for (int r = 0; r < L->n_out; r++) {
        S->rowptr[r] = k;
        for (int j = 0; j < L->n_in; j++) {
            size_t i = (size_t)r * L->n_in + j;
            if (mk[i] == 0.0f)
                continue;
            S->col[k] = j;
            S->val[k] = L->w[i];
            S->m[k] = o->m[L->off + i];
            if (S->v)
                S->v[k] = o->v[L->off + i];
            S->cptr[j + 1]++;
            k++;
        }
    }
    S->rowptr[L->n_out] = k;
    for (int j = 0; j < L->n_in; j++)
        S->cptr[j + 1] += S->cptr[j];
    /* CSC by a counting pass: rows ascend within each column. */
    int32_t *fill = malloc(sizeof(int32_t) * (size_t)L->n_in);
    if (!fill)
        return -1;
    memcpy(fill, S->cptr, sizeof(int32_t) * (size_t)L->n_in);
    for (int r = 0; r < L->n_out; r++)
        for (int32_t q = S->rowptr[r]; q < S->rowptr[r + 1]; q++) {
            int32_t at = fill[S->col[q]]++;
            S->crow[at] = r;
            S->cperm[at] = q;
            S->valt[at] = S->val[q];
        }
    free(fill);
    return 0;
}

/* The sparsity from which "auto" trains a layer sparse, per kernel path: the
 * lowest at which the sparse step (forward, input and weight gradient) beat
 * the dense step's three products by >= 1.15x on LeNet-300-100's and a
 * 784-1024-1024-10's layers at batch 64, 128 and 256 (2-core AMD EPYC; AVX2
 * and scalar against OpenBLAS, break-even ~0.6-0.65 and ~0.85). AVX-512
 * against core/gemm.c's kernels, fixed-mask epochs, best of 4, sparse/dense:
 * at batch <= 128 0.94-1.01 at 0.70, 1.2 at 0.75, 1.5 at 0.80; at batch 256
 * 0.9-1.0 at 0.75, 1.0-1.3 at 0.80, 1.5-1.8 at 0.85 (wider batches feed the
 * dense kernels better; the sparse ones work 128 rows at a time). At batch
 * <= 128 the floor stays 0.70, at parity: global pruning leaves LeNet's
 * 300 x 100 layer at ~0.75 and it trained faster sparse there
 * (scripts/bench_hybrid's fixed mask: 288k samples/s, 261k with it dense).
 * Re-measured after the dense step's B^T copies went through registers
 * (gemm.c, ~8% faster): every layer alike at 0.70, batch 128, sparse/dense
 * 0.9 (1.05 at 0.72, 1.1 at 0.75); but a floor of 0.75 sent that global 91%
 * run's 300 x 100 layer (0.746) back to dense and cost it 15% (256-302k
 * against 334-364k samples/s): small layers gain from sparse kernels at a
 * lower sparsity than LeNet's 784 x 300 one, so 0.70 stays.
 * A fixed rule instead of a timing: a choice by the clock made two runs of
 * one seed differ on a loaded machine; near the floor either path costs
 * about the same, so little speed is lost. */
double pt_sptrain_auto_sparsity(int cap)
{
#if VW == 16
    return cap <= 128 ? 0.70 : 0.80;
#elif VW == 8
    (void)cap;
    return 0.75;
#else
    (void)cap;
    return 0.90;
#endif
}

pt_status pt_sptrain_enter(pt_sptrain *s, pt_net *m, pt_optim *o, pt_err *err)
{
    if (!m->mask || s->mode == PT_SPARSE_OFF)
        return PT_OK;
    int ld = ld_of(s->cap < m->cap ? s->cap : m->cap), any = 0;
    double auto_floor = pt_sptrain_auto_sparsity(s->cap);
    for (int l = 0; l < m->n_layers; l++) {
        pt_layer *L = &m->layer[l];
        pt_splayer *S = &s->layer[l];
        s->chosen[l] = 0;
        if (L->kind != PT_LAYER_DENSE || S->active)
            continue;
        size_t nw = (size_t)L->n_in * L->n_out, kept = 0;
        for (size_t i = 0; i < nw; i++)
            kept += m->mask[L->off + i] != 0.0f;
        double sparsity = 1.0 - (double)kept / (double)nw;
        if (kept == nw || (s->mode == PT_SPARSE_AUTO && sparsity < auto_floor)) {
            if (kept < nw)
                s->chosen[l] = 1;
            continue;
        }
        if (build_layer(S, m, l, o, ld) != 0 ||
            reserve(&s->t0, &s->t0_len, (size_t)L->n_out * ld) != 0 ||
            reserve(&s->t1, &s->t1_len, (size_t)L->n_in * ld) != 0) {
            free_layer(S);
            pt_sptrain_leave(s, m, o);
            return pt_fail(err, PT_ERR_NOMEM, "sparse training: out of memory");
        }
        s->chosen[l] = 2;
        S->active = 1;
        any = 1;
    }
    if (any) {
        m->sparse = s;
        s->synced = 1; /* the packed weights are copies of the dense ones */
    }
    return PT_OK;
}

void pt_sptrain_sync(pt_sptrain *s, pt_net *m)
{
    if (s->synced)
        return;
    for (int l = 0; l < m->n_layers; l++) {
        pt_splayer *S = &s->layer[l];
        if (!S->active)
            continue;
        pt_layer *L = &m->layer[l];
        for (int r = 0; r < L->n_out; r++)
            for (int32_t k = S->rowptr[r]; k < S->rowptr[r + 1]; k++)
                L->w[(size_t)r * L->n_in + S->col[k]] = S->val[k];
    }
    s->synced = 1;
}

void pt_sptrain_leave(pt_sptrain *s, pt_net *m, pt_optim *o)
{
    pt_sptrain_sync(s, m);
    for (int l = 0; l < m->n_layers; l++) {
        pt_splayer *S = &s->layer[l];
        if (!S->val)
            continue;
        if (S->active) {
            const pt_layer *L = &m->layer[l];
            for (int r = 0; r < L->n_out; r++)
                for (int32_t k = S->rowptr[r]; k < S->rowptr[r + 1]; k++) {
                    size_t i = L->off + (size_t)r * L->n_in + S->col[k];
                    o->m[i] = S->m[k];
                    if (o->v)
                        o->v[i] = S->v[k];
                }
        }
        free_layer(S);
    }
    if (m->sparse == s)
        m->sparse = NULL;
}

int pt_sptrain_forward(pt_sptrain *s, pt_net *m, int l, int n)
{
    pt_splayer *S = &s->layer[l];
    if (!S->active)
        return 0;
    if (n > s->cap || n > m->cap) {
        /* An evaluation chunk larger than a training batch: the buffers are
         * sized for the batch, so this pass runs dense on synced weights. */
        pt_sptrain_sync(s, m);
        return 0;
    }
    const pt_layer *L = &m->layer[l];
    int ld = ld_of(n);
    to_feature_major(m->act[l], n, L->n_in, S->xt, ld);
    spmm(S->rowptr, S->col, S->val, L->n_out, S->xt, ld, s->t0);
    to_row_major(s->t0, ld, n, L->n_out, m->act[l + 1]);
    return 1;
}

int pt_sptrain_backward(pt_sptrain *s, pt_net *m, int l, int n)
{
    pt_splayer *S = &s->layer[l];
    if (!S->active)
        return 0;
    const pt_layer *L = &m->layer[l];
    int ld = ld_of(n);
    to_feature_major(m->delta[l], n, L->n_out, s->t0, ld);
    if (l > 0) {
        spmm(S->cptr, S->crow, S->valt, L->n_in, s->t0, ld, s->t1);
        to_row_major(s->t1, ld, n, L->n_in, m->delta[l - 1]);
    }
    sddmm(S->rowptr, S->col, S->grad, L->n_out, s->t0, S->xt, ld);
    s->steps[l]++;
    return 1;
}

void pt_sptrain_update(pt_sptrain *s, const pt_net *m, int l, const pt_optim *o,
                       const pt_step *st, float max_norm)
{
    pt_splayer *S = &s->layer[l];
    /* o's settings and step count (Adam's bias correction) with the packed
     * state: the update is pt_optim_update's, element for element. */
    pt_optim p = *o;
    p.m = S->m;
    p.v = S->v;
    p.n = (size_t)S->nnz;
    pt_optim_update(&p, S->val, S->grad, NULL, 0, (size_t)S->nnz, st);
    if (max_norm > 0.0f) {
        /* As train.c's max_norm on a dense row: its pruned entries are 0 and
         * add nothing to the sum, so the norm and the scaling are the same. */
        for (int r = 0; r < m->layer[l].n_out; r++) {
            float *w = S->val + S->rowptr[r];
            int len = S->rowptr[r + 1] - S->rowptr[r];
            double sq = 0.0;
            for (int i = 0; i < len; i++)
                sq += (double)w[i] * w[i];
            if (sq > (double)max_norm * max_norm) {
                float f = (float)(max_norm / sqrt(sq));
                for (int i = 0; i < len; i++)
                    w[i] *= f;
            }
        }
    }
    for (int32_t q = 0; q < S->nnz; q++)
        S->valt[q] = S->val[S->cperm[q]];
    s->synced = 0;
}
