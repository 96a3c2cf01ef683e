/*
 * stall_worker.c — a worker rank that stops in the middle of its answer, for
 * test_run.c: launched beside `prunetune run` in one mpirun (MPMD), it speaks
 * the protocol (proto/protocol.h) as worker/worker.c does, but after
 * its first result, which announces 1 MiB of model, it starts sending them
 * (MPI_Isend) and then makes no MPI call for STALL_S seconds (argv[1]).
 * Over TCP (the test runs the job with btl self,tcp) a message that size
 * goes by rendezvous: the receiver sees it coming, but the data moves only
 * as the sender progresses. That is a worker stopped in its model send, a
 * window of a few ms in a real one, made certain here.
 *
 * Afterwards it completes the send and answers every trial at once (no model)
 * until "exit", or until it has heard nothing for 3 s (a worker given up as
 * lost gets no "exit" when the study ends before it is back).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol.h"

#define MODEL_LEN (1 << 20)

static int answer(MPI_Comm comm, const cJSON *trial, int model_len)
{
    pt_err err = {{0}};
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "trial_id", proto_num(trial, "trial_id", -1));
    cJSON *metrics = cJSON_AddObjectToObject(m, "metrics");
    cJSON_AddNumberToObject(metrics, "val_acc", 0.25);
    cJSON_AddNumberToObject(metrics, "sparsity", 0);
    cJSON_AddBoolToObject(m, "stopped", 0);
    cJSON_AddNumberToObject(m, "model_bytes", model_len);
    pt_status st = proto_send(proto_over_mpi(comm), 0, MSG_RESULT, m, &err);
    cJSON_Delete(m);
    if (st != PT_OK)
        fprintf(stderr, "stall_worker: %s\n", err.msg);
    return st == PT_OK;
}

int main(int argc, char **argv)
{
    double stall_s = argc > 1 ? atof(argv[1]) : 5;
    MPI_Init(&argc, &argv);
    MPI_Comm comm = MPI_COMM_WORLD;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    pt_err err = {{0}};
    cJSON *hello = cJSON_CreateObject();
    int ok = proto_send(proto_over_mpi(comm), 0, MSG_READY, hello, &err) == PT_OK;
    cJSON_Delete(hello);
    for (int first = 1; ok;) {
        cJSON *msg = NULL;
        int src = 0, tag = 0;
        if (proto_wait(proto_over_mpi(comm), 0, MPI_ANY_TAG, first ? 30 : 3, &msg, &src, &tag, &err) != PT_OK)
            break;
        if (tag == MSG_TRIAL && first) {
            static unsigned char model[MODEL_LEN];
            MPI_Request req = MPI_REQUEST_NULL;
            ok = answer(comm, msg, MODEL_LEN) &&
                 MPI_Isend(model, MODEL_LEN, MPI_BYTE, 0, MSG_MODEL, comm, &req) == MPI_SUCCESS;
            struct timespec ts = {(time_t)stall_s, (long)((stall_s - (time_t)stall_s) * 1e9)};
            nanosleep(&ts, NULL);
            ok = ok && MPI_Wait(&req, MPI_STATUS_IGNORE) == MPI_SUCCESS;
            first = 0;
        } else if (tag == MSG_TRIAL) {
            ok = answer(comm, msg, 0);
        }
        cJSON_Delete(msg);
        if (tag == MSG_EXIT)
            break;
    }
    MPI_Finalize();
    return 0;
}
