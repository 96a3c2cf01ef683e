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

enum { PT_EXIT_OK = 0, PT_EXIT_FAIL = 1, PT_EXIT_USAGE = 2 };

int cmd_train(int argc, char **argv);

/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
