/*
 * store_schema.c — the DDL of the study database (see store_schema.h).
 *
 * schemas/store.sql is the same SQL with its documentation;
 * tests/test_store.c checks that the two give identical tables and indexes.
 * The SQL is compiled in rather than read at run time so the binary works
 * from any directory.
 */
#include "store_impl.h"

/* Optuna 3.1's tables at alembic revision v3.0.0.d, as its SQLAlchemy models
 * create them on SQLite (copied from a database Optuna 3.1.0 made). */
const char store_optuna_sql[] =
    "CREATE TABLE studies (study_id INTEGER NOT NULL, study_name VARCHAR(512) NOT NULL,"
    " PRIMARY KEY (study_id));"
    "CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name);"
    "CREATE TABLE version_info (version_info_id INTEGER NOT NULL, schema_version INTEGER,"
    " library_version VARCHAR(256), PRIMARY KEY (version_info_id),"
    " CHECK (version_info_id=1));"
    "CREATE TABLE study_directions (study_direction_id INTEGER NOT NULL,"
    " direction VARCHAR(8) NOT NULL, study_id INTEGER NOT NULL, objective INTEGER NOT NULL,"
    " PRIMARY KEY (study_direction_id), UNIQUE (study_id, objective),"
    " FOREIGN KEY(study_id) REFERENCES studies (study_id));"
    "CREATE TABLE study_user_attributes (study_user_attribute_id INTEGER NOT NULL,"
    " study_id INTEGER, \"key\" VARCHAR(512), value_json TEXT,"
    " PRIMARY KEY (study_user_attribute_id), UNIQUE (study_id, \"key\"),"
    " FOREIGN KEY(study_id) REFERENCES studies (study_id));"
    "CREATE TABLE study_system_attributes (study_system_attribute_id INTEGER NOT NULL,"
    " study_id INTEGER, \"key\" VARCHAR(512), value_json TEXT,"
    " PRIMARY KEY (study_system_attribute_id), UNIQUE (study_id, \"key\"),"
    " FOREIGN KEY(study_id) REFERENCES studies (study_id));"
    "CREATE TABLE trials (trial_id INTEGER NOT NULL, number INTEGER, study_id INTEGER,"
    " state VARCHAR(8) NOT NULL, datetime_start DATETIME, datetime_complete DATETIME,"
    " PRIMARY KEY (trial_id), FOREIGN KEY(study_id) REFERENCES studies (study_id));"
    "CREATE TABLE trial_user_attributes (trial_user_attribute_id INTEGER NOT NULL,"
    " trial_id INTEGER, \"key\" VARCHAR(512), value_json TEXT,"
    " PRIMARY KEY (trial_user_attribute_id), UNIQUE (trial_id, \"key\"),"
    " FOREIGN KEY(trial_id) REFERENCES trials (trial_id));"
    "CREATE TABLE trial_system_attributes (trial_system_attribute_id INTEGER NOT NULL,"
    " trial_id INTEGER, \"key\" VARCHAR(512), value_json TEXT,"
    " PRIMARY KEY (trial_system_attribute_id), UNIQUE (trial_id, \"key\"),"
    " FOREIGN KEY(trial_id) REFERENCES trials (trial_id));"
    "CREATE TABLE trial_params (param_id INTEGER NOT NULL, trial_id INTEGER,"
    " param_name VARCHAR(512), param_value FLOAT, distribution_json TEXT,"
    " PRIMARY KEY (param_id), UNIQUE (trial_id, param_name),"
    " FOREIGN KEY(trial_id) REFERENCES trials (trial_id));"
    "CREATE TABLE trial_values (trial_value_id INTEGER NOT NULL, trial_id INTEGER NOT NULL,"
    " objective INTEGER NOT NULL, value FLOAT, value_type VARCHAR(7) NOT NULL,"
    " PRIMARY KEY (trial_value_id), UNIQUE (trial_id, objective),"
    " FOREIGN KEY(trial_id) REFERENCES trials (trial_id));"
    "CREATE TABLE trial_intermediate_values (trial_intermediate_value_id INTEGER NOT NULL,"
    " trial_id INTEGER NOT NULL, step INTEGER NOT NULL, intermediate_value FLOAT,"
    " intermediate_value_type VARCHAR(7) NOT NULL, PRIMARY KEY (trial_intermediate_value_id),"
    " UNIQUE (trial_id, step), FOREIGN KEY(trial_id) REFERENCES trials (trial_id));"
    "CREATE TABLE trial_heartbeats (trial_heartbeat_id INTEGER NOT NULL,"
    " trial_id INTEGER NOT NULL, heartbeat DATETIME NOT NULL,"
    " PRIMARY KEY (trial_heartbeat_id), UNIQUE (trial_id),"
    " FOREIGN KEY(trial_id) REFERENCES trials (trial_id));"
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
    " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));"
    "INSERT INTO version_info (version_info_id, schema_version, library_version)"
    " VALUES (1, " STORE_OPTUNA_SCHEMA ", '" STORE_OPTUNA_LIBRARY "');"
    "INSERT INTO alembic_version (version_num) VALUES ('" STORE_OPTUNA_ALEMBIC "');";

/* prunetune's migrations; entry i takes user_version from i to i + 1.
 * Append only: a shipped entry is what old databases went through. */
static const char migration_1[] =
    "CREATE TABLE pt_studies (study_id INTEGER NOT NULL PRIMARY KEY"
    " REFERENCES studies (study_id), space_json TEXT NOT NULL,"
    " datetime_create DATETIME NOT NULL, datetime_update DATETIME NOT NULL);"
    "CREATE TABLE pt_trial_metrics (trial_id INTEGER NOT NULL PRIMARY KEY"
    " REFERENCES trials (trial_id), study_id INTEGER NOT NULL REFERENCES studies (study_id),"
    " number INTEGER NOT NULL, sparsity REAL, nnz INTEGER, bytes_dense INTEGER,"
    " bytes_stored INTEGER, flops_per_sample REAL, latency_b1_us REAL, latency_b128_us REAL,"
    " speedup_b1 REAL, speedup_b128 REAL, val_acc REAL, test_acc REAL, epochs INTEGER,"
    " wall_s REAL, result_json TEXT, config_json TEXT, fail_reason TEXT);"
    "CREATE INDEX pt_ix_trials_study_number ON trials (study_id, number);"
    "CREATE INDEX pt_ix_trials_study_state ON trials (study_id, state);"
    "CREATE INDEX pt_ix_metrics_val_acc ON pt_trial_metrics (study_id, val_acc)"
    " WHERE val_acc IS NOT NULL;"
    "CREATE INDEX pt_ix_metrics_test_acc ON pt_trial_metrics (study_id, test_acc)"
    " WHERE test_acc IS NOT NULL;"
    "CREATE INDEX pt_ix_metrics_sparsity ON pt_trial_metrics (study_id, sparsity)"
    " WHERE sparsity IS NOT NULL;";

const char *const store_migrations[STORE_USER_VERSION] = {migration_1};

/* The statements, prepared on first use and kept for the store's life. */
#define UATTR_UPSERT " ON CONFLICT (trial_id, \"key\") DO UPDATE SET value_json=excluded.value_json"

const char *const store_query_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_STUDY_FIND] = "SELECT study_id FROM studies WHERE study_name=?1",
    [Q_STUDY_ADD] = "INSERT INTO studies (study_name) VALUES (?1)",
    [Q_DIR_GET] = "SELECT direction FROM study_directions WHERE study_id=?1 ORDER BY objective",
    [Q_DIR_DEL] = "DELETE FROM study_directions WHERE study_id=?1",
    [Q_DIR_ADD] = "INSERT INTO study_directions (direction, study_id, objective) VALUES (?1,?2,?3)",
    [Q_SPACE_GET] = "SELECT space_json FROM pt_studies WHERE study_id=?1",
    [Q_SPACE_PUT] =
        "INSERT INTO pt_studies (study_id, space_json, datetime_create, datetime_update)"
        " VALUES (?1, ?2, ?3, ?3) ON CONFLICT (study_id) DO UPDATE SET"
        " space_json=excluded.space_json, datetime_update=excluded.datetime_update",
    [Q_NEXT_NUMBER] = "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id=?1",
    [Q_TRIAL_ADD] = "INSERT INTO trials (number, study_id, state, datetime_start)"
                    " VALUES (?1, ?2, 'RUNNING', ?3)",
    [Q_PARAM_ADD] = "INSERT INTO trial_params (trial_id, param_name, param_value,"
                    " distribution_json) VALUES (?1, ?2, ?3, ?4)",
    [Q_METRICS_ADD] = "INSERT INTO pt_trial_metrics (trial_id, study_id, number, config_json)"
                      " VALUES (?1, ?2, ?3, ?4)",
    [Q_REPORT] = "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value,"
                 " intermediate_value_type) SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM"
                 " trials WHERE trial_id=?1 AND state='RUNNING') ON CONFLICT (trial_id, step)"
                 " DO UPDATE SET intermediate_value=excluded.intermediate_value,"
                 " intermediate_value_type=excluded.intermediate_value_type",
    [Q_TRIAL_FINISH] = "UPDATE trials SET state=?2, datetime_complete=?3"
                       " WHERE trial_id=?1 AND state='RUNNING'",
    [Q_VALUE_ADD] = "INSERT INTO trial_values (trial_id, objective, value, value_type)"
                    " VALUES (?1, ?2, ?3, ?4)",
    [Q_METRICS_SET] = "UPDATE pt_trial_metrics SET sparsity=?2, nnz=?3, bytes_dense=?4,"
                      " bytes_stored=?5, flops_per_sample=?6, latency_b1_us=?7,"
                      " latency_b128_us=?8, speedup_b1=?9, speedup_b128=?10, val_acc=?11,"
                      " test_acc=?12, epochs=?13, wall_s=?14, result_json=?15, fail_reason=?16"
                      " WHERE trial_id=?1",
    [Q_UATTR_PUT] = "INSERT INTO trial_user_attributes (trial_id, \"key\", value_json)"
                    " VALUES (?1, ?2, ?3)" UATTR_UPSERT,
    [Q_FAIL_METRICS] = "UPDATE pt_trial_metrics SET fail_reason=?2 WHERE trial_id IN"
                       " (SELECT trial_id FROM trials WHERE study_id=?1 AND state='RUNNING')",
    [Q_FAIL_UATTR] = "INSERT INTO trial_user_attributes (trial_id, \"key\", value_json)"
                     " SELECT trial_id, 'fail_reason', ?2 FROM trials"
                     " WHERE study_id=?1 AND state='RUNNING'" UATTR_UPSERT,
    [Q_FAIL_TRIALS] = "UPDATE trials SET state='FAIL', datetime_complete=?2"
                      " WHERE study_id=?1 AND state='RUNNING'",
    [Q_EACH_TRIAL] = "SELECT trial_id, number, state FROM trials WHERE study_id=?1"
                     " ORDER BY number",
    [Q_EACH_PARAM] = "SELECT param_name, param_value FROM trial_params WHERE trial_id=?1",
    [Q_EACH_VALUE] = "SELECT objective, value, value_type FROM trial_values WHERE trial_id=?1",
    [Q_TSATTR_PUT] = "INSERT INTO trial_system_attributes (trial_id, \"key\", value_json)"
                     " VALUES (?1, ?2, ?3) ON CONFLICT (trial_id, \"key\") DO UPDATE SET"
                     " value_json=excluded.value_json",
    [Q_SATTR_PUT] = "INSERT INTO study_system_attributes (study_id, \"key\", value_json)"
                    " VALUES (?1, ?2, ?3) ON CONFLICT (study_id, \"key\") DO UPDATE SET"
                    " value_json=excluded.value_json",
    /* The id is the insertion order: the order a pruner saw the reports. */
    [Q_EACH_REPORT] = "SELECT t.number, i.step, i.intermediate_value, i.intermediate_value_type"
                      " FROM trial_intermediate_values i JOIN trials t USING (trial_id)"
                      " WHERE t.study_id=?1 ORDER BY i.trial_intermediate_value_id",
    [Q_UATTR_DEL] = "DELETE FROM trial_user_attributes WHERE trial_id=?1 AND \"key\"=?2",
};

const char *const store_state_names[5] = {"RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING"};
