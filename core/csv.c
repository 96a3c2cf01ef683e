/*
 * csv.c — numeric CSV data sets with one label column.
 *
 * The file is read whole and parsed in two passes: the first counts rows and
 * checks every row has the expected number of cells, the second converts
 * cells, so the feature array is allocated once at its exact size. Cells are
 * split on the delimiter only (no quoting: data files with quoted commas are
 * rare and better converted first). Labels are kept as text until the end:
 * when every label is a non-negative integer it is the class id; otherwise
 * the distinct strings, sorted, become classes 0..K-1, which makes the
 * mapping independent of row order.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

pt_csv_opts pt_csv_opts_default(void)
{
    pt_csv_opts o = {.header = -1, .label_name = NULL, .label_index = -1, .delimiter = ','};
    return o;
}

static char *read_all(const char *path, size_t *len, pt_err *err, pt_status *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = pt_fail(err, PT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *bigger = realloc(buf, cap *= 2);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        *st = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        *st = pt_fail(err, PT_ERR_IO, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    *st = PT_OK;
    return buf;
}

/* Returns the next line of the text, cut in place: its \n becomes a NUL (a
 * \r before it stays and is trimmed as white space by split()). After one
 * walk the lines are NUL-separated, so a second walk steps with strlen. */
static char *next_line(char **cur, int *lineno)
{
    if (!*cur || !**cur)
        return NULL;
    char *line = *cur, *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *cur = nl + 1;
    } else {
        *cur = line + strlen(line);
    }
    (*lineno)++;
    return line;
}

/* Cells in a line: delimiters + 1. */
static int count_cells(const char *line, char d)
{
    int n = 1;
    for (; *line; line++)
        n += *line == d;
    return n;
}

static int is_blank(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* Splits line on d into cells (pointers into line, trimmed); returns count,
 * or max + 1 when there are more than max cells. */
static int split(char *line, char d, char **cells, int max)
{
    int n = 0;
    for (char *p = line;; p++) {
        char *start = p;
        while (*p && *p != d)
            p++;
        char *end = p;
        while (start < end && isspace((unsigned char)*start))
            start++;
        while (end > start && isspace((unsigned char)end[-1]))
            end--;
        int last = *p == '\0';
        *end = '\0';
        if (n < max)
            cells[n] = start;
        n++;
        if (last)
            break;
    }
    return n > max ? max + 1 : n;
}

static int parse_number(const char *s, double *v)
{
    char *end;
    if (!*s)
        return 0;
    errno = 0;
    *v = strtod(s, &end);
    return *end == '\0' && isfinite(*v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Turns the label texts into class ids (see the top comment). */
static pt_status map_labels(pt_dataset *d, char **labels, const char *path, pt_err *err)
{
    int numeric = 1;
    long maxl = 0;
    for (int i = 0; i < d->n && numeric; i++) {
        char *end;
        errno = 0;
        long v = strtol(labels[i], &end, 10);
        numeric = *labels[i] && *end == '\0' && v >= 0 && v < 1000000 && errno == 0;
        if (numeric) {
            d->y[i] = (int32_t)v;
            maxl = v > maxl ? v : maxl;
        }
    }
    if (numeric) {
        d->n_classes = (int)maxl + 1;
        return PT_OK;
    }
    char **sorted = malloc(sizeof(char *) * (size_t)d->n);
    if (!sorted)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    memcpy(sorted, labels, sizeof(char *) * (size_t)d->n);
    qsort(sorted, (size_t)d->n, sizeof(char *), cmp_str);
    int k = 0;
    for (int i = 0; i < d->n; i++)
        if (i == 0 || strcmp(sorted[i], sorted[i - 1]))
            sorted[k++] = sorted[i];
    d->class_names = calloc((size_t)k, sizeof(char *));
    for (int c = 0; d->class_names && c < k; c++)
        if (!(d->class_names[c] = strdup(sorted[c]))) {
            free(sorted);
            return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
        }
    if (!d->class_names) {
        free(sorted);
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    }
    d->n_classes = k;
    for (int i = 0; i < d->n; i++) {
        char **hit = bsearch(&labels[i], sorted, (size_t)k, sizeof(char *), cmp_str);
        d->y[i] = (int32_t)(hit - sorted);
    }
    free(sorted);
    return PT_OK;
}

#define CSV_MAX_COLS 100000

typedef struct {
    const char *path;
    char d;
    int cols, label, lineno_first;
    char **cells;
} csv_ctx;

/* Finds the label column from the header (or options) once cols is known. */
static pt_status pick_label(csv_ctx *c, const pt_csv_opts *o, int has_header, pt_err *err)
{
    if (o->label_name && *o->label_name) {
        if (!has_header)
            return pt_fail(err, PT_ERR_FORMAT, "%s: label column '%s' named but file has no header",
                           c->path, o->label_name);
        for (int j = 0; j < c->cols; j++)
            if (!strcmp(c->cells[j], o->label_name)) {
                c->label = j;
                return PT_OK;
            }
        return pt_fail(err, PT_ERR_FORMAT, "%s: no column named '%s' in the header", c->path,
                       o->label_name);
    }
    int li = o->label_index < 0 ? c->cols + o->label_index : o->label_index;
    if (li < 0 || li >= c->cols)
        return pt_fail(err, PT_ERR_FORMAT, "%s: label column %d out of range (%d columns)", c->path,
                       o->label_index, c->cols);
    c->label = li;
    return PT_OK;
}

/* The first non-blank line (line number lineno, left intact): column count,
 * header or not, label column. Allocates c->cells for that width (the
 * caller frees it): sized by the first row, not by CSV_MAX_COLS, since
 * every later row must have the same width. */
static pt_status first_row(csv_ctx *c, const pt_csv_opts *o, const char *line, int lineno,
                           int *has_header, pt_err *err)
{
    c->cols = count_cells(line, c->d);
    if (c->cols < 2 || c->cols > CSV_MAX_COLS)
        return pt_fail(err, PT_ERR_FORMAT,
                       "%s:%d: expected 2 to %d columns (features and a label), got %d", c->path,
                       lineno, CSV_MAX_COLS, c->cols);
    c->cells = malloc(sizeof(char *) * (size_t)(c->cols + 1));
    char *first = c->cells ? strdup(line) : NULL;
    if (!first)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", c->path);
    split(first, c->d, c->cells, c->cols);
    *has_header = 0;
    if (o->header < 0) {
        double v;
        for (int j = 0; j < c->cols && !*has_header; j++)
            *has_header = !parse_number(c->cells[j], &v);
    } else {
        *has_header = o->header;
    }
    pt_status st = pick_label(c, o, *has_header, err);
    free(first);
    return st;
}

/* Reads lines up to the first non-blank one, whose header pt_csv_load
 * would read: the payload is never read, so this costs one line of I/O. */
pt_status pt_csv_probe(const char *path, const pt_csv_opts *opts, int *dim, pt_err *err)
{
    pt_csv_opts o = opts ? *opts : pt_csv_opts_default();
    FILE *f = fopen(path, "rb");
    if (!f)
        return pt_fail(err, PT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    csv_ctx c = {.path = path, .d = o.delimiter ? o.delimiter : ','};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, has_header = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[len - 1] = '\0';
        if (!is_blank(line))
            break;
    }
    int bad = ferror(f);
    fclose(f);
    pt_status st;
    if (bad)
        st = pt_fail(err, PT_ERR_IO, "%s: read error", path);
    else if (len < 0)
        st = pt_fail(err, PT_ERR_FORMAT, "%s: no data rows", path);
    else
        st = first_row(&c, &o, line, lineno, &has_header, err);
    if (st == PT_OK)
        *dim = c.cols - 1;
    free(c.cells);
    free(line);
    return st;
}

pt_status pt_csv_load(const char *path, const pt_csv_opts *opts, pt_dataset *out, pt_err *err)
{
    memset(out, 0, sizeof *out);
    pt_csv_opts o = opts ? *opts : pt_csv_opts_default();
    size_t len;
    pt_status st;
    char *text = read_all(path, &len, err, &st);
    if (!text)
        return st;
    csv_ctx c = {.path = path, .d = o.delimiter ? o.delimiter : ','};
    char **labels = NULL;

    /* Pass 1 only reads: skip to the first non-blank line, look at it to
     * settle header and label column, then count rows and check their width. */
    char *cur = text, *line;
    int lineno = 0, rows = 0, has_header = 0;
    while ((line = next_line(&cur, &lineno)) && is_blank(line))
        ;
    if (!line) {
        st = pt_fail(err, PT_ERR_FORMAT, "%s: no data rows", path);
        goto fail;
    }
    int first_line = lineno;
    if ((st = first_row(&c, &o, line, lineno, &has_header, err)) != PT_OK)
        goto fail;
    rows = !has_header;
    while ((line = next_line(&cur, &lineno))) {
        if (is_blank(line))
            continue;
        int n = count_cells(line, c.d);
        if (n != c.cols) {
            st = pt_fail(err, PT_ERR_FORMAT, "%s:%d: expected %d columns, got %d", path, lineno,
                         c.cols, n);
            goto fail;
        }
        rows++;
    }
    if (rows == 0) {
        st = pt_fail(err, PT_ERR_FORMAT, "%s: no data rows", path);
        goto fail;
    }

    /* Pass 2: the same walk again, now converting cells. */
    out->n = rows;
    out->dim = c.cols - 1;
    out->xf = malloc(sizeof(float) * (size_t)rows * (size_t)out->dim);
    out->y = malloc(sizeof(int32_t) * (size_t)rows);
    labels = malloc(sizeof(char *) * (size_t)rows);
    if (!out->xf || !out->y || !labels) {
        st = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    char *p = text, *end = text + len;
    lineno = 0;
    for (int r = 0; r < rows && p < end;) {
        line = p;
        p += strlen(p) + 1;
        lineno++;
        if (is_blank(line) || (has_header && lineno == first_line))
            continue;
        split(line, c.d, c.cells, c.cols);
        float *row = out->xf + (size_t)r * out->dim;
        for (int j = 0, k = 0; j < c.cols; j++) {
            double v;
            if (j == c.label)
                continue;
            if (!parse_number(c.cells[j], &v)) {
                st = pt_fail(err, PT_ERR_FORMAT, "%s:%d:%d: expected a number, got '%.40s'", path,
                             lineno, j + 1, c.cells[j]);
                goto fail;
            }
            row[k++] = (float)v;
        }
        labels[r++] = c.cells[c.label];
    }
    if ((st = map_labels(out, labels, path, err)) != PT_OK)
        goto fail;
    out->lo = out->hi = NAN;
    free(labels);
    free(c.cells);
    free(text);
    return PT_OK;
fail:
    free(labels);
    free(c.cells);
    free(text);
    pt_dataset_free(out);
    return st;
}
