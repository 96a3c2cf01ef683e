/*
 * test_cli.c — the prunetune binary as a user runs it: help, a real short
 * training run with its JSON result, and bad input giving one clear line and
 * exit status 2.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    int code;
    char out[1 << 16];
    char err[1 << 16];
} run_result;

static char tmpdir[] = "/tmp/pt_cli_XXXXXX";

static void setup(void) { cr_assert_not_null(mkdtemp(tmpdir)); }

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs `prunetune ARGS` with stdout and stderr captured apart. */
static void run(run_result *r, const char *args)
{
    char cmd[4096], out[512], err[512];
    snprintf(out, sizeof out, "%s/stdout", tmpdir);
    snprintf(err, sizeof err, "%s/stderr", tmpdir);
    snprintf(cmd, sizeof cmd, "%s %s >'%s' 2>'%s'", PT_BIN, args, out, err);
    int st = system(cmd);
    r->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static run_result r;

TestSuite(cli, .init = setup, .fini = teardown);

Test(cli, help_everywhere)
{
    run(&r, "--help");
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "train"), "%s", r.out);
    run(&r, "train --help");
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "usage: prunetune train"), "%s", r.out);
    run(&r, "");
    cr_assert_eq(r.code, 2);
    run(&r, "frobnicate");
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "unknown command 'frobnicate'"), "%s", r.err);
}

Test(cli, short_training_run_prints_json_metrics)
{
    char args[1024];
    snprintf(args, sizeof args,
             "train --set data.dir='\"%s\"' --set data.limit=500 --set data.test_limit=300 "
             "--set net.hidden=[32] --set train.epochs=2",
             PT_FASHION_DIR);
    run(&r, args);
    cr_assert_eq(r.code, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "epoch   1/2") && strstr(r.err, "epoch   2/2"), "%s", r.err);
    cJSON *o = cJSON_Parse(r.out);
    cr_assert_not_null(o, "stdout is not JSON: %s", r.out);
    const char *keys[] = {"val_acc", "test_acc", "loss", "epochs", "train_samples_per_s",
                          "peak_rss_bytes", "wall_s", "seed"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(o, keys[i])), "missing %s", keys[i]);
    cr_assert_eq(cJSON_GetObjectItem(o, "epochs")->valuedouble, 2);
    cr_assert_gt(cJSON_GetObjectItem(o, "test_acc")->valuedouble, 0.4);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "ok");
    cJSON_Delete(o);
}

Test(cli, quiet_prints_no_progress)
{
    char args[1024];
    snprintf(args, sizeof args,
             "train --quiet --set data.dir='\"%s\"' --set data.limit=200 --set data.test_limit=100 "
             "--set net.hidden=[8] --set train.epochs=1",
             PT_FASHION_DIR);
    run(&r, args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "");
}

/* Cross-key checks see every override at once: the schedule may come
 * before the end epoch it depends on, and the last of two --set wins. */
Test(cli, set_overrides_apply_together_in_any_order)
{
    char args[1024];
    snprintf(args, sizeof args,
             "train --quiet --set data.dir='\"%s\"' --set data.limit=300 --set data.test_limit=100 "
             "--set net.hidden=[16] --set prune.schedule=gradual --set prune.sparsity=0.8 "
             "--set train.epochs=1 --set train.epochs=2 --set prune.end_epoch=2 "
             "--set prune.start_epoch=0.5",
             PT_FASHION_DIR);
    run(&r, args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *o = cJSON_Parse(r.out);
    cr_assert_not_null(o, "%s", r.out);
    cr_assert_eq(cJSON_GetObjectItem(o, "epochs")->valuedouble, 2);
    cJSON_Delete(o);

    run(&r, "train --set prune.end_epoch=20 --set train.epochs=10 --set prune.schedule=gradual");
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "--set: prune.end_epoch"), "%s", r.err);
}

Test(cli, bad_config_names_file_and_key)
{
    const char *p = write_file("bad.json", "{\"train\": {\"lr\": -1}}");
    char args[1024];
    snprintf(args, sizeof args, "train '%s'", p);
    run(&r, args);
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "bad.json") && strstr(r.err, "train.lr"), "%s", r.err);
    cr_assert_str_eq(r.out, "");

    p = write_file("unknown.json", "{\"train\": {\"epoch\": 3}}");
    snprintf(args, sizeof args, "train '%s'", p);
    run(&r, args);
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "train.epoch"), "%s", r.err);

    run(&r, "train /nonexistent/cfg.json");
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "/nonexistent/cfg.json"), "%s", r.err);

    run(&r, "train --set train.epochs=0");
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "train.epochs"), "%s", r.err);

    run(&r, "train --set seed.x=1");
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "--set: seed"), "%s", r.err);
}

Test(cli, bad_data_names_the_file)
{
    run(&r, "train --set data.dir=/nonexistent/fashion");
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "/nonexistent/fashion/train-images-idx3-ubyte.gz"), "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line expected: %s", r.err);

    const char *p = write_file("ragged.csv", "a,b,label\n1,2,0\n3,1\n");
    char args[1024];
    snprintf(args, sizeof args, "train --set data.format=csv --set data.train='\"%s\"'", p);
    run(&r, args);
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "ragged.csv:3"), "%s", r.err);
}
