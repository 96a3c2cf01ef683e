/*
 * fuzz_config.c — libFuzzer harness: the train config parser (the JSON of
 * `prunetune train CONFIG`, of every trial message and of a model's meta).
 *
 * The input is the JSON text. A config the parser accepts must keep the
 * promise of config.h: pt_config_to_json prints it in a form that parses
 * back to the same config (checked by printing again and comparing), and
 * the network it describes resolves for MNIST-shaped data or fails with
 * one line. The text is also merged over the accepted config, as --set does.
 */
#define _GNU_SOURCE
#include "config.h"
#include "fuzz_util.h"
#include "netspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    pt_config c;
    pt_err err;
    if (pt_config_parse(&c, text, "fuzz.json", &err) != PT_OK) {
        fuzz_check_one_line(err.msg);
        free(text);
        return 0;
    }
    char *json = pt_config_to_json(&c);
    if (!json)
        abort();
    pt_config back;
    if (pt_config_parse(&back, json, "round trip", &err) != PT_OK) {
        fprintf(stderr, "fuzz: accepted config does not parse back: %s\n%s\n", err.msg, json);
        abort();
    }
    char *again = pt_config_to_json(&back);
    if (!again || strcmp(json, again)) {
        fprintf(stderr, "fuzz: config round trip differs:\n%s\n%s\n", json, again ? again : "");
        abort();
    }
    free(again);
    free(json);
    int shape[3], n_spec;
    pt_layer_spec spec[PT_NET_MAX_LAYERS];
    float drop[PT_NET_MAX_LAYERS + 1];
    if (pt_net_specs(&c, 784, 10, shape, spec, &n_spec, drop, &err) != PT_OK)
        fuzz_check_one_line(err.msg);
    if (pt_config_merge(&c, text, "fuzz.json", &err) != PT_OK)
        fuzz_check_one_line(err.msg);
    free(text);
    return 0;
}
