/*
 * netspec.c — see netspec.h.
 *
 * The list is checked as it is read, entry by entry, with a small state
 * (seen a dense layer? is the previous entry a conv2d, a pool, a dense?),
 * so each rule's error names the first entry that breaks it. The shape is
 * checked later, against the data (pt_net_specs) and the network
 * (pt_net_init), because it depends on the input.
 */
#include "netspec.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[] = {"conv2d",  "maxpool", "avgpool",
                                         "flatten", "dense",   "dropout"};
#define N_TYPES 6

typedef struct {
    const char *src;
    pt_err *err;
    char path[64];
} ctx;

static pt_status bad(const ctx *x, const char *key, const char *what, const cJSON *v)
{
    char *got = v ? cJSON_PrintUnformatted(v) : NULL;
    pt_status st = pt_fail(x->err, PT_ERR_CONFIG, "%s: %s%s%s: expected %s (got %.40s)", x->src,
                           x->path, key ? "." : "", key ? key : "", what, got ? got : "nothing");
    cJSON_free(got);
    return st;
}

static pt_status rule(const ctx *x, const char *what)
{
    return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: %s", x->src, x->path, what);
}

static pt_status get_int(const ctx *x, const cJSON *e, const char *key, int lo, int hi, int dflt,
                         int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    if (!v) {
        if (dflt < lo)
            return bad(x, key, "an integer (required)", NULL);
        *out = dflt;
        return PT_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        char what[64];
        snprintf(what, sizeof what, "an integer >= %d and <= %d", lo, hi);
        return bad(x, key, what, v);
    }
    *out = (int)v->valuedouble;
    return PT_OK;
}

/* Keys each type accepts besides "type". */
static const char *const allowed[N_TYPES][4] = {
    {"out", "kernel", "stride", "pad"}, {"size"}, {"size"}, {NULL}, {"out"}, {"rate"}};

static pt_status check_keys(const ctx *x, const cJSON *e, int t)
{
    for (const cJSON *m = e->child; m; m = m->next) {
        int ok = !strcmp(m->string, "type");
        for (int i = 0; !ok && i < 4 && allowed[t][i]; i++)
            ok = !strcmp(m->string, allowed[t][i]);
        if (!ok)
            return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s.%s: unknown key for a %s layer", x->src,
                           x->path, m->string, type_names[t]);
    }
    return PT_OK;
}

static pt_status parse_entry(const ctx *x, const cJSON *e, pt_net_layer *L)
{
    if (!cJSON_IsObject(e))
        return bad(x, NULL, "an object with a \"type\"", e);
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(e, "type");
    int t = -1;
    for (int i = 0; cJSON_IsString(ty) && i < N_TYPES; i++)
        if (!strcmp(ty->valuestring, type_names[i]))
            t = i;
    if (t < 0)
        return bad(
            x, "type",
            "one of \"conv2d\", \"maxpool\", \"avgpool\", \"flatten\", \"dense\", \"dropout\"", ty);
    pt_status st = check_keys(x, e, t);
    memset(L, 0, sizeof *L);
    L->type = t;
    if (st == PT_OK && (t == PT_NL_CONV2D || t == PT_NL_DENSE))
        st = get_int(x, e, "out", 1, 65536, -1, &L->out);
    if (st == PT_OK && t == PT_NL_CONV2D)
        st = get_int(x, e, "kernel", 1, 64, -1, &L->kernel);
    if (st == PT_OK && t == PT_NL_CONV2D)
        st = get_int(x, e, "stride", 1, 64, 1, &L->stride);
    if (st == PT_OK && t == PT_NL_CONV2D)
        st = get_int(x, e, "pad", 0, 64, 0, &L->pad);
    if (st == PT_OK && (t == PT_NL_MAXPOOL || t == PT_NL_AVGPOOL))
        st = get_int(x, e, "size", 1, 64, 2, &L->size);
    if (st == PT_OK && t == PT_NL_DROPOUT) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "rate");
        if (!cJSON_IsNumber(r) || !(r->valuedouble >= 0.0 && r->valuedouble < 1.0))
            return bad(x, "rate", "a number >= 0 and < 1", r);
        L->rate = r->valuedouble;
    }
    return st;
}

/* The ordering rules, given the previous entry's type (-1 at the start). */
static pt_status check_order(const ctx *x, int t, int prev, int seen_flat)
{
    int pool = t == PT_NL_MAXPOOL || t == PT_NL_AVGPOOL;
    if ((t == PT_NL_CONV2D || pool) && seen_flat)
        return rule(x, "conv2d and pooling layers must come before flatten and dense layers");
    if (pool && prev != PT_NL_CONV2D)
        return rule(x, "a pooling layer must directly follow a conv2d layer");
    if (t == PT_NL_FLATTEN && seen_flat)
        return rule(x, "flatten must come before the first dense layer, once");
    if (t == PT_NL_DROPOUT && prev != PT_NL_DENSE)
        return rule(x, "dropout must directly follow a dense layer");
    return PT_OK;
}

pt_status pt_net_layers_parse(pt_net_config *n, const cJSON *v, const char *src, pt_err *err)
{
    ctx x = {.src = src, .err = err};
    snprintf(x.path, sizeof x.path, "net.layers");
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > PT_MAX_NET_LAYERS) {
        char what[64];
        snprintf(what, sizeof what, "an array of at most %d layer objects", PT_MAX_NET_LAYERS);
        return bad(&x, NULL, what, v);
    }
    int i = 0, prev = -1, seen_flat = 0, weights = 1;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        snprintf(x.path, sizeof x.path, "net.layers[%d]", i);
        pt_status st = parse_entry(&x, e, &n->layers[i]);
        int t = n->layers[i].type;
        if (st == PT_OK)
            st = check_order(&x, t, prev, seen_flat);
        weights += t == PT_NL_CONV2D || t == PT_NL_DENSE;
        if (st == PT_OK && weights > PT_MAX_LAYERS)
            st = rule(&x, "too many weight layers (at most 16 conv2d and dense layers)");
        if (st != PT_OK)
            return st;
        seen_flat |= t == PT_NL_FLATTEN || t == PT_NL_DENSE;
        prev = t;
    }
    n->n_layers = i;
    return PT_OK;
}

cJSON *pt_net_layers_json(const pt_net_config *n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n->n_layers; i++) {
        const pt_net_layer *L = &n->layers[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }
        int ok = cJSON_AddStringToObject(o, "type", type_names[L->type]) != NULL;
        if (ok && (L->type == PT_NL_CONV2D || L->type == PT_NL_DENSE))
            ok = cJSON_AddNumberToObject(o, "out", L->out) != NULL;
        if (ok && L->type == PT_NL_CONV2D)
            ok = cJSON_AddNumberToObject(o, "kernel", L->kernel) &&
                 cJSON_AddNumberToObject(o, "stride", L->stride) &&
                 cJSON_AddNumberToObject(o, "pad", L->pad);
        if (ok && (L->type == PT_NL_MAXPOOL || L->type == PT_NL_AVGPOOL))
            ok = cJSON_AddNumberToObject(o, "size", L->size) != NULL;
        if (ok && L->type == PT_NL_DROPOUT) {
            char buf[32];
            snprintf(buf, sizeof buf, "%.17g", L->rate);
            ok = cJSON_AddRawToObject(o, "rate", buf) != NULL;
        }
        if (!ok) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

int pt_net_hidden(const pt_net_config *n, int *width, int *is_conv)
{
    int k = 0;
    if (n->n_layers == 0) {
        for (; k < n->n_hidden; k++) {
            if (width)
                width[k] = n->hidden[k];
            if (is_conv)
                is_conv[k] = 0;
        }
        return k;
    }
    for (int i = 0; i < n->n_layers; i++) {
        const pt_net_layer *L = &n->layers[i];
        if (L->type != PT_NL_CONV2D && L->type != PT_NL_DENSE)
            continue;
        if (width)
            width[k] = L->out;
        if (is_conv)
            is_conv[k] = L->type == PT_NL_CONV2D;
        k++;
    }
    return k;
}

static pt_status shape_of(const pt_config *c, int dim, int shape[3], pt_err *err)
{
    const pt_data_config *d = &c->data;
    if (d->n_shape == 3) {
        memcpy(shape, d->shape, sizeof(int) * 3);
        if ((long)shape[0] * shape[1] * shape[2] != dim)
            return pt_fail(err, PT_ERR_CONFIG,
                           "data.shape: %d x %d x %d does not match the data's %d features",
                           shape[0], shape[1], shape[2], dim);
        return PT_OK;
    }
    if (c->net.n_layers == 0 || c->net.layers[0].type != PT_NL_CONV2D) {
        shape[0] = shape[1] = 1;
        shape[2] = dim;
        return PT_OK;
    }
    int s = (int)lround(sqrt((double)dim));
    if (s * s != dim)
        return pt_fail(err, PT_ERR_CONFIG,
                       "data.shape: needed for conv2d layers: %d features are not a square image",
                       dim);
    shape[0] = 1;
    shape[1] = shape[2] = s;
    return PT_OK;
}

pt_status pt_net_specs(const pt_config *c, int dim, int n_classes, int shape[3],
                       pt_layer_spec *spec, int *n_spec, float *drop, pt_err *err)
{
    pt_status st = shape_of(c, dim, shape, err);
    if (st != PT_OK)
        return st;
    const pt_net_config *nc = &c->net;
    const pt_layer_values *rd = &c->reg.dropout;
    int k = 0, dense = 0;
    memset(drop, 0, sizeof(float) * (PT_NET_MAX_LAYERS + 1));
    drop[0] = (float)c->reg.dropout_input;
    if (nc->n_layers == 0) {
        for (; k < nc->n_hidden; k++) {
            spec[k] = (pt_layer_spec){.kind = PT_LAYER_DENSE, .out = nc->hidden[k]};
            drop[k + 1] = (float)(rd->n == -1 ? rd->v[0] : k < rd->n ? rd->v[k] : 0.0);
        }
    }
    for (int i = 0; i < nc->n_layers; i++) {
        const pt_net_layer *L = &nc->layers[i];
        switch (L->type) {
        case PT_NL_CONV2D:
            spec[k++] = (pt_layer_spec){.kind = PT_LAYER_CONV,
                                        .out = L->out,
                                        .k = L->kernel,
                                        .stride = L->stride,
                                        .pad = L->pad};
            break;
        case PT_NL_MAXPOOL:
        case PT_NL_AVGPOOL:
            spec[k - 1].pool = L->type == PT_NL_MAXPOOL ? PT_POOL_MAX : PT_POOL_AVG;
            spec[k - 1].ps = L->size;
            break;
        case PT_NL_DENSE:
            spec[k++] = (pt_layer_spec){.kind = PT_LAYER_DENSE, .out = L->out};
            drop[k] = (float)(rd->n == -1 ? rd->v[0] : dense < rd->n ? rd->v[dense] : 0.0);
            dense++;
            break;
        case PT_NL_DROPOUT:
            drop[k] = (float)L->rate;
            break;
        default:
            break;
        }
    }
    spec[k++] = (pt_layer_spec){.kind = PT_LAYER_DENSE, .out = n_classes};
    *n_spec = k;
    return PT_OK;
}
