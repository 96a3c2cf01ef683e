/*
 * bench_query_gen.c — writes a study database of N trials for
 * scripts/bench_query, through the real store: the study file's space, the
 * random sampler's points, study_trial_config's configs (invalid ones end
 * FAIL, as in a run), per-epoch reports and a result object with every
 * metric column. The metrics are made up but plausible (accuracy falls with
 * sparsity, latency with it), so best/top/pareto have real work to do.
 *
 *   bench_query_gen STUDY.json OUT.db N
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "rng.h"
#include "sampler.h"
#include "store.h"

static int die(const char *what, const pt_err *err)
{
    fprintf(stderr, "bench_query_gen: %s: %s\n", what, err->msg);
    return 1;
}

/* The result a worker would send for cfg; n_weights: dense weight count. */
static void fake_result(const pt_config *cfg, pt_rng *r, char *buf, size_t cap, double *val_acc)
{
    double s = cfg->prune.schedule == PT_PRUNE_NONE ? 0.0 : cfg->prune.sparsity;
    long dense = 0;
    int prev = 784;
    for (int i = 0; i < cfg->net.n_hidden; i++) {
        dense += (long)prev * cfg->net.hidden[i];
        prev = cfg->net.hidden[i];
    }
    dense += (long)prev * 10;
    long nnz = (long)llround((double)dense * (1.0 - s));
    double acc = 0.89 - 0.25 * pow(s, 6) - 0.02 * pt_rng_uniform(r);
    double lat = 40.0 * (1.0 - 0.8 * s) + 2.0 * pt_rng_uniform(r);
    *val_acc = acc;
    snprintf(buf, cap,
             "{\"status\":\"ok\",\"val_acc\":%.6f,\"test_acc\":%.6f,\"loss\":%.5f,"
             "\"sparsity\":%.6f,\"nnz\":%ld,\"bytes_dense\":%ld,\"bytes_stored\":%ld,"
             "\"flops_per_sample\":%ld,\"latency_b1_us\":%.3f,\"latency_b128_us\":%.3f,"
             "\"speedup_b1\":%.4f,\"speedup_b128\":%.4f,\"epochs\":%d,\"wall_s\":%.3f,"
             "\"seed\":%llu}",
             acc, acc - 0.005 * pt_rng_uniform(r), 1.0 - acc, s, nnz, dense * 4,
             s > 0.5 ? nnz * 8 : dense * 4, 2 * nnz, lat, 20.0 * lat, 40.0 / lat, 40.0 / lat,
             cfg->train.epochs, 5.0 + 10.0 * pt_rng_uniform(r), (unsigned long long)cfg->seed);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_query_gen STUDY.json OUT.db N\n");
        return 2;
    }
    int n = atoi(argv[3]);
    pt_err err = {{0}};
    study_config sc;
    if (study_load(&sc, argv[1], &err) != PT_OK)
        return die(argv[1], &err);
    store *st = NULL;
    sampler *sm = NULL;
    int study_id = 0, created = 0, rc = 1;
    if (store_open(&st, argv[2], 0, &err) != PT_OK ||
        store_study_open(st, &sc, 0, &study_id, &created, &err) != PT_OK ||
        sampler_new(&sm, &sc, &err) != PT_OK) {
        rc = die(argv[2], &err);
        goto out;
    }
    pt_rng r;
    pt_rng_seed(&r, 7);
    char result[1024];
    for (int k = 0; k < n; k++) {
        study_point p;
        pt_config cfg;
        pt_err cerr = {{0}};
        if (sampler_ask(sm, k, &p, &err) != PT_OK)
            break;
        int valid = study_trial_config(&sc, &p, &cfg, &cerr) == PT_OK;
        char *json = pt_config_to_json(valid ? &cfg : &sc.trial);
        int trial_id, number;
        if (!json || store_trial_begin(st, study_id, &sc, &p, json, &trial_id, &number, &err)) {
            free(json);
            rc = die("trial begin", &err);
            goto out;
        }
        free(json);
        double v = 0;
        pt_status s;
        if (!valid || pt_rng_uniform(&r) < 0.03) {
            s = store_trial_end(st, trial_id, TRIAL_FAIL, NULL, 0, NULL,
                                valid ? "training diverged (loss is NaN)" : cerr.msg, &err);
            sampler_tell(sm, k, &p, TRIAL_FAIL, NULL);
        } else {
            fake_result(&cfg, &r, result, sizeof result, &v);
            int pruned = pt_rng_uniform(&r) < 0.05;
            for (int e = 0; e < 3 && (s = store_trial_report(st, trial_id, e, v - 0.1 / (e + 1),
                                                             &err)) == PT_OK;
                 e++)
                ;
            if (s == PT_OK)
                s = store_trial_end(st, trial_id, pruned ? TRIAL_PRUNED : TRIAL_COMPLETE, &v, 1,
                                    result, NULL, &err);
            sampler_tell(sm, k, &p, pruned ? TRIAL_PRUNED : TRIAL_COMPLETE, &v);
        }
        if (s != PT_OK) {
            rc = die("trial end", &err);
            goto out;
        }
    }
    rc = 0;
out:
    sampler_free(sm);
    store_close(st);
    study_free(&sc);
    return rc;
}
