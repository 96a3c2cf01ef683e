/*
 * models.c — the kept models of a study (see models.h).
 *
 * The kept set is a small array (K entries, K ~ 5): every decision is a
 * linear scan, nothing next to writing a megabyte. The decision is made in
 * memory first (who enters, who leaves), then the files follow: the new file
 * is written and recorded before any old one is removed, so a crash leaves
 * at worst one file too many, never a recorded path without its file.
 */
#include "models.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_impl.h"

typedef struct {
    int trial_id, number;
    double v[STUDY_MAX_OBJECTIVES];
} kept_model;

struct models {
    store *db;
    const study_config *sc;
    int k;                  /* keep_models */
    char base[PT_PATH_MAX]; /* the DB's folder, "" for the cwd */
    char rel[PT_PATH_MAX];  /* "<db name>.models/<study>", relative to base */
    int n, cap;
    kept_model *m; /* cap >= k + 1 entries */
};

int models_enabled(const models *k)
{
    return k && k->k > 0;
}

int models_count(const models *k)
{
    return k ? k->n : 0;
}

/* dir/ of path (with the slash), or "" when path has no folder. */
static void folder_of(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, path, n);
    buf[n] = '\0';
}

static int resolve(const char *base, const char *rel, char *buf, size_t cap)
{
    int n = rel[0] == '/' ? snprintf(buf, cap, "%s", rel) : snprintf(buf, cap, "%s%s", base, rel);
    return n >= 0 && (size_t)n < cap;
}

static int better1(const models *k, double a, double b)
{
    return k->sc->obj[0].dir == DIR_MAXIMIZE ? a > b : a < b;
}

/* a dominates b: no worse in every objective, better in one. */
static int dominates(const models *k, const double *a, const double *b)
{
    int strict = 0;
    for (int i = 0; i < k->sc->n_objectives; i++) {
        int max = k->sc->obj[i].dir == DIR_MAXIMIZE;
        if (max ? a[i] < b[i] : a[i] > b[i])
            return 0;
        strict |= a[i] != b[i];
    }
    return strict;
}

/* The entry to drop when the set is one too large: the worst by the first
 * objective, the later trial among equals. */
static int worst(const models *k)
{
    int w = 0;
    for (int i = 1; i < k->n; i++) {
        const kept_model *a = &k->m[i], *b = &k->m[w];
        if (better1(k, b->v[0], a->v[0]) || (a->v[0] == b->v[0] && a->number > b->number))
            w = i;
    }
    return w;
}

/* "<db>.models/<study>/trial-N.npz"; 0 when it does not fit. */
static int trial_rel(const models *k, int number, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/trial-%d.npz", k->rel, number);
    return n >= 0 && (size_t)n < cap;
}

/* Forgets entry i: attribute first, then the file (see the top). */
static pt_status drop(models *k, int i, pt_err *err)
{
    char rel[PT_PATH_MAX], path[PT_PATH_MAX];
    pt_status st = store_trial_attr(k->db, k->m[i].trial_id, MODELS_ATTR, NULL, err);
    if (st == PT_OK && trial_rel(k, k->m[i].number, rel, sizeof rel) &&
        resolve(k->base, rel, path, sizeof path))
        unlink(path);
    k->m[i] = k->m[--k->n];
    return st;
}

static pt_status make_dir(const char *path, pt_err *err)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return pt_fail(err, PT_ERR_IO, "%s: cannot create the models folder: %s", path,
                       strerror(errno));
    return PT_OK;
}

pt_status models_write_atomic(const char *path, const void *bytes, size_t len, pt_err *err)
{
    char tmp[PT_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(bytes, 1, len, f) == len;
    ok = f && fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return PT_OK;
    int e = errno;
    unlink(tmp);
    return pt_fail(err, PT_ERR_IO, "%s: cannot write: %s", path, strerror(e));
}

/* Whether the trial satisfies the study's constraints, by the values the
 * store recorded when it ended (study.h: the same rule as the queries'). A
 * study without constraints keeps from every trial. */
static int feasible(const models *k, int trial_id)
{
    if (k->sc->n_constraints == 0)
        return 1;
    sqlite3_stmt *q = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(k->db->db,
                           "SELECT value_json FROM trial_system_attributes"
                           " WHERE trial_id=?1 AND \"key\"='constraints'",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int(q, 1, trial_id);
        double c[STUDY_MAX_CONSTRAINTS];
        int n = sqlite3_step(q) == SQLITE_ROW
                    ? study_constraints_parse((const char *)sqlite3_column_text(q, 0), c,
                                              STUDY_MAX_CONSTRAINTS)
                    : -1;
        ok = study_feasible(1, n >= 0 ? study_violation(c, n) : NAN);
    }
    sqlite3_finalize(q);
    return ok;
}

/* Rebuilds the kept set from the attributes of the study's COMPLETE trials. */
static pt_status load_kept(models *k, int study_id, pt_err *err)
{
    sqlite3_stmt *q = NULL, *qv = NULL;
    int rc = sqlite3_prepare_v2(k->db->db,
                                "SELECT t.trial_id, t.number, a.value_json FROM trials t"
                                " JOIN trial_user_attributes a USING (trial_id)"
                                " WHERE t.study_id=?1 AND t.state='COMPLETE' AND a.\"key\"=?2"
                                " ORDER BY t.number",
                                -1, &q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(k->db->db,
                                "SELECT objective, value FROM trial_values WHERE trial_id=?1", -1,
                                &qv, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(q, 1, study_id);
        sqlite3_bind_text(q, 2, MODELS_ATTR, -1, SQLITE_STATIC);
    }
    pt_status st = PT_OK;
    while (rc == SQLITE_OK && st == PT_OK && sqlite3_step(q) == SQLITE_ROW) {
        kept_model e = {sqlite3_column_int(q, 0), sqlite3_column_int(q, 1), {0}};
        cJSON *j = cJSON_Parse((const char *)sqlite3_column_text(q, 2));
        char path[PT_PATH_MAX];
        int there = cJSON_IsString(j) && resolve(k->base, j->valuestring, path, sizeof path) &&
                    access(path, R_OK) == 0;
        cJSON_Delete(j);
        for (int i = 0; i < k->sc->n_objectives; i++)
            e.v[i] = NAN;
        sqlite3_reset(qv);
        sqlite3_bind_int(qv, 1, e.trial_id);
        while (sqlite3_step(qv) == SQLITE_ROW) {
            int o = sqlite3_column_int(qv, 0);
            if (o >= 0 && o < k->sc->n_objectives)
                e.v[o] = sqlite3_column_double(qv, 1);
        }
        if (!there) { /* recorded but gone: forget it */
            st = store_trial_attr(k->db, e.trial_id, MODELS_ATTR, NULL, err);
            continue;
        }
        if (!feasible(k, e.trial_id)) { /* constraints added since (--force): not a keeper */
            char rel[PT_PATH_MAX];
            st = store_trial_attr(k->db, e.trial_id, MODELS_ATTR, NULL, err);
            if (st == PT_OK && trial_rel(k, e.number, rel, sizeof rel) &&
                resolve(k->base, rel, path, sizeof path))
                unlink(path);
            continue;
        }
        if (k->n == k->cap) { /* more than K when keep_models was lowered */
            kept_model *m = realloc(k->m, sizeof *m * (size_t)k->cap * 2);
            if (!m) {
                st = pt_fail(err, PT_ERR_NOMEM, "models: out of memory");
                break;
            }
            k->m = m;
            k->cap *= 2;
        }
        k->m[k->n++] = e;
    }
    if (rc != SQLITE_OK && st == PT_OK)
        st = store_dberr(k->db, err, "read kept models");
    sqlite3_finalize(q);
    sqlite3_finalize(qv);
    return st;
}

pt_status models_open(models **out, store *db, const study_config *sc, int study_id, pt_err *err)
{
    *out = NULL;
    models *k = calloc(1, sizeof *k);
    if (!k || !(k->m = calloc((size_t)sc->keep_models + 1, sizeof *k->m))) {
        free(k);
        return pt_fail(err, PT_ERR_NOMEM, "models: out of memory");
    }
    k->db = db;
    k->sc = sc;
    k->k = sc->keep_models;
    k->cap = k->k + 1;
    folder_of(sc->storage, k->base, sizeof k->base);
    const char *name = sc->storage + strlen(k->base);
    int n = snprintf(k->rel, sizeof k->rel, "%s.models/", name);
    for (const char *c = sc->name; *c && n + 1 < (int)sizeof k->rel; c++)
        k->rel[n++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                              (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'
                          ? *c
                          : '_';
    k->rel[n] = '\0';
    if (!strcmp(sc->name, ".") || !strcmp(sc->name, ".."))
        k->rel[n - 1] = '_'; /* never the folder itself or its parent */
    /* Also with keep_models 0: a study that keeps none keeps none of before. */
    pt_status st = load_kept(k, study_id, err);
    while (st == PT_OK && k->n > k->k)
        st = drop(k, worst(k), err);
    if (st != PT_OK) {
        models_free(k);
        return st;
    }
    *out = k;
    return PT_OK;
}

void models_free(models *k)
{
    if (!k)
        return;
    free(k->m);
    free(k);
}

/* Whether trial `number`'s values enter the set, and which entries then
 * leave (out[i] = 1). */
static int enters(const models *k, int number, const double *values, int *out)
{
    int multi = k->sc->n_objectives > 1, left = k->n;
    for (int i = 0; i < k->n; i++) {
        out[i] = 0;
        if (multi && dominates(k, k->m[i].v, values))
            return 0;
        if (multi && dominates(k, values, k->m[i].v)) {
            out[i] = 1;
            left--;
        }
    }
    if (left < k->k)
        return 1;
    /* Full: the worst remaining by the first objective makes room, if values beat it. */
    int w = -1;
    for (int i = 0; i < k->n; i++)
        if (!out[i] && (w < 0 || better1(k, k->m[w].v[0], k->m[i].v[0]) ||
                        (k->m[i].v[0] == k->m[w].v[0] && k->m[i].number > k->m[w].number)))
            w = i;
    /* Ties go to the lower number, as query_sort ranks them (best,
     * export-model): trials finish out of order, so a tie arriving later
     * may still be the earlier trial and must push the later one out. */
    if (w < 0 || !(better1(k, values[0], k->m[w].v[0]) ||
                   (values[0] == k->m[w].v[0] && number < k->m[w].number)))
        return 0;
    out[w] = 1;
    return 1;
}

pt_status models_offer(models *k, int trial_id, int number, const double *values, const void *bytes,
                       size_t len, int *kept, pt_err *err)
{
    *kept = 0;
    if (!models_enabled(k) || !values || !feasible(k, trial_id))
        return PT_OK;
    int out[k->k + 1];
    if (!enters(k, number, values, out))
        return PT_OK;
    char dir[PT_PATH_MAX], rel[PT_PATH_MAX], path[PT_PATH_MAX];
    if (!trial_rel(k, number, rel, sizeof rel) || !resolve(k->base, rel, path, sizeof path))
        return pt_fail(err, PT_ERR_IO, "%s%s: path too long", k->base, k->rel);
    /* the two folders: <db>.models, then <study> in it */
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    char *study_slash = strrchr(dir, '/');
    *study_slash = '\0';
    pt_status st = make_dir(dir, err);
    *study_slash = '/';
    if (st == PT_OK)
        st = make_dir(dir, err);
    if (st == PT_OK)
        st = models_write_atomic(path, bytes, len, err);
    cJSON *j = cJSON_CreateString(rel);
    char *json = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (st == PT_OK && !json)
        st = pt_fail(err, PT_ERR_NOMEM, "models: out of memory");
    if (st == PT_OK)
        st = store_trial_attr(k->db, trial_id, MODELS_ATTR, json, err);
    free(json);
    if (st != PT_OK) {
        unlink(path);
        return st;
    }
    /* Leavers from the end, so the indexes of out[] stay valid. */
    for (int i = k->n - 1; i >= 0 && st == PT_OK; i--)
        if (out[i])
            st = drop(k, i, err);
    kept_model e = {trial_id, number, {0}};
    memcpy(e.v, values, sizeof(double) * (size_t)k->sc->n_objectives);
    k->m[k->n++] = e;
    *kept = 1;
    return st;
}

pt_status models_trial_path(store *db, const char *db_path, int trial_id, char *buf, size_t cap,
                            pt_err *err)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db->db,
                           "SELECT value_json FROM trial_user_attributes"
                           " WHERE trial_id=?1 AND \"key\"=?2",
                           -1, &q, NULL) != SQLITE_OK)
        return store_dberr(db, err, "read the model path");
    sqlite3_bind_int(q, 1, trial_id);
    sqlite3_bind_text(q, 2, MODELS_ATTR, -1, SQLITE_STATIC);
    pt_status st = PT_ERR_STOPPED;
    if (sqlite3_step(q) == SQLITE_ROW) {
        cJSON *j = cJSON_Parse((const char *)sqlite3_column_text(q, 0));
        char base[PT_PATH_MAX];
        folder_of(db_path, base, sizeof base);
        if (cJSON_IsString(j) && resolve(base, j->valuestring, buf, cap))
            st = PT_OK;
        else
            st = pt_fail(err, PT_ERR_FORMAT, "%s: trial %d: model_path is not a usable path",
                         db_path, trial_id);
        cJSON_Delete(j);
    }
    sqlite3_finalize(q);
    return st;
}
