/* tools/clmp/bench_child.c: child processes of `clmp bench` (the start-up measurements and
 * PyTorch) with a changed environment, their input and output through pipes, and temporary
 * folders. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#define READ_CHUNK 4096
#define PATH_LEN   4096

/* Whether environ's entry "NAME=value" names a variable that changes sets or removes. */
static int changed(const char *entry, const char *const *changes) {
  size_t len = strcspn(entry, "=");
  for (; *changes; changes++)
    if (strcspn(*changes, "=") == len && !strncmp(entry, *changes, len)) return 1;
  return 0;
}

/* Our environment with the changes applied (the array malloc'ed, its strings borrowed). */
static char **child_env(const char *const *changes) {
  size_t n = 0, k = 0, c = 0;
  while (environ[n]) n++;
  while (changes[c]) c++;
  char **env = malloc((n + c + 1) * sizeof *env);
  if (!env) return NULL;
  for (size_t i = 0; i < c; i++)
    if (strchr(changes[i], '=')) env[k++] = (char *)changes[i];
  for (size_t i = 0; i < n; i++)
    if (!changed(environ[i], changes)) env[k++] = environ[i];
  env[k] = NULL;
  return env;
}

/* Everything fd delivers until its end, NUL-terminated; closes fd. */
static char *read_all(int fd) {
  size_t len = 0, cap = READ_CHUNK;
  char *buf = malloc(cap + 1);
  ssize_t got = 0;
  while (buf && (got = read(fd, buf + len, cap - len)) != 0) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) break;
    len += (size_t)got;
    char *bigger = len == cap ? realloc(buf, 2 * cap + 1) : buf;
    if (!bigger) free(buf);
    buf = bigger, cap = len == cap ? 2 * cap : cap;
  }
  if (buf) buf[len] = '\0';
  close(fd);
  return buf;
}

static void write_all(int fd, const char *text) {
  size_t n = strlen(text);
  while (n) {
    ssize_t w = write(fd, text, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    text += w, n -= (size_t)w;
  }
}

/* A pipe whose ends are not inherited (the child gets dup2'ed copies only), so that the child
 * sees the end of its input. */
static int make_pipe(int p[2]) {
  if (pipe(p) != 0) return -1;
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
  return 0;
}

static void close_pipe(int p[2]) {
  for (int i = 0; i < 2; i++)
    if (p[i] >= 0) close(p[i]), p[i] = -1;
}

static int start(char *const argv[], char **env, int in_fd, int out_fd, pid_t *pid) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (in_fd >= 0) posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
  int err = posix_spawnp(pid, argv[0], &fa, NULL, argv, env);
  posix_spawn_file_actions_destroy(&fa);
  return err;
}

int bench_spawn(char *const argv[], const char *const *env, const char *input, char **out,
                int *status) {
  int in[2] = {-1, -1}, outp[2] = {-1, -1};
  char **cenv = child_env(env);
  *out = NULL, *status = -1;
  if (!cenv || make_pipe(outp) != 0 || (input && make_pipe(in) != 0)) {
    free(cenv), close_pipe(outp);
    return ENOMEM;
  }
  pid_t pid = 0;
  void (*old)(int) = signal(SIGPIPE, SIG_IGN); /* a child that stops reading is not fatal */
  int err = start(argv, cenv, in[0], outp[1], &pid);
  free(cenv);
  close(outp[1]);
  if (in[0] >= 0) close(in[0]);
  if (!err && input) write_all(in[1], input);
  if (in[1] >= 0) close(in[1]);
  *out = read_all(outp[0]);
  signal(SIGPIPE, old);
  int ws = 0;
  if (!err && waitpid(pid, &ws, 0) == pid) *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
  return err;
}

int bench_temp_dir(const char *what, char *buf, size_t size) {
  const char *tmp = getenv("TMPDIR");
  int n = snprintf(buf, size, "%s/clmp-bench-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", what);
  return n > 0 && (size_t)n < size && mkdtemp(buf) ? 0 : -1;
}

void bench_remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  struct stat sb;
  char path[PATH_LEN];
  while (d && (e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
    if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
      bench_remove_dir(path);
    else
      unlink(path);
  }
  if (d) closedir(d);
  rmdir(dir);
}
