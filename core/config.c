/*
 * config.c — the trial config: one parser, the rules between keys, one
 * printer.
 *
 * Both directions are driven by the key table of config_keys.c, so neither
 * names a key of its own: the parser looks each JSON member up by its full
 * path and writes it through the row's offset, and pt_config_to_json() walks
 * the rows to print every key. Only check_across() names keys, for the rules
 * that tie several together, which no single row can state.
 *
 * Parsing fills a local copy that starts from the defaults and is handed back
 * only when the whole text was accepted, so a failed parse leaves the caller's
 * config untouched. Errors stop at the first bad key, in document order.
 */
#include "config.h"

#include "config_keys.h"
#include "jsontext.h"
#include "netspec.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ------------------------------------------------------------ */

typedef struct {
    pt_config *c; /* the copy being filled */
    const char *src;
    pt_err *err;
} parse_ctx;

static pt_status expected(const parse_ctx *x, const char *path, const char *what, const cJSON *v)
{
    char got[64];
    pt_json_got(v, got, sizeof got);
    if (!*path)
        return pt_fail(x->err, PT_ERR_CONFIG, "%s: expected %s (got %s)", x->src, what, got);
    return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: expected %s (got %s)", x->src, path, what, got);
}

static pt_status expected_key(const parse_ctx *x, const char *path, const pt_key_def *k,
                              const cJSON *v)
{
    char what[160];
    pt_key_describe(k, what, sizeof what);
    return expected(x, path, what, v);
}

/* Element i (v) of key k's array is ill-typed or out of range. */
static pt_status expected_element(const parse_ctx *x, const pt_key_def *k, int i, const cJSON *v)
{
    char path[64], what[160];
    snprintf(path, sizeof path, "%s[%d]", k->path, i);
    pt_key_describe_element(k, what, sizeof what);
    return expected(x, path, what, v);
}

static int in_bounds(const pt_key_def *k, double v)
{
    if (k->lo_kind == PT_BOUND_INCL ? v < k->lo : k->lo_kind == PT_BOUND_EXCL ? v <= k->lo : 0)
        return 0;
    if (k->hi_kind == PT_BOUND_INCL ? v > k->hi : k->hi_kind == PT_BOUND_EXCL ? v >= k->hi : 0)
        return 0;
    return 1;
}

static int is_integral(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
}

static int is_int_in(const pt_key_def *k, const cJSON *v)
{
    return is_integral(v) && v->valuedouble >= INT_MIN && v->valuedouble <= INT_MAX &&
           in_bounds(k, v->valuedouble);
}

static pt_status set_hidden(const parse_ctx *x, const pt_key_def *k, const cJSON *v)
{
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > (int)k->size)
        return expected_key(x, k->path, k, v);
    int *count = (int *)((char *)x->c + k->off), *arr = (int *)((char *)x->c + k->off2);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!is_int_in(k, e))
            return expected_element(x, k, i, e);
        arr[i] = (int)e->valuedouble;
    }
    *count = i;
    return PT_OK;
}

static pt_status set_layers(const parse_ctx *x, const pt_key_def *k, const cJSON *v)
{
    pt_layer_values *lv = (pt_layer_values *)((char *)x->c + k->off);
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && in_bounds(k, v->valuedouble)) {
        lv->n = -1;
        lv->v[0] = v->valuedouble;
        return PT_OK;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > (int)k->size)
        return expected_key(x, k->path, k, v);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || !in_bounds(k, e->valuedouble))
            return expected_element(x, k, i, e);
        lv->v[i] = e->valuedouble;
    }
    lv->n = i;
    return PT_OK;
}

/* [[epoch, value], ...]: epochs integers, strictly increasing, >= 0; each
 * value within the row's bounds. The whole list is replaced (a merge gives
 * a new schedule, never a mix of two). */
static pt_status set_schedule(const parse_ctx *x, const pt_key_def *k, const cJSON *v)
{
    pt_hp_schedule *s = (pt_hp_schedule *)((char *)x->c + k->off);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > PT_SCHEDULE_MAX)
        return expected_key(x, k->path, k, v);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        const cJSON *ep = cJSON_GetArrayItem(e, 0), *val = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !is_integral(ep) ||
            ep->valuedouble < 0 || ep->valuedouble > 1000000 ||
            (i > 0 && ep->valuedouble <= s->epoch[i - 1]) || !cJSON_IsNumber(val) ||
            !isfinite(val->valuedouble) || !in_bounds(k, val->valuedouble))
            return expected_key(x, k->path, k, v);
        s->epoch[i] = (int)ep->valuedouble;
        s->value[i] = val->valuedouble;
    }
    s->n = i;
    return PT_OK;
}

static const pt_enum_name *find_name(const pt_enum_name *names, const char *s)
{
    for (; names->name; names++)
        if (!strcmp(names->name, s))
            return names;
    return NULL;
}

static pt_status set_value(const parse_ctx *x, const pt_key_def *k, const cJSON *v)
{
    char *field = (char *)x->c + k->off;
    const pt_enum_name *e;
    switch (k->type) {
    case PT_KEY_NUM:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || !in_bounds(k, v->valuedouble))
            break;
        *(double *)field = v->valuedouble;
        return PT_OK;
    case PT_KEY_INT:
        if (!is_int_in(k, v))
            break;
        *(int *)field = (int)v->valuedouble;
        return PT_OK;
    case PT_KEY_SEED:
        if (!is_integral(v) || !in_bounds(k, v->valuedouble))
            break;
        *(uint64_t *)field = (uint64_t)v->valuedouble;
        return PT_OK;
    case PT_KEY_BOOL:
        if (!cJSON_IsBool(v))
            break;
        *(int *)field = cJSON_IsTrue(v) ? 1 : 0;
        return PT_OK;
    case PT_KEY_STR:
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= k->size)
            break;
        memcpy(field, v->valuestring, strlen(v->valuestring) + 1);
        return PT_OK;
    case PT_KEY_ENUM:
        if (!cJSON_IsString(v) || !(e = find_name(k->names, v->valuestring)))
            break;
        *(int *)field = e->value;
        return PT_OK;
    case PT_KEY_HIDDEN:
        return set_hidden(x, k, v);
    case PT_KEY_LAYERS:
        return set_layers(x, k, v);
    case PT_KEY_LABEL:
        if (cJSON_IsString(v) && strlen(v->valuestring) < k->size) {
            memcpy(field, v->valuestring, strlen(v->valuestring) + 1);
            *(int *)((char *)x->c + k->off2) = -1;
            return PT_OK;
        }
        if (!is_int_in(k, v))
            break;
        field[0] = '\0';
        *(int *)((char *)x->c + k->off2) = (int)v->valuedouble;
        return PT_OK;
    case PT_KEY_HEADER:
        if (cJSON_IsBool(v))
            *(int *)field = cJSON_IsTrue(v) ? 1 : 0;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "auto"))
            *(int *)field = -1;
        else
            break;
        return PT_OK;
    case PT_KEY_IGNORE:
        if (!cJSON_IsString(v))
            break;
        return PT_OK;
    case PT_KEY_NET:
        return pt_net_layers_parse((pt_net_config *)field, v, x->src, x->err);
    case PT_KEY_SCHED:
        return set_schedule(x, k, v);
    }
    return expected_key(x, k->path, k, v);
}

/* A section is any proper prefix "a" of a key path "a.b". */
static int is_section(const char *path)
{
    size_t n = strlen(path);
    const pt_key_def *k;
    for (int i = 0; (k = pt_key_at(i)); i++)
        if (!strncmp(k->path, path, n) && k->path[n] == '.')
            return 1;
    return 0;
}

/* How close candidate path cand (cand_len bytes) is to the unknown path, or
 * INT_MAX when too far to suggest. Same section: a name within edit distance
 * 2 (and shorter than the name), or a prefix of it of at least 3 bytes; any
 * other section: the very same name ("lr" -> "train.lr"). */
static int closeness(const char *path, const char *cand, size_t cand_len)
{
    char c[64];
    if (cand_len >= sizeof c)
        return INT_MAX;
    memcpy(c, cand, cand_len);
    c[cand_len] = '\0';
    const char *pdot = strrchr(path, '.'), *cdot = strrchr(c, '.');
    const char *pname = pdot ? pdot + 1 : path, *cname = cdot ? cdot + 1 : c;
    size_t plen = (size_t)(pname - path), clen = (size_t)(cname - c);
    if (plen == clen && !strncmp(path, c, plen)) {
        int d = pt_name_distance(pname, cname);
        if (d <= 2 && d < (int)strlen(pname))
            return d;
        if (strlen(pname) >= 3 && !strncmp(pname, cname, strlen(pname)))
            return 2;
        return INT_MAX;
    }
    return !strcmp(pname, cname) ? 3 : INT_MAX;
}

static pt_status unknown_key(const parse_ctx *x, const char *path)
{
    const char *best = NULL;
    size_t best_len = 0;
    int best_score = INT_MAX;
    const pt_key_def *k;
    for (int i = 0; (k = pt_key_at(i)); i++) {
        const char *p = k->path;
        for (const char *end = p;; end++) { /* each section prefix, then the key */
            if (*end != '.' && *end != '\0')
                continue;
            int s = closeness(path, p, (size_t)(end - p));
            if (s < best_score) {
                best_score = s;
                best = p;
                best_len = (size_t)(end - p);
            }
            if (!*end)
                break;
        }
    }
    if (!best)
        return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: unknown key", x->src, path);
    return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: unknown key (did you mean '%.*s'?)", x->src,
                   path, (int)best_len, best);
}

static pt_status parse_object(const parse_ctx *x, const cJSON *obj, const char *prefix)
{
    for (const cJSON *m = obj->child; m; m = m->next) {
        char path[128];
        int n = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", m->string);
        if (n < 0 || (size_t)n >= sizeof path)
            return pt_fail(x->err, PT_ERR_CONFIG, "%s: %.60s...: unknown key", x->src, path);
        for (const cJSON *p = obj->child; p != m; p = p->next)
            if (!strcmp(p->string, m->string))
                return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: duplicate key", x->src, path);
        const pt_key_def *k = pt_key_find(path);
        pt_status st;
        if (k)
            st = set_value(x, k, m);
        else if (!is_section(path))
            st = unknown_key(x, path);
        else if (!cJSON_IsObject(m))
            st = expected(x, path, "an object", m);
        else
            st = parse_object(x, m, path);
        if (st != PT_OK)
            return st;
    }
    return PT_OK;
}

/* Constraints between keys, which no single row can state. */
static pt_status cross_error(const parse_ctx *x, const char *key, const char *what, double got)
{
    char g[32];
    pt_fmt_double(g, sizeof g, got);
    return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: expected %s (got %s)", x->src, key, what, g);
}

/* Rules that tie keys together; each error names the key to change. */
static pt_status check_across(const parse_ctx *x)
{
    const pt_config *c = x->c;
    const pt_train_config *t = &c->train;
    const pt_prune_config *p = &c->prune;
    char what[128];
    /* Zero epochs trains nothing: only a pre-trained start has weights worth
     * evaluating (or pruning at once) without training. */
    if (t->epochs < 1 && !c->net.init[0])
        return cross_error(x, "train.epochs", "an integer >= 1 (0 only with net.init)", t->epochs);
    if (t->lr_schedule == PT_LR_COSINE && t->min_lr >= t->lr)
        return cross_error(x, "train.min_lr", "a number < train.lr", t->min_lr);
    int width[PT_MAX_LAYERS], is_conv[PT_MAX_LAYERS], n_conv = 0;
    int nh = pt_net_hidden(&c->net, width, is_conv);
    for (int l = 0; l < nh; l++)
        n_conv += is_conv[l];
    if (c->data.n_shape != 0 && c->data.n_shape != 3)
        return cross_error(x, "data.shape", "3 integers (C, H, W) or []", c->data.n_shape);
    if (c->reg.dropout.n > nh - n_conv) {
        snprintf(what, sizeof what, "at most %d rates, one per hidden %slayer", nh - n_conv,
                 c->net.n_layers ? "dense " : "");
        return cross_error(x, "reg.dropout", what, c->reg.dropout.n);
    }
    if (c->reg.l2_layers.n > 0 && c->reg.l2_layers.n != nh + 1) {
        snprintf(what, sizeof what, "%d strengths, one per weight layer", nh + 1);
        return cross_error(x, "reg.l2_layers", what, c->reg.l2_layers.n);
    }
    /* A continued run (train.h) knows where a none or gradual schedule
     * stands at any epoch from the epoch alone; a oneshot or iterative one
     * would also need its phase and rewind weights. */
    int total = t->epochs; /* none and gradual train exactly train.epochs */
    if ((t->first_epoch > 0 || t->stop_epoch > 0) && p->schedule != PT_PRUNE_NONE &&
        p->schedule != PT_PRUNE_GRADUAL)
        return pt_fail(x->err, PT_ERR_CONFIG,
                       "%s: train.first_epoch/train.stop_epoch: only with prune.schedule \"none\" "
                       "or \"gradual\"",
                       x->src);
    if (t->first_epoch > 0 && !c->net.init[0])
        return cross_error(x, "train.first_epoch", "0 without net.init (the weights to continue)",
                           t->first_epoch);
    if (t->first_epoch > 0 && t->first_epoch >= total)
        return cross_error(x, "train.first_epoch", "an epoch < train.epochs", t->first_epoch);
    if (t->stop_epoch > 0 && (t->stop_epoch <= t->first_epoch || t->stop_epoch > total))
        return cross_error(x, "train.stop_epoch",
                           "0 or an epoch count > train.first_epoch and <= train.epochs",
                           t->stop_epoch);
    /* Only gradual pruning has a target that can move between its events;
     * a one-shot or iterative schedule prunes to one fixed plan. */
    if (c->schedule.sparsity.n > 0 && p->schedule != PT_PRUNE_GRADUAL)
        return pt_fail(x->err, PT_ERR_CONFIG,
                       "%s: schedule.sparsity: only with prune.schedule \"gradual\" (a moving "
                       "target)",
                       x->src);
    if (p->schedule == PT_PRUNE_NONE)
        return PT_OK;
    if (p->schedule == PT_PRUNE_GRADUAL) {
        if (p->end_epoch > t->epochs)
            return cross_error(x, "prune.end_epoch", "a number <= train.epochs", p->end_epoch);
        if (p->start_epoch >= p->end_epoch)
            return cross_error(x, "prune.start_epoch", "a number < prune.end_epoch",
                               p->start_epoch);
        if (p->initial_sparsity > p->sparsity)
            return cross_error(x, "prune.initial_sparsity", "a number <= prune.sparsity",
                               p->initial_sparsity);
    }
    if (p->schedule == PT_PRUNE_ITERATIVE && p->rewind_epoch > t->epochs)
        return cross_error(x, "prune.rewind_epoch", "an epoch <= train.epochs", p->rewind_epoch);
    const pt_layer_values *ls = &p->layer_sparsity;
    if (ls->n != 0 && p->granularity == PT_GRAN_GLOBAL)
        return pt_fail(x->err, PT_ERR_CONFIG,
                       "%s: prune.layer_sparsity: not with prune.granularity \"global\" (one "
                       "threshold for all layers); use \"layer\"",
                       x->src);
    if (ls->n != 0 && !(p->sparsity > 0))
        return cross_error(x, "prune.sparsity",
                           "a number > 0 (the schedule runs on it with prune.layer_sparsity)",
                           p->sparsity);
    /* The layers prune.layer_sparsity lists (as pt_prune_to counts them). */
    int pruned = nh + (p->prune_output ? 1 : 0);
    const char *per = "pruned weight layer";
    if (p->granularity == PT_GRAN_FILTER) {
        pruned = n_conv;
        per = "conv layer";
    } else if (p->granularity == PT_GRAN_NEURON) {
        pruned = nh;
        per = "hidden layer";
    }
    if (ls->n > 0 && ls->n != pruned) {
        snprintf(what, sizeof what, "%d fractions, one per %s", pruned, per);
        return cross_error(x, "prune.layer_sparsity", what, ls->n);
    }
    if (p->granularity == PT_GRAN_FILTER && n_conv == 0)
        return pt_fail(x->err, PT_ERR_CONFIG,
                       "%s: prune.granularity: \"filter\" needs a conv2d layer in net.layers",
                       x->src);
    if (p->granularity == PT_GRAN_NEURON || p->granularity == PT_GRAN_FILTER) {
        if (nh == 0)
            return pt_fail(
                x->err, PT_ERR_CONFIG,
                "%s: prune.granularity: \"neuron\" needs a hidden layer (net.hidden is [])",
                x->src);
        /* Over-pruning guard: every hidden layer keeps at least one neuron. */
        for (int l = 0, k = 0; l < nh; l++) {
            int n = width[l];
            if (p->granularity == PT_GRAN_FILTER && !is_conv[l])
                continue;
            double f = ls->n == 0 ? p->sparsity : ls->n < 0 ? ls->v[0] : ls->v[k];
            k++;
            if (n - (int)lround(f * n) < 1) {
                snprintf(what, sizeof what,
                         "a fraction that leaves hidden layer %d (%d neurons) at least one neuron",
                         l + 1, n);
                return cross_error(x, ls->n ? "prune.layer_sparsity" : "prune.sparsity", what, f);
            }
        }
    }
    return PT_OK;
}

/* Parses json over *base into *c; *c is untouched on error. */
static pt_status parse_over(pt_config *c, const pt_config *base, const char *json,
                            const char *source, pt_err *err)
{
    if (!c || !json)
        return pt_fail(err, PT_ERR_ARG, "pt_config_parse: NULL config or text");
    if (!source)
        source = "config";
    cJSON *root;
    pt_status st = pt_json_parse(&root, json, source, err);
    if (st != PT_OK)
        return st;
    pt_config tmp = *base;
    parse_ctx x = {&tmp, source, err};
    st = cJSON_IsObject(root) ? parse_object(&x, root, "")
                              : expected(&x, "", "an object at the top level", root);
    if (st == PT_OK)
        st = check_across(&x);
    cJSON_Delete(root);
    if (st == PT_OK)
        *c = tmp;
    return st;
}

pt_status pt_config_parse(pt_config *c, const char *json, const char *source, pt_err *err)
{
    pt_config defaults;
    pt_config_defaults(&defaults);
    return parse_over(c, &defaults, json, source, err);
}

pt_status pt_config_merge(pt_config *c, const char *json, const char *source, pt_err *err)
{
    if (!c)
        return pt_fail(err, PT_ERR_ARG, "pt_config_merge: NULL config");
    return parse_over(c, c, json, source, err);
}

pt_status pt_config_load(pt_config *c, const char *path, pt_err *err)
{
    if (!path)
        return pt_fail(err, PT_ERR_ARG, "pt_config_load: NULL path");
    char *text;
    pt_status st = pt_json_read_file(path, &text, err);
    if (st != PT_OK)
        return st;
    st = pt_config_parse(c, text, path, err);
    free(text);
    return st;
}

/* ---- printing ----------------------------------------------------------- */

static cJSON *raw_number(double v)
{
    char buf[32];
    if (!isfinite(v))
        return cJSON_CreateNull();
    pt_fmt_double(buf, sizeof buf, v);
    return cJSON_CreateRaw(buf);
}

/* The JSON value of key k in c; JSON null for a value no JSON form has. */
static cJSON *value_json(const pt_config *c, const pt_key_def *k)
{
    const char *field = (const char *)c + k->off;
    char buf[32];
    switch (k->type) {
    case PT_KEY_NUM:
        return raw_number(*(const double *)field);
    case PT_KEY_INT:
        return cJSON_CreateNumber(*(const int *)field);
    case PT_KEY_SEED:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)field);
        return cJSON_CreateRaw(buf);
    case PT_KEY_BOOL:
        return cJSON_CreateBool(*(const int *)field != 0);
    case PT_KEY_STR:
        return cJSON_CreateString(field);
    case PT_KEY_ENUM:
        for (const pt_enum_name *e = k->names; e->name; e++)
            if (e->value == *(const int *)field)
                return cJSON_CreateString(e->name);
        return cJSON_CreateNull();
    case PT_KEY_HIDDEN: {
        int n = *(const int *)field;
        if (n < 0 || n > (int)k->size)
            return cJSON_CreateNull();
        return cJSON_CreateIntArray((const int *)((const char *)c + k->off2), n);
    }
    case PT_KEY_LAYERS: {
        const pt_layer_values *lv = (const pt_layer_values *)field;
        if (lv->n == -1)
            return raw_number(lv->v[0]);
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < lv->n && i < (int)k->size; i++)
            cJSON_AddItemToArray(a, raw_number(lv->v[i]));
        return a;
    }
    case PT_KEY_LABEL:
        if (field[0])
            return cJSON_CreateString(field);
        return cJSON_CreateNumber(*(const int *)((const char *)c + k->off2));
    case PT_KEY_HEADER: {
        int h = *(const int *)field;
        return h == 1    ? cJSON_CreateTrue()
               : h == 0  ? cJSON_CreateFalse()
               : h == -1 ? cJSON_CreateString("auto")
                         : cJSON_CreateNull();
    }
    case PT_KEY_IGNORE:
        break;
    case PT_KEY_NET:
        return pt_net_layers_json((const pt_net_config *)field);
    case PT_KEY_SCHED: {
        const pt_hp_schedule *s = (const pt_hp_schedule *)field;
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < s->n; i++) {
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateNumber(s->epoch[i]));
            cJSON_AddItemToArray(pair, raw_number(s->value[i]));
            cJSON_AddItemToArray(a, pair);
        }
        return a;
    }
    }
    return NULL;
}

char *pt_config_to_json(const pt_config *c)
{
    if (!c)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    const pt_key_def *k;
    for (int i = 0; root && (k = pt_key_at(i)); i++) {
        if (k->type == PT_KEY_IGNORE)
            continue;
        /* No schedule: no "schedule" section, so a config that has none
         * prints (and is stored) as before the keys existed. */
        if (k->type == PT_KEY_SCHED && ((const pt_hp_schedule *)((const char *)c + k->off))->n == 0)
            continue;
        const char *name;
        cJSON *parent = pt_json_section(root, k->path, &name);
        cJSON *v = parent ? value_json(c, k) : NULL;
        if (!v || !cJSON_AddItemToObject(parent, name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(root);
            root = NULL;
        }
    }
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}
