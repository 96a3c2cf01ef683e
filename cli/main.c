/*
 * main.c — prunetune's entry point: finds the subcommand and runs it.
 *
 * The command table is the one list of commands; `prunetune --help` prints it.
 */
#include <stdio.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cli.h"

#ifndef PT_VERSION
#define PT_VERSION "0.1.0"
#endif

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "run a search: mpirun -np N prunetune run study.json, or without mpirun"},
    {"confirm", cmd_confirm,
     "re-run the best strategies, their ablation and the baseline over seeds: confirm study.db"},
    {"train", cmd_train, "train one network from a JSON config and print its metrics"},
    {"eval", cmd_eval, "reload a saved model (.npz) and evaluate it on its test set"},
    {"bench-infer", cmd_bench_infer, "benchmark inference of dense and pruned networks"},
    {"report", cmd_report, "write a self-contained HTML report of a study DB"},
    {"best", cmd_best, "the best trial of a study DB: its metrics and full strategy"},
    {"top", cmd_top, "the K best trials of a study DB as a table (--by, --where)"},
    {"pareto", cmd_pareto, "the non-dominated trials of a study DB (--objectives)"},
    {"trials", cmd_trials, "every trial of a study DB (--state failed, ...)"},
    {"studies", cmd_studies, "the studies in a DB"},
    {"export", cmd_export, "one row per trial with every param and metric (csv | json)"},
    {"strategy", cmd_strategy, "the train config that re-runs a trial (default: the best)"},
    {"export-model", cmd_export_model, "a kept trial model out of a study (.npz, or ONNX)"},
    {"worker", cmd_worker, NULL}, /* hidden: started by `run` without mpirun */
};

static void usage(FILE *f)
{
    fprintf(f,
            "prunetune %s — search for the pruning + regularization mix that shrinks a\n"
            "neural network without losing accuracy.\n\n"
            "usage: prunetune COMMAND [ARGS]   (prunetune COMMAND --help for details)\n\n"
            "commands:\n",
            PT_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].summary)
            fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\noptions:\n  -h, --help   this help\n  --version    print the version\n");
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

/* A trial allocates and frees buffers of a few MB (the network, its
 * optimizer state, an inference engine per evaluation of a pruned network).
 * glibc serves them from fresh mmaps or trims them off the heap when they
 * are freed, so each one comes back as new pages the kernel must fault in
 * and zero: measured on a 2-core EPYC VM, a pruned LeNet-300-100's
 * validation pass spent a third of its time in page faults. Keeping freed
 * memory below 32 MB in the heap (blocks that large still get their own
 * mmap: a data set) makes the next trial's buffers free of faults. */
static void keep_freed_memory(void)
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

int main(int argc, char **argv)
{
    keep_freed_memory();
    if (argc < 2) {
        usage(stderr);
        return PT_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return PT_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("prunetune %s\n", PT_VERSION);
        return PT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "prunetune: unknown command '%s' (see prunetune --help)\n", argv[1]);
    return PT_EXIT_USAGE;
}
