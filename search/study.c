/*
 * study.c — the study file: its top-level keys, the trial section, and the
 * trial config of a sampled point. (Texts and errors: study_text.c; the
 * search space: study_space.c.)
 *
 * There is one parser per format (docs/ARCHITECTURE.md), so this file parses only what
 * is the study's own (name, storage, budget, sampler, objectives). The trial
 * section is handed whole to the train parser (pt_config_parse) and each
 * search-space value to pt_config_merge (study_space.c): a key, its type and
 * its bounds stay defined once, in core/config.c, and the train parser's
 * message is only moved under the study key it came from.
 *
 * Keys are checked in a fixed order (study, storage, ..., search_space)
 * rather than document order: later keys depend on earlier ones (the grid
 * sampler needs explicit float grids, the default storage needs the name).
 * A failed parse leaves *s zeroed, so there is nothing to free.
 *
 * Why one file of ~720 lines: the top-level keys, the trial section and the sampled trial config
 * are checked against each other (a key of one names parameters of another);
 * texts and the search space are already in study_text.c and study_space.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_open.h"
#include "init.h"
#include "study_internal.h"

#define SEED_MAX 9007199254740991.0 /* 2^53 - 1, as core/config.c */
#define N_TRIALS_DEFAULT 16
#define N_TRIALS_MAX 100000000
#define KEEP_MODELS_DEFAULT 5
#define KEEP_MODELS_MAX 10000
#define MAX_FAILURES_DEFAULT 5
/* A confirmation runs top * 3 * seeds + seeds trainings: the bounds keep a
 * typo from queueing days of work. */
#define CONFIRM_TOP_DEFAULT 3
#define CONFIRM_TOP_MAX 100
#define CONFIRM_SEEDS_DEFAULT 5
#define CONFIRM_SEEDS_MAX 1000

/* ---- top-level keys ----------------------------------------------------- */

static const char *const root_keys[] = {
    "$schema",     "study",           "storage", "seed",         "n_trials", "timeout_s", "sampler",
    "pruner",      "objectives",      "trial",   "search_space", "asha",     "median",    "tpe",
    "keep_models", "trial_timeout_s", "max_failures", "constraints", "confirm", "description", "pbt",
    NULL};
static const char *const objective_keys[] = {"name", "direction", NULL};

const char *study_key(int i)
{
    static const char *const sub_paths[] = {"objectives[].name", "objectives[].direction",
                                            "constraints[].metric", "constraints[].min",
                                            "constraints[].max"};
    int n_root = (int)(sizeof root_keys / sizeof root_keys[0]) - 1;
    int n_sub = (int)(sizeof sub_paths / sizeof sub_paths[0]);
    if (i < 0)
        return NULL;
    if (i < n_root)
        return root_keys[i];
    if (i < n_root + n_sub)
        return sub_paths[i - n_root];
    return study_param_key(i - n_root - n_sub);
}

static pt_status get_string(const study_ctx *x, const cJSON *root, const char *key, char *dst,
                            size_t cap, int *given)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    *given = v != NULL;
    if (!v)
        return PT_OK;
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= cap) {
        char what[64];
        snprintf(what, sizeof what, "a string of 1 to %zu bytes", cap - 1);
        return study_expected(x, key, what, v);
    }
    memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
    return PT_OK;
}

static int is_integral(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
}

static pt_status parse_budget(const study_ctx *x, study_config *s, const cJSON *root, int *n_given)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "seed");
    s->seed = 1;
    if (v) {
        if (!is_integral(v) || v->valuedouble < 0 || v->valuedouble > SEED_MAX)
            return study_expected(x, "seed", "an integer >= 0 and <= 9007199254740991", v);
        s->seed = (uint64_t)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "timeout_s");
    if (v) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
            return study_expected(x, "timeout_s", "a number >= 0 (0 = no limit)", v);
        s->timeout_s = v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "trial_timeout_s");
    if (v) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble <= 0)
            return study_expected(x, "trial_timeout_s", "a number of seconds > 0", v);
        s->trial_timeout_s = v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "keep_models");
    s->keep_models = KEEP_MODELS_DEFAULT;
    if (v) {
        if (!is_integral(v) || v->valuedouble < 0 || v->valuedouble > KEEP_MODELS_MAX)
            return study_expected(x, "keep_models", "an integer >= 0 and <= 10000", v);
        s->keep_models = (int)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "max_failures");
    s->max_failures = MAX_FAILURES_DEFAULT;
    if (v) {
        if (!is_integral(v) || v->valuedouble < 0 || v->valuedouble > N_TRIALS_MAX)
            return study_expected(x, "max_failures",
                                  "an integer >= 0 and <= 100000000 (0 = never stop)", v);
        s->max_failures = (int)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "n_trials");
    *n_given = v != NULL;
    if (v) {
        if (!is_integral(v) || v->valuedouble < 0 || v->valuedouble > N_TRIALS_MAX)
            return study_expected(x, "n_trials", "an integer >= 0 and <= 100000000", v);
        if (v->valuedouble == 0 && s->timeout_s == 0)
            return study_expected(x, "n_trials", "an integer >= 1 when timeout_s is 0", v);
        s->n_trials = (int)v->valuedouble;
    } else {
        s->n_trials = s->timeout_s > 0 ? 0 : N_TRIALS_DEFAULT;
    }
    return PT_OK;
}

/* An integer option path.key in [lo, hi]; *dst keeps its default when absent. */
static pt_status get_int_opt(const study_ctx *x, const cJSON *obj, const char *path,
                             const char *key, int lo, int hi, int *dst)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return PT_OK;
    if (!is_integral(v) || v->valuedouble < lo || v->valuedouble > hi) {
        char at[96], what[64];
        snprintf(at, sizeof at, "%s.%s", path, key);
        snprintf(what, sizeof what, "an integer >= %d and <= %d", lo, hi);
        return study_expected(x, at, what, v);
    }
    *dst = (int)v->valuedouble;
    return PT_OK;
}

/* "compare" of an option object: which trials a value competes with (pruner.h). */
static pt_status get_compare(const study_ctx *x, const cJSON *obj, const char *path,
                             pruner_compare *dst)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "compare");
    if (!v)
        return PT_OK;
    static const char *const names[] = {"schedule", "strategy", "all"};
    for (int i = 0; cJSON_IsString(v) && i < 3; i++)
        if (!strcmp(v->valuestring, names[i])) {
            *dst = (pruner_compare)i;
            return PT_OK;
        }
    char at[96];
    snprintf(at, sizeof at, "%s.compare", path);
    return study_expected(x, at, "one of \"schedule\", \"strategy\", \"all\"", v);
}

/* "pruner" and the option objects "asha" and "median" (each accepted
 * whichever pruner is chosen, so switching is a one-word edit). Defaults are
 * Optuna 3.1's; the bounds are what search/pruner.c handles. */
static pt_status parse_pruner(const study_ctx *x, study_config *s, const cJSON *root)
{
    static const char *const asha_keys[] = {
        "min_resource", "reduction_factor", "min_early_stopping_rate",
        "n_brackets",   "compare",          NULL};
    static const char *const median_keys[] = {"n_startup_trials", "n_warmup_steps", "compare",
                                              NULL};
    s->asha = (study_asha){.min_resource = 1, .reduction_factor = 3, .n_brackets = 1};
    s->median = (study_median){.n_startup_trials = 5, .n_warmup_steps = 0};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "pruner");
    const char *name = cJSON_IsString(v) ? v->valuestring : "";
    s->pruner = PRUNER_NONE;
    if (!strcmp(name, "asha"))
        s->pruner = PRUNER_ASHA;
    else if (!strcmp(name, "median"))
        s->pruner = PRUNER_MEDIAN;
    else if (v && strcmp(name, "none"))
        return study_expected(x, "pruner", "one of \"none\", \"asha\", \"median\"", v);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "asha");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "median");
    pt_status st = PT_OK;
    if (a && !cJSON_IsObject(a))
        return study_expected(x, "asha", "an object of options", a);
    if (m && !cJSON_IsObject(m))
        return study_expected(x, "median", "an object of options", m);
    if (a && ((st = study_check_members(x, a, "asha", asha_keys)) != PT_OK ||
              (st = get_int_opt(x, a, "asha", "min_resource", 1, 1000000, &s->asha.min_resource)) !=
                  PT_OK ||
              (st = get_int_opt(x, a, "asha", "reduction_factor", 2, 1000,
                                &s->asha.reduction_factor)) != PT_OK ||
              (st = get_int_opt(x, a, "asha", "min_early_stopping_rate", 0, 30,
                                &s->asha.min_early_stopping_rate)) != PT_OK ||
              (st = get_int_opt(x, a, "asha", "n_brackets", 1, 16, &s->asha.n_brackets)) != PT_OK ||
              (st = get_compare(x, a, "asha", &s->asha.compare)) != PT_OK))
        return st;
    if (m && ((st = study_check_members(x, m, "median", median_keys)) != PT_OK ||
              (st = get_int_opt(x, m, "median", "n_startup_trials", 0, 100000000,
                                &s->median.n_startup_trials)) != PT_OK ||
              (st = get_int_opt(x, m, "median", "n_warmup_steps", 0, 100000000,
                                &s->median.n_warmup_steps)) != PT_OK ||
              (st = get_compare(x, m, "median", &s->median.compare)) != PT_OK))
        return st;
    return PT_OK;
}

/* A number option path.key in (lo, hi] (lo_open) or [lo, hi]; *dst keeps its default when
 * absent. */
static pt_status get_num_opt(const study_ctx *x, const cJSON *obj, const char *path,
                             const char *key, double lo, double hi, double *dst)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return PT_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble > lo) || v->valuedouble > hi) {
        char at[96], what[64];
        snprintf(at, sizeof at, "%s.%s", path, key);
        snprintf(what, sizeof what, "a number > %g and <= %g", lo, hi);
        return study_expected(x, at, what, v);
    }
    *dst = v->valuedouble;
    return PT_OK;
}

/* The option object "tpe" (accepted whichever sampler is chosen, as the
 * pruner options). Defaults are Optuna 3.1's TPESampler's. */
static pt_status parse_tpe(const study_ctx *x, study_config *s, const cJSON *root)
{
    static const char *const tpe_keys[] = {"n_startup_trials", "n_ei_candidates", "gamma",
                                           "prior_weight",     "constant_liar",   NULL};
    s->tpe = (study_tpe){.n_startup_trials = 10,
                         .n_ei_candidates = 24,
                         .gamma = 0.1,
                         .prior_weight = 1,
                         .constant_liar = 1};
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "tpe");
    if (!t)
        return PT_OK;
    if (!cJSON_IsObject(t))
        return study_expected(x, "tpe", "an object of options", t);
    pt_status st;
    if ((st = study_check_members(x, t, "tpe", tpe_keys)) != PT_OK ||
        (st = get_int_opt(x, t, "tpe", "n_startup_trials", 0, N_TRIALS_MAX,
                          &s->tpe.n_startup_trials)) != PT_OK ||
        (st = get_int_opt(x, t, "tpe", "n_ei_candidates", 1, 100000, &s->tpe.n_ei_candidates)) !=
            PT_OK ||
        (st = get_num_opt(x, t, "tpe", "gamma", 0, 1, &s->tpe.gamma)) != PT_OK ||
        (st = get_num_opt(x, t, "tpe", "prior_weight", 0, 1e6, &s->tpe.prior_weight)) != PT_OK)
        return st;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "constant_liar");
    if (v && !cJSON_IsBool(v))
        return study_expected(x, "tpe.constant_liar", "true or false", v);
    if (v)
        s->tpe.constant_liar = cJSON_IsTrue(v);
    return PT_OK;
}

/* The option object "pbt" (accepted whichever sampler is chosen, as "tpe").
 * Defaults are Ray Tune's PopulationBasedTraining's where it has them
 * (quantile_fraction 0.25, resample_probability 0.25, factors 0.8 and 1.2);
 * interval 1 epoch because prunetune's trials are a few epochs long. */
static pt_status parse_pbt(const study_ctx *x, study_config *s, const cJSON *root)
{
    static const char *const pbt_keys[] = {
        "population", "interval", "quantile", "perturb", "resample_probability", NULL};
    s->pbt = (study_pbt){.population = 8,
                         .interval = 1,
                         .quantile = 0.25,
                         .n_perturb = 2,
                         .perturb = {0.8, 1.2},
                         .resample_probability = 0.25};
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "pbt");
    if (!t)
        return PT_OK;
    if (!cJSON_IsObject(t))
        return study_expected(x, "pbt", "an object of options", t);
    pt_status st;
    if ((st = study_check_members(x, t, "pbt", pbt_keys)) != PT_OK ||
        (st = get_int_opt(x, t, "pbt", "population", 2, 1024, &s->pbt.population)) != PT_OK ||
        (st = get_int_opt(x, t, "pbt", "interval", 1, 1000000, &s->pbt.interval)) != PT_OK ||
        (st = get_num_opt(x, t, "pbt", "quantile", 0, 0.5, &s->pbt.quantile)) != PT_OK)
        return st;
    /* 0 is allowed here (never resample), so not get_num_opt's open bound. */
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "resample_probability");
    if (v) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1))
            return study_expected(x, "pbt.resample_probability", "a number >= 0 and <= 1", v);
        s->pbt.resample_probability = v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(t, "perturb");
    if (v) {
        int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
        if (n < 1 || n > STUDY_MAX_PERTURB)
            return study_expected(x, "pbt.perturb", "a list of 1 to 8 factors > 0", v);
        int k = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, v)
        {
            if (!cJSON_IsNumber(f) || !(f->valuedouble > 0) || !isfinite(f->valuedouble))
                return study_expected(x, "pbt.perturb", "a list of 1 to 8 factors > 0", v);
            s->pbt.perturb[k++] = f->valuedouble;
        }
        s->pbt.n_perturb = n;
    }
    return PT_OK;
}

static pt_status parse_kinds(const study_ctx *x, study_config *s, const cJSON *root)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "sampler");
    s->sampler = SAMPLER_RANDOM;
    if (v) {
        if (cJSON_IsString(v) && !strcmp(v->valuestring, "random"))
            s->sampler = SAMPLER_RANDOM;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "grid"))
            s->sampler = SAMPLER_GRID;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "tpe"))
            s->sampler = SAMPLER_TPE;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "pbt"))
            s->sampler = SAMPLER_PBT;
        else
            return study_expected(x, "sampler", "one of \"random\", \"grid\", \"tpe\", \"pbt\"", v);
    }
    pt_status st = parse_tpe(x, s, root);
    if (st == PT_OK)
        st = parse_pbt(x, s, root);
    if (st == PT_OK)
        st = parse_pruner(x, s, root);
    /* PBT replaces early stopping: a bottom member is not stopped, it takes
     * a top member's weights; a pruner would stop members PBT counts on. */
    if (st == PT_OK && s->sampler == SAMPLER_PBT && s->pruner != PRUNER_NONE)
        return study_expected(x, "pruner",
                              "\"none\" with sampler \"pbt\" (PBT replaces early stopping)",
                              cJSON_GetObjectItemCaseSensitive(root, "pruner"));
    return st;
}

static int is_metric_name(const char *s)
{
    if (!*s || strlen(s) >= sizeof(((study_objective *)0)->name))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static pt_status parse_objectives(const study_ctx *x, study_config *s, const cJSON *root)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "objectives");
    if (!v) {
        s->n_objectives = 1;
        snprintf(s->obj[0].name, sizeof s->obj[0].name, "val_acc");
        s->obj[0].dir = DIR_MAXIMIZE;
        return PT_OK;
    }
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    if (n < 1 || n > STUDY_MAX_OBJECTIVES)
        return study_expected(x, "objectives", "an array of 1 to 4 objectives", v);
    int i = 0;
    for (const cJSON *o = v->child; o; o = o->next, i++) {
        char path[64], at[80];
        snprintf(path, sizeof path, "objectives[%d]", i);
        if (!cJSON_IsObject(o))
            return study_expected(x, path, "an object {\"name\": ..., \"direction\": ...}", o);
        pt_status st = study_check_members(x, o, path, objective_keys);
        if (st != PT_OK)
            return st;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *dir = cJSON_GetObjectItemCaseSensitive(o, "direction");
        snprintf(at, sizeof at, "%s.name", path);
        if (!cJSON_IsString(name) || !is_metric_name(name->valuestring))
            return study_expected(
                x, at, "a metric of the trial result such as \"val_acc\" (letters, digits, _)",
                name);
        for (int j = 0; j < i; j++)
            if (!strcmp(s->obj[j].name, name->valuestring))
                return study_expected(x, at, "a metric not already an objective", name);
        snprintf(s->obj[i].name, sizeof s->obj[i].name, "%s", name->valuestring);
        snprintf(at, sizeof at, "%s.direction", path);
        if (cJSON_IsString(dir) && !strcmp(dir->valuestring, "minimize"))
            s->obj[i].dir = DIR_MINIMIZE;
        else if (cJSON_IsString(dir) && !strcmp(dir->valuestring, "maximize"))
            s->obj[i].dir = DIR_MAXIMIZE;
        else
            return study_expected(x, at, "one of \"minimize\", \"maximize\"", dir);
    }
    s->n_objectives = n;
    return PT_OK;
}

static pt_status parse_trial(const study_ctx *x, study_config *s, const cJSON *root)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "trial");
    pt_config_defaults(&s->trial);
    if (!v)
        return PT_OK;
    if (!cJSON_IsObject(v))
        return study_expected(x, "trial", "an object (a train config)", v);
    char *text = cJSON_PrintUnformatted(v);
    if (!text)
        return pt_fail(x->err, PT_ERR_NOMEM, "%s: out of memory", x->src);
    pt_err inner;
    pt_status st = pt_config_parse(&s->trial, text, STUDY_INNER_SRC, &inner);
    cJSON_free(text);
    return st == PT_OK ? PT_OK : study_reframe(x, "trial", NULL, &inner, st);
}

/* "confirm": {"top": K, "seeds": S}; absent or top 0 = no confirmation. */
static pt_status parse_confirm(const study_ctx *x, study_config *s, const cJSON *root)
{
    static const char *const confirm_keys[] = {"top", "seeds", NULL};
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "confirm");
    s->confirm_top = 0;
    s->confirm_seeds = CONFIRM_SEEDS_DEFAULT;
    if (!c)
        return PT_OK;
    if (!cJSON_IsObject(c))
        return study_expected(x, "confirm", "an object {\"top\": K, \"seeds\": S}", c);
    s->confirm_top = CONFIRM_TOP_DEFAULT; /* the key given: on, unless top is 0 */
    pt_status st;
    if ((st = study_check_members(x, c, "confirm", confirm_keys)) != PT_OK ||
        (st = get_int_opt(x, c, "confirm", "top", 0, CONFIRM_TOP_MAX, &s->confirm_top)) != PT_OK ||
        (st = get_int_opt(x, c, "confirm", "seeds", 1, CONFIRM_SEEDS_MAX, &s->confirm_seeds)) !=
            PT_OK)
        return st;
    return PT_OK;
}

static pt_status parse_root(const study_ctx *x, study_config *s, const cJSON *root)
{
    if (!cJSON_IsObject(root))
        return study_expected(x, "", "an object at the top level", root);
    pt_status st = study_check_members(x, root, "", root_keys);
    if (st != PT_OK)
        return st;
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "$schema");
    if (schema && !cJSON_IsString(schema))
        return study_expected(x, "$schema", "a string", schema);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (text && !cJSON_IsString(text))
        return study_expected(x, "description", "a string", text);
    int given, n_given;
    if ((st = get_string(x, root, "study", s->name, sizeof s->name, &given)) != PT_OK)
        return st;
    if (!given)
        return study_expected(x, "study", "the study's name, a string of 1 to 127 bytes", NULL);
    if ((st = get_string(x, root, "storage", s->storage, sizeof s->storage, &given)) != PT_OK)
        return st;
    if (!given)
        snprintf(s->storage, sizeof s->storage, "%s.db", s->name);
    if ((st = parse_budget(x, s, root, &n_given)) != PT_OK ||
        (st = parse_kinds(x, s, root)) != PT_OK || (st = parse_objectives(x, s, root)) != PT_OK ||
        (st = study_parse_constraints(x, s, root)) != PT_OK ||
        (st = parse_trial(x, s, root)) != PT_OK || (st = parse_confirm(x, s, root)) != PT_OK)
        return st;
    const cJSON *space = cJSON_GetObjectItemCaseSensitive(root, "search_space");
    if ((st = study_parse_space(x, s, space)) != PT_OK)
        return st;
    if (s->sampler == SAMPLER_GRID && !n_given)
        s->n_trials = (int)study_grid_effective_size(s) + 1; /* + the reference trial */
    s->space_json = study_space_canonical(s);
    if (!s->space_json)
        return pt_fail(x->err, PT_ERR_NOMEM, "%s: out of memory", x->src);
    return PT_OK;
}

pt_status study_parse(study_config *s, const char *json, const char *source, pt_err *err)
{
    if (!s || !json)
        return pt_fail(err, PT_ERR_ARG, "study_parse: NULL study or text");
    memset(s, 0, sizeof *s);
    if (!source)
        source = "study";
    cJSON *root;
    pt_status st = pt_json_parse(&root, json, source, err);
    if (st != PT_OK)
        return st;
    study_ctx x = {source, err};
    st = parse_root(&x, s, root);
    cJSON_Delete(root);
    if (st != PT_OK)
        study_free(s);
    return st;
}

pt_status study_load(study_config *s, const char *path, pt_err *err)
{
    if (!s || !path)
        return pt_fail(err, PT_ERR_ARG, "study_load: NULL study or path");
    memset(s, 0, sizeof *s);
    char *text;
    pt_status st = pt_json_read_file(path, &text, err);
    if (st != PT_OK)
        return st;
    st = study_parse(s, text, path, err);
    free(text);
    return st;
}

/* Whether parameter name sets where the data comes from (then the base
 * trial's files may be ones no trial reads). */
static int is_data_location(const char *name)
{
    static const char *const keys[] = {"data.format",      "data.dir",          "data.train",
                                       "data.test",        "data.train_images", "data.train_labels",
                                       "data.test_images", "data.test_labels",  NULL};
    for (int i = 0; keys[i]; i++)
        if (!strcmp(name, keys[i]))
            return 1;
    return 0;
}

/* net.init must load and match the base trial's network (net.hidden /
 * net.layers) before anything starts. Against the data's features and
 * classes it is checked by each worker once the data is open: reading the
 * labels to count classes is what the probe avoids. A search over net.* keys
 * leaves only the loading to check here. */
static pt_status probe_init(const study_config *s, const char *source, pt_err *err)
{
    const pt_config *c = &s->trial;
    if (!c->net.init[0])
        return PT_OK;
    int net_searched = 0;
    for (int i = 0; i < s->n_params; i++)
        net_searched |= !strncmp(s->param[i].name, "net.", 4);
    pt_model m;
    pt_err inner;
    pt_status st = pt_model_load(&m, c->net.init, &inner);
    if (st != PT_OK)
        return pt_fail(err, st == PT_ERR_NOMEM ? st : PT_ERR_CONFIG, "%s: trial.net.init: %s",
                       source, inner.msg);
    if (!net_searched)
        st = pt_init_check(&m, c->net.init, c, m.net.sizes[0], m.net.sizes[m.net.n_layers],
                           &inner);
    pt_model_free(&m);
    if (st != PT_OK)
        return pt_fail(err, st, "%s: trial.%s", source, inner.msg);
    return PT_OK;
}

pt_status study_probe(const study_config *s, const char *source, pt_err *err)
{
    if (!s)
        return pt_fail(err, PT_ERR_ARG, "study_probe: NULL study");
    for (int i = 0; i < s->n_params; i++)
        if (is_data_location(s->param[i].name))
            return PT_OK;
    const char *key = NULL;
    pt_err inner;
    if (pt_data_probe(&s->trial.data, &key, &inner) != PT_OK)
        return pt_fail(err, PT_ERR_CONFIG, "%s: trial.%s: %s", source ? source : "study",
                       key ? key : "data", inner.msg);
    return probe_init(s, source ? source : "study", err);
}

void study_free(study_config *s)
{
    if (!s)
        return;
    free(s->space_json);
    memset(s, 0, sizeof *s);
}

/* ---- trials ------------------------------------------------------------- */

int study_value_text(const study_param *q, double v, char *buf, size_t cap)
{
    if (q->kind == PARAM_CAT) {
        int c = (int)v;
        if (c < 0 || c >= q->n_choices)
            return 0;
        snprintf(buf, cap, "%s", q->choices[c]);
    } else if (q->kind == PARAM_INT) {
        snprintf(buf, cap, "%.0f", v);
    } else {
        pt_fmt_double(buf, cap, v);
    }
    return 1;
}

/* Element k of list key `base` in the base trial (trial: s->trial as JSON,
 * parsed on first use), as JSON text in buf; 0 when it has none. The list
 * may also be one number for every layer. */
static int base_element(const study_config *s, cJSON **trial, const char *base, int k, char *buf,
                        size_t cap)
{
    if (!*trial) {
        char *json = pt_config_to_json(&s->trial);
        *trial = json ? cJSON_Parse(json) : NULL;
        free(json);
    }
    const char *name;
    cJSON *sec = *trial ? pt_json_section(*trial, base, &name) : NULL;
    const cJSON *v = sec ? cJSON_GetObjectItemCaseSensitive(sec, name) : NULL;
    if (cJSON_IsArray(v))
        v = cJSON_GetArrayItem(v, k);
    if (!cJSON_IsNumber(v))
        return 0;
    pt_fmt_double(buf, cap, v->valuedouble);
    return 1;
}

/* Whether an earlier parameter than i of point p is an element of `base`
 * (then that one's turn built the list). */
static int listed_before(const study_config *s, const study_point *p, int i, const char *base)
{
    char other[64];
    for (int j = 0; j < i; j++)
        if (p->present[j] && study_element(s->param[j].name, other, sizeof other) >= 0 &&
            !strcmp(other, base))
            return 1;
    return 0;
}

/* The list of list key `base` that the element parameters of point p make
 * (the first of them is parameter i), as JSON text in list: each element
 * from p, else from the base trial. */
static pt_status element_list(const study_config *s, const study_point *p, int i, const char *base,
                              cJSON **trial, char *list, size_t cap, pt_err *err)
{
    char val[PT_MAX_LAYERS][40], other[64];
    int have[PT_MAX_LAYERS] = {0}, n = 0;
    for (int j = i; j < s->n_params; j++) {
        int k = study_element(s->param[j].name, other, sizeof other);
        if (!p->present[j] || k < 0 || strcmp(other, base) != 0)
            continue;
        study_value_text(&s->param[j], p->value[j], val[k], sizeof val[k]);
        have[k] = 1;
        n = k + 1 > n ? k + 1 : n;
    }
    size_t o = (size_t)snprintf(list, cap, "[");
    for (int k = 0; k < n; k++) {
        if (!have[k] && !base_element(s, trial, base, k, val[k], sizeof val[k]))
            return pt_fail(err, PT_ERR_CONFIG,
                           "%s[%d] has no value: make it a parameter too, or give trial.%s", base,
                           k, base);
        o += (size_t)snprintf(list + o, cap - o, "%s%s", k ? "," : "", val[k]);
    }
    snprintf(list + o, cap - o, "]");
    return PT_OK;
}

/* The lists that element parameters ("key[k]") of point p make, added to root. */
static pt_status add_elements(const study_config *s, const study_point *p, cJSON *root, pt_err *err)
{
    cJSON *trial = NULL;
    pt_status st = PT_OK;
    for (int i = 0; st == PT_OK && i < s->n_params; i++) {
        char base[64], list[PT_MAX_LAYERS * 41 + 3];
        if (!p->present[i] || study_element(s->param[i].name, base, sizeof base) < 0 ||
            listed_before(s, p, i, base))
            continue;
        st = element_list(s, p, i, base, &trial, list, sizeof list, err);
        const char *name;
        cJSON *parent = st == PT_OK ? pt_json_section(root, base, &name) : NULL;
        cJSON *v = parent ? cJSON_CreateRaw(list) : NULL;
        if (st == PT_OK && (!v || !cJSON_AddItemToObject(parent, name, v))) {
            cJSON_Delete(v);
            st = pt_fail(err, PT_ERR_NOMEM, "study_trial_config: out of memory");
        }
    }
    cJSON_Delete(trial);
    return st;
}

pt_status study_trial_config(const study_config *s, const study_point *p, pt_config *out,
                             pt_err *err)
{
    if (!s || !p || !out)
        return pt_fail(err, PT_ERR_ARG, "study_trial_config: NULL argument");
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    char base[64];
    for (int i = 0; ok && i < s->n_params; i++) {
        const study_param *q = &s->param[i];
        if (!p->present[i] || study_element(q->name, base, sizeof base) >= 0)
            continue;
        char text[64];
        if (!study_value_text(q, p->value[i], text, sizeof text)) {
            cJSON_Delete(root);
            return pt_fail(err, PT_ERR_ARG, "%s: choice %.0f out of range", q->name, p->value[i]);
        }
        const char *name;
        cJSON *parent = pt_json_section(root, q->name, &name);
        cJSON *v = parent ? cJSON_CreateRaw(text) : NULL;
        ok = v && cJSON_AddItemToObject(parent, name, v);
        if (!ok)
            cJSON_Delete(v);
    }
    pt_status st = ok ? add_elements(s, p, root, err)
                      : pt_fail(err, PT_ERR_NOMEM, "study_trial_config: out of memory");
    char *json = st == PT_OK ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (st != PT_OK)
        return st;
    if (!json)
        return pt_fail(err, PT_ERR_NOMEM, "study_trial_config: out of memory");
    pt_config c = s->trial;
    st = pt_config_merge(&c, json, "trial", err);
    cJSON_free(json);
    if (st == PT_OK)
        *out = c;
    return st;
}
