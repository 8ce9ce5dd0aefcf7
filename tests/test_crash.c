/* tests/test_crash.c: checkpoints survive SIGKILL at any point of a write. A child process saves
 * the checkpoints of two trainers alternately over one path; the parent kills it after a random
 * (seeded) delay, many times. The file is always one of the two complete checkpoints, byte for
 * byte, and a trainer resumes from it; the temporary files that killed writes leave behind never
 * break a later save. The reference device only, with OpenCL hidden, so that the forked child runs
 * no driver code and shares no driver threads. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clmp/clmp.h"
#include "dataset.h"
#include "harness.h"

/* host/io/unnamed.h (internal): whether the work folder has unnamed temporary files. */
int clmp__unnamed_open(const char *dir);

#define KILLS          200 /* under valgrind (CLMP_TEST_STRIDE > 1): KILLS / VALGRIND_CUT */
#define VALGRIND_CUT   10
#define TIMED_SAVES    5
#define DELAY_SAVES    1.5 /* delays are uniform over this many save durations */
#define MAX_SPAN_SAVES 50  /* ... stretched up to this many when a version is never seen */
#define MAX_STRAY_PART 20  /* with unnamed temporary files, at most 1 kill in 20 leaves one */
#define SEED           0xc7a54u
#define TRAIN_N        64
#define TEST_N         32
#define PATH_SIZE      4400
#define TEMP_MARK      ".tmp-" /* the writer's temporary files: <path>.tmp-XXXXXX */
#define NO_ICD_ENV     "OCL_ICD_VENDORS"
#define NO_ICD_ENV_ALT "OPENCL_VENDOR_PATH"

static char work[4096], data[PATH_SIZE], target[PATH_SIZE];
static clmp_ctx *ctx;
static clmp_trainer *versions[2]; /* epoch 0 and epoch 1 */
static unsigned char *bytes[2];
static size_t sizes[2];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Which version the file at path is, byte for byte: 0 or 1, or -1 for neither. */
static int which_version(const char *path) {
  size_t n = 0;
  unsigned char *b = clmp_test_read_file(path, &n);
  int v = -1;
  for (int k = 0; b && k < 2 && v < 0; k++)
    if (n == sizes[k] && !memcmp(b, bytes[k], n)) v = k;
  free(b);
  return v;
}

/* Temporary files of the target left in the work folder. */
static size_t stray_temps(void) {
  char prefix[PATH_SIZE];
  const char *base = strrchr(target, '/') + 1;
  snprintf(prefix, sizeof prefix, "%s" TEMP_MARK, base);
  size_t n = 0;
  DIR *d = opendir(work);
  for (struct dirent *e; d && (e = readdir(d));) n += !strncmp(e->d_name, prefix, strlen(prefix));
  if (d) closedir(d);
  return n;
}

/* The child: saves the two versions over the target, alternately from version first, until it is
 * killed. */
static void child_loop(unsigned first) {
  for (unsigned k = first;; k ^= 1)
    if (clmp_trainer_save(versions[k], target) != CLMP_SUCCESS) _exit(1);
}

/* One child, killed delay_us after it says it starts saving (a byte through a pipe, so that the
 * time a loaded machine takes to fork and schedule it does not count); returns whether it was
 * still running (not exited). */
static int kill_once(long delay_us, unsigned first) {
  int ready[2];
  CU_ASSERT_FATAL(pipe(ready) == 0);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    if (write(ready[1], "r", 1) != 1) _exit(1);
    child_loop(first);
  }
  close(ready[1]);
  char byte = 0;
  while (read(ready[0], &byte, 1) < 0 && errno == EINTR) {
  }
  close(ready[0]);
  struct timespec d = {delay_us / 1000000, (delay_us % 1000000) * 1000};
  nanosleep(&d, NULL);
  kill(pid, SIGKILL);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  return WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL;
}

/* The file is one of the versions and a fresh trainer resumes from it to that version's epoch. */
static int check_target(clmp_trainer *probe, int *seen) {
  int v = which_version(target);
  if (v < 0) return 0;
  seen[v]++;
  return clmp_trainer_resume(probe, target) == CLMP_SUCCESS && clmp_trainer_epochs_done(probe) == v;
}

/* The mean duration of a save, in microseconds. */
static double save_us(void) {
  double t0 = now();
  for (int i = 0; i < TIMED_SAVES; i++)
    CU_ASSERT_EQUAL(clmp_trainer_save(versions[i % 2], target), CLMP_SUCCESS);
  return 1e6 * (now() - t0) / TIMED_SAVES;
}

static void test_kill_during_saves(void) {
  int kills = clmp_test_stride() > 1 ? KILLS / VALGRIND_CUT : KILLS, seen[2] = {0, 0}, bad = 0;
  int killed = 0;
  double per_save = save_us(), t0 = now();
  long span = (long)(DELAY_SAVES * per_save) + 1;
  uint64_t rng = SEED;
  clmp_trainer *probe = NULL;
  clmp_train_config c;
  clmp_train_config_default(&c);
  c.data_dir = data, c.model = CLMP_TEST_MLP(32), c.batch = 16;
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(ctx, &c, &probe), CLMP_SUCCESS);
  for (int i = 0; i < kills; i++) {
    /* Past half the kills with one version never seen, the saves are slower than timed (a loaded
     * machine): the delays stretch, so that the kills still land on both sides of a save's end. */
    if (i >= kills / 2 && (!seen[0] || !seen[1]) && span < MAX_SPAN_SAVES * per_save) span *= 2;
    killed += kill_once((long)(clmp_test_rand(&rng) % (uint64_t)span), (unsigned)i & 1);
    if (!check_target(probe, seen)) {
      bad++;
      printf("\n    kill %d: %s is neither complete checkpoint or does not resume: %s", i, target,
             clmp_last_error());
    }
  }
  printf("\n    %d kills (%d by SIGKILL) over %.1f s, a save %.0f us, delays up to %ld us: "
         "%d times the first version, %d the second, %d bad; %zu stray temporary files",
         kills, killed, now() - t0, per_save, span, seen[0], seen[1], bad, stray_temps());
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(seen[0] > 0 && seen[1] > 0); /* the kills did land at different points */
  int fd = clmp__unnamed_open(work);
  if (fd >= 0) CU_ASSERT(stray_temps() <= (size_t)(kills / MAX_STRAY_PART));
  if (fd >= 0) close(fd);
  clmp_trainer_free(probe);
}

/* Whatever the kills left behind, a save still works and gives the complete file. */
static void test_save_after_kills(void) {
  CU_ASSERT_EQUAL(clmp_trainer_save(versions[1], target), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(which_version(target), 1);
  CU_ASSERT_EQUAL(clmp_trainer_save(versions[0], target), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(which_version(target), 0);
}

static int make_versions(void) {
  clmp_train_config c;
  clmp_train_config_default(&c);
  c.data_dir = data, c.model = CLMP_TEST_MLP(32), c.batch = 16;
  clmp_epoch_stats e;
  char path[PATH_SIZE];
  clmp_status st = clmp_trainer_create(ctx, &c, &versions[0]);
  if (!st) st = clmp_trainer_create(ctx, &c, &versions[1]);
  if (!st) st = clmp_trainer_epoch(versions[1], NULL, NULL, NULL, &e);
  for (int k = 0; k < 2 && !st; k++) {
    snprintf(path, sizeof path, "%s/version-%d.safetensors", work, k);
    st = clmp_trainer_save(versions[k], path);
    bytes[k] = st ? NULL : clmp_test_read_file(path, &sizes[k]);
    if (!bytes[k]) st = CLMP_ERR_IO;
  }
  return st ? -1 : 0;
}

static int suite_init(void) {
  if (clmp_test_work_dir(work, sizeof work, "test_crash") != 0) return -1;
  snprintf(data, sizeof data, "%s/data", work);
  snprintf(target, sizeof target, "%s/ck.safetensors", work);
  if (mkdir(data, 0755) || clmp_test_write_dataset(data, TRAIN_N, TEST_N, SEED)) return -1;
  if (clmp_ctx_create("ref", &ctx) != CLMP_SUCCESS || make_versions() != 0) return -1;
  return clmp_trainer_save(versions[0], target) == CLMP_SUCCESS ? 0 : -1;
}

static int suite_cleanup(void) {
  clmp_trainer_free(versions[0]), clmp_trainer_free(versions[1]);
  free(bytes[0]), free(bytes[1]);
  clmp_ctx_free(ctx);
  return 0;
}

int main(void) {
  /* No OpenCL driver in this process (an empty vendors folder); see the header. */
  setenv(NO_ICD_ENV, "/nonexistent", 1);
  setenv(NO_ICD_ENV_ALT, "/nonexistent", 1);
  CU_TestInfo tests[] = {
      {"SIGKILL during saves: always a complete checkpoint that resumes", test_kill_during_saves},
      {"a save after the kills works", test_save_after_kills},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"crash", suite_init, suite_cleanup, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
