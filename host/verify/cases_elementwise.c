/* host/verify/cases_elementwise.c: the element-wise cases of `clmp verify`, one function per op,
 * each looping over dtypes, shapes and value sets, with its tolerance stated where it is computed.
 * u(d) is the unit roundoff of a dtype: 2^-24 (f32), 2^-11 (f16), 2^-8 (bf16). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "verify_impl.h"

#define N_FLOAT 3
static const clmp_dtype FLOATS[N_FLOAT] = {CLMP_F32, CLMP_F16, CLMP_BF16};
static const size_t SIZES[] = {1, 1001, (1u << 20) + 3};
#define N_SIZES      (sizeof SIZES / sizeof *SIZES)
#define SCALE_FACTOR 1024.0f /* clmp_scale's factor and the loss scale: overflows fp16 */
#define AXPBY_A      0.5f
#define AXPBY_B      -2.0f
#define LOSS_SCALE   1024.0f

static const clmp__tolerance EXACT = {0, 0, 0};
static const clmp__tolerance ONE_ULP = {0, 0, 1};

static float *values(venv *e, size_t n, float lo, float hi, int special) {
  float *v = malloc(n * sizeof *v);
  if (v) clmp__verify_values(e, v, n, lo, hi, special);
  return v;
}

/* --- fill ----------------------------------------------------------------------------------- */

static void fill_rows(venv *e) {
  static const clmp_dtype dts[] = {CLMP_F32, CLMP_F16, CLMP_BF16, CLMP_I32};
  static const float vals[] = {1.5f, -0.0f, 70000.0f, NAN};
  for (size_t d = 0; d < 4; d++)
    for (size_t k = 0; k < 4 - (dts[d] == CLMP_I32); k++) {
      size_t shape[1] = {SIZES[1]};
      pair out;
      clmp__verify_row row;
      char dt[48];
      snprintf(dt, sizeof dt, "%s = %g", clmp_dtype_name(dts[d]), (double)vals[k]);
      clmp__verify_row_init(&row, "fill", dt, "1001", k >= 2, EXACT);
      clmp_status st = clmp__verify_pair(e, dts[d], 1, shape, NULL, &out);
      clmp_status sd = st ? st : clmp_fill(out.d, vals[k]),
                  sr = st ? st : clmp_fill(out.r, vals[k]);
      clmp__verify_finish(e, &row, sd, sr, &out);
      clmp__verify_pair_free(&out);
    }
}

/* --- unary element-wise: y = f(x) ------------------------------------------------------------- */

typedef clmp_status (*unary_fn)(const clmp_tensor *x, clmp_tensor *y);

static clmp_status scale_op(const clmp_tensor *x, clmp_tensor *y) {
  return clmp_scale(SCALE_FACTOR, x, y);
}

static void unary_row(venv *e, const char *op, unary_fn fn, clmp_dtype xd, clmp_dtype yd, size_t n,
                      int special, clmp__tolerance tol) {
  float *v = values(e, n, -8.0f, 8.0f, special);
  pair x = {0}, y = {0};
  char dt[48], sh[48];
  snprintf(dt, sizeof dt, "%s -> %s", clmp_dtype_name(xd), clmp_dtype_name(yd));
  clmp__verify_row row;
  clmp__verify_row_init(&row, op, dt, clmp__verify_shape(sh, sizeof sh, 1, &n), special, tol);
  clmp_status st = v ? clmp__verify_pair(e, xd, 1, &n, v, &x) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, yd, 1, &n, NULL, &y);
  clmp_status sd = st ? st : fn(x.d, y.d), sr = st ? st : fn(x.r, y.r);
  clmp__verify_finish(e, &row, sd, sr, &y);
  clmp__verify_pair_free(&x), clmp__verify_pair_free(&y);
  free(v);
}

/* Every size and value set, x and y of the same dtype plus f16 -> f32 and f32 -> bf16. */
static void unary_family(venv *e, const char *op, unary_fn fn, clmp__tolerance tol32,
                         clmp__tolerance tol16) {
  static const clmp_dtype pairs[][2] = {{CLMP_F32, CLMP_F32},
                                        {CLMP_F16, CLMP_F16},
                                        {CLMP_BF16, CLMP_BF16},
                                        {CLMP_F16, CLMP_F32},
                                        {CLMP_F32, CLMP_BF16}};
  for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++)
    for (size_t s = 0; s < N_SIZES; s++)
      for (int special = 0; special < 2; special++)
        unary_row(e, op, fn, pairs[p][0], pairs[p][1], SIZES[s], special,
                  pairs[p][1] == CLMP_F32 ? tol32 : tol16);
}

static void cast_rows(venv *e) {
  for (int a = 0; a < N_FLOAT; a++)
    for (int b = 0; b < N_FLOAT; b++)
      for (int special = 0; special < 2; special++)
        if (a != b) unary_row(e, "cast", clmp_cast, FLOATS[a], FLOATS[b], SIZES[2], special, EXACT);
}

/* One rounding of an fp32 result: 1 ulp of the output (the device may contract to fma). */
static void scale_rows(venv *e) {
  unary_family(e, "scale", scale_op, ONE_ULP, ONE_ULP);
}

static void relu_rows(venv *e) {
  unary_family(e, "relu", clmp_relu, EXACT, EXACT);
}

/* erf is accurate to 16 ulp in OpenCL C: fp32 results within 1e-6 + 1e-5 relative; a 16-bit
 * output within 1 ulp of it. */
static void gelu_rows(venv *e) {
  clmp__tolerance t32 = {1e-6, 1e-5, 0};
  unary_family(e, "gelu", clmp_gelu, t32, ONE_ULP);
}

/* --- binary element-wise: axpby and the activation backwards -----------------------------------
 */

typedef clmp_status (*binary_fn)(const clmp_tensor *a, const clmp_tensor *b, clmp_tensor *out);

static clmp_status axpby_op(const clmp_tensor *x, const clmp_tensor *y0, clmp_tensor *y) {
  (void)y0; /* y already holds y0 */
  return clmp_axpby(AXPBY_A, x, AXPBY_B, y);
}

/* out = f(a, b); for axpby, out starts as a copy of b. */
static void binary_row(venv *e, const char *op, binary_fn fn, clmp_dtype d, size_t n, int special,
                       clmp__tolerance tol) {
  float *va = values(e, n, -4.0f, 4.0f, special), *vb = values(e, n, -4.0f, 4.0f, special);
  pair a = {0}, b = {0}, out = {0};
  char sh[48];
  clmp__verify_row row;
  clmp__verify_row_init(&row, op, clmp_dtype_name(d), clmp__verify_shape(sh, sizeof sh, 1, &n),
                        special, tol);
  clmp_status st = va && vb ? clmp__verify_pair(e, d, 1, &n, va, &a) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, d, 1, &n, vb, &b);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, d, 1, &n, vb, &out);
  clmp_status sd = st ? st : fn(a.d, b.d, out.d), sr = st ? st : fn(a.r, b.r, out.r);
  clmp__verify_finish(e, &row, sd, sr, &out);
  clmp__verify_pair_free(&a), clmp__verify_pair_free(&b), clmp__verify_pair_free(&out);
  free(va), free(vb);
}

static void binary_family(venv *e, const char *op, binary_fn fn, clmp__tolerance t32,
                          clmp__tolerance t16) {
  for (int d = 0; d < N_FLOAT; d++)
    for (size_t s = 0; s < N_SIZES; s++)
      for (int special = 0; special < 2; special++)
        binary_row(e, op, fn, FLOATS[d], SIZES[s], special, FLOATS[d] == CLMP_F32 ? t32 : t16);
}

static void axpby_rows(venv *e) {
  binary_family(e, "axpby", axpby_op, ONE_ULP, ONE_ULP);
}

static void relu_backward_rows(venv *e) {
  binary_family(e, "relu_backward", clmp_relu_backward, EXACT, EXACT);
}

static void gelu_backward_rows(venv *e) {
  clmp__tolerance t32 = {1e-6, 1e-5, 0};
  binary_family(e, "gelu_backward", clmp_gelu_backward, t32, ONE_ULP);
}

const clmp__verify_case clmp__verify_cases_elementwise[] = {
    {"fill", fill_rows},   {"cast", cast_rows},
    {"axpby", axpby_rows}, {"scale", scale_rows},
    {"relu", relu_rows},   {"relu_backward", relu_backward_rows},
    {"gelu", gelu_rows},   {"gelu_backward", gelu_backward_rows},
    {NULL, NULL}};
