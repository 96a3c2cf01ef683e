/*
 * store_mark.c — reading marked trials back (see store.h): the reference
 * trial of a study and the confirmation runs already done. The marks are
 * Optuna user attributes (JSON texts), so Optuna sees them too; these reads
 * happen once per run, so their statements are prepared on the spot rather
 * than kept in the store.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

pt_status store_find_marked(store *st, int study_id, const char *key, const char *value_json,
                            int *number, pt_err *err)
{
    *number = -1;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT t.number FROM trials t JOIN trial_user_attributes a"
                           " ON a.trial_id=t.trial_id WHERE t.study_id=?1 AND t.state!='FAIL'"
                           " AND a.\"key\"=?2 AND a.value_json=?3 ORDER BY t.number LIMIT 1",
                           -1, &s, NULL) != SQLITE_OK)
        return store_dberr(st, err, "find marked trial");
    sqlite3_bind_int(s, 1, study_id);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, value_json, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *number = sqlite3_column_int(s, 0);
    pt_status ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? PT_OK
                                                          : store_dberr(st, err, "find marked trial");
    sqlite3_finalize(s);
    return ret;
}

/* An attribute's JSON text as an int (-1 when it is not a number). */
static int int_of(sqlite3_stmt *s, int col)
{
    const char *t = (const char *)sqlite3_column_text(s, col);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    int v = cJSON_IsNumber(j) ? (int)j->valuedouble : -1;
    cJSON_Delete(j);
    return v;
}

pt_status store_each_confirm_run(store *st, int study_id, store_run_fn fn, void *ctx, pt_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(
            st->db,
            "SELECT v.value_json, r.value_json, o.value_json, d.value_json FROM trials t"
            " JOIN trial_user_attributes v ON v.trial_id=t.trial_id AND v.\"key\"='pt_variant'"
            " JOIN trial_user_attributes r ON r.trial_id=t.trial_id AND r.\"key\"='pt_rank'"
            " JOIN trial_user_attributes o ON o.trial_id=t.trial_id"
            " AND o.\"key\"='pt_source_trial'"
            " JOIN trial_user_attributes d ON d.trial_id=t.trial_id AND d.\"key\"='pt_seed'"
            " WHERE t.study_id=?1 AND t.state='COMPLETE' ORDER BY t.number",
            -1, &s, NULL) != SQLITE_OK)
        return store_dberr(st, err, "read confirmation runs");
    sqlite3_bind_int(s, 1, study_id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *vt = (const char *)sqlite3_column_text(s, 0);
        cJSON *v = vt ? cJSON_Parse(vt) : NULL;
        if (cJSON_IsString(v))
            fn(ctx, v->valuestring, int_of(s, 1), int_of(s, 2), int_of(s, 3));
        cJSON_Delete(v);
    }
    pt_status ret = rc == SQLITE_DONE ? PT_OK : store_dberr(st, err, "read confirmation runs");
    sqlite3_finalize(s);
    return ret;
}

pt_status store_study_space(store *st, int study_id, char **json, pt_err *err)
{
    *json = NULL;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT space_json FROM pt_studies WHERE study_id=?1", -1, &s,
                           NULL) != SQLITE_OK) /* a study Optuna made: no pt_studies table */
        return PT_OK;
    sqlite3_bind_int(s, 1, study_id);
    int rc = sqlite3_step(s);
    const char *t = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    pt_status ret = PT_OK;
    if (t && !(*json = strdup(t)))
        ret = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", st->path);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = store_dberr(st, err, "read study space");
    sqlite3_finalize(s);
    return ret;
}
