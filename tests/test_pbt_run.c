/*
 * test_pbt_run.c — PBT studies run for real (coordinator/sched_pbt.c):
 * `mpirun -np 3` and laptop mode train a population of 4 on 600 rows of
 * Fashion-MNIST in 3 generations of 1 epoch, and the study DB is read back:
 * every member-interval recorded once, exploits recorded with their parent,
 * a child's config naming its parent's checkpoint, sparsity never lower
 * than the parent's, a SIGKILLed run resumed without a duplicate, and
 * `prunetune strategy --config` replaying lineages (also ones that cross
 * the kill) through `prunetune train` to the same numbers.
 *
 * Why exact equality for the replay: a lineage is one
 * continuous run (same seed; batch order, dropout and pruning progress set
 * by the absolute epoch; optimizer state cleared at every interval in both,
 * train.keep_optim) on one machine with train.sparse "off" and one BLAS
 * thread, so the floats are produced by the same operations in the same
 * order: any difference is a bug, not rounding.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "run_fixture.h"
#include "job_fixture.h"

#define P 4
#define G 3

/* The study (storage tmpdir/db) with `rows` training rows. */
static const char *write_study(const char *name, const char *db, int rows)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"study\": \"p\", \"storage\": \"%s\", \"seed\": 3, \"sampler\": \"pbt\",\n"
             " \"pbt\": {\"population\": %d, \"interval\": 1, \"quantile\": 0.25},\n"
             " \"trial\": {\"data\": {\"dir\": \"%s\", \"limit\": %d, \"test_limit\": 200},\n"
             "   \"net\": {\"hidden\": [32]},\n"
             "   \"train\": {\"epochs\": %d, \"batch_size\": 32, \"sparse\": \"off\"},\n"
             "   \"prune\": {\"schedule\": \"gradual\", \"sparsity\": 0.8, \"start_epoch\": 0,\n"
             "             \"end_epoch\": 2, \"frequency\": 5}},\n"
             " \"search_space\": {\n"
             "   \"train.lr\": {\"type\": \"float\", \"low\": 1e-3, \"high\": 0.5, \"log\": true},\n"
             "   \"reg.l2\": {\"type\": \"float\", \"low\": 1e-6, \"high\": 1e-2, \"log\": true},\n"
             "   \"prune.sparsity\": {\"type\": \"float\", \"low\": 0.5, \"high\": 0.95}}}\n",
             path_of(db), P, PT_FASHION_DIR, rows, G);
    return write_in(name, text);
}

static sqlite3 *open_db(const char *db)
{
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(path_of(db), &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 2000);
    return h;
}

/* A user attribute of trial `number` as a number (-1: absent or null). */
static double attr(sqlite3 *h, int number, const char *key)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT CAST(a.value_json AS REAL) FROM trials t JOIN trial_user_attributes a"
             " ON a.trial_id = t.trial_id WHERE t.number = %d AND a.key = '%s'"
             " AND a.value_json != 'null'",
             number, key);
    return q_num(h, sql);
}

static double metric(sqlite3 *h, int number, const char *col)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM pt_trial_metrics WHERE number = %d", col, number);
    return q_num(h, sql);
}

/* SELECT what over the trials of (member, generation), in state when state
 * is not NULL, as a number. */
static double of_member(sqlite3 *h, const char *what, int member, int gen, const char *state)
{
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM trials t"
             " JOIN trial_user_attributes m ON m.trial_id = t.trial_id AND m.key = 'pbt_member'"
             " JOIN trial_user_attributes g ON g.trial_id = t.trial_id"
             " AND g.key = 'pbt_generation'"
             " WHERE m.value_json = '%d' AND g.value_json = '%d'%s%s%s",
             what, member, gen, state ? " AND t.state = '" : "", state ? state : "",
             state ? "'" : "");
    return q_num(h, sql);
}

/* The COMPLETE trial of (member, generation); -1 when none; fails on two. */
static int trial_of(sqlite3 *h, int member, int gen)
{
    int n = (int)of_member(h, "COUNT(*)", member, gen, "COMPLETE");
    cr_assert_leq(n, 1, "member %d generation %d is COMPLETE %d times", member, gen, n);
    return n ? (int)of_member(h, "t.number", member, gen, "COMPLETE") : -1;
}

/* What every finished run of the study must show; returns the number of
 * exploits and fills val[m][g] with each member-interval's val_acc. */
static int check_study(const char *db, double val[P][G])
{
    sqlite3 *h = open_db(db);
    cr_expect_eq(q_int(h, "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'"), P * G);
    int exploits = 0;
    for (int g = 0; g < G; g++)
        for (int m = 0; m < P; m++) {
            int n = trial_of(h, m, g);
            cr_assert_geq(n, 0, "member %d generation %d has no COMPLETE trial", m, g);
            val[m][g] = metric(h, n, "val_acc");
            cr_expect_eq((int)attr(h, n, "pbt_start_epoch"), g);
            /* One intermediate value per epoch it trained, at the absolute epoch. */
            char sql[256];
            snprintf(sql, sizeof sql,
                     "SELECT COUNT(*) FROM trial_intermediate_values v JOIN trials t"
                     " ON t.trial_id = v.trial_id WHERE t.number = %d AND v.step = %d",
                     n, g + 1);
            cr_expect_eq(q_int(h, sql), 1, "trial %d: no value at epoch %d", n, g + 1);
            int parent = (int)attr(h, n, "pbt_parent");
            if (g == 0) {
                cr_expect_eq(parent, -1, "generation 0 starts from scratch");
                continue;
            }
            cr_assert_geq(parent, 0, "trial %d has no parent", n);
            cr_expect_eq((int)attr(h, parent, "pbt_generation"), g - 1);
            int from = (int)attr(h, n, "pbt_exploited_from");
            int pm = (int)attr(h, parent, "pbt_member");
            cr_expect_eq(pm, from >= 0 ? from : m, "trial %d continues member %d, not %d", n, pm,
                         from >= 0 ? from : m);
            exploits += from >= 0;
            /* The checkpoint it started from is its parent's. */
            char want[64];
            snprintf(want, sizeof want, "g%d_m%d.npz", g - 1, pm);
            snprintf(sql, sizeof sql,
                     "SELECT COUNT(*) FROM pt_trial_metrics WHERE number = %d"
                     " AND json_extract(config_json, '$.net.init') LIKE '%%/%s'",
                     n, want);
            cr_expect_eq(q_int(h, sql), 1, "trial %d's net.init is not .../%s", n, want);
            /* The copied mask is the floor. */
            double sp = metric(h, n, "sparsity"), psp = metric(h, parent, "sparsity");
            cr_expect_geq(sp, psp, "trial %d: sparsity %g below its parent %d's %g", n, sp, parent,
                          psp);
        }
    sqlite3_close(h);
    /* The checkpoints left beside the DB (the last generation's) carry the
     * optimizer state (train.keep_optim): momentum after every step its
     * lineage took. */
    int found = 0;
    for (int m = 0; m < P; m++) {
        char path[4096];
        snprintf(path, sizeof path, "%s.pbt/p/g%d_m%d.npz", path_of(db), G - 1, m);
        if (access(path, R_OK) != 0)
            continue;
        pt_model ck;
        pt_err err = {{0}};
        cr_assert_eq(pt_model_load(&ck, path, &err), PT_OK, "%s", err.msg);
        cr_expect_eq(ck.optim.n, ck.net.n_params, "%s holds no optimizer state", path);
        cr_expect_gt(ck.optim.t, 0, "%s: no steps", path);
        pt_model_free(&ck);
        found++;
    }
    cr_expect_gt(found, 0, "no checkpoint of generation %d beside %s", G - 1, db);
    return exploits;
}

/* `prunetune strategy DB`: its winner's trial number; its output in out. */
static int strategy_winner(const char *db, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s strategy '%s'", PT_BIN, path_of(db));
    cr_assert_eq(sh(cmd), 0);
    slurp("out", out, cap);
    int winner = -1;
    cr_assert_eq(sscanf(out, "PBT winner: trial %d", &winner), 1, "%s", out);
    return winner;
}

/* `prunetune train` of the config `strategy --trial N --config` writes gives
 * trial N's val_acc, test_acc and loss exactly (see the top). */
static void check_replay(const char *db, int number)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s strategy '%s' --trial %d --config '%s'", PT_BIN, path_of(db),
             number, path_of("replay.json"));
    cr_assert_eq(sh(cmd), 0);
    char out[8192];
    slurp("out", out, sizeof out);
    cr_expect_not_null(strstr(out, "schedule of hyper-parameters over epochs:"), "%s", out);
    cr_expect_not_null(strstr(out, "train.lr: epochs 1-"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s train '%s'", PT_BIN, path_of("replay.json"));
    cr_assert_eq(sh(cmd), 0);
    sqlite3 *h = open_db(db);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT json_extract(result_json, '$.loss') FROM pt_trial_metrics WHERE number = %d",
             number);
    double loss = q_num(h, sql), val = metric(h, number, "val_acc"),
           test = metric(h, number, "test_acc");
    sqlite3_close(h);
    /* The train result, read back with sqlite3's JSON functions. */
    sqlite3 *mem = NULL;
    cr_assert_eq(sqlite3_open(":memory:", &mem), SQLITE_OK);
    char res[1 << 16];
    slurp("out", res, sizeof res);
    sqlite3_stmt *s = NULL;
    cr_assert_eq(sqlite3_prepare_v2(mem,
                                    "SELECT json_extract(?1, '$.val_acc'), json_extract(?1, "
                                    "'$.test_acc'), json_extract(?1, '$.loss')",
                                    -1, &s, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(s, 1, res, -1, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    cr_expect_eq(sqlite3_column_double(s, 0), val, "val_acc %.17g, trial %d had %.17g",
                 sqlite3_column_double(s, 0), number, val);
    cr_expect_eq(sqlite3_column_double(s, 1), test, "test_acc %.17g, trial %d had %.17g",
                 sqlite3_column_double(s, 1), number, test);
    cr_expect_eq(sqlite3_column_double(s, 2), loss, "loss %.17g, trial %d had %.17g",
                 sqlite3_column_double(s, 2), number, loss);
    sqlite3_finalize(s);
    sqlite3_close(mem);
}

TestSuite(pbt_run, .init = run_setup, .fini = run_teardown, .timeout = 120);

/* mpirun -np 3: 2 workers for 4 members. The winner's lineage and the
 * lineage of an exploiting member replay exactly. */
/* Runs the study of write_study (600 rows) with the command line launcher
 * ("mpirun -np 3 BIN run STUDY" or "BIN run STUDY --workers 2"), then checks
 * its records; its stderr in err. */
static void run_population(const char *launcher, char *err, size_t cap)
{
    const char *study = write_study("s.json", "study.db", 600);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, launcher, PT_BIN, study);
    int code = sh(cmd);
    slurp("err", err, cap);
    cr_assert_eq(code, 0, "%s", err);
    double val[P][G];
    /* q = ceil(4 * 0.25) = 1 member exploits at each of the 2 boundaries. */
    cr_expect_eq(check_study("study.db", val), G - 1);
}

Test(pbt_run, mpirun_population_and_strategy_replay)
{
    char err[1 << 14], cmd[1024];
    run_population("mpirun -np 3 %s run '%s'", err, sizeof err);
    cr_expect_not_null(strstr(err, "pbt: generation 2: member"), "%s", err);
    /* The winner: the best of the last generation (strategy's default). */
    char out[8192];
    int winner = strategy_winner("study.db", out, sizeof out);
    sqlite3 *h = open_db("study.db");
    cr_expect_eq((int)attr(h, winner, "pbt_generation"), G - 1);
    int exploiter = q_int(h, "SELECT t.number FROM trials t JOIN trial_user_attributes a"
                             " ON a.trial_id = t.trial_id AND a.key = 'pbt_exploited_from'"
                             " ORDER BY t.number DESC LIMIT 1");
    sqlite3_close(h);
    check_replay("study.db", winner);
    /* The report draws the winner's lineage: its table and plots. */
    snprintf(cmd, sizeof cmd, "%s report '%s' -o '%s'", PT_BIN, path_of("study.db"),
             path_of("r.html"));
    cr_assert_eq(sh(cmd), 0);
    static char html[1 << 20];
    slurp("r.html", html, sizeof html);
    char want[128];
    snprintf(want, sizeof want, "<p>Trial %d (member ", winner);
    cr_expect_not_null(strstr(html, want), "the report names another winner");
    cr_expect_not_null(strstr(html, "<table id=\"pbt-lineage\">"));
    cr_expect_not_null(strstr(html, "id=\"plot-pbt-objective\""));
    int rows = 0;
    const char *table = strstr(html, "<table id=\"pbt-lineage\">");
    const char *table_end = table ? strstr(table, "</table>") : NULL;
    for (const char *q = table; q && (q = strstr(q, "<tr><td>")) && q < table_end; q++)
        rows++;
    cr_expect_eq(rows, G, "one lineage row per generation");
    cr_assert_geq(exploiter, 0);
    check_replay("study.db", exploiter);
}

/* `prunetune confirm` of a PBT study re-runs the winner's lineage replay
 * (pbt_lineage.h) over seeds with its ablations: 2 seeds x (baseline +
 * hybrid + pruning_only + regularization_only) COMPLETE runs, none of them
 * continuing a checkpoint; the hybrid carries the lineage's schedule of
 * train.lr, pruning_only no schedule.l2, regularization_only no
 * schedule.sparsity; and at the winner's own seed the hybrid reproduces the
 * winner's val_acc exactly. */
static void check_confirm(const char *db)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s confirm '%s' --top 1 --seeds 2 --workers 2", PT_BIN,
             path_of(db));
    int code = sh(cmd);
    char err[1 << 14];
    slurp("err", err, sizeof err);
    cr_assert_eq(code, 0, "%s", err);
    char out[8192];
    int winner = strategy_winner(db, out, sizeof out);
    cr_expect_not_null(strstr(err, "top 1 by val_acc: #1 trial"), "%s", err);
    sqlite3 *h = open_db(db);
    const char *in_confirm = " FROM trials t JOIN studies s ON s.study_id = t.study_id"
                             " JOIN pt_trial_metrics m ON m.trial_id = t.trial_id"
                             " JOIN trial_user_attributes v ON v.trial_id = t.trial_id"
                             " AND v.key = 'pt_variant'"
                             " WHERE s.study_name = 'p/confirm' AND t.state = 'COMPLETE'";
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT COUNT(*)%s", in_confirm);
    cr_expect_eq(q_int(h, sql), 8, "%s", err);
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*)%s AND (json_extract(m.config_json, '$.net.init') != ''"
             " OR json_extract(m.config_json, '$.train.first_epoch') > 0)",
             in_confirm);
    cr_expect_eq(q_int(h, sql), 0, "a confirmation run continued a checkpoint");
    /* The hybrid has a train.lr schedule when the winner's lr changed along
     * its lineage (strategy prints its ranges separated by ';'). */
    const char *lr = strstr(out, "  train.lr:");
    const char *eol = lr ? strchr(lr, '\n') : NULL;
    const char *semi = lr ? strchr(lr, ';') : NULL;
    int lr_changes = semi && (!eol || semi < eol);
    const struct {
        const char *variant, *cond;
        int want;
    } checks[] = {
        {"hybrid", "json_array_length(m.config_json, '$.schedule.lr') > 0", lr_changes ? 2 : 0},
        {"pruning_only", "json_array_length(m.config_json, '$.schedule.l2') > 0", 0},
        {"regularization_only", "json_array_length(m.config_json, '$.schedule.sparsity') > 0",
         0},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT COUNT(*)%s AND v.value_json = '\"%s\"' AND %s",
                 in_confirm, checks[i].variant, checks[i].cond);
        cr_expect_eq(q_int(h, sql), checks[i].want, "%s: %s", checks[i].variant, checks[i].cond);
    }
    snprintf(sql, sizeof sql,
             "SELECT json_extract(config_json, '$.seed') FROM pt_trial_metrics WHERE number = %d"
             " AND trial_id IN (SELECT trial_id FROM trials t JOIN studies s"
             " ON s.study_id = t.study_id WHERE s.study_name = 'p')",
             winner);
    int seed = q_int(h, sql);
    if (seed >= 1 && seed <= 2) {
        snprintf(sql, sizeof sql,
                 "SELECT val_acc FROM pt_trial_metrics WHERE number = %d"
                 " AND trial_id IN (SELECT trial_id FROM trials t JOIN studies s"
                 " ON s.study_id = t.study_id WHERE s.study_name = 'p')",
                 winner);
        double want = q_num(h, sql);
        snprintf(sql, sizeof sql,
                 "SELECT m.val_acc%s AND v.value_json = '\"hybrid\"'"
                 " AND json_extract(m.config_json, '$.seed') = %d",
                 in_confirm, seed);
        cr_expect_eq(q_num(h, sql), want, "the hybrid at seed %d is not the winner's run", seed);
    }
    sqlite3_close(h);
}

/* The last generation's trial of a member that exploited at the last
 * boundary (one does: q = 1 at every boundary). */
static int last_exploiter(const char *db)
{
    sqlite3 *h = open_db(db);
    int n = q_int(h, "SELECT t.number FROM trials t JOIN trial_user_attributes a"
                     " ON a.trial_id = t.trial_id AND a.key = 'pbt_exploited_from'"
                     " WHERE t.state = 'COMPLETE' ORDER BY t.number DESC LIMIT 1");
    sqlite3_close(h);
    return n;
}

/* Laptop mode (worker threads of `prunetune run`, checkpoints through the
 * hub): the same records, and an exploiting member's lineage replays
 * exactly. */
Test(pbt_run, laptop_mode)
{
    char err[1 << 14];
    run_population("%s run '%s' --workers 2", err, sizeof err);
    int n = last_exploiter("study.db");
    cr_assert_geq(n, 0);
    check_replay("study.db", n);
    check_confirm("study.db");
}

/* `prunetune run STUDY --workers 2`, which must exit 0; its stderr in err. */
static void run_laptop(const char *study, char *err, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 2", PT_BIN, study);
    int code = sh(cmd);
    slurp("err", err, cap);
    cr_assert_eq(code, 0, "%s", err);
}

/* A run SIGKILLed in its second generation resumes there: no
 * member-interval twice, and the lineages that cross the kill are still one
 * continuous run (their replay gives their numbers exactly). */
Test(pbt_run, killed_run_resumes)
{
    const char *study = write_study("study.json", "study.db", 600);
    char *argv[] = {PT_BIN, "run", (char *)study, "--workers", "2", NULL};
    pid_t pid = job_start(argv);
    /* Killed once member 1's second interval is recorded with its checkpoint. */
    const char *mark = path_of("study.db.pbt/p/g1_m1.json");
    struct stat sb;
    int i;
    for (i = 0; i < 6000 && stat(mark, &sb) != 0; i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    int wst = 0;
    waitpid(pid, &wst, 0);
    cr_assert(i < 6000, "the run never reached generation 2");
    cr_assert_lt(count_complete(), P * G, "the run finished before it was killed");
    /* Its workers were threads of the killed process: nothing outlives it. */
    char err[1 << 14];
    run_laptop(study, err, sizeof err);
    cr_expect_not_null(strstr(err, "pbt: resuming at generation 2 of 3"), "%s", err);
    double val[P][G];
    cr_expect_eq(check_study("study.db", val), G - 1);
    char out[8192];
    int winner = strategy_winner("study.db", out, sizeof out);
    check_replay("study.db", winner);
    int n = last_exploiter("study.db");
    if (n != winner)
        check_replay("study.db", n);
}

/* Members that diverge (full-strength L2 with a learning rate drawn from
 * [0.5, 10]: above ~3.8 the weights grow to NaN) FAIL
 * and never take the run down: the run ends with exit 0, every
 * member-interval is recorded (COMPLETE or FAIL), and a member that failed
 * continues in the next generation from a live member's checkpoint
 * (pbt_exploited_from, pbt_parent a COMPLETE trial of the generation before). */
Test(pbt_run, diverging_members_fail_and_are_replaced)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"study\": \"p\", \"storage\": \"%s\", \"seed\": %d, \"sampler\": \"pbt\",\n"
             " \"pbt\": {\"population\": %d, \"interval\": 1, \"resample_probability\": 0},\n"
             " \"trial\": {\"data\": {\"dir\": \"%s\", \"limit\": 300, \"test_limit\": 100},\n"
             "   \"net\": {\"hidden\": [16]},\n"
             "   \"train\": {\"epochs\": %d, \"batch_size\": 32, \"momentum\": 0.9},\n"
             "   \"reg\": {\"l2\": 1}},\n"
             " \"search_space\": {\n"
             "   \"train.lr\": {\"type\": \"float\", \"low\": 0.5, \"high\": 10, \"log\": true}}}\n",
             path_of("study.db"), 5, P, PT_FASHION_DIR, G);
    char err[1 << 14];
    run_laptop(write_in("s.json", text), err, sizeof err);
    sqlite3 *h = open_db("study.db");
    cr_expect_eq(q_int(h, "SELECT COUNT(*) FROM trials"), P * G, "%s", err);
    int failed = q_int(h, "SELECT COUNT(*) FROM trials WHERE state = 'FAIL'");
    cr_assert_gt(failed, 0, "no member diverged: the test needs another seed");
    cr_assert_lt(failed, P * G);
    int replaced = 0;
    for (int g = 0; g + 1 < G; g++)
        for (int m = 0; m < P; m++) {
            char sql[512];
            cr_assert_eq((int)of_member(h, "COUNT(*)", m, g, NULL), 1,
                         "member %d generation %d: not one trial", m, g);
            if (!(int)of_member(h, "t.state = 'FAIL'", m, g, NULL))
                continue;
            int next = (int)of_member(h, "t.number", m, g + 1, NULL);
            int from = (int)attr(h, next, "pbt_exploited_from"),
                parent = (int)attr(h, next, "pbt_parent");
            cr_expect_geq(from, 0, "member %d failed in generation %d, then copied nobody", m, g);
            cr_assert_geq(parent, 0);
            snprintf(sql, sizeof sql,
                     "SELECT state = 'COMPLETE' FROM trials WHERE number = %d", parent);
            cr_expect(q_int(h, sql), "trial %d continues trial %d, which did not complete", next,
                      parent);
            cr_expect_eq((int)attr(h, parent, "pbt_member"), from);
            replaced++;
        }
    sqlite3_close(h);
    cr_expect_gt(replaced, 0, "no member failed before the last generation");
}

/* Bad input: a schedule a member cannot continue is refused before
 * anything starts: exit 2, one line naming the file and key, no DB. */
Test(pbt_run, oneshot_schedule_refused)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"study\": \"p\", \"storage\": \"%s\", \"sampler\": \"pbt\","
             " \"trial\": {\"data\": {\"dir\": \"%s\", \"limit\": 200},"
             " \"train\": {\"epochs\": 2}, \"prune\": {\"schedule\": \"oneshot\","
             " \"sparsity\": 0.5}},"
             " \"search_space\": {\"reg.l2\": {\"type\": \"float\", \"low\": 1e-6,"
             " \"high\": 1e-2, \"log\": true}}}",
             path_of("s.db"), PT_FASHION_DIR);
    const char *study = write_in("s.json", text);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 1", PT_BIN, study);
    cr_expect_eq(sh(cmd), 2);
    char err[4096];
    slurp("err", err, sizeof err);
    cr_expect_not_null(strstr(err, "s.json: trial.prune.schedule: \"none\" or \"gradual\""), "%s",
                       err);
    cr_expect_eq(strchr(err, '\n'), strrchr(err, '\n'), "one line: %s", err);
    cr_expect_neq(access(path_of("s.db"), F_OK), 0, "no database written");
}
