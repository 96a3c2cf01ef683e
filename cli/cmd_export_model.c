/*
 * cmd_export_model.c — `prunetune export-model`: copies a kept trial model
 * out of a study's models folder (store/models.h says which trials a
 * study keeps and where). Read-only on the DB, like the query commands; the
 * copy is written through a temporary file and renamed, so -o never holds
 * half a model. --format onnx (or -o X.onnx) converts the kept .npz to ONNX
 * instead (core/onnx.h: compacted, sparse weights as COO, scaling inside).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "model.h"
#include "models.h"
#include "query_cli.h"
#include "store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: prunetune export-model DB [--trial N] [--all] [--study NAME]\n"
            "                              [--format npz|onnx] -o MODEL.npz|MODEL.onnx\n\n"
            "Writes the final model of a trial, as the search kept it: NumPy .npz (layout\n"
            "in schemas/model.md), so `prunetune eval MODEL.npz` reproduces the trial's\n"
            "test accuracy, or ONNX (opset 13) for a deployment runtime: structurally\n"
            "pruned layers compacted, sparse weights as COO sparse_initializer, the input\n"
            "scaling as the graph's first nodes; its size and FLOPs against the dense\n"
            "network are printed on stderr. A study keeps the models of its best\n"
            "keep_models trials (study key, default 5) in DB.models/<study>/.\n\n"
            "options:\n"
            "  --trial N     the trial with this number (default: the best complete one\n"
            "                by the first objective; feasible, when the study has\n"
            "                constraints: only feasible trials keep their model)\n"
            "  --all         the best among infeasible trials too\n"
            "  --study NAME  the study (default: the only / most recent one)\n"
            "  --format F    npz or onnx (default: onnx for a FILE ending in .onnx, else npz)\n"
            "  -o FILE       where to write the model (required)\n"
            "  -h, --help    this help\n\n"
            "exit status: 0 written, 1 no complete trial yet or the copy failed, 2 bad\n"
            "database, study, trial or --format, or the trial's model was not kept or\n"
            "is unreadable\n");
}

static int copy_file(const char *from, const char *to)
{
    char tmp[PT_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    FILE *in = fopen(from, "rb");
    if (!in) {
        fprintf(stderr, "prunetune export-model: %s: %s\n", from, strerror(errno));
        return PT_EXIT_USAGE;
    }
    FILE *out = fopen(tmp, "wb");
    int ok = out != NULL;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in);
    ok = out && fclose(out) == 0 && ok;
    fclose(in);
    if (ok && rename(tmp, to) == 0)
        return PT_EXIT_OK;
    fprintf(stderr, "prunetune export-model: %s: %s\n", to, strerror(errno));
    unlink(tmp);
    return PT_EXIT_FAIL;
}

/* The kept .npz at from, converted to ONNX at to. */
static int to_onnx(const char *from, const char *to)
{
    pt_model m;
    pt_err err;
    if (pt_model_load(&m, from, &err) != PT_OK) {
        fprintf(stderr, "prunetune export-model: %s\n", err.msg);
        return PT_EXIT_USAGE;
    }
    pt_model_info info = {.test_acc = m.test_acc,
                          .test_loss = m.test_loss,
                          .val_acc = m.val_acc,
                          .n_test = m.n_test,
                          .n_classes = m.n_classes,
                          .class_names = m.class_names};
    int rc = cli_save_onnx("export-model", to, &m.net, &m.scaler, &m.cfg, &info);
    pt_model_free(&m);
    return rc;
}

int cmd_export_model(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return usage(stdout), PT_EXIT_OK;
    qcli_opts o;
    qcli_ctx c;
    int rc = qcli_parse_opts("export-model", argc, argv, "study,trial,o,all,format", &o);
    if (rc >= 0)
        return rc;
    if (!o.out)
        return qcli_usage_err("export-model", "-o FILE is required", NULL);
    int format = cli_model_format("export-model", o.out, o.format);
    if (format < 0)
        return PT_EXIT_USAGE;
    if ((rc = qcli_open_ctx(&c, "export-model", &o)) >= 0)
        return rc;
    pt_err err = {{0}};
    const query_trial *tr = qcli_pick_trial(&c, &o, &rc);
    store *db = NULL;
    char path[PT_PATH_MAX];
    pt_status st = PT_OK;
    if (tr && (st = store_open(&db, o.db, 1, &err)) == PT_OK)
        st = models_trial_path(db, o.db, tr->trial_id, path, sizeof path, &err);
    if (tr && st == PT_ERR_STOPPED) {
        fprintf(stderr,
                "prunetune export-model: %s: the model of trial %d was not kept (a study "
                "keeps its best keep_models trials)\n",
                o.db, tr->number);
        rc = PT_EXIT_USAGE;
    } else if (tr && st != PT_OK) {
        rc = qcli_fail_line(&c, &err);
    } else if (tr && access(path, R_OK) != 0) {
        fprintf(stderr,
                "prunetune export-model: %s: the model of trial %d is recorded as %s, "
                "which is missing\n",
                o.db, tr->number, path);
        rc = PT_EXIT_USAGE;
    } else if (tr) {
        rc = format == CLI_MODEL_ONNX ? to_onnx(path, o.out) : copy_file(path, o.out);
    }
    if (db)
        store_close(db);
    qcli_close_ctx(&c);
    return rc;
}
