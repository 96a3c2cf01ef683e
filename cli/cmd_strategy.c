/*
 * cmd_strategy.c — `prunetune strategy` of a PBT study: the winner's
 * lineage and the schedule of hyper-parameters over epochs it found
 * (coordinator/sched_pbt.c records each member-interval as a trial whose
 * user attribute pbt_parent is the trial its checkpoint came from).
 *
 * The winner is the best COMPLETE trial of the last generation (feasible
 * ones, unless --all; by the first objective or --by), or --trial N. Its
 * lineage is followed back through pbt_parent to generation 0; each trial
 * of it held its parameters from its pbt_start_epoch on. --config FILE
 * writes the train config that replays the lineage as one run: the
 * winner's config without the continuation keys (train.first_epoch,
 * stop_epoch, net.init), the first interval's values in the plain keys and
 * schedule.l2 / l1 / lr / sparsity for reg.l2, reg.l1, train.lr and
 * prune.sparsity (core/schedule.h). The lineage carried its optimizer
 * state across boundaries (train.keep_optim; studies recorded before that
 * have train.optim_reset = the interval in their configs, which stays), so
 * `prunetune train FILE` trains bit for bit as the lineage did (with
 * train.sparse "on"/"off", train.h). A parameter without a per-epoch key
 * that changes along the lineage is named on stderr: the config holds its
 * last value and the replay is then not exact.
 *
 * Reads only through query/ (query_load, query_trial_texts): no SQL here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_cli.h"

static int attr_index(const query_trials *t, const char *name)
{
    for (int a = 0; a < t->n_attrs; a++)
        if (!strcmp(t->attr[a], name))
            return a;
    return -1;
}

int qcli_is_pbt(const query_trials *t)
{
    return attr_index(t, "pbt_member") >= 0 && attr_index(t, "pbt_start_epoch") >= 0;
}

static double attr_of(const query_trial *tr, int a)
{
    return a >= 0 && tr->attr ? tr->attr[a] : NAN;
}

/* The best COMPLETE trial of the last generation (rows index c->t.t). */
static const query_trial *winner(qcli_ctx *c, const qcli_opts *o, int *rc)
{
    if (o->has_trial)
        return qcli_pick_trial(c, o, rc);
    const query_trials *t = &c->t;
    int ag = attr_index(t, "pbt_generation"), n = 0, last = -1;
    int *rows = qcli_rows_in_state(t, TRIAL_COMPLETE, &n);
    if (!rows) {
        *rc = PT_EXIT_FAIL;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        double g = attr_of(&t->t[rows[i]], ag);
        if (isfinite(g) && g > last)
            last = (int)g;
    }
    int k = 0;
    for (int i = 0; i < n; i++)
        if ((int)attr_of(&t->t[rows[i]], ag) == last)
            rows[k++] = rows[i];
    n = k;
    query_col by[8 > STUDY_MAX_OBJECTIVES ? 8 : STUDY_MAX_OBJECTIVES];
    int n_by = 0;
    pt_err err = {{0}};
    if (qcli_objective_cols(c, o->by, by, &n_by, &err) != PT_OK) {
        free(rows);
        *rc = qcli_fail_line(c, &err);
        return NULL;
    }
    int have = n > 0 ? query_rank(t, &by[0], !c->all, rows, &n, &c->n_infeasible) : 0;
    const query_trial *w = have > 0 ? &t->t[rows[0]] : NULL;
    free(rows);
    qcli_note_feasibility(c);
    if (!w) {
        fprintf(stderr, "prunetune strategy: no complete trial in the last generation of study '%s'\n",
                t->study.name);
        *rc = PT_EXIT_FAIL;
    }
    return w;
}

/* The schedule key of a parameter, or NULL when train has none. */
static const char *schedule_key(const char *param)
{
    static const char *const map[][2] = {{"reg.l2", "l2"},
                                         {"reg.l1", "l1"},
                                         {"train.lr", "lr"},
                                         {"prune.sparsity", "sparsity"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(param, map[i][0]))
            return map[i][1];
    return NULL;
}

/* Sets the dotted key path (two levels) of root to item (replacing it). */
static void set_path(cJSON *root, const char *path, cJSON *item)
{
    char sec[64];
    const char *dot = strchr(path, '.');
    if (!dot || (size_t)(dot - path) >= sizeof sec) {
        cJSON_Delete(item);
        return;
    }
    memcpy(sec, path, (size_t)(dot - path));
    sec[dot - path] = 0;
    cJSON *s = cJSON_GetObjectItemCaseSensitive(root, sec);
    if (!cJSON_IsObject(s))
        s = cJSON_AddObjectToObject(root, sec);
    cJSON_DeleteItemFromObjectCaseSensitive(s, dot + 1);
    cJSON_AddItemToObject(s, dot + 1, item);
}

/* The replay config: see the top. lin[0..n) is the lineage, oldest first. */
static int write_config(qcli_ctx *c, const char *path, const query_trial *const *lin, int n,
                        int start_attr)
{
    const query_trials *t = &c->t;
    char *config = NULL, *result = NULL;
    pt_err err = {{0}};
    if (query_trial_texts(c->q, lin[n - 1]->trial_id, &config, &result, &err) != PT_OK)
        return qcli_fail_line(c, &err);
    free(result);
    cJSON *j = config ? cJSON_Parse(config) : NULL;
    free(config);
    if (!j) {
        fprintf(stderr, "prunetune strategy: trial %d has no stored config\n", lin[n - 1]->number);
        return PT_EXIT_USAGE;
    }
    cJSON *train = cJSON_GetObjectItemCaseSensitive(j, "train");
    cJSON_DeleteItemFromObjectCaseSensitive(train, "first_epoch");
    cJSON_DeleteItemFromObjectCaseSensitive(train, "stop_epoch");
    cJSON_DeleteItemFromObjectCaseSensitive(train, "keep_optim");
    cJSON *net = cJSON_GetObjectItemCaseSensitive(j, "net");
    cJSON_DeleteItemFromObjectCaseSensitive(net, "init");
    cJSON_DeleteItemFromObjectCaseSensitive(j, "schedule");
    for (int p = 0; p < t->n_params; p++) {
        const char *key = t->param[p].name;
        const char *sk = t->param[p].kind == PARAM_CAT ? NULL : schedule_key(key);
        int changes = 0;
        for (int k = 1; k < n; k++)
            changes |= lin[k]->param[p] != lin[0]->param[p] &&
                       !(isnan(lin[k]->param[p]) && isnan(lin[0]->param[p]));
        if (!sk) {
            if (changes)
                fprintf(stderr,
                        "prunetune strategy: %s changes along the lineage and has no per-epoch "
                        "train key: the config holds its last value (the replay is not exact)\n",
                        key);
            continue; /* the winner's config holds its last value */
        }
        if (isnan(lin[0]->param[p]))
            continue;
        set_path(j, key, cJSON_CreateNumber(lin[0]->param[p]));
        if (!changes)
            continue;
        cJSON *list = cJSON_CreateArray();
        for (int k = 0; k < n; k++) {
            if (isnan(lin[k]->param[p]) || (k > 0 && lin[k]->param[p] == lin[k - 1]->param[p]))
                continue;
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateNumber(attr_of(lin[k], start_attr)));
            cJSON_AddItemToArray(pair, cJSON_CreateNumber(lin[k]->param[p]));
            cJSON_AddItemToArray(list, pair);
        }
        char sp[64];
        snprintf(sp, sizeof sp, "schedule.%s", sk);
        set_path(j, sp, list);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    FILE *f = text ? fopen(path, "w") : NULL;
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f)
        ok &= fclose(f) == 0;
    free(text);
    if (!ok) {
        fprintf(stderr, "prunetune strategy: %s: cannot write the config\n", path);
        return PT_EXIT_FAIL;
    }
    fprintf(stderr, "prunetune strategy: wrote %s (prunetune train %s replays the lineage)\n", path,
            path);
    return PT_EXIT_OK;
}

int qcli_strategy_pbt(qcli_ctx *c, const qcli_opts *o)
{
    const query_trials *t = &c->t;
    int rc = PT_EXIT_OK;
    const query_trial *w = winner(c, o, &rc);
    if (!w)
        return rc;
    int a_parent = attr_index(t, "pbt_parent"), a_start = attr_index(t, "pbt_start_epoch");
    int a_member = attr_index(t, "pbt_member"), a_expl = attr_index(t, "pbt_exploited_from");
    int a_gen = attr_index(t, "pbt_generation");
    /* Back through the parents; a lineage is at most one trial per generation. */
    int cap = t->n + 1, n = 0;
    const query_trial **lin = malloc(sizeof *lin * (size_t)cap);
    if (!lin)
        return PT_EXIT_FAIL;
    for (const query_trial *tr = w; tr && n < cap;) {
        lin[n++] = tr;
        double parent = attr_of(tr, a_parent);
        tr = isfinite(parent) ? query_find_number(t, (int)parent) : NULL;
    }
    for (int i = 0; i < n / 2; i++) { /* oldest first */
        const query_trial *x = lin[i];
        lin[i] = lin[n - 1 - i];
        lin[n - 1 - i] = x;
    }
    int last_epoch, ep_col = -1; /* the winner's last epoch: its "epochs" metric */
    for (int m = 0; m < QUERY_N_METRICS; m++)
        if (!strcmp(query_metric_names[m], "epochs"))
            ep_col = m;
    last_epoch = ep_col >= 0 && isfinite(w->metric[ep_col]) ? (int)w->metric[ep_col] : -1;
    printf("PBT winner: trial %d (member %d, generation %d), %s %.6g\n", w->number,
           (int)attr_of(w, a_member), (int)attr_of(w, a_gen) + 1,
           t->study.obj_name[0], w->value[0]);
    printf("lineage (epochs 1-based; each trial continued its parent's checkpoint):\n");
    for (int k = 0; k < n; k++) {
        int from = (int)attr_of(lin[k], a_start) + 1;
        int to = k + 1 < n ? (int)attr_of(lin[k + 1], a_start) : last_epoch;
        double ex = attr_of(lin[k], a_expl);
        char exs[48] = "";
        if (isfinite(ex))
            snprintf(exs, sizeof exs, ", exploited member %d", (int)ex);
        printf("  epochs %3d-%-3d trial %4d  member %d%s  %s %.6g\n", from, to, lin[k]->number,
               (int)attr_of(lin[k], a_member), exs, t->study.obj_name[0], lin[k]->value[0]);
    }
    printf("schedule of hyper-parameters over epochs:\n");
    for (int p = 0; p < t->n_params; p++) {
        printf("  %s:", t->param[p].name);
        for (int k = 0; k < n;) {
            int j = k + 1;
            while (j < n && (lin[j]->param[p] == lin[k]->param[p] ||
                             (isnan(lin[j]->param[p]) && isnan(lin[k]->param[p]))))
                j++;
            int from = (int)attr_of(lin[k], a_start) + 1;
            int to = j < n ? (int)attr_of(lin[j], a_start) : last_epoch;
            double v = lin[k]->param[p];
            if (isnan(v))
                printf("%s epochs %d-%d: -", k ? ";" : "", from, to);
            else if (t->param[p].kind == PARAM_CAT && (int)v >= 0 &&
                     (int)v < t->param[p].n_choices)
                printf("%s epochs %d-%d: %s", k ? ";" : "", from, to,
                       t->param[p].choices[(int)v]);
            else
                printf("%s epochs %d-%d: %.6g", k ? ";" : "", from, to, v);
            k = j;
        }
        printf("\n");
    }
    if (o->config)
        rc = write_config(c, o->config, lin, n, a_start);
    free(lin);
    return rc;
}
