/*
 * cmd_train.c — `prunetune train [CONFIG.json] [--set KEY=VALUE]... [--quiet]`
 *
 * Trains one network with core/ directly (no MPI, no database): progress goes
 * to stderr, one line per epoch, and the final metrics to stdout as one JSON
 * object, so `prunetune train cfg.json > result.json` keeps them apart.
 *
 * --set edits the config the way the file would: the resolved config is
 * turned back into JSON, the key is replaced, and the result is parsed again,
 * so an override is checked by the same single parser as the file.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "data_open.h"
#include "init.h"
#include "jsontext.h"
#include "result.h"
#include "sysinfo.h"
#include "train.h"

static void train_usage(FILE *f)
{
    fprintf(f,
            "usage: prunetune train [CONFIG.json] [--set KEY=VALUE]... [--save MODEL.npz]\n"
            "                       [--format npz|onnx] [--quiet]\n\n"
            "Trains one network and prints its metrics as JSON on stdout; one progress\n"
            "line per epoch goes to stderr. Without CONFIG, the defaults train\n"
            "LeNet-300-100 on Fashion-MNIST (see schemas/train.schema.json and examples/).\n\n"
            "options:\n"
            "  --set KEY=VALUE  override a config key, e.g. --set train.epochs=3\n"
            "                   (VALUE is JSON; a bare word is taken as a string)\n"
            "  --save MODEL.npz after training, save the model as NumPy .npz (layout in\n"
            "                   schemas/model.md; `prunetune eval MODEL.npz` reloads it);\n"
            "                   MODEL.onnx saves it as ONNX instead: compacted, sparse\n"
            "                   weights as COO, the input scaling inside (README)\n"
            "  --format F       npz or onnx: the --save format whatever the extension\n"
            "  --quiet          no progress lines\n"
            "  -h, --help       this help\n\n"
            "exit status: 0 trained, 1 training failed (diverged), 2 bad config or data\n");
}

/* Adds `--set a.b=VALUE` to root as {"a":{"b":VALUE}}. VALUE is taken as
 * JSON when it is a whole JSON value, else as a string. All overrides are
 * gathered in one object and merged at once (apply_sets), so cross-key checks
 * such as prune.end_epoch <= train.epochs see every override together, in
 * any order on the command line. */
static pt_status add_set(cJSON *root, const char *arg, pt_err *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return pt_fail(err, PT_ERR_CONFIG, "--set %s: expected KEY=VALUE", arg);
    cJSON *val = cJSON_ParseWithOpts(eq + 1, NULL, 1);
    if (!val)
        val = cJSON_CreateString(eq + 1);
    char key[256];
    size_t klen = (size_t)(eq - arg);
    if (!val || klen >= sizeof key) {
        cJSON_Delete(val);
        return pt_fail(err, PT_ERR_CONFIG, "--set %.*s: key too long", (int)klen, arg);
    }
    memcpy(key, arg, klen);
    key[klen] = '\0';
    const char *part;
    cJSON *obj = pt_json_section(root, key, &part);
    if (!obj) {
        cJSON_Delete(val);
        return pt_fail(err, PT_ERR_NOMEM, "--set: out of memory");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, part);
    cJSON_AddItemToObject(obj, part, val);
    return PT_OK;
}

/* Applies every `--set` of argv to cfg through the one config parser. */
pt_status cli_apply_sets(pt_config *cfg, int argc, char **argv, pt_err *err)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return pt_fail(err, PT_ERR_NOMEM, "--set: out of memory");
    pt_status st = PT_OK;
    int any = 0;
    for (int i = 1; st == PT_OK && i + 1 < argc; i++)
        if (!strcmp(argv[i], "--set")) {
            st = add_set(root, argv[++i], err);
            any = 1;
        }
    char *text = st == PT_OK && any ? cJSON_PrintUnformatted(root) : NULL;
    if (st == PT_OK && any)
        st = text ? pt_config_merge(cfg, text, "--set", err)
                  : pt_fail(err, PT_ERR_NOMEM, "--set: out of memory");
    free(text);
    cJSON_Delete(root);
    return st;
}

static int print_epoch(void *ctx, const pt_epoch_stats *s)
{
    (void)ctx;
    char val[16] = "     -"; /* an epoch train.val_every skips */
    if (!isnan(s->val_acc))
        snprintf(val, sizeof val, "%.4f", s->val_acc);
    fprintf(stderr, "epoch %3d/%d  loss %.4f  train_acc %.4f  val_acc %s  lr %.4g  sparsity %.4f  %8.0f samples/s  %6.1fs\n",
            s->epoch, s->epochs, s->loss, s->train_acc, val, s->lr, s->sparsity,
            s->samples_per_s, s->elapsed_s);
    return 0;
}

/* Which layers trained with sparse kernels (train.sparse, core/sptrain.h):
 * "auto" chooses by each layer's sparsity, so this shows what it chose. */
static void print_sparse_steps(const pt_train_result *r)
{
    int any = 0;
    for (int l = 0; l < PT_NET_MAX_LAYERS; l++) {
        if (r->sparse_steps[l] == 0)
            continue;
        fprintf(stderr, "%s layer %d %ld", any ? "," : "sparse training: steps per layer:", l + 1,
                r->sparse_steps[l]);
        any = 1;
    }
    if (any)
        fprintf(stderr, "\n");
}

static void print_result(const pt_config *cfg, const pt_net *net, const pt_train_result *r,
                         pt_status st, const pt_err *err)
{
    /* The same object a search worker sends for its trial (core/result.h). */
    cJSON *o = pt_result_json(cfg, net, r, st, err);
    char *text = cJSON_Print(o);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
}

int cmd_train(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        train_usage(stdout);
        return PT_EXIT_OK;
    }
    pt_config cfg;
    pt_err err = {{0}};
    const char *path = NULL, *save = NULL, *format = NULL;
    int quiet = 0;
    pt_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (!strcmp(argv[i], "--set")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "prunetune train: --set needs KEY=VALUE\n");
                return PT_EXIT_USAGE;
            }
            i++; /* applied after the file, below */
        } else if (!strcmp(argv[i], "--save")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "prunetune train: --save needs MODEL.npz\n");
                return PT_EXIT_USAGE;
            }
            save = argv[++i];
        } else if (!strcmp(argv[i], "--format")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "prunetune train: --format needs npz or onnx\n");
                return PT_EXIT_USAGE;
            }
            format = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "prunetune train: unknown option '%s' (see --help)\n", argv[i]);
            return PT_EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "prunetune train: one config file expected, got '%s' and '%s'\n",
                    path, argv[i]);
            return PT_EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    /* Checked before training, which a bad option must not cost. */
    int save_format = cli_model_format("train", save, format);
    if (save_format < 0)
        return PT_EXIT_USAGE;
    if (format && !save) {
        fprintf(stderr, "prunetune train: --format needs --save MODEL\n");
        return PT_EXIT_USAGE;
    }
    if (path && pt_config_load(&cfg, path, &err) != PT_OK) {
        fprintf(stderr, "prunetune train: %s\n", err.msg);
        return PT_EXIT_USAGE;
    }
    if (cli_apply_sets(&cfg, argc, argv, &err) != PT_OK) {
        fprintf(stderr, "prunetune train: %s\n", err.msg);
        return PT_EXIT_USAGE;
    }

    pt_data data;
    memset(&data, 0, sizeof data);
    if (pt_data_open(&data, &cfg.data, cfg.seed, &err) != PT_OK) {
        fprintf(stderr, "prunetune train: %s\n", err.msg);
        pt_data_close(&data);
        return PT_EXIT_USAGE;
    }
    if (!quiet)
        fprintf(stderr, "data: %d train, %d validation, %d test rows, %d features, %d classes\n",
                data.split.n_train, data.split.n_val, data.test.n, data.train.dim,
                data.train.n_classes);
    /* Loaded here rather than inside pt_train: --save needs its scaler. */
    pt_model init;
    memset(&init, 0, sizeof init);
    int n_classes = data.test.n_classes > data.train.n_classes ? data.test.n_classes
                                                                : data.train.n_classes;
    if (cfg.net.init[0] &&
        pt_init_load(&init, &cfg, data.train.dim, n_classes, &err) != PT_OK) {
        fprintf(stderr, "prunetune train: %s%s%s\n", path ? path : "", path ? ": " : "", err.msg);
        pt_data_close(&data);
        return PT_EXIT_USAGE;
    }
    pt_net net;
    pt_train_result res;
    pt_status st = pt_train_from(&cfg, &data, cfg.net.init[0] ? &init : NULL, &net,
                                 quiet ? NULL : print_epoch, NULL, &res, &err);
    if (!quiet && (st == PT_OK || st == PT_ERR_DIVERGED))
        print_sparse_steps(&res);
    int code = PT_EXIT_OK;
    if (st == PT_OK || st == PT_ERR_DIVERGED) {
        print_result(&cfg, &net, &res, st, &err);
        if (st != PT_OK) {
            fprintf(stderr, "prunetune train: %s\n", err.msg);
            code = PT_EXIT_FAIL;
        }
    } else {
        fprintf(stderr, "prunetune train: %s\n", err.msg);
        code = st == PT_ERR_CONFIG ? PT_EXIT_USAGE : PT_EXIT_FAIL;
    }
    if (st == PT_OK && save)
        code = cli_save_model(save, save_format, &cfg, &data,
                              cfg.net.init[0] ? &init.scaler : &data.scaler, &net, &res);
    pt_net_free(&net);
    pt_optim_free(&res.optim);
    pt_model_free(&init);
    pt_data_close(&data);
    return code;
}
