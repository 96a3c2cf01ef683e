/*
 * cli.h — the subcommands of the prunetune binary.
 *
 * Each command is `int cmd_NAME(int argc, char **argv)` with argv[0] = the
 * command name; it handles its own --help and returns the process exit code:
 *   0 success, 1 the run failed (e.g. training diverged), 2 bad input
 *   (usage, config, data file) — nothing was run or written.
 */
#ifndef PT_CLI_H
#define PT_CLI_H

#include "model.h"
#include "train.h"

enum { PT_EXIT_OK = 0, PT_EXIT_FAIL = 1, PT_EXIT_USAGE = 2 };

int cmd_train(int argc, char **argv);
/* A search (cmd_run.c); cmd_worker is the hidden command `run --processes` spawns. */
int cmd_run(int argc, char **argv);
int cmd_worker(int argc, char **argv);
/* Ablation + multi-seed confirmation of a study's winners (cmd_confirm.c). */
int cmd_confirm(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench_infer(int argc, char **argv);
int cmd_report(int argc, char **argv);
/* The read-only study queries (cmd_query.c). */
int cmd_best(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_pareto(int argc, char **argv);
int cmd_trials(int argc, char **argv);
int cmd_studies(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_strategy(int argc, char **argv);
/* A kept trial model out of a study's models folder (cmd_export_model.c). */
int cmd_export_model(int argc, char **argv);

/* Applies every `--set KEY=VALUE` of argv over *cfg through the one config
 * parser (defined in cmd_train.c; eval uses it on a model's stored config). */
pt_status cli_apply_sets(pt_config *cfg, int argc, char **argv, pt_err *err);

/* `train --save`: writes net, its scaler, cfg and the result's metrics to
 * path (cmd_eval.c) as .npz or ONNX (CLI_MODEL_*), with the input scaling
 * sc (the data's, or a net.init model's). Returns an exit code;
 * prints one line on failure. */
int cli_save_model(const char *path, int format, const pt_config *cfg, const pt_data *data,
                   const pt_scaler *sc, const pt_net *net, const pt_train_result *res);

/* Model formats (model_out.c): --format FORMAT when given (npz or onnx;
 * anything else prints one line naming cmd and returns -1), else by path's
 * extension: .onnx is ONNX, the rest .npz. */
enum { CLI_MODEL_NPZ = 0, CLI_MODEL_ONNX = 1 };
int cli_model_format(const char *cmd, const char *path, const char *format);
/* Writes net as ONNX (core/onnx.h) and prints the size/FLOPs summary on
 * stderr; an exit code, one line on failure. */
int cli_save_onnx(const char *cmd, const char *path, const pt_net *net, const pt_scaler *sc,
                  const pt_config *cfg, const pt_model_info *info);

/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
