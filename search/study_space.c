/*
 * study_space.c — the search space: parameters, their distributions and
 * conditions, the grid they span, and the two texts that leave the process
 * (Optuna's distribution JSON and the canonical space a resumed run is
 * compared against).
 *
 * A parameter's name is a train-config key and its values are handed to the
 * train parser, so validation asks that parser rather than repeating its
 * rules: each bound, each choice and, for a float, one value between the
 * bounds is merged into a copy of the study's base trial (pt_config_merge).
 * Bounds are enough for numbers because every train key's valid range is an
 * interval. Merging into the base (not the defaults) also catches a bound
 * that can never work with the rest of the trial (train.epochs below the
 * base's prune.end_epoch); a combination that only some sampled points break
 * is left to study_trial_config() at run time, where it fails that trial.
 *
 * The grid is the cartesian product with parameter 0 varying slowest. A
 * parameter whose condition is off is dropped from a point, so several grid
 * indices can stand for one effective point; the canonical one is where each
 * dropped parameter sits at its first value (study_grid_point), which
 * dedupes without storing anything.
 *
 * Why one file of ~630 lines: parameters, distributions, conditions and the grid share one
 * parser state; the two texts it prints must agree with what it parsed.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study_internal.h"

#define INT_PARAM_MAX 9007199254740991.0 /* 2^53 - 1: exact as a double */
#define GRID_MAX 1000000L                /* points the grid sampler will track */

static const char *const kind_names[] = {"float", "int", "categorical"};

/* Members of a parameter, by kind; param_paths lists their union. */
static const char *const float_keys[] = {"type", "low",  "high", "log",
                                         "step", "grid", "when", NULL};
static const char *const int_keys[] = {"type", "low", "high", "log", "step", "when", NULL};
static const char *const cat_keys[] = {"type", "choices", "when", NULL};
static const char *const param_paths[] = {
    "search_space.*.type", "search_space.*.low",  "search_space.*.high",    "search_space.*.log",
    "search_space.*.step", "search_space.*.grid", "search_space.*.choices", "search_space.*.when"};

const char *study_param_key(int i)
{
    return i >= 0 && i < (int)(sizeof param_paths / sizeof param_paths[0]) ? param_paths[i] : NULL;
}

/* ---- validation through the train parser --------------------------------- */

/* Whether the train parser accepts value_text for key over the base trial;
 * when not, its message is reported at path. An element key[k] is checked
 * as the whole list at that value, which tests its range (and is a little
 * stricter than needed where a layer too small for it is another one). */
static pt_status train_accepts(const study_ctx *x, const study_config *s, const char *key,
                               const char *value_text, const char *path)
{
    char *json = study_key_json(key, value_text);
    if (!json)
        return pt_fail(x->err, PT_ERR_NOMEM, "%s: out of memory", x->src);
    pt_config c = s->trial;
    pt_err inner;
    pt_status st = pt_config_merge(&c, json, STUDY_INNER_SRC, &inner);
    free(json);
    return st == PT_OK ? PT_OK : study_reframe(x, path, key, &inner, st);
}

/* Whether train key `key` takes a list (one number per layer). */
static int list_key(const char *key)
{
    char *json = study_key_json(key, "[]");
    pt_config c;
    pt_config_defaults(&c);
    pt_err inner;
    int ok = json && pt_config_merge(&c, json, STUDY_INNER_SRC, &inner) == PT_OK;
    free(json);
    return ok;
}

static pt_status check_name(const study_ctx *x, const char *name, const char *path)
{
    char base[sizeof(((study_param *)0)->name)];
    int k = study_element(name, base, sizeof base);
    for (int i = 0; pt_config_key(i); i++) {
        if (strcmp(pt_config_key(i), base) != 0 || !strcmp(base, "$schema"))
            continue;
        if (strlen(name) >= sizeof(((study_param *)0)->name))
            return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: name too long", x->src, path);
        if (k >= PT_MAX_LAYERS || (k >= 0 && !list_key(base)))
            return pt_fail(x->err, PT_ERR_CONFIG,
                           "%s: %s: an element KEY[k] needs a key that takes one number per "
                           "layer (such as prune.layer_sparsity) and k < %d",
                           x->src, path, PT_MAX_LAYERS);
        return PT_OK;
    }
    /* Not a key: the train parser's "unknown key (did you mean ...)" says
     * which one was meant. */
    char *json = study_key_json(name, "0");
    if (!json)
        return pt_fail(x->err, PT_ERR_NOMEM, "%s: out of memory", x->src);
    pt_config c;
    pt_config_defaults(&c);
    pt_err inner;
    pt_status st = pt_config_merge(&c, json, STUDY_INNER_SRC, &inner);
    free(json);
    if (st != PT_OK && strstr(inner.msg, "unknown key"))
        return study_reframe(x, path, name, &inner, PT_ERR_CONFIG);
    cJSON *got = cJSON_CreateString(name);
    st = study_expected(x, path, "a train config key such as \"reg.l2\"", got);
    cJSON_Delete(got);
    return st;
}

/* ---- one parameter ------------------------------------------------------ */

static pt_status get_bound(const study_ctx *x, const cJSON *spec, const char *path, const char *key,
                           int integer, double *out)
{
    char at[256];
    snprintf(at, sizeof at, "%s.%s", path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    int ok = cJSON_IsNumber(v) && isfinite(v->valuedouble);
    if (integer)
        ok = ok && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) <= INT_PARAM_MAX;
    if (!ok)
        return study_expected(x, at, integer ? "an integer" : "a number", v);
    *out = v->valuedouble;
    return PT_OK;
}

static pt_status parse_numeric(const study_ctx *x, const study_config *s, study_param *q,
                               const cJSON *spec, const char *path)
{
    int integer = q->kind == PARAM_INT;
    char at[256], lo[40], hi[40];
    pt_status st;
    if ((st = get_bound(x, spec, path, "low", integer, &q->low)) != PT_OK ||
        (st = get_bound(x, spec, path, "high", integer, &q->high)) != PT_OK)
        return st;
    pt_fmt_double(lo, sizeof lo, q->low);
    pt_fmt_double(hi, sizeof hi, q->high);
    if (q->high <= q->low)
        return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s.high: must be > low (got %s <= %s)", x->src,
                       path, hi, lo);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, "log");
    snprintf(at, sizeof at, "%s.log", path);
    if (v && !cJSON_IsBool(v))
        return study_expected(x, at, "true or false", v);
    q->log = cJSON_IsTrue(v);
    snprintf(at, sizeof at, "%s.low", path);
    if (q->log && (integer ? q->low < 1 : q->low <= 0))
        return study_expected(
            x, at, integer ? "an integer >= 1 when log is true" : "a number > 0 when log is true",
            cJSON_GetObjectItemCaseSensitive(spec, "low"));
    v = cJSON_GetObjectItemCaseSensitive(spec, "step");
    snprintf(at, sizeof at, "%s.step", path);
    q->step = integer ? 1 : 0;
    if (v) {
        if (integer ? !(cJSON_IsNumber(v) && v->valuedouble >= 1 &&
                        v->valuedouble == floor(v->valuedouble) && v->valuedouble <= INT_PARAM_MAX)
                    : !(cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble > 0))
            return study_expected(x, at, integer ? "an integer >= 1" : "a number > 0", v);
        if (q->log && v->valuedouble != (integer ? 1 : 0))
            return study_expected(
                x, at, integer ? "1 (or no step) when log is true" : "no step when log is true", v);
        q->step = v->valuedouble;
        double k = (q->high - q->low) / q->step;
        if (fabs(k - round(k)) > 1e-9 * fmax(1, k))
            return study_expected(x, at, "a step that divides high - low", v);
    }
    /* Both bounds, and for a float one value between them: an integer key
     * accepts 1 and 10 but not the 4.4 a float parameter would propose. */
    snprintf(at, sizeof at, "%s.low", path);
    if ((st = train_accepts(x, s, q->name, lo, at)) != PT_OK)
        return st;
    snprintf(at, sizeof at, "%s.high", path);
    if ((st = train_accepts(x, s, q->name, hi, at)) != PT_OK)
        return st;
    if (!integer && q->step == 0) {
        char mid[40];
        double m = q->low + (q->high - q->low) * 0.3819660112501051;
        pt_fmt_double(mid, sizeof mid, m);
        snprintf(at, sizeof at, "%s.type", path);
        if (m != floor(m) && train_accepts(x, s, q->name, mid, at) != PT_OK)
            return pt_fail(x->err, PT_ERR_CONFIG,
                           "%s: %s: expected \"int\" or \"categorical\" for this key, which takes "
                           "integers (got \"float\")",
                           x->src, at);
    }
    return PT_OK;
}

static pt_status parse_grid(const study_ctx *x, study_param *q, const cJSON *spec, const char *path)
{
    char at[256];
    snprintf(at, sizeof at, "%s.grid", path);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, "grid");
    if (!v)
        return PT_OK;
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    if (n < 1 || n > STUDY_MAX_CHOICES)
        return study_expected(x, at, "an array of 1 to 32 numbers", v);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char el[320], what[128], lo[40], hi[40];
        snprintf(el, sizeof el, "%s[%d]", at, i);
        pt_fmt_double(lo, sizeof lo, q->low);
        pt_fmt_double(hi, sizeof hi, q->high);
        snprintf(what, sizeof what, "a number >= %s and <= %s", lo, hi);
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= q->low && e->valuedouble <= q->high))
            return study_expected(x, el, what, e);
        for (int j = 0; j < i; j++)
            if (q->grid[j] == e->valuedouble)
                return study_expected(x, el, "a value not already in the grid", e);
        q->grid[i] = e->valuedouble;
    }
    q->n_grid = n;
    return PT_OK;
}

/* A choice as the JSON text Python's json.dumps writes for it. */
static int choice_text(const cJSON *e, char *buf, size_t n)
{
    if (cJSON_IsString(e))
        return study_py_string(buf, n, e->valuestring);
    if (cJSON_IsBool(e))
        return snprintf(buf, n, "%s", cJSON_IsTrue(e) ? "true" : "false") < (int)n;
    if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
        return 0;
    double d = e->valuedouble;
    if (d == floor(d) && fabs(d) <= INT_PARAM_MAX) /* json.loads: an int */
        snprintf(buf, n, "%.0f", d);
    else
        study_py_float(buf, n, d);
    return 1;
}

static pt_status parse_choices(const study_ctx *x, const study_config *s, study_param *q,
                               const cJSON *spec, const char *path)
{
    char at[256];
    snprintf(at, sizeof at, "%s.choices", path);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, "choices");
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    if (n < 1 || n > STUDY_MAX_CHOICES)
        return study_expected(x, at, "an array of 1 to 32 choices", v);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char el[320];
        snprintf(el, sizeof el, "%s[%d]", at, i);
        if (!choice_text(e, q->choices[i], sizeof q->choices[i]))
            return study_expected(x, el, "a string, number or boolean of at most 63 bytes as JSON",
                                  e);
        for (int j = 0; j < i; j++)
            if (!strcmp(q->choices[j], q->choices[i]))
                return study_expected(x, el, "a value not already a choice", e);
        pt_status st = train_accepts(x, s, q->name, q->choices[i], el);
        if (st != PT_OK)
            return st;
    }
    q->n_choices = n;
    return PT_OK;
}

/* "when": {"earlier.categorical.param": [choice, ...]}. */
static pt_status parse_when(const study_ctx *x, study_config *s, int i, const cJSON *spec,
                            const char *path)
{
    study_param *q = &s->param[i];
    q->cond = -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, "when");
    if (!v)
        return PT_OK;
    char at[256], el[320];
    snprintf(at, sizeof at, "%s.when", path);
    if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) != 1)
        return study_expected(x, at, "an object {\"parameter\": [values]} naming one parameter", v);
    const cJSON *m = v->child;
    for (int j = 0; j < i; j++)
        if (!strcmp(s->param[j].name, m->string))
            q->cond = j;
    cJSON *name = cJSON_CreateString(m->string);
    pt_status st = PT_OK;
    if (q->cond < 0)
        st = study_expected(x, at, "the name of a parameter listed before this one", name);
    else if (s->param[q->cond].kind != PARAM_CAT)
        st = study_expected(x, at, "the name of a categorical parameter", name);
    cJSON_Delete(name);
    if (st != PT_OK)
        return st;
    const study_param *c = &s->param[q->cond];
    snprintf(at, sizeof at, "%s.when.%s", path, c->name);
    int n = cJSON_IsArray(m) ? cJSON_GetArraySize(m) : 0;
    if (n < 1 || n > STUDY_MAX_CHOICES)
        return study_expected(x, at, "an array of 1 to 32 of its choices", m);
    int k = 0;
    for (const cJSON *e = m->child; e; e = e->next, k++) {
        char text[64];
        snprintf(el, sizeof el, "%s[%d]", at, k);
        int idx = -1;
        if (choice_text(e, text, sizeof text))
            for (int j = 0; j < c->n_choices; j++)
                if (!strcmp(c->choices[j], text))
                    idx = j;
        char what[128];
        snprintf(what, sizeof what, "one of %s's choices", c->name);
        if (idx < 0)
            return study_expected(x, el, what, e);
        for (int j = 0; j < k; j++)
            if (q->when[j] == idx)
                return study_expected(x, el, "a value not already listed", e);
        q->when[k] = idx;
    }
    q->n_when = n;
    return PT_OK;
}

static pt_status parse_param(const study_ctx *x, study_config *s, int i, const cJSON *spec)
{
    static const char *const *const keys_of[] = {float_keys, int_keys, cat_keys};
    study_param *q = &s->param[i];
    char path[128], at[256];
    snprintf(path, sizeof path, "search_space.%.100s", spec->string);
    pt_status st = check_name(x, spec->string, path);
    if (st != PT_OK)
        return st;
    snprintf(q->name, sizeof q->name, "%s", spec->string);
    if (!cJSON_IsObject(spec))
        return study_expected(x, path, "an object {\"type\": ..., ...}", spec);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(spec, "type");
    snprintf(at, sizeof at, "%s.type", path);
    int kind = -1;
    for (int k = 0; k < 3 && cJSON_IsString(type); k++)
        if (!strcmp(type->valuestring, kind_names[k]))
            kind = k;
    if (kind < 0)
        return study_expected(x, at, "one of \"float\", \"int\", \"categorical\"", type);
    q->kind = (param_kind)kind;
    /* A key of another kind ("choices" on a float) gets a sharper message
     * than "unknown key". */
    for (const cJSON *m = spec->child; m; m = m->next) {
        int mine = 0, known = 0;
        for (const char *const *k = keys_of[kind]; *k; k++)
            mine |= !strcmp(*k, m->string);
        for (int k = 0; study_param_key(k); k++)
            known |= !strcmp(study_param_key(k) + strlen("search_space.*."), m->string);
        if (known && !mine)
            return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s.%s: not a key of a%s %s parameter",
                           x->src, path, m->string, kind == PARAM_INT ? "n" : "", kind_names[kind]);
    }
    if ((st = study_check_members(x, spec, path, keys_of[kind])) != PT_OK)
        return st;
    if (q->kind == PARAM_CAT)
        st = parse_choices(x, s, q, spec, path);
    else
        st = parse_numeric(x, s, q, spec, path);
    if (st == PT_OK && q->kind == PARAM_FLOAT)
        st = parse_grid(x, q, spec, path);
    if (st == PT_OK)
        st = parse_when(x, s, i, spec, path);
    if (st == PT_OK && s->sampler == SAMPLER_GRID && q->kind == PARAM_FLOAT && q->n_grid == 0) {
        snprintf(at, sizeof at, "%s.grid", path);
        return study_expected(x, at, "the list of values the grid sampler tries", NULL);
    }
    return st;
}

pt_status study_parse_space(const study_ctx *x, study_config *s, const cJSON *space)
{
    int n = cJSON_IsObject(space) ? cJSON_GetArraySize(space) : 0;
    if (n < 1 || n > STUDY_MAX_PARAMS)
        return study_expected(x, "search_space",
                              "an object of 1 to 32 parameters {\"train.key\": {\"type\": ...}}",
                              space);
    int i = 0;
    for (const cJSON *m = space->child; m; m = m->next, i++) {
        for (const cJSON *p = space->child; p != m; p = p->next)
            if (!strcmp(p->string, m->string))
                return pt_fail(x->err, PT_ERR_CONFIG, "%s: search_space.%s: duplicate key", x->src,
                               m->string);
        s->n_params = i + 1;
        pt_status st = parse_param(x, s, i, m);
        if (st != PT_OK)
            return st;
    }
    if (s->sampler == SAMPLER_GRID && study_grid_size(s) > GRID_MAX) {
        char got[32];
        snprintf(got, sizeof got, "%ld", study_grid_size(s));
        return pt_fail(x->err, PT_ERR_CONFIG,
                       "%s: search_space: expected a grid of at most %ld points (got %s)", x->src,
                       GRID_MAX, got);
    }
    return PT_OK;
}

/* ---- texts that leave the process --------------------------------------- */

static cJSON *num(double v)
{
    char buf[40];
    pt_fmt_double(buf, sizeof buf, v);
    return cJSON_CreateRaw(buf);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const study_param *const *)a)->name, (*(const study_param *const *)b)->name);
}

/* One parameter, keys in alphabetical order, defaults spelled out: two
 * spellings of the same space give the same text. */
static cJSON *param_canonical(const study_config *s, const study_param *q)
{
    cJSON *o = cJSON_CreateObject();
    if (q->kind == PARAM_CAT) {
        cJSON *c = cJSON_AddArrayToObject(o, "choices");
        for (int i = 0; c && i < q->n_choices; i++)
            cJSON_AddItemToArray(c, cJSON_CreateRaw(q->choices[i]));
    } else {
        if (q->n_grid > 0) {
            cJSON *g = cJSON_AddArrayToObject(o, "grid");
            for (int i = 0; g && i < q->n_grid; i++)
                cJSON_AddItemToArray(g, num(q->grid[i]));
        }
        cJSON_AddItemToObject(o, "high", num(q->high));
        cJSON_AddBoolToObject(o, "log", q->log);
        cJSON_AddItemToObject(o, "low", num(q->low));
        if (q->step > 0)
            cJSON_AddItemToObject(o, "step", num(q->step));
    }
    cJSON_AddStringToObject(o, "type", kind_names[q->kind]);
    if (q->cond >= 0) {
        const study_param *c = &s->param[q->cond];
        cJSON *w = cJSON_AddObjectToObject(o, "when");
        cJSON *vals = w ? cJSON_AddArrayToObject(w, c->name) : NULL;
        for (int j = 0; vals && j < c->n_choices; j++) /* choice order, not listing order */
            for (int k = 0; k < q->n_when; k++)
                if (q->when[k] == j)
                    cJSON_AddItemToArray(vals, cJSON_CreateRaw(c->choices[j]));
    }
    return o;
}

char *study_space_canonical(const study_config *s)
{
    const study_param *sorted[STUDY_MAX_PARAMS];
    for (int i = 0; i < s->n_params; i++)
        sorted[i] = &s->param[i];
    qsort(sorted, (size_t)s->n_params, sizeof sorted[0], by_name);
    cJSON *root = cJSON_CreateObject();
    cJSON *objs = cJSON_AddArrayToObject(root, "objectives");
    for (int i = 0; objs && i < s->n_objectives; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "direction",
                                s->obj[i].dir == DIR_MINIMIZE ? "minimize" : "maximize");
        cJSON_AddStringToObject(o, "name", s->obj[i].name);
        cJSON_AddItemToArray(objs, o);
    }
    /* Only when given, so studies without constraints keep their stored text;
     * changed constraints would make the stored feasibility of earlier trials
     * wrong, so resume refuses them as it refuses a changed space. */
    cJSON *cons = s->n_constraints ? cJSON_AddArrayToObject(root, "constraints") : NULL;
    for (int i = 0; cons && i < s->n_constraints; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "metric", s->con[i].metric);
        if (s->con[i].has_min)
            cJSON_AddNumberToObject(o, "min", s->con[i].min);
        if (s->con[i].has_max)
            cJSON_AddNumberToObject(o, "max", s->con[i].max);
        cJSON_AddItemToArray(cons, o);
    }
    cJSON *space = cJSON_AddObjectToObject(root, "search_space");
    for (int i = 0; space && i < s->n_params; i++)
        cJSON_AddItemToObject(space, sorted[i]->name, param_canonical(s, sorted[i]));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

const char *study_distribution_json(const study_param *p, char *buf, size_t cap)
{
    char lo[40], hi[40], st[40];
    if (!buf || cap == 0)
        return buf;
    /* json.dumps({"name": cls, "attributes": dist._asdict()}), attribute
     * order as Optuna 3.1's __init__ sets them. */
    if (p->kind == PARAM_FLOAT) {
        study_py_float(lo, sizeof lo, p->low);
        study_py_float(hi, sizeof hi, p->high);
        if (p->step > 0)
            study_py_float(st, sizeof st, p->step);
        else
            snprintf(st, sizeof st, "null");
        snprintf(buf, cap,
                 "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": %s, \"low\": %s, "
                 "\"high\": %s, \"log\": %s}}",
                 st, lo, hi, p->log ? "true" : "false");
    } else if (p->kind == PARAM_INT) {
        snprintf(buf, cap,
                 "{\"name\": \"IntDistribution\", \"attributes\": {\"log\": %s, \"step\": %.0f, "
                 "\"low\": %.0f, \"high\": %.0f}}",
                 p->log ? "true" : "false", p->step > 0 ? p->step : 1, p->low, p->high);
    } else {
        int o = snprintf(buf, cap,
                         "{\"name\": \"CategoricalDistribution\", \"attributes\": {\"choices\": [");
        for (int i = 0; i < p->n_choices && o >= 0 && (size_t)o < cap; i++)
            o += snprintf(buf + o, cap - (size_t)o, "%s%s", i ? ", " : "", p->choices[i]);
        if (o >= 0 && (size_t)o < cap)
            snprintf(buf + o, cap - (size_t)o, "]}}");
    }
    return buf;
}

/* ---- the grid ----------------------------------------------------------- */

static long grid_count(const study_param *q)
{
    if (q->kind == PARAM_CAT)
        return q->n_choices;
    if (q->kind == PARAM_FLOAT)
        return q->n_grid;
    return (long)llround((q->high - q->low) / q->step) + 1;
}

long study_grid_size(const study_config *s)
{
    long n = 1;
    for (int i = 0; s && i < s->n_params; i++) {
        long c = grid_count(&s->param[i]);
        if (c <= 0)
            return 0;
        n = n > LONG_MAX / c ? LONG_MAX : n * c;
    }
    return n;
}

int study_param_contains(const study_param *q, double v)
{
    if (q->kind == PARAM_CAT)
        return v >= 0 && v < q->n_choices && v == floor(v);
    if (!(v >= q->low && v <= q->high))
        return 0;
    if (q->kind == PARAM_INT)
        return v == floor(v) && fmod(v - q->low, q->step > 0 ? q->step : 1) == 0;
    if (q->step > 0) {
        double k = (v - q->low) / q->step;
        return fabs(k - round(k)) < 1e-8;
    }
    return 1;
}

int study_param_active(const study_config *s, const study_point *p, int i)
{
    const study_param *q = &s->param[i];
    if (q->cond < 0)
        return 1;
    if (!p->present[q->cond])
        return 0;
    for (int k = 0; k < q->n_when; k++)
        if ((int)p->value[q->cond] == q->when[k])
            return 1;
    return 0;
}

int study_grid_point(const study_config *s, long index, study_point *out)
{
    long coord[STUDY_MAX_PARAMS];
    memset(out, 0, sizeof *out);
    for (int i = s->n_params - 1; i >= 0; i--) {
        long c = grid_count(&s->param[i]);
        coord[i] = index % c;
        index /= c;
    }
    int canonical = 1;
    for (int i = 0; i < s->n_params; i++) {
        const study_param *q = &s->param[i];
        out->present[i] = study_param_active(s, out, i);
        if (!out->present[i]) {
            canonical &= coord[i] == 0;
            continue;
        }
        out->value[i] = q->kind == PARAM_CAT   ? (double)coord[i]
                        : q->kind == PARAM_INT ? q->low + (double)coord[i] * q->step
                                               : q->grid[coord[i]];
    }
    return canonical;
}

long study_grid_index(const study_config *s, const study_point *p)
{
    long index = 0;
    for (int i = 0; i < s->n_params; i++) {
        const study_param *q = &s->param[i];
        long c = grid_count(q), k = -1;
        if (c <= 0 || p->present[i] != study_param_active(s, p, i))
            return -1;
        double v = p->value[i];
        if (!p->present[i])
            k = 0;
        else if (q->kind == PARAM_CAT)
            k = v == floor(v) && v >= 0 && v < c ? (long)v : -1;
        else if (q->kind == PARAM_INT)
            k = fmod(v - q->low, q->step) == 0 && v >= q->low && v <= q->high
                    ? (long)llround((v - q->low) / q->step)
                    : -1;
        else
            for (int j = 0; j < q->n_grid; j++)
                if (q->grid[j] == v)
                    k = j;
        if (k < 0)
            return -1;
        index = index * c + k;
    }
    return index;
}

long study_grid_effective_size(const study_config *s)
{
    long n = study_grid_size(s), distinct = 0;
    if (n > GRID_MAX)
        return n; /* too many to walk; only the grid sampler needs it exact */
    study_point p;
    for (long i = 0; i < n; i++)
        distinct += study_grid_point(s, i, &p);
    return distinct;
}
