/*
 * test_protocol.c — proto_decode, the step from received bytes to a message
 * (no MPI involved: the bytes are what a peer could send).
 */
#include <criterion/criterion.h>
#include <string.h>

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
