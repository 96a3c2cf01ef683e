/*
 * test_config.c — the trial config: defaults, examples, every kind of bad
 * key, the to_json round trip, and agreement between the parser and
 * schemas/train.schema.json (same keys, same defaults).
 *
 * Why one file of ~760 lines: one module's contract (config.h) with its key table, where a new
 * key must show up in every check below at once.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_fixture.h"

/* The value at key path "a.b" of plain JSON, or of a schema when schema is
 * set (which nests each level under "properties"). */
static const cJSON *json_at(const cJSON *root, const char *path, int schema)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *o = root;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); o && part;
         part = strtok_r(NULL, ".", &save))
        o = cJSON_GetObjectItemCaseSensitive(
            schema ? cJSON_GetObjectItemCaseSensitive(o, "properties") : o, part);
    return o;
}

/* Field-by-field equality (strings up to their terminator, hidden up to
 * n_hidden, doubles exactly). */
static void expect_same(const pt_config *a, const pt_config *b, const char *what)
{
#define SAME(f) cr_expect(a->f == b->f, "%s: " #f " differs", what)
#define SAME_STR(f) cr_expect_str_eq(a->f, b->f, "%s: " #f " differs", what)
    SAME(seed);
    SAME(data.format);
    SAME_STR(data.dir);
    SAME_STR(data.train_images);
    SAME_STR(data.train_labels);
    SAME_STR(data.test_images);
    SAME_STR(data.test_labels);
    SAME_STR(data.train);
    SAME_STR(data.test);
    SAME(data.header);
    SAME_STR(data.label_name);
    SAME(data.label_index);
    SAME(data.scale);
    SAME(data.val_fraction);
    SAME(data.test_fraction);
    SAME(data.limit);
    SAME(data.test_limit);
    SAME(net.n_hidden);
    for (int i = 0; i < a->net.n_hidden && i < PT_MAX_HIDDEN; i++)
        SAME(net.hidden[i]);
    SAME(train.epochs);
    SAME(train.batch_size);
    SAME(train.threads);
    SAME(train.optimizer);
    SAME(train.lr);
    SAME(train.momentum);
    SAME(train.nesterov);
    SAME(train.beta1);
    SAME(train.beta2);
    SAME(train.eps);
    SAME(train.lr_schedule);
    SAME(train.step_epochs);
    SAME(train.gamma);
    SAME(train.min_lr);
    SAME(reg.l2);
    SAME(reg.l2_decoupled);
    SAME(reg.l2_layers.n);
    for (int i = 0; i < a->reg.l2_layers.n; i++)
        SAME(reg.l2_layers.v[i]);
    SAME(reg.l1);
    SAME(reg.dropout.n);
    for (int i = 0; i < (a->reg.dropout.n < 0 ? 1 : a->reg.dropout.n); i++)
        SAME(reg.dropout.v[i]);
    SAME(reg.dropout_input);
    SAME(reg.max_norm);
    SAME(reg.bias);
    SAME(prune.schedule);
    SAME(prune.granularity);
    SAME(prune.norm);
    SAME(prune.sparsity);
    SAME(prune.prune_output);
    SAME(prune.finetune_epochs);
    SAME(prune.rounds);
    SAME(prune.rewind_epoch);
    SAME(prune.initial_sparsity);
    SAME(prune.start_epoch);
    SAME(prune.end_epoch);
    SAME(prune.frequency);
#undef SAME
#undef SAME_STR
}

static pt_status parse(pt_config *c, const char *json, pt_err *err)
{
    pt_config_defaults(c);
    memset(err, 0, sizeof *err);
    return pt_config_parse(c, json, "bad.json", err);
}

Test(config, defaults)
{
    pt_config c;
    pt_config_defaults(&c);
    cr_expect_eq(c.seed, 1);
    cr_expect_eq(c.data.format, PT_FMT_IDX);
    cr_expect_str_eq(c.data.dir, "/usr/share/datasets/fashion-mnist");
    cr_expect_str_empty(c.data.train_images);
    cr_expect_str_empty(c.data.train_labels);
    cr_expect_str_empty(c.data.test_images);
    cr_expect_str_empty(c.data.test_labels);
    cr_expect_str_empty(c.data.train);
    cr_expect_str_empty(c.data.test);
    cr_expect_eq(c.data.header, -1);
    cr_expect_str_empty(c.data.label_name);
    cr_expect_eq(c.data.label_index, -1);
    cr_expect_eq(c.data.scale, PT_SCALE_UNIT);
    cr_expect_eq(c.data.val_fraction, 0.1);
    cr_expect_eq(c.data.test_fraction, 0.2);
    cr_expect_eq(c.data.limit, 0);
    cr_expect_eq(c.data.test_limit, 0);
    cr_expect_eq(c.net.n_hidden, 2);
    cr_expect_eq(c.net.hidden[0], 300);
    cr_expect_eq(c.net.hidden[1], 100);
    cr_expect_eq(c.train.epochs, 10);
    cr_expect_eq(c.train.batch_size, 128);
    cr_expect_eq(c.train.threads, 1);
    cr_expect_eq(c.train.optimizer, PT_OPT_SGD);
    cr_expect_eq(c.train.lr, 0.05);
    cr_expect_eq(c.train.momentum, 0.9);
    cr_expect_eq(c.train.nesterov, 0);
    cr_expect_eq(c.train.beta1, 0.9);
    cr_expect_eq(c.train.beta2, 0.999);
    cr_expect_eq(c.train.eps, 1e-8);
    cr_expect_eq(c.reg.l2, 0.0);
    cr_expect_eq(c.reg.l1, 0.0);
    cr_expect_eq(c.reg.dropout.n, 0);
    cr_expect_eq(c.prune.schedule, PT_PRUNE_NONE);
    cr_expect_eq(c.prune.sparsity, 0.9);
    cr_expect_eq(c.prune.rewind_epoch, -1);
    cr_expect_eq(c.train.lr_schedule, PT_LR_CONSTANT);
    cr_expect_eq(c.train.step_epochs, 5);
    cr_expect_eq(c.train.gamma, 0.1);
    cr_expect_eq(c.train.min_lr, 0.0);

    /* An empty object is the defaults. */
    pt_config d;
    pt_err err;
    cr_assert_eq(parse(&d, "{}", &err), PT_OK, "%s", err.msg);
    expect_same(&c, &d, "{}");
}

Test(config, keys_present_override_only_themselves)
{
    pt_config c, d;
    pt_err err;
    cr_assert_eq(parse(&c, "{\"$schema\": \"x.json\", \"train\": {\"lr\": 0.1}}", &err), PT_OK,
                 "%s", err.msg);
    pt_config_defaults(&d);
    d.train.lr = 0.1;
    expect_same(&c, &d, "train.lr only");

    /* Parsing starts from the defaults, not from what *c held. */
    c.train.epochs = 99;
    cr_assert_eq(pt_config_parse(&c, "{}", "x", &err), PT_OK);
    cr_expect_eq(c.train.epochs, 10);
}

Test(config, accepted_value_forms)
{
    pt_config c;
    pt_err err;
    cr_assert_eq(parse(&c, "{\"data\": {\"label\": \"species\", \"header\": true}}", &err), PT_OK);
    cr_expect_str_eq(c.data.label_name, "species");
    cr_expect_eq(c.data.label_index, -1);
    cr_expect_eq(c.data.header, 1);
    cr_assert_eq(parse(&c, "{\"data\": {\"label\": -2, \"header\": false}}", &err), PT_OK);
    cr_expect_str_empty(c.data.label_name);
    cr_expect_eq(c.data.label_index, -2);
    cr_expect_eq(c.data.header, 0);
    cr_assert_eq(parse(&c, "{\"data\": {\"label\": 0, \"header\": \"auto\"}}", &err), PT_OK);
    cr_expect_eq(c.data.label_index, 0);
    cr_expect_eq(c.data.header, -1);

    cr_assert_eq(parse(&c, "{\"net\": {\"hidden\": []}}", &err), PT_OK, "%s", err.msg);
    cr_expect_eq(c.net.n_hidden, 0);
    cr_assert_eq(
        parse(&c, "{\"net\": {\"hidden\": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,65536]}}", &err),
        PT_OK, "%s", err.msg);
    cr_expect_eq(c.net.n_hidden, 16);
    cr_expect_eq(c.net.hidden[15], 65536);

    /* Integers may be written 1.0 or 1e1 (JSON Schema agrees); bounds inclusive. */
    cr_assert_eq(parse(&c,
                       "{\"train\": {\"epochs\": 1e1, \"batch_size\": 1.0, \"lr\": 10,"
                       " \"gamma\": 1}, \"reg\": {\"l2\": 1}}",
                       &err),
                 PT_OK, "%s", err.msg);
    cr_expect_eq(c.train.epochs, 10);
    cr_expect_eq(c.train.batch_size, 1);
    cr_assert_eq(parse(&c, "{\"seed\": 9007199254740991}", &err), PT_OK, "%s", err.msg);
    cr_expect_eq(c.seed, 9007199254740991ULL);
    cr_assert_eq(parse(&c, "{\"seed\": 0}", &err), PT_OK, "%s", err.msg);
    cr_expect_eq(c.seed, 0);

    /* min_lr is only tied to lr under the cosine schedule. */
    cr_expect_eq(parse(&c, "{\"train\": {\"lr_schedule\": \"step\", \"min_lr\": 1}}", &err), PT_OK,
                 "%s", err.msg);
    cr_expect_eq(parse(&c, "{\"train\": {\"lr_schedule\": \"cosine\", \"min_lr\": 0.049}}", &err),
                 PT_OK, "%s", err.msg);
}

typedef struct {
    const char *json;
    const char *msg; /* exact message, source "bad.json" */
} bad_case;

static const bad_case bad_cases[] = {
    /* unknown keys, with and without a suggestion */
    {"{\"foo\": 1}", "bad.json: foo: unknown key"},
    {"{\"sed\": 1}", "bad.json: sed: unknown key (did you mean 'seed'?)"},
    {"{\"trian\": {}}", "bad.json: trian: unknown key (did you mean 'train'?)"},
    {"{\"lr\": 0.1}", "bad.json: lr: unknown key (did you mean 'train.lr'?)"},
    {"{\"name\": \"x\"}", "bad.json: name: unknown key"},
    {"{\"data\": {\"foo\": 1}}", "bad.json: data.foo: unknown key"},
    {"{\"data\": {\"dri\": \"x\"}}", "bad.json: data.dri: unknown key (did you mean 'data.dir'?)"},
    {"{\"data\": {\"val\": 0.1}}",
     "bad.json: data.val: unknown key (did you mean 'data.val_fraction'?)"},
    {"{\"train\": {\"epoch\": 3}}",
     "bad.json: train.epoch: unknown key (did you mean 'train.epochs'?)"},
    {"{\"train\": {\"LR\": 3}}", "bad.json: train.LR: unknown key (did you mean 'train.lr'?)"},
    {"{\"train\": {\"seed\": 3}}", "bad.json: train.seed: unknown key (did you mean 'seed'?)"},
    {"{\"train\": {\"learning_rate\": 0.1}}", "bad.json: train.learning_rate: unknown key"},
    {"{\"net\": {\"hidden\": [10], \"layers\": 2}}",
     "bad.json: net.layers: expected an array of at most 48 layer objects (got 2)"},
    {"{\"seed\": 1, \"seed\": 2}", "bad.json: seed: duplicate key"},
    {"{\"train\": {\"lr\": 0.1, \"lr\": 0.2}}", "bad.json: train.lr: duplicate key"},
    /* sections must be objects; the top level too */
    {"{\"train\": 5}", "bad.json: train: expected an object (got 5)"},
    {"{\"data\": null}", "bad.json: data: expected an object (got null)"},
    {"[1, 2]", "bad.json: expected an object at the top level (got [1,2])"},
    {"\"x\"", "bad.json: expected an object at the top level (got \"x\")"},
    /* wrong type, one per kind of key */
    {"{\"train\": {\"lr\": \"abc\"}}",
     "bad.json: train.lr: expected a number > 0 and <= 10 (got \"abc\")"},
    {"{\"train\": {\"lr\": null}}",
     "bad.json: train.lr: expected a number > 0 and <= 10 (got null)"},
    {"{\"train\": {\"epochs\": 2.5}}",
     "bad.json: train.epochs: expected an integer >= 0 and <= 100000 (got 2.5)"},
    {"{\"train\": {\"epochs\": \"10\"}}",
     "bad.json: train.epochs: expected an integer >= 0 and <= 100000 (got \"10\")"},
    {"{\"train\": {\"nesterov\": 1}}", "bad.json: train.nesterov: expected true or false (got 1)"},
    {"{\"data\": {\"dir\": 5}}",
     "bad.json: data.dir: expected a string of at most 1023 bytes (got 5)"},
    {"{\"data\": {\"dir\": {\"x\": 1}}}",
     "bad.json: data.dir: expected a string of at most 1023 bytes (got {\"x\":1})"},
    {"{\"data\": {\"format\": 1}}",
     "bad.json: data.format: expected one of \"idx\", \"csv\" (got 1)"},
    {"{\"data\": {\"header\": \"yes\"}}",
     "bad.json: data.header: expected true, false or \"auto\" (got \"yes\")"},
    {"{\"data\": {\"label\": true}}",
     "bad.json: data.label: expected a column name (string of at most 255 bytes) or index "
     "(integer) (got true)"},
    {"{\"data\": {\"label\": 1.5}}",
     "bad.json: data.label: expected a column name (string of at most 255 bytes) or index "
     "(integer) (got 1.5)"},
    {"{\"$schema\": 5}", "bad.json: $schema: expected a string (got 5)"},
    {"{\"seed\": \"1\"}",
     "bad.json: seed: expected an integer >= 0 and <= 9007199254740991 (got \"1\")"},
    /* enums list what they accept, case-sensitively */
    {"{\"train\": {\"optimizer\": \"adamw\"}}",
     "bad.json: train.optimizer: expected one of \"sgd\", \"adam\" (got \"adamw\")"},
    {"{\"data\": {\"scale\": \"Unit\"}}",
     "bad.json: data.scale: expected one of \"unit\", \"standard\", \"none\" (got \"Unit\")"},
    {"{\"train\": {\"lr_schedule\": \"linear\"}}",
     "bad.json: train.lr_schedule: expected one of \"constant\", \"step\", \"cosine\" "
     "(got \"linear\")"},
    /* out of range */
    {"{\"seed\": -1}", "bad.json: seed: expected an integer >= 0 and <= 9007199254740991 (got -1)"},
    {"{\"seed\": 9007199254740992}",
     "bad.json: seed: expected an integer >= 0 and <= 9007199254740991 (got 9007199254740992)"},
    {"{\"seed\": 1.5}",
     "bad.json: seed: expected an integer >= 0 and <= 9007199254740991 (got 1.5)"},
    {"{\"train\": {\"lr\": 0}}", "bad.json: train.lr: expected a number > 0 and <= 10 (got 0)"},
    {"{\"train\": {\"lr\": -0.1}}",
     "bad.json: train.lr: expected a number > 0 and <= 10 (got -0.1)"},
    {"{\"train\": {\"lr\": 10.5}}",
     "bad.json: train.lr: expected a number > 0 and <= 10 (got 10.5)"},
    {"{\"train\": {\"lr\": 1e400}}",
     "bad.json: train.lr: expected a number > 0 and <= 10 (got inf)"},
    {"{\"train\": {\"epochs\": 0}}",
     "bad.json: train.epochs: expected an integer >= 1 (0 only with net.init) (got 0)"},
    {"{\"train\": {\"epochs\": 100001}}",
     "bad.json: train.epochs: expected an integer >= 0 and <= 100000 (got 100001)"},
    {"{\"train\": {\"batch_size\": 1e9}}",
     "bad.json: train.batch_size: expected an integer >= 1 and <= 65536 (got 1000000000)"},
    {"{\"train\": {\"threads\": 0}}",
     "bad.json: train.threads: expected an integer >= 1 and <= 1024 (got 0)"},
    {"{\"train\": {\"momentum\": 1}}",
     "bad.json: train.momentum: expected a number >= 0 and < 1 (got 1)"},
    {"{\"train\": {\"beta2\": -0.5}}",
     "bad.json: train.beta2: expected a number >= 0 and < 1 (got -0.5)"},
    {"{\"train\": {\"eps\": 0}}", "bad.json: train.eps: expected a number > 0 (got 0)"},
    {"{\"reg\": {\"l2\": 2}}",
     "bad.json: reg.l2: expected a number >= 0 and <= 1 (got 2)"},
    {"{\"train\": {\"weight_decay\": 1e-4}}",
     "bad.json: train.weight_decay: unknown key"},
    {"{\"reg\": {\"dropout\": [0.5, 1]}}",
     "bad.json: reg.dropout[1]: expected a number >= 0 and < 1 (got 1)"},
    {"{\"reg\": {\"dropout\": \"half\"}}",
     "bad.json: reg.dropout: expected a number or an array of at most 16 numbers >= 0 and < 1 (got \"half\")"},
    {"{\"reg\": {\"dropout\": [0.5, 0.5, 0.5]}}",
     "bad.json: reg.dropout: expected at most 2 rates, one per hidden layer (got 3)"},
    {"{\"reg\": {\"l2_layers\": [0.1, 0.1]}}",
     "bad.json: reg.l2_layers: expected 3 strengths, one per weight layer (got 2)"},
    {"{\"prune\": {\"schedule\": \"sometimes\"}}",
     "bad.json: prune.schedule: expected one of \"none\", \"oneshot\", \"iterative\", \"gradual\" (got \"sometimes\")"},
    {"{\"prune\": {\"schedule\": \"gradual\", \"end_epoch\": 11}}",
     "bad.json: prune.end_epoch: expected a number <= train.epochs (got 11)"},
    {"{\"prune\": {\"schedule\": \"gradual\", \"start_epoch\": 8}}",
     "bad.json: prune.start_epoch: expected a number < prune.end_epoch (got 8)"},
    {"{\"prune\": {\"schedule\": \"gradual\", \"initial_sparsity\": 0.95}}",
     "bad.json: prune.initial_sparsity: expected a number <= prune.sparsity (got 0.95)"},
    {"{\"prune\": {\"schedule\": \"iterative\", \"rewind_epoch\": 12}}",
     "bad.json: prune.rewind_epoch: expected an epoch <= train.epochs (got 12)"},
    {"{\"prune\": {\"sparsity\": 1}}",
     "bad.json: prune.sparsity: expected a number >= 0 and < 1 (got 1)"},
    {"{\"net\": {\"hidden\": [300, 3]}, \"prune\": {\"schedule\": \"oneshot\", \"granularity\": \"neuron\", \"sparsity\": 0.9}}",
     "bad.json: prune.sparsity: expected a fraction that leaves hidden layer 2 (3 neurons) at least one neuron (got 0.9)"},
    {"{\"net\": {\"hidden\": []}, \"prune\": {\"schedule\": \"oneshot\", \"granularity\": \"neuron\"}}",
     "bad.json: prune.granularity: \"neuron\" needs a hidden layer (net.hidden is [])"},
    {"{\"train\": {\"step_epochs\": 0}}",
     "bad.json: train.step_epochs: expected an integer >= 1 and <= 2147483647 (got 0)"},
    {"{\"train\": {\"gamma\": 0}}",
     "bad.json: train.gamma: expected a number > 0 and <= 1 (got 0)"},
    {"{\"train\": {\"min_lr\": -1}}", "bad.json: train.min_lr: expected a number >= 0 (got -1)"},
    {"{\"data\": {\"val_fraction\": 1}}",
     "bad.json: data.val_fraction: expected a number >= 0 and < 1 (got 1)"},
    {"{\"data\": {\"test_fraction\": -0.1}}",
     "bad.json: data.test_fraction: expected a number >= 0 and < 1 (got -0.1)"},
    {"{\"data\": {\"limit\": -1}}",
     "bad.json: data.limit: expected an integer >= 0 and <= 2147483647 (got -1)"},
    {"{\"data\": {\"test_limit\": 3e9}}",
     "bad.json: data.test_limit: expected an integer >= 0 and <= 2147483647 (got 3000000000)"},
    /* net.hidden: the array, then each element */
    {"{\"net\": {\"hidden\": 300}}",
     "bad.json: net.hidden: expected an array of at most 16 integers >= 1 and <= 65536 (got 300)"},
    {"{\"net\": {\"hidden\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}}",
     "bad.json: net.hidden: expected an array of at most 16 integers >= 1 and <= 65536 "
     "(got [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1])"},
    {"{\"net\": {\"hidden\": [300, 0]}}",
     "bad.json: net.hidden[1]: expected an integer >= 1 and <= 65536 (got 0)"},
    {"{\"net\": {\"hidden\": [1.5]}}",
     "bad.json: net.hidden[0]: expected an integer >= 1 and <= 65536 (got 1.5)"},
    {"{\"net\": {\"hidden\": [\"64\"]}}",
     "bad.json: net.hidden[0]: expected an integer >= 1 and <= 65536 (got \"64\")"},
    {"{\"net\": {\"hidden\": [65537]}}",
     "bad.json: net.hidden[0]: expected an integer >= 1 and <= 65536 (got 65537)"},
    /* across keys */
    {"{\"train\": {\"lr_schedule\": \"cosine\", \"lr\": 0.01, \"min_lr\": 0.01}}",
     "bad.json: train.min_lr: expected a number < train.lr (got 0.01)"},
    {"{\"train\": {\"lr_schedule\": \"cosine\", \"min_lr\": 0.5}}",
     "bad.json: train.min_lr: expected a number < train.lr (got 0.5)"},
    /* JSON syntax: line and column of the first byte cJSON could not take */
    {"", "bad.json: invalid JSON near line 1, column 1"},
    {"{\"seed\": 1", "bad.json: invalid JSON near line 1, column 11"},
    {"{} x", "bad.json: invalid JSON near line 1, column 4"},
    {"{\n  \"seed\": 1,\n  \"data\": {\n    \"dir\": 'x'\n  }\n}",
     "bad.json: invalid JSON near line 4, column 12"},
    /* a trailing comma: cJSON stops just past the closing brace */
    {"{\n  \"train\": {\n    \"lr\": 0.1,\n  }\n}", "bad.json: invalid JSON near line 4, column 4"},
    /* A key quoted back holds an escaped newline: the message stays one line
     * (found by tests/fuzz/fuzz_protocol.c, through a trial message). */
    {"{\"train\": {\"lr\\nx\": 1}}", "bad.json: train.lr?x: unknown key (did you mean 'train.lr'?)"},
};

Test(config, bad_configs_name_the_key)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *b = &bad_cases[i];
        pt_config c;
        pt_err err;
        pt_status st = parse(&c, b->json, &err);
        cr_expect_eq(st, PT_ERR_CONFIG, "case %zu %s: status %d", i, b->json, st);
        cr_expect_str_eq(err.msg, b->msg, "case %zu %s", i, b->json);
    }
}

Test(config, failed_parse_leaves_config_alone)
{
    pt_config c, before;
    pt_err err;
    pt_config_defaults(&c);
    c.train.epochs = 42;
    c.net.n_hidden = 1;
    before = c;
    /* Valid keys before the bad one must not leak into c either. */
    cr_assert_eq(pt_config_parse(&c, "{\"train\": {\"lr\": 0.2, \"epochs\": 0}}", "x", &err),
                 PT_ERR_CONFIG);
    expect_same(&c, &before, "after a failed parse");
    cr_expect_eq(pt_config_parse(&c, "{", NULL, &err), PT_ERR_CONFIG);
    cr_expect_str_eq(err.msg, "config: invalid JSON near line 1, column 2");
    cr_expect_eq(pt_config_parse(&c, NULL, "x", &err), PT_ERR_ARG);
}

static void expect_string_limit(const char *section, const char *key, size_t size, const char *what)
{
    char *long_str = malloc(size + 1), *json = malloc(size + 128);
    cr_assert(long_str && json);
    pt_config c;
    pt_err err;
    /* size - 1 bytes fit the buffer with its terminator ... */
    memset(long_str, 'a', size - 1);
    long_str[size - 1] = '\0';
    sprintf(json, "{\"%s\": {\"%s\": \"%s\"}}", section, key, long_str);
    cr_expect_eq(parse(&c, json, &err), PT_OK, "%s.%s: %s", section, key, err.msg);
    /* ... one more does not. */
    strcat(long_str, "a");
    sprintf(json, "{\"%s\": {\"%s\": \"%s\"}}", section, key, long_str);
    cr_expect_eq(parse(&c, json, &err), PT_ERR_CONFIG);
    char want[256];
    snprintf(want, sizeof want,
             "bad.json: %s.%s: expected %s (got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...)",
             section, key, what);
    cr_expect_str_eq(err.msg, want);
    free(long_str);
    free(json);
}

Test(config, string_longer_than_its_buffer)
{
    expect_string_limit("data", "dir", PT_PATH_MAX, "a string of at most 1023 bytes");
    expect_string_limit("data", "test_labels", PT_PATH_MAX, "a string of at most 1023 bytes");
    expect_string_limit("data", "label", 256,
                        "a column name (string of at most 255 bytes) or index (integer)");
}

Test(config, load_reports_the_file)
{
    pt_config c;
    pt_err err;
    pt_config_defaults(&c);
    cr_expect_eq(pt_config_load(&c, "/nonexistent/x.json", &err), PT_ERR_IO);
    cr_expect_str_eq(err.msg, "/nonexistent/x.json: cannot read: No such file or directory");
    cr_expect_eq(pt_config_load(&c, PT_SOURCE_DIR "/examples", &err), PT_ERR_IO);
    cr_expect(strstr(err.msg, "/examples: cannot read: ") != NULL, "%s", err.msg);

    char path[] = "/tmp/pt_test_config_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char text[] = "{\n\"train\": {\"epochs\": 3}}\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    cr_expect_eq(pt_config_load(&c, path, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(c.train.epochs, 3);

    /* A NUL byte would end the text early for cJSON: refuse it instead. */
    const char nul[] = "{\"x\": 1}";
    cr_assert_eq(ftruncate(fd, 0), 0);
    cr_assert_eq(pwrite(fd, "{}\n \0", 5, 0), 5);
    cr_expect_eq(pt_config_load(&c, path, &err), PT_ERR_CONFIG);
    char want[128];
    snprintf(want, sizeof want, "%s: invalid JSON near line 2, column 2", path);
    cr_expect_str_eq(err.msg, want);

    cr_assert_eq(ftruncate(fd, 0), 0);
    cr_assert_eq(pwrite(fd, nul, sizeof nul - 1, 0), (ssize_t)(sizeof nul - 1));
    cr_expect_eq(pt_config_load(&c, path, &err), PT_ERR_CONFIG);
    snprintf(want, sizeof want, "%s: x: unknown key", path);
    cr_expect_str_eq(err.msg, want);
    close(fd);
    unlink(path);
}

static void expect_round_trip(const pt_config *c, const char *what)
{
    char *text = pt_config_to_json(c);
    cr_assert_not_null(text);
    pt_config back;
    pt_err err;
    cr_assert_eq(pt_config_parse(&back, text, "to_json", &err), PT_OK, "%s: %s\n%s", what, err.msg,
                 text);
    expect_same(c, &back, what);
    /* Printing again gives the same text. */
    char *again = pt_config_to_json(&back);
    cr_assert_not_null(again);
    cr_expect_str_eq(text, again, "%s", what);
    free(again);
    free(text);
}

Test(config, to_json_round_trips)
{
    pt_config c;
    pt_config_defaults(&c);
    expect_round_trip(&c, "defaults");

    /* Every key changed, with doubles that need all 17 digits. */
    c.seed = 9007199254740991ULL;
    c.data.format = PT_FMT_CSV;
    strcpy(c.data.dir, "dir with \"quotes\", \\ and \xc3\xa9\n");
    strcpy(c.data.train_images, "a");
    strcpy(c.data.train_labels, "b");
    strcpy(c.data.test_images, "c");
    strcpy(c.data.test_labels, "d");
    strcpy(c.data.train, "train.csv");
    strcpy(c.data.test, "test.csv");
    c.data.header = 0;
    strcpy(c.data.label_name, "species");
    c.data.label_index = -1;
    c.data.scale = PT_SCALE_STANDARD;
    c.data.val_fraction = 0.1 + 0.2;
    c.data.test_fraction = 1.0 / 3.0;
    c.data.limit = 2147483647;
    c.data.test_limit = 7;
    c.net.n_hidden = PT_MAX_HIDDEN;
    for (int i = 0; i < PT_MAX_HIDDEN; i++)
        c.net.hidden[i] = 65536 - i;
    c.train.epochs = 100000;
    c.train.batch_size = 65536;
    c.train.threads = 1024;
    c.train.optimizer = PT_OPT_ADAM;
    c.train.lr = nextafter(0.05, 1.0);
    c.train.momentum = nextafter(1.0, 0.0);
    c.train.nesterov = 1;
    c.train.beta1 = 0.0;
    c.train.beta2 = 0.9999;
    c.train.eps = 4.9406564584124654e-324; /* smallest subnormal */
    c.reg.l2 = 1.0;
    c.reg.l2_decoupled = 1;
    c.reg.l2_layers.n = PT_MAX_HIDDEN + 1;
    for (int i = 0; i <= PT_MAX_HIDDEN; i++)
        c.reg.l2_layers.v[i] = 1.0 / (i + 3);
    c.reg.l1 = 1e-5;
    c.reg.dropout.n = 3;
    c.reg.dropout.v[0] = 0.5;
    c.reg.dropout.v[1] = 0.1 + 0.2;
    c.reg.dropout.v[2] = 0.0;
    c.reg.dropout_input = 0.2;
    c.reg.max_norm = 3.5;
    c.reg.bias = 1;
    c.prune.schedule = PT_PRUNE_GRADUAL;
    c.prune.granularity = PT_GRAN_NEURON;
    c.prune.norm = PT_NORM_L1;
    c.prune.sparsity = 0.5;
    c.prune.prune_output = 0;
    c.prune.finetune_epochs = 7;
    c.prune.rounds = 9;
    c.prune.rewind_epoch = 2;
    c.prune.initial_sparsity = 0.05;
    c.prune.start_epoch = 0.5;
    c.prune.end_epoch = 9.75;
    c.prune.frequency = 33;
    c.train.lr_schedule = PT_LR_COSINE;
    c.train.step_epochs = 3;
    c.train.gamma = 0.5;
    c.train.min_lr = 1e-300;
    expect_round_trip(&c, "every key changed");

    /* The other forms of the mixed keys. */
    c.data.header = 1;
    c.data.label_name[0] = '\0';
    c.data.label_index = 4;
    c.net.n_hidden = 0;
    c.train.optimizer = PT_OPT_SGD;
    c.train.lr_schedule = PT_LR_STEP;
    c.data.scale = PT_SCALE_NONE;
    c.seed = 0;
    c.reg.dropout.n = 0;
    c.reg.l2_layers.n = 1;
    c.prune.granularity = PT_GRAN_GLOBAL;
    expect_round_trip(&c, "label index, header true, no hidden layer");
    c.reg.dropout.n = -1;
    c.reg.dropout.v[0] = 0.25;
    c.reg.l2_layers.n = -1;
    c.net.n_hidden = 2;
    expect_round_trip(&c, "one dropout rate for all layers");
}

Test(config, to_json_prints_every_key)
{
    pt_config c;
    pt_config_defaults(&c);
    c.seed = 9007199254740991ULL;
    char *text = pt_config_to_json(&c);
    cr_assert_not_null(text);
    /* The seed as an integer, never as 9.00719925474099e+15. */
    cr_expect(strstr(text, "\"seed\":\t9007199254740991,\n") != NULL, "%s", text);
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root);
    int n = 0;
    for (const char *k; (k = pt_config_key(n)) != NULL; n++) {
        if (!strcmp(k, "$schema"))
            continue;
        /* An empty schedule is left out, so configs without one print as
         * they did before the keys existed (test_schedule.c prints one). */
        if (!strncmp(k, "schedule.", 9)) {
            cr_expect_null(json_at(root, k, 0), "%s printed while empty", k);
            continue;
        }
        cr_expect_not_null(json_at(root, k, 0), "%s missing from to_json", k);
    }
    cr_expect_eq(n, 67, "the key table has %d rows", n); /* + net.weight_init */
    cr_expect_null(pt_config_key(-1));
    cr_expect_null(pt_config_key(n));
    cJSON_Delete(root);
    free(text);
}

/* Leaf key paths of a schema object ("data.dir", ...) appended to keys. */
static void schema_leaves(const cJSON *obj, const char *prefix, char keys[][64], int *n)
{
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(obj, "additionalProperties")),
              "%s: additionalProperties must be false", *prefix ? prefix : "top level");
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(obj, "properties");
    cr_assert(cJSON_IsObject(props));
    for (const cJSON *p = props->child; p; p = p->next) {
        char path[64];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", p->string);
        cr_expect_str_not_empty(
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "description")),
            "%s has no description", path);
        if (cJSON_GetObjectItemCaseSensitive(p, "properties")) {
            schema_leaves(p, path, keys, n);
        } else {
            cr_assert_lt(*n, 128);
            snprintf(keys[(*n)++], 64, "%s", path);
        }
    }
}

Test(config, schema_documents_exactly_the_parsed_keys)
{
    char *text = read_text(PT_SOURCE_DIR "/schemas/train.schema.json");
    cJSON *schema = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(schema, "schema is not valid JSON");
    static char keys[128][64];
    int n = 0;
    schema_leaves(schema, "", keys, &n);

    expect_same_keys(keys, n, pt_config_key);

    /* Each schema default is the C default, as to_json prints it. */
    pt_config c;
    pt_config_defaults(&c);
    char *json = pt_config_to_json(&c);
    cJSON *defaults = cJSON_Parse(json);
    free(json);
    cr_assert_not_null(defaults);
    for (int i = 0; i < n; i++) {
        if (!strcmp(keys[i], "$schema"))
            continue;
        const cJSON *want =
            cJSON_GetObjectItemCaseSensitive(json_at(schema, keys[i], 1), "default");
        const cJSON *have = json_at(defaults, keys[i], 0);
        cr_assert_not_null(want, "%s has no default in the schema", keys[i]);
        if (!strncmp(keys[i], "schedule.", 9)) { /* empty: [] and not printed */
            cr_expect(cJSON_IsArray(want) && cJSON_GetArraySize(want) == 0 && !have, "%s", keys[i]);
            continue;
        }
        cr_assert_not_null(have, "%s missing from to_json", keys[i]);
        char *w = cJSON_PrintUnformatted(want), *h = cJSON_PrintUnformatted(have);
        cr_expect(cJSON_Compare(want, have, 1), "%s: schema default %s, C default %s", keys[i], w,
                  h);
        cJSON_free(w);
        cJSON_free(h);
    }
    cJSON_Delete(defaults);
    cJSON_Delete(schema);
}

Test(config, every_example_parses)
{
    DIR *dir = opendir(PT_SOURCE_DIR "/examples");
    cr_assert_not_null(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        if (!strncmp(e->d_name, "study_", 6))
            continue; /* study configs: tests/test_study.c */
        char path[1024];
        snprintf(path, sizeof path, "%s/examples/%s", PT_SOURCE_DIR, e->d_name);
        pt_config c;
        pt_err err;
        pt_config_defaults(&c);
        cr_expect_eq(pt_config_load(&c, path, &err), PT_OK, "%s", err.msg);
        expect_schema_ref(path, e->d_name, "../schemas/train.schema.json");
        n++;
    }
    closedir(dir);
    cr_expect_geq(n, 4, "only %d examples", n);
}

static pt_config load_example(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/%s", PT_SOURCE_DIR, name);
    pt_config c;
    pt_err err;
    pt_config_defaults(&c);
    cr_assert_eq(pt_config_load(&c, path, &err), PT_OK, "%s", err.msg);
    return c;
}

Test(config, examples_say_what_they_promise)
{
    pt_config c = load_example("lenet_fashion.json"), d;
    pt_config_defaults(&d);
    /* The main example differs from the defaults only in its schedule:
     * cosine decay is what takes 10 epochs past 0.88 test accuracy. */
    cr_expect_eq(c.train.lr_schedule, PT_LR_COSINE);
    d.train.lr_schedule = PT_LR_COSINE;
    cr_expect_eq(c.reg.l2, 1e-4);
    d.reg.l2 = 1e-4;
    expect_same(&c, &d, "lenet_fashion.json is the defaults + cosine + L2, written out");

    c = load_example("quick.json");
    cr_expect_eq(c.data.limit, 5000);
    cr_expect_eq(c.data.test_limit, 2000);
    cr_expect_eq(c.net.n_hidden, 1);
    cr_expect_eq(c.net.hidden[0], 64);
    cr_expect_eq(c.train.epochs, 3);

    c = load_example("adam_cosine.json");
    cr_expect_eq(c.train.optimizer, PT_OPT_ADAM);
    cr_expect_eq(c.train.lr, 1e-3);
    cr_expect_eq(c.train.lr_schedule, PT_LR_COSINE);
    cr_expect_eq(c.train.epochs, 10);

    c = load_example("csv_iris.json");
    cr_expect_eq(c.data.format, PT_FMT_CSV);
    cr_expect_str_eq(c.data.label_name, "species");
    cr_expect_eq(c.data.scale, PT_SCALE_STANDARD);
    cr_expect_eq(c.net.n_hidden, 1);
    cr_expect_eq(c.net.hidden[0], 16);
    cr_expect_eq(c.train.epochs, 50);
    cr_expect_eq(c.train.batch_size, 16);
    cr_expect_eq(c.train.lr, 0.05);
    cr_expect_eq(c.data.val_fraction, 0.2);
    cr_expect_eq(c.data.test_fraction, 0.2);
    /* Paths are relative to where prunetune runs: the repository root. */
    char path[PT_PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", PT_SOURCE_DIR, c.data.train);
    char *csv = read_text(path);
    int lines = 0;
    for (const char *p = csv; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 151, "iris.csv: header + 150 rows");
    cr_expect_eq(strncmp(csv, "sepal_length,sepal_width,petal_length,petal_width,species\n", 58),
                 0);
    free(csv);
}
