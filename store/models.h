/*
 * models.h — the study's kept models: the final .npz of the best K trials.
 *
 * A study keeps the trained model of its best keep_models COMPLETE trials
 * (study key, default 5; 0 = none) in the folder beside its database
 *   <storage>.models/<study>/trial-<number>.npz
 * (<study> with every byte outside [A-Za-z0-9._-] as '_', so one DB can hold
 * several studies). Each kept trial has the trial user attribute model_path,
 * a JSON string: the file's path relative to the DB's folder, so the DB and
 * its .models folder can move together. `prunetune export-model` reads it.
 *
 * Which trials are kept. One objective: the K best by its value (ties: the
 * lower trial number, whatever order the trials finish in, so the best
 * trial of `prunetune best` and `export-model` always has its model). Several objectives: the non-dominated set, up to K:
 * a new trial dominated by a kept one is not kept, kept trials it dominates
 * are dropped, and past K the worst by the first objective goes. PRUNED and
 * FAIL trials are never kept (a PRUNED value is an intermediate one), nor
 * are trials that violate the study's constraints (the "constraints" values
 * the store recorded when the trial ended; a resumed study whose constraints
 * changed forgets the kept models of trials that no longer meet them).
 *
 * Workers need no shared file system: they send the model bytes after the
 * result (protocol.h, "model"), and rank 0 writes them here. Every COMPLETE
 * trial's model is sent (LeNet-300-100: ~1 MB, a few ms), and rank 0 keeps
 * it or not; asking first would cost a round trip per trial for bytes that
 * are cheap to move. A file is written atomically (temporary file, then
 * rename), then recorded; a trial pushed out has its attribute deleted, then
 * its file removed. On resume the kept set is rebuilt from the attributes
 * (a recorded file that is missing is forgotten) and trimmed to the study's
 * keep_models, which may have been lowered (0: every file is removed).
 *
 * Errors: PT_ERR_IO (folder, file, database), PT_ERR_NOMEM, one line. A
 * failure to keep a model never fails the trial: the caller reports it.
 */
#ifndef STORE_MODELS_H
#define STORE_MODELS_H

#include <stddef.h>

#include "store.h"
#include "study.h"

#define MODELS_ATTR "model_path"

typedef struct models models;

/* The keeper of study sc (study_id in db, which stays the caller's). With
 * sc->keep_models 0 it keeps nothing (and removes what earlier runs kept). */
pt_status models_open(models **out, store *db, const study_config *sc, int study_id, pt_err *err);
void models_free(models *k); /* safe on NULL */

/* Whether workers should send their models at all (keep_models > 0). */
int models_enabled(const models *k);

/* Keeps len bytes as trial (trial_id, number)'s model if it enters the set. */
pt_status models_offer(models *k, int trial_id, int number, const double *values, const void *bytes,
                       size_t len, int *kept, pt_err *err);

/* How many models are kept now. */
int models_count(const models *k);

/* The path of trial_id's kept model, resolved against db_path's folder, in
 * buf. PT_ERR_STOPPED when the trial has none recorded. */
/* Writes bytes[0..len) to path through path.tmp and a rename, so a reader
 * never sees half a file (a kept model, a PBT checkpoint: pbt_files.h).
 * PT_ERR_IO naming the path. */
pt_status models_write_atomic(const char *path, const void *bytes, size_t len, pt_err *err);

pt_status models_trial_path(store *db, const char *db_path, int trial_id, char *buf, size_t cap,
                            pt_err *err);

#endif
