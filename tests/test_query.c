/*
 * test_query.c — the answers of the read-only query commands, run through
 * the prunetune binary on study DBs built with the store's own API: best
 * and top (--by, --where, alignment) on known trials, the Pareto set against
 * a brute-force O(n^2) on random points with ties, trials by state and
 * studies by name. Exports, strategy, bad input and read-only access are in
 * test_query_io.c.
 */
#include "allclose.h"
#include "query_fixture.h"

TestSuite(query, .init = setup, .fini = teardown);

/* ---- answers ------------------------------------------------------------- */

Test(query, best_shows_the_best_trial_its_metrics_and_strategy)
{
    build_fixture(dbpath);
    char args[800];
    snprintf(args, sizeof args, "best '%s'", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert(strstr(out_buf, "study 'fix': 9 trials (6 complete, 1 pruned, 1 failed, 1 running)"),
              "%s", out_buf);
    cr_assert(strstr(out_buf, "best by val_acc (maximize): trial 2, val_acc = 0.88"), "%s",
              out_buf);
    cr_assert(strstr(out_buf, "nnz                      2400"), "%s", out_buf);
    cr_assert(strstr(out_buf, "prune.schedule           \"gradual\"   (searched)"), "%s", out_buf);
    cr_assert(strstr(out_buf, "reg.l2                   2e-05   (searched)"), "%s", out_buf);
    cr_assert(strstr(out_buf, "train.epochs             2\n"), "%s", out_buf);

    snprintf(args, sizeof args, "best '%s' --by sparsity --json", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cJSON *j = cJSON_Parse(out_buf);
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "best"), 0);
    cr_assert_eq(cJSON_GetObjectItem(b, "number")->valueint, 5);
    /* a stored double through SQLite and JSON text: PT_RTOL_FORMULA */
    pt_assert_close(cJSON_GetObjectItem(b, "params.prune.sparsity")->valuedouble, 0.95,
                    PT_RTOL_FORMULA, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(b, "params.prune.schedule")->valuestring, "gradual");
    const cJSON *cfg = cJSON_GetObjectItem(b, "config");
    cr_assert_eq(cJSON_GetObjectItem(cfg, "seed")->valueint, 3);
    cJSON_Delete(j);

    /* Smallest latency = --by latency_b1_us (minimize by its name); :max flips it. */
    snprintf(args, sizeof args, "best '%s' --by latency_b1_us --json", dbpath);
    cr_assert_eq(run(args), 0);
    int num[16];
    j = cJSON_Parse(out_buf);
    num[0] = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "best"), 0), "number")
                 ->valueint;
    cJSON_Delete(j);
    cr_assert_eq(num[0], 5);
    snprintf(args, sizeof args, "best '%s' --by latency_b1_us:max", dbpath);
    cr_assert_eq(run(args), 0);
    cr_assert(strstr(out_buf, "best by latency_b1_us (maximize): trial 4,"), "%s", out_buf);
}

Test(query, top_ranks_filters_and_aligns)
{
    build_fixture(dbpath);
    char args[800];
    int num[16];
    snprintf(args, sizeof args, "top '%s' -n 3", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert_eq(first_column(num, 16), 3, "%s", out_buf);
    cr_assert(num[0] == 2 && num[1] == 3 && num[2] == 1, "%s", out_buf);
    /* Aligned: every line of the table has the same length. */
    size_t len = strcspn(out_buf, "\n");
    for (const char *l = out_buf; *l; l += strcspn(l, "\n") + 1)
        cr_assert_eq(strcspn(l, "\n"), len, "%s", out_buf);

    snprintf(args, sizeof args, "top '%s' -n 10 --where 'sparsity>=0.9'", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert_eq(first_column(num, 16), 2);
    cr_assert(num[0] == 3 && num[1] == 5, "%s", out_buf);

    snprintf(args, sizeof args,
             "top '%s' -n 0 --by reg.l2 --where 'prune.schedule=\"gradual\" and reg.l2 < 1e-3, "
             "val_acc!=0.8'",
             dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert_eq(first_column(num, 16), 1, "%s", out_buf);
    cr_assert_eq(num[0], 2);

    snprintf(args, sizeof args, "top '%s' -n 2 --by test_acc:min --json", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert_eq(json_numbers(num, 16), 2);
    cr_assert(num[0] == 5 && num[1] == 4);
}

/* Brute force: i is on the front when no j is >= in all and > in one. */
static int brute_front(const double (*v)[3], int n, int k, const int *dir, int *on)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        on[i] = 1;
        for (int j = 0; j < n && on[i]; j++) {
            int ge = 1, gt = 0;
            for (int d = 0; d < k; d++) {
                double a = dir[d] * v[j][d], b = dir[d] * v[i][d];
                ge &= a >= b;
                gt |= a > b;
            }
            if (ge && gt)
                on[i] = 0;
        }
        count += on[i];
    }
    return count;
}

Test(query, pareto_equals_brute_force_on_random_points)
{
    study_config sc;
    load_study(&sc, "rand", "{\"name\": \"val_acc\", \"direction\": \"maximize\"}");
    store *st;
    pt_err err = {{0}};
    int study_id, created;
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_study_open(st, &sc, 0, &study_id, &created, &err), PT_OK, "%s", err.msg);
    enum { N = 300 };
    static double v[N][3];
    pt_rng r;
    pt_rng_seed(&r, 42);
    for (int k = 0; k < N; k++) {
        /* Coarse values so ties and duplicates happen. */
        v[k][0] = 0.5 + 0.01 * pt_rng_below(&r, 40);
        v[k][1] = 0.05 * pt_rng_below(&r, 20);
        v[k][2] = 1.0 + pt_rng_below(&r, 50);
        study_point p = {{1, 1, 1}, {1, v[k][1] * 0.45 + 0.5, 1e-4}};
        char result[256];
        snprintf(result, sizeof result,
                 "{\"val_acc\": %.17g, \"sparsity\": %.17g, \"latency_b1_us\": %.17g}", v[k][0],
                 v[k][1], v[k][2]);
        add_trial(st, study_id, &sc, &p, TRIAL_COMPLETE, &v[k][0], result);
    }
    store_close(st);
    study_free(&sc);

    static const char *const objs[] = {"val_acc,sparsity", "val_acc,latency_b1_us",
                                       "val_acc:max,sparsity:max,latency_b1_us:min",
                                       "sparsity:min,latency_b1_us:max"};
    static const int dirs[][3] = {{1, 1, 0}, {1, -1, 0}, {1, 1, -1}, {-1, 1, 0}};
    static const int cols[][3] = {{0, 1, 0}, {0, 2, 0}, {0, 1, 2}, {1, 2, 0}};
    static const int n_obj[] = {2, 2, 3, 2};
    for (int c = 0; c < 4; c++) {
        double pts[N][3];
        for (int k = 0; k < N; k++)
            for (int d = 0; d < n_obj[c]; d++)
                pts[k][d] = v[k][cols[c][d]];
        int on[N], got[N];
        int want = brute_front((const double(*)[3])pts, N, n_obj[c], dirs[c], on);
        char args[800];
        snprintf(args, sizeof args, "pareto '%s' --objectives %s --json", dbpath, objs[c]);
        cr_assert_eq(run(args), 0, "%s", err_buf);
        int n = json_numbers(got, N);
        if (n != want) {
            for (int i = 0; i < N; i++)
                if (on[i])
                    fprintf(stderr, "brute %d: %g %g\n", i, pts[i][0], pts[i][1]);
            for (int i = 0; i < n; i++)
                fprintf(stderr, "got %d: %g %g\n", got[i], pts[got[i]][0], pts[got[i]][1]);
        }
        cr_assert_eq(n, want, "%s: %d on the front, brute force %d", objs[c], n, want);
        for (int i = 0; i < n; i++)
            cr_assert(on[got[i]], "%s: trial %d is dominated", objs[c], got[i]);
        cr_assert_gt(want, 1);
        /* The table lists the same trials. */
        snprintf(args, sizeof args, "pareto '%s' --objectives %s", dbpath, objs[c]);
        cr_assert_eq(run(args), 0);
        int table[N];
        cr_assert_eq(first_column(table, N), want);
        cr_assert_eq(memcmp(table, got, sizeof(int) * (size_t)want), 0);
    }
}

Test(query, trials_and_studies_pick_by_state_and_name)
{
    build_fixture(dbpath);
    /* A second, later study: the default from now on. */
    study_config sc;
    load_study(&sc, "second",
               "{\"name\": \"val_acc\", \"direction\": \"maximize\"},"
               "{\"name\": \"latency_b1_us\", \"direction\": \"minimize\"}");
    store *st;
    pt_err err = {{0}};
    int study_id, created;
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK);
    cr_assert_eq(store_study_open(st, &sc, 0, &study_id, &created, &err), PT_OK, "%s", err.msg);
    study_point p = {{1, 0, 1}, {0, 0, 1e-3}};
    double two[2] = {0.9, 33.0};
    add_trial_n(st, study_id, &sc, &p, TRIAL_COMPLETE, two, 2,
                "{\"val_acc\": 0.9, \"latency_b1_us\": 33.0}");
    store_close(st);
    study_free(&sc);

    char args[800];
    int num[16];
    snprintf(args, sizeof args, "studies '%s'", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert(strstr(out_buf, "fix "), "%s", out_buf);
    cr_assert(strstr(out_buf, "val_acc:max,latency_b1_us:min"), "%s", out_buf);
    snprintf(args, sizeof args, "studies '%s' --json", dbpath);
    cr_assert_eq(run(args), 0);
    cJSON *j = cJSON_Parse(out_buf);
    cr_assert_eq(cJSON_GetArraySize(j), 2);
    const cJSON *fix = cJSON_GetArrayItem(j, 0);
    cr_assert_eq(cJSON_GetObjectItem(fix, "COMPLETE")->valueint, 6);
    cr_assert_eq(cJSON_GetObjectItem(fix, "FAIL")->valueint, 1);
    cr_assert_eq(cJSON_GetObjectItem(fix, "RUNNING")->valueint, 1);
    cJSON_Delete(j);

    snprintf(args, sizeof args, "trials '%s'", dbpath); /* the latest study */
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert_eq(first_column(num, 16), 1, "%s", out_buf);
    snprintf(args, sizeof args, "trials '%s' --study fix --state failed", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert_eq(first_column(num, 16), 1);
    cr_assert_eq(num[0], 6);
    cr_assert(strstr(out_buf, "trial 6 failed: training diverged (loss is NaN)"), "%s", out_buf);
    snprintf(args, sizeof args, "trials '%s' --study fix --state running --json", dbpath);
    cr_assert_eq(run(args), 0);
    cr_assert_eq(json_numbers(num, 16), 1);
    cr_assert_eq(num[0], 8);

    /* Two objectives: best per objective, then the Pareto set. */
    snprintf(args, sizeof args, "best '%s' --study second", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert(strstr(out_buf, "best by latency_b1_us (minimize): trial 0"), "%s", out_buf);
    cr_assert(strstr(out_buf, "Pareto set of the objectives (1 trials)"), "%s", out_buf);
}
