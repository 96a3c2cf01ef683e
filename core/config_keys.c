/*
 * config_keys.c — the trial config's key table (see config_keys.h), its
 * defaults, and the "expected ..." text written from a row.
 *
 * Defaults are plain assignments in pt_config_defaults() rather than a column
 * of the table, since some (net.hidden, data.dir) are not numbers;
 * tests/test_config.c checks each against schemas/train.schema.json.
 */
#include "config_keys.h"

#include "jsontext.h"
#include "net.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Largest integer a JSON number (an IEEE double) holds exactly along with all
 * smaller ones: any larger seed could silently be read as its neighbour. */
#define SEED_MAX 9007199254740991.0 /* 2^53 - 1 */

static const pt_enum_name formats[] = {{"idx", PT_FMT_IDX}, {"csv", PT_FMT_CSV}, {NULL, 0}};
static const pt_enum_name scales[] = {
    {"unit", PT_SCALE_UNIT}, {"standard", PT_SCALE_STANDARD}, {"none", PT_SCALE_NONE}, {NULL, 0}};
static const pt_enum_name optimizers[] = {{"sgd", PT_OPT_SGD}, {"adam", PT_OPT_ADAM}, {NULL, 0}};
static const pt_enum_name schedules[] = {
    {"constant", PT_LR_CONSTANT}, {"step", PT_LR_STEP}, {"cosine", PT_LR_COSINE}, {NULL, 0}};
static const pt_enum_name weight_inits[] = {
    {"uniform", PT_WEIGHTS_UNIFORM}, {"he_normal", PT_WEIGHTS_HE_NORMAL}, {NULL, 0}};
static const pt_enum_name sparse_modes[] = {
    {"auto", PT_SPARSE_AUTO}, {"on", PT_SPARSE_ON}, {"off", PT_SPARSE_OFF}, {NULL, 0}};
static const pt_enum_name l2_modes[] = {{"coupled", 0}, {"decoupled", 1}, {NULL, 0}};
static const pt_enum_name prune_schedules[] = {{"none", PT_PRUNE_NONE},
                                               {"oneshot", PT_PRUNE_ONESHOT},
                                               {"iterative", PT_PRUNE_ITERATIVE},
                                               {"gradual", PT_PRUNE_GRADUAL},
                                               {NULL, 0}};
static const pt_enum_name granularities[] = {{"layer", PT_GRAN_LAYER},
                                             {"global", PT_GRAN_GLOBAL},
                                             {"neuron", PT_GRAN_NEURON},
                                             {"filter", PT_GRAN_FILTER},
                                             {NULL, 0}};
static const pt_enum_name norms[] = {{"l2", PT_NORM_L2}, {"l1", PT_NORM_L1}, {NULL, 0}};

/* One row per key reads better than clang-format's one field per line. */
/* clang-format off */
#define F(m) offsetof(pt_config, m)
#define SZ(m) sizeof(((pt_config *)0)->m)
/* Bounds: kind (NONE, INCL, EXCL) and value of the lower, then the upper. */
#define RANGE(lk, l, hk, h)                                                                        \
    .lo_kind = PT_BOUND_##lk, .lo = l, .hi_kind = PT_BOUND_##hk, .hi = h
#define NUM(p, m, lk, l, hk, h, d)                                                                 \
    {.path = p, .type = PT_KEY_NUM, RANGE(lk, l, hk, h), .off = F(m), .doc = d}
#define INT(p, m, l, h, d)                                                                         \
    {.path = p, .type = PT_KEY_INT, RANGE(INCL, l, INCL, h), .off = F(m), .doc = d}
#define BOOL(p, m, d) {.path = p, .type = PT_KEY_BOOL, .off = F(m), .doc = d}
#define STR(p, m, d) {.path = p, .type = PT_KEY_STR, .off = F(m), .size = SZ(m), .doc = d}
#define ENUM(p, m, n, d) {.path = p, .type = PT_KEY_ENUM, .off = F(m), .names = n, .doc = d}

static const pt_key_def keys[] = {
    {.path = "$schema", .type = PT_KEY_IGNORE,
     .doc = "path or URL of this file's JSON Schema; ignored"},
    {.path = "seed", .type = PT_KEY_SEED, RANGE(INCL, 0, INCL, SEED_MAX), .off = F(seed),
     .doc = "seeds initialisation, shuffling and splits; at most 2^53 - 1 (exact in JSON)"},
    ENUM("data.format", data.format, formats, "data file format"),
    STR("data.dir", data.dir, "IDX folder with the four standard (Fashion-)MNIST file names"),
    STR("data.train_images", data.train_images, "IDX training images; overrides data.dir"),
    STR("data.train_labels", data.train_labels, "IDX training labels; overrides data.dir"),
    STR("data.test_images", data.test_images, "IDX test images; overrides data.dir"),
    STR("data.test_labels", data.test_labels, "IDX test labels; overrides data.dir"),
    STR("data.train", data.train, "CSV training file"),
    STR("data.test", data.test, "CSV test file; empty: split data.test_fraction off data.train"),
    {.path = "data.header", .type = PT_KEY_HEADER, .off = F(data.header),
     .doc = "CSV first row is a header: true, false or \"auto\""},
    {.path = "data.label", .type = PT_KEY_LABEL, RANGE(INCL, INT_MIN, INCL, INT_MAX),
     .off = F(data.label_name), .off2 = F(data.label_index), .size = SZ(data.label_name),
     .doc = "CSV label column: name, or index (negative counts from the end)"},
    ENUM("data.scale", data.scale, scales, "feature scaling"),
    NUM("data.val_fraction", data.val_fraction, INCL, 0, EXCL, 1,
        "fraction of the training rows held out for validation"),
    NUM("data.test_fraction", data.test_fraction, INCL, 0, EXCL, 1,
        "CSV without data.test: fraction of rows held out for testing"),
    INT("data.limit", data.limit, 0, INT_MAX, "use only the first N training rows; 0 = all"),
    INT("data.test_limit", data.test_limit, 0, INT_MAX, "use only the first N test rows; 0 = all"),
    {.path = "data.shape", .type = PT_KEY_HIDDEN, RANGE(INCL, 1, INCL, 65536),
     .off = F(data.n_shape), .off2 = F(data.shape), .size = 3,
     .doc = "C, H, W of a sample for conv layers; [] = 1 x s x s for s^2 features"},
    {.path = "net.hidden", .type = PT_KEY_HIDDEN, RANGE(INCL, 1, INCL, 65536),
     .off = F(net.n_hidden), .off2 = F(net.hidden), .size = PT_MAX_HIDDEN,
     .doc = "hidden layer widths; [] is softmax regression"},
    {.path = "net.layers", .type = PT_KEY_NET, .off = F(net),
     .doc = "layer list (conv2d, maxpool, avgpool, flatten, dense, dropout); replaces net.hidden"},
    STR("net.init", net.init,
        "saved model (.npz) whose weights the network starts from; \"\" = random init"),
    ENUM("net.weight_init", net.weight_init, weight_inits,
         "random initial weights: he_normal, or uniform (PyTorch's default)"),
    INT("train.epochs", train.epochs, 0, 100000,
        "passes over the training rows (before pruning); 0 only with net.init"),
    INT("train.batch_size", train.batch_size, 1, 65536, "rows per gradient step"),
    INT("train.threads", train.threads, 1, 1024, "BLAS threads"),
    ENUM("train.optimizer", train.optimizer, optimizers, "update rule"),
    NUM("train.lr", train.lr, EXCL, 0, INCL, 10, "base learning rate"),
    NUM("train.momentum", train.momentum, INCL, 0, EXCL, 1, "SGD momentum"),
    BOOL("train.nesterov", train.nesterov, "SGD: Nesterov momentum"),
    NUM("train.beta1", train.beta1, INCL, 0, EXCL, 1, "Adam: first-moment decay"),
    NUM("train.beta2", train.beta2, INCL, 0, EXCL, 1, "Adam: second-moment decay"),
    NUM("train.eps", train.eps, EXCL, 0, NONE, 0, "Adam: denominator guard"),
    ENUM("train.lr_schedule", train.lr_schedule, schedules, "learning-rate schedule"),
    ENUM("train.sparse", train.sparse, sparse_modes,
         "sparse kernels for layers with a fixed mask: auto (by sparsity), on, off"),
    INT("train.val_every", train.val_every, 0, 100000,
        "validate after every N-th epoch and the last; 0 = after the last only"),
    INT("train.first_epoch", train.first_epoch, 0, 100000,
        "0-based epoch this run starts at, from net.init's weights (a PBT member's interval)"),
    INT("train.stop_epoch", train.stop_epoch, 0, 100000,
        "end the run after this many epochs of the schedule (a PBT interval's end); 0 = the end"),
    INT("train.optim_reset", train.optim_reset, 0, 100000,
        "clear the optimizer state every N epochs; 0 = never"),
    BOOL("train.keep_optim", train.keep_optim,
         "save the optimizer state (momentum, Adam's moments, step count) with the model, "
         "for a run that continues this one with train.first_epoch (a PBT checkpoint)"),
    INT("train.step_epochs", train.step_epochs, 1, INT_MAX, "step: epochs between decays"),
    NUM("train.gamma", train.gamma, EXCL, 0, INCL, 1, "step: factor applied at each decay"),
    NUM("train.min_lr", train.min_lr, INCL, 0, NONE, 0,
        "cosine: final learning rate, below train.lr"),
    NUM("reg.l2", reg.l2, INCL, 0, INCL, 1, "L2 strength on the weights"),
    ENUM("reg.l2_mode", reg.l2_decoupled, l2_modes,
         "coupled: added to the gradient; decoupled: shrinks weights directly (AdamW)"),
    {.path = "reg.l2_layers", .type = PT_KEY_LAYERS, RANGE(INCL, 0, INCL, 1),
     .off = F(reg.l2_layers), .size = PT_MAX_LAYERS,
     .doc = "L2 strength per weight layer (overrides reg.l2); [] = reg.l2 everywhere"},
    NUM("reg.l1", reg.l1, INCL, 0, INCL, 1, "L1 strength, applied as a proximal step"),
    {.path = "reg.dropout", .type = PT_KEY_LAYERS, RANGE(INCL, 0, EXCL, 1),
     .off = F(reg.dropout), .size = PT_MAX_HIDDEN,
     .doc = "dropout rate after each hidden layer: one number for all, or a list"},
    NUM("reg.dropout_input", reg.dropout_input, INCL, 0, EXCL, 1, "dropout rate on the input"),
    NUM("reg.max_norm", reg.max_norm, INCL, 0, NONE, 0,
        "cap on each neuron's incoming weight L2 norm; 0 = off"),
    BOOL("reg.bias", reg.bias, "regularize biases too (L1, L2)"),
    ENUM("prune.schedule", prune.schedule, prune_schedules, "when to prune"),
    ENUM("prune.granularity", prune.granularity, granularities,
         "layer: same fraction per layer; global: one magnitude threshold; neuron: whole neurons"),
    ENUM("prune.norm", prune.norm, norms, "neuron pruning: norm that ranks neurons"),
    NUM("prune.sparsity", prune.sparsity, INCL, 0, EXCL, 1,
        "final fraction of weights (layer, global) or hidden neurons (neuron) removed"),
    {.path = "prune.layer_sparsity", .type = PT_KEY_LAYERS, RANGE(INCL, 0, EXCL, 1),
     .off = F(prune.layer_sparsity), .size = PT_MAX_LAYERS,
     .doc = "final fraction per pruned layer (conv layers for filter, hidden layers for neuron,"
            " weight layers for layer); [] = prune.sparsity everywhere"},
    BOOL("prune.prune_output", prune.prune_output,
         "unstructured pruning thins the output layer's weights too"),
    INT("prune.finetune_epochs", prune.finetune_epochs, 0, 100000,
        "oneshot: epochs after pruning; iterative: epochs after each round"),
    INT("prune.rounds", prune.rounds, 1, 1000, "iterative: prune-retrain rounds"),
    INT("prune.rewind_epoch", prune.rewind_epoch, -1, 100000,
        "iterative: rewind survivors to their weights after this epoch (0 = init); -1 = off"),
    NUM("prune.initial_sparsity", prune.initial_sparsity, INCL, 0, EXCL, 1,
        "gradual: sparsity at the first pruning step"),
    NUM("prune.start_epoch", prune.start_epoch, INCL, 0, NONE, 0,
        "gradual: epoch at which pruning starts (may be fractional)"),
    NUM("prune.end_epoch", prune.end_epoch, EXCL, 0, NONE, 0,
        "gradual: epoch at which the final sparsity is reached"),
    INT("prune.frequency", prune.frequency, 1, INT_MAX, "gradual: steps between pruning"),
    {.path = "schedule.l2", .type = PT_KEY_SCHED, RANGE(INCL, 0, INCL, 1), .off = F(schedule.l2),
     .doc = "reg.l2 over epochs: [[epoch, value], ...], from epoch (0-based) on"},
    {.path = "schedule.l1", .type = PT_KEY_SCHED, RANGE(INCL, 0, INCL, 1), .off = F(schedule.l1),
     .doc = "reg.l1 over epochs: [[epoch, value], ...], from epoch (0-based) on"},
    {.path = "schedule.lr", .type = PT_KEY_SCHED, RANGE(EXCL, 0, NONE, 0), .off = F(schedule.lr),
     .doc = "train.lr over epochs: [[epoch, value], ...], the base of train.lr_schedule"},
    {.path = "schedule.sparsity", .type = PT_KEY_SCHED, RANGE(INCL, 0, EXCL, 1),
     .off = F(schedule.sparsity),
     .doc = "prune.sparsity over epochs (gradual): the moving target, never below what is pruned"},
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
    c->net.weight_init = PT_WEIGHTS_HE_NORMAL;
    c->net.hidden[0] = 300;
    c->net.hidden[1] = 100;
    pt_train_config *t = &c->train;
    t->epochs = 10;
    t->batch_size = 128;
    t->threads = 1;
    t->val_every = 1;
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
    t->sparse = PT_SPARSE_AUTO;
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

const pt_key_def *pt_key_at(int i)
{
    return i >= 0 && i < N_KEYS ? &keys[i] : NULL;
}

const char *pt_config_key(int i)
{
    const pt_key_def *k = pt_key_at(i);
    return k ? k->path : NULL;
}

const pt_key_def *pt_key_find(const char *path)
{
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].path, path))
            return &keys[i];
    return NULL;
}

/* ---- text helpers ------------------------------------------------------- */

static void append(char *buf, size_t n, const char *fmt, const char *a, const char *b)
{
    size_t used = strlen(buf);
    if (used < n)
        snprintf(buf + used, n - used, fmt, a, b);
}

static void describe_bounds(const pt_key_def *k, char *buf, size_t n)
{
    char num[32];
    if (k->lo_kind != PT_BOUND_NONE) {
        pt_fmt_double(num, sizeof num, k->lo);
        append(buf, n, " %s %s", k->lo_kind == PT_BOUND_INCL ? ">=" : ">", num);
    }
    if (k->hi_kind != PT_BOUND_NONE) {
        pt_fmt_double(num, sizeof num, k->hi);
        append(buf, n, k->lo_kind != PT_BOUND_NONE ? " and %s %s" : " %s %s",
               k->hi_kind == PT_BOUND_INCL ? "<=" : "<", num);
    }
}

/* noun ("a number", "an integer") and the row's bounds: the WHAT of a single
 * value, whether the key's own or one element of its array. */
static void describe_value(const pt_key_def *k, const char *noun, char *buf, size_t n)
{
    snprintf(buf, n, "%s", noun);
    describe_bounds(k, buf, n);
}

void pt_key_describe_element(const pt_key_def *k, char *buf, size_t n)
{
    describe_value(k, k->type == PT_KEY_HIDDEN ? "an integer" : "a number", buf, n);
}

void pt_key_describe(const pt_key_def *k, char *buf, size_t n)
{
    buf[0] = '\0';
    switch (k->type) {
    case PT_KEY_NUM:
    case PT_KEY_INT:
    case PT_KEY_SEED:
        describe_value(k, k->type == PT_KEY_NUM ? "a number" : "an integer", buf, n);
        break;
    case PT_KEY_BOOL:
        snprintf(buf, n, "true or false");
        break;
    case PT_KEY_STR:
        snprintf(buf, n, "a string of at most %zu bytes", k->size - 1);
        break;
    case PT_KEY_ENUM:
        snprintf(buf, n, "one of");
        for (const pt_enum_name *e = k->names; e->name; e++)
            append(buf, n, "%s\"%s\"", e == k->names ? " " : ", ", e->name);
        break;
    case PT_KEY_HIDDEN:
        snprintf(buf, n, "an array of at most %zu integers", k->size);
        describe_bounds(k, buf, n);
        break;
    case PT_KEY_LAYERS:
        snprintf(buf, n, "a number or an array of at most %zu numbers", k->size);
        describe_bounds(k, buf, n);
        break;
    case PT_KEY_LABEL:
        snprintf(buf, n, "a column name (string of at most %zu bytes) or index (integer)",
                 k->size - 1);
        break;
    case PT_KEY_HEADER:
        snprintf(buf, n, "true, false or \"auto\"");
        break;
    case PT_KEY_IGNORE:
        snprintf(buf, n, "a string");
        break;
    case PT_KEY_NET:
        snprintf(buf, n, "an array of layer objects");
        break;
    case PT_KEY_SCHED:
        snprintf(
            buf, n,
            "a list of at most %d [epoch, value] pairs (epochs >= 0, strictly increasing), values",
            PT_SCHEDULE_MAX);
        describe_bounds(k, buf, n);
        break;
    }
}
