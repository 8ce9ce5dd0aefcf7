/* tests/test_scaler.c: the loss scaler's state machine, step by step on every device against a
 * host model written here: growth after exactly growth_interval clean steps, backoff on inf and
 * on NaN, hysteresis, the floor and the ceiling, no growth to inf, the counters, the modes. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define GRAD_N       37 /* an odd gradient size, smaller than a check group */
#define RANDOM_STEPS 300
#define SEED         0x5ca1e5u

/* The host model: what the scaler must do, written from the specification. */
typedef struct model {
  clmp_scaler_config cfg;
  clmp_scaler_state s;
} model;

static void model_init(model *m, const clmp_scaler_config *cfg) {
  m->cfg = *cfg;
  memset(&m->s, 0, sizeof m->s);
  m->s.scale = cfg->mode == CLMP_SCALE_OFF ? 1.0f : cfg->init_scale;
  m->s.hysteresis_left = cfg->hysteresis;
}

static void model_step(model *m, int overflow) {
  clmp_scaler_state *s = &m->s;
  const clmp_scaler_config *c = &m->cfg;
  s->steps++;
  if (overflow) {
    s->skipped++;
    if (c->mode != CLMP_SCALE_DYNAMIC) return;
    s->growth_tracker = 0;
    if (--s->hysteresis_left == 0) {
      s->scale = fmaxf(s->scale * c->backoff_factor, c->min_scale);
      s->hysteresis_left = c->hysteresis;
    }
  } else if (c->mode == CLMP_SCALE_DYNAMIC && ++s->growth_tracker == c->growth_interval) {
    float grown = s->scale * c->growth_factor;
    if (grown <= FLT_MAX) s->scale = fminf(grown, c->max_scale);
    s->growth_tracker = 0;
    s->hysteresis_left = c->hysteresis;
  }
}

/* A gradient tensor of GRAD_N values, with `bad` (inf or NaN) at position at when at >= 0. */
static clmp_tensor *grads_with(clmp_ctx *ctx, clmp_dtype d, float bad, int at) {
  float v[GRAD_N];
  for (int i = 0; i < GRAD_N; i++) v[i] = 0.25f * (float)(i - GRAD_N / 2);
  if (at >= 0) v[at] = bad;
  size_t shape[1] = {GRAD_N};
  return clmp_test_tensor(ctx, d, 1, shape, v);
}

/* One step on the device: check the gradients, update; then compare with the model. */
static int device_step(clmp_scaler *s, clmp_tensor *g, model *m, int overflow, const char *dev) {
  CU_ASSERT_EQUAL(clmp_scaler_check(s, g, 1), CLMP_SUCCESS);
  clmp_scaler_state before;
  CU_ASSERT_EQUAL(clmp_scaler_read(s, &before), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(before.found_inf, overflow);
  CU_ASSERT_EQUAL(clmp_scaler_update(s), CLMP_SUCCESS);
  model_step(m, overflow);
  clmp_scaler_state got;
  CU_ASSERT_EQUAL(clmp_scaler_read(s, &got), CLMP_SUCCESS);
  int same = got.scale == m->s.scale && got.growth_tracker == m->s.growth_tracker &&
             got.hysteresis_left == m->s.hysteresis_left && got.steps == m->s.steps &&
             got.skipped == m->s.skipped && got.found_inf == 0;
  if (!same)
    printf("\n    %s step %u: device scale %g tracker %d hyst %d skipped %u; model %g %d %d %u",
           dev, m->s.steps, (double)got.scale, got.growth_tracker, got.hysteresis_left, got.skipped,
           (double)m->s.scale, m->s.growth_tracker, m->s.hysteresis_left, m->s.skipped);
  CU_ASSERT(same);
  return same;
}

/* Runs a pattern of steps ('.' clean, 'i' inf, 'n' NaN) on every device. */
static void run_pattern(const clmp_scaler_config *cfg, const char *pattern) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    clmp_scaler *s = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_scaler_create(ctx, cfg, &s), CLMP_SUCCESS);
    clmp_tensor *clean = grads_with(ctx, CLMP_F16, 0, -1);
    clmp_tensor *inf = grads_with(ctx, CLMP_F16, INFINITY, GRAD_N - 1);
    clmp_tensor *nan = grads_with(ctx, CLMP_BF16, NAN, 0);
    model m;
    model_init(&m, cfg);
    for (const char *p = pattern; *p; p++) {
      clmp_tensor *g = *p == 'i' ? inf : *p == 'n' ? nan : clean;
      if (!device_step(s, g, &m, *p != '.', clmp_test_devs[d].id)) break;
    }
    clmp_tensor_free(clean), clmp_tensor_free(inf), clmp_tensor_free(nan);
    clmp_scaler_free(s);
  }
}

static clmp_scaler_config dynamic(float init, int interval, int hysteresis) {
  clmp_scaler_config c;
  clmp_scaler_config_default(&c);
  c.init_scale = init;
  c.growth_interval = interval;
  c.hysteresis = hysteresis;
  return c;
}

static void test_defaults_are_pytorchs(void) {
  clmp_scaler_config c;
  clmp_scaler_config_default(&c);
  CU_ASSERT_EQUAL(c.mode, CLMP_SCALE_DYNAMIC);
  CU_ASSERT_EQUAL(c.init_scale, 65536.0f);
  CU_ASSERT_EQUAL(c.growth_factor, 2.0f);
  CU_ASSERT_EQUAL(c.backoff_factor, 0.5f);
  CU_ASSERT_EQUAL(c.growth_interval, 2000);
  CU_ASSERT_EQUAL(c.hysteresis, 1);
  CU_ASSERT_EQUAL(c.min_scale, 1.0f);
  CU_ASSERT_EQUAL(c.max_scale, 16777216.0f);
}

static void test_growth_after_exactly_interval(void) {
  clmp_scaler_config c = dynamic(1024, 3, 1);
  run_pattern(&c, "..."
                  "..."
                  "..i"
                  "...");
}

static void test_backoff_on_inf_and_nan(void) {
  clmp_scaler_config c = dynamic(65536, 2000, 1);
  run_pattern(&c, "i.n.iin.");
}

static void test_hysteresis(void) {
  clmp_scaler_config c = dynamic(4096, 4, 3);
  run_pattern(&c, "ii.i"
                  "....ii"
                  "i"
                  "...."
                  "iii");
}

static void test_floor_and_ceiling(void) {
  clmp_scaler_config c = dynamic(512, 1, 1);
  c.min_scale = 256;
  c.max_scale = 2048;
  run_pattern(&c, "iiii"
                  "......"
                  "i");
}

static void test_no_growth_to_inf(void) {
  clmp_scaler_config c = dynamic(0x1p127f, 1, 1);
  c.max_scale = FLT_MAX;
  run_pattern(&c, "....");
}

static void test_static_and_off_modes(void) {
  clmp_scaler_config c = dynamic(1024, 1, 1);
  c.mode = CLMP_SCALE_STATIC;
  run_pattern(&c, "..i..n.");
  c.mode = CLMP_SCALE_OFF;
  run_pattern(&c, "..i..n.");
}

/* A long random sequence: the device never drifts from the model. */
static void test_random_sequence(void) {
  char pattern[RANDOM_STEPS + 1];
  uint64_t r = SEED;
  for (int i = 0; i < RANDOM_STEPS; i++) {
    uint64_t x = clmp_test_rand(&r) % 10;
    pattern[i] = x == 0 ? 'i' : x == 1 ? 'n' : '.';
  }
  pattern[RANDOM_STEPS] = '\0';
  clmp_scaler_config c = dynamic(32768, 7, 2);
  c.min_scale = 8;
  c.max_scale = 1 << 20;
  run_pattern(&c, pattern);
}

static void test_scale_tensor_read_and_restore(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_scaler *s = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_scaler_create(clmp_test_devs[d].ctx, NULL, &s), CLMP_SUCCESS);
    clmp_scaler_state saved = {1234.5f, 17, 1, 0, 99, 4};
    CU_ASSERT_EQUAL(clmp_scaler_restore(s, &saved), CLMP_SUCCESS);
    clmp_scaler_state back;
    CU_ASSERT_EQUAL(clmp_scaler_read(s, &back), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(memcmp(&back, &saved, sizeof saved), 0);
    float scale = 0;
    CU_ASSERT_EQUAL(clmp_tensor_read(clmp_scaler_scale(s), CLMP_F32, &scale, 1), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(scale, 1234.5f);
    clmp_scaler_state bad = saved;
    bad.scale = INFINITY;
    CU_ASSERT_EQUAL(clmp_scaler_restore(s, &bad), CLMP_ERR_INVALID_ARGUMENT);
    bad = saved, bad.skipped = 100;
    CU_ASSERT_EQUAL(clmp_scaler_restore(s, &bad), CLMP_ERR_INVALID_ARGUMENT);
    clmp_scaler_free(s);
  }
}

static void test_bad_configs(void) {
  clmp_ctx *ctx = clmp_test_ref_ctx();
  clmp_scaler *s = NULL;
  clmp_scaler_config c = dynamic(0, 1, 1);
  CU_ASSERT_EQUAL(clmp_scaler_create(ctx, &c, &s), CLMP_ERR_INVALID_ARGUMENT);
  c = dynamic(NAN, 1, 1);
  CU_ASSERT_EQUAL(clmp_scaler_create(ctx, &c, &s), CLMP_ERR_INVALID_ARGUMENT);
  c = dynamic(1, 0, 1);
  CU_ASSERT_EQUAL(clmp_scaler_create(ctx, &c, &s), CLMP_ERR_INVALID_ARGUMENT);
  c = dynamic(1, 1, 0);
  CU_ASSERT_EQUAL(clmp_scaler_create(ctx, &c, &s), CLMP_ERR_INVALID_ARGUMENT);
  c = dynamic(1, 1, 1), c.min_scale = 4, c.max_scale = 2;
  CU_ASSERT_EQUAL(clmp_scaler_create(ctx, &c, &s), CLMP_ERR_INVALID_ARGUMENT);
  c = dynamic(1, 1, 1), c.backoff_factor = 2;
  CU_ASSERT_EQUAL(clmp_scaler_create(ctx, &c, &s), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_EQUAL(clmp_scaler_create(NULL, NULL, &s), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_scaler_check(NULL, NULL, 0), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_scaler_update(NULL), CLMP_ERR_INVALID_ARGUMENT);
  clmp_scaler_free(NULL);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"defaults are PyTorch's (plus hysteresis, floor, ceiling)", test_defaults_are_pytorchs},
      {"growth after exactly growth_interval clean steps", test_growth_after_exactly_interval},
      {"backoff on inf and on NaN", test_backoff_on_inf_and_nan},
      {"hysteresis", test_hysteresis},
      {"floor and ceiling", test_floor_and_ceiling},
      {"no growth to inf", test_no_growth_to_inf},
      {"static and off modes", test_static_and_off_modes},
      {"300 random steps follow the model", test_random_sequence},
      {"scale tensor, read and restore", test_scale_tensor_read_and_restore},
      {"bad configurations", test_bad_configs},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"scaler", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
