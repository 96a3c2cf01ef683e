/*
 * protocol.c — JSON messages over MPI or a hub (see protocol.h).
 *
 * A message is small (a trial config is ~3 KB of JSON), so each one is
 * printed unformatted and sent with MPI_Send; the receiver learns its size
 * from the matched probe. The cost per message is a cJSON print and parse,
 * a few microseconds, far below a trial; the scheduling benchmark
 * (scripts/bench_sched) measures the whole round trip.
 */
#include "protocol.h"

#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sysinfo.h"

static const char *const names[] = {"?",      "ready", "trial", "report",  "stop",
                                    "result", "fail",  "exit",  "verdict", "model",
                                    "checkpoint"};

const char *proto_name(int tag)
{
    return tag >= MSG_READY && tag <= MSG_CHECKPOINT ? names[tag] : names[0];
}

proto_comm proto_over_mpi(MPI_Comm comm)
{
    return (proto_comm){.mpi = comm, .hub = NULL, .rank = 0};
}

proto_comm proto_on_hub(proto_hub *hub, int rank)
{
    return (proto_comm){.mpi = MPI_COMM_NULL, .hub = hub, .rank = rank};
}

int proto_size(proto_comm comm)
{
    if (comm.hub)
        return proto_hub_size(comm.hub);
    int size = 1;
    MPI_Comm_size(comm.mpi, &size);
    return size;
}

/* MPI's wildcards as the hub's (-1). */
static int hub_any(int v, int any)
{
    return v == any ? -1 : v;
}

/* Puts text (malloc'ed, handed over) in dest's inbox on comm's hub. */
static pt_status hub_send(proto_comm comm, int dest, int tag, void *text, size_t len, pt_err *err)
{
    if (proto_hub_put(comm.hub, comm.rank, dest, tag, text, len) != 0)
        return pt_fail(err, PT_ERR_IO, "protocol: sending %s: no rank %d", proto_name(tag), dest);
    return PT_OK;
}

/* A malloc'ed copy of buf[0..len). */
static void *copy_of(const void *buf, size_t len)
{
    void *c = malloc(len ? len : 1);
    if (c && len)
        memcpy(c, buf, len);
    return c;
}

static void mpi_reason(int rc, char *buf)
{
    int len = 0;
    if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS)
        strcpy(buf, "unknown MPI error");
}

/* The one-line error of a send of a tag message to dest that MPI refused. */
static pt_status send_failed(pt_err *err, int rc, int tag, int dest)
{
    char why[MPI_MAX_ERROR_STRING];
    mpi_reason(rc, why);
    return pt_fail(err, PT_ERR_IO, "protocol: sending %s to rank %d: %s", proto_name(tag), dest,
                   why);
}

static char *print_msg(int tag, cJSON *msg)
{
    cJSON_DeleteItemFromObjectCaseSensitive(msg, "type");
    cJSON_DeleteItemFromObjectCaseSensitive(msg, "v");
    cJSON_AddStringToObject(msg, "type", proto_name(tag));
    cJSON_AddNumberToObject(msg, "v", PROTO_VERSION);
    return cJSON_PrintUnformatted(msg);
}

/* Room for one more send in box. */
static pt_status outbox_grow(proto_outbox *box, pt_err *err)
{
    if (box->n < box->cap)
        return PT_OK;
    int cap = box->cap ? 2 * box->cap : 16;
    MPI_Request *r = realloc(box->req, (size_t)cap * sizeof *r);
    if (r)
        box->req = r;
    char **t = r ? realloc(box->text, (size_t)cap * sizeof *t) : NULL;
    if (!t)
        return pt_fail(err, PT_ERR_NOMEM, "protocol: out of memory queueing a message");
    box->text = t;
    box->cap = cap;
    return PT_OK;
}

pt_status proto_isend(proto_comm comm, int dest, int tag, cJSON *msg, proto_outbox *box, pt_err *err)
{
    pt_status st = outbox_grow(box, err);
    if (st != PT_OK)
        return st;
    char *text = print_msg(tag, msg);
    if (!text)
        return pt_fail(err, PT_ERR_NOMEM, "protocol: out of memory printing a %s message",
                       proto_name(tag));
    if (comm.hub) /* delivered at once: nothing stays in the box */
        return hub_send(comm, dest, tag, text, strlen(text) + 1, err);
    int rc = MPI_Isend(text, (int)strlen(text) + 1, MPI_CHAR, dest, tag, comm.mpi,
                       &box->req[box->n]);
    if (rc != MPI_SUCCESS) {
        free(text);
        return send_failed(err, rc, tag, dest);
    }
    box->text[box->n++] = text;
    return PT_OK;
}

pt_status proto_isend_bytes(proto_comm comm, int dest, int tag, const void *buf, size_t len,
                            proto_outbox *box, pt_err *err)
{
    if (len > (size_t)INT32_MAX)
        return pt_fail(err, PT_ERR_ARG, "protocol: %zu bytes are too many for one message", len);
    pt_status st = outbox_grow(box, err);
    if (st != PT_OK)
        return st;
    char *copy = copy_of(buf, len);
    if (!copy)
        return pt_fail(err, PT_ERR_NOMEM, "protocol: out of memory queueing %zu bytes", len);
    if (comm.hub)
        return hub_send(comm, dest, tag, copy, len, err);
    int rc = MPI_Isend(copy, (int)len, MPI_BYTE, dest, tag, comm.mpi, &box->req[box->n]);
    if (rc != MPI_SUCCESS) {
        free(copy);
        return send_failed(err, rc, tag, dest);
    }
    box->text[box->n++] = copy;
    return PT_OK;
}

int proto_outbox_progress(proto_outbox *box)
{
    for (int i = 0; i < box->n;) {
        int done = 0;
        if (MPI_Test(&box->req[i], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            done = 1; /* the peer is gone: nothing more will happen to this send */
        if (!done) {
            i++;
            continue;
        }
        free(box->text[i]);
        box->n--;
        box->req[i] = box->req[box->n];
        box->text[i] = box->text[box->n];
    }
    return box->n;
}

void proto_outbox_close(proto_outbox *box, double timeout_s)
{
    double t0 = pt_now();
    for (int idle = 0; proto_outbox_progress(box) > 0 && pt_now() - t0 < timeout_s; idle++) {
        proto_pause(idle);
    }
    for (int i = 0; i < box->n; i++) {
        MPI_Cancel(&box->req[i]);
        MPI_Request_free(&box->req[i]);
        free(box->text[i]);
    }
    free(box->req);
    free(box->text);
    memset(box, 0, sizeof *box);
}

pt_status proto_send(proto_comm comm, int dest, int tag, cJSON *msg, pt_err *err)
{
    char *text = print_msg(tag, msg);
    if (!text)
        return pt_fail(err, PT_ERR_NOMEM, "protocol: out of memory printing a %s message",
                       proto_name(tag));
    if (comm.hub)
        return hub_send(comm, dest, tag, text, strlen(text) + 1, err);
    int rc = MPI_Send(text, (int)strlen(text) + 1, MPI_CHAR, dest, tag, comm.mpi);
    free(text);
    return rc == MPI_SUCCESS ? PT_OK : send_failed(err, rc, tag, dest);
}

/* Starts the receive of the matched binary message m of count bytes. */
static pt_status start_bytes(MPI_Message *m, int count, proto_bytes_in *in, pt_err *err)
{
    in->len = count > 0 ? (size_t)count : 0;
    in->buf = malloc(in->len ? in->len : 1);
    in->req = MPI_REQUEST_NULL;
    if (!in->buf) {
        MPI_Mrecv(NULL, 0, MPI_BYTE, m, MPI_STATUS_IGNORE); /* truncates: dropped */
        return pt_fail(err, PT_ERR_NOMEM, "protocol: out of memory receiving %d bytes", count);
    }
    int rc = MPI_Imrecv(in->buf, count, MPI_BYTE, m, &in->req);
    if (rc != MPI_SUCCESS) {
        free(in->buf);
        in->buf = NULL;
        char why[MPI_MAX_ERROR_STRING];
        mpi_reason(rc, why);
        return pt_fail(err, PT_ERR_IO, "protocol: receiving model: %s", why);
    }
    return PT_OK;
}

int proto_bytes_test(proto_bytes_in *in)
{
    int done = 0;
    if (in->req == MPI_REQUEST_NULL)
        return in->buf ? 1 : -1;
    if (MPI_Test(&in->req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        free(in->buf);
        in->buf = NULL;
        in->req = MPI_REQUEST_NULL;
        return -1;
    }
    return done;
}

void proto_bytes_release(proto_bytes_in *in)
{
    if (in->req == MPI_REQUEST_NULL)
        free(in->buf);
    in->buf = NULL;
}

pt_status proto_poll(proto_comm comm, int source, int tag, cJSON **msg, int *src, int *tag_out,
                     pt_err *err)
{
    return proto_poll_bytes(comm, source, tag, msg, src, tag_out, NULL, err);
}

/* The hub's side of proto_poll_bytes and proto_wait: takes a message,
 * waiting up to timeout_s (0: not at all, < 0: for ever). */
static pt_status hub_poll(proto_comm comm, int source, int tag, double timeout_s, cJSON **msg,
                          int *src, int *tag_out, proto_bytes_in *in, pt_err *err)
{
    void *buf;
    size_t len;
    for (;;) {
        if (!proto_hub_take(comm.hub, comm.rank, hub_any(source, MPI_ANY_SOURCE),
                            hub_any(tag, MPI_ANY_TAG), timeout_s, &buf, &len, src, tag_out))
            return PT_ERR_STOPPED;
        if (*tag_out != MSG_MODEL)
            break;
        if (in) { /* handed over, already whole */
            in->req = MPI_REQUEST_NULL;
            in->buf = buf;
            in->len = len;
            return PT_OK;
        }
        free(buf); /* nobody here expects one (a worker): dropped */
        if (timeout_s == 0)
            return PT_ERR_STOPPED;
    }
    pt_status st = proto_decode(*tag_out, *src, buf, len, msg, err);
    free(buf);
    return st;
}

pt_status proto_poll_bytes(proto_comm comm, int source, int tag, cJSON **msg, int *src, int *tag_out,
                           proto_bytes_in *in, pt_err *err)
{
    *msg = NULL;
    if (comm.hub)
        return hub_poll(comm, source, tag, 0, msg, src, tag_out, in, err);
    int flag = 0, count = 0;
    MPI_Message m;
    MPI_Status s;
    /* Probe twice: an empty probe is what drives MPI's progress engine, so a
     * message that arrived while this rank slept is only matched by the probe
     * after it. Without the second call every hop costs one more sleep
     * (measured: 1 ms sleeps gave a 3.3 ms round trip, 1.1 ms with it). */
    int rc = MPI_Improbe(source, tag, comm.mpi, &flag, &m, &s);
    if (rc == MPI_SUCCESS && !flag)
        rc = MPI_Improbe(source, tag, comm.mpi, &flag, &m, &s);
    if (rc == MPI_SUCCESS && !flag)
        return PT_ERR_STOPPED;
    if (rc == MPI_SUCCESS && s.MPI_TAG == MSG_MODEL) {
        MPI_Get_count(&s, MPI_BYTE, &count);
        if (!in) { /* nobody here expects one (a worker): dropped */
            proto_bytes_in junk;
            pt_status st = start_bytes(&m, count, &junk, err);
            if (st == PT_OK)
                MPI_Wait(&junk.req, MPI_STATUS_IGNORE);
            proto_bytes_release(&junk);
            return st == PT_OK ? PT_ERR_STOPPED : st;
        }
        pt_status st = start_bytes(&m, count, in, err);
        *src = s.MPI_SOURCE;
        *tag_out = MSG_MODEL;
        return st;
    }
    if (rc == MPI_SUCCESS)
        rc = MPI_Get_count(&s, MPI_CHAR, &count);
    char *text = rc == MPI_SUCCESS ? malloc((size_t)count + 1) : NULL;
    if (rc == MPI_SUCCESS && !text)
        return pt_fail(err, PT_ERR_NOMEM, "protocol: out of memory receiving %d bytes", count);
    if (rc == MPI_SUCCESS)
        rc = MPI_Mrecv(text, count, MPI_CHAR, &m, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        free(text);
        char why[MPI_MAX_ERROR_STRING];
        mpi_reason(rc, why);
        return pt_fail(err, PT_ERR_IO, "protocol: receiving: %s", why);
    }
    text[count] = '\0';
    *src = s.MPI_SOURCE;
    *tag_out = s.MPI_TAG;
    pt_status st = proto_decode(s.MPI_TAG, s.MPI_SOURCE, text, (size_t)count, msg, err);
    free(text);
    return st;
}

/* The integer fields the readers cast to int (trial_id, number, epoch) or
 * to size_t (model_bytes): a double outside the target's range makes that
 * cast undefined, so the range is checked once here, where bytes become a
 * message, instead of at every reader. */
static const struct {
    const char *key;
    double lo, hi;
} int_fields[] = {
    {"trial_id", -2147483648.0, 2147483647.0},
    {"number", -2147483648.0, 2147483647.0},
    {"epoch", -2147483648.0, 2147483647.0},
    {"model_bytes", 0.0, 2147483647.0}, /* an MPI count is an int */
};

pt_status proto_decode(int tag, int src, const char *bytes, size_t len, cJSON **msg, pt_err *err)
{
    /* The sender's terminating NUL is part of the count; a NUL earlier ends
     * the text as it would end a C string. */
    const char *nul = memchr(bytes, '\0', len);
    *msg = cJSON_ParseWithLength(bytes, nul ? (size_t)(nul - bytes) : len);
    if (!cJSON_IsObject(*msg)) {
        cJSON_Delete(*msg);
        *msg = NULL;
        return pt_fail(err, PT_ERR_FORMAT,
                       "protocol: a %s message from rank %d is not a JSON object",
                       proto_name(tag), src);
    }
    for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(*msg, int_fields[i].key);
        if (!v)
            continue;
        double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (!(d >= int_fields[i].lo && d <= int_fields[i].hi && d == floor(d))) {
            cJSON_Delete(*msg);
            *msg = NULL;
            return pt_fail(err, PT_ERR_FORMAT,
                           "protocol: a %s message from rank %d: '%s' is not an integer in "
                           "[%.0f, %.0f]",
                           proto_name(tag), src, int_fields[i].key, int_fields[i].lo,
                           int_fields[i].hi);
        }
    }
    return PT_OK;
}

pt_status proto_send_bytes(proto_comm comm, int dest, int tag, const void *buf, size_t len,
                           pt_err *err)
{
    if (len > (size_t)0x7fffffff)
        return pt_fail(err, PT_ERR_ARG, "protocol: a %s message of %zu bytes is too large",
                       proto_name(tag), len);
    if (comm.hub) {
        void *c = copy_of(buf, len);
        return c ? hub_send(comm, dest, tag, c, len, err)
                 : pt_fail(err, PT_ERR_NOMEM, "protocol: out of memory sending %zu bytes", len);
    }
    int rc = MPI_Send(buf, (int)len, MPI_BYTE, dest, tag, comm.mpi);
    return rc == MPI_SUCCESS ? PT_OK : send_failed(err, rc, tag, dest);
}

/* Sends count items of buf and waits for the send as proto_send_watched says;
 * *kept = 1 when the send was abandoned (buf must then outlive the process). */
static int send_wait(MPI_Comm comm, int dest, int tag, const void *buf, int count, MPI_Datatype t,
                     proto_gone_fn gone, void *ctx, int *kept)
{
    MPI_Request q = MPI_REQUEST_NULL;
    *kept = 0;
    int rc = MPI_Isend(buf, count, t, dest, tag, comm, &q);
    double asked = pt_now();
    for (int idle = 0, done = 0; rc == MPI_SUCCESS && !done; idle++) {
        rc = MPI_Test(&q, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || done)
            break;
        if (gone && pt_now() - asked >= 1.0) {
            asked = pt_now();
            if (gone(ctx)) {
                MPI_Request_free(&q); /* no cancel: Open MPI cannot cancel a send */
                *kept = 1;
                return -1;
            }
        }
        proto_pause(idle);
    }
    return rc;
}

pt_status proto_send_watched(proto_comm comm, int dest, int tag, cJSON *msg, proto_gone_fn gone,
                             void *ctx, pt_err *err)
{
    char *text = print_msg(tag, msg);
    if (!text)
        return pt_fail(err, PT_ERR_NOMEM, "protocol: out of memory printing a %s message",
                       proto_name(tag));
    if (comm.hub) /* a thread of this process: never waits, never gone */
        return hub_send(comm, dest, tag, text, strlen(text) + 1, err);
    int kept = 0;
    int rc = send_wait(comm.mpi, dest, tag, text, (int)strlen(text) + 1, MPI_CHAR, gone, ctx, &kept);
    if (kept) /* MPI may still read it; the process ends soon (see protocol.h) */
        return pt_fail(err, PT_ERR_IO, "protocol: sending %s: rank %d is gone", proto_name(tag),
                       dest);
    free(text);
    return rc == MPI_SUCCESS ? PT_OK : send_failed(err, rc, tag, dest);
}

pt_status proto_send_bytes_watched(proto_comm comm, int dest, int tag, const void *buf, size_t len,
                                   proto_gone_fn gone, void *ctx, pt_err *err)
{
    if (len > (size_t)0x7fffffff)
        return pt_fail(err, PT_ERR_ARG, "protocol: a %s message of %zu bytes is too large",
                       proto_name(tag), len);
    if (comm.hub)
        return proto_send_bytes(comm, dest, tag, buf, len, err);
    int kept = 0;
    int rc = send_wait(comm.mpi, dest, tag, buf, (int)len, MPI_BYTE, gone, ctx, &kept);
    if (kept)
        return pt_fail(err, PT_ERR_IO, "protocol: sending %s: rank %d is gone", proto_name(tag),
                       dest);
    return rc == MPI_SUCCESS ? PT_OK : send_failed(err, rc, tag, dest);
}

long proto_backoff_ns(int idle)
{
    /* The first polls only yield the core: a reply already on its way (the
     * next trial after a result) is picked up without a timer round trip.
     * Then sleeps doubling from 20 us to 10 ms, so a long wait costs ~100
     * wake-ups a second. */
    if (idle < PROTO_SPIN_POLLS)
        return 0;
    long ns = 20000;
    for (int i = PROTO_SPIN_POLLS; i < idle && ns < 10000000; i++)
        ns *= 2;
    return ns < 10000000 ? ns : 10000000;
}

void proto_pause(int idle)
{
    long ns = proto_backoff_ns(idle);
    if (ns == 0) {
        sched_yield();
        return;
    }
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

pt_status proto_wait(proto_comm comm, int source, int tag, double timeout_s, cJSON **msg, int *src,
                     int *tag_out, pt_err *err)
{
    if (comm.hub) {
        *msg = NULL;
        return hub_poll(comm, source, tag, timeout_s, msg, src, tag_out, NULL, err);
    }
    double t0 = timeout_s >= 0 ? pt_now() : 0;
    for (int idle = 0;; idle++) {
        pt_status st = proto_poll(comm, source, tag, msg, src, tag_out, err);
        if (st != PT_ERR_STOPPED)
            return st;
        if (timeout_s >= 0 && pt_now() - t0 >= timeout_s)
            return PT_ERR_STOPPED;
        proto_pause(idle);
    }
}

pt_status proto_recv_bytes_watched(proto_comm comm, int source, int tag, void *buf, size_t len,
                                   proto_gone_fn gone, void *ctx, pt_err *err)
{
    if (len > (size_t)0x7fffffff)
        return pt_fail(err, PT_ERR_ARG, "protocol: a %s message of %zu bytes is too large",
                       proto_name(tag), len);
    if (comm.hub) {
        void *got;
        size_t n;
        int s, t;
        if (!proto_hub_take(comm.hub, comm.rank, source, tag, -1, &got, &n, &s, &t))
            return pt_fail(err, PT_ERR_IO, "protocol: receiving %s failed", proto_name(tag));
        if (n == len)
            memcpy(buf, got, len);
        free(got);
        return n == len ? PT_OK
                        : pt_fail(err, PT_ERR_IO, "protocol: a %s message of %zu bytes, not %zu",
                                  proto_name(tag), n, len);
    }
    MPI_Request req;
    if (MPI_Irecv(buf, (int)len, MPI_BYTE, source, tag, comm.mpi, &req) != MPI_SUCCESS)
        return pt_fail(err, PT_ERR_IO, "protocol: cannot receive %s", proto_name(tag));
    double t = pt_now();
    for (int idle = 0;; idle++) {
        int done = 0;
        if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return pt_fail(err, PT_ERR_IO, "protocol: receiving %s failed", proto_name(tag));
        if (done)
            return PT_OK;
        if (gone && pt_now() - t > 1.0) {
            if (gone(ctx))
                return pt_fail(err, PT_ERR_IO, "protocol: receiving %s: rank %d is gone",
                               proto_name(tag), source);
            t = pt_now();
        }
        proto_pause(idle);
    }
}

double proto_num(const cJSON *msg, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

const char *proto_str(const cJSON *msg, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
