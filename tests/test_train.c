/* tests/test_train.c: training on a small synthetic dataset written as IDX files (gzip and
 * plain): the loss falls and accuracy rises far above chance on every device; a resumed run ends
 * bit-identical to an uninterrupted one; the device agrees with the reference step by step;
 * damaged or foreign datasets and checkpoints fail clearly and change nothing; after
 * clmp_train_prepare a training run builds no kernel program. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../host/runtime/runtime.h"
#include "clmp/clmp.h"
#include "dataset.h"
#include "devices.h"
#include "harness.h"

#define SIDE          CLMP_TEST_SIDE
#define PIXELS        CLMP_TEST_PIXELS
#define CLASSES       CLMP_TEST_CLASSES
#define TRAIN_N       1536
#define TEST_N        500
#define SEED          0x7a1e5u
#define EPOCHS        3
#define MIN_ACCURACY  80.0 /* chance is 10 % */
#define CHECK_STEPS   8
#define CHECK_TOL     1e-3
#define RESUME_EPOCHS 2

static char data_dir[4200], work_dir[4096];

static int suite_init(void) {
  if (clmp_test_work_dir(work_dir, sizeof work_dir, "test_train") != 0) return -1;
  snprintf(data_dir, sizeof data_dir, "%s/data", work_dir);
  if (mkdir(data_dir, 0755) != 0) return -1;
  if (clmp_test_write_dataset(data_dir, TRAIN_N, TEST_N, SEED) != 0) return -1;
  return clmp_test_devices_open(1) > 0 ? 0 : -1;
}

/* A small CNN of most layer kinds: conv, batch norm, ReLU, max and average pooling, a residual
 * block, dropout, flatten, linear. Its first convolution has stride 2 to keep the suite short:
 * llvmpipe takes about 0.9 s a step of it (PoCL 0.06 s). */
static const char TINY_CNN[] =
    "{\"layers\": [{\"type\": \"conv2d\", \"out\": 4, \"kernel\": 3, \"stride\": 2, "
    "\"padding\": 1}, {\"type\": \"batchnorm\"}, {\"type\": \"relu\"}, {\"type\": \"maxpool2d\", "
    "\"kernel\": 2}, {\"type\": \"residual\", \"body\": [{\"type\": \"conv2d\", \"out\": 4, "
    "\"kernel\": 3, \"padding\": 1, \"bias\": false}, {\"type\": \"batchnorm\"}]}, "
    "{\"type\": \"relu\"}, {\"type\": \"dropout\", \"p\": 0.1}, {\"type\": \"conv2d\", \"out\": 8, "
    "\"kernel\": 3, \"padding\": 1}, {\"type\": \"batchnorm\"}, {\"type\": \"relu\"}, "
    "{\"type\": \"avgpool2d\", \"kernel\": 2, \"stride\": 1}, {\"type\": \"flatten\"}, "
    "{\"type\": \"linear\", \"out\": 10}]}";
/* The CNN's resume and step-by-step runs use this many examples (8 steps an epoch). */
#define CNN_SHORT_N 512

/* The models every trainer test runs: an MLP, and the CNN. */
static const char *const MODELS[] = {CLMP_TEST_MLP(64), TINY_CNN};

/* The models a test loops over: under valgrind (a test stride) the MLP only; test_model checks
 * every layer kind there. */
static int n_models(void) {
  return clmp_test_stride() > 1 ? 1 : 2;
}

static clmp_train_config model_config(clmp_precision p, const char *model) {
  clmp_train_config c;
  clmp_train_config_default(&c);
  c.data_dir = data_dir;
  c.precision = p;
  c.model = model;
  c.epochs = EPOCHS, c.batch = 64;
  c.optim.lr = 3e-3f;
  return c;
}

static clmp_train_config small_config(clmp_precision p) {
  return model_config(p, CLMP_TEST_MLP(64));
}

/* Every device and precision: the loss falls epoch over epoch, accuracy ends far above chance. */
static void test_training_learns(void) {
  const clmp_precision ps[3] = {CLMP_PRECISION_FP16, CLMP_PRECISION_BF16, CLMP_PRECISION_FP32};
  for (int d = 0; d < clmp_test_ndevs; d++)
    for (int k = 0; k < 3; k++) {
      clmp_train_config c = small_config(ps[k]);
      clmp_trainer *t = NULL;
      CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(clmp_test_devs[d].ctx, &c, &t), CLMP_SUCCESS);
      clmp_epoch_stats first = {0}, last = {0};
      for (int e = 0; e < EPOCHS; e++)
        CU_ASSERT_EQUAL(clmp_trainer_epoch(t, NULL, NULL, NULL, e ? &last : &first), 0);
      printf("\n    %s precision %d: loss %.3f -> %.3f, accuracy %.1f %% -> %.1f %%",
             clmp_test_devs[d].id, k, first.train_loss, last.train_loss, first.test_accuracy,
             last.test_accuracy);
      CU_ASSERT(last.train_loss < first.train_loss);
      CU_ASSERT(last.test_accuracy >= MIN_ACCURACY);
      clmp_trainer_free(t);
    }
}

/* The CNN on every device, in fp16: the same. */
static void test_cnn_learns(void) {
  if (n_models() < 2) return;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_train_config c = model_config(CLMP_PRECISION_FP16, TINY_CNN);
    clmp_trainer *t = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(clmp_test_devs[d].ctx, &c, &t), CLMP_SUCCESS);
    clmp_epoch_stats first = {0}, last = {0};
    for (int e = 0; e < EPOCHS; e++)
      CU_ASSERT_EQUAL(clmp_trainer_epoch(t, NULL, NULL, NULL, e ? &last : &first), 0);
    printf("\n    %s cnn: loss %.3f -> %.3f, accuracy %.1f %% -> %.1f %%", clmp_test_devs[d].id,
           first.train_loss, last.train_loss, first.test_accuracy, last.test_accuracy);
    CU_ASSERT(last.train_loss < first.train_loss);
    CU_ASSERT(last.test_accuracy >= MIN_ACCURACY);
    clmp_trainer_free(t);
  }
}

/* A run of RESUME_EPOCHS epochs (the schedule spans them all) stopped after epoch `to`, from
 * `resume` when given; saves to save. */
static void run_model_epochs(clmp_ctx *ctx, const char *model, int to, const char *resume,
                             const char *save) {
  clmp_train_config c = model_config(CLMP_PRECISION_FP16, model);
  if (model == TINY_CNN) c.train_limit = CNN_SHORT_N;
  c.epochs = RESUME_EPOCHS;
  clmp_trainer *t = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(ctx, &c, &t), CLMP_SUCCESS);
  if (resume) CU_ASSERT_EQUAL(clmp_trainer_resume(t, resume), CLMP_SUCCESS);
  clmp_epoch_stats e;
  while (clmp_trainer_epochs_done(t) < to)
    CU_ASSERT_EQUAL_FATAL(clmp_trainer_epoch(t, NULL, NULL, NULL, &e), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_trainer_save(t, save), CLMP_SUCCESS);
  clmp_trainer_free(t);
}

static void run_epochs(clmp_ctx *ctx, int to, const char *resume, const char *save) {
  run_model_epochs(ctx, CLMP_TEST_MLP(64), to, resume, save);
}

/* Two epochs straight, or one, a checkpoint, a new process's worth of state, and one more: the
 * final checkpoints (weights, moments, batch-norm statistics and counts) are the same bytes. */
static void test_resume_is_bit_identical(void) {
  for (int m = 0; m < n_models(); m++)
    for (int d = 0; d < clmp_test_ndevs; d++) {
      char straight[4200], first[4200], resumed[4200];
      snprintf(straight, sizeof straight, "%s/straight-%d-%d.safetensors", work_dir, m, d);
      snprintf(first, sizeof first, "%s/first-%d-%d.safetensors", work_dir, m, d);
      snprintf(resumed, sizeof resumed, "%s/resumed-%d-%d.safetensors", work_dir, m, d);
      run_model_epochs(clmp_test_devs[d].ctx, MODELS[m], RESUME_EPOCHS, NULL, straight);
      run_model_epochs(clmp_test_devs[d].ctx, MODELS[m], 1, NULL, first);
      run_model_epochs(clmp_test_devs[d].ctx, MODELS[m], RESUME_EPOCHS, first, resumed);
      size_t na = 0, nb = 0;
      unsigned char *a = clmp_test_read_file(straight, &na), *b = clmp_test_read_file(resumed, &nb);
      CU_ASSERT(na > 0 && na == nb && memcmp(a, b, na) == 0);
      printf("\n    %s %s: %zu-byte checkpoints %s", clmp_test_devs[d].id, m ? "cnn" : "mlp", na,
             na == nb && a && b && !memcmp(a, b, na) ? "identical" : "DIFFER");
      free(a), free(b);
    }
}

/* The reference takes the device's state, both take a step: within the --check tolerance. */
static void test_device_matches_reference_step_by_step(void) {
  for (int m = 0; m < n_models(); m++)
    for (int d = 0; d < clmp_test_ndevs; d++) {
      clmp_train_config c = model_config(CLMP_PRECISION_FP16, MODELS[m]);
      if (m) c.train_limit = CNN_SHORT_N;
      if (clmp_test_devs[d].ctx == clmp_test_ref_ctx()) continue;
      clmp_trainer *dev = NULL, *ref = NULL;
      CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(clmp_test_devs[d].ctx, &c, &dev), 0);
      CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(clmp_test_ref_ctx(), &c, &ref), 0);
      double worst = 0;
      for (int s = 0; s < CHECK_STEPS; s++) {
        float ld = 0, lr = 0;
        CU_ASSERT_EQUAL(clmp_trainer_sync(ref, dev), 0);
        CU_ASSERT_EQUAL(clmp_trainer_step(dev, &ld), 0);
        CU_ASSERT_EQUAL(clmp_trainer_step(ref, &lr), 0);
        worst = fmax(worst, fabs((double)ld - lr) / fabs((double)lr));
      }
      printf("\n    %s %s: largest relative loss difference over %d steps %.2e (tolerance %.0e)",
             clmp_test_devs[d].id, m ? "cnn" : "mlp", CHECK_STEPS, worst, CHECK_TOL);
      CU_ASSERT(worst <= CHECK_TOL);
      clmp_trainer_free(dev), clmp_trainer_free(ref);
    }
}

static void write_bytes(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* A dataset folder holding the good test split and a given training split. */
static void bad_dataset(const char *name, const uint8_t *img, uint32_t img_n, const uint8_t *lab,
                        uint32_t lab_n, clmp_status want) {
  char dir[4200], path[4400];
  snprintf(dir, sizeof dir, "%s/%s", work_dir, name);
  mkdir(dir, 0755);
  uint32_t idims[3] = {img_n, SIDE, SIDE}, ldims[1] = {lab_n};
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
  CU_ASSERT_EQUAL(clmp_test_write_idx(path, img, 3, idims, 0), 0);
  snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
  CU_ASSERT_EQUAL(clmp_test_write_idx(path, lab, 1, ldims, 0), 0);
  clmp_train_config c = small_config(CLMP_PRECISION_FP16);
  c.data_dir = dir;
  clmp_trainer *t = NULL;
  clmp_status st = clmp_trainer_create(clmp_test_ref_ctx(), &c, &t);
  printf("\n    %s: %s: %.160s", name, clmp_status_name(st), clmp_last_error());
  CU_ASSERT_EQUAL(st, want);
  CU_ASSERT_PTR_NULL(t);
}

static void test_damaged_datasets(void) {
  static uint8_t img[64 * PIXELS], lab[64];
  clmp_test_make_images(img, lab, 64, SEED);
  bad_dataset("no-test-split", img, 64, lab, 64, CLMP_ERR_IO);
  bad_dataset("count-mismatch", img, 64, lab, 63, CLMP_ERR_FORMAT);
  lab[7] = CLASSES;
  bad_dataset("label-out-of-range", img, 64, lab, 64, CLMP_ERR_FORMAT);
  char path[4400];
  snprintf(path, sizeof path, "%s/truncated", work_dir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/truncated/train-images-idx3-ubyte", work_dir);
  unsigned char junk[100] = {0, 0, 8, 3, 0, 0, 0, 64};
  write_bytes(path, junk, sizeof junk);
  clmp_train_config c = small_config(CLMP_PRECISION_FP16);
  snprintf(path, sizeof path, "%s/truncated", work_dir);
  c.data_dir = path;
  clmp_trainer *t = NULL;
  CU_ASSERT_NOT_EQUAL(clmp_trainer_create(clmp_test_ref_ctx(), &c, &t), CLMP_SUCCESS);
  c.data_dir = "/nonexistent/clmp-data";
  CU_ASSERT_EQUAL(clmp_trainer_create(clmp_test_ref_ctx(), &c, &t), CLMP_ERR_IO);
  CU_ASSERT_PTR_NULL(t);
}

/* A resume from a bad file fails and leaves the weights as they were, bit for bit. */
static void resume_refused(clmp_trainer *t, const char *path, const char *what) {
  clmp_model *m = clmp_trainer_model(t);
  size_t n = clmp_model_params(m);
  float *before = malloc(n * sizeof *before), *after = malloc(n * sizeof *after);
  CU_ASSERT_FATAL(before && after);
  CU_ASSERT_EQUAL(clmp_tensor_read(clmp_model_master(m), CLMP_F32, before, n), 0);
  clmp_status st = clmp_trainer_resume(t, path);
  printf("\n    %s: %s: %.160s", what, clmp_status_name(st), clmp_last_error());
  CU_ASSERT(st == CLMP_ERR_FORMAT || st == CLMP_ERR_IO);
  CU_ASSERT_EQUAL(clmp_tensor_read(clmp_model_master(m), CLMP_F32, after, n), 0);
  CU_ASSERT_EQUAL(memcmp(before, after, n * sizeof *before), 0);
  CU_ASSERT_EQUAL(clmp_trainer_epochs_done(t), 0);
  free(before), free(after);
}

static void test_damaged_checkpoints(void) {
  clmp_ctx *ctx = clmp_test_ref_ctx();
  char good[4200], bad[4200], idx[4400];
  snprintf(good, sizeof good, "%s/good.safetensors", work_dir);
  snprintf(bad, sizeof bad, "%s/bad.safetensors", work_dir);
  run_epochs(ctx, 1, NULL, good);
  size_t n = 0;
  unsigned char *b = clmp_test_read_file(good, &n);
  CU_ASSERT_FATAL(b && n > 64);
  clmp_train_config c = small_config(CLMP_PRECISION_FP16);
  clmp_trainer *t = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(ctx, &c, &t), 0);
  write_bytes(bad, b, n / 2);
  resume_refused(t, bad, "truncated");
  b[20] ^= 0x55;
  write_bytes(bad, b, n);
  resume_refused(t, bad, "damaged header");
  snprintf(idx, sizeof idx, "%s/t10k-images-idx3-ubyte", data_dir);
  resume_refused(t, idx, "foreign file");
  resume_refused(t, "/nonexistent/ck.safetensors", "missing file");
  clmp_trainer_free(t);
  c.model = CLMP_TEST_MLP(32); /* another architecture */
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(ctx, &c, &t), 0);
  resume_refused(t, good, "another architecture");
  clmp_trainer_free(t);
  c = small_config(CLMP_PRECISION_BF16);
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(ctx, &c, &t), 0);
  resume_refused(t, good, "another precision");
  clmp_trainer_free(t);
  free(b);
}

/* Every step overflows (a static scale of 1e30 in fp16): training stops with a clear error after
 * max_skipped consecutive skipped steps, and the weights are the initial ones, untouched. */
static void test_stops_after_consecutive_skips(void) {
  clmp_train_config c = small_config(CLMP_PRECISION_FP16);
  c.scaler.mode = CLMP_SCALE_STATIC, c.scaler.init_scale = 1e30f, c.max_skipped = 10;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_trainer *t = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(clmp_test_devs[d].ctx, &c, &t), CLMP_SUCCESS);
    clmp_model *m = clmp_trainer_model(t);
    size_t n = clmp_model_params(m);
    float *before = malloc(n * sizeof *before), *after = malloc(n * sizeof *after);
    CU_ASSERT_FATAL(before && after);
    CU_ASSERT_EQUAL(clmp_tensor_read(clmp_model_master(m), CLMP_F32, before, n), 0);
    clmp_epoch_stats e;
    clmp_status st = clmp_trainer_epoch(t, NULL, NULL, NULL, &e);
    printf("\n    %s: %s: %.140s", clmp_test_devs[d].id, clmp_status_name(st), clmp_last_error());
    CU_ASSERT_EQUAL(st, CLMP_ERR_NON_FINITE);
    CU_ASSERT_PTR_NOT_NULL(strstr(clmp_last_error(), "consecutive steps skipped"));
    CU_ASSERT_EQUAL(e.skipped, e.steps);
    CU_ASSERT_EQUAL(clmp_tensor_read(clmp_model_master(m), CLMP_F32, after, n), 0);
    CU_ASSERT_EQUAL(memcmp(before, after, n * sizeof *after), 0);
    free(before), free(after);
    clmp_trainer_free(t);
  }
}

/* Kernel programs a context has built or loaded (each build is one of these three). */
static unsigned long programs_built(const clmp_ctx *ctx) {
  return ctx->cache.disk_hits + ctx->cache.disk_misses + ctx->cache.disk_rejects;
}

/* On a fresh context per device and precision: clmp_train_prepare builds programs, and a trainer
 * of the same configuration then trains and evaluates an epoch without building any more. */
static void test_prepare_builds_everything(void) {
  const clmp_precision ps[3] = {CLMP_PRECISION_FP16, CLMP_PRECISION_BF16, CLMP_PRECISION_FP32};
  for (int d = 0; d < clmp_test_ndevs; d++)
    for (int k = 0; k < 3 + (n_models() > 1); k++) {
      /* the MLP in each precision, then the CNN in fp16 */
      clmp_train_config c = k < 3 ? small_config(ps[k]) : model_config(ps[0], TINY_CNN);
      if (k == 3) c.train_limit = CNN_SHORT_N;
      clmp_ctx *ctx = NULL;
      clmp_trainer *t = NULL;
      clmp_epoch_stats e;
      CU_ASSERT_EQUAL_FATAL(clmp_ctx_create(clmp_test_devs[d].id, &ctx), CLMP_SUCCESS);
      CU_ASSERT_EQUAL(clmp_train_prepare(ctx, &c), CLMP_SUCCESS);
      unsigned long prepared = programs_built(ctx);
      CU_ASSERT_EQUAL(clmp_trainer_create(ctx, &c, &t), CLMP_SUCCESS);
      CU_ASSERT_EQUAL(clmp_trainer_epoch(t, NULL, NULL, NULL, &e), CLMP_SUCCESS);
      printf("\n    %s %s: %lu programs prepared, %lu after an epoch", clmp_test_devs[d].id,
             k < 3 ? "mlp" : "cnn", prepared, programs_built(ctx));
      CU_ASSERT(clmp_test_is_ref(&clmp_test_devs[d]) || prepared > 0);
      CU_ASSERT_EQUAL(programs_built(ctx), prepared);
      clmp_trainer_free(t);
      clmp_ctx_free(ctx);
    }
  CU_ASSERT_EQUAL(clmp_train_prepare(NULL, NULL), CLMP_ERR_INVALID_ARGUMENT);
}

int main(void) {
  CU_TestInfo tests[] = {
      {"training learns on every device and precision", test_training_learns},
      {"a CNN learns on every device", test_cnn_learns},
      {"resume is bit-identical", test_resume_is_bit_identical},
      {"device matches the reference step by step", test_device_matches_reference_step_by_step},
      {"damaged and foreign datasets", test_damaged_datasets},
      {"damaged, foreign and mismatched checkpoints", test_damaged_checkpoints},
      {"stops after consecutive skipped steps", test_stops_after_consecutive_skips},
      {"clmp_train_prepare builds every program an epoch uses", test_prepare_builds_everything},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"train", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
