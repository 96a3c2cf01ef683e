/*
 * test_store_optuna.c — the store's files as others read them: Optuna 3.1
 * loads and continues a prunetune study, prunetune continues a study Optuna
 * made (tests/optuna_check.py, run with /usr/bin/python3; skipped only when
 * python3-optuna is missing), and schemas/store.sql documents exactly the
 * schema store.c creates.
 */
#include <sys/wait.h>

#include "allclose.h"
#include "store_fixture.h"

TestSuite(store_optuna, .init = setup, .fini = teardown);

/* ---- schemas/store.sql is the schema store.c creates ---------------------- */

/* Every table's columns, keys and indexes as one text. */
static void describe(sqlite3 *db, char *out, size_t cap)
{
    const char *sql =
        "SELECT m.type || ' ' || m.name || ' on ' || m.tbl_name || ': ' ||"
        " coalesce((SELECT group_concat(c, ', ') FROM (SELECT p.name || ' ' || p.type ||"
        " ' nn' || p.\"notnull\" || ' pk' || p.pk AS c FROM pragma_table_info(m.name) p"
        " ORDER BY p.cid)), '') || coalesce((SELECT ' idx(' || group_concat(i.name, ',') || ')'"
        " FROM pragma_index_info(m.name) i), '')"
        " FROM sqlite_master m WHERE m.name NOT LIKE 'sqlite_autoindex%' ORDER BY m.name";
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    size_t n = 0;
    out[0] = '\0';
    while (sqlite3_step(s) == SQLITE_ROW && n < cap)
        n += (size_t)snprintf(out + n, cap - n, "%s\n", sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

Test(store_optuna, documented_schema_is_the_real_one)
{
    store *st;
    pt_err err;
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK, "%s", err.msg);
    store_close(st);
    FILE *f = fopen(PT_SOURCE_DIR "/schemas/store.sql", "r");
    cr_assert_not_null(f);
    static char sql[1 << 16], want[1 << 15], got[1 << 15];
    sql[fread(sql, 1, sizeof sql - 1, f)] = '\0';
    fclose(f);
    sqlite3 *mem, *db = raw();
    cr_assert_eq(sqlite3_open(":memory:", &mem), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(mem, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(mem));
    describe(mem, want, sizeof want);
    describe(db, got, sizeof got);
    cr_assert(strlen(got) > 1000);
    cr_assert_str_eq(got, want);
    sqlite3_close(mem);
    sqlite3_close(db);
}

/* ---- Optuna reads it ----------------------------------------------------- */

/* Runs tests/optuna_check.py ARGS; its stdout parsed as JSON into *out (when
 * out). Skips the test when the script says Optuna is missing (exit 77). */
static void optuna_check(const char *args, cJSON **out)
{
    char cmd[2048], outp[640], errp[640];
    snprintf(outp, sizeof outp, "%s/optuna.out", tmpdir);
    snprintf(errp, sizeof errp, "%s/optuna.err", tmpdir);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/optuna_check.py %s >'%s' 2>'%s'",
             PT_SOURCE_DIR, args, outp, errp);
    int rc = system(cmd);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    static char text[1 << 17], msg[4096];
    FILE *f = fopen(errp, "r");
    msg[f ? fread(msg, 1, sizeof msg - 1, f) : 0] = '\0';
    if (f)
        fclose(f);
    if (rc == 77 || rc == 127)
        cr_skip_test("Optuna is not available to /usr/bin/python3 (install python3-optuna): %s",
                     msg);
    cr_assert_eq(rc, 0, "optuna_check.py %s failed: %s", args, msg);
    if (!out)
        return;
    f = fopen(outp, "r");
    cr_assert_not_null(f);
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    *out = cJSON_Parse(text);
    cr_assert_not_null(*out, "not JSON: %s", text);
}

static const cJSON *at(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert_not_null(v, "missing %s", key);
    return v;
}

Test(store_optuna, optuna_loads_the_study)
{
    store *st;
    study_config sc;
    int ids[5];
    fill(&st, &sc, ids);
    /* A second, two-objective study in the same file: accuracy up, latency
     * down; trials 0 and 1 are the Pareto front, 2 is dominated by 0. */
    study_config mo;
    make_study(&mo, "mo", 0);
    mo.n_objectives = 2;
    snprintf(mo.obj[1].name, sizeof mo.obj[1].name, "latency_b1_us");
    mo.obj[1].dir = DIR_MINIMIZE;
    pt_err err;
    int sid, created, id, num;
    cr_assert_eq(store_study_open(st, &mo, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    const double mv[3][2] = {{0.9, 100}, {0.8, 50}, {0.7, 200}};
    for (int k = 0; k < 3; k++) {
        study_point p = point_of(k);
        cr_assert_eq(store_trial_begin(st, sid, &mo, &p, "{}", &id, &num, &err), PT_OK);
        cr_assert_eq(store_trial_end(st, id, TRIAL_COMPLETE, mv[k], 2, NULL, NULL, &err), PT_OK,
                     "%s", err.msg);
    }
    store_close(st);
    char args[700];
    snprintf(args, sizeof args, "'%s' s mo", dbpath);
    cJSON *both, *o;
    optuna_check(args, &both);
    cr_assert_eq(cJSON_GetArraySize(both), 2);
    const cJSON *m = cJSON_GetArrayItem(both, 1);
    cr_assert_str_eq(cJSON_GetArrayItem(at(m, "directions"), 1)->valuestring, "MINIMIZE");
    cr_assert_str_eq(
        cJSON_GetArrayItem(at(at(m, "system_attrs"), "study:metric_names"), 1)->valuestring,
        "latency_b1_us");
    const cJSON *front = at(m, "pareto_numbers");
    cr_assert_eq(cJSON_GetArraySize(front), 2);
    cr_assert_eq(cJSON_GetArrayItem(front, 0)->valueint, 0);
    cr_assert_eq(cJSON_GetArrayItem(front, 1)->valueint, 1);
    const cJSON *v2 = at(cJSON_GetArrayItem(at(m, "trials"), 2), "values");
    cr_assert_eq(cJSON_GetArrayItem(v2, 0)->valuedouble, 0.7);
    cr_assert_eq(cJSON_GetArrayItem(v2, 1)->valuedouble, 200);
    cr_assert_eq(at(m, "continued_number")->valueint, 3);
    free(mo.space_json);
    o = cJSON_DetachItemFromArray(both, 0);
    cJSON_Delete(both);
    cr_assert_str_eq(at(o, "optuna")->valuestring, "3.1.0");
    cr_assert_str_eq(at(o, "schema")->valuestring, "v3.0.0.d");
    cr_assert_str_eq(cJSON_GetArrayItem(at(o, "directions"), 0)->valuestring, "MAXIMIZE");
    const cJSON *names = at(at(o, "system_attrs"), "study:metric_names");
    cr_assert_eq(cJSON_GetArraySize(names), 1);
    cr_assert_str_eq(cJSON_GetArrayItem(names, 0)->valuestring, "val_acc");
    cr_assert_eq(at(o, "n_trials")->valueint, 5);
    /* Not trial 3 (+inf): Optuna's RDB storage ranks by the value column,
     * which holds NULL for an infinite value, as Optuna itself writes it. */
    cr_assert_eq(at(o, "best_number")->valueint, 0);
    cr_assert_eq(at(o, "continued_number")->valueint, 5);
    const char *states[5] = {"COMPLETE", "FAIL", "PRUNED", "COMPLETE", "RUNNING"};
    const char *sched[3] = {"none", "gradual", "iterative"};
    const cJSON *trials = at(o, "trials");
    for (int k = 0; k < 5; k++) {
        const cJSON *t = cJSON_GetArrayItem(trials, k);
        study_point p = point_of(k);
        cr_assert_eq(at(t, "number")->valueint, k);
        cr_assert_str_eq(at(t, "state")->valuestring, states[k]);
        const cJSON *pa = at(t, "params");
        cr_assert_eq(cJSON_GetArraySize(pa), p.present[3] ? 5 : 4);
        cr_assert_str_eq(at(pa, "prune.schedule")->valuestring, sched[k % 3]);
        cr_assert_eq(at(pa, "prune.sparsity")->valuedouble, p.value[1]);
        cr_assert_eq(at(pa, "reg.l2")->valuedouble, p.value[2]);
        cr_assert_eq(at(pa, "train.batch_size")->valueint, (int)p.value[4]);
        if (p.present[3])
            cr_assert_eq(at(pa, "prune.rounds")->valueint, (int)p.value[3]);
        const cJSON *iv = at(t, "intermediate");
        cr_assert_eq(cJSON_GetArraySize(iv), 3);
        /* a stored double through SQLite and JSON text */
        pt_assert_close(at(iv, "2")->valuedouble, 0.3 + k, PT_RTOL_FORMULA, 0);
    }
    const cJSON *t0 = cJSON_GetArrayItem(trials, 0), *t3 = cJSON_GetArrayItem(trials, 3);
    cr_assert_eq(cJSON_GetArrayItem(at(t0, "values"), 0)->valuedouble, 0.8125);
    cr_assert_str_eq(cJSON_GetArrayItem(at(t3, "values"), 0)->valuestring, "inf");
    cr_assert(cJSON_IsNull(at(cJSON_GetArrayItem(trials, 1), "values")));
    const cJSON *ua = at(t0, "user_attrs");
    cr_assert_eq(at(ua, "nnz")->valueint, 26610);
    cr_assert_eq(at(ua, "sparsity")->valuedouble, 0.9);
    cr_assert_eq(at(ua, "test_acc")->valuedouble, 0.8);
    cr_assert_null(cJSON_GetObjectItem(ua, "latency_b1_us"));
    cr_assert_str_eq(
        at(at(cJSON_GetArrayItem(trials, 1), "user_attrs"), "fail_reason")->valuestring,
        "loss is NaN at epoch 2 \"diverged\"");
    cJSON_Delete(o);
    free(sc.space_json);
}

Test(store_optuna, continues_a_study_optuna_made)
{
    char args[700];
    snprintf(args, sizeof args, "--make '%s' made", dbpath);
    optuna_check(args, NULL);
    store *st;
    study_config sc;
    pt_err err;
    int sid, created, id, num;
    make_study(&sc, "made", 0);
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK, "%s", err.msg); /* migrates */
    cr_assert_eq(store_study_open(st, &sc, 0, &sid, &created, &err), PT_ERR_CONFIG);
    cr_assert_eq(store_study_open(st, &sc, 1, &sid, &created, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(created, 0);
    replay r = {0};
    cr_assert_eq(store_each_trial(st, sid, &sc, collect, &r, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(r.n, 3);
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(r.state[k], TRIAL_COMPLETE);
        cr_assert(r.has_values[k]);
        cr_assert(r.p[k].present[0] && r.p[k].present[1] && r.p[k].present[2]);
        cr_assert_eq(r.value[k], r.p[k].value[1]); /* Optuna's objective: the sparsity */
        cr_assert_eq(r.p[k].present[3], r.p[k].value[0] == 2);
        cr_assert_eq(r.p[k].present[4], 0);
    }
    study_point p = point_of(2);
    double v = 0.75;
    cr_assert_eq(store_trial_begin(st, sid, &sc, &p, "{}", &id, &num, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(num, 3);
    cr_assert_eq(store_trial_end(st, id, TRIAL_COMPLETE, &v, 1, "{\"val_acc\": 0.75}", NULL, &err),
                 PT_OK, "%s", err.msg);
    store_close(st);
    snprintf(args, sizeof args, "'%s' made", dbpath);
    cJSON *o;
    optuna_check(args, &o);
    cr_assert_eq(at(o, "n_trials")->valueint, 4);
    /* Opening migrated Optuna's file: prunetune's tables, WAL, Optuna's rows kept. */
    char mode[16];
    q_text("PRAGMA journal_mode", mode, sizeof mode);
    cr_assert_str_eq(mode, "wal");
    cr_assert_eq(q_num("PRAGMA user_version"), 1);
    cr_assert_eq(q_num("SELECT count(*) FROM pt_trial_metrics"), 1);
    cr_assert_eq(q_num("SELECT count(*) FROM trial_intermediate_values"), 3);
    cJSON_Delete(o);
    free(sc.space_json);
}
