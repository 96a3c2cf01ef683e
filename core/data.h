/*
 * data.h — labelled data sets: IDX and CSV loaders, scaling, splits, batches.
 *
 * A pt_dataset holds n samples of dim features and an integer label each.
 * Features are kept in the narrowest type the file allows: IDX ubyte images
 * stay uint8 (Fashion-MNIST's 60,000 x 784 training set is 47 MB as bytes and
 * would be 188 MB as floats), CSV data is float. Scaling is not applied in
 * place: pt_dataset_gather() converts and scales only the rows of a batch,
 * straight into the network's input buffer, which is also the one copy a
 * shuffled mini-batch needs anyway.
 *
 * Splits are index lists into one data set (pt_split), never copies.
 *
 * Ownership: loaders fill a caller-provided pt_dataset and allocate its
 * arrays; pt_dataset_free() releases them and is safe on a zeroed struct.
 * On failure a loader leaves the struct zeroed and writes one line into err
 * naming the file and what is wrong (with line and column for CSV cells).
 */
#ifndef PT_DATA_H
#define PT_DATA_H

#include <stdint.h>

#include "rng.h"
#include "status.h"

typedef struct {
    int n;            /* number of samples */
    int dim;          /* features per sample */
    int n_classes;    /* labels are in [0, n_classes) */
    uint8_t *x8;      /* n*dim row-major features, or NULL (see xf) */
    float *xf;        /* n*dim row-major features, or NULL (see x8) */
    int32_t *y;       /* n labels */
    /* Known range of raw feature values (0 and 255 for ubyte IDX), or both
     * NAN when the file format does not define one (CSV). */
    float lo, hi;
    /* CSV with string labels: class names in class-id order; else NULL. */
    char **class_names;
} pt_dataset;

/* Loads an IDX image file (ubyte, 2 or more dims: n x d1 x d2 ...; the
 * trailing dims are flattened into dim) and its IDX label file (ubyte, 1 dim).
 * Either path may end in .gz (read through zlib). n_classes = max label + 1.
 * Errors (PT_ERR_IO / PT_ERR_FORMAT): missing file, wrong magic, unsupported
 * element type, truncated file, trailing bytes, image/label count mismatch. */
pt_status pt_idx_load(const char *images_path, const char *labels_path,
                      pt_dataset *out, pt_err *err);

/* Only the header of an IDX file, with pt_idx_load's checks of it (magic,
 * element type, images 2+ dimensions or labels 1): *n samples of *dim
 * features (1 for labels). Reads 4 + 4 * ndims bytes, so a study can check
 * its data files in milliseconds before it starts; a payload truncated or
 * corrupt past the header is found only by pt_idx_load. */
pt_status pt_idx_probe(const char *path, int images, int *n, int *dim, pt_err *err);

typedef struct {
    /* 1: first row is a header, 0: no header, -1: auto (header when any cell
     * of the first row is not a number). */
    int header;
    /* Label column: by name (needs a header) when non-NULL, else by index;
     * a negative index counts from the end (-1 = last column). */
    const char *label_name;
    int label_index;
    char delimiter; /* ',' when 0 */
} pt_csv_opts;

/* Defaults: header auto, label = last column, delimiter ','. */
pt_csv_opts pt_csv_opts_default(void);

/* Loads a CSV file: every non-label cell must be a number; labels are
 * non-negative integers, or else strings mapped to class ids in sorted order
 * (names kept in class_names). Blank lines are skipped; rows must all have
 * the header's (or first row's) column count. Errors name file, line and
 * column: "data.csv:12:3: expected a number, got 'abc'". */
pt_status pt_csv_load(const char *path, const pt_csv_opts *opts,
                      pt_dataset *out, pt_err *err);

/* Only the first non-blank line of a CSV file, with pt_csv_load's checks of
 * it (2 or more columns, the label column found): *dim feature columns.
 * Same errors as pt_csv_load for what it reads; the rows are not read. */
pt_status pt_csv_probe(const char *path, const pt_csv_opts *opts, int *dim, pt_err *err);

void pt_dataset_free(pt_dataset *d);

/* How features are scaled when gathered. */
typedef enum {
    PT_SCALE_NONE = 0,
    PT_SCALE_UNIT = 1,     /* to [0,1]: by the known range (lo, hi) when the
                              data set has one, else per-feature min/max */
    PT_SCALE_STANDARD = 2  /* per-feature (x - mean) / std */
} pt_scale;

/* x_scaled = (x - offset[j]) * mul[j] for feature j. */
typedef struct {
    int dim;
    float *offset;
    float *mul;
} pt_scaler;

/* Fits a scaler on the rows idx[0..n) of d (all rows when idx is NULL).
 * Constant features get mul = 1 (UNIT: offset = the constant; STANDARD:
 * offset = mean), so they map to 0 rather than to NaN. */
pt_status pt_scaler_fit(pt_scaler *s, const pt_dataset *d, pt_scale mode,
                        const uint32_t *idx, int n, pt_err *err);
void pt_scaler_free(pt_scaler *s);

/* Writes rows idx[0..n) of d, scaled by s, into out (n*dim floats, row-major)
 * and their labels into y (when y is non-NULL). */
void pt_dataset_gather(const pt_dataset *d, const pt_scaler *s,
                       const uint32_t *idx, int n, float *out, int32_t *y);

/* A deterministic train/validation split of 0..n-1. */
typedef struct {
    uint32_t *train;
    int n_train;
    uint32_t *val;
    int n_val;
} pt_split;

/* Shuffles 0..n-1 with a stream derived from seed, then puts the first
 * round(n * val_fraction) indices in val and the rest in train; both lists are
 * then sorted ascending so a split depends only on (n, val_fraction, seed).
 * 0 <= val_fraction < 1. */
pt_status pt_split_make(pt_split *sp, int n, double val_fraction,
                        uint64_t seed, pt_err *err);
void pt_split_free(pt_split *sp);

#endif
