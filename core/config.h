/*
 * config.h — the trial configuration: one struct, one JSON parser.
 *
 * A trial is fully described by its JSON (data + network + training + seed):
 * the same JSON gives the same result through `prunetune train` and, later,
 * through a search worker. Every key has one definition, in the key table of
 * config_keys.c, mirrored for users by schemas/train.schema.json.
 *
 * Parsing starts from pt_config_defaults() and overrides the keys present.
 * Unknown keys, wrong types and out-of-range values are errors whose message
 * names the source and the key path and what was expected, e.g.
 *   "lenet.json: train.lr: expected a number > 0 and <= 10 (got -0.1)".
 * Strings are stored in fixed buffers so a pt_config is a plain value: it can
 * be copied with `=` and needs no free.
 */
#ifndef PT_CONFIG_H
#define PT_CONFIG_H

#include <stdint.h>

#include "data.h"
#include "status.h"

#define PT_PATH_MAX 1024
#define PT_MAX_HIDDEN 16

typedef enum { PT_FMT_IDX = 0, PT_FMT_CSV = 1 } pt_data_format;

typedef struct {
    pt_data_format format; /* data.format: "idx" | "csv" */
    /* IDX: data.dir holds train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
     * t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz unless the four
     * explicit paths below are given (an explicit path wins). */
    char dir[PT_PATH_MAX];          /* data.dir, default Fashion-MNIST's */
    char train_images[PT_PATH_MAX]; /* data.train_images */
    char train_labels[PT_PATH_MAX]; /* data.train_labels */
    char test_images[PT_PATH_MAX];  /* data.test_images */
    char test_labels[PT_PATH_MAX];  /* data.test_labels */
    /* CSV: data.train, optional data.test (else test_fraction is split off). */
    char train[PT_PATH_MAX];
    char test[PT_PATH_MAX];
    int header;           /* data.header: true/false/"auto" -> 1/0/-1 */
    char label_name[256]; /* data.label: column name (string) ... */
    int label_index;      /* ... or index (number), default -1 = last */
    pt_scale scale;       /* data.scale: "unit" | "standard" | "none" */
    double val_fraction;  /* data.val_fraction in [0,1), default 0.1 */
    double test_fraction; /* data.test_fraction (CSV, no test file) */
    int limit;            /* data.limit: use first N train rows, 0 = all */
    int test_limit;       /* data.test_limit: first N test rows, 0 = all */
    int n_shape;          /* 3 when data.shape is given, else 0 */
    int shape[3];         /* data.shape: C, H, W of a sample (conv nets);
                             default: 1 x s x s when dim = s^2 */
} pt_data_config;

#define PT_MAX_NET_LAYERS 48

/* Types of net.layers entries. Values reach files: always add at the end. */
typedef enum {
    PT_NL_CONV2D = 0,
    PT_NL_MAXPOOL = 1,
    PT_NL_AVGPOOL = 2,
    PT_NL_FLATTEN = 3,
    PT_NL_DENSE = 4,
    PT_NL_DROPOUT = 5
} pt_net_layer_type;

/* One net.layers entry; see netspec.h for the rules a list follows. */
typedef struct {
    int type;                /* pt_net_layer_type */
    int out;                 /* conv2d filters, dense neurons */
    int kernel, stride, pad; /* conv2d: square kernel, default stride 1, pad 0 */
    int size;                /* maxpool/avgpool: window = stride, default 2 */
    double rate;             /* dropout: rate after the dense layer before it */
} pt_net_layer;

typedef struct {
    int n_hidden;                           /* length of net.hidden */
    int hidden[PT_MAX_HIDDEN];              /* net.hidden, default [300, 100] */
    int n_layers;                           /* length of net.layers; 0 = the MLP of net.hidden */
    pt_net_layer layers[PT_MAX_NET_LAYERS]; /* net.layers, output layer excluded */
    char init[PT_PATH_MAX];                 /* net.init: saved model (.npz) to start from, or
                                               "" (random init); its shape must be the one
                                               net.hidden/net.layers describe (core/init.h) */
    int weight_init;                        /* net.weight_init: pt_weight_init (net.h),
                                               default he_normal */
} pt_net_config;

typedef enum { PT_OPT_SGD = 0, PT_OPT_ADAM = 1 } pt_opt_kind;
typedef enum { PT_LR_CONSTANT = 0, PT_LR_STEP = 1, PT_LR_COSINE = 2 } pt_lr_kind;
/* train.sparse: sparse training of layers with a fixed mask (sptrain.h). */
typedef enum { PT_SPARSE_AUTO = 0, PT_SPARSE_ON = 1, PT_SPARSE_OFF = 2 } pt_sparse_mode;

typedef struct {
    int epochs;               /* train.epochs >= 1 (>= 0 with net.init), default 10 */
    int batch_size;           /* train.batch_size >= 1, default 128 */
    int threads;              /* train.threads (BLAS) >= 1, default 1 */
    pt_opt_kind optimizer;    /* train.optimizer: "sgd" | "adam" */
    double lr;                /* train.lr > 0, default 0.05 */
    double momentum;          /* train.momentum in [0,1), default 0.9 */
    int nesterov;             /* train.nesterov, default false */
    double beta1, beta2, eps; /* train.beta1/beta2/eps (Adam) */
    pt_lr_kind lr_schedule;   /* train.lr_schedule: "constant"|"step"|"cosine" */
    int step_epochs;          /* train.step_epochs: step period, default 5 */
    double gamma;             /* train.gamma: step factor, default 0.1 */
    double min_lr;            /* train.min_lr: cosine floor, default 0 */
    int sparse;               /* train.sparse: pt_sparse_mode, default auto */
    int val_every;            /* train.val_every: validate after every N-th epoch
                                 and after the last; 0 = the last only; default 1 */
    /* A run that continues another (a PBT member-interval, core/train.h):
     * epochs [first_epoch, stop_epoch) of the schedule, 0-based, from
     * net.init's weights; 0 and 0 = the whole schedule. */
    int first_epoch;          /* train.first_epoch, default 0 */
    int stop_epoch;           /* train.stop_epoch: end after this epoch count, 0 = the end */
    int optim_reset;          /* train.optim_reset: clear the optimizer state every N
                                 epochs, 0 = never */
    int keep_optim;           /* train.keep_optim: the result carries the optimizer
                                 state, saved with the model for a run that
                                 continues this one (first_epoch), default false */
} pt_train_config;

#define PT_MAX_LAYERS (PT_MAX_HIDDEN + 1)

/* A list of per-layer numbers that may also be given as one number for all
 * layers: n == -1 means "v[0] for every layer", n == 0 "none given". */
typedef struct {
    int n;
    double v[PT_MAX_LAYERS];
} pt_layer_values;

typedef struct {
    double l2;                 /* reg.l2 >= 0: L2 strength on weights */
    int l2_decoupled;          /* reg.l2_mode: "coupled" (added to the
                                  gradient) | "decoupled" (AdamW style) */
    pt_layer_values l2_layers; /* reg.l2_layers: per weight layer, overrides l2 */
    double l1;                 /* reg.l1 >= 0: proximal soft-threshold step */
    pt_layer_values dropout;   /* reg.dropout: rate per hidden layer */
    double dropout_input;      /* reg.dropout_input: rate on the input */
    double max_norm;           /* reg.max_norm: cap on each neuron's incoming
                                  weight norm, 0 = off */
    int bias;                  /* reg.bias: regularize biases too */
} pt_reg_config;

/* Values reach files and logs: always add at the end. */
typedef enum {
    PT_PRUNE_NONE = 0,
    PT_PRUNE_ONESHOT = 1,
    PT_PRUNE_ITERATIVE = 2,
    PT_PRUNE_GRADUAL = 3
} pt_prune_schedule;
typedef enum {
    PT_GRAN_LAYER = 0,
    PT_GRAN_GLOBAL = 1,
    PT_GRAN_NEURON = 2,
    PT_GRAN_FILTER = 3
} pt_granularity;
typedef enum { PT_NORM_L2 = 0, PT_NORM_L1 = 1 } pt_norm;

typedef struct {
    pt_prune_schedule schedule;     /* prune.schedule */
    pt_granularity granularity;     /* prune.granularity: "layer" | "global" | "neuron"
                                       (hidden neurons and conv filters) | "filter"
                                       (conv filters only) */
    pt_norm norm;                   /* prune.norm: neuron ranking, "l2" | "l1" */
    double sparsity;                /* prune.sparsity: final fraction of weights
                                       (layer, global) or of hidden neurons (neuron) */
    pt_layer_values layer_sparsity; /* prune.layer_sparsity: final fraction per
                                   pruned layer (not global); see pt_prune_to */
    int prune_output;               /* prune.prune_output: unstructured pruning
                                       also thins the output layer's weights */
    int finetune_epochs;            /* prune.finetune_epochs: after a one-shot
                                       prune / per iterative round */
    int rounds;                     /* prune.rounds: iterative rounds */
    int rewind_epoch;               /* prune.rewind_epoch: iterative: reset the
                                       survivors to their weights after this
                                       epoch (0 = init), -1 = no rewinding */
    double initial_sparsity;        /* prune.initial_sparsity: gradual s_i */
    double start_epoch;             /* prune.start_epoch: gradual t0, in epochs */
    double end_epoch;               /* prune.end_epoch: gradual t0 + n*dt, in epochs */
    int frequency;                  /* prune.frequency: gradual dt, in steps */
} pt_prune_config;

/* "schedule": {"l2": [[0, 1e-4], [3, 5e-4]], ...}: a hyper-parameter that
 * varies over epochs (what a PBT winner's lineage found, replayed by
 * `prunetune train`). Entry k sets the value from epoch epoch[k] on
 * (0-based: 0 = from the first epoch); epochs strictly increase; before the
 * first entry the plain key (reg.l2, ...) is in force. n == 0: none. */
#define PT_SCHEDULE_MAX 64
typedef struct {
    int n;
    int epoch[PT_SCHEDULE_MAX];
    double value[PT_SCHEDULE_MAX];
} pt_hp_schedule;

typedef struct {
    pt_hp_schedule l2, l1, lr, sparsity; /* reg.l2, reg.l1, train.lr, prune.sparsity */
} pt_schedule_config;

typedef struct {
    uint64_t seed; /* seed, default 1 */
    pt_data_config data;
    pt_net_config net;
    pt_train_config train;
    pt_reg_config reg;
    pt_prune_config prune;
    pt_schedule_config schedule; /* per-epoch values (core/schedule.h) */
} pt_config;

void pt_config_defaults(pt_config *c);

/* Parses JSON text over the defaults (not over *c): keys absent from the
 * text keep their default. source names the text in errors (usually the file
 * name; "config" when NULL). Returns PT_OK and sets *c, or PT_ERR_CONFIG with
 * *c unchanged on invalid JSON ("src: invalid JSON near line L, column C"),
 * a top level that is not an object, and any unknown, duplicate, ill-typed or
 * out-of-range key. The top level may hold a "$schema" string, ignored. The
 * seed must be an integer <= 2^53 - 1, the largest that JSON numbers (IEEE
 * doubles) represent exactly together with all smaller integers. */
pt_status pt_config_parse(pt_config *c, const char *json, const char *source, pt_err *err);

/* As pt_config_parse, but over the current values of *c: keys absent from
 * the text keep their value in *c. Used for command-line overrides. */
pt_status pt_config_merge(pt_config *c, const char *json, const char *source, pt_err *err);

/* Reads and parses a JSON file (errors name the file). PT_ERR_IO when the
 * file cannot be read ("path: cannot read: reason"), else as pt_config_parse. */
pt_status pt_config_load(pt_config *c, const char *path, pt_err *err);

/* The full resolved config as JSON text (every key, defaults included), in a
 * form pt_config_parse() accepts and that parses back to an equal struct.
 * Returns a malloc'd string the caller frees, or NULL when out of memory. */
char *pt_config_to_json(const pt_config *c);

/* The i-th key path the parser accepts ("$schema", "seed", "data.format",
 * ..., "train.min_lr"), or NULL when i is out of range. Lets tests check that
 * schemas/train.schema.json documents exactly these keys. */
const char *pt_config_key(int i);

#endif
