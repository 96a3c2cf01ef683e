/*
 * test_study_output.c — what leaves the study module: a point's trial
 * config, the canonical space text resume compares, Optuna's distribution
 * JSON (byte for byte, checked against Optuna itself when installed), and
 * schemas/study.schema.json agreeing with the parser.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "study_fixture.h"

Test(study_output, trial_config_merges_the_point)
{
    study_config s;
    pt_err err;
    cr_assert_eq(
        parse_q(&s,
                "{'study': 't', 'trial': {'train': {'epochs': 4, 'lr': 0.3},"
                "                         'prune': {'rounds': 9, 'end_epoch': 4}},"
                " 'search_space': {"
                "  'prune.schedule': {'type': 'categorical', 'choices': ['none', 'iterative', "
                "                     'gradual']},"
                "  'prune.rounds': {'type': 'int', 'low': 1, 'high': 3,"
                "                   'when': {'prune.schedule': ['iterative']}},"
                "  'prune.start_epoch': {'type': 'float', 'low': 0, 'high': 6},"
                "  'reg.l2': {'type': 'float', 'low': 1e-6, 'high': 1e-2, 'log': true}}}",
                &err),
        PT_OK, "%s", err.msg);
    study_point p = {.present = {1, 1, 0, 1}, .value = {1, 2, 0, 0.000123456789}};
    pt_config c;
    cr_assert_eq(study_trial_config(&s, &p, &c, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(c.prune.schedule, PT_PRUNE_ITERATIVE);
    cr_expect_eq(c.prune.rounds, 2);
    cr_expect_eq(c.reg.l2, 0.000123456789, "value exact through the JSON text");
    cr_expect_eq(c.train.lr, 0.3, "keys outside the point keep the trial's value");
    cr_expect_eq(c.train.epochs, 4);
    cr_expect_eq(c.seed, s.trial.seed);
    /* Absent (condition off): the trial's value stays. */
    study_point q = {.present = {1, 0, 0, 1}, .value = {0, 0, 0, 1e-3}};
    cr_assert_eq(study_trial_config(&s, &q, &c, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(c.prune.schedule, PT_PRUNE_NONE);
    cr_expect_eq(c.prune.rounds, 9);
    /* A combination the train parser rejects: the trial fails with its reason. */
    study_point r = {.present = {1, 0, 1, 1}, .value = {2, 0, 5.5, 1e-3}};
    cr_expect_eq(study_trial_config(&s, &r, &c, &err), PT_ERR_CONFIG);
    cr_expect_str_eq(err.msg, "trial: prune.start_epoch: expected a number < prune.end_epoch "
                              "(got 5.5)");
    study_free(&s);
}

Test(study_output, space_json_is_canonical)
{
    study_config a, b, c;
    pt_err err;
    cr_assert_eq(parse_q(&a,
                         "{'study': 'a', 'seed': 3, 'search_space': {"
                         " 'reg.l2': {'type': 'float', 'low': 1e-6, 'high': 0.01, 'log': true},"
                         " 'prune.rounds': {'type': 'int', 'low': 1, 'high': 4}}}",
                         &err),
                 PT_OK, "%s", err.msg);
    /* Same space spelled differently: key order, defaults written out. */
    cr_assert_eq(
        parse_q(&b,
                "{'study': 'b', 'search_space': {"
                " 'prune.rounds': {'high': 4, 'step': 1, 'log': false, 'type': 'int',"
                "                  'low': 1.0},"
                " 'reg.l2': {'log': true, 'high': 1e-2, 'type': 'float', 'low': 0.000001}},"
                " 'objectives': [{'direction': 'maximize', 'name': 'val_acc'}]}",
                &err),
        PT_OK, "%s", err.msg);
    cr_expect_str_eq(a.space_json, b.space_json);
    cr_expect_str_eq(a.space_json,
                     "{\"objectives\":[{\"direction\":\"maximize\",\"name\":\"val_acc\"}],"
                     "\"search_space\":{\"prune.rounds\":{\"high\":4,\"log\":false,\"low\":1,"
                     "\"step\":1,\"type\":\"int\"},\"reg.l2\":{\"high\":0.01,\"log\":true,"
                     "\"low\":1e-06,\"type\":\"float\"}}}");
    /* A different bound or direction is a different space. */
    cr_assert_eq(parse_q(&c,
                         "{'study': 'a', 'objectives': [{'name': 'val_acc', 'direction': "
                         "'minimize'}], 'search_space': {"
                         " 'reg.l2': {'type': 'float', 'low': 1e-6, 'high': 0.01, 'log': true},"
                         " 'prune.rounds': {'type': 'int', 'low': 1, 'high': 4}}}",
                         &err),
                 PT_OK, "%s", err.msg);
    cr_expect_str_neq(a.space_json, c.space_json);
    study_free(&a);
    study_free(&b);
    study_free(&c);
}

Test(study_output, distribution_json_is_optunas)
{
    study_config s;
    pt_err err;
    cr_assert_eq(
        parse_q(&s,
                "{'study': 't', 'search_space': {"
                " 'reg.l2': {'type': 'float', 'low': 1e-6, 'high': 0.01, 'log': true},"
                " 'prune.sparsity': {'type': 'float', 'low': 0.5, 'high': 0.95, 'step': 0.05},"
                " 'prune.start_epoch': {'type': 'float', 'low': 0, 'high': 1e16},"
                " 'prune.rounds': {'type': 'int', 'low': 1, 'high': 4},"
                " 'train.batch_size': {'type': 'int', 'low': 16, 'high': 256, 'step': 16},"
                " 'prune.schedule': {'type': 'categorical', 'choices': ['none', 'gradual']},"
                " 'data.label': {'type': 'categorical', 'choices': [3, 'caf\\u00e9 \\\\ \\'q\\'']},"
                " 'train.nesterov': {'type': 'categorical', 'choices': [true, false]}}}",
                &err),
        PT_OK, "%s", err.msg);
    static const char *const want[] = {
        "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, \"low\": 1e-06, "
        "\"high\": 0.01, \"log\": true}}",
        "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": 0.05, \"low\": 0.5, "
        "\"high\": 0.95, \"log\": false}}",
        "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, \"low\": 0.0, "
        "\"high\": 1e+16, \"log\": false}}",
        "{\"name\": \"IntDistribution\", \"attributes\": {\"log\": false, \"step\": 1, \"low\": 1, "
        "\"high\": 4}}",
        "{\"name\": \"IntDistribution\", \"attributes\": {\"log\": false, \"step\": 16, \"low\": "
        "16, \"high\": 256}}",
        "{\"name\": \"CategoricalDistribution\", \"attributes\": {\"choices\": [\"none\", "
        "\"gradual\"]}}",
        "{\"name\": \"CategoricalDistribution\", \"attributes\": {\"choices\": [3, \"caf\\u00e9 "
        "\\\\ \\\"q\\\"\"]}}",
        "{\"name\": \"CategoricalDistribution\", \"attributes\": {\"choices\": [true, false]}}"};
    char buf[4096];
    cr_assert_eq(s.n_params, 8);
    for (int i = 0; i < s.n_params; i++)
        cr_expect_str_eq(study_distribution_json(&s.param[i], buf, sizeof buf), want[i], "%s",
                         s.param[i].name);
    study_free(&s);
}

/* Python's repr of floats decides the text: have Optuna itself re-serialise
 * the distributions of many awkward bounds and compare byte for byte. */
Test(study_output, distribution_json_round_trips_through_optuna)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import optuna' 2>/dev/null") != 0)
        cr_skip_test("python3-optuna is not installed (apt-get install python3-optuna)");
    static const double bounds[][2] = {
        {1e-6, 1e-2}, {0.1, 0.30000000000000004}, {1e-5, 1e-4}, {0.0001, 123456.789},
        {-2.5, 1e15}, {1234567890123456.0, 1e17}, {1.5e-7, 3},  {-1e-300, 5e-324}};
    char path[] = "/tmp/pt_dist_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    char buf[1024];
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        for (int log = 0; log < 2; log++) {
            study_param p = {.kind = PARAM_FLOAT,
                             .low = bounds[i][0],
                             .high = bounds[i][1],
                             .log = log && bounds[i][0] > 0};
            fprintf(f, "%s\n", study_distribution_json(&p, buf, sizeof buf));
        }
    }
    /* Steps that divide high - low in decimal, as the parser demands (else
     * Optuna would move high). */
    static const double stepped[][3] = {{0.5, 0.95, 0.05}, {0, 1, 0.25}, {1e-3, 2e-3, 1e-4}};
    for (size_t i = 0; i < sizeof stepped / sizeof stepped[0]; i++) {
        study_param q = {.kind = PARAM_FLOAT,
                         .low = stepped[i][0],
                         .high = stepped[i][1],
                         .step = stepped[i][2]};
        fprintf(f, "%s\n", study_distribution_json(&q, buf, sizeof buf));
    }
    static const double ints[][3] = {{-3, 9, 3}, {1, 1000000, 1}, {16, 256, 16}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        study_param q = {.kind = PARAM_INT,
                         .low = ints[i][0],
                         .high = ints[i][1],
                         .step = ints[i][2],
                         .log = ints[i][2] == 1};
        fprintf(f, "%s\n", study_distribution_json(&q, buf, sizeof buf));
    }
    fclose(f);
    /* Reads each line, rebuilds the distribution, prints Optuna's text; the
     * exit status says whether every line came back unchanged. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -W ignore -c \"import sys, optuna.distributions as d\n"
             "bad = [l for l in open('%s').read().splitlines()\n"
             "       if d.distribution_to_json(d.json_to_distribution(l)) != l]\n"
             "print(*bad, sep='\\n', file=sys.stderr)\n"
             "sys.exit(1 if bad else 0)\"",
             path);
    cr_expect_eq(system(cmd), 0, "Optuna writes some distribution differently (see stderr)");
    unlink(path);
}

/* Leaf key paths of a schema object, as study_key() spells them. */
static void schema_keys(const cJSON *obj, const char *prefix, char keys[][64], int *n)
{
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(obj, "additionalProperties")) ||
                  cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(obj, "additionalProperties")),
              "%s: additionalProperties must be false", prefix);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(obj, "properties");
    cr_assert(cJSON_IsObject(props), "%s: no properties", prefix);
    for (const cJSON *p = props->child; p; p = p->next) {
        char path[64];
        snprintf(path, sizeof path, "%s%s", prefix, p->string);
        cr_expect_str_not_empty(
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "description")),
            "%s has no description", path);
        cr_assert_lt(*n, 64);
        snprintf(keys[(*n)++], 64, "%s", path);
    }
}

Test(study_output, schema_documents_exactly_the_parsed_keys)
{
    char *text = read_text(PT_SOURCE_DIR "/schemas/study.schema.json");
    cJSON *schema = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(schema, "schema is not valid JSON");
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(schema, "$schema")),
                     "https://json-schema.org/draft/2020-12/schema");
    static char keys[64][64];
    int n = 0;
    schema_keys(schema, "", keys, &n);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *objs = cJSON_GetObjectItemCaseSensitive(props, "objectives");
    schema_keys(cJSON_GetObjectItemCaseSensitive(objs, "items"), "objectives[].", keys, &n);
    const cJSON *cons = cJSON_GetObjectItemCaseSensitive(props, "constraints");
    schema_keys(cJSON_GetObjectItemCaseSensitive(cons, "items"), "constraints[].", keys, &n);
    const cJSON *param = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(schema, "$defs"), "param");
    schema_keys(param, "search_space.*.", keys, &n);
    /* search_space's values are params; the trial is a train config. */
    const cJSON *space = cJSON_GetObjectItemCaseSensitive(props, "search_space");
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(space, "additionalProperties"), "$ref")),
                     "#/$defs/param");
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(props, "trial"), "$ref")),
                     "train.schema.json");

    expect_same_keys(keys, n, study_key);
    cr_expect_null(study_key(-1));

    /* The defaults the schema states are the parser's. */
    study_config s;
    pt_err err;
    cr_assert_eq(parse_q(&s, "{'study': 't', " L2 "}", &err), PT_OK, "%s", err.msg);
    struct {
        const char *key;
        const char *want;
    } defaults[] = {{"seed", "1"},
                    {"n_trials", "16"},
                    {"timeout_s", "0"},
                    {"max_failures", "5"},
                    {"sampler", "\"random\""},
                    {"pruner", "\"none\""},
                    {"objectives", "[{\"name\":\"val_acc\",\"direction\":\"maximize\"}]"}};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(props, defaults[i].key), "default");
        char *got = d ? cJSON_PrintUnformatted(d) : NULL;
        cr_expect_str_eq(got ? got : "(none)", defaults[i].want, "%s", defaults[i].key);
        cJSON_free(got);
    }
    cr_expect(s.seed == 1 && s.n_trials == 16 && s.timeout_s == 0 && s.max_failures == 5 &&
                  s.sampler == SAMPLER_RANDOM && s.pruner == PRUNER_NONE &&
                  !strcmp(s.obj[0].name, "val_acc") && s.obj[0].dir == DIR_MAXIMIZE,
              "the defaults above are the parser's");
    study_free(&s);
    cJSON_Delete(schema);
}
