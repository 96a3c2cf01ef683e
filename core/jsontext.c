/*
 * jsontext.c — see jsontext.h.
 */
#include "jsontext.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pt_fmt_double(char *buf, size_t n, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void pt_json_got(const cJSON *v, char *buf, size_t n)
{
    enum { KEEP = 40 };
    if (!v) {
        snprintf(buf, n, "missing");
        return;
    }
    if (cJSON_IsNumber(v)) {
        pt_fmt_double(buf, n, v->valuedouble);
        return;
    }
    char *s = cJSON_PrintUnformatted(v);
    if (!s) {
        snprintf(buf, n, "?");
        return;
    }
    size_t len = strlen(s);
    if (len > KEEP + 3) {
        len = KEEP;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--; /* do not split a UTF-8 sequence */
        snprintf(buf, n, "%.*s...", (int)len, s);
    } else {
        snprintf(buf, n, "%s", s);
    }
    cJSON_free(s);
}

cJSON *pt_json_section(cJSON *root, const char *path, const char **name)
{
    cJSON *obj = root;
    const char *dot;
    while (obj && (dot = strchr(path, '.')) != NULL) {
        char sec[64];
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - path), path);
        cJSON *child = cJSON_GetObjectItemCaseSensitive(obj, sec);
        if (child && !cJSON_IsObject(child)) {
            cJSON_DeleteItemFromObjectCaseSensitive(obj, sec);
            child = NULL;
        }
        obj = child ? child : cJSON_AddObjectToObject(obj, sec);
        path = dot + 1;
    }
    *name = path;
    return obj;
}

pt_status pt_json_syntax_error(pt_err *err, const char *src, const char *text, const char *at)
{
    int line = 1, col = 1;
    for (const char *p = text; p < at && *p; p++)
        col = *p == '\n' ? (line++, 1) : col + 1;
    return pt_fail(err, PT_ERR_CONFIG, "%s: invalid JSON near line %d, column %d", src, line, col);
}

pt_status pt_json_parse(cJSON **root, const char *json, const char *src, pt_err *err)
{
    /* return_parse_end rather than cJSON_GetErrorPtr(): the latter is global. */
    const char *end = json;
    *root = cJSON_ParseWithOpts(json, &end, 1);
    return *root ? PT_OK : pt_json_syntax_error(err, src, json, end ? end : json);
}

int pt_name_distance(const char *a, const char *b)
{
    int row[64], m = (int)strlen(b);
    if (m > 63 || strlen(a) > 63)
        return INT_MAX;
    for (int j = 0; j <= m; j++)
        row[j] = j;
    for (int i = 1; a[i - 1]; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= m; j++) {
            int up = row[j];
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            int best = diag + !same;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[m];
}

pt_status pt_json_read_file(const char *path, char **text, pt_err *err)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return pt_fail(err, PT_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len = getdelim(&buf, &cap, '\0', f);
    int read_errno = errno, failed = len < 0 && !feof(f);
    fclose(f);
    pt_status st = PT_OK;
    if (failed)
        st = read_errno == ENOMEM
                 ? pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path)
                 : pt_fail(err, PT_ERR_IO, "%s: cannot read: %s", path, strerror(read_errno));
    else if (len > 0 && buf[len - 1] == '\0')
        st = pt_json_syntax_error(err, path, buf, buf + len - 1);
    else if (len <= 0 && !buf && !(buf = malloc(1)))
        st = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    else if (len <= 0)
        buf[0] = '\0';
    if (st != PT_OK) {
        free(buf);
        return st;
    }
    *text = buf;
    return PT_OK;
}
