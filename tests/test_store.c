/*
 * test_store.c — the study database on real SQLite files: trials recorded and
 * replayed exactly, resume rules, refusal of foreign files, readers during
 * writes, and the recording rate (printed, not asserted). Optuna's view of
 * the same files is in test_store_optuna.c.
 */
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_fixture.h"

TestSuite(store, .init = setup, .fini = teardown);

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
    /* Values Optuna would reject when loading the study are refused. */
    int id, num;
    const struct {
        int param;
        double v;
    } bad[] = {{0, 3} /* 3 choices */, {0, 0.5}, {1, 0.95000000000000007}, {2, 0},
               {4, 48} /* step 32 */,  {4, 288}};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        study_point q = point_of(2);
        q.value[bad[b].param] = bad[b].v;
        cr_assert_eq(store_trial_begin(st, 1, &sc, &q, "{}", &id, &num, &err), PT_ERR_ARG,
                     "case %zu", b);
        cr_assert(strstr(err.msg, "is outside its distribution"), "%s", err.msg);
    }
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
    /* Replayed against a narrower space, values outside it are left out. */
    other.param[1].high = 0.5025; /* trials 0..2 have 0.500, 0.501, 0.502; 3, 4 are out */
    replay r = {0};
    cr_assert_eq(store_each_trial(st, 1, &other, collect, &r, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(r.n, 5);
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(r.p[k].present[1], k < 3, "trial %d", k);
        cr_assert(r.p[k].present[0] && r.p[k].present[2], "trial %d", k);
    }
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

/* A reader process polling every 2 ms while the writer records trials as
 * fast as it can: no error on either side, and the reader's view only grows. */
static int poll_reader(int writer_done_fd)
{
    study_config sc;
    make_study(&sc, "s", 0);
    store *r;
    pt_err err;
    if (store_open(&r, dbpath, 1, &err) != PT_OK) {
        fprintf(stderr, "reader: %s\n", err.msg);
        return 1;
    }
    int bad = 0, last = 0, polls = 0;
    char c;
    for (;;) {
        replay rp = {0};
        if (store_each_trial(r, 1, &sc, collect, &rp, &err) != PT_OK) {
            fprintf(stderr, "reader: %s\n", err.msg);
            bad++;
        }
        if (rp.total < last)
            bad++;
        last = rp.total;
        polls++;
        if (read(writer_done_fd, &c, 1) == 1)
            break;
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    /* Once the writer is done, the reader sees every trial it wrote. */
    replay end = {0};
    if (store_each_trial(r, 1, &sc, collect, &end, &err) != PT_OK || end.total != 1505)
        bad++;
    store_close(r);
    free(sc.space_json);
    fprintf(stderr, "reader: %d polls, last saw %d trials, %d errors\n", polls, last, bad);
    return bad ? 1 : polls > 2 && last > 5 ? 0 : 2;
}

Test(store, a_reader_process_never_disturbs_the_writer)
{
    store *w;
    study_config sc;
    int ids[5];
    pt_err err;
    fill(&w, &sc, ids);
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    fcntl(fd[0], F_SETFL, O_NONBLOCK);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fd[1]);
        _exit(poll_reader(fd[0]));
    }
    close(fd[0]);
    for (int k = 0; k < 1500; k++) {
        study_point p = point_of(k);
        int id, num;
        double v = 0.5;
        cr_assert_eq(store_trial_begin(w, 1, &sc, &p, "{}", &id, &num, &err), PT_OK, "%s", err.msg);
        cr_assert_eq(store_trial_report(w, id, 0, 0.5, &err), PT_OK, "%s", err.msg);
        cr_assert_eq(store_trial_end(w, id, TRIAL_COMPLETE, &v, 1, "{}", NULL, &err), PT_OK, "%s",
                     err.msg);
    }
    cr_assert_eq(write(fd[1], "x", 1), 1);
    close(fd[1]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader status %d", status);
    cr_assert_eq(store_integrity(w, &err), PT_OK, "%s", err.msg);
    store_close(w);
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
                     PT_OK, "%s", err.msg);
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
