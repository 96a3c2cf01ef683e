/*
 * test_query_io.c — what goes in and out of the query commands: CSV/JSON
 * exports parsed back and compared with what was stored, a strategy that
 * re-trains to the same accuracy, every bad input as one line and exit 2,
 * the DB file byte-identical after every command (also while a writer has it
 * open), and a DB holding only Optuna's tables.
 */
#include "query_fixture.h"

TestSuite(query_io, .init = setup, .fini = teardown);

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

Test(query_io, export_csv_and_json_read_back_as_stored)
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

Test(query_io, strategy_retrains_the_trial_to_the_same_accuracy)
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
    /* Not a rounding bound: the run reached its strategy's sparsity (the
     * count itself is checked exactly in test_prune). */
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

Test(query_io, bad_input_is_one_line_and_exit_2)
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

Test(query_io, never_writes_the_db_even_while_a_run_writes)
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

Test(query_io, a_db_without_prunetune_tables_answers_from_optuna_ones)
{
    /* What Optuna itself writes: its tables only (no pt_studies, no
     * pt_trial_metrics). Values and params answer; the metrics come from
     * the numeric user attributes (here the store's mirrors of them, as a
     * user's trial.set_user_attr("sparsity", ...) would be). */
    build_fixture(dbpath);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(
        sqlite3_exec(db, "DROP TABLE pt_trial_metrics; DROP TABLE pt_studies;", NULL, NULL, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT (SELECT a.value_json FROM trial_user_attributes a"
                                    " JOIN trials t USING (trial_id) WHERE t.number=2 AND"
                                    " a.key='nnz'), (SELECT count(*) FROM trials t JOIN"
                                    " trial_user_attributes a USING (trial_id) WHERE"
                                    " t.state='COMPLETE' AND a.key='sparsity')",
                                    -1, &q, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    double nnz2 = sqlite3_column_type(q, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 0);
    int n_sparsity = sqlite3_column_int(q, 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
    char args[800];
    int num[16];
    snprintf(args, sizeof args, "top '%s' -n 2 --where 'prune.schedule=gradual'", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    /* The objective's name comes from Optuna's study:metric_names. */
    cr_assert(strstr(out_buf, "  val_acc  "), "%s", out_buf);
    cr_assert_eq(first_column(num, 16), 2);
    cr_assert(num[0] == 2 && num[1] == 3, "%s", out_buf);
    snprintf(args, sizeof args, "export '%s' --format json", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cJSON *a = cJSON_Parse(out_buf);
    cr_assert_eq(cJSON_GetArraySize(a), N_FIXTURE);
    const cJSON *nnz = cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "nnz");
    if (isnan(nnz2))
        cr_assert(cJSON_IsNull(nnz));
    else
        cr_assert(cJSON_IsNumber(nnz) && nnz->valuedouble == nnz2, "nnz of trial 2: %g", nnz2);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "value")->valuedouble, 0.88);
    cJSON_Delete(a);
    snprintf(args, sizeof args, "top '%s' --by sparsity", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf); /* every complete trial with the attribute */
    cr_assert_eq(first_column(num, 16), n_sparsity < 16 ? n_sparsity : 16);
    snprintf(args, sizeof args, "strategy '%s'", dbpath);
    bad(args, "no stored config");
    /* Without that attribute (Optuna 3.1 itself): "value". */
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "DELETE FROM study_system_attributes", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    snprintf(args, sizeof args, "best '%s' --by value", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_assert(strstr(out_buf, "best by value (maximize): trial 2, value = 0.88"), "%s", out_buf);
}
