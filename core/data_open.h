/*
 * data_open.h — turn a data config into ready-to-train data.
 *
 * Loads the training and test files the config names (IDX or CSV), applies
 * data.limit / data.test_limit, splits validation rows off the training rows
 * (seeded, see pt_split_make) and, for CSV without a test file, splits off
 * data.test_fraction as the test set first. The scaler is fitted on the
 * training rows only, so validation and test never leak into it.
 */
#ifndef PT_DATA_OPEN_H
#define PT_DATA_OPEN_H

#include "config.h"
#include "data.h"

typedef struct {
    pt_dataset train; /* rows for training and validation */
    pt_dataset test;  /* test rows; n == 0 when there is no test set */
    pt_split split;   /* indices into train */
    pt_scaler scaler; /* fitted on split.train */
    /* 1: train and test are another pt_data's rows (workers that are threads
     * of one process share one copy), and pt_data_close leaves them alone. */
    int rows_borrowed;
} pt_data;

/* Errors: those of the loaders, plus PT_ERR_CONFIG when train and test
 * disagree in dim, or a split leaves no training rows. */
pt_status pt_data_open(pt_data *d, const pt_data_config *cfg, uint64_t seed,
                       pt_err *err);
/* Checks cheaply that pt_data_open can start: every file the config names
 * opens and its header reads as the format says (pt_idx_probe: images and
 * labels agree in count, test and training images in features;
 * pt_csv_probe: the label column exists, test and training files agree in
 * feature columns). Reads headers only: milliseconds, whatever the data's
 * size. On error *key is the config key the bad file came from ("data.dir",
 * "data.train_images", "data.train", ...; "data.train" also when a CSV
 * config has none), else NULL. */
pt_status pt_data_probe(const pt_data_config *cfg, const char **key, pt_err *err);

/* Whether pt_data_reseed can give d, opened from cfg, another seed: the
 * seed then picks only the validation split (and the scaler fitted on what
 * is left), not a test set cut from the training file (CSV with
 * data.test_fraction and no data.test). */
int pt_data_can_reseed(const pt_data_config *cfg);

/* Re-splits data opened from cfg (pt_data_open) as pt_data_open would for
 * seed, without reading the files again: a worker whose trials differ only
 * by seed (confirmation runs over seeds) keeps the rows it has. PT_ERR_ARG
 * when !pt_data_can_reseed(cfg); on any error d is closed. */
pt_status pt_data_reseed(pt_data *d, const pt_data_config *cfg, uint64_t seed, pt_err *err);

/* Safe on a zeroed or half-opened pt_data. */
void pt_data_close(pt_data *d);

/* Copies rows idx[0..n) of src into a new data set out (same dim, classes,
 * range and class names). */
pt_status pt_dataset_take(pt_dataset *out, const pt_dataset *src,
                          const uint32_t *idx, int n, pt_err *err);

#endif
