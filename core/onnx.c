/*
 * onnx.c — pt_net + scaler -> ONNX ModelProto, packed with protobuf-c; see
 * onnx.h for the graph.
 *
 * Every message, array and string of the model is allocated from one arena
 * (a list of blocks freed together), because the messages are built here,
 * not unpacked (protobuf_c_message_free_unpacked frees only what unpack
 * allocated). Dense weight tensors point straight into the network's
 * params (no copy); only sparse values and indices are copied.
 *
 * The model is built up to three times: as written, with every weight
 * dense (the dense-equivalent size) and for the uncompacted network (the
 * unpruned size); protobuf-c's get_packed_size measures each exactly
 * without packing it.
 *
 * Why one file of ~630 lines: one graph writer: the arena, the tensors (dense or COO) and the nodes
 * of each layer kind are used by each other only.
 */
#include "onnx.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "prune.h"

/* protobuf (and so every ONNX reader) refuses a message of 2 GiB or more. */
#define PROTO_MAX 0x7fffffffL

/* --- arena ------------------------------------------------------------------ */

typedef struct {
    void **p;
    size_t n, cap;
    int oom;
} arena;

static void *ar_alloc(arena *a, size_t size)
{
    if (a->oom)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        void **p = realloc(a->p, cap * sizeof *p);
        if (!p) {
            a->oom = 1;
            return NULL;
        }
        a->p = p;
        a->cap = cap;
    }
    void *q = calloc(1, size ? size : 1);
    if (!q) {
        a->oom = 1;
        return NULL;
    }
    return a->p[a->n++] = q;
}

static void ar_free(arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    free(a->p);
    memset(a, 0, sizeof *a);
}

static char *ar_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ar_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? ar_alloc(a, (size_t)n + 1) : NULL;
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

/* --- messages ---------------------------------------------------------------- */

static Onnx__AttributeProto *attr_int(arena *a, const char *name, long v)
{
    Onnx__AttributeProto *t = ar_alloc(a, sizeof *t);
    if (!t)
        return NULL;
    onnx__attribute_proto__init(t);
    t->name = (char *)name;
    t->has_type = 1;
    t->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    t->has_i = 1;
    t->i = v;
    return t;
}

/* An INTS attribute of n copies of v (pads take 4, the rest 2). */
static Onnx__AttributeProto *attr_ints(arena *a, const char *name, int n, long v)
{
    Onnx__AttributeProto *t = ar_alloc(a, sizeof *t);
    int64_t *x = ar_alloc(a, sizeof *x * (size_t)n);
    if (!t || !x)
        return NULL;
    onnx__attribute_proto__init(t);
    t->name = (char *)name;
    t->has_type = 1;
    t->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    for (int i = 0; i < n; i++)
        x[i] = v;
    t->n_ints = (size_t)n;
    t->ints = x;
    return t;
}

/* The graph under construction: nodes and initializers are appended to
 * arrays that build() sizes for the network's layer count. */
typedef struct {
    arena *a;
    Onnx__GraphProto *g;
    size_t cap_node, cap_init;
} builder;

static int add_node(builder *b, const char *op, const char *in0, const char *in1, const char *in2,
                    const char *out, Onnx__AttributeProto **attrs, int n_attrs)
{
    Onnx__NodeProto *n = ar_alloc(b->a, sizeof *n);
    char **in = ar_alloc(b->a, 3 * sizeof *in);
    char **o = ar_alloc(b->a, sizeof *o);
    Onnx__AttributeProto **at = ar_alloc(b->a, (n_attrs ? n_attrs : 1) * sizeof *at);
    if (!n || !in || !o || !at || b->g->n_node == b->cap_node)
        return 0;
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = ar_printf(b->a, "%s_%zu", op, b->g->n_node);
    in[0] = (char *)in0;
    in[1] = (char *)in1;
    in[2] = (char *)in2;
    n->input = in;
    n->n_input = in2 ? 3 : in1 ? 2 : in0 ? 1 : 0;
    o[0] = (char *)out;
    n->output = o;
    n->n_output = 1;
    for (int i = 0; i < n_attrs; i++)
        if (!(at[i] = attrs[i]))
            return 0;
    n->attribute = at;
    n->n_attribute = (size_t)n_attrs;
    b->g->node[b->g->n_node++] = n;
    return n->name != NULL;
}

static int64_t *dims_of(arena *a, int nd, const long *shape)
{
    int64_t *d = ar_alloc(a, sizeof *d * (size_t)nd);
    for (int i = 0; d && i < nd; i++)
        d[i] = shape[i];
    return d;
}

/* A dense float tensor over data (not copied: it must outlive the pack). */
static Onnx__TensorProto *dense_tensor(arena *a, const char *name, int nd, const long *shape,
                                       const float *data)
{
    Onnx__TensorProto *t = ar_alloc(a, sizeof *t);
    int64_t *dims = dims_of(a, nd, shape);
    if (!t || !dims)
        return NULL;
    onnx__tensor_proto__init(t);
    t->dims = dims;
    t->n_dims = (size_t)nd;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)shape[i];
    t->n_float_data = n;
    t->float_data = (float *)data;
    t->name = (char *)name;
    return t;
}

/* COO with linear indices (ONNX's format (b): indices of shape [NNZ], in
 * ascending order), of the nonzero entries of data. */
static Onnx__SparseTensorProto *sparse_tensor(arena *a, const char *name, int nd, const long *shape,
                                              const float *data, size_t nnz)
{
    Onnx__SparseTensorProto *s = ar_alloc(a, sizeof *s);
    Onnx__TensorProto *v = ar_alloc(a, sizeof *v), *ix = ar_alloc(a, sizeof *ix);
    float *val = ar_alloc(a, sizeof *val * nnz);
    int64_t *idx = ar_alloc(a, sizeof *idx * nnz);
    int64_t *d1 = ar_alloc(a, sizeof *d1), *d2 = ar_alloc(a, sizeof *d2);
    int64_t *dims = dims_of(a, nd, shape);
    if (!s || !v || !ix || !val || !idx || !d1 || !d2 || !dims)
        return NULL;
    size_t n = 1, k = 0;
    for (int i = 0; i < nd; i++)
        n *= (size_t)shape[i];
    for (size_t i = 0; i < n; i++)
        if (data[i] != 0.0f) {
            val[k] = data[i];
            idx[k++] = (int64_t)i;
        }
    onnx__sparse_tensor_proto__init(s);
    onnx__tensor_proto__init(v);
    onnx__tensor_proto__init(ix);
    *d1 = *d2 = (int64_t)nnz;
    v->name = (char *)name; /* ONNX: the values' name is the tensor's */
    v->n_dims = 1;
    v->dims = d1;
    v->has_data_type = 1;
    v->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    v->n_float_data = nnz;
    v->float_data = val;
    ix->n_dims = 1;
    ix->dims = d2;
    ix->has_data_type = 1;
    ix->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    ix->n_int64_data = nnz;
    ix->int64_data = idx;
    s->values = v;
    s->indices = ix;
    s->n_dims = (size_t)nd;
    s->dims = dims;
    return s;
}

static int add_init(builder *b, Onnx__TensorProto *t)
{
    if (!t || b->g->n_initializer == b->cap_init)
        return 0;
    b->g->initializer[b->g->n_initializer++] = t;
    return 1;
}

/* Weight of layer l: an initializer, or, when allowed and smaller as COO, a
 * Constant node whose sparse_value is the SparseTensorProto. Not a
 * graph.sparse_initializer: ONNX types those as sparse_tensor(float), which
 * no standard operator takes (Gemm and Conv want tensor(float)), so
 * onnx.checker's full check (type inference) rejects a Gemm fed by one;
 * Constant is the standard operator that turns a SparseTensorProto into a
 * dense tensor, and every runtime folds it into a dense initializer at load. */
static int add_weight(builder *b, const char *name, int nd, const long *shape, const float *w,
                      int allow_sparse, pt_onnx_stats *st)
{
    Onnx__TensorProto *d = dense_tensor(b->a, name, nd, shape, w);
    if (!d)
        return 0;
    size_t n = d->n_float_data, nnz = 0;
    for (size_t i = 0; i < n; i++)
        nnz += w[i] != 0.0f;
    st->n_weights++;
    st->weights += (long)n;
    st->nnz += (long)nnz;
    if (allow_sparse && nnz > 0 && nnz < n) {
        Onnx__SparseTensorProto *s = sparse_tensor(b->a, name, nd, shape, w, nnz);
        if (!s)
            return 0;
        if (onnx__sparse_tensor_proto__get_packed_size(s) <
            onnx__tensor_proto__get_packed_size(d)) {
            Onnx__AttributeProto *t = ar_alloc(b->a, sizeof *t);
            if (!t)
                return 0;
            onnx__attribute_proto__init(t);
            t->name = "sparse_value";
            t->has_type = 1;
            t->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR;
            t->sparse_tensor = s;
            st->n_sparse++;
            return add_node(b, "Constant", NULL, NULL, NULL, name, &t, 1);
        }
    }
    return add_init(b, d);
}

/* A float tensor value: dims < 0 are the symbolic batch dimension. */
static Onnx__ValueInfoProto *value_info(arena *a, const char *name, int nd, const long *shape)
{
    Onnx__ValueInfoProto *v = ar_alloc(a, sizeof *v);
    Onnx__TypeProto *t = ar_alloc(a, sizeof *t);
    Onnx__TypeProto__Tensor *tt = ar_alloc(a, sizeof *tt);
    Onnx__TensorShapeProto *sh = ar_alloc(a, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dim = ar_alloc(a, sizeof *dim * (size_t)nd);
    if (!v || !t || !tt || !sh || !dim)
        return NULL;
    for (int i = 0; i < nd; i++) {
        if (!(dim[i] = ar_alloc(a, sizeof *dim[i])))
            return NULL;
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (shape[i] < 0) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i]->dim_param = "batch";
        } else {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = shape[i];
        }
    }
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)nd;
    sh->dim = dim;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    return v;
}

/* --- the graph ---------------------------------------------------------------- */

/* Conv (+ Relu + pooling) of layer l from *cur; *cur becomes its output. */
static int add_conv(builder *b, const pt_layer *L, int l, const char **cur, int allow_sparse,
                    pt_onnx_stats *st)
{
    arena *a = b->a;
    const pt_conv_geom *g = &L->g;
    long shape[4] = {L->n_out, g->c, g->k, g->k}, bshape = L->n_out;
    char *wn = ar_printf(a, "layer%d.weight", l), *bn = ar_printf(a, "layer%d.bias", l);
    char *conv = ar_printf(a, "conv%d", l), *relu = ar_printf(a, "relu%d", l);
    if (!wn || !bn || !conv || !relu || !add_weight(b, wn, 4, shape, L->w, allow_sparse, st) ||
        !add_init(b, dense_tensor(a, bn, 1, &bshape, L->b)))
        return 0;
    Onnx__AttributeProto *at[3] = {attr_ints(a, "kernel_shape", 2, g->k),
                                   attr_ints(a, "strides", 2, g->stride),
                                   attr_ints(a, "pads", 4, g->pad)};
    if (!add_node(b, "Conv", *cur, wn, bn, conv, at, 3) ||
        !add_node(b, "Relu", conv, NULL, NULL, relu, NULL, 0))
        return 0;
    *cur = relu;
    if (g->pool == PT_POOL_NONE)
        return 1;
    char *pool = ar_printf(a, "pool%d", l);
    Onnx__AttributeProto *pa[2] = {attr_ints(a, "kernel_shape", 2, g->ps),
                                   attr_ints(a, "strides", 2, g->ps)};
    if (!pool || !add_node(b, g->pool == PT_POOL_MAX ? "MaxPool" : "AveragePool", relu, NULL, NULL,
                           pool, pa, 2))
        return 0;
    *cur = pool;
    return 1;
}

/* Gemm (+ Relu unless last) of layer l from *cur. */
static int add_dense(builder *b, const pt_layer *L, int l, int last, const char **cur,
                     int allow_sparse, pt_onnx_stats *st)
{
    arena *a = b->a;
    long shape[2] = {L->n_out, L->n_in}, bshape = L->n_out;
    char *wn = ar_printf(a, "layer%d.weight", l), *bn = ar_printf(a, "layer%d.bias", l);
    char *gemm = last ? "logits" : ar_printf(a, "gemm%d", l);
    char *relu = last ? NULL : ar_printf(a, "relu%d", l);
    if (!wn || !bn || !gemm || (!last && !relu) ||
        !add_weight(b, wn, 2, shape, L->w, allow_sparse, st) ||
        !add_init(b, dense_tensor(a, bn, 1, &bshape, L->b)))
        return 0;
    Onnx__AttributeProto *at[1] = {attr_int(a, "transB", 1)};
    if (!add_node(b, "Gemm", *cur, wn, bn, gemm, at, 1))
        return 0;
    *cur = gemm;
    if (last)
        return 1;
    if (!add_node(b, "Relu", gemm, NULL, NULL, relu, NULL, 0))
        return 0;
    *cur = relu;
    return 1;
}

static Onnx__StringStringEntryProto *prop(arena *a, const char *k, char *v)
{
    Onnx__StringStringEntryProto *e = ar_alloc(a, sizeof *e);
    if (!e || !v)
        return NULL;
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)k;
    e->value = v;
    return e;
}

/* The metadata_props shared by every build of the model (arena strings). */
typedef struct {
    Onnx__StringStringEntryProto *e[8];
    int n;
} props;

/* cfg and info as metadata; 0 when out of memory. */
static int make_props(arena *a, const pt_net *net, const pt_config *cfg, const pt_model_info *info,
                      props *p)
{
    char *json = pt_config_to_json(cfg);
    if (!json)
        return 0;
    char *cj = ar_printf(a, "%s", json);
    free(json);
    p->n = 0;
    p->e[p->n++] = prop(a, "prunetune.config", cj);
    p->e[p->n++] = prop(a, "prunetune.test_acc", ar_printf(a, "%.17g", info->test_acc));
    p->e[p->n++] = prop(a, "prunetune.n_test", ar_printf(a, "%d", info->n_test));
    char sizes[16 * (PT_NET_MAX_LAYERS + 1) + 4] = "[";
    for (int l = 0; l <= net->n_layers; l++)
        snprintf(sizes + strlen(sizes), sizeof sizes - strlen(sizes), "%s%d", l ? "," : "",
                 net->sizes[l]);
    strcat(sizes, "]");
    p->e[p->n++] = prop(a, "prunetune.sizes", ar_printf(a, "%s", sizes));
    if (info->class_names) {
        cJSON *c = cJSON_CreateStringArray((const char *const *)info->class_names, info->n_classes);
        char *text = c ? cJSON_PrintUnformatted(c) : NULL;
        cJSON_Delete(c);
        if (!text)
            return 0;
        p->e[p->n++] = prop(a, "prunetune.classes", ar_printf(a, "%s", text));
        free(text);
    }
    for (int i = 0; i < p->n; i++)
        if (!p->e[i])
            return 0;
    return 1;
}

/* The whole model of net (already compacted or not); NULL when out of
 * memory. st accumulates the weight counts. */
static Onnx__ModelProto *build(arena *a, const pt_net *net, const pt_scaler *sc, const props *p,
                               int allow_sparse, pt_onnx_stats *st)
{
    Onnx__ModelProto *m = ar_alloc(a, sizeof *m);
    Onnx__GraphProto *g = ar_alloc(a, sizeof *g);
    Onnx__OperatorSetIdProto *op = ar_alloc(a, sizeof *op);
    Onnx__OperatorSetIdProto **ops = ar_alloc(a, sizeof *ops);
    /* Per layer at most a sparse weight's Constant, Conv/Gemm, Relu, pool,
     * Flatten; + Sub, Mul, Softmax. */
    size_t cap_node = 5 * (size_t)net->n_layers + 3, cap_init = 2 * (size_t)net->n_layers + 2;
    Onnx__NodeProto **nodes = ar_alloc(a, sizeof *nodes * cap_node);
    Onnx__TensorProto **init = ar_alloc(a, sizeof *init * cap_init);
    Onnx__ValueInfoProto **in = ar_alloc(a, sizeof *in), **out = ar_alloc(a, 2 * sizeof *out);
    if (!m || !g || !op || !ops || !nodes || !init || !in || !out)
        return NULL;
    onnx__model_proto__init(m);
    onnx__graph_proto__init(g);
    onnx__operator_set_id_proto__init(op);
    op->domain = "";
    op->has_version = 1;
    op->version = PT_ONNX_OPSET;
    ops[0] = op;
    g->name = "prunetune";
    g->node = nodes;
    g->initializer = init;
    builder b = {a, g, cap_node, cap_init};

    int conv = pt_net_has_conv(net), nl = net->n_layers;
    long ishape[4] = {-1, net->shape[0], net->shape[1], net->shape[2]};
    long mlp_shape[2] = {-1, net->sizes[0]}, classes[2] = {-1, net->sizes[nl]};
    /* The scaler broadcasts over the batch: shape (D) or (C, H, W). */
    long *sshape = conv ? ishape + 1 : mlp_shape + 1;
    int snd = conv ? 3 : 1;
    in[0] = value_info(a, "input", snd + 1, conv ? ishape : mlp_shape);
    out[0] = value_info(a, "logits", 2, classes);
    out[1] = value_info(a, "probabilities", 2, classes);
    if (!in[0] || !out[0] || !out[1] ||
        !add_init(&b, dense_tensor(a, "scale_offset", snd, sshape, sc->offset)) ||
        !add_init(&b, dense_tensor(a, "scale_mul", snd, sshape, sc->mul)) ||
        !add_node(&b, "Sub", "input", "scale_offset", NULL, "centered", NULL, 0) ||
        !add_node(&b, "Mul", "centered", "scale_mul", NULL, "scaled", NULL, 0))
        return NULL;
    g->input = in;
    g->n_input = 1;
    g->output = out;
    g->n_output = 2;
    const char *cur = "scaled";
    for (int l = 0; l < nl; l++) {
        const pt_layer *L = &net->layer[l];
        int ok;
        if (L->kind == PT_LAYER_CONV) {
            ok = add_conv(&b, L, l, &cur, allow_sparse, st);
        } else {
            if (l > 0 && net->layer[l - 1].kind == PT_LAYER_CONV) {
                Onnx__AttributeProto *at[1] = {attr_int(a, "axis", 1)};
                if (!add_node(&b, "Flatten", cur, NULL, NULL, "flat", at, 1))
                    return NULL;
                cur = "flat";
            }
            ok = add_dense(&b, L, l, l == nl - 1, &cur, allow_sparse, st);
        }
        long macs = pt_layer_macs(net, l), per_w = macs / ((long)L->n_in * L->n_out);
        long nnz = 0;
        for (long i = 0; i < (long)L->n_in * L->n_out; i++)
            nnz += L->w[i] != 0.0f;
        st->flops += 2 * macs;
        st->flops_nnz += 2 * nnz * per_w;
        if (!ok)
            return NULL;
    }
    Onnx__AttributeProto *at[1] = {attr_int(a, "axis", 1)};
    if (!add_node(&b, "Softmax", "logits", NULL, NULL, "probabilities", at, 1))
        return NULL;

    m->has_ir_version = 1;
    m->ir_version = PT_ONNX_IR_VERSION;
    m->n_opset_import = 1;
    m->opset_import = ops;
    m->producer_name = "prunetune";
#ifdef PT_VERSION
    m->producer_version = PT_VERSION;
#endif
    m->doc_string = "A network trained and pruned by prunetune. Input: the raw features as "
                    "float32 (the scaling is the graph's Sub and Mul); outputs: logits and "
                    "softmax probabilities.";
    m->graph = g;
    m->metadata_props = (Onnx__StringStringEntryProto **)p->e;
    m->n_metadata_props = (size_t)p->n;
    return m;
}

/* --- writing ------------------------------------------------------------------ */

typedef struct {
    ProtobufCBuffer base;
    FILE *f;
    int bad;
} file_buffer;

static void file_append(ProtobufCBuffer *buf, size_t len, const uint8_t *data)
{
    file_buffer *fb = (file_buffer *)buf;
    if (!fb->bad && fwrite(data, 1, len, fb->f) != len)
        fb->bad = errno ? errno : EIO;
}

static pt_status write_file(const char *path, const Onnx__ModelProto *m, pt_err *err)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp)
        return pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, n + 5, "%s.tmp", path);
    file_buffer fb = {.base = {.append = file_append}, .f = fopen(tmp, "wb")};
    if (!fb.f) {
        pt_status st = pt_fail(err, PT_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    errno = 0;
    onnx__model_proto__pack_to_buffer(m, &fb.base);
    if (fclose(fb.f) != 0 && !fb.bad)
        fb.bad = errno ? errno : EIO;
    pt_status st = PT_OK;
    if (fb.bad)
        st = pt_fail(err, PT_ERR_IO, "%s: write failed: %s", tmp, strerror(fb.bad));
    else if (rename(tmp, path) != 0)
        st = pt_fail(err, PT_ERR_IO, "%s: cannot rename %s: %s", path, tmp, strerror(errno));
    if (st != PT_OK)
        remove(tmp);
    free(tmp);
    return st;
}

pt_status pt_onnx_save(const char *path, const pt_net *net, const pt_scaler *sc,
                       const pt_config *cfg, const pt_model_info *info, pt_onnx_stats *stats,
                       pt_err *err)
{
    if (sc->dim != net->sizes[0])
        return pt_fail(err, PT_ERR_ARG, "%s: scaler has %d features, network %d inputs", path,
                       sc->dim, net->sizes[0]);
    pt_net small;
    pt_status st = pt_net_compact(net, &small, 1, err);
    if (st != PT_OK)
        return st == PT_ERR_NOMEM ? pt_fail(err, st, "%s: out of memory", path) : st;
    arena a = {0};
    props p;
    pt_onnx_stats s = {0}, dense = {0}, full = {0};
    Onnx__ModelProto *m = NULL, *md = NULL, *mf = NULL;
    if (make_props(&a, &small, cfg, info, &p)) {
        m = build(&a, &small, sc, &p, 1, &s);
        md = build(&a, &small, sc, &p, 0, &dense);
        mf = build(&a, net, sc, &p, 0, &full);
    }
    if (!m || !md || !mf) {
        st = pt_fail(err, PT_ERR_NOMEM, "%s: out of memory", path);
    } else {
        s.bytes = (long)onnx__model_proto__get_packed_size(m);
        s.bytes_dense = (long)onnx__model_proto__get_packed_size(md);
        s.bytes_unpruned = (long)onnx__model_proto__get_packed_size(mf);
        s.flops_unpruned = full.flops;
        s.n_layers = net->n_layers;
        memcpy(s.sizes, small.sizes, sizeof s.sizes);
        memcpy(s.sizes_in, net->sizes, sizeof s.sizes_in);
        if (s.bytes > PROTO_MAX)
            st = pt_fail(err, PT_ERR_ARG,
                         "%s: the model would be %ld bytes, over protobuf's 2 GiB limit of "
                         "one ONNX file",
                         path, s.bytes);
        else
            st = write_file(path, m, err);
    }
    if (st == PT_OK && stats)
        *stats = s;
    ar_free(&a);
    pt_net_free(&small);
    return st;
}

static void sizes_text(const int *sizes, int n, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int l = 0; l <= n; l++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%d", l ? "-" : "", sizes[l]);
}

void pt_onnx_stats_line(const char *path, const pt_onnx_stats *s, char *buf, size_t cap)
{
    char a[256], b[256];
    sizes_text(s->sizes, s->n_layers, a, sizeof a);
    sizes_text(s->sizes_in, s->n_layers, b, sizeof b);
    snprintf(buf, cap,
             "%s: ONNX opset %d, %ld bytes (%.1f%% of the %ld bytes of its dense tensors, "
             "%.1f%% of the unpruned network's %ld); %d of %d weight tensors sparse (COO), "
             "%ld of %ld weights nonzero; layers %s (trained %s); FLOPs/sample %ld as run "
             "dense, %ld on nonzero weights, %ld unpruned",
             path, PT_ONNX_OPSET, s->bytes, 100.0 * (double)s->bytes / (double)s->bytes_dense,
             s->bytes_dense, 100.0 * (double)s->bytes / (double)s->bytes_unpruned,
             s->bytes_unpruned, s->n_sparse, s->n_weights, s->nnz, s->weights, a, b, s->flops,
             s->flops_nnz, s->flops_unpruned);
}
