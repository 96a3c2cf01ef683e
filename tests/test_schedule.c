/*
 * test_schedule.c — hyper-parameters over epochs (config "schedule",
 * core/schedule.h): the keys parse, print and round-trip, bad lists are one
 * line naming the key, and training replays a schedule: a constant one is
 * bit for bit the plain key, the same schedule twice is bit for bit the same
 * run, a changing one changes the run from its epoch on, train.lr follows
 * it epoch by epoch, and a moving sparsity target never un-prunes.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "data_open.h"
#include "model.h"
#include "schedule.h"
#include "train.h"

/* A few hundred Fashion-MNIST rows: a second per run. */
static void small_fashion(pt_config *c)
{
    pt_config_defaults(c);
    snprintf(c->data.dir, sizeof c->data.dir, "%s", PT_FASHION_DIR);
    c->data.limit = 600;
    c->data.test_limit = 300;
    c->data.val_fraction = 0.2;
    c->net.n_hidden = 1;
    c->net.hidden[0] = 32;
    c->train.epochs = 3;
    c->train.batch_size = 32;
    c->train.threads = 1; /* bit-identical weights need one BLAS thread (train.h) */
}

static void merge_ok(pt_config *c, const char *json)
{
    pt_err err;
    cr_assert_eq(pt_config_merge(c, json, "t.json", &err), PT_OK, "%s: %s", json, err.msg);
}

typedef struct {
    int n;
    double lr[8], sparsity[8];
} seen;

static int on_epoch(void *ctx, const pt_epoch_stats *s)
{
    seen *v = ctx;
    if (v->n < 8) {
        v->lr[v->n] = s->lr;
        v->sparsity[v->n] = s->sparsity;
        v->n++;
    }
    return 0;
}

/* Trains c; returns the network (caller frees) and what each epoch said. */
static pt_train_result train(const pt_config *c, pt_net *net, seen *v)
{
    pt_data d;
    pt_err err;
    memset(&d, 0, sizeof d);
    memset(v, 0, sizeof *v);
    cr_assert_eq(pt_data_open(&d, &c->data, c->seed, &err), PT_OK, "%s", err.msg);
    pt_train_result r;
    cr_assert_eq(pt_train(c, &d, net, on_epoch, v, &r, &err), PT_OK, "%s", err.msg);
    pt_data_close(&d);
    return r;
}

static int same_weights(const pt_net *a, const pt_net *b)
{
    return a->n_params == b->n_params &&
           !memcmp(a->params, b->params, sizeof(float) * (size_t)a->n_params);
}

Test(schedule, keys_parse_print_and_reject_bad_lists)
{
    pt_config c;
    pt_config_defaults(&c);
    merge_ok(&c, "{\"schedule\": {\"l2\": [[0, 1e-4], [2, 5e-4]], \"lr\": [[1, 0.01]]}}");
    cr_expect_eq(c.schedule.l2.n, 2);
    cr_expect(c.schedule.l2.epoch[1] == 2 && c.schedule.l2.value[1] == 5e-4);
    cr_expect_eq(pt_schedule_at(&c.schedule.l2, 0, 7), 1e-4);
    cr_expect_eq(pt_schedule_at(&c.schedule.l2, 1, 7), 1e-4);
    cr_expect_eq(pt_schedule_at(&c.schedule.l2, 5, 7), 5e-4);
    cr_expect_eq(pt_schedule_at(&c.schedule.lr, 0, 0.05), 0.05, "before the first entry");
    cr_expect_eq(pt_schedule_at(&c.schedule.l1, 3, 0.5), 0.5, "empty: the plain key");

    /* Printed and parsed back: the same schedule. */
    char *text = pt_config_to_json(&c);
    cr_assert_not_null(text);
    pt_config d;
    pt_err err;
    cr_assert_eq(pt_config_parse(&d, text, "printed", &err), PT_OK, "%s\n%s", err.msg, text);
    cr_expect_eq(memcmp(&d.schedule, &c.schedule, sizeof c.schedule), 0, "%s", text);
    free(text);

    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"schedule\": {\"l2\": [[1, 1e-4], [1, 2e-4]]}}",
         "t.json: schedule.l2: expected a list"},
        {"{\"schedule\": {\"l2\": [[0, 2]]}}", "t.json: schedule.l2: expected a list"},
        {"{\"schedule\": {\"l2\": [[-1, 0.1]]}}", "t.json: schedule.l2: expected a list"},
        {"{\"schedule\": {\"l2\": [[0.5, 0.1]]}}", "t.json: schedule.l2: expected a list"},
        {"{\"schedule\": {\"l1\": [0, 0.1]}}", "t.json: schedule.l1: expected a list"},
        {"{\"schedule\": {\"lr\": [[0, 0]]}}", "t.json: schedule.lr: expected a list"},
        {"{\"schedule\": {\"l3\": [[0, 0.1]]}}", "t.json: schedule.l3"},
        {"{\"schedule\": {\"sparsity\": [[0, 0.5]]}}",
         "t.json: schedule.sparsity: only with prune.schedule \"gradual\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_config_defaults(&d);
        memset(&err, 0, sizeof err);
        cr_expect_eq(pt_config_merge(&d, bad[i].json, "t.json", &err), PT_ERR_CONFIG, "%s",
                     bad[i].json);
        cr_expect(strstr(err.msg, bad[i].want) == err.msg, "%s: got \"%s\"", bad[i].json, err.msg);
        cr_expect_null(strchr(err.msg, '\n'));
    }
}

Test(schedule, a_replayed_schedule_is_the_run_bit_for_bit)
{
    pt_config plain, constant, changing;
    small_fashion(&plain);
    plain.reg.l2 = 1e-3;
    plain.reg.l1 = 1e-5;
    constant = plain;
    merge_ok(&constant, "{\"schedule\": {\"l2\": [[0, 1e-3]], \"l1\": [[0, 1e-5], [2, 1e-5]]}}");
    changing = plain;
    merge_ok(&changing, "{\"schedule\": {\"l2\": [[0, 1e-3], [2, 0.05]]}}");

    pt_net a, b, c, e;
    seen sa, sb, sc, se;
    pt_train_result ra = train(&plain, &a, &sa);
    pt_train_result rb = train(&constant, &b, &sb);
    pt_train_result rc = train(&changing, &c, &sc);
    pt_train_result re = train(&changing, &e, &se);
    /* Exact equality: one BLAS thread, same seed, same operations in the
     * same order (train.h): nothing here is a float-tolerance question. */
    cr_expect(same_weights(&a, &b), "a constant schedule trains as the plain keys");
    cr_expect_eq(ra.val_acc, rb.val_acc);
    cr_expect_eq(ra.loss, rb.loss);
    cr_expect(same_weights(&c, &e), "the same schedule twice: the same run");
    cr_expect_eq(rc.test_acc, re.test_acc);
    /* Epochs 0 and 1 are the plain run's; from epoch 2 on, 50x the L2. */
    cr_expect(!same_weights(&a, &c), "a changed l2 changes the run");
    cr_expect_neq(ra.loss, rc.loss);
    pt_net_free(&a);
    pt_net_free(&b);
    pt_net_free(&c);
    pt_net_free(&e);
}

Test(schedule, lr_follows_the_schedule_epoch_by_epoch)
{
    pt_config c;
    small_fashion(&c);
    c.train.lr = 0.05;
    merge_ok(&c, "{\"schedule\": {\"lr\": [[1, 0.02], [2, 0.01]]}}");
    pt_net net;
    seen v;
    train(&c, &net, &v);
    cr_assert_eq(v.n, 3);
    /* train.lr_schedule defaults to constant, so the epoch's rate is the
     * scheduled base exactly. */
    cr_expect_eq(v.lr[0], 0.05);
    cr_expect_eq(v.lr[1], 0.02);
    cr_expect_eq(v.lr[2], 0.01);
    pt_net_free(&net);
}

Test(schedule, a_moving_sparsity_target_never_unprunes)
{
    pt_config up, down;
    small_fashion(&up);
    up.train.epochs = 4;
    merge_ok(&up, "{\"prune\": {\"schedule\": \"gradual\", \"sparsity\": 0.5, \"start_epoch\": 0,"
                  " \"end_epoch\": 4, \"frequency\": 5}}");
    down = up;
    merge_ok(&up, "{\"schedule\": {\"sparsity\": [[2, 0.9]]}}");
    merge_ok(&down, "{\"schedule\": {\"sparsity\": [[0, 0.9], [2, 0.2]]}}");
    pt_net a, b;
    seen sa, sb;
    pt_train_result ra = train(&up, &a, &sa);
    pt_train_result rb = train(&down, &b, &sb);
    /* A raised target is reached by the end of the window (gradual ends on
     * its target exactly; biases are never pruned, so the fraction of zero
     * weights is a little under it). */
    cr_expect_gt(ra.sparsity, 0.85, "raised to 0.9: %.3f", ra.sparsity);
    for (int i = 1; i < sb.n; i++)
        cr_expect_geq(sb.sparsity[i], sb.sparsity[i - 1], "epoch %d: %.4f after %.4f", i + 1,
                      sb.sparsity[i], sb.sparsity[i - 1]);
    cr_expect_geq(rb.sparsity, sb.sparsity[1], "the lowered target kept what was pruned");
    cr_expect_lt(rb.sparsity, 0.85, "and pruned no further toward 0.9");
    pt_net_free(&a);
    pt_net_free(&b);
}

/* A run stopped after epoch 2 of 4 (c + stop), saved, and continued from
 * the file at epoch 2 (c + first) ends as the run over the 4 epochs (c):
 * the same weights, mask and figures, bit for bit. */
static void expect_continued_is_whole(pt_config *c, const char *stop, const char *first)
{
    pt_data d;
    pt_err err;
    memset(&d, 0, sizeof d);
    cr_assert_eq(pt_data_open(&d, &c->data, c->seed, &err), PT_OK, "%s", err.msg);
    pt_net whole, part, rest;
    pt_train_result rw, r1, r2;
    cr_assert_eq(pt_train(c, &d, &whole, NULL, NULL, &rw, &err), PT_OK, "%s", err.msg);

    pt_config c1 = *c;
    merge_ok(&c1, stop);
    cr_assert_eq(pt_train(&c1, &d, &part, NULL, NULL, &r1, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(r1.epochs, 2);
    char path[] = "/tmp/pt_sched_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    pt_model_info info = {.n_classes = d.train.n_classes,
                          .class_names = d.train.class_names,
                          .optim = r1.optim.m ? &r1.optim : NULL};
    cr_assert_eq(pt_model_save(path, &part, &d.scaler, &c1, &info, &err), PT_OK, "%s", err.msg);
    if (c1.train.keep_optim) { /* the file carries the state as it was */
        pt_model m;
        cr_assert_eq(pt_model_load(&m, path, &err), PT_OK, "%s", err.msg);
        cr_expect_eq(m.optim.n, r1.optim.n);
        cr_expect_eq(m.optim.kind, r1.optim.kind);
        cr_expect_gt(m.optim.t, 0);
        cr_expect_eq(m.optim.t, r1.optim.t);
        cr_expect(!memcmp(m.optim.m, r1.optim.m, sizeof(float) * r1.optim.n), "m differs");
        cr_expect(!r1.optim.v || !memcmp(m.optim.v, r1.optim.v, sizeof(float) * r1.optim.n),
                  "v differs");
        pt_model_free(&m);
    }

    pt_config c2 = *c;
    char json[512];
    snprintf(json, sizeof json, "{\"net\": {\"init\": \"%s\"}, \"train\": %s}", path, first);
    merge_ok(&c2, json);
    cr_assert_eq(pt_train(&c2, &d, &rest, NULL, NULL, &r2, &err), PT_OK, "%s", err.msg);
    unlink(path);
    cr_expect_eq(r2.epochs, 4);
    cr_expect(same_weights(&whole, &rest), "the continued run's weights differ");
    cr_expect(whole.mask && rest.mask &&
                  !memcmp(whole.mask, rest.mask, sizeof(float) * (size_t)whole.n_params),
              "the continued run's mask differs");
    cr_expect_eq(r2.val_acc, rw.val_acc, "%.17g vs %.17g", r2.val_acc, rw.val_acc);
    cr_expect_eq(r2.test_acc, rw.test_acc, "%.17g vs %.17g", r2.test_acc, rw.test_acc);
    cr_expect_eq(r2.sparsity, rw.sparsity);
    if (c1.train.keep_optim) { /* the state matters: without it, another run */
        info.optim = NULL;
        cr_assert_eq(pt_model_save(path, &part, &d.scaler, &c1, &info, &err), PT_OK, "%s",
                     err.msg);
        pt_net bare;
        cr_assert_eq(pt_train(&c2, &d, &bare, NULL, NULL, &r2, &err), PT_OK, "%s", err.msg);
        unlink(path);
        cr_expect(!same_weights(&whole, &bare), "the optimizer state changed nothing");
        pt_net_free(&bare);
    }
    pt_optim_free(&r1.optim);
    pt_net_free(&whole);
    pt_net_free(&part);
    pt_net_free(&rest);
    pt_data_close(&d);
}

/* The run both continuation tests split: dropout on the input and the
 * hidden layer (its stream advanced past the earlier epochs' draws), a
 * gradual prune whose window spans the boundary, a cosine learning rate and
 * a schedule.lr step at the boundary. Exact: the same operations on the
 * same floats in the same order (one BLAS thread, train.sparse "off"). */
static void continued_config(pt_config *c, const char *optimizer)
{
    small_fashion(c);
    merge_ok(c, "{\"train\": {\"epochs\": 4, \"lr_schedule\": \"cosine\", \"sparse\": \"off\"},"
                " \"reg\": {\"dropout\": 0.2, \"dropout_input\": 0.1},"
                " \"prune\": {\"schedule\": \"gradual\", \"sparsity\": 0.7, \"start_epoch\": 0.5,"
                " \"end_epoch\": 3, \"frequency\": 5},"
                " \"schedule\": {\"lr\": [[0, 0.05], [2, 0.02]]}}");
    merge_ok(c, optimizer);
}

/* train.keep_optim (train.h, a PBT checkpoint): the stopped run saves its
 * momentum (SGD) or moments and step count (Adam) with the model, the
 * continued run picks them up, and the chain is the uninterrupted run. */
Test(schedule, continued_run_with_its_optimizer_state_is_the_whole_run)
{
    pt_config c;
    continued_config(&c, "{\"train\": {\"optimizer\": \"sgd\", \"momentum\": 0.9}}");
    expect_continued_is_whole(&c, "{\"train\": {\"stop_epoch\": 2, \"keep_optim\": true}}",
                              "{\"first_epoch\": 2}");
    continued_config(&c, "{\"train\": {\"optimizer\": \"adam\", \"lr\": 0.002},"
                         " \"schedule\": {\"lr\": [[0, 0.002], [2, 0.001]]}}");
    expect_continued_is_whole(&c, "{\"train\": {\"stop_epoch\": 2, \"keep_optim\": true}}",
                              "{\"first_epoch\": 2}");
}

/* train.optim_reset (train.h): a chain that did not carry its optimizer
 * state is the run from epoch 0 that clears its state at the boundary. */
Test(schedule, continued_run_is_the_run_from_epoch_0)
{
    pt_config c;
    continued_config(&c, "{\"train\": {\"optim_reset\": 2}}");
    expect_continued_is_whole(&c, "{\"train\": {\"stop_epoch\": 2}}", "{\"first_epoch\": 2}");
    /* Without the reset the run from epoch 0 keeps its momentum: another run;
     * and a continued run without the state differs from it. */
    pt_config c3 = c;
    c3.train.optim_reset = 0;
    pt_data d;
    pt_err err;
    memset(&d, 0, sizeof d);
    cr_assert_eq(pt_data_open(&d, &c.data, c.seed, &err), PT_OK, "%s", err.msg);
    pt_net whole, kept;
    pt_train_result rw, r3;
    cr_assert_eq(pt_train(&c, &d, &whole, NULL, NULL, &rw, &err), PT_OK, "%s", err.msg);
    cr_assert_eq(pt_train(&c3, &d, &kept, NULL, NULL, &r3, &err), PT_OK, "%s", err.msg);
    cr_expect(!same_weights(&whole, &kept), "optim_reset changed nothing");
    pt_net_free(&whole);
    pt_net_free(&kept);
    pt_data_close(&d);
}

/* The continuation keys' rules, one line naming the key. */
Test(schedule, continuation_keys_checked)
{
    const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"train\": {\"first_epoch\": 1}}", "train.first_epoch: expected 0 without net.init"},
        {"{\"net\": {\"init\": \"m.npz\"}, \"train\": {\"epochs\": 3, \"first_epoch\": 3}}",
         "train.first_epoch: expected an epoch < train.epochs"},
        {"{\"train\": {\"epochs\": 3, \"stop_epoch\": 4}}", "train.stop_epoch: expected 0 or"},
        {"{\"train\": {\"stop_epoch\": 2}, \"prune\": {\"schedule\": \"oneshot\"}}",
         "only with prune.schedule \"none\" or \"gradual\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_config c;
        pt_err err = {{0}};
        cr_expect_eq(pt_config_parse(&c, bad[i].json, "t.json", &err), PT_ERR_CONFIG, "%s",
                     bad[i].json);
        cr_expect_not_null(strstr(err.msg, bad[i].want), "%s: %s", bad[i].json, err.msg);
        cr_expect_not_null(strstr(err.msg, "t.json: "), "%s", err.msg);
    }
}
