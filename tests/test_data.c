/* tests/test_data.c: gathering a minibatch on every device: rows by index, transformed
 * (x * scale + shift), against the reference; labels to i32 exactly; bad indices and arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define ROWS        300
#define COLS        784
#define BATCH       129
#define SEED        0xda7au
#define PIXEL_SCALE (1.0f / 255.0f / 0.353f)
#define PIXEL_SHIFT (-0.286f / 0.353f)

static void make_inputs(float *pixels, float *labels, int32_t *idx) {
  uint64_t s = SEED;
  for (size_t i = 0; i < (size_t)ROWS * COLS; i++) pixels[i] = (float)(clmp_test_rand(&s) % 256);
  for (int i = 0; i < ROWS; i++) labels[i] = (float)(clmp_test_rand(&s) % 10);
  for (int b = 0; b < BATCH; b++) idx[b] = (int32_t)(clmp_test_rand(&s) % ROWS);
  idx[BATCH - 1] = idx[0]; /* a repeated row */
}

/* Gathers on ctx into a fresh dst of dtype d and shape [BATCH, cols]. */
static clmp_tensor *gather(clmp_ctx *ctx, clmp_dtype sd, const float *src, size_t cols,
                           const int32_t *idx, clmp_dtype d, float scale, float shift) {
  size_t ss[2] = {ROWS, cols}, is[1] = {BATCH}, ds[2] = {BATCH, cols};
  clmp_tensor *s = clmp_test_tensor(ctx, sd, 2, ss, src);
  clmp_tensor *i = clmp_test_tensor_i32(ctx, 1, is, idx);
  clmp_tensor *out = clmp_test_tensor(ctx, d, 2, ds, NULL);
  CU_ASSERT_EQUAL(clmp_gather_rows(s, i, scale, shift, out), CLMP_SUCCESS);
  clmp_tensor_free(s), clmp_tensor_free(i);
  return out;
}

/* fma(x, scale, shift) is correctly rounded on every device and on the host: exact. */
static void test_pixels_against_reference(void) {
  static float pixels[ROWS * COLS], labels[ROWS];
  int32_t idx[BATCH];
  make_inputs(pixels, labels, idx);
  const clmp_dtype dts[] = {CLMP_F32, CLMP_F16, CLMP_BF16};
  clmp__tolerance tol = {0, 0, 0};
  for (int d = 0; d < clmp_test_ndevs; d++)
    for (int k = 0; k < 3; k++) {
      clmp_tensor *got = gather(clmp_test_devs[d].ctx, CLMP_U8, pixels, COLS, idx, dts[k],
                                PIXEL_SCALE, PIXEL_SHIFT);
      clmp_tensor *want =
          gather(clmp_test_ref_ctx(), CLMP_U8, pixels, COLS, idx, dts[k], PIXEL_SCALE, PIXEL_SHIFT);
      char what[1024];
      snprintf(what, sizeof what, "%s u8 -> %s", clmp_test_devs[d].id, clmp_dtype_name(dts[k]));
      clmp_test_expect_close(what, got, want, &tol);
      clmp_tensor_free(got), clmp_tensor_free(want);
    }
}

/* Against values computed here: row idx[b] of the source, exactly, for labels u8 -> i32. */
static void test_labels_exact(void) {
  static float pixels[ROWS * COLS], labels[ROWS];
  int32_t idx[BATCH];
  make_inputs(pixels, labels, idx);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_tensor *got = gather(clmp_test_devs[d].ctx, CLMP_U8, labels, 1, idx, CLMP_I32, 1, 0);
    float *v = clmp_test_read(got);
    int bad = 0;
    for (int b = 0; b < BATCH; b++) bad += v[b] != labels[idx[b]];
    CU_ASSERT_EQUAL(bad, 0);
    free(v);
    clmp_tensor_free(got);
  }
}

static void test_bad_index_gives_nan(void) {
  static float pixels[ROWS * COLS], labels[ROWS];
  int32_t idx[BATCH];
  make_inputs(pixels, labels, idx);
  idx[3] = ROWS, idx[4] = -1;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_tensor *got = gather(clmp_test_devs[d].ctx, CLMP_U8, pixels, COLS, idx, CLMP_F16, 1, 0);
    float *v = clmp_test_read(got);
    CU_ASSERT(isnan(v[3 * COLS]) && isnan(v[4 * COLS + COLS - 1]) && !isnan(v[5 * COLS]));
    free(v);
    clmp_tensor_free(got);
    /* into integers: 0 (llvmpipe's convert_int_sat(NaN) is INT_MIN, so the kernel tests NaN) */
    got = gather(clmp_test_devs[d].ctx, CLMP_U8, labels, 1, idx, CLMP_I32, 1, 0);
    v = clmp_test_read(got);
    CU_ASSERT(v[3] == 0.0f && v[4] == 0.0f);
    free(v);
    clmp_tensor_free(got);
  }
}

static void test_bad_arguments(void) {
  clmp_ctx *ctx = clmp_test_ref_ctx();
  size_t ss[2] = {4, 3}, ds[2] = {2, 3}, wrong[2] = {2, 4}, is[1] = {2}, is3[1] = {3};
  clmp_tensor *s = clmp_test_tensor(ctx, CLMP_U8, 2, ss, NULL);
  clmp_tensor *d = clmp_test_tensor(ctx, CLMP_F32, 2, ds, NULL);
  clmp_tensor *w = clmp_test_tensor(ctx, CLMP_F32, 2, wrong, NULL);
  clmp_tensor *i = clmp_test_tensor(ctx, CLMP_I32, 1, is, NULL);
  clmp_tensor *i3 = clmp_test_tensor(ctx, CLMP_I32, 1, is3, NULL);
  clmp_tensor *f = clmp_test_tensor(ctx, CLMP_F32, 1, is, NULL);
  CU_ASSERT_EQUAL(clmp_gather_rows(s, i, 1, 0, w), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_gather_rows(s, i3, 1, 0, d), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_gather_rows(s, f, 1, 0, d), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_gather_rows(i, i, 1, 0, d), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_gather_rows(NULL, i, 1, 0, d), CLMP_ERR_INVALID_ARGUMENT);
  clmp_tensor_free(s), clmp_tensor_free(d), clmp_tensor_free(w);
  clmp_tensor_free(i), clmp_tensor_free(i3), clmp_tensor_free(f);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {
      {"pixels gathered and transformed, device = reference", test_pixels_against_reference},
      {"labels gathered to i32 exactly", test_labels_exact},
      {"an index out of range gives NaN", test_bad_index_gives_nan},
      {"bad arguments", test_bad_arguments},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"data", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
