/*
 * fuzz_protocol.c — libFuzzer harness: the MPI message decoder, i.e. what a
 * rank does with bytes another process sent (proto_decode, no MPI involved).
 *
 * Input layout: the first byte picks the tag (as the MPI envelope would),
 * the rest is the message text. A decoded message is then read the way the
 * coordinator and the worker read it: the integer fields are cast as they
 * are there (UBSan reports an out-of-range cast), and a trial message's
 * config goes through the train config parser, as the worker does.
 */
#define _GNU_SOURCE
#include "config.h"
#include "fuzz_util.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int tag = data[0] % (MSG_MODEL + 2); /* every tag, and one unknown */
    cJSON *msg = NULL;
    pt_err err;
    if (proto_decode(tag, 1, (const char *)data + 1, size - 1, &msg, &err) != PT_OK) {
        fuzz_check_one_line(err.msg);
        if (msg)
            abort();
        return 0;
    }
    volatile int sink = (int)proto_num(msg, "trial_id", -1) + (int)proto_num(msg, "number", 0) +
                        (int)proto_num(msg, "epoch", 0);
    volatile size_t bytes = (size_t)proto_num(msg, "model_bytes", 0);
    (void)sink;
    (void)bytes;
    const char *why = proto_str(msg, "reason");
    if (why)
        (void)strlen(why);
    const cJSON *cj = cJSON_GetObjectItemCaseSensitive(msg, "config");
    char *text = cJSON_IsObject(cj) ? cJSON_PrintUnformatted(cj) : NULL;
    if (text) {
        pt_config c;
        if (pt_config_parse(&c, text, "trial config", &err) != PT_OK)
            fuzz_check_one_line(err.msg);
        free(text);
    }
    cJSON_Delete(msg);
    return 0;
}
