/* tests/test_fault.c: fault injection (a CLMP_FAULT_INJECT build): a training step from context
 * creation on, `clmp verify` of one op and a checkpoint save over an existing one, on PoCL and on
 * the reference, each run again with its N-th injectable call failing, for every N it makes: every
 * run returns an error whose message names it, or recovers on purpose with the result of a run
 * without faults; a failed save leaves the old checkpoint as it was. LeakSanitizer (the sanitizer
 * build) checks that no run leaks. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../host/runtime/error.h"
#include "../host/runtime/fault.h"
#include "../host/verify/verify.h"
#include "clmp/clmp.h"
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define LEAK_CHECK() 0
#endif

#define SIDE 8 /* tiny images: the point is the error paths, not the learning */
/* An MLP 64-16-10 on them. */
#define FAULT_MLP                                                                         \
  "[{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 16}, {\"type\": \"relu\"}, " \
  "{\"type\": \"linear\", \"out\": 10}]"
#define CLASSES    10
#define TRAIN_N    32
#define TEST_N     16
#define SEED       0xfa17u
#define VERIFY_OP  "fill" /* 15 rows of 1001 elements */
#define MSG_SIZE   1024
#define MAX_REPORT 10 /* bad runs printed in full per scenario */

static char work_dir[4096], data_dir[4200], ckpt_dir[4200], ckpt[4300], pocl[32];

/* One scenario's state and the outcome of its last run. */
typedef struct fixture {
  const char *device;
  clmp_ctx *dev, *ref;   /* verify's contexts, made without faults */
  clmp_trainer *trainer; /* the save scenario's, made without faults */
  unsigned long calls;   /* injectable calls of the last run's body */
  double value;          /* the run's result: the step's loss, verify's row count */
  size_t failed_rows, silent_rows;
  clmp_status row_status; /* the first failed row's status */
  char msg[MSG_SIZE];     /* the message of the failure, as it was when it happened */
  unsigned char *old;     /* the checkpoint before the saves */
  size_t old_len;
} fixture;

typedef struct scenario {
  const char *name;
  clmp_status (*run)(fixture *f);
  int (*intact)(const fixture *f); /* what a failed run must leave as it was (NULL: nothing) */
} scenario;

/* --- data and configuration ------------------------------------------------------------------ */

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static int write_file(const char *path, const void *a, size_t na, const void *b, size_t nb) {
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(a, 1, na, f) == na && fwrite(b, 1, nb, f) == nb;
  return f && fclose(f) == 0 && ok ? 0 : -1;
}

/* Plain IDX images [n, SIDE, SIDE] of noise and labels [n]. */
static int write_split(const char *prefix, uint32_t n, uint64_t seed) {
  uint8_t img[TRAIN_N * SIDE * SIDE], lab[TRAIN_N], head[16] = {0, 0, 0x08, 3};
  for (size_t i = 0; i < n * SIDE * SIDE; i++) img[i] = (uint8_t)clmp_test_rand(&seed);
  for (size_t i = 0; i < n; i++) lab[i] = (uint8_t)(clmp_test_rand(&seed) % CLASSES);
  char path[4400];
  put_u32(head + 4, n), put_u32(head + 8, SIDE), put_u32(head + 12, SIDE);
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", data_dir, prefix);
  int rc = write_file(path, head, sizeof head, img, n * SIDE * SIDE);
  head[3] = 1;
  snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", data_dir, prefix);
  return rc ? rc : write_file(path, head, 8, lab, n);
}

static clmp_train_config small_config(void) {
  clmp_train_config c;
  clmp_train_config_default(&c);
  c.data_dir = data_dir;
  c.model = FAULT_MLP;
  c.epochs = 1, c.batch = 16;
  return c;
}

/* "cl:N" of the PoCL device, the one every scenario runs on. */
static int find_pocl(void) {
  clmp_device_info *list = NULL;
  size_t n = 0;
  if (clmp_devices_list(&list, &n) != CLMP_SUCCESS) return -1;
  for (size_t i = 0; i < n && !pocl[0]; i++)
    if (strstr(list[i].platform, "Portable Computing Language"))
      snprintf(pocl, sizeof pocl, "cl:%zu", i);
  clmp_devices_free(list);
  if (!pocl[0]) fprintf(stderr, "test_fault needs PoCL, which is not present\n");
  return pocl[0] ? 0 : -1;
}

static int suite_init(void) {
  if (clmp_test_work_dir(work_dir, sizeof work_dir, "test_fault") != 0) return -1;
  snprintf(data_dir, sizeof data_dir, "%s/data", work_dir);
  snprintf(ckpt_dir, sizeof ckpt_dir, "%s/ckpt", work_dir);
  snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", ckpt_dir);
  if (mkdir(data_dir, 0755) != 0 || mkdir(ckpt_dir, 0755) != 0) return -1;
  if (write_split("train", TRAIN_N, SEED) || write_split("t10k", TEST_N, SEED + 1)) return -1;
  return find_pocl();
}

/* --- the sweep ------------------------------------------------------------------------------- */

/* The status, with the message copied as it is now (before cleanup can add to it). */
static clmp_status noted(fixture *f, clmp_status st) {
  if (st != CLMP_SUCCESS && !f->msg[0]) snprintf(f->msg, sizeof f->msg, "%s", clmp_last_error());
  return st;
}

static void report(const char *name, unsigned long n, clmp_status st, const fixture *f,
                   const char *why) {
  printf("\n    %s, call %lu (%s): %s: %s\n      message: %.300s", name, n, clmp__fault_site(),
         clmp_status_name(st), why, f->msg);
}

/* What is wrong with run n's outcome, or NULL. */
static const char *judge(const scenario *s, const fixture *f, clmp_status st, double want) {
  if (!clmp__fault_fired()) return "the armed call was never made";
  if (f->silent_rows) return "a row failed without an error";
  if (st == CLMP_SUCCESS && !clmp__fault_recovered()) return "success despite the failed call";
  if (st == CLMP_SUCCESS && f->value != want) return "recovered, but with another result";
  if (st == CLMP_SUCCESS) return NULL;
  if (!strstr(f->msg, clmp_status_name(st))) return "the message does not name the status";
  if (f->failed_rows > 1) return "more than one row failed";
  if (s->intact && !s->intact(f)) return "the failed run changed what it must not";
  return NULL;
}

/* Runs s twice without faults (the first fills the program cache, so that every later run makes
 * the same calls; the second counts them, T, and gives the result), then once for every N in 1..T
 * with the N-th call failing. */
static void sweep(const scenario *s, fixture *f) {
  double t0 = (double)clock() / CLOCKS_PER_SEC;
  clmp__fault_arm(0);
  CU_ASSERT_EQUAL_FATAL(s->run(f), CLMP_SUCCESS);
  clmp__fault_arm(0);
  CU_ASSERT_EQUAL_FATAL(s->run(f), CLMP_SUCCESS);
  unsigned long total = f->calls, bad = 0, recovered = 0;
  double want = f->value;
  for (unsigned long n = 1; n <= total; n++) {
    clmp__error_clear();
    clmp__fault_arm(n);
    clmp_status st = s->run(f);
    const char *why = judge(s, f, st, want);
    recovered += st == CLMP_SUCCESS && !why;
    if (why && bad++ < MAX_REPORT) report(s->name, n, st, f, why);
  }
  clmp__fault_arm(0);
  printf("\n    %s on %s: %lu injectable calls, each failed once: %lu bad runs, %lu recovered "
         "(%.1f s CPU)",
         s->name, f->device, total, bad, recovered, (double)clock() / CLOCKS_PER_SEC - t0);
  CU_ASSERT(total > 0);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(LEAK_CHECK(), 0);
}

static void reset(fixture *f) {
  f->calls = 0, f->value = 0;
  f->failed_rows = f->silent_rows = 0, f->row_status = CLMP_SUCCESS;
  f->msg[0] = '\0';
}

/* --- a training step, context creation included ---------------------------------------------- */

static clmp_status run_train(fixture *f) {
  reset(f);
  clmp_ctx *ctx = NULL;
  clmp_trainer *t = NULL;
  clmp_train_config c = small_config();
  float loss = 0;
  clmp_status st = clmp_ctx_create(f->device, &ctx);
  if (st == CLMP_SUCCESS) st = clmp_trainer_create(ctx, &c, &t);
  if (st == CLMP_SUCCESS) st = clmp_trainer_step(t, &loss);
  f->calls = clmp__fault_count();
  f->value = loss;
  st = noted(f, st);
  clmp_trainer_free(t);
  clmp_ctx_free(ctx);
  return st;
}

/* On PoCL (OpenCL calls and allocations) and on the reference (allocations only). */
static void test_train_step(void) {
  static const scenario s = {"training step", run_train, NULL};
  const char *devices[] = {pocl, "ref"};
  for (int d = 0; d < 2; d++) {
    fixture f = {.device = devices[d]};
    sweep(&s, &f);
  }
}

/* --- clmp verify on one op ------------------------------------------------------------------- */

static void emit(const clmp__verify_row *row, void *user) {
  fixture *f = user;
  f->value++;
  if (row->pass) return;
  f->failed_rows++;
  if (!row->status) f->silent_rows++;
  if (row->status && !f->row_status) f->row_status = noted(f, row->status);
}

static clmp_status run_verify(fixture *f) {
  reset(f);
  size_t failed = 0;
  clmp_status st = clmp__verify_run(f->dev, f->ref, VERIFY_OP, emit, f, &failed);
  f->calls = clmp__fault_count();
  if (st == CLMP_SUCCESS) st = f->row_status;
  if (st == CLMP_SUCCESS && failed) f->silent_rows++;
  return noted(f, st);
}

/* The contexts are made once: their creation and the program builds fail in the training step's
 * sweep, and each run here would pay for them again. */
static void test_verify_one_op(void) {
  static const scenario s = {"clmp verify --op " VERIFY_OP, run_verify, NULL};
  fixture f = {.device = pocl};
  CU_ASSERT_EQUAL_FATAL(clmp_ctx_create(pocl, &f.dev), CLMP_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(clmp_ctx_create("ref", &f.ref), CLMP_SUCCESS);
  sweep(&s, &f);
  clmp_ctx_free(f.ref);
  clmp_ctx_free(f.dev);
}

/* --- a checkpoint save over an existing checkpoint ------------------------------------------- */

static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  long n = -1;
  if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
      fread(buf, 1, (size_t)n, f) != (size_t)n)
    free(buf), buf = NULL;
  if (f) fclose(f);
  *len = buf ? (size_t)n : 0;
  return buf;
}

/* The checkpoint's folder holds the checkpoint alone (no temporary file left behind). */
static int folder_clean(void) {
  DIR *d = opendir(ckpt_dir);
  int others = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    others +=
        strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "model.safetensors");
  if (d) closedir(d);
  return d && !others;
}

static int checkpoint_intact(const fixture *f) {
  size_t n = 0;
  unsigned char *now = read_all(ckpt, &n);
  int same = now && n == f->old_len && !memcmp(now, f->old, n);
  free(now);
  return same && folder_clean();
}

/* Puts the old checkpoint back (a run without faults replaced it), then saves over it. */
static clmp_status run_save(fixture *f) {
  reset(f);
  CU_ASSERT_EQUAL_FATAL(write_file(ckpt, f->old, f->old_len, "", 0), 0);
  clmp_status st = clmp_trainer_save(f->trainer, ckpt);
  f->calls = clmp__fault_count();
  return noted(f, st);
}

/* The old checkpoint is the trainer's before its step, so that a save that replaced it shows. */
static void checkpoint_save(const char *device) {
  static const scenario s = {"checkpoint save", run_save, checkpoint_intact};
  fixture f = {.device = device};
  clmp_ctx *ctx = NULL;
  clmp_train_config c = small_config();
  CU_ASSERT_EQUAL_FATAL(clmp_ctx_create(device, &ctx), CLMP_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(ctx, &c, &f.trainer), CLMP_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_save(f.trainer, ckpt), CLMP_SUCCESS);
  f.old = read_all(ckpt, &f.old_len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f.old);
  CU_ASSERT_EQUAL(clmp_trainer_step(f.trainer, NULL), CLMP_SUCCESS);
  sweep(&s, &f);
  CU_ASSERT_EQUAL(run_save(&f), CLMP_SUCCESS);
  CU_ASSERT(!checkpoint_intact(&f)); /* the test can tell a replaced checkpoint */
  free(f.old);
  clmp_trainer_free(f.trainer);
  clmp_ctx_free(ctx);
}

static void test_checkpoint_save(void) {
  checkpoint_save(pocl);
  checkpoint_save("ref");
}

/* Removes what suite_init and the saves wrote. */
static int suite_cleanup(void) {
  static const char *const made[] = {"data/train-images-idx3-ubyte",
                                     "data/train-labels-idx1-ubyte",
                                     "data/t10k-images-idx3-ubyte",
                                     "data/t10k-labels-idx1-ubyte",
                                     "data",
                                     "ckpt/model.safetensors",
                                     "ckpt"};
  char path[4400];
  for (size_t i = 0; i < sizeof made / sizeof *made; i++) {
    snprintf(path, sizeof path, "%s/%s", work_dir, made[i]);
    remove(path);
  }
  remove(work_dir);
  return 0;
}

int main(void) {
  CU_TestInfo tests[] = {{"a training step, every call failing in turn", test_train_step},
                         {"clmp verify of one op, every call failing in turn", test_verify_one_op},
                         {"a checkpoint save, every call failing in turn", test_checkpoint_save},
                         CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"fault injection", suite_init, suite_cleanup, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
