/* tests/test_nonfinite.c: numerical blow-ups, on every device. NaN or inf in the input (or a
 * label out of range): every step is skipped, the loss scale backs off to min_scale and stays
 * there, the weights and moments are untouched. A learning rate that explodes: training stops with
 * CLMP_ERR_NON_FINITE instead of running on, the checkpoint of the epoch before stays byte for
 * byte and resumes. A checkpoint of weights that cannot train is neither written nor read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clmp/clmp.h"
#include "dataset.h"
#include "devices.h"
#include "harness.h"

#define IN         8
#define HIDDEN     6
#define OUT        4
#define ROWS       4
#define INIT_SCALE 1024.0f
#define MIN_SCALE  16.0f /* 6 backoffs below INIT_SCALE */
#define STEPS      8
#define SEED       0x0b1a57u

#define TRAIN_N     256 /* 16 steps of 16 per epoch */
#define TEST_N      64
#define MAX_SKIPPED 10
#define GOOD_LR     0.05f
#define HUGE_LR     1e10f /* one update sends fp16 weights far beyond 65504 */
#define PATH_SIZE   4400

static char work[4096], data[PATH_SIZE];

/* --- NaN and inf in the input ------------------------------------------------------------- */

/* A model, a dynamic scaler (INIT_SCALE down to MIN_SCALE) and AdamW over the model's arenas. */
typedef struct rig {
  clmp_model *m;
  clmp_scaler *s;
  clmp_optim *o;
  clmp_tensor *labels, *dlogits;
} rig;

#define STR(x)  #x
#define XSTR(x) STR(x)
/* The MLP IN-HIDDEN-OUT. */
#define RIG_SPEC                                                                    \
  "{\"input\": [" XSTR(IN) "], \"layers\": [{\"type\": \"linear\", \"out\": " XSTR( \
      HIDDEN) "}, {\"type\": \"relu\"}, {\"type\": \"linear\", \"out\": " XSTR(OUT) "}]}"

static void rig_open(rig *r, clmp_ctx *ctx, const int32_t *labels) {
  clmp_model_config mc = {RIG_SPEC, CLMP_F16, ROWS, 0, {0}, OUT, SEED};
  clmp_scaler_config sc;
  clmp_scaler_config_default(&sc);
  sc.init_scale = INIT_SCALE, sc.min_scale = MIN_SCALE;
  clmp_optim_config oc;
  clmp_optim_config_default(&oc, CLMP_ADAMW);
  size_t rows[1] = {ROWS}, dshape[2] = {ROWS, OUT};
  memset(r, 0, sizeof *r);
  CU_ASSERT_EQUAL_FATAL(clmp_model_create(ctx, &mc, &r->m), CLMP_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(clmp_scaler_create(ctx, &sc, &r->s), CLMP_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(clmp_optim_create(&oc, clmp_model_master(r->m), clmp_model_grads(r->m),
                                          clmp_model_working(r->m), r->s, &r->o),
                        CLMP_SUCCESS);
  r->labels = clmp_test_tensor_i32(ctx, 1, rows, labels);
  r->dlogits = clmp_test_tensor(ctx, CLMP_F16, 2, dshape, NULL);
}

static void rig_close(rig *r) {
  clmp_tensor_free(r->labels), clmp_tensor_free(r->dlogits);
  clmp_optim_free(r->o);
  clmp_scaler_free(r->s);
  clmp_model_free(r->m);
}

/* STEPS optimizer steps on input x: forward, backward with the loss scale, the fused step. */
static void rig_steps(rig *r, const float *x) {
  const clmp_tensor *logits = NULL;
  CU_ASSERT_EQUAL(clmp_tensor_write(clmp_model_input(r->m), CLMP_F32, x, ROWS * IN), CLMP_SUCCESS);
  for (int k = 0; k < STEPS; k++) {
    CU_ASSERT_EQUAL(clmp_model_forward(r->m, ROWS, 1, (uint64_t)k, &logits), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(
        clmp_softmax_xent_backward(logits, r->labels, clmp_scaler_scale(r->s), r->dlogits),
        CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_model_backward(r->m, r->dlogits, 0), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_optim_step(r->o, -1.0f), CLMP_SUCCESS);
  }
}

static int same_contents(const clmp_tensor *a, const float *before) {
  float *now = clmp_test_read(a);
  int same = !memcmp(now, before, clmp_tensor_numel(a) * sizeof *now);
  free(now);
  return same;
}

/* One case: input x (bad_at < 0: all finite) with labels; poisoned says whether every step must
 * be skipped. The control case (finite everything) must update the weights and skip nothing. */
static void input_case(const clmp_test_device *dev, const char *what, float bad, int bad_at,
                       const int32_t *labels, int poisoned) {
  rig r;
  rig_open(&r, dev->ctx, labels);
  float x[ROWS * IN];
  clmp_test_uniform(x, ROWS * IN, -1.0f, 1.0f, SEED);
  if (bad_at >= 0) x[bad_at] = bad;
  float *master = clmp_test_read(clmp_model_master(r.m)),
        *working = clmp_test_read(clmp_model_working(r.m));
  rig_steps(&r, x);
  clmp_scaler_state s;
  CU_ASSERT_EQUAL(clmp_scaler_read(r.s, &s), CLMP_SUCCESS);
  int kept = same_contents(clmp_model_master(r.m), master) &&
             same_contents(clmp_model_working(r.m), working);
  printf("\n    %s, %s: %u of %u steps skipped, loss scale %g, weights %s", dev->id, what,
         s.skipped, s.steps, (double)s.scale, kept ? "untouched" : "updated");
  CU_ASSERT_EQUAL(s.steps, STEPS);
  CU_ASSERT_EQUAL(s.skipped, poisoned ? STEPS : 0);
  CU_ASSERT(poisoned ? s.scale == MIN_SCALE : s.scale == INIT_SCALE);
  CU_ASSERT(poisoned ? kept : !kept);
  if (poisoned) clmp_test_expect_all(clmp_optim_moment(r.o, 0), 0.0f);
  if (poisoned) clmp_test_expect_all(clmp_optim_moment(r.o, 1), 0.0f);
  free(master), free(working);
  rig_close(&r);
}

static void test_nonfinite_input(void) {
  static const int32_t labels[ROWS] = {0, 1, 2, 3}, bad_label[ROWS] = {0, 1, OUT + 5, 3};
  for (int d = 0; d < clmp_test_ndevs; d++) {
    const clmp_test_device *dev = &clmp_test_devs[d];
    input_case(dev, "finite input (control)", 0.0f, -1, labels, 0);
    input_case(dev, "one NaN pixel", NAN, 5, labels, 1);
    input_case(dev, "one +inf pixel", INFINITY, ROWS * IN - 1, labels, 1);
    input_case(dev, "one -inf pixel", -INFINITY, 0, labels, 1);
    input_case(dev, "one pixel beyond fp16 (1e6)", 1e6f, 9, labels, 1);
    input_case(dev, "a label out of range", 0.0f, -1, bad_label, 1);
  }
}

/* --- a learning rate that explodes -------------------------------------------------------- */

static clmp_train_config train_config(clmp_optimizer kind, float lr) {
  clmp_train_config c;
  clmp_train_config_default(&c);
  c.data_dir = data;
  c.model = CLMP_TEST_MLP(16);
  c.epochs = 3, c.batch = 16;
  clmp_optim_config_default(&c.optim, kind);
  c.optim.lr = lr;
  c.schedule = CLMP_SCHEDULE_CONSTANT;
  c.scaler.init_scale = INIT_SCALE, c.scaler.min_scale = MIN_SCALE;
  c.max_skipped = MAX_SKIPPED;
  return c;
}

/* A trainer of config c, resumed from path when given, run for one epoch; returns its status. */
static clmp_status one_epoch(clmp_ctx *ctx, const clmp_train_config *c, const char *resume,
                             clmp_trainer **out, clmp_epoch_stats *e) {
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(ctx, c, out), CLMP_SUCCESS);
  if (resume) CU_ASSERT_EQUAL_FATAL(clmp_trainer_resume(*out, resume), CLMP_SUCCESS);
  memset(e, 0, sizeof *e);
  return clmp_trainer_epoch(*out, NULL, NULL, NULL, e);
}

/* Epoch 1 at a good learning rate and a checkpoint; epoch 2 at HUGE_LR stops with
 * CLMP_ERR_NON_FINITE after the scale has backed off to MIN_SCALE; the exploded weights are not
 * saved over the checkpoint, which stays byte for byte and resumes. */
static void explode_on(const clmp_test_device *dev) {
  char ck[PATH_SIZE];
  snprintf(ck, sizeof ck, "%s/explode-%s.safetensors", work, dev->id);
  clmp_train_config good = train_config(CLMP_SGD, GOOD_LR), bad = train_config(CLMP_SGD, HUGE_LR);
  clmp_trainer *t = NULL;
  clmp_epoch_stats e;
  CU_ASSERT_EQUAL(one_epoch(dev->ctx, &good, NULL, &t, &e), CLMP_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_save(t, ck), CLMP_SUCCESS);
  clmp_trainer_free(t);
  size_t n0 = 0, n1 = 0, files = clmp_test_dir_entries(work);
  unsigned char *saved = clmp_test_read_file(ck, &n0);
  clmp_status st = one_epoch(dev->ctx, &bad, ck, &t, &e);
  printf("\n    %s: lr %g: %s: %.200s", dev->id, (double)HUGE_LR, clmp_status_name(st),
         clmp_last_error());
  CU_ASSERT_EQUAL(st, CLMP_ERR_NON_FINITE);
  CU_ASSERT_PTR_NOT_NULL(strstr(clmp_last_error(), "training stopped in epoch 2"));
  CU_ASSERT(e.skipped >= MAX_SKIPPED);
  CU_ASSERT_EQUAL(e.loss_scale, MIN_SCALE);
  CU_ASSERT_EQUAL(clmp_trainer_save(t, ck), CLMP_ERR_NON_FINITE);
  clmp_trainer_free(t);
  unsigned char *after = clmp_test_read_file(ck, &n1);
  CU_ASSERT(saved && after && n0 > 0 && n0 == n1 && !memcmp(saved, after, n0));
  CU_ASSERT_EQUAL(clmp_test_dir_entries(work), files);
  CU_ASSERT_EQUAL(one_epoch(dev->ctx, &good, ck, &t, &e), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_trainer_epochs_done(t), 2);
  clmp_trainer_free(t);
  free(saved), free(after);
}

static void test_exploding_lr(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) explode_on(&clmp_test_devs[d]);
}

/* The weights overflow in an update but fewer than max_skipped steps follow in the epoch:
 * training still stops at the epoch's end (the weights cannot recover), so no checkpoint of them
 * is ever written by a caller that saves after each good epoch. AdamW this time. */
static void test_weights_overflow_stops_the_epoch(void) {
  clmp_train_config c = train_config(CLMP_ADAMW, HUGE_LR);
  c.max_skipped = 1000;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_trainer *t = NULL;
    clmp_epoch_stats e;
    clmp_status st = one_epoch(clmp_test_devs[d].ctx, &c, NULL, &t, &e);
    printf("\n    %s: %s: %.200s", clmp_test_devs[d].id, clmp_status_name(st), clmp_last_error());
    CU_ASSERT_EQUAL(st, CLMP_ERR_NON_FINITE);
    CU_ASSERT_PTR_NOT_NULL(strstr(clmp_last_error(), "weights inf or NaN"));
    clmp_trainer_free(t);
  }
}

/* --- checkpoints of weights that cannot train ---------------------------------------------- */

/* The byte offset of tensor name's data in the file image b of n bytes: the data area starts
 * after the 8-byte length and the header, and the entries tile it from its first byte. */
static size_t data_offset(const unsigned char *b, size_t n, const char *name) {
  clmp_safetensors *f = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_safetensors_parse(b, n, NULL, &f), CLMP_SUCCESS);
  const unsigned char *first = NULL;
  for (size_t i = 0; i < clmp_safetensors_count(f); i++) {
    const unsigned char *p = clmp_safetensors_entry(f, i)->data;
    if (!first || p < first) first = p;
  }
  const clmp_st_entry *e = clmp_safetensors_find(f, name);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  uint64_t header = 0;
  for (int i = 7; i >= 0; i--) header = header << 8 | b[i];
  size_t at = 8 + (size_t)header + (size_t)((const unsigned char *)e->data - first);
  clmp_safetensors_free(f);
  return at;
}

/* The good checkpoint with one f32 of tensor name set to v, at path; resume status. */
static clmp_status resume_patched(clmp_trainer *t, const unsigned char *good, size_t n,
                                  const char *name, float v, const char *path) {
  unsigned char *b = malloc(n);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  memcpy(b, good, n);
  memcpy(b + data_offset(good, n, name), &v, sizeof v);
  FILE *f = fopen(path, "wb");
  CU_ASSERT_FATAL(f && fwrite(b, 1, n, f) == n);
  fclose(f);
  free(b);
  return clmp_trainer_resume(t, path);
}

static void test_unusable_checkpoints(void) {
  static const struct {
    const char *tensor;
    float v;
    clmp_status want;
  } cases[] = {
      {"0.weight", 0.25f, CLMP_SUCCESS}, /* the control: a finite change is accepted */
      {"0.weight", NAN, CLMP_ERR_NON_FINITE},
      {"2.bias", INFINITY, CLMP_ERR_NON_FINITE},
      {"2.weight", 1e10f, CLMP_ERR_NON_FINITE}, /* finite in f32, inf in the fp16 copy */
      {"optim.0.weight.exp_avg_sq", INFINITY, CLMP_ERR_NON_FINITE},
  };
  char good[PATH_SIZE], bad[PATH_SIZE];
  snprintf(good, sizeof good, "%s/good.safetensors", work);
  snprintf(bad, sizeof bad, "%s/patched.safetensors", work);
  clmp_train_config c = train_config(CLMP_ADAMW, 1e-3f);
  clmp_trainer *t = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_create(clmp_test_ref_ctx(), &c, &t), CLMP_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(clmp_trainer_save(t, good), CLMP_SUCCESS);
  size_t n = 0;
  unsigned char *b = clmp_test_read_file(good, &n);
  const clmp_tensor *master = clmp_model_master(clmp_trainer_model(t));
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    float *before = clmp_test_read(master);
    clmp_status st = resume_patched(t, b, n, cases[i].tensor, cases[i].v, bad);
    printf("\n    %s[0] = %g: %s: %.160s", cases[i].tensor, (double)cases[i].v,
           clmp_status_name(st), st ? clmp_last_error() : "");
    CU_ASSERT_EQUAL(st, cases[i].want);
    float *after = clmp_test_read(master);
    int same = !memcmp(before, after, clmp_tensor_numel(master) * sizeof *after);
    CU_ASSERT(st == CLMP_SUCCESS ? !same : same); /* a refused resume changes nothing */
    free(before), free(after);
  }
  free(b);
  clmp_trainer_free(t);
}

static int suite_init(void) {
  if (clmp_test_work_dir(work, sizeof work, "test_nonfinite") != 0) return -1;
  snprintf(data, sizeof data, "%s/data", work);
  if (mkdir(data, 0755) != 0 || clmp_test_write_dataset(data, TRAIN_N, TEST_N, SEED) != 0)
    return -1;
  return clmp_test_devices_open(1) > 0 ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"NaN and inf input: steps skipped, scale at min_scale, weights untouched",
       test_nonfinite_input},
      {"an exploding learning rate: stop, the checkpoint before stays and resumes",
       test_exploding_lr},
      {"weights that overflow in an update stop the epoch", test_weights_overflow_stops_the_epoch},
      {"checkpoints of weights that cannot train are refused", test_unusable_checkpoints},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"nonfinite", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
