/* tests/test_optim.c: the fused optimizers on every device: 100 steps of AdamW and SGD with
 * overflow injected at random steps give the reference's master weights within tolerance and
 * skip exactly the overflowed steps; a skipped step changes nothing; at every vector width the
 * working copy is master rounded bit for bit and f16 gradients widen exactly; no host wait inside
 * steps; clipping; AdamW against PyTorch's formula computed here in double. */
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

/* A skipped step leaves master, moments and working copy bit for bit as they were, wherever the
 * non-finite gradient lies: first and last lane of a 16-wide vector, the middle, first and last
 * element of the tail. */
static void test_skipped_step_changes_nothing(void) {
  static const int bad_at[] = {0, 15, P / 2, P / 16 * 16, P - 1};
  static const float bad[] = {NAN, INFINITY, -INFINITY, NAN, INFINITY};
  const uint32_t n_bad = sizeof bad_at / sizeof *bad_at;
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
    for (uint32_t k = 0; k < n_bad; k++) {
      float good = g[bad_at[k]];
      g[bad_at[k]] = bad[k];
      CU_ASSERT_EQUAL(clmp_tensor_write(r.grads, CLMP_F32, g, P), 0);
      CU_ASSERT_EQUAL(clmp_optim_step(r.optim, -1), 0);
      CU_ASSERT_EQUAL(clmp_tensor_read(r.master, CLMP_F32, after, P), 0);
      CU_ASSERT_EQUAL(memcmp(before, after, sizeof before), 0);
      g[bad_at[k]] = good;
    }
    clmp_scaler_state s;
    CU_ASSERT_EQUAL(clmp_scaler_read(r.scaler, &s), 0);
    CU_ASSERT_EQUAL(s.skipped, n_bad);
    run_close(&r);
  }
}

/* --- every vector width: cl/amp.cl takes up to 16 elements at a time on CPUs (the device's
 * preferred float width), fewer when an arena's offset is not a multiple of that. */

#define WIDTH_N 651 /* 16 x 40 + 11: a vector body and a tail at every width */
/* View offsets (elements) into padded arenas: vectors of 16, 8, 4 and 1 on a CPU whose preferred
 * float width is 16; of 4 and 1 on GPUs. */
static const size_t width_pads[] = {16, 8, 4, 1};
#define N_PADS (sizeof width_pads / sizeof *width_pads)

/* f32 bits whose rounding to 16 bits is easy to get wrong; they open and close the master (so
 * that they fall into vectors and into the tail), random values lie between. */
static const uint32_t special_bits[] = {
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, /* zeros, infinities */
    0x7fc01234, 0xffd0a001, 0x7f900001,             /* NaN payloads, one signalling */
    0x477fe000, 0x477ff000, 0xc77ff000, 0x47800000, /* 65504, 65520 (f16: inf), 65536 */
    0x33000000, 0x33000001, 0x337fffff, 0x33800000, /* around f16's smallest subnormal */
    0x387fc000, 0x387fe000, 0x38800000,             /* f16 subnormal tie, smallest normal */
    0x3f801000, 0x3f803000, 0x3f808000, 0x3f818000, /* f16 and bf16 ties to even */
    0x7f7fffff, 0x00000001, 0x807fffff};            /* bf16 overflow, f32 subnormals */
#define N_SPECIAL (sizeof special_bits / sizeof *special_bits)
#define RAND_EXP0 102 /* random exponents from f16's subnormals (2^-25) ... */
#define RAND_EXPS 44  /* ... to past its overflow (2^18) */

static void width_masters(float *m, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) {
    uint64_t r = clmp_test_rand(&seed);
    uint32_t b = ((uint32_t)(r >> 32) & 0x807fffffu) | (RAND_EXP0 + (uint32_t)(r >> 8) % RAND_EXPS)
                                                           << 23;
    if (r & 1) b = (b & ~0x1fffu) | 0x1000u; /* an f16 tie */
    if (r & 2) b = (b & ~0xffffu) | 0x8000u; /* a bf16 tie */
    if (i < N_SPECIAL) b = special_bits[i];
    if (n - 1 - i < N_SPECIAL) b = special_bits[n - 1 - i];
    memcpy(&m[i], &b, sizeof b);
  }
}

static uint32_t f32_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* AdamW at lr 0 from zero gradients leaves master as it was (a signalling NaN quieted); the
 * working copy is then clmp's rounding of master bit for bit, and nothing around the views
 * changes. */
static void width_case(const clmp_test_device *dev, clmp_dtype wdt, size_t pad) {
  float m0[WIDTH_N], m[WIDTH_N], zeros[WIDTH_N] = {0};
  uint16_t w[WIDTH_N];
  size_t shape[1] = {WIDTH_N}, changed = 0, wrong = 0, first = 0;
  width_masters(m0, WIDTH_N, SEED + pad);
  clmp_test_view master = clmp_test_view_make(dev->ctx, CLMP_F32, 1, shape, pad, m0);
  clmp_test_view grads = clmp_test_view_make(dev->ctx, wdt, 1, shape, pad, zeros);
  clmp_test_view working = clmp_test_view_make(dev->ctx, wdt, 1, shape, pad, zeros);
  clmp_optim_config c;
  clmp_optim_config_default(&c, CLMP_ADAMW);
  clmp_optim *o = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_optim_create(&c, master.t, grads.t, working.t, NULL, &o), 0);
  CU_ASSERT_EQUAL(clmp_optim_step(o, 0.0f), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_read(master.t, CLMP_F32, m, WIDTH_N), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_read(working.t, wdt, w, WIDTH_N), CLMP_SUCCESS);
  for (size_t i = 0; i < WIDTH_N; i++) {
    uint16_t want = wdt == CLMP_F16 ? clmp_f32_to_f16(m[i]) : clmp_f32_to_bf16(m[i]);
    changed += !isnan(m0[i]) && f32_bits(m[i]) != f32_bits(m0[i]);
    if (w[i] != want && wrong++ == 0) first = i;
  }
  printf("\n    %s, %s, offset %zu: master changed %zu, working copy off clmp's rounding %zu",
         dev->id, clmp_dtype_name(wdt), pad, changed, wrong);
  if (wrong)
    printf(" (first: element %zu, master 0x%08x, got 0x%04x, want 0x%04x)", first,
           f32_bits(m[first]), w[first],
           wdt == CLMP_F16 ? clmp_f32_to_f16(m[first]) : clmp_f32_to_bf16(m[first]));
  CU_ASSERT_EQUAL(changed, 0);
  CU_ASSERT_EQUAL(wrong, 0);
  clmp_test_expect_guard("master", &master);
  clmp_test_expect_guard("working copy", &working);
  clmp_optim_free(o);
  clmp_test_view_free(&master), clmp_test_view_free(&grads), clmp_test_view_free(&working);
}

static void test_working_copy_every_width(void) {
  for (int d = 0; d < clmp_test_ndevs; d++)
    for (size_t p = 0; p < N_PADS; p++) {
      width_case(&clmp_test_devs[d], CLMP_F16, width_pads[p]);
      width_case(&clmp_test_devs[d], CLMP_BF16, width_pads[p]);
    }
}

#define F16_FINITE 63488 /* f16 bit patterns that are neither inf nor NaN */
#define WIDEN_TAIL 7     /* F16_FINITE is a multiple of 16: a few more elements make a tail */

/* Plain SGD at lr 1 from master 0 with no scaler makes master -g: every finite f16 gradient,
 * subnormals included, must widen exactly, in vectors and in the tail. */
static void widen_case(const clmp_test_device *dev, size_t pad) {
  size_t n = F16_FINITE + WIDEN_TAIL, shape[1] = {n}, wrong = 0, first = 0;
  float *g = malloc(n * sizeof *g), *m = calloc(n, sizeof *m);
  CU_ASSERT_FATAL(g && m);
  for (uint32_t h = 0, i = 0; h <= 0xffffu; h++)
    if ((h & 0x7c00u) != 0x7c00u) g[i++] = clmp_f16_to_f32((uint16_t)h);
  for (size_t i = F16_FINITE; i < n; i++) g[i] = g[i - F16_FINITE + 1]; /* subnormals */
  clmp_test_view master = clmp_test_view_make(dev->ctx, CLMP_F32, 1, shape, pad, m);
  clmp_test_view grads = clmp_test_view_make(dev->ctx, CLMP_F16, 1, shape, pad, g);
  clmp_optim_config c;
  clmp_optim_config_default(&c, CLMP_SGD);
  clmp_optim *o = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_optim_create(&c, master.t, grads.t, NULL, NULL, &o), 0);
  CU_ASSERT_EQUAL(clmp_optim_step(o, 1.0f), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_read(master.t, CLMP_F32, m, n), CLMP_SUCCESS);
  for (size_t i = 0; i < n; i++)
    if (m[i] != -g[i] && wrong++ == 0) first = i;
  printf("\n    %s, offset %zu: %zu of %zu f16 gradients not widened exactly", dev->id, pad, wrong,
         n);
  if (wrong) printf(" (first: element %zu, got %.9g, want %.9g)", first, m[first], -g[first]);
  CU_ASSERT_EQUAL(wrong, 0);
  clmp_test_expect_guard("master", &master);
  clmp_optim_free(o);
  clmp_test_view_free(&master), clmp_test_view_free(&grads);
  free(g), free(m);
}

static void test_f16_gradients_every_width(void) {
  for (int d = 0; d < clmp_test_ndevs; d++)
    for (size_t p = 0; p < N_PADS; p++) widen_case(&clmp_test_devs[d], width_pads[p]);
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
      {"working copy = master rounded, every vector width", test_working_copy_every_width},
      {"f16 gradients widened exactly, every vector width", test_f16_gradients_every_width},
      {"no host wait inside 100 steps", test_no_host_wait_in_steps},
      {"AdamW matches PyTorch's formula", test_adamw_matches_pytorch_formula},
      {"global-norm clipping", test_clipping},
      {"bad arguments", test_bad_arguments},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"optim", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
