/*
 * npz.c — .npy arrays in a zip archive; see npz.h for the contract.
 *
 * Writing: each array's CRC-32 is computed over its .npy header and data
 * before anything is written (both are already in memory), so every local
 * header is final when written and the file is produced in one forward pass,
 * no seeking back. Timestamps are fixed (1980-01-01 00:00), so the same
 * arrays always give the same bytes: a model file can be compared with cmp.
 *
 * Reading: the whole file is read at once (models are megabytes) and parsed
 * from the end-of-central-directory record, which is how zip readers (and
 * numpy, through Python's zipfile) find entries; every offset and length is
 * checked against the buffer before use, so a truncated or corrupted file is
 * reported, never read past.
 *
 * Why one file of ~620 lines: one file format both ways (zip + .npy, reading and writing); the
 * reader is fuzzed as one unit (tests/fuzz).
 */
#include "npz.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define LOCAL_LEN 30
#define CENTRAL_LEN 46
#define END_LEN 22
#define DOS_DATE_1980 0x21 /* 1980-01-01: day 1, month 1, year 0 */
#define NPY_ALIGN 64       /* numpy pads headers so the data starts aligned */
#define NPY_HEADER_MAX 512

size_t pt_dtype_size(pt_dtype t)
{
    return t == PT_U8 ? 1 : 4;
}

const char *pt_dtype_descr(pt_dtype t)
{
    /* '|u1', not '<u1': a byte has no order, and it is what numpy writes. */
    return t == PT_F32 ? "<f4" : t == PT_I32 ? "<i4" : "|u1";
}

const char *pt_dtype_name(pt_dtype t)
{
    return t == PT_F32 ? "float32" : t == PT_I32 ? "int32" : "uint8";
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    put16(p, v & 0xffffu);
    put16(p + 2, v >> 16);
}

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t get32(const unsigned char *p)
{
    return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* "(3, 4)", "(3,)" or "()": Python's tuple syntax, as numpy prints shapes. */
static void shape_text(char *buf, size_t n, int ndim, const long *shape)
{
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, d ? ", %ld" : "%ld", shape[d]);
    if (k < n)
        snprintf(buf + k, n - k, ndim == 1 ? ",)" : ")");
}

/* The .npy 1.0 preamble + header, padded with spaces to NPY_ALIGN bytes and
 * ended by '\n'. Returns its length. */
static size_t npy_header(unsigned char *buf, pt_dtype t, int ndim, const long *shape)
{
    char sh[PT_NPY_MAX_DIMS * 24 + 8], dict[NPY_HEADER_MAX];
    shape_text(sh, sizeof sh, ndim, shape);
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                      pt_dtype_descr(t), sh);
    size_t total = 10 + (size_t)dl + 1;
    total = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    put16(buf + 8, (unsigned)(total - 10));
    memset(buf + 10, ' ', total - 10);
    memcpy(buf + 10, dict, (size_t)dl);
    buf[total - 1] = '\n';
    return total;
}

/* --- writer ---------------------------------------------------------------- */

typedef struct {
    char name[PT_NPY_NAME_MAX + 4];
    uint32_t crc, size, offset;
} entry;

struct pt_npz_writer {
    FILE *f;
    char *path, *tmp;
    uint64_t pos; /* bytes written so far */
    entry *e;
    int n, cap;
};

void pt_npz_writer_abort(pt_npz_writer *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    if (w->tmp)
        remove(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w->e);
    free(w);
}

pt_status pt_npz_writer_open(pt_npz_writer **out, const char *path, pt_err *err)
{
    *out = NULL;
    if (!host_is_little_endian())
        return pt_fail(err, PT_ERR_ARG, "%s: .npz writing needs a little-endian host", path);
    pt_npz_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (w && (w->path = malloc(n + 1)) && (w->tmp = malloc(n + 5))) {
        memcpy(w->path, path, n + 1);
        snprintf(w->tmp, n + 5, "%s.tmp", path);
    } else {
        pt_npz_writer_abort(w);
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    }
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        pt_status st = pt_fail(err, PT_ERR_IO, "%s: cannot write: %s", w->tmp, strerror(errno));
        free(w->tmp);
        w->tmp = NULL; /* nothing to remove */
        pt_npz_writer_abort(w);
        return st;
    }
    *out = w;
    return PT_OK;
}

static pt_status write_bytes(pt_npz_writer *w, const void *p, size_t n, pt_err *err)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return pt_fail(err, PT_ERR_IO, "%s: write failed: %s", w->tmp, strerror(errno));
    w->pos += n;
    return PT_OK;
}

pt_status pt_npz_writer_add(pt_npz_writer *w, const char *name, pt_dtype t, int ndim,
                            const long *shape, const void *data, pt_err *err)
{
    if (ndim < 0 || ndim > PT_NPY_MAX_DIMS || strlen(name) >= PT_NPY_NAME_MAX || !name[0])
        return pt_fail(err, PT_ERR_ARG, "%s: %s: bad array name or rank", w->path, name);
    uint64_t count = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return pt_fail(err, PT_ERR_ARG, "%s: %s: negative dimension", w->path, name);
        count *= (uint64_t)shape[d];
    }
    unsigned char hdr[NPY_HEADER_MAX + NPY_ALIGN];
    size_t hl = npy_header(hdr, t, ndim, shape);
    uint64_t bytes = count * pt_dtype_size(t), size = hl + bytes;
    size_t nl = strlen(name) + 4;
    if (size > 0xffffffffu || w->pos + LOCAL_LEN + nl + size > 0xffffffffu)
        return pt_fail(err, PT_ERR_ARG, "%s: %s: over 4 GiB (ZIP64 is not supported)", w->path,
                       name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        entry *e = realloc(w->e, sizeof *e * (size_t)cap);
        if (!e)
            return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", w->path);
        w->e = e;
        w->cap = cap;
    }
    entry *e = &w->e[w->n];
    snprintf(e->name, sizeof e->name, "%s.npy", name);
    uLong crc = crc32(0L, hdr, (uInt)hl);
    if (bytes) /* < 4 GiB, checked above: fits crc32's uInt length */
        crc = crc32(crc, data, (uInt)bytes);
    e->crc = (uint32_t)crc;
    e->size = (uint32_t)size;
    e->offset = (uint32_t)w->pos;
    unsigned char lh[LOCAL_LEN] = {0};
    put32(lh, SIG_LOCAL);
    put16(lh + 4, 20); /* version needed: 2.0, plain stored entries */
    put16(lh + 12, DOS_DATE_1980);
    put32(lh + 14, e->crc);
    put32(lh + 18, e->size);
    put32(lh + 22, e->size);
    put16(lh + 26, (unsigned)nl);
    pt_status st = write_bytes(w, lh, LOCAL_LEN, err);
    if (st == PT_OK)
        st = write_bytes(w, e->name, nl, err);
    if (st == PT_OK)
        st = write_bytes(w, hdr, hl, err);
    if (st == PT_OK)
        st = write_bytes(w, data, (size_t)bytes, err);
    if (st == PT_OK)
        w->n++;
    return st;
}

static pt_status write_directory(pt_npz_writer *w, pt_err *err)
{
    uint64_t start = w->pos;
    pt_status st = PT_OK;
    for (int i = 0; st == PT_OK && i < w->n; i++) {
        const entry *e = &w->e[i];
        size_t nl = strlen(e->name);
        unsigned char ch[CENTRAL_LEN] = {0};
        put32(ch, SIG_CENTRAL);
        put16(ch + 4, 20); /* made by: MS-DOS attributes, spec 2.0 */
        put16(ch + 6, 20);
        put16(ch + 14, DOS_DATE_1980);
        put32(ch + 16, e->crc);
        put32(ch + 20, e->size);
        put32(ch + 24, e->size);
        put16(ch + 28, (unsigned)nl);
        put32(ch + 42, e->offset);
        st = write_bytes(w, ch, CENTRAL_LEN, err);
        if (st == PT_OK)
            st = write_bytes(w, e->name, nl, err);
    }
    if (st != PT_OK)
        return st;
    if (w->pos > 0xffffffffu || w->n > 0xfffe)
        return pt_fail(err, PT_ERR_ARG, "%s: archive over 4 GiB or 65534 entries", w->path);
    unsigned char end[END_LEN] = {0};
    put32(end, SIG_END);
    put16(end + 8, (unsigned)w->n);
    put16(end + 10, (unsigned)w->n);
    put32(end + 12, (uint32_t)(w->pos - start));
    put32(end + 16, (uint32_t)start);
    return write_bytes(w, end, END_LEN, err);
}

pt_status pt_npz_writer_finish(pt_npz_writer *w, pt_err *err)
{
    pt_status st = write_directory(w, err);
    int rc = fclose(w->f);
    w->f = NULL;
    if (st == PT_OK && rc != 0)
        st = pt_fail(err, PT_ERR_IO, "%s: write failed: %s", w->tmp, strerror(errno));
    if (st == PT_OK && rename(w->tmp, w->path) != 0)
        st = pt_fail(err, PT_ERR_IO, "%s: cannot rename %s: %s", w->path, w->tmp, strerror(errno));
    if (st == PT_OK) {
        free(w->tmp);
        w->tmp = NULL; /* renamed: nothing to remove */
    }
    pt_npz_writer_abort(w);
    return st;
}

/* --- reader ---------------------------------------------------------------- */

static pt_status read_file(const char *path, unsigned char **buf, size_t *size, pt_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return pt_fail(err, PT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return pt_fail(err, PT_ERR_IO, "%s: not a regular file", path);
    }
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return pt_fail(err, PT_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    *buf = malloc((size_t)n + 1);
    if (!*buf) {
        fclose(f);
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory (%ld bytes)", path, n);
    }
    size_t got = fread(*buf, 1, (size_t)n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)n) {
        free(*buf);
        *buf = NULL;
        return pt_fail(err, PT_ERR_IO, "%s: read failed", path);
    }
    *size = (size_t)n;
    return PT_OK;
}

/* Finds `'key':` in the header dict and returns what follows, spaces skipped. */
static const char *dict_value(const char *h, const char *key)
{
    const char *p = strstr(h, key);
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ')
        p++;
    return p;
}

/* Parses the .npy header dict into a; returns NULL or what is wrong. */
static const char *parse_dict(const char *h, pt_npy_array *a)
{
    const char *p = dict_value(h, "'descr':");
    if (!p || (*p != '\'' && *p != '"'))
        return "no 'descr' in the .npy header";
    if (!strncmp(p + 1, "<f4", 3))
        a->dtype = PT_F32;
    else if (!strncmp(p + 1, "<i4", 3))
        a->dtype = PT_I32;
    else if (!strncmp(p + 1, "|u1", 3) || !strncmp(p + 1, "<u1", 3))
        a->dtype = PT_U8;
    else
        return "unsupported dtype (float32 '<f4', int32 '<i4' and uint8 '|u1' are read)";
    if (p[4] != p[0])
        return "unsupported dtype (float32 '<f4', int32 '<i4' and uint8 '|u1' are read)";
    p = dict_value(h, "'fortran_order':");
    if (!p || (strncmp(p, "False", 5) && strncmp(p, "True", 4)))
        return "no 'fortran_order' in the .npy header";
    int fortran = *p == 'T';
    p = dict_value(h, "'shape':");
    if (!p || *p != '(')
        return "no 'shape' in the .npy header";
    p++;
    a->ndim = 0;
    a->count = 1;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == ')')
            break;
        if (*p < '0' || *p > '9')
            return "malformed 'shape' in the .npy header";
        if (a->ndim == PT_NPY_MAX_DIMS)
            return "more than 4 dimensions";
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || v > (1L << 40))
            return "dimension too large";
        if (v && a->count > ((size_t)1 << 40) / (size_t)v)
            return "array too large";
        a->shape[a->ndim++] = v;
        a->count *= (size_t)v;
        p = end;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        else if (*p != ')')
            return "malformed 'shape' in the .npy header";
    }
    if (fortran && a->ndim > 1)
        return "Fortran-order arrays are not supported (save a C-order array)";
    return NULL;
}

/* Parses one .npy blob of n bytes into a. */
static pt_status parse_npy(const pt_npz *z, const char *ename, const unsigned char *b, size_t n,
                           pt_npy_array *a, pt_err *err)
{
    if (n < 10 || memcmp(b, "\x93NUMPY", 6))
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: not a .npy array (bad magic)", z->path, ename);
    size_t start, hl;
    if (b[6] == 1 && b[7] == 0) {
        hl = get16(b + 8);
        start = 10;
    } else if ((b[6] == 2 || b[6] == 3) && b[7] == 0 && n >= 12) {
        hl = get32(b + 8);
        start = 12;
    } else {
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: unsupported .npy version %u.%u", z->path, ename,
                       b[6], b[7]);
    }
    if (hl > n - start)
        return pt_fail(err, PT_ERR_FORMAT, "%s: truncated: %s: .npy header ends past the entry",
                       z->path, ename);
    if (hl >= 4096)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: .npy header too long", z->path, ename);
    char h[4096];
    memcpy(h, b + start, hl);
    h[hl] = '\0';
    const char *why = parse_dict(h, a);
    if (why)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: %s", z->path, ename, why);
    size_t have = n - start - hl, want = a->count * pt_dtype_size(a->dtype);
    if (have != want)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s%s: %zu data bytes for %zu elements of %s",
                       z->path, have < want ? "truncated: " : "", ename, have, a->count,
                       pt_dtype_name(a->dtype));
    a->data = b + start + hl;
    return PT_OK;
}

/* Inflates a raw-deflate entry into a new buffer of exactly `size` bytes. */
static pt_status inflate_entry(pt_npz *z, int i, const char *ename, const unsigned char *src,
                               size_t n, size_t size, unsigned char **out, pt_err *err)
{
    *out = malloc(size ? size : 1);
    if (!*out)
        return pt_fail(err, PT_ERR_NOMEM, "%s: %s: out of memory", z->path, ename);
    z->own[i] = *out;
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK)
        return pt_fail(err, PT_ERR_NOMEM, "%s: %s: zlib init failed", z->path, ename);
    s.next_in = (Bytef *)(uintptr_t)src; /* zlib's API is not const-correct */
    s.avail_in = (uInt)n;
    s.next_out = *out;
    s.avail_out = (uInt)size;
    int rc = inflate(&s, Z_FINISH);
    size_t got = s.total_out;
    inflateEnd(&s);
    if (rc != Z_STREAM_END || got != size)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: corrupted compressed data", z->path, ename);
    return PT_OK;
}

/* Reads central-directory entry i at buf[*pos] into z->arr[i]. */
static pt_status read_entry(pt_npz *z, size_t size, size_t cd_end, size_t *pos, int i, pt_err *err)
{
    const unsigned char *b = z->buf, *c = b + *pos;
    if (*pos + CENTRAL_LEN > cd_end || get32(c) != SIG_CENTRAL)
        return pt_fail(err, PT_ERR_FORMAT, "%s: corrupted zip central directory (entry %d)",
                       z->path, i);
    unsigned flags = get16(c + 8), method = get16(c + 10), nl = get16(c + 28);
    uint32_t crc = get32(c + 16), csize = get32(c + 20), usize = get32(c + 24);
    size_t off = get32(c + 42), skip = (size_t)nl + get16(c + 30) + get16(c + 32);
    if (*pos + CENTRAL_LEN + skip > cd_end)
        return pt_fail(err, PT_ERR_FORMAT, "%s: corrupted zip central directory (entry %d)",
                       z->path, i);
    char ename[PT_NPY_NAME_MAX + 4];
    if (nl < 5 || nl >= sizeof ename || memcmp(c + CENTRAL_LEN + nl - 4, ".npy", 4))
        return pt_fail(err, PT_ERR_FORMAT, "%s: entry %d is not a NAME.npy array (not an .npz?)",
                       z->path, i);
    memcpy(ename, c + CENTRAL_LEN, nl);
    ename[nl] = '\0';
    *pos += CENTRAL_LEN + skip;
    if (flags & 1)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: encrypted entries are not supported", z->path,
                       ename);
    if (method != 0 && method != 8)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: unsupported zip compression method %u", z->path,
                       ename, method);
    if (off + LOCAL_LEN > size)
        return pt_fail(err, PT_ERR_FORMAT, "%s: truncated: %s: local header past the end", z->path,
                       ename);
    if (get32(b + off) != SIG_LOCAL)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: corrupted zip local header", z->path, ename);
    size_t data = off + LOCAL_LEN + get16(b + off + 26) + get16(b + off + 28);
    if (data > size || csize > size - data)
        return pt_fail(err, PT_ERR_FORMAT, "%s: truncated: %s ends past the end of the file",
                       z->path, ename);
    const unsigned char *blob = b + data;
    if (method == 0 && csize != usize)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: corrupted zip sizes", z->path, ename);
    if (method == 8 && usize / 1032 > csize) /* deflate expands at most ~1032:1 */
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: corrupted zip sizes", z->path, ename);
    if (method == 8) {
        unsigned char *out;
        pt_status st = inflate_entry(z, i, ename, blob, csize, usize, &out, err);
        if (st != PT_OK)
            return st;
        blob = out;
    }
    if ((uint32_t)crc32(crc32(0L, NULL, 0), blob, (uInt)usize) != crc)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: CRC-32 mismatch (file corrupted)", z->path,
                       ename);
    pt_npy_array *a = &z->arr[i];
    memcpy(a->name, ename, nl - 4);
    a->name[nl - 4] = '\0';
    return parse_npy(z, ename, blob, usize, a, err);
}

static int cmp_array_name(const void *a, const void *b)
{
    return strcmp((*(const pt_npy_array *const *)a)->name, (*(const pt_npy_array *const *)b)->name);
}

/* Rejects two entries of one name: pt_npz_find would return the first and
 * numpy.load (Python's zipfile) the last, so eval and numpy would read
 * different weights from one file. Sorted, not pairwise: an archive may
 * list 65535 entries. */
static pt_status check_unique(const pt_npz *z, pt_err *err)
{
    if (z->n < 2)
        return PT_OK;
    const pt_npy_array **by = malloc(sizeof *by * (size_t)z->n);
    if (!by)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", z->path);
    for (int i = 0; i < z->n; i++)
        by[i] = &z->arr[i];
    qsort(by, (size_t)z->n, sizeof *by, cmp_array_name);
    pt_status st = PT_OK;
    for (int i = 1; st == PT_OK && i < z->n; i++)
        if (!strcmp(by[i]->name, by[i - 1]->name))
            st = pt_fail(err, PT_ERR_FORMAT, "%s: %s.npy: two entries of that name (corrupted)",
                         z->path, by[i]->name);
    free(by);
    return st;
}

/* Locates the end-of-central-directory record (it may be followed by a
 * comment of up to 65535 bytes) and reads every entry it lists. */
static pt_status read_archive(pt_npz *z, size_t size, pt_err *err)
{
    const unsigned char *b = z->buf;
    if (size < 4 && !memcmp(b, "PK\3\4", size))
        return pt_fail(err, PT_ERR_FORMAT, "%s: truncated: %zu bytes", z->path, size);
    int zip = size >= 4 && (get32(b) == SIG_LOCAL || get32(b) == SIG_END);
    if (!zip)
        return pt_fail(err, PT_ERR_FORMAT, "%s: not an .npz file (no zip signature)", z->path);
    /* The record's comment length must reach exactly to the end of the file,
     * which rejects signature bytes that merely occur inside array data. */
    size_t e = 0, lowest = size > END_LEN + 65535 ? size - END_LEN - 65535 : 0;
    int found = 0;
    for (size_t k = size >= END_LEN ? size - END_LEN + 1 : 0; !found && k-- > lowest;)
        if (get32(b + k) == SIG_END && k + END_LEN + get16(b + k + 20) == size) {
            e = k;
            found = 1;
        }
    if (!found)
        return pt_fail(err, PT_ERR_FORMAT, "%s: truncated: no zip end-of-central-directory record",
                       z->path);
    unsigned n = get16(b + e + 10);
    size_t cd_size = get32(b + e + 12), cd_off = get32(b + e + 16);
    if (get16(b + e + 4) || get16(b + e + 6) || n != get16(b + e + 8) || n == 0xffff ||
        cd_off == 0xffffffffu)
        return pt_fail(err, PT_ERR_FORMAT, "%s: multi-disk or ZIP64 archives are not supported",
                       z->path);
    if (cd_off + cd_size > e)
        return pt_fail(err, PT_ERR_FORMAT, "%s: truncated: central directory out of bounds",
                       z->path);
    z->arr = calloc(n ? n : 1, sizeof *z->arr);
    z->own = calloc(n ? n : 1, sizeof *z->own);
    if (!z->arr || !z->own)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", z->path);
    z->n = (int)n;
    size_t pos = cd_off;
    for (int i = 0; i < z->n; i++) {
        pt_status st = read_entry(z, size, cd_off + cd_size, &pos, i, err);
        if (st != PT_OK)
            return st;
    }
    return check_unique(z, err);
}

pt_status pt_npz_open(pt_npz *z, const char *path, pt_err *err)
{
    memset(z, 0, sizeof *z);
    snprintf(z->path, sizeof z->path, "%s", path);
    size_t size = 0;
    pt_status st = read_file(path, &z->buf, &size, err);
    if (st == PT_OK && size == 0)
        st = pt_fail(err, PT_ERR_FORMAT, "%s: empty file (not an .npz)", path);
    if (st == PT_OK)
        st = read_archive(z, size, err);
    if (st != PT_OK)
        pt_npz_close(z);
    return st;
}

const pt_npy_array *pt_npz_find(const pt_npz *z, const char *name)
{
    for (int i = 0; i < z->n; i++)
        if (!strcmp(z->arr[i].name, name))
            return &z->arr[i];
    return NULL;
}

pt_status pt_npz_get(const pt_npz *z, const char *name, pt_dtype t, int ndim, const long *shape,
                     void *out, pt_err *err)
{
    const pt_npy_array *a = pt_npz_find(z, name);
    if (!a)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: missing", z->path, name);
    int ok = a->dtype == t && a->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
        ok = a->shape[d] == shape[d];
    if (!ok) {
        char want[128], got[128];
        shape_text(want, sizeof want, ndim, shape);
        shape_text(got, sizeof got, a->ndim, a->shape);
        return pt_fail(err, PT_ERR_FORMAT, "%s: %s: expected %s %s, got %s %s", z->path, name,
                       pt_dtype_name(t), want, pt_dtype_name(a->dtype), got);
    }
    if (a->count && out)
        memcpy(out, a->data, a->count * pt_dtype_size(t));
    return PT_OK;
}

void pt_npz_close(pt_npz *z)
{
    for (int i = 0; z->own && i < z->n; i++)
        free(z->own[i]);
    free(z->own);
    free(z->arr);
    free(z->buf);
    memset(z, 0, sizeof *z);
}
