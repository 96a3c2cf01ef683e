/*
 * test_query.c — the read-only query commands (best, top, pareto, trials,
 * studies, export, strategy) run through the prunetune binary on study DBs
 * built with the store's own API: known answers for best/top/--where,
 * the Pareto set against a brute-force O(n^2) on random points (with ties),
 * CSV/JSON exports parsed back and compared with what was stored, a
 * strategy that re-trains to the same accuracy, the bad-input lines, and
 * the DB file byte-identical after every command (even while a writer has
 * it open).
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "config.h"
#include "query.h"
#include "rng.h"
#include "store.h"

static char tmpdir[] = "/tmp/pt_query_XXXXXX";
static char dbpath[600];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/study.db", tmpdir);
}

static void teardown(void)
{
    if (getenv("PT_QUERY_KEEP"))
        return;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(query, .init = setup, .fini = teardown);

/* ---- building DBs with the store API ------------------------------------- */

static const char fixture_json[] =
    "{\"study\": \"%s\", \"storage\": \"x.db\", \"seed\": 1, \"n_trials\": 10,"
    " \"objectives\": [%s],"
    " \"trial\": {\"seed\": 3, \"data\": {\"dir\": \"" PT_FASHION_DIR "\", \"limit\": 600,"
    "   \"test_limit\": 300}, \"net\": {\"hidden\": [16]},"
    "   \"train\": {\"epochs\": 2, \"batch_size\": 64, \"lr\": 0.05},"
    "   \"prune\": {\"start_epoch\": 0, \"end_epoch\": 2, \"frequency\": 2}},"
    " \"search_space\": {"
    "  \"prune.schedule\": {\"type\": \"categorical\", \"choices\": [\"none\", \"gradual\"]},"
    "  \"prune.sparsity\": {\"type\": \"float\", \"low\": 0.5, \"high\": 0.95,"
    "                      \"when\": {\"prune.schedule\": [\"gradual\"]}},"
    "  \"reg.l2\": {\"type\": \"float\", \"low\": 1e-6, \"high\": 1e-2, \"log\": true}}}";

static void load_study(study_config *sc, const char *name, const char *objectives)
{
    char text[4096];
    snprintf(text, sizeof text, fixture_json, name, objectives);
    pt_err err = {{0}};
    cr_assert_eq(study_parse(sc, text, "fixture", &err), PT_OK, "%s", err.msg);
}

typedef struct {
    int schedule; /* 0 none, 1 gradual */
    double sparsity, l2, val_acc, test_acc, latency;
    long nnz;
    trial_state state;
} fixture_trial;

/* The known trials of study "fix": best val_acc is trial 2, best sparsity
 * trial 5; 6 failed, 7 pruned, 8 still running. */
static const fixture_trial fixture[] = {
    {0, 0.0, 1e-4, 0.850, 0.845, 40.0, 12000, TRIAL_COMPLETE},
    {1, 0.50, 1e-3, 0.860, 0.851, 30.0, 6000, TRIAL_COMPLETE},
    {1, 0.80, 2e-5, 0.880, 0.872, 20.0, 2400, TRIAL_COMPLETE},
    {1, 0.90, 5e-3, 0.870, 0.866, 12.0, 1200, TRIAL_COMPLETE},
    {0, 0.0, 3e-6, 0.840, 0.838, 41.0, 12000, TRIAL_COMPLETE},
    {1, 0.95, 1e-5, 0.800, 0.790, 9.0, 600, TRIAL_COMPLETE},
    {1, 0.60, 1e-2, 0.0, 0.0, 0.0, 0, TRIAL_FAIL},
    {1, 0.70, 1e-4, 0.700, 0.690, 25.0, 3600, TRIAL_PRUNED},
    {0, 0.0, 1e-3, 0.0, 0.0, 0.0, 0, TRIAL_RUNNING},
};
#define N_FIXTURE ((int)(sizeof fixture / sizeof fixture[0]))

/* Begins a trial with point p (its real merged config) and ends it with
 * values[0..n_values). */
static void add_trial_n(store *st, int study_id, const study_config *sc, const study_point *p,
                        trial_state state, const double *values, int n_values, const char *result)
{
    pt_config cfg;
    pt_err err = {{0}};
    cr_assert_eq(study_trial_config(sc, p, &cfg, &err), PT_OK, "%s", err.msg);
    char *json = pt_config_to_json(&cfg);
    int trial_id, number;
    cr_assert_eq(store_trial_begin(st, study_id, sc, p, json, &trial_id, &number, &err), PT_OK,
                 "%s", err.msg);
    free(json);
    if (state == TRIAL_RUNNING)
        return;
    cr_assert_eq(store_trial_report(st, trial_id, 0, values ? values[0] - 0.1 : 0.1, &err), PT_OK);
    cr_assert_eq(store_trial_end(st, trial_id, state, values, n_values, result,
                                 state == TRIAL_FAIL ? "training diverged (loss is NaN)" : NULL,
                                 &err),
                 PT_OK, "%s", err.msg);
}

static void add_trial(store *st, int study_id, const study_config *sc, const study_point *p,
                      trial_state state, const double *values, const char *result)
{
    add_trial_n(st, study_id, sc, p, state, values, state == TRIAL_FAIL ? 0 : 1, result);
}

static void build_fixture(const char *path)
{
    study_config sc;
    load_study(&sc, "fix", "{\"name\": \"val_acc\", \"direction\": \"maximize\"}");
    store *st;
    pt_err err = {{0}};
    int study_id, created;
    cr_assert_eq(store_open(&st, path, 0, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_study_open(st, &sc, 0, &study_id, &created, &err), PT_OK, "%s", err.msg);
    for (int k = 0; k < N_FIXTURE; k++) {
        const fixture_trial *f = &fixture[k];
        study_point p = {{0}, {0}};
        p.present[0] = p.present[2] = 1;
        p.value[0] = f->schedule;
        p.present[1] = f->schedule == 1;
        p.value[1] = f->sparsity;
        p.value[2] = f->l2;
        char result[512];
        snprintf(result, sizeof result,
                 "{\"status\": \"ok\", \"val_acc\": %g, \"test_acc\": %g, \"sparsity\": %g,"
                 " \"nnz\": %ld, \"latency_b1_us\": %g, \"epochs\": 2}",
                 f->val_acc, f->test_acc, f->sparsity, f->nnz, f->latency);
        add_trial(st, study_id, &sc, &p, f->state, &f->val_acc,
                  f->state == TRIAL_FAIL ? NULL : result);
    }
    store_close(st);
    study_free(&sc);
}

/* ---- running the binary ---------------------------------------------------- */

static char out_buf[1 << 20], err_buf[8192];

/* Runs `prunetune ARGS` (a shell fragment); stdout/stderr into the buffers. */
static int run(const char *args)
{
    char cmd[2048], out[700], errf[700];
    snprintf(out, sizeof out, "%s/out.txt", tmpdir);
    snprintf(errf, sizeof errf, "%s/err.txt", tmpdir);
    snprintf(cmd, sizeof cmd, "%s %s >'%s' 2>'%s'", PT_BIN, args, out, errf);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc), "%s", cmd);
    FILE *f = fopen(out, "r");
    size_t n = fread(out_buf, 1, sizeof out_buf - 1, f);
    out_buf[n] = 0;
    fclose(f);
    f = fopen(errf, "r");
    n = fread(err_buf, 1, sizeof err_buf - 1, f);
    err_buf[n] = 0;
    fclose(f);
    return WEXITSTATUS(rc);
}

/* The numbers in the first column of a table (lines after the header). */
static int first_column(int *numbers, int cap)
{
    int n = 0;
    const char *line = strchr(out_buf, '\n');
    while (line && line[1] && n < cap) {
        char *end;
        long v = strtol(line + 1, &end, 10);
        if (end == line + 1)
            break;
        numbers[n++] = (int)v;
        line = strchr(line + 1, '\n');
    }
    return n;
}

/* The "number" of each record of a JSON array output. */
static int json_numbers(int *numbers, int cap)
{
    cJSON *a = cJSON_Parse(out_buf);
    cr_assert(cJSON_IsArray(a), "not a JSON array: %.200s", out_buf);
    int n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, a)
    {
        cr_assert_lt(n, cap);
        numbers[n++] = cJSON_GetObjectItem(r, "number")->valueint;
    }
    cJSON_Delete(a);
    return n;
}

/* FNV-1a of a whole file: the DB must come out of every command unchanged. */
static unsigned long long file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    unsigned long long h = 1469598103934665603ULL;
    int c;
    while ((c = fgetc(f)) != EOF)
        h = (h ^ (unsigned)c) * 1099511628211ULL;
    fclose(f);
    return h;
}

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
    cr_assert_float_eq(cJSON_GetObjectItem(b, "params.prune.sparsity")->valuedouble, 0.95, 1e-12);
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

Test(query, export_csv_and_json_read_back_as_stored)
{
    build_fixture(dbpath);
    char args[1600], csv[700], json[700];
    snprintf(csv, sizeof csv, "%s/t.csv", tmpdir);
    snprintf(json, sizeof json, "%s/t.json", tmpdir);
    snprintf(args, sizeof args, "export '%s' --format json -o '%s'", dbpath, json);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    snprintf(args, sizeof args, "export '%s' --format csv -o '%s'", dbpath, csv);
    cr_assert_eq(run(args), 0, "%s", err_buf);

    FILE *f = fopen(json, "r");
    size_t n = fread(out_buf, 1, sizeof out_buf - 1, f);
    out_buf[n] = 0;
    fclose(f);
    cJSON *a = cJSON_Parse(out_buf);
    cr_assert_eq(cJSON_GetArraySize(a), N_FIXTURE);
    for (int k = 0; k < N_FIXTURE; k++) {
        const fixture_trial *x = &fixture[k];
        const cJSON *r = cJSON_GetArrayItem(a, k);
        cr_assert_eq(cJSON_GetObjectItem(r, "number")->valueint, k);
        cr_assert_str_eq(cJSON_GetObjectItem(r, "state")->valuestring, trial_state_name(x->state));
        cr_assert_str_eq(cJSON_GetObjectItem(r, "params.prune.schedule")->valuestring,
                         x->schedule ? "gradual" : "none");
        cr_assert_eq(cJSON_GetObjectItem(r, "params.reg.l2")->valuedouble, x->l2);
        const cJSON *sp = cJSON_GetObjectItem(r, "params.prune.sparsity");
        cr_assert(x->schedule ? sp->valuedouble == x->sparsity : cJSON_IsNull(sp));
        const cJSON *val = cJSON_GetObjectItem(r, "value"), *nnz = cJSON_GetObjectItem(r, "nnz");
        const cJSON *why = cJSON_GetObjectItem(r, "fail_reason");
        if (x->state == TRIAL_COMPLETE || x->state == TRIAL_PRUNED) {
            cr_assert_eq(val->valuedouble, x->val_acc);
            cr_assert_eq(cJSON_GetObjectItem(r, "test_acc")->valuedouble, x->test_acc);
            cr_assert_eq(nnz->valuedouble, (double)x->nnz);
            cr_assert(cJSON_IsNull(why));
        } else {
            cr_assert(cJSON_IsNull(val) && cJSON_IsNull(nnz));
            cr_assert_eq(cJSON_IsString(why), x->state == TRIAL_FAIL);
        }
    }

    /* CSV: the same header as the JSON keys, the same cells. */
    f = fopen(csv, "r");
    char line[4096];
    cr_assert_not_null(fgets(line, sizeof line, f));
    line[strcspn(line, "\n")] = 0;
    const cJSON *first = cJSON_GetArrayItem(a, 0), *key = first->child;
    char *save = NULL;
    int n_cols = 0;
    for (char *tok = strtok_r(line, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        cr_assert_not_null(key);
        cr_assert_str_eq(tok, key->string);
        key = key->next;
        n_cols++;
    }
    cr_assert_null(key);
    for (int k = 0; k < N_FIXTURE; k++) {
        cr_assert_not_null(fgets(line, sizeof line, f));
        line[strcspn(line, "\n")] = 0;
        const cJSON *cellj = cJSON_GetArrayItem(a, k)->child;
        const char *p = line;
        for (int c = 0; c < n_cols; c++, cellj = cellj->next) {
            size_t len = strcspn(p, ",");
            char cellt[256];
            snprintf(cellt, sizeof cellt, "%.*s", (int)len, p);
            if (cJSON_IsNull(cellj))
                cr_assert_str_eq(cellt, "", "row %d %s", k, cellj->string);
            else if (cJSON_IsNumber(cellj))
                cr_assert_eq(strtod(cellt, NULL), cellj->valuedouble, "row %d %s", k,
                             cellj->string);
            else
                cr_assert_str_eq(cellt, cellj->valuestring, "row %d %s", k, cellj->string);
            p += len + (p[len] == ',');
        }
    }
    cr_assert_null(fgets(line, sizeof line, f));
    fclose(f);
    cJSON_Delete(a);
}

static double json_num(const char *text, const char *key)
{
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%.300s", text);
    const cJSON *v = cJSON_GetObjectItem(j, key);
    cr_assert(cJSON_IsNumber(v), "%s missing in %.300s", key, text);
    double x = v->valuedouble;
    cJSON_Delete(j);
    return x;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(query, strategy_retrains_the_trial_to_the_same_accuracy)
{
    study_config sc;
    load_study(&sc, "real", "{\"name\": \"val_acc\", \"direction\": \"maximize\"}");
    study_point p = {{1, 1, 1}, {1, 0.8, 1e-4}};
    pt_config cfg;
    pt_err err = {{0}};
    cr_assert_eq(study_trial_config(&sc, &p, &cfg, &err), PT_OK, "%s", err.msg);
    char *config = pt_config_to_json(&cfg);
    char path[700], args[1600];
    snprintf(path, sizeof path, "%s/trial.json", tmpdir);
    write_file(path, config);
    /* The search's worker would train this; train it by hand. */
    snprintf(args, sizeof args, "train '%s'", path);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    char *result = strdup(out_buf);
    double acc = json_num(result, "val_acc"), test = json_num(result, "test_acc");
    cr_assert_float_eq(json_num(result, "sparsity"), 0.8, 0.02);

    store *st;
    int study_id, created;
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK);
    cr_assert_eq(store_study_open(st, &sc, 0, &study_id, &created, &err), PT_OK, "%s", err.msg);
    double worse = acc - 0.2;
    study_point q = {{1, 0, 1}, {0, 0, 1e-2}};
    add_trial(st, study_id, &sc, &q, TRIAL_COMPLETE, &worse, "{\"val_acc\": 0.1}");
    add_trial(st, study_id, &sc, &p, TRIAL_COMPLETE, &acc, result);
    store_close(st);
    study_free(&sc);

    snprintf(args, sizeof args, "strategy '%s'", dbpath); /* default: the best = trial 1 */
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cJSON *got = cJSON_Parse(out_buf), *want = cJSON_Parse(config);
    cr_assert(cJSON_Compare(got, want, 1), "%s", out_buf);
    cJSON_Delete(got);
    cJSON_Delete(want);
    snprintf(path, sizeof path, "%s/strategy.json", tmpdir);
    write_file(path, out_buf);
    snprintf(args, sizeof args, "train '%s'", path);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert_eq(json_num(out_buf, "val_acc"), acc);
    cr_assert_eq(json_num(out_buf, "test_acc"), test);

    snprintf(args, sizeof args, "strategy '%s' --trial 0", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    got = cJSON_Parse(out_buf);
    cr_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(got, "prune"), "schedule")->valuestring, "none");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "reg"), "l2")->valuedouble, 1e-2);
    cJSON_Delete(got);
    free(config);
    free(result);
}

/* Every bad input: exit 2 and exactly one line on stderr naming the problem. */
static void bad(const char *args, const char *what)
{
    cr_assert_eq(run(args), 2, "%s: %s", args, err_buf);
    cr_assert(strstr(err_buf, what), "%s: %s", args, err_buf);
    cr_assert_eq(strchr(err_buf, '\n'), err_buf + strlen(err_buf) - 1, "%s: %s", args, err_buf);
    cr_assert_str_eq(out_buf, "", "%s", args);
}

Test(query, bad_input_is_one_line_and_exit_2)
{
    build_fixture(dbpath);
    char args[900], other[700];
    snprintf(args, sizeof args, "top '%s/missing.db'", tmpdir);
    bad(args, "no such database");
    snprintf(other, sizeof other, "%s/not.db", tmpdir);
    write_file(other, "this is not an SQLite file, just text long enough to have a header....\n");
    snprintf(args, sizeof args, "best '%s'", other);
    bad(args, "not an SQLite database");
    snprintf(args, sizeof args, "pareto '%s' --study nope", dbpath);
    bad(args, "no study 'nope' (it has 'fix')");
    snprintf(args, sizeof args, "top '%s' --by accuracy", dbpath);
    bad(args, "unknown metric 'accuracy'");
    snprintf(args, sizeof args, "pareto '%s' --objectives val_acc,flops", dbpath);
    bad(args, "unknown metric 'flops'");
    snprintf(args, sizeof args, "top '%s' --where 'sparsity=>0.5'", dbpath);
    bad(args, "--where");
    snprintf(args, sizeof args, "top '%s' --where 'sparsity>=high'", dbpath);
    bad(args, "expected a number");
    snprintf(args, sizeof args, "top '%s' --where 'sparsity>=0.5 and'", dbpath);
    bad(args, "--where");
    snprintf(args, sizeof args, "top '%s' --where 'prune.schedule=gradul'", dbpath);
    bad(args, "prune.schedule has no choice 'gradul' (it has: none, gradual)");
    snprintf(args, sizeof args, "export '%s' --format xml", dbpath);
    bad(args, "--format");
    snprintf(args, sizeof args, "strategy '%s' --trial 99", dbpath);
    bad(args, "no trial 99");
    snprintf(args, sizeof args, "trials '%s' --state done", dbpath);
    bad(args, "--state");
    snprintf(args, sizeof args, "top '%s' --frobnicate", dbpath);
    bad(args, "unknown option");
    bad("studies", "missing the study database");
    /* SQL text in a metric name is only an unknown name. */
    snprintf(args, sizeof args, "top '%s' --where \"val_acc>0; DROP TABLE trials>1\"", dbpath);
    bad(args, "--where");
    for (const char **c = (const char *[]){"best", "top", "pareto", "trials", "studies", "export",
                                           "strategy", NULL};
         *c; c++) {
        snprintf(args, sizeof args, "%s --help", *c);
        cr_assert_eq(run(args), 0);
        cr_assert(strstr(out_buf, "usage: prunetune "), "%s", *c);
    }
}

Test(query, never_writes_the_db_even_while_a_run_writes)
{
    build_fixture(dbpath);
    unsigned long long before = file_hash(dbpath);
    static const char *const cmds[] = {"best '%s'",
                                       "best '%s' --json",
                                       "top '%s' -n 3 --where 'sparsity>0'",
                                       "pareto '%s' --objectives val_acc,latency_b1_us",
                                       "trials '%s'",
                                       "studies '%s'",
                                       "export '%s' --format csv",
                                       "export '%s' --format json",
                                       "strategy '%s'"};
    char args[800];
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        snprintf(args, sizeof args, cmds[i], dbpath);
        cr_assert_eq(run(args), 0, "%s: %s", args, err_buf);
        cr_assert_eq(file_hash(dbpath), before, "%s changed the DB", args);
    }
    /* A writer holds the file open (WAL) and adds a trial: readers see it. */
    study_config sc;
    load_study(&sc, "fix", "{\"name\": \"val_acc\", \"direction\": \"maximize\"}");
    store *st;
    pt_err err = {{0}};
    int study_id, created, num[16];
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK);
    cr_assert_eq(store_study_open(st, &sc, 0, &study_id, &created, &err), PT_OK, "%s", err.msg);
    study_point p = {{1, 1, 1}, {1, 0.99 * 0.95, 1e-4}};
    double best = 0.95;
    add_trial(st, study_id, &sc, &p, TRIAL_COMPLETE, &best,
              "{\"val_acc\": 0.95, \"sparsity\": 0.9405}");
    snprintf(args, sizeof args, "top '%s' -n 1", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert_eq(first_column(num, 16), 1);
    cr_assert_eq(num[0], 9);
    store_close(st);
    study_free(&sc);
}

Test(query, a_db_without_prunetune_tables_answers_from_optuna_ones)
{
    /* What Optuna itself writes: its tables only (no pt_studies, no
     * pt_trial_metrics). Values and params answer; metrics are empty. */
    build_fixture(dbpath);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(
        sqlite3_exec(db, "DROP TABLE pt_trial_metrics; DROP TABLE pt_studies;", NULL, NULL, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    char args[800];
    int num[16];
    snprintf(args, sizeof args, "top '%s' -n 2 --where 'prune.schedule=gradual'", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert(strstr(out_buf, " value "), "%s", out_buf); /* no objective names stored */
    cr_assert_eq(first_column(num, 16), 2);
    cr_assert(num[0] == 2 && num[1] == 3, "%s", out_buf);
    snprintf(args, sizeof args, "export '%s' --format json", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cJSON *a = cJSON_Parse(out_buf);
    cr_assert_eq(cJSON_GetArraySize(a), N_FIXTURE);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "nnz")));
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "value")->valuedouble, 0.88);
    cJSON_Delete(a);
    snprintf(args, sizeof args, "top '%s' --by sparsity", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf); /* a known column, empty: no rows */
    cr_assert_eq(first_column(num, 16), 0);
    snprintf(args, sizeof args, "strategy '%s'", dbpath);
    bad(args, "no stored config");
}
