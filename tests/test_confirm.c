/*
 * test_confirm.c — the reference trial, the variants and the confirmation
 * runs (coordinator/confirm.h): the variant configs key by key, and real
 * studies (real workers on 300 Fashion-MNIST rows, 1 epoch) through
 * `prunetune run` (laptop mode and mpirun) and `prunetune confirm`, read
 * back from the SQLite file and by Optuna.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "confirm.h"
#include "run_fixture.h"
#include "job_fixture.h"
#include "study.h"

/* Generous: under ASan on a busy 2-core machine a worker start takes seconds. */
TestSuite(confirm, .init = run_setup, .fini = run_teardown, .timeout = 300);

/* Every variant of one strategy, key by key. */
Test(confirm, variants_turn_off_exactly_their_keys)
{
    study_config sc;
    pt_err err = {{0}};
    const char *text =
        "{\"study\": \"v\", \"trial\": {\"seed\": 9, \"train\": {\"epochs\": 3, \"lr\": 0.07},"
        " \"net\": {\"hidden\": [20, 10]},"
        " \"prune\": {\"schedule\": \"gradual\", \"granularity\": \"global\", \"sparsity\": 0.8,"
        " \"end_epoch\": 2},"
        " \"reg\": {\"l1\": 1e-5, \"l2\": 1e-4, \"l2_layers\": [1e-4, 0, 1e-3], \"dropout\": 0.2,"
        " \"dropout_input\": 0.1, \"max_norm\": 3}},"
        " \"search_space\": {"
        " \"prune.schedule\": {\"type\": \"categorical\", \"choices\": [\"oneshot\", \"gradual\"]},"
        " \"prune.sparsity\": {\"type\": \"float\", \"low\": 0.5, \"high\": 0.95},"
        " \"reg.l2\": {\"type\": \"float\", \"low\": 1e-6, \"high\": 1e-2, \"log\": true},"
        " \"reg.dropout\": {\"type\": \"float\", \"low\": 0.1, \"high\": 0.5},"
        " \"train.lr\": {\"type\": \"float\", \"low\": 0.01, \"high\": 0.1}}}";
    cr_assert_eq(study_parse(&sc, text, "v.json", &err), PT_OK, "%s", err.msg);
    const pt_config *src = &sc.trial;
    for (int v = CONFIRM_HYBRID; v <= CONFIRM_BASELINE; v++) {
        pt_config c;
        study_point p;
        cr_assert_eq(confirm_variant_make(&sc, (confirm_variant)v, src, 1, 4, &c, &p, &err),
                     PT_OK, "%s", err.msg);
        int prune_off = v == CONFIRM_REG_ONLY || v == CONFIRM_BASELINE;
        int reg_off = v == CONFIRM_PRUNING_ONLY || v == CONFIRM_BASELINE;
        const char *name = confirm_variant_name((confirm_variant)v);
        cr_expect_eq(c.seed, 4, "%s: seed", name);
        /* pruning: off, or exactly the source's */
        cr_expect_eq(c.prune.schedule, prune_off ? PT_PRUNE_NONE : PT_PRUNE_GRADUAL, "%s", name);
        cr_expect_eq(c.prune.granularity, PT_GRAN_GLOBAL, "%s", name);
        cr_expect_eq(c.prune.sparsity, 0.8, "%s", name);
        cr_expect_eq(c.prune.end_epoch, 2, "%s", name);
        /* regularization: every key off, or exactly the source's */
        cr_expect_eq(c.reg.l1, reg_off ? 0 : 1e-5, "%s", name);
        cr_expect_eq(c.reg.l2, reg_off ? 0 : 1e-4, "%s", name);
        cr_expect_eq(c.reg.l2_layers.n, reg_off ? 0 : 3, "%s", name);
        cr_expect_eq(c.reg.dropout.n, -1, "%s: one rate for all layers", name);
        cr_expect_eq(c.reg.dropout.v[0], reg_off ? 0 : 0.2, "%s", name);
        cr_expect_eq(c.reg.dropout_input, reg_off ? 0 : 0.1, "%s", name);
        cr_expect_eq(c.reg.max_norm, reg_off ? 0 : 3, "%s", name);
        /* the rest untouched */
        cr_expect_eq(c.train.lr, 0.07, "%s", name);
        cr_expect_eq(c.train.epochs, 3, "%s", name);
        cr_expect_eq(c.net.n_hidden, 2, "%s", name);
        /* params: read back from the variant's config, outside the space when off */
        cr_expect(p.present[0] == !prune_off, "%s: prune.schedule 'none' is no choice", name);
        if (!prune_off)
            cr_expect_eq(p.value[0], 1, "%s: gradual is choice 1", name);
        cr_expect(p.present[1] && p.value[1] == 0.8, "%s: prune.sparsity", name);
        cr_expect(p.present[2] && p.value[2] == (reg_off ? 0 : 1e-4), "%s: reg.l2", name);
        cr_expect(p.present[3] && p.value[3] == (reg_off ? 0 : 0.2), "%s: reg.dropout", name);
        cr_expect(p.present[4] && p.value[4] == 0.07, "%s: train.lr", name);
        /* what a sampler is told: the values outside the space left out */
        study_point in;
        confirm_point_in_space(&sc, &p, &in);
        cr_expect_eq(in.present[2], !reg_off, "%s: l2 0 is outside the log range", name);
        cr_expect_eq(in.present[3], !reg_off, "%s: dropout 0 is below low", name);
        cr_expect_eq(in.present[4], 1, "%s", name);
    }
    /* without set_seed the source's seed stays (the reference trial) */
    pt_config c;
    study_point p;
    cr_assert_eq(confirm_variant_make(&sc, CONFIRM_BASELINE, src, 0, 0, &c, &p, &err), PT_OK);
    cr_expect_eq(c.seed, 9);
    study_free(&sc);
}

/* A study of 4 trials (space: schedule, sparsity, L2, dropout) with
 * confirm {top 2, seeds 2}: 4 + (2 * 3 + 1) * 2 = 14 runs of 1 epoch. */
/* The study of every test here: 4 trials, then 14 confirmation runs, each
 * training a 784-hidden-10 MLP on `limit` rows for `epochs` epochs. */
static const char *write_study_of(int limit, int hidden, int epochs)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"study\": \"cf\", \"storage\": \"%s\", \"seed\": 3, \"n_trials\": 4,\n"
             " \"confirm\": {\"top\": 2, \"seeds\": 2},\n"
             " \"trial\": {\"seed\": 1, \"data\": {\"dir\": \"%s\", \"limit\": %d,"
             " \"test_limit\": 200}, \"net\": {\"hidden\": [%d]},"
             " \"train\": {\"epochs\": %d, \"batch_size\": 32},"
             " \"prune\": {\"start_epoch\": 0, \"end_epoch\": 1, \"frequency\": 2}},\n"
             " \"search_space\": {"
             " \"prune.schedule\": {\"type\": \"categorical\", \"choices\": [\"oneshot\","
             " \"gradual\"]},"
             " \"prune.sparsity\": {\"type\": \"float\", \"low\": 0.5, \"high\": 0.9},"
             " \"reg.l2\": {\"type\": \"float\", \"low\": 1e-6, \"high\": 1e-2, \"log\": true},"
             " \"reg.dropout\": {\"type\": \"float\", \"low\": 0.1, \"high\": 0.3}}}\n",
             path_of("study.db"), PT_FASHION_DIR, limit, hidden, epochs);
    return write_in("study.json", text);
}

/* Small runs: the whole confirmation takes a few hundredths of a second. */
static const char *write_study(void)
{
    return write_study_of(300, 16, 1);
}

/* COMPLETE runs of the confirm study meeting cond (a killed run leaves FAIL ones too) */
#define CONFIRM_OF(cond)                                                                           \
    "SELECT COUNT(*) FROM trials t JOIN studies s USING (study_id) WHERE"                        \
    " s.study_name='cf/confirm' AND t.state='COMPLETE' AND " cond
#define ATTR(key) "(SELECT value_json FROM trial_user_attributes a WHERE a.trial_id=t.trial_id" \
                  " AND a.key='" key "')"

/* The confirm study holds exactly the runs of seeds 1..seeds: each (variant,
 * rank, seed) once COMPLETE, with the right source, config and params. */
static void check_confirm(int seeds)
{
    sqlite3 *db = db_open();
    int n = (2 * 3 + 1) * seeds;
    cr_expect_eq(q_int(db, CONFIRM_OF("t.state='COMPLETE'")), n);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM (SELECT DISTINCT " ATTR("pt_variant") ","
                           ATTR("pt_rank") "," ATTR("pt_seed") " FROM trials t JOIN studies s"
                           " USING (study_id) WHERE s.study_name='cf/confirm'"
                           " AND t.state='COMPLETE')"),
                 n, "no run twice");
    cr_expect_eq(q_int(db, CONFIRM_OF(ATTR("pt_variant") "='\"baseline\"' AND " ATTR(
                               "pt_rank") "='0' AND t.state='COMPLETE'")),
                 seeds);
    /* baseline: the reference trial of the main study is its source */
    int ref = q_int(db, "SELECT t.number FROM trials t JOIN trial_user_attributes a USING"
                        " (trial_id) WHERE a.key='pt_role' AND a.value_json='\"baseline\"'");
    cr_expect_eq(ref, 0, "the reference trial runs first");
    char sql[1024];
    snprintf(sql, sizeof sql,
             CONFIRM_OF(ATTR("pt_variant") "='\"baseline\"' AND " ATTR("pt_source_trial") "='%d'"),
             ref);
    cr_expect_eq(q_int(db, sql), seeds);
    for (int rank = 1; rank <= 2; rank++) {
        /* the rank-th best COMPLETE trial of the main study, the reference aside */
        snprintf(sql, sizeof sql,
                 "SELECT t.number FROM trials t JOIN trial_values v USING (trial_id) JOIN studies"
                 " s USING (study_id) WHERE s.study_name='cf' AND t.state='COMPLETE' AND t.number"
                 " != %d ORDER BY v.value DESC, t.number LIMIT 1 OFFSET %d",
                 ref, rank - 1);
        int src = q_int(db, sql);
        snprintf(sql, sizeof sql,
                 CONFIRM_OF(ATTR("pt_rank") "='%d' AND " ATTR("pt_source_trial") "='%d'"), rank,
                 src);
        cr_expect_eq(q_int(db, sql), 3 * seeds, "rank %d is trial %d", rank, src);
    }
    /* configs: the seed is pt_seed; pruning off in regularization_only and
     * baseline; L2 off in pruning_only and baseline, kept in hybrid */
    cr_expect_eq(q_int(db, CONFIRM_OF("json_extract((SELECT config_json FROM pt_trial_metrics m"
                                      " WHERE m.trial_id=t.trial_id), '$.seed') = " ATTR(
                                          "pt_seed"))),
                 n);
#define CFG(path) "json_extract((SELECT config_json FROM pt_trial_metrics m WHERE m.trial_id=t.trial_id), '" path "')"
    cr_expect_eq(q_int(db, CONFIRM_OF(CFG("$.prune.schedule") "='none'")), 3 * seeds);
    cr_expect_eq(q_int(db, CONFIRM_OF(CFG("$.reg.l2") "=0 AND " CFG("$.reg.dropout") "=0")),
                 3 * seeds);
    cr_expect_eq(q_int(db, CONFIRM_OF(ATTR("pt_variant") "='\"hybrid\"' AND " CFG(
                               "$.reg.l2") "> 0 AND " CFG("$.prune.schedule") "!='none'")),
                 2 * seeds);
    /* params say what ran: pruning_only's reg.l2 is stored as 0 */
    cr_expect_eq(q_int(db, CONFIRM_OF(ATTR("pt_variant") "='\"pruning_only\"' AND EXISTS"
                                      " (SELECT 1 FROM trial_params p WHERE p.trial_id="
                                      "t.trial_id AND p.param_name='reg.l2' AND"
                                      " p.param_value=0)")),
                 2 * seeds);
    /* the metrics of the usual trial_end path */
    cr_expect_eq(q_int(db, CONFIRM_OF("t.state='COMPLETE' AND (SELECT val_acc FROM"
                                      " pt_trial_metrics m WHERE m.trial_id=t.trial_id) > 0")),
                 n);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='RUNNING'"), 0);
    sqlite3_close(db);
}

static char cmd[2048];

Test(confirm, laptop_run_confirms_then_confirm_command_adds_a_seed)
{
    const char *study = write_study();
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 2", PT_BIN, study);
    int code = sh(cmd);
    char err[1 << 15];
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    cr_expect_not_null(strstr(err, "confirm   14/14"), "progress lines:\n%s", err);
    check_confirm(2);
    sqlite3 *db = db_open();
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials t JOIN studies s USING (study_id)"
                           " WHERE s.study_name='cf'"),
                 4, "the reference trial counts toward n_trials");
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trial_system_attributes WHERE key='fixed_params'"
                           " AND json_extract(value_json, '$.\"reg.l2\"')=0"),
                 1);
    sqlite3_close(db);
    /* Optuna reads both studies, marks included */
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import optuna\n"
             "s = optuna.load_study(study_name='cf/confirm', storage='sqlite:///%s')\n"
             "v = sorted(t.user_attrs['pt_variant'] for t in s.trials)\n"
             "assert len(v) == 14 and v.count('baseline') == 2, v\n"
             "m = optuna.load_study(study_name='cf', storage='sqlite:///%s')\n"
             "r = m.trials[0]\n"
             "assert r.user_attrs['pt_role'] == 'baseline' and r.params['reg.l2'] == 0, r\n"
             "assert 'fixed_params' in r.system_attrs\n"
             "print('optuna ok')\"",
             path_of("study.db"), path_of("study.db"));
    code = sh(cmd);
    slurp("err", err, sizeof err);
    cr_expect_eq(code, 0, "optuna: %s", err);
    /* an existing DB: a third seed adds 7 runs, the 14 done are skipped */
    snprintf(cmd, sizeof cmd, "%s confirm '%s' --top 2 --seeds 3 --workers 2", PT_BIN,
             path_of("study.db"));
    code = sh(cmd);
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    cr_expect_not_null(strstr(err, "21 runs, 14 done before"), "%s", err);
    check_confirm(3);
    /* the queries keep answering about the search, not the linked study */
    snprintf(cmd, sizeof cmd, "%s best '%s'", PT_BIN, path_of("study.db"));
    cr_expect_eq(sh(cmd), 0);
    char out[8192];
    slurp("out", out, sizeof out);
    cr_expect_not_null(strstr(out, "study 'cf'"), "%s", out);
    /* bad input: one line, exit 2 */
    snprintf(cmd, sizeof cmd, "%s confirm '%s' --study cf/confirm", PT_BIN, path_of("study.db"));
    cr_expect_eq(sh(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s confirm '%s' --top 0", PT_BIN, path_of("study.db"));
    cr_expect_eq(sh(cmd), 2);
}

/* Complete confirmation runs so far (the file may not exist yet). */
static int confirm_done(void)
{
    sqlite3 *db = NULL;
    if (access(path_of("study.db"), F_OK) != 0 ||
        sqlite3_open_v2(path_of("study.db"), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    sqlite3_busy_timeout(db, 1000);
    sqlite3_stmt *s = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(db, CONFIRM_OF("t.state='COMPLETE'"), -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* Killed (SIGKILL to mpirun's whole job) in the middle of the confirmation,
 * the rerun fails the runs left RUNNING, runs what is missing and duplicates
 * nothing. */
Test(confirm, mpirun_killed_mid_confirmation_resumes_without_duplicates)
{
    /* Runs long enough (~1 s for the 14 on a 2-core EPYC) that the kill,
     * sent within a few polls of the third one ending, lands before the
     * last: with the small study the other 11 finished in ~40 ms, faster
     * than the kill on a fast machine. */
    const char *study = write_study_of(6000, 256, 2);
    char *argv[] = {"mpirun", "-np", "3", PT_BIN, "run", (char *)study, NULL};
    pid_t pid = job_start(argv);
    int done = 0;
    for (int i = 0; i < 3000 && (done = confirm_done()) < 3; i++) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    /* The whole job: Open MPI puts its ranks in their own process groups, and
     * a SIGKILLed mpirun leaves them running, orphaned, rank 0 still holding
     * the study's run lock; so the ranks go first, and the rerun waits until
     * they have ended. */
    pid_t ranks[16];
    int n = children_of(pid, ranks, 16);
    for (int i = 0; i < n; i++)
        kill(ranks[i], SIGKILL);
    kill(pid, SIGKILL);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < 500 && !ended(ranks[i]); t++) {
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
    int wst = 0;
    waitpid(pid, &wst, 0);
    char err[1 << 15];
    slurp("err1", err, sizeof err);
    cr_assert_geq(done, 3, "the confirmation never got going:\n%s", err);
    cr_expect_lt(confirm_done(), 14, "killed before the end:\n%s", err);
    snprintf(cmd, sizeof cmd, "mpirun -np 3 %s run '%s'", PT_BIN, study);
    int code = sh(cmd);
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    check_confirm(2);
    sqlite3 *db = db_open();
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials t JOIN studies s USING (study_id)"
                           " WHERE s.study_name='cf' AND t.state='COMPLETE'"),
                 4, "the search was done: nothing added");
    sqlite3_close(db);
}
