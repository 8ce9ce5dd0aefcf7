/* tests/test_bias.c: clmp_bias_add and clmp_bias_grad along dimension 1 on every OpenCL device
 * (and cl:0 once more in its GPU forms) against the reference: every dtype combination; matrices
 * with 1, odd and large row and column counts (~1e6 elements, a 100003-row reduction over many
 * row blocks, a short matrix of 40009 columns); 3-D and 4-D tensors (per-channel biases of NCHW:
 * planes below and above the 64 elements where the sums change from row blocks to plane chunks,
 * one chunk and many, one row block and several, rows of partial sums folded, 1 x 1 planes);
 * views at offsets with untouched
 * padding, special values; exact sums of integers, bit-identical repeated runs (and across
 * OpenCL devices), hand-computed values, bad-argument statuses.
 *
 * Tolerances.
 * - bias_add: exact: one correctly rounded fp32 addition, then one rounding to y's dtype; FTZ_ATOL
 *   allows for devices that flush fp32 subnormals (CL_FP_DENORM is optional), which may lose less
 *   than 2^-126 on the operands and the sum.
 * - bias_grad, channel c of M = N S terms (f32 output): the reference sums in double; a device's
 *   fp32 sum in any order is within LAMBDA sqrt(M) u sum |dy[., c, .]| of the exact sum (u = 2^-24;
 *   Higham and Mary's probabilistic bound, "A new approach to probabilistic rounding error
 *   analysis", SISC 2019, with lambda = 8: it fails with probability below M * 2 exp(-32),
 *   under 1e-8 here), plus u (|beta db| + 2 |want|) for the beta term and the roundings, plus
 *   (M + 2) 2^-126 for flushed subnormals. 16-bit outputs: twice that, or 1 ulp of the dtype.
 * - bias_grad of small integers: exact for every summation order (every partial sum is an
 *   integer below 2^24), so the tolerance is 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define FTZ_ATOL    0x1p-124 /* 4 * 2^-126: the operands and the sum of one addition */
#define FTZ_PER_ADD 0x1p-126
#define U32         0x1p-24 /* unit roundoff of fp32 */
#define LAMBDA      8.0
#define SEED        0xb1a5000001ull
#define RAND_LO     (-1.0f) /* random inputs are uniform in [RAND_LO, RAND_HI) */
#define RAND_HI     1.0f
#define INT_MAX_ABS 8 /* integer inputs lie in [-INT_MAX_ABS, INT_MAX_ABS] */

static const clmp__tolerance BIAS_ADD_TOL = {FTZ_ATOL, 0, 0};

static const clmp_dtype FLOATS[] = {CLMP_F32, CLMP_F16, CLMP_BF16};
#define N_FLOATS 3

typedef struct bias_shape {
  int ndim;
  size_t dims[4], pad;
} bias_shape;

static const bias_shape SHAPES[] = {
    {2, {1, 1}, 0},          {2, {1, 7}, 3},          {2, {5, 1}, 1},
    {2, {3, 17}, 0},         {2, {33, 65}, 5},        {2, {129, 257}, 2},
    {2, {7, 40009}, 1},      {2, {1000, 1001}, 7},    {2, {100003, 10}, 3},
    {3, {4, 5, 7}, 1},       {4, {2, 3, 8, 8}, 2},    {4, {70, 2, 3, 3}, 0},
    {4, {3, 16, 32, 33}, 4}, {4, {2, 3, 1, 1}, 1},    {4, {1, 1, 1, 1}, 0},
    {3, {1, 3, 100003}, 2},  {4, {128, 64, 4, 4}, 3}, {4, {200, 2, 8, 8}, 2},
    {3, {9000, 3, 2}, 1},    {4, {16, 32, 56, 56}, 1}};
#define N_SHAPES (sizeof SHAPES / sizeof *SHAPES)
#define N_QUICK  15 /* the shapes every dtype combination runs on; the rest take f32 and f16 */

static size_t shape_numel(const bias_shape *bs) {
  size_t n = 1;
  for (int i = 0; i < bs->ndim; i++) n *= bs->dims[i];
  return n;
}

/* Element j < M of channel c (dimension 1) of the shape. */
static size_t channel_at(const bias_shape *bs, size_t c, size_t j) {
  size_t ch = bs->dims[1], inner = shape_numel(bs) / bs->dims[0] / ch;
  return (j / inner * ch + c) * inner + j % inner;
}

/* The dtype combinations a shape runs: all of them, or f32 and f16 only for the large ones. */
static int dtypes_of(size_t s) {
  return s < N_QUICK ? N_FLOATS : 2;
}

static const float SPECIALS[] = {0.0f,  -0.0f, 1e-40f, 6e-8f,   65504,    -65504,
                                 65520, 7e4f,  1e30f,  -3e38f,  INFINITY, -INFINITY,
                                 NAN,   1.0f,  -1.0f,  0x1p-14f};
#define N_SPECIALS (sizeof SPECIALS / sizeof *SPECIALS)

/* n seeded uniform values (integers in [-INT_MAX_ABS, INT_MAX_ABS] when integers), with the
 * special values at the start when specials. */
static float *make_inputs(size_t n, uint64_t seed, int specials, int integers) {
  float *v = malloc(n * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  clmp_test_uniform(v, n, RAND_LO, RAND_HI, seed);
  for (size_t i = 0; integers && i < n; i++) v[i] = roundf(v[i] * INT_MAX_ABS);
  for (size_t k = 0; specials && k < N_SPECIALS && k < n; k++) v[k] = SPECIALS[k];
  return v;
}

/* --- bias_add against the reference ---------------------------------------------------------- */

static void bias_add_case(clmp_dtype yd, clmp_dtype bd, const bias_shape *bs) {
  size_t n = shape_numel(bs), cols = bs->dims[1], bshape[1] = {cols}, pad = bs->pad;
  float *yv = make_inputs(n, SEED + n, 1, 0);
  float *bv = make_inputs(cols, SEED ^ cols, 1, 0);
  if (cols > N_SPECIALS) bv[cols - 1] = NAN, bv[cols - 2] = 65504; /* meet ordinary y values */
  clmp_test_view ry = clmp_test_view_make(clmp_test_ref_ctx(), yd, bs->ndim, bs->dims, pad, yv);
  clmp_test_view rb = clmp_test_view_make(clmp_test_ref_ctx(), bd, 1, bshape, pad + 1, bv);
  CU_ASSERT_EQUAL(clmp_bias_add(ry.t, rb.t), CLMP_SUCCESS);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (clmp_test_is_ref(&clmp_test_devs[d])) continue;
    clmp_test_view y = clmp_test_view_make(clmp_test_devs[d].ctx, yd, bs->ndim, bs->dims, pad, yv);
    clmp_test_view b = clmp_test_view_make(clmp_test_devs[d].ctx, bd, 1, bshape, pad + 1, bv);
    CU_ASSERT_EQUAL(clmp_bias_add(y.t, b.t), CLMP_SUCCESS);
    char what[128];
    snprintf(what, sizeof what, "%-8.31s bias_add(%s %d-D [%zu, %zu, ...] of %zu, %s)",
             clmp_test_devs[d].id, clmp_dtype_name(yd), bs->ndim, bs->dims[0], cols, n,
             clmp_dtype_name(bd));
    clmp_test_expect_close(what, y.t, ry.t, &BIAS_ADD_TOL);
    clmp_test_expect_guard(what, &y);
    clmp_test_view_free(&y), clmp_test_view_free(&b);
  }
  clmp_test_view_free(&ry), clmp_test_view_free(&rb);
  free(yv), free(bv);
}

static void test_bias_add_vs_ref(void) {
  for (size_t s = 0; s < N_SHAPES; s++)
    for (int i = 0; i < dtypes_of(s); i++)
      for (int j = 0; j < dtypes_of(s); j++) bias_add_case(FLOATS[i], FLOATS[j], &SHAPES[s]);
}

/* --- bias_grad against the reference --------------------------------------------------------- */

/* One bias_grad problem: dy values, db's old values, beta, and whether the tolerance is 0. */
typedef struct grad_case {
  clmp_dtype dyd, dbd;
  const bias_shape *bs;
  float beta;
  const float *dy, *db;
  int exact;
} grad_case;

/* Channel c's tolerance (see the header), from dy and db as stored. */
static double column_bound(const grad_case *gc, const float *dy, const float *db_old, size_t c,
                           double want) {
  size_t m = shape_numel(gc->bs) / gc->bs->dims[1];
  double abs_sum = 0;
  for (size_t j = 0; j < m; j++) abs_sum += fabs(dy[channel_at(gc->bs, c, j)]);
  double beta_db = gc->beta != 0 ? fabs((double)gc->beta * db_old[c]) : 0;
  double b = LAMBDA * sqrt((double)m) * U32 * abs_sum + U32 * (beta_db + 2 * fabs(want)) +
             (double)(m + 2) * FTZ_PER_ADD;
  return gc->dbd == CLMP_F32 ? b : 2 * b;
}

/* Asserts each column of got within its bound of want (or 1 ulp for 16-bit outputs). */
static void expect_columns(const char *what, const grad_case *gc, const float *got,
                           const float *want, const float *dy, const float *db_old) {
  size_t failed = 0, worst = 0, cols = gc->bs->dims[1];
  double worst_ratio = 0;
  for (size_t c = 0; c < cols; c++) {
    double g = got[c], w = want[c], r = 0;
    if (!((isnan(g) && isnan(w)) || g == w)) {
      double bound = gc->exact ? 0 : column_bound(gc, dy, db_old, c, w);
      r = isfinite(g) && isfinite(w) && bound > 0 ? fabs(g - w) / bound : INFINITY;
      if (!gc->exact && gc->dbd != CLMP_F32 && clmp__ulp_distance(gc->dbd, got[c], want[c]) <= 1)
        r = r < 1 ? r : 1;
    }
    if (r > worst_ratio || (r > 1 && !failed)) worst_ratio = r, worst = c;
    failed += !(r <= 1);
  }
  printf("\n    %s: worst error/tolerance %.3g, %zu/%zu columns failed", what, worst_ratio, failed,
         cols);
  if (failed)
    printf(" (column %zu: got %.9g, want %.9g)", worst, (double)got[worst], (double)want[worst]);
  CU_ASSERT_EQUAL(failed, 0);
}

/* Runs bias_grad of gc on ctx and returns db afterwards; *dy_stored and *db_old receive dy and
 * db as stored (after rounding to their dtypes) unless NULL. */
static float *grad_run(clmp_ctx *ctx, const char *what, const grad_case *gc, float **dy_stored,
                       float **db_old) {
  size_t bshape[1] = {gc->bs->dims[1]}, pad = gc->bs->pad;
  clmp_test_view dy = clmp_test_view_make(ctx, gc->dyd, gc->bs->ndim, gc->bs->dims, pad, gc->dy);
  clmp_test_view db = clmp_test_view_make(ctx, gc->dbd, 1, bshape, pad + 2, gc->db);
  if (dy_stored) *dy_stored = clmp_test_read(dy.t);
  if (db_old) *db_old = clmp_test_read(db.t);
  CU_ASSERT_EQUAL(clmp_bias_grad(dy.t, gc->beta, db.t), CLMP_SUCCESS);
  float *got = clmp_test_read(db.t);
  clmp_test_expect_guard(what, &db);
  clmp_test_view_free(&dy), clmp_test_view_free(&db);
  return got;
}

/* The reference's result, then every OpenCL device's, compared column by column. */
static void grad_compare(const grad_case *gc) {
  float *dy = NULL, *db_old = NULL;
  float *want = grad_run(clmp_test_ref_ctx(), "ref bias_grad", gc, &dy, &db_old);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (clmp_test_is_ref(&clmp_test_devs[d])) continue;
    char what[160];
    snprintf(what, sizeof what, "%-8.31s bias_grad(%s %d-D [%zu, %zu, ...], beta %g, %s)%s",
             clmp_test_devs[d].id, clmp_dtype_name(gc->dyd), gc->bs->ndim, gc->bs->dims[0],
             gc->bs->dims[1], (double)gc->beta, clmp_dtype_name(gc->dbd),
             gc->exact ? " integers" : "");
    float *got = grad_run(clmp_test_devs[d].ctx, what, gc, NULL, NULL);
    expect_columns(what, gc, got, want, dy, db_old);
    free(got);
  }
  free(want), free(dy), free(db_old);
}

/* beta 0 (db holds NaN, which must not be read), 1 (accumulation) and -0.5. */
static void grad_case_all_betas(clmp_dtype dyd, clmp_dtype dbd, const bias_shape *bs) {
  size_t n = shape_numel(bs), cols = bs->dims[1];
  float *dy = make_inputs(n, SEED + 2 * n, 1, 0);
  float *db = make_inputs(cols, SEED ^ (cols << 8), 0, 0), *nan_db = malloc(cols * sizeof *nan_db);
  CU_ASSERT_PTR_NOT_NULL_FATAL(nan_db);
  for (size_t c = 0; c < cols; c++) nan_db[c] = NAN;
  grad_case gc = {dyd, dbd, bs, 0.0f, dy, nan_db, 0};
  grad_compare(&gc);
  gc.beta = 1.0f, gc.db = db;
  grad_compare(&gc);
  gc.beta = -0.5f;
  grad_compare(&gc);
  free(dy), free(db), free(nan_db);
}

static void test_bias_grad_vs_ref(void) {
  for (size_t s = 0; s < N_SHAPES; s++)
    for (int i = 0; i < dtypes_of(s); i++)
      for (int j = 0; j < dtypes_of(s); j++) grad_case_all_betas(FLOATS[i], FLOATS[j], &SHAPES[s]);
}

/* Sums of small integers are exact in every order: devices and reference agree to the bit. */
static void test_bias_grad_integers(void) {
  for (size_t s = 0; s < N_SHAPES; s++)
    for (int i = 0; i < dtypes_of(s); i++)
      for (int j = 0; j < dtypes_of(s); j++) {
        size_t n = shape_numel(&SHAPES[s]), cols = SHAPES[s].dims[1];
        float *dy = make_inputs(n, SEED + 3 * (n / cols), 0, 1);
        float *db = make_inputs(cols, SEED + 5 * cols, 0, 1);
        grad_case gc = {FLOATS[i], FLOATS[j], &SHAPES[s], 1.0f, dy, db, 1};
        grad_compare(&gc);
        free(dy), free(db);
      }
}

/* Two runs on one device give the same bits, and so do any two OpenCL devices: the summation
 * order depends on the shape alone. */
static void determinism_case(const bias_shape *bs) {
  size_t cols = bs->dims[1];
  float *dy = make_inputs(shape_numel(bs), SEED + 7 * bs->dims[0], 0, 0);
  grad_case gc = {CLMP_F32, CLMP_F32, bs, 0.0f, dy, NULL, 0};
  float *first = NULL;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (clmp_test_is_ref(&clmp_test_devs[d])) continue;
    float *a = grad_run(clmp_test_devs[d].ctx, "run 1", &gc, NULL, NULL);
    float *b = grad_run(clmp_test_devs[d].ctx, "run 2", &gc, NULL, NULL);
    int same_run = !memcmp(a, b, cols * sizeof *a);
    int same_dev = !first || !memcmp(a, first, cols * sizeof *a);
    printf("\n    %-8.31s bias_grad %d-D [%zu, %zu, ...]: run 2 %s run 1, %s the first device",
           clmp_test_devs[d].id, bs->ndim, bs->dims[0], cols,
           same_run ? "==" : "!=", same_dev ? "==" : "!=");
    CU_ASSERT(same_run && same_dev);
    free(b);
    if (first)
      free(a);
    else
      first = a;
  }
  free(first), free(dy);
}

static void test_bias_grad_deterministic(void) {
  const size_t which[] = {6, 7, 8, 12, 15, 16, 17, 18};
  for (size_t k = 0; k < sizeof which / sizeof *which; k++) determinism_case(&SHAPES[which[k]]);
}

/* --- hand-computed values, on every device including the reference ------------------------- */

static void test_hand_values(void) {
  const float m[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 20, 30}, ones[] = {1, 1, 1};
  const float nans[] = {NAN, NAN, NAN};
  size_t shape[2] = {2, 3}, bshape[1] = {3}, one[2] = {1, 1};
  for (int k = 0; k < clmp_test_ndevs; k++) {
    clmp_ctx *ctx = clmp_test_devs[k].ctx;
    clmp_tensor *y = clmp_test_tensor(ctx, CLMP_F32, 2, shape, m);
    clmp_tensor *bias = clmp_test_tensor(ctx, CLMP_F32, 1, bshape, b);
    clmp_tensor *db = clmp_test_tensor(ctx, CLMP_F32, 1, bshape, nans);
    CU_ASSERT_EQUAL(clmp_bias_grad(y, 0.0f, db), CLMP_SUCCESS); /* NaN in db is not read */
    float *g = clmp_test_read(db);
    CU_ASSERT(g[0] == 5 && g[1] == 7 && g[2] == 9);
    free(g);
    CU_ASSERT_EQUAL(clmp_tensor_write(db, CLMP_F32, ones, 3), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_bias_grad(y, 1.0f, db), CLMP_SUCCESS);
    g = clmp_test_read(db);
    CU_ASSERT(g[0] == 6 && g[1] == 8 && g[2] == 10);
    free(g);
    CU_ASSERT_EQUAL(clmp_bias_add(y, bias), CLMP_SUCCESS);
    g = clmp_test_read(y);
    CU_ASSERT(g[0] == 11 && g[1] == 22 && g[2] == 33 && g[3] == 14 && g[4] == 25 && g[5] == 36);
    free(g);
    clmp_tensor_free(y), clmp_tensor_free(bias), clmp_tensor_free(db);
    /* NCHW: y [2, 2, 1, 2] += bias[c]; db[c] sums the planes (n, c) */
    const float x4[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b2[2] = {10, -10};
    size_t s4[4] = {2, 2, 1, 2}, s2[1] = {2};
    clmp_tensor *y4 = clmp_test_tensor(ctx, CLMP_F32, 4, s4, x4);
    clmp_tensor *bias2 = clmp_test_tensor(ctx, CLMP_F32, 1, s2, b2);
    CU_ASSERT_EQUAL(clmp_bias_grad(y4, 0.0f, bias2), CLMP_SUCCESS);
    g = clmp_test_read(bias2);
    CU_ASSERT(g[0] == 1 + 2 + 5 + 6 && g[1] == 3 + 4 + 7 + 8);
    free(g);
    CU_ASSERT_EQUAL(clmp_tensor_write(bias2, CLMP_F32, b2, 2), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_bias_add(y4, bias2), CLMP_SUCCESS);
    g = clmp_test_read(y4);
    CU_ASSERT(g[0] == 11 && g[1] == 12 && g[2] == -7 && g[3] == -6 && g[4] == 15 && g[7] == -2);
    free(g);
    clmp_tensor_free(y4), clmp_tensor_free(bias2);
    /* 65504 + 32 = 65536 rounds to inf in f16 */
    const float big[] = {65504}, small[] = {32};
    clmp_tensor *h = clmp_test_tensor(ctx, CLMP_F16, 2, one, big);
    clmp_tensor *hb = clmp_test_tensor(ctx, CLMP_F32, 1, one, small);
    CU_ASSERT_EQUAL(clmp_bias_add(h, hb), CLMP_SUCCESS);
    g = clmp_test_read(h);
    CU_ASSERT(isinf(g[0]) && g[0] > 0);
    free(g);
    clmp_tensor_free(h), clmp_tensor_free(hb);
  }
}

/* --- bad arguments ---------------------------------------------------------------------------- */

static void bad_arguments_on(clmp_ctx *ctx) {
  size_t s23[2] = {2, 3}, s6[1] = {6}, s3[1] = {3}, s4[1] = {4}, s123[3] = {1, 2, 3};
  const float ones[6] = {1, 1, 1, 1, 1, 1};
  clmp_tensor *m = clmp_test_tensor(ctx, CLMP_F32, 2, s23, ones);
  clmp_tensor *flat = clmp_test_tensor(ctx, CLMP_F16, 1, s6, ones);
  clmp_tensor *cube = clmp_test_tensor(ctx, CLMP_F16, 3, s123, ones);
  clmp_tensor *b = clmp_test_tensor(ctx, CLMP_BF16, 1, s3, ones);
  clmp_tensor *b4 = clmp_test_tensor(ctx, CLMP_F32, 1, s4, ones);
  clmp_tensor *mi = clmp_test_tensor(ctx, CLMP_I32, 2, s23, ones);
  clmp_tensor *bu = clmp_test_tensor(ctx, CLMP_U8, 1, s3, ones);
  CU_ASSERT_EQUAL(clmp_bias_add(NULL, b), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_bias_add(m, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_bias_add(mi, b), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_bias_add(m, bu), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_bias_add(flat, b), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_bias_add(cube, b), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_bias_add(m, b4), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_bias_grad(NULL, 0, b), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_bias_grad(m, 0, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_bias_grad(mi, 0, b), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_bias_grad(m, 0, bu), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_bias_grad(flat, 0, b), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_bias_grad(cube, 0, b), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_bias_grad(m, 0, b4), CLMP_ERR_INVALID_SHAPE);
  clmp_test_expect_all(m, 1), clmp_test_expect_all(flat, 1), clmp_test_expect_all(cube, 1);
  clmp_test_expect_all(b, 1), clmp_test_expect_all(b4, 1), clmp_test_expect_all(bu, 1);
  clmp_tensor_free(m), clmp_tensor_free(flat), clmp_tensor_free(cube), clmp_tensor_free(b);
  clmp_tensor_free(b4), clmp_tensor_free(mi), clmp_tensor_free(bu);
}

static void test_bad_arguments(void) {
  for (int k = 0; k < clmp_test_ndevs; k++) bad_arguments_on(clmp_test_devs[k].ctx);
}

/* Tensors of two contexts never mix. */
static void test_context_mismatch(void) {
  if (clmp_test_ndevs < 2) return;
  size_t s23[2] = {2, 3}, s3[1] = {3};
  const float ones[6] = {1, 1, 1, 1, 1, 1};
  clmp_tensor *m = clmp_test_tensor(clmp_test_devs[0].ctx, CLMP_F32, 2, s23, ones);
  clmp_tensor *b = clmp_test_tensor(clmp_test_devs[1].ctx, CLMP_F32, 1, s3, ones);
  CU_ASSERT_EQUAL(clmp_bias_add(m, b), CLMP_ERR_CONTEXT_MISMATCH);
  CU_ASSERT_EQUAL(clmp_bias_grad(m, 0, b), CLMP_ERR_CONTEXT_MISMATCH);
  clmp_test_expect_all(m, 1), clmp_test_expect_all(b, 1);
  clmp_tensor_free(m), clmp_tensor_free(b);
}

int main(void) {
  CU_TestInfo tests[] = {
      {"bias_add: devices vs reference, all dtypes and shapes", test_bias_add_vs_ref},
      {"bias_grad: devices vs reference, all dtypes, shapes, betas", test_bias_grad_vs_ref},
      {"bias_grad: integer sums are exact", test_bias_grad_integers},
      {"bias_grad: the same bits every run", test_bias_grad_deterministic},
      {"hand-computed values", test_hand_values},
      {"bad arguments", test_bad_arguments},
      {"tensors of two contexts", test_context_mismatch},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {
      {"bias", clmp_test_devices_open_with_gpu_form, clmp_test_devices_close, NULL, NULL, tests},
      CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
