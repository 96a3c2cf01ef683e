/* pbt_files.c — a PBT study's files beside its database (pbt_files.h). */
#include "pbt_files.h"
#include "models.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pt_status make_dir(const char *path, pt_err *err)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return pt_fail(err, PT_ERR_IO, "%s: cannot create the PBT folder: %s", path,
                       strerror(errno));
    return PT_OK;
}

pt_status pbt_files_dir(const char *storage, const char *study, char *buf, size_t cap,
                        pt_err *err)
{
    char safe[256];
    size_t n = 0;
    for (const char *c = study; *c && n + 1 < sizeof safe; c++) {
        int ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                 *c == '.' || *c == '_' || *c == '-';
        safe[n++] = ok ? *c : '_';
    }
    safe[n] = '\0';
    int w = snprintf(buf, cap, "%s.pbt", storage);
    if (w < 0 || (size_t)w >= cap)
        return pt_fail(err, PT_ERR_IO, "%s.pbt: path too long", storage);
    pt_status st = make_dir(buf, err);
    if (st != PT_OK)
        return st;
    w = snprintf(buf, cap, "%s.pbt/%s", storage, safe);
    if (w < 0 || (size_t)w >= cap)
        return pt_fail(err, PT_ERR_IO, "%s.pbt/%s: path too long", storage, safe);
    return make_dir(buf, err);
}

pt_status pbt_files_write(const char *dir, const char *name, const void *bytes, size_t len,
                          pt_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return models_write_atomic(path, bytes, len, err);
}

pt_status pbt_files_read(const char *dir, const char *name, unsigned char **bytes, size_t *len,
                         int *missing, pt_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *bytes = NULL;
    *len = 0;
    if (missing)
        *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (missing)
            *missing = errno == ENOENT;
        return pt_fail(err, PT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (*bytes = malloc((size_t)n + 1)) &&
        fread(*bytes, 1, (size_t)n, f) == (size_t)n) {
        (*bytes)[n] = 0;
        *len = (size_t)n;
        fclose(f);
        return PT_OK;
    }
    fclose(f);
    free(*bytes);
    *bytes = NULL;
    return pt_fail(err, PT_ERR_IO, "%s: cannot read", path);
}

void pbt_files_remove(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}
