/*
 * pbt_files.h — a PBT study's checkpoints and state beside its database
 * (coordinator/sched_pbt.c), written by rank 0 only:
 *   <storage>.pbt/<study>/g<G>_m<M>.npz   member M's model after generation
 *                                         G's interval (the bytes its worker
 *                                         returned: weights, mask, scaler)
 *   <storage>.pbt/<study>/g<G>_m<M>.json  that trial's figures (number,
 *                                         value, violation, sparsity, failed)
 *   <storage>.pbt/<study>/g<G>_m<M>.start that trial's number, from its start
 *   <storage>.pbt/<study>/state.json      the generation to run and each
 *                                         member's plan for it
 * (<study> with every byte outside [A-Za-z0-9._-] as '_', as models.h does).
 * Workers never read these: checkpoints reach them over MPI. They exist so a
 * killed run resumes from the last complete generation. Every file is
 * written atomically (temporary file, then rename).
 *
 * Errors: PT_ERR_IO with one line naming the file; PT_ERR_NOMEM.
 */
#ifndef STORE_PBT_FILES_H
#define STORE_PBT_FILES_H

#include <stddef.h>

#include "status.h"

/* The study's folder (created, with its parent, when missing) into buf. */
pt_status pbt_files_dir(const char *storage, const char *study, char *buf, size_t cap,
                        pt_err *err);

/* dir/name <- bytes[0..len), atomically. */
pt_status pbt_files_write(const char *dir, const char *name, const void *bytes, size_t len,
                          pt_err *err);

/* dir/name -> *bytes (malloc'd, NUL appended, the caller frees) and *len.
 * PT_ERR_IO when it cannot be read (errno ENOENT: *missing = 1 if given). */
pt_status pbt_files_read(const char *dir, const char *name, unsigned char **bytes, size_t *len,
                         int *missing, pt_err *err);

/* Removes dir/name if it is there. */
void pbt_files_remove(const char *dir, const char *name);

#endif
