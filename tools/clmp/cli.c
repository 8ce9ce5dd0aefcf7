/* tools/clmp/cli.c: error reporting shared by the subcommands. */
#include "cli.h"

#include <stdarg.h>

int cli_fail(const char *cmd, clmp_status st, const char *what) {
  fprintf(stderr, "clmp %s: %s failed: %s\n", cmd, what, clmp_status_name(st));
  const char *detail = clmp_last_error();
  if (detail && *detail) fprintf(stderr, "  %s\n", detail);
  return CLI_FAILED;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  fprintf(stderr, "clmp %s: ", cmd);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'clmp %s --help'.\n", cmd);
  return CLI_USAGE;
}
