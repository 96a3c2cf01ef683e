/*
 * cmd_run.c — `prunetune run STUDY.json`: a search, under mpirun or alone.
 *
 * Under `mpirun -np N` rank 0 coordinates (coordinator/scheduler.c) and ranks
 * 1..N-1 are workers (worker/worker.c). Started without mpirun (MPI makes the
 * process a singleton of size 1), the process runs its own workers: as
 * threads on a hub (proto/hub.h) by default, without starting MPI at all,
 * so one copy of the data serves them all (a worker process held 75-90 MB,
 * 55 MB of it Fashion-MNIST), or with --processes as spawned processes
 * (MPI_Comm_spawn of this same binary's hidden `worker` command, merged with
 * MPI_Intercomm_merge), which a crashing or hanging worker cannot take down. The coordinator and the
 * workers run the same code on one proto_comm in every case, and a laptop
 * user needs no MPI knowledge. Only standard MPI-3 calls are used.
 *
 * The study file is validated on rank 0 before anything is spawned or
 * written, and the headers of its data files read (study_probe), so a bad
 * config or missing data exits with 2 and leaves the database untouched.
 */
#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "cli.h"
#include "cli_mpi.h"
#include "confirm.h"
#include "scheduler.h"
#include "study.h"
#include "worker.h"

static void run_usage(FILE *f)
{
    fprintf(f, "usage: prunetune run STUDY.json [--workers K] [--processes] [--force] [--quiet]\n"
               "                     [--dry-run] [...]\n"
               "       mpirun -np N prunetune run STUDY.json [...]\n\n"
               "Runs a search: samples trial configs from the study's search space, trains\n"
               "them on workers and records every trial in the study's SQLite database\n"
               "(Optuna-compatible; see schemas/study.schema.json and examples/study_*.json).\n"
               "Without mpirun it runs its own workers, as threads sharing one copy of the\n"
               "data; under mpirun rank 0 coordinates and the other ranks work. Running it\n"
               "again on the same database resumes the study: finished trials are kept,\n"
               "and new ones are sampled until n_trials are COMPLETE or PRUNED (FAIL trials\n"
               "do not count). The base trial's data files are checked before anything\n"
               "starts; max_failures FAIL trials in a row (study key, default 5) stop the\n"
               "run. One run per study at a time: a second one is refused while the first\n"
               "runs.\n\n"
               "options:\n"
               "  --workers K          workers to start without mpirun (default: the number\n"
               "                       of cores); ignored under mpirun\n"
               "  --processes          without mpirun, start the workers as processes (each\n"
               "                       with its copy of the data) instead of threads: a worker\n"
               "                       that crashes or hangs is given up, the study goes on\n"
               "  --force              resume even if the stored study's space differs\n"
               "  --quiet              no progress or status lines\n"
               "  --dry-run            workers answer instantly with fake metrics (to measure\n"
               "                       the scheduler)\n"
               "  --trial-timeout S    give up a trial, and its worker, after S seconds without\n"
               "                       a message from it (wins over the study's\n"
               "                       trial_timeout_s; default 600)\n"
               "  --exit-file F        write the exit status to F too (mpirun --enable-recovery\n"
               "                       exits 0 whatever its ranks did: a script reads F; no F\n"
               "                       means the coordinator died)\n"
               "  -h, --help           this help\n\n"
               "exit status: 0 study finished, 1 the run failed (database, MPI, every worker\n"
               "lost; some workers lost: after the study ends; max_failures trials failed in\n"
               "a row; no trial completed), 2 bad study config, missing or unreadable data,\n"
               "usage or the study already running (nothing written)\n");
}

typedef struct {
    const char *path;
    const char *exit_file; /* --exit-file: the status, written by rank 0 as it ends */
    int workers;
    int processes; /* --processes: spawned worker processes, not threads */
    sched_opts o;
} run_args;

static int parse_args(run_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    sched_opts_default(&a->o);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        char *end = NULL;
        if (!strcmp(s, "--force")) {
            a->o.force = 1;
        } else if (!strcmp(s, "--quiet")) {
            a->o.quiet = 1;
        } else if (!strcmp(s, "--dry-run")) {
            a->o.dry_run = 1;
        } else if (!strcmp(s, "--processes")) {
            a->processes = 1;
        } else if (!strcmp(s, "--workers") && i + 1 < argc) {
            long k = strtol(argv[++i], &end, 10);
            if (*end || k < 1 || k > 4096) {
                fprintf(stderr, "prunetune run: --workers: expected 1..4096 (got '%s')\n", argv[i]);
                return 0;
            }
            a->workers = (int)k;
        } else if (!strcmp(s, "--exit-file") && i + 1 < argc) {
            a->exit_file = argv[++i];
        } else if (!strcmp(s, "--trial-timeout") && i + 1 < argc) {
            double t = strtod(argv[++i], &end);
            if (*end || !(t > 0)) {
                fprintf(stderr, "prunetune run: --trial-timeout: expected seconds > 0 (got '%s')\n",
                        argv[i]);
                return 0;
            }
            a->o.trial_timeout_s = t;
        } else if (s[0] == '-') {
            fprintf(stderr, "prunetune run: unknown option or missing value '%s' (see --help)\n",
                    s);
            return 0;
        } else if (a->path) {
            fprintf(stderr, "prunetune run: one study file expected, got '%s' and '%s'\n", a->path,
                    s);
            return 0;
        } else {
            a->path = s;
        }
    }
    if (!a->path)
        fprintf(stderr, "prunetune run: a study file is needed (see --help)\n");
    return a->path != NULL;
}

/* Linux lets a 20 us sleep last 70 us by default (50 us timer slack); the
 * coordinator and the workers sleep between polls, so that slack would be
 * added to every message hop. */
static void tight_timers(void)
{
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
#endif
}

/* Starts k workers from a singleton and returns the merged communicator. */
static int spawn_workers(const char *cmd, int k, MPI_Comm *merged, MPI_Comm *inter)
{
    char exe[PATH_MAX], pid[32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        snprintf(exe, sizeof exe, "prunetune"); /* not Linux: from PATH */
    else
        exe[n] = '\0';
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    char *args[] = {"worker", "--parent-pid", pid, NULL};
    int *codes = calloc((size_t)k, sizeof *codes);
    if (!codes)
        return 0;
    int rc = MPI_Comm_spawn(exe, args, k, MPI_INFO_NULL, 0, MPI_COMM_SELF, inter, codes);
    for (int i = 0; rc == MPI_SUCCESS && i < k; i++)
        if (codes[i] != MPI_SUCCESS)
            rc = codes[i];
    free(codes);
    if (rc == MPI_SUCCESS)
        rc = MPI_Intercomm_merge(*inter, 0, merged);
    if (rc != MPI_SUCCESS) {
        char why[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, why, &len);
        /* MPICH's singleton cannot spawn (measured with Debian's MPICH 4.0);
         * mpiexec is the launcher every MPI has. */
        fprintf(stderr,
                "prunetune %s: cannot start %d workers (%s); start them with mpiexec: "
                "mpiexec -n %d prunetune %s ...\n",
                cmd, k, why, k + 1, cmd);
        return 0;
    }
    MPI_Comm_set_errhandler(*merged, MPI_ERRORS_RETURN);
    return 1;
}

/* --exit-file: the status as one line; written last, by rename, so a file
 * that exists is whole. */
static void note_exit(const char *exit_file, int code)
{
    if (!exit_file)
        return;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", exit_file, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && fprintf(f, "%d\n", code) > 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, exit_file) != 0) {
        fprintf(stderr, "prunetune run: --exit-file %s: cannot write it\n", exit_file);
        remove(tmp);
    }
}

typedef struct {
    proto_hub *hub;
    int rank;
    worker_shared *shared;
} thread_arg;

static void *worker_thread(void *p)
{
    thread_arg *a = p;
    pt_err err = {{0}};
    int finalize = 1;
    if (worker_run(proto_on_hub(a->hub, a->rank), 0, a->shared, &finalize, &err) != PT_OK)
        fprintf(stderr, "prunetune worker %d: %s\n", a->rank, err.msg);
    free(a);
    return NULL;
}

static void end_threads(cli_workers *w);

/* Starts k worker threads on a hub of k + 1 ranks. */
static int start_threads(const char *cmd, int k, cli_workers *w)
{
    w->hub = proto_hub_new(k + 1);
    w->shared = worker_shared_new();
    w->threads = calloc((size_t)k, sizeof *w->threads);
    if (!w->hub || !w->shared || !w->threads) {
        fprintf(stderr, "prunetune %s: out of memory starting %d workers\n", cmd, k);
        end_threads(w);
        return 0;
    }
    w->comm = proto_on_hub(w->hub, 0);
    for (int i = 0; i < k; i++) {
        thread_arg *a = malloc(sizeof *a);
        if (a)
            *a = (thread_arg){.hub = w->hub, .rank = i + 1, .shared = w->shared};
        if (!a || pthread_create(&w->threads[i], NULL, worker_thread, a) != 0) {
            free(a);
            fprintf(stderr, "prunetune %s: cannot start worker thread %d of %d\n", cmd, i + 1, k);
            /* The ones started wait for a trial: tell them to leave. */
            sched_dismiss(w->comm);
            end_threads(w);
            return 0;
        }
        w->n_threads = i + 1;
    }
    return 1;
}

int cli_start_workers(const char *cmd, int size, int workers, int processes, int quiet,
                      cli_workers *w)
{
    memset(w, 0, sizeof *w);
    w->comm = proto_over_mpi(MPI_COMM_WORLD);
    w->inter = MPI_COMM_NULL;
    if (size > 1)
        return 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int k = workers > 0 ? workers : (cores > 0 ? (int)cores : 1);
    if (!quiet)
        fprintf(stderr, "starting %d workers (%s, without mpirun)\n", k,
                processes ? "processes" : "threads");
    if (!processes)
        return start_threads(cmd, k, w);
    MPI_Comm merged;
    if (!spawn_workers(cmd, k, &merged, &w->inter))
        return 0;
    w->comm = proto_over_mpi(merged);
    return 1;
}

/* Joins the worker threads (they got "exit") and frees the hub. */
static void end_threads(cli_workers *w)
{
    for (int i = 0; i < w->n_threads; i++)
        pthread_join(w->threads[i], NULL);
    free(w->threads);
    worker_shared_free(w->shared);
    proto_hub_free(w->hub);
    w->threads = NULL;
    w->shared = NULL;
    w->hub = NULL;
    w->n_threads = 0;
}

int cli_end_workers(const char *cmd, cli_workers *w, int lost, int dead, int code,
                    const char *exit_file)
{
    if (lost > 0) {
        /* A lost worker may never reach MPI_Finalize; end the job rather than
         * wait on it. Under mpirun, by exiting: mpirun then ends the other
         * ranks itself. MPI_Abort does the same, but Open MPI 4.1's mpirun
         * hung after it in about one run in three here (its help-message
         * path: "ORTE_ERROR_LOG: Out of resource in show_help.c"). Spawned
         * workers have no mpirun: MPI_Abort is what reaches them. A lost
         * thread cannot be joined: the process ends with it. */
        fprintf(stderr, "prunetune %s: %d worker(s) lost; ending the %s\n", cmd, lost,
                w->hub ? "process" : "MPI job");
        note_exit(exit_file, PT_EXIT_FAIL);
        if (w->inter == MPI_COMM_NULL) {
            fflush(NULL);
            _exit(PT_EXIT_FAIL);
        }
        MPI_Abort(w->comm.mpi, PT_EXIT_FAIL);
    }
    if (dead > 0) {
        /* A worker died under mpirun --enable-recovery: the study is done
         * without it, but MPI_Finalize may wait for it for ever (see
         * dismiss_live in coordinator/scheduler.c); the workers were told to
         * leave without it too. */
        fprintf(stderr,
                "prunetune %s: %d worker(s) died during the run (a trial they ran was sampled "
                "again); leaving without MPI_Finalize\n",
                cmd, dead);
        note_exit(exit_file, code);
        fflush(NULL);
        _exit(code);
    }
    if (w->hub) {
        end_threads(w);
        return code;
    }
    if (w->inter != MPI_COMM_NULL) {
        MPI_Comm_free(&w->comm.mpi);
        MPI_Comm_disconnect(&w->inter);
    }
    return code;
}

static int coordinate(void *ctx, int size)
{
    const run_args *a = ctx;
    study_config sc;
    pt_err err = {{0}};
    /* Data that cannot be read would fail every trial: say so once, before
     * a worker starts or the database is touched. */
    pt_status checked = study_load(&sc, a->path, &err);
    if (checked == PT_OK && (checked = study_probe(&sc, a->path, &err)) != PT_OK)
        study_free(&sc);
    /* A PBT study's fixed epochs and schedule kind; n_trials = P * G. */
    if (checked == PT_OK && (checked = sched_pbt_prepare(&sc, a->path, &err)) != PT_OK)
        study_free(&sc);
    if (checked != PT_OK) {
        fprintf(stderr, "prunetune run: %s\n", err.msg);
        if (size > 1)
            sched_dismiss(proto_over_mpi(MPI_COMM_WORLD));
        return PT_EXIT_USAGE;
    }
    cli_workers w;
    if (!cli_start_workers("run", size, a->workers, a->processes, a->o.quiet, &w)) {
        study_free(&sc);
        return PT_EXIT_FAIL;
    }
    proto_comm comm = w.comm;
    int n_ranks = proto_size(comm);
    sched_summary sum;
    sched_opts o = a->o;
    /* With a confirmation the same workers run it after the search. */
    int *pool = sc.confirm_top > 0 ? calloc((size_t)n_ranks, sizeof *pool) : NULL;
    o.pool = pool;
    pt_status st = sc.confirm_top > 0 && !pool
                       ? pt_fail(&err, PT_ERR_NOMEM, "out of memory")
                       : sched_run(comm, &sc, &o, &sum, &err);
    int lost = sum.lost, dead = sum.dead;
    if (st == PT_OK && pool) {
        st = confirm_run(comm, &sc, sc.confirm_top, sc.confirm_seeds, &o, &sum, &err);
        if (st == PT_ERR_STOPPED) { /* the search found nothing to confirm: said, not failed */
            fprintf(stderr, "prunetune run: no confirmation: %s\n", err.msg);
            st = PT_OK;
        }
    }
    if (pool)
        lost = sched_pool_dismiss(comm, pool, &dead);
    free(pool);
    study_free(&sc);
    if (st != PT_OK)
        fprintf(stderr, "prunetune run: %s\n", err.msg);
    int code = st == PT_OK ? PT_EXIT_OK : st == PT_ERR_CONFIG ? PT_EXIT_USAGE : PT_EXIT_FAIL;
    return cli_end_workers("run", &w, lost, dead, code, a->exit_file);
}

/* Whether an MPI launcher started this process: the variables mpirun (Open
 * MPI 4 and 5), MPICH's and Intel's mpiexec (hydra) and Slurm's srun (PMI-2
 * or PMIx) give every rank. A false "yes" only costs an MPI_Init. */
static int mpi_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "PMI_SIZE", "PMI_FD", "MPI_LOCALNRANKS",
                                       "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

int cli_mpi_main(int *argc, char ***argv, int (*coordinate_fn)(void *ctx, int size), void *ctx,
                 const char *exit_file, int processes)
{
    /* Alone with worker threads, MPI has nothing to do: it is not started
     * (Open MPI's singleton costs ~8 MB and ~0.1 s, and fails where its
     * shared memory or network cannot be set up). */
    if (!processes && !mpi_launched()) {
        tight_timers();
        int code = coordinate_fn(ctx, 1);
        note_exit(exit_file, code);
        return code;
    }
    /* Alone with worker threads but MPI started anyway (a variable above set
     * by something else): Open MPI's singleton then needs no supporting
     * daemon; under mpirun the singleton's settings are not read. */
    if (!processes)
        setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
    /* A laptop may want more workers than cores (Open MPI refuses by default;
     * other MPIs ignore the variable). */
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
    /* Without mpirun, a spawned worker that dies would take the others
     * with it (Open MPI's default); what `mpirun --enable-recovery` does,
     * for the job this process starts. */
    setenv("OMPI_MCA_orte_enable_recovery", "1", 0);
    tight_timers();
    MPI_Init(argc, argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, size = 1, code = PT_EXIT_OK;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0) {
        code = coordinate_fn(ctx, size);
        note_exit(exit_file, code);
    } else {
        pt_err err = {{0}};
        int finalize = 1;
        if (worker_run(proto_over_mpi(MPI_COMM_WORLD), 0, NULL, &finalize, &err) != PT_OK) {
            fprintf(stderr, "prunetune worker %d: %s\n", rank, err.msg);
            /* Its coordinator may be gone (mpirun --enable-recovery keeps
             * the job): MPI_Finalize could wait on it forever. */
            fflush(NULL);
            _exit(PT_EXIT_FAIL);
        }
        if (!finalize) { /* a rank died: MPI_Finalize could wait on it */
            fflush(NULL);
            _exit(PT_EXIT_OK);
        }
    }
    MPI_Finalize();
    return code;
}

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        run_usage(stdout);
        return PT_EXIT_OK;
    }
    run_args a;
    if (!parse_args(&a, argc, argv))
        return PT_EXIT_USAGE;
    return cli_mpi_main(&argc, &argv, coordinate, &a, a.exit_file, a.processes);
}

/* The hidden command `prunetune run --processes` spawns: `prunetune worker --parent-pid PID`. */
int cmd_worker(int argc, char **argv)
{
    long ppid = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--parent-pid"))
            ppid = strtol(argv[i + 1], NULL, 10);
    tight_timers();
    MPI_Init(&argc, &argv);
    MPI_Comm parent = MPI_COMM_NULL, comm;
    MPI_Comm_get_parent(&parent);
    if (parent == MPI_COMM_NULL) {
        fprintf(stderr, "prunetune worker: started by `prunetune run`, not by hand\n");
        MPI_Finalize();
        return PT_EXIT_USAGE;
    }
    MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
    MPI_Intercomm_merge(parent, 1, &comm);
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    pt_err err = {{0}};
    int finalize = 1;
    if (worker_run(proto_over_mpi(comm), (pid_t)ppid, NULL, &finalize, &err) != PT_OK) {
        int rank = 0;
        MPI_Comm_rank(comm, &rank);
        fprintf(stderr, "prunetune worker %d: %s\n", rank, err.msg);
        /* The coordinator is gone: MPI_Finalize could wait on it forever. */
        _exit(PT_EXIT_FAIL);
    }
    MPI_Comm_free(&comm);
    MPI_Comm_disconnect(&parent);
    MPI_Finalize();
    return PT_EXIT_OK;
}
