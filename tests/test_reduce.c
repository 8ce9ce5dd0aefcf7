/* tests/test_reduce.c: the whole-tensor reductions, nonfinite_check and sum_squares, on every
 * OpenCL device against the reference and against hand-known answers, on views with poisoned
 * surroundings: special values at the first, middle and last positions, exact integer sums,
 * beta, run-to-run bit equality, and the argument checks. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define U       0x1p-24 /* fp32's unit roundoff: half an ulp of 1 */
#define PAD     5       /* poison elements (NaN) before and after every view */
#define SEED    0x5eed5e7u
#define LARGE   1048579 /* ~1e6 elements: many work-groups, a size no group size divides */
#define F16_MAX 65504.0f

/* 1, odd sizes, sizes around a work-group of 256 and a large one. */
static const size_t sizes[] = {1, 2, 7, 255, 256, 257, 1000, 4099, 65537, LARGE};
#define N_SIZES (sizeof sizes / sizeof *sizes)

static const clmp_dtype float_dtypes[] = {CLMP_F32, CLMP_F16, CLMP_BF16};

/* The sum of squares of n values (and beta * out, kept non-negative here): each square is off by
 * one unit, the sum by the random-walk growth of rounding over n fp32 additions in an order that
 * is not the reference's (2 sqrt(n) units), the beta term and its addition by 2, the reference's
 * own rounding by 1. Relative, as every term is >= 0; the input dtype does not enter, as both
 * sides read the same stored values. */
static clmp__tolerance sumsq_tol(size_t n) {
  clmp__tolerance t = {0, U * (4 + 2 * sqrt((double)n)), 0};
  return t;
}

static void describe(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A test's label: snprintf without the truncation warning (labels may be cut short). */
static void describe(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, size, fmt, ap);
  va_end(ap);
}

/* A 1-D view of n values, PAD elements into a buffer whose other elements are NaN, so that a
 * kernel reading outside the view shows (a NaN sum, a set flag). */
static clmp_tensor *padded(clmp_ctx *ctx, clmp_dtype d, size_t n, const float *values) {
  size_t total = n + 2 * PAD;
  float *all = malloc(total * sizeof *all);
  CU_ASSERT_PTR_NOT_NULL_FATAL(all);
  for (size_t i = 0; i < total; i++) all[i] = NAN;
  if (d == CLMP_I32)
    for (size_t i = 0; i < total; i++) all[i] = -1;
  if (values) memcpy(all + PAD, values, n * sizeof *all);
  clmp_tensor *b = clmp_test_tensor(ctx, d, 1, &total, all), *v = NULL;
  free(all);
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_view(b, PAD * clmp_dtype_size(d), d, 1, &n, &v), 0);
  clmp_tensor_free(b);
  return v;
}

static float read_scalar(const clmp_tensor *t) {
  float *v = clmp_test_read(t), x = v[0];
  free(v);
  return x;
}

static float *uniform(size_t n, float lo, float hi, uint64_t seed) {
  float *x = malloc(n * sizeof *x);
  CU_ASSERT_PTR_NOT_NULL_FATAL(x);
  clmp_test_uniform(x, n, lo, hi, seed);
  return x;
}

static clmp_ctx *ref_ctx(void) {
  clmp_ctx *r = clmp_test_ref_ctx();
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  return r;
}

/* --- sum_squares ------------------------------------------------------------------------------ */

/* out = sum x^2 + beta * out0 on ctx, x stored as dtype d; out is a padded f32 view. */
static clmp_tensor *run_sumsq(clmp_ctx *ctx, clmp_dtype d, const float *x, size_t n, float beta,
                              float out0) {
  clmp_tensor *t = padded(ctx, d, n, x), *out = padded(ctx, CLMP_F32, 1, &out0);
  CU_ASSERT_EQUAL(clmp_sum_squares(t, beta, out), CLMP_SUCCESS);
  clmp_tensor_free(t);
  return out;
}

/* Every OpenCL device against the reference on x. */
static void compare_sumsq(const char *name, clmp_dtype d, const float *x, size_t n, float beta,
                          float out0) {
  clmp_tensor *want = run_sumsq(ref_ctx(), d, x, n, beta, out0);
  clmp__tolerance tol = sumsq_tol(n);
  for (int i = 0; i < clmp_test_ndevs; i++) {
    if (clmp_test_devs[i].ctx == ref_ctx()) continue;
    clmp_tensor *got = run_sumsq(clmp_test_devs[i].ctx, d, x, n, beta, out0);
    char what[128];
    describe(what, sizeof what, "%-5s sumsq %-4s %8zu %s beta %g", clmp_test_devs[i].id,
             clmp_dtype_name(d), n, name, beta);
    clmp_test_expect_close(what, got, want, &tol);
    clmp_tensor_free(got);
  }
  clmp_tensor_free(want);
}

/* Random values; beta 0 with NaN in out (which must not be read), beta 1 and 0.5. */
static void test_sumsq_vs_ref(void) {
  for (size_t s = 0; s < N_SIZES; s++) {
    float *x = uniform(sizes[s], -2, 2, SEED + s);
    for (size_t k = 0; k < 3; k++) {
      compare_sumsq("random", float_dtypes[k], x, sizes[s], 0, NAN);
      compare_sumsq("random", float_dtypes[k], x, sizes[s], 1, 3.5f);
      compare_sumsq("random", float_dtypes[k], x, sizes[s], 0.5f, 1000);
    }
    free(x);
  }
}

/* Small integers: every partial sum is an integer below 2^24, so any order of additions gives the
 * exact sum; a missed or doubled element shows at any size. */
static void test_sumsq_exact(void) {
  for (size_t s = 0; s < N_SIZES; s++) {
    size_t n = sizes[s];
    float *x = malloc(n * sizeof *x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    double want = 7;
    for (size_t i = 0; i < n; i++) x[i] = (float)((int)(i % 5) - 2), want += x[i] * x[i];
    for (int i = 0; i < clmp_test_ndevs; i++)
      for (size_t k = 0; k < 3; k++) {
        clmp_tensor *out = run_sumsq(clmp_test_devs[i].ctx, float_dtypes[k], x, n, 1, 7);
        float got = read_scalar(out);
        if (got != (float)want)
          printf("\n    %-5s %-4s %zu: got %.9g, want %.9g", clmp_test_devs[i].id,
                 clmp_dtype_name(float_dtypes[k]), n, got, want);
        CU_ASSERT_EQUAL(got, (float)want);
        clmp_tensor_free(out);
      }
    free(x);
  }
}

/* A special value v at the first, middle and last positions. */
static void sumsq_special_at(clmp_dtype d, float *x, size_t n, float v, const char *name) {
  size_t pos[3] = {0, n / 2, n - 1};
  for (int p = 0; p < 3; p++) {
    float keep = x[pos[p]];
    x[pos[p]] = v;
    char label[64];
    describe(label, sizeof label, "%s at %zu", name, pos[p]);
    compare_sumsq(label, d, x, n, 0, NAN);
    x[pos[p]] = keep;
  }
}

/* inf, NaN, squares beyond fp32, fp16 max, subnormals of each dtype. */
static void test_sumsq_specials(void) {
  const size_t ns[2] = {257, LARGE};
  for (int s = 0; s < 2; s++) {
    float *x = uniform(ns[s], -2, 2, SEED);
    for (size_t k = 0; k < 3; k++) {
      clmp_dtype d = float_dtypes[k];
      sumsq_special_at(d, x, ns[s], INFINITY, "+inf");
      sumsq_special_at(d, x, ns[s], -INFINITY, "-inf");
      sumsq_special_at(d, x, ns[s], NAN, "NaN");
      sumsq_special_at(d, x, ns[s], 1e20f, "1e20 (square overflows)");
      float *big = uniform(ns[s], F16_MAX / 2, F16_MAX, SEED), *tiny = uniform(ns[s], 0, 1, SEED);
      big[ns[s] / 3] = F16_MAX;
      for (size_t i = 0; i < ns[s]; i++) tiny[i] *= d == CLMP_F16 ? 0x1p-14f : 0x1p-126f;
      compare_sumsq("fp16 max range", d, big, ns[s], 0, NAN);
      compare_sumsq("subnormals", d, tiny, ns[s], 0, NAN);
      free(big), free(tiny);
    }
    free(x);
  }
}

/* Two runs of the same inputs on one device give the same bits (fixed-order reduction). */
static void test_sumsq_bit_identical(void) {
  float *x = uniform(LARGE, -3, 3, SEED);
  for (int i = 0; i < clmp_test_ndevs; i++)
    for (size_t k = 0; k < 3; k++) {
      clmp_tensor *a = run_sumsq(clmp_test_devs[i].ctx, float_dtypes[k], x, LARGE, 0, NAN);
      clmp_tensor *b = run_sumsq(clmp_test_devs[i].ctx, float_dtypes[k], x, LARGE, 0, NAN);
      float fa = read_scalar(a), fb = read_scalar(b);
      printf("\n    %-5s %-4s %d: %.9g, %.9g", clmp_test_devs[i].id,
             clmp_dtype_name(float_dtypes[k]), LARGE, fa, fb);
      CU_ASSERT_EQUAL(memcmp(&fa, &fb, sizeof fa), 0);
      clmp_tensor_free(a), clmp_tensor_free(b);
    }
  free(x);
}

/* --- nonfinite_check -------------------------------------------------------------------------- */

/* The flag after one check of x stored as d, starting from flag0. */
static float run_check(clmp_ctx *ctx, clmp_dtype d, const float *x, size_t n, float flag0) {
  clmp_tensor *t = padded(ctx, d, n, x), *flag = padded(ctx, CLMP_I32, 1, &flag0);
  CU_ASSERT_EQUAL(clmp_nonfinite_check(t, flag), CLMP_SUCCESS);
  float f = read_scalar(flag);
  clmp_tensor_free(t), clmp_tensor_free(flag);
  return f;
}

/* The flag on every device (the reference included) equals want. */
static void expect_flag(clmp_dtype d, const float *x, size_t n, float flag0, float want,
                        const char *name) {
  for (int i = 0; i < clmp_test_ndevs; i++) {
    float got = run_check(clmp_test_devs[i].ctx, d, x, n, flag0);
    if (got != want)
      printf("\n    %-5s %-4s %zu %s: flag %g, want %g", clmp_test_devs[i].id, clmp_dtype_name(d),
             n, name, got, want);
    CU_ASSERT_EQUAL(got, want);
  }
}

/* Finite values, fp16 max and subnormals (NaN poison around the view): the flag stays 0, and a
 * set flag stays 1. */
static void check_finite(clmp_dtype d, float *x, size_t n) {
  x[0] = F16_MAX, x[n - 1] = -0.0f, x[n / 2] = d == CLMP_F16 ? 0x1p-24f : 0x1p-133f;
  expect_flag(d, x, n, 0, 0, "finite");
  expect_flag(d, x, n, 1, 1, "finite, flag already set");
}

static void test_nonfinite(void) {
  const size_t ns[4] = {1, 7, 257, LARGE};
  const float specials[3] = {INFINITY, -INFINITY, NAN};
  for (int s = 0; s < 4; s++) {
    size_t n = ns[s], pos[3] = {0, n / 2, n - 1};
    float *x = uniform(n, -100, 100, SEED + (uint64_t)s);
    for (size_t k = 0; k < 3; k++) {
      check_finite(float_dtypes[k], x, n);
      for (int v = 0; v < 3; v++)
        for (int p = 0; p < 3; p++) {
          float keep = x[pos[p]];
          x[pos[p]] = specials[v];
          char name[48];
          describe(name, sizeof name, "%g at %zu", specials[v], pos[p]);
          expect_flag(float_dtypes[k], x, n, 0, 1, name);
          x[pos[p]] = keep;
        }
    }
    free(x);
  }
}

/* --- argument checks -------------------------------------------------------------------------- */

typedef struct bad_args {
  clmp_tensor *x, *xi32, *f32_1, *f32_2, *f16_1, *i32_1, *i32_2;
} bad_args;

static bad_args make_bad_args(clmp_ctx *ctx) {
  size_t four = 4, one = 1, two = 2;
  bad_args b = {
      clmp_test_tensor(ctx, CLMP_F32, 1, &four, (const float[]){1, 2, 3, 4}),
      clmp_test_tensor(ctx, CLMP_I32, 1, &four, NULL),
      clmp_test_tensor(ctx, CLMP_F32, 1, &one, (const float[]){42}),
      clmp_test_tensor(ctx, CLMP_F32, 1, &two, NULL),
      clmp_test_tensor(ctx, CLMP_F16, 1, &one, NULL),
      clmp_test_tensor(ctx, CLMP_I32, 1, &one, (const float[]){0}),
      clmp_test_tensor(ctx, CLMP_I32, 1, &two, NULL),
  };
  return b;
}

static void free_bad_args(bad_args *b) {
  clmp_tensor *all[] = {b->x, b->xi32, b->f32_1, b->f32_2, b->f16_1, b->i32_1, b->i32_2};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) clmp_tensor_free(all[i]);
}

static void test_bad_arguments(void) {
  for (int i = 0; i < clmp_test_ndevs; i++) {
    bad_args b = make_bad_args(clmp_test_devs[i].ctx);
    CU_ASSERT_EQUAL(clmp_sum_squares(NULL, 0, b.f32_1), CLMP_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(clmp_sum_squares(b.x, 0, NULL), CLMP_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(clmp_sum_squares(b.xi32, 0, b.f32_1), CLMP_ERR_INVALID_DTYPE);
    CU_ASSERT_EQUAL(clmp_sum_squares(b.x, 0, b.f16_1), CLMP_ERR_INVALID_DTYPE);
    CU_ASSERT_EQUAL(clmp_sum_squares(b.x, 0, b.f32_2), CLMP_ERR_INVALID_SHAPE);
    CU_ASSERT_EQUAL(read_scalar(b.f32_1), 42.0f); /* failed calls touch nothing */
    CU_ASSERT_EQUAL(clmp_nonfinite_check(NULL, b.i32_1), CLMP_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(clmp_nonfinite_check(b.x, NULL), CLMP_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(clmp_nonfinite_check(b.xi32, b.i32_1), CLMP_ERR_INVALID_DTYPE);
    CU_ASSERT_EQUAL(clmp_nonfinite_check(b.x, b.f32_1), CLMP_ERR_INVALID_DTYPE);
    CU_ASSERT_EQUAL(clmp_nonfinite_check(b.x, b.i32_2), CLMP_ERR_INVALID_SHAPE);
    free_bad_args(&b);
  }
}

/* Tensors of two contexts never mix. */
static void test_context_mismatch(void) {
  if (clmp_test_ndevs < 2) return;
  bad_args a = make_bad_args(clmp_test_devs[0].ctx), b = make_bad_args(clmp_test_devs[1].ctx);
  CU_ASSERT_EQUAL(clmp_sum_squares(a.x, 0, b.f32_1), CLMP_ERR_CONTEXT_MISMATCH);
  CU_ASSERT_EQUAL(clmp_nonfinite_check(a.x, b.i32_1), CLMP_ERR_CONTEXT_MISMATCH);
  free_bad_args(&a), free_bad_args(&b);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 && clmp_test_ref_ctx() ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"sum_squares: devices vs reference, beta", test_sumsq_vs_ref},
      {"sum_squares: exact integer sums", test_sumsq_exact},
      {"sum_squares: inf, NaN, overflow, fp16 max, subnormals", test_sumsq_specials},
      {"sum_squares: two runs, the same bits", test_sumsq_bit_identical},
      {"nonfinite_check: inf and NaN first, middle, last", test_nonfinite},
      {"bad arguments", test_bad_arguments},
      {"tensors of two contexts", test_context_mismatch},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"reduce", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
