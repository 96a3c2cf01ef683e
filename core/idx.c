/*
 * idx.c — the IDX format of (Fashion-)MNIST, plain or gzip-compressed.
 *
 * Header: two zero bytes, an element-type byte (0x08 = unsigned byte, the
 * only type image/label files use), a dimension count, then each dimension
 * as a big-endian uint32. Both plain and .gz files are read through zlib's
 * gzread, which passes plain files through unchanged, so there is one code
 * path. The payload is read straight into the data set's byte array with
 * large reads; a short read is a truncated file, and one more byte after the
 * payload is trailing garbage: both are errors, never a partial load.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data.h"

#define IDX_MAX_DIMS 8

typedef struct {
    int ndims;
    uint32_t dims[IDX_MAX_DIMS];
    uint64_t count; /* product of dims */
} idx_header;

/* Reads exactly n bytes; returns the number read (short on EOF/error). */
static uint64_t read_full(gzFile f, void *buf, uint64_t n)
{
    uint64_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r <= 0)
            break;
        got += (uint64_t)r;
    }
    return got;
}

static pt_status open_idx(gzFile *f, const char *path, pt_err *err)
{
    errno = 0;
    *f = gzopen(path, "rb");
    if (!*f)
        return pt_fail(err, PT_ERR_IO, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");
    return PT_OK;
}

static pt_status read_header(gzFile f, const char *path, idx_header *h, pt_err *err)
{
    unsigned char m[4];
    if (read_full(f, m, 4) != 4)
        return pt_fail(err, PT_ERR_FORMAT, "%s: truncated IDX header (fewer than 4 bytes)", path);
    if (m[0] != 0 || m[1] != 0 || m[3] == 0 || m[3] > IDX_MAX_DIMS)
        return pt_fail(err, PT_ERR_FORMAT,
                       "%s: not an IDX file (magic %02x %02x %02x %02x; expected 00 00 TYPE NDIMS)",
                       path, m[0], m[1], m[2], m[3]);
    if (m[2] != 0x08)
        return pt_fail(err, PT_ERR_FORMAT,
                       "%s: IDX element type 0x%02x not supported (expected 0x08, unsigned byte)",
                       path, m[2]);
    h->ndims = m[3];
    h->count = 1;
    for (int i = 0; i < h->ndims; i++) {
        unsigned char d[4];
        if (read_full(f, d, 4) != 4)
            return pt_fail(err, PT_ERR_FORMAT, "%s: truncated IDX header (dimension %d missing)",
                           path, i + 1);
        h->dims[i] = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
        h->count *= h->dims[i];
        if (h->count > ((uint64_t)1 << 40))
            return pt_fail(err, PT_ERR_FORMAT, "%s: IDX dimensions too large", path);
    }
    return PT_OK;
}

/* Reads the payload of h->count bytes into a new buffer and checks EOF.
 * The count is only what the header claims (a 20-byte file may claim 2^40
 * bytes, and a .gz file's real size says little about its content), so
 * the buffer grows with the bytes that do arrive, doubling from 1 MiB up to
 * the count: memory follows the data, never the header alone. */
static pt_status read_payload(gzFile f, const char *path, const idx_header *h, uint8_t **out,
                              pt_err *err)
{
    uint64_t cap = h->count < ((uint64_t)1 << 20) ? h->count : (uint64_t)1 << 20, got = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    for (;;) {
        if (!buf)
            return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory for %llu bytes", path,
                           (unsigned long long)cap);
        got += read_full(f, buf + got, cap - got);
        if (got < cap || cap == h->count)
            break;
        cap = 2 * cap < h->count ? 2 * cap : h->count;
        uint8_t *bigger = realloc(buf, cap);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    int errnum;
    const char *zmsg = gzerror(f, &errnum);
    if (errnum != Z_OK && errnum != Z_BUF_ERROR) {
        free(buf);
        return pt_fail(err, PT_ERR_FORMAT, "%s: corrupt compressed data (%s)", path, zmsg);
    }
    if (got != h->count) {
        free(buf);
        return pt_fail(err, PT_ERR_FORMAT, "%s: truncated: expected %llu data bytes, got %llu",
                       path, (unsigned long long)h->count, (unsigned long long)got);
    }
    unsigned char extra;
    if (read_full(f, &extra, 1) != 0) {
        free(buf);
        return pt_fail(err, PT_ERR_FORMAT, "%s: trailing data after %llu data bytes", path,
                       (unsigned long long)h->count);
    }
    *out = buf;
    return PT_OK;
}

/* The header, and whether it fits the role (images: 2+ dims, labels: 1). */
static pt_status read_role_header(gzFile f, const char *path, int want_images, idx_header *h,
                                  pt_err *err)
{
    pt_status st = read_header(f, path, h, err);
    if (st == PT_OK && want_images && h->ndims < 2)
        st = pt_fail(err, PT_ERR_FORMAT, "%s: IDX images need 2 or more dimensions, got %d",
                     path, h->ndims);
    if (st == PT_OK && !want_images && h->ndims != 1)
        st = pt_fail(err, PT_ERR_FORMAT, "%s: IDX labels need 1 dimension, got %d", path,
                     h->ndims);
    if (st == PT_OK && h->dims[0] > INT32_MAX)
        st = pt_fail(err, PT_ERR_FORMAT, "%s: too many samples (%u)", path, h->dims[0]);
    return st;
}

static pt_status load_one(const char *path, int want_images, idx_header *h, uint8_t **data,
                          pt_err *err)
{
    gzFile f;
    pt_status st = open_idx(&f, path, err);
    if (st != PT_OK)
        return st;
    st = read_role_header(f, path, want_images, h, err);
    if (st == PT_OK)
        st = read_payload(f, path, h, data, err);
    gzclose(f);
    return st;
}

pt_status pt_idx_probe(const char *path, int images, int *n, int *dim, pt_err *err)
{
    gzFile f;
    idx_header h;
    pt_status st = open_idx(&f, path, err);
    if (st != PT_OK)
        return st;
    st = read_role_header(f, path, images, &h, err);
    gzclose(f);
    if (st != PT_OK)
        return st;
    uint64_t d = h.dims[0] ? h.count / h.dims[0] : 0;
    if (images && (d == 0 || d > INT32_MAX))
        return pt_fail(err, PT_ERR_FORMAT, "%s: %llu features per image", path,
                       (unsigned long long)d);
    *n = (int)h.dims[0];
    *dim = images ? (int)d : 1;
    return PT_OK;
}

pt_status pt_idx_load(const char *images_path, const char *labels_path, pt_dataset *out,
                      pt_err *err)
{
    memset(out, 0, sizeof *out);
    idx_header hi, hl;
    uint8_t *img = NULL, *lab = NULL;
    pt_status st = load_one(images_path, 1, &hi, &img, err);
    if (st == PT_OK)
        st = load_one(labels_path, 0, &hl, &lab, err);
    if (st == PT_OK && hi.dims[0] != hl.dims[0])
        st = pt_fail(err, PT_ERR_FORMAT, "%s has %u images but %s has %u labels", images_path,
                     hi.dims[0], labels_path, hl.dims[0]);
    uint64_t dim = hi.dims[0] ? hi.count / hi.dims[0] : 0;
    if (st == PT_OK && (dim == 0 || dim > INT32_MAX))
        st = pt_fail(err, PT_ERR_FORMAT, "%s: %llu features per image", images_path,
                     (unsigned long long)dim);
    int32_t *y = NULL;
    if (st == PT_OK && !(y = malloc(sizeof(int32_t) * (hl.dims[0] ? hl.dims[0] : 1))))
        st = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", labels_path);
    if (st != PT_OK) {
        free(img);
        free(lab);
        free(y);
        return st;
    }
    int maxl = 0;
    for (uint32_t i = 0; i < hl.dims[0]; i++) {
        y[i] = lab[i];
        maxl = lab[i] > maxl ? lab[i] : maxl;
    }
    free(lab);
    out->n = (int)hi.dims[0];
    out->dim = (int)dim;
    out->n_classes = maxl + 1;
    out->x8 = img;
    out->y = y;
    out->lo = 0.0f;
    out->hi = 255.0f;
    return PT_OK;
}
