/* tests/test_elementwise.c: clmp_fill, clmp_axpby, clmp_scale and clmp_add on every OpenCL device
 * against the reference: every dtype combination, sizes 1, odd, not a multiple of any work-group
 * size and ~1e6, views at offsets (the padding around a view must stay untouched), special values;
 * then hand-computed properties, fills of i32 and u8 tensors, and the bad-argument statuses.
 *
 * Tolerances. fill: exact (one conversion of one value). axpby: exact too: y = a*x + b*y is two
 * fp32 products and an fp32 sum, each correctly rounded (OpenCL requires + and * to be, and the
 * kernel forbids contraction into an fma), then one rounding to y's dtype; the only allowance,
 * FTZ_ATOL, is for devices that flush fp32 subnormals (CL_FP_DENORM is optional; llvmpipe does
 * not report it): each product and the sum may then lose less than 2^-126 times |a|, |b|
 * (<= 2) and 1. add: exact likewise (one fp32 sum, one rounding), with the same allowance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define FTZ_ATOL 0x1p-123 /* 8 * 2^-126 > (|a| + |b| + 1) * 2^-126 for |a|, |b| <= 2 */
#define SEED_X   0x5eedc0de01ull
#define SEED_Y   0x5eedc0de02ull
#define RAND_LO  (-2.0f) /* random inputs are uniform in [RAND_LO, RAND_HI) */
#define RAND_HI  2.0f
#define Y_SHIFT  5 /* y's special values sit this many places after x's */

static const clmp__tolerance EXACT = {0, 0, 0};
static const clmp__tolerance AXPBY_TOL = {FTZ_ATOL, 0, 0};

static const clmp_dtype FLOATS[] = {CLMP_F32, CLMP_F16, CLMP_BF16};
#define N_FLOATS 3

/* Sizes and view offsets: 1, odd, around and between work-group multiples, and ~1e6. */
static const struct {
  size_t n, pad;
} SHAPES[] = {{1, 0}, {2, 3}, {63, 1}, {65, 0}, {257, 5}, {4099, 2}, {1000003, 7}};
#define N_SHAPES (sizeof SHAPES / sizeof *SHAPES)

/* As fp32; each is converted to the tensor's dtype on the way in (65520 and 7e4 overflow f16,
 * 1e-40 is an fp32 subnormal, 6e-8 an f16 subnormal, 0x1p-14 f16's smallest normal). */
static const float SPECIALS[] = {0.0f,   -0.0f, 1e-40f,   -1e-40f,   6e-8f,  0x1p-14f, 65504,
                                 -65504, 65520, 7e4f,     1e30f,     -3e38f, 3e38f,    1.0f,
                                 -1.0f,  0.1f,  INFINITY, -INFINITY, NAN,    -NAN};
#define N_SPECIALS (sizeof SPECIALS / sizeof *SPECIALS)

/* n seeded uniform values with the special values from position shift on (cyclically). */
static float *make_inputs(size_t n, uint64_t seed, size_t shift) {
  float *v = malloc(n * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  clmp_test_uniform(v, n, RAND_LO, RAND_HI, seed);
  for (size_t k = 0; k < N_SPECIALS && k < n; k++) v[(k + shift) % n] = SPECIALS[k];
  return v;
}

/* --- device against reference ---------------------------------------------------------------- */

/* y = a x + b y on the reference, then on every OpenCL device, compared. */
static void axpby_case(clmp_dtype xd, clmp_dtype yd, size_t n, size_t pad, float a, float b) {
  float *xv = make_inputs(n, SEED_X + n, 0), *yv = make_inputs(n, SEED_Y + n, Y_SHIFT);
  clmp_test_view rx = clmp_test_view_make(clmp_test_ref_ctx(), xd, 1, (size_t[1]){n}, pad, xv);
  clmp_test_view ry = clmp_test_view_make(clmp_test_ref_ctx(), yd, 1, (size_t[1]){n}, pad, yv);
  CU_ASSERT_EQUAL(clmp_axpby(a, rx.t, b, ry.t), CLMP_SUCCESS);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (clmp_test_is_ref(&clmp_test_devs[d])) continue;
    clmp_test_view x = clmp_test_view_make(clmp_test_devs[d].ctx, xd, 1, (size_t[1]){n}, pad, xv);
    clmp_test_view y = clmp_test_view_make(clmp_test_devs[d].ctx, yd, 1, (size_t[1]){n}, pad, yv);
    CU_ASSERT_EQUAL(clmp_axpby(a, x.t, b, y.t), CLMP_SUCCESS);
    char what[128];
    snprintf(what, sizeof what, "%-5.31s axpby(%g, %s, %g, %s) n=%zu", clmp_test_devs[d].id,
             (double)a, clmp_dtype_name(xd), (double)b, clmp_dtype_name(yd), n);
    clmp_test_expect_close(what, y.t, ry.t, &AXPBY_TOL);
    clmp_test_expect_guard(what, &y);
    clmp_test_view_free(&x), clmp_test_view_free(&y);
  }
  clmp_test_view_free(&rx), clmp_test_view_free(&ry);
  free(xv), free(yv);
}

static void test_axpby_vs_ref(void) {
  for (int i = 0; i < N_FLOATS; i++)
    for (int j = 0; j < N_FLOATS; j++)
      for (size_t s = 0; s < N_SHAPES; s++) {
        axpby_case(FLOATS[i], FLOATS[j], SHAPES[s].n, SHAPES[s].pad, 1.5f, -0.75f);
        axpby_case(FLOATS[i], FLOATS[j], SHAPES[s].n, SHAPES[s].pad, -2.0f, 0.0f);
      }
}

/* clmp_scale in place (x is y), on the reference and every device, compared. */
static void scale_in_place_case(clmp_dtype d, size_t n, size_t pad) {
  float *v = make_inputs(n, SEED_X ^ n, 0);
  clmp_test_view r = clmp_test_view_make(clmp_test_ref_ctx(), d, 1, (size_t[1]){n}, pad, v);
  CU_ASSERT_EQUAL(clmp_scale(-0.5f, r.t, r.t), CLMP_SUCCESS);
  for (int k = 0; k < clmp_test_ndevs; k++) {
    if (clmp_test_is_ref(&clmp_test_devs[k])) continue;
    clmp_test_view t = clmp_test_view_make(clmp_test_devs[k].ctx, d, 1, (size_t[1]){n}, pad, v);
    CU_ASSERT_EQUAL(clmp_scale(-0.5f, t.t, t.t), CLMP_SUCCESS);
    char what[128];
    snprintf(what, sizeof what, "%-5.31s scale(-0.5, y, y) %s n=%zu", clmp_test_devs[k].id,
             clmp_dtype_name(d), n);
    clmp_test_expect_close(what, t.t, r.t, &AXPBY_TOL);
    clmp_test_expect_guard(what, &t);
    clmp_test_view_free(&t);
  }
  clmp_test_view_free(&r);
  free(v);
}

static void test_scale_in_place(void) {
  for (int i = 0; i < N_FLOATS; i++)
    for (size_t s = 0; s < N_SHAPES; s++)
      scale_in_place_case(FLOATS[i], SHAPES[s].n, SHAPES[s].pad);
}

/* fill on the reference and every device, compared. */
static void fill_case(clmp_dtype d, size_t n, size_t pad, float value) {
  clmp_test_view r = clmp_test_view_make(clmp_test_ref_ctx(), d, 1, (size_t[1]){n}, pad, NULL);
  CU_ASSERT_EQUAL(clmp_fill(r.t, value), CLMP_SUCCESS);
  for (int k = 0; k < clmp_test_ndevs; k++) {
    if (clmp_test_is_ref(&clmp_test_devs[k])) continue;
    clmp_test_view t = clmp_test_view_make(clmp_test_devs[k].ctx, d, 1, (size_t[1]){n}, pad, NULL);
    CU_ASSERT_EQUAL(clmp_fill(t.t, value), CLMP_SUCCESS);
    char what[128];
    snprintf(what, sizeof what, "%-5.31s fill(%s, %g) n=%zu", clmp_test_devs[k].id,
             clmp_dtype_name(d), (double)value, n);
    clmp_test_expect_close(what, t.t, r.t, &EXACT);
    clmp_test_expect_guard(what, &t);
    clmp_test_view_free(&t);
  }
  clmp_test_view_free(&r);
}

static void test_fill_vs_ref(void) {
  static const float values[] = {1.5f, -0.0f, 0.1f, 65520, 1e-40f, -INFINITY, NAN};
  static const float int_values[] = {-7.9f, 0.5f, 255.5f, 2147483520.0f, -2147483648.0f};
  for (size_t s = 0; s < N_SHAPES; s++) {
    for (int i = 0; i < N_FLOATS; i++)
      for (size_t v = 0; v < sizeof values / sizeof *values; v++)
        fill_case(FLOATS[i], SHAPES[s].n, SHAPES[s].pad, values[v]);
    for (size_t v = 0; v < sizeof int_values / sizeof *int_values; v++)
      fill_case(CLMP_I32, SHAPES[s].n, SHAPES[s].pad, int_values[v]);
    fill_case(CLMP_U8, SHAPES[s].n, SHAPES[s].pad, 255.5f);
    fill_case(CLMP_U8, SHAPES[s].n, SHAPES[s].pad, -0.5f);
  }
}

/* --- hand-computed properties, on every device including the reference --------------------- */

/* Element i of a raw array of a float dtype d, as fp32. */
static float value_of(clmp_dtype d, const void *raw, size_t i) {
  float f;
  if (d == CLMP_F16) return clmp_f16_to_f32(((const uint16_t *)raw)[i]);
  if (d == CLMP_BF16) return clmp_bf16_to_f32(((const uint16_t *)raw)[i]);
  memcpy(&f, (const float *)raw + i, sizeof f);
  return f;
}

/* The bits of element i of a raw array of dtype d. */
static uint32_t bits_of(clmp_dtype d, const void *raw, size_t i) {
  if (clmp_dtype_size(d) == 2) return ((const uint16_t *)raw)[i];
  if (d == CLMP_U8) return ((const uint8_t *)raw)[i];
  uint32_t u;
  memcpy(&u, (const uint32_t *)raw + i, sizeof u);
  return u;
}

/* The bits value has in dtype d, by the public conversions (integers truncated). */
static uint32_t expected_bits(clmp_dtype d, float value) {
  uint32_t u;
  switch (d) {
  case CLMP_F16: return clmp_f32_to_f16(value);
  case CLMP_BF16: return clmp_f32_to_bf16(value);
  case CLMP_I32: return (uint32_t)(int32_t)value;
  case CLMP_U8: return (uint8_t)value;
  default: memcpy(&u, &value, sizeof u); return u;
  }
}

/* Every element of a fill of n elements holds exactly the bits of value in d (NaN: any NaN). */
static void fill_expect(const clmp_test_device *dev, clmp_dtype d, size_t n, float value) {
  size_t shape[1] = {n};
  clmp_tensor *t = clmp_test_tensor(dev->ctx, d, 1, shape, NULL);
  void *raw = malloc(n * clmp_dtype_size(d));
  CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
  CU_ASSERT_EQUAL(clmp_fill(t, value), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_read(t, d, raw, n), CLMP_SUCCESS);
  uint32_t want = expected_bits(d, value);
  size_t bad = 0;
  for (size_t i = 0; i < n; i++)
    bad += isnan(value) ? !isnan(value_of(d, raw, i)) : bits_of(d, raw, i) != want;
  printf("\n    %-5s fill(%s, %g) n=%zu: want bits 0x%x, %zu differ", dev->id, clmp_dtype_name(d),
         (double)value, n, want, bad);
  CU_ASSERT_EQUAL(bad, 0);
  free(raw);
  clmp_tensor_free(t);
}

static void test_fill_values(void) {
  for (int k = 0; k < clmp_test_ndevs; k++) {
    const clmp_test_device *dev = &clmp_test_devs[k];
    fill_expect(dev, CLMP_F32, 5, 1.5f);
    fill_expect(dev, CLMP_F32, 5, -0.0f);  /* sign kept: 0x80000000 */
    fill_expect(dev, CLMP_F32, 5, 1e-40f); /* a subnormal is stored, not flushed */
    fill_expect(dev, CLMP_F32, 5, INFINITY);
    fill_expect(dev, CLMP_F32, 5, NAN);
    fill_expect(dev, CLMP_F16, 5, 65504); /* f16 max, 0x7bff */
    fill_expect(dev, CLMP_F16, 5, 65520); /* rounds to inf, 0x7c00 */
    fill_expect(dev, CLMP_F16, 5, 6e-8f); /* the smallest subnormal, 0x0001 */
    fill_expect(dev, CLMP_F16, 5, 0.1f);  /* rounded to nearest even, 0x2e66 */
    fill_expect(dev, CLMP_F16, 5, -0.0f); /* 0x8000 */
    fill_expect(dev, CLMP_F16, 5, NAN);
    fill_expect(dev, CLMP_BF16, 5, 0.1f); /* 0x3dcd */
    fill_expect(dev, CLMP_BF16, 5, 1e-40f);
    fill_expect(dev, CLMP_BF16, 5, -INFINITY);
    fill_expect(dev, CLMP_I32, 5, -7.9f); /* truncated toward zero: -7 */
    fill_expect(dev, CLMP_I32, 5, 7.9f);
    fill_expect(dev, CLMP_I32, 5, 2147483520.0f); /* the largest float below 2^31 */
    fill_expect(dev, CLMP_I32, 5, -2147483648.0f);
    fill_expect(dev, CLMP_I32, 1000003, -3.0f);
    fill_expect(dev, CLMP_U8, 5, 255.9f); /* 255 */
    fill_expect(dev, CLMP_U8, 5, -0.9f);  /* 0 */
    fill_expect(dev, CLMP_U8, 1000003, 200.0f);
  }
}

/* y = a x + b y on f32 tensors of n elements; asserts y == want exactly (NaN: any NaN). */
static void axpby_expect(const clmp_test_device *dev, float a, const float *x, float b,
                         const float *y, const float *want, size_t n, int in_place) {
  size_t shape[1] = {n};
  clmp_tensor *tx = clmp_test_tensor(dev->ctx, CLMP_F32, 1, shape, x);
  clmp_tensor *ty = in_place ? tx : clmp_test_tensor(dev->ctx, CLMP_F32, 1, shape, y);
  CU_ASSERT_EQUAL(b == 0 ? clmp_scale(a, tx, ty) : clmp_axpby(a, tx, b, ty), CLMP_SUCCESS);
  float *got = clmp_test_read(ty);
  for (size_t i = 0; i < n; i++) {
    int ok = isnan(want[i]) ? isnan(got[i]) : got[i] == want[i];
    if (!ok)
      printf("\n    %-5s axpby(%g, x, %g, y)[%zu]: got %.9g, want %.9g", dev->id, (double)a,
             (double)b, i, (double)got[i], (double)want[i]);
    CU_ASSERT(ok);
  }
  free(got);
  if (!in_place) clmp_tensor_free(ty);
  clmp_tensor_free(tx);
}

static void test_axpby_values(void) {
  const float x[] = {1, 2, 3, -0.5f, INFINITY, NAN};
  const float y[] = {1, 1, 1, 4, 1, 1};
  const float want[] = {1, 3, 5, -5, INFINITY, NAN};
  /* b == 0: y is not read, so its NaN and inf do not reach the result */
  const float y_bad[] = {NAN, INFINITY, -INFINITY, NAN, NAN, NAN};
  const float want_b0[] = {2, 4, 6, -1, INFINITY, NAN};
  const float want_neg[] = {-0.5f, -1, -1.5f, 0.25f, -INFINITY, NAN};
  /* overflow: 2 * 3e38 is inf in fp32 even though 2 * 3e38 - 3e38 would fit */
  const float x_big[] = {3e38f}, y_big[] = {3e38f}, want_big[] = {INFINITY};
  for (int k = 0; k < clmp_test_ndevs; k++) {
    const clmp_test_device *dev = &clmp_test_devs[k];
    axpby_expect(dev, 2, x, -1, y, want, 6, 0);
    axpby_expect(dev, 2, x, 0, y_bad, want_b0, 6, 0);
    axpby_expect(dev, -0.5f, x, 0, NULL, want_neg, 6, 1); /* clmp_scale with x == y */
    axpby_expect(dev, 2, x_big, -1, y_big, want_big, 1, 0);
  }
}

/* b == -0 counts as 0: y is not read. */
static void test_axpby_negative_zero_b(void) {
  const float x[] = {1, 2}, y[] = {NAN, NAN};
  for (int k = 0; k < clmp_test_ndevs; k++) {
    size_t shape[1] = {2};
    clmp_tensor *tx = clmp_test_tensor(clmp_test_devs[k].ctx, CLMP_F32, 1, shape, x);
    clmp_tensor *ty = clmp_test_tensor(clmp_test_devs[k].ctx, CLMP_F32, 1, shape, y);
    CU_ASSERT_EQUAL(clmp_axpby(3, tx, -0.0f, ty), CLMP_SUCCESS);
    float *got = clmp_test_read(ty);
    CU_ASSERT(got[0] == 3 && got[1] == 6);
    free(got);
    clmp_tensor_free(tx), clmp_tensor_free(ty);
  }
}

/* --- add ------------------------------------------------------------------------------------- */

/* y = a + b on the reference and every device (in_place: y is a, 1, or b, 2), compared. */
static void add_case(clmp_dtype ad, clmp_dtype bd, clmp_dtype yd, size_t n, size_t pad,
                     int in_place) {
  float *av = make_inputs(n, SEED_X ^ n, 0), *bv = make_inputs(n, SEED_Y ^ n, Y_SHIFT);
  size_t shape[1] = {n};
  clmp_test_view r[3];
  for (int d = -1; d < clmp_test_ndevs; d++) {
    if (d >= 0 && clmp_test_is_ref(&clmp_test_devs[d])) continue;
    clmp_ctx *ctx = d < 0 ? clmp_test_ref_ctx() : clmp_test_devs[d].ctx;
    clmp_test_view a = clmp_test_view_make(ctx, ad, 1, shape, pad, av);
    clmp_test_view b = clmp_test_view_make(ctx, bd, 1, shape, pad + 1, bv);
    clmp_test_view y = clmp_test_view_make(ctx, yd, 1, shape, pad + 2, NULL);
    clmp_tensor *out = in_place == 1 ? a.t : in_place == 2 ? b.t : y.t;
    CU_ASSERT_EQUAL(clmp_add(a.t, b.t, out), CLMP_SUCCESS);
    if (d < 0) {
      r[0] = a, r[1] = b, r[2] = y;
      continue;
    }
    char what[128];
    snprintf(what, sizeof what, "%-5.31s add(%s, %s -> %s) n=%zu%s", clmp_test_devs[d].id,
             clmp_dtype_name(ad), clmp_dtype_name(bd), clmp_dtype_name(yd), n,
             in_place == 1   ? " into a"
             : in_place == 2 ? " into b"
                             : "");
    clmp_test_view *got = in_place == 1 ? &a : in_place == 2 ? &b : &y;
    clmp_test_expect_close(what, got->t, r[in_place ? in_place - 1 : 2].t, &AXPBY_TOL);
    clmp_test_expect_guard(what, got);
    clmp_test_view_free(&a), clmp_test_view_free(&b), clmp_test_view_free(&y);
  }
  clmp_test_view_free(&r[0]), clmp_test_view_free(&r[1]), clmp_test_view_free(&r[2]);
  free(av), free(bv);
}

static void test_add_vs_ref(void) {
  for (int i = 0; i < N_FLOATS; i++)
    for (int j = 0; j < N_FLOATS; j++)
      for (size_t s = 0; s < N_SHAPES; s++) {
        add_case(FLOATS[i], FLOATS[j], FLOATS[(i + j) % N_FLOATS], SHAPES[s].n, SHAPES[s].pad, 0);
        add_case(FLOATS[i], FLOATS[j], FLOATS[i], SHAPES[s].n, SHAPES[s].pad, 0);
      }
  for (int i = 0; i < N_FLOATS; i++)
    for (size_t s = 0; s < N_SHAPES; s++) {
      add_case(FLOATS[i], CLMP_F32, FLOATS[i], SHAPES[s].n, SHAPES[s].pad, 1);
      add_case(CLMP_F32, FLOATS[i], FLOATS[i], SHAPES[s].n, SHAPES[s].pad, 2);
    }
}

/* Hand values: 65504 + 32 overflows f16; -0 + -0 = -0; inf - inf and NaN + 1 are NaN; shapes
 * may differ when the counts agree. */
static void test_add_values(void) {
  const float a[4] = {65504, -0.0f, INFINITY, NAN}, b[4] = {32, -0.0f, -INFINITY, 1};
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    clmp_tensor *at = clmp_test_tensor(ctx, CLMP_F32, 1, (size_t[1]){4}, a);
    clmp_tensor *bt = clmp_test_tensor(ctx, CLMP_F32, 2, (size_t[2]){2, 2}, b);
    clmp_tensor *yt = clmp_test_tensor(ctx, CLMP_F16, 1, (size_t[1]){4}, NULL);
    CU_ASSERT_EQUAL(clmp_add(at, bt, yt), CLMP_SUCCESS);
    float *y = clmp_test_read(yt);
    CU_ASSERT(isinf(y[0]) && y[0] > 0);
    CU_ASSERT(y[1] == 0 && signbit(y[1]));
    CU_ASSERT(isnan(y[2]) && isnan(y[3]));
    free(y);
    clmp_tensor_free(at), clmp_tensor_free(bt), clmp_tensor_free(yt);
  }
}

/* --- bad arguments ---------------------------------------------------------------------------- */

static void bad_arguments_on(clmp_ctx *ctx) {
  size_t four[1] = {4}, five[1] = {5};
  const float ones[5] = {1, 1, 1, 1, 1};
  clmp_tensor *x = clmp_test_tensor(ctx, CLMP_F32, 1, four, ones);
  clmp_tensor *y = clmp_test_tensor(ctx, CLMP_F16, 1, four, ones);
  clmp_tensor *y5 = clmp_test_tensor(ctx, CLMP_BF16, 1, five, ones);
  clmp_tensor *xi = clmp_test_tensor(ctx, CLMP_I32, 1, four, ones);
  clmp_tensor *yu = clmp_test_tensor(ctx, CLMP_U8, 1, four, ones);
  CU_ASSERT_EQUAL(clmp_fill(NULL, 1), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_fill(xi, NAN), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_fill(xi, 3e9f), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_fill(xi, 2147483648.0f), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_fill(xi, -INFINITY), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_fill(yu, 256), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_fill(yu, -1), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_axpby(1, NULL, 1, y), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_axpby(1, x, 1, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_axpby(1, xi, 1, y), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_axpby(1, x, 1, yu), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_axpby(1, x, 1, y5), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_scale(1, NULL, y), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_scale(1, x, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_scale(1, x, xi), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_scale(1, y5, y), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_add(NULL, x, y), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_add(x, NULL, y), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_add(x, x, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_add(xi, x, y), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_add(x, x, yu), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_add(x, y5, y), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_add(x, x, y5), CLMP_ERR_INVALID_SHAPE);
  clmp_test_expect_all(y, 1), clmp_test_expect_all(y5, 1), clmp_test_expect_all(xi, 1);
  clmp_test_expect_all(yu, 1);
  clmp_tensor_free(x), clmp_tensor_free(y), clmp_tensor_free(y5);
  clmp_tensor_free(xi), clmp_tensor_free(yu);
}

static void test_bad_arguments(void) {
  for (int k = 0; k < clmp_test_ndevs; k++) bad_arguments_on(clmp_test_devs[k].ctx);
}

/* Tensors of two contexts never mix. */
static void test_context_mismatch(void) {
  if (clmp_test_ndevs < 2) return;
  size_t four[1] = {4};
  const float ones[4] = {1, 1, 1, 1};
  clmp_tensor *a = clmp_test_tensor(clmp_test_devs[0].ctx, CLMP_F32, 1, four, ones);
  clmp_tensor *b = clmp_test_tensor(clmp_test_devs[1].ctx, CLMP_F32, 1, four, ones);
  CU_ASSERT_EQUAL(clmp_axpby(2, a, 1, b), CLMP_ERR_CONTEXT_MISMATCH);
  CU_ASSERT_EQUAL(clmp_scale(2, b, a), CLMP_ERR_CONTEXT_MISMATCH);
  CU_ASSERT_EQUAL(clmp_add(a, a, b), CLMP_ERR_CONTEXT_MISMATCH);
  CU_ASSERT_EQUAL(clmp_add(b, a, b), CLMP_ERR_CONTEXT_MISMATCH);
  clmp_test_expect_all(a, 1), clmp_test_expect_all(b, 1);
  clmp_tensor_free(a), clmp_tensor_free(b);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 && clmp_test_ref_ctx() ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {{"axpby: devices vs reference, all dtypes and shapes", test_axpby_vs_ref},
                         {"scale in place: devices vs reference", test_scale_in_place},
                         {"fill: devices vs reference, all dtypes and shapes", test_fill_vs_ref},
                         {"fill: exact bits, i32 and u8 truncation", test_fill_values},
                         {"axpby and scale: hand-computed values", test_axpby_values},
                         {"axpby: b == -0 does not read y", test_axpby_negative_zero_b},
                         {"add: devices vs reference, dtypes, sizes, in place", test_add_vs_ref},
                         {"add: hand-computed values", test_add_values},
                         {"bad arguments", test_bad_arguments},
                         {"tensors of two contexts", test_context_mismatch},
                         CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"elementwise", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
