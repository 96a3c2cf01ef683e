/*
 * job_fixture.h — starting, watching and killing the MPI jobs of
 * `prunetune run` in a test (test_run.c, test_fault.c): the job in the
 * background, its ranks' pids, the study's COMPLETE count while it runs,
 * and a wait that survives Open MPI 4.1's shutdown hangs. Needs
 * run_fixture.h first. Static inline functions, as in run_fixture.h.
 */
#ifndef TEST_JOB_FIXTURE_H
#define TEST_JOB_FIXTURE_H

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run_fixture.h"

static inline int count_complete(void)
{
    struct stat sb;
    if (stat(path_of("study.db"), &sb) != 0)
        return 0;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path_of("study.db"), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    sqlite3_busy_timeout(db, 1000);
    sqlite3_stmt *s = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'", -1, &s,
                           NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* Waits up to limit_s for min COMPLETE trials in the study; how many there are. */
static inline int wait_complete_for(int min, double limit_s)
{
    int done = 0;
    for (int i = 0; i < limit_s * 50 && (done = count_complete()) < min; i++) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    return done;
}

/* Waits up to 12 s for min COMPLETE trials in the study; how many there are. */
static inline int wait_complete(int min)
{
    return wait_complete_for(min, 12);
}

/* Starts a command line (argv, NULL-ended; mpirun or the binary), stdout
 * and stderr into tmpdir/out1 and err1. */
static inline pid_t job_start(char *const argv[])
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        freopen(path_of("err1"), "w", stderr);
        freopen(path_of("out1"), "w", stdout);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* The pids of an mpirun's children (its ranks), up to cap; how many. */
static inline int children_of(pid_t mpirun, pid_t *pids, int cap)
{
    char cmdline[64];
    snprintf(cmdline, sizeof cmdline, "pgrep -P %d", (int)mpirun);
    FILE *p = popen(cmdline, "r");
    int n = 0, pid = 0;
    while (p && n < cap && fscanf(p, "%d", &pid) == 1)
        pids[n++] = pid;
    if (p)
        pclose(p);
    return n;
}

/* The pid of rank `rank` among an mpirun's children (Open MPI gives each its
 * rank in OMPI_COMM_WORLD_RANK), or 0. */
static inline pid_t rank_pid(pid_t mpirun, int rank)
{
    char want[64], path[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    pid_t pids[16];
    int n = children_of(mpirun, pids, 16), found = 0, i;
    for (i = 0; i < n && !found; i++) {
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pids[i]);
        FILE *f = fopen(path, "r");
        char *entry = NULL;
        size_t cap = 0;
        while (f && !found && getdelim(&entry, &cap, '\0', f) > 0)
            found = !strcmp(entry, want);
        free(entry);
        if (f)
            fclose(f);
    }
    return found ? pids[i - 1] : 0;
}

/* Whether process pid has ended: gone, or exited and not yet reaped ('Z'). */
static inline int ended(pid_t pid)
{
    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    int ok = f && fscanf(f, "%*d (%*[^)]) %c", &state) == 1;
    if (f)
        fclose(f);
    return !ok || state == 'Z';
}

/* Whether every rank of the job has ended. */
static inline int ranks_ended(pid_t mpirun)
{
    pid_t pids[16];
    int n = children_of(mpirun, pids, 16);
    for (int i = 0; i < n; i++)
        if (!ended(pids[i]))
            return 0;
    return 1;
}

/* Waits up to limit_s for the job of mpirun (stderr in tmpdir/errname) to
 * end; its exit code, or -1 when it was still running (then it is killed).
 *
 * Open MPI 4.1 with Debian's PMIx: after a job that mpirun ended itself (a
 * rank exited non-zero, the others were killed), mpirun deadlocks now and
 * then in PMIx_server_finalize (seen here in about one run in ten, every
 * rank a zombie). The job is over by then; after 5 s in that state mpirun
 * is killed and the code is the one it printed ("Exit code: N"). */
static inline int job_wait(pid_t mpirun, const char *errname, double limit_s)
{
    int wst = 0, over = 0;
    for (int i = 0; i < limit_s * 10; i++) {
        if (waitpid(mpirun, &wst, WNOHANG) == mpirun)
            return WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
        over = ranks_ended(mpirun) ? over + 1 : 0;
        if (over >= 50) {
            kill(mpirun, SIGKILL);
            waitpid(mpirun, &wst, 0);
            char err[1 << 15];
            slurp(errname, err, sizeof err);
            const char *c = strstr(err, "Exit code:");
            return c ? atoi(c + strlen("Exit code:")) : 128;
        }
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    /* ranks first: a SIGKILLed mpirun leaves them running, orphaned */
    pid_t pids[16];
    int n = children_of(mpirun, pids, 16);
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    kill(mpirun, SIGKILL);
    waitpid(mpirun, NULL, 0);
    return -1;
}

#endif
