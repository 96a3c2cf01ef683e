/*
 * dataset.c — what happens to a loaded data set: scaling, batches, splits.
 *
 * Scaling is folded into gathering: a batch's rows are converted from their
 * stored type (uint8 or float) and scaled in the same pass that copies them
 * into the network's input buffer, so the data set is never duplicated as
 * scaled floats (for Fashion-MNIST that would be 188 MB instead of 47 MB).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

/* Stream ids for pt_rng_derive: append new ones, never renumber. */
#define SPLIT_STREAM 0x5e11

void pt_dataset_free(pt_dataset *d)
{
    free(d->x8);
    free(d->xf);
    free(d->y);
    if (d->class_names)
        for (int c = 0; c < d->n_classes; c++)
            free(d->class_names[c]);
    free(d->class_names);
    memset(d, 0, sizeof *d);
}

static double feature(const pt_dataset *d, size_t row, int j)
{
    size_t k = row * (size_t)d->dim + (size_t)j;
    return d->x8 ? (double)d->x8[k] : (double)d->xf[k];
}

pt_status pt_scaler_fit(pt_scaler *s, const pt_dataset *d, pt_scale mode, const uint32_t *idx,
                        int n, pt_err *err)
{
    memset(s, 0, sizeof *s);
    s->dim = d->dim;
    s->offset = malloc(sizeof(float) * (size_t)d->dim);
    s->mul = malloc(sizeof(float) * (size_t)d->dim);
    double *a = calloc((size_t)d->dim, sizeof(double)), *b = calloc((size_t)d->dim, sizeof(double));
    if (!s->offset || !s->mul || !a || !b) {
        free(a);
        free(b);
        pt_scaler_free(s);
        return pt_fail(err, PT_ERR_NOMEM, "scaler: out of memory");
    }
    if (!idx)
        n = d->n;
    int known = mode == PT_SCALE_UNIT && !isnan(d->lo) && !isnan(d->hi) && d->hi > d->lo;
    if (mode == PT_SCALE_UNIT && !known) {
        /* a = min, b = max per feature */
        for (int j = 0; j < d->dim; j++) {
            a[j] = INFINITY;
            b[j] = -INFINITY;
        }
        for (int i = 0; i < n; i++) {
            size_t r = idx ? idx[i] : (size_t)i;
            for (int j = 0; j < d->dim; j++) {
                double v = feature(d, r, j);
                a[j] = v < a[j] ? v : a[j];
                b[j] = v > b[j] ? v : b[j];
            }
        }
    } else if (mode == PT_SCALE_STANDARD) {
        /* a = mean, b = variance (two passes: stable enough in double) */
        for (int i = 0; i < n; i++) {
            size_t r = idx ? idx[i] : (size_t)i;
            for (int j = 0; j < d->dim; j++)
                a[j] += feature(d, r, j);
        }
        for (int j = 0; j < d->dim; j++)
            a[j] = n ? a[j] / n : 0.0;
        for (int i = 0; i < n; i++) {
            size_t r = idx ? idx[i] : (size_t)i;
            for (int j = 0; j < d->dim; j++) {
                double e = feature(d, r, j) - a[j];
                b[j] += e * e;
            }
        }
    }
    for (int j = 0; j < d->dim; j++) {
        double off = 0.0, mul = 1.0;
        if (mode == PT_SCALE_UNIT && known) {
            off = d->lo;
            mul = 1.0 / ((double)d->hi - d->lo);
        } else if (mode == PT_SCALE_UNIT && n > 0) {
            off = a[j];
            mul = b[j] > a[j] ? 1.0 / (b[j] - a[j]) : 1.0; /* constant feature -> 0 */
        } else if (mode == PT_SCALE_STANDARD && n > 0) {
            double sd = sqrt(b[j] / n);
            off = a[j];
            mul = sd > 1e-12 ? 1.0 / sd : 1.0;
        }
        s->offset[j] = (float)off;
        s->mul[j] = (float)mul;
    }
    free(a);
    free(b);
    return PT_OK;
}

void pt_scaler_free(pt_scaler *s)
{
    free(s->offset);
    free(s->mul);
    memset(s, 0, sizeof *s);
}

/* Rows are visited in shuffled order, so each one starts with a cache miss;
 * prefetching a few rows ahead hides most of it. */
#define GATHER_AHEAD 4

void pt_dataset_gather(const pt_dataset *d, const pt_scaler *s, const uint32_t *idx, int n,
                       float *out, int32_t *y)
{
    const int dim = d->dim;
    const float *restrict off = s->offset, *restrict mul = s->mul;
    size_t row_bytes = (size_t)dim * (d->x8 ? 1 : sizeof(float));
    const char *base = d->x8 ? (const char *)d->x8 : (const char *)d->xf;
    for (int i = 0; i < n; i++) {
        if (i + GATHER_AHEAD < n) {
            const char *ahead = base + idx[i + GATHER_AHEAD] * row_bytes;
            for (size_t k = 0; k < row_bytes; k += 64)
                __builtin_prefetch(ahead + k);
        }
        size_t r = idx[i];
        float *restrict o = out + (size_t)i * dim;
        if (d->x8) {
            const uint8_t *restrict x = d->x8 + r * dim;
            for (int j = 0; j < dim; j++)
                o[j] = ((float)x[j] - off[j]) * mul[j];
        } else {
            const float *restrict x = d->xf + r * dim;
            for (int j = 0; j < dim; j++)
                o[j] = (x[j] - off[j]) * mul[j];
        }
        if (y)
            y[i] = d->y[r];
    }
}

pt_status pt_split_make(pt_split *sp, int n, double val_fraction, uint64_t seed, pt_err *err)
{
    memset(sp, 0, sizeof *sp);
    if (n < 0 || !(val_fraction >= 0.0 && val_fraction < 1.0))
        return pt_fail(err, PT_ERR_ARG, "split: %d rows, validation fraction %g (expected [0,1))",
                       n, val_fraction);
    int n_val = (int)llround(n * val_fraction);
    uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    uint8_t *is_val = calloc((size_t)(n ? n : 1), 1);
    sp->val = malloc(sizeof(uint32_t) * (size_t)(n_val ? n_val : 1));
    sp->train = malloc(sizeof(uint32_t) * (size_t)(n - n_val ? n - n_val : 1));
    if (!perm || !is_val || !sp->val || !sp->train) {
        free(perm);
        free(is_val);
        pt_split_free(sp);
        return pt_fail(err, PT_ERR_NOMEM, "split: out of memory");
    }
    for (int i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    pt_rng r;
    pt_rng_derive(&r, seed, SPLIT_STREAM);
    pt_rng_shuffle(&r, perm, (uint32_t)n);
    for (int i = 0; i < n_val; i++)
        is_val[perm[i]] = 1;
    /* Walking 0..n-1 yields both lists already sorted. */
    for (int i = 0; i < n; i++) {
        if (is_val[i])
            sp->val[sp->n_val++] = (uint32_t)i;
        else
            sp->train[sp->n_train++] = (uint32_t)i;
    }
    free(perm);
    free(is_val);
    return PT_OK;
}

void pt_split_free(pt_split *sp)
{
    free(sp->train);
    free(sp->val);
    memset(sp, 0, sizeof *sp);
}
