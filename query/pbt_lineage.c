/*
 * pbt_lineage.c — lineages and replay configs of a PBT study; see
 * pbt_lineage.h.
 */
#include "pbt_lineage.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int query_attr_index(const query_trials *t, const char *name)
{
    for (int a = 0; a < t->n_attrs; a++)
        if (!strcmp(t->attr[a], name))
            return a;
    return -1;
}

double query_attr_of(const query_trial *tr, int a)
{
    return a >= 0 && tr->attr ? tr->attr[a] : NAN;
}

int query_is_pbt(const query_trials *t)
{
    return query_attr_index(t, "pbt_member") >= 0 && query_attr_index(t, "pbt_start_epoch") >= 0;
}

int query_pbt_lineage(const query_trials *t, const query_trial *w, const query_trial ***lin)
{
    int a_parent = query_attr_index(t, "pbt_parent");
    /* A lineage is at most one trial per generation: cap guards a cycle in
     * a DB someone edited. */
    int cap = t->n + 1, n = 0;
    const query_trial **l = malloc(sizeof *l * (size_t)cap);
    if (!l)
        return -1;
    for (const query_trial *tr = w; tr && n < cap;) {
        l[n++] = tr;
        double parent = query_attr_of(tr, a_parent);
        tr = isfinite(parent) ? query_find_number(t, (int)parent) : NULL;
    }
    for (int i = 0; i < n / 2; i++) { /* oldest first */
        const query_trial *x = l[i];
        l[i] = l[n - 1 - i];
        l[n - 1 - i] = x;
    }
    *lin = l;
    return n;
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

char *query_pbt_replay(const query_trials *t, const query_trial *const *lin, int n,
                       const char *config, void (*changed)(const char *param, void *ctx),
                       void *ctx)
{
    cJSON *j = config ? cJSON_Parse(config) : NULL;
    if (!cJSON_IsObject(j) || n < 1) {
        cJSON_Delete(j);
        return NULL;
    }
    int start_attr = query_attr_index(t, "pbt_start_epoch");
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
            if (changes && changed)
                changed(key, ctx);
            continue; /* the last trial's config holds its last value */
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
            cJSON_AddItemToArray(pair, cJSON_CreateNumber(query_attr_of(lin[k], start_attr)));
            cJSON_AddItemToArray(pair, cJSON_CreateNumber(lin[k]->param[p]));
            cJSON_AddItemToArray(list, pair);
        }
        char sp[64];
        snprintf(sp, sizeof sp, "schedule.%s", sk);
        set_path(j, sp, list);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

char *query_pbt_replay_of(const query_trials *t, const query_trial *w, const char *config)
{
    const query_trial **lin = NULL;
    int n = query_pbt_lineage(t, w, &lin);
    char *text = n > 0 ? query_pbt_replay(t, lin, n, config, NULL, NULL) : NULL;
    free(lin);
    return text;
}
