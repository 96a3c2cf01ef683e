/*
 * cli_mpi.h — what the commands that run trials on workers share
 * (cmd_run.c, cmd_confirm.c; defined in cmd_run.c): the MPI start, the
 * workers of a laptop run, and the end of the job.
 *
 * Under `mpirun -np N` rank 0 coordinates and ranks 1..N-1 are workers;
 * started alone, rank 0 spawns its workers (MPI_Comm_spawn of this binary's
 * hidden `worker` command) and merges both sides into one communicator.
 */
#ifndef PT_CLI_MPI_H
#define PT_CLI_MPI_H

#include <mpi.h>

/* MPI_Init, then rank 0 returns coordinate_fn(ctx, world size) (written to
 * exit_file too, when not NULL) and the other ranks run worker_run;
 * MPI_Finalize, unless a rank died (then _exit). Returns the exit code. */
int cli_mpi_main(int *argc, char ***argv, int (*coordinate_fn)(void *ctx, int size), void *ctx,
                 const char *exit_file);

/* Rank 0: comm = the world under mpirun (size > 1), else `workers` spawned
 * workers (0 = one per core) merged with this process (*inter their
 * intercommunicator). 0 with one line on stderr when they cannot start. */
int cli_start_workers(const char *cmd, int size, int workers, int quiet, MPI_Comm *comm,
                      MPI_Comm *inter);

/* After the workers got "exit": with lost workers ends the job with exit 1,
 * with dead ones (mpirun --enable-recovery) leaves with `code` without
 * MPI_Finalize (either may never reach it), else frees what
 * cli_start_workers made and returns code. exit_file as cli_mpi_main's. */
int cli_end_workers(const char *cmd, MPI_Comm comm, MPI_Comm inter, int lost, int dead, int code,
                    const char *exit_file);

#endif
