/*
 * study_text.c — the texts of the study module: numbers and strings as
 * Python's json.dumps writes them (Optuna's distribution JSON must match
 * byte for byte), the one-line errors ("file: key.path: expected ... (got
 * ...)"), and the train parser's messages moved under study key paths.
 */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study_internal.h"

/* ---- text --------------------------------------------------------------- */

void study_py_float(char *buf, size_t n, double v)
{
    if (!isfinite(v)) { /* what json.dumps writes; never valid low/high */
        snprintf(buf, n, "%s", isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (v == 0) {
        snprintf(buf, n, "%s", signbit(v) ? "-0.0" : "0.0");
        return;
    }
    /* The fewest significant digits that read back as v (correctly rounded,
     * as Python's repr), then Python's layout of them. */
    char e[40];
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    char digits[24];
    int nd = 0;
    const char *p = e + (e[0] == '-');
    for (; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p) && nd < (int)sizeof digits)
            digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    char out[64];
    int o = 0;
    if (v < 0)
        out[o++] = '-';
    if (exp < -4 || exp >= 16) { /* repr switches to exponent form here */
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        o += snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    } else if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            out[o++] = '0';
        for (int i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (int i = 0; i <= exp; i++)
            out[o++] = i < nd ? digits[i] : '0';
        out[o++] = '.';
        if (nd > exp + 1)
            for (int i = exp + 1; i < nd; i++)
                out[o++] = digits[i];
        else
            out[o++] = '0';
    }
    out[o] = '\0';
    snprintf(buf, n, "%s", out);
}

/* Next code point of UTF-8 text s (advanced); a malformed byte is returned
 * as itself, as Python would have rejected the file anyway. */
static unsigned next_code_point(const unsigned char **s)
{
    const unsigned char *p = *s;
    unsigned c = *p++;
    int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    unsigned cp = more == 3 ? c & 0x07 : more == 2 ? c & 0x0F : more == 1 ? c & 0x1F : c;
    for (int i = 0; i < more; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *s += 1;
            return c;
        }
        cp = cp << 6 | (p[i] & 0x3F);
    }
    *s = p + more;
    return cp;
}

int study_py_string(char *buf, size_t n, const char *v)
{
    size_t o = 0;
    char tmp[16];
#define PUT(str)                                                                                   \
    do {                                                                                           \
        size_t l_ = strlen(str);                                                                   \
        if (o + l_ + 1 > n)                                                                        \
            return 0;                                                                              \
        memcpy(buf + o, str, l_);                                                                  \
        o += l_;                                                                                   \
    } while (0)
    PUT("\"");
    for (const unsigned char *s = (const unsigned char *)v; *s;) {
        unsigned c = next_code_point(&s);
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                                      : NULL;
        if (esc) {
            PUT(esc);
        } else if (c >= 0x20 && c < 0x7F) {
            tmp[0] = (char)c;
            tmp[1] = '\0';
            PUT(tmp);
        } else if (c < 0x10000) { /* ensure_ascii: \uxxxx, lower-case hex */
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            PUT(tmp);
        } else {
            c -= 0x10000;
            snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
            PUT(tmp);
        }
    }
    PUT("\"");
#undef PUT
    buf[o] = '\0';
    return 1;
}

/* ---- errors ------------------------------------------------------------- */

pt_status study_expected(const study_ctx *x, const char *path, const char *what, const cJSON *v)
{
    char got[64];
    pt_json_got(v, got, sizeof got);
    if (!*path)
        return pt_fail(x->err, PT_ERR_CONFIG, "%s: expected %s (got %s)", x->src, what, got);
    return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: expected %s (got %s)", x->src, path, what, got);
}

pt_status study_check_members(const study_ctx *x, const cJSON *obj, const char *path,
                              const char *const *allowed)
{
    for (const cJSON *m = obj->child; m; m = m->next) {
        char at[192];
        snprintf(at, sizeof at, "%s%s%s", path, *path ? "." : "", m->string);
        for (const cJSON *p = obj->child; p != m; p = p->next)
            if (!strcmp(p->string, m->string))
                return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: duplicate key", x->src, at);
        const char *best = NULL;
        int best_d = INT_MAX, found = 0;
        for (const char *const *a = allowed; *a && !found; a++) {
            found = !strcmp(*a, m->string);
            int d = pt_name_distance(m->string, *a);
            if (d <= 2 && d < (int)strlen(m->string) && d < best_d) {
                best_d = d;
                best = *a;
            }
        }
        if (found)
            continue;
        if (best)
            return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: unknown key (did you mean '%s'?)",
                           x->src, at, best);
        return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: unknown key", x->src, at);
    }
    return PT_OK;
}

pt_status study_reframe(const study_ctx *x, const char *path, const char *key, const pt_err *inner,
                        pt_status code)
{
    const char *m = inner->msg, *head = STUDY_INNER_SRC ": ";
    if (strncmp(m, head, strlen(head)) != 0)
        return pt_fail(x->err, code, "%s: %s: %s", x->src, path, m);
    m += strlen(head);
    if (key) {
        size_t kl = strlen(key);
        if (!strncmp(m, key, kl) && m[kl] == ':' && m[kl + 1] == ' ')
            m += kl + 2;
        return pt_fail(x->err, code, "%s: %s: %s", x->src, path, m);
    }
    /* "data.limit: expected ..." names a key of the section: prefix it. */
    size_t tok = strcspn(m, " :");
    if (tok > 0 && m[tok] == ':' && m[tok + 1] == ' ')
        return pt_fail(x->err, code, "%s: %s.%s", x->src, path, m);
    return pt_fail(x->err, code, "%s: %s: %s", x->src, path, m);
}

int study_element(const char *name, char *base, size_t cap)
{
    size_t n = strlen(name), open = n;
    while (open > 0 && name[open - 1] != '[')
        open--;
    int k = -1;
    if (open > 1 && n > open + 1 && name[n - 1] == ']' && n - open - 1 <= 3 &&
        strspn(name + open, "0123456789") == n - open - 1)
        k = atoi(name + open);
    snprintf(base, cap, "%.*s", (int)(k >= 0 ? open - 1 : n), name);
    return k;
}

char *study_key_json(const char *name, const char *value_text)
{
    /* {"a":{"b":V}}: one "{"name": per path component, then as many "}". */
    char key[256];
    study_element(name, key, sizeof key);
    size_t depth = 1, len = strlen(key), cap;
    for (const char *p = key; *p; p++)
        depth += *p == '.';
    cap = len + strlen(value_text) + depth * 6 + 1;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *p = key;;) {
        size_t part = strcspn(p, ".");
        o += sprintf(o, "{\"%.*s\":", (int)part, p);
        if (!p[part])
            break;
        p += part + 1;
    }
    o += sprintf(o, "%s", value_text);
    for (size_t i = 0; i < depth; i++)
        *o++ = '}';
    *o = '\0';
    return out;
}
