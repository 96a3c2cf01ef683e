/*
 * stall_worker.c — a worker rank that stops in the middle of its answer, for
 * test_run.c: launched beside `prunetune run` in one mpirun (MPMD), it speaks
 * the protocol (coordinator/protocol.h) as worker/worker.c does, but after
 * its first result, which announces model bytes, it sends nothing for
 * STALL_S seconds (argv[1]). That is a worker stopped during its model send,
 * a window of a few ms in a real one, made certain here.
 *
 * Afterwards it sends the bytes and answers every trial at once (no model)
 * until "exit", or until it has heard nothing for 3 s (a worker given up as
 * lost gets no "exit" when the study ends before it is back).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol.h"

#define MODEL_LEN 4096

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
    pt_status st = proto_send(comm, 0, MSG_RESULT, m, &err);
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
    int ok = proto_send(comm, 0, MSG_READY, hello, &err) == PT_OK;
    cJSON_Delete(hello);
    for (int first = 1; ok;) {
        cJSON *msg = NULL;
        int src = 0, tag = 0;
        if (proto_wait(comm, 0, MPI_ANY_TAG, first ? 30 : 3, &msg, &src, &tag, &err) != PT_OK)
            break;
        if (tag == MSG_TRIAL && first) {
            ok = answer(comm, msg, MODEL_LEN);
            struct timespec ts = {(time_t)stall_s, (long)((stall_s - (time_t)stall_s) * 1e9)};
            nanosleep(&ts, NULL);
            static unsigned char model[MODEL_LEN];
            ok = ok && proto_send_bytes(comm, 0, MSG_MODEL, model, sizeof model, &err) == PT_OK;
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
