/*
 * test_onnx.c — ONNX export (core/onnx.h), end to end: `prunetune train
 * --save X.onnx` for a dense MLP, a magnitude-pruned MLP (COO sparse
 * weights), a neuron-pruned MLP (compacted) and a filter-pruned CNN
 * (Conv/MaxPool/AveragePool/Flatten); each file passes ONNX's own full
 * checker and a numpy evaluation of its graph (tests/onnx_check.py, Debian's
 * python3-onnx) reproduces the test accuracy prunetune printed on all
 * 10,000 Fashion-MNIST test images. In C: the file read back with
 * protobuf-c holds the network's weights exactly, and a write that fails
 * leaves nothing behind.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "onnx.h"
#include "onnx.pb-c.h"
#include "prune.h"

static char tmpdir[] = "/tmp/pt_onnx_XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(onnx, .init = setup, .fini = teardown, .timeout = 300);

/* A path in the test's folder; the last 8 results stay valid. */
static const char *tmp(const char *name)
{
    static char path[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

/* A whole file, NUL-terminated ("" when missing). */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    size_t len = 0;
    char *b = NULL;
    if (f) {
        fseek(f, 0, SEEK_END);
        len = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
    }
    b = malloc(len + 1);
    cr_assert_not_null(b);
    if (f) {
        cr_assert_eq(fread(b, 1, len, f), len);
        fclose(f);
    }
    b[len] = '\0';
    if (n)
        *n = len;
    return b;
}

/* Runs a shell command with stdout into tmpdir/out, stderr into tmpdir/err;
 * the exit status. */
static int run(const char *cmd)
{
    char full[8192];
    snprintf(full, sizeof full, "%s >'%s/out' 2>'%s/err'", cmd, tmpdir, tmpdir);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double json_num(const char *text, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(text, k);
    cr_assert_not_null(p, "no %s in: %s", key, text);
    return strtod(p + strlen(k), NULL);
}

/* Trains with the --set options in sets, saves name.onnx, checks it with
 * tests/onnx_check.py; returns the checker's JSON line (malloc'd) and the
 * export's summary line on stderr in *summary. */
static char *train_and_check(const char *name, const char *sets, char **summary)
{
    char cmd[4096], file[64];
    snprintf(file, sizeof file, "%s.onnx", name);
    const char *model = tmp(file);
    /* 2,000 training rows, one epoch (and one fine-tuning epoch): the test
     * is the file, not the accuracy; all 10,000 test rows are evaluated. */
    snprintf(cmd, sizeof cmd,
             "%s train --quiet --set data.dir='\"%s\"' --set data.limit=2000 "
             "--set train.epochs=1 %s --save '%s'",
             PT_BIN, PT_FASHION_DIR, sets, model);
    int code = run(cmd);
    char *out = slurp(tmp("out"), NULL), *err = slurp(tmp("err"), NULL);
    cr_assert_eq(code, 0, "%s\n%s%s", cmd, out, err);
    double train_acc = json_num(out, "test_acc");
    free(out);
    *summary = err;

    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/onnx_check.py' '%s' '%s'", PT_SOURCE_DIR,
             model, PT_FASHION_DIR);
    code = run(cmd);
    char *chk = slurp(tmp("out"), NULL);
    err = slurp(tmp("err"), NULL);
    cr_assert_eq(code, 0, "onnx_check failed:\n%s%s", chk, err);
    free(err);
    cr_assert_eq(json_num(chk, "n"), 10000, "%s", chk);
    /* The metadata carries prunetune's figure as "%.17g": exact. */
    cr_assert_eq(json_num(chk, "recorded_test_acc"), train_acc, "%s", chk);
    /* Counts, not floats: numpy sums each dot product in another order than
     * OpenBLAS (and a compacted network has folded biases), so a row whose
     * two largest logits are within float32 rounding of each other may
     * flip; the issue allows one such row in 10,000. round() turns the
     * printed accuracy (a count / 10,000) back into the count. */
    long pt_correct = lround(train_acc * 10000), onnx_correct = lround(json_num(chk, "correct"));
    cr_assert_leq(labs(pt_correct - onnx_correct), 1, "prunetune %ld vs ONNX %ld of 10000: %s",
                  pt_correct, onnx_correct, chk);
    /* The file the summary line describes. */
    char want[600];
    snprintf(want, sizeof want, "%s: ONNX opset 13, %ld bytes", model,
             (long)json_num(chk, "bytes"));
    cr_assert_not_null(strstr(*summary, want), "expected '%s' in: %s", want, *summary);
    return chk;
}

/* The figure after `what` in the summary line. */
static long after(const char *line, const char *what)
{
    const char *p = strstr(line, what);
    cr_assert_not_null(p, "no '%s' in: %s", what, line);
    return strtol(p + strlen(what), NULL, 10);
}

Test(onnx, dense_mlp)
{
    char *summary, *chk = train_and_check("dense", "--set net.hidden=[64,32]", &summary);
    cr_expect_not_null(strstr(chk, "\"ops\": [\"Gemm\", \"Mul\", \"Relu\", \"Softmax\", \"Sub\"]"),
                       "%s", chk);
    cr_expect_eq(json_num(chk, "sparse"), 0, "a dense network has no sparse tensor: %s", chk);
    cr_expect_not_null(strstr(summary, "layers 784-64-32-10 (trained 784-64-32-10)"), "%s",
                       summary);
    free(chk);
    free(summary);
}

Test(onnx, magnitude_pruned_mlp_has_sparse_weights_and_a_smaller_file)
{
    char *summary, *chk = train_and_check("magnitude",
                                          "--set net.hidden=[64,32] --set prune.schedule=oneshot "
                                          "--set prune.sparsity=0.9 --set prune.finetune_epochs=1",
                                          &summary);
    cr_expect_eq(json_num(chk, "sparse"), 3, "every weight matrix as COO: %s", chk);
    cr_expect_not_null(strstr(chk, "\"Constant\""), "%s", chk);
    /* At 90% zeros, COO (4-byte value + 1-3 byte varint index per nonzero)
     * is well under half the 4 bytes per weight of the dense tensors. */
    long bytes = after(summary, "opset 13, "), dense = after(summary, "% of the ");
    cr_expect_lt(2 * bytes, dense, "%s", summary);
    cr_expect_lt(after(summary, "as run dense, "), after(summary, "FLOPs/sample "), "%s", summary);
    free(chk);
    free(summary);
}

Test(onnx, neuron_pruned_mlp_is_compacted)
{
    char *summary, *chk = train_and_check("neuron",
                                          "--set net.hidden=[64,32] --set prune.schedule=oneshot "
                                          "--set prune.granularity=neuron --set prune.sparsity=0.5 "
                                          "--set prune.finetune_epochs=1",
                                          &summary);
    /* Half the hidden neurons of each layer are gone from the graph. */
    cr_expect_not_null(strstr(chk, "\"sizes\": [784, 32, 16, 10]"), "%s", chk);
    cr_expect_not_null(strstr(summary, "(trained 784-64-32-10)"), "%s", summary);
    cr_expect_lt(after(summary, "FLOPs/sample "), after(summary, "on nonzero weights, "), "%s",
                 summary);
    free(chk);
    free(summary);
}

Test(onnx, filter_pruned_cnn)
{
    char *summary, *chk = train_and_check(
                       "cnn",
                       "--set 'net.layers=[{\"type\":\"conv2d\",\"out\":4,\"kernel\":5,\"pad\":2},"
                       "{\"type\":\"maxpool\",\"size\":2},{\"type\":\"conv2d\",\"out\":8,"
                       "\"kernel\":3},{\"type\":\"avgpool\",\"size\":2},{\"type\":\"dense\","
                       "\"out\":32}]' --set prune.schedule=oneshot --set prune.granularity=filter "
                       "--set prune.sparsity=0.5 --set prune.finetune_epochs=1",
                       &summary);
    cr_expect_not_null(strstr(chk, "\"AveragePool\", \"Conv\", \"Flatten\", \"Gemm\", \"MaxPool\""),
                       "%s", chk);
    /* 2 of 4 and 4 of 8 filters left: 2 x 14 x 14, then 4 x 6 x 6 values. */
    cr_expect_not_null(strstr(chk, "\"sizes\": [784, 392, 144, 32, 10]"), "%s", chk);
    free(chk);
    free(summary);
}

Test(onnx, format_option_and_its_errors)
{
    char cmd[2048];
    /* --format onnx wins over the extension. */
    snprintf(
        cmd, sizeof cmd,
        "%s train --quiet --set data.dir='\"%s\"' --set data.limit=300 --set data.test_limit=100 "
        "--set net.hidden=[8] --set train.epochs=1 --format onnx --save '%s'",
        PT_BIN, PT_FASHION_DIR, tmp("m.model"));
    cr_assert_eq(run(cmd), 0);
    size_t n;
    char *b = slurp(tmp("m.model"), &n);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, (const uint8_t *)b);
    cr_assert_not_null(m, "not a protobuf ModelProto");
    cr_expect_eq(m->ir_version, PT_ONNX_IR_VERSION);
    onnx__model_proto__free_unpacked(m, NULL);
    free(b);

    /* A bad --format, or --format alone: exit 2 before training, one line. */
    snprintf(cmd, sizeof cmd, "%s train --format tflite --save '%s'", PT_BIN, tmp("x.onnx"));
    cr_expect_eq(run(cmd), 2);
    char *err = slurp(tmp("err"), NULL);
    cr_expect_str_eq(err, "prunetune train: --format tflite: expected npz or onnx\n");
    free(err);
    cr_expect_neq(access(tmp("x.onnx"), F_OK), 0);
    /* eval reads .npz: an .onnx is named as such, not "not an .npz". */
    snprintf(cmd, sizeof cmd, "%s eval '%s'", PT_BIN, tmp("m.onnx"));
    cr_expect_eq(run(cmd), 2);
    err = slurp(tmp("err"), NULL);
    cr_expect_not_null(strstr(err, "m.onnx: ONNX is for a runtime"), "%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s train --format onnx", PT_BIN);
    cr_expect_eq(run(cmd), 2);
    err = slurp(tmp("err"), NULL);
    cr_expect_str_eq(err, "prunetune train: --format needs --save MODEL\n");
    free(err);
}

/* An untrained 784-16-12-10 network, magnitude-pruned to 70%, its last
 * hidden layer's neurons 0..3 removed by hand. */
static void pruned_net(pt_net *net)
{
    int hidden[2] = {16, 12};
    pt_rng rng;
    pt_rng_seed(&rng, 11);
    pt_err err;
    cr_assert_eq(pt_net_init_dense(net, 784, hidden, 2, 10, 4, &rng, &err), PT_OK);
    cr_assert_eq(pt_prune_magnitude(net, 0.7, 0, 1, &err), PT_OK);
    pt_layer *L = &net->layer[1];
    for (int j = 0; j < 4; j++)
        memset(L->w + (size_t)j * L->n_in, 0, sizeof(float) * (size_t)L->n_in);
}

static const Onnx__TensorProto *find_init(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name))
            return g->initializer[i];
    return NULL;
}

static const Onnx__SparseTensorProto *find_sparse(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_node; i++)
        if (!strcmp(g->node[i]->op_type, "Constant") && !strcmp(g->node[i]->output[0], name))
            return g->node[i]->attribute[0]->sparse_tensor;
    return NULL;
}

/* Read back with protobuf-c: every weight, dense or COO, is the compacted
 * network's, bit for bit; the scaler is there; the metadata says what
 * training measured. */
Test(onnx, written_weights_read_back_exactly)
{
    pt_net net, small;
    pruned_net(&net);
    pt_err err;
    cr_assert_eq(pt_net_compact(&net, &small, 1, &err), PT_OK);
    cr_assert_eq(small.sizes[2], 8, "4 of 12 neurons removed");
    float off[784], mul[784];
    for (int j = 0; j < 784; j++) {
        off[j] = 0.5f * (float)j;
        mul[j] = 1.0f / 255.0f;
    }
    pt_scaler sc = {784, off, mul};
    pt_config cfg;
    pt_config_defaults(&cfg);
    char *names[10] = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal",  "Shirt",   "Sneaker",  "Bag",   "Ankle \"boot\""};
    pt_model_info info = {0.8125, 0.5, 0.75, 160, 10, names, NULL};
    pt_onnx_stats st;
    const char *path = tmp("w.onnx");
    cr_assert_eq(pt_onnx_save(path, &net, &sc, &cfg, &info, &st, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(st.n_weights, 3);
    cr_expect_eq(st.sizes[2], 8);
    cr_expect_eq(st.sizes_in[2], 12);

    size_t n;
    char *b = slurp(path, &n);
    cr_expect_eq((long)n, st.bytes);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, (const uint8_t *)b);
    cr_assert_not_null(m);
    cr_expect_eq(m->opset_import[0]->version, PT_ONNX_OPSET);
    const Onnx__GraphProto *g = m->graph;
    int sparse = 0;
    for (int l = 0; l < small.n_layers; l++) {
        const pt_layer *L = &small.layer[l];
        size_t nw = (size_t)L->n_in * L->n_out;
        char name[32];
        snprintf(name, sizeof name, "layer%d.weight", l);
        float *w = calloc(nw, sizeof *w);
        const Onnx__TensorProto *t = find_init(g, name);
        const Onnx__SparseTensorProto *s = find_sparse(g, name);
        cr_assert(!t != !s, "%s: one dense or one sparse tensor", name);
        if (t) {
            cr_assert_eq(t->n_float_data, nw);
            memcpy(w, t->float_data, nw * sizeof *w);
        } else {
            sparse++;
            cr_assert_eq(s->n_dims, 2);
            cr_assert_eq(s->dims[0], L->n_out);
            cr_assert_eq(s->dims[1], L->n_in);
            cr_assert_eq(s->values->n_float_data, s->indices->n_int64_data);
            for (size_t k = 0; k < s->values->n_float_data; k++) {
                int64_t i = s->indices->int64_data[k];
                cr_assert(i >= 0 && (size_t)i < nw &&
                          (k == 0 || i > s->indices->int64_data[k - 1]));
                w[i] = s->values->float_data[k];
            }
        }
        cr_expect_eq(memcmp(w, L->w, nw * sizeof *w), 0, "%s differs", name);
        free(w);
        snprintf(name, sizeof name, "layer%d.bias", l);
        t = find_init(g, name);
        cr_assert_not_null(t, "%s", name);
        cr_expect_eq(memcmp(t->float_data, L->b, sizeof(float) * (size_t)L->n_out), 0, "%s", name);
    }
    cr_expect_eq(sparse, st.n_sparse);
    cr_expect_geq(sparse, 1, "70%% zeros: COO is smaller");
    const Onnx__TensorProto *t = find_init(g, "scale_offset");
    cr_assert_not_null(t);
    cr_expect_eq(memcmp(t->float_data, off, sizeof off), 0);
    int seen = 0;
    for (size_t i = 0; i < m->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *e = m->metadata_props[i];
        if (!strcmp(e->key, "prunetune.test_acc"))
            seen += !strcmp(e->value, "0.8125");
        if (!strcmp(e->key, "prunetune.classes"))
            seen += strstr(e->value, "\"Ankle \\\"boot\\\"\"]") != NULL;
    }
    cr_expect_eq(seen, 2, "metadata");
    onnx__model_proto__free_unpacked(m, NULL);
    free(b);
    pt_net_free(&small);
    pt_net_free(&net);
}

Test(onnx, failed_write_leaves_nothing)
{
    pt_net net;
    pruned_net(&net);
    float off[784] = {0}, mul[784] = {0};
    pt_scaler sc = {784, off, mul};
    pt_config cfg;
    pt_config_defaults(&cfg);
    pt_model_info info = {0.5, 1, 0.5, 10, 0, NULL, NULL};
    pt_err err;
    char path[600];
    snprintf(path, sizeof path, "%s/no/such/dir/m.onnx", tmpdir);
    cr_expect_eq(pt_onnx_save(path, &net, &sc, &cfg, &info, NULL, &err), PT_ERR_IO);
    cr_expect(!strncmp(err.msg, path, strlen(path)), "names the file: %s", err.msg);
    cr_expect_null(strchr(err.msg, '\n'));
    /* A scaler of the wrong width is the caller's error. */
    pt_scaler bad = {783, off, mul};
    cr_expect_eq(pt_onnx_save(tmp("b.onnx"), &net, &bad, &cfg, &info, NULL, &err), PT_ERR_ARG);
    cr_expect_neq(access(tmp("b.onnx"), F_OK), 0);
    cr_expect_neq(access(tmp("b.onnx.tmp"), F_OK), 0);
    pt_net_free(&net);
}
