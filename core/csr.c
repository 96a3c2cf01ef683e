/*
 * csr.c — building the two sparse forms of a layer and their kernels.
 *
 * Why these kernels (measured on trained LeNet-300-100 layers, see
 * scripts/bench_infer): dense sgemv reads every weight, ~1 MB for LeNet, so
 * it is bound by cache bandwidth; a sparse kernel reads far less but pays
 * per non-zero. A scalar CSR loop pays a dependent load per non-zero and
 * loses to dense at 90% sparsity; an AVX-512 gather pays one load-port slot
 * per non-zero. The permute-step kernel (see csr.h) pays one vpermt2ps per
 * 16 non-zeros plus the padding of lanes whose row has nothing left in the
 * step's window. Sorting the rows by non-zero count before grouping them
 * 16 at a time keeps that padding down; windows every 16 inputs instead of
 * every 32 cut it by another ~20% (a row that runs out of non-zeros in one
 * window goes on with the next 16 inputs instead of idling). Each row group
 * is one flat stream of steps, each step naming its window, rather than a
 * loop per (group, window) with its own trip count: the zero-window
 * skipping that those loops allowed (image borders) saved less than they
 * cost (bench_infer at 90%: 4.2 -> 3.8 us per forward, at 95%: 2.6 -> 2.4
 * us).
 *
 * For batches the CSR form runs against feature-major activations: one
 * broadcast weight times a contiguous run of the batch, accumulators in
 * registers, up to 128 samples per pass.
 */
#include "csr.h"

#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define PT_CSR_AVX512 1
#else
#define PT_CSR_AVX512 0
#endif

const char *pt_csr_path(void)
{
#if PT_CSR_AVX512
    return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
    return "avx2";
#else
    return "scalar";
#endif
}

void pt_csr_free(pt_csr *c)
{
    free(c->rowptr);
    free(c->col);
    free(c->val);
    free(c->bias);
    free(c->gsteps);
    free(c->pwin);
    free(c->slot_row);
    free(c->slot_bias);
    free(c->pw);
    free(c->pidx);
    memset(c, 0, sizeof *c);
}

#if PT_CSR_AVX512
typedef struct {
    int nnz, row;
} row_count;

/* Most non-zeros first; ties by row so the layout is deterministic. */
static int by_count_desc(const void *a, const void *b)
{
    const row_count *x = a, *y = b;
    if (x->nnz != y->nnz)
        return x->nnz > y->nnz ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Lays out the steps, group by group and window by window. With fill == 0
 * it only counts them (n_steps, gsteps); with fill == 1 it also writes the
 * weights, positions and windows, zero-padded. cur[] is each slot's cursor
 * into its CSR row. */
static void walk_steps(pt_csr *c, int fill)
{
    long step = 0;
    for (int g = 0; g < c->n_rg; g++) {
        int cur[16], end[16];
        long first = step;
        for (int s = 0; s < 16; s++) {
            int r = c->slot_row[g * 16 + s];
            cur[s] = r < 0 ? 0 : c->rowptr[r];
            end[s] = r < 0 ? 0 : c->rowptr[r + 1];
        }
        for (int b = 0; b < c->n_cb; b++) {
            /* Window b covers inputs 16b .. 16b+31: every lane must finish
             * its non-zeros below 16(b+1) here (the next window starts
             * there), which sets the step count n; a lane with fewer may
             * go on into 16(b+1) .. 16b+31 instead of idling. */
            int must = 16 * (b + 1), may = 16 * (b + 2), n = 0, cnt[16];
            for (int s = 0; s < 16; s++) {
                cnt[s] = 0;
                while (cur[s] + cnt[s] < end[s] && c->col[cur[s] + cnt[s]] < must)
                    cnt[s]++;
                if (cnt[s] > n)
                    n = cnt[s];
            }
            for (int s = 0; s < 16; s++)
                while (cnt[s] < n && cur[s] + cnt[s] < end[s] && c->col[cur[s] + cnt[s]] < may)
                    cnt[s]++;
            for (int k = 0; fill && k < n; k++) {
                float *w = c->pw + (step + k) * 16;
                uint8_t *p = c->pidx + (size_t)((step + k) / 4) * 64 + (size_t)((step + k) % 4);
                c->pwin[step + k] = (uint16_t)b;
                for (int s = 0; s < 16; s++) {
                    int has = k < cnt[s];
                    w[s] = has ? c->val[cur[s] + k] : 0.0f;
                    p[4 * s] = has ? (uint8_t)(c->col[cur[s] + k] - 16 * b) : 0;
                }
            }
            step += n;
            for (int s = 0; s < 16; s++)
                cur[s] += cnt[s];
        }
        /* pad the group to whole 4-step packs: zero weights at window 0 */
        for (; (step - first) % 4; step++) {
            if (!fill)
                continue;
            memset(c->pw + step * 16, 0, 16 * sizeof(float));
            for (int s = 0; s < 16; s++)
                c->pidx[(size_t)(step / 4) * 64 + (size_t)(step % 4) + 4 * (size_t)s] = 0;
            c->pwin[step] = 0;
        }
        c->gsteps[g] = (int32_t)(step - first);
    }
    c->n_steps = step;
}

/* Assigns rows to the 16 slots of each group in order of non-zero count, so
 * a group's rows run out at about the same time. Grouping instead by where
 * the non-zeros fall (greedy, on per-window counts) measured worse on
 * trained LeNets: neurons that look at the same pixels are no closer in
 * density, and the densest row of a group sets its length (layer 0 at 90%
 * after 10 epochs: 2607 steps sorted, ~3500 grouped). */
static int assign_slots(pt_csr *c)
{
    row_count *rc = malloc(sizeof *rc * (size_t)c->n_out);
    if (!rc)
        return -1;
    for (int r = 0; r < c->n_out; r++)
        rc[r] = (row_count){c->rowptr[r + 1] - c->rowptr[r], r};
    qsort(rc, (size_t)c->n_out, sizeof *rc, by_count_desc);
    for (int s = 0; s < 16 * c->n_rg; s++)
        c->slot_row[s] = s < c->n_out ? rc[s].row : -1;
    free(rc);
    return 0;
}

static int build_steps(pt_csr *c)
{
    c->n_rg = (c->n_out + 15) / 16;
    c->n_cb = (c->n_in + 15) / 16;
    c->gsteps = malloc(sizeof(int32_t) * (size_t)c->n_rg);
    c->slot_row = malloc(sizeof(int32_t) * 16 * (size_t)c->n_rg);
    c->slot_bias = calloc(16 * (size_t)c->n_rg, sizeof(float));
    if (!c->gsteps || !c->slot_row || !c->slot_bias || assign_slots(c) != 0)
        return -1;
    for (int s = 0; s < 16 * c->n_rg; s++)
        c->slot_bias[s] = c->slot_row[s] < 0 ? 0.0f : c->bias[c->slot_row[s]];
    walk_steps(c, 0);
    size_t n = (size_t)(c->n_steps ? c->n_steps : 4);
    c->pw = malloc(sizeof(float) * 16 * n);
    c->pidx = malloc(16 * n);
    c->pwin = malloc(sizeof(uint16_t) * n);
    if (!c->pw || !c->pidx || !c->pwin)
        return -1;
    walk_steps(c, 1);
    return 0;
}
#endif

pt_status pt_csr_build(pt_csr *c, const float *w, const float *b, int n_out, int n_in, pt_err *err)
{
    memset(c, 0, sizeof *c);
    if (n_in < 1 || n_out < 1 || n_in > PT_CSR_MAX_IN)
        return pt_fail(err, PT_ERR_ARG, "sparse layer: %d inputs x %d outputs (inputs 1..%d)", n_in,
                       n_out, PT_CSR_MAX_IN);
    c->n_in = n_in;
    c->n_out = n_out;
    for (size_t i = 0; i < (size_t)n_in * (size_t)n_out; i++)
        c->nnz += w[i] != 0.0f;
    if (c->nnz > INT32_MAX) {
        long nnz = c->nnz;
        memset(c, 0, sizeof *c);
        return pt_fail(err, PT_ERR_ARG, "sparse layer: %ld non-zeros (at most %d)", nnz, INT32_MAX);
    }
    c->rowptr = malloc(sizeof(int32_t) * (size_t)(n_out + 1));
    c->col = malloc(sizeof(uint16_t) * (size_t)(c->nnz ? c->nnz : 1));
    c->val = malloc(sizeof(float) * (size_t)(c->nnz ? c->nnz : 1));
    c->bias = malloc(sizeof(float) * (size_t)n_out);
    if (!c->rowptr || !c->col || !c->val || !c->bias)
        goto nomem;
    long k = 0;
    for (int r = 0; r < n_out; r++) {
        c->rowptr[r] = (int32_t)k;
        for (int j = 0; j < n_in; j++) {
            float v = w[(size_t)r * n_in + j];
            if (v != 0.0f) {
                c->col[k] = (uint16_t)j;
                c->val[k++] = v;
            }
        }
    }
    c->rowptr[n_out] = (int32_t)k;
    memcpy(c->bias, b, sizeof(float) * (size_t)n_out);
#if PT_CSR_AVX512
    if (build_steps(c) != 0)
        goto nomem;
#endif
    return PT_OK;
nomem:
    pt_csr_free(c);
    return pt_fail(err, PT_ERR_NOMEM, "sparse layer: out of memory");
}

#if PT_CSR_AVX512
void pt_csr_gemv(const pt_csr *c, const float *x, float *y, int relu)
{
    const float *w = c->pw;
    const uint8_t *p = c->pidx;
    const uint16_t *win = c->pwin;
    for (int g = 0; g < c->n_rg; g++) {
        /* Four accumulators: consecutive steps do not wait on each other. */
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < c->gsteps[g]; k += 4, w += 64, p += 64, win += 4) {
            /* vpermt2ps reads only the low 5 bits of each lane, so a lane's
             * four positions sit in its four bytes and a shift selects one;
             * each step reloads its window of x from L1. */
            /* The weight stream comes from L2; fetching 16 steps ahead
             * measured ~10% faster than leaving it to the hardware (the
             * address is computed as an integer: it may run past the end). */
            uintptr_t ahead = (uintptr_t)w + 1024;
            for (int line = 0; line < 4; line++)
                _mm_prefetch((const char *)(ahead + 64 * (uintptr_t)line), _MM_HINT_T0);
            _mm_prefetch((const char *)((uintptr_t)p + 1024), _MM_HINT_T0);
            __m512i i = _mm512_loadu_si512(p);
            const float *x0 = x + 16 * win[0], *x1 = x + 16 * win[1], *x2 = x + 16 * win[2],
                        *x3 = x + 16 * win[3];
            a0 = _mm512_fmadd_ps(
                _mm512_loadu_ps(w),
                _mm512_permutex2var_ps(_mm512_loadu_ps(x0), i, _mm512_loadu_ps(x0 + 16)), a0);
            a1 =
                _mm512_fmadd_ps(_mm512_loadu_ps(w + 16),
                                _mm512_permutex2var_ps(_mm512_loadu_ps(x1), _mm512_srli_epi32(i, 8),
                                                       _mm512_loadu_ps(x1 + 16)),
                                a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + 32),
                                 _mm512_permutex2var_ps(_mm512_loadu_ps(x2),
                                                        _mm512_srli_epi32(i, 16),
                                                        _mm512_loadu_ps(x2 + 16)),
                                 a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + 48),
                                 _mm512_permutex2var_ps(_mm512_loadu_ps(x3),
                                                        _mm512_srli_epi32(i, 24),
                                                        _mm512_loadu_ps(x3 + 16)),
                                 a3);
        }
        __m512 z = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
        z = _mm512_add_ps(z, _mm512_loadu_ps(c->slot_bias + 16 * g));
        if (relu)
            z = _mm512_max_ps(z, _mm512_setzero_ps());
        int rows = c->n_out - 16 * g;
        __mmask16 m = rows >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rows) - 1);
        _mm512_mask_i32scatter_ps(y, m, _mm512_loadu_si512(c->slot_row + 16 * g), z, 4);
    }
}

/* One pass over columns col0.. of the batch, nv vectors of 16 (the last one
 * masked by tail); nv is a constant at every call site, so acc[] lives in
 * registers. */
static inline __attribute__((always_inline)) void spmm_panel(const pt_csr *c, const float *xt,
                                                             int ld, float *yt, int col0,
                                                             const int nv, __mmask16 tail, int relu)
{
    for (int o = 0; o < c->n_out; o++) {
        __m512 acc[8];
        for (int v = 0; v < nv; v++)
            acc[v] = _mm512_set1_ps(c->bias[o]);
        for (int32_t k = c->rowptr[o]; k < c->rowptr[o + 1]; k++) {
            __m512 w = _mm512_set1_ps(c->val[k]);
            const float *xr = xt + (size_t)c->col[k] * (size_t)ld + col0;
            for (int v = 0; v < nv - 1; v++)
                acc[v] = _mm512_fmadd_ps(w, _mm512_loadu_ps(xr + 16 * v), acc[v]);
            acc[nv - 1] =
                _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(tail, xr + 16 * (nv - 1)), acc[nv - 1]);
        }
        float *yr = yt + (size_t)o * (size_t)ld + col0;
        for (int v = 0; v < nv; v++) {
            __m512 z = relu ? _mm512_max_ps(acc[v], _mm512_setzero_ps()) : acc[v];
            _mm512_mask_storeu_ps(yr + 16 * v, v == nv - 1 ? tail : (__mmask16)0xFFFF, z);
        }
    }
}

void pt_csr_spmm_t(const pt_csr *c, const float *xt, int ld, int n, float *yt, int relu)
{
    for (int col0 = 0; col0 < n; col0 += 128) {
        int m = n - col0 < 128 ? n - col0 : 128, nv = (m + 15) / 16;
        __mmask16 tail = m % 16 ? (__mmask16)((1u << (m % 16)) - 1) : (__mmask16)0xFFFF;
        switch (nv) {
        case 1:
            spmm_panel(c, xt, ld, yt, col0, 1, tail, relu);
            break;
        case 2:
            spmm_panel(c, xt, ld, yt, col0, 2, tail, relu);
            break;
        case 3:
            spmm_panel(c, xt, ld, yt, col0, 3, tail, relu);
            break;
        case 4:
            spmm_panel(c, xt, ld, yt, col0, 4, tail, relu);
            break;
        case 5:
            spmm_panel(c, xt, ld, yt, col0, 5, tail, relu);
            break;
        case 6:
            spmm_panel(c, xt, ld, yt, col0, 6, tail, relu);
            break;
        case 7:
            spmm_panel(c, xt, ld, yt, col0, 7, tail, relu);
            break;
        default:
            spmm_panel(c, xt, ld, yt, col0, 8, tail, relu);
            break;
        }
    }
}
#else
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* AVX2 has no two-register permute over 32 floats; this is the plain gather
 * kernel, 8 non-zeros of a row per gather, which the build-time timing in
 * infer.c only keeps where it beats sgemv. */
void pt_csr_gemv(const pt_csr *c, const float *x, float *y, int relu)
{
    for (int o = 0; o < c->n_out; o++) {
        int32_t k = c->rowptr[o], end = c->rowptr[o + 1];
        __m256 acc = _mm256_setzero_ps();
        for (; k + 8 <= end; k += 8) {
            __m256i j = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(c->col + k)));
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(c->val + k), _mm256_i32gather_ps(x, j, 4), acc);
        }
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        float s = c->bias[o] + _mm_cvtss_f32(h);
        for (; k < end; k++)
            s += c->val[k] * x[c->col[k]];
        y[o] = relu && !(s > 0.0f) ? 0.0f : s;
    }
}
#else
void pt_csr_gemv(const pt_csr *c, const float *x, float *y, int relu)
{
    for (int o = 0; o < c->n_out; o++) {
        float s = c->bias[o];
        for (int32_t k = c->rowptr[o]; k < c->rowptr[o + 1]; k++)
            s += c->val[k] * x[c->col[k]];
        y[o] = relu && !(s > 0.0f) ? 0.0f : s;
    }
}
#endif

void pt_csr_spmm_t(const pt_csr *c, const float *xt, int ld, int n, float *yt, int relu)
{
    for (int o = 0; o < c->n_out; o++) {
        float *yr = yt + (size_t)o * (size_t)ld;
        for (int i = 0; i < n; i++)
            yr[i] = c->bias[o];
        for (int32_t k = c->rowptr[o]; k < c->rowptr[o + 1]; k++) {
            const float w = c->val[k], *xr = xt + (size_t)c->col[k] * (size_t)ld;
            for (int i = 0; i < n; i++)
                yr[i] += w * xr[i];
        }
        if (relu)
            for (int i = 0; i < n; i++)
                yr[i] = yr[i] > 0.0f ? yr[i] : 0.0f;
    }
}
#endif
