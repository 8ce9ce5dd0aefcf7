/* tests/test_pool.c: clmp_pool2d_output_shape, max, average and global average pooling and their
 * backward passes on every OpenCL device (and cl:0 once more in its GPU forms) against the
 * reference: dtype pairs, odd shapes, 1s, overlapping and strided windows, padding, a large case,
 * outputs as views at offsets with guard padding, special values, hand-computed values,
 * finite-difference gradients, bit-identical reruns, and the refusals of bad arguments.
 *
 * Tolerances (u = 2^-24; "mag" is the op run on the reference over |inputs|, i.e. the sum of the
 * magnitudes of the terms an output adds, scaled as the output is):
 * - max_pool2d and its indices: exact: a selection, then one rounding to y's dtype everywhere.
 * - max_pool2d_backward: the fp32 sum of at most T = ceil(kh / sh) ceil(kw / sw) terms in order
 *   errs by at most (T - 1) u sum |terms|, the reference's own rounding by u |sum|: (T + 1) u mag.
 * - avg_pool2d: fl(fl(sum of K = kh kw terms) * fl(1 / K)): (K - 1) u for the sum, 2 u for the
 *   reciprocal and the product, u for the reference, and u for second-order terms: (K + 4) u mag;
 *   its backward likewise with T terms: (T + 4) u mag.
 * - global_avg_pool: the device's order (host/ops/reduce.h) takes a term through at most
 *   d = ceil(min(S, CHUNK) / LANES) + log2(LANES) + chunks additions (clmp__sum_depth):
 *   (d + 4) u mag.
 * - global_avg_pool_backward: exact: dy * fl(1 / (H W)), one fp32 product on both sides.
 * - 16-bit outputs may also differ by 1 ulp of their dtype (the two sides' last rounding), and
 *   every bound has (terms + 2) 2^-126 for devices that flush fp32 subnormals.
 * - Finite differences (f32): L(x) = sum w y(x) along a direction v, with inputs, v and h on a
 *   grid fine enough that x +- h v is exact in fp32; max pooling is then piecewise linear and
 *   its difference exact; the average poolings are linear, their outputs rounded once (u |y|
 *   each). The bound on |FD - <dx, v>| is that rounding, over 2h, plus sum |v_i| times dx_i's
 *   bound above. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host/ops/reduce.h"
#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"
#include "hostile.h"

#define U32         0x1p-24
#define FTZ_PER_ADD 0x1p-126
#define SEED        0x9001000001ull
#define GRID        64.0f /* random inputs are multiples of 1 / GRID in [-RANGE, RANGE) */
#define RANGE       4.0f
#define FD_H        0x1p-6 /* the max pooling's step: h |v| < half of the smallest gap */
#define FD_GAP      0.125f /* max pooling's distinct inputs differ by at least this */
#define FD_V_MAX    2      /* directions have integer entries in [-FD_V_MAX, FD_V_MAX] */

static const clmp__tolerance EXACT = {0, 0, 0};

enum pool_op { MAX, MAX_BW, AVG, AVG_BW, GAP, GAP_BW };
static const char *const OP_NAMES[] = {"max_pool2d",      "max_pool2d_backward",
                                       "avg_pool2d",      "avg_pool2d_backward",
                                       "global_avg_pool", "global_avg_pool_backward"};

typedef struct pool_case {
  size_t shape[4];
  clmp_pool2d_params p;
  size_t pad; /* elements of guard around the output views */
} pool_case;

/* Window shapes: 1 x 1, 2 x 2 / 2 with a dropped row and column, the ResNet stem's 3 x 3 / 2 pad
 * 1, overlapping windows at stride 1, non-square everything, a 5 x 5 / 3 pad 2, a window as wide
 * as the padded input, a single row, and two larger tensors. */
static const pool_case CASES[] = {
    {{1, 1, 1, 1}, {{1, 1}, {1, 1}, {0, 0}}, 0},    {{2, 3, 7, 9}, {{2, 2}, {2, 2}, {0, 0}}, 3},
    {{2, 3, 8, 8}, {{3, 3}, {2, 2}, {1, 1}}, 1},    {{1, 2, 5, 6}, {{3, 3}, {1, 1}, {1, 1}}, 2},
    {{3, 2, 11, 7}, {{3, 2}, {2, 1}, {1, 0}}, 5},   {{1, 1, 9, 9}, {{5, 5}, {3, 3}, {2, 2}}, 1},
    {{2, 1, 4, 4}, {{4, 4}, {4, 4}, {2, 2}}, 1},    {{1, 1, 1, 5}, {{1, 3}, {1, 1}, {0, 1}}, 0},
    {{4, 16, 32, 33}, {{2, 2}, {2, 2}, {0, 0}}, 7}, {{2, 8, 67, 45}, {{3, 3}, {2, 2}, {1, 1}}, 2}};
#define N_CASES (sizeof CASES / sizeof *CASES)
#define N_SMALL 8 /* the cases every dtype pair runs on */

/* The large case, on one dtype pair: a ResNet stem's pooling of a batch. */
static const pool_case LARGE = {{8, 64, 56, 56}, {{3, 3}, {2, 2}, {1, 1}}, 9};

/* Input and output dtypes: each alike, a widening and a narrowing. */
static const clmp_dtype PAIRS[][2] = {{CLMP_F32, CLMP_F32},
                                      {CLMP_F16, CLMP_F16},
                                      {CLMP_BF16, CLMP_BF16},
                                      {CLMP_F16, CLMP_F32},
                                      {CLMP_F32, CLMP_BF16}};
#define N_PAIRS (sizeof PAIRS / sizeof *PAIRS)

/* Signed zeros, subnormals of fp32 and fp16, fp16's largest value and beyond, infinities, NaN. */
static const float SPECIALS[] = {0.0f,      -0.0f, 1e-40f, -1e-40f, 6e-8f,    65504.0f,
                                 -65504.0f, 7e4f,  1e30f,  -3e38f,  INFINITY, -INFINITY,
                                 NAN,       1.0f,  -1.0f,  0x1p-14f};
#define N_SPECIALS (sizeof SPECIALS / sizeof *SPECIALS)

static size_t numel4(const size_t s[4]) {
  return s[0] * s[1] * s[2] * s[3];
}

/* n seeded values on the grid, with the special values spread over them when specials. */
static float *make_inputs(size_t n, uint64_t seed, int specials) {
  float *v = malloc(n * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  clmp_test_uniform(v, n, -RANGE, RANGE, seed);
  for (size_t i = 0; i < n; i++) v[i] = floorf(v[i] * GRID) / GRID;
  size_t stride = n / N_SPECIALS > 1 ? n / N_SPECIALS : 1;
  for (size_t k = 0; specials && k < N_SPECIALS && k * stride < n; k++) v[k * stride] = SPECIALS[k];
  return v;
}

static void pooled_shape(const pool_case *pc, size_t y[4]) {
  CU_ASSERT_EQUAL_FATAL(clmp_pool2d_output_shape(pc->shape, &pc->p, y), CLMP_SUCCESS);
}

/* The shapes of op's input and output. */
static void op_shapes(enum pool_op op, const pool_case *pc, size_t in[4], size_t out[4]) {
  size_t big[4], small[4];
  memcpy(big, pc->shape, sizeof big);
  if (op == GAP || op == GAP_BW)
    small[0] = big[0], small[1] = big[1], small[2] = small[3] = 1;
  else
    pooled_shape(pc, small);
  int backward = op == MAX_BW || op == AVG_BW || op == GAP_BW;
  memcpy(in, backward ? small : big, sizeof big);
  memcpy(out, backward ? big : small, sizeof big);
}

/* Runs op: in -> out (ind: the indices max_pool2d writes, or those its backward reads). */
static clmp_status run_op(enum pool_op op, const clmp_pool2d_params *p, const clmp_tensor *in,
                          clmp_tensor *ind, clmp_tensor *out) {
  switch (op) {
  case MAX: return clmp_max_pool2d(in, p, out, ind);
  case MAX_BW: return clmp_max_pool2d_backward(in, ind, p, out);
  case AVG: return clmp_avg_pool2d(in, p, out);
  case AVG_BW: return clmp_avg_pool2d_backward(in, p, out);
  case GAP: return clmp_global_avg_pool(in, out);
  default: return clmp_global_avg_pool_backward(in, out);
  }
}

/* The number of additions a term of op's output goes through (see the header), or 0 when the
 * op is exact. */
static double op_depth(enum pool_op op, const pool_case *pc) {
  const size_t *k = pc->p.kernel, *s = pc->p.stride;
  double windows = (double)((k[0] + s[0] - 1) / s[0] * ((k[1] + s[1] - 1) / s[1]));
  clmp__ncs v = {pc->shape[0], pc->shape[1], pc->shape[2] * pc->shape[3]};
  switch (op) {
  case MAX_BW: return windows + 1;
  case AVG: return (double)(k[0] * k[1]) + 4;
  case AVG_BW: return windows + 4;
  case GAP:
    return (double)clmp__sum_depth(&(clmp__sum){CLMP__TERM_X, NULL, NULL, NULL, 0, v, 1, 0}) + 4;
  default: return 0;
  }
}

/* --- devices against the reference ------------------------------------------------------------ */

/* One comparison: op over pc, input dtype -> output dtype, with special values or not. */
typedef struct run_spec {
  enum pool_op op;
  const pool_case *pc;
  clmp_dtype in_dt, out_dt;
  int specials;
} run_spec;

/* The indices that max_pool2d_backward reads: the forward's over seeded x on the reference. */
static int32_t *forward_indices(const pool_case *pc, size_t n_out) {
  size_t y_shape[4];
  pooled_shape(pc, y_shape);
  float *x = make_inputs(numel4(pc->shape), SEED ^ numel4(pc->shape), 0);
  clmp_ctx *ref = clmp_test_ref_ctx();
  clmp_tensor *xt = clmp_test_tensor(ref, CLMP_F32, 4, pc->shape, x);
  clmp_tensor *yt = clmp_test_tensor(ref, CLMP_F32, 4, y_shape, NULL);
  clmp_tensor *it = clmp_test_tensor(ref, CLMP_I32, 4, y_shape, NULL);
  int32_t *iv = malloc(n_out * sizeof *iv);
  CU_ASSERT_PTR_NOT_NULL_FATAL(iv);
  CU_ASSERT_EQUAL(clmp_max_pool2d(xt, &pc->p, yt, it), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_read(it, CLMP_I32, iv, n_out), CLMP_SUCCESS);
  clmp_tensor_free(xt), clmp_tensor_free(yt), clmp_tensor_free(it);
  free(x);
  return iv;
}

/* The indices of a run: the forward's output (a view with guards), or the backward's input. */
static clmp_test_view indices_make(clmp_ctx *ctx, const run_spec *rs, const size_t in_s[4],
                                   const size_t out_s[4], const int32_t *iv) {
  clmp_test_view v = {NULL, NULL, 0, 0};
  if (rs->op == MAX) v = clmp_test_view_make(ctx, CLMP_I32, 4, out_s, rs->pc->pad, NULL);
  if (rs->op == MAX_BW) v.t = clmp_test_tensor_i32(ctx, 4, in_s, iv);
  return v;
}

/* Each output's bound (see the header): op over |in| on the reference, times its depth u, plus
 * the flushed subnormals; all 0 for the exact ops. */
static float *op_bound(const run_spec *rs, const clmp_tensor *in, const clmp_tensor *ind,
                       const size_t in_s[4], const size_t out_s[4]) {
  double depth = op_depth(rs->op, rs->pc);
  size_t n_out = numel4(out_s), n_in = numel4(in_s);
  float *bound = calloc(n_out, sizeof *bound);
  CU_ASSERT_PTR_NOT_NULL_FATAL(bound);
  if (depth == 0) return bound;
  float *a = clmp_test_read(in);
  for (size_t i = 0; i < n_in; i++) a[i] = fabsf(a[i]);
  clmp_ctx *ref = clmp_test_ref_ctx();
  clmp_tensor *at = clmp_test_tensor(ref, CLMP_F32, 4, in_s, a);
  clmp_tensor *mt = clmp_test_tensor(ref, CLMP_F32, 4, out_s, NULL);
  CU_ASSERT_EQUAL(run_op(rs->op, &rs->pc->p, at, (clmp_tensor *)ind, mt), CLMP_SUCCESS);
  float *mag = clmp_test_read(mt);
  for (size_t i = 0; i < n_out; i++)
    bound[i] = (float)(depth * U32 * mag[i] + (depth + 2) * FTZ_PER_ADD);
  clmp_tensor_free(at), clmp_tensor_free(mt);
  free(a), free(mag);
  return bound;
}

/* Device d's run of rs, compared with the reference's output (and indices). */
static void device_run(int d, const run_spec *rs, const float *v, const int32_t *iv,
                       const clmp_test_view *rout, const clmp_test_view *rind, const float *bound) {
  size_t in_s[4], out_s[4];
  op_shapes(rs->op, rs->pc, in_s, out_s);
  clmp_ctx *ctx = clmp_test_devs[d].ctx;
  clmp_test_view in = clmp_test_view_make(ctx, rs->in_dt, 4, in_s, rs->pc->pad + 1, v);
  clmp_test_view out = clmp_test_view_make(ctx, rs->out_dt, 4, out_s, rs->pc->pad, NULL);
  clmp_test_view ind = indices_make(ctx, rs, in_s, out_s, iv);
  CU_ASSERT_EQUAL(run_op(rs->op, &rs->pc->p, in.t, ind.t, out.t), CLMP_SUCCESS);
  char what[160];
  snprintf(what, sizeof what, "%-8.31s %s(%s [%zu, %zu, %zu, %zu] -> %s)%s", clmp_test_devs[d].id,
           OP_NAMES[rs->op], clmp_dtype_name(rs->in_dt), in_s[0], in_s[1], in_s[2], in_s[3],
           clmp_dtype_name(rs->out_dt), rs->specials ? " special" : "");
  if (op_depth(rs->op, rs->pc) == 0)
    clmp_test_expect_close(what, out.t, rout->t, &EXACT);
  else
    clmp_test_expect_within(what, out.t, rout->t, bound, rs->out_dt == CLMP_F32 ? 0 : 1);
  clmp_test_expect_guard(what, &out);
  if (rs->op == MAX) {
    clmp_test_expect_close("  indices", ind.t, rind->t, &EXACT);
    clmp_test_expect_guard("  indices", &ind);
  }
  clmp_test_view_free(&in), clmp_test_view_free(&out), clmp_test_view_free(&ind);
}

static void compare_case(const run_spec *rs) {
  size_t in_s[4], out_s[4];
  op_shapes(rs->op, rs->pc, in_s, out_s);
  float *v = make_inputs(numel4(in_s), SEED + numel4(in_s) + (uint64_t)rs->op, rs->specials);
  int32_t *iv = rs->op == MAX_BW ? forward_indices(rs->pc, numel4(in_s)) : NULL;
  clmp_ctx *ref = clmp_test_ref_ctx();
  clmp_test_view rin = clmp_test_view_make(ref, rs->in_dt, 4, in_s, 1, v);
  clmp_test_view rout = clmp_test_view_make(ref, rs->out_dt, 4, out_s, 1, NULL);
  clmp_test_view rind = indices_make(ref, rs, in_s, out_s, iv);
  CU_ASSERT_EQUAL(run_op(rs->op, &rs->pc->p, rin.t, rind.t, rout.t), CLMP_SUCCESS);
  float *bound = op_bound(rs, rin.t, rind.t, in_s, out_s);
  for (int d = 0; d < clmp_test_ndevs; d++)
    if (!clmp_test_is_ref(&clmp_test_devs[d])) device_run(d, rs, v, iv, &rout, &rind, bound);
  clmp_test_view_free(&rin), clmp_test_view_free(&rout), clmp_test_view_free(&rind);
  free(v), free(iv), free(bound);
}

/* Every small case and dtype pair, normal and special values; the larger cases in f32 and
 * f16 -> f32; the large one in f16. */
static void op_vs_ref(enum pool_op op) {
  for (size_t c = 0; c < N_CASES; c++)
    for (size_t pr = 0; pr < (c < N_SMALL ? N_PAIRS : 1); pr++)
      for (int special = 0; special < 2; special++) {
        run_spec rs = {op, &CASES[c], PAIRS[pr][0], PAIRS[pr][1], special};
        compare_case(&rs);
      }
  run_spec large = {op, &LARGE, CLMP_F16, CLMP_F16, 0};
  compare_case(&large);
}

static void test_max_vs_ref(void) {
  op_vs_ref(MAX);
}
static void test_max_backward_vs_ref(void) {
  op_vs_ref(MAX_BW);
}
static void test_avg_vs_ref(void) {
  op_vs_ref(AVG);
}
static void test_avg_backward_vs_ref(void) {
  op_vs_ref(AVG_BW);
}
static void test_global_vs_ref(void) {
  op_vs_ref(GAP);
}
static void test_global_backward_vs_ref(void) {
  op_vs_ref(GAP_BW);
}

/* --- hand-computed values, on every device and the reference -----------------------------------
 */

/* op over x [1, 1, h, w] with window k x l, stride s x t, padding p x q: y and indices as
 * read back (indices NULL: not asked for). */
static float *pool_tiny(clmp_ctx *ctx, enum pool_op op, const float *x, size_t h, size_t w,
                        const clmp_pool2d_params *p, int32_t *indices) {
  size_t xs[4] = {1, 1, h, w}, ys[4];
  CU_ASSERT_EQUAL_FATAL(clmp_pool2d_output_shape(xs, p, ys), CLMP_SUCCESS);
  clmp_tensor *xt = clmp_test_tensor(ctx, CLMP_F32, 4, xs, x);
  clmp_tensor *yt = clmp_test_tensor(ctx, CLMP_F32, 4, ys, NULL);
  clmp_tensor *it = indices ? clmp_test_tensor(ctx, CLMP_I32, 4, ys, NULL) : NULL;
  CU_ASSERT_EQUAL(run_op(op, p, xt, it, yt), CLMP_SUCCESS);
  float *y = clmp_test_read(yt);
  if (it) CU_ASSERT_EQUAL(clmp_tensor_read(it, CLMP_I32, indices, numel4(ys)), CLMP_SUCCESS);
  clmp_tensor_free(xt), clmp_tensor_free(yt), clmp_tensor_free(it);
  return y;
}

/* Expects the one output of a 2 x 2 / 2 max pooling over x: value want (bits compared, so -0 is
 * not +0 and NaN is NaN) at index want_at. */
static void expect_max2(clmp_ctx *ctx, const char *what, const float x[4], float want,
                        int32_t want_at) {
  clmp_pool2d_params p = {{2, 2}, {2, 2}, {0, 0}};
  int32_t at = -1;
  float *y = pool_tiny(ctx, MAX, x, 2, 2, &p, &at);
  int same = isnan(want) ? isnan(y[0]) : memcmp(&y[0], &want, sizeof want) == 0;
  if (!same || at != want_at)
    printf("\n    %s: got %g at %d, want %g at %d", what, (double)y[0], at, (double)want, want_at);
  CU_ASSERT(same && at == want_at);
  free(y);
}

static void max_hand_values(clmp_ctx *ctx) {
  expect_max2(ctx, "largest", (const float[4]){1, 2, 3, 4}, 4, 3);
  expect_max2(ctx, "first of a tie", (const float[4]){5, 5, 5, 5}, 5, 0);
  expect_max2(ctx, "NaN wins, the first", (const float[4]){1, NAN, 3, NAN}, NAN, 1);
  expect_max2(ctx, "all -inf", (const float[4]){-INFINITY, -INFINITY, -INFINITY, -INFINITY},
              -INFINITY, 0);
  expect_max2(ctx, "-0 before +0", (const float[4]){-0.0f, 0.0f, -1, -2}, -0.0f, 0);
  /* padding never wins: a 3 x 3 window over a single -1 */
  clmp_pool2d_params pad = {{3, 3}, {1, 1}, {1, 1}};
  int32_t at = -1;
  float *y = pool_tiny(ctx, MAX, (const float[1]){-1}, 1, 1, &pad, &at);
  CU_ASSERT(y[0] == -1 && at == 0);
  free(y);
  /* overlapping windows add their gradients: x 1 x 3 {1, 5, 2}, windows 1 x 2 at stride 1 */
  clmp_pool2d_params row = {{1, 2}, {1, 1}, {0, 0}};
  int32_t idx[2] = {-1, -1};
  y = pool_tiny(ctx, MAX, (const float[3]){1, 5, 2}, 1, 3, &row, idx);
  CU_ASSERT(y[0] == 5 && y[1] == 5 && idx[0] == 1 && idx[1] == 1);
  free(y);
  clmp_tensor *dy = clmp_test_tensor(ctx, CLMP_F32, 4, (size_t[4]){1, 1, 1, 2}, (float[2]){1, 10});
  clmp_tensor *it = clmp_test_tensor_i32(ctx, 4, (size_t[4]){1, 1, 1, 2}, idx);
  clmp_tensor *dx = clmp_test_tensor(ctx, CLMP_F32, 4, (size_t[4]){1, 1, 1, 3}, NULL);
  CU_ASSERT_EQUAL(clmp_max_pool2d_backward(dy, it, &row, dx), CLMP_SUCCESS);
  float *g = clmp_test_read(dx);
  CU_ASSERT(g[0] == 0 && g[1] == 11 && g[2] == 0);
  CU_ASSERT_EQUAL(clmp_avg_pool2d_backward(dy, &row, dx), CLMP_SUCCESS); /* halves */
  free(g), g = clmp_test_read(dx);
  CU_ASSERT(g[0] == 0.5f && g[1] == 5.5f && g[2] == 5);
  free(g);
  clmp_tensor_free(dy), clmp_tensor_free(it), clmp_tensor_free(dx);
}

static void avg_hand_values(clmp_ctx *ctx) {
  clmp_pool2d_params two = {{2, 2}, {2, 2}, {0, 0}}, pad = {{3, 3}, {1, 1}, {1, 1}};
  float *y = pool_tiny(ctx, AVG, (const float[4]){1, 2, 3, 4}, 2, 2, &two, NULL);
  CU_ASSERT(y[0] == 2.5f);
  free(y);
  /* the padding counts: 4 / 9, as fl(4 * fl(1 / 9)) */
  y = pool_tiny(ctx, AVG, (const float[1]){4}, 1, 1, &pad, NULL);
  CU_ASSERT(y[0] == 4.0f * (float)(1.0 / 9.0));
  free(y);
  /* global: [1, 2, 2, 2] into [1, 2], and back */
  size_t xs[4] = {1, 2, 2, 2}, ys[2] = {1, 2};
  clmp_tensor *x =
      clmp_test_tensor(ctx, CLMP_F32, 4, xs, (const float[8]){1, 2, 3, 4, -8, 0, 0, 0});
  clmp_tensor *g = clmp_test_tensor(ctx, CLMP_F32, 2, ys, NULL);
  CU_ASSERT_EQUAL(clmp_global_avg_pool(x, g), CLMP_SUCCESS);
  float *v = clmp_test_read(g);
  CU_ASSERT(v[0] == 2.5f && v[1] == -2.0f);
  free(v);
  CU_ASSERT_EQUAL(clmp_global_avg_pool_backward(g, x), CLMP_SUCCESS);
  v = clmp_test_read(x);
  CU_ASSERT(v[0] == 0.625f && v[3] == 0.625f && v[4] == -0.5f && v[7] == -0.5f);
  free(v);
  clmp_tensor_free(x), clmp_tensor_free(g);
}

static void test_hand_values(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    max_hand_values(clmp_test_devs[d].ctx);
    avg_hand_values(clmp_test_devs[d].ctx);
  }
}

/* --- clmp_pool2d_output_shape ------------------------------------------------------------------
 */

/* shape with params p: the status want, and y untouched unless it succeeds. */
static void expect_shape(const size_t x[4], clmp_pool2d_params p, clmp_status want,
                         const size_t *want_y) {
  size_t y[4] = {12345, 12345, 12345, 12345};
  clmp_status st = clmp_pool2d_output_shape(x, &p, y);
  if (st != want)
    printf("\n    output shape: got %s, want %s", clmp_status_name(st), clmp_status_name(want));
  CU_ASSERT_EQUAL(st, want);
  for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(y[i], want_y ? want_y[i] : 12345);
}

static void test_output_shape(void) {
  const size_t x[4] = {2, 3, 8, 8}, odd[4] = {1, 1, 7, 9}, one[4] = {1, 1, 1, 1};
  const size_t huge[4] = {1, 1, SIZE_MAX, 1}, zero[4] = {1, 0, 4, 4};
  expect_shape(x, (clmp_pool2d_params){{3, 3}, {2, 2}, {1, 1}}, CLMP_SUCCESS,
               (const size_t[4]){2, 3, 4, 4});
  expect_shape(odd, (clmp_pool2d_params){{2, 2}, {2, 2}, {0, 0}}, CLMP_SUCCESS,
               (const size_t[4]){1, 1, 3, 4});
  expect_shape(one, (clmp_pool2d_params){{2, 2}, {1, 1}, {1, 1}}, CLMP_SUCCESS,
               (const size_t[4]){1, 1, 2, 2});
  /* a window of SIZE_MAX padded by half of it: no overflow on the way */
  expect_shape(odd, (clmp_pool2d_params){{SIZE_MAX, 1}, {1, 1}, {SIZE_MAX / 2, 0}}, CLMP_SUCCESS,
               (const size_t[4]){1, 1, 7, 9});
  expect_shape(x, (clmp_pool2d_params){{0, 3}, {1, 1}, {0, 0}}, CLMP_ERR_INVALID_ARGUMENT, NULL);
  expect_shape(x, (clmp_pool2d_params){{3, 3}, {1, 0}, {0, 0}}, CLMP_ERR_INVALID_ARGUMENT, NULL);
  expect_shape(x, (clmp_pool2d_params){{3, 3}, {1, 1}, {2, 0}}, CLMP_ERR_INVALID_ARGUMENT, NULL);
  expect_shape(x, (clmp_pool2d_params){{2, 3}, {1, 1}, {0, 2}}, CLMP_ERR_INVALID_ARGUMENT, NULL);
  expect_shape(x, (clmp_pool2d_params){{9, 3}, {1, 1}, {0, 0}}, CLMP_ERR_INVALID_SHAPE, NULL);
  expect_shape(one, (clmp_pool2d_params){{3, 3}, {1, 1}, {0, 1}}, CLMP_ERR_INVALID_SHAPE, NULL);
  expect_shape(zero, (clmp_pool2d_params){{1, 1}, {1, 1}, {0, 0}}, CLMP_ERR_INVALID_SHAPE, NULL);
  expect_shape(huge, (clmp_pool2d_params){{2, 1}, {1, 1}, {1, 0}}, CLMP_ERR_SIZE_OVERFLOW, NULL);
  size_t y[4];
  clmp_pool2d_params p = {{1, 1}, {1, 1}, {0, 0}};
  CU_ASSERT_EQUAL(clmp_pool2d_output_shape(NULL, &p, y), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_pool2d_output_shape(x, NULL, y), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_pool2d_output_shape(x, &p, NULL), CLMP_ERR_INVALID_ARGUMENT);
}

/* --- finite differences ------------------------------------------------------------------------
 */

static double dot(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* (L(x + h v) - L(x - h v)) / 2h for L = <w, fwd(x)> on the reference; *noise receives the
 * bound of its rounding, sum |w| u (|y+| + |y-|) / 2h. */
static double fd_forward(enum pool_op fwd, const pool_case *pc, const float *x, const float *v,
                         float h, const float *w, double *noise) {
  size_t in_s[4], out_s[4];
  op_shapes(fwd, pc, in_s, out_s);
  size_t n = numel4(in_s), n_out = numel4(out_s);
  float *xs = malloc(n * sizeof *xs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
  double l[2] = {0, 0};
  *noise = 0;
  for (int side = 0; side < 2; side++) {
    for (size_t i = 0; i < n; i++) xs[i] = x[i] + (side ? -h : h) * v[i]; /* exact on the grid */
    clmp_tensor *xt = clmp_test_tensor(clmp_test_ref_ctx(), CLMP_F32, 4, in_s, xs);
    clmp_tensor *yt = clmp_test_tensor(clmp_test_ref_ctx(), CLMP_F32, 4, out_s, NULL);
    CU_ASSERT_EQUAL(run_op(fwd, &pc->p, xt, NULL, yt), CLMP_SUCCESS);
    float *y = clmp_test_read(yt);
    l[side] = dot(w, y, n_out);
    for (size_t o = 0; o < n_out; o++) *noise += fabs((double)w[o] * y[o]) * U32 / (2.0 * h);
    clmp_tensor_free(xt), clmp_tensor_free(yt);
    free(y);
  }
  free(xs);
  return (l[0] - l[1]) / (2.0 * h);
}

/* max pooling's inputs: FD_GAP apart, shuffled, so that no step of the difference changes a
 * window's winner. */
static float *distinct_inputs(size_t n, uint64_t seed) {
  float *x = malloc(n * sizeof *x);
  CU_ASSERT_PTR_NOT_NULL_FATAL(x);
  for (size_t i = 0; i < n; i++) x[i] = ((float)i - (float)n / 2) * FD_GAP;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)(clmp_test_rand(&seed) % i);
    float t = x[i - 1];
    x[i - 1] = x[j], x[j] = t;
  }
  return x;
}

/* Integer directions in [-FD_V_MAX, FD_V_MAX]. */
static float *direction(size_t n, uint64_t seed) {
  float *v = malloc(n * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  for (size_t i = 0; i < n; i++)
    v[i] = (float)((int)(clmp_test_rand(&seed) % (2 * FD_V_MAX + 1)) - FD_V_MAX);
  return v;
}

/* The forward op of a backward one. */
static enum pool_op forward_of(enum pool_op bwd) {
  return bwd == MAX_BW ? MAX : bwd == AVG_BW ? AVG : GAP;
}

/* <bwd(w), v> on device d (max: with the indices of its own forward at x) against fd, within
 * noise plus sum |v_i| bound_i. */
static void fd_check(int d, enum pool_op bwd, const pool_case *pc, const float *x, const float *v,
                     const float *w, const float *bound, double fd, double noise) {
  size_t in_s[4], out_s[4]; /* of the forward */
  op_shapes(forward_of(bwd), pc, in_s, out_s);
  clmp_ctx *ctx = clmp_test_devs[d].ctx;
  clmp_tensor *xt = clmp_test_tensor(ctx, CLMP_F32, 4, in_s, x);
  clmp_tensor *yt = clmp_test_tensor(ctx, CLMP_F32, 4, out_s, NULL);
  clmp_tensor *it = bwd == MAX_BW ? clmp_test_tensor(ctx, CLMP_I32, 4, out_s, NULL) : NULL;
  clmp_tensor *wt = clmp_test_tensor(ctx, CLMP_F32, 4, out_s, w);
  CU_ASSERT_EQUAL(run_op(forward_of(bwd), &pc->p, xt, it, yt), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(run_op(bwd, &pc->p, wt, it, xt), CLMP_SUCCESS);
  float *dx = clmp_test_read(xt);
  double got = dot(dx, v, numel4(in_s)), tol = noise;
  for (size_t i = 0; i < numel4(in_s); i++) tol += fabs((double)v[i]) * bound[i];
  printf("\n    %-8.31s %s [%zu, %zu, %zu, %zu]: <dx, v> %.9g, difference %.9g (tolerance %.3g)",
         clmp_test_devs[d].id, OP_NAMES[bwd], in_s[0], in_s[1], in_s[2], in_s[3], got, fd, tol);
  CU_ASSERT(fabs(got - fd) <= tol);
  clmp_tensor_free(xt), clmp_tensor_free(yt), clmp_tensor_free(it), clmp_tensor_free(wt);
  free(dx);
}

/* dx's bounds for dy = w (max: with the reference's indices at x, which every device matches). */
static float *fd_bound(enum pool_op bwd, const pool_case *pc, const float *x, const float *w) {
  size_t in_s[4], out_s[4];
  op_shapes(forward_of(bwd), pc, in_s, out_s);
  clmp_ctx *ref = clmp_test_ref_ctx();
  clmp_tensor *xt = clmp_test_tensor(ref, CLMP_F32, 4, in_s, x);
  clmp_tensor *yt = clmp_test_tensor(ref, CLMP_F32, 4, out_s, NULL);
  clmp_tensor *it = bwd == MAX_BW ? clmp_test_tensor(ref, CLMP_I32, 4, out_s, NULL) : NULL;
  clmp_tensor *wt = clmp_test_tensor(ref, CLMP_F32, 4, out_s, w);
  CU_ASSERT_EQUAL(run_op(forward_of(bwd), &pc->p, xt, it, yt), CLMP_SUCCESS);
  run_spec rs = {bwd, pc, CLMP_F32, CLMP_F32, 0};
  float *bound = op_bound(&rs, wt, it, out_s, in_s);
  clmp_tensor_free(xt), clmp_tensor_free(yt), clmp_tensor_free(it), clmp_tensor_free(wt);
  return bound;
}

static void fd_case(enum pool_op bwd, const pool_case *pc) {
  size_t in_s[4], out_s[4];
  op_shapes(forward_of(bwd), pc, in_s, out_s);
  size_t n = numel4(in_s);
  float *x = bwd == MAX_BW ? distinct_inputs(n, SEED + n) : make_inputs(n, SEED + n, 0);
  float *v = direction(n, SEED ^ n), *w = make_inputs(numel4(out_s), SEED * 3 + n, 0);
  float *bound = fd_bound(bwd, pc, x, w);
  double noise = 0;
  double fd = fd_forward(forward_of(bwd), pc, x, v, bwd == MAX_BW ? FD_H : 1.0f, w, &noise);
  for (int d = 0; d < clmp_test_ndevs; d++) fd_check(d, bwd, pc, x, v, w, bound, fd, noise);
  free(x), free(v), free(w), free(bound);
}

static void test_finite_differences(void) {
  const enum pool_op bwds[] = {MAX_BW, AVG_BW, GAP_BW};
  for (size_t b = 0; b < 3; b++)
    for (size_t c = 2; c < 5; c++) fd_case(bwds[b], &CASES[c]);
}

/* --- determinism ---------------------------------------------------------------------------------
 */

/* op's output on device d for f32 input v (max backward: with iv), as read back. */
static float *run_on(int d, enum pool_op op, const pool_case *pc, const float *v,
                     const int32_t *iv) {
  size_t in_s[4], out_s[4];
  op_shapes(op, pc, in_s, out_s);
  clmp_ctx *ctx = clmp_test_devs[d].ctx;
  clmp_tensor *in = clmp_test_tensor(ctx, CLMP_F32, 4, in_s, v);
  clmp_tensor *out = clmp_test_tensor(ctx, CLMP_F32, 4, out_s, NULL);
  clmp_tensor *ind = iv ? clmp_test_tensor_i32(ctx, 4, in_s, iv) : NULL;
  CU_ASSERT_EQUAL(run_op(op, &pc->p, in, ind, out), CLMP_SUCCESS);
  float *got = clmp_test_read(out);
  clmp_tensor_free(in), clmp_tensor_free(out), clmp_tensor_free(ind);
  return got;
}

/* Two runs on a device give the same bits, and so does every OpenCL device: each order of
 * additions is set by the shape alone. */
static void determinism_case(enum pool_op op, const pool_case *pc) {
  size_t in_s[4], out_s[4];
  op_shapes(op, pc, in_s, out_s);
  float *v = make_inputs(numel4(in_s), SEED * 5 + (uint64_t)op, 0), *first = NULL;
  int32_t *iv = op == MAX_BW ? forward_indices(pc, numel4(in_s)) : NULL;
  size_t bytes = numel4(out_s) * sizeof(float);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (clmp_test_is_ref(&clmp_test_devs[d])) continue;
    float *a = run_on(d, op, pc, v, iv), *b = run_on(d, op, pc, v, iv);
    int same_run = !memcmp(a, b, bytes), same_dev = !first || !memcmp(a, first, bytes);
    printf("\n    %-8.31s %s: run 2 %s run 1, %s the first device", clmp_test_devs[d].id,
           OP_NAMES[op], same_run ? "==" : "!=", same_dev ? "==" : "!=");
    CU_ASSERT(same_run && same_dev);
    free(b);
    if (first)
      free(a);
    else
      first = a;
  }
  free(v), free(iv), free(first);
}

static void test_deterministic(void) {
  for (int op = MAX; op <= GAP_BW; op++) determinism_case((enum pool_op)op, &CASES[N_CASES - 1]);
}

/* --- bad arguments --------------------------------------------------------------------------- */

#define REFUSED(where, fn, what, want, call)                     \
  do {                                                           \
    hostile_clear_error();                                       \
    hostile_expect_refused(where, fn, what, NULL, (call), want); \
  } while (0)

/* The tensors of the refusals: x [2, 3, 8, 8] and its pooling y (3 x 3 / 2 pad 1), indices,
 * misshaped, mistyped and overlapping ones, all holding 77; one on another context. */
typedef struct bad_set {
  clmp_tensor *x, *y, *ind, *y_bad, *x3, *xi, *ind_f, *g, *g_bad, *base, *lo, *hi, *other;
} bad_set;

static bad_set bad_open(clmp_ctx *ctx, clmp_ctx *other) {
  const size_t xs[4] = {2, 3, 8, 8}, ys[4] = {2, 3, 4, 4}, bad[4] = {2, 3, 4, 5};
  const size_t x3[3] = {3, 8, 8}, gs[2] = {2, 3}, gb[2] = {2, 4}, big[1] = {512};
  float *fill = malloc(512 * sizeof *fill);
  CU_ASSERT_PTR_NOT_NULL_FATAL(fill);
  for (int i = 0; i < 512; i++) fill[i] = CLMP_TEST_GUARD;
  bad_set b = {clmp_test_tensor(ctx, CLMP_F32, 4, xs, fill),
               clmp_test_tensor(ctx, CLMP_F32, 4, ys, fill),
               clmp_test_tensor(ctx, CLMP_I32, 4, ys, fill),
               clmp_test_tensor(ctx, CLMP_F32, 4, bad, fill),
               clmp_test_tensor(ctx, CLMP_F16, 3, x3, fill),
               clmp_test_tensor(ctx, CLMP_I32, 4, xs, fill),
               clmp_test_tensor(ctx, CLMP_F32, 4, ys, fill),
               clmp_test_tensor(ctx, CLMP_BF16, 2, gs, fill),
               clmp_test_tensor(ctx, CLMP_F32, 2, gb, fill),
               clmp_test_tensor(ctx, CLMP_F32, 1, big, fill),
               NULL,
               NULL,
               clmp_test_tensor(other, CLMP_F32, 4, ys, fill)};
  CU_ASSERT_EQUAL(clmp_tensor_view(b.base, 0, CLMP_F32, 4, xs, &b.lo), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_view(b.base, 64 * sizeof(float), CLMP_F32, 4, ys, &b.hi),
                  CLMP_SUCCESS);
  free(fill);
  return b;
}

static void bad_close(bad_set *b) {
  clmp_tensor *const all[] = {b->x, b->y,     b->ind,  b->y_bad, b->x3, b->xi,   b->ind_f,
                              b->g, b->g_bad, b->base, b->lo,    b->hi, b->other};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    if (all[i] != b->lo && all[i] != b->hi) clmp_test_expect_all(all[i], CLMP_TEST_GUARD);
    clmp_tensor_free(all[i]);
  }
}

static void bad_forward(const char *where, const bad_set *b) {
  const clmp_pool2d_params p = {{3, 3}, {2, 2}, {1, 1}}, k0 = {{0, 3}, {2, 2}, {0, 0}};
  const clmp_pool2d_params wide = {{3, 3}, {2, 2}, {2, 1}}, empty = {{9, 3}, {2, 2}, {0, 1}};
  const char *mx = "clmp_max_pool2d", *av = "clmp_avg_pool2d";
  REFUSED(where, mx, "NULL x", CLMP_ERR_INVALID_ARGUMENT, clmp_max_pool2d(NULL, &p, b->y, b->ind));
  REFUSED(where, mx, "NULL p", CLMP_ERR_INVALID_ARGUMENT,
          clmp_max_pool2d(b->x, NULL, b->y, b->ind));
  REFUSED(where, mx, "NULL y", CLMP_ERR_INVALID_ARGUMENT, clmp_max_pool2d(b->x, &p, NULL, b->ind));
  REFUSED(where, mx, "i32 x", CLMP_ERR_INVALID_DTYPE, clmp_max_pool2d(b->xi, &p, b->y, b->ind));
  REFUSED(where, mx, "3-D x", CLMP_ERR_INVALID_SHAPE, clmp_max_pool2d(b->x3, &p, b->y, b->ind));
  REFUSED(where, mx, "y misshaped", CLMP_ERR_INVALID_SHAPE,
          clmp_max_pool2d(b->x, &p, b->y_bad, NULL));
  REFUSED(where, mx, "f32 indices", CLMP_ERR_INVALID_DTYPE,
          clmp_max_pool2d(b->x, &p, b->y, b->ind_f));
  REFUSED(where, mx, "kernel 0", CLMP_ERR_INVALID_ARGUMENT, clmp_max_pool2d(b->x, &k0, b->y, NULL));
  REFUSED(where, mx, "padding > kernel / 2", CLMP_ERR_INVALID_ARGUMENT,
          clmp_max_pool2d(b->x, &wide, b->y, NULL));
  REFUSED(where, mx, "empty output", CLMP_ERR_INVALID_SHAPE,
          clmp_max_pool2d(b->x, &empty, b->y, NULL));
  REFUSED(where, mx, "y overlapping x", CLMP_ERR_INVALID_ARGUMENT,
          clmp_max_pool2d(b->lo, &p, b->hi, NULL));
  REFUSED(where, mx, "y on another context", CLMP_ERR_CONTEXT_MISMATCH,
          clmp_max_pool2d(b->x, &p, b->other, NULL));
  REFUSED(where, av, "NULL y", CLMP_ERR_INVALID_ARGUMENT, clmp_avg_pool2d(b->x, &p, NULL));
  REFUSED(where, av, "y misshaped", CLMP_ERR_INVALID_SHAPE, clmp_avg_pool2d(b->x, &p, b->y_bad));
  REFUSED(where, av, "i32 y", CLMP_ERR_INVALID_DTYPE, clmp_avg_pool2d(b->x, &p, b->ind));
  REFUSED(where, av, "y overlapping x", CLMP_ERR_INVALID_ARGUMENT,
          clmp_avg_pool2d(b->lo, &p, b->hi));
}

static void bad_backward(const char *where, const bad_set *b) {
  const clmp_pool2d_params p = {{3, 3}, {2, 2}, {1, 1}}, s0 = {{3, 3}, {0, 2}, {1, 1}};
  const char *mb = "clmp_max_pool2d_backward", *ab = "clmp_avg_pool2d_backward";
  const char *gp = "clmp_global_avg_pool", *gb = "clmp_global_avg_pool_backward";
  REFUSED(where, mb, "NULL indices", CLMP_ERR_INVALID_ARGUMENT,
          clmp_max_pool2d_backward(b->y, NULL, &p, b->x));
  REFUSED(where, mb, "dx misshaped", CLMP_ERR_INVALID_SHAPE,
          clmp_max_pool2d_backward(b->y_bad, b->ind, &p, b->x));
  REFUSED(where, mb, "f32 indices", CLMP_ERR_INVALID_DTYPE,
          clmp_max_pool2d_backward(b->y, b->ind_f, &p, b->x));
  REFUSED(where, mb, "dx overlapping dy", CLMP_ERR_INVALID_ARGUMENT,
          clmp_max_pool2d_backward(b->hi, b->ind, &p, b->lo));
  REFUSED(where, mb, "stride 0", CLMP_ERR_INVALID_ARGUMENT,
          clmp_max_pool2d_backward(b->y, b->ind, &s0, b->x));
  REFUSED(where, ab, "i32 dx", CLMP_ERR_INVALID_DTYPE, clmp_avg_pool2d_backward(b->y, &p, b->xi));
  REFUSED(where, ab, "dy on another context", CLMP_ERR_CONTEXT_MISMATCH,
          clmp_avg_pool2d_backward(b->other, &p, b->x));
  REFUSED(where, gp, "y of [2, 4]", CLMP_ERR_INVALID_SHAPE, clmp_global_avg_pool(b->x, b->g_bad));
  REFUSED(where, gp, "3-D x", CLMP_ERR_INVALID_SHAPE, clmp_global_avg_pool(b->x3, b->g));
  REFUSED(where, gp, "i32 x", CLMP_ERR_INVALID_DTYPE, clmp_global_avg_pool(b->xi, b->g));
  REFUSED(where, gp, "NULL y", CLMP_ERR_INVALID_ARGUMENT, clmp_global_avg_pool(b->x, NULL));
  REFUSED(where, gb, "dx of 3-D", CLMP_ERR_INVALID_SHAPE,
          clmp_global_avg_pool_backward(b->g, b->x3));
  REFUSED(where, gb, "dy of [2, 4]", CLMP_ERR_INVALID_SHAPE,
          clmp_global_avg_pool_backward(b->g_bad, b->x));
}

static void test_bad_arguments(void) {
  clmp_ctx *other = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_ctx_create("ref", &other), CLMP_SUCCESS);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    bad_set b = bad_open(clmp_test_devs[d].ctx, other);
    bad_forward(clmp_test_devs[d].id, &b);
    bad_backward(clmp_test_devs[d].id, &b);
    bad_close(&b);
  }
  clmp_ctx_free(other);
}

int main(void) {
  CU_TestInfo tests[] = {
      {"output shape: PyTorch's rules, refusals, no overflow", test_output_shape},
      {"max_pool2d: devices vs reference (values and indices)", test_max_vs_ref},
      {"max_pool2d_backward: devices vs reference", test_max_backward_vs_ref},
      {"avg_pool2d: devices vs reference", test_avg_vs_ref},
      {"avg_pool2d_backward: devices vs reference", test_avg_backward_vs_ref},
      {"global_avg_pool: devices vs reference", test_global_vs_ref},
      {"global_avg_pool_backward: devices vs reference", test_global_backward_vs_ref},
      {"hand-computed values", test_hand_values},
      {"backward passes: finite differences", test_finite_differences},
      {"the same bits every run and on every OpenCL device", test_deterministic},
      {"bad arguments", test_bad_arguments},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {
      {"pool", clmp_test_devices_open_with_gpu_form, clmp_test_devices_close, NULL, NULL, tests},
      CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
