/*
 * infer_cost.c — what a final network costs: sizes, FLOPs, measured latency.
 *
 * Counts come from the network as trained (sparsity, nnz) and as run
 * (compacted shapes, the kernels the engine picked). Latencies are medians
 * of individually timed runs, the engine and the dense baseline alternating
 * so that both see the same load from other processes; the timing budget is
 * capped (see the constants below) so every trial can afford it.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer.h"
#include "prune.h"

enum { B128 = 128, MAX_RUNS_B1 = 1000, MAX_RUNS_BN = 40 };
/* The default timing budget, split one third batch 1, two thirds batch 128
 * (a batch-128 run is ~100x longer, so it gets fewer, costlier samples). */
static const double BUDGET_US = 120e3;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n < 1)
        return 0.0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median latencies of a and d on batches of `batch` rows taken cyclically
 * from x (B128 rows). The two engines take turns in runs of CHUNK calls:
 * turns share the machine's load between them, and within a turn an engine
 * runs with its own weights in cache, as it would deployed (alternating
 * every call would make two ~1 MB dense LeNets evict each other from L2 and
 * time both at L3 speed). */
static void latency(pt_infer *a, pt_infer *d, const float *x, int n_in, int batch, double budget,
                    double *ta, double *td)
{
    int max_runs = batch == 1 ? MAX_RUNS_B1 : MAX_RUNS_BN, chunk = batch == 1 ? 25 : 4;
    double *v[2] = {malloc(sizeof(double) * (size_t)max_runs),
                    malloc(sizeof(double) * (size_t)max_runs)};
    float *out = malloc(sizeof(float) * (size_t)batch * (size_t)a->net.sizes[a->net.n_layers]);
    pt_infer *e[2] = {a, d};
    int n = 0, ok = v[0] && v[1] && out;
    double start = now_us();
    if (ok) { /* a network slow enough to blow the budget gets one short turn each */
        pt_infer_run(a, x, batch, out);
        double once = now_us() - start;
        if (once * 2 * chunk > budget)
            chunk = 1 + (int)(budget / (2 * once + 1));
    }
    while (ok && n + chunk <= max_runs && (n == 0 || now_us() - start < budget)) {
        for (int k = 0; k < 2; k++) {
            pt_infer_run(e[k], x, batch, out); /* its weights back into cache */
            for (int i = 0; i < chunk; i++) {
                const float *xi = x + (size_t)((n + i) * batch % B128) * n_in;
                double t0 = now_us();
                pt_infer_run(e[k], xi, batch, out);
                v[k][n + i] = now_us() - t0;
            }
        }
        n += chunk;
    }
    *ta = median(v[0], ok ? n : 0);
    *td = median(v[1], ok ? n : 0);
    free(v[0]);
    free(v[1]);
    free(out);
}

/* Per-layer medians at batch B128 of a conv net's engine (its own pt_net,
 * cap B128), inputs x already scaled. Few runs: a conv layer takes ms. */
static void layer_latency(pt_infer *a, const float *x, pt_infer_cost *c)
{
    enum { RUNS = 5 };
    pt_net *m = &a->net;
    memcpy(m->act[0], x, sizeof(float) * (size_t)B128 * m->sizes[0]);
    pt_net_forward(m, B128);
    for (int l = 0; l < m->n_layers; l++) {
        double t[RUNS];
        for (int r = 0; r < RUNS; r++) {
            double t0 = now_us();
            pt_net_forward_layer(m, l, B128);
            t[r] = now_us() - t0;
        }
        c->layer[l].latency_b128_us = median(t, RUNS);
    }
}

static long count_nnz(const pt_layer *L)
{
    long n = 0;
    for (size_t i = 0; i < (size_t)L->n_in * L->n_out; i++)
        n += L->w[i] != 0.0f;
    return n;
}

static void count(const pt_net *net, const pt_infer *a, pt_infer_cost *c)
{
    pt_sparsity sp;
    pt_sparsity_of(net, &sp);
    c->n_layers = net->n_layers;
    for (int l = 0; l < net->n_layers; l++) {
        pt_layer_cost *lc = &c->layer[l];
        const pt_layer *R = &a->net.layer[l];
        lc->n_in = net->layer[l].n_in;
        lc->n_out = net->layer[l].n_out;
        lc->run_in = R->n_in;
        lc->run_out = R->n_out;
        lc->weights = sp.weights[l];
        lc->nnz = sp.weights[l] - sp.zeros[l];
        lc->sparsity = lc->weights ? 1.0 - (double)lc->nnz / (double)lc->weights : 0.0;
        lc->bytes_dense = 4L * (lc->weights + lc->n_out);
        long run_nnz = lc->run_nnz = count_nnz(R),
             run_dense = 4L * ((long)R->n_in * R->n_out + R->n_out);
        long run_csr = pt_csr_bytes(run_nnz, R->n_out);
        lc->bytes_stored = run_csr < run_dense ? run_csr : run_dense;
        lc->kernel_b1 = a->k1[l];
        lc->kernel_b128 = a->kn[l];
        lc->flops = 2L * (a->k1[l] == PT_KERNEL_SPARSE ? run_nnz : pt_layer_macs(&a->net, l));
        lc->kind = R->kind;
        c->weights += lc->weights;
        c->nnz += lc->nnz;
        c->bytes_dense += lc->bytes_dense;
        c->bytes_stored += lc->bytes_stored;
        c->flops_dense += 2L * pt_layer_macs(net, l);
        c->flops += lc->flops;
    }
    c->sparsity = c->weights ? 1.0 - (double)c->nnz / (double)c->weights : 0.0;
}

pt_status pt_infer_cost_measure(const pt_net *net, const float *x, int n_x, pt_infer_cost *c,
                                pt_err *err)
{
    return pt_infer_cost_measure_budget(net, x, n_x, 0.0, c, err);
}

pt_status pt_infer_cost_measure_budget(const pt_net *net, const float *x, int n_x, double budget_s,
                                       pt_infer_cost *c, pt_err *err)
{
    double budget = budget_s > 0.0 && budget_s * 1e6 < BUDGET_US ? budget_s * 1e6 : BUDGET_US;
    memset(c, 0, sizeof *c);
    pt_infer a, d;
    memset(&d, 0, sizeof d);
    /* A short budget covers the kernel choice too: half of it for the
     * timing of each layer at batch 1 and 128, the other half for the
     * latencies; the default budget keeps the full choice. */
    double pick_us = budget < BUDGET_US ? budget / (4.0 * net->n_layers) : PT_INFER_PICK_US;
    pt_status st = pt_infer_build_timed(&a, net, B128, PT_INFER_AUTO,
                                        pick_us < PT_INFER_PICK_US ? pick_us : PT_INFER_PICK_US,
                                        err);
    if (st == PT_OK)
        st = pt_infer_build(&d, net, B128, PT_INFER_DENSE | PT_INFER_NO_COMPACT | PT_INFER_BLAS,
                            err);
    int n_in = net->sizes[0];
    float *in = st == PT_OK ? malloc(sizeof(float) * (size_t)B128 * (size_t)n_in) : NULL;
    if (st == PT_OK && !in)
        st = pt_fail(err, PT_ERR_NOMEM, "inference cost: out of memory");
    if (st == PT_OK) {
        for (int i = 0; i < B128; i++) {
            if (x && n_x > 0) {
                memcpy(in + (size_t)i * n_in, x + (size_t)(i % n_x) * n_in,
                       sizeof(float) * (size_t)n_in);
                continue;
            }
            uint32_t s = 2654435761u * (uint32_t)(i + 1);
            for (int j = 0; j < n_in; j++) {
                s = s * 1664525u + 1013904223u;
                in[(size_t)i * n_in + j] = (s >> 31) ? (float)(s >> 8 & 0xFFFF) / 65536.0f : 0.0f;
            }
        }
        count(net, &a, c);
        double lat = budget < BUDGET_US ? budget / 2 : budget;
        latency(&a, &d, in, n_in, 1, lat / 3, &c->latency_b1_us, &c->dense_latency_b1_us);
        latency(&a, &d, in, n_in, B128, lat * 2 / 3, &c->latency_b128_us,
                &c->dense_latency_b128_us);
        if (pt_net_has_conv(&a.net))
            layer_latency(&a, in, c);
        c->speedup_b1 = c->latency_b1_us > 0 ? c->dense_latency_b1_us / c->latency_b1_us : 0;
        c->speedup_b128 =
            c->latency_b128_us > 0 ? c->dense_latency_b128_us / c->latency_b128_us : 0;
    }
    free(in);
    pt_infer_free(&a);
    pt_infer_free(&d);
    return st;
}

pt_status pt_infer_cost_json(const pt_infer_cost *c, cJSON *o, pt_err *err)
{
    const struct {
        const char *key;
        double v;
    } flat[] = {
        {"sparsity", c->sparsity},
        {"nnz", (double)c->nnz},
        {"weights", (double)c->weights},
        {"bytes_dense", (double)c->bytes_dense},
        {"bytes_stored", (double)c->bytes_stored},
        {"flops_per_sample", (double)c->flops},
        {"flops_per_sample_dense", (double)c->flops_dense},
        {"latency_b1_us", c->latency_b1_us},
        {"latency_b128_us", c->latency_b128_us},
        {"dense_latency_b1_us", c->dense_latency_b1_us},
        {"dense_latency_b128_us", c->dense_latency_b128_us},
        {"speedup_b1", c->speedup_b1},
        {"speedup_b128", c->speedup_b128},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, flat[i].key);
        ok &= cJSON_AddNumberToObject(o, flat[i].key, flat[i].v) != NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(o, "layers");
    cJSON *layers = cJSON_AddArrayToObject(o, "layers");
    ok &= layers != NULL;
    for (int l = 0; ok && l < c->n_layers; l++) {
        const pt_layer_cost *lc = &c->layer[l];
        cJSON *j = cJSON_CreateObject();
        ok = j && cJSON_AddItemToArray(layers, j);
        if (!ok) {
            cJSON_Delete(j);
            break;
        }
        ok &= cJSON_AddStringToObject(j, "type", lc->kind == PT_LAYER_CONV ? "conv" : "dense") !=
              NULL;
        ok &= cJSON_AddNumberToObject(j, "n_in", lc->n_in) != NULL;
        ok &= cJSON_AddNumberToObject(j, "n_out", lc->n_out) != NULL;
        ok &= cJSON_AddNumberToObject(j, "run_in", lc->run_in) != NULL;
        ok &= cJSON_AddNumberToObject(j, "run_out", lc->run_out) != NULL;
        ok &= cJSON_AddNumberToObject(j, "nnz", (double)lc->nnz) != NULL;
        ok &= cJSON_AddNumberToObject(j, "run_nnz", (double)lc->run_nnz) != NULL;
        ok &= cJSON_AddNumberToObject(j, "sparsity", lc->sparsity) != NULL;
        ok &= cJSON_AddNumberToObject(j, "bytes_stored", (double)lc->bytes_stored) != NULL;
        ok &= cJSON_AddNumberToObject(j, "flops_per_sample", (double)lc->flops) != NULL;
        if (lc->kind == PT_LAYER_CONV || c->layer[0].kind == PT_LAYER_CONV)
            ok &= cJSON_AddNumberToObject(j, "latency_b128_us", lc->latency_b128_us) != NULL;
        ok &= cJSON_AddStringToObject(j, "kernel_b1", pt_kernel_name(lc->kernel_b1)) != NULL;
        ok &= cJSON_AddStringToObject(j, "kernel_b128", pt_kernel_name(lc->kernel_b128)) != NULL;
    }
    return ok ? PT_OK : pt_fail(err, PT_ERR_NOMEM, "inference cost: out of memory for JSON");
}

pt_status pt_infer_cost_report(const pt_net *net, cJSON *o, pt_err *err)
{
    return pt_infer_cost_report_budget(net, 0.0, o, err);
}

pt_status pt_infer_cost_report_budget(const pt_net *net, double budget_s, cJSON *o, pt_err *err)
{
    pt_infer_cost c;
    pt_status st = pt_infer_cost_measure_budget(net, NULL, 0, budget_s, &c, err);
    return st == PT_OK ? pt_infer_cost_json(&c, o, err) : st;
}
