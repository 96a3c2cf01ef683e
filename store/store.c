/*
 * store.c — the study database (see store.h).
 *
 * Opening, migrating, studies, and the helpers store_trial.c shares.
 *
 * Optuna's tables are the record; prunetune's pt_ tables add what Optuna has
 * no column for. Every event is one short transaction (BEGIN IMMEDIATE ..
 * COMMIT), so a crash loses at most the event in flight and a reader always
 * sees whole trials. Speed comes from WAL with synchronous=NORMAL (a commit
 * appends to the log without fsync; a power cut may lose the last commits but
 * never corrupts the file), rare checkpoints (WRITER_PRAGMAS), statements
 * prepared once and kept in the store (parsing SQL each time would dominate)
 * and few indexes (each is written on every event). A trial (begin + 10
 * params, 3 reports, end) writes about 26 WAL pages and costs about 0.15 ms
 * of CPU: test_store prints the rate.
 *
 * Opening checks what the file is before writing anything to it: a file that
 * is not SQLite, an SQLite file of another program, an Optuna file of another
 * schema revision, or a prunetune file from a newer version is refused with
 * one line and left untouched. Datetimes are local time, as Optuna's
 * datetime.now() writes them.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store_impl.h"

pt_status store_dberr(store *st, pt_err *err, const char *what)
{
    return pt_fail(err, PT_ERR_IO, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

sqlite3_stmt *store_query(store *st, int id)
{
    if (!st->q[id]) {
        if (sqlite3_prepare_v3(st->db, store_query_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                               &st->q[id], NULL) != SQLITE_OK)
            return NULL;
    } else {
        sqlite3_reset(st->q[id]);
        sqlite3_clear_bindings(st->q[id]);
    }
    return st->q[id];
}

pt_status store_exec(store *st, sqlite3_stmt *s, pt_err *err, const char *what)
{
    if (!s || sqlite3_step(s) != SQLITE_DONE)
        return store_dberr(st, err, what);
    return PT_OK;
}

static pt_status exec_id(store *st, int id, pt_err *err, const char *what)
{
    return store_exec(st, store_query(st, id), err, what);
}

void store_rollback(store *st)
{
    sqlite3_stmt *s = store_query(st, Q_ROLLBACK);
    if (s)
        sqlite3_step(s);
}

pt_status store_commit(store *st, pt_err *err)
{
    pt_status rc = exec_id(st, Q_COMMIT, err, "commit");
    if (rc != PT_OK)
        store_rollback(st);
    return rc;
}

pt_status store_begin(store *st, pt_err *err)
{
    if (st->readonly)
        return pt_fail(err, PT_ERR_ARG, "%s: opened read-only", st->path);
    return exec_id(st, Q_BEGIN, err, "begin");
}

void store_now(char buf[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%06ld", ts.tv_nsec / 1000);
}

/* Python's repr, near enough for JSON: the shortest of %.15g..%.17g that
 * reads back exactly, with ".0" when it looks integral so a float attribute
 * stays a float when Python reads it. */
void store_fmt_num(char *buf, size_t cap, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".e"))
        strncat(buf, ".0", cap - strlen(buf) - 1);
}

/* ---- open ---------------------------------------------------------------- */

/* 1 when table exists, 0 when not, -1 on error (e.g. not a database). */
static int has_table(store *st, const char *name)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", -1,
                           &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* The single integer or text a one-row query returns, into *iv / txt. */
static int scalar(store *st, const char *sql, int *iv, char *txt, size_t cap)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && iv)
        *iv = sqlite3_column_int(s, 0);
    if (rc == SQLITE_ROW && txt)
        snprintf(txt, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Checks what is in the file before anything is written to it. *fresh: no
 * tables at all (a new or empty file). */
static pt_status check_kind(store *st, int *fresh, int *version, pt_err *err)
{
    int n_tables = 0;
    if (scalar(st, "SELECT count(*) FROM sqlite_master", &n_tables, NULL, 0) != 0)
        return pt_fail(err, PT_ERR_FORMAT, "%s: not an SQLite database (%s)", st->path,
                       sqlite3_errmsg(st->db));
    *fresh = n_tables == 0;
    if (scalar(st, "PRAGMA user_version", version, NULL, 0) != 0)
        return store_dberr(st, err, "user_version");
    if (*fresh)
        return st->readonly
                   ? pt_fail(err, PT_ERR_FORMAT, "%s: empty database, no study in it", st->path)
                   : PT_OK;
    static const char *const need[] = {"studies",      "study_directions", "trials",
                                       "trial_params", "trial_values",     "alembic_version"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (has_table(st, need[i]) != 1)
            return pt_fail(err, PT_ERR_FORMAT,
                           "%s: not a prunetune/Optuna study database (no table '%s')", st->path,
                           need[i]);
    char rev[64] = "";
    scalar(st, "SELECT version_num FROM alembic_version", NULL, rev, sizeof rev);
    if (strcmp(rev, STORE_OPTUNA_ALEMBIC) != 0)
        return pt_fail(err, PT_ERR_FORMAT,
                       "%s: Optuna schema revision '%s' is not supported (prunetune uses %s, "
                       "Optuna 3.1)",
                       st->path, rev, STORE_OPTUNA_ALEMBIC);
    if (*version > STORE_USER_VERSION)
        return pt_fail(err, PT_ERR_FORMAT,
                       "%s: written by a newer prunetune (schema %d, this one knows %d)", st->path,
                       *version, STORE_USER_VERSION);
    return PT_OK;
}

/* Creates Optuna's tables on a fresh file and applies the pending
 * migrations, each in its own transaction with its user_version. */
static pt_status migrate(store *st, int fresh, int version, pt_err *err)
{
    char *msg = NULL, sql[64];
    for (int v = fresh ? -1 : version; v < STORE_USER_VERSION; v++) {
        const char *body = v < 0 ? store_optuna_sql : store_migrations[v];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d;", v < 0 ? 0 : v + 1);
        if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(st->db, body, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(st->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            pt_status rc = pt_fail(err, PT_ERR_IO, "%s: schema migration %d: %s", st->path, v + 1,
                                   msg ? msg : sqlite3_errmsg(st->db));
            sqlite3_free(msg);
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return PT_OK;
}

/* A checkpoint (copying the log into the file) ends with two fsyncs that
 * stall the single-threaded coordinator for milliseconds each; at SQLite's
 * default of every 1,000 pages they took 40% of the recording time on a busy
 * disk. Every 10,000 pages (40 MB of log) makes them rare; the log file is
 * then cut back to 64 MB at most. */
#define WRITER_PRAGMAS                                                                             \
    "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=10000;"                                  \
    " PRAGMA journal_size_limit=67108864;"

pt_status store_open(store **out, const char *path, int readonly, pt_err *err)
{
    *out = NULL;
    struct stat sb;
    if (readonly && stat(path, &sb) != 0)
        return pt_fail(err, PT_ERR_IO, "%s: no such database", path);
    store *st = calloc(1, sizeof *st);
    if (!st)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    st->readonly = readonly;
    snprintf(st->path, sizeof st->path, "%s", path);
    /* NOMUTEX: a store belongs to one thread (store.h), so SQLite's
     * per-call mutexes would be pure cost on the recording path. */
    int flags = SQLITE_OPEN_NOMUTEX |
                (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    pt_status rc = PT_OK;
    int fresh = 0, version = 0;
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        rc = pt_fail(err, PT_ERR_IO, "%s: cannot open: %s", path,
                     st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    /* Readers wait out the short exclusive moments of a WAL (recovery,
     * checkpoint-on-close) instead of failing with "database is locked". */
    sqlite3_busy_timeout(st->db, 10000);
    rc = check_kind(st, &fresh, &version, err);
    if (rc != PT_OK)
        goto fail;
    if (!readonly) {
        char mode[16] = "";
        if (scalar(st, "PRAGMA journal_mode=WAL", NULL, mode, sizeof mode) != 0 ||
            strcmp(mode, "wal") != 0 ||
            sqlite3_exec(st->db, WRITER_PRAGMAS, NULL, NULL, NULL) != SQLITE_OK) {
            rc = store_dberr(st, err, "cannot switch to WAL mode");
            goto fail;
        }
        rc = migrate(st, fresh, version, err);
        if (rc != PT_OK)
            goto fail;
    }
    *out = st;
    return PT_OK;
fail:
    store_close(st);
    return rc;
}

void store_close(store *st)
{
    if (!st)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(st->q[i]);
    sqlite3_close(st->db);
    free(st);
}

/* ---- studies ------------------------------------------------------------- */

/* Compares the stored directions with sc's; 1 equal, 0 differ, -1 error. */
static int same_directions(store *st, int study_id, const study_config *sc)
{
    sqlite3_stmt *s = store_query(st, Q_DIR_GET);
    if (!s)
        return -1;
    sqlite3_bind_int(s, 1, study_id);
    int n = 0, same = 1, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(s, 0);
        const char *want =
            n < sc->n_objectives && sc->obj[n].dir == DIR_MAXIMIZE ? "MAXIMIZE" : "MINIMIZE";
        if (n >= sc->n_objectives || !d || strcmp(d, want) != 0)
            same = 0;
        n++;
    }
    return rc != SQLITE_DONE ? -1 : same && n == sc->n_objectives;
}

/* Compares the stored space with sc's as JSON values (key order aside);
 * 1 equal, 0 differ or none stored (a study Optuna made), -1 error. */
static int same_space(store *st, int study_id, const study_config *sc)
{
    sqlite3_stmt *s = store_query(st, Q_SPACE_GET);
    if (!s)
        return has_table(st, "pt_studies") == 0 ? 0 : -1;
    sqlite3_bind_int(s, 1, study_id);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : -1;
    const char *mine = sc->space_json ? sc->space_json : "{}";
    const char *stored = (const char *)sqlite3_column_text(s, 0);
    cJSON *a = cJSON_Parse(stored ? stored : ""), *b = cJSON_Parse(mine);
    int same = a && b ? cJSON_Compare(a, b, 1) : stored && !strcmp(stored, mine);
    cJSON_Delete(a);
    cJSON_Delete(b);
    sqlite3_reset(s);
    return same;
}

static pt_status put_study(store *st, int study_id, const study_config *sc, int dirs,
                           const char *now, pt_err *err)
{
    pt_status rc = PT_OK;
    sqlite3_stmt *s;
    if (dirs) {
        if ((s = store_query(st, Q_DIR_DEL)))
            sqlite3_bind_int(s, 1, study_id);
        rc = store_exec(st, s, err, "study directions");
        for (int i = 0; rc == PT_OK && i < sc->n_objectives; i++) {
            if ((s = store_query(st, Q_DIR_ADD))) {
                sqlite3_bind_text(s, 1, sc->obj[i].dir == DIR_MAXIMIZE ? "MAXIMIZE" : "MINIMIZE",
                                  -1, SQLITE_STATIC);
                sqlite3_bind_int(s, 2, study_id);
                sqlite3_bind_int(s, 3, i);
            }
            rc = store_exec(st, s, err, "study directions");
        }
    }
    /* The objectives' names where Optuna >= 3.2 and optuna-dashboard look
     * for them (Study.metric_names); 3.1 just lists it in system_attrs. */
    cJSON *names = cJSON_CreateArray();
    for (int i = 0; names && i < sc->n_objectives; i++)
        cJSON_AddItemToArray(names, cJSON_CreateString(sc->obj[i].name));
    char *json = names ? cJSON_PrintUnformatted(names) : NULL;
    cJSON_Delete(names);
    if (rc == PT_OK && !json)
        rc = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", st->path);
    if (rc == PT_OK && (s = store_query(st, Q_SATTR_PUT))) {
        sqlite3_bind_int(s, 1, study_id);
        sqlite3_bind_text(s, 2, "study:metric_names", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, json, -1, SQLITE_TRANSIENT);
    }
    if (rc == PT_OK)
        rc = store_exec(st, s, err, "study metric names");
    free(json);
    if (rc == PT_OK && (s = store_query(st, Q_SPACE_PUT))) {
        sqlite3_bind_int(s, 1, study_id);
        sqlite3_bind_text(s, 2, sc->space_json ? sc->space_json : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, now, -1, SQLITE_STATIC);
    }
    return rc == PT_OK ? store_exec(st, s, err, "study space") : rc;
}

pt_status store_study_open(store *st, const study_config *sc, int force, int *study_id,
                           int *created, pt_err *err)
{
    char now[32];
    store_now(now);
    *created = 0;
    st->n_constraints = sc->n_constraints;
    memcpy(st->con, sc->con, sizeof st->con);
    int ro = st->readonly;
    pt_status rc = ro ? PT_OK : store_begin(st, err);
    if (rc != PT_OK)
        return rc;
    sqlite3_stmt *s = store_query(st, Q_STUDY_FIND);
    if (s)
        sqlite3_bind_text(s, 1, sc->name, -1, SQLITE_STATIC);
    int step = s ? sqlite3_step(s) : SQLITE_ERROR;
    if (step == SQLITE_ROW) {
        *study_id = sqlite3_column_int(s, 0);
        sqlite3_reset(s);
        int dirs = same_directions(st, *study_id, sc);
        int space = dirs < 0 ? -1 : same_space(st, *study_id, sc);
        if (dirs < 0 || space < 0)
            rc = store_dberr(st, err, "read study");
        else if ((!dirs || !space) && !force)
            rc = pt_fail(err, PT_ERR_CONFIG, "%s: study '%s' exists with another %s; use --force",
                         st->path, sc->name,
                         !dirs ? "list of objectives or directions" : "search space");
        else if ((!dirs || !space) && !ro)
            rc = put_study(st, *study_id, sc, !dirs, now, err);
    } else if (step == SQLITE_DONE && ro) {
        rc = pt_fail(err, PT_ERR_CONFIG, "%s: no study '%s'", st->path, sc->name);
    } else if (step == SQLITE_DONE) {
        if ((s = store_query(st, Q_STUDY_ADD)))
            sqlite3_bind_text(s, 1, sc->name, -1, SQLITE_STATIC);
        rc = store_exec(st, s, err, "create study");
        *study_id = (int)sqlite3_last_insert_rowid(st->db);
        *created = 1;
        if (rc == PT_OK)
            rc = put_study(st, *study_id, sc, 1, now, err);
    } else {
        rc = store_dberr(st, err, "find study");
    }
    if (ro)
        return rc;
    if (rc != PT_OK) {
        store_rollback(st);
        return rc;
    }
    return store_commit(st, err);
}

pt_status store_integrity(store *st, pt_err *err)
{
    char ok[256] = "";
    int n_fk = -1;
    if (scalar(st, "PRAGMA integrity_check", NULL, ok, sizeof ok) != 0)
        return store_dberr(st, err, "integrity check");
    if (strcmp(ok, "ok") != 0)
        return pt_fail(err, PT_ERR_FORMAT, "%s: integrity check: %s", st->path, ok);
    if (scalar(st, "SELECT count(*) FROM pragma_foreign_key_check", &n_fk, NULL, 0) != 0)
        return store_dberr(st, err, "foreign key check");
    if (n_fk != 0)
        return pt_fail(err, PT_ERR_FORMAT, "%s: %d rows refer to missing rows", st->path, n_fk);
    return PT_OK;
}
