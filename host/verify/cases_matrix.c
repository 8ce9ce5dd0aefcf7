/* host/verify/cases_matrix.c: the matrix, loss, reduction, GEMM and AMP cases of `clmp verify`.
 * u(d) is the unit roundoff of a dtype (2^-24 f32, 2^-11 f16, 2^-8 bf16); tolerances of
 * reductions grow with their length and are stated where they are computed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../ops/reduce.h"
#include "../runtime/error.h"
#include "verify_impl.h"

#define N_FLOAT 3
static const clmp_dtype FLOATS[N_FLOAT] = {CLMP_F32, CLMP_F16, CLMP_BF16};
static const clmp__tolerance EXACT = {0, 0, 0};
#define U32         0x1p-24
#define LOSS_SCALE  1024.0f
#define CLASSES_BIG 1000

/* Matrix shapes [rows, cols]: 1x1, odd, a wide and a tall one. */
static const size_t MATS[][2] = {{1, 1}, {7, 13}, {33, CLASSES_BIG}, {4096, 10}};
#define N_MATS (sizeof MATS / sizeof *MATS)

static float *values(venv *e, size_t n, float lo, float hi, int special) {
  float *v = malloc(n * sizeof *v);
  if (v) clmp__verify_values(e, v, n, lo, hi, special);
  return v;
}

static clmp__tolerance out_ulp(clmp_dtype out, double atol) {
  return (clmp__tolerance){atol, 0, out == CLMP_F32 ? 0 : 1};
}

/* --- bias ----------------------------------------------------------------------------------- */

/* NCHW shapes of the per-channel bias: small planes (row blocks), one chunk, rows folded. */
static const size_t NCHWS[][4] = {{2, 3, 8, 8}, {16, 32, 14, 14}, {300, 4, 8, 8}};
#define N_NCHWS (sizeof NCHWS / sizeof *NCHWS)

static void bias_add_row_nd(venv *e, clmp_dtype yd, clmp_dtype bd, int ndim, const size_t *shape,
                            int special) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  float *vy = values(e, n, -4, 4, special), *vb = values(e, shape[1], -4, 4, 0);
  pair y = {0}, b = {0};
  char dt[48], sh[48];
  snprintf(dt, sizeof dt, "y %s, bias %s", clmp_dtype_name(yd), clmp_dtype_name(bd));
  clmp__verify_row row; /* one rounding of y + b: 1 ulp of y's dtype */
  clmp__verify_row_init(&row, "bias_add", dt, clmp__verify_shape(sh, sizeof sh, ndim, shape),
                        special, (clmp__tolerance){0, 0, 1});
  clmp_status st =
      vy && vb ? clmp__verify_pair(e, yd, ndim, shape, vy, &y) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, bd, 1, &shape[1], vb, &b);
  clmp_status sd = st ? st : clmp_bias_add(y.d, b.d), sr = st ? st : clmp_bias_add(y.r, b.r);
  clmp__verify_finish(e, &row, sd, sr, &y);
  clmp__verify_pair_free(&y), clmp__verify_pair_free(&b);
  free(vy), free(vb);
}

static void bias_add_row(venv *e, clmp_dtype yd, clmp_dtype bd, const size_t *mn, int special) {
  bias_add_row_nd(e, yd, bd, 2, mn, special);
}

static void bias_add_rows(venv *e) {
  static const clmp_dtype combos[][2] = {
      {CLMP_F32, CLMP_F32}, {CLMP_F16, CLMP_F32}, {CLMP_F16, CLMP_F16}, {CLMP_BF16, CLMP_BF16}};
  for (size_t c = 0; c < 4; c++)
    for (size_t m = 0; m < N_MATS; m++)
      for (int special = 0; special < 2; special++)
        bias_add_row(e, combos[c][0], combos[c][1], MATS[m], special);
  for (size_t c = 0; c < 4; c++)
    for (size_t m = 0; m < N_NCHWS; m++)
      for (int special = 0; special < 2; special++)
        bias_add_row_nd(e, combos[c][0], combos[c][1], 4, NCHWS[m], special);
}

/* The magnitude of bias_grad's terms: sum over rows of |dy| + |beta| |db|, on the reference. */
static clmp_status bias_grad_magnitude(venv *e, const pair *dy, float beta, const pair *db,
                                       clmp_tensor **mag) {
  clmp_tensor *ady = NULL;
  clmp_status st = clmp__verify_abs(e->ref, dy->r, &ady);
  if (st == CLMP_SUCCESS) st = clmp__verify_abs(e->ref, db->r, mag);
  if (st == CLMP_SUCCESS) st = clmp_bias_grad(ady, fabsf(beta), *mag);
  clmp_tensor_free(ady);
  return st;
}

/* A column sum of M values in fp32: (M + 1) u32 times the magnitude of its terms for a matrix
 * (its order, rows in blocks, predates the NCHW one); for NCHW the depth d of the device's order
 * (clmp__sum_depth) gives (d + 2) u32 (the sum, then beta's product and sum); plus 1 ulp of a
 * 16-bit output. */
static void bias_grad_row(venv *e, clmp_dtype dyd, clmp_dtype dbd, int ndim, const size_t *shape,
                          float beta, int special) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  float *v = values(e, n, -1, 1, special), *vb = values(e, shape[1], -1, 1, 0);
  pair dy = {0}, db = {0};
  clmp_tensor *mag = NULL;
  char dt[48], sh[48];
  snprintf(dt, sizeof dt, "%s -> %s, beta %g", clmp_dtype_name(dyd), clmp_dtype_name(dbd),
           (double)beta);
  clmp__verify_row row;
  clmp__tolerance tol = {0, 0, dbd == CLMP_F32 ? 0 : 1};
  clmp__verify_row_init(&row, "bias_grad", dt, clmp__verify_shape(sh, sizeof sh, ndim, shape),
                        special, tol);
  clmp__ncs view = {shape[0], shape[1], n / shape[0] / shape[1]};
  clmp__sum order = {CLMP__TERM_X, NULL, NULL, NULL, 0, view, 0, 1};
  row.mtol =
      ndim == 2 ? ((double)shape[0] + 1.0) * U32 : ((double)clmp__sum_depth(&order) + 2) * U32;
  clmp_status st =
      v && vb ? clmp__verify_pair(e, dyd, ndim, shape, v, &dy) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, dbd, 1, &shape[1], vb, &db);
  if (st == CLMP_SUCCESS) st = bias_grad_magnitude(e, &dy, beta, &db, &mag);
  clmp_status sd = st ? st : clmp_bias_grad(dy.d, beta, db.d);
  clmp_status sr = st ? st : clmp_bias_grad(dy.r, beta, db.r);
  clmp__verify_finish_mag(e, &row, sd, sr, &db, mag);
  clmp_tensor_free(mag);
  clmp__verify_pair_free(&dy), clmp__verify_pair_free(&db);
  free(v), free(vb);
}

static void bias_grad_rows(venv *e) {
  for (int d = 0; d < N_FLOAT; d++)
    for (size_t m = 0; m < N_MATS; m++)
      for (int special = 0; special < 2; special++) {
        bias_grad_row(e, FLOATS[d], CLMP_F32, 2, MATS[m], 0.0f, special);
        bias_grad_row(e, FLOATS[d], FLOATS[d], 2, MATS[m], 1.0f, special);
      }
  for (int d = 0; d < N_FLOAT; d++)
    for (size_t m = 0; m < N_NCHWS; m++)
      for (int special = 0; special < 2; special++) {
        bias_grad_row(e, FLOATS[d], CLMP_F32, 4, NCHWS[m], 0.0f, special);
        bias_grad_row(e, FLOATS[d], FLOATS[d], 4, NCHWS[m], 1.0f, special);
      }
}

/* --- softmax cross-entropy, argmax, correct count ----------------------------------------------
 */

typedef struct logits_case {
  pair logits, labels;
  float *v, *lab;
} logits_case;

static clmp_status logits_open(venv *e, logits_case *c, clmp_dtype d, const size_t *mn,
                               int special) {
  c->v = values(e, mn[0] * mn[1], -6, 6, special);
  c->lab = malloc(mn[0] * sizeof *c->lab);
  if (!c->v || !c->lab)
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: logits of %zu x %zu", mn[0], mn[1]);
  for (size_t r = 0; r < mn[0]; r++) c->lab[r] = (float)clmp__verify_label(e, (int32_t)mn[1]);
  clmp_status st = clmp__verify_pair(e, d, 2, mn, c->v, &c->logits);
  return st ? st : clmp__verify_pair(e, CLMP_I32, 1, mn, c->lab, &c->labels);
}

static void logits_close(logits_case *c) {
  clmp__verify_pair_free(&c->logits), clmp__verify_pair_free(&c->labels);
  free(c->v), free(c->lab);
}

/* The mean of M per-row log-sum-exps over C classes: atol 1e-6, rtol 1e-5. */
static void xent_row(venv *e, clmp_dtype d, const size_t *mn, int special) {
  logits_case c = {0};
  pair loss = {0};
  size_t one = 1;
  char sh[48];
  clmp__verify_row row;
  clmp__verify_row_init(&row, "softmax_xent", clmp_dtype_name(d),
                        clmp__verify_shape(sh, sizeof sh, 2, mn), special,
                        (clmp__tolerance){1e-6, 1e-5, 0});
  clmp_status st = logits_open(e, &c, d, mn, special);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_F32, 1, &one, NULL, &loss);
  clmp_status sd = st ? st : clmp_softmax_xent(c.logits.d, c.labels.d, loss.d);
  clmp_status sr = st ? st : clmp_softmax_xent(c.logits.r, c.labels.r, loss.r);
  clmp__verify_finish(e, &row, sd, sr, &loss);
  clmp__verify_pair_free(&loss);
  logits_close(&c);
}

/* (softmax - onehot) / M * scale, each element from one row's softmax: atol 8 u32 scale / M, plus
 * 1 ulp of a 16-bit output. */
static void xent_backward_row(venv *e, clmp_dtype d, const size_t *mn, int special) {
  logits_case c = {0};
  pair scale = {0}, dl = {0};
  size_t one = 1;
  float s = LOSS_SCALE;
  char sh[48];
  clmp__verify_row row;
  clmp__verify_row_init(&row, "softmax_xent_backward", clmp_dtype_name(d),
                        clmp__verify_shape(sh, sizeof sh, 2, mn), special,
                        out_ulp(d, 8.0 * U32 * LOSS_SCALE / (double)mn[0]));
  clmp_status st = logits_open(e, &c, d, mn, special);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_F32, 1, &one, &s, &scale);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, d, 2, mn, NULL, &dl);
  clmp_status sd = st ? st : clmp_softmax_xent_backward(c.logits.d, c.labels.d, scale.d, dl.d);
  clmp_status sr = st ? st : clmp_softmax_xent_backward(c.logits.r, c.labels.r, scale.r, dl.r);
  clmp__verify_finish(e, &row, sd, sr, &dl);
  clmp__verify_pair_free(&scale), clmp__verify_pair_free(&dl);
  logits_close(&c);
}

/* argmax and the correct count: exact. */
static void accuracy_row(venv *e, clmp_dtype d, const size_t *mn, int special, int count) {
  logits_case c = {0};
  pair out = {0};
  size_t one = 1;
  float zero = 0;
  char sh[48];
  clmp__verify_row row;
  clmp__verify_row_init(&row, count ? "correct_count" : "argmax", clmp_dtype_name(d),
                        clmp__verify_shape(sh, sizeof sh, 2, mn), special, EXACT);
  clmp_status st = logits_open(e, &c, d, mn, special);
  if (st == CLMP_SUCCESS)
    st = clmp__verify_pair(e, CLMP_I32, 1, count ? &one : mn, count ? &zero : NULL, &out);
  clmp_status sd = st, sr = st;
  if (st == CLMP_SUCCESS && count) {
    sd = clmp_correct_count(c.logits.d, c.labels.d, out.d);
    sr = clmp_correct_count(c.logits.r, c.labels.r, out.r);
  } else if (st == CLMP_SUCCESS) {
    sd = clmp_argmax(c.logits.d, out.d);
    sr = clmp_argmax(c.logits.r, out.r);
  }
  clmp__verify_finish(e, &row, sd, sr, &out);
  clmp__verify_pair_free(&out);
  logits_close(&c);
}

static void loss_rows(venv *e) {
  for (int d = 0; d < N_FLOAT; d++)
    for (size_t m = 0; m < N_MATS; m++)
      for (int special = 0; special < 2; special++) {
        xent_row(e, FLOATS[d], MATS[m], special);
        xent_backward_row(e, FLOATS[d], MATS[m], special);
      }
}

static void accuracy_rows(venv *e) {
  for (int d = 0; d < N_FLOAT; d++)
    for (size_t m = 0; m < N_MATS; m++)
      for (int special = 0; special < 2; special++) {
        accuracy_row(e, FLOATS[d], MATS[m], special, 0);
        accuracy_row(e, FLOATS[d], MATS[m], special, 1);
      }
}

/* --- gather_rows: fma(src[idx], scale, shift), one correctly rounded operation: exact --------- */

#define GATHER_ROWS  300
#define GATHER_SCALE (1.0f / 255.0f / 0.353f)
#define GATHER_SHIFT (-0.286f / 0.353f)

static void gather_row(venv *e, clmp_dtype sd, clmp_dtype dd, size_t batch, size_t cols,
                       int special) {
  size_t ss[2] = {GATHER_ROWS, cols}, ds[2] = {batch, cols};
  float *v = values(e, GATHER_ROWS * cols, 0, 255, special && sd != CLMP_U8);
  float *ix = malloc(batch * sizeof *ix);
  for (size_t b = 0; ix && b < batch; b++) ix[b] = (float)clmp__verify_label(e, GATHER_ROWS);
  if (ix && special) ix[0] = GATHER_ROWS; /* out of range: NaN (0 in integers) on both */
  pair src = {0}, idx = {0}, dst = {0};
  char dt[48], sh[48];
  snprintf(dt, sizeof dt, "%s -> %s", clmp_dtype_name(sd), clmp_dtype_name(dd));
  clmp__verify_row row;
  clmp__verify_row_init(&row, "gather_rows", dt, clmp__verify_shape(sh, sizeof sh, 2, ds), special,
                        EXACT);
  clmp_status st =
      v && ix ? clmp__verify_pair(e, sd, 2, ss, v, &src) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_I32, 1, &batch, ix, &idx);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, dd, 2, ds, NULL, &dst);
  float scale = dd == CLMP_I32 ? 1.0f : GATHER_SCALE, shift = dd == CLMP_I32 ? 0.0f : GATHER_SHIFT;
  clmp_status sd_ = st ? st : clmp_gather_rows(src.d, idx.d, scale, shift, dst.d);
  clmp_status sr = st ? st : clmp_gather_rows(src.r, idx.r, scale, shift, dst.r);
  clmp__verify_finish(e, &row, sd_, sr, &dst);
  clmp__verify_pair_free(&src), clmp__verify_pair_free(&idx), clmp__verify_pair_free(&dst);
  free(v), free(ix);
}

static void gather_rows_rows(venv *e) {
  static const clmp_dtype dsts[] = {CLMP_F32, CLMP_F16, CLMP_BF16, CLMP_I32};
  for (int special = 0; special < 2; special++) {
    for (size_t k = 0; k < sizeof dsts / sizeof *dsts; k++)
      gather_row(e, CLMP_U8, dsts[k], 129, 784, special);
    gather_row(e, CLMP_F32, CLMP_F16, 1, 7, special);
    gather_row(e, CLMP_U8, CLMP_I32, 1000, 1, special);
  }
}

const clmp__verify_case clmp__verify_cases_matrix[] = {
    {"bias_add", bias_add_rows},       {"bias_grad", bias_grad_rows},
    {"softmax_xent", loss_rows},       {"argmax correct_count", accuracy_rows},
    {"gather_rows", gather_rows_rows}, {NULL, NULL}};
