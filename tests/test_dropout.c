/* tests/test_dropout.c: clmp_dropout and clmp_dropout_backward on every OpenCL device against the
 * reference: dtype pairs, sizes 1, odd and ~1e6, views at offsets with guard padding, special
 * values, p from 0 to the largest float below 1; the mask the same bits on every device and the
 * reference; its definition checked on splitmix64's published outputs; its keep rate, its
 * independence of neighbours and of seeds; p = 0 as an exact copy; in place; the backward as the
 * forward's mask, and by finite differences; the refusals of bad arguments.
 *
 * Tolerances. Exact: a kept element is one fp32 product by the same fp32 scale on every side
 * (a dropped one is +0), then one rounding; FTZ_ATOL allows for devices that flush fp32
 * subnormals (a product below 2^-126 may become 0). Statistics (n Bernoulli trials of keep
 * probability q = 1 - floor(p 2^32) / 2^32, were the generator ideal): a count within 6 standard
 * deviations, sqrt(n q (1 - q)), of n q; a true binomial leaves that range with probability
 * below 2e-9 (normal approximation; n q (1 - q) >= 4950 here). Finite differences (f32): dropout is
 * linear, so (L(x + v) - L(x - v)) / 2 with L = <w, y> errs only by the roundings of y, sum |w|
 * u (|y+| + |y-|) / 2, and dx = w * scale by u |dx| each. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"
#include "hostile.h"

#define FTZ_ATOL   0x1p-125
#define U32        0x1p-24
#define SEED       0xd509000001ull
#define DROP_SEED  0x1234abcdull /* the dropout seed of most cases */
#define RAND_LO    (-2.0f)
#define RAND_HI    2.0f
#define SIGMAS     6.0
#define STAT_N     1000003
#define TWO_POW_32 4294967296.0
#define P_LARGEST  0x1.fffffep-1f        /* the largest float below 1 */
#define SPLITMIX_0 0xe220a8397b1dcdafull /* splitmix64's outputs from state 0 (mix(0) = 0) */
#define SPLITMIX_1 0x6e789e6aa1b965f4ull

static const clmp__tolerance DROP_TOL = {FTZ_ATOL, 0, 0};

static const clmp_dtype PAIRS[][2] = {{CLMP_F32, CLMP_F32},
                                      {CLMP_F16, CLMP_F16},
                                      {CLMP_BF16, CLMP_BF16},
                                      {CLMP_F16, CLMP_F32},
                                      {CLMP_F32, CLMP_F16}};
#define N_PAIRS (sizeof PAIRS / sizeof *PAIRS)

static const struct {
  size_t n, pad;
} SIZES[] = {{1, 0}, {2, 3}, {63, 1}, {65, 0}, {257, 5}, {4099, 2}, {1000003, 7}};
#define N_SIZES (sizeof SIZES / sizeof *SIZES)

static const float PS[] = {0.0f, 0.1f, 0.5f, 0.9f, P_LARGEST};
#define N_PS (sizeof PS / sizeof *PS)

static const float SPECIALS[] = {0.0f,      -0.0f,     1e-40f, -1e-40f, 6e-8f, 65504.0f,
                                 -65504.0f, 7e4f,      3e38f,  -3e38f,  1.0f,  -1.0f,
                                 INFINITY,  -INFINITY, NAN,    -NAN};
#define N_SPECIALS (sizeof SPECIALS / sizeof *SPECIALS)

/* n seeded values, the special values first. */
static float *make_inputs(size_t n, uint64_t seed) {
  float *v = malloc(n * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  clmp_test_uniform(v, n, RAND_LO, RAND_HI, seed);
  for (size_t k = 0; k < N_SPECIALS && k < n; k++) v[k] = SPECIALS[k];
  return v;
}

/* --- devices against the reference ------------------------------------------------------------ */

static void dropout_case(clmp_dtype xd, clmp_dtype yd, size_t n, size_t pad, float p) {
  float *v = make_inputs(n, SEED + n);
  size_t shape[1] = {n};
  clmp_test_view rx = clmp_test_view_make(clmp_test_ref_ctx(), xd, 1, shape, pad + 1, v);
  clmp_test_view ry = clmp_test_view_make(clmp_test_ref_ctx(), yd, 1, shape, pad, NULL);
  CU_ASSERT_EQUAL(clmp_dropout(rx.t, p, DROP_SEED, ry.t), CLMP_SUCCESS);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (clmp_test_is_ref(&clmp_test_devs[d])) continue;
    clmp_test_view x = clmp_test_view_make(clmp_test_devs[d].ctx, xd, 1, shape, pad + 1, v);
    clmp_test_view y = clmp_test_view_make(clmp_test_devs[d].ctx, yd, 1, shape, pad, NULL);
    CU_ASSERT_EQUAL(clmp_dropout(x.t, p, DROP_SEED, y.t), CLMP_SUCCESS);
    char what[128];
    snprintf(what, sizeof what, "%-5.31s dropout(%s -> %s, p %.9g) n=%zu", clmp_test_devs[d].id,
             clmp_dtype_name(xd), clmp_dtype_name(yd), (double)p, n);
    clmp_test_expect_close(what, y.t, ry.t, &DROP_TOL);
    clmp_test_expect_guard(what, &y);
    clmp_test_view_free(&x), clmp_test_view_free(&y);
  }
  clmp_test_view_free(&rx), clmp_test_view_free(&ry);
  free(v);
}

static void test_dropout_vs_ref(void) {
  for (size_t k = 0; k < N_PAIRS; k++)
    for (size_t s = 0; s < N_SIZES; s++)
      for (size_t p = 0; p < N_PS; p++)
        dropout_case(PAIRS[k][0], PAIRS[k][1], SIZES[s].n, SIZES[s].pad, PS[p]);
}

/* --- the mask -------------------------------------------------------------------------------- */

/* The mask of (n, p, seed) on device d: 1 where kept, read from the dropout of ones. */
static unsigned char *mask_on(int d, size_t n, float p, uint64_t seed) {
  float *ones = malloc(n * sizeof *ones);
  unsigned char *keep = malloc(n);
  CU_ASSERT_FATAL(ones && keep);
  for (size_t i = 0; i < n; i++) ones[i] = 1.0f;
  clmp_tensor *x = clmp_test_tensor(clmp_test_devs[d].ctx, CLMP_F32, 1, (size_t[1]){n}, ones);
  CU_ASSERT_EQUAL(clmp_dropout(x, p, seed, x), CLMP_SUCCESS);
  float *y = clmp_test_read(x);
  for (size_t i = 0; i < n; i++) keep[i] = y[i] != 0.0f;
  clmp_tensor_free(x);
  free(ones), free(y);
  return keep;
}

/* Every device and the reference draw the same mask, whatever the size (so whatever the
 * launch). */
static void test_mask_everywhere(void) {
  const size_t sizes[] = {1, 77, 65536, STAT_N};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    unsigned char *first = mask_on(0, sizes[s], 0.5f, DROP_SEED);
    for (int d = 1; d < clmp_test_ndevs; d++) {
      unsigned char *m = mask_on(d, sizes[s], 0.5f, DROP_SEED);
      int same = !memcmp(m, first, sizes[s]);
      printf("\n    %-5.31s n=%zu: mask %s %s's", clmp_test_devs[d].id, sizes[s],
             same ? "==" : "!=", clmp_test_devs[0].id);
      CU_ASSERT(same);
      free(m);
    }
    /* a prefix is the mask of a shorter tensor: the element index alone decides */
    if (s > 0) {
      unsigned char *short_mask = mask_on(0, sizes[s - 1], 0.5f, DROP_SEED);
      CU_ASSERT(!memcmp(short_mask, first, sizes[s - 1]));
      free(short_mask);
    }
    free(first);
  }
}

/* The definition: element i kept when the upper 32 bits of splitmix64's output i from state
 * mix(seed) reach floor(p 2^32); mix(0) = 0, so seed 0 draws splitmix64's published stream. */
static void test_mask_definition(void) {
  const double u0 = (double)(SPLITMIX_0 >> 32) / TWO_POW_32,
               u1 = (double)(SPLITMIX_1 >> 32) / TWO_POW_32;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    unsigned char *below = mask_on(d, 2, (float)(u1 - 1e-6), 0),
                  *above = mask_on(d, 2, (float)(u1 + 1e-6), 0);
    unsigned char *over0 = mask_on(d, 2, (float)(u0 + 1e-6), 0);
    printf("\n    %-5.31s seed 0: p just below u1 keeps %d %d, just above %d %d, above u0 %d %d",
           clmp_test_devs[d].id, below[0], below[1], above[0], above[1], over0[0], over0[1]);
    CU_ASSERT(below[0] && below[1] && above[0] && !above[1] && !over0[0] && !over0[1]);
    free(below), free(above), free(over0);
  }
}

/* |count - n q| <= SIGMAS sqrt(n q (1 - q)). */
static void expect_binomial(const char *what, size_t count, size_t n, double q) {
  double mean = (double)n * q, sd = sqrt((double)n * q * (1 - q));
  int ok = fabs((double)count - mean) <= SIGMAS * sd;
  printf("\n    %s: %zu of %zu, expected %.1f +- %.1f (%.1f sd)", what, count, n, mean, SIGMAS * sd,
         ((double)count - mean) / sd);
  CU_ASSERT(ok);
}

/* The keep rate is 1 - p; neighbours are kept independently; two seeds draw independent masks. */
static void test_mask_statistics(void) {
  const float ps[] = {0.1f, 0.5f, 0.9f};
  for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
    double q = 1.0 - floor((double)ps[k] * TWO_POW_32) / TWO_POW_32;
    unsigned char *m = mask_on(0, STAT_N, ps[k], DROP_SEED);
    unsigned char *other = mask_on(0, STAT_N, ps[k], DROP_SEED + 1);
    size_t kept = 0, pairs = 0, both = 0;
    for (size_t i = 0; i < STAT_N; i++) kept += m[i], both += m[i] && other[i];
    for (size_t i = 0; i + 1 < STAT_N; i += 2) pairs += m[i] && m[i + 1];
    char what[96];
    snprintf(what, sizeof what, "p %g: kept", (double)ps[k]);
    expect_binomial(what, kept, STAT_N, q);
    snprintf(what, sizeof what, "p %g: pairs (2i, 2i + 1) both kept", (double)ps[k]);
    expect_binomial(what, pairs, STAT_N / 2, q * q);
    snprintf(what, sizeof what, "p %g: kept under seeds s and s + 1", (double)ps[k]);
    expect_binomial(what, both, STAT_N, q * q);
    free(m), free(other);
  }
}

/* --- identities --------------------------------------------------------------------------------
 */

/* p 0 copies x to the bit in every dtype (NaN as NaN), in place too. */
static void test_p_zero_is_copy(void) {
  size_t n = 4099, shape[1] = {n};
  float *v = make_inputs(n, SEED * 3);
  for (int d = 0; d < clmp_test_ndevs; d++)
    for (int k = 0; k < 3; k++) {
      clmp_dtype dt = PAIRS[k][0];
      clmp_tensor *x = clmp_test_tensor(clmp_test_devs[d].ctx, dt, 1, shape, v);
      clmp_tensor *y = clmp_test_tensor(clmp_test_devs[d].ctx, dt, 1, shape, NULL);
      CU_ASSERT_EQUAL(clmp_dropout(x, 0.0f, DROP_SEED, y), CLMP_SUCCESS);
      char what[96];
      snprintf(what, sizeof what, "%-5.31s dropout(%s, p 0) == x", clmp_test_devs[d].id,
               clmp_dtype_name(dt));
      clmp_test_expect_close(what, y, x, &(clmp__tolerance){0, 0, 0});
      CU_ASSERT_EQUAL(clmp_dropout(x, 0.0f, DROP_SEED, x), CLMP_SUCCESS);
      clmp_test_expect_close("  in place", x, y, &(clmp__tolerance){0, 0, 0});
      clmp_tensor_free(x), clmp_tensor_free(y);
    }
  free(v);
}

/* The backward is the forward's mask and scale on dy; in place gives the same bits. */
static void test_backward_is_forward(void) {
  size_t n = 65537, shape[1] = {n};
  float *v = make_inputs(n, SEED * 5);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    clmp_tensor *dy = clmp_test_tensor(ctx, CLMP_F16, 1, shape, v);
    clmp_tensor *fw = clmp_test_tensor(ctx, CLMP_F16, 1, shape, NULL);
    clmp_tensor *bw = clmp_test_tensor(ctx, CLMP_F16, 1, shape, NULL);
    CU_ASSERT_EQUAL(clmp_dropout(dy, 0.25f, DROP_SEED, fw), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_dropout_backward(dy, 0.25f, DROP_SEED, bw), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_dropout_backward(dy, 0.25f, DROP_SEED, dy), CLMP_SUCCESS);
    char what[96];
    snprintf(what, sizeof what, "%-5.31s dropout_backward == dropout", clmp_test_devs[d].id);
    clmp_test_expect_close(what, bw, fw, &(clmp__tolerance){0, 0, 0});
    clmp_test_expect_close("  in place", dy, fw, &(clmp__tolerance){0, 0, 0});
    clmp_tensor_free(dy), clmp_tensor_free(fw), clmp_tensor_free(bw);
  }
  free(v);
}

/* Hand values: scale 1 / (1 - 0.75) = 4; p 0.5 keeps 1.5 as 3; dropped elements are +0 even for
 * -1, inf and NaN (a selection, not a product). */
static void test_hand_values(void) {
  const float x[4] = {1.5f, -1.0f, INFINITY, NAN};
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_tensor *t = clmp_test_tensor(clmp_test_devs[d].ctx, CLMP_F32, 1, (size_t[1]){4}, x);
    clmp_tensor *y = clmp_test_tensor(clmp_test_devs[d].ctx, CLMP_F32, 1, (size_t[1]){4}, NULL);
    unsigned char *m = mask_on(d, 4, 0.75f, DROP_SEED);
    CU_ASSERT_EQUAL(clmp_dropout(t, 0.75f, DROP_SEED, y), CLMP_SUCCESS);
    float *g = clmp_test_read(y);
    for (int i = 0; i < 4; i++) {
      float want = m[i] ? x[i] * 4.0f : 0.0f;
      int same = isnan(want) ? isnan(g[i]) : memcmp(&g[i], &want, sizeof want) == 0;
      if (!same)
        printf("\n    %s: element %d: got %g, want %g", clmp_test_devs[d].id, i, (double)g[i],
               (double)want);
      CU_ASSERT(same);
    }
    free(g), free(m);
    clmp_tensor_free(t), clmp_tensor_free(y);
  }
}

/* (L(x + v) - L(x - v)) / 2 for L = <w, dropout(x)> on the reference against <dx, v>. */
static void test_finite_differences(void) {
  size_t n = 10007, shape[1] = {n};
  float *x = malloc(n * sizeof *x), *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w);
  float *xs = malloc(n * sizeof *xs);
  CU_ASSERT_FATAL(x && v && w && xs);
  clmp_test_uniform(x, n, -1, 1, SEED * 7), clmp_test_uniform(v, n, -1, 1, SEED * 11);
  clmp_test_uniform(w, n, -1, 1, SEED * 13);
  double l[2] = {0, 0}, noise = 0;
  for (int side = 0; side < 2; side++) {
    for (size_t i = 0; i < n; i++) xs[i] = x[i] + (side ? -v[i] : v[i]);
    clmp_tensor *t = clmp_test_tensor(clmp_test_ref_ctx(), CLMP_F32, 1, shape, xs);
    CU_ASSERT_EQUAL(clmp_dropout(t, 0.3f, DROP_SEED, t), CLMP_SUCCESS);
    float *y = clmp_test_read(t);
    for (size_t i = 0; i < n; i++)
      l[side] += (double)w[i] * y[i], noise += fabs((double)w[i] * y[i]) * U32 / 2;
    clmp_tensor_free(t), free(y);
  }
  double fd = (l[0] - l[1]) / 2;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_tensor *dy = clmp_test_tensor(clmp_test_devs[d].ctx, CLMP_F32, 1, shape, w);
    CU_ASSERT_EQUAL(clmp_dropout_backward(dy, 0.3f, DROP_SEED, dy), CLMP_SUCCESS);
    float *dx = clmp_test_read(dy);
    double got = 0, tol = noise;
    for (size_t i = 0; i < n; i++)
      got += (double)dx[i] * v[i], tol += fabs((double)dx[i] * v[i]) * U32;
    printf("\n    %-5.31s <dx, v> %.9g, difference %.9g (tolerance %.3g)", clmp_test_devs[d].id,
           got, fd, tol);
    CU_ASSERT(fabs(got - fd) <= tol);
    clmp_tensor_free(dy), free(dx);
  }
  free(x), free(v), free(w), free(xs);
}

/* --- bad arguments --------------------------------------------------------------------------- */

#define REFUSED(where, fn, what, want, call)                     \
  do {                                                           \
    hostile_clear_error();                                       \
    hostile_expect_refused(where, fn, what, NULL, (call), want); \
  } while (0)

static void bad_arguments_on(const char *where, clmp_ctx *ctx, clmp_ctx *other) {
  const float fill[16] = {77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77};
  clmp_tensor *x = clmp_test_tensor(ctx, CLMP_F32, 1, (size_t[1]){4}, fill);
  clmp_tensor *y = clmp_test_tensor(ctx, CLMP_BF16, 2, (size_t[2]){2, 2}, fill);
  clmp_tensor *y3 = clmp_test_tensor(ctx, CLMP_F16, 1, (size_t[1]){3}, fill);
  clmp_tensor *yi = clmp_test_tensor(ctx, CLMP_I32, 1, (size_t[1]){4}, fill);
  clmp_tensor *big = clmp_test_tensor(ctx, CLMP_F32, 1, (size_t[1]){8}, fill), *lo = NULL,
              *hi = NULL;
  clmp_tensor *xo = clmp_test_tensor(other, CLMP_F32, 1, (size_t[1]){4}, fill);
  CU_ASSERT_EQUAL(clmp_tensor_view(big, 0, CLMP_F32, 1, (size_t[1]){4}, &lo), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_view(big, 8, CLMP_F32, 1, (size_t[1]){4}, &hi), CLMP_SUCCESS);
  const char *f = "clmp_dropout", *b = "clmp_dropout_backward";
  REFUSED(where, f, "NULL x", CLMP_ERR_INVALID_ARGUMENT, clmp_dropout(NULL, 0.5f, 1, y));
  REFUSED(where, f, "NULL y", CLMP_ERR_INVALID_ARGUMENT, clmp_dropout(x, 0.5f, 1, NULL));
  REFUSED(where, f, "p 1", CLMP_ERR_INVALID_ARGUMENT, clmp_dropout(x, 1.0f, 1, y));
  REFUSED(where, f, "p -0.1", CLMP_ERR_INVALID_ARGUMENT, clmp_dropout(x, -0.1f, 1, y));
  REFUSED(where, f, "p NaN", CLMP_ERR_INVALID_ARGUMENT, clmp_dropout(x, NAN, 1, y));
  REFUSED(where, f, "p inf", CLMP_ERR_INVALID_ARGUMENT, clmp_dropout(x, INFINITY, 1, y));
  REFUSED(where, f, "i32 y", CLMP_ERR_INVALID_DTYPE, clmp_dropout(x, 0.5f, 1, yi));
  REFUSED(where, f, "3 elements for 4", CLMP_ERR_INVALID_SHAPE, clmp_dropout(x, 0.5f, 1, y3));
  REFUSED(where, f, "overlapping views", CLMP_ERR_INVALID_ARGUMENT, clmp_dropout(lo, 0.5f, 1, hi));
  REFUSED(where, f, "another context", CLMP_ERR_CONTEXT_MISMATCH, clmp_dropout(xo, 0.5f, 1, y));
  REFUSED(where, b, "NULL dy", CLMP_ERR_INVALID_ARGUMENT, clmp_dropout_backward(NULL, 0.5f, 1, y));
  REFUSED(where, b, "p 1", CLMP_ERR_INVALID_ARGUMENT, clmp_dropout_backward(x, 1.0f, 1, y));
  REFUSED(where, b, "i32 dy", CLMP_ERR_INVALID_DTYPE, clmp_dropout_backward(yi, 0.5f, 1, x));
  REFUSED(where, b, "overlapping views", CLMP_ERR_INVALID_ARGUMENT,
          clmp_dropout_backward(hi, 0.5f, 1, lo));
  clmp_tensor *const all[] = {x, y, y3, yi, big, xo};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) clmp_test_expect_all(all[i], 77);
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) clmp_tensor_free(all[i]);
  clmp_tensor_free(lo), clmp_tensor_free(hi);
}

static void test_bad_arguments(void) {
  clmp_ctx *other = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_ctx_create("ref", &other), CLMP_SUCCESS);
  for (int d = 0; d < clmp_test_ndevs; d++)
    bad_arguments_on(clmp_test_devs[d].id, clmp_test_devs[d].ctx, other);
  clmp_ctx_free(other);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 && clmp_test_ref_ctx() ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"dropout: devices vs reference, dtypes, sizes, p", test_dropout_vs_ref},
      {"the mask: the same on every device and the reference", test_mask_everywhere},
      {"the mask: its definition on splitmix64's outputs", test_mask_definition},
      {"the mask: keep rate, neighbours, seeds", test_mask_statistics},
      {"p 0 copies x exactly", test_p_zero_is_copy},
      {"backward: the forward's mask, in place too", test_backward_is_forward},
      {"hand-computed values", test_hand_values},
      {"backward: finite differences", test_finite_differences},
      {"bad arguments", test_bad_arguments},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"dropout", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
