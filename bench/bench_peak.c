/*
 * bench_peak.c — the ceiling scripts/bench_train's figures are read against:
 * what one core can do for LeNet-300-100's training step at batch 128.
 *
 *   fma peak   a loop of independent fp32 FMAs (16 accumulators, 8 and 16
 *              lanes: AVX2 and AVX-512 where the build targets them), in
 *              GFLOP/s and as samples/s of the step's arithmetic
 *              (2 x 563,400 flops: forward 266,200 multiply-adds, weight
 *              gradients 266,200, input gradients of layers 2 and 3 31,000);
 *   gemms      the step's five products alone (the calls and shapes of
 *              core/net.c), by OpenBLAS and by pt_sgemm (core/gemm.h), as
 *              samples/s.
 * Training can run no faster than the GEMMs unless its kernels beat
 * OpenBLAS's, and no faster than the FMA peak at all.
 *   bench_peak [SECONDS=1]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gemm.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

/* GFLOP/s of `reps` x 64 rounds of 16 independent FMAs on vectors of type V
 * (enough chains to cover the FMA latency on two pipes). */
#define FMA_LOOP(V, LANES, secs, out)                                                              \
    do {                                                                                           \
        V a[16], m, c;                                                                             \
        for (int i = 0; i < LANES; i++)                                                            \
            m[i] = 0.999999f, c[i] = 1e-7f;                                                        \
        for (int k = 0; k < 16; k++)                                                               \
            a[k] = m * (float)k;                                                                   \
        long n = 0;                                                                                \
        double t0 = now(), t;                                                                      \
        do {                                                                                       \
            for (int r = 0; r < 4096; r++)                                                         \
                for (int k = 0; k < 16; k++)                                                       \
                    a[k] = a[k] * m + c;                                                           \
            n += 4096;                                                                             \
            t = now() - t0;                                                                        \
        } while (t < (secs));                                                                      \
        float sink = 0;                                                                            \
        for (int k = 0; k < 16; k++)                                                               \
            sink += a[k][0];                                                                       \
        if (sink == 12345.0f) /* keeps the loop alive */                                           \
            puts("");                                                                              \
        (out) = 2.0 * 16 * (LANES) * (double)n / t / 1e9;                                          \
    } while (0)

/* One product of the step, by OpenBLAS or by pt_sgemm (own). */
static void step_gemm(int own, int ta, int tb, int m, int n, int k, const float *a, int lda,
                      const float *b, int ldb, float *c, int ldc, float *work)
{
    if (own)
        pt_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc, work);
    else
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (!(secs > 0)) {
        fprintf(stderr, "bench_peak: SECONDS: expected a positive number, got '%s'\n", argv[1]);
        return 2;
    }
    openblas_set_num_threads(1); /* one core, as a trial trains */
    const double flops_per_sample = 2.0 * 563400;
    double g8, g16;
    FMA_LOOP(v8, 8, secs, g8);
    FMA_LOOP(v16, 16, secs, g16);
    double peak = g8 > g16 ? g8 : g16;

    enum { B = 128, L = 3 };
    const int dim[L + 1] = {784, 300, 100, 10};
    float *w[L], *gw[L], *act[L + 1], *dz[L + 1];
    for (int l = 0; l < L; l++) {
        w[l] = calloc((size_t)dim[l] * (size_t)dim[l + 1], sizeof(float));
        gw[l] = calloc((size_t)dim[l] * (size_t)dim[l + 1], sizeof(float));
    }
    for (int l = 0; l <= L; l++) {
        act[l] = calloc((size_t)B * (size_t)dim[l], sizeof(float));
        dz[l] = calloc((size_t)B * (size_t)dim[l], sizeof(float));
    }
    float *work = calloc(pt_sgemm_work(0, 1, dim[1], dim[0]) + 1, sizeof(float));
    for (int l = 0; l <= L; l++)
        if (!work || !act[l] || !dz[l] || (l < L && (!w[l] || !gw[l]))) {
            fprintf(stderr, "bench_peak: out of memory\n");
            return 1;
        }
    for (int l = 0; l < L; l++)
        for (int i = 0; i < dim[l] * dim[l + 1]; i++)
            w[l][i] = 0.01f * (float)((i * 7919) % 201 - 100);
    for (int i = 0; i < B * dim[0]; i++)
        act[0][i] = (float)(i % 255) / 255.0f;
    double sps[2];
    for (int own = 0; own < 2; own++) {
        long steps = 0;
        double t0 = now(), t;
        do {
            for (int l = 0; l < L; l++) /* forward: act[l+1] = act[l] W^T */
                step_gemm(own, 0, 1, B, dim[l + 1], dim[l], act[l], dim[l], w[l], dim[l],
                          act[l + 1], dim[l + 1], work);
            for (int l = L - 1; l >= 0; l--) {
                if (l > 0) /* input gradient, not for the first layer */
                    step_gemm(own, 0, 0, B, dim[l], dim[l + 1], dz[l + 1], dim[l + 1], w[l], dim[l],
                              dz[l], dim[l], NULL);
                step_gemm(own, 1, 0, dim[l + 1], dim[l], B, dz[l + 1], dim[l + 1], act[l], dim[l],
                          gw[l], dim[l], NULL);
            }
            steps++;
            t = now() - t0;
        } while (t < secs);
        sps[own] = (double)B * (double)steps / t;
    }
    printf("fma peak    %7.1f GFLOP/s (8 lanes %.1f, 16 lanes %.1f) = %6.0f samples/s of "
           "LeNet-300-100's step\n",
           peak, g8, g16, peak * 1e9 / flops_per_sample);
    const char *who[2] = {"gemms, OpenBLAS ", "gemms, pt_sgemm "};
    for (int own = 0; own < 2; own++)
        printf("%s%7.1f GFLOP/s = %6.0f samples/s (%.0f%% of the peak)%s\n", who[own],
               sps[own] * flops_per_sample / 1e9, sps[own],
               100 * sps[own] * flops_per_sample / 1e9 / peak,
               own ? (pt_sgemm_path()[0] == 'o' ? " (this build: OpenBLAS's)" : " (AVX-512)") : "");
    free(work);
    for (int l = 0; l < L; l++) {
        free(w[l]);
        free(gw[l]);
    }
    for (int l = 0; l <= L; l++) {
        free(act[l]);
        free(dz[l]);
    }
    return 0;
}
