/* tests/spawn.h: the clmp program run as a child process, the way a user runs it: its exit
 * status, the signal that ended it and everything it printed, and assertions that show the
 * whole run when they fail (shared by the suites of the command). */
#ifndef CLMP_TESTS_SPAWN_H
#define CLMP_TESTS_SPAWN_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

/* The command's exit statuses (tools/clmp/cli.h). */
#define EXIT_OK     0
#define EXIT_FAILED 1
#define EXIT_USAGE  2

#define SPAWN_MAX_ARGS 24   /* arguments after the program name */
#define SPAWN_CMD_MAX  2048 /* the command line as messages show it */

/* One run of the clmp program. */
struct run {
  char cmd[SPAWN_CMD_MAX]; /* the environment changes and the command line, for messages */
  int exit_code;           /* the exit status, or -1 when it did not exit normally */
  int term_signal;         /* the signal that ended it, 0 if none */
  char *out;               /* everything it wrote on stdout (NUL-terminated, malloc'd) */
  char *err;               /* everything it wrote on stderr */
  pid_t pid;               /* while it runs */
  int out_fd, err_fd;      /* where its output goes while it runs */
};

/* Finds the program (CLMP_TEST_CLMP, which ctest sets) and keeps captured output in the existing
 * folder dir; false, after saying why on stderr, when the program is not known. */
bool spawn_init(const char *dir);
/* The program's path. */
const char *spawn_program(void);

/* Starts clmp with args (NULL-terminated) and the environment changes in extra (NAME=value sets
 * a variable, a bare NAME removes it). With fsize > 0 the child may write no file beyond fsize
 * bytes (RLIMIT_FSIZE) and ignores SIGXFSZ, so such writes fail with EFBIG: a full disk. */
bool run_start(struct run *r, const char *const *extra, rlim_t fsize, const char *const *args);
/* Waits for a started run and captures its output (free it with run_free). */
bool run_finish(struct run *r);
/* Both: runs clmp to its end. */
bool run_clmp(struct run *r, const char *const *extra, const char *const *args);
void run_free(struct run *r);

/* dir/name into buf; false if it does not fit. */
bool path_join(char *buf, size_t size, const char *dir, const char *name);

bool contains(const char *text, const char *needle);
/* Records one assertion; on failure the message holds the command, its exit status and output. */
void expect(const char *file, unsigned line, const struct run *r, bool ok, const char *what);
void expect_exit(const char *file, unsigned line, const struct run *r, int code);

#define ARGS(...)             ((const char *const[]){__VA_ARGS__, NULL})
#define RUN(r, extra, ...)    run_clmp((r), (extra), ARGS(__VA_ARGS__))
#define EXPECT(r, cond, what) expect(__FILE__, __LINE__, (r), (cond), (what))
#define EXPECT_EXIT(r, code)  expect_exit(__FILE__, __LINE__, (r), (code))
#define EXPECT_IN(r, text, needle) \
  EXPECT((r), contains((text), (needle)), "output has '" needle "'")

#endif
