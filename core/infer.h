/*
 * infer.h — fast inference of a trained (possibly pruned) network, and what
 * the final network costs to store and to run.
 *
 * pt_infer_build() takes a pt_net, drops its dead hidden neurons
 * (pt_net_compact, so a neuron-pruned network becomes a physically smaller
 * dense one) and then picks, per layer and separately for batch 1 and for
 * larger batches, the faster of two kernels by timing both on the spot:
 * dense (pt_sgemm, gemm.h, at batch > 1; cblas_sgemv at batch 1) or sparse
 * (csr.h). A layer more than
 * half non-zero is not even tried sparse. The result is never meaningfully
 * slower than dense and gives the network's logits up to float rounding
 * (summation order, folded biases).
 *
 *     pt_infer e;
 *     if (pt_infer_build(&e, &net, 128, PT_INFER_AUTO, &err) != PT_OK) ...
 *     pt_infer_run(&e, x, n, logits);   // x: n x n_in, logits: n x n_out
 *     pt_infer_free(&e);
 *
 * A network with conv layers is compacted and then run by pt_net_forward
 * (im2col + sgemm, every layer dense): its buffers hold max_batch rows.
 *
 * The engine owns copies of everything it reads; the source network may
 * change or go away after the build. pt_infer_run allocates nothing, but it
 * writes the engine's buffers: one engine per thread.
 */
#ifndef PT_INFER_H
#define PT_INFER_H

#include "csr.h"
#include "net.h"
#include "status.h"

struct cJSON;

/* Flags of pt_infer_build; combine with |. */
enum {
    PT_INFER_AUTO = 0,      /* time both kernels per layer, keep the faster */
    PT_INFER_DENSE = 1,     /* every layer dense */
    PT_INFER_SPARSE = 2,    /* every layer sparse (when n_in <= PT_CSR_MAX_IN) */
    PT_INFER_NO_COMPACT = 4, /* keep dead neurons (the plain dense baseline) */
    /* No timing: a layer runs sparse (batch and batch 1) when at most
     * PT_INFER_SPARSE_DENSITY of its weights are non-zero, else dense. For
     * builds that must cost next to nothing and choose the same on every
     * run (a trial's evaluation, train.c); excludes DENSE and SPARSE. */
    PT_INFER_BY_DENSITY = 8,
    /* Dense layers by OpenBLAS (cblas_sgemm) instead of pt_sgemm: the
     * reference that speed-ups are quoted against (infer_cost.c), what the
     * network costs run dense by a standard library. */
    PT_INFER_BLAS = 16
};

/* BY_DENSITY's cut: with a quarter of the weights left the batch kernel
 * (csr.h) is already well ahead of a GEMM (LeNet-300-100, every layer
 * pruned alike, batch 128, AMD Zen 4: 1.75x at 70% sparsity, 2.1x at 75%,
 * 2.5x at 80%; AUTO's timing picks sparse from ~60%), so the rule gives up a
 * little below the cut and never picks the slower kernel above it. */
#define PT_INFER_SPARSE_DENSITY 0.25

typedef enum { PT_KERNEL_DENSE = 0, PT_KERNEL_SPARSE = 1 } pt_kernel;

typedef struct {
    pt_net net;                      /* the network as run (compacted), cap 1
                                        (conv nets: max_batch) */
    int max_batch, ld;               /* ld: floats per feature row of a batch */
    pt_kernel k1[PT_NET_MAX_LAYERS]; /* kernel for batch 1 */
    pt_kernel kn[PT_NET_MAX_LAYERS]; /* kernel for batches of 2 or more */
    pt_csr csr[PT_NET_MAX_LAYERS];   /* built when a kernel uses it */
    float *buf[2];                   /* feature-major activations, ping-pong */
    float *work;                     /* pt_sgemm's scratch for the first layer */
    int blas;                        /* PT_INFER_BLAS */
} pt_infer;

/* Builds an engine for batches of 1..max_batch rows; with AUTO the timing
 * takes up to ~10 ms per layer and batch size (a few ms for LeNet). Errors:
 * PT_ERR_ARG (max_batch < 1, unknown flags, DENSE with SPARSE),
 * PT_ERR_NOMEM; on error *e is zeroed. */
pt_status pt_infer_build(pt_infer *e, const pt_net *net, int max_batch, int flags, pt_err *err);

/* AUTO's timing of one layer at one batch size: up to 21 alternating rounds
 * within this many microseconds (at least one round each). */
#define PT_INFER_PICK_US 10e3

/* pt_infer_build with AUTO's timing per layer and batch size limited to
 * pick_us microseconds instead (<= 0: PT_INFER_PICK_US): fewer rounds, a
 * noisier choice, for a build that must cost little (a trial's cost report
 * under a short budget, infer_cost.c). */
pt_status pt_infer_build_timed(pt_infer *e, const pt_net *net, int max_batch, int flags,
                               double pick_us, pt_err *err);

/* Logits (n x n_out, row-major) of the rows x (n x n_in, row-major), in
 * batches of at most max_batch rows. Batch 1 and larger batches may use
 * different kernels. */
void pt_infer_run(pt_infer *e, const float *x, int n, float *logits);

/* Safe on a zeroed struct. */
void pt_infer_free(pt_infer *e);

/* Name of a kernel: "dense" or "sparse". */
const char *pt_kernel_name(pt_kernel k);

/* --- what a final network costs ----------------------------------------- */

typedef struct {
    int n_in, n_out;        /* as trained */
    int run_in, run_out;    /* as run, after dropping dead neurons */
    long weights, nnz;      /* as trained: n_in * n_out, non-zero weights */
    long run_nnz;           /* non-zero weights as run */
    double sparsity;        /* 1 - nnz / weights */
    long bytes_dense;       /* 4 (n_in n_out + n_out) */
    long bytes_stored;      /* the smaller of the run layer's dense and CSR
                               (pt_csr_bytes) forms */
    long flops;             /* per sample as run at batch 1: 2 run_nnz sparse,
                               2 run_in run_out dense (conv: times oh ow) */
    int kind;               /* pt_layer_kind */
    double latency_b128_us; /* conv nets: median time of this layer as run at
                               batch 128 (0 for MLPs, whose kernels are timed
                               whole, see kernel_b128) */
    pt_kernel kernel_b1, kernel_b128;
} pt_layer_cost;

typedef struct {
    int n_layers;
    pt_layer_cost layer[PT_NET_MAX_LAYERS];
    long weights, nnz;
    double sparsity;
    long bytes_dense, bytes_stored;
    long flops_dense, flops; /* per sample; dense = 2 sum n_in n_out */
    /* Medians over repeated runs, microseconds: this network as run, and the
     * same network run dense and uncompacted by OpenBLAS (PT_INFER_BLAS). */
    double latency_b1_us, latency_b128_us;
    double dense_latency_b1_us, dense_latency_b128_us;
    double speedup_b1, speedup_b128; /* dense latency / latency */
} pt_infer_cost;

/* Measures net (about 0.2 s, most of it timing; the budgeted form below
 * takes less). Latencies are taken on the
 * rows x (n_x x n_in; reused cyclically) or, when x is NULL, on synthetic
 * inputs in [0, 1) with about half of them 0, like images and ReLU outputs.
 * Errors: those of pt_infer_build. */
pt_status pt_infer_cost_measure(const pt_net *net, const float *x, int n_x, pt_infer_cost *c,
                                pt_err *err);

/* The same with the timing capped at budget_s seconds (default, and the
 * cap: 0.12 s; <= 0 = the default). The default budget times the latencies
 * on top of pt_infer_build's full kernel choice; a shorter one covers both,
 * half for the choice (pt_infer_build_timed) and half for the latencies.
 * Each latency still is the median of at least one turn of runs (25 at
 * batch 1, 4 at batch 128) and each choice rests on at least one timed round
 * per kernel: a short budget gives noisier figures, never a missing one. A
 * search worker scales it to the trial's length so the measurement stays a
 * small part of a short trial. */
pt_status pt_infer_cost_measure_budget(const pt_net *net, const float *x, int n_x, double budget_s,
                                       pt_infer_cost *c, pt_err *err);

/* Sets the figures as flat keys of the JSON object o (replacing keys of the
 * same name): sparsity, nnz,
 * weights, bytes_dense, bytes_stored, flops_per_sample,
 * flops_per_sample_dense, latency_b1_us, latency_b128_us,
 * dense_latency_b1_us, dense_latency_b128_us, speedup_b1, speedup_b128, and
 * "layers": [{type ("conv" | "dense"), n_in, n_out, run_in, run_out (conv: filters
 * kept), nnz, run_nnz, sparsity, bytes_stored, flops_per_sample, and for
 * conv nets latency_b128_us,
 * kernel_b1, kernel_b128}]. PT_ERR_NOMEM when cJSON cannot allocate. */
pt_status pt_infer_cost_json(const pt_infer_cost *c, struct cJSON *o, pt_err *err);

/* pt_infer_cost_measure on synthetic inputs, then pt_infer_cost_json: the
 * cost block of a trial's result. */
pt_status pt_infer_cost_report(const pt_net *net, struct cJSON *o, pt_err *err);
/* ... with pt_infer_cost_measure_budget's budget_s. */
pt_status pt_infer_cost_report_budget(const pt_net *net, double budget_s, struct cJSON *o,
                                      pt_err *err);

#endif
