/*
 * cmd_eval.c — `prunetune eval MODEL.npz [--data-dir DIR] [--set KEY=VALUE]... [--json]`,
 * and the saving behind `prunetune train --save MODEL.npz`.
 *
 * eval reloads a model saved by train, opens the data its stored config names
 * (the same loader, limits and splits as training, overridable), and runs the
 * test set through the stored scaler and network in the batches training
 * used, so on the same data it reproduces the training-time test accuracy
 * exactly; the result JSON says whether it did ("reproduced").
 */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"

static void eval_usage(FILE *f)
{
    fprintf(f, "usage: prunetune eval MODEL.npz [--data-dir DIR] [--set KEY=VALUE]... [--json]\n\n"
               "Reloads a model saved by `prunetune train --save MODEL.npz`, runs the test set\n"
               "of the data its stored config names, and prints test_acc, test_loss and n as\n"
               "JSON on stdout, with one summary line on stderr. On the same data the accuracy\n"
               "equals the one train printed, exactly (\"reproduced\": true). Relative data\n"
               "paths in the stored config are read from the current folder.\n\n"
               "options:\n"
               "  --data-dir DIR   read the IDX files from DIR (sets data.dir)\n"
               "  --set KEY=VALUE  override a data key of the stored config, e.g.\n"
               "                   --set data.test_limit=1000 (VALUE is JSON, as for train)\n"
               "  --json           print only the JSON (no summary line on stderr)\n"
               "  -h, --help       this help\n\n"
               "The file layout is documented in schemas/model.md; numpy.load() opens it.\n\n"
               "exit status: 0 evaluated, 2 bad model file, options or data\n");
}

int cli_save_model(const char *path, int format, const pt_config *cfg, const pt_data *data,
                   const pt_scaler *sc, const pt_net *net, const pt_train_result *res)
{
    pt_model_info info = {.test_acc = res->test_acc,
                          .test_loss = res->test_loss,
                          .val_acc = res->val_acc,
                          .n_test = data->test.n,
                          .n_classes = data->train.n_classes,
                          .class_names = data->train.class_names,
                          .optim = res->optim.m ? &res->optim : NULL};
    if (format == CLI_MODEL_ONNX)
        return cli_save_onnx("train --save", path, net, sc, cfg, &info);
    pt_err err;
    if (pt_model_save(path, net, sc, cfg, &info, &err) != PT_OK) {
        fprintf(stderr, "prunetune train: --save: %s\n", err.msg);
        return PT_EXIT_FAIL;
    }
    return PT_EXIT_OK;
}

/* Puts the test labels in the model's class-id order when the classes have
 * names (CSV string labels), so a different training file with the same
 * names still lines up; then checks every label has an output neuron. */
static pt_status align_labels(const pt_model *m, pt_data *d, pt_err *err)
{
    const pt_dataset *tr = &d->train;
    pt_dataset *te = &d->test;
    int n_out = m->net.sizes[m->net.n_layers];
    if (m->class_names && tr->class_names) {
        int *map = malloc(sizeof(int) * (size_t)tr->n_classes);
        if (!map)
            return pt_fail(err, PT_ERR_NOMEM, "out of memory");
        for (int c = 0; c < tr->n_classes; c++) {
            map[c] = -1;
            for (int k = 0; k < m->n_classes && map[c] < 0; k++)
                if (!strcmp(tr->class_names[c], m->class_names[k]))
                    map[c] = k;
        }
        pt_status st = PT_OK;
        for (int i = 0; st == PT_OK && i < te->n; i++) {
            int c = te->y[i];
            if (map[c] < 0)
                st = pt_fail(err, PT_ERR_FORMAT, "test row %d: class '%s' is unknown to the model",
                             i + 1, tr->class_names[c]);
            else
                te->y[i] = map[c];
        }
        free(map);
        if (st != PT_OK)
            return st;
    } else if (!m->class_names != !tr->class_names) {
        return pt_fail(err, PT_ERR_FORMAT,
                       "the model's classes are %s but the data's labels are %s",
                       m->class_names ? "names" : "numbers", tr->class_names ? "names" : "numbers");
    }
    for (int i = 0; i < te->n; i++)
        if (te->y[i] < 0 || te->y[i] >= n_out)
            return pt_fail(err, PT_ERR_FORMAT,
                           "test row %d: label %d, but the model has %d classes", i + 1, te->y[i],
                           n_out);
    return PT_OK;
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void report(const char *path, const pt_model *m, double acc, double loss, int n, int json)
{
    /* Exact comparison on purpose: same data, scaler and batches must give
     * the same bits; any difference is a bug worth seeing. */
    int same = n == m->n_test && acc == m->test_acc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", path);
    add_num(o, "test_acc", acc);
    add_num(o, "test_loss", loss);
    cJSON_AddNumberToObject(o, "n", n);
    add_num(o, "recorded_test_acc", m->test_acc);
    cJSON_AddNumberToObject(o, "recorded_n", m->n_test);
    cJSON_AddBoolToObject(o, "reproduced", same);
    char *text = cJSON_Print(o);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
    if (!json)
        fprintf(stderr, "eval: %s: test_acc %.4f, test_loss %.4f on %d rows (%s)\n", path, acc,
                loss, n,
                same                    ? "as recorded at training time"
                : isfinite(m->test_acc) ? "training recorded a different figure"
                                        : "no training-time figure recorded");
}

/* Opens the data of m's config (after --data-dir / --set) and evaluates. */
static int evaluate(const char *path, pt_model *m, const char *data_dir, int argc, char **argv,
                    int json)
{
    pt_config cfg = m->cfg;
    pt_err err;
    if (data_dir) {
        if (strlen(data_dir) >= sizeof cfg.data.dir) {
            fprintf(stderr, "prunetune eval: --data-dir: path too long\n");
            return PT_EXIT_USAGE;
        }
        snprintf(cfg.data.dir, sizeof cfg.data.dir, "%s", data_dir);
    }
    if (cli_apply_sets(&cfg, argc, argv, &err) != PT_OK) {
        fprintf(stderr, "prunetune eval: %s\n", err.msg);
        return PT_EXIT_USAGE;
    }
    openblas_set_num_threads(cfg.train.threads);
    pt_data data;
    pt_status st = pt_data_open(&data, &cfg.data, cfg.seed, &err);
    if (st == PT_OK && data.test.n < 1)
        st = pt_fail(&err, PT_ERR_CONFIG, "data: no test rows to evaluate on");
    if (st == PT_OK && data.test.dim != m->net.sizes[0])
        st = pt_fail(&err, PT_ERR_FORMAT, "data: %d features, but %s expects %d", data.test.dim,
                     path, m->net.sizes[0]);
    if (st == PT_OK)
        st = align_labels(m, &data, &err);
    if (st != PT_OK) {
        fprintf(stderr, "prunetune eval: %s\n", err.msg);
        pt_data_close(&data);
        return PT_EXIT_USAGE;
    }
    double acc, loss;
    pt_evaluate(&m->net, &data.test, &m->scaler, NULL, 0, &acc, &loss);
    report(path, m, acc, loss, data.test.n, json);
    pt_data_close(&data);
    return PT_EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        eval_usage(stdout);
        return PT_EXIT_OK;
    }
    const char *path = NULL, *data_dir = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--set") || !strcmp(argv[i], "--data-dir")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "prunetune eval: %s needs a value\n", argv[i]);
                return PT_EXIT_USAGE;
            }
            if (argv[i][2] == 'd')
                data_dir = argv[i + 1];
            i++; /* --set is applied over the stored config, in evaluate() */
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "prunetune eval: unknown option '%s' (see --help)\n", argv[i]);
            return PT_EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "prunetune eval: one model file expected, got '%s' and '%s'\n", path,
                    argv[i]);
            return PT_EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "prunetune eval: a MODEL.npz is required (see --help)\n");
        return PT_EXIT_USAGE;
    }
    if (cli_model_format("eval", path, NULL) == CLI_MODEL_ONNX) {
        fprintf(stderr,
                "prunetune eval: %s: ONNX is for a runtime (README: Deployable models: ONNX); "
                "eval reads the MODEL.npz of train --save or export-model\n",
                path);
        return PT_EXIT_USAGE;
    }
    pt_model m;
    pt_err err;
    if (pt_model_load(&m, path, &err) != PT_OK) {
        fprintf(stderr, "prunetune eval: %s\n", err.msg);
        return PT_EXIT_USAGE;
    }
    int code = evaluate(path, &m, data_dir, argc, argv, json);
    pt_model_free(&m);
    return code;
}
