/*
 * run_fixture.h — what the tests that run real studies through `prunetune run`
 * share (test_run.c, test_models.c, test_pruner.c): a temp dir set up with the
 * environment mpirun and the sanitizers need, paths in it, a shell runner that
 * keeps stdout/stderr in files there, and reads of the study's SQLite file.
 * Static inline functions: each test program gets its own copy, and the ones a
 * program does not use cost no warning.
 */
#ifndef TEST_RUN_FIXTURE_H
#define TEST_RUN_FIXTURE_H

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

static char tmpdir[] = "/tmp/pt_run_XXXXXX";

static inline void run_setup(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
    /* CI runs as root, and 3+ ranks on a 2-core machine oversubscribe. */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    /* Open MPI's own allocations outlive MPI_Finalize; only ours may leak-fail.
     * Its plug-ins stay loaded so the suppressions can name them. */
    setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 1);
    setenv("LSAN_OPTIONS",
           "suppressions=" PT_SOURCE_DIR "/tests/lsan.supp:print_suppressions=0", 1);
    /* Open MPI is built without frame pointers: only the slow unwinder gets
     * through its frames to the library names the suppressions match. */
    static char asan[1024];
    const char *old = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "%s%sfast_unwind_on_malloc=0", old ? old : "", old ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
}

static inline void run_teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

/* tmpdir/name; the last four results stay valid, so a call can take several. */
static inline const char *path_of(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

/* Writes text to tmpdir/name; returns its path (valid until the next call). */
static inline const char *write_in(const char *name, const char *text)
{
    static char p[512];
    snprintf(p, sizeof p, "%s", path_of(name));
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* Runs a shell command line with stdout/stderr into tmpdir/out and
 * tmpdir/err; returns the exit code. */
static inline int sh(const char *cmdline)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s >'%s' 2>'%s'", cmdline, path_of("out"), path_of("err"));
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* tmpdir/name into buf, cut to cap - 1 bytes; empty when there is no file. */
static inline void slurp(const char *name, char *buf, size_t cap)
{
    FILE *f = fopen(path_of(name), "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* tmpdir/study.db, read-only; waits out a writer's lock for up to 2 s. */
static inline sqlite3 *db_open(void)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path_of("study.db"), &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    return db;
}

/* The first column of the first row of sql; -1 when there is no row. */
static inline double q_num(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    double v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_double(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

static inline int q_int(sqlite3 *db, const char *sql)
{
    return (int)q_num(db, sql);
}

#endif
