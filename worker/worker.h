/*
 * worker.h — a search worker: turns trial messages into core/ training runs.
 *
 * worker_run() is the whole life of a worker rank: it sends "ready" to rank 0
 * of comm, then for every "trial" message opens the data (kept open for the
 * next trial while the data config and seed stay the same: loading
 * Fashion-MNIST costs ~0.3 s), trains with pt_train, sends a "report" per
 * epoch (with a pruner it then waits for the "verdict" on it, and stops
 * after the epoch when told to), and answers "result" with the metrics
 * object of core/result.h (followed by the model's .npz bytes when the trial
 * message asked to keep models), or "fail" with the reason when the config
 * is invalid, the data cannot be read or training diverged. It returns on "exit". A trial with "dry_run": true is
 * answered at once with made-up but well-formed metrics (for measuring the
 * scheduler alone).
 *
 * The worker uses proto/ (MPI, or a hub when it is a thread: proto/hub.h)
 * and core/ only: it never touches the study database.
 *
 * parent_pid > 0: the coordinator's process id when it runs on this host
 * (laptop mode); the worker leaves on its own when that process is gone, so a
 * killed `prunetune run` leaves no orphans. 0 (under mpirun): the trial
 * message names the coordinator's process (proto/peer.h), and a
 * worker on its node leaves the same way once it is gone: under `mpirun
 * --enable-recovery` nothing else would end the job. Its "ready" message
 * names this process, so rank 0 learns at once when a worker dies.
 *
 * Returns PT_OK after "exit", PT_ERR_IO when MPI fails or the coordinator is
 * gone (one line in err).
 */
#ifndef WORKER_H
#define WORKER_H

#include "protocol.h"
#include <sys/types.h>

#include "status.h"

/* The rows of the data sets, shared by workers that are threads of one
 * process (a laptop run, proto/hub.h): each file is read once, and each
 * worker keeps only its own split and scaler (the seed's). Thread-safe;
 * free it after every worker using it has returned. */
typedef struct worker_shared worker_shared;
worker_shared *worker_shared_new(void);
void worker_shared_free(worker_shared *w);

/* shared: NULL for a worker that is a process of its own (MPI).
 * *finalize: 1, or 0 when the coordinator's "exit" said the job must end
 * without MPI_Finalize (a rank died: see coordinator/scheduler.c). */
pt_status worker_run(proto_comm comm, pid_t parent_pid, worker_shared *shared, int *finalize,
                     pt_err *err);

#endif
