/*
 * test_store.c — the study database on real SQLite files: trials recorded and
 * replayed exactly, resume rules, refusal of foreign files, readers during
 * writes, the documented schema, and Optuna 3.1 itself loading the result
 * (tests/optuna_check.py; skipped only when python3-optuna is missing).
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static char tmpdir[] = "/tmp/pt_store_XXXXXX";
static char dbpath[600];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/study.db", tmpdir);
}

static void teardown(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(store, .init = setup, .fini = teardown);

/* The search space of the tests: a categorical, two floats (one log), an int
 * conditional on the categorical, an int with a step. variant changes the
 * space's text (what a resumed run compares). */
static void make_study(study_config *sc, const char *name, int variant)
{
    memset(sc, 0, sizeof *sc);
    snprintf(sc->name, sizeof sc->name, "%s", name);
    sc->n_objectives = 1;
    snprintf(sc->obj[0].name, sizeof sc->obj[0].name, "val_acc");
    sc->obj[0].dir = DIR_MAXIMIZE;
    study_param *p = sc->param;
    snprintf(p[0].name, sizeof p[0].name, "prune.schedule");
    p[0].kind = PARAM_CAT;
    p[0].n_choices = 3;
    snprintf(p[0].choices[0], 64, "\"none\"");
    snprintf(p[0].choices[1], 64, "\"gradual\"");
    snprintf(p[0].choices[2], 64, "\"iterative\"");
    snprintf(p[1].name, sizeof p[1].name, "prune.sparsity");
    p[1].kind = PARAM_FLOAT;
    p[1].low = 0.5;
    p[1].high = 0.95;
    snprintf(p[2].name, sizeof p[2].name, "reg.l2");
    p[2].kind = PARAM_FLOAT;
    p[2].low = 1e-6;
    p[2].high = 1e-2;
    p[2].log = 1;
    snprintf(p[3].name, sizeof p[3].name, "prune.rounds");
    p[3].kind = PARAM_INT;
    p[3].low = 1;
    p[3].high = 4;
    p[3].step = 1;
    p[3].cond = 0;
    p[3].n_when = 1;
    p[3].when[0] = 2;
    snprintf(p[4].name, sizeof p[4].name, "train.batch_size");
    p[4].kind = PARAM_INT;
    p[4].low = 32;
    p[4].high = 256;
    p[4].step = 32;
    for (int i = 0; i < 5; i++)
        if (i != 3)
            p[i].cond = -1;
    sc->n_params = 5;
    char text[128];
    snprintf(text, sizeof text, "{\"search_space\": {\"variant\": %d}, \"objectives\": [1]}",
             variant);
    sc->space_json = strdup(text);
}

/* Point of trial k: deterministic, every kind of value, rounds only when
 * the schedule is iterative (k % 3 == 2). */
static study_point point_of(int k)
{
    study_point p;
    memset(&p, 0, sizeof p);
    for (int i = 0; i < 5; i++)
        p.present[i] = 1;
    p.value[0] = k % 3;
    p.value[1] = 0.5 + 0.01 * k;
    p.value[2] = 1e-6 * pow(10.0, (k % 5));
    p.present[3] = k % 3 == 2;
    p.value[3] = p.present[3] ? 1 + k % 4 : 0;
    p.value[4] = 32.0 * (1 + k % 8);
    return p;
}

/* ---- reading the file directly ------------------------------------------ */

static sqlite3 *raw(void)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return db;
}

static double q_num(const char *sql)
{
    sqlite3 *db = raw();
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
    double v = sqlite3_column_type(s, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void q_text(const char *sql, char *out, size_t cap)
{
    sqlite3 *db = raw();
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sql);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
    const char *t = (const char *)sqlite3_column_text(s, 0);
    snprintf(out, cap, "%s", t ? t : "NULL");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* ---- replay -------------------------------------------------------------- */

typedef struct {
    int n, number[64];
    trial_state state[64];
    study_point p[64];
    int has_values[64];
    double value[64];
    store *writer; /* when set: write while the reader is mid-replay */
} replay;

static void collect(void *ctx, int number, trial_state st, const study_point *p,
                    const double *values)
{
    replay *r = ctx;
    if (r->writer) {
        study_config sc;
        make_study(&sc, "s", 0);
        int id, num;
        pt_err err;
        study_point q = point_of(0);
        cr_assert_eq(store_trial_begin(r->writer, 1, &sc, &q, "{}", &id, &num, &err), PT_OK, "%s",
                     err.msg);
        free(sc.space_json);
    }
    if (r->n >= 64)
        return;
    r->number[r->n] = number;
    r->state[r->n] = st;
    r->p[r->n] = *p;
    r->has_values[r->n] = values != NULL;
    r->value[r->n] = values ? values[0] : NAN;
    r->n++;
}

/* A fresh DB with study "s" and trials 0..4: 0 COMPLETE (with metrics),
 * 1 FAIL, 2 PRUNED, 3 COMPLETE at +inf, 4 still RUNNING. */
static void fill(store **out, study_config *sc, int ids[5])
{
    pt_err err;
    int sid, created;
    cr_assert_eq(store_open(out, dbpath, 0, &err), PT_OK, "%s", err.msg);
    make_study(sc, "s", 0);
    cr_assert_eq(store_study_open(*out, sc, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(created, 1);
    for (int k = 0; k < 5; k++) {
        study_point p = point_of(k);
        int number;
        char cfg[64];
        snprintf(cfg, sizeof cfg, "{\"seed\": %d}", k);
        cr_assert_eq(store_trial_begin(*out, sid, sc, &p, cfg, &ids[k], &number, &err), PT_OK, "%s",
                     err.msg);
        cr_assert_eq(number, k);
        for (int e = 0; e < 3; e++)
            cr_assert_eq(store_trial_report(*out, ids[k], e, 0.1 * (e + 1) + k, &err), PT_OK, "%s",
                         err.msg);
    }
    double v0 = 0.8125, v2 = 0.25, v3 = INFINITY;
    cr_assert_eq(store_trial_end(*out, ids[0], TRIAL_COMPLETE, &v0, 1,
                                 "{\"val_acc\": 0.8125, \"test_acc\": 0.80, \"sparsity\": 0.9,"
                                 " \"nnz\": 26610, \"epochs\": 3, \"latency_b1_us\": null}",
                                 NULL, &err),
                 PT_OK, "%s", err.msg);
    cr_assert_eq(store_trial_end(*out, ids[1], TRIAL_FAIL, NULL, 0, NULL,
                                 "loss is NaN at epoch 2 \"diverged\"", &err),
                 PT_OK, "%s", err.msg);
    cr_assert_eq(store_trial_end(*out, ids[2], TRIAL_PRUNED, &v2, 1, "{}", NULL, &err), PT_OK, "%s",
                 err.msg);
    cr_assert_eq(store_trial_end(*out, ids[3], TRIAL_COMPLETE, &v3, 1, NULL, NULL, &err), PT_OK,
                 "%s", err.msg);
}

Test(store, trials_round_trip)
{
    store *st;
    study_config sc;
    int ids[5];
    pt_err err;
    fill(&st, &sc, ids);
    replay r = {0};
    cr_assert_eq(store_each_trial(st, 1, &sc, collect, &r, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(r.n, 5);
    const trial_state want[5] = {TRIAL_COMPLETE, TRIAL_FAIL, TRIAL_PRUNED, TRIAL_COMPLETE,
                                 TRIAL_RUNNING};
    for (int k = 0; k < 5; k++) {
        study_point p = point_of(k);
        cr_assert_eq(r.number[k], k);
        cr_assert_eq(r.state[k], want[k], "trial %d", k);
        for (int i = 0; i < 5; i++) {
            cr_assert_eq(r.p[k].present[i], p.present[i], "trial %d param %d", k, i);
            if (p.present[i]) /* bit-exact: SQLite stores the double as is */
                cr_assert_eq(r.p[k].value[i], p.value[i], "trial %d param %d", k, i);
        }
    }
    cr_assert(r.has_values[0] && r.value[0] == 0.8125);
    cr_assert(!r.has_values[1] && !r.has_values[4]);
    cr_assert(r.has_values[2] && r.value[2] == 0.25);
    cr_assert(r.has_values[3] && isinf(r.value[3]) && r.value[3] > 0);
    cr_assert_eq(store_integrity(st, &err), PT_OK, "%s", err.msg);
    store_close(st);

    /* What the file holds, as Optuna and prunetune's readers see it. */
    char t[512];
    cr_assert_eq(q_num("SELECT count(*) FROM trial_intermediate_values"), 15);
    cr_assert_eq(q_num("SELECT intermediate_value FROM trial_intermediate_values"
                       " WHERE trial_id=2 AND step=1"),
                 0.2 + 1);
    cr_assert_eq(q_num("SELECT count(*) FROM trial_params WHERE trial_id=3"), 5); /* k=2 */
    cr_assert_eq(q_num("SELECT count(*) FROM trial_params WHERE trial_id=1"), 4);
    q_text("SELECT distribution_json FROM trial_params WHERE param_name='reg.l2'", t, sizeof t);
    cr_assert_str_eq(t, "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, "
                        "\"low\": 1e-06, \"high\": 0.01, \"log\": true}}");
    q_text("SELECT value_type FROM trial_values WHERE trial_id=4", t, sizeof t);
    cr_assert_str_eq(t, "INF_POS");
    cr_assert(isnan(q_num("SELECT value FROM trial_values WHERE trial_id=4")));
    q_text("SELECT group_concat(state) FROM (SELECT state FROM trials ORDER BY number)", t,
           sizeof t);
    cr_assert_str_eq(t, "COMPLETE,FAIL,PRUNED,COMPLETE,RUNNING");
    q_text("SELECT datetime_complete FROM trials WHERE trial_id=1", t, sizeof t);
    int y, mo, d, h, mi, s, us, n = 0;
    cr_assert_eq(sscanf(t, "%4d-%2d-%2d %2d:%2d:%2d.%6d%n", &y, &mo, &d, &h, &mi, &s, &us, &n), 7,
                 "%s", t);
    cr_assert_eq(n, 26, "%s", t);
    cr_assert(isnan(q_num("SELECT datetime_complete FROM trials WHERE trial_id=5")));
    cr_assert_eq(q_num("SELECT nnz FROM pt_trial_metrics WHERE trial_id=1"), 26610);
    cr_assert_eq(q_num("SELECT test_acc FROM pt_trial_metrics WHERE trial_id=1"), 0.80);
    cr_assert(isnan(q_num("SELECT latency_b1_us FROM pt_trial_metrics WHERE trial_id=1")));
    q_text("SELECT config_json FROM pt_trial_metrics WHERE number=3", t, sizeof t);
    cr_assert_str_eq(t, "{\"seed\": 3}");
    q_text("SELECT fail_reason FROM pt_trial_metrics WHERE trial_id=2", t, sizeof t);
    cr_assert_str_eq(t, "loss is NaN at epoch 2 \"diverged\"");
    q_text("SELECT value_json FROM trial_user_attributes WHERE trial_id=2 AND key='fail_reason'", t,
           sizeof t);
    cr_assert_str_eq(t, "\"loss is NaN at epoch 2 \\\"diverged\\\"\"");
    q_text("SELECT group_concat(key || '=' || value_json) FROM (SELECT * FROM"
           " trial_user_attributes WHERE trial_id=1 ORDER BY key)",
           t, sizeof t);
    cr_assert_str_eq(t, "epochs=3,nnz=26610,sparsity=0.9,test_acc=0.8,val_acc=0.8125");
    cr_assert_eq(q_num("PRAGMA user_version"), 1);
    q_text("PRAGMA journal_mode", t, sizeof t);
    cr_assert_str_eq(t, "wal");
    q_text("SELECT version_num FROM alembic_version", t, sizeof t);
    cr_assert_str_eq(t, "v3.0.0.d");
    q_text("SELECT schema_version || ' ' || library_version FROM version_info", t, sizeof t);
    cr_assert_str_eq(t, "12 3.1.0");
    free(sc.space_json);
}

Test(store, events_out_of_order_are_refused)
{
    store *st;
    study_config sc;
    int ids[5];
    pt_err err;
    fill(&st, &sc, ids);
    double v = 0.5, nan_v = NAN;
    cr_assert_eq(store_trial_report(st, ids[0], 9, 0.1, &err), PT_ERR_ARG);
    cr_assert(strstr(err.msg, "is not running"), "%s", err.msg);
    cr_assert_eq(store_trial_end(st, ids[0], TRIAL_COMPLETE, &v, 1, NULL, NULL, &err), PT_ERR_ARG);
    cr_assert_eq(store_trial_end(st, 999, TRIAL_FAIL, NULL, 0, NULL, "x", &err), PT_ERR_ARG);
    cr_assert_eq(store_trial_end(st, ids[4], TRIAL_COMPLETE, &nan_v, 1, NULL, NULL, &err),
                 PT_ERR_ARG);
    cr_assert(strstr(err.msg, "NaN"), "%s", err.msg);
    cr_assert_eq(store_trial_end(st, ids[4], TRIAL_COMPLETE, NULL, 0, NULL, NULL, &err),
                 PT_ERR_ARG);
    cr_assert_eq(store_trial_end(st, ids[4], TRIAL_COMPLETE, &v, 1, "[1,", NULL, &err), PT_ERR_ARG);
    cr_assert_eq(store_trial_end(st, ids[4], TRIAL_RUNNING, &v, 1, NULL, NULL, &err), PT_ERR_ARG);
    study_point bad = point_of(0);
    bad.value[0] = 3; /* only 3 choices */
    int id, num;
    cr_assert_eq(store_trial_begin(st, 1, &sc, &bad, "{}", &id, &num, &err), PT_ERR_ARG);
    /* A NaN intermediate value is Optuna's NAN type; the trial is still open. */
    cr_assert_eq(store_trial_report(st, ids[4], 7, NAN, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_trial_report(st, ids[4], 7, 0.75, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_trial_report(st, ids[4], 8, NAN, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_trial_end(st, ids[4], TRIAL_COMPLETE, &v, 1, NULL, NULL, &err), PT_OK);
    store_close(st);
    char t[64];
    q_text("SELECT intermediate_value_type FROM trial_intermediate_values WHERE step=8", t,
           sizeof t);
    cr_assert_str_eq(t, "NAN");
    cr_assert_eq(q_num("SELECT intermediate_value FROM trial_intermediate_values WHERE step=7"),
                 0.75);
    cr_assert_eq(q_num("SELECT count(*) FROM trials"), 5); /* the bad begin left nothing */
    free(sc.space_json);
}

Test(store, fail_running_on_resume)
{
    store *st;
    study_config sc;
    int ids[5], n = -1, sid, created;
    pt_err err;
    fill(&st, &sc, ids);
    study_point p = point_of(7);
    int id, num;
    cr_assert_eq(store_trial_begin(st, 1, &sc, &p, "{}", &id, &num, &err), PT_OK);
    cr_assert_eq(num, 5);
    store_close(st); /* the run "dies" with trials 4 and 5 RUNNING */

    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_study_open(st, &sc, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(created, 0);
    cr_assert_eq(sid, 1);
    cr_assert_eq(store_fail_running(st, sid, &n, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(store_fail_running(st, sid, &n, &err), PT_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(store_trial_begin(st, sid, &sc, &p, "{}", &id, &num, &err), PT_OK);
    cr_assert_eq(num, 6); /* numbering continues after the failed ones */
    cr_assert_eq(store_integrity(st, &err), PT_OK, "%s", err.msg);
    store_close(st);
    cr_assert_eq(q_num("SELECT count(*) FROM trials WHERE state='FAIL'"), 3);
    cr_assert_eq(q_num("SELECT count(*) FROM trials WHERE state='RUNNING'"), 1);
    cr_assert_eq(q_num("SELECT count(*) FROM trials WHERE state='FAIL' AND"
                       " datetime_complete IS NULL"),
                 0);
    cr_assert_eq(q_num("SELECT count(*) FROM pt_trial_metrics WHERE fail_reason LIKE"
                       " 'the run that owned%'"),
                 2);
    cr_assert_eq(q_num("SELECT count(*) FROM trial_user_attributes WHERE key='fail_reason'"), 3);
    free(sc.space_json);
}

Test(store, resume_with_another_space_needs_force)
{
    store *st;
    study_config sc, other, dirs;
    int ids[5], sid, created;
    pt_err err;
    fill(&st, &sc, ids);
    make_study(&other, "s", 1);
    cr_assert_eq(store_study_open(st, &other, 0, &sid, &created, &err), PT_ERR_CONFIG);
    cr_assert(strstr(err.msg, "study 's' exists with another search space; use --force"), "%s",
              err.msg);
    make_study(&dirs, "s", 0);
    dirs.obj[0].dir = DIR_MINIMIZE;
    cr_assert_eq(store_study_open(st, &dirs, 0, &sid, &created, &err), PT_ERR_CONFIG);
    cr_assert(strstr(err.msg, "objectives or directions; use --force"), "%s", err.msg);
    /* Same space written in another key order is the same space. */
    free(sc.space_json);
    sc.space_json = strdup("{\"objectives\": [1], \"search_space\": {\"variant\": 0}}");
    cr_assert_eq(store_study_open(st, &sc, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    /* --force adopts the new space: later runs compare against it. */
    cr_assert_eq(store_study_open(st, &other, 1, &sid, &created, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(created, 0);
    cr_assert_eq(store_study_open(st, &other, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_study_open(st, &sc, 0, &sid, &created, &err), PT_ERR_CONFIG);
    /* Another name is another study, numbered from 0. */
    study_config b;
    make_study(&b, "b", 0);
    int id, num;
    study_point p = point_of(1);
    cr_assert_eq(store_study_open(st, &b, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(created, 1);
    cr_assert_eq(sid, 2);
    cr_assert_eq(store_trial_begin(st, sid, &b, &p, "{}", &id, &num, &err), PT_OK);
    cr_assert_eq(num, 0);
    store_close(st);
    cr_assert_eq(q_num("SELECT count(*) FROM study_directions"), 2);
    free(sc.space_json);
    free(other.space_json);
    free(dirs.space_json);
    free(b.space_json);
}

/* ---- what store_open refuses --------------------------------------------- */

static void write_bytes(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_refused(int readonly, pt_status code, const char *msg_part)
{
    store *st = (store *)1;
    pt_err err = {{0}};
    cr_assert_eq(store_open(&st, dbpath, readonly, &err), code, "%s", err.msg);
    cr_assert_null(st);
    cr_assert(strstr(err.msg, msg_part), "got: %s", err.msg);
    cr_assert(strstr(err.msg, dbpath), "%s", err.msg);
    cr_assert_null(strchr(err.msg, '\n'));
}

static void exec_raw(const char *sql)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

Test(store, foreign_files_are_refused_and_left_alone)
{
    expect_refused(1, PT_ERR_IO, "no such database");
    write_bytes(dbpath, "");
    expect_refused(1, PT_ERR_FORMAT, "empty database");
    const char *text = "trial,val_acc\n0,0.8\n1,0.7\n this is a CSV file, not SQLite........\n";
    write_bytes(dbpath, text);
    expect_refused(1, PT_ERR_FORMAT, "not an SQLite database");
    expect_refused(0, PT_ERR_FORMAT, "not an SQLite database");
    char back[256] = "";
    FILE *f = fopen(dbpath, "r");
    back[fread(back, 1, sizeof back - 1, f)] = '\0';
    fclose(f);
    cr_assert_str_eq(back, text);
    char wal[640];
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    cr_assert_neq(access(wal, F_OK), 0);

    remove(dbpath);
    exec_raw("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)");
    expect_refused(1, PT_ERR_FORMAT, "not a prunetune/Optuna study database (no table 'studies')");
    expect_refused(0, PT_ERR_FORMAT, "no table 'studies'");
    cr_assert_eq(q_num("SELECT count(*) FROM sqlite_master"), 1); /* untouched */

    /* Our own file, from an Optuna of another schema or a newer prunetune. */
    remove(dbpath);
    store *st;
    pt_err err;
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK, "%s", err.msg);
    store_close(st);
    exec_raw("PRAGMA user_version=99");
    expect_refused(0, PT_ERR_FORMAT, "newer prunetune (schema 99, this one knows 1)");
    exec_raw("PRAGMA user_version=1; UPDATE alembic_version SET version_num='v3.2.0.a'");
    expect_refused(1, PT_ERR_FORMAT, "Optuna schema revision 'v3.2.0.a' is not supported");

    snprintf(dbpath, sizeof dbpath, "%s/no/such/dir/x.db", tmpdir);
    expect_refused(0, PT_ERR_IO, "cannot open");
}

Test(store, readonly_handles_read_while_a_run_writes)
{
    store *w, *r;
    study_config sc;
    int ids[5], sid, created;
    pt_err err;
    fill(&w, &sc, ids);
    cr_assert_eq(store_open(&r, dbpath, 1, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_study_open(r, &sc, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(sid, 1);
    cr_assert_eq(created, 0);
    study_point p = point_of(1);
    int id, num;
    cr_assert_eq(store_trial_begin(r, sid, &sc, &p, "{}", &id, &num, &err), PT_ERR_ARG);
    cr_assert(strstr(err.msg, "read-only"), "%s", err.msg);
    study_config missing;
    make_study(&missing, "nope", 0);
    cr_assert_eq(store_study_open(r, &missing, 0, &sid, &created, &err), PT_ERR_CONFIG);
    cr_assert(strstr(err.msg, "no study 'nope'"), "%s", err.msg);

    /* The writer commits a trial per replayed row while the reader holds its
     * snapshot: neither waits, the reader sees the 5 trials it started with. */
    replay rp = {0};
    rp.writer = w;
    cr_assert_eq(store_each_trial(r, 1, &sc, collect, &rp, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(rp.n, 5);
    replay again = {0};
    cr_assert_eq(store_each_trial(r, 1, &sc, collect, &again, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(again.n, 10);
    cr_assert_eq(again.state[9], TRIAL_RUNNING);

    /* A raw reader in an open transaction does not block a stream of events. */
    sqlite3 *db = raw();
    sqlite3_busy_timeout(db, 0);
    cr_assert_eq(sqlite3_exec(db, "BEGIN; SELECT count(*) FROM trials;", NULL, NULL, NULL),
                 SQLITE_OK);
    for (int k = 0; k < 50; k++) {
        cr_assert_eq(store_trial_begin(w, 1, &sc, &p, "{}", &id, &num, &err), PT_OK, "%s", err.msg);
        cr_assert_eq(store_trial_report(w, id, 0, 0.5, &err), PT_OK, "%s", err.msg);
        double v = 0.5;
        cr_assert_eq(store_trial_end(w, id, TRIAL_COMPLETE, &v, 1, "{}", NULL, &err), PT_OK);
    }
    cr_assert_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    store_close(w);
    store_close(r);
    /* After the writer is gone a reader still opens the (WAL) file. */
    cr_assert_eq(store_open(&r, dbpath, 1, &err), PT_OK, "%s", err.msg);
    replay last = {0};
    cr_assert_eq(store_each_trial(r, 1, &sc, collect, &last, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(last.n, 60);
    cr_assert_eq(store_integrity(r, &err), PT_OK, "%s", err.msg);
    store_close(r);
    free(sc.space_json);
    free(missing.space_json);
}

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

Test(store, documented_schema_is_the_real_one)
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

Test(store, optuna_loads_the_study)
{
    store *st;
    study_config sc;
    int ids[5];
    fill(&st, &sc, ids);
    store_close(st);
    char args[700];
    snprintf(args, sizeof args, "'%s' s", dbpath);
    cJSON *o;
    optuna_check(args, &o);
    cr_assert_str_eq(at(o, "optuna")->valuestring, "3.1.0");
    cr_assert_str_eq(at(o, "schema")->valuestring, "v3.0.0.d");
    cr_assert_str_eq(cJSON_GetArrayItem(at(o, "directions"), 0)->valuestring, "MAXIMIZE");
    cr_assert_eq(at(o, "n_trials")->valueint, 5);
    cr_assert_eq(at(o, "best_number")->valueint, 0); /* +inf is not a number Optuna ranks */
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
        cr_assert_float_eq(at(iv, "2")->valuedouble, 0.3 + k, 1e-12);
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

Test(store, continues_a_study_optuna_made)
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
    cJSON_Delete(o);
    free(sc.space_json);
}

/* ---- speed (printed, never asserted) ------------------------------------- */

Test(store, recording_rate)
{
    study_config sc;
    make_study(&sc, "speed", 0);
    for (int i = 5; i < 10; i++) { /* 10 parameters, as a real space */
        sc.param[i] = sc.param[1];
        snprintf(sc.param[i].name, sizeof sc.param[i].name, "reg.p%d", i);
    }
    sc.n_params = 10;
    store *st;
    pt_err err;
    int sid, created, id, num;
    cr_assert_eq(store_open(&st, dbpath, 0, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_study_open(st, &sc, 0, &sid, &created, &err), PT_OK, "%s", err.msg);
    enum { N = 3000 };
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (int k = 0; k < N; k++) {
        study_point p = point_of(k);
        for (int i = 5; i < 10; i++) {
            p.present[i] = 1;
            p.value[i] = 0.5 + 1e-4 * k;
        }
        cr_assert_eq(store_trial_begin(st, sid, &sc, &p, "{\"net\": {\"hidden\": [300, 100]}}", &id,
                                       &num, &err),
                     PT_OK);
        for (int e = 0; e < 3; e++)
            cr_assert_eq(store_trial_report(st, id, e, 0.8, &err), PT_OK);
        double v = 0.8;
        cr_assert_eq(store_trial_end(st, id, TRIAL_COMPLETE, &v, 1,
                                     "{\"val_acc\": 0.8, \"test_acc\": 0.79, \"sparsity\": 0.9,"
                                     " \"nnz\": 26610, \"epochs\": 3, \"wall_s\": 1.5}",
                                     NULL, &err),
                     PT_OK);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
    /* CPU time too: on a shared machine the wall-clock rate mostly measures
     * the neighbours. */
    fprintf(stderr,
            "store: %d trials (begin + 10 params, 3 reports, end + 6 metrics): %.3f s wall ="
            " %.0f trials/s; %.3f s CPU = %.0f trials/s per core\n",
            N, s, N / s, cpu, N / cpu);
    cr_assert_eq(num, N - 1);
    cr_assert_eq(store_integrity(st, &err), PT_OK, "%s", err.msg);
    store_close(st);
    free(sc.space_json);
}
