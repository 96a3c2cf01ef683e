/*
 * jsontext.c — see jsontext.h.
 */
#include "jsontext.h"

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
