/*
 * test_constraints.c — study constraints end to end, and queries that mean
 * what they say on a study Optuna made.
 *
 *  - storage: the store records Optuna's trial system attribute
 *    "constraints" for COMPLETE and PRUNED trials (not FAIL), +inf for a
 *    missing metric, and Optuna 3.1 itself reads the same floats and the same
 *    violations its constrained TPE computes (tests/constraints_check.py);
 *  - TPE: the constrained good/bad split against Optuna's own
 *    _split_observation_pairs on random cases, and a search whose optimum
 *    lies on a constraint boundary;
 *  - the feasibility filter of best, top, pareto, strategy, export-model,
 *    the kept models and the report data, with and without --all;
 *  - names on an Optuna-made study: numeric user attributes are metrics, a
 *    name both a parameter and a metric is an error naming params.X /
 *    attrs.X, which then work, and the counts match what Optuna sees.
 *
 * The DBs are built with the store's API on the shared query fixture (trials
 * with known metrics, real merged configs) or by Optuna itself.
 */
#include "query_fixture.h"

#include "models.h"
#include "report_data.h"
#include "sampler_impl.h"

TestSuite(constraints, .init = setup, .fini = teardown);

/* The fixture's study with "sparsity >= 0.85": among the complete trials
 * (val_acc, sparsity) 0 (.85, 0), 1 (.86, .5), 2 (.88, .8), 3 (.87, .9),
 * 4 (.84, 0), 5 (.80, .95), only 3 and 5 are feasible; 7 is PRUNED at 0.7.
 * The objectives argument of load_study is spliced into the study text, so
 * it also carries the constraints key. */
#define CONSTRAINED                                                                                \
    "{\"name\": \"val_acc\", \"direction\": \"maximize\"}], \"constraints\": [{\"metric\": "       \
    "\"sparsity\", \"min\": 0.85}"

static void build_constrained(study_config *sc, store **out, int *study_id)
{
    load_study(sc, "con", CONSTRAINED);
    cr_assert_eq(sc->n_constraints, 1);
    pt_err err = {{0}};
    int created;
    cr_assert_eq(store_open(out, dbpath, 0, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(store_study_open(*out, sc, 0, study_id, &created, &err), PT_OK, "%s", err.msg);
    fill_fixture(*out, study_id[0], sc);
}

/* A stored text of table.column for trial number (NULL when absent), static. */
static const char *trial_attr(const char *table, int number)
{
    static char buf[256];
    sqlite3 *db;
    sqlite3_stmt *s;
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT a.value_json FROM %s a JOIN trials t USING (trial_id)"
             " WHERE t.number=%d AND a.\"key\"='constraints'",
             table, number);
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    const char *r = NULL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        snprintf(buf, sizeof buf, "%s", (const char *)sqlite3_column_text(s, 0));
        r = buf;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return r;
}

/* Runs tests/constraints_check.py ARGS with /usr/bin/python3; its stdout as
 * JSON (caller deletes). Skips when Optuna is missing (exit 77). */
static cJSON *optuna_side(const char *args)
{
    char cmd[2048], outp[700], errp[700];
    snprintf(outp, sizeof outp, "%s/py.out", tmpdir);
    snprintf(errp, sizeof errp, "%s/py.err", tmpdir);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/constraints_check.py %s >'%s' 2>'%s'",
             PT_SOURCE_DIR, args, outp, errp);
    int rc = system(cmd);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    static char text[1 << 16], msg[4096];
    FILE *f = fopen(errp, "r");
    msg[f ? fread(msg, 1, sizeof msg - 1, f) : 0] = '\0';
    if (f)
        fclose(f);
    if (rc == 77 || rc == 127)
        cr_skip_test("Optuna is not available to /usr/bin/python3: %s", msg);
    cr_assert_eq(rc, 0, "constraints_check.py %s failed: %s", args, msg);
    f = fopen(outp, "r");
    cr_assert_not_null(f);
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "not JSON: %.300s", text);
    return j;
}

static double json_float(const cJSON *v)
{
    return cJSON_IsString(v) && !strcmp(v->valuestring, "inf") ? INFINITY : v->valuedouble;
}

/* ---- storage, and Optuna reading it ------------------------------------- */

Test(constraints, stored_as_optuna_system_attributes_and_read_by_optuna)
{
    study_config sc;
    store *st;
    int study_id;
    build_constrained(&sc, &st, &study_id);
    /* One more COMPLETE trial whose result lacks the metric: +inf. */
    study_point p = {{1, 0, 1}, {0, 0, 1e-4}};
    double v = 0.9;
    add_trial(st, study_id, &sc, &p, TRIAL_COMPLETE, &v, "{\"status\": \"ok\", \"val_acc\": 0.9}");
    store_close(st);
    /* Each value is min - sparsity, one subtraction: the C double is the
     * Python float, so the stored text reads back exactly. */
    for (int k = 0; k < N_FIXTURE; k++) {
        const char *text = trial_attr("trial_system_attributes", k);
        if (fixture[k].state == TRIAL_FAIL || fixture[k].state == TRIAL_RUNNING) {
            cr_expect_null(text, "trial %d (%s) has constraints %s", k,
                           trial_state_name(fixture[k].state), text);
            continue;
        }
        cr_assert_not_null(text, "trial %d has no constraints attribute", k);
        double c[4];
        cr_assert_eq(study_constraints_parse(text, c, 4), 1, "%s", text);
        cr_expect_eq(c[0], 0.85 - fixture[k].sparsity, "trial %d: %s", k, text);
        cr_expect_null(trial_attr("trial_user_attributes", k)); /* system, not user */
    }
    cr_expect_str_eq(trial_attr("trial_system_attributes", N_FIXTURE), "[Infinity]");

    char args[800];
    snprintf(args, sizeof args, "read '%s' con", dbpath);
    cJSON *j = optuna_side(args);
    const cJSON *attrs = cJSON_GetObjectItem(j, "attrs");
    cr_assert_eq(cJSON_GetArraySize(attrs), 8); /* 6 complete + 1 pruned of the fixture, + 1 */
    for (int k = 0; k < N_FIXTURE; k++) {
        char key[16];
        snprintf(key, sizeof key, "%d", k);
        const cJSON *c = cJSON_GetObjectItem(attrs, key);
        if (fixture[k].state == TRIAL_FAIL || fixture[k].state == TRIAL_RUNNING)
            continue;
        cr_assert(cJSON_IsArray(c) && cJSON_GetArraySize(c) == 1, "trial %d", k);
        cr_expect_eq(json_float(cJSON_GetArrayItem(c, 0)), 0.85 - fixture[k].sparsity, "trial %d",
                     k);
    }
    /* Optuna's TPE sees the same feasibility: violation 0 exactly for 3, 5. */
    const cJSON *numbers = cJSON_GetObjectItem(j, "numbers");
    const cJSON *viol = cJSON_GetObjectItem(j, "violations");
    cr_assert_eq(cJSON_GetArraySize(numbers), cJSON_GetArraySize(viol));
    for (int i = 0; i < cJSON_GetArraySize(numbers); i++) {
        int n = cJSON_GetArrayItem(numbers, i)->valueint;
        double got = json_float(cJSON_GetArrayItem(viol, i));
        double want = n == N_FIXTURE ? INFINITY : fmax(0.85 - fixture[n].sparsity, 0);
        cr_expect_eq(got, want, "trial %d: Optuna's violation %g, expected %g", n, got, want);
        cr_expect_eq(got == 0, n == 3 || n == 5, "trial %d", n);
    }
    cJSON_Delete(j);
    study_free(&sc);
}

/* ---- TPE ------------------------------------------------------------------ */

Test(constraints, tpe_split_matches_optunas_on_random_cases)
{
    enum { CASES = 40 };
    static int n_of[CASES], k_of[CASES], by_loss[CASES][40];
    static double loss[CASES][40], viol[CASES][40];
    pt_rng r;
    pt_rng_seed(&r, 11);
    cJSON *cases = cJSON_CreateArray();
    for (int c = 0; c < CASES; c++) {
        int n = 1 + (int)(pt_rng_uniform(&r) * 39);
        n_of[c] = n;
        k_of[c] =
            (int)ceil(0.1 * n + pt_rng_uniform(&r) * 0.4 * n); /* n_below in [ceil .1n, ~.5n] */
        cJSON *o = cJSON_CreateObject(), *l = cJSON_AddArrayToObject(o, "loss"),
              *v = cJSON_AddArrayToObject(o, "viol");
        double p_feasible = pt_rng_uniform(&r); /* from nearly none to nearly all feasible */
        for (int i = 0; i < n; i++) {
            /* distinct losses (Optuna breaks loss ties by its own sort); violations from a
             * small set, so ties in violation (broken by age) are common */
            loss[c][i] = pt_rng_uniform(&r) + i * 1e-9;
            double u = pt_rng_uniform(&r);
            viol[c][i] = u < p_feasible ? 0 : u < 0.9 ? 0.25 * (1 + (int)(u * 8) % 3) : INFINITY;
            cJSON_AddItemToArray(l, cJSON_CreateNumber(loss[c][i]));
            cJSON_AddItemToArray(v, isinf(viol[c][i]) ? cJSON_CreateString("inf")
                                                      : cJSON_CreateNumber(viol[c][i]));
            by_loss[c][i] = i;
        }
        for (int a = 1; a < n; a++) /* indexes by loss, best (smallest) first */
            for (int b = a; b > 0 && loss[c][by_loss[c][b]] < loss[c][by_loss[c][b - 1]]; b--) {
                int t = by_loss[c][b];
                by_loss[c][b] = by_loss[c][b - 1];
                by_loss[c][b - 1] = t;
            }
        cJSON_AddNumberToObject(o, "n_below", k_of[c]);
        cJSON_AddItemToArray(cases, o);
    }
    char path[700], args[800];
    snprintf(path, sizeof path, "%s/cases.json", tmpdir);
    char *text = cJSON_PrintUnformatted(cases);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    cJSON_Delete(cases);
    snprintf(args, sizeof args, "split '%s'", path);
    cJSON *want = optuna_side(args);
    cr_assert_eq(cJSON_GetArraySize(want), CASES);
    for (int c = 0; c < CASES; c++) {
        signed char good[40];
        int k = tpe_split_constrained(viol[c], by_loss[c], n_of[c], k_of[c], good);
        const cJSON *w = cJSON_GetArrayItem(want, c), *i;
        cr_expect_eq(k, cJSON_GetArraySize(w), "case %d: %d good, Optuna %d", c, k,
                     cJSON_GetArraySize(w));
        cJSON_ArrayForEach(i, w) cr_expect(
            good[i->valueint], "case %d (n %d, n_below %d): Optuna's good trial %d is not", c,
            n_of[c], k_of[c], i->valueint);
    }
    cJSON_Delete(want);
}

/* A TPE search minimising x in [0, 1] subject to x >= 0.5 (told as the
 * constraint value 0.5 - x); n trials; the best feasible x and how many of
 * the last 20 proposals were feasible. */
static void constrained_search(int with_constraint, int seed, double *best, int *late_feasible)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"study\": \"c\", \"seed\": %d, \"sampler\": \"tpe\", \"objectives\": [{\"name\":"
             " \"loss\", \"direction\": \"minimize\"}]%s, \"search_space\": {\"reg.dropout\":"
             " {\"type\": \"float\", \"low\": 0.0, \"high\": 0.9}}}",
             seed,
             with_constraint ? ", \"constraints\": [{\"metric\": \"sparsity\", \"min\": 0.5}]"
                             : "");
    study_config s;
    pt_err err = {{0}};
    cr_assert_eq(study_parse(&s, text, "c.json", &err), PT_OK, "%s", err.msg);
    sampler *sm = NULL;
    cr_assert_eq(sampler_new(&sm, &s, &err), PT_OK, "%s", err.msg);
    *best = INFINITY;
    *late_feasible = 0;
    for (int k = 0; k < 60; k++) {
        study_point p;
        cr_assert_eq(sampler_ask(sm, k, &p, &err), PT_OK, "%s", err.msg);
        double x = p.value[0], v[2] = {x, 0.5 - x};
        if (x >= 0.5)
            *best = fmin(*best, x);
        *late_feasible += k >= 40 && x >= 0.5;
        sampler_tell(sm, k, &p, TRIAL_COMPLETE, v);
    }
    sampler_free(sm);
    study_free(&s);
}

Test(constraints, tpe_searches_the_feasible_side_of_the_boundary)
{
    /* Unconstrained, TPE runs to x = 0 (infeasible); constrained, it keeps
     * to x >= 0.5 and closes in on 0.5. Several seeds, so one lucky draw
     * decides nothing; the bounds are loose against the figures measured
     * (constrained: 13-20 of the last 20 feasible). */
    int late_on = 0, late_off = 0;
    double best_on = 0;
    for (int seed = 1; seed <= 4; seed++) {
        double b_on, b_off;
        int f_on, f_off;
        constrained_search(1, seed, &b_on, &f_on);
        constrained_search(0, seed, &b_off, &f_off);
        late_on += f_on;
        late_off += f_off;
        best_on += b_on / 4;
    }
    cr_expect_geq(late_on, 40, "constrained: %d of 80 late proposals feasible", late_on);
    cr_expect_leq(late_off, 16, "unconstrained: %d of 80 late proposals feasible", late_off);
    cr_expect_lt(best_on, 0.53, "constrained: mean best feasible x %g", best_on);
}

/* ---- the feasibility filter of every query command ---------------------- */

static int table_numbers(const char *args, int *num)
{
    cr_assert_eq(run(args), 0, "prunetune %s: %s", args, err_buf);
    return first_column(num, 16);
}

Test(constraints, every_query_command_ranks_feasible_trials_unless_all)
{
    study_config sc;
    store *st;
    int study_id, num[16];
    build_constrained(&sc, &st, &study_id);
    /* Kept models: the store's study has its constraints, so the keeper
     * refuses the infeasible best (2) and keeps the feasible one (3). */
    snprintf(sc.storage, sizeof sc.storage, "%s", dbpath);
    models *keep;
    pt_err err = {{0}};
    cr_assert_eq(models_open(&keep, st, &sc, study_id, &err), PT_OK, "%s", err.msg);
    int kept = -1;
    double v2 = 0.88, v3 = 0.87;
    const query_trial *tr;
    query_db *q;
    query_study qs;
    query_trials t;
    cr_assert_eq(query_open(&q, dbpath, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(query_study_pick(q, "con", &qs, &err), PT_OK, "%s", err.msg);
    cr_assert(qs.has_constraints);
    cr_assert_str_eq(qs.constraints_text, "sparsity >= 0.85");
    cr_assert_eq(query_load(q, &qs, &t, &err), PT_OK, "%s", err.msg);
    tr = query_find_number(&t, 2);
    cr_assert_eq(models_offer(keep, tr->trial_id, 2, &v2, "model-2", 7, &kept, &err), PT_OK);
    cr_expect_eq(kept, 0, "an infeasible trial's model was kept");
    tr = query_find_number(&t, 3);
    cr_assert_eq(models_offer(keep, tr->trial_id, 3, &v3, "model-3", 7, &kept, &err), PT_OK);
    cr_expect_eq(kept, 1);
    models_free(keep);
    store_close(st);

    /* The ranking others reuse (e.g. "the top K feasible strategies"). */
    query_col by;
    cr_assert_eq(query_col_find(&t, "val_acc", &by, &err), PT_OK);
    int idx[16], n = 0, n_out = -1;
    for (int i = 0; i < t.n; i++)
        if (t.t[i].state == TRIAL_COMPLETE)
            idx[n++] = i;
    int have = query_rank(&t, &by, 1, idx, &n, &n_out);
    cr_expect(have == 2 && n == 2 && n_out == 4, "have %d n %d infeasible %d", have, n, n_out);
    cr_expect(t.t[idx[0]].number == 3 && t.t[idx[1]].number == 5);
    for (int i = 0; i < t.n; i++) /* the PRUNED trial 7 (sparsity 0.7) is judged too */
        cr_expect_eq(query_feasible(&t, &t.t[i]), t.t[i].number == 3 || t.t[i].number == 5,
                     "trial %d", t.t[i].number);
    query_trials_free(&t);
    query_close(q);

    char args[2400];
    snprintf(args, sizeof args, "best '%s'", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_expect(strstr(out_buf, "trial 3, val_acc = 0.87"), "%s", out_buf);
    cr_expect(strstr(err_buf, "4 complete trials violate the constraints (sparsity >= 0.85) and "
                              "are left out (--all includes them)"),
              "%s", err_buf);
    snprintf(args, sizeof args, "best '%s' --all", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_expect(strstr(out_buf, "trial 2, val_acc = 0.88"), "%s", out_buf);
    cr_expect(strstr(err_buf, "--all: 4 complete trials"), "%s", err_buf);
    snprintf(args, sizeof args, "best '%s' --json", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cJSON *j = cJSON_Parse(out_buf);
    cr_expect_eq(
        cJSON_GetArrayItem(cJSON_GetObjectItem(j, "best"), 0)
            ? cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "best"), 0), "number")
                  ->valueint
            : -1,
        3);
    cr_expect_eq(cJSON_GetObjectItem(j, "infeasible_left_out")->valueint, 4);
    cJSON_Delete(j);

    snprintf(args, sizeof args, "top '%s' -n 0", dbpath);
    n = table_numbers(args, num);
    cr_expect(n == 2 && num[0] == 3 && num[1] == 5, "%d rows: %s", n, out_buf);
    snprintf(args, sizeof args, "top '%s' -n 0 --all", dbpath);
    n = table_numbers(args, num);
    static const int all_order[] = {2, 3, 1, 0, 4, 5};
    cr_assert_eq(n, 6, "%s", out_buf);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(num[i], all_order[i], "row %d: %s", i, out_buf);
    snprintf(args, sizeof args, "top '%s' -n 0 --where 'val_acc>=0.86'", dbpath);
    n = table_numbers(args, num);
    cr_expect(n == 1 && num[0] == 3, "%s", out_buf);

    snprintf(args, sizeof args, "pareto '%s' --objectives val_acc,sparsity", dbpath);
    n = table_numbers(args, num);
    cr_expect(n == 2 && num[0] == 3 && num[1] == 5, "%s", out_buf);
    cr_expect(strstr(err_buf, "4 complete trials violate"), "%s", err_buf);
    snprintf(args, sizeof args, "pareto '%s' --objectives val_acc,sparsity --all", dbpath);
    n = table_numbers(args, num);
    cr_expect(n == 3 && num[0] == 2 && num[1] == 3 && num[2] == 5, "%s", out_buf);

    snprintf(args, sizeof args, "strategy '%s'", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    j = cJSON_Parse(out_buf);
    const cJSON *sp = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "prune"), "sparsity");
    cr_expect(cJSON_IsNumber(sp) && sp->valuedouble == 0.9, "%s", out_buf); /* trial 3 */
    cJSON_Delete(j);
    snprintf(args, sizeof args, "strategy '%s' --all", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    j = cJSON_Parse(out_buf);
    sp = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "prune"), "sparsity");
    cr_expect(cJSON_IsNumber(sp) && sp->valuedouble == 0.8, "%s", out_buf); /* trial 2 */
    cJSON_Delete(j);

    char model[640];
    snprintf(model, sizeof model, "%s/m.npz", tmpdir);
    snprintf(args, sizeof args, "export-model '%s' -o '%s'", dbpath, model);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    FILE *f = fopen(model, "rb");
    char bytes[16] = {0};
    cr_assert_not_null(f);
    cr_expect_eq(fread(bytes, 1, sizeof bytes, f), 7);
    fclose(f);
    cr_expect_str_eq(bytes, "model-3");
    snprintf(args, sizeof args, "export-model '%s' --all -o '%s'", dbpath, model);
    cr_expect_eq(run(args), 2, "%s", err_buf);
    cr_expect(strstr(err_buf, "the model of trial 2 was not kept"), "%s", err_buf);

    /* The report: comparison, winners and front from feasible trials. */
    report_study r;
    cr_assert_eq(report_load(&r, dbpath, "con", &err), PT_OK, "%s", err.msg);
    cr_expect(r.has_constraints && r.n_infeasible == 4, "%d infeasible", r.n_infeasible);
    int h = report_best_of(&r, REPORT_HYBRID);
    cr_expect(h >= 0 && r.trials[h].number == 3, "best hybrid %d",
              h >= 0 ? r.trials[h].number : -1);
    /* 0 and 4 are dense, so infeasible: the reference rows (regularization
     * only, baseline) are shown all the same, being what the feasible
     * strategies are measured against. */
    int rg = report_best_of(&r, REPORT_REG);
    cr_expect(rg >= 0 && !r.trials[rg].feasible, "regularization-only row %d", rg);
    int ex = -1, b = report_baseline(&r, &ex);
    cr_expect(b >= 0, "no baseline row");
    int front[16], nf = report_pareto(&r, front);
    cr_expect(nf == 2 && r.trials[front[0]].number == 3 && r.trials[front[1]].number == 5,
              "front of %d", nf);
    int at = report_best_at(&r, REPORT_HYBRID, 0.5);
    cr_expect(at >= 0 && r.trials[at].number == 3);
    report_free(&r);
    char html[640];
    snprintf(html, sizeof html, "%s/r.html", tmpdir);
    snprintf(args, sizeof args, "report '%s' -o '%s' && cat '%s'", dbpath, html, html);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_expect(strstr(out_buf, "sparsity &gt;= 0.85; 4 of 6 complete trials infeasible"), "no "
                                                                                         "count");
    study_free(&sc);
}

/* ---- names on a study Optuna made ---------------------------------------- */

Test(constraints, optuna_user_attributes_are_metrics_and_names_are_never_ambiguous)
{
    char args[2400];
    snprintf(args, sizeof args, "make '%s'", dbpath);
    cJSON *want = optuna_side(args);
#define WANT(k) cJSON_GetObjectItem(want, k)->valueint
    int num[64];
    /* The case: "sparsity" is a parameter and a user attribute. */
    snprintf(args, sizeof args, "top '%s' --where 'sparsity>=0.9'", dbpath);
    cr_expect_eq(run(args), 2, "%s", out_buf);
    cr_expect(strstr(err_buf, "'sparsity' is both a parameter and a metric") &&
                  strstr(err_buf, "params.sparsity") && strstr(err_buf, "attrs.sparsity"),
              "%s", err_buf);
    cr_expect_eq(strchr(err_buf, '\n'), err_buf + strlen(err_buf) - 1, "one line: %s", err_buf);
    snprintf(args, sizeof args, "top '%s' -n 0 --all --where 'params.sparsity>=0.9'", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_expect_eq(first_column(num, 64), WANT("param_sparsity_ge_09"), "%s", out_buf);
    snprintf(args, sizeof args, "top '%s' -n 0 --all --where 'attrs.sparsity>=0.9'", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_expect_eq(first_column(num, 64), WANT("attr_sparsity_ge_09"), "%s", out_buf);
    cr_assert_neq(WANT("param_sparsity_ge_09"), WANT("attr_sparsity_ge_09")); /* tells them apart */
    snprintf(args, sizeof args, "top '%s' -n 0 --all --where 'lr>=0.05'", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_expect_eq(first_column(num, 64), WANT("lr_ge_005"), "%s", out_buf);
    /* User attributes are shown, and rank. */
    snprintf(args, sizeof args, "top '%s' -n 1 --all --by test_acc", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cr_expect(strstr(out_buf, "test_acc") && strstr(out_buf, "params.sparsity"), "%s", out_buf);
    cr_expect_eq(first_column(num, 64), 1);
    cr_expect_eq(num[0], WANT("best_test_acc"), "%s", out_buf);
    /* A metric nobody recorded: an error, not an empty table. */
    snprintf(args, sizeof args, "top '%s' --where 'latency_b1_us<5'", dbpath);
    cr_expect_eq(run(args), 2, "%s", out_buf);
    cr_expect(strstr(err_buf, "metric 'latency_b1_us' has no value"), "%s", err_buf);
    snprintf(args, sizeof args, "top '%s' --where 'params.nope<5'", dbpath);
    cr_expect_eq(run(args), 2);
    /* Optuna's own constraints attribute: best is the best feasible trial. */
    snprintf(args, sizeof args, "best '%s' --json", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    cJSON *j = cJSON_Parse(out_buf);
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "best"), 0);
    cr_expect_eq(cJSON_GetObjectItem(b, "number")->valueint, WANT("best_feasible"));
    cr_expect_eq(cJSON_GetObjectItem(j, "infeasible_left_out")->valueint, WANT("n_infeasible"));
    cr_expect_neq(WANT("best_feasible"), WANT("best_all"));
    cJSON_Delete(j);
    snprintf(args, sizeof args, "best '%s' --all --json", dbpath);
    cr_assert_eq(run(args), 0, "%s", err_buf);
    j = cJSON_Parse(out_buf);
    b = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "best"), 0);
    cr_expect_eq(cJSON_GetObjectItem(b, "number")->valueint, WANT("best_all"));
    cJSON_Delete(j);
#undef WANT
    cJSON_Delete(want);
}

/* ---- a real run ------------------------------------------------------------ */

Test(constraints, a_run_records_them_and_resumes_with_them)
{
    /* CI runs as root, and 2 ranks on a small machine may oversubscribe. */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    /* As tests/run_fixture.h: Open MPI's own allocations outlive
     * MPI_Finalize; its plug-ins stay loaded and the slow unwinder gets
     * through its frames, so the suppressions can name them. */
    setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 1);
    setenv("LSAN_OPTIONS", "suppressions=" PT_SOURCE_DIR "/tests/lsan.supp:print_suppressions=0",
           1);
    static char asan[1024];
    const char *old = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "%s%sfast_unwind_on_malloc=0", old ? old : "", old ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
    char path[700], args[2400];
    snprintf(path, sizeof path, "%s/s.json", tmpdir);
    for (int n_trials = 3; n_trials <= 5; n_trials += 2) {
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        /* TPE after 2 trials, so the resumed run replays constraint values
         * into the model (store_each_trial) before its proposals. */
        fprintf(f,
                "{\"study\": \"r\", \"storage\": \"%s\", \"n_trials\": %d, \"sampler\": \"tpe\","
                " \"tpe\": {\"n_startup_trials\": 2}, \"keep_models\": 0,"
                " \"constraints\": [{\"metric\": \"sparsity\", \"min\": 0.6},"
                " {\"metric\": \"latency_b1_us\", \"max\": 1e9}],"
                " \"trial\": {\"seed\": 1, \"data\": {\"dir\": \"" PT_FASHION_DIR "\","
                " \"limit\": 600, \"test_limit\": 200}, \"net\": {\"hidden\": [16]},"
                " \"train\": {\"epochs\": 1, \"batch_size\": 64, \"lr\": 0.05},"
                " \"prune\": {\"start_epoch\": 0, \"end_epoch\": 1, \"frequency\": 1}},"
                " \"search_space\": {\"prune.schedule\": {\"type\": \"categorical\","
                " \"choices\": [\"none\", \"oneshot\"]}, \"prune.sparsity\": {\"type\": \"float\","
                " \"low\": 0.3, \"high\": 0.9}}}",
                dbpath, n_trials);
        fclose(f);
        snprintf(args, sizeof args, "run '%s' --workers 1 --quiet", path);
        cr_assert_eq(run(args), 0, "%s", err_buf);
    }
    /* Every trial has its two values; feasible exactly when sparsity >= 0.6. */
    sqlite3 *db;
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT t.number, m.sparsity, a.value_json FROM trials t"
                                    " JOIN pt_trial_metrics m USING (trial_id)"
                                    " LEFT JOIN trial_system_attributes a ON a.trial_id ="
                                    " t.trial_id AND a.\"key\"='constraints' ORDER BY t.number",
                                    -1, &s, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    int rows = 0, n_feasible = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(s, 2);
        double sp = sqlite3_column_double(s, 1), c[4];
        cr_assert_not_null(text, "trial %d has no constraints", sqlite3_column_int(s, 0));
        cr_assert_eq(study_constraints_parse(text, c, 4), 2, "%s", text);
        cr_expect_eq(c[0], 0.6 - sp, "%s", text);
        cr_expect_lt(c[1], 0, "%s", text); /* a measured latency is under 1e9 us */
        n_feasible += sp >= 0.6;
        rows++;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    cr_expect_eq(rows, 5);
    snprintf(args, sizeof args, "best '%s' --json", dbpath);
    int rc = run(args);
    if (n_feasible == 0) {
        cr_expect_eq(rc, 1, "no feasible trial, yet: %s", out_buf);
    } else {
        cr_assert_eq(rc, 0, "%s", err_buf);
        cJSON *j = cJSON_Parse(out_buf);
        const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "best"), 0);
        cr_expect_geq(cJSON_GetObjectItem(b, "sparsity")->valuedouble, 0.6, "%s", out_buf);
        cr_expect_eq(cJSON_GetObjectItem(j, "infeasible_left_out")->valueint, 5 - n_feasible);
        cJSON_Delete(j);
    }
}
