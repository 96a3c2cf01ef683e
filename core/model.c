/*
 * model.c — pt_net + scaler + metadata <-> .npz; see model.h and
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

#include "netspec.h"
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

static const char *const pool_names[] = {"none", "max", "avg"};

/* meta.input_shape and meta.layers: one entry per weight layer. */
static void add_layers(cJSON *o, const pt_net *net)
{
    cJSON_AddItemToObject(o, "input_shape", cJSON_CreateIntArray(net->shape, 3));
    cJSON *a = cJSON_AddArrayToObject(o, "layers");
    for (int l = 0; a && l < net->n_layers; l++) {
        pt_layer_spec sp = pt_layer_spec_of(net, l);
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(a, e)) {
            cJSON_Delete(e);
            return;
        }
        cJSON_AddStringToObject(e, "type", sp.kind == PT_LAYER_CONV ? "conv2d" : "dense");
        cJSON_AddNumberToObject(e, "out", sp.out);
        if (sp.kind != PT_LAYER_CONV)
            continue;
        cJSON_AddNumberToObject(e, "kernel", sp.k);
        cJSON_AddNumberToObject(e, "stride", sp.stride);
        cJSON_AddNumberToObject(e, "pad", sp.pad);
        cJSON_AddStringToObject(e, "pool", pool_names[sp.pool]);
        cJSON_AddNumberToObject(e, "pool_size", sp.pool ? sp.ps : 1);
    }
}

/* Shape of layer l's weight array: (n_out, n_in), or (K, C, k, k) for a
 * conv layer (PyTorch's Conv2d layout); returns the number of dims. */
static int weight_shape(const pt_layer_spec *spec, const int *in_shape, const int *sizes, int l,
                        long *shape)
{
    if (spec[l].kind != PT_LAYER_CONV) {
        shape[0] = spec[l].out;
        shape[1] = sizes[l];
        return 2;
    }
    shape[0] = spec[l].out;
    shape[1] = l == 0 ? in_shape[0] : spec[l - 1].out;
    shape[2] = shape[3] = spec[l].k;
    return 4;
}

/* The meta JSON text (malloc'd), or NULL when out of memory. */
static char *meta_json(const pt_net *net, const pt_config *cfg, const pt_model_info *info)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", PT_MODEL_FORMAT);
    /* A conv layer is something a version-1 reader cannot skip. */
    cJSON_AddNumberToObject(o, "version", pt_net_has_conv(net) ? 2 : 1);
    cJSON_AddItemToObject(o, "sizes", cJSON_CreateIntArray(net->sizes, net->n_layers + 1));
    if (pt_net_has_conv(net))
        add_layers(o, net);
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
    double ls[PT_NET_MAX_LAYERS];
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
    if (info->optim) {
        cJSON *op = cJSON_AddObjectToObject(o, "optim");
        cJSON_AddStringToObject(op, "optimizer", info->optim->kind == PT_OPT_ADAM ? "adam" : "sgd");
        cJSON_AddNumberToObject(op, "steps", (double)info->optim->t);
    }
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

/* The shape of layer l's weights in the file (w{l}), its dimensions returned. */
static int layer_shape(const pt_net *net, int l, long shape[4])
{
    pt_layer_spec spec[PT_NET_MAX_LAYERS];
    for (int i = 0; i <= l; i++)
        spec[i] = pt_layer_spec_of(net, i);
    return weight_shape(spec, net->shape, net->sizes, l, shape);
}

static pt_status add_layer(pt_npz_writer *w, const pt_net *net, int l, unsigned char *tmp,
                           pt_err *err)
{
    const pt_layer *L = &net->layer[l];
    long shape[4];
    int nd = layer_shape(net, l, shape);
    char name[32];
    snprintf(name, sizeof name, "w%d", l);
    pt_status st = pt_npz_writer_add(w, name, PT_F32, nd, shape, L->w, err);
    snprintf(name, sizeof name, "b%d", l);
    if (st == PT_OK)
        st = pt_npz_writer_add(w, name, PT_F32, 1, shape, L->b, err);
    if (st != PT_OK || !net->mask)
        return st;
    mask_bytes(tmp, net->mask + L->off, (size_t)L->n_out * L->n_in);
    snprintf(name, sizeof name, "mask%d", l);
    st = pt_npz_writer_add(w, name, PT_U8, nd, shape, tmp, err);
    mask_bytes(tmp, net->mask + (L->b - net->params), (size_t)L->n_out);
    snprintf(name, sizeof name, "bmask%d", l);
    if (st == PT_OK)
        st = pt_npz_writer_add(w, name, PT_U8, 1, shape, tmp, err);
    return st;
}

/* The optimizer state buffer buf (m or v, laid out like net->params) as
 * optim_{which}_w{l} and optim_{which}_b{l}, shaped as w{l} and b{l}. */
static pt_status add_state(pt_npz_writer *w, const pt_net *net, int l, char which,
                           const float *buf, pt_err *err)
{
    const pt_layer *L = &net->layer[l];
    long shape[4];
    int nd = layer_shape(net, l, shape);
    char name[32];
    snprintf(name, sizeof name, "optim_%c_w%d", which, l);
    pt_status st = pt_npz_writer_add(w, name, PT_F32, nd, shape, buf + L->off, err);
    snprintf(name, sizeof name, "optim_%c_b%d", which, l);
    if (st == PT_OK)
        st = pt_npz_writer_add(w, name, PT_F32, 1, shape, buf + (L->b - net->params), err);
    return st;
}

pt_status pt_model_save(const char *path, const pt_net *net, const pt_scaler *sc,
                        const pt_config *cfg, const pt_model_info *info, pt_err *err)
{
    const pt_optim *op = info->optim;
    if (op && (op->n != net->n_params || !op->m || (op->kind == PT_OPT_ADAM && !op->v)))
        return pt_fail(err, PT_ERR_ARG, "%s: the optimizer state does not match the network",
                       path);
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
    for (int l = 0; op && st == PT_OK && l < net->n_layers; l++) {
        st = add_state(w, net, l, 'm', op->m, err);
        if (st == PT_OK && op->kind == PT_OPT_ADAM)
            st = add_state(w, net, l, 'v', op->v, err);
    }
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
    if (k < 2 || k > PT_NET_MAX_LAYERS + 1)
        return pt_fail(err, PT_ERR_FORMAT, "%s: meta.sizes: expected 2 to %d layer sizes", path,
                       PT_NET_MAX_LAYERS + 1);
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
    int width[PT_MAX_LAYERS], conv[PT_MAX_LAYERS];
    int ok = pt_net_hidden(&m->cfg.net, width, conv) == *n - 1;
    for (int l = 0; ok && l < *n - 1; l++)
        ok = conv[l] || width[l] == sizes[l + 1]; /* a conv size is C x H x W */
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

static int get_int(const cJSON *e, const char *k, int lo, int hi, int *out)
{
    const cJSON *v = cJSON_GetObjectItem(e, k);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return 0;
    *out = (int)v->valuedouble;
    return 1;
}

/* The weight layers: meta.layers and meta.input_shape when present (conv
 * nets, version 2), else the dense layers of meta.sizes. */
static pt_status read_arch(const cJSON *o, const char *path, const int *sizes, int n,
                           pt_layer_spec *spec, int *shape, pt_err *err)
{
    shape[0] = shape[1] = 1;
    shape[2] = sizes[0];
    for (int l = 0; l < n; l++)
        spec[l] = (pt_layer_spec){.kind = PT_LAYER_DENSE, .out = sizes[l + 1]};
    const cJSON *a = cJSON_GetObjectItem(o, "layers"), *is = cJSON_GetObjectItem(o, "input_shape");
    if (!a)
        return PT_OK;
    int ok = cJSON_IsArray(a) && cJSON_GetArraySize(a) == n && cJSON_IsArray(is) &&
             cJSON_GetArraySize(is) == 3;
    for (int i = 0; ok && i < 3; i++)
        ok = cJSON_IsNumber(cJSON_GetArrayItem(is, i)) &&
             (shape[i] = cJSON_GetArrayItem(is, i)->valueint) >= 1 && shape[i] <= MAX_UNITS;
    if (!ok || (long)shape[0] * shape[1] * shape[2] != sizes[0])
        return pt_fail(err, PT_ERR_FORMAT,
                       "%s: meta.layers / meta.input_shape: expected one entry per weight layer "
                       "and C, H, W with C H W = meta.sizes[0]",
                       path);
    for (int l = 0; l < n; l++) {
        const cJSON *e = cJSON_GetArrayItem(a, l), *t = cJSON_GetObjectItem(e, "type");
        const cJSON *pool = cJSON_GetObjectItem(e, "pool");
        pt_layer_spec *sp = &spec[l];
        int conv = cJSON_IsString(t) && !strcmp(t->valuestring, "conv2d");
        ok = cJSON_IsString(t) && (conv || !strcmp(t->valuestring, "dense")) &&
             get_int(e, "out", 1, MAX_UNITS, &sp->out);
        sp->kind = conv ? PT_LAYER_CONV : PT_LAYER_DENSE;
        if (ok && conv) {
            ok = get_int(e, "kernel", 1, 64, &sp->k) && get_int(e, "stride", 1, 64, &sp->stride) &&
                 get_int(e, "pad", 0, 64, &sp->pad) && get_int(e, "pool_size", 1, 64, &sp->ps) &&
                 cJSON_IsString(pool);
            sp->pool = -1;
            for (int i = 0; ok && i < 3; i++)
                sp->pool = !strcmp(pool->valuestring, pool_names[i]) ? i : sp->pool;
            ok = ok && sp->pool >= 0;
        } else if (ok) {
            ok = sp->out == sizes[l + 1];
        }
        if (!ok)
            return pt_fail(err, PT_ERR_FORMAT, "%s: meta.layers[%d]: not a valid layer", path, l);
    }
    return PT_OK;
}

/* Reads mask{l} / bmask{l} (uint8, 0 or 1) into the float mask at dst. */
static pt_status read_mask(const pt_npz *z, const char *name, int ndim, const long *shape,
                           float *dst, unsigned char *tmp, pt_err *err)
{
    pt_status st = pt_npz_get(z, name, PT_U8, ndim, shape, tmp, err);
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (size_t)shape[d];
    for (size_t i = 0; st == PT_OK && i < n; i++) {
        if (tmp[i] > 1)
            return pt_fail(err, PT_ERR_FORMAT, "%s: %s: mask values must be 0 or 1 (got %u)",
                           z->path, name, tmp[i]);
        dst[i] = tmp[i];
    }
    return st;
}

static pt_status read_layer(pt_model *m, const pt_npz *z, const pt_layer_spec *spec, int l,
                            unsigned char *tmp, pt_err *err)
{
    pt_layer *L = &m->net.layer[l];
    long shape[4];
    int nd = weight_shape(spec, m->net.shape, m->net.sizes, l, shape);
    char name[32];
    snprintf(name, sizeof name, "w%d", l);
    pt_status st = pt_npz_get(z, name, PT_F32, nd, shape, L->w, err);
    snprintf(name, sizeof name, "b%d", l);
    if (st == PT_OK)
        st = pt_npz_get(z, name, PT_F32, 1, shape, L->b, err);
    if (st != PT_OK || !m->net.mask)
        return st;
    snprintf(name, sizeof name, "mask%d", l);
    st = read_mask(z, name, nd, shape, m->net.mask + L->off, tmp, err);
    snprintf(name, sizeof name, "bmask%d", l);
    if (st == PT_OK)
        st = read_mask(z, name, 1, shape, m->net.mask + (L->b - m->net.params), tmp, err);
    return st;
}

/* Checks that the arrays match meta.sizes before anything is allocated from
 * those sizes: the arrays are bounded by the file's size, the sizes are not. */
static pt_status check_shapes(const pt_npz *z, const int *sizes, int n, const pt_layer_spec *spec,
                              const int *in_shape, pt_err *err)
{
    pt_status st = PT_OK;
    char name[32];
    for (int l = 0; st == PT_OK && l < n; l++) {
        long shape[4];
        int nd = weight_shape(spec, in_shape, sizes, l, shape);
        snprintf(name, sizeof name, "w%d", l);
        st = pt_npz_get(z, name, PT_F32, nd, shape, NULL, err);
        snprintf(name, sizeof name, "b%d", l);
        if (st == PT_OK)
            st = pt_npz_get(z, name, PT_F32, 1, shape, NULL, err);
    }
    long dim = sizes[0];
    if (st == PT_OK)
        st = pt_npz_get(z, "scale_offset", PT_F32, 1, &dim, NULL, err);
    return st;
}

/* The optional optimizer state (meta.optim and the optim_* arrays, model.h)
 * into m->optim, with the rule's hyper-parameters from meta.config. */
static pt_status read_optim(pt_model *m, const pt_npz *z, const cJSON *meta,
                            const pt_layer_spec *spec, pt_err *err)
{
    const cJSON *op = cJSON_GetObjectItem(meta, "optim");
    if (!op)
        return PT_OK;
    const cJSON *k = cJSON_GetObjectItem(op, "optimizer"), *t = cJSON_GetObjectItem(op, "steps");
    int adam = cJSON_IsString(k) && !strcmp(k->valuestring, "adam");
    if (!cJSON_IsString(k) || (!adam && strcmp(k->valuestring, "sgd")) || !cJSON_IsNumber(t) ||
        t->valuedouble < 0 || t->valuedouble > 1e15 || t->valuedouble != floor(t->valuedouble))
        return pt_fail(err, PT_ERR_FORMAT,
                       "%s: meta.optim: expected {\"optimizer\": \"sgd\"|\"adam\", "
                       "\"steps\": an integer >= 0}",
                       z->path);
    pt_train_config tc = m->cfg.train;
    tc.optimizer = adam ? PT_OPT_ADAM : PT_OPT_SGD;
    pt_status st = pt_optim_init(&m->optim, &tc, m->net.n_params, err);
    if (st != PT_OK)
        return st;
    m->optim.t = (long)t->valuedouble;
    if (adam) {
        m->optim.bc1 = (float)(1.0 - pow(m->optim.beta1, (double)m->optim.t));
        m->optim.bc2 = (float)(1.0 - pow(m->optim.beta2, (double)m->optim.t));
    }
    for (int l = 0; st == PT_OK && l < m->net.n_layers; l++) {
        pt_layer *L = &m->net.layer[l];
        size_t boff = (size_t)(L->b - m->net.params);
        long shape[4];
        int nd = weight_shape(spec, m->net.shape, m->net.sizes, l, shape);
        for (int v = 0; st == PT_OK && v <= adam; v++) {
            float *buf = v ? m->optim.v : m->optim.m;
            char name[32];
            snprintf(name, sizeof name, "optim_%c_w%d", v ? 'v' : 'm', l);
            st = pt_npz_get(z, name, PT_F32, nd, shape, buf + L->off, err);
            snprintf(name, sizeof name, "optim_%c_b%d", v ? 'v' : 'm', l);
            if (st == PT_OK)
                st = pt_npz_get(z, name, PT_F32, 1, shape, buf + boff, err);
        }
    }
    return st;
}

/* Builds the network of the given sizes and fills it from the arrays. */
static pt_status read_arrays(pt_model *m, const pt_npz *z, const int *sizes, int n,
                             const pt_layer_spec *spec, const int *in_shape, pt_err *err)
{
    pt_status st = check_shapes(z, sizes, n, spec, in_shape, err);
    if (st != PT_OK)
        return st;
    st = pt_net_init(&m->net, in_shape, spec, n, m->eval_batch, NULL, err); /* filled below */
    if (st != PT_OK)
        return st == PT_ERR_NOMEM ? st : pt_fail(err, PT_ERR_FORMAT, "%s: %s", z->path, err->msg);
    for (int l = 0; l <= n; l++)
        if (m->net.sizes[l] != sizes[l])
            return pt_fail(err, PT_ERR_FORMAT, "%s: meta.sizes[%d] disagrees with meta.layers",
                           z->path, l);
    if (pt_npz_find(z, "mask0") && (st = pt_net_mask_enable(&m->net, err)) != PT_OK)
        return st;
    size_t most = 0;
    for (int l = 0; l < n; l++) {
        size_t k = (size_t)m->net.layer[l].n_in * m->net.layer[l].n_out;
        most = k > most ? k : most;
    }
    unsigned char *tmp = malloc(most);
    if (!tmp)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", z->path);
    for (int l = 0; st == PT_OK && l < n; l++)
        st = read_layer(m, z, spec, l, tmp, err);
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
    int sizes[PT_NET_MAX_LAYERS + 1] = {0}, n = 0, in_shape[3];
    pt_layer_spec spec[PT_NET_MAX_LAYERS];
    if (st == PT_OK)
        st = read_meta(m, o, path, sizes, &n, err);
    if (st == PT_OK)
        st = read_arch(o, path, sizes, n, spec, in_shape, err);
    if (st == PT_OK)
        st = read_arrays(m, &z, sizes, n, spec, in_shape, err);
    if (st == PT_OK)
        st = read_optim(m, &z, o, spec, err);
    cJSON_Delete(o);
    pt_npz_close(&z);
    if (st != PT_OK)
        pt_model_free(m);
    return st;
}

void pt_model_free(pt_model *m)
{
    pt_net_free(&m->net);
    pt_scaler_free(&m->scaler);
    for (int i = 0; m->class_names && i < m->n_classes; i++)
        free(m->class_names[i]);
    free(m->class_names);
    free(m->meta);
    pt_optim_free(&m->optim);
    memset(m, 0, sizeof *m);
}
