-- store.sql — the study database, as store/store.c creates it.
--
-- Documentation of the schema; the program does not read this file (the same
-- SQL is compiled into store/store_schema.c, and
-- tests/test_store_optuna.c checks that both give the same tables and
-- indexes, and that Optuna 3.1 creates exactly Part 1).
--
-- Part 1 is Optuna 3.1's RDB storage at alembic revision v3.0.0.d
-- (version_info.schema_version 12), column for column, so that
-- optuna.load_study(storage="sqlite:///study.db") reads a prunetune study.
-- Enums are stored as their names, as SQLAlchemy does: studies' directions
-- 'MINIMIZE'/'MAXIMIZE', trial states 'RUNNING'/'COMPLETE'/'PRUNED'/'FAIL'/
-- 'WAITING', value types 'FINITE'/'INF_POS'/'INF_NEG' (+ 'NAN' for
-- intermediate values; the value column is then NULL). Datetimes are local
-- time text 'YYYY-MM-DD HH:MM:SS.ffffff'. Attribute tables hold JSON text in
-- value_json. Optuna owns this part: it is never migrated by prunetune.
--
-- What prunetune writes there beyond Optuna's own use:
--   trial_params.distribution_json   Optuna's JSON ({"name": "FloatDistribution",
--                                    "attributes": {...}}); param_value is the
--                                    number, or the choice index of a categorical
--   trial_intermediate_values.step   the epoch of a per-epoch report
--   trial_user_attributes            the metrics of the result (sparsity, nnz,
--                                    bytes_dense, bytes_stored, flops_per_sample,
--                                    latency_b1_us, latency_b128_us, speedup_b1,
--                                    speedup_b128, val_acc, test_acc, epochs,
--                                    wall_s) when measured, and "fail_reason"
--                                    (a JSON string) for a FAIL trial
--   study_system_attributes          "study:metric_names": the objectives' names
--                                    (read by Optuna >= 3.2 and optuna-dashboard)
-- trial_heartbeats stays empty: the coordinator watches its workers itself.
--
-- Part 2 is prunetune's own, versioned by PRAGMA user_version: migration N
-- brings user_version from N-1 to N. Append new migrations; never edit one
-- that has shipped.

-- ---- Part 1: Optuna 3.1 (v3.0.0.d) ---------------------------------------
CREATE TABLE studies (
    study_id INTEGER NOT NULL,
    study_name VARCHAR(512) NOT NULL,
    PRIMARY KEY (study_id)
);
CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name);
CREATE TABLE version_info (
    version_info_id INTEGER NOT NULL,
    schema_version INTEGER,
    library_version VARCHAR(256),
    PRIMARY KEY (version_info_id),
    CHECK (version_info_id=1)
);
CREATE TABLE study_directions (
    study_direction_id INTEGER NOT NULL,
    direction VARCHAR(8) NOT NULL,
    study_id INTEGER NOT NULL,
    objective INTEGER NOT NULL,
    PRIMARY KEY (study_direction_id),
    UNIQUE (study_id, objective),
    FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE study_user_attributes (
    study_user_attribute_id INTEGER NOT NULL,
    study_id INTEGER,
    "key" VARCHAR(512),
    value_json TEXT,
    PRIMARY KEY (study_user_attribute_id),
    UNIQUE (study_id, "key"),
    FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE study_system_attributes (
    study_system_attribute_id INTEGER NOT NULL,
    study_id INTEGER,
    "key" VARCHAR(512),
    value_json TEXT,
    PRIMARY KEY (study_system_attribute_id),
    UNIQUE (study_id, "key"),
    FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE trials (
    trial_id INTEGER NOT NULL,
    number INTEGER,
    study_id INTEGER,
    state VARCHAR(8) NOT NULL,
    datetime_start DATETIME,
    datetime_complete DATETIME,
    PRIMARY KEY (trial_id),
    FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE trial_user_attributes (
    trial_user_attribute_id INTEGER NOT NULL,
    trial_id INTEGER,
    "key" VARCHAR(512),
    value_json TEXT,
    PRIMARY KEY (trial_user_attribute_id),
    UNIQUE (trial_id, "key"),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_system_attributes (
    trial_system_attribute_id INTEGER NOT NULL,
    trial_id INTEGER,
    "key" VARCHAR(512),
    value_json TEXT,
    PRIMARY KEY (trial_system_attribute_id),
    UNIQUE (trial_id, "key"),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_params (
    param_id INTEGER NOT NULL,
    trial_id INTEGER,
    param_name VARCHAR(512),
    param_value FLOAT,
    distribution_json TEXT,
    PRIMARY KEY (param_id),
    UNIQUE (trial_id, param_name),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_values (
    trial_value_id INTEGER NOT NULL,
    trial_id INTEGER NOT NULL,
    objective INTEGER NOT NULL,
    value FLOAT,
    value_type VARCHAR(7) NOT NULL,
    PRIMARY KEY (trial_value_id),
    UNIQUE (trial_id, objective),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_intermediate_values (
    trial_intermediate_value_id INTEGER NOT NULL,
    trial_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    intermediate_value FLOAT,
    intermediate_value_type VARCHAR(7) NOT NULL,
    PRIMARY KEY (trial_intermediate_value_id),
    UNIQUE (trial_id, step),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_heartbeats (
    trial_heartbeat_id INTEGER NOT NULL,
    trial_id INTEGER NOT NULL,
    heartbeat DATETIME NOT NULL,
    PRIMARY KEY (trial_heartbeat_id),
    UNIQUE (trial_id),
    FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO version_info (version_info_id, schema_version, library_version)
    VALUES (1, 12, '3.1.0');
INSERT INTO alembic_version (version_num) VALUES ('v3.0.0.d');

-- ---- Part 2: prunetune, migration 1 (user_version 1) ----------------------
-- The search space (and objectives) a study was created with: a resumed run
-- must match it (or say --force).
CREATE TABLE pt_studies (
    study_id INTEGER NOT NULL PRIMARY KEY REFERENCES studies (study_id),
    space_json TEXT NOT NULL,
    datetime_create DATETIME NOT NULL,
    datetime_update DATETIME NOT NULL
);
-- What Optuna has no column for. One row per trial, created with the trial;
-- study_id and number are copies (they never change) so metric queries need
-- no join. NULL = not measured.
CREATE TABLE pt_trial_metrics (
    trial_id INTEGER NOT NULL PRIMARY KEY REFERENCES trials (trial_id),
    study_id INTEGER NOT NULL REFERENCES studies (study_id),
    number INTEGER NOT NULL,
    sparsity REAL,
    nnz INTEGER,
    bytes_dense INTEGER,
    bytes_stored INTEGER,
    flops_per_sample REAL,
    latency_b1_us REAL,
    latency_b128_us REAL,
    speedup_b1 REAL,
    speedup_b128 REAL,
    val_acc REAL,
    test_acc REAL,
    epochs INTEGER,
    wall_s REAL,
    result_json TEXT,
    config_json TEXT,
    fail_reason TEXT
);
-- Trials of a study in number order (next number, resume replay) and by state.
CREATE INDEX pt_ix_trials_study_number ON trials (study_id, number);
CREATE INDEX pt_ix_trials_study_state ON trials (study_id, state);
-- The metrics a search is usually ranked by. Every index is written on every
-- trial event, so there are few, and partial: a RUNNING trial (metrics still
-- NULL) is not in them. Measured on 3,000 trials: six full metric indexes
-- were 40% of the bytes written per trial; these three cost 13%. Queries use
-- them when they say "metric IS NOT NULL", e.g.
--   SELECT number, val_acc FROM pt_trial_metrics
--   WHERE study_id = 1 AND val_acc IS NOT NULL ORDER BY val_acc DESC LIMIT 10;
CREATE INDEX pt_ix_metrics_val_acc ON pt_trial_metrics (study_id, val_acc)
    WHERE val_acc IS NOT NULL;
CREATE INDEX pt_ix_metrics_test_acc ON pt_trial_metrics (study_id, test_acc)
    WHERE test_acc IS NOT NULL;
CREATE INDEX pt_ix_metrics_sparsity ON pt_trial_metrics (study_id, sparsity)
    WHERE sparsity IS NOT NULL;
PRAGMA user_version = 1;
