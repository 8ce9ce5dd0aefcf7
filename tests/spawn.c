/* tests/spawn.c: the clmp program run as a child process, the way a user runs it, with its
 * output captured, and assertions that show the whole run when they fail. */
#define _POSIX_C_SOURCE 200809L

#include "spawn.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MESSAGE_MAX (64 * 1024)
#define READ_CHUNK  4096

static const char *clmp_path;      /* CLMP_TEST_CLMP: the built clmp program */
static char capture_dir[PATH_MAX]; /* where the captured output goes */

bool spawn_init(const char *dir) {
  clmp_path = getenv("CLMP_TEST_CLMP");
  if (!clmp_path || !*clmp_path) {
    fprintf(stderr, "CLMP_TEST_CLMP is not set: it must hold the path of the built clmp program "
                    "(ctest sets it)\n");
    return false;
  }
  snprintf(capture_dir, sizeof capture_dir, "%s", dir);
  return true;
}

const char *spawn_program(void) {
  return clmp_path;
}

/* Whether environ's entry "NAME=value" names a variable that extra sets or removes. */
static bool env_overridden(const char *entry, const char *const *extra) {
  size_t name_len = strcspn(entry, "=");
  for (; *extra; extra++) {
    size_t len = strcspn(*extra, "=");
    if (len == name_len && !strncmp(entry, *extra, len)) return true;
  }
  return false;
}

/* The child's environment: ours, less the variables that extra names, plus those it sets. The
 * array is malloc'd; its strings are borrowed. */
static char **child_env(const char *const *extra) {
  size_t n = 0, n_extra = 0, k = 0;
  while (environ[n]) n++;
  while (extra[n_extra]) n_extra++;
  char **env = malloc((n + n_extra + 1) * sizeof *env);
  if (!env) return NULL;
  for (size_t i = 0; extra[i]; i++)
    if (strchr(extra[i], '=')) env[k++] = (char *)extra[i];
  for (size_t i = 0; i < n; i++)
    if (!env_overridden(environ[i], extra)) env[k++] = environ[i];
  env[k] = NULL;
  return env;
}

/* Appends a and b to r->cmd, as much as fits. */
static void cmd_append(struct run *r, const char *a, const char *b) {
  size_t used = strlen(r->cmd);
  snprintf(r->cmd + used, sizeof r->cmd - used, "%s%s", a, b);
}

/* "env -u VAR VAR=x /path/clmp a b": what ran, as a command that can be pasted into a shell. */
static void describe(struct run *r, const char *const *extra, const char *const *args) {
  r->cmd[0] = '\0';
  if (*extra) cmd_append(r, "env ", "");
  for (; *extra; extra++) {
    cmd_append(r, strchr(*extra, '=') ? "" : "-u ", *extra);
    cmd_append(r, " ", "");
  }
  cmd_append(r, clmp_path, "");
  for (; *args; args++) cmd_append(r, " ", *args);
}

bool path_join(char *buf, size_t size, const char *dir, const char *name) {
  int n = snprintf(buf, size, "%s/%s", dir, name);
  return n > 0 && (size_t)n < size;
}

/* An anonymous temporary file under the capture folder, or -1. */
static int temp_file(void) {
  char path[PATH_MAX];
  if (!path_join(path, sizeof path, capture_dir, "out-XXXXXX")) return -1;
  int fd = mkstemp(path);
  if (fd >= 0) unlink(path);
  return fd;
}

/* The whole content of fd, from its start, as a malloc'd string; closes fd. */
static char *read_all(int fd) {
  size_t len = 0, cap = READ_CHUNK;
  char *buf = malloc(cap + 1);
  ssize_t got = 0;
  if (buf && lseek(fd, 0, SEEK_SET) == 0) {
    while ((got = read(fd, buf + len, cap - len)) > 0) {
      len += (size_t)got;
      if (len == cap) {
        char *bigger = realloc(buf, 2 * cap + 1);
        if (!bigger) break;
        buf = bigger, cap *= 2;
      }
    }
  }
  if (buf) buf[len] = '\0';
  close(fd);
  return buf;
}

/* Lowers the file size limit to fsize and ignores SIGXFSZ, saving what was, or restores it. */
static void fsize_limit(rlim_t fsize, struct rlimit *saved, void (**handler)(int), bool set) {
  if (!set) {
    setrlimit(RLIMIT_FSIZE, saved);
    signal(SIGXFSZ, *handler);
    return;
  }
  struct rlimit lim;
  getrlimit(RLIMIT_FSIZE, saved);
  lim = *saved;
  lim.rlim_cur = fsize;
  *handler = signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &lim);
}

/* posix_spawn of clmp with stdout and stderr going to r's files; the child inherits the file
 * size limit and the ignored SIGXFSZ. */
static int spawn_child(struct run *r, const char *const *extra, rlim_t fsize,
                       const char *const *args) {
  char *argv[SPAWN_MAX_ARGS + 2] = {(char *)clmp_path};
  for (size_t i = 0; args[i] && i < SPAWN_MAX_ARGS; i++) argv[i + 1] = (char *)args[i];
  char **env = child_env(extra);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, r->out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, r->err_fd, STDERR_FILENO);
  struct rlimit saved;
  void (*handler)(int) = SIG_DFL;
  if (fsize) fsize_limit(fsize, &saved, &handler, true);
  int err = env ? posix_spawn(&r->pid, clmp_path, &fa, NULL, argv, env) : ENOMEM;
  if (fsize) fsize_limit(fsize, &saved, &handler, false);
  posix_spawn_file_actions_destroy(&fa);
  free(env);
  return err;
}

bool run_start(struct run *r, const char *const *extra, rlim_t fsize, const char *const *args) {
  memset(r, 0, sizeof *r);
  r->exit_code = -1, r->pid = -1;
  describe(r, extra, args);
  r->out_fd = temp_file(), r->err_fd = temp_file();
  int err = r->out_fd >= 0 && r->err_fd >= 0 ? spawn_child(r, extra, fsize, args) : errno;
  if (err) {
    fprintf(stderr, "cannot run %s: %s\n", r->cmd, strerror(err));
    r->pid = -1;
  }
  return !err;
}

bool run_finish(struct run *r) {
  int ws = 0;
  bool ok = r->pid > 0;
  while (ok && waitpid(r->pid, &ws, 0) != r->pid)
    if (errno != EINTR) ok = false;
  if (ok) {
    r->exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r->term_signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
  }
  r->out = r->out_fd >= 0 ? read_all(r->out_fd) : NULL;
  r->err = r->err_fd >= 0 ? read_all(r->err_fd) : NULL;
  r->pid = -1, r->out_fd = r->err_fd = -1;
  return ok && r->out && r->err;
}

bool run_clmp(struct run *r, const char *const *extra, const char *const *args) {
  bool started = run_start(r, extra, 0, args);
  return run_finish(r) && started;
}

void run_free(struct run *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

/* --- assertions that show the run ------------------------------------------------------------- */

bool contains(const char *text, const char *needle) {
  return text && strstr(text, needle);
}

void expect(const char *file, unsigned line, const struct run *r, bool ok, const char *what) {
  static char msg[MESSAGE_MAX];
  char ended[64] = "";
  if (r->term_signal) snprintf(ended, sizeof ended, " (killed by signal %d)", r->term_signal);
  if (ok) {
    snprintf(msg, sizeof msg, "%s: %s", r->cmd, what);
  } else {
    snprintf(msg, sizeof msg,
             "%s\n    command: %s\n    exit status: %d%s\n    --- stdout ---\n%s\n    --- stderr "
             "---\n%s",
             what, r->cmd, r->exit_code, ended, r->out ? r->out : "(none)",
             r->err ? r->err : "(none)");
  }
  CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, file, "", CU_FALSE);
}

void expect_exit(const char *file, unsigned line, const struct run *r, int code) {
  char what[64];
  snprintf(what, sizeof what, "exit status %d", code);
  expect(file, line, r, r->exit_code == code && !r->term_signal, what);
}
