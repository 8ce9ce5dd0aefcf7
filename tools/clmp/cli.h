/* tools/clmp/cli.h: what the subcommands of the clmp command share: the table entry, option
 * parsing helpers and error reporting. */
#ifndef CLMP_TOOLS_CLI_H
#define CLMP_TOOLS_CLI_H

#include <stdio.h>

#include "clmp/clmp.h"

/* Exit statuses: 0 success, 1 the work failed (a device error, a failed check), 2 bad usage. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

typedef struct cli_command {
  const char *name;
  const char *summary;               /* one line for `clmp --help` */
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
} cli_command;

/* Prints "clmp <cmd>: <message>" and the library's last error to stderr; returns CLI_FAILED. */
int cli_fail(const char *cmd, clmp_status st, const char *what);

/* Prints "clmp <cmd>: <message>" and a pointer to --help to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Subcommands. */
int cmd_devices(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* The model spec of clmp train (a malloc'ed string in *spec): --model (a preset, a JSON file or
 * JSON text), the MLP of --hidden, or the spec of the checkpoint resumed; 0 or an exit status. */
int cli_model_spec(const char *model, const char *hidden, const char *resume, char **spec);

/* clmp train --check: steps the device and the reference side by side; an exit status. */
int cli_train_check(const char *device, const clmp_train_config *cfg, int steps);

#endif
