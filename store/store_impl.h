/*
 * store_impl.h — what the store's source files share (not part of the API).
 *
 * The store is three files: store_schema.c holds every SQL text (Optuna's
 * tables, prunetune's migrations, the statements), store.c opens the file,
 * migrates it and manages studies, store_trial.c records and replays trials.
 * The read side (query.c, report_data.c) opens files with store_open too and
 * then runs its own SELECTs on st->db, reporting through st->path.
 *
 * Schema ownership. store_optuna_sql is Optuna 3.1's RDB schema (alembic
 * revision v3.0.0.d), run once on an empty file; prunetune never changes it,
 * so Optuna keeps recognising the file. store_migrations are prunetune's own
 * tables: migration i brings PRAGMA user_version from i to i + 1. Append a
 * migration to change the schema; never edit a shipped one.
 * schemas/store.sql documents both parts.
 */
#ifndef STORE_STORE_IMPL_H
#define STORE_STORE_IMPL_H

#include <sqlite3.h>
#include <stddef.h>

#include "store.h"

/* What Optuna 3.1.0 writes in version_info and alembic_version. */
#define STORE_OPTUNA_SCHEMA "12"
#define STORE_OPTUNA_LIBRARY "3.1.0"
#define STORE_OPTUNA_ALEMBIC "v3.0.0.d"

/* prunetune's schema version (PRAGMA user_version) = number of migrations. */
#define STORE_USER_VERSION 1

extern const char store_optuna_sql[];
extern const char *const store_migrations[STORE_USER_VERSION];

/* The statements a store prepares once and keeps (store->q). */
enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_STUDY_FIND,
    Q_STUDY_ADD,
    Q_DIR_GET,
    Q_DIR_DEL,
    Q_DIR_ADD,
    Q_SPACE_GET,
    Q_SPACE_PUT,
    Q_NEXT_NUMBER,
    Q_TRIAL_ADD,
    Q_PARAM_ADD,
    Q_METRICS_ADD,
    Q_REPORT,
    Q_TRIAL_FINISH,
    Q_VALUE_ADD,
    Q_METRICS_SET,
    Q_UATTR_PUT,
    Q_FAIL_METRICS,
    Q_FAIL_UATTR,
    Q_FAIL_TRIALS,
    Q_EACH_TRIAL,
    Q_EACH_PARAM,
    Q_EACH_VALUE,
    Q_SATTR_PUT,
    Q_EACH_REPORT,
    Q_UATTR_DEL,
    Q_TSATTR_PUT,
    Q_COUNT
};

extern const char *const store_query_sql[Q_COUNT];

/* trial_state's names as Optuna stores them, by value. */
extern const char *const store_state_names[5];

struct store {
    sqlite3 *db;
    int readonly;
    char path[PT_PATH_MAX];
    sqlite3_stmt *q[Q_COUNT];
    /* The open study's constraints (store_study_open): store_trial_end
     * stores each finished trial's values of them, as Optuna does. */
    int n_constraints;
    study_constraint con[STUDY_MAX_CONSTRAINTS];
};

/* The cached statement id, reset and ready to bind; NULL on a prepare error
 * (then sqlite3_errmsg says why). */
sqlite3_stmt *store_query(store *st, int id);
/* Steps s (NULL: the prepare failed) to its end; an error names `what`. */
pt_status store_exec(store *st, sqlite3_stmt *s, pt_err *err, const char *what);
/* PT_ERR_IO "path: what: <sqlite message>". */
pt_status store_dberr(store *st, pt_err *err, const char *what);
/* BEGIN IMMEDIATE (PT_ERR_ARG on a read-only store) / COMMIT / ROLLBACK. */
pt_status store_begin(store *st, pt_err *err);
pt_status store_commit(store *st, pt_err *err);
void store_rollback(store *st);
/* Now as Optuna writes it: 'YYYY-MM-DD HH:MM:SS.ffffff', local time. */
void store_now(char buf[32]);
/* A finite double as Python's repr writes it in JSON. */
void store_fmt_num(char *buf, size_t cap, double v);

#endif
