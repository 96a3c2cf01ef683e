/*
 * bench_tpe.c — the TPE sampler's figures (run by scripts/bench_tpe).
 *
 *   bench_tpe overhead H
 *     the study of Optuna's peer (bench/peers/optuna_tpe_cost.py):
 *     six parameters, objective -|sparsity - 0.9| - l2, H trials asked and
 *     told through TPE, then the mean cost of 20 more ask+tell pairs.
 *   bench_tpe quality STUDY.json POOL.csv [SEEDS] [BUDGET]
 *     Search quality on a recorded pool of real trials: each proposal is
 *     answered by the value of the nearest pool trial (normalised parameter
 *     distance; a categorical mismatch counts 1). Per seed: random search's
 *     best of BUDGET, and the trial at which TPE first reaches it.
 * Speed is measured here, never asserted in unit tests.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sampler.h"
#include "study.h"

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char overhead_study[] =
    "{\"study\": \"b\", \"seed\": 0, \"sampler\": \"tpe\", \"search_space\": {"
    " \"reg.l2\": {\"type\": \"float\", \"low\": 1e-6, \"high\": 1e-1, \"log\": true},"
    " \"prune.sparsity\": {\"type\": \"float\", \"low\": 0.5, \"high\": 0.99},"
    " \"prune.schedule\": {\"type\": \"categorical\", \"choices\": [\"none\", \"iterative\", "
    "\"gradual\"]},"
    " \"train.lr\": {\"type\": \"float\", \"low\": 1e-3, \"high\": 0.3, \"log\": true},"
    " \"reg.dropout\": {\"type\": \"float\", \"low\": 0.0, \"high\": 0.5},"
    " \"reg.l1\": {\"type\": \"float\", \"low\": 1e-7, \"high\": 1e-3, \"log\": true}}}";

static int overhead(int h)
{
    study_config s;
    pt_err err;
    sampler *sm;
    if (study_parse(&s, overhead_study, "bench", &err) != PT_OK ||
        sampler_new(&sm, &s, &err) != PT_OK) {
        fprintf(stderr, "bench_tpe: %s\n", err.msg);
        return 1;
    }
    double t0 = 0, c0 = 0;
    for (int k = 0; k < h + 20; k++) {
        if (k == h) {
            t0 = clock_s(CLOCK_MONOTONIC);
            c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        }
        study_point p;
        if (sampler_ask(sm, k, &p, &err) != PT_OK) {
            fprintf(stderr, "bench_tpe: %s\n", err.msg);
            return 1;
        }
        double v = -fabs(p.value[1] - 0.9) - p.value[0];
        sampler_tell(sm, k, &p, TRIAL_COMPLETE, &v);
    }
    /* CPU time beside wall time: a busy machine inflates the wall clock. */
    double ms = (clock_s(CLOCK_MONOTONIC) - t0) / 20 * 1e3;
    double cpu = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / 20 * 1e3;
    printf("prunetune_tpe history=%d ms_per_trial=%.3f cpu_ms_per_trial=%.3f\n", h, ms, cpu);
    sampler_free(sm);
    study_free(&s);
    return 0;
}

enum { POOL_MAX = 20000 };

typedef struct {
    int n;
    study_point p[POOL_MAX];
    double v[POOL_MAX];
} pool;

/* CSV: one row per trial, the parameters in study order (empty = absent;
 * categoricals as choice index), then the objective value. */
static int read_pool(const char *path, const study_config *s, pool *pl)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 0;
    }
    char line[4096];
    pl->n = 0;
    while (pl->n < POOL_MAX && fgets(line, sizeof line, f)) {
        study_point *p = &pl->p[pl->n];
        char *c = line;
        int ok = 1;
        for (int i = 0; i <= s->n_params && ok; i++) {
            char *end = strchr(c, i == s->n_params ? '\n' : ',');
            if (!end && i < s->n_params) {
                ok = 0;
                break;
            }
            if (end)
                *end = '\0';
            if (i == s->n_params) {
                ok = *c != '\0';
                pl->v[pl->n] = atof(c);
            } else {
                p->present[i] = *c != '\0';
                p->value[i] = p->present[i] ? atof(c) : 0;
            }
            c = end ? end + 1 : c;
        }
        pl->n += ok;
    }
    fclose(f);
    return pl->n;
}

static double coord(const study_param *q, double v)
{
    if (q->log)
        return (log(v) - log(q->low)) / (log(q->high) - log(q->low));
    return (v - q->low) / (q->high - q->low);
}

static double lookup(const study_config *s, const pool *pl, const study_point *p)
{
    double best = INFINITY, v = NAN;
    for (int j = 0; j < pl->n; j++) {
        double d = 0;
        for (int i = 0; i < s->n_params; i++) {
            const study_param *q = &s->param[i];
            if (p->present[i] != pl->p[j].present[i])
                d += 1;
            else if (!p->present[i])
                continue;
            else if (q->kind == PARAM_CAT)
                d += p->value[i] != pl->p[j].value[i];
            else {
                double e = coord(q, p->value[i]) - coord(q, pl->p[j].value[i]);
                d += e * e;
            }
        }
        if (d < best) {
            best = d;
            v = pl->v[j];
        }
    }
    return v;
}

/* Values of a BUDGET-trial search with sampler kind k, into v (maximised
 * as the study says; the first objective only). */
static int run(study_config *s, sampler_kind k, const pool *pl, int budget, double *v)
{
    s->sampler = k;
    sampler *sm;
    pt_err err;
    if (sampler_new(&sm, s, &err) != PT_OK) {
        fprintf(stderr, "bench_tpe: %s\n", err.msg);
        return 0;
    }
    for (int n = 0; n < budget; n++) {
        study_point p;
        if (sampler_ask(sm, n, &p, &err) != PT_OK) {
            fprintf(stderr, "bench_tpe: %s\n", err.msg);
            sampler_free(sm);
            return 0;
        }
        v[n] = lookup(s, pl, &p);
        sampler_tell(sm, n, &p, TRIAL_COMPLETE, &v[n]);
    }
    sampler_free(sm);
    return 1;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static int quality(const char *study_path, const char *pool_path, int seeds, int budget)
{
    study_config s;
    pt_err err;
    if (study_load(&s, study_path, &err) != PT_OK) {
        fprintf(stderr, "bench_tpe: %s\n", err.msg);
        return 1;
    }
    static pool pl;
    if (!read_pool(pool_path, &s, &pl)) {
        fprintf(stderr, "bench_tpe: %s: no trials\n", pool_path);
        return 1;
    }
    double sign = s.obj[0].dir == DIR_MAXIMIZE ? 1 : -1;
    double *vr = malloc(sizeof *vr * (size_t)budget), *vt = malloc(sizeof *vt * (size_t)budget);
    int *reach = malloc(sizeof *reach * (size_t)seeds);
    printf("pool=%d trials  budget=%d  objective=%s\n", pl.n, budget, s.obj[0].name);
    printf("%-5s %-18s %-18s %s\n", "seed", "random best-of-N", "tpe best-of-N",
           "tpe reaches it at");
    uint64_t seed0 = s.seed;
    for (int k = 0; k < seeds; k++) {
        s.seed = seed0 + (uint64_t)k;
        if (!run(&s, SAMPLER_RANDOM, &pl, budget, vr) || !run(&s, SAMPLER_TPE, &pl, budget, vt))
            return 1;
        double br = -INFINITY, bt = -INFINITY;
        for (int n = 0; n < budget; n++) {
            br = fmax(br, sign * vr[n]);
            bt = fmax(bt, sign * vt[n]);
        }
        reach[k] = budget + 1; /* not reached */
        for (int n = 0; n < budget; n++)
            if (sign * vt[n] >= br) {
                reach[k] = n + 1;
                break;
            }
        char at[32];
        snprintf(at, sizeof at, reach[k] > budget ? "not in %d" : "%d",
                 reach[k] > budget ? budget : reach[k]);
        printf("%-5llu %-18.4f %-18.4f %s\n", (unsigned long long)s.seed, sign * br, sign * bt, at);
    }
    qsort(reach, (size_t)seeds, sizeof *reach, cmp_int);
    printf("median trials for TPE to reach random's best-of-%d: %d%s\n", budget, reach[seeds / 2],
           reach[seeds / 2] > budget ? " (not reached)" : "");
    free(vr);
    free(vt);
    free(reach);
    study_free(&s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "overhead"))
        return overhead(atoi(argv[2]));
    if (argc >= 4 && !strcmp(argv[1], "quality"))
        return quality(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 5,
                       argc > 5 ? atoi(argv[5]) : 64);
    fprintf(stderr, "usage: bench_tpe overhead H | quality STUDY.json POOL.csv [SEEDS] [BUDGET]\n");
    return 2;
}
