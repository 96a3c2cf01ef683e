/*
 * query_fixture.h — what test_query.c and test_query_io.c share: a temp dir
 * with study.db, a small study parsed from JSON (a categorical, a
 * conditional float, a log float), the known trials of study "fix" recorded
 * with the store's API (every state, real merged configs), and running the
 * prunetune binary with its stdout/stderr captured. Static functions: each
 * test program gets its own copy (unused ones are fine, they are inline).
 */
#ifndef TEST_QUERY_FIXTURE_H
#define TEST_QUERY_FIXTURE_H

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

static inline void setup(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/study.db", tmpdir);
}

static inline void teardown(void)
{
    if (getenv("PT_QUERY_KEEP"))
        return;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

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

static inline void load_study(study_config *sc, const char *name, const char *objectives)
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
static inline void add_trial_n(store *st, int study_id, const study_config *sc,
                               const study_point *p, trial_state state, const double *values,
                               int n_values, const char *result)
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

static inline void add_trial(store *st, int study_id, const study_config *sc, const study_point *p,
                             trial_state state, const double *values, const char *result)
{
    add_trial_n(st, study_id, sc, p, state, values, state == TRIAL_FAIL ? 0 : 1, result);
}

/* Writes the fixture's trials into study study_id of st (study sc). */
static inline void fill_fixture(store *st, int study_id, const study_config *sc)
{
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
        add_trial(st, study_id, sc, &p, f->state, &f->val_acc,
                  f->state == TRIAL_FAIL ? NULL : result);
    }
}

static inline void build_fixture(const char *path)
{
    study_config sc;
    load_study(&sc, "fix", "{\"name\": \"val_acc\", \"direction\": \"maximize\"}");
    store *st;
    pt_err err = {{0}};
    int study_id, created;
    cr_assert_eq(store_open(&st, path, 0, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_study_open(st, &sc, 0, &study_id, &created, &err), PT_OK, "%s", err.msg);
    fill_fixture(st, study_id, &sc);
    store_close(st);
    study_free(&sc);
}

/* ---- running the binary ---------------------------------------------------- */

static char out_buf[1 << 20], err_buf[8192];

/* Runs `prunetune ARGS` (a shell fragment); stdout/stderr into the buffers. */
static inline int run(const char *args)
{
    char cmd[4096], out[700], errf[700];
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
static inline int first_column(int *numbers, int cap)
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
static inline int json_numbers(int *numbers, int cap)
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

#endif
