/*
 * test_init.c — net.init: starting from a trained network (core/init.h).
 *
 * Real runs throughout: small networks trained on Fashion-MNIST and saved,
 * then loaded as the start of a trial through the API, through `prunetune
 * train`, and through a study under mpirun; a PyTorch network trained in
 * the test itself and converted by scripts/torch2npz.py. Equalities of
 * accuracies are exact where the same weights meet the same data in the
 * same batches (the same GEMM calls give the same bits, as `prunetune eval`
 * promises); the PyTorch comparison allows one test sample in 10,000
 * (tests/torch2npz_check.py says why).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "data_open.h"
#include "model.h"
#include "prune.h"
#include "run_fixture.h"
#include "train.h"

TestSuite(init, .init = run_setup, .fini = run_teardown, .timeout = 240);

/* A small base config: 3000 training rows, 1000 test rows, one hidden layer. */
static pt_config small_cfg(int hidden)
{
    pt_config c;
    char json[512];
    snprintf(json, sizeof json,
             "{\"data\": {\"dir\": \"%s\", \"limit\": 3000, \"test_limit\": 1000},"
             " \"net\": {\"hidden\": [%d]}, \"train\": {\"epochs\": 1, \"batch_size\": 64}}",
             PT_FASHION_DIR, hidden);
    pt_err err;
    cr_assert_eq(pt_config_parse(&c, json, "test", &err), PT_OK, "%s", err.msg);
    return c;
}

/* Trains cfg, saves it to tmpdir/name, returns the recorded test accuracy. */
static double train_and_save(const pt_config *cfg, pt_data *data, const char *name)
{
    pt_net net;
    pt_train_result r;
    pt_err err;
    cr_assert_eq(pt_train(cfg, data, &net, NULL, NULL, &r, &err), PT_OK, "%s", err.msg);
    pt_model_info info = {.test_acc = r.test_acc,
                          .test_loss = r.test_loss,
                          .val_acc = r.val_acc,
                          .n_test = data->test.n};
    cr_assert_eq(pt_model_save(path_of(name), &net, &data->scaler, cfg, &info, &err), PT_OK, "%s",
                 err.msg);
    pt_net_free(&net);
    return r.test_acc;
}

typedef struct {
    int n;
    double sparsity[16];
} epochs_seen;

static int record(void *ctx, const pt_epoch_stats *s)
{
    epochs_seen *e = ctx;
    if (e->n < 16)
        e->sparsity[e->n++] = s->sparsity;
    return 0;
}

Test(init, epoch_zero_is_the_saved_network)
{
    pt_config base = small_cfg(32);
    pt_data data;
    pt_err err;
    cr_assert_eq(pt_data_open(&data, &base.data, base.seed, &err), PT_OK, "%s", err.msg);
    double saved_acc = train_and_save(&base, &data, "a.npz");
    pt_model saved;
    cr_assert_eq(pt_model_load(&saved, path_of("a.npz"), &err), PT_OK, "%s", err.msg);

    /* No epoch: the network is the loaded one, bit for bit, and so is its
     * test accuracy (same weights, data, scaler and batches). */
    pt_config c = base;
    snprintf(c.net.init, sizeof c.net.init, "%s", path_of("a.npz"));
    c.train.epochs = 0;
    pt_net net;
    pt_train_result r;
    epochs_seen seen = {0};
    cr_assert_eq(pt_train(&c, &data, &net, record, &seen, &r, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(r.epochs, 0);
    cr_expect_eq(seen.n, 0);
    cr_expect_eq(r.test_acc, saved_acc, "test_acc %.17g, saved %.17g", r.test_acc, saved_acc);
    cr_expect(isfinite(r.val_acc), "val_acc is evaluated without an epoch");
    cr_expect_eq(net.n_params, saved.net.n_params);
    cr_expect_eq(memcmp(net.params, saved.net.params, sizeof(float) * net.n_params), 0);
    pt_net_free(&net);

    /* One-shot from the trained network prunes at epoch 0: the first (and
     * only) fine-tuning epoch already runs at the target sparsity. */
    c.prune.schedule = PT_PRUNE_ONESHOT;
    c.prune.sparsity = 0.8;
    c.prune.finetune_epochs = 1;
    memset(&seen, 0, sizeof seen);
    cr_assert_eq(pt_train_total_epochs(&c), 1);
    cr_assert_eq(pt_train(&c, &data, &net, record, &seen, &r, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(seen.n, 1);
    /* Layer-wise pruning rounds each layer's count to a whole weight: the
     * total is within one weight per layer of the target. */
    double tol = (double)net.n_layers / (double)(net.n_params);
    cr_expect(fabs(seen.sparsity[0] - 0.8) <= tol + 1e-3, "epoch 1 sparsity %.6f",
              seen.sparsity[0]);
    /* Pruning a trained network keeps most of its accuracy after one epoch,
     * where a random start would be near chance (0.1) at 80% sparsity. */
    cr_expect(r.test_acc > saved_acc - 0.1, "pruned %.4f, trained %.4f", r.test_acc, saved_acc);
    pt_net_free(&net);

    /* Iterative: round r prunes at the start of fine-tuning epoch r. */
    c.prune.schedule = PT_PRUNE_ITERATIVE;
    c.prune.rounds = 2;
    memset(&seen, 0, sizeof seen);
    cr_assert_eq(pt_train_total_epochs(&c), 2);
    cr_assert_eq(pt_train(&c, &data, &net, record, &seen, &r, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(seen.n, 2);
    double s1 = pt_iterative_sparsity(0.8, 1, 2);
    cr_expect(fabs(seen.sparsity[0] - s1) <= tol + 1e-3, "round 1: %.6f, want %.6f",
              seen.sparsity[0], s1);
    cr_expect(fabs(seen.sparsity[1] - 0.8) <= tol + 1e-3, "round 2: %.6f", seen.sparsity[1]);
    pt_net_free(&net);
    pt_model_free(&saved);
    pt_data_close(&data);
}

Test(init, a_pruned_start_stays_pruned)
{
    pt_config base = small_cfg(32);
    base.prune.schedule = PT_PRUNE_ONESHOT;
    base.prune.sparsity = 0.7;
    base.prune.finetune_epochs = 1;
    pt_data data;
    pt_err err;
    cr_assert_eq(pt_data_open(&data, &base.data, base.seed, &err), PT_OK, "%s", err.msg);
    train_and_save(&base, &data, "p.npz");
    pt_config c = small_cfg(32);
    snprintf(c.net.init, sizeof c.net.init, "%s", path_of("p.npz"));
    pt_net net;
    pt_train_result r;
    cr_assert_eq(pt_train(&c, &data, &net, NULL, NULL, &r, &err), PT_OK, "%s", err.msg);
    /* A schedule "none" epoch of training keeps the loaded mask's zeros. */
    cr_expect(r.sparsity >= 0.7 - 1e-3, "sparsity %.4f after training a 0.7-pruned start",
              r.sparsity);
    cr_expect_not_null(net.mask);
    pt_net_free(&net);
    pt_data_close(&data);
}

/* stderr of the last sh() call, without its newline. */
static const char *err_line(void)
{
    static char buf[2048];
    slurp("err", buf, sizeof buf);
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

Test(init, config_errors_are_one_line_exit_2)
{
    pt_config base = small_cfg(32);
    pt_data data;
    pt_err err;
    cr_assert_eq(pt_data_open(&data, &base.data, base.seed, &err), PT_OK, "%s", err.msg);
    train_and_save(&base, &data, "m.npz");
    pt_data_close(&data);
    write_in("notes.npz", "not a model\n");
    char cfg[1024], cmd[2048], want[2048];
    const struct {
        /* msg: a format taking the config's path, then the model's */
        const char *init, *hidden, *data, *msg;
    } cases[] = {
        {"missing.npz", "[32]", "", "%s: net.init: %s: cannot open: No such file or directory"},
        {"notes.npz", "[32]", "", "%s: net.init: %s: not an .npz file (no zip signature)"},
        {"m.npz", "[16]", "",
         "%s: net.init: %s holds a 784-32-10 network, but net.hidden describes 784-16-10"},
        {"m.npz", "[32, 8]", "",
         "%s: net.init: %s holds a 784-32-10 network, but net.hidden describes 784-32-8-10"},
        {"m.npz", "[32]",
         "\"format\": \"csv\", \"train\": \"" PT_SOURCE_DIR "/examples/data/iris.csv\", ",
         "%s: net.init: %s takes 784 features to 10 classes, but the data has 4 features and "
         "3 classes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(cfg, sizeof cfg,
                 "{\"data\": {%s\"dir\": \"%s\", \"limit\": 500, \"test_limit\": 100},"
                 " \"net\": {\"init\": \"%s\", \"hidden\": %s}, \"train\": {\"epochs\": 0}}",
                 cases[i].data, PT_FASHION_DIR, path_of(cases[i].init), cases[i].hidden);
        const char *p = write_in("c.json", cfg);
        char cpath[512];
        snprintf(cpath, sizeof cpath, "%s", p);
        snprintf(cmd, sizeof cmd, "%s train '%s' --quiet", PT_BIN, cpath);
        cr_expect_eq(sh(cmd), 2, "case %zu: %s", i, cfg);
        snprintf(want, sizeof want, "prunetune train: ");
        snprintf(want + strlen(want), sizeof want - strlen(want), cases[i].msg, cpath,
                 path_of(cases[i].init));
        cr_expect_str_eq(err_line(), want, "case %zu", i);
    }
    /* train.epochs 0 means "prune or evaluate the loaded network": only with net.init. */
    snprintf(cmd, sizeof cmd, "%s train --set train.epochs=0 --quiet", PT_BIN);
    cr_expect_eq(sh(cmd), 2);
    cr_expect_str_eq(err_line(), "prunetune train: --set: train.epochs: expected an integer >= 1 "
                                 "(0 only with net.init) (got 0)");

    /* A study: the same checks before anything starts, and no database. */
    snprintf(
        cfg, sizeof cfg,
        "{\"study\": \"s\", \"storage\": \"%s\", \"n_trials\": 2,"
        " \"trial\": {\"data\": {\"dir\": \"%s\"}, \"net\": {\"init\": \"%s\","
        " \"hidden\": [64]}, \"train\": {\"epochs\": 0}},"
        " \"search_space\": {\"train.lr\": {\"type\": \"float\", \"low\": 0.01, \"high\": 0.1}}}",
        path_of("study.db"), PT_FASHION_DIR, path_of("m.npz"));
    const char *sp = write_in("s.json", cfg);
    char spath[512];
    snprintf(spath, sizeof spath, "%s", sp);
    snprintf(cmd, sizeof cmd, "%s run '%s' --workers 1", PT_BIN, spath);
    cr_expect_eq(sh(cmd), 2);
    snprintf(want, sizeof want,
             "prunetune run: %s: trial.net.init: %s holds a 784-32-10 network, but net.hidden "
             "describes 784-64-10",
             spath, path_of("m.npz"));
    cr_expect_str_eq(err_line(), want);
    cr_expect_neq(access(path_of("study.db"), F_OK), 0, "a refused study leaves no database");
}

Test(init, study_under_mpirun_starts_every_trial_from_the_model)
{
    pt_config base = small_cfg(32);
    pt_data data;
    pt_err err;
    cr_assert_eq(pt_data_open(&data, &base.data, base.seed, &err), PT_OK, "%s", err.msg);
    double saved_acc = train_and_save(&base, &data, "m.npz");
    pt_data_close(&data);
    char study[2048], cmd[2048];
    snprintf(study, sizeof study,
             "{\"study\": \"pre\", \"storage\": \"%s\", \"n_trials\": 4, \"sampler\": \"random\","
             " \"trial\": {\"data\": {\"dir\": \"%s\", \"limit\": 3000, \"test_limit\": 1000},"
             " \"net\": {\"hidden\": [32], \"init\": \"%s\"},"
             " \"train\": {\"epochs\": 0, \"batch_size\": 64, \"lr\": 0.01},"
             " \"prune\": {\"schedule\": \"oneshot\", \"finetune_epochs\": 1}},"
             " \"search_space\": {\"prune.sparsity\": {\"type\": \"float\", \"low\": 0.5,"
             " \"high\": 0.9}}}",
             path_of("study.db"), PT_FASHION_DIR, path_of("m.npz"));
    const char *s = write_in("s.json", study);
    snprintf(cmd, sizeof cmd, "mpirun -np 3 %s run '%s' --quiet", PT_BIN, s);
    char out[8192];
    int rc = sh(cmd);
    slurp("err", out, sizeof out);
    cr_assert_eq(rc, 0, "%s", out);
    sqlite3 *db = db_open();
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'"), 4);
    /* The baseline: the reference trial, the loaded network evaluated. */
    int ref = q_int(db, "SELECT t.number FROM trials t JOIN trial_user_attributes a"
                        " ON a.trial_id=t.trial_id WHERE a.key='pt_role'"
                        " AND a.value_json='\"baseline\"'");
    cr_assert_geq(ref, 0);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT epochs FROM pt_trial_metrics WHERE number=%d", ref);
    cr_expect_eq(q_int(db, sql), 0);
    snprintf(sql, sizeof sql, "SELECT test_acc FROM pt_trial_metrics WHERE number=%d", ref);
    double ref_acc = q_num(db, sql);
    cr_expect_eq(ref_acc, saved_acc, "baseline test_acc %.17g, model %.17g", ref_acc, saved_acc);
    /* Every other trial pruned the loaded network at once and fine-tuned one
     * epoch: starting from trained weights it stays far above chance. */
    cr_expect_eq(q_int(db, "SELECT COUNT(*) FROM pt_trial_metrics WHERE epochs=1"
                           " AND sparsity >= 0.49 AND test_acc > 0.5"),
                 3);
    sqlite3_close(db);
    snprintf(cmd, sizeof cmd, "%s best '%s'", PT_BIN, path_of("study.db"));
    cr_assert_eq(sh(cmd), 0);
    slurp("out", out, sizeof out);
    char want[1024];
    snprintf(want, sizeof want,
             "baseline: trial %d, the pre-trained network %s as loaded (unpruned, not "
             "fine-tuned)",
             ref, path_of("m.npz"));
    cr_expect_not_null(strstr(out, want), "%s", out);
}

Test(init, torch2npz_round_trip)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/torch2npz_check.py' '%s' '%s' '%s' '%s'",
             PT_SOURCE_DIR, PT_BIN, PT_FASHION_DIR, tmpdir, PT_SOURCE_DIR);
    int rc = sh(cmd);
    char out[4096], errs[4096];
    slurp("out", out, sizeof out);
    slurp("err", errs, sizeof errs);
    cr_expect_eq(rc, 0, "%s%s", out, errs);
}
