/*
 * cmd_bench.c — `prunetune bench-infer`: how fast the inference engine runs
 * trained, pruned networks, and whether it still computes the same logits.
 *
 * Trains LeNet-300-100 (by default) on Fashion-MNIST four ways — dense,
 * 90% and 95% layer-wise magnitude pruning, 50% of hidden neurons removed;
 * each pruned one fine-tuned for an epoch after a one-shot prune — then
 * measures each with pt_infer_cost_measure on real test rows (median
 * latencies, the engine against the same network run dense) and compares the
 * engine's logits with pt_net_forward's over the test rows. Prints a table
 * on stdout. Timings on a shared machine are noisy: --repeat takes the
 * median over several measurements.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "data_open.h"
#include "infer.h"
#include "prune.h"
#include "train.h"

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: prunetune bench-infer [CONFIG.json] [--epochs N] [--limit N] [--repeat R]\n\n"
            "Trains the config's network (default LeNet-300-100 on Fashion-MNIST) dense,\n"
            "pruned 90%% and 95%% (layer-wise magnitude) and with 50%% of its hidden neurons\n"
            "removed (and, for a conv net, 50%% of every conv layer's filters), then\n"
            "prints per network: inference latency at batch 1 and 128 (median,\n"
            "microseconds), speed-up over the same network run dense, and the largest\n"
            "difference of the logits from the training engine's.\n\n"
            "options:\n"
            "  --epochs N   training epochs before pruning (default 2)\n"
            "  --limit N    training rows (default: the config's data.limit, all)\n"
            "  --repeat R   measurements per network, median taken (default 3)\n"
            "  -h, --help   this help\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double med(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Largest |engine - pt_net_forward| over the rows x (n of them), the engine
 * run in batches of `batch`. */
static double max_diff(pt_net *net, pt_infer *e, const float *x, int n, int batch)
{
    int dim = net->sizes[0], n_out = net->sizes[net->n_layers];
    float *out = malloc(sizeof(float) * (size_t)batch * n_out);
    double worst = out ? 0.0 : NAN;
    for (int i0 = 0; out && i0 < n; i0 += batch) {
        int m = n - i0 < batch ? n - i0 : batch;
        pt_infer_run(e, x + (size_t)i0 * dim, m, out);
        for (int j0 = 0; j0 < m; j0 += net->cap) {
            int k = m - j0 < net->cap ? m - j0 : net->cap;
            memcpy(net->act[0], x + (size_t)(i0 + j0) * dim, sizeof(float) * (size_t)k * dim);
            pt_net_forward(net, k);
            for (int t = 0; t < k * n_out; t++) {
                double d = fabs((double)out[(size_t)j0 * n_out + t] - net->act[net->n_layers][t]);
                worst = d > worst ? d : worst;
            }
        }
    }
    free(out);
    return worst;
}

typedef struct {
    const char *name;
    pt_prune_schedule schedule;
    pt_granularity gran;
    double sparsity;
} variant;

static int bench_one(const pt_config *base, const variant *v, pt_data *data, const float *x,
                     int n_x, int repeat)
{
    pt_config c = *base;
    c.prune.schedule = v->schedule;
    c.prune.granularity = v->gran;
    c.prune.sparsity = v->sparsity;
    c.prune.finetune_epochs = 1;
    pt_net net;
    pt_train_result r;
    pt_err err;
    if (pt_train(&c, data, &net, NULL, NULL, &r, &err) != PT_OK) {
        fprintf(stderr, "prunetune bench-infer: %s: %s\n", v->name, err.msg);
        pt_net_free(&net);
        return PT_EXIT_FAIL;
    }
    double t[4][16];
    pt_infer_cost cost;
    memset(&cost, 0, sizeof cost);
    for (int i = 0; i < repeat; i++) {
        if (pt_infer_cost_measure(&net, x, n_x, &cost, &err) != PT_OK) {
            fprintf(stderr, "prunetune bench-infer: %s\n", err.msg);
            pt_net_free(&net);
            return PT_EXIT_FAIL;
        }
        t[0][i] = cost.latency_b1_us;
        t[1][i] = cost.dense_latency_b1_us;
        t[2][i] = cost.latency_b128_us;
        t[3][i] = cost.dense_latency_b128_us;
    }
    double b1 = med(t[0], repeat), d1 = med(t[1], repeat);
    double bn = med(t[2], repeat), dn = med(t[3], repeat);
    pt_infer e;
    double diff = NAN;
    if (pt_infer_build(&e, &net, 128, PT_INFER_AUTO, &err) == PT_OK) {
        double d1b = max_diff(&net, &e, x, n_x < 1000 ? n_x : 1000, 1);
        double dnb = max_diff(&net, &e, x, n_x, 128);
        diff = d1b > dnb ? d1b : dnb;
    }
    char kern[2][64] = {"", ""};
    for (int l = 0; l < net.n_layers; l++) {
        strcat(kern[0], e.k1[l] == PT_KERNEL_SPARSE ? "S" : "D");
        strcat(kern[1], e.kn[l] == PT_KERNEL_SPARSE ? "S" : "D");
    }
    char shape[128] = "";
    for (int l = 0; l <= e.net.n_layers; l++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%d", l ? "-" : "",
                 e.net.sizes[l]);
    printf("%-12s %6.1f%% %-16s %7.4f %5s %8.2f %8.2f %6.2fx %5s %9.1f %9.1f %6.2fx %9.2g\n",
           v->name, 100 * cost.sparsity, shape, r.test_acc, kern[0], b1, d1, d1 / b1, kern[1], bn,
           dn, dn / bn, diff);
    fflush(stdout);
    pt_infer_free(&e);
    pt_net_free(&net);
    return PT_EXIT_OK;
}

int cmd_bench_infer(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        bench_usage(stdout);
        return PT_EXIT_OK;
    }
    pt_config cfg;
    pt_config_defaults(&cfg);
    int repeat = 3, epochs = 2, limit = -1;
    const char *path = NULL;
    pt_err err;
    for (int i = 1; i < argc; i++) {
        int has = i + 1 < argc;
        if (!strcmp(argv[i], "--epochs") && has) {
            epochs = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--limit") && has) {
            limit = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--repeat") && has) {
            repeat = atoi(argv[++i]);
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "prunetune bench-infer: bad argument '%s' (see --help)\n", argv[i]);
            return PT_EXIT_USAGE;
        }
    }
    if (epochs < 1 || repeat < 1 || repeat > 16 || (limit < 0 && limit != -1)) {
        fprintf(stderr,
                "prunetune bench-infer: --epochs >= 1, 1 <= --repeat <= 16, --limit >= 0\n");
        return PT_EXIT_USAGE;
    }
    /* The options win over the config, wherever they stand on the line. */
    if (path && pt_config_load(&cfg, path, &err) != PT_OK) {
        fprintf(stderr, "prunetune bench-infer: %s\n", err.msg);
        return PT_EXIT_USAGE;
    }
    cfg.train.epochs = epochs;
    if (limit >= 0)
        cfg.data.limit = limit;
    pt_data data;
    memset(&data, 0, sizeof data);
    if (pt_data_open(&data, &cfg.data, cfg.seed, &err) != PT_OK) {
        fprintf(stderr, "prunetune bench-infer: %s\n", err.msg);
        pt_data_close(&data);
        return PT_EXIT_USAGE;
    }
    const pt_dataset *ts = data.test.n > 0 ? &data.test : &data.train;
    int n_x = ts->n < 10000 ? ts->n : 10000;
    float *x = malloc(sizeof(float) * (size_t)n_x * ts->dim);
    uint32_t *idx = malloc(sizeof(uint32_t) * (size_t)n_x);
    int code = x && idx ? PT_EXIT_OK : PT_EXIT_FAIL;
    if (code == PT_EXIT_OK) {
        for (int i = 0; i < n_x; i++)
            idx[i] = (uint32_t)i;
        pt_dataset_gather(ts, &data.scaler, idx, n_x, x, NULL);
        printf("%-12s %7s %-16s %7s %5s %8s %8s %7s %5s %9s %9s %7s %9s\n", "network", "sparse",
               "shape_as_run", "test", "k_b1", "b1_us", "dense", "speedup", "k_bn", "b128_us",
               "dense", "speedup", "max|diff|");
        /* A conv net adds filter pruning: half of every conv layer's filters. */
        const variant vs[] = {
            {"dense", PT_PRUNE_NONE, PT_GRAN_LAYER, 0.0},
            {"unstruct-90", PT_PRUNE_ONESHOT, PT_GRAN_LAYER, 0.90},
            {"unstruct-95", PT_PRUNE_ONESHOT, PT_GRAN_LAYER, 0.95},
            {"neurons-50", PT_PRUNE_ONESHOT, PT_GRAN_NEURON, 0.50},
            {"filters-50", PT_PRUNE_ONESHOT, PT_GRAN_FILTER, 0.50},
        };
        size_t n_vs = sizeof vs / sizeof vs[0] - (cfg.net.n_layers == 0 ||
                                                  cfg.net.layers[0].type != PT_NL_CONV2D);
        for (size_t i = 0; code == PT_EXIT_OK && i < n_vs; i++)
            code = bench_one(&cfg, &vs[i], &data, x, n_x, repeat);
        printf("k_b1/k_bn: kernel per layer at batch 1 / 128, D dense, S sparse\n");
    }
    free(x);
    free(idx);
    pt_data_close(&data);
    return code;
}
