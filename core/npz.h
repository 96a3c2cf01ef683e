/*
 * npz.h — a minimal NumPy .npz writer and reader (no Python involved).
 *
 * An .npz is a zip archive whose entries NAME.npy each hold one array in the
 * .npy format: a magic string, a version, a small Python-dict header
 * ({'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }) and the raw
 * C-order data. numpy.load() opens what pt_npz_writer writes, and pt_npz_open
 * reads what numpy.savez() writes, within these limits, chosen because model
 * files are small and must stay readable by anything:
 * - entries are "stored" (uncompressed); the reader also inflates "deflated"
 *   entries (numpy.savez_compressed) through zlib; CRC-32 is always checked;
 * - no ZIP64: an archive and its entries stay under 4 GiB;
 * - dtypes '<f4', '<i4', '<u1' (little-endian; the writer refuses to run on
 *   a big-endian host rather than write wrong bytes), C order, <= 4 dims;
 * - .npy versions 1.0 (written) and 2.0/3.0 (read);
 * - array names are unique: an archive listing one name twice is rejected
 *   (numpy would read the last, pt_npz_find the first).
 *
 * Errors: every failing call returns a pt_status and writes one line into err
 * that starts with the file name and says what is wrong, e.g.
 *   "m.npz: truncated: central directory ends past the end of the file"
 *   "m.npz: w0.npy: CRC-32 mismatch (file corrupted)"
 *   "m.npz: w0: expected float32 (100, 784), got float32 (100, 785)"
 * PT_ERR_IO for files that cannot be opened, read or written; PT_ERR_FORMAT
 * for anything malformed; PT_ERR_NOMEM.
 *
 * Memory: pt_npz_open reads the whole file into one buffer owned by the
 * pt_npz; array data pointers point into it (possibly unaligned: copy with
 * pt_npz_get or memcpy) and die with pt_npz_close.
 */
#ifndef PT_NPZ_H
#define PT_NPZ_H

#include <stddef.h>

#include "status.h"

/* Values may reach files: always add at the end. */
typedef enum { PT_F32 = 0, PT_I32 = 1, PT_U8 = 2 } pt_dtype;

#define PT_NPY_MAX_DIMS 4
#define PT_NPY_NAME_MAX 64

/* Bytes per element, and the .npy descr ("<f4") and numpy name ("float32"). */
size_t pt_dtype_size(pt_dtype t);
const char *pt_dtype_descr(pt_dtype t);
const char *pt_dtype_name(pt_dtype t);

/* --- writing -------------------------------------------------------------- */

typedef struct pt_npz_writer pt_npz_writer;

/* Starts writing path. Entries go to "path.tmp", renamed to path by
 * pt_npz_writer_finish, so a failed or interrupted save never leaves a
 * half-written model under the real name. */
pt_status pt_npz_writer_open(pt_npz_writer **w, const char *path, pt_err *err);

/* Appends the array `name` (stored as name.npy) of ndim dims (0 = scalar,
 * shape may then be NULL) from data, C order, host little-endian. */
pt_status pt_npz_writer_add(pt_npz_writer *w, const char *name, pt_dtype t, int ndim,
                            const long *shape, const void *data, pt_err *err);

/* Writes the zip central directory, closes and renames the file, frees w.
 * On failure the temporary file is removed and w freed all the same. */
pt_status pt_npz_writer_finish(pt_npz_writer *w, pt_err *err);

/* Gives up: removes the temporary file and frees w. Safe on NULL. */
void pt_npz_writer_abort(pt_npz_writer *w);

/* --- reading -------------------------------------------------------------- */

typedef struct {
    char name[PT_NPY_NAME_MAX]; /* entry name without ".npy" */
    pt_dtype dtype;
    int ndim;
    long shape[PT_NPY_MAX_DIMS];
    size_t count;     /* elements: product of shape (1 for ndim 0) */
    const void *data; /* count elements, little-endian, maybe unaligned */
} pt_npy_array;

typedef struct {
    char path[1024];
    unsigned char *buf;  /* the whole file */
    unsigned char **own; /* inflated entries, freed on close */
    int n;               /* arrays */
    pt_npy_array *arr;
} pt_npz;

/* Reads and checks the whole archive: zip structure, CRC-32 of every entry,
 * every entry a supported .npy array. On failure *z is left zeroed. */
pt_status pt_npz_open(pt_npz *z, const char *path, pt_err *err);

/* The array called name, or NULL. */
const pt_npy_array *pt_npz_find(const pt_npz *z, const char *name);

/* Copies the array called name into out (the product of shape elements)
 * after checking that its dtype is t and its shape is exactly shape[0..ndim);
 * with out NULL it only checks.
 * Errors: "path: name: missing" / "path: name: expected float32 (3, 4), got
 * uint8 (3, 4)". */
pt_status pt_npz_get(const pt_npz *z, const char *name, pt_dtype t, int ndim, const long *shape,
                     void *out, pt_err *err);

/* Safe on a zeroed struct. */
void pt_npz_close(pt_npz *z);

#endif
