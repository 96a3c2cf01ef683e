/*
 * test_run.c — `prunetune run` end to end: real mpirun, real workers training
 * real (small) networks on Fashion-MNIST, a real SQLite database read back
 * with the sqlite3 C API.
 *
 * Each study is ~8 trials of 2 epochs on 300 training rows, so a run takes a
 * few seconds, most of it MPI start-up. Covered: mpirun -np 3, laptop mode
 * (worker threads, and with --processes workers spawned by the binary
 * itself: the same study bit for bit), resume after SIGKILL of the
 * coordinator (no trial lost or duplicated, integrity_check ok), a diverging
 * trial recorded FAIL while the study completes, and a bad study config
 * (exit 2, no database file); failing fast: a missing data folder (exit 2,
 * one line, no database), max_failures stopping a run whose every trial
 * fails (exit 1, the common reason), FAIL trials left out of the budget on
 * resume, and a run with no completed trial never exiting 0.
 *
 * Why one file of ~750 lines: the cases share the mpirun fixture and its study files (run_fixture.h);
 * each is a scenario of the one command `prunetune run`.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "allclose.h"
#include "job_fixture.h"
#include "run_fixture.h"

TestSuite(run, .init = run_setup, .fini = run_teardown, .timeout = 90);

/* A study of n trials on 300 Fashion-MNIST rows; space is the search_space body. */
static const char *write_study(const char *name, int n, const char *sampler,
                               const char *trial_extra, const char *space)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"study\": \"%s\", \"storage\": \"%s\", \"seed\": 7, \"n_trials\": %d,\n"
             " \"sampler\": \"%s\",\n"
             " \"objectives\": [{\"name\": \"val_acc\", \"direction\": \"maximize\"}],\n"
             " \"trial\": {\"data\": {\"dir\": \"%s\", \"limit\": 300, \"test_limit\": 200},\n"
             "           \"net\": {\"hidden\": [32]},\n"
             "           \"train\": {\"epochs\": 2, \"batch_size\": 32}%s},\n"
             " \"search_space\": {%s}}\n",
             name, path_of("study.db"), n, sampler, PT_FASHION_DIR, trial_extra, space);
    return write_in("study.json", text);
}

/* Trials of ~1 s (5,000 rows, 5 epochs of LeNet-300-100), so a run outlasts
 * what a test does beside it; extra: more sed expressions, or "". */
static void lengthen(const char *study, const char *extra)
{
    char line[4096];
    snprintf(line, sizeof line,
             "sed -i 's/\"limit\": 300/\"limit\": 5000/; s/\"epochs\": 2/\"epochs\": 5/;"
             " s/\"hidden\": \\[32\\]/\"hidden\": [300, 100]/;%s' '%s'",
             extra, study);
    cr_assert_eq(system(line), 0);
}

static const char *space_default =
    "\"reg.l2\": {\"type\": \"float\", \"low\": 1e-6, \"high\": 1e-2, \"log\": true},\n"
    " \"prune.schedule\": {\"type\": \"categorical\", \"choices\": [\"none\", \"oneshot\"]},\n"
    " \"prune.sparsity\": {\"type\": \"float\", \"low\": 0.5, \"high\": 0.9}";

/* The checks every finished study passes: n COMPLETE trials with values and
 * per-epoch intermediate values, numbers 0.. unique and contiguous. */
static void check_study(int n_complete, int n_fail)
{
    sqlite3 *db = db_open();
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'"), n_complete);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='FAIL'"), n_fail);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='RUNNING'"), 0);
    int n = q_int(db, "SELECT COUNT(*) FROM trials");
    cr_expect_eq(q_int(db, "SELECT COUNT(DISTINCT number) FROM trials"), n);
    cr_expect_eq(q_int(db, "SELECT MAX(number) FROM trials"), n - 1);
    /* val_acc of a 10-class problem after 2 epochs: a real number in (0, 1] */
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trial_values v JOIN trials t USING (trial_id)"
                           " WHERE t.state='COMPLETE' AND v.value > 0 AND v.value <= 1"),
                 n_complete);
    cr_expect_geq(q_int(db, "SELECT COUNT(*) FROM trial_intermediate_values i JOIN trials t"
                            " USING (trial_id) WHERE t.state='COMPLETE'"),
                  2 * n_complete);
    /* every trial has params, but the reference trial when its "off" values
     * are none of a categorical's choices */
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials t WHERE EXISTS (SELECT 1 FROM"
                           " trial_params p WHERE p.trial_id=t.trial_id) OR EXISTS (SELECT 1"
                           " FROM trial_user_attributes a WHERE a.trial_id=t.trial_id"
                           " AND a.key='pt_role')"),
                 n);
    /* the stored result is the worker's metrics object, with its sparsity */
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM pt_trial_metrics m JOIN trials t USING"
                           " (trial_id) WHERE t.state='COMPLETE' AND m.result_json LIKE"
                           " '%\"sparsity\":%' AND m.sparsity >= 0 AND m.sparsity < 1"),
                 n_complete);
    sqlite3_close(db);
}

static char cmd[2048];

Test(run, mpirun_three_ranks)
{
    const char *study = write_study("mpi3", 8, "random", "", space_default);
    snprintf(cmd, sizeof cmd, "mpirun -np 3 %s run '%s'", PT_BIN, study);
    int code = sh(cmd);
    char err[1 << 15], out[4096];
    slurp("err", err, sizeof err);
    slurp("out", out, sizeof out);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    check_study(8, 0);
    cr_expect_not_null(strstr(err, "trial    0"), "a progress line per trial:\n%s", err);
    cr_expect_not_null(strstr(out, "best: trial"), "%s", out);
    cr_expect_not_null(strstr(out, "study.db"), "the DB path: %s", out);
}

/* Every trial's number, state and value in order, as one string. */
static void study_values(char *out, size_t cap)
{
    sqlite3 *db = db_open();
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT t.number, t.state, v.value FROM trials t JOIN"
                                    " trial_values v USING (trial_id) ORDER BY t.number",
                                    -1, &q, NULL),
                 SQLITE_OK);
    size_t n = 0;
    out[0] = '\0';
    while (sqlite3_step(q) == SQLITE_ROW && n + 64 < cap)
        n += (size_t)snprintf(out + n, cap - n, "%d %s %.17g\n", sqlite3_column_int(q, 0),
                              (const char *)sqlite3_column_text(q, 1),
                              sqlite3_column_double(q, 2));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* Without mpirun the workers are threads of the run's process (one copy of
 * the data); --processes spawns them. Both carry the same messages, and each
 * trial trains the same (a seed gives one trial): the studies are equal, bit
 * for bit. The space has no pruning, so no timing picks a kernel. */
Test(run, laptop_mode_threads_and_processes_give_one_study)
{
    const char *study = write_study("laptop", 8, "random", "", space_default);
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 2 --quiet", PT_BIN, study);
    int code = sh(cmd);
    char err[1 << 15];
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    cr_expect_eq(strstr(err, "trial    0"), NULL, "--quiet prints no progress:\n%s", err);
    check_study(8, 0);
    static char threads[4096], processes[4096];
    study_values(threads, sizeof threads);
    cr_assert_eq(remove(path_of("study.db")), 0);
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 2 --processes", PT_BIN, study);
    code = sh(cmd);
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    cr_expect_not_null(strstr(err, "starting 2 workers (processes"), "%s", err);
    check_study(8, 0);
    study_values(processes, sizeof processes);
    cr_expect_str_eq(threads, processes);
}

/* A huge lr with full-strength L2 diverges to NaN: that trial FAILs, the
 * other completes. FAIL trials leave the budget to others, so the grid tries
 * the failed point once more (sampler_grid.c) before it gives it up. */
Test(run, diverging_trial_fails_and_study_completes)
{
    /* 3: the reference trial (L2 off: it completes) and the grid's 2 */
    const char *study = write_study("nan", 3, "grid", ", \"reg\": {\"l2\": 1}",
                                    "\"train.lr\": {\"type\": \"categorical\","
                                    " \"choices\": [0.01, 10]}");
    snprintf(cmd, sizeof cmd, "mpirun -np 2 %s run '%s'", PT_BIN, study);
    int code = sh(cmd);
    char err[1 << 15];
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    check_study(2, 2);
    sqlite3 *db = db_open();
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM pt_trial_metrics m JOIN trials t USING (trial_id)"
                           " WHERE t.state='FAIL' AND m.fail_reason LIKE '%diverged%'"),
                 2);
    sqlite3_close(db);
}

/* Starts a laptop-mode run and SIGKILLs its coordinator once min_complete
 * trials are in, while others run. */
static void run_and_kill(const char *study, int min_complete)
{
    char *argv[] = {PT_BIN, "run", (char *)study, "--workers", "2", NULL};
    pid_t pid = job_start(argv);
    int done = wait_complete(min_complete);
    kill(pid, SIGKILL);
    int wst = 0;
    waitpid(pid, &wst, 0);
    cr_assert_geq(done, min_complete, "the run never got going");
    cr_assert(WIFSIGNALED(wst), "the run ended before the kill");
}

/* Two kills, then a run to the end: every interrupted trial is FAIL and was
 * sampled again, so the study still gets its 16 complete trials. */
Test(run, resume_after_sigkill_loses_and_duplicates_nothing)
{
    const char *study = write_study("resume", 16, "random", "", space_default);
    run_and_kill(study, 3);
    run_and_kill(study, 8);
    sqlite3 *db = db_open();
    int before = q_int(db, "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'");
    double sum_before = q_num(db, "SELECT SUM(value) FROM trial_values");
    int total_before = q_int(db, "SELECT COUNT(*) FROM trials");
    sqlite3_close(db);
    cr_assert_lt(before, 16);

    snprintf(cmd, sizeof cmd, "mpirun -np 3 %s run '%s'", PT_BIN, study);
    int code = sh(cmd);
    char err[1 << 15];
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    cr_expect_not_null(strstr(err, "resuming"), "%s", err);

    db = db_open();
    int interrupted = total_before - before;
    /* the interrupted trials are FAIL and were sampled again: 16 complete in all */
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='FAIL'"), interrupted);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'"), 16);
    /* the trials finished before the kill are unchanged */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT SUM(value) FROM (SELECT value FROM trial_values ORDER BY trial_id LIMIT %d)",
             before);
    /* the same `before` positive values, maybe summed in another order by
     * SQLite: two double sums within (before) u of theirs, relative */
    pt_expect_close(q_num(db, sql), sum_before, 2.0 * before * PT_U_F64, 0);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials"), 16 + interrupted);
    sqlite3_stmt *s = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    sqlite3_close(db);
    check_study(16, interrupted);
}

/* A bad study is refused before anything starts: exit 2, one line naming the key, no DB. */
Test(run, bad_study_exits_2_and_writes_nothing)
{
    const char *study = write_study(
        "bad", 4, "random", "", "\"reg.l2\": {\"type\": \"float\", \"low\": 0.5, \"high\": 0.1}");
    const char *modes[] = {"%s run '%s' --workers 2", "mpirun -np 2 %s run '%s'"};
    for (int m = 0; m < 2; m++) {
        char line[1024];
        snprintf(line, sizeof line, modes[m], PT_BIN, study);
        int code = sh(line);
        char err[8192];
        slurp("err", err, sizeof err);
        cr_expect_eq(code, 2, "%s: exit %d\n%s", line, code, err);
        cr_expect_not_null(strstr(err, "search_space.reg.l2.high"), "%s", err);
        struct stat sb;
        cr_expect_neq(stat(path_of("study.db"), &sb), 0, "no database may be written");
    }
}

/* Readers never hurt the run: 16 oversubscribed ranks record instant trials
 * while this process queries the database every 100 ms, as a client would
 * (a short busy timeout: the writer's last close checkpoints the WAL under
 * an exclusive lock for a moment); neither side may see "database is locked". */
Test(run, readers_never_see_a_locked_database)
{
    const char *study = write_study("readers", 2000, "random", "", space_default);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        freopen(path_of("err1"), "w", stderr);
        freopen(path_of("out1"), "w", stdout);
        execlp("mpirun", "mpirun", "-np", "16", PT_BIN, "run", study, "--dry-run", "--quiet",
               (char *)NULL);
        _exit(127);
    }
    int queries = 0, busy = 0, last = 0, wst = 0;
    char why[256] = "";
    while (waitpid(pid, &wst, WNOHANG) == 0) {
        struct stat sb;
        sqlite3 *db = NULL;
        if (stat(path_of("study.db"), &sb) == 0 &&
            sqlite3_open_v2(path_of("study.db"), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
            sqlite3_busy_timeout(db, 1000);
            sqlite3_stmt *s = NULL;
            int rc = sqlite3_prepare_v2(db,
                                        "SELECT COUNT(*) FROM trials t JOIN trial_values v"
                                        " USING (trial_id) WHERE t.state='COMPLETE'",
                                        -1, &s, NULL);
            if (rc == SQLITE_OK)
                rc = sqlite3_step(s);
            if (rc == SQLITE_ROW) {
                last = sqlite3_column_int(s, 0);
                queries++;
            } else if (rc != SQLITE_OK && (queries > 0 || rc != SQLITE_ERROR)) {
                /* (before the first answer the schema may not exist yet) */
                busy++;
                snprintf(why, sizeof why, "%s (after %d good queries, %d trials seen)",
                         sqlite3_errmsg(db), queries, last);
            }
            sqlite3_finalize(s);
        }
        sqlite3_close(db);
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    char err[1 << 14];
    slurp("err1", err, sizeof err);
    cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "the run failed:\n%s", err);
    cr_expect_eq(busy, 0, "the reader failed %d times: %s", busy, why);
    cr_expect_eq(strstr(err, "locked"), NULL, "%s", err);
    cr_expect_gt(queries, 0);
    cr_expect_leq(last, 2000);
    check_study(2000, 0);
}

/* The command line: help, usage errors (exit 2 before MPI starts), the hidden worker command. */
Test(run, help_and_usage_errors)
{
    char out[1 << 14], err[4096];
    snprintf(cmd, sizeof cmd, "%s run --help", PT_BIN);
    cr_expect_eq(sh(cmd), 0);
    slurp("out", out, sizeof out);
    cr_expect_not_null(strstr(out, "--workers K"), "%s", out);
    cr_expect_not_null(strstr(out, "mpirun -np N prunetune run"), "%s", out);

    const char *bad[] = {"run", "run a.json b.json", "run a.json --workers 0",
                         "run a.json --trial-timeout -1", "run a.json --frobnicate"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s %s", PT_BIN, bad[i]);
        cr_expect_eq(sh(cmd), 2, "%s", bad[i]);
        slurp("err", err, sizeof err);
        cr_expect_not_null(strstr(err, "prunetune run: "), "%s: %s", bad[i], err);
    }
    snprintf(cmd, sizeof cmd, "%s run '%s'", PT_BIN, path_of("missing.json"));
    cr_expect_eq(sh(cmd), 2);

    snprintf(cmd, sizeof cmd, "%s --help", PT_BIN);
    cr_expect_eq(sh(cmd), 0);
    slurp("out", out, sizeof out);
    cr_expect_not_null(strstr(out, "  run "), "%s", out);
    cr_expect_eq(strstr(out, "\n  worker "), NULL, "the worker command is hidden:\n%s", out);
}

/* A sampled point whose config is invalid (end_epoch past the sampled epochs)
 * is recorded FAIL with the parser's reason, never reaches a worker, and the
 * study goes on to its budget: n_trials COMPLETE ones, the FAIL ones not
 * counted within the run either. */
Test(run, invalid_point_fails_without_a_worker)
{
    const char *study = write_study(
        "invalid", 6, "random",
        ", \"prune\": {\"schedule\": \"gradual\", \"sparsity\": 0.5, \"start_epoch\": 0,"
        " \"end_epoch\": 1}",
        "\"train.epochs\": {\"type\": \"int\", \"low\": 1, \"high\": 2},"
        " \"prune.end_epoch\": {\"type\": \"float\", \"low\": 1, \"high\": 2}");
    snprintf(cmd, sizeof cmd, "mpirun -np 2 %s run '%s'", PT_BIN, study);
    int code = sh(cmd);
    char err[1 << 15];
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    sqlite3 *db = db_open();
    int fail = q_int(db, "SELECT COUNT(*) FROM trials WHERE state='FAIL'");
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials"), 6 + fail);
    cr_expect_gt(fail, 0, "seed 7 samples invalid points:\n%s", err);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM pt_trial_metrics m JOIN trials t USING (trial_id)"
                           " WHERE t.state='FAIL' AND m.fail_reason LIKE '%prune.end_epoch%'"),
                 fail);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trial_intermediate_values i JOIN trials t"
                           " USING (trial_id) WHERE t.state='FAIL'"),
                 0, "no worker ran them");
    sqlite3_close(db);
    check_study(6, fail);
}


/* A worker that stops answering (SIGSTOP) mid-trial: after the trial timeout
 * its trial is FAIL "considered lost", the other worker finishes the study,
 * and the run ends by itself with exit 1 and a clear message instead of
 * hanging. key: the study's trial_timeout_s; flag: --trial-timeout or NULL. */
/* The pid of a worker a laptop-mode run (pid coordinator) spawned, or 0. */
static pid_t spawned_worker(pid_t coordinator)
{
    char cmdline[96];
    /* anchored, so the shell running pgrep does not match itself */
    snprintf(cmdline, sizeof cmdline, "pgrep -n -f '^[^ ]*prunetune worker --parent-pid %d'",
             (int)coordinator);
    FILE *p = popen(cmdline, "r");
    int pid = 0;
    if (p && fscanf(p, "%d", &pid) != 1)
        pid = 0;
    if (p)
        pclose(p);
    return pid;
}

/* Whether process pid is gone (or a zombie) within 10 s. */
static int gone(pid_t pid)
{
    for (int i = 0; i < 100; i++) {
        if (ended(pid))
            return 1;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void silent_worker(int key, const char *flag, int laptop)
{
    const char *study =
        write_study("lost", 6, "random", "",
                    "\"reg.l2\": {\"type\": \"float\", \"low\": 1e-6, \"high\": 1e-3,"
                    " \"log\": true}");
    /* longer trials: the worker is stopped while the study has work left */
    char key_sed[96];
    snprintf(key_sed, sizeof key_sed, " s/\"seed\": 7,/\"seed\": 7, \"trial_timeout_s\": %d,/",
             key);
    lengthen(study, key_sed);
    char *argv[] = {
        "mpirun",     "-np", "3", PT_BIN, "run", (char *)study, flag ? "--trial-timeout" : NULL,
        (char *)flag, NULL};
    char *argv_laptop[] = {PT_BIN,        "run", (char *)study, "--workers", "2", "--processes",
                           "--trial-timeout", (char *)flag, NULL};
    pid_t pid = job_start(laptop ? argv_laptop : argv);
    /* 60 s: under ASan on a loaded 2-core machine the first trial took
     * longer than wait_complete's 12 s, and the worker was looked for after
     * the job had gone. */
    int started = wait_complete_for(1, 60);
    pid_t w = laptop ? spawned_worker(pid) : rank_pid(pid, 2);
    if (w <= 0) {
        int rc = job_wait(pid, "err1", 60);
        char log[1 << 14];
        slurp("err1", log, sizeof log);
        cr_assert_fail("the worker to stop was not found (%d trials COMPLETE, job exit %d):\n%s",
                       started, rc, log);
    }
    kill(w, SIGSTOP);
    int code = job_wait(pid, "err1", 60);
    kill(w, SIGCONT);
    char err[1 << 15];
    slurp("err1", err, sizeof err);
    cr_assert_geq(code, 0, "the run hung:\n%s", err);
    cr_expect_eq(code, 1, "%s", err);
    cr_expect_not_null(strstr(err, "worker(s) lost"), "%s", err);
    cr_expect(gone(w), "the stopped worker %d outlived the run", (int)w);
    /* Rank 2 was stopped either in a trial (or waiting for one), which then
     * ends FAIL, or in the send of its last model (a few ms of each trial,
     * but CI hit it), which leaves that trial COMPLETE without its model. */
    sqlite3 *db = db_open();
    int lost = q_int(db, "SELECT COUNT(*) FROM pt_trial_metrics m JOIN trials t USING (trial_id)"
                         " WHERE t.state='FAIL' AND m.fail_reason LIKE '%considered lost%'");
    int in_model = strstr(err, "did not deliver its") != NULL;
    cr_expect_eq(lost, in_model ? 0 : 1, "%s", err);
    /* the lost trial is FAIL, outside n_trials: the other worker ran one more */
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'"), 6);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='RUNNING'"), 0);
    sqlite3_close(db);
}

/* The flag wins over the key (600 s would hang the test)... A timeout of
 * 5 s: a worker's first message comes after it loaded the data and trained
 * an epoch, measured at ~2 s in the ASan build (Debug), so 2 s gave up
 * healthy workers there. */
Test(run, silent_worker_is_given_up_and_the_run_ends)
{
    silent_worker(600, "5", 0);
}

/* Without mpirun too: spawned worker processes end with the run (a worker
 * thread cannot be stopped alone: --processes is what isolates them). */
Test(run, laptop_run_gives_up_a_silent_worker)
{
    silent_worker(600, "5", 1);
}

/* ...and the key over the default of 600 s. */
Test(run, trial_timeout_s_key_gives_up_a_silent_worker)
{
    silent_worker(5, NULL, 0);
}

/* A worker stopped in its model send (tests/stall_worker.c, rank 1, halfway
 * through a TCP rendezvous) is given up after the trial timeout while rank 2
 * goes on: its trial stays COMPLETE without a model, and nothing waits for
 * the stalled bytes. */
Test(run, worker_stalled_in_model_send_holds_nothing_up)
{
    const char *study =
        write_study("stall", 6, "random", "",
                    "\"reg.l2\": {\"type\": \"float\", \"low\": 1e-6, \"high\": 1e-3,"
                    " \"log\": true}");
    /* A timeout of 3 s, a stall of 8: with 1 s and 4 s a loaded machine
     * (load 7 on 2 cores) left the healthy worker silent for 1 s too. */
    char *argv[] = {"mpirun", "--mca",       "btl", "self,tcp",    "-np",
                    "1",      PT_BIN,        "run", (char *)study, "--trial-timeout",
                    "3",      ":",           "-np", "1",           PT_STALL_WORKER,
                    "8",      ":",           "-np", "1",           PT_BIN,
                    "run",    (char *)study, NULL};
    pid_t pid = job_start(argv);
    int rc = job_wait(pid, "err1", 60);
    char err[1 << 15];
    slurp("err1", err, sizeof err);
    cr_assert_geq(rc, 0, "the run hung:\n%s", err);
    cr_assert_not_null(strstr(err, "did not deliver its 1048576 bytes"), "%s", err);
    /* Back before the study ended (a slow machine): then it is not lost. */
    int back = strstr(err, "is back") != NULL;
    cr_expect_eq(rc, back ? 0 : 1, "%s", err);
    sqlite3 *db = db_open();
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'"), 6, "%s", err);
    cr_expect_geq(q_int(db, "SELECT COUNT(*) FROM trial_values WHERE value=0.25"), 1);
    sqlite3_close(db);
}

/* A second run of a study that is running is refused (exit 2, "is being
 * run by pid") and takes nothing from the first: none of its live trials is
 * failed as interrupted, and it finishes every trial. */
Test(run, second_run_of_a_running_study_is_refused)
{
    const char *study = write_study("twice", 8, "random", "", space_default);
    lengthen(study, ""); /* the first run outlasts the second's start */
    char *argv[] = {PT_BIN, "run", (char *)study, "--workers", "1", NULL};
    pid_t first = job_start(argv);
    wait_complete(1);
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 1 --quiet", PT_BIN, study);
    int code = sh(cmd);
    char err[4096];
    slurp("err", err, sizeof err);
    int wst = 0;
    waitpid(first, &wst, 0);
    cr_expect_eq(code, 2, "%s", err);
    char want[64];
    snprintf(want, sizeof want, "is being run by pid %d", (int)first);
    cr_expect_not_null(strstr(err, want), "%s", err);
    cr_expect(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "the first run: status %d", wst);
    check_study(8, 0);
}

/* Resuming with another search space is refused (exit 2, the DB unchanged)
 * unless --force. */
Test(run, changed_space_needs_force)
{
    const char *study = write_study("space", 2, "random", "", space_default);
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 1 --quiet", PT_BIN, study);
    cr_assert_eq(sh(cmd), 0);
    study = write_study("space", 4, "random", "",
                        "\"reg.l2\": {\"type\": \"float\", \"low\": 1e-5, \"high\": 1e-2}");
    char err[4096];
    cr_expect_eq(sh(cmd), 2);
    slurp("err", err, sizeof err);
    cr_expect_not_null(strstr(err, "--force"), "%s", err);
    sqlite3 *db = db_open();
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials"), 2);
    sqlite3_close(db);
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 1 --quiet --force", PT_BIN, study);
    cr_expect_eq(sh(cmd), 0);
    db = db_open();
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'"), 4);
    sqlite3_close(db);
}

/* The number of lines of text. */
static int lines_in(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* A study whose data folder does not exist stops before anything starts:
 * exit 2, one line naming the study file and the key, no database, no lock,
 * no worker (laptop mode starts none: stderr holds that line alone). */
Test(run, missing_data_dir_exits_2_and_writes_nothing)
{
    const char *study = write_study("nodata", 8, "random", "", space_default);
    char line[1024];
    snprintf(line, sizeof line, "sed -i 's|\"dir\": \"%s\"|\"dir\": \"%s\"|' '%s'", PT_FASHION_DIR,
             path_of("no-such-dir"), study);
    cr_assert_eq(system(line), 0);
    char want[1024];
    snprintf(want, sizeof want,
             "prunetune run: %s: trial.data.dir: %s/train-images-idx3-ubyte.gz: cannot open: No "
             "such file or directory\n",
             study, path_of("no-such-dir"));
    const char *modes[] = {"%s run '%s' --workers 2", "mpirun -np 2 %s run '%s'"};
    for (int m = 0; m < 2; m++) {
        snprintf(line, sizeof line, modes[m], PT_BIN, study);
        int code = sh(line);
        char err[8192], out[4096];
        slurp("err", err, sizeof err);
        slurp("out", out, sizeof out);
        cr_expect_eq(code, 2, "%s: exit %d\n%s", line, code, err);
        cr_expect_not_null(strstr(err, want), "%s: wanted\n%s\ngot\n%s", line, want, err);
        if (m == 0)
            cr_expect_eq(lines_in(err), 1, "one line:\n%s", err);
        cr_expect_str_eq(out, "", "nothing on stdout");
        struct stat sb;
        cr_expect_neq(stat(path_of("study.db"), &sb), 0, "no database may be written");
        cr_expect_neq(stat(path_of("study.db.lock"), &sb), 0, "no lock file either");
    }
}

/* Every trial diverges: the run stops after max_failures FAIL trials in a
 * row with exit 1 and their common reason, records nothing else, and says
 * no trial completed. Then the config is fixed and the study run again: the
 * FAIL trials did not use the budget, so it trains n_trials COMPLETE ones;
 * a third run has nothing to do, exits 0, and calls its 0.0x s too short
 * for a rate or a CPU share. (Three runs, five trials: more than the suite's
 * 90 s on a busy machine under ASan.) */
Test(run, failing_trials_stop_the_run_and_do_not_use_the_budget, .timeout = 240)
{
    /* (l2 is not a parameter: the trial's l2 of 1 holds for every point) */
    const char *study = write_study("failing", 2, "random", ", \"reg\": {\"l2\": 1}",
                                    "\"reg.l1\": {\"type\": \"float\", \"low\": 1e-7,"
                                    " \"high\": 1e-5, \"log\": true}");
    char line[1024];
    snprintf(line, sizeof line,
             "sed -i 's/\"seed\": 7,/\"seed\": 7, \"max_failures\": 3,/;"
             " s/\"batch_size\": 32}/\"batch_size\": 32, \"lr\": 10}/' '%s'",
             study);
    cr_assert_eq(system(line), 0);
    /* One worker: trials end one at a time, so exactly max_failures run. */
    snprintf(cmd, sizeof cmd, "mpirun -np 2 %s run '%s'", PT_BIN, study);
    int code = sh(cmd);
    char err[1 << 15], out[4096];
    slurp("err", err, sizeof err);
    slurp("out", out, sizeof out);
    cr_expect_eq(code, 1, "exit %d\n%s", code, err);
    cr_expect_not_null(strstr(err, "prunetune run: stopped: 3 trials in a row failed "
                                   "(max_failures 3), all of them with: training diverged"),
                       "%s", err);
    /* the reference trial (regularization off: lr 10 alone does not reach
     * NaN) completes first, then the 3 failures stop the run */
    cr_expect_not_null(strstr(out, "best: trial 0 "), "%s", out);
    sqlite3 *db = db_open();
    /* more than n_trials: FAIL trials don't count */
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials"), 4);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM pt_trial_metrics m JOIN trials t USING (trial_id)"
                           " WHERE t.state='FAIL' AND m.fail_reason LIKE 'training diverged%'"),
                 3);
    sqlite3_close(db);

    snprintf(line, sizeof line, "sed -i 's/, \"lr\": 10}/}/; s/\"l2\": 1}/\"l2\": 0}/' '%s'",
             study);
    cr_assert_eq(system(line), 0);
    code = sh(cmd);
    slurp("err", err, sizeof err);
    slurp("out", out, sizeof out);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    cr_expect_not_null(strstr(err, "1 trials done, 3 failed ones not counted"), "%s", err);
    check_study(2, 3);
    /* Over a second (most machines): the CPU share of a coordinator that
     * sleeps between polls, counted from the run's start (not the
     * process's), is well under a core. */
    const char *cpu = strstr(out, "coordinator CPU ");
    double share = cpu ? atof(cpu + strlen("coordinator CPU ")) : 0;
    cr_expect(cpu || strstr(out, "too short a run"), "%s", out);
    cr_expect(share >= 0 && share < 100, "coordinator CPU %.1f%% of a core:\n%s", share, out);

    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 1", PT_BIN, study);
    code = sh(cmd);
    slurp("err", err, sizeof err);
    slurp("out", out, sizeof out);
    cr_expect_eq(code, 0, "exit %d\n%s", code, err);
    cr_expect_not_null(strstr(out, "0 trials finished in this run (0 failed)"), "%s", out);
    cr_expect_not_null(strstr(out, "2 before (too short a run for a rate or a CPU share)"), "%s",
                       out);
    cr_expect_null(strstr(out, "trials/s"), "%s", out);
    check_study(2, 3);
}

/* A run that ends with no COMPLETE trial never exits 0, also when it ends
 * for want of points rather than for max_failures: a one-point grid that
 * diverges is tried twice (sampler_grid.c) and exhausted. */
Test(run, run_with_no_completed_trial_exits_1)
{
    const char *study = write_study("nothing", 1, "grid", ", \"reg\": {\"l2\": 1}",
                                    "\"train.lr\": {\"type\": \"categorical\", \"choices\": [10]}");
    /* The reference trial (regularization off) would complete: a split that
     * leaves no training rows fails every trial, on the worker, after the
     * coordinator's check of the data files has passed. */
    char line[1024];
    snprintf(line, sizeof line,
             "sed -i 's/\"test_limit\": 200}/\"test_limit\": 200, \"val_fraction\": 0.999}/' '%s'",
             study);
    cr_assert_eq(system(line), 0);
    snprintf(cmd, sizeof cmd, "mpirun -np 2 %s run '%s'", PT_BIN, study);
    int code = sh(cmd);
    char err[1 << 15];
    slurp("err", err, sizeof err);
    cr_expect_eq(code, 1, "exit %d\n%s", code, err);
    cr_expect_not_null(strstr(err, "prunetune run: no trial of study 'nothing' completed (3 "
                                   "finished in this run, 3 failed)"),
                       "%s", err);
    sqlite3 *db = db_open();
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='FAIL'"), 3);
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials"), 3);
    sqlite3_close(db);
}

/* Every trained trial's result carries the worker's timing breakdown
 * ("overhead", user attribute pt_overhead; worker.c). Its parts are
 * differences of readings of one monotonic clock that partition the trial
 * (train + eval + report = pt_train's wall time; data, cost, model and the
 * rest around it), so they sum to trial_s up to the rounding of ~10 double
 * additions of numbers below 1e3 s: rtol 1e-12, atol 1e-9 s leave orders of
 * magnitude. The cost report's timing budget is COST_SHARE (0.004) of the
 * trial's training time, computed from the same double: compared with a
 * rtol of 1e-12. A cost metric among the constraints gets the full budget
 * (0). */
/* COMPLETE trials with a breakdown that satisfy cond, an SQL condition on
 * the breakdown's fields and the trial's stored metrics (m_*). */
static int count_breakdowns(sqlite3 *db, const char *cond)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "WITH o AS (SELECT a.value_json AS j,"
             " json_extract(m.result_json, '$.train_s') AS m_train_s,"
             " json_extract(m.result_json, '$.eval_s') AS m_eval_s,"
             " m.latency_b1_us AS m_lat_b1, m.latency_b128_us AS m_lat_b128,"
             " m.speedup_b1 AS m_speedup_b1"
             " FROM trial_user_attributes a JOIN trials t USING (trial_id)"
             " JOIN pt_trial_metrics m USING (trial_id)"
             " WHERE a.key = 'pt_overhead' AND t.state = 'COMPLETE'),"
             " b AS (SELECT json_extract(j, '$.trial_s') AS trial_s,"
             " json_extract(j, '$.train_s') AS train_s, json_extract(j, '$.data_s') AS data_s,"
             " json_extract(j, '$.eval_s') AS eval_s, json_extract(j, '$.report_s') AS report_s,"
             " json_extract(j, '$.prune_s') AS prune_s, json_extract(j, '$.setup_s') AS setup_s,"
             " json_extract(j, '$.cost_s') AS cost_s, json_extract(j, '$.model_s') AS model_s,"
             " json_extract(j, '$.other_s') AS other_s,"
             " json_extract(j, '$.outside_frac') AS outside_frac,"
             " json_extract(j, '$.cost_budget_s') AS budget, o.* FROM o)"
             " SELECT COUNT(*) FROM b WHERE %s",
             cond);
    return q_int(db, sql);
}

static void check_breakdown(int n, int full_budget)
{
    sqlite3 *db = db_open();
    cr_assert_eq(count_breakdowns(db, "1"), n, "a breakdown per COMPLETE trial");
    /* every part a real, non-negative time; training took some */
    cr_expect_eq(count_breakdowns(db, "train_s > 0 AND data_s >= 0 AND eval_s > 0 AND"
                                      " prune_s >= 0 AND setup_s >= 0 AND"
                                      " report_s >= 0 AND cost_s > 0 AND model_s >= 0 AND"
                                      " other_s >= 0"),
                 n);
    /* the parts sum to the trial's time; training is the stored train_s */
    cr_expect_eq(count_breakdowns(db, "abs(train_s + data_s + eval_s + prune_s + setup_s +"
                                      " report_s + cost_s + model_s + other_s - trial_s)"
                                      " <= 1e-9 + 1e-12 * trial_s"
                                      " AND train_s = m_train_s AND eval_s = m_eval_s"),
                 n);
    cr_expect_eq(count_breakdowns(db, "abs(outside_frac - (1 - train_s / trial_s)) <= 1e-12"
                                      " AND outside_frac < 1"),
                 n);
    /* the cost report is there */
    cr_expect_eq(count_breakdowns(db, "m_lat_b1 > 0 AND m_lat_b128 > 0 AND m_speedup_b1 > 0"), n);
    if (full_budget)
        cr_expect_eq(count_breakdowns(db, "budget = 0"), n);
    else
        cr_expect_eq(count_breakdowns(db, "abs(budget - 0.004 * train_s) <= 1e-12 * budget"
                                          " AND budget > 0"),
                     n);
    /* Data: the first trial on each worker opens it; the others find it
     * cached (a comparison of configs, microseconds; 1 ms leaves room for
     * a loaded machine's preemption). Two workers: at most 2 open it. */
    int opened = count_breakdowns(db, "data_s > 1e-3");
    cr_expect(opened >= 1 && opened <= 2, "%d trials opened the data", opened);
    sqlite3_close(db);
}

Test(run, trials_record_where_the_worker_time_goes, .timeout = 180)
{
    const char *study = write_study("overhead", 4, "random", "", space_default);
    snprintf(cmd, sizeof cmd, "mpirun -np 3 %s run '%s' --quiet", PT_BIN, study);
    int code = sh(cmd);
    char err[1 << 15];
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    check_breakdown(4, 0);

    /* The same with a cost metric among the constraints: timed in full. */
    remove(path_of("study.db"));
    remove(path_of("study.db-wal"));
    remove(path_of("study.db-shm"));
    study = write_study("overhead-cost", 3, "random", "", space_default);
    snprintf(cmd, sizeof cmd,
             "sed -i 's/\"objectives\"/\"constraints\": [{\"metric\": \"latency_b1_us\","
             " \"max\": 1e9}], \"objectives\"/' '%s'",
             study);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 2 --quiet", PT_BIN, study);
    code = sh(cmd);
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "exit %d\n%s", code, err);
    check_breakdown(3, 1);
}
