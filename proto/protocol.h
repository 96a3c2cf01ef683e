/*
 * protocol.h — the coordinator <-> worker messages: JSON text over MPI, or
 * between threads of one process through a hub (hub.h).
 *
 * Every message is one JSON object sent as MPI_CHAR with the tag of its
 * type; the object also carries "type" (the name below) and "v"
 * (PROTO_VERSION), so a log or a mismatched peer can be read by eye.
 * schemas/messages/<type>.schema.json documents each one. Tags and field
 * names reach other processes: always add at the end, never renumber.
 *
 *   ready   worker -> 0  {pid, start, node}          first message of a worker
 *                                                    (its process: peer.h)
 *   trial   0 -> worker  {trial_id, number, config, report_metric, dry_run,
 *                         verdicts, keep_model, objectives, coordinator}
 *   report  worker -> 0  {trial_id, epoch, value, loss, val_acc, sparsity}
 *   stop    0 -> worker  {trial_id}                  stop that trial after this epoch
 *                                                    (superseded by verdict; still obeyed)
 *   result  worker -> 0  {trial_id, metrics, stopped, model_bytes} the final metrics
 *   fail    worker -> 0  {trial_id, reason}
 *   exit    0 -> worker  {finalize}                  no more work: leave the loop
 *                                                    (finalize false: a rank died,
 *                                                    leave without MPI_Finalize)
 *   verdict 0 -> worker  {trial_id, epoch, stop}     the answer to every report
 *                                                    when the trial said verdicts
 *   model   worker -> 0  raw .npz bytes (MPI_BYTE), right after a result with
 *                        model_bytes > 0: not JSON (schemas/messages/model.md)
 *   checkpoint 0 -> worker  raw .npz bytes (MPI_BYTE), right after a trial
 *                        message with checkpoint_bytes > 0: the weights and
 *                        mask a PBT member's interval starts from
 *                        (schemas/messages/checkpoint.md)
 *
 * result and fail also mean "I am free": a worker sends ready only once.
 *
 * Verdicts: with a pruner, a worker waits after each report for the verdict
 * on it before training the next epoch, so a stop takes effect on the epoch
 * the pruner judged (without the wait, the stop was read one epoch late).
 * Without a pruner there is no verdict and no wait.
 *
 * Receiving never blocks in MPI: Open MPI's blocking receive busy-polls a
 * core, so proto_wait() polls with MPI_Improbe and pauses between polls,
 * first yielding the core, then sleeping from 20 us doubling to 10 ms.
 * MPI_Improbe/MPI_Mrecv (MPI-3) make the probe-then-receive pair safe when
 * several loops receive. Only standard MPI-3 calls are used (no Open MPI
 * extensions), so MPICH works too.
 *
 * Errors: pt_status with one line in err (PT_ERR_IO for an MPI failure,
 * PT_ERR_FORMAT for a message that is not a JSON object of its type).
 * Memory: a received *msg is the caller's (cJSON_Delete).
 */
#ifndef PROTO_PROTOCOL_H
#define PROTO_PROTOCOL_H

#include <cjson/cJSON.h>
#include <mpi.h>
#include <stddef.h>

#include "hub.h"
#include "status.h"

#define PROTO_VERSION 1

/* Where messages go: an MPI communicator (workers are processes: mpirun, or
 * spawned), or a hub whose ranks are threads of this process (a laptop run).
 * The calls below behave the same on both; on a hub a send never waits and a
 * wait sleeps until a message comes. MPI_ANY_SOURCE and MPI_ANY_TAG keep
 * their meaning on a hub. */
typedef struct {
    MPI_Comm mpi;   /* MPI_COMM_NULL on a hub */
    proto_hub *hub; /* NULL over MPI */
    int rank;       /* this thread's rank on the hub */
} proto_comm;

proto_comm proto_over_mpi(MPI_Comm comm);
proto_comm proto_on_hub(proto_hub *hub, int rank);
/* The number of ranks (coordinator + workers). */
int proto_size(proto_comm comm);

typedef enum {
    MSG_READY = 1,
    MSG_TRIAL = 2,
    MSG_REPORT = 3,
    MSG_STOP = 4,
    MSG_RESULT = 5,
    MSG_FAIL = 6,
    MSG_EXIT = 7,
    MSG_VERDICT = 8,
    MSG_MODEL = 9,
    MSG_CHECKPOINT = 10
} proto_tag;

/* "ready", "trial", ...; "?" for an unknown tag. */
const char *proto_name(int tag);

/* Sends msg (adds "type" and "v"; msg stays the caller's) to dest with its tag. */
pt_status proto_send(proto_comm comm, int dest, int tag, cJSON *msg, pt_err *err);

/* Sends that never wait for the receiver. A message above the transport's
 * eager limit (a trial config is ~3-4 KB, Open MPI's shared-memory limit 4 KB)
 * makes MPI_Send wait, busy-polling, until the worker posts its receive; the
 * coordinator must not, so it queues such sends in an outbox and lets
 * proto_outbox_progress() retire them from its loop. */
typedef struct {
    int n, cap;
    MPI_Request *req;
    char **text;
} proto_outbox;

/* As proto_send, but returns at once; the text lives in box until sent. */
pt_status proto_isend(proto_comm comm, int dest, int tag, cJSON *msg, proto_outbox *box, pt_err *err);
/* Retires completed sends; returns how many are still in flight. */
int proto_outbox_progress(proto_outbox *box);
/* Waits (sleeping between tests) up to timeout_s for every send, then frees the
 * box; sends still in flight are cancelled. */
void proto_outbox_close(proto_outbox *box, double timeout_s);

/* Non-blocking receive of a message from source (or MPI_ANY_SOURCE) with
 * tag (or MPI_ANY_TAG). Returns PT_OK with *msg set, *src and *tag_out
 * filled; PT_ERR_STOPPED when nothing is waiting (*msg NULL); errors. A
 * binary "model" message is received and dropped, as if nothing were
 * waiting (only proto_poll_bytes' caller expects one). */
pt_status proto_poll(proto_comm comm, int source, int tag, cJSON **msg, int *src, int *tag_out,
                     pt_err *err);

/* A binary message being received: MPI_Imrecv into buf. A sender stopped
 * in the middle of a large send (rendezvous: the data moves only as both
 * sides progress) would hold a blocking receive forever; this one is tested
 * between other work instead, and its owner gives up on it by time. */
typedef struct {
    MPI_Request req;
    void *buf;
    size_t len;
} proto_bytes_in;

/* As proto_poll, but a "model" message is handed over: PT_OK with *msg
 * NULL, *tag_out MSG_MODEL, *src, and its receive started in *in (finish it
 * with proto_bytes_test). One poll for everything keeps the bytes from being
 * matched, and dropped, by a wildcard receive that polls for the JSON
 * messages. */
pt_status proto_poll_bytes(proto_comm comm, int source, int tag, cJSON **msg, int *src, int *tag_out,
                           proto_bytes_in *in, pt_err *err);

/* 1 when in's bytes have all arrived (in->buf, in->len), 0 while they are on
 * their way, -1 on an MPI error (buf freed). */
int proto_bytes_test(proto_bytes_in *in);

/* Frees in's buffer once its receive is over. One that never ended (its
 * sender given up) keeps its buffer: MPI may still write into it, and the
 * process ends soon after (see cli/cmd_run.c). */
void proto_bytes_release(proto_bytes_in *in);

/* As proto_poll, but waits up to timeout_s (< 0: forever) sleeping with
 * back-off between polls. PT_ERR_STOPPED on timeout. */
pt_status proto_wait(proto_comm comm, int source, int tag, double timeout_s, cJSON **msg, int *src,
                     int *tag_out, pt_err *err);

/* As proto_isend, for raw bytes (a checkpoint, rank 0 -> worker): a copy of
 * buf[0..len) lives in box until sent. */
pt_status proto_isend_bytes(proto_comm comm, int dest, int tag, const void *buf, size_t len,
                            proto_outbox *box, pt_err *err);

/* The model message: len raw bytes, blocking send (the worker has nothing
 * else to do; rank 0 receives it with proto_poll_bytes, without waiting). */
pt_status proto_send_bytes(proto_comm comm, int dest, int tag, const void *buf, size_t len,
                           pt_err *err);

/* Sends for a rank whose receiver may die. A blocking MPI_Send of a message
 * above the eager limit (a result, a model) to a SIGKILLed rank never
 * returns and never fails in Open MPI 4.1 (it spins in the PML), which under
 * `mpirun --enable-recovery` keeps the whole job alive. These send with
 * MPI_Isend and test, pausing as proto_wait does, and ask gone(ctx) about
 * once a second: when it answers 1 the send is abandoned with PT_ERR_IO
 * ("rank N is gone"). An abandoned send's buffer stays MPI's (it is never
 * freed): the caller is expected to end the process. gone NULL: a plain
 * wait. */
typedef int (*proto_gone_fn)(void *ctx);
pt_status proto_send_watched(proto_comm comm, int dest, int tag, cJSON *msg, proto_gone_fn gone,
                             void *ctx, pt_err *err);
pt_status proto_send_bytes_watched(proto_comm comm, int dest, int tag, const void *buf, size_t len,
                                   proto_gone_fn gone, void *ctx, pt_err *err);
/* Receives the len-byte tag message from source into buf (a checkpoint,
 * announced by the message before it), asking gone(ctx) about once a second
 * while it waits: PT_ERR_IO when it answers 1 or the message is not len
 * bytes. */
pt_status proto_recv_bytes_watched(proto_comm comm, int source, int tag, void *buf, size_t len,
                                   proto_gone_fn gone, void *ctx, pt_err *err);
/* The sleep of the back-off after `idle` empty polls, in nanoseconds (0 =
 * just yield the core), and the pause itself. */
#define PROTO_SPIN_POLLS 32
long proto_backoff_ns(int idle);
void proto_pause(int idle);

/* Turns the len received bytes of a tag message from rank src into *msg
 * (the caller's, cJSON_Delete), without any MPI call, so it can be tested
 * and fuzzed on its own (tests/fuzz/fuzz_protocol.c). The text ends at the
 * first NUL or after len bytes. PT_ERR_FORMAT, *msg NULL, when it is not a
 * JSON object or when trial_id, number or epoch is present but not an
 * integer in int range, or model_bytes not one in [0, 2^31 - 1]: the
 * readers cast them (proto_num), which no longer needs a range check. */
pt_status proto_decode(int tag, int src, const char *bytes, size_t len, cJSON **msg, pt_err *err);

/* Field readers that tolerate absence: the number or dflt / the string or NULL. */
double proto_num(const cJSON *msg, const char *key, double dflt);
const char *proto_str(const cJSON *msg, const char *key);

#endif
