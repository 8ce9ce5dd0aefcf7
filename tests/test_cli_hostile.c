/* tests/test_cli_hostile.c: the clmp command used badly, as a user would: missing, unreadable or
 * wrong data folders, bad option values, checkpoints and metrics files where none can be
 * written, a full disk (a file size limit), a learning rate that explodes, and SIGKILL during a
 * run. Every bad invocation exits non-zero with a message that names the problem, and leaves no
 * file behind; a checkpoint already there stays, byte for byte, and --resume works from it. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clmp/clmp.h"
#include "dataset.h"
#include "harness.h"
#include "spawn.h"

#define TRAIN_N      64 /* 4 steps of 16 per epoch */
#define TEST_N       32
#define SEED         0xc11u
#define PATH_SIZE    4400
#define FSIZE_LIMIT  (64 * 1024) /* below a checkpoint (~155 KB), above what clmp prints */
#define KILL_RUNS    8
#define KILL_MIN_US  100000 /* a run is killed this long after it starts, or up to */
#define KILL_SPAN_US 300000 /* this much later */
#define EXIT_SKIPPED (-100) /* a row that cannot be run here */

static char work[4096];
/* Children run on the reference with OpenCL hidden (an empty vendors folder): quick to start. */
static char env_vendors[PATH_SIZE + 32], env_vendor_path[PATH_SIZE + 32];
static const char *const env[] = {"CLMP_DEVICE", env_vendors, env_vendor_path, "OCL_ICD_FILENAMES",
                                  NULL};

/* "@data" (the dataset), "@empty" (an empty folder), "@file" (a regular file), "@damaged" (a
 * folder with a truncated image file), "@locked" (a folder with no permissions), "@lockedfile" (a
 * folder whose image file has none), "@arch8" (a checkpoint of another architecture), "@work": in
 * the work folder; "@..." followed by more: that path and the rest. Other strings: themselves. */
static const char *expand(const char *s, char *buf) {
  static const char *const tokens[] = {"@lockedfile", "@locked", "@damaged", "@empty",
                                       "@arch8",      "@file",   "@data",    "@work"};
  static const char *const names[] = {"/lockedfile",        "/locked", "/damaged", "/empty",
                                      "/arch8.safetensors", "/file",   "/data",    ""};
  if (s[0] != '@') return s;
  for (size_t i = 0; i < sizeof tokens / sizeof *tokens; i++) {
    size_t n = strlen(tokens[i]);
    if (strncmp(s, tokens[i], n)) continue;
    snprintf(buf, PATH_SIZE, "%s%s%s", work, names[i], s + n);
    return buf;
  }
  return s;
}

/* --- bad invocations, one row each --------------------------------------------------------- */

typedef struct cli_row {
  const char *what;
  const char *args[SPAWN_MAX_ARGS - 12]; /* after the defaults of train rows */
  int exit_code;
  const char *needle; /* on stderr */
  int not_as_root;    /* permissions do not stop root: skipped (with a note) when euid is 0 */
} cli_row;

#define ROW(what, code, needle, ...) \
  { what, {__VA_ARGS__, NULL}, code, needle, 0 }

static const cli_row train_rows[] = {
    ROW("a missing data folder", EXIT_FAILED, "nosuch", "--data", "@work/nosuch"),
    ROW("an empty data folder", EXIT_FAILED, "train-images-idx3-ubyte", "--data", "@empty"),
    ROW("a file as the data folder", EXIT_FAILED, "Not a directory", "--data", "@file"),
    ROW("an empty --data", EXIT_FAILED, "train-images-idx3-ubyte", "--data", ""),
    ROW("a truncated image file", EXIT_FAILED, "truncated", "--data", "@damaged"),
    {"a data folder that cannot be read",
     {"--data", "@locked", NULL},
     EXIT_FAILED,
     "Permission denied",
     1},
    {"an image file that cannot be read",
     {"--data", "@lockedfile", NULL},
     EXIT_FAILED,
     "Permission denied",
     1},
    ROW("--epochs 0", EXIT_USAGE, "epochs", "--epochs", "0"),
    ROW("--epochs -1", EXIT_USAGE, "--epochs", "--epochs", "-1"),
    ROW("--epochs x", EXIT_USAGE, "--epochs", "--epochs", "x"),
    ROW("--epochs 1e12", EXIT_USAGE, "--epochs", "--epochs", "1000000000000"),
    ROW("--batch 0", EXIT_USAGE, "batch", "--batch", "0"),
    ROW("--batch beyond the examples", EXIT_USAGE, "larger than the 64 examples", "--batch",
        "100000"),
    ROW("--accum 3 for a batch of 16", EXIT_USAGE, "accum", "--accum", "3"),
    ROW("--lr -1", EXIT_USAGE, "optim.lr", "--lr", "-1"),
    ROW("--lr nan", EXIT_USAGE, "--lr", "--lr", "nan"),
    ROW("--lr 1e40 (beyond a float)", EXIT_USAGE, "--lr", "--lr", "1e40"),
    ROW("--momentum 1.5", EXIT_USAGE, "momentum", "--optimizer", "sgd", "--momentum", "1.5"),
    ROW("--nesterov without momentum", EXIT_USAGE, "nesterov", "--optimizer", "sgd", "--nesterov"),
    ROW("--weight-decay -1", EXIT_USAGE, "weight_decay", "--weight-decay", "-1"),
    ROW("--clip -1", EXIT_USAGE, "clip_norm", "--clip", "-1"),
    ROW("--static-scale 0", EXIT_USAGE, "scaler.init_scale", "--static-scale", "0"),
    ROW("--init-scale inf", EXIT_USAGE, "--init-scale", "--init-scale", "inf"),
    ROW("--growth-interval 0", EXIT_USAGE, "growth_interval", "--growth-interval", "0"),
    ROW("--hysteresis 0", EXIT_USAGE, "hysteresis", "--hysteresis", "0"),
    ROW("--hidden 0", EXIT_USAGE, "--hidden", "--hidden", "0"),
    ROW("--hidden of 17 layers", EXIT_USAGE, "--hidden", "--hidden",
        "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"),
    ROW("--hidden of 1e11 units", EXIT_USAGE, "--hidden", "--hidden", "100000000000"),
    ROW("--hidden beyond any allocation", EXIT_FAILED, "largest allocation", "--hidden",
        "16000000"),
    ROW("--hidden with --model cnn", EXIT_USAGE, "--hidden", "--model", "cnn"),
    ROW("--optimizer adam", EXIT_USAGE, "--optimizer", "--optimizer", "adam"),
    ROW("--schedule fast", EXIT_USAGE, "--schedule", "--schedule", "fast"),
    ROW("--warmup -1", EXIT_USAGE, "--warmup", "--warmup", "-1"),
    ROW("--max-skipped -1", EXIT_USAGE, "--max-skipped", "--max-skipped", "-1"),
    ROW("--seed -1", EXIT_USAGE, "--seed", "--seed", "-1"),
    ROW("--check 0", EXIT_USAGE, "--check", "--check", "0"),
    ROW("--train-limit abc", EXIT_USAGE, "--train-limit", "--train-limit", "abc"),
    ROW("--device of no device", EXIT_FAILED, "nosuchdevice", "--device", "nosuchdevice"),
    ROW("--resume of a missing file", EXIT_FAILED, "nosuch", "--resume", "@work/nosuch.st"),
    ROW("--resume of a dataset file", EXIT_FAILED, "t10k-labels", "--resume",
        "@data/t10k-labels-idx1-ubyte"),
    ROW("--resume of another architecture", EXIT_FAILED, "model is", "--resume", "@arch8"),
    ROW("--checkpoint in a missing folder", EXIT_USAGE, "No such file", "--checkpoint",
        "@work/nosuch/ck"),
    ROW("--checkpoint that is a folder", EXIT_USAGE, "is a folder", "--checkpoint", "@empty"),
    ROW("--checkpoint under a file", EXIT_USAGE, "not a folder", "--checkpoint", "@file/ck"),
    ROW("--metrics in a missing folder", EXIT_FAILED, "cannot write", "--metrics",
        "@work/nosuch/m.csv"),
    ROW("--metrics and a missing data folder", EXIT_FAILED, "nosuch", "--metrics", "@work/m.csv",
        "--data", "@work/nosuch"),
    ROW("--metrics and a bad --lr", EXIT_USAGE, "optim.lr", "--metrics", "@work/m.csv", "--lr",
        "-1"),
    ROW("an option without its value", EXIT_USAGE, "needs a value", "--epochs"),
    ROW("an unexpected argument", EXIT_USAGE, "unexpected argument", "extra"),
    ROW("an unknown option", EXIT_USAGE, "unknown option", "--bogus"),
};

/* Train runs without the defaults' --hidden: a model of their own. */
#define MODEL_DEFAULTS \
  "train", "--device", "ref", "--data", "@data", "--batch", "16", "--epochs", "1"
#define MODEL_ROW(what, code, needle, ...) ROW(what, code, needle, MODEL_DEFAULTS, __VA_ARGS__)

static const cli_row other_rows[] = {
    MODEL_ROW("--model of no preset or file", EXIT_USAGE, "not a preset", "--model",
              "@work/nosuch"),
    MODEL_ROW("--model of a folder", EXIT_USAGE, "not a preset", "--model", "@empty"),
    MODEL_ROW("--model of bad JSON", EXIT_USAGE, "nor valid JSON", "--model", "{\"layers\": [}"),
    MODEL_ROW("--model of an unknown layer", EXIT_USAGE, "unknown type \"conv3d\"", "--model",
              "[{\"type\": \"conv3d\"}]"),
    MODEL_ROW("--model of an unknown field", EXIT_USAGE, "layer 0 (linear): unknown field \"outs\"",
              "--model", "{\"input\": [784], \"layers\": [{\"type\": \"linear\", \"outs\": 10}]}"),
    MODEL_ROW("--model of a bad value", EXIT_USAGE, "layer 0 (conv2d): field \"kernel\"", "--model",
              "[{\"type\": \"conv2d\", \"out\": 4, \"kernel\": -3}]"),
    MODEL_ROW("--model of a shape chain that does not fit", EXIT_USAGE,
              "layer 0 (linear): input [1, 28, 28] is not flat", "--model",
              "[{\"type\": \"linear\", \"out\": 10}]"),
    MODEL_ROW("--model without the 10 outputs", EXIT_USAGE, "the loss needs [10]", "--model",
              "[{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 7}]"),
    MODEL_ROW("--model of a huge layer", EXIT_USAGE, "1 TiB", "--model",
              "[{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 16777216}, {\"type\": "
              "\"linear\", \"out\": 16777216}, {\"type\": \"linear\", \"out\": 10}]"),
    ROW("verify on no device", EXIT_FAILED, "nosuchdevice", "verify", "--device", "nosuchdevice"),
    ROW("verify --op of no case", EXIT_USAGE, "no case matches", "verify", "--device", "ref",
        "--op", "nosuchop"),
    ROW("verify with an unexpected argument", EXIT_USAGE, "unexpected argument", "verify", "extra"),
    ROW("verify --op without its value", EXIT_USAGE, "needs a value", "verify", "--op"),
    ROW("devices --json with an argument", EXIT_USAGE, "extra", "devices", "--json", "extra"),
    ROW("devices -x", EXIT_USAGE, "-x", "devices", "-x"),
};

/* The defaults every train row starts from: a small, quick run on the reference. */
#define TRAIN_DEFAULTS \
  "train", "--device", "ref", "--data", "@data", "--hidden", "16", "--batch", "16"

/* Starts clmp with args, "@" tokens expanded, under a file size limit when fsize > 0. */
static void start_expanded(struct run *r, rlim_t fsize, const char *const *args) {
  static char paths[SPAWN_MAX_ARGS + 1][PATH_SIZE];
  const char *argv[SPAWN_MAX_ARGS + 1];
  size_t n = 0;
  for (; args[n] && n < SPAWN_MAX_ARGS; n++) argv[n] = expand(args[n], paths[n]);
  argv[n] = NULL;
  run_start(r, env, fsize, argv);
}

/* The same, run to its end. */
static void run_expanded(struct run *r, rlim_t fsize, const char *const *args) {
  start_expanded(r, fsize, args);
  run_finish(r);
}

/* The files in the work folder and in @empty, to show that a run left nothing. */
static size_t files_now(void) {
  char empty[PATH_SIZE];
  return clmp_test_dir_entries(work) + clmp_test_dir_entries(expand("@empty", empty));
}

static int run_row(const cli_row *r, int train) {
  if (r->not_as_root && geteuid() == 0) {
    printf("\n    skipped as root (permissions do not stop root): %s", r->what);
    return EXIT_SKIPPED;
  }
  static const char *const defaults[] = {TRAIN_DEFAULTS, "--epochs", "1"};
  const char *args[SPAWN_MAX_ARGS + 1];
  size_t n = 0;
  for (size_t i = 0; train && i < sizeof defaults / sizeof *defaults; i++) args[n++] = defaults[i];
  for (size_t i = 0; r->args[i]; i++) args[n++] = r->args[i];
  args[n] = NULL;
  size_t before = files_now();
  struct run run;
  run_expanded(&run, 0, args);
  char what[256];
  snprintf(what, sizeof what, "%s: stderr names '%s'", r->what, r->needle);
  EXPECT_EXIT(&run, r->exit_code);
  EXPECT(&run, contains(run.err, r->needle), what);
  snprintf(what, sizeof what, "%s: no file left behind", r->what);
  EXPECT(&run, files_now() == before, what);
  run_free(&run);
  return r->exit_code;
}

static void test_train_rows(void) {
  size_t n = sizeof train_rows / sizeof *train_rows, skipped = 0;
  for (size_t i = 0; i < n; i++) skipped += run_row(&train_rows[i], 1) == EXIT_SKIPPED;
  printf("\n    %zu rows, %zu skipped", n, skipped);
}

static void test_other_rows(void) {
  size_t n = sizeof other_rows / sizeof *other_rows;
  for (size_t i = 0; i < n; i++) run_row(&other_rows[i], 0);
  printf("\n    %zu rows", n);
}

/* --- a checkpoint that cannot be written, or should not be ---------------------------------- */

/* What a folder and a file in it hold, to compare before and after a run. */
typedef struct kept {
  size_t entries, n;
  unsigned char *bytes;
} kept;

static kept keep(const char *dir, const char *file) {
  char d[PATH_SIZE], f[PATH_SIZE];
  kept k = {clmp_test_dir_entries(expand(dir, d)), 0, NULL};
  k.bytes = clmp_test_read_file(expand(file, f), &k.n);
  return k;
}

/* The folder has the same entries (no temporary file left) and the file the same bytes. */
static void expect_kept(const struct run *r, const kept *before, const char *dir,
                        const char *file) {
  kept now = keep(dir, file);
  EXPECT(r, now.entries == before->entries, "no file added to the checkpoint's folder");
  EXPECT(r, now.n == before->n && (!now.n || !memcmp(now.bytes, before->bytes, now.n)),
         "the checkpoint there before is byte for byte the same");
  free(now.bytes);
}

/* A full disk (RLIMIT_FSIZE): the checkpoint write fails with EFBIG; the one before stays, no
 * temporary file remains, a first checkpoint is not created at all, and --resume works. */
static void test_full_disk(void) {
  struct run r;
  run_expanded(&r, 0, ARGS(TRAIN_DEFAULTS, "--epochs", "1", "--checkpoint", "@work/full/ck"));
  EXPECT_EXIT(&r, EXIT_OK);
  run_free(&r);
  kept before = keep("@work/full", "@work/full/ck");
  run_expanded(&r, FSIZE_LIMIT,
               ARGS(TRAIN_DEFAULTS, "--epochs", "2", "--resume", "@work/full/ck", "--checkpoint",
                    "@work/full/ck"));
  EXPECT_EXIT(&r, EXIT_FAILED);
  EXPECT(&r, contains(r.err, "cannot save") && contains(r.err, strerror(EFBIG)),
         "stderr says the checkpoint could not be saved: File too large");
  expect_kept(&r, &before, "@work/full", "@work/full/ck");
  run_free(&r);
  kept none = keep("@work/full", "@work/full/new");
  run_expanded(&r, FSIZE_LIMIT,
               ARGS(TRAIN_DEFAULTS, "--epochs", "1", "--checkpoint", "@work/full/new"));
  EXPECT_EXIT(&r, EXIT_FAILED);
  EXPECT(&r, contains(r.err, strerror(EFBIG)), "stderr says: File too large");
  expect_kept(&r, &none, "@work/full", "@work/full/new");
  run_free(&r);
  run_expanded(&r, 0, ARGS(TRAIN_DEFAULTS, "--epochs", "2", "--resume", "@work/full/ck"));
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT_IN(&r, r.out, "epoch  2/2");
  run_free(&r);
  free(before.bytes), free(none.bytes);
}

/* A checkpoint holds its model: --resume needs no --model, and refuses another one. */
static void test_resume_knows_its_model(void) {
  static const char conv[] = "{\"layers\": [{\"type\": \"conv2d\", \"out\": 2, \"kernel\": 3, "
                             "\"stride\": 2}, {\"type\": \"batchnorm\"}, {\"type\": \"relu\"}, "
                             "{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 10}]}";
  struct run r;
  run_expanded(&r, 0,
               ARGS(MODEL_DEFAULTS, "--model", conv, "--checkpoint", "@work/conv.safetensors"));
  EXPECT_EXIT(&r, EXIT_OK);
  run_free(&r);
  run_expanded(&r, 0, ARGS(MODEL_DEFAULTS, "--epochs", "2", "--resume", "@work/conv.safetensors"));
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT_IN(&r, r.out, "epoch  2/2");
  run_free(&r);
  run_expanded(&r, 0,
               ARGS(MODEL_DEFAULTS, "--epochs", "2", "--model", "mlp", "--resume",
                    "@work/conv.safetensors"));
  EXPECT_EXIT(&r, EXIT_FAILED);
  EXPECT_IN(&r, r.err, "model is");
  run_free(&r);
}

/* A learning rate that explodes after a good epoch: exit 1 with a message that says so, the
 * checkpoint of the good epoch stays, and a run at a good rate resumes from it. */
static void test_exploding_lr(void) {
  struct run r;
  run_expanded(&r, 0,
               ARGS(TRAIN_DEFAULTS, "--optimizer", "sgd", "--lr", "0.05", "--schedule", "constant",
                    "--epochs", "1", "--checkpoint", "@work/lr/ck"));
  EXPECT_EXIT(&r, EXIT_OK);
  run_free(&r);
  kept before = keep("@work/lr", "@work/lr/ck");
  run_expanded(&r, 0,
               ARGS(TRAIN_DEFAULTS, "--optimizer", "sgd", "--lr", "1e10", "--schedule", "constant",
                    "--epochs", "3", "--max-skipped", "2", "--resume", "@work/lr/ck",
                    "--checkpoint", "@work/lr/ck"));
  EXPECT_EXIT(&r, EXIT_FAILED);
  EXPECT_IN(&r, r.err, "training stopped in epoch 2");
  EXPECT_IN(&r, r.err, "learning rate");
  expect_kept(&r, &before, "@work/lr", "@work/lr/ck");
  run_free(&r);
  run_expanded(&r, 0,
               ARGS(TRAIN_DEFAULTS, "--optimizer", "sgd", "--lr", "0.05", "--schedule", "constant",
                    "--epochs", "2", "--resume", "@work/lr/ck"));
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT_IN(&r, r.out, "epoch  2/2");
  run_free(&r);
  free(before.bytes);
}

/* --- SIGKILL during a run that saves a checkpoint every epoch -------------------------------- */

/* A trainer of the configuration the runs use, to check their checkpoints. */
static clmp_trainer *checker(clmp_ctx *ctx) {
  char data[PATH_SIZE];
  clmp_train_config c;
  clmp_train_config_default(&c);
  c.data_dir = expand("@data", data), c.model = CLMP_TEST_MLP(16), c.batch = 16;
  clmp_trainer *t = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(ctx, &c, &t), CLMP_SUCCESS);
  return t;
}

/* One run killed at a random point; whether it left a checkpoint, which must then resume. */
static int kill_run(clmp_trainer *t, uint64_t *rng) {
  char ck[PATH_SIZE];
  struct run r;
  start_expanded(&r, 0,
                 ARGS(TRAIN_DEFAULTS, "--epochs", "1000000", "--checkpoint", "@work/kill/ck"));
  long us = KILL_MIN_US + (long)(clmp_test_rand(rng) % KILL_SPAN_US);
  struct timespec d = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&d, NULL);
  kill(r.pid, SIGKILL);
  run_finish(&r);
  EXPECT(&r, r.term_signal == SIGKILL, "killed while training");
  struct stat sb;
  int present = stat(expand("@work/kill/ck", ck), &sb) == 0;
  if (present) EXPECT(&r, clmp_trainer_resume(t, ck) == CLMP_SUCCESS, "the checkpoint resumes");
  run_free(&r);
  return present;
}

static void test_kill_during_training(void) {
  clmp_ctx *ctx = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_ctx_create("ref", &ctx), CLMP_SUCCESS);
  clmp_trainer *t = checker(ctx);
  uint64_t rng = SEED;
  int present = 0;
  for (int i = 0; i < KILL_RUNS; i++) present += kill_run(t, &rng);
  char epochs[32], dir[PATH_SIZE];
  snprintf(epochs, sizeof epochs, "%d", clmp_trainer_epochs_done(t) + 1);
  printf("\n    %d runs killed, %d left a checkpoint (the last at epoch %d), %zu other files",
         KILL_RUNS, present, clmp_trainer_epochs_done(t),
         clmp_test_dir_entries(expand("@work/kill", dir)) - 3);
  CU_ASSERT(present > 0);
  struct run r;
  run_expanded(&r, 0, ARGS(TRAIN_DEFAULTS, "--epochs", epochs, "--resume", "@work/kill/ck"));
  EXPECT_EXIT(&r, EXIT_OK);
  run_free(&r);
  clmp_trainer_free(t);
  clmp_ctx_free(ctx);
}

/* --- the suite -------------------------------------------------------------------------------- */

/* A folder holding a dataset whose training images are cut short. */
static int make_damaged(const char *dir) {
  /* 64 images of 28 x 28 announced, 84 bytes of them there. */
  static const uint8_t junk[100] = {0, 0, 8, 3, 0, 0, 0, 64, 0, 0, 0, 28, 0, 0, 0, 28};
  uint8_t labels[TRAIN_N] = {0};
  uint32_t dims[1] = {TRAIN_N};
  char path[PATH_SIZE + 32]; /* dir is at most PATH_SIZE: room for the file names */
  int n = snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
  FILE *f = n > 0 && (size_t)n < sizeof path && mkdir(dir, 0755) == 0 ? fopen(path, "wb") : NULL;
  int ok = f && fwrite(junk, 1, sizeof junk, f) == sizeof junk;
  if (f) fclose(f);
  n = snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
  return ok && n > 0 && (size_t)n < sizeof path ? clmp_test_write_idx(path, labels, 1, dims, 0)
                                                : -1;
}

/* A dataset folder with no permissions, and one whose training images have none. */
static int make_locked(char *buf) {
  char path[PATH_SIZE];
  int rc = mkdir(expand("@locked", buf), 0755) || mkdir(expand("@lockedfile", path), 0755);
  if (!rc) rc = clmp_test_write_dataset(expand("@locked", buf), TRAIN_N, TEST_N, SEED);
  if (!rc) rc = clmp_test_write_dataset(expand("@lockedfile", buf), TRAIN_N, TEST_N, SEED);
  if (!rc) rc = chmod(expand("@lockedfile/train-images-idx3-ubyte.gz", path), 0);
  return rc ? rc : chmod(expand("@locked", buf), 0);
}

/* A checkpoint of a model with 8 hidden units (the runs use 16). */
static int make_arch8(char *buf) {
  clmp_ctx *ctx = NULL;
  clmp_trainer *t = NULL;
  clmp_train_config c;
  clmp_train_config_default(&c);
  c.data_dir = expand("@data", buf), c.model = CLMP_TEST_MLP(8), c.batch = 16;
  char path[PATH_SIZE];
  clmp_status st = clmp_ctx_create("ref", &ctx);
  if (!st) st = clmp_trainer_create(ctx, &c, &t);
  if (!st) st = clmp_trainer_save(t, expand("@arch8", path));
  clmp_trainer_free(t);
  clmp_ctx_free(ctx);
  return st ? -1 : 0;
}

static int make_folders(void) {
  static const char *const dirs[] = {"@data",    "@empty",     "@work/full",
                                     "@work/lr", "@work/kill", "@work/no-icd"};
  char buf[PATH_SIZE];
  int rc = 0;
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs && !rc; i++)
    rc = mkdir(expand(dirs[i], buf), 0755);
  if (!rc) rc = clmp_test_write_dataset(expand("@data", buf), TRAIN_N, TEST_N, SEED);
  FILE *f = rc ? NULL : fopen(expand("@file", buf), "w");
  if (f) fputs("not a folder\n", f), fclose(f);
  if (!rc) rc = !f || make_damaged(expand("@damaged", buf)) || make_locked(buf) || make_arch8(buf);
  return rc;
}

static int suite_init(void) {
  if (clmp_test_work_dir(work, sizeof work, "test_cli_hostile") != 0) return -1;
  char no_icd[PATH_SIZE];
  expand("@work/no-icd", no_icd);
  snprintf(env_vendors, sizeof env_vendors, "OCL_ICD_VENDORS=%s", no_icd);
  snprintf(env_vendor_path, sizeof env_vendor_path, "OPENCL_VENDOR_PATH=%s", no_icd);
  return make_folders() != 0 || !spawn_init(work) ? -1 : 0;
}

static int suite_cleanup(void) {
  char buf[PATH_SIZE];
  chmod(expand("@locked", buf), 0755);
  chmod(expand("@lockedfile/train-images-idx3-ubyte.gz", buf), 0644);
  return 0;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"train: every bad invocation fails clearly and leaves nothing", test_train_rows},
      {"verify and devices: every bad invocation fails clearly", test_other_rows},
      {"a full disk: the checkpoint before stays, nothing half-written", test_full_disk},
      {"an exploding learning rate: exit 1, the checkpoint before stays", test_exploding_lr},
      {"a checkpoint knows its model", test_resume_knows_its_model},
      {"SIGKILL during training: the checkpoint always resumes", test_kill_during_training},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"clmp used badly", suite_init, suite_cleanup, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
