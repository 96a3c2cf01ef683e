/*
 * test_protocol.c — proto_decode, the step from received bytes to a message
 * (no MPI involved: the bytes are what a peer could send), and the messages
 * between threads of one process on a hub (proto/hub.h).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "protocol.h"

/* Decodes text (its NUL sent too, as proto_send does) as a tag message. */
static pt_status decode(int tag, const char *text, cJSON **msg, pt_err *err)
{
    return proto_decode(tag, 3, text, strlen(text) + 1, msg, err);
}

Test(protocol, decodes_what_peers_send)
{
    cJSON *msg;
    pt_err err;
    const char *trial = "{\"trial_id\":7,\"number\":6,\"config\":{\"seed\":2},\"type\":\"trial\",\"v\":1}";
    cr_assert_eq(decode(MSG_TRIAL, trial, &msg, &err), PT_OK, "%s", err.msg);
    cr_assert_eq((int)proto_num(msg, "trial_id", -1), 7);
    cr_assert_eq((int)proto_num(msg, "number", -1), 6);
    cJSON_Delete(msg);
    /* The extremes of each integer field are still messages. */
    const char *edge = "{\"trial_id\":-2147483648,\"epoch\":2147483647,\"model_bytes\":2147483647}";
    cr_assert_eq(decode(MSG_RESULT, edge, &msg, &err), PT_OK, "%s", err.msg);
    cr_assert_eq((size_t)proto_num(msg, "model_bytes", 0), (size_t)2147483647);
    cJSON_Delete(msg);
    /* Without the NUL, and with bytes after an early NUL ignored. */
    const char two[] = "{\"trial_id\":1}\0garbage";
    cr_assert_eq(proto_decode(MSG_STOP, 0, two, sizeof two, &msg, &err), PT_OK, "%s", err.msg);
    cJSON_Delete(msg);
    cr_assert_eq(proto_decode(MSG_STOP, 0, two, 14, &msg, &err), PT_OK, "%s", err.msg);
    cJSON_Delete(msg);
}

Test(protocol, rejects_what_a_reader_could_not_cast)
{
    /* Each would have been cast to int or size_t by the scheduler or the
     * worker: undefined behaviour for a double out of range (found by
     * tests/fuzz/fuzz_protocol.c's casts under UBSan). */
    static const struct {
        int tag;
        const char *text, *msg;
    } bad[] = {
        {MSG_REPORT, "[1, 2]", "protocol: a report message from rank 3 is not a JSON object"},
        {MSG_REPORT, "{\"trial_id\":1", "protocol: a report message from rank 3 is not a JSON object"},
        {MSG_REPORT, "", "protocol: a report message from rank 3 is not a JSON object"},
        {MSG_TRIAL, "{\"trial_id\":1e300}",
         "protocol: a trial message from rank 3: 'trial_id' is not an integer in [-2147483648, "
         "2147483647]"},
        {MSG_REPORT, "{\"trial_id\":1,\"epoch\":1.5}",
         "protocol: a report message from rank 3: 'epoch' is not an integer in [-2147483648, "
         "2147483647]"},
        {MSG_TRIAL, "{\"number\":\"6\"}",
         "protocol: a trial message from rank 3: 'number' is not an integer in [-2147483648, "
         "2147483647]"},
        {MSG_RESULT, "{\"trial_id\":1,\"model_bytes\":-1}",
         "protocol: a result message from rank 3: 'model_bytes' is not an integer in [0, "
         "2147483647]"},
        {MSG_RESULT, "{\"trial_id\":1,\"model_bytes\":3e9}",
         "protocol: a result message from rank 3: 'model_bytes' is not an integer in [0, "
         "2147483647]"},
        {42, "{\"trial_id\":2147483648}",
         "protocol: a ? message from rank 3: 'trial_id' is not an integer in [-2147483648, "
         "2147483647]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *msg = (cJSON *)1;
        pt_err err;
        cr_expect_eq(decode(bad[i].tag, bad[i].text, &msg, &err), PT_ERR_FORMAT, "%s", bad[i].text);
        cr_expect_null(msg, "%s", bad[i].text);
        cr_expect_str_eq(err.msg, bad[i].msg, "%s", bad[i].text);
    }
}

/* A hub's ranks are threads; rank 1 here answers what rank 0 sends. */
typedef struct {
    proto_hub *hub;
    int got; /* messages rank 1 received */
} echo_ctx;

static void *echo_rank1(void *p)
{
    echo_ctx *c = p;
    proto_comm me = proto_on_hub(c->hub, 1);
    pt_err err;
    for (;;) {
        cJSON *m = NULL;
        int src, tag;
        if (proto_wait(me, 0, MPI_ANY_TAG, -1, &m, &src, &tag, &err) != PT_OK)
            return NULL;
        c->got++;
        if (tag == MSG_EXIT) {
            cJSON_Delete(m);
            return NULL;
        }
        if (tag == MSG_TRIAL) { /* a checkpoint of n bytes follows it */
            size_t n = (size_t)proto_num(m, "checkpoint_bytes", 0);
            unsigned char buf[64];
            if (n > sizeof buf ||
                proto_recv_bytes_watched(me, 0, MSG_CHECKPOINT, buf, n, NULL, NULL, &err) != PT_OK)
                return NULL;
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "trial_id", proto_num(m, "trial_id", -1));
            cJSON_AddNumberToObject(r, "model_bytes", (double)n);
            proto_send(me, 0, MSG_RESULT, r, &err);
            cJSON_Delete(r);
            /* the model: the checkpoint's bytes reversed */
            for (size_t i = 0; i < n / 2; i++) {
                unsigned char t = buf[i];
                buf[i] = buf[n - 1 - i];
                buf[n - 1 - i] = t;
            }
            proto_send_bytes_watched(me, 0, MSG_MODEL, buf, n, NULL, NULL, &err);
        }
        cJSON_Delete(m);
    }
}

/* The calls the coordinator and a worker make, on a hub: a trial and its
 * checkpoint out, a result and its model back, FIFO per sender, receives by
 * tag, a timed wait that times out, and "exit". */
Test(protocol, a_hub_carries_the_messages_between_threads)
{
    proto_hub *hub = proto_hub_new(2);
    cr_assert_not_null(hub);
    proto_comm coord = proto_on_hub(hub, 0);
    cr_assert_eq(proto_size(coord), 2);
    echo_ctx c = {.hub = hub};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, echo_rank1, &c), 0);
    pt_err err;
    cJSON *m = NULL;
    int src = -1, tag = -1;
    /* nothing waits yet: a poll says so at once, a timed wait after its time */
    cr_assert_eq(proto_poll(coord, MPI_ANY_SOURCE, MPI_ANY_TAG, &m, &src, &tag, &err),
                 PT_ERR_STOPPED);
    cr_assert_eq(proto_wait(coord, MPI_ANY_SOURCE, MPI_ANY_TAG, 0.05, &m, &src, &tag, &err),
                 PT_ERR_STOPPED);
    proto_outbox box = {0};
    for (int k = 0; k < 3; k++) {
        unsigned char ck[5] = {1, 2, 3, 4, (unsigned char)(5 + k)};
        cJSON *trial = cJSON_CreateObject();
        cJSON_AddNumberToObject(trial, "trial_id", 10 + k);
        cJSON_AddNumberToObject(trial, "checkpoint_bytes", sizeof ck);
        cr_assert_eq(proto_isend(coord, 1, MSG_TRIAL, trial, &box, &err), PT_OK, "%s", err.msg);
        cr_assert_eq(proto_isend_bytes(coord, 1, MSG_CHECKPOINT, ck, sizeof ck, &box, &err), PT_OK);
        cJSON_Delete(trial);
        cr_assert_eq(proto_outbox_progress(&box), 0, "a hub send is delivered at once");
    }
    for (int k = 0; k < 3; k++) {
        /* the result, then its model: in the order rank 1 sent them */
        cr_assert_eq(proto_wait(coord, MPI_ANY_SOURCE, MPI_ANY_TAG, 10, &m, &src, &tag, &err),
                     PT_OK, "%s", err.msg);
        cr_assert_eq(tag, MSG_RESULT);
        cr_assert_eq(src, 1);
        cr_assert_eq((int)proto_num(m, "trial_id", -1), 10 + k);
        cr_assert_str_eq(proto_str(m, "type"), "result");
        cJSON_Delete(m);
        proto_bytes_in in = {0};
        for (int i = 0; i < 1000; i++) {
            pt_status st = proto_poll_bytes(coord, MPI_ANY_SOURCE, MPI_ANY_TAG, &m, &src, &tag, &in,
                                            &err);
            if (st == PT_OK)
                break;
            cr_assert_eq(st, PT_ERR_STOPPED);
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        cr_assert_eq(tag, MSG_MODEL);
        cr_assert_null(m);
        cr_assert_eq(proto_bytes_test(&in), 1);
        cr_assert_eq(in.len, 5u);
        const unsigned char *b = in.buf;
        cr_expect(b[0] == 5 + k && b[1] == 4 && b[4] == 1, "the model bytes as sent");
        proto_bytes_release(&in);
    }
    cJSON *bye = cJSON_CreateObject();
    cr_assert_eq(proto_send(coord, 1, MSG_EXIT, bye, &err), PT_OK);
    cJSON_Delete(bye);
    pthread_join(t, NULL);
    cr_expect_eq(c.got, 4, "3 trials and exit");
    /* a rank that does not exist is an error, not a crash */
    bye = cJSON_CreateObject();
    cr_expect_eq(proto_send(coord, 2, MSG_EXIT, bye, &err), PT_ERR_IO);
    cr_expect_not_null(strstr(err.msg, "no rank 2"), "%s", err.msg);
    cJSON_Delete(bye);
    proto_outbox_close(&box, 0);
    proto_hub_free(hub);
}
