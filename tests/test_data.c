/*
 * test_data.c — the loaders on small files written here, every bad input the
 * issue lists (each must give its error, name the file, leave nothing
 * loaded), scaling, splits, and the real Fashion-MNIST files.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "allclose.h"
#include "data.h"
#include "data_open.h"

static char dir[] = "/tmp/pt_data_XXXXXX";
static char path_buf[64][600];
static int path_i;

static void setup(void) { cr_assert_not_null(mkdtemp(dir)); }
static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(idx, .init = setup, .fini = teardown);
TestSuite(csv, .init = setup, .fini = teardown);
TestSuite(data, .init = setup, .fini = teardown);

static const char *path_of(const char *name)
{
    char *p = path_buf[path_i++ % 64];
    snprintf(p, 600, "%s/%s", dir, name);
    return p;
}

static const char *write_bytes(const char *name, const void *data, size_t n)
{
    const char *p = path_of(name);
    size_t len = strlen(p);
    if (len > 3 && !strcmp(p + len - 3, ".gz")) {
        gzFile g = gzopen(p, "wb");
        cr_assert_not_null(g);
        cr_assert_eq(gzwrite(g, data, (unsigned)n), (int)n);
        gzclose(g);
    } else {
        FILE *f = fopen(p, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(data, 1, n, f), n);
        fclose(f);
    }
    return p;
}

static const char *write_text(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

/* IDX ubyte file with dims; payload i % 256 (images) or i % 10 (labels). */
static size_t idx_bytes(uint8_t *buf, int ndims, const uint32_t *dims, int labels)
{
    size_t n = 4, count = 1;
    buf[0] = buf[1] = 0;
    buf[2] = 0x08;
    buf[3] = (uint8_t)ndims;
    for (int i = 0; i < ndims; i++) {
        buf[n++] = (uint8_t)(dims[i] >> 24);
        buf[n++] = (uint8_t)(dims[i] >> 16);
        buf[n++] = (uint8_t)(dims[i] >> 8);
        buf[n++] = (uint8_t)dims[i];
        count *= dims[i];
    }
    for (size_t i = 0; i < count; i++)
        buf[n++] = (uint8_t)(labels ? i % 10 : i % 256);
    return n;
}

static uint8_t img[4096], lab[256];
static size_t n_img, n_lab;

static void make_idx(int n, int h, int w)
{
    uint32_t di[3] = {(uint32_t)n, (uint32_t)h, (uint32_t)w}, dl[1] = {(uint32_t)n};
    n_img = idx_bytes(img, 3, di, 0);
    n_lab = idx_bytes(lab, 1, dl, 1);
}

static void assert_zeroed(const pt_dataset *d)
{
    cr_assert(d->n == 0 && !d->x8 && !d->xf && !d->y && !d->class_names, "partial load left behind");
}

/* Expects a load of (images, labels) to fail with code and a message that
 * contains the file name and `what`. */
static void expect_idx_error(const char *im, const char *lb, pt_status code, const char *file,
                             const char *what)
{
    pt_dataset d;
    pt_err err = {{0}};
    cr_assert_eq(pt_idx_load(im, lb, &d, &err), code, "got: %s", err.msg);
    cr_assert(strstr(err.msg, file), "message lacks the file name: %s", err.msg);
    cr_assert(strstr(err.msg, what), "message lacks '%s': %s", what, err.msg);
    cr_assert_null(strchr(err.msg, '\n'), "one line expected: %s", err.msg);
    assert_zeroed(&d);
}

Test(idx, loads_plain_and_gz)
{
    make_idx(5, 3, 4);
    const char *names[2][2] = {{"i.idx", "l.idx"}, {"i.idx.gz", "l.idx.gz"}};
    for (int k = 0; k < 2; k++) {
        const char *im = write_bytes(names[k][0], img, n_img);
        const char *lb = write_bytes(names[k][1], lab, n_lab);
        pt_dataset d;
        pt_err err;
        cr_assert_eq(pt_idx_load(im, lb, &d, &err), PT_OK, "%s", err.msg);
        cr_assert_eq(d.n, 5);
        cr_assert_eq(d.dim, 12);
        cr_assert_eq(d.n_classes, 5); /* labels 0..4 */
        cr_assert_not_null(d.x8);
        cr_assert_eq(d.x8[13], 13);
        cr_assert_eq(d.y[4], 4);
        cr_assert_eq(d.lo, 0.0f);
        cr_assert_eq(d.hi, 255.0f);
        pt_dataset_free(&d);
    }
}

Test(idx, every_bad_input_has_its_error)
{
    make_idx(5, 3, 4);
    const char *im = write_bytes("i.idx", img, n_img), *lb = write_bytes("l.idx", lab, n_lab);
    expect_idx_error(path_of("missing.idx"), lb, PT_ERR_IO, "missing.idx", "cannot open");
    expect_idx_error(im, path_of("gone.gz"), PT_ERR_IO, "gone.gz", "No such file");

    uint8_t bad[4096];
    memcpy(bad, img, n_img);
    bad[0] = 0x1f;
    expect_idx_error(write_bytes("magic.idx", bad, n_img), lb, PT_ERR_FORMAT, "magic.idx",
                     "not an IDX file");
    memcpy(bad, img, n_img);
    bad[2] = 0x0d; /* float */
    expect_idx_error(write_bytes("float.idx", bad, n_img), lb, PT_ERR_FORMAT, "float.idx",
                     "element type 0x0d not supported");
    expect_idx_error(write_bytes("trunc.idx", img, n_img - 7), lb, PT_ERR_FORMAT, "trunc.idx",
                     "truncated");
    expect_idx_error(write_bytes("trunc.idx.gz", img, n_img - 7), lb, PT_ERR_FORMAT,
                     "trunc.idx.gz", "truncated");
    expect_idx_error(write_bytes("head.idx", img, 9), lb, PT_ERR_FORMAT, "head.idx",
                     "truncated IDX header");
    expect_idx_error(write_bytes("empty.idx", img, 0), lb, PT_ERR_FORMAT, "empty.idx",
                     "truncated");
    memcpy(bad, img, n_img);
    bad[n_img] = 1;
    expect_idx_error(write_bytes("trail.idx", bad, n_img + 1), lb, PT_ERR_FORMAT, "trail.idx",
                     "trailing data");
    expect_idx_error(lb, lb, PT_ERR_FORMAT, "l.idx", "2 or more dimensions");
    expect_idx_error(im, im, PT_ERR_FORMAT, "i.idx", "labels need 1 dimension");

    /* A header claiming 2^39 bytes (512 GB) in front of 12: a truncated file,
     * found without allocating what the header claims (memory grows with the
     * bytes read; under ASan the old up-front malloc aborted). */
    uint32_t dh[3] = {1u << 20, 1u << 10, 1u << 9};
    size_t nh = idx_bytes(bad, 3, (uint32_t[3]){1, 3, 4}, 0);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            bad[4 + 4 * i + k] = (uint8_t)(dh[i] >> (24 - 8 * k));
    expect_idx_error(write_bytes("claims.idx", bad, nh), lb, PT_ERR_FORMAT, "claims.idx",
                     "truncated: expected 549755813888 data bytes, got 12");
    expect_idx_error(write_bytes("claims.idx.gz", bad, nh), lb, PT_ERR_FORMAT, "claims.idx.gz",
                     "truncated: expected 549755813888 data bytes, got 12");

    uint32_t dl[1] = {4};
    uint8_t lab4[64];
    size_t n4 = idx_bytes(lab4, 1, dl, 1);
    expect_idx_error(im, write_bytes("l4.idx", lab4, n4), PT_ERR_FORMAT, "l4.idx",
                     "has 5 images but");

    /* A .gz whose compressed stream is cut short. */
    write_bytes("full.idx.gz", img, n_img);
    FILE *f = fopen(path_of("full.idx.gz"), "rb");
    uint8_t gz[8192];
    size_t ng = fread(gz, 1, sizeof gz, f);
    fclose(f);
    const char *cut = write_bytes("cut.bin", gz, ng / 2);
    char cutgz[700];
    snprintf(cutgz, sizeof cutgz, "%s.gz", cut);
    cr_assert_eq(rename(cut, cutgz), 0);
    expect_idx_error(cutgz, lb, PT_ERR_FORMAT, "cut.bin.gz", "");
}

static void expect_csv_error(const char *name, const char *text, const char *what)
{
    const char *p = write_text(name, text);
    pt_dataset d;
    pt_err err = {{0}};
    pt_csv_opts o = pt_csv_opts_default();
    cr_assert_eq(pt_csv_load(p, &o, &d, &err), PT_ERR_FORMAT, "%s: got %s", name, err.msg);
    cr_assert(strstr(err.msg, what), "expected '%s' in: %s", what, err.msg);
    assert_zeroed(&d);
}

Test(csv, header_auto_numeric_labels_crlf_blank_lines)
{
    const char *p = write_text("a.csv", "x1, x2 ,label\r\n1,2,0\r\n\r\n3.5,-4e1,2\r\n5,6,1");
    pt_dataset d;
    pt_err err;
    pt_csv_opts o = pt_csv_opts_default();
    cr_assert_eq(pt_csv_load(p, &o, &d, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(d.n, 3);
    cr_assert_eq(d.dim, 2);
    cr_assert_eq(d.n_classes, 3);
    cr_assert_eq(d.xf[2], 3.5f); /* parsed text, exact */
    cr_assert_eq(d.xf[3], -40.0f); /* parsed text, exact */
    cr_assert_eq(d.y[1], 2);
    cr_assert_null(d.class_names);
    cr_assert(isnan(d.lo));
    pt_dataset_free(&d);
}

Test(csv, no_header_label_by_index_and_string_labels_by_name)
{
    const char *p = write_text("b.csv", "0,1,2\n1,3,4\n");
    pt_dataset d;
    pt_err err;
    pt_csv_opts o = pt_csv_opts_default();
    o.label_index = 0;
    cr_assert_eq(pt_csv_load(p, &o, &d, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(d.n, 2);
    cr_assert_eq(d.y[1], 1);
    cr_assert_eq(d.xf[2], 3.0f); /* parsed text, exact */
    pt_dataset_free(&d);

    p = write_text("c.csv", "kind;w;h\nzebra;1;2\napple;3;4\nzebra;5;6\n");
    o = pt_csv_opts_default();
    o.delimiter = ';';
    o.label_name = "kind";
    cr_assert_eq(pt_csv_load(p, &o, &d, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(d.n_classes, 2);
    cr_assert_str_eq(d.class_names[0], "apple");
    cr_assert_str_eq(d.class_names[1], "zebra");
    cr_assert_eq(d.y[0], 1);
    cr_assert_eq(d.y[1], 0);
    cr_assert_eq(d.xf[5], 6.0f); /* parsed text, exact */
    pt_dataset_free(&d);
}

Test(csv, every_bad_input_has_its_error)
{
    expect_csv_error("cell.csv", "a,b,label\n1,2,0\n3,abc,1\n", "cell.csv:3:2: expected a number, got 'abc'");
    expect_csv_error("emptycell.csv", "a,b,label\n1,,0\n", "emptycell.csv:2:2: expected a number, got ''");
    expect_csv_error("ragged.csv", "a,b,label\n1,2,0\n3,1\n", "ragged.csv:3: expected 3 columns, got 2");
    expect_csv_error("long.csv", "1,2,0\n3,1,1,1\n", "long.csv:2: expected 3 columns, got 4");
    expect_csv_error("empty.csv", "", "empty.csv: no data rows");
    expect_csv_error("blank.csv", "\n \n", "blank.csv: no data rows");
    expect_csv_error("header.csv", "a,b,label\n", "header.csv: no data rows");
    expect_csv_error("one.csv", "1\n2\n", "one.csv:1: expected 2 to");
    const char *p = write_text("named.csv", "a,b,label\n1,2,0\n");
    pt_dataset d;
    pt_err err;
    pt_csv_opts o = pt_csv_opts_default();
    o.label_name = "class";
    cr_assert_eq(pt_csv_load(p, &o, &d, &err), PT_ERR_FORMAT);
    cr_assert(strstr(err.msg, "named.csv: no column named 'class'"), "%s", err.msg);
    assert_zeroed(&d);
    cr_assert_eq(pt_csv_load(path_of("nope.csv"), &o, &d, &err), PT_ERR_IO);
    cr_assert(strstr(err.msg, "nope.csv: cannot open"), "%s", err.msg);
}

/* The scalers compute (x - offset) * mul in float with offset and mul
 * rounded to float: at most ~3 roundings of u = 6e-8 each, relative, so
 * 4u (PT_U_F32, allclose.h) relative and no atol: a value that should be
 * 0 (a constant feature, the minimum) must be 0 exactly. */
Test(data, scalers_give_exact_values)
{
    /* Two features: 0,2,4 and a constant 7. */
    float x[6] = {0, 7, 2, 7, 4, 7};
    int32_t y[3] = {0, 1, 0};
    pt_dataset d = {.n = 3, .dim = 2, .n_classes = 2, .xf = x, .y = y, .lo = NAN, .hi = NAN};
    pt_scaler s;
    pt_err err;
    uint32_t all[3] = {0, 1, 2};
    float out[6];
    cr_assert_eq(pt_scaler_fit(&s, &d, PT_SCALE_UNIT, NULL, 0, &err), PT_OK);
    pt_dataset_gather(&d, &s, all, 3, out, NULL);
    float unit[6] = {0, 0, 0.5f, 0, 1, 0};
    for (int i = 0; i < 6; i++)
        pt_assert_close(out[i], unit[i], 4 * PT_U_F32, 0, "unit[%d] = %g", i, out[i]);
    pt_scaler_free(&s);

    cr_assert_eq(pt_scaler_fit(&s, &d, PT_SCALE_STANDARD, NULL, 0, &err), PT_OK);
    int32_t yy[3];
    pt_dataset_gather(&d, &s, all, 3, out, yy);
    float sd = sqrtf(8.0f / 3.0f);
    float std[6] = {-2 / sd, 0, 0, 0, 2 / sd, 0};
    for (int i = 0; i < 6; i++)
        pt_assert_close(out[i], std[i], 4 * PT_U_F32, 0, "standard[%d] = %g", i, out[i]);
    cr_assert_eq(yy[1], 1);
    pt_scaler_free(&s);

    /* Fitted on rows {0, 1} only: row 2 lands outside [0, 1]. */
    uint32_t two[2] = {0, 1};
    cr_assert_eq(pt_scaler_fit(&s, &d, PT_SCALE_UNIT, two, 2, &err), PT_OK);
    pt_dataset_gather(&d, &s, all + 2, 1, out, NULL);
    pt_assert_close(out[0], 2.0f, 4 * PT_U_F32, 0);
    pt_scaler_free(&s);

    /* Bytes with a known range scale by it, not by the observed min/max. */
    uint8_t b[2] = {51, 102};
    pt_dataset db = {.n = 2, .dim = 1, .n_classes = 1, .x8 = b, .y = y, .lo = 0, .hi = 255};
    cr_assert_eq(pt_scaler_fit(&s, &db, PT_SCALE_UNIT, NULL, 0, &err), PT_OK);
    pt_dataset_gather(&db, &s, all, 2, out, NULL);
    pt_assert_close(out[0], 0.2f, 4 * PT_U_F32, 0);
    pt_assert_close(out[1], 0.4f, 4 * PT_U_F32, 0);
    pt_scaler_free(&s);
}

Test(data, splits_are_deterministic_disjoint_sorted)
{
    pt_split a, b, c;
    pt_err err;
    cr_assert_eq(pt_split_make(&a, 1001, 0.25, 5, &err), PT_OK);
    cr_assert_eq(pt_split_make(&b, 1001, 0.25, 5, &err), PT_OK);
    cr_assert_eq(pt_split_make(&c, 1001, 0.25, 6, &err), PT_OK);
    cr_assert_eq(a.n_val, 250); /* round(250.25) */
    cr_assert_eq(a.n_train + a.n_val, 1001);
    cr_assert(memcmp(a.val, b.val, sizeof(uint32_t) * 250) == 0);
    cr_assert(memcmp(a.val, c.val, sizeof(uint32_t) * 250) != 0);
    char seen[1001] = {0};
    for (int i = 0; i < a.n_val; i++) {
        cr_assert(i == 0 || a.val[i] > a.val[i - 1]);
        seen[a.val[i]]++;
    }
    for (int i = 0; i < a.n_train; i++) {
        cr_assert(i == 0 || a.train[i] > a.train[i - 1]);
        seen[a.train[i]]++;
    }
    for (int i = 0; i < 1001; i++)
        cr_assert_eq(seen[i], 1);
    pt_split_free(&a);
    pt_split_free(&b);
    pt_split_free(&c);
    cr_assert_eq(pt_split_make(&a, 10, 1.0, 5, &err), PT_ERR_ARG);
}

/* Fashion-MNIST from the Debian package, scaled by mode, val_fraction split off. */
static pt_data_config fashion_config(pt_scale mode, double val_fraction)
{
    pt_data_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.dir, sizeof c.dir, "%s", PT_FASHION_DIR);
    c.format = PT_FMT_IDX;
    c.scale = mode;
    c.val_fraction = val_fraction;
    return c;
}

Test(data, opens_real_fashion_mnist)
{
    pt_data_config c = fashion_config(PT_SCALE_UNIT, 0.1);
    pt_data d;
    pt_err err;
    cr_assert_eq(pt_data_open(&d, &c, 1, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(d.train.n, 60000);
    cr_assert_eq(d.test.n, 10000);
    cr_assert_eq(d.train.dim, 784);
    cr_assert_eq(d.train.n_classes, 10);
    cr_assert_eq(d.split.n_val, 6000);
    cr_assert_eq(d.split.n_train, 54000);
    int count[10] = {0};
    for (int i = 0; i < d.test.n; i++)
        count[d.test.y[i]]++;
    for (int k = 0; k < 10; k++)
        cr_assert_eq(count[k], 1000, "Fashion-MNIST test has 1000 of each class");
    pt_data_close(&d);

    c.limit = 500;
    c.test_limit = 100;
    cr_assert_eq(pt_data_open(&d, &c, 1, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(d.split.n_train + d.split.n_val, 500);
    cr_assert_eq(d.test.n, 100);
    pt_data_close(&d);
}

/* Re-splitting for another seed gives exactly what opening with that seed
 * gives (split and scaler), and is refused where the seed cuts the test set. */
Test(data, reseed_equals_a_fresh_open)
{
    pt_data_config c = fashion_config(PT_SCALE_STANDARD, 0.2);
    c.limit = 2000;
    pt_data a, b;
    pt_err err;
    cr_assert(pt_data_can_reseed(&c));
    cr_assert_eq(pt_data_open(&a, &c, 1, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(pt_data_reseed(&a, &c, 7, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(pt_data_open(&b, &c, 7, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(a.split.n_val, b.split.n_val);
    cr_assert_eq(a.split.n_train, b.split.n_train);
    cr_expect_eq(memcmp(a.split.val, b.split.val, sizeof(uint32_t) * (size_t)b.split.n_val), 0);
    cr_expect_eq(memcmp(a.split.train, b.split.train, sizeof(uint32_t) * (size_t)b.split.n_train),
                 0);
    cr_expect_eq(memcmp(a.scaler.offset, b.scaler.offset, sizeof(float) * 784), 0);
    cr_expect_eq(memcmp(a.scaler.mul, b.scaler.mul, sizeof(float) * 784), 0);
    pt_data_close(&b);
    /* and it did change something: seed 1's split is another one */
    cr_assert_eq(pt_data_open(&b, &c, 1, &err), PT_OK, "%s", err.msg);
    cr_expect_neq(memcmp(a.split.val, b.split.val, sizeof(uint32_t) * (size_t)b.split.n_val), 0);
    pt_data_close(&b);
    pt_data_close(&a);

    memset(&c, 0, sizeof c);
    c.format = PT_FMT_CSV;
    c.test_fraction = 0.2;
    cr_expect_not(pt_data_can_reseed(&c), "the seed cuts the CSV test set");
}

Test(data, csv_test_fraction_and_test_file_label_mapping)
{
    char text[4096] = "f,label\n";
    for (int i = 0; i < 100; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%d,%s\n", i, i % 2 ? "odd" : "even");
    pt_data_config c;
    memset(&c, 0, sizeof c);
    c.format = PT_FMT_CSV;
    c.header = -1;
    c.label_index = -1;
    c.scale = PT_SCALE_STANDARD;
    c.val_fraction = 0.1;
    c.test_fraction = 0.2;
    snprintf(c.train, sizeof c.train, "%s", write_text("all.csv", text));
    pt_data d;
    pt_err err;
    cr_assert_eq(pt_data_open(&d, &c, 3, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(d.test.n, 20);
    cr_assert_eq(d.train.n, 80);
    cr_assert_eq(d.split.n_val, 8);
    cr_assert_eq(d.train.n_classes, 2);
    pt_data_close(&d);

    /* A test file with the classes in another order maps onto the training ids. */
    snprintf(c.test, sizeof c.test, "%s", write_text("test.csv", "f,label\n1,odd\n2,even\n"));
    cr_assert_eq(pt_data_open(&d, &c, 3, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(d.test.y[0], 1); /* "odd" is class 1 of {even, odd} */
    cr_assert_eq(d.test.y[1], 0);
    pt_data_close(&d);

    snprintf(c.test, sizeof c.test, "%s", write_text("test2.csv", "f,label\n1,odd\n2,weird\n"));
    cr_assert_eq(pt_data_open(&d, &c, 3, &err), PT_ERR_FORMAT);
    cr_assert(strstr(err.msg, "test2.csv: label 'weird' does not occur"), "%s", err.msg);

    snprintf(c.test, sizeof c.test, "%s", write_text("test3.csv", "f,g,label\n1,2,odd\n"));
    cr_assert_eq(pt_data_open(&d, &c, 3, &err), PT_ERR_FORMAT);
    cr_assert(strstr(err.msg, "test3.csv: 2 feature columns"), "%s", err.msg);

    c.train[0] = '\0';
    cr_assert_eq(pt_data_open(&d, &c, 3, &err), PT_ERR_CONFIG);
    cr_assert(strstr(err.msg, "data.train"), "%s", err.msg);
}

/* The probes read headers only: what they report is what the loaders find
 * (sizes, the same one-line errors for a bad header), and a payload cut
 * short passes the probe and is the loader's to find. */
Test(idx, probe_reads_the_header_as_the_loader_does)
{
    make_idx(5, 3, 4);
    const char *names[2][2] = {{"i.idx", "l.idx"}, {"i.idx.gz", "l.idx.gz"}};
    for (int k = 0; k < 2; k++) {
        const char *im = write_bytes(names[k][0], img, n_img);
        const char *lb = write_bytes(names[k][1], lab, n_lab);
        int n = 0, dim = 0;
        pt_err err;
        cr_assert_eq(pt_idx_probe(im, 1, &n, &dim, &err), PT_OK, "%s", err.msg);
        cr_expect(n == 5 && dim == 12, "%s: %d x %d", im, n, dim);
        cr_assert_eq(pt_idx_probe(lb, 0, &n, &dim, &err), PT_OK, "%s", err.msg);
        cr_expect(n == 5 && dim == 1, "%s: %d x %d", lb, n, dim);
    }
    const char *lb = path_of("l.idx");
    uint8_t bad[4096];
    memcpy(bad, img, n_img);
    bad[0] = 0x1f;
    const char *cases[][2] = {
        {write_bytes("magic.idx", bad, n_img), "not an IDX file"},
        {write_bytes("head.idx", img, 9), "truncated IDX header"},
        {path_of("missing.idx"), "cannot open: No such file or directory"},
        {lb, "IDX images need 2 or more dimensions, got 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = -1, dim = -1;
        pt_err perr = {{0}}, lerr = {{0}};
        pt_dataset d;
        pt_status ps = pt_idx_probe(cases[i][0], 1, &n, &dim, &perr);
        pt_status ls = pt_idx_load(cases[i][0], lb, &d, &lerr);
        cr_expect_eq(ps, ls, "%s: probe %d, load %d", cases[i][0], ps, ls);
        cr_expect_str_eq(perr.msg, lerr.msg, "the probe and the loader say the same");
        cr_expect(strstr(perr.msg, cases[i][1]) && strstr(perr.msg, cases[i][0]), "%s", perr.msg);
        cr_expect(n == -1 && dim == -1, "nothing set on error");
    }
    int n = 0, dim = 0;
    pt_err err;
    cr_expect_eq(pt_idx_probe(write_bytes("trunc.idx", img, n_img - 7), 1, &n, &dim, &err), PT_OK,
                 "the header alone is fine: %s", err.msg);
}

Test(csv, probe_reads_the_first_line_as_the_loader_does)
{
    pt_csv_opts o = pt_csv_opts_default();
    int dim = 0;
    pt_err err;
    const char *ok = write_text("ok.csv", "\n  \r\na,b,y\r\n1,2,0\n3,4,1\n");
    o.label_name = "y";
    cr_assert_eq(pt_csv_probe(ok, &o, &dim, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(dim, 2);
    o.label_name = "z";
    pt_dataset d;
    pt_err lerr;
    cr_expect_eq(pt_csv_probe(ok, &o, &dim, &err), PT_ERR_FORMAT);
    cr_expect_eq(pt_csv_load(ok, &o, &d, &lerr), PT_ERR_FORMAT);
    cr_expect_str_eq(err.msg, lerr.msg);
    cr_expect_not_null(strstr(err.msg, "no column named 'z'"), "%s", err.msg);
    o = pt_csv_opts_default();
    cr_expect_eq(pt_csv_probe(write_text("one.csv", "1\n2\n"), &o, &dim, &err), PT_ERR_FORMAT);
    cr_expect_not_null(strstr(err.msg, "one.csv:1: expected 2 to"), "%s", err.msg);
    cr_expect_eq(pt_csv_probe(write_text("blank.csv", "\n \n"), &o, &dim, &err), PT_ERR_FORMAT);
    cr_expect_not_null(strstr(err.msg, "blank.csv: no data rows"), "%s", err.msg);
    cr_expect_eq(pt_csv_probe(path_of("none.csv"), &o, &dim, &err), PT_ERR_IO);
    cr_expect_not_null(strstr(err.msg, "none.csv: cannot open: No such file"), "%s", err.msg);
}

/* pt_data_probe: the real Fashion-MNIST folder passes, and each bad file is
 * reported with the key it came from. */
Test(data, probe_names_the_key_of_the_bad_file)
{
    pt_data_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.dir, sizeof c.dir, "%s", PT_FASHION_DIR);
    const char *key = "x";
    pt_err err;
    cr_assert_eq(pt_data_probe(&c, &key, &err), PT_OK, "%s", err.msg);
    cr_expect_null(key);
    int n = 0, dim = 0;
    char p[1200];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", PT_FASHION_DIR);
    cr_assert_eq(pt_idx_probe(p, 1, &n, &dim, &err), PT_OK, "%s", err.msg);
    cr_expect(n == 60000 && dim == 784, "%d x %d", n, dim);

    snprintf(c.dir, sizeof c.dir, "%s", path_of("nowhere"));
    cr_expect_eq(pt_data_probe(&c, &key, &err), PT_ERR_IO);
    cr_expect_str_eq(key, "data.dir");
    cr_expect_not_null(strstr(err.msg, "nowhere/train-images-idx3-ubyte.gz: cannot open"), "%s",
                       err.msg);

    /* explicit training files, the test pair from the (real) folder */
    make_idx(5, 3, 4);
    snprintf(c.dir, sizeof c.dir, "%s", PT_FASHION_DIR);
    snprintf(c.train_images, sizeof c.train_images, "%s", write_bytes("i.idx", img, n_img));
    uint32_t dl[1] = {4};
    uint8_t lab4[64];
    size_t n4 = idx_bytes(lab4, 1, dl, 1);
    snprintf(c.train_labels, sizeof c.train_labels, "%s", write_bytes("l4.idx", lab4, n4));
    cr_expect_eq(pt_data_probe(&c, &key, &err), PT_ERR_FORMAT);
    cr_expect_str_eq(key, "data.train_labels");
    cr_expect_not_null(strstr(err.msg, "has 5 images but"), "%s", err.msg);
    snprintf(c.train_labels, sizeof c.train_labels, "%s", write_bytes("l.idx", lab, n_lab));
    cr_expect_eq(pt_data_probe(&c, &key, &err), PT_ERR_FORMAT);
    cr_expect_str_eq(key, "data.dir");
    cr_expect_str_eq(err.msg, "the test images have 784 features each, the training images 12");

    memset(&c, 0, sizeof c);
    c.format = PT_FMT_CSV;
    c.header = -1;
    c.label_index = -1;
    cr_expect_eq(pt_data_probe(&c, &key, &err), PT_ERR_CONFIG);
    cr_expect_str_eq(key, "data.train");
    snprintf(c.train, sizeof c.train, "%s", write_text("tr.csv", "f,g,label\n1,2,a\n"));
    snprintf(c.test, sizeof c.test, "%s", write_text("te.csv", "f,label\n1,a\n"));
    cr_expect_eq(pt_data_probe(&c, &key, &err), PT_ERR_FORMAT);
    cr_expect_str_eq(key, "data.test");
    cr_expect_not_null(strstr(err.msg, "te.csv: 1 feature columns, but"), "%s", err.msg);
    snprintf(c.test, sizeof c.test, "%s", path_of("gone.csv"));
    cr_expect_eq(pt_data_probe(&c, &key, &err), PT_ERR_IO);
    cr_expect_str_eq(key, "data.test");
    c.test[0] = '\0';
    cr_expect_eq(pt_data_probe(&c, &key, &err), PT_OK, "%s", err.msg);
}
