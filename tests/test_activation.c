/* tests/test_activation.c: ReLU and GELU, forward and backward, on every OpenCL device against the
 * reference (every dtype combination, sizes 1, odd and ~1e6, views at offsets with untouched
 * padding, special values), hand-computed values, finite-difference checks of both backward
 * passes on every device and the reference, and the bad-argument statuses.
 *
 * Tolerances (f32 outputs; 16-bit outputs allow twice atol and rtol, or 1 ulp of the dtype: once
 * an fp32 error is below one ulp of the output, the two roundings land at most one value apart).
 * - ReLU forward and backward: exact (selections, decided on the bits; no arithmetic).
 * - GELU forward, x Phi(x) with Phi(x) = erfc(-x/sqrt 2)/2: OpenCL's erfc is within 16 ulp, the
 *   two products and the reference's rounding add 1.5 ulp: rtol 2^-18 (32 ulp of the worst
 *   mantissa). The rounding of -x/sqrt 2 perturbs Phi by x phi(x) |x| 2^-24 <= 0.3 * 2^-24
 *   absolutely: atol 2^-24.
 * - GELU backward, dy (Phi(x) + x phi(x)): Phi as above, exp within 3 ulp, products and the sum:
 *   |error of GELU'| <= 20 ulp of 1.13 (max |Phi| + |x phi|) < 2^-18, times |dy|: atol 2^-18 |dy|
 *   per element, plus rtol 2^-23 for the final product.
 * - Finite differences: (f(x+h) - f(x-h)) / (2h) in double from the device's own f32 forward
 *   values, h = 2^-5: truncation <= max|GELU'''| h^2 / 6 (max |GELU'''| = 0.78), plus the two
 *   forward errors (the GELU forward tolerance) over 2h, plus the backward tolerance. ReLU, away
 *   from the kink, differentiates exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define GELU_F_ATOL 0x1p-24 /* see the header comment for the derivations */
#define GELU_F_RTOL 0x1p-18
#define GELU_B_ATOL 0x1p-18 /* times |dy| */
#define GELU_B_RTOL 0x1p-23
#define GELU_D3_MAX 0.78 /* max |GELU'''(x)| = max |x phi(x) (x^2 - 4)| */
#define FD_H        0x1p-5
#define FD_X_MAX    4.0f /* finite-difference points are uniform in [-FD_X_MAX, FD_X_MAX) */
#define FD_N        4001
#define SEED_X      0xac7100001ull
#define SEED_DY     0xac7100002ull
#define X_RANGE     6.0f /* random x are uniform in [-X_RANGE, X_RANGE) */
#define DY_RANGE    2.0f /* random dy are uniform in [-DY_RANGE, DY_RANGE) */
#define DY_SHIFT    23   /* dy's special values sit after x's, where x is an ordinary value */

static const clmp_dtype FLOATS[] = {CLMP_F32, CLMP_F16, CLMP_BF16};
#define N_FLOATS 3

static const struct {
  size_t n, pad;
} SHAPES[] = {{1, 0}, {3, 2}, {63, 1}, {65, 0}, {257, 5}, {4099, 3}, {1000003, 7}};
#define N_SHAPES (sizeof SHAPES / sizeof *SHAPES)

/* As fp32, converted to the tensor's dtype on the way in. */
static const float SPECIALS[] = {0.0f,   -0.0f, 1e-40f, -1e-40f,  6e-8f,     0x1p-14f, 65504,
                                 -65504, 65520, 7e4f,   -7e4f,    1e30f,     -1e30f,   3e38f,
                                 -3e38f, 30.0f, -30.0f, INFINITY, -INFINITY, NAN,      -NAN};
#define N_SPECIALS (sizeof SPECIALS / sizeof *SPECIALS)

typedef enum act_kind { ACT_RELU, ACT_GELU } act_kind;
static const char *const ACT_NAMES[] = {"relu", "gelu"};

static float *make_inputs(size_t n, float range, uint64_t seed, size_t shift) {
  float *v = malloc(n * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  clmp_test_uniform(v, n, -range, range, seed);
  for (size_t k = 0; k < N_SPECIALS && k + shift < n; k++) v[k + shift] = SPECIALS[k];
  return v;
}

/* The stated tolerance of an op for output dtype d, from its f32 atol and rtol. */
static clmp__tolerance tolerance(clmp_dtype d, double atol, double rtol) {
  clmp__tolerance t = {atol, rtol, 0};
  if (d != CLMP_F32) t.atol *= 2, t.rtol *= 2, t.max_ulp = atol || rtol ? 1 : 0;
  return t;
}

/* An element's error over its tolerance (<= 1 passes): 0 when both are NaN or equal, inf when
 * one is NaN or infinite and the other differs; else the smaller of |got - want| over
 * tol->atol * scale + tol->rtol * |want| and the ULP distance in d over tol->max_ulp. */
static double element_ratio(clmp_dtype d, float got, float want, float scale,
                            const clmp__tolerance *tol) {
  if ((isnan(got) && isnan(want)) || got == want) return 0;
  if (!isfinite(got) || !isfinite(want)) return INFINITY;
  double err = fabs((double)got - want);
  double bound = tol->atol * fabs(scale) + tol->rtol * fabs(want);
  double r_abs = bound > 0 ? err / bound : INFINITY;
  double r_ulp = tol->max_ulp > 0 ? clmp__ulp_distance(d, got, want) / tol->max_ulp : INFINITY;
  return r_abs < r_ulp ? r_abs : r_ulp;
}

/* Asserts that every element of got is within tolerance of want, the absolute part scaled by
 * scale[i] (backward passes: |dy|), and prints the worst error/tolerance ratio. */
static void expect_close_scaled(const char *what, clmp_dtype d, const float *got, const float *want,
                                const float *scale, size_t n, const clmp__tolerance *tol) {
  size_t failed = 0, worst = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < n; i++) {
    double r = element_ratio(d, got[i], want[i], scale[i], tol);
    if (r > worst_ratio || (r > 1 && !failed)) worst_ratio = r, worst = i;
    failed += !(r <= 1);
  }
  printf("\n    %s: worst error/tolerance %.3g, %zu/%zu failed", what, worst_ratio, failed, n);
  if (failed)
    printf(" (element %zu: got %.9g, want %.9g, dy %.9g)", worst, (double)got[worst],
           (double)want[worst], (double)scale[worst]);
  CU_ASSERT_EQUAL(failed, 0);
}

/* --- device against reference ---------------------------------------------------------------- */

static clmp_status act_forward(act_kind act, const clmp_tensor *x, clmp_tensor *y) {
  return act == ACT_RELU ? clmp_relu(x, y) : clmp_gelu(x, y);
}

static clmp_status act_backward(act_kind act, const clmp_tensor *x, const clmp_tensor *dy,
                                clmp_tensor *dx) {
  return act == ACT_RELU ? clmp_relu_backward(x, dy, dx) : clmp_gelu_backward(x, dy, dx);
}

static void forward_case(act_kind act, clmp_dtype xd, clmp_dtype yd, size_t n, size_t pad) {
  float *xv = make_inputs(n, X_RANGE, SEED_X + n, 0);
  clmp_test_view rx = clmp_test_view_make(clmp_test_ref_ctx(), xd, 1, (size_t[1]){n}, pad, xv);
  clmp_test_view ry = clmp_test_view_make(clmp_test_ref_ctx(), yd, 1, (size_t[1]){n}, pad, NULL);
  CU_ASSERT_EQUAL(act_forward(act, rx.t, ry.t), CLMP_SUCCESS);
  clmp__tolerance tol =
      act == ACT_RELU ? tolerance(yd, 0, 0) : tolerance(yd, GELU_F_ATOL, GELU_F_RTOL);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (clmp_test_is_ref(&clmp_test_devs[d])) continue;
    clmp_test_view x = clmp_test_view_make(clmp_test_devs[d].ctx, xd, 1, (size_t[1]){n}, pad, xv);
    clmp_test_view y = clmp_test_view_make(clmp_test_devs[d].ctx, yd, 1, (size_t[1]){n}, pad, NULL);
    CU_ASSERT_EQUAL(act_forward(act, x.t, y.t), CLMP_SUCCESS);
    char what[128];
    snprintf(what, sizeof what, "%-5.31s %s(%s -> %s) n=%zu", clmp_test_devs[d].id, ACT_NAMES[act],
             clmp_dtype_name(xd), clmp_dtype_name(yd), n);
    clmp_test_expect_close(what, y.t, ry.t, &tol);
    clmp_test_expect_guard(what, &y);
    clmp_test_view_free(&x), clmp_test_view_free(&y);
  }
  clmp_test_view_free(&rx), clmp_test_view_free(&ry);
  free(xv);
}

static void test_forward_vs_ref(void) {
  for (int act = ACT_RELU; act <= ACT_GELU; act++)
    for (int i = 0; i < N_FLOATS; i++)
      for (int j = 0; j < N_FLOATS; j++)
        for (size_t s = 0; s < N_SHAPES; s++)
          forward_case((act_kind)act, FLOATS[i], FLOATS[j], SHAPES[s].n, SHAPES[s].pad);
}

/* Runs the backward pass on one OpenCL device and compares it with the reference's dx. */
static void backward_on(const clmp_test_device *dev, act_kind act, const clmp_dtype dt[3], size_t n,
                        size_t pad, const float *xv, const float *dyv, const float *want) {
  clmp_test_view x = clmp_test_view_make(dev->ctx, dt[0], 1, (size_t[1]){n}, pad, xv),
                 dy = clmp_test_view_make(dev->ctx, dt[1], 1, (size_t[1]){n}, pad, dyv);
  clmp_test_view dx = clmp_test_view_make(dev->ctx, dt[2], 1, (size_t[1]){n}, pad, NULL);
  CU_ASSERT_EQUAL(act_backward(act, x.t, dy.t, dx.t), CLMP_SUCCESS);
  float *got = clmp_test_read(dx.t), *scale = clmp_test_read(dy.t); /* dy as stored */
  char what[128];
  snprintf(what, sizeof what, "%-5.31s %s_backward(%s, %s -> %s) n=%zu", dev->id, ACT_NAMES[act],
           clmp_dtype_name(dt[0]), clmp_dtype_name(dt[1]), clmp_dtype_name(dt[2]), n);
  clmp__tolerance tol =
      act == ACT_RELU ? tolerance(dt[2], 0, 0) : tolerance(dt[2], GELU_B_ATOL, GELU_B_RTOL);
  expect_close_scaled(what, dt[2], got, want, scale, n, &tol);
  clmp_test_expect_guard(what, &dx);
  free(got), free(scale);
  clmp_test_view_free(&x), clmp_test_view_free(&dy), clmp_test_view_free(&dx);
}

static void backward_case(act_kind act, const clmp_dtype dt[3], size_t n, size_t pad) {
  float *xv = make_inputs(n, X_RANGE, SEED_X + n, 0);
  float *dyv = make_inputs(n, DY_RANGE, SEED_DY + n, DY_SHIFT);
  clmp_test_view rx = clmp_test_view_make(clmp_test_ref_ctx(), dt[0], 1, (size_t[1]){n}, pad, xv);
  clmp_test_view rdy = clmp_test_view_make(clmp_test_ref_ctx(), dt[1], 1, (size_t[1]){n}, pad, dyv);
  clmp_test_view rdx =
      clmp_test_view_make(clmp_test_ref_ctx(), dt[2], 1, (size_t[1]){n}, pad, NULL);
  CU_ASSERT_EQUAL(act_backward(act, rx.t, rdy.t, rdx.t), CLMP_SUCCESS);
  float *want = clmp_test_read(rdx.t);
  for (int d = 0; d < clmp_test_ndevs; d++)
    if (!clmp_test_is_ref(&clmp_test_devs[d]))
      backward_on(&clmp_test_devs[d], act, dt, n, pad, xv, dyv, want);
  free(want);
  clmp_test_view_free(&rx), clmp_test_view_free(&rdy), clmp_test_view_free(&rdx);
  free(xv), free(dyv);
}

static void test_backward_vs_ref(void) {
  for (int act = ACT_RELU; act <= ACT_GELU; act++)
    for (int i = 0; i < N_FLOATS * N_FLOATS * N_FLOATS; i++) {
      clmp_dtype dt[3] = {FLOATS[i / 9], FLOATS[i / 3 % 3], FLOATS[i % 3]};
      for (size_t s = 0; s < N_SHAPES; s++)
        backward_case((act_kind)act, dt, SHAPES[s].n, SHAPES[s].pad);
    }
}

/* --- hand-computed values, on every device including the reference ------------------------- */

/* Runs op on f32 tensors of n elements (in place when dy is NULL for forward, or dx is dy) and
 * returns the result. */
static float *run_f32(const clmp_test_device *dev, act_kind act, int backward, const float *x,
                      const float *dy, size_t n, int in_place) {
  size_t shape[1] = {n};
  clmp_tensor *tx = clmp_test_tensor(dev->ctx, CLMP_F32, 1, shape, x);
  clmp_tensor *tdy = backward ? clmp_test_tensor(dev->ctx, CLMP_F32, 1, shape, dy) : NULL;
  clmp_tensor *in = backward ? tdy : tx;
  clmp_tensor *out = in_place ? in : clmp_test_tensor(dev->ctx, CLMP_F32, 1, shape, NULL);
  clmp_status st = backward ? act_backward(act, tx, tdy, out) : act_forward(act, tx, out);
  CU_ASSERT_EQUAL(st, CLMP_SUCCESS);
  float *got = clmp_test_read(out);
  if (!in_place) clmp_tensor_free(out);
  clmp_tensor_free(tdy), clmp_tensor_free(tx);
  return got;
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* Exact expectations: equal bits (so the sign of zero counts), or both NaN. */
static void expect_bits(const char *what, const float *got, const float *want, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int ok = isnan(want[i]) ? isnan(got[i]) : f32_bits(got[i]) == f32_bits(want[i]);
    if (!ok) printf("\n    %s[%zu]: got %.9g, want %.9g", what, i, (double)got[i], (double)want[i]);
    CU_ASSERT(ok);
  }
}

static void test_relu_values(void) {
  const float x[] = {-0.0f, 0.0f, -1, 2.5f, 1e-40f, -1e-40f, INFINITY, -INFINITY, NAN};
  const float y[] = {0.0f, 0.0f, 0.0f, 2.5f, 1e-40f, 0.0f, INFINITY, 0.0f, NAN}; /* +0 only */
  const float bx[] = {-1, 0.0f, -0.0f, 1e-40f, 2, NAN, INFINITY, -INFINITY, 3};
  const float bdy[] = {5, 5, 5, 5, NAN, 5, 7, NAN, -INFINITY};
  const float bdx[] = {0.0f, 0.0f, 0.0f, 5, NAN, 0.0f, 7, 0.0f, -INFINITY};
  for (int k = 0; k < clmp_test_ndevs; k++) {
    char what[64];
    snprintf(what, sizeof what, "%.31s relu", clmp_test_devs[k].id);
    for (int in_place = 0; in_place <= 1; in_place++) {
      float *got = run_f32(&clmp_test_devs[k], ACT_RELU, 0, x, NULL, 9, in_place);
      expect_bits(what, got, y, 9);
      free(got);
      got = run_f32(&clmp_test_devs[k], ACT_RELU, 1, bx, bdy, 9, in_place);
      expect_bits(what, got, bdx, 9);
      free(got);
    }
  }
}

/* Asserts |got - want| <= atol + rtol |want| (or equal, or both NaN) for hand-computed values. */
static void expect_near(const char *what, const float *got, const double *want, size_t n,
                        double atol, double rtol) {
  for (size_t i = 0; i < n; i++) {
    double g = got[i], w = want[i];
    int ok = (isnan(g) && isnan(w)) || g == w || fabs(g - w) <= atol + rtol * fabs(w);
    if (!ok) printf("\n    %s[%zu]: got %.9g, want %.17g", what, i, g, w);
    CU_ASSERT(ok);
  }
}

/* x, x Phi(x) and Phi(x) + x phi(x), computed by hand (Python's math.erfc, double). */
static const float GELU_X[] = {1, -1, 2, -3, 0.5f, -0.7517915f, 30, -30, INFINITY, NAN};
static const double GELU_Y[] = {0.8413447460685429,
                                -0.15865525393145707,
                                1.9544997361036416,
                                -0.004049694094890287,
                                0.34573123063700656,
                                -0.16997120747990355,
                                30.0,
                                0.0,
                                INFINITY,
                                NAN};
static const double GELU_G[] = {1.0833154705876864,
                                -0.08331547058768629,
                                1.085231801078197,
                                -0.011945647204183927,
                                0.8674951246561629,
                                1.0655124949021655e-08,
                                1.0,
                                0.0,
                                1.0,
                                NAN};
#define N_GELU (sizeof GELU_X / sizeof *GELU_X)

/* gelu(+0) = +0 and gelu(-0) = -0 exactly, gelu(-inf) = -0 (the limit); GELU'(+-0) = 1/2. */
static void gelu_zero_checks(const clmp_test_device *dev) {
  const float zeros[] = {0.0f, -0.0f, -INFINITY, -INFINITY, 0.0f}, ones[] = {1, 1, 1, 1, 1};
  float *got = run_f32(dev, ACT_GELU, 0, zeros, NULL, 5, 1); /* y is x */
  CU_ASSERT(f32_bits(got[0]) == 0 && f32_bits(got[1]) == 0x80000000u);
  CU_ASSERT(f32_bits(got[2]) == 0x80000000u && f32_bits(got[4]) == 0);
  free(got);
  got = run_f32(dev, ACT_GELU, 1, zeros, ones, 5, 0);
  CU_ASSERT(got[0] == 0.5f && got[1] == 0.5f && got[2] == 0.0f);
  free(got);
}

static void test_gelu_values(void) {
  const float ones[N_GELU] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  for (int k = 0; k < clmp_test_ndevs; k++) {
    const clmp_test_device *dev = &clmp_test_devs[k];
    char what[64];
    snprintf(what, sizeof what, "%.31s gelu", dev->id);
    float *got = run_f32(dev, ACT_GELU, 0, GELU_X, NULL, N_GELU, 0);
    expect_near(what, got, GELU_Y, N_GELU, GELU_F_ATOL, GELU_F_RTOL);
    free(got);
    got = run_f32(dev, ACT_GELU, 1, GELU_X, ones, N_GELU, 1); /* dx is dy */
    expect_near(what, got, GELU_G, N_GELU, GELU_B_ATOL, GELU_B_RTOL);
    free(got);
    gelu_zero_checks(dev);
  }
}

/* --- finite differences ------------------------------------------------------------------- */

/* The points: x uniform in [-FD_X_MAX, FD_X_MAX), for ReLU at least 2h from the kink. */
static void fd_points(act_kind act, float *x, float *xp, float *xm) {
  clmp_test_uniform(x, FD_N, -FD_X_MAX, FD_X_MAX, SEED_X ^ FD_N);
  for (size_t i = 0; i < FD_N; i++) {
    if (act == ACT_RELU && fabsf(x[i]) < 2 * FD_H) x[i] = copysignf(2 * FD_H, x[i]) + x[i];
    xp[i] = x[i] + (float)FD_H, xm[i] = x[i] - (float)FD_H;
  }
}

/* The finite-difference tolerance at point i (0 for ReLU, which differentiates exactly). */
static double fd_tolerance(act_kind act, double x, double xp, double xm, double yp, double ym,
                           double g) {
  if (act == ACT_RELU) return 0;
  double h = (xp - xm) / 2, mid_shift = fabs((xp + xm) / 2 - x);
  double forward = 2 * GELU_F_ATOL + GELU_F_RTOL * (fabs(yp) + fabs(ym));
  double d2_max = 0.8; /* max |GELU''(x)| = max phi(x) |2 - x^2| = 2 phi(0) */
  return GELU_D3_MAX * h * h / 6 + forward / (xp - xm) + d2_max * mid_shift + GELU_B_ATOL +
         GELU_B_RTOL * fabs(g);
}

/* Forward of n f32 values on the device, as a malloc'ed array. */
static float *forward_f32(clmp_ctx *ctx, act_kind act, const float *x, size_t n) {
  size_t shape[1] = {n};
  clmp_tensor *tx = clmp_test_tensor(ctx, CLMP_F32, 1, shape, x);
  clmp_tensor *ty = clmp_test_tensor(ctx, CLMP_F32, 1, shape, NULL);
  CU_ASSERT_EQUAL(act_forward(act, tx, ty), CLMP_SUCCESS);
  float *y = clmp_test_read(ty);
  clmp_tensor_free(tx), clmp_tensor_free(ty);
  return y;
}

static void fd_check(const clmp_test_device *dev, act_kind act) {
  static float x[FD_N], xp[FD_N], xm[FD_N], ones[FD_N];
  fd_points(act, x, xp, xm);
  for (size_t i = 0; i < FD_N; i++) ones[i] = 1;
  float *yp = forward_f32(dev->ctx, act, xp, FD_N), *ym = forward_f32(dev->ctx, act, xm, FD_N);
  float *g = run_f32(dev, act, 1, x, ones, FD_N, 0);
  size_t failed = 0, worst = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < FD_N; i++) {
    double fd = ((double)yp[i] - ym[i]) / ((double)xp[i] - xm[i]);
    double tol = fd_tolerance(act, x[i], xp[i], xm[i], yp[i], ym[i], g[i]);
    double err = fabs(fd - g[i]), ratio = err <= tol ? (tol > 0 ? err / tol : 0) : INFINITY;
    if (ratio > worst_ratio || (err > tol && !failed)) worst_ratio = ratio, worst = i;
    failed += !(err <= tol);
  }
  printf("\n    %-5.31s %s_backward vs central differences (h 2^-5, %d points): worst "
         "error/tolerance %.3g, %zu failed",
         dev->id, ACT_NAMES[act], FD_N, worst_ratio, failed);
  if (failed) printf(" (x %.9g: backward %.9g)", (double)x[worst], (double)g[worst]);
  CU_ASSERT_EQUAL(failed, 0);
  free(yp), free(ym), free(g);
}

static void test_finite_differences(void) {
  for (int k = 0; k < clmp_test_ndevs; k++) {
    fd_check(&clmp_test_devs[k], ACT_RELU);
    fd_check(&clmp_test_devs[k], ACT_GELU);
  }
}

/* --- bad arguments ---------------------------------------------------------------------------- */

static void bad_arguments_on(clmp_ctx *ctx, act_kind act) {
  size_t four[1] = {4}, five[1] = {5};
  const float ones[5] = {1, 1, 1, 1, 1};
  clmp_tensor *x = clmp_test_tensor(ctx, CLMP_F32, 1, four, ones);
  clmp_tensor *y = clmp_test_tensor(ctx, CLMP_BF16, 1, four, ones);
  clmp_tensor *y5 = clmp_test_tensor(ctx, CLMP_F16, 1, five, ones);
  clmp_tensor *xi = clmp_test_tensor(ctx, CLMP_I32, 1, four, ones);
  CU_ASSERT_EQUAL(act_forward(act, NULL, y), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(act_forward(act, x, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(act_forward(act, xi, y), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(act_forward(act, x, xi), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(act_forward(act, x, y5), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(act_backward(act, NULL, x, y), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(act_backward(act, x, NULL, y), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(act_backward(act, x, x, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(act_backward(act, xi, x, y), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(act_backward(act, x, xi, y), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(act_backward(act, x, x, xi), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(act_backward(act, x, y5, y), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(act_backward(act, x, x, y5), CLMP_ERR_INVALID_SHAPE);
  clmp_test_expect_all(y, 1), clmp_test_expect_all(y5, 1), clmp_test_expect_all(xi, 1);
  clmp_tensor_free(x), clmp_tensor_free(y), clmp_tensor_free(y5), clmp_tensor_free(xi);
}

static void test_bad_arguments(void) {
  for (int k = 0; k < clmp_test_ndevs; k++) {
    bad_arguments_on(clmp_test_devs[k].ctx, ACT_RELU);
    bad_arguments_on(clmp_test_devs[k].ctx, ACT_GELU);
  }
}

/* Tensors of two contexts never mix. */
static void test_context_mismatch(void) {
  if (clmp_test_ndevs < 2) return;
  size_t four[1] = {4};
  const float ones[4] = {1, 1, 1, 1};
  clmp_tensor *a = clmp_test_tensor(clmp_test_devs[0].ctx, CLMP_F32, 1, four, ones);
  clmp_tensor *b = clmp_test_tensor(clmp_test_devs[1].ctx, CLMP_F32, 1, four, ones);
  for (int act = ACT_RELU; act <= ACT_GELU; act++) {
    CU_ASSERT_EQUAL(act_forward((act_kind)act, a, b), CLMP_ERR_CONTEXT_MISMATCH);
    CU_ASSERT_EQUAL(act_backward((act_kind)act, a, a, b), CLMP_ERR_CONTEXT_MISMATCH);
    CU_ASSERT_EQUAL(act_backward((act_kind)act, a, b, a), CLMP_ERR_CONTEXT_MISMATCH);
  }
  clmp_test_expect_all(a, 1), clmp_test_expect_all(b, 1);
  clmp_tensor_free(a), clmp_tensor_free(b);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 && clmp_test_ref_ctx() ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"forward: devices vs reference, all dtypes and shapes", test_forward_vs_ref},
      {"backward: devices vs reference, all dtypes and shapes", test_backward_vs_ref},
      {"relu: exact values, signs of zero, NaN, in place", test_relu_values},
      {"gelu: hand-computed values and limits", test_gelu_values},
      {"backward passes vs central differences", test_finite_differences},
      {"bad arguments", test_bad_arguments},
      {"tensors of two contexts", test_context_mismatch},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"activation", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
