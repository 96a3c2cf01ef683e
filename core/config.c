/*
 * config.c — the trial config: one key table, one parser, one printer.
 *
 * Every key is one row of `keys` below: its path, its type, its bounds, where
 * it lives in pt_config (offsetof) and a line of documentation. Everything
 * else is derived from the rows: the parser looks each JSON member up by its
 * full path, the "expected ..." part of every error message is written from
 * the row's type and bounds, pt_config_to_json() walks the rows to print every
 * key, and pt_config_key() lets tests/test_config.c check that
 * schemas/train.schema.json documents exactly these keys with the same
 * defaults. So a key's name, type and limits are written once in C and once
 * for users, and a test fails when the two drift apart.
 *
 * The price is that fields are written through offsets and casts checked by
 * the row's type tag rather than by the compiler; the static asserts below pin
 * the one assumption this needs (the config's enums are int-sized).
 *
 * Parsing fills a local copy that starts from the defaults and is handed back
 * only when the whole text was accepted, so a failed parse leaves the caller's
 * config untouched. Errors stop at the first bad key, in document order.
 */
#include "config.h"

#include "jsontext.h"
#include "netspec.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(pt_data_format) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_scale) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_opt_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_lr_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_prune_schedule) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_granularity) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_norm) == sizeof(int), "enums are stored as int");

/* Largest integer a JSON number (an IEEE double) holds exactly along with all
 * smaller ones: any larger seed could silently be read as its neighbour. */
#define SEED_MAX 9007199254740991.0 /* 2^53 - 1 */

typedef enum {
    K_NUM,    /* double */
    K_INT,    /* int, integral JSON number */
    K_SEED,   /* uint64_t in [0, SEED_MAX] */
    K_BOOL,   /* int 0/1 from true/false */
    K_STR,    /* char[size] */
    K_ENUM,   /* int-sized enum, from one of `names` */
    K_HIDDEN, /* int count at off, int array[size] at off2 */
    K_LAYERS, /* pt_layer_values at off: a number, or an array of at most size */
    K_LABEL,  /* string -> char[size] at off (index -1), integer -> int at off2 */
    K_HEADER, /* true/false/"auto" -> 1/0/-1 */
    K_IGNORE, /* accepted when a string, not stored ("$schema") */
    K_NET     /* net.layers: pt_net_config at off (netspec.h) */
} key_type;

enum { B_NONE, B_INCL, B_EXCL }; /* kind of a lower or upper bound */

typedef struct {
    const char *name;
    int value;
} enum_name;

typedef struct {
    const char *path;
    key_type type;
    char lo_kind, hi_kind;
    double lo, hi; /* for K_HIDDEN: bounds of each element */
    size_t off, off2, size;
    const enum_name *names;
    const char *doc;
} key_def;

static const enum_name formats[] = {{"idx", PT_FMT_IDX}, {"csv", PT_FMT_CSV}, {NULL, 0}};
static const enum_name scales[] = {
    {"unit", PT_SCALE_UNIT}, {"standard", PT_SCALE_STANDARD}, {"none", PT_SCALE_NONE}, {NULL, 0}};
static const enum_name optimizers[] = {{"sgd", PT_OPT_SGD}, {"adam", PT_OPT_ADAM}, {NULL, 0}};
static const enum_name schedules[] = {
    {"constant", PT_LR_CONSTANT}, {"step", PT_LR_STEP}, {"cosine", PT_LR_COSINE}, {NULL, 0}};
static const enum_name l2_modes[] = {{"coupled", 0}, {"decoupled", 1}, {NULL, 0}};
static const enum_name prune_schedules[] = {{"none", PT_PRUNE_NONE}, {"oneshot", PT_PRUNE_ONESHOT},
    {"iterative", PT_PRUNE_ITERATIVE}, {"gradual", PT_PRUNE_GRADUAL}, {NULL, 0}};
static const enum_name granularities[] = {{"layer", PT_GRAN_LAYER}, {"global", PT_GRAN_GLOBAL},
    {"neuron", PT_GRAN_NEURON}, {"filter", PT_GRAN_FILTER}, {NULL, 0}};
static const enum_name norms[] = {{"l2", PT_NORM_L2}, {"l1", PT_NORM_L1}, {NULL, 0}};

/* One row per key reads better than clang-format's one field per line. */
/* clang-format off */
#define F(m) offsetof(pt_config, m)
#define SZ(m) sizeof(((pt_config *)0)->m)
#define NUM(p, m, lk, l, hk, h, d)                                                                 \
    {.path = p, .type = K_NUM, .lo_kind = lk, .lo = l, .hi_kind = hk, .hi = h, .off = F(m),        \
     .doc = d}
#define INT(p, m, l, h, d)                                                                         \
    {.path = p, .type = K_INT, .lo_kind = B_INCL, .lo = l, .hi_kind = B_INCL, .hi = h,             \
     .off = F(m), .doc = d}
#define BOOL(p, m, d) {.path = p, .type = K_BOOL, .off = F(m), .doc = d}
#define STR(p, m, d) {.path = p, .type = K_STR, .off = F(m), .size = SZ(m), .doc = d}
#define ENUM(p, m, n, d) {.path = p, .type = K_ENUM, .off = F(m), .names = n, .doc = d}

static const key_def keys[] = {
    {.path = "$schema", .type = K_IGNORE, .doc = "path or URL of this file's JSON Schema; ignored"},
    {.path = "seed", .type = K_SEED, .lo_kind = B_INCL, .lo = 0, .hi_kind = B_INCL, .hi = SEED_MAX,
     .off = F(seed),
     .doc = "seeds initialisation, shuffling and splits; at most 2^53 - 1 (exact in JSON)"},
    ENUM("data.format", data.format, formats, "data file format"),
    STR("data.dir", data.dir, "IDX folder with the four standard (Fashion-)MNIST file names"),
    STR("data.train_images", data.train_images, "IDX training images; overrides data.dir"),
    STR("data.train_labels", data.train_labels, "IDX training labels; overrides data.dir"),
    STR("data.test_images", data.test_images, "IDX test images; overrides data.dir"),
    STR("data.test_labels", data.test_labels, "IDX test labels; overrides data.dir"),
    STR("data.train", data.train, "CSV training file"),
    STR("data.test", data.test, "CSV test file; empty: split data.test_fraction off data.train"),
    {.path = "data.header", .type = K_HEADER, .off = F(data.header),
     .doc = "CSV first row is a header: true, false or \"auto\""},
    {.path = "data.label", .type = K_LABEL, .lo_kind = B_INCL, .lo = INT_MIN, .hi_kind = B_INCL,
     .hi = INT_MAX, .off = F(data.label_name), .off2 = F(data.label_index),
     .size = SZ(data.label_name),
     .doc = "CSV label column: name, or index (negative counts from the end)"},
    ENUM("data.scale", data.scale, scales, "feature scaling"),
    NUM("data.val_fraction", data.val_fraction, B_INCL, 0, B_EXCL, 1,
        "fraction of the training rows held out for validation"),
    NUM("data.test_fraction", data.test_fraction, B_INCL, 0, B_EXCL, 1,
        "CSV without data.test: fraction of rows held out for testing"),
    INT("data.limit", data.limit, 0, INT_MAX, "use only the first N training rows; 0 = all"),
    INT("data.test_limit", data.test_limit, 0, INT_MAX, "use only the first N test rows; 0 = all"),
    {.path = "data.shape", .type = K_HIDDEN, .lo_kind = B_INCL, .lo = 1, .hi_kind = B_INCL,
     .hi = 65536, .off = F(data.n_shape), .off2 = F(data.shape), .size = 3,
     .doc = "C, H, W of a sample for conv layers; [] = 1 x s x s for s^2 features"},
    {.path = "net.hidden", .type = K_HIDDEN, .lo_kind = B_INCL, .lo = 1, .hi_kind = B_INCL,
     .hi = 65536, .off = F(net.n_hidden), .off2 = F(net.hidden), .size = PT_MAX_HIDDEN,
     .doc = "hidden layer widths; [] is softmax regression"},
    {.path = "net.layers", .type = K_NET, .off = F(net),
     .doc = "layer list (conv2d, maxpool, avgpool, flatten, dense, dropout); replaces net.hidden"},
    INT("train.epochs", train.epochs, 1, 100000, "passes over the training rows"),
    INT("train.batch_size", train.batch_size, 1, 65536, "rows per gradient step"),
    INT("train.threads", train.threads, 1, 1024, "BLAS threads"),
    ENUM("train.optimizer", train.optimizer, optimizers, "update rule"),
    NUM("train.lr", train.lr, B_EXCL, 0, B_INCL, 10, "base learning rate"),
    NUM("train.momentum", train.momentum, B_INCL, 0, B_EXCL, 1, "SGD momentum"),
    BOOL("train.nesterov", train.nesterov, "SGD: Nesterov momentum"),
    NUM("train.beta1", train.beta1, B_INCL, 0, B_EXCL, 1, "Adam: first-moment decay"),
    NUM("train.beta2", train.beta2, B_INCL, 0, B_EXCL, 1, "Adam: second-moment decay"),
    NUM("train.eps", train.eps, B_EXCL, 0, B_NONE, 0, "Adam: denominator guard"),
    ENUM("train.lr_schedule", train.lr_schedule, schedules, "learning-rate schedule"),
    INT("train.step_epochs", train.step_epochs, 1, INT_MAX, "step: epochs between decays"),
    NUM("train.gamma", train.gamma, B_EXCL, 0, B_INCL, 1, "step: factor applied at each decay"),
    NUM("train.min_lr", train.min_lr, B_INCL, 0, B_NONE, 0,
        "cosine: final learning rate, below train.lr"),
    NUM("reg.l2", reg.l2, B_INCL, 0, B_INCL, 1, "L2 strength on the weights"),
    ENUM("reg.l2_mode", reg.l2_decoupled, l2_modes,
         "coupled: added to the gradient; decoupled: shrinks weights directly (AdamW)"),
    {.path = "reg.l2_layers", .type = K_LAYERS, .lo_kind = B_INCL, .lo = 0, .hi_kind = B_INCL,
     .hi = 1, .off = F(reg.l2_layers), .size = PT_MAX_LAYERS,
     .doc = "L2 strength per weight layer (overrides reg.l2); [] = reg.l2 everywhere"},
    NUM("reg.l1", reg.l1, B_INCL, 0, B_INCL, 1, "L1 strength, applied as a proximal step"),
    {.path = "reg.dropout", .type = K_LAYERS, .lo_kind = B_INCL, .lo = 0, .hi_kind = B_EXCL,
     .hi = 1, .off = F(reg.dropout), .size = PT_MAX_HIDDEN,
     .doc = "dropout rate after each hidden layer: one number for all, or a list"},
    NUM("reg.dropout_input", reg.dropout_input, B_INCL, 0, B_EXCL, 1, "dropout rate on the input"),
    NUM("reg.max_norm", reg.max_norm, B_INCL, 0, B_NONE, 0,
        "cap on each neuron's incoming weight L2 norm; 0 = off"),
    BOOL("reg.bias", reg.bias, "regularize biases too (L1, L2)"),
    ENUM("prune.schedule", prune.schedule, prune_schedules, "when to prune"),
    ENUM("prune.granularity", prune.granularity, granularities,
         "layer: same fraction per layer; global: one magnitude threshold; neuron: whole neurons"),
    ENUM("prune.norm", prune.norm, norms, "neuron pruning: norm that ranks neurons"),
    NUM("prune.sparsity", prune.sparsity, B_INCL, 0, B_EXCL, 1,
        "final fraction of weights (layer, global) or hidden neurons (neuron) removed"),
    BOOL("prune.prune_output", prune.prune_output,
         "unstructured pruning thins the output layer's weights too"),
    INT("prune.finetune_epochs", prune.finetune_epochs, 0, 100000,
        "oneshot: epochs after pruning; iterative: epochs after each round"),
    INT("prune.rounds", prune.rounds, 1, 1000, "iterative: prune-retrain rounds"),
    INT("prune.rewind_epoch", prune.rewind_epoch, -1, 100000,
        "iterative: rewind survivors to their weights after this epoch (0 = init); -1 = off"),
    NUM("prune.initial_sparsity", prune.initial_sparsity, B_INCL, 0, B_EXCL, 1,
        "gradual: sparsity at the first pruning step"),
    NUM("prune.start_epoch", prune.start_epoch, B_INCL, 0, B_NONE, 0,
        "gradual: epoch at which pruning starts (may be fractional)"),
    NUM("prune.end_epoch", prune.end_epoch, B_EXCL, 0, B_NONE, 0,
        "gradual: epoch at which the final sparsity is reached"),
    INT("prune.frequency", prune.frequency, 1, INT_MAX, "gradual: steps between pruning"),
};
/* clang-format on */
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

void pt_config_defaults(pt_config *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    pt_data_config *d = &c->data;
    d->format = PT_FMT_IDX;
    snprintf(d->dir, sizeof d->dir, "%s", "/usr/share/datasets/fashion-mnist");
    d->header = -1;
    d->label_index = -1;
    d->scale = PT_SCALE_UNIT;
    d->val_fraction = 0.1;
    d->test_fraction = 0.2;
    c->net.n_hidden = 2;
    c->net.hidden[0] = 300;
    c->net.hidden[1] = 100;
    pt_train_config *t = &c->train;
    t->epochs = 10;
    t->batch_size = 128;
    t->threads = 1;
    t->optimizer = PT_OPT_SGD;
    t->lr = 0.05;
    t->momentum = 0.9;
    t->nesterov = 0;
    t->beta1 = 0.9;
    t->beta2 = 0.999;
    t->eps = 1e-8;
    t->lr_schedule = PT_LR_CONSTANT;
    t->step_epochs = 5;
    t->gamma = 0.1;
    t->min_lr = 0.0;
    /* No regularization and no pruning: the defaults are the baseline. */
    c->reg.l2_decoupled = 0;
    pt_prune_config *p = &c->prune;
    p->schedule = PT_PRUNE_NONE;
    p->granularity = PT_GRAN_LAYER;
    p->norm = PT_NORM_L2;
    p->sparsity = 0.9;
    p->prune_output = 1;
    p->finetune_epochs = 3;
    p->rounds = 3;
    p->rewind_epoch = -1;
    p->initial_sparsity = 0.0;
    p->start_epoch = 1.0;
    p->end_epoch = 8.0;
    p->frequency = 100;
}

const char *pt_config_key(int i)
{
    return i >= 0 && i < N_KEYS ? keys[i].path : NULL;
}

/* ---- text helpers ------------------------------------------------------- */

static void append(char *buf, size_t n, const char *fmt, const char *a, const char *b)
{
    size_t used = strlen(buf);
    if (used < n)
        snprintf(buf + used, n - used, fmt, a, b);
}

static void describe_bounds(const key_def *k, char *buf, size_t n)
{
    char num[32];
    if (k->lo_kind != B_NONE) {
        pt_fmt_double(num, sizeof num, k->lo);
        append(buf, n, " %s %s", k->lo_kind == B_INCL ? ">=" : ">", num);
    }
    if (k->hi_kind != B_NONE) {
        pt_fmt_double(num, sizeof num, k->hi);
        append(buf, n, k->lo_kind != B_NONE ? " and %s %s" : " %s %s",
               k->hi_kind == B_INCL ? "<=" : "<", num);
    }
}

/* The WHAT of "expected WHAT", from the row alone. */
static void describe(const key_def *k, char *buf, size_t n)
{
    buf[0] = '\0';
    switch (k->type) {
    case K_NUM:
    case K_INT:
    case K_SEED:
        snprintf(buf, n, "%s", k->type == K_NUM ? "a number" : "an integer");
        describe_bounds(k, buf, n);
        break;
    case K_BOOL:
        snprintf(buf, n, "true or false");
        break;
    case K_STR:
        snprintf(buf, n, "a string of at most %zu bytes", k->size - 1);
        break;
    case K_ENUM:
        snprintf(buf, n, "one of");
        for (const enum_name *e = k->names; e->name; e++)
            append(buf, n, "%s\"%s\"", e == k->names ? " " : ", ", e->name);
        break;
    case K_HIDDEN:
        snprintf(buf, n, "an array of at most %zu integers", k->size);
        describe_bounds(k, buf, n);
        break;
    case K_LAYERS:
        snprintf(buf, n, "a number or an array of at most %zu numbers", k->size);
        describe_bounds(k, buf, n);
        break;
    case K_LABEL:
        snprintf(buf, n, "a column name (string of at most %zu bytes) or index (integer)",
                 k->size - 1);
        break;
    case K_HEADER:
        snprintf(buf, n, "true, false or \"auto\"");
        break;
    case K_IGNORE:
        snprintf(buf, n, "a string");
        break;
    case K_NET:
        snprintf(buf, n, "an array of layer objects");
        break;
    }
}

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

static pt_status expected_key(const parse_ctx *x, const char *path, const key_def *k,
                              const cJSON *v)
{
    char what[160];
    describe(k, what, sizeof what);
    return expected(x, path, what, v);
}

static int in_bounds(const key_def *k, double v)
{
    if (k->lo_kind == B_INCL ? v < k->lo : k->lo_kind == B_EXCL ? v <= k->lo : 0)
        return 0;
    if (k->hi_kind == B_INCL ? v > k->hi : k->hi_kind == B_EXCL ? v >= k->hi : 0)
        return 0;
    return 1;
}

static int is_integral(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
}

static int is_int_in(const key_def *k, const cJSON *v)
{
    return is_integral(v) && v->valuedouble >= INT_MIN && v->valuedouble <= INT_MAX &&
           in_bounds(k, v->valuedouble);
}

static pt_status set_hidden(const parse_ctx *x, const key_def *k, const cJSON *v)
{
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > (int)k->size)
        return expected_key(x, k->path, k, v);
    int *count = (int *)((char *)x->c + k->off), *arr = (int *)((char *)x->c + k->off2);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!is_int_in(k, e)) {
            char path[64], what[96] = "an integer";
            snprintf(path, sizeof path, "%s[%d]", k->path, i);
            describe_bounds(k, what, sizeof what);
            return expected(x, path, what, e);
        }
        arr[i] = (int)e->valuedouble;
    }
    *count = i;
    return PT_OK;
}

static pt_status set_layers(const parse_ctx *x, const key_def *k, const cJSON *v)
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
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || !in_bounds(k, e->valuedouble)) {
            char path[64], what[96] = "a number";
            snprintf(path, sizeof path, "%s[%d]", k->path, i);
            describe_bounds(k, what, sizeof what);
            return expected(x, path, what, e);
        }
        lv->v[i] = e->valuedouble;
    }
    lv->n = i;
    return PT_OK;
}

static const enum_name *find_name(const enum_name *names, const char *s)
{
    for (; names->name; names++)
        if (!strcmp(names->name, s))
            return names;
    return NULL;
}

static pt_status set_value(const parse_ctx *x, const key_def *k, const cJSON *v)
{
    char *field = (char *)x->c + k->off;
    const enum_name *e;
    switch (k->type) {
    case K_NUM:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || !in_bounds(k, v->valuedouble))
            break;
        *(double *)field = v->valuedouble;
        return PT_OK;
    case K_INT:
        if (!is_int_in(k, v))
            break;
        *(int *)field = (int)v->valuedouble;
        return PT_OK;
    case K_SEED:
        if (!is_integral(v) || !in_bounds(k, v->valuedouble))
            break;
        *(uint64_t *)field = (uint64_t)v->valuedouble;
        return PT_OK;
    case K_BOOL:
        if (!cJSON_IsBool(v))
            break;
        *(int *)field = cJSON_IsTrue(v) ? 1 : 0;
        return PT_OK;
    case K_STR:
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= k->size)
            break;
        memcpy(field, v->valuestring, strlen(v->valuestring) + 1);
        return PT_OK;
    case K_ENUM:
        if (!cJSON_IsString(v) || !(e = find_name(k->names, v->valuestring)))
            break;
        *(int *)field = e->value;
        return PT_OK;
    case K_HIDDEN:
        return set_hidden(x, k, v);
    case K_LAYERS:
        return set_layers(x, k, v);
    case K_LABEL:
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
    case K_HEADER:
        if (cJSON_IsBool(v))
            *(int *)field = cJSON_IsTrue(v) ? 1 : 0;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "auto"))
            *(int *)field = -1;
        else
            break;
        return PT_OK;
    case K_IGNORE:
        if (!cJSON_IsString(v))
            break;
        return PT_OK;
    case K_NET:
        return pt_net_layers_parse((pt_net_config *)field, v, x->src, x->err);
    }
    return expected_key(x, k->path, k, v);
}

static const key_def *find_key(const char *path)
{
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].path, path))
            return &keys[i];
    return NULL;
}

/* A section is any proper prefix "a" of a key path "a.b". */
static int is_section(const char *path)
{
    size_t n = strlen(path);
    for (int i = 0; i < N_KEYS; i++)
        if (!strncmp(keys[i].path, path, n) && keys[i].path[n] == '.')
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
    for (int i = 0; i < N_KEYS; i++) {
        const char *p = keys[i].path;
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
        const key_def *k = find_key(path);
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
    if (p->schedule == PT_PRUNE_NONE)
        return PT_OK;
    if (p->schedule == PT_PRUNE_GRADUAL) {
        if (p->end_epoch > t->epochs)
            return cross_error(x, "prune.end_epoch", "a number <= train.epochs", p->end_epoch);
        if (p->start_epoch >= p->end_epoch)
            return cross_error(x, "prune.start_epoch", "a number < prune.end_epoch", p->start_epoch);
        if (p->initial_sparsity > p->sparsity)
            return cross_error(x, "prune.initial_sparsity", "a number <= prune.sparsity",
                               p->initial_sparsity);
    }
    if (p->schedule == PT_PRUNE_ITERATIVE && p->rewind_epoch > t->epochs)
        return cross_error(x, "prune.rewind_epoch", "an epoch <= train.epochs", p->rewind_epoch);
    if (p->granularity == PT_GRAN_FILTER && n_conv == 0)
        return pt_fail(x->err, PT_ERR_CONFIG,
                       "%s: prune.granularity: \"filter\" needs a conv2d layer in net.layers",
                       x->src);
    if (p->granularity == PT_GRAN_NEURON || p->granularity == PT_GRAN_FILTER) {
        if (nh == 0)
            return pt_fail(x->err, PT_ERR_CONFIG,
                           "%s: prune.granularity: \"neuron\" needs a hidden layer (net.hidden is [])",
                           x->src);
        /* Over-pruning guard: every hidden layer keeps at least one neuron. */
        for (int l = 0; l < nh; l++) {
            int n = width[l];
            if (p->granularity == PT_GRAN_FILTER && !is_conv[l])
                continue;
            if (n - (int)lround(p->sparsity * n) < 1) {
                snprintf(what, sizeof what,
                         "a fraction that leaves hidden layer %d (%d neurons) at least one neuron",
                         l + 1, n);
                return cross_error(x, "prune.sparsity", what, p->sparsity);
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
static cJSON *value_json(const pt_config *c, const key_def *k)
{
    const char *field = (const char *)c + k->off;
    char buf[32];
    switch (k->type) {
    case K_NUM:
        return raw_number(*(const double *)field);
    case K_INT:
        return cJSON_CreateNumber(*(const int *)field);
    case K_SEED:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)field);
        return cJSON_CreateRaw(buf);
    case K_BOOL:
        return cJSON_CreateBool(*(const int *)field != 0);
    case K_STR:
        return cJSON_CreateString(field);
    case K_ENUM:
        for (const enum_name *e = k->names; e->name; e++)
            if (e->value == *(const int *)field)
                return cJSON_CreateString(e->name);
        return cJSON_CreateNull();
    case K_HIDDEN: {
        int n = *(const int *)field;
        if (n < 0 || n > (int)k->size)
            return cJSON_CreateNull();
        return cJSON_CreateIntArray((const int *)((const char *)c + k->off2), n);
    }
    case K_LAYERS: {
        const pt_layer_values *lv = (const pt_layer_values *)field;
        if (lv->n == -1)
            return raw_number(lv->v[0]);
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < lv->n && i < (int)k->size; i++)
            cJSON_AddItemToArray(a, raw_number(lv->v[i]));
        return a;
    }
    case K_LABEL:
        if (field[0])
            return cJSON_CreateString(field);
        return cJSON_CreateNumber(*(const int *)((const char *)c + k->off2));
    case K_HEADER: {
        int h = *(const int *)field;
        return h == 1    ? cJSON_CreateTrue()
               : h == 0  ? cJSON_CreateFalse()
               : h == -1 ? cJSON_CreateString("auto")
                         : cJSON_CreateNull();
    }
    case K_IGNORE:
        break;
    case K_NET:
        return pt_net_layers_json((const pt_net_config *)field);
    }
    return NULL;
}

char *pt_config_to_json(const pt_config *c)
{
    if (!c)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    for (int i = 0; root && i < N_KEYS; i++) {
        if (keys[i].type == K_IGNORE)
            continue;
        const char *name;
        cJSON *parent = pt_json_section(root, keys[i].path, &name);
        cJSON *v = parent ? value_json(c, &keys[i]) : NULL;
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
