/*
 * test_npz.c — model export: .npz arrays round-trip; a trained, pruned
 * network saved and loaded back is identical bit for bit and evaluates to the
 * training-time accuracy exactly; numpy alone (tests/npz_check.py) computes
 * the same accuracy from the file; and truncated, corrupted and foreign files
 * give one clear error, never a crash.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "allclose.h"
#include "data_open.h"
#include "model.h"
#include "npz.h"
#include "prune.h"
#include "train.h"

static char tmpdir[] = "/tmp/pt_npz_XXXXXX";

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

TestSuite(npz, .init = setup, .fini = teardown);

/* A path in the test's folder; the last 16 results stay valid. */
static const char *tmp(const char *name)
{
    static char path[16][512];
    static int k;
    k = (k + 1) % 16;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    cr_assert_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Runs a shell command, stdout captured into out (and stderr into the file
 * err); returns the exit status. */
static int run(const char *cmd, char *out, size_t cap)
{
    char full[4096];
    snprintf(full, sizeof full, "%s >'%s/out' 2>'%s/err'", cmd, tmpdir, tmpdir);
    int st = system(full);
    size_t n = 0;
    char path[600];
    snprintf(path, sizeof path, "%s/out", tmpdir);
    FILE *f = fopen(path, "r");
    if (f) {
        n = fread(out, 1, cap - 1, f);
        fclose(f);
    }
    out[n] = '\0';
    /* The child's sanitizer reports land in its stderr file, which ctest does
     * not see: look for them here (the ASan build runs this test too). */
    static char err[1 << 16];
    n = 0;
    snprintf(path, sizeof path, "%s/err", tmpdir);
    if ((f = fopen(path, "r"))) {
        n = fread(err, 1, sizeof err - 1, f);
        fclose(f);
    }
    err[n] = '\0';
    cr_assert(!strstr(err, "Sanitizer") && !strstr(err, "runtime error:"), "%s: %s", cmd, err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double json_num(const char *text, const char *key)
{
    cJSON *o = cJSON_Parse(text);
    cr_assert_not_null(o, "not JSON: %s", text);
    const cJSON *v = cJSON_GetObjectItem(o, key);
    cr_assert(cJSON_IsNumber(v), "no number '%s' in %s", key, text);
    double d = v->valuedouble;
    cJSON_Delete(o);
    return d;
}

Test(npz, arrays_round_trip_and_bytes_are_deterministic)
{
    float f[6] = {1.5f, -2.0f, 0.0f, 3.25f, NAN, 1e-30f};
    int32_t i[3] = {-7, 0, 2147483647};
    uint8_t u[4] = {0, 1, 254, 255};
    long s23[2] = {2, 3}, s3 = 3, s04[2] = {0, 4}, s4 = 4;
    for (int rep = 0; rep < 2; rep++) {
        pt_npz_writer *w;
        pt_err err;
        cr_assert_eq(pt_npz_writer_open(&w, tmp(rep ? "b.npz" : "a.npz"), &err), PT_OK, "%s",
                     err.msg);
        cr_assert_eq(pt_npz_writer_add(w, "f", PT_F32, 2, s23, f, &err), PT_OK, "%s", err.msg);
        cr_assert_eq(pt_npz_writer_add(w, "i", PT_I32, 1, &s3, i, &err), PT_OK);
        cr_assert_eq(pt_npz_writer_add(w, "u", PT_U8, 1, &s4, u, &err), PT_OK);
        cr_assert_eq(pt_npz_writer_add(w, "scalar", PT_F32, 0, NULL, f + 3, &err), PT_OK);
        cr_assert_eq(pt_npz_writer_add(w, "empty", PT_F32, 2, s04, NULL, &err), PT_OK);
        cr_assert_eq(pt_npz_writer_finish(w, &err), PT_OK, "%s", err.msg);
    }
    size_t na, nb;
    unsigned char *a = slurp(tmp("a.npz"), &na), *b = slurp(tmp("b.npz"), &nb);
    cr_assert(na == nb && !memcmp(a, b, na), "same arrays must give the same bytes");
    free(a);
    free(b);
    FILE *leftover = fopen(tmp("a.npz.tmp"), "rb");
    cr_assert_null(leftover, "the temporary file must be renamed away");

    pt_npz z;
    pt_err err;
    cr_assert_eq(pt_npz_open(&z, tmp("a.npz"), &err), PT_OK, "%s", err.msg);
    cr_assert_eq(z.n, 5);
    float f2[6];
    int32_t i2[3];
    uint8_t u2[4];
    cr_assert_eq(pt_npz_get(&z, "f", PT_F32, 2, s23, f2, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(memcmp(f, f2, sizeof f), 0, "float32 bits, NaN included");
    cr_assert_eq(pt_npz_get(&z, "i", PT_I32, 1, &s3, i2, &err), PT_OK);
    cr_assert_eq(memcmp(i, i2, sizeof i), 0);
    cr_assert_eq(pt_npz_get(&z, "u", PT_U8, 1, &s4, u2, &err), PT_OK);
    cr_assert_eq(memcmp(u, u2, sizeof u), 0);
    const pt_npy_array *sc = pt_npz_find(&z, "scalar");
    cr_assert(sc && sc->ndim == 0 && sc->count == 1);
    const pt_npy_array *e = pt_npz_find(&z, "empty");
    cr_assert(e && e->ndim == 2 && e->shape[0] == 0 && e->shape[1] == 4 && e->count == 0);

    long wrong[2] = {3, 2};
    cr_assert_eq(pt_npz_get(&z, "f", PT_F32, 2, wrong, f2, &err), PT_ERR_FORMAT);
    cr_assert(strstr(err.msg, "a.npz: f: expected float32 (3, 2), got float32 (2, 3)"), "%s",
              err.msg);
    cr_assert_eq(pt_npz_get(&z, "u", PT_F32, 1, &s4, f2, &err), PT_ERR_FORMAT);
    cr_assert(strstr(err.msg, "expected float32 (4,), got uint8 (4,)"), "%s", err.msg);
    cr_assert_eq(pt_npz_get(&z, "nope", PT_F32, 1, &s4, f2, &err), PT_ERR_FORMAT);
    cr_assert(strstr(err.msg, "nope: missing"), "%s", err.msg);
    pt_npz_close(&z);
}

Test(npz, numpy_reads_what_we_write_and_we_read_numpy_files)
{
    float f[6] = {1.5f, -2.0f, 0.0f, 3.25f, 7.0f, 1e-30f};
    uint8_t u[3] = {0, 1, 255};
    long s23[2] = {2, 3}, s3 = 3;
    pt_npz_writer *w;
    pt_err err;
    cr_assert_eq(pt_npz_writer_open(&w, tmp("ours.npz"), &err), PT_OK);
    cr_assert_eq(pt_npz_writer_add(w, "f", PT_F32, 2, s23, f, &err), PT_OK);
    cr_assert_eq(pt_npz_writer_add(w, "u", PT_U8, 1, &s3, u, &err), PT_OK);
    cr_assert_eq(pt_npz_writer_finish(w, &err), PT_OK);
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && /usr/bin/python3 -c \"import numpy as np; z = np.load('ours.npz');"
             "print(z['f'].dtype, z['f'].shape, z['f'].sum(), z['u'].dtype, list(z['u']));"
             "np.savez('theirs.npz', a=np.arange(12, dtype='<i4').reshape(3, 4));"
             "np.savez_compressed('packed.npz', a=np.arange(12, dtype=np.float32))\"",
             tmpdir);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_str_eq(out, "float32 (2, 3) 9.75 uint8 [0, 1, 255]\n");

    pt_npz z;
    cr_assert_eq(pt_npz_open(&z, tmp("theirs.npz"), &err), PT_OK, "%s", err.msg);
    int32_t a[12];
    long s34[2] = {3, 4}, s12 = 12;
    cr_assert_eq(pt_npz_get(&z, "a", PT_I32, 2, s34, a, &err), PT_OK, "%s", err.msg);
    for (int k = 0; k < 12; k++)
        cr_assert_eq(a[k], k);
    pt_npz_close(&z);
    cr_assert_eq(pt_npz_open(&z, tmp("packed.npz"), &err), PT_OK, "%s", err.msg);
    float p[12];
    cr_assert_eq(pt_npz_get(&z, "a", PT_F32, 1, &s12, p, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(p[11], 11.0f);
    pt_npz_close(&z);
}

/* A few hundred Fashion-MNIST rows, one hidden layer, pruned and fine-tuned. */
static void small_config(pt_config *c, pt_granularity g)
{
    pt_config_defaults(c);
    snprintf(c->data.dir, sizeof c->data.dir, "%s", PT_FASHION_DIR);
    c->data.limit = 600;
    c->data.test_limit = 300;
    c->net.n_hidden = 2;
    c->net.hidden[0] = 48;
    c->net.hidden[1] = 24;
    c->train.epochs = 2;
    c->prune.schedule = PT_PRUNE_ONESHOT;
    c->prune.granularity = g;
    c->prune.sparsity = g == PT_GRAN_NEURON ? 0.5 : 0.8;
    c->prune.finetune_epochs = 1;
}

static void check_round_trip(pt_granularity g)
{
    pt_config c;
    small_config(&c, g);
    pt_data d;
    pt_err err;
    cr_assert_eq(pt_data_open(&d, &c.data, c.seed, &err), PT_OK, "%s", err.msg);
    pt_net net;
    pt_train_result res;
    cr_assert_eq(pt_train(&c, &d, &net, NULL, NULL, &res, &err), PT_OK, "%s", err.msg);
    cr_assert_not_null(net.mask);
    cr_assert_gt(res.sparsity, 0.3);
    pt_model_info info = {res.test_acc, res.test_loss, res.val_acc, d.test.n, 0, NULL, NULL};
    const char *path = tmp("model.npz");
    cr_assert_eq(pt_model_save(path, &net, &d.scaler, &c, &info, &err), PT_OK, "%s", err.msg);

    pt_model m;
    cr_assert_eq(pt_model_load(&m, path, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(m.net.n_layers, net.n_layers);
    cr_assert_eq(m.net.cap, net.cap, "evaluation batches as in training");
    for (int l = 0; l < net.n_layers; l++) {
        const pt_layer *a = &net.layer[l], *b = &m.net.layer[l];
        cr_assert(a->n_in == b->n_in && a->n_out == b->n_out);
        size_t nw = (size_t)a->n_in * a->n_out;
        cr_assert_eq(memcmp(a->w, b->w, sizeof(float) * nw), 0, "w%d differs", l);
        cr_assert_eq(memcmp(a->b, b->b, sizeof(float) * (size_t)a->n_out), 0, "b%d differs", l);
    }
    cr_assert_eq(m.net.n_params, net.n_params);
    cr_assert_not_null(m.net.mask);
    cr_assert_eq(memcmp(m.net.mask, net.mask, sizeof(float) * net.n_params), 0, "mask differs");
    cr_assert_eq(m.scaler.dim, d.scaler.dim);
    cr_assert_eq(memcmp(m.scaler.offset, d.scaler.offset, sizeof(float) * 784), 0);
    cr_assert_eq(memcmp(m.scaler.mul, d.scaler.mul, sizeof(float) * 784), 0);
    char *j1 = pt_config_to_json(&c), *j2 = pt_config_to_json(&m.cfg);
    cr_assert_str_eq(j1, j2);
    free(j1);
    free(j2);
    cr_assert_eq(m.test_acc, res.test_acc);
    cr_assert_eq(m.n_test, 300);
    cr_assert(strstr(m.meta, "\"live_neurons\""), "%s", m.meta);

    double acc, loss;
    pt_evaluate(&m.net, &d.test, &m.scaler, NULL, 0, &acc, &loss);
    cr_assert_eq(acc, res.test_acc, "eval %.6f vs training %.6f", acc, res.test_acc);
    cr_assert_eq(loss, res.test_loss);
    cr_assert_gt(acc, 0.5, "a pruned net on 600 rows still learns (%.3f)", acc);
    pt_model_free(&m);
    pt_net_free(&net);
    pt_data_close(&d);
}

Test(npz, unstructured_pruned_model_round_trips_bit_for_bit)
{
    check_round_trip(PT_GRAN_GLOBAL);
}

Test(npz, neuron_pruned_model_round_trips_bit_for_bit)
{
    check_round_trip(PT_GRAN_NEURON);
}

/* prunetune train --save, prunetune eval and numpy all agree. */
Test(npz, cli_train_save_eval_and_numpy_agree)
{
    static char out[1 << 16];
    char cmd[4096];
    const char *model = tmp("cli.npz");
    snprintf(cmd, sizeof cmd,
             "%s train --quiet --set data.dir='\"%s\"' --set data.limit=800 "
             "--set data.test_limit=400 --set net.hidden=[40] --set train.epochs=2 "
             "--set prune.schedule=oneshot --set prune.sparsity=0.7 --set prune.finetune_epochs=1 "
             "--save '%s'",
             PT_BIN, PT_FASHION_DIR, model);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    double train_acc = json_num(out, "test_acc"), train_loss = json_num(out, "test_loss");

    snprintf(cmd, sizeof cmd, "%s eval '%s' --json", PT_BIN, model);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_eq(json_num(out, "test_acc"), train_acc, "%s", out);
    cr_assert_eq(json_num(out, "test_loss"), train_loss, "%s", out);
    cr_assert_eq(json_num(out, "n"), 400);
    cr_assert(strstr(out, "\"reproduced\":\ttrue"), "%s", out);

    /* Overrides reach the data: a smaller test set gives n = 100. */
    snprintf(cmd, sizeof cmd, "%s eval '%s' --set data.test_limit=100 --data-dir '%s'", PT_BIN,
             model, PT_FASHION_DIR);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_eq(json_num(out, "n"), 100);
    cr_assert(strstr(out, "\"reproduced\":\tfalse"), "%s", out);
    size_t n;
    char *line = (char *)slurp(tmp("err"), &n);
    line[n] = '\0';
    cr_assert(strstr(line, "eval: ") && strstr(line, " on 100 rows (training recorded a different"),
              "%s", line);
    free(line);

    /* numpy computes in its own summation order (and its BLAS kernel): its
     * argmax may differ from ours only on a near-tie, its loss by the
     * rounding bound npz_check.py derives from the model (allclose.h). */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/npz_check.py' '%s' '%s'", PT_SOURCE_DIR,
             model, PT_FASHION_DIR);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_eq(json_num(out, "n"), 400);
    double np_correct = json_num(out, "correct");
    /* train_acc * 400 is a count: + 1e-9 absorbs the division's rounding. */
    cr_assert_leq(fabs(np_correct - train_acc * 400), json_num(out, "near_ties") + 1e-9,
                  "numpy %g/400 vs %g: %s", np_correct, train_acc * 400, out);
    pt_assert_close(json_num(out, "test_loss"), train_loss, 0, json_num(out, "loss_tol"), "%s",
                    out);
}

/* An untrained but pruned 784-16-10 network saved as m.npz: enough for the
 * error paths, no data needed. */
static const char *saved_model(void)
{
    pt_config c;
    pt_config_defaults(&c);
    c.net.n_hidden = 1;
    c.net.hidden[0] = 16;
    pt_rng rng;
    pt_rng_seed(&rng, 7);
    pt_net net;
    pt_err err;
    cr_assert_eq(pt_net_init_dense(&net, 784, c.net.hidden, 1, 10, 8, &rng, &err), PT_OK);
    cr_assert_eq(pt_prune_magnitude(&net, 0.5, 0, 1, &err), PT_OK);
    float off[784], mul[784];
    for (int j = 0; j < 784; j++) {
        off[j] = 0.0f;
        mul[j] = 1.0f / 255.0f;
    }
    pt_scaler sc = {784, off, mul};
    char *names[10] = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal",  "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    pt_model_info info = {0.5, 1.0, 0.5, 100, 10, names, NULL};
    const char *path = tmp("m.npz");
    cr_assert_eq(pt_model_save(path, &net, &sc, &c, &info, &err), PT_OK, "%s", err.msg);
    pt_net_free(&net);
    return path;
}

static void expect_error(const char *path, pt_status code, const char *what)
{
    pt_model m;
    pt_err err;
    pt_status st = pt_model_load(&m, path, &err);
    cr_assert_eq(st, code, "%s: got %d (%s)", path, st, st ? err.msg : "loaded");
    cr_assert(strstr(err.msg, what), "%s: expected '%s' in: %s", path, what, err.msg);
    cr_assert(!strncmp(err.msg, path, strlen(path)), "message must name the file: %s", err.msg);
    cr_assert_null(strchr(err.msg, '\n'));
}

Test(npz, truncated_corrupted_and_foreign_files_are_errors)
{
    const char *good = saved_model();
    pt_model m;
    pt_err err;
    cr_assert_eq(pt_model_load(&m, good, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(m.n_classes, 10);
    cr_assert_str_eq(m.class_names[9], "Ankle boot");
    cr_assert_eq(m.test_acc, 0.5);
    pt_model_free(&m);

    expect_error("/nonexistent/m.npz", PT_ERR_IO, "cannot open");
    expect_error(tmpdir, PT_ERR_IO, "not a regular file");
    const char *text = tmp("notes.npz");
    spit(text, "hello, world\n", 13);
    expect_error(text, PT_ERR_FORMAT, "not an .npz file");
    spit(text, "", 0);
    expect_error(text, PT_ERR_FORMAT, "empty file");

    size_t n;
    unsigned char *b = slurp(good, &n);
    const char *cut = tmp("cut.npz");
    for (size_t len = 1; len < n; len += len < 64 ? 1 : 997) {
        spit(cut, b, len);
        expect_error(cut, PT_ERR_FORMAT, "truncated");
    }
    spit(cut, b, n - 1);
    expect_error(cut, PT_ERR_FORMAT, "truncated");

    /* A flipped bit inside w0's data: the CRC catches it. */
    const char *bad = tmp("flip.npz");
    b[n / 3] ^= 0x10;
    spit(bad, b, n);
    expect_error(bad, PT_ERR_FORMAT, "w0.npy: CRC-32 mismatch (file corrupted)");
    b[n / 3] ^= 0x10;
    /* Anywhere else a corrupted byte may go unnoticed (a timestamp) or be an
     * error, but it never crashes or reads out of bounds (ASan run).
     * Every byte of the first entry's headers and of the central directory
     * (the file's last ~1 KB) is tried, and a sample of the rest; the model
     * layer only runs when the archive passed, as the CRCs guard its input. */
    for (size_t k = 0; k < n; k += k < 200 || k > n - 1200 ? 1 : 2039) {
        unsigned char keep = b[k];
        b[k] ^= 0xa5;
        spit(bad, b, n);
        pt_npz z;
        pt_status st = pt_npz_open(&z, bad, &err);
        cr_assert(st == PT_OK || st == PT_ERR_FORMAT, "byte %zu: status %d", k, st);
        if (st == PT_OK) {
            pt_npz_close(&z);
            st = pt_model_load(&m, bad, &err);
            cr_assert(st == PT_OK || st == PT_ERR_FORMAT, "byte %zu: status %d", k, st);
            if (st == PT_OK)
                pt_model_free(&m);
        }
        b[k] = keep;
    }
    free(b);

    /* .npz files from elsewhere, made by numpy and Python's zipfile. */
    char cmd[2048], out[4096];
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && /usr/bin/python3 -c \"import numpy as np, json, zipfile\n"
        "z = dict(np.load('m.npz'))\n"
        "def save(name, **changes):\n"
        "    d = dict(z); d.update(changes); [d.pop(k) for k, v in changes.items() if v is None]\n"
        "    np.savez(name, **d)\n"
        "def meta(**kv):\n"
        "    m = json.loads(z['meta'].tobytes()); m.update(kv)\n"
        "    return np.frombuffer(json.dumps(m).encode(), np.uint8)\n"
        "save('resaved.npz')\n"
        "save('dtype.npz', w0=z['w0'].astype('<f8'))\n"
        "save('shape.npz', w0=z['w0'][:, :-1])\n"
        "save('nomask.npz', mask1=None)\n"
        "save('nometa.npz', meta=None)\n"
        "save('newer.npz', meta=meta(version=3))\n"
        "save('other.npz', meta=meta(format='keras'))\n"
        "save('tanh.npz', meta=meta(activation='tanh'))\n"
        "c = json.loads(z['meta'].tobytes())['config']; c['net']['hidden'] = [65536, 65536]\n"
        "save('huge.npz', meta=meta(sizes=[784, 65536, 65536, 10], config=c))\n"
        "save('badmask.npz', mask0=z['mask0'] * 2)\n"
        "np.savez('random.npz', x=np.zeros(3))\n"
        "src = zipfile.ZipFile('resaved.npz'); dup = zipfile.ZipFile('dup.npz', 'w')\n"
        "[dup.writestr(i, src.read(i)) for i in src.infolist()]\n"
        "dup.writestr('w0.npy', src.read('w0.npy')); dup.close()\n"
        "zipfile.ZipFile('foreign.zip', 'w').writestr('readme.txt', 'hi')\"",
        tmpdir);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "python failed: %s", out);
    cr_assert_eq(pt_model_load(&m, tmp("resaved.npz"), &err), PT_OK, "%s", err.msg);
    pt_model_free(&m);
    expect_error(tmp("dtype.npz"), PT_ERR_FORMAT, "w0.npy: unsupported dtype");
    expect_error(tmp("shape.npz"), PT_ERR_FORMAT,
                 "w0: expected float32 (16, 784), got float32 (16, 783)");
    expect_error(tmp("nomask.npz"), PT_ERR_FORMAT, "mask1: missing");
    expect_error(tmp("nometa.npz"), PT_ERR_FORMAT, "not a prunetune model (no 'meta' array)");
    expect_error(tmp("newer.npz"), PT_ERR_FORMAT, "version 3 is newer");
    expect_error(tmp("other.npz"), PT_ERR_FORMAT, "not a prunetune model");
    expect_error(tmp("tanh.npz"), PT_ERR_FORMAT, "only activation \"relu\"");
    /* Sizes are checked against the arrays before 17 GB are allocated. */
    expect_error(tmp("huge.npz"), PT_ERR_FORMAT,
                 "w0: expected float32 (65536, 784), got float32 (16, 784)");
    expect_error(tmp("badmask.npz"), PT_ERR_FORMAT, "mask0: mask values must be 0 or 1");
    expect_error(tmp("random.npz"), PT_ERR_FORMAT, "x.npy: unsupported dtype");
    expect_error(tmp("foreign.zip"), PT_ERR_FORMAT, "not a NAME.npy array");
    /* numpy would read the second w0, we the first: neither, it is an error
     * (found by tests/fuzz/fuzz_npz.c). */
    expect_error(tmp("dup.npz"), PT_ERR_FORMAT, "w0.npy: two entries of that name");
}

/* The binary: exit 2 and one line naming the file, nothing on stdout. */
Test(npz, cli_eval_rejects_bad_files_with_one_line)
{
    const char *good = saved_model();
    size_t n;
    unsigned char *b = slurp(good, &n);
    spit(tmp("half.npz"), b, n / 2);
    free(b);
    char cmd[2048], out[4096], err[4096];
    const char *cases[][2] = {{"half.npz", "half.npz: truncated: "},
                              {"none.npz", "none.npz: cannot open"}};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s eval '%s'", PT_BIN, tmp(cases[i][0]));
        cr_assert_eq(run(cmd, out, sizeof out), 2);
        cr_assert_str_eq(out, "");
        FILE *f = fopen(tmp("err"), "r");
        size_t k = fread(err, 1, sizeof err - 1, f);
        fclose(f);
        err[k] = '\0';
        cr_assert(!strncmp(err, "prunetune eval: ", 16) && strstr(err, cases[i][1]), "%s", err);
        cr_assert_eq(strchr(err, '\n'), err + k - 1, "one line expected: %s", err);
    }
    /* Data that does not fit the model: one line naming both sides. */
    const char *csv = tmp("three.csv");
    const char *rows = "a,b,c,label\n1,2,3,0\n4,5,6,1\n7,8,9,0\n";
    spit(csv, rows, strlen(rows));
    snprintf(cmd, sizeof cmd,
             "%s eval '%s' --set data.format=csv --set data.train='\"%s\"' "
             "--set data.test='\"%s\"'",
             PT_BIN, good, csv, csv);
    cr_assert_eq(run(cmd, out, sizeof out), 2);
    FILE *f = fopen(tmp("err"), "r");
    size_t k = fread(err, 1, sizeof err - 1, f);
    fclose(f);
    err[k] = '\0';
    cr_assert(strstr(err, "data: 3 features, but ") && strstr(err, "m.npz expects 784"), "%s", err);

    snprintf(cmd, sizeof cmd, "%s eval --help", PT_BIN);
    cr_assert_eq(run(cmd, out, sizeof out), 0);
    cr_assert(strstr(out, "usage: prunetune eval MODEL.npz"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s eval", PT_BIN);
    cr_assert_eq(run(cmd, out, sizeof out), 2);
}
