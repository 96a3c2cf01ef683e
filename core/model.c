/*
 * model.c — pt_mlp + scaler + metadata <-> .npz; see model.h and
 * schemas/model.md.
 *
 * The metadata is JSON in a uint8 array rather than a 0-d unicode array:
 * numpy stores unicode as UTF-32, which would need a UTF-8 transcoder here,
 * while bytes load without allow_pickle and decode in one call
 * (json.loads(z["meta"].tobytes())). The resolved config inside it goes
 * through pt_config_to_json / pt_config_parse, the one parser of configs, so
 * a model file can never hold a config the trainer would reject.
 */
#include "model.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npz.h"
#include "prune.h"

#define MAX_UNITS (1 << 24) /* sanity bound on a layer width read from a file */

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* The meta JSON text (malloc'd), or NULL when out of memory. */
static char *meta_json(const pt_mlp *net, const pt_config *cfg, const pt_model_info *info)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", PT_MODEL_FORMAT);
    cJSON_AddNumberToObject(o, "version", PT_MODEL_VERSION);
    cJSON_AddItemToObject(o, "sizes", cJSON_CreateIntArray(net->sizes, net->n_layers + 1));
    cJSON_AddStringToObject(o, "activation", "relu");
    cJSON_AddStringToObject(o, "output", "softmax");
    cJSON_AddBoolToObject(o, "masked", net->mask != NULL);
    char *text = pt_config_to_json(cfg);
    cJSON *c = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (c)
        cJSON_AddItemToObject(o, "config", c);

    cJSON *s = cJSON_AddObjectToObject(o, "strategy");
    cJSON *prune = c ? cJSON_GetObjectItem(c, "prune") : NULL;
    cJSON *reg = c ? cJSON_GetObjectItem(c, "reg") : NULL;
    if (prune)
        cJSON_AddItemToObject(s, "prune", cJSON_Duplicate(prune, 1));
    if (reg)
        cJSON_AddItemToObject(s, "reg", cJSON_Duplicate(reg, 1));
    pt_sparsity sp;
    pt_sparsity_of(net, &sp);
    add_num(s, "sparsity", sp.total_weights ? (double)sp.total_zeros / sp.total_weights : 0.0);
    double ls[PT_MLP_MAX_LAYERS];
    for (int l = 0; l < net->n_layers; l++)
        ls[l] = sp.weights[l] ? (double)sp.zeros[l] / sp.weights[l] : 0.0;
    cJSON_AddItemToObject(s, "layer_sparsity", cJSON_CreateDoubleArray(ls, net->n_layers));
    cJSON_AddItemToObject(s, "live_neurons", cJSON_CreateIntArray(sp.neurons, net->n_layers));

    cJSON *m = cJSON_AddObjectToObject(o, "metrics");
    add_num(m, "test_acc", info->test_acc);
    add_num(m, "test_loss", info->test_loss);
    add_num(m, "val_acc", info->val_acc);
    cJSON_AddNumberToObject(m, "n_test", info->n_test);
    cJSON_AddNumberToObject(o, "eval_batch", net->cap);
    if (info->class_names)
        cJSON_AddItemToObject(
            o, "classes",
            cJSON_CreateStringArray((const char *const *)info->class_names, info->n_classes));
    char *out = c ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return out;
}

/* Mask floats (1 kept, 0 pruned) to bytes. */
static void mask_bytes(unsigned char *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] != 0.0f;
}

static pt_status add_layer(pt_npz_writer *w, const pt_mlp *net, int l, unsigned char *tmp,
                           pt_err *err)
{
    const pt_layer *L = &net->layer[l];
    long shape[2] = {L->n_out, L->n_in};
    char name[32];
    snprintf(name, sizeof name, "w%d", l);
    pt_status st = pt_npz_writer_add(w, name, PT_F32, 2, shape, L->w, err);
    snprintf(name, sizeof name, "b%d", l);
    if (st == PT_OK)
        st = pt_npz_writer_add(w, name, PT_F32, 1, shape, L->b, err);
    if (st != PT_OK || !net->mask)
        return st;
    mask_bytes(tmp, net->mask + L->off, (size_t)L->n_out * L->n_in);
    snprintf(name, sizeof name, "mask%d", l);
    st = pt_npz_writer_add(w, name, PT_U8, 2, shape, tmp, err);
    mask_bytes(tmp, net->mask + (L->b - net->params), (size_t)L->n_out);
    snprintf(name, sizeof name, "bmask%d", l);
    if (st == PT_OK)
        st = pt_npz_writer_add(w, name, PT_U8, 1, shape, tmp, err);
    return st;
}

pt_status pt_model_save(const char *path, const pt_mlp *net, const pt_scaler *sc,
                        const pt_config *cfg, const pt_model_info *info, pt_err *err)
{
    if (sc->dim != net->sizes[0])
        return pt_fail(err, PT_ERR_ARG, "%s: scaler has %d features, network %d inputs", path,
                       sc->dim, net->sizes[0]);
    size_t most = 0;
    for (int l = 0; l < net->n_layers; l++) {
        size_t n = (size_t)net->layer[l].n_out * net->layer[l].n_in;
        most = n > most ? n : most;
    }
    char *meta = meta_json(net, cfg, info);
    unsigned char *tmp = malloc(most ? most : 1);
    if (!meta || !tmp) {
        free(meta);
        free(tmp);
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    }
    pt_npz_writer *w;
    pt_status st = pt_npz_writer_open(&w, path, err);
    for (int l = 0; st == PT_OK && l < net->n_layers; l++)
        st = add_layer(w, net, l, tmp, err);
    long dim = sc->dim, len = (long)strlen(meta);
    if (st == PT_OK)
        st = pt_npz_writer_add(w, "scale_offset", PT_F32, 1, &dim, sc->offset, err);
    if (st == PT_OK)
        st = pt_npz_writer_add(w, "scale_mul", PT_F32, 1, &dim, sc->mul, err);
    if (st == PT_OK)
        st = pt_npz_writer_add(w, "meta", PT_U8, 1, &len, meta, err);
    if (st == PT_OK)
        st = pt_npz_writer_finish(w, err);
    else
        pt_npz_writer_abort(w);
    free(meta);
    free(tmp);
    return st;
}

/* --- loading ---------------------------------------------------------------- */

static double num_or_nan(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Reads meta.sizes into sizes[0..*n] (n = weight layers). */
static pt_status read_sizes(const cJSON *o, const char *path, int *sizes, int *n, pt_err *err)
{
    const cJSON *a = cJSON_GetObjectItem(o, "sizes");
    int k = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (k < 2 || k > PT_MLP_MAX_LAYERS + 1)
        return pt_fail(err, PT_ERR_FORMAT, "%s: meta.sizes: expected 2 to %d layer sizes", path,
                       PT_MLP_MAX_LAYERS + 1);
    for (int i = 0; i < k; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > MAX_UNITS ||
            v->valuedouble != floor(v->valuedouble))
            return pt_fail(err, PT_ERR_FORMAT, "%s: meta.sizes[%d]: expected an integer >= 1", path,
                           i);
        sizes[i] = v->valueint;
    }
    *n = k - 1;
    return PT_OK;
}

static pt_status read_classes(pt_model *m, const cJSON *o, const char *path, pt_err *err)
{
    const cJSON *a = cJSON_GetObjectItem(o, "classes");
    if (!a)
        return PT_OK;
    int k = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (k < 1)
        return pt_fail(err, PT_ERR_FORMAT, "%s: meta.classes: expected an array of names", path);
    m->class_names = calloc((size_t)k, sizeof(char *));
    if (!m->class_names)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    m->n_classes = k;
    for (int i = 0; i < k; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsString(v))
            return pt_fail(err, PT_ERR_FORMAT, "%s: meta.classes[%d]: expected a string", path, i);
        if (!(m->class_names[i] = strdup(v->valuestring)))
            return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    }
    return PT_OK;
}

/* Checks and reads the meta JSON: format, version, sizes, config, metrics. */
static pt_status read_meta(pt_model *m, const cJSON *o, const char *path, int *sizes, int *n,
                           pt_err *err)
{
    const cJSON *f = cJSON_GetObjectItem(o, "format");
    if (!cJSON_IsString(f) || strcmp(f->valuestring, PT_MODEL_FORMAT))
        return pt_fail(err, PT_ERR_FORMAT, "%s: not a prunetune model (meta.format is not \"%s\")",
                       path, PT_MODEL_FORMAT);
    const cJSON *v = cJSON_GetObjectItem(o, "version");
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble != floor(v->valuedouble))
        return pt_fail(err, PT_ERR_FORMAT, "%s: meta.version: expected an integer >= 1", path);
    if (v->valuedouble > PT_MODEL_VERSION)
        return pt_fail(err, PT_ERR_FORMAT,
                       "%s: model format version %.0f is newer than this prunetune reads (%d)",
                       path, v->valuedouble, PT_MODEL_VERSION);
    const cJSON *act = cJSON_GetObjectItem(o, "activation"),
                *out = cJSON_GetObjectItem(o, "output");
    if (!cJSON_IsString(act) || strcmp(act->valuestring, "relu") || !cJSON_IsString(out) ||
        strcmp(out->valuestring, "softmax"))
        return pt_fail(err, PT_ERR_FORMAT,
                       "%s: meta: only activation \"relu\" with output \"softmax\" is supported",
                       path);
    pt_status st = read_sizes(o, path, sizes, n, err);
    if (st != PT_OK)
        return st;
    const cJSON *c = cJSON_GetObjectItem(o, "config");
    char *text = cJSON_IsObject(c) ? cJSON_PrintUnformatted(c) : NULL;
    if (!text)
        return pt_fail(err, PT_ERR_FORMAT, "%s: meta.config: missing", path);
    char src[1100];
    snprintf(src, sizeof src, "%s: meta.config", path);
    st = pt_config_parse(&m->cfg, text, src, err);
    free(text);
    if (st != PT_OK)
        return PT_ERR_FORMAT;
    int ok = m->cfg.net.n_hidden == *n - 1;
    for (int l = 0; ok && l < *n - 1; l++)
        ok = m->cfg.net.hidden[l] == sizes[l + 1];
    if (!ok)
        return pt_fail(err, PT_ERR_FORMAT, "%s: meta.sizes disagrees with meta.config.net.hidden",
                       path);
    const cJSON *mt = cJSON_GetObjectItem(o, "metrics");
    m->test_acc = num_or_nan(mt, "test_acc");
    m->test_loss = num_or_nan(mt, "test_loss");
    m->val_acc = num_or_nan(mt, "val_acc");
    /* The rows per batch the test set was evaluated in at training time:
     * the same batches give the same GEMMs, hence the same logits, bit for
     * bit, whatever BLAS does with a different row count. */
    double eb = num_or_nan(o, "eval_batch");
    m->eval_batch = eb >= 1 && eb <= (1 << 20) ? (int)eb : 1024;
    double nt = num_or_nan(mt, "n_test");
    m->n_test = isfinite(nt) && nt >= 0 && nt < 2e9 ? (int)nt : 0;
    return read_classes(m, o, path, err);
}

/* Reads mask{l} / bmask{l} (uint8, 0 or 1) into the float mask at dst. */
static pt_status read_mask(const pt_npz *z, const char *name, int ndim, const long *shape,
                           float *dst, unsigned char *tmp, pt_err *err)
{
    pt_status st = pt_npz_get(z, name, PT_U8, ndim, shape, tmp, err);
    size_t n = (size_t)shape[0] * (ndim == 2 ? (size_t)shape[1] : 1);
    for (size_t i = 0; st == PT_OK && i < n; i++) {
        if (tmp[i] > 1)
            return pt_fail(err, PT_ERR_FORMAT, "%s: %s: mask values must be 0 or 1 (got %u)",
                           z->path, name, tmp[i]);
        dst[i] = tmp[i];
    }
    return st;
}

static pt_status read_layer(pt_model *m, const pt_npz *z, int l, unsigned char *tmp, pt_err *err)
{
    pt_layer *L = &m->net.layer[l];
    long shape[2] = {L->n_out, L->n_in};
    char name[32];
    snprintf(name, sizeof name, "w%d", l);
    pt_status st = pt_npz_get(z, name, PT_F32, 2, shape, L->w, err);
    snprintf(name, sizeof name, "b%d", l);
    if (st == PT_OK)
        st = pt_npz_get(z, name, PT_F32, 1, shape, L->b, err);
    if (st != PT_OK || !m->net.mask)
        return st;
    snprintf(name, sizeof name, "mask%d", l);
    st = read_mask(z, name, 2, shape, m->net.mask + L->off, tmp, err);
    snprintf(name, sizeof name, "bmask%d", l);
    if (st == PT_OK)
        st = read_mask(z, name, 1, shape, m->net.mask + (L->b - m->net.params), tmp, err);
    return st;
}

/* Checks that the arrays match meta.sizes before anything is allocated from
 * those sizes: the arrays are bounded by the file's size, the sizes are not. */
static pt_status check_shapes(const pt_npz *z, const int *sizes, int n, pt_err *err)
{
    pt_status st = PT_OK;
    char name[32];
    for (int l = 0; st == PT_OK && l < n; l++) {
        long shape[2] = {sizes[l + 1], sizes[l]};
        snprintf(name, sizeof name, "w%d", l);
        st = pt_npz_get(z, name, PT_F32, 2, shape, NULL, err);
        snprintf(name, sizeof name, "b%d", l);
        if (st == PT_OK)
            st = pt_npz_get(z, name, PT_F32, 1, shape, NULL, err);
    }
    long dim = sizes[0];
    if (st == PT_OK)
        st = pt_npz_get(z, "scale_offset", PT_F32, 1, &dim, NULL, err);
    return st;
}

/* Builds the network of the given sizes and fills it from the arrays. */
static pt_status read_arrays(pt_model *m, const pt_npz *z, const int *sizes, int n, pt_err *err)
{
    pt_status st = check_shapes(z, sizes, n, err);
    if (st != PT_OK)
        return st;
    pt_rng rng; /* pt_mlp_init wants initial weights; all are overwritten */
    pt_rng_seed(&rng, 0);
    st = pt_mlp_init(&m->net, sizes[0], sizes + 1, n - 1, sizes[n], m->eval_batch, &rng, err);
    if (st != PT_OK)
        return st;
    if (pt_npz_find(z, "mask0") && (st = pt_mlp_mask_enable(&m->net, err)) != PT_OK)
        return st;
    size_t most = 0;
    for (int l = 0; l < n; l++) {
        size_t k = (size_t)sizes[l] * sizes[l + 1];
        most = k > most ? k : most;
    }
    unsigned char *tmp = malloc(most);
    if (!tmp)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", z->path);
    for (int l = 0; st == PT_OK && l < n; l++)
        st = read_layer(m, z, l, tmp, err);
    free(tmp);
    long dim = sizes[0];
    m->scaler.dim = sizes[0];
    m->scaler.offset = malloc(sizeof(float) * (size_t)dim);
    m->scaler.mul = malloc(sizeof(float) * (size_t)dim);
    if (st == PT_OK && (!m->scaler.offset || !m->scaler.mul))
        st = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", z->path);
    if (st == PT_OK)
        st = pt_npz_get(z, "scale_offset", PT_F32, 1, &dim, m->scaler.offset, err);
    if (st == PT_OK)
        st = pt_npz_get(z, "scale_mul", PT_F32, 1, &dim, m->scaler.mul, err);
    return st;
}

pt_status pt_model_load(pt_model *m, const char *path, pt_err *err)
{
    memset(m, 0, sizeof *m);
    pt_npz z;
    pt_status st = pt_npz_open(&z, path, err);
    if (st != PT_OK)
        return st;
    const pt_npy_array *a = pt_npz_find(&z, "meta");
    if (!a)
        st = pt_fail(err, PT_ERR_FORMAT, "%s: not a prunetune model (no 'meta' array)", path);
    else if (a->dtype != PT_U8 || a->ndim != 1)
        st = pt_fail(err, PT_ERR_FORMAT, "%s: meta: expected a uint8 array of JSON text", path);
    else if (!(m->meta = malloc(a->count + 1)))
        st = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    cJSON *o = NULL;
    if (st == PT_OK) {
        memcpy(m->meta, a->data, a->count);
        m->meta[a->count] = '\0';
        o = cJSON_Parse(m->meta);
        if (!cJSON_IsObject(o))
            st = pt_fail(err, PT_ERR_FORMAT, "%s: meta: not a JSON object", path);
    }
    int sizes[PT_MLP_MAX_LAYERS + 1], n = 0;
    if (st == PT_OK)
        st = read_meta(m, o, path, sizes, &n, err);
    cJSON_Delete(o);
    if (st == PT_OK)
        st = read_arrays(m, &z, sizes, n, err);
    pt_npz_close(&z);
    if (st != PT_OK)
        pt_model_free(m);
    return st;
}

void pt_model_free(pt_model *m)
{
    pt_mlp_free(&m->net);
    pt_scaler_free(&m->scaler);
    for (int i = 0; m->class_names && i < m->n_classes; i++)
        free(m->class_names[i]);
    free(m->class_names);
    free(m->meta);
    memset(m, 0, sizeof *m);
}
