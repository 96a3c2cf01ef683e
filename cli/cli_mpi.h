/*
 * cli_mpi.h — what the commands that run trials on workers share
 * (cmd_run.c, cmd_confirm.c; defined in cmd_run.c): the MPI start, the
 * workers of a laptop run, and the end of the job.
 *
 * Under `mpirun -np N` rank 0 coordinates and ranks 1..N-1 are workers;
 * started alone, rank 0 runs its workers as threads of its own process, on a
 * hub (proto/hub.h), or with --processes spawns them (MPI_Comm_spawn of
 * this binary's hidden `worker` command) and merges both sides into one
 * communicator. Threads share one copy of the data and start no MPI
 * daemon; processes isolate a worker that crashes or hangs (it is given up,
 * the study goes on).
 */
#ifndef PT_CLI_MPI_H
#define PT_CLI_MPI_H

#include <mpi.h>
#include <pthread.h>

#include "protocol.h"
#include "worker.h"

/* MPI_Init, then rank 0 returns coordinate_fn(ctx, world size) (written to
 * exit_file too, when not NULL) and the other ranks run worker_run;
 * MPI_Finalize, unless a rank died (then _exit). Returns the exit code.
 * processes: rank 0 alone will spawn worker processes (--processes). */
int cli_mpi_main(int *argc, char ***argv, int (*coordinate_fn)(void *ctx, int size), void *ctx,
                 const char *exit_file, int processes);

/* The workers rank 0 coordinates. */
typedef struct {
    proto_comm comm;       /* the coordinator's end: rank 0 of the MPI job or of the hub */
    MPI_Comm inter;        /* spawned worker processes: their intercommunicator */
    proto_hub *hub;        /* worker threads: their hub (ranks 1..n_threads) */
    pthread_t *threads;
    int n_threads;
    worker_shared *shared; /* the threads' data rows */
} cli_workers;

/* Rank 0: the world under mpirun (size > 1); alone, `workers` workers (0 =
 * one per core), as threads of this process sharing one copy of the data
 * (the default), or with `processes` as spawned processes merged with this
 * one. 0 with one line on stderr when they cannot start. */
int cli_start_workers(const char *cmd, int size, int workers, int processes, int quiet,
                      cli_workers *w);

/* After the workers got "exit": with lost workers ends the job with exit 1,
 * with dead ones (mpirun --enable-recovery) leaves with `code` without
 * MPI_Finalize (either may never reach it), else joins or frees what
 * cli_start_workers made and returns code. exit_file as cli_mpi_main's. */
int cli_end_workers(const char *cmd, cli_workers *w, int lost, int dead, int code,
                    const char *exit_file);

#endif
