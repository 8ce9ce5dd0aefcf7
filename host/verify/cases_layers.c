/* host/verify/cases_layers.c: the layer cases of `clmp verify`: add, dropout, pooling and batch
 * normalisation. u is fp32's unit roundoff (2^-24); sums are compared against the magnitude of
 * their terms (compare.h), with the depth of the device's order of additions stated where the
 * tolerance is computed (host/ops/reduce.h for the per-channel and per-plane sums). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../ops/reduce.h"
#include "../runtime/error.h"
#include "verify_impl.h"

#define N_FLOAT 3
static const clmp_dtype FLOATS[N_FLOAT] = {CLMP_F32, CLMP_F16, CLMP_BF16};
static const size_t SIZES[] = {1, 1001, (1u << 20) + 3};
#define N_SIZES   (sizeof SIZES / sizeof *SIZES)
#define U32       0x1p-24
#define FTZ_ATOL  0x1p-125 /* a product or sum that a device flushing fp32 subnormals may lose */
#define DROP_SEED 0xc1a55eedull
#define MOMENTUM  0.1f
#define BN_EPS    1e-5f

/* One rounding of a fp32 result on both sides (allowing for flushed subnormals). */
static const clmp__tolerance ROUNDED_ONCE = {FTZ_ATOL, 0, 0};
static const clmp__tolerance EXACT = {0, 0, 0};

static float *values(venv *e, size_t n, float lo, float hi, int special) {
  float *v = malloc(n * sizeof *v);
  if (v) clmp__verify_values(e, v, n, lo, hi, special);
  return v;
}

/* 1 ulp of a 16-bit output (its last rounding on each side), none of an f32 one. */
static double ulp16(clmp_dtype d) {
  return d == CLMP_F32 ? 0 : 1;
}

/* A tensor's values as fp32 (malloc'ed; NULL on failure, recorded). */
static float *read_values(const clmp_tensor *t) {
  size_t n = clmp_tensor_numel(t);
  float *v = malloc(n * sizeof *v);
  clmp_status st = v ? clmp_tensor_read(t, CLMP_F32, v, n)
                     : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: %zu values", n);
  if (st != CLMP_SUCCESS) free(v), v = NULL;
  return v;
}

/* An f32 tensor of n magnitudes on the reference (1-D: compare_sum reads them flat). */
static clmp_status mag_tensor(venv *e, const double *m, size_t n, clmp_tensor **out) {
  float *f = malloc(n * sizeof *f);
  clmp_status st = f ? clmp_tensor_create(e->ref, CLMP_F32, 1, &n, out)
                     : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: %zu magnitudes", n);
  for (size_t i = 0; f && i < n; i++) f[i] = (float)m[i];
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(*out, CLMP_F32, f, n);
  free(f);
  return st;
}

/* --- add and dropout: one rounding of an fp32 result, the same on both sides ---------------- */

static void add_row(venv *e, const clmp_dtype dt[3], size_t n, int special) {
  float *va = values(e, n, -4, 4, special), *vb = values(e, n, -4, 4, special);
  pair a = {0}, b = {0}, y = {0};
  char dts[48], sh[48];
  snprintf(dts, sizeof dts, "%s + %s -> %s", clmp_dtype_name(dt[0]), clmp_dtype_name(dt[1]),
           clmp_dtype_name(dt[2]));
  clmp__verify_row row;
  clmp__verify_row_init(&row, "add", dts, clmp__verify_shape(sh, sizeof sh, 1, &n), special,
                        ROUNDED_ONCE);
  clmp_status st =
      va && vb ? clmp__verify_pair(e, dt[0], 1, &n, va, &a) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, dt[1], 1, &n, vb, &b);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, dt[2], 1, &n, NULL, &y);
  clmp_status sd = st ? st : clmp_add(a.d, b.d, y.d), sr = st ? st : clmp_add(a.r, b.r, y.r);
  clmp__verify_finish(e, &row, sd, sr, &y);
  clmp__verify_pair_free(&a), clmp__verify_pair_free(&b), clmp__verify_pair_free(&y);
  free(va), free(vb);
}

static void add_rows(venv *e) {
  static const clmp_dtype combos[][3] = {{CLMP_F32, CLMP_F32, CLMP_F32},
                                         {CLMP_F16, CLMP_F16, CLMP_F16},
                                         {CLMP_BF16, CLMP_BF16, CLMP_BF16},
                                         {CLMP_F16, CLMP_F32, CLMP_F16}};
  for (size_t c = 0; c < sizeof combos / sizeof *combos; c++)
    for (size_t s = 0; s < N_SIZES; s++)
      for (int special = 0; special < 2; special++) add_row(e, combos[c], SIZES[s], special);
}

/* The mask is the same on both sides by definition; a kept element is one fp32 product. */
static void dropout_row(venv *e, int backward, clmp_dtype xd, clmp_dtype yd, size_t n, float p,
                        int special) {
  float *v = values(e, n, -4, 4, special);
  pair x = {0}, y = {0};
  char dts[48], sh[48];
  snprintf(dts, sizeof dts, "%s -> %s, p %g", clmp_dtype_name(xd), clmp_dtype_name(yd), (double)p);
  clmp__verify_row row;
  clmp__verify_row_init(&row, backward ? "dropout_backward" : "dropout", dts,
                        clmp__verify_shape(sh, sizeof sh, 1, &n), special, ROUNDED_ONCE);
  clmp_status st = v ? clmp__verify_pair(e, xd, 1, &n, v, &x) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, yd, 1, &n, NULL, &y);
  clmp_status (*op)(const clmp_tensor *, float, uint64_t, clmp_tensor *) =
      backward ? clmp_dropout_backward : clmp_dropout;
  clmp_status sd = st ? st : op(x.d, p, DROP_SEED, y.d), sr = st ? st : op(x.r, p, DROP_SEED, y.r);
  clmp__verify_finish(e, &row, sd, sr, &y);
  clmp__verify_pair_free(&x), clmp__verify_pair_free(&y);
  free(v);
}

static void dropout_rows(venv *e) {
  static const float ps[] = {0.0f, 0.5f, 0.9f};
  for (int d = 0; d < N_FLOAT; d++)
    for (size_t s = 0; s < N_SIZES; s++)
      for (int special = 0; special < 2; special++)
        for (size_t k = 0; k < sizeof ps / sizeof *ps; k++)
          dropout_row(e, 0, FLOATS[d], FLOATS[d], SIZES[s], ps[k], special);
  for (int special = 0; special < 2; special++) {
    dropout_row(e, 0, CLMP_F16, CLMP_F32, SIZES[1], 0.25f, special);
    dropout_row(e, 1, CLMP_F32, CLMP_F32, SIZES[2], 0.5f, special);
    dropout_row(e, 1, CLMP_F16, CLMP_F16, SIZES[1], 0.1f, special);
  }
}

/* --- pooling ------------------------------------------------------------------------------------
 */

typedef struct vpool {
  size_t shape[4];
  clmp_pool2d_params p;
} vpool;

/* 1 x 1, a floor that drops a row and a column, overlapping windows at stride 1, non-square
 * everything, and a ResNet stem's pooling of a batch. */
static const vpool POOLS[] = {{{1, 1, 1, 1}, {{1, 1}, {1, 1}, {0, 0}}},
                              {{2, 3, 7, 9}, {{2, 2}, {2, 2}, {0, 0}}},
                              {{1, 2, 5, 6}, {{3, 3}, {1, 1}, {1, 1}}},
                              {{3, 2, 11, 7}, {{3, 2}, {2, 1}, {1, 0}}},
                              {{4, 16, 56, 56}, {{3, 3}, {2, 2}, {1, 1}}}};
#define N_POOLS (sizeof POOLS / sizeof *POOLS)

enum vpool_op { P_MAX, P_MAX_BW, P_AVG, P_AVG_BW, P_GAP, P_GAP_BW };
static const char *const P_NAMES[] = {"max_pool2d",      "max_pool2d_backward",
                                      "avg_pool2d",      "avg_pool2d_backward",
                                      "global_avg_pool", "global_avg_pool_backward"};

static clmp_status pool_run(enum vpool_op op, const clmp_pool2d_params *p, const clmp_tensor *in,
                            clmp_tensor *ind, clmp_tensor *out) {
  switch (op) {
  case P_MAX: return clmp_max_pool2d(in, p, out, ind);
  case P_MAX_BW: return clmp_max_pool2d_backward(in, ind, p, out);
  case P_AVG: return clmp_avg_pool2d(in, p, out);
  case P_AVG_BW: return clmp_avg_pool2d_backward(in, p, out);
  case P_GAP: return clmp_global_avg_pool(in, out);
  default: return clmp_global_avg_pool_backward(in, out);
  }
}

/* op's input and output shapes: [N, C, H, W] and its pooling (or [N, C, 1, 1]). */
static clmp_status pool_shapes(enum vpool_op op, const vpool *vp, size_t in[4], size_t out[4]) {
  size_t small[4] = {vp->shape[0], vp->shape[1], 1, 1};
  clmp_status st = op >= P_GAP ? CLMP_SUCCESS : clmp_pool2d_output_shape(vp->shape, &vp->p, small);
  int backward = op == P_MAX_BW || op == P_AVG_BW || op == P_GAP_BW;
  for (int i = 0; i < 4; i++)
    in[i] = backward ? small[i] : vp->shape[i], out[i] = backward ? vp->shape[i] : small[i];
  return st;
}

/* The depth times u of op's sums: T = ceil(kh / sh) ceil(kw / sw) windows per input, K = kh kw
 * inputs per window; (T + 1) u (max, a sum of T terms), (K + 4) u and (T + 4) u (average: the
 * sum, the reciprocal and the product), and the plane sums' depth + 4 (global); 0 where exact. */
static double pool_mtol(enum vpool_op op, const vpool *vp) {
  const size_t *k = vp->p.kernel, *s = vp->p.stride;
  double t = (double)((k[0] + s[0] - 1) / s[0] * ((k[1] + s[1] - 1) / s[1]));
  clmp__ncs v = {vp->shape[0], vp->shape[1], vp->shape[2] * vp->shape[3]};
  double gap = (double)clmp__sum_depth(&(clmp__sum){CLMP__TERM_X, NULL, NULL, NULL, 0, v, 1, 0});
  switch (op) {
  case P_MAX_BW: return (t + 1) * U32;
  case P_AVG: return ((double)(k[0] * k[1]) + 4) * U32;
  case P_AVG_BW: return (t + 4) * U32;
  case P_GAP: return (gap + 4) * U32;
  default: return 0;
  }
}

/* An i32 tensor's values as fp32 (exact below 2^24, as plane positions here are). */
static clmp_status read_indices(const clmp_tensor *t, float **out) {
  size_t n = clmp_tensor_numel(t);
  int32_t *raw = malloc(n * sizeof *raw);
  *out = malloc(n * sizeof **out);
  clmp_status st = raw && *out
                       ? clmp_tensor_read(t, CLMP_I32, raw, n)
                       : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: %zu indices", n);
  for (size_t i = 0; st == CLMP_SUCCESS && i < n; i++) (*out)[i] = (float)raw[i];
  free(raw);
  return st;
}

/* The indices max_pool2d_backward reads, on both sides: the reference forward's over seeded x. */
static clmp_status pool_indices(venv *e, const vpool *vp, const size_t y_s[4], pair *ind) {
  size_t n_x = vp->shape[0] * vp->shape[1] * vp->shape[2] * vp->shape[3];
  float *v = values(e, n_x, -4, 4, 0), *iv = NULL;
  clmp_tensor *x = NULL, *y = NULL, *it = NULL;
  clmp_status st = v ? clmp_tensor_create(e->ref, CLMP_F32, 4, vp->shape, &x)
                     : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: %zu values", n_x);
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(x, CLMP_F32, v, n_x);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(e->ref, CLMP_F32, 4, y_s, &y);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(e->ref, CLMP_I32, 4, y_s, &it);
  if (st == CLMP_SUCCESS) st = clmp_max_pool2d(x, &vp->p, y, it);
  if (st == CLMP_SUCCESS) st = read_indices(it, &iv);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_I32, 4, y_s, iv, ind);
  clmp_tensor_free(x), clmp_tensor_free(y), clmp_tensor_free(it);
  free(v), free(iv);
  return st;
}

/* The magnitude of each output's terms: op over |in| on the reference, into an f32 tensor. */
static clmp_status pool_magnitude(venv *e, enum vpool_op op, const vpool *vp, const pair *in,
                                  const pair *ind, const size_t out_s[4], clmp_tensor **mag) {
  clmp_tensor *a = NULL;
  clmp_status st = clmp__verify_abs(e->ref, in->r, &a);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(e->ref, CLMP_F32, 4, out_s, mag);
  if (st == CLMP_SUCCESS) st = pool_run(op, &vp->p, a, ind->r, *mag);
  clmp_tensor_free(a);
  return st;
}

/* The row of max_pool2d's indices: exact. */
static void indices_row(venv *e, const clmp__verify_row *values_row, clmp_status sd, clmp_status sr,
                        const pair *ind) {
  clmp__verify_row row;
  clmp__verify_row_init(&row, "max_pool2d indices", values_row->dtypes, values_row->shape,
                        values_row->values[0] == 's', EXACT);
  clmp__verify_finish(e, &row, sd, sr, ind);
}

static void pool_row(venv *e, enum vpool_op op, const vpool *vp, clmp_dtype in_dt,
                     clmp_dtype out_dt, int special) {
  size_t in_s[4], out_s[4];
  pair in = {0}, out = {0}, ind = {0};
  clmp_tensor *mag = NULL;
  char dts[48], sh[64];
  snprintf(dts, sizeof dts, "%s -> %s, %zux%zu/%zu+%zu", clmp_dtype_name(in_dt),
           clmp_dtype_name(out_dt), vp->p.kernel[0], vp->p.kernel[1], vp->p.stride[0],
           vp->p.padding[0]);
  clmp__verify_row row;
  clmp__verify_row_init(&row, P_NAMES[op], dts, clmp__verify_shape(sh, sizeof sh, 4, vp->shape),
                        special, op == P_GAP_BW ? ROUNDED_ONCE : (clmp__tolerance){0, 0, 0});
  row.tol.max_ulp = pool_mtol(op, vp) > 0 ? ulp16(out_dt) : 0;
  row.mtol = pool_mtol(op, vp);
  clmp_status st = pool_shapes(op, vp, in_s, out_s);
  size_t n_in = in_s[0] * in_s[1] * in_s[2] * in_s[3];
  float *v = values(e, n_in, -4, 4, special);
  if (st == CLMP_SUCCESS)
    st = v ? clmp__verify_pair(e, in_dt, 4, in_s, v, &in) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, out_dt, 4, out_s, NULL, &out);
  if (st == CLMP_SUCCESS && op == P_MAX) st = clmp__verify_pair(e, CLMP_I32, 4, out_s, NULL, &ind);
  if (st == CLMP_SUCCESS && op == P_MAX_BW) st = pool_indices(e, vp, in_s, &ind);
  if (st == CLMP_SUCCESS && row.mtol > 0) st = pool_magnitude(e, op, vp, &in, &ind, out_s, &mag);
  clmp_status sd = st ? st : pool_run(op, &vp->p, in.d, ind.d, out.d);
  clmp_status sr = st ? st : pool_run(op, &vp->p, in.r, ind.r, out.r);
  clmp__verify_finish_mag(e, &row, sd, sr, &out, mag);
  if (op == P_MAX) indices_row(e, &row, sd, sr, &ind);
  clmp_tensor_free(mag);
  clmp__verify_pair_free(&in), clmp__verify_pair_free(&out), clmp__verify_pair_free(&ind);
  free(v);
}

/* Every pooling and dtype pair (alike, and f16 -> f32), normal and special values. */
static void pool_rows_of(venv *e, enum vpool_op first, enum vpool_op last) {
  static const clmp_dtype pairs[][2] = {
      {CLMP_F32, CLMP_F32}, {CLMP_F16, CLMP_F16}, {CLMP_BF16, CLMP_BF16}, {CLMP_F16, CLMP_F32}};
  for (int op = first; op <= (int)last; op++)
    for (size_t k = 0; k < N_POOLS; k++)
      for (size_t d = 0; d < sizeof pairs / sizeof *pairs; d++)
        for (int special = 0; special < 2; special++)
          pool_row(e, (enum vpool_op)op, &POOLS[k], pairs[d][0], pairs[d][1], special);
}

static void max_pool_rows(venv *e) {
  pool_rows_of(e, P_MAX, P_MAX_BW);
}

static void avg_pool_rows(venv *e) {
  pool_rows_of(e, P_AVG, P_AVG_BW);
}

static void global_pool_rows(venv *e) {
  pool_rows_of(e, P_GAP, P_GAP_BW);
}

/* --- batch normalisation ------------------------------------------------------------------------
 * Tolerances, with d = clmp__sum_depth (per channel), M = N S, mu = sum |x| / M (see the
 * derivations in tests/test_norm.c): save_mean (d + 4) u mu; save_invstd (d / 2 + 8) u
 * relative; y (d + 8) u (|gamma| invstd mu + |gamma xhat| + |beta|); running_var (d + 10) u
 * ((1 - momentum) |running| + momentum var_unbiased); eval y 16 u (|gamma xhat| + |beta|);
 * dbeta (d + 4) u (sum |dy| + |acc dbeta|), dgamma (d + 6) u (invstd sum |dy xm| + |acc
 * dgamma|), dx (d + 11) u (|invstd gamma| (sum |dy| / M + |xm| invstd^2 sum |dy xm| / M + |dy| +
 * |mean dy| + |xm proj|) + |dx|); xm = x - mean. */

typedef struct vbn {
  int ndim;
  size_t shape[4];
} vbn;

/* [N, C] (row blocks), [N, C, L] (row blocks, S < 64), NCHW of one chunk and of two chunks per
 * plane, rows of partial sums folded, and a larger NCHW batch. */
static const vbn BNS[] = {{2, {64, 16}},       {3, {8, 5, 37}},     {4, {4, 8, 15, 15}},
                          {4, {3, 3, 33, 33}}, {4, {300, 4, 8, 8}}, {4, {16, 32, 32, 32}}};
#define N_BNS (sizeof BNS / sizeof *BNS)

static clmp__ncs bn_view(const vbn *b) {
  clmp__ncs v = {b->shape[0], b->shape[1], 1};
  for (int i = 2; i < b->ndim; i++) v.s *= b->shape[i];
  return v;
}

/* The emitted row of one output of a batch-norm case. */
static void bn_emit(venv *e, const char *op, const char *dts, const vbn *b, int special,
                    clmp__tolerance tol, double mtol, const clmp_status s[2], const pair *out,
                    const clmp_tensor *mag) {
  char sh[64];
  clmp__verify_row row;
  clmp__verify_row_init(&row, op, dts, clmp__verify_shape(sh, sizeof sh, b->ndim, b->shape),
                        special, tol);
  row.mtol = mtol;
  clmp__verify_finish_mag(e, &row, s[0], s[1], out, mag);
}

/* Per channel, from x as stored: the mean, the biased variance and mu. */
typedef struct bn_moments {
  double mean, var, mu;
} bn_moments;

static bn_moments moments_of(const float *x, clmp__ncs v, size_t c) {
  double m = (double)(v.n * v.s), sum = 0, abs_sum = 0, sq = 0;
  for (size_t j = 0; j < v.n * v.s; j++)
    sum += x[clmp__ncs_index(v, c, j)], abs_sum += fabs(x[clmp__ncs_index(v, c, j)]);
  for (size_t j = 0; j < v.n * v.s; j++) sq += pow(x[clmp__ncs_index(v, c, j)] - sum / m, 2);
  return (bn_moments){sum / m, sq / m, abs_sum / m};
}

/* The inputs and outputs of a training forward, on both sides. */
typedef struct bn_pairs {
  pair x, g, b, rm, rv, sm, si, y;
} bn_pairs;

static void bn_pairs_free(bn_pairs *p) {
  pair *all[] = {&p->x, &p->g, &p->b, &p->rm, &p->rv, &p->sm, &p->si, &p->y};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) clmp__verify_pair_free(all[i]);
}

/* x of xd from values, gamma in [-2, 2), beta in [-1, 1), running mean in [-1, 1), running
 * variance in [0.5, 2), all f32 but x; saves and y undefined. */
static clmp_status bn_pairs_open(venv *e, const vbn *b, clmp_dtype xd, int special, bn_pairs *p) {
  size_t n = 1, c = b->shape[1];
  for (int i = 0; i < b->ndim; i++) n *= b->shape[i];
  float *vx = values(e, n, -4, 4, special), *vg = values(e, c, -2, 2, 0);
  float *vb = values(e, c, -1, 1, 0), *vm = values(e, c, -1, 1, 0), *vv = values(e, c, 0.5f, 2, 0);
  clmp_status st = vx && vg && vb && vm && vv
                       ? clmp__verify_pair(e, xd, b->ndim, b->shape, vx, &p->x)
                       : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: batch-norm inputs");
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_F32, 1, &c, vg, &p->g);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_F32, 1, &c, vb, &p->b);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_F32, 1, &c, vm, &p->rm);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_F32, 1, &c, vv, &p->rv);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_F32, 1, &c, NULL, &p->sm);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_F32, 1, &c, NULL, &p->si);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, xd, b->ndim, b->shape, NULL, &p->y);
  free(vx), free(vg), free(vb), free(vm), free(vv);
  return st;
}

/* The training forward's magnitudes (before the run: running_var is updated in place): of
 * save_mean, running_var and y. */
static clmp_status train_mags(venv *e, const bn_pairs *p, clmp__ncs v, clmp_tensor *mag[3]) {
  size_t n = v.n * v.c * v.s;
  float *x = read_values(p->x.r), *g = read_values(p->g.r), *b = read_values(p->b.r);
  float *rv = read_values(p->rv.r);
  double *mm = malloc(v.c * sizeof *mm), *mv = malloc(v.c * sizeof *mv),
         *my = malloc(n * sizeof *my);
  clmp_status st = x && g && b && rv && mm && mv && my
                       ? CLMP_SUCCESS
                       : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: magnitudes");
  double m = (double)(v.n * v.s);
  for (size_t c = 0; st == CLMP_SUCCESS && c < v.c; c++) {
    bn_moments mo = moments_of(x, v, c);
    double is = 1.0 / sqrt(mo.var + BN_EPS), var_u = mo.var * m / (m - 1);
    mm[c] = mo.mu, mv[c] = (1.0 - MOMENTUM) * fabs(rv[c]) + MOMENTUM * var_u;
    for (size_t j = 0; j < v.n * v.s; j++) {
      size_t i = clmp__ncs_index(v, c, j);
      my[i] = fabs(g[c]) * is * mo.mu + fabs(g[c] * (x[i] - mo.mean) * is) + fabs(b[c]);
    }
  }
  if (st == CLMP_SUCCESS) st = mag_tensor(e, mm, v.c, &mag[0]);
  if (st == CLMP_SUCCESS) st = mag_tensor(e, mv, v.c, &mag[1]);
  if (st == CLMP_SUCCESS) st = mag_tensor(e, my, n, &mag[2]);
  free(x), free(g), free(b), free(rv), free(mm), free(mv), free(my);
  return st;
}

static clmp_status train_on(const bn_pairs *p, int ref) {
  const clmp_tensor *x = ref ? p->x.r : p->x.d;
  if (ref)
    return clmp_batch_norm_train(x, p->g.r, p->b.r, MOMENTUM, BN_EPS, p->rm.r, p->rv.r, p->sm.r,
                                 p->si.r, p->y.r);
  return clmp_batch_norm_train(x, p->g.d, p->b.d, MOMENTUM, BN_EPS, p->rm.d, p->rv.d, p->sm.d,
                               p->si.d, p->y.d);
}

static void bn_train_row(venv *e, const vbn *b, clmp_dtype xd, int special) {
  bn_pairs p = {0};
  clmp_tensor *mag[3] = {NULL, NULL, NULL};
  clmp__ncs v = bn_view(b);
  clmp_status st = bn_pairs_open(e, b, xd, special, &p);
  if (st == CLMP_SUCCESS) st = train_mags(e, &p, v, mag);
  clmp_status s[2] = {st ? st : train_on(&p, 0), st ? st : train_on(&p, 1)};
  double d = (double)clmp__sum_depth(&(clmp__sum){CLMP__TERM_X, NULL, NULL, NULL, 0, v, 0, 1});
  const char *dts = clmp_dtype_name(xd);
  bn_emit(e, "batch_norm_train", dts, b, special, (clmp__tolerance){0, 0, ulp16(xd)}, (d + 8) * U32,
          s, &p.y, mag[2]);
  bn_emit(e, "batch_norm_train save_mean", dts, b, special, EXACT, (d + 4) * U32, s, &p.sm, mag[0]);
  bn_emit(e, "batch_norm_train save_invstd", dts, b, special,
          (clmp__tolerance){0, (d / 2 + 8) * U32, 0}, 0, s, &p.si, NULL);
  bn_emit(e, "batch_norm_train running_var", dts, b, special, EXACT, (d + 10) * U32, s, &p.rv,
          mag[1]);
  for (int i = 0; i < 3; i++) clmp_tensor_free(mag[i]);
  bn_pairs_free(&p);
}

/* Evaluation's magnitudes: |gamma xhat| + |beta| with xhat from the running statistics. */
static clmp_status eval_mags(venv *e, const bn_pairs *p, clmp__ncs v, clmp_tensor **mag) {
  size_t n = v.n * v.c * v.s;
  float *x = read_values(p->x.r), *g = read_values(p->g.r), *b = read_values(p->b.r);
  float *rm = read_values(p->rm.r), *rv = read_values(p->rv.r);
  double *my = malloc(n * sizeof *my);
  clmp_status st = x && g && b && rm && rv && my
                       ? CLMP_SUCCESS
                       : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: magnitudes");
  for (size_t c = 0; st == CLMP_SUCCESS && c < v.c; c++)
    for (size_t j = 0; j < v.n * v.s; j++) {
      size_t i = clmp__ncs_index(v, c, j);
      my[i] = fabs(g[c] * (x[i] - rm[c]) / sqrt((double)rv[c] + BN_EPS)) + fabs(b[c]);
    }
  if (st == CLMP_SUCCESS) st = mag_tensor(e, my, n, mag);
  free(x), free(g), free(b), free(rm), free(rv), free(my);
  return st;
}

static void bn_eval_row(venv *e, const vbn *b, clmp_dtype xd, int special) {
  bn_pairs p = {0};
  clmp_tensor *mag = NULL;
  clmp_status st = bn_pairs_open(e, b, xd, special, &p);
  if (st == CLMP_SUCCESS) st = eval_mags(e, &p, bn_view(b), &mag);
  clmp_status s[2] = {
      st ? st : clmp_batch_norm_eval(p.x.d, p.g.d, p.b.d, p.rm.d, p.rv.d, BN_EPS, p.y.d),
      st ? st : clmp_batch_norm_eval(p.x.r, p.g.r, p.b.r, p.rm.r, p.rv.r, BN_EPS, p.y.r)};
  bn_emit(e, "batch_norm_eval", clmp_dtype_name(xd), b, special, (clmp__tolerance){0, 0, ulp16(xd)},
          16 * U32, s, &p.y, mag);
  clmp_tensor_free(mag);
  bn_pairs_free(&p);
}

static void bn_forward_rows(venv *e) {
  for (size_t k = 0; k < N_BNS; k++)
    for (int d = 0; d < N_FLOAT; d++)
      for (int special = 0; special < 2; special++) bn_train_row(e, &BNS[k], FLOATS[d], special);
}

static void bn_eval_rows(venv *e) {
  for (size_t k = 0; k < N_BNS; k++)
    for (int d = 0; d < N_FLOAT; d++)
      for (int special = 0; special < 2; special++) bn_eval_row(e, &BNS[k], FLOATS[d], special);
}

/* The backward's own tensors beside the forward's: dy, dgamma, dbeta (before: NaN for acc 0,
 * which must not be read) and dx. */
typedef struct bw_pairs {
  pair dy, dg, db, dx;
} bw_pairs;

static clmp_status bw_pairs_open(venv *e, const vbn *b, clmp_dtype xd, clmp_dtype gd, float acc,
                                 bw_pairs *q) {
  size_t n = 1, c = b->shape[1];
  for (int i = 0; i < b->ndim; i++) n *= b->shape[i];
  float *vy = values(e, n, -1, 1, 0), *vg = values(e, c, -1, 1, 0), *vb = values(e, c, -1, 1, 0);
  for (size_t i = 0; acc == 0.0f && vg && vb && i < c; i++) vg[i] = vb[i] = NAN;
  clmp_status st = vy && vg && vb
                       ? clmp__verify_pair(e, xd, b->ndim, b->shape, vy, &q->dy)
                       : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: backward inputs");
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, gd, 1, &c, vg, &q->dg);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, gd, 1, &c, vb, &q->db);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, xd, b->ndim, b->shape, NULL, &q->dx);
  free(vy), free(vg), free(vb);
  return st;
}

/* The saves of the reference's forward, written to the device's save tensors too. */
static clmp_status shared_saves(bn_pairs *p) {
  clmp_status st = train_on(p, 1);
  float *m = st ? NULL : read_values(p->sm.r), *s = st ? NULL : read_values(p->si.r);
  size_t c = clmp_tensor_numel(p->sm.r);
  if (st == CLMP_SUCCESS && (!m || !s)) st = CLMP_ERR_OUT_OF_HOST_MEMORY;
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(p->sm.d, CLMP_F32, m, c);
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(p->si.d, CLMP_F32, s, c);
  free(m), free(s);
  return st;
}

/* The stored values a backward's magnitudes come from. */
typedef struct bw_host {
  float *x, *dy, *g, *m, *is, *dg, *db;
} bw_host;

/* Channel c's magnitudes of dbeta, dgamma and its dx elements. */
static void channel_mags(const bw_host *h, clmp__ncs v, size_t c, float acc, double *mdb,
                         double *mdg, double *mdx) {
  double m = (double)(v.n * v.s), is = h->is[c], s_dy = 0, s_dxm = 0, a1 = 0, a2 = 0;
  for (size_t j = 0; j < v.n * v.s; j++) {
    size_t i = clmp__ncs_index(v, c, j);
    double dy = h->dy[i], xm = h->x[i] - h->m[c];
    s_dy += dy, s_dxm += dy * xm, a1 += fabs(dy), a2 += fabs(dy * xm);
  }
  mdb[c] = a1 + (acc != 0.0f ? fabs(acc * h->db[c]) : 0);
  mdg[c] = is * a2 + (acc != 0.0f ? fabs(acc * h->dg[c]) : 0);
  double scale = fabs(is * h->g[c]), mdy = s_dy / m, proj = s_dxm / m * is * is;
  for (size_t j = 0; j < v.n * v.s; j++) {
    size_t i = clmp__ncs_index(v, c, j);
    double xm = h->x[i] - h->m[c], dx = (h->dy[i] - mdy - xm * proj) * scale;
    mdx[i] = scale * (a1 / m + fabs(xm) * is * is * a2 / m + fabs(h->dy[i]) + fabs(mdy) +
                      fabs(xm * proj)) +
             fabs(dx);
  }
}

static clmp_status backward_mags(venv *e, const bn_pairs *p, const bw_pairs *q, clmp__ncs v,
                                 float acc, clmp_tensor *mag[3]) {
  size_t n = v.n * v.c * v.s;
  bw_host h = {read_values(p->x.r),  read_values(q->dy.r), read_values(p->g.r),
               read_values(p->sm.r), read_values(p->si.r), read_values(q->dg.r),
               read_values(q->db.r)};
  double *mdb = malloc(v.c * sizeof *mdb), *mdg = malloc(v.c * sizeof *mdg);
  double *mdx = malloc(n * sizeof *mdx);
  clmp_status st = h.x && h.dy && h.g && h.m && h.is && h.dg && h.db && mdb && mdg && mdx
                       ? CLMP_SUCCESS
                       : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: magnitudes");
  for (size_t c = 0; st == CLMP_SUCCESS && c < v.c; c++) channel_mags(&h, v, c, acc, mdb, mdg, mdx);
  if (st == CLMP_SUCCESS) st = mag_tensor(e, mdx, n, &mag[0]);
  if (st == CLMP_SUCCESS) st = mag_tensor(e, mdg, v.c, &mag[1]);
  if (st == CLMP_SUCCESS) st = mag_tensor(e, mdb, v.c, &mag[2]);
  free(h.x), free(h.dy), free(h.g), free(h.m), free(h.is), free(h.dg), free(h.db);
  free(mdb), free(mdg), free(mdx);
  return st;
}

static void bn_backward_row(venv *e, const vbn *b, clmp_dtype xd, clmp_dtype gd, float acc,
                            int special) {
  bn_pairs p = {0};
  bw_pairs q = {0};
  clmp_tensor *mag[3] = {NULL, NULL, NULL};
  clmp__ncs v = bn_view(b);
  clmp_status st = bn_pairs_open(e, b, xd, special, &p);
  if (st == CLMP_SUCCESS) st = shared_saves(&p);
  if (st == CLMP_SUCCESS) st = bw_pairs_open(e, b, xd, gd, acc, &q);
  if (st == CLMP_SUCCESS) st = backward_mags(e, &p, &q, v, acc, mag);
  clmp_status s[2] = {st ? st
                         : clmp_batch_norm_backward(p.x.d, q.dy.d, p.g.d, p.sm.d, p.si.d, acc,
                                                    q.dg.d, q.db.d, q.dx.d),
                      st ? st
                         : clmp_batch_norm_backward(p.x.r, q.dy.r, p.g.r, p.sm.r, p.si.r, acc,
                                                    q.dg.r, q.db.r, q.dx.r)};
  double d = (double)clmp__sum_depth(&(clmp__sum){CLMP__TERM_X, NULL, NULL, NULL, 0, v, 0, 1});
  char dts[48];
  snprintf(dts, sizeof dts, "%s, grads %s, acc %g", clmp_dtype_name(xd), clmp_dtype_name(gd),
           (double)acc);
  bn_emit(e, "batch_norm_backward dx", dts, b, special, (clmp__tolerance){0, 0, ulp16(xd)},
          (d + 11) * U32, s, &q.dx, mag[0]);
  bn_emit(e, "batch_norm_backward dgamma", dts, b, special, (clmp__tolerance){0, 0, ulp16(gd)},
          (d + 6) * U32, s, &q.dg, mag[1]);
  bn_emit(e, "batch_norm_backward dbeta", dts, b, special, (clmp__tolerance){0, 0, ulp16(gd)},
          (d + 4) * U32, s, &q.db, mag[2]);
  for (int i = 0; i < 3; i++) clmp_tensor_free(mag[i]);
  bn_pairs_free(&p);
  clmp__verify_pair_free(&q.dy), clmp__verify_pair_free(&q.dg);
  clmp__verify_pair_free(&q.db), clmp__verify_pair_free(&q.dx);
}

static void bn_backward_rows(venv *e) {
  for (size_t k = 0; k < N_BNS; k++)
    for (int d = 0; d < N_FLOAT; d++)
      for (int special = 0; special < 2; special++) {
        bn_backward_row(e, &BNS[k], FLOATS[d], CLMP_F32, 0.0f, special);
        bn_backward_row(e, &BNS[k], FLOATS[d], FLOATS[d], 1.0f, special);
      }
}

const clmp__verify_case clmp__verify_cases_layers[] = {
    {"add", add_rows},
    {"dropout dropout_backward", dropout_rows},
    {"max_pool2d max_pool2d_backward", max_pool_rows},
    {"avg_pool2d avg_pool2d_backward", avg_pool_rows},
    {"global_avg_pool global_avg_pool_backward", global_pool_rows},
    {"batch_norm_train", bn_forward_rows},
    {"batch_norm_eval", bn_eval_rows},
    {"batch_norm_backward", bn_backward_rows},
    {NULL, NULL}};
