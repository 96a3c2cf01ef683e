/*
 * store_fixture.h — what test_store.c and test_store_optuna.c share: a temp
 * dir with study.db, a hand-built study (no study parser needed), the points
 * of its trials, a DB filled with one trial in every state, and direct SQL
 * reads of the file. Static functions: each test program gets its own copy.
 */
#ifndef TEST_STORE_FIXTURE_H
#define TEST_STORE_FIXTURE_H

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    p.value[1] = 0.5 + 0.001 * (k % 450);
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
    int total; /* trials seen; the arrays keep the first 64 */
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
    r->total++;
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

#endif
