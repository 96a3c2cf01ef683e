/*
 * data_open.c — from a data config to ready-to-train data; see data_open.h.
 */
#include "data_open.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_SPLIT_STREAM 0x7e57 /* pt_rng_derive stream of the CSV test split */

pt_status pt_dataset_take(pt_dataset *out, const pt_dataset *src, const uint32_t *idx, int n,
                          pt_err *err)
{
    memset(out, 0, sizeof *out);
    size_t row = (size_t)src->dim;
    out->n = n;
    out->dim = src->dim;
    out->n_classes = src->n_classes;
    out->lo = src->lo;
    out->hi = src->hi;
    out->y = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    if (src->x8)
        out->x8 = malloc(row * (size_t)(n ? n : 1));
    else
        out->xf = malloc(sizeof(float) * row * (size_t)(n ? n : 1));
    int ok = out->y && (out->x8 || out->xf);
    if (ok && src->class_names) {
        out->class_names = calloc((size_t)src->n_classes, sizeof(char *));
        ok = out->class_names != NULL;
        for (int c = 0; ok && c < src->n_classes; c++)
            ok = (out->class_names[c] = strdup(src->class_names[c])) != NULL;
    }
    if (!ok) {
        pt_dataset_free(out);
        return pt_fail(err, PT_ERR_NOMEM, "data: out of memory");
    }
    for (int i = 0; i < n; i++) {
        size_t r = idx[i];
        out->y[i] = src->y[r];
        if (src->x8)
            memcpy(out->x8 + (size_t)i * row, src->x8 + r * row, row);
        else
            memcpy(out->xf + (size_t)i * row, src->xf + r * row, sizeof(float) * row);
    }
    return PT_OK;
}

static void idx_path(char *buf, size_t n, const char *explicit_path, const char *dir,
                     const char *name)
{
    if (explicit_path[0])
        snprintf(buf, n, "%s", explicit_path);
    else
        snprintf(buf, n, "%s/%s", dir, name);
}

static pt_status open_idx(pt_data *d, const pt_data_config *c, pt_err *err)
{
    char img[PT_PATH_MAX + 64], lab[PT_PATH_MAX + 64];
    idx_path(img, sizeof img, c->train_images, c->dir, "train-images-idx3-ubyte.gz");
    idx_path(lab, sizeof lab, c->train_labels, c->dir, "train-labels-idx1-ubyte.gz");
    pt_status st = pt_idx_load(img, lab, &d->train, err);
    if (st != PT_OK)
        return st;
    idx_path(img, sizeof img, c->test_images, c->dir, "t10k-images-idx3-ubyte.gz");
    idx_path(lab, sizeof lab, c->test_labels, c->dir, "t10k-labels-idx1-ubyte.gz");
    st = pt_idx_load(img, lab, &d->test, err);
    if (st == PT_OK && d->test.dim != d->train.dim)
        st = pt_fail(err, PT_ERR_FORMAT, "%s: %d features per image, but the training images have %d",
                     img, d->test.dim, d->train.dim);
    return st;
}

/* Maps the test set's string labels onto the training set's class ids. */
static pt_status align_classes(pt_data *d, const char *test_path, pt_err *err)
{
    pt_dataset *tr = &d->train, *te = &d->test;
    if (!tr->class_names && !te->class_names)
        return PT_OK;
    if (!tr->class_names || !te->class_names)
        return pt_fail(err, PT_ERR_FORMAT,
                       "%s: labels are %s but the training labels are %s", test_path,
                       te->class_names ? "names" : "numbers", tr->class_names ? "names" : "numbers");
    int *map = malloc(sizeof(int) * (size_t)te->n_classes);
    if (!map)
        return pt_fail(err, PT_ERR_NOMEM, "data: out of memory");
    for (int c = 0; c < te->n_classes; c++) {
        map[c] = -1;
        for (int k = 0; k < tr->n_classes && map[c] < 0; k++)
            if (!strcmp(te->class_names[c], tr->class_names[k]))
                map[c] = k;
        if (map[c] < 0) {
            pt_status st = pt_fail(err, PT_ERR_FORMAT,
                                   "%s: label '%s' does not occur in the training data", test_path,
                                   te->class_names[c]);
            free(map);
            return st;
        }
    }
    for (int i = 0; i < te->n; i++)
        te->y[i] = map[te->y[i]];
    free(map);
    for (int c = 0; c < te->n_classes; c++)
        free(te->class_names[c]);
    free(te->class_names);
    te->class_names = NULL;
    te->n_classes = tr->n_classes;
    return PT_OK;
}

/* Splits test_fraction of all rows off as the test set. */
static pt_status split_test(pt_data *d, double fraction, uint64_t seed, pt_err *err)
{
    pt_split sp;
    pt_status st = pt_split_make(&sp, d->train.n, fraction, seed ^ TEST_SPLIT_STREAM, err);
    if (st != PT_OK)
        return st;
    pt_dataset all = d->train;
    st = pt_dataset_take(&d->test, &all, sp.val, sp.n_val, err);
    if (st == PT_OK)
        st = pt_dataset_take(&d->train, &all, sp.train, sp.n_train, err);
    if (st == PT_OK)
        pt_dataset_free(&all);
    else
        d->train = all;
    pt_split_free(&sp);
    return st;
}

static pt_status open_csv(pt_data *d, const pt_data_config *c, uint64_t seed, pt_err *err)
{
    if (!c->train[0])
        return pt_fail(err, PT_ERR_CONFIG, "data.train: a CSV path is required");
    pt_csv_opts o = pt_csv_opts_default();
    o.header = c->header;
    o.label_name = c->label_name[0] ? c->label_name : NULL;
    o.label_index = c->label_index;
    pt_status st = pt_csv_load(c->train, &o, &d->train, err);
    if (st != PT_OK)
        return st;
    if (!c->test[0])
        return c->test_fraction > 0 ? split_test(d, c->test_fraction, seed, err) : PT_OK;
    st = pt_csv_load(c->test, &o, &d->test, err);
    if (st == PT_OK && d->test.dim != d->train.dim)
        st = pt_fail(err, PT_ERR_FORMAT, "%s: %d feature columns, but %s has %d", c->test,
                     d->test.dim, c->train, d->train.dim);
    if (st == PT_OK)
        st = align_classes(d, c->test, err);
    return st;
}

/* What the seed decides once the rows are in: the validation split, and the
 * scaler fitted on the training rows left. */
static pt_status split_and_scale(pt_data *d, const pt_data_config *c, uint64_t seed, pt_err *err)
{
    pt_status st = pt_split_make(&d->split, d->train.n, c->val_fraction, seed, err);
    if (st == PT_OK && d->split.n_train < 1)
        st = pt_fail(err, PT_ERR_CONFIG, "data: no training rows left after the validation split");
    if (st == PT_OK)
        st = pt_scaler_fit(&d->scaler, &d->train, c->scale, d->split.train, d->split.n_train, err);
    return st;
}

pt_status pt_data_open(pt_data *d, const pt_data_config *c, uint64_t seed, pt_err *err)
{
    memset(d, 0, sizeof *d);
    pt_status st = c->format == PT_FMT_CSV ? open_csv(d, c, seed, err) : open_idx(d, c, err);
    if (st == PT_OK) {
        /* Keep the first N rows: the arrays stay as allocated, only n shrinks. */
        if (c->limit > 0 && c->limit < d->train.n)
            d->train.n = c->limit;
        if (c->test_limit > 0 && c->test_limit < d->test.n)
            d->test.n = c->test_limit;
        int k = d->test.n_classes > d->train.n_classes ? d->test.n_classes : d->train.n_classes;
        if (!d->train.class_names)
            d->train.n_classes = d->test.n_classes = k;
    }
    if (st == PT_OK)
        st = split_and_scale(d, c, seed, err);
    if (st != PT_OK)
        pt_data_close(d);
    return st;
}

int pt_data_can_reseed(const pt_data_config *c)
{
    return !(c->format == PT_FMT_CSV && !c->test[0] && c->test_fraction > 0);
}

pt_status pt_data_reseed(pt_data *d, const pt_data_config *c, uint64_t seed, pt_err *err)
{
    if (!pt_data_can_reseed(c)) {
        pt_data_close(d);
        return pt_fail(err, PT_ERR_ARG, "data: the seed also cuts the test set: open it again");
    }
    pt_split_free(&d->split);
    pt_scaler_free(&d->scaler);
    pt_status st = split_and_scale(d, c, seed, err);
    if (st != PT_OK)
        pt_data_close(d);
    return st;
}

/* One IDX pair of pt_data_probe: *n samples of *dim features, or an error
 * naming the key the failing file came from. */
static pt_status probe_idx_pair(const pt_data_config *c, int test, int *n, int *dim,
                                const char **key, pt_err *err)
{
    const char *img_path = test ? c->test_images : c->train_images;
    const char *lab_path = test ? c->test_labels : c->train_labels;
    char img[PT_PATH_MAX + 64], lab[PT_PATH_MAX + 64];
    idx_path(img, sizeof img, img_path, c->dir,
             test ? "t10k-images-idx3-ubyte.gz" : "train-images-idx3-ubyte.gz");
    idx_path(lab, sizeof lab, lab_path, c->dir,
             test ? "t10k-labels-idx1-ubyte.gz" : "train-labels-idx1-ubyte.gz");
    int n_lab = 0, one = 0;
    *key = img_path[0] ? (test ? "data.test_images" : "data.train_images") : "data.dir";
    pt_status st = pt_idx_probe(img, 1, n, dim, err);
    if (st != PT_OK)
        return st;
    *key = lab_path[0] ? (test ? "data.test_labels" : "data.train_labels") : "data.dir";
    if ((st = pt_idx_probe(lab, 0, &n_lab, &one, err)) != PT_OK)
        return st;
    if (n_lab != *n)
        return pt_fail(err, PT_ERR_FORMAT, "%s has %d images but %s has %d labels", img, *n, lab,
                       n_lab);
    *key = NULL;
    return PT_OK;
}

pt_status pt_data_probe(const pt_data_config *c, const char **key, pt_err *err)
{
    int n = 0, dim = 0, n_test = 0, dim_test = 0;
    pt_status st;
    *key = NULL;
    if (c->format != PT_FMT_CSV) {
        if ((st = probe_idx_pair(c, 0, &n, &dim, key, err)) != PT_OK ||
            (st = probe_idx_pair(c, 1, &n_test, &dim_test, key, err)) != PT_OK)
            return st;
        if (dim_test != dim) {
            *key = c->test_images[0] ? "data.test_images" : "data.dir";
            return pt_fail(err, PT_ERR_FORMAT,
                           "the test images have %d features each, the training images %d",
                           dim_test, dim);
        }
        return PT_OK;
    }
    pt_csv_opts o = pt_csv_opts_default();
    o.header = c->header;
    o.label_name = c->label_name[0] ? c->label_name : NULL;
    o.label_index = c->label_index;
    *key = "data.train";
    if (!c->train[0])
        return pt_fail(err, PT_ERR_CONFIG, "a CSV path is required with data.format \"csv\"");
    if ((st = pt_csv_probe(c->train, &o, &dim, err)) != PT_OK)
        return st;
    *key = "data.test";
    if (c->test[0] && (st = pt_csv_probe(c->test, &o, &dim_test, err)) != PT_OK)
        return st;
    if (c->test[0] && dim_test != dim)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %d feature columns, but %s has %d", c->test,
                       dim_test, c->train, dim);
    *key = NULL;
    return PT_OK;
}

void pt_data_close(pt_data *d)
{
    if (!d->rows_borrowed) {
        pt_dataset_free(&d->train);
        pt_dataset_free(&d->test);
    }
    pt_split_free(&d->split);
    pt_scaler_free(&d->scaler);
}
