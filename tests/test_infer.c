/*
 * test_infer.c — the inference engine gives the logits of the masked dense
 * network (pt_net_forward) on real Fashion-MNIST rows, whatever kernels it
 * picks, for batch 1 and for batches; the cost figures add up.
 *
 * The networks are trained for real but small (a few hundred rows, a couple
 * of epochs) so the weights have the uneven magnitudes and row densities of
 * trained, pruned networks, which is what the sparse layouts must handle.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "data_open.h"
#include "infer.h"
#include "net_tol.h"
#include "prune.h"
#include "train.h"

enum { N_ROWS = 200 };

typedef struct {
    pt_net net;
    float *x; /* N_ROWS test rows, scaled as in training */
    int dim;
} fixture;

/* Trains hidden[0..n_hidden) on 1000 Fashion-MNIST rows for 2 epochs, then
 * prunes it with p (when p->schedule is not NONE) and fine-tunes 1 epoch. */
static void train_small(fixture *f, const int *hidden, int n_hidden, pt_granularity gran,
                        double sparsity)
{
    pt_config c;
    pt_config_defaults(&c);
    snprintf(c.data.dir, sizeof c.data.dir, "%s", PT_FASHION_DIR);
    c.data.limit = 1000;
    c.data.test_limit = N_ROWS;
    c.data.val_fraction = 0.1;
    c.net.n_hidden = n_hidden;
    memcpy(c.net.hidden, hidden, sizeof(int) * (size_t)n_hidden);
    c.train.epochs = 2;
    c.train.batch_size = 32;
    if (sparsity > 0) {
        c.prune.schedule = PT_PRUNE_ONESHOT;
        c.prune.granularity = gran;
        c.prune.sparsity = sparsity;
        c.prune.finetune_epochs = 1;
        c.prune.prune_output = 1;
    }
    pt_data d;
    memset(&d, 0, sizeof d);
    pt_err err;
    cr_assert_eq(pt_data_open(&d, &c.data, c.seed, &err), PT_OK, "%s", err.msg);
    pt_train_result r;
    cr_assert_eq(pt_train(&c, &d, &f->net, NULL, NULL, &r, &err), PT_OK, "%s", err.msg);
    cr_assert_gt(r.test_acc, 0.5, "test accuracy %.3f", r.test_acc);
    f->dim = d.test.dim;
    f->x = malloc(sizeof(float) * N_ROWS * (size_t)f->dim);
    uint32_t idx[N_ROWS];
    for (int i = 0; i < N_ROWS; i++)
        idx[i] = (uint32_t)i;
    pt_dataset_gather(&d.test, &d.scaler, idx, N_ROWS, f->x, NULL);
    pt_data_close(&d);
}

static void fixture_free(fixture *f)
{
    pt_net_free(&f->net);
    free(f->x);
}

/* Reference logits of rows [0, n) from the training network itself. */
static float *reference(fixture *f, int n)
{
    int n_out = f->net.sizes[f->net.n_layers];
    float *ref = malloc(sizeof(float) * (size_t)n * n_out);
    for (int i0 = 0; i0 < n; i0 += f->net.cap) {
        int m = n - i0 < f->net.cap ? n - i0 : f->net.cap;
        memcpy(f->net.act[0], f->x + (size_t)i0 * f->dim, sizeof(float) * (size_t)m * f->dim);
        pt_net_forward(&f->net, m);
        memcpy(ref + (size_t)i0 * n_out, f->net.act[f->net.n_layers],
               sizeof(float) * (size_t)m * n_out);
    }
    return ref;
}

/* Runs the engine over rows [0, n) in batches of `batch` and returns the
 * largest |diff| / tol over the logits, tol from pt_net_tol (the engine
 * compacts, folds biases and picks other kernels than pt_net_forward, so the
 * sums run in other orders; see allclose.h). 1 is the bound. */
static double max_ratio(pt_infer *e, fixture *f, const float *ref, const double *tol, int n,
                        int batch, double *worst_diff)
{
    int n_out = f->net.sizes[f->net.n_layers];
    float *out = malloc(sizeof(float) * (size_t)batch * n_out);
    double worst = 0;
    *worst_diff = 0;
    for (int i0 = 0; i0 < n; i0 += batch) {
        int m = n - i0 < batch ? n - i0 : batch;
        pt_infer_run(e, f->x + (size_t)i0 * f->dim, m, out);
        for (int k = 0; k < m * n_out; k++) {
            size_t at = (size_t)i0 * n_out + k;
            double d = fabs((double)out[k] - ref[at]);
            worst = d / tol[at] > worst ? d / tol[at] : worst;
            *worst_diff = d > *worst_diff ? d : *worst_diff;
        }
    }
    free(out);
    return worst;
}

/* Every flag combination and batch size agrees with pt_net_forward. */
static void check_all_kernels(fixture *f)
{
    float *ref = reference(f, N_ROWS);
    int n_out = f->net.sizes[f->net.n_layers];
    double *tol = malloc(sizeof(double) * N_ROWS * (size_t)n_out);
    pt_net_tol(&f->net, f->x, N_ROWS, tol);
    const int flags[] = {PT_INFER_AUTO, PT_INFER_DENSE, PT_INFER_SPARSE,
                         PT_INFER_SPARSE | PT_INFER_NO_COMPACT,
                         PT_INFER_DENSE | PT_INFER_NO_COMPACT};
    const int batches[] = {1, 7, 64, 128, N_ROWS}; /* N_ROWS > max_batch: split */
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        pt_infer e;
        pt_err err;
        cr_assert_eq(pt_infer_build(&e, &f->net, 128, flags[i], &err), PT_OK, "%s", err.msg);
        for (int l = 0; l < e.net.n_layers; l++) {
            if (flags[i] & PT_INFER_SPARSE)
                cr_assert_eq(e.k1[l], PT_KERNEL_SPARSE);
            if (flags[i] & PT_INFER_DENSE)
                cr_assert_eq(e.kn[l], PT_KERNEL_DENSE);
        }
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
            /* a batch of 7 leaves a partial vector; 128 a full panel */
            double d, r = max_ratio(&e, f, ref, tol, batches[b] == 1 ? 40 : N_ROWS, batches[b], &d);
            cr_assert_leq(r, 1.0, "flags %d batch %d: max |diff| %g, %.3g x the tolerance",
                          flags[i], batches[b], d, r);
        }
        pt_infer_free(&e);
    }
    free(tol);
    free(ref);
}

Test(infer, dense_network_all_kernels_match)
{
    fixture f;
    train_small(&f, (const int[]){300, 100}, 2, PT_GRAN_LAYER, 0.0);
    check_all_kernels(&f);
    fixture_free(&f);
}

Test(infer, layerwise_pruned_90_matches)
{
    fixture f;
    train_small(&f, (const int[]){300, 100}, 2, PT_GRAN_LAYER, 0.9);
    /* Each layer prunes lround(0.9 n) of its n weights: off by <= 1/2 each
     * (a count, not a float bound). */
    long total = 0;
    for (int l = 0; l < f.net.n_layers; l++)
        total += (long)f.net.layer[l].n_in * f.net.layer[l].n_out;
    pt_assert_close(pt_sparsity_total(&f.net), 0.9, 0, 0.5 * f.net.n_layers / (double)total);
    check_all_kernels(&f);
    fixture_free(&f);
}

Test(infer, global_pruned_95_matches)
{
    fixture f;
    train_small(&f, (const int[]){300, 100}, 2, PT_GRAN_GLOBAL, 0.95);
    check_all_kernels(&f);
    fixture_free(&f);
}

Test(infer, neuron_pruned_is_compacted_and_matches)
{
    fixture f;
    train_small(&f, (const int[]){64, 48, 32}, 3, PT_GRAN_NEURON, 0.5);
    check_all_kernels(&f);
    pt_infer e;
    pt_err err;
    cr_assert_eq(pt_infer_build(&e, &f.net, 16, PT_INFER_AUTO, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(e.net.sizes[0], 784);
    cr_assert_eq(e.net.sizes[1], 32);
    cr_assert_eq(e.net.sizes[2], 24);
    cr_assert_eq(e.net.sizes[3], 16);
    cr_assert_eq(e.net.sizes[4], 10);
    pt_infer_free(&e);
    fixture_free(&f);
}

Test(infer, cost_figures_add_up)
{
    fixture f;
    train_small(&f, (const int[]){300, 100}, 2, PT_GRAN_LAYER, 0.9);
    pt_infer_cost c;
    pt_err err;
    cr_assert_eq(pt_infer_cost_measure(&f.net, f.x, N_ROWS, &c, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(c.n_layers, 3);
    pt_sparsity sp;
    pt_sparsity_of(&f.net, &sp);
    long nnz = 0, run_nnz = 0, weights = 0, bytes_dense = 0, bytes_stored = 0;
    for (int l = 0; l < 3; l++) {
        const pt_layer_cost *lc = &c.layer[l];
        cr_assert_eq(lc->weights, (long)lc->n_in * lc->n_out);
        cr_assert_eq(lc->nnz + sp.zeros[l], lc->weights);
        /* lround(0.9 n) of the layer's n weights pruned: off by <= 1/2 */
        pt_assert_close(lc->sparsity, 0.9, 0, 0.5 / (double)lc->weights, "layer %d", l);
        cr_assert_eq(lc->bytes_dense, 4L * (lc->weights + lc->n_out));
        /* Dead neurons (e.g. hidden ones whose outgoing weights were all
         * pruned) are dropped before storing; at 90% sparsity CSR (6 bytes
         * per non-zero) is then the smaller form. */
        cr_assert(lc->run_nnz <= lc->nnz);
        cr_assert(lc->run_in <= lc->n_in && lc->run_out <= lc->n_out);
        cr_assert_eq(lc->bytes_stored,
                     6L * lc->run_nnz + 4L * (lc->run_out + 1) + 4L * lc->run_out);
        nnz += lc->nnz;
        run_nnz += lc->run_nnz;
        weights += lc->weights;
        bytes_dense += lc->bytes_dense;
        bytes_stored += lc->bytes_stored;
    }
    cr_assert_eq(c.weights, 784 * 300 + 300 * 100 + 100 * 10);
    cr_assert_eq(c.nnz, nnz);
    cr_assert_eq(c.weights, weights);
    cr_assert_eq(c.bytes_dense, bytes_dense);
    cr_assert_eq(c.bytes_stored, bytes_stored);
    cr_assert_eq(c.flops_dense, 2 * c.weights);
    cr_assert(c.flops >= 2 * run_nnz && c.flops <= c.flops_dense);
    /* formulas in double on both sides (allclose.h) */
    pt_assert_close(c.sparsity, 1.0 - (double)c.nnz / c.weights, PT_RTOL_FORMULA, 0);
    cr_assert(c.latency_b1_us > 0 && c.latency_b128_us > c.latency_b1_us);
    cr_assert(c.dense_latency_b1_us > 0 && c.dense_latency_b128_us > 0);
    pt_assert_close(c.speedup_b1, c.dense_latency_b1_us / c.latency_b1_us, PT_RTOL_FORMULA, 0);

    cJSON *o = cJSON_CreateObject();
    cr_assert_eq(pt_infer_cost_json(&c, o, &err), PT_OK);
    cr_assert_eq(cJSON_GetObjectItem(o, "nnz")->valuedouble, (double)c.nnz);
    cr_assert_eq(cJSON_GetObjectItem(o, "bytes_stored")->valuedouble, (double)c.bytes_stored);
    cJSON *layers = cJSON_GetObjectItem(o, "layers");
    cr_assert_eq(cJSON_GetArraySize(layers), 3);
    cJSON *l0 = cJSON_GetArrayItem(layers, 0);
    cr_assert_eq(cJSON_GetObjectItem(l0, "n_in")->valuedouble, 784);
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(l0, "kernel_b1")));
    cJSON_Delete(o);
    fixture_free(&f);
}

/* A search worker's short timing budget (worker.c) changes how long the
 * latencies are timed, never which figures there are: the counts are those
 * of the full measurement exactly (they do not depend on timing; FLOPs
 * follow the batch-1 kernels, which both runs choose by timing, so only the
 * dense count is compared), and every latency is a real median. */
Test(infer, short_budget_keeps_every_figure)
{
    fixture f;
    train_small(&f, (const int[]){300, 100}, 2, PT_GRAN_GLOBAL, 0.9);
    pt_infer_cost full, quick;
    pt_err err;
    cr_assert_eq(pt_infer_cost_measure(&f.net, NULL, 0, &full, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(pt_infer_cost_measure_budget(&f.net, NULL, 0, 1e-6, &quick, &err), PT_OK, "%s",
                 err.msg);
    cr_assert_eq(quick.n_layers, full.n_layers);
    cr_assert_eq(quick.weights, full.weights);
    cr_assert_eq(quick.nnz, full.nnz);
    cr_assert_eq(quick.bytes_dense, full.bytes_dense);
    cr_assert_eq(quick.bytes_stored, full.bytes_stored);
    cr_assert_eq(quick.flops_dense, full.flops_dense);
    cr_assert_eq(quick.sparsity, full.sparsity);
    cr_assert(quick.latency_b1_us > 0 && quick.latency_b128_us > 0);
    cr_assert(quick.dense_latency_b1_us > 0 && quick.dense_latency_b128_us > 0);
    pt_assert_close(quick.speedup_b128, quick.dense_latency_b128_us / quick.latency_b128_us,
                    PT_RTOL_FORMULA, 0);
    cJSON *o = cJSON_CreateObject();
    cr_assert_eq(pt_infer_cost_report_budget(&f.net, 1e-6, o, &err), PT_OK, "%s", err.msg);
    const char *keys[] = {"nnz",
                          "bytes_stored",
                          "flops_per_sample",
                          "latency_b1_us",
                          "latency_b128_us",
                          "speedup_b1",
                          "speedup_b128",
                          NULL};
    for (int i = 0; keys[i]; i++)
        cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(o, keys[i])), "%s", keys[i]);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "layers")), 3);
    cJSON_Delete(o);
    fixture_free(&f);
}

/* Odd sizes (inputs and outputs not multiples of the 32-wide blocks or
 * 16-wide batch vectors), a row with no non-zero, and an engine for batch 1
 * only. */
Test(infer, odd_shapes_and_empty_rows_match)
{
    pt_net net;
    pt_rng rng;
    pt_rng_seed(&rng, 7);
    pt_err err;
    cr_assert_eq(pt_net_init_dense(&net, 45, (const int[]){19, 33}, 2, 3, 40, &rng, &err), PT_OK);
    for (int l = 0; l < net.n_layers; l++) {
        pt_layer *L = &net.layer[l];
        for (int i = 0; i < L->n_in * L->n_out; i++)
            if ((i * 7919) % 5 != 0)
                L->w[i] = 0.0f; /* 80% zeros */
        for (int i = 0; i < L->n_in; i++)
            L->w[2 * L->n_in + i] = 0.0f; /* output 2 is its bias alone */
        for (int o = 0; o < L->n_out; o++)
            L->b[o] = 0.01f * (float)(o % 5);
    }
    float x[40 * 45], out[40 * 3];
    for (int i = 0; i < 40 * 45; i++)
        x[i] = (i * 37) % 11 < 5 ? 0.0f : (float)((i * 13) % 17) / 17.0f;
    memcpy(net.act[0], x, sizeof x);
    pt_net_forward(&net, 40);
    const float *ref = net.act[net.n_layers];
    double tol[40 * 3]; /* pt_net_tol: the kernels sum in other orders */
    pt_net_tol(&net, x, 40, tol);
    const int flags[] = {PT_INFER_SPARSE, PT_INFER_DENSE, PT_INFER_AUTO};
    for (int f = 0; f < 3; f++) {
        for (int cap = 1; cap <= 40; cap += 39) {
            pt_infer e;
            cr_assert_eq(pt_infer_build(&e, &net, cap, flags[f] | PT_INFER_NO_COMPACT, &err), PT_OK,
                         "%s", err.msg);
            for (int i0 = 0; i0 < 40; i0 += cap) {
                pt_infer_run(&e, x + (size_t)i0 * 45, cap, out);
                for (int k = 0; k < cap * 3; k++)
                    pt_assert_close(out[k], ref[(size_t)i0 * 3 + k], 0, tol[(size_t)i0 * 3 + k],
                                    "flags %d cap %d row %d", flags[f], cap, i0 + k / 3);
            }
            pt_infer_free(&e);
        }
    }
    pt_net_free(&net);
}

/* A build for one kernel path (cmake -DPT_KERNEL=avx2 ...) really runs
 * that path's code: the tests above then cover it. */
Test(infer, kernel_path_is_the_one_built)
{
    cr_log_info("PT_KERNEL %s: csr path %s", PT_KERNEL, pt_csr_path());
    if (strcmp(PT_KERNEL, "native") != 0)
        cr_assert_str_eq(pt_csr_path(), PT_KERNEL);
}

Test(infer, bad_arguments_are_refused)
{
    pt_net net;
    pt_rng rng;
    pt_rng_seed(&rng, 1);
    pt_err err;
    cr_assert_eq(pt_net_init_dense(&net, 4, (const int[]){3}, 1, 2, 1, &rng, &err), PT_OK);
    pt_infer e;
    cr_assert_eq(pt_infer_build(&e, &net, 0, PT_INFER_AUTO, &err), PT_ERR_ARG);
    cr_assert_eq(pt_infer_build(&e, &net, 4, PT_INFER_DENSE | PT_INFER_SPARSE, &err), PT_ERR_ARG);
    cr_assert(strstr(err.msg, "inference"), "%s", err.msg);
    pt_infer_free(&e);
    pt_net_free(&net);
}
