/* tests/test_optim.c: the fused optimizers on every device: 100 steps of AdamW and SGD with
 * overflow injected at random steps give the reference's master weights within tolerance and
 * skip exactly the overflowed steps; a skipped step changes nothing; no host wait inside steps;
 * clipping; AdamW against PyTorch's formula computed here in double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define P              1001 /* parameters: odd, not a multiple of any work-group size */
#define STEPS          100
#define OVERFLOW_EVERY 7 /* on average, at random steps */
#define LOSS_SCALE     1024.0f
#define SEED           0x0971u
/* Master weights after 100 steps, device against reference: both compute in fp32 in the same
 * order but may contract to fma and use their own pow/sqrt (a few ulp per step), over updates
 * of at most lr per step. */
#define MASTER_ATOL 2e-6
#define MASTER_RTOL 1e-5

typedef struct run {
  clmp_tensor *master, *grads, *working;
  clmp_scaler *scaler;
  clmp_optim *optim;
} run;

static void run_open(run *r, clmp_ctx *ctx, const clmp_optim_config *cfg, clmp_dtype gdt,
                     const float *init) {
  size_t shape[1] = {P};
  r->master = clmp_test_tensor(ctx, CLMP_F32, 1, shape, init);
  r->grads = clmp_test_tensor(ctx, gdt, 1, shape, NULL);
  r->working = clmp_test_tensor(ctx, gdt, 1, shape, NULL);
  clmp_scaler_config sc;
  clmp_scaler_config_default(&sc);
  sc.mode = CLMP_SCALE_STATIC;
  sc.init_scale = LOSS_SCALE;
  CU_ASSERT_EQUAL_FATAL(clmp_scaler_create(ctx, &sc, &r->scaler), CLMP_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(
      clmp_optim_create(cfg, r->master, r->grads, r->working, r->scaler, &r->optim), 0);
}

static void run_close(run *r) {
  clmp_optim_free(r->optim);
  clmp_scaler_free(r->scaler);
  clmp_tensor_free(r->master), clmp_tensor_free(r->grads), clmp_tensor_free(r->working);
}

/* The scaled gradients of one step; an overflowed step has an inf somewhere. */
static void make_grads(float *g, uint64_t *rng, int overflow) {
  for (int i = 0; i < P; i++)
    g[i] = LOSS_SCALE * ((float)(clmp_test_rand(rng) >> 40) * 0x1p-24f - 0.5f);
  if (overflow) g[clmp_test_rand(rng) % P] = INFINITY;
}

/* 100 steps on dev and ref with the same gradients; returns the number of injected overflows. */
static int run_steps(run *dev, run *ref, uint64_t seed) {
  float g[P];
  int injected = 0;
  for (int s = 0; s < STEPS; s++) {
    int overflow = clmp_test_rand(&seed) % OVERFLOW_EVERY == 0;
    injected += overflow;
    make_grads(g, &seed, overflow);
    CU_ASSERT_EQUAL(clmp_tensor_write(dev->grads, CLMP_F32, g, P), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_tensor_write(ref->grads, CLMP_F32, g, P), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_optim_step(dev->optim, -1), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_optim_step(ref->optim, -1), CLMP_SUCCESS);
  }
  return injected;
}

static void compare_runs(const char *what, run *dev, run *ref, int injected) {
  clmp__tolerance tol = {MASTER_ATOL, MASTER_RTOL, 0};
  char name[1200];
  snprintf(name, sizeof name, "%s master", what);
  clmp_test_expect_close(name, dev->master, ref->master, &tol);
  /* The working copy is the device's own master, rounded once to its dtype: exactly. */
  float *w = clmp_test_read(dev->master);
  size_t shape[1] = {P};
  clmp_tensor *rounded =
      clmp_test_tensor(clmp_test_ref_ctx(), clmp_tensor_dtype(dev->working), 1, shape, w);
  clmp__tolerance exact = {0, 0, 0};
  snprintf(name, sizeof name, "%s working copy = rounded master", what);
  clmp_test_expect_close(name, dev->working, rounded, &exact);
  clmp_tensor_free(rounded);
  free(w);
  for (int m = 0; m < 2; m++) {
    clmp_tensor *a = clmp_optim_moment(dev->optim, m), *b = clmp_optim_moment(ref->optim, m);
    CU_ASSERT((a == NULL) == (b == NULL));
    snprintf(name, sizeof name, "%s moment %d", what, m);
    if (a && b) clmp_test_expect_close(name, a, b, &tol);
  }
  clmp_scaler_state sd, sr;
  CU_ASSERT_EQUAL(clmp_scaler_read(dev->scaler, &sd), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_scaler_read(ref->scaler, &sr), CLMP_SUCCESS);
  printf("\n    %s: %u steps, %u skipped, %d overflows injected", what, sd.steps, sd.skipped,
         injected);
  CU_ASSERT_EQUAL(sd.steps, STEPS);
  CU_ASSERT_EQUAL(sd.skipped, (uint32_t)injected);
  CU_ASSERT_EQUAL(sr.skipped, (uint32_t)injected);
}

static void against_reference(const char *name, const clmp_optim_config *cfg, clmp_dtype gdt) {
  float init[P];
  clmp_test_uniform(init, P, -1.0f, 1.0f, SEED);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (clmp_test_devs[d].ctx == clmp_test_ref_ctx()) continue;
    run dev, ref;
    run_open(&dev, clmp_test_devs[d].ctx, cfg, gdt, init);
    run_open(&ref, clmp_test_ref_ctx(), cfg, gdt, init);
    int injected = run_steps(&dev, &ref, SEED + (uint64_t)d);
    char what[1024];
    snprintf(what, sizeof what, "%s %s grads on %s", name, clmp_dtype_name(gdt),
             clmp_test_devs[d].id);
    compare_runs(what, &dev, &ref, injected);
    run_close(&dev), run_close(&ref);
  }
}

static void test_adamw_against_reference(void) {
  clmp_optim_config c;
  clmp_optim_config_default(&c, CLMP_ADAMW);
  against_reference("AdamW", &c, CLMP_F16);
  against_reference("AdamW", &c, CLMP_BF16);
  c.clip_norm = 1.0f;
  against_reference("AdamW clip 1", &c, CLMP_F32);
}

static void test_sgd_against_reference(void) {
  clmp_optim_config c;
  clmp_optim_config_default(&c, CLMP_SGD);
  c.momentum = 0.9f, c.weight_decay = 1e-4f, c.dampening = 0.1f;
  against_reference("SGD momentum", &c, CLMP_F16);
  c.nesterov = 1, c.dampening = 0;
  against_reference("SGD Nesterov", &c, CLMP_BF16);
  clmp_optim_config_default(&c, CLMP_SGD);
  against_reference("SGD plain", &c, CLMP_F32);
}

/* A skipped step leaves master, moments and working copy bit for bit as they were. */
static void test_skipped_step_changes_nothing(void) {
  float init[P], g[P], before[P], after[P];
  clmp_test_uniform(init, P, -1.0f, 1.0f, SEED);
  clmp_optim_config c;
  clmp_optim_config_default(&c, CLMP_ADAMW);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    run r;
    run_open(&r, clmp_test_devs[d].ctx, &c, CLMP_F16, init);
    uint64_t rng = SEED;
    make_grads(g, &rng, 0);
    CU_ASSERT_EQUAL(clmp_tensor_write(r.grads, CLMP_F32, g, P), 0);
    CU_ASSERT_EQUAL(clmp_optim_step(r.optim, -1), 0);
    CU_ASSERT_EQUAL(clmp_tensor_read(r.master, CLMP_F32, before, P), 0);
    g[P / 2] = NAN;
    CU_ASSERT_EQUAL(clmp_tensor_write(r.grads, CLMP_F32, g, P), 0);
    CU_ASSERT_EQUAL(clmp_optim_step(r.optim, -1), 0);
    CU_ASSERT_EQUAL(clmp_tensor_read(r.master, CLMP_F32, after, P), 0);
    CU_ASSERT_EQUAL(memcmp(before, after, sizeof before), 0);
    clmp_scaler_state s;
    CU_ASSERT_EQUAL(clmp_scaler_read(r.scaler, &s), 0);
    CU_ASSERT_EQUAL(s.skipped, 1);
    run_close(&r);
  }
}

/* 100 steps queue kernels only: the context's count of host waits does not move. */
static void test_no_host_wait_in_steps(void) {
  float init[P], g[P];
  clmp_test_uniform(init, P, -1.0f, 1.0f, SEED);
  uint64_t rng = SEED;
  make_grads(g, &rng, 0);
  clmp_optim_config c;
  clmp_optim_config_default(&c, CLMP_ADAMW);
  c.clip_norm = 0.5f;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    run r;
    run_open(&r, ctx, &c, CLMP_F16, init);
    CU_ASSERT_EQUAL(clmp_tensor_write(r.grads, CLMP_F32, g, P), 0);
    CU_ASSERT_EQUAL(clmp_optim_step(r.optim, -1), 0); /* builds the programs */
    unsigned long waits = clmp_ctx_blocking_calls(ctx);
    for (int s = 0; s < STEPS; s++) CU_ASSERT_EQUAL(clmp_optim_step(r.optim, 1e-4f), 0);
    printf("\n    %s: host waits during %d steps: %lu", clmp_test_devs[d].id, STEPS,
           clmp_ctx_blocking_calls(ctx) - waits);
    CU_ASSERT_EQUAL(clmp_ctx_blocking_calls(ctx), waits);
    CU_ASSERT_EQUAL(clmp_ctx_finish(ctx), CLMP_SUCCESS);
    run_close(&r);
  }
}

/* PyTorch's AdamW for one parameter, in double: three steps from w = 0.5. */
static double torch_adamw(const double *grads, int steps, double lr, double wd) {
  double w = 0.5, m = 0, v = 0, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (int t = 1; t <= steps; t++) {
    w *= 1 - lr * wd;
    m = b1 * m + (1 - b1) * grads[t - 1];
    v = b2 * v + (1 - b2) * grads[t - 1] * grads[t - 1];
    w -= lr / (1 - pow(b1, t)) * m / (sqrt(v) / sqrt(1 - pow(b2, t)) + eps);
  }
  return w;
}

static void test_adamw_matches_pytorch_formula(void) {
  const double grads[3] = {0.3, -0.1, 0.25};
  double want = torch_adamw(grads, 3, 1e-2, 0.01);
  clmp_optim_config c;
  clmp_optim_config_default(&c, CLMP_ADAMW);
  c.lr = 1e-2f;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    size_t one[1] = {1};
    float w0 = 0.5f, got = 0;
    clmp_tensor *w = clmp_test_tensor(clmp_test_devs[d].ctx, CLMP_F32, 1, one, &w0);
    clmp_tensor *g = clmp_test_tensor(clmp_test_devs[d].ctx, CLMP_F32, 1, one, NULL);
    clmp_optim *o = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_optim_create(&c, w, g, NULL, NULL, &o), CLMP_SUCCESS);
    for (int t = 0; t < 3; t++) {
      float gt = (float)grads[t];
      CU_ASSERT_EQUAL(clmp_tensor_write(g, CLMP_F32, &gt, 1), 0);
      CU_ASSERT_EQUAL(clmp_optim_step(o, -1), 0);
    }
    CU_ASSERT_EQUAL(clmp_tensor_read(w, CLMP_F32, &got, 1), 0);
    printf("\n    %s: AdamW after 3 steps %.9f, PyTorch's formula %.9f", clmp_test_devs[d].id,
           (double)got, want);
    CU_ASSERT(fabs(got - want) < 1e-6);
    clmp_optim_free(o), clmp_tensor_free(w), clmp_tensor_free(g);
  }
}

/* Clipping: one plain SGD step (lr 1) with gradients of norm 5 clipped to 1 moves w by -g/5. */
static void test_clipping(void) {
  const float g[4] = {3.0f * LOSS_SCALE, 0, -4.0f * LOSS_SCALE, 0}, zero[4] = {0};
  clmp_optim_config c;
  clmp_optim_config_default(&c, CLMP_SGD);
  c.lr = 1.0f, c.clip_norm = 1.0f;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    size_t four[1] = {4};
    clmp_tensor *w = clmp_test_tensor(ctx, CLMP_F32, 1, four, zero);
    clmp_tensor *gt = clmp_test_tensor(ctx, CLMP_F16, 1, four, g);
    clmp_scaler_config sc;
    clmp_scaler_config_default(&sc);
    sc.init_scale = LOSS_SCALE;
    clmp_scaler *s = NULL;
    clmp_optim *o = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_scaler_create(ctx, &sc, &s), 0);
    CU_ASSERT_EQUAL_FATAL(clmp_optim_create(&c, w, gt, NULL, s, &o), 0);
    CU_ASSERT_EQUAL(clmp_optim_step(o, -1), 0);
    float got[4];
    CU_ASSERT_EQUAL(clmp_tensor_read(w, CLMP_F32, got, 4), 0);
    CU_ASSERT(fabsf(got[0] + 0.6f) < 1e-5f && fabsf(got[2] - 0.8f) < 1e-5f && got[1] == 0);
    clmp_optim_free(o), clmp_scaler_free(s), clmp_tensor_free(w), clmp_tensor_free(gt);
  }
}

static void test_bad_arguments(void) {
  clmp_ctx *ctx = clmp_test_ref_ctx();
  size_t n[1] = {8}, m[1] = {9};
  clmp_tensor *w = clmp_test_tensor(ctx, CLMP_F32, 1, n, NULL);
  clmp_tensor *w16 = clmp_test_tensor(ctx, CLMP_F16, 1, n, NULL);
  clmp_tensor *g9 = clmp_test_tensor(ctx, CLMP_F16, 1, m, NULL);
  clmp_tensor *gi = clmp_test_tensor(ctx, CLMP_I32, 1, n, NULL);
  clmp_optim_config c;
  clmp_optim_config_default(&c, CLMP_ADAMW);
  clmp_optim *o = NULL;
  CU_ASSERT_EQUAL(clmp_optim_create(&c, w16, w16, NULL, NULL, &o), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_optim_create(&c, w, g9, NULL, NULL, &o), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_optim_create(&c, w, gi, NULL, NULL, &o), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_optim_create(&c, w, w16, g9, NULL, &o), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_optim_create(&c, NULL, w16, NULL, NULL, &o), CLMP_ERR_INVALID_ARGUMENT);
  c.beta1 = 1.0f;
  CU_ASSERT_EQUAL(clmp_optim_create(&c, w, w16, NULL, NULL, &o), CLMP_ERR_INVALID_ARGUMENT);
  clmp_optim_config_default(&c, CLMP_SGD);
  c.nesterov = 1;
  CU_ASSERT_EQUAL(clmp_optim_create(&c, w, w16, NULL, NULL, &o), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NULL(o);
  CU_ASSERT_EQUAL(clmp_optim_step(NULL, 1), CLMP_ERR_INVALID_ARGUMENT);
  clmp_optim_free(NULL);
  clmp_tensor_free(w), clmp_tensor_free(w16), clmp_tensor_free(g9), clmp_tensor_free(gi);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"AdamW: 100 steps with overflows, device = reference", test_adamw_against_reference},
      {"SGD: 100 steps with overflows, device = reference", test_sgd_against_reference},
      {"a skipped step changes nothing", test_skipped_step_changes_nothing},
      {"no host wait inside 100 steps", test_no_host_wait_in_steps},
      {"AdamW matches PyTorch's formula", test_adamw_matches_pytorch_formula},
      {"global-norm clipping", test_clipping},
      {"bad arguments", test_bad_arguments},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"optim", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
