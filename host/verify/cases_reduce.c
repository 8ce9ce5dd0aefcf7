/* host/verify/cases_reduce.c: the reduction, GEMM and AMP cases of `clmp verify`. u(d) is the
 * unit roundoff of a dtype (2^-24 f32, 2^-11 f16, 2^-8 bf16); tolerances of reductions grow with
 * their length and are stated where they are computed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../ops/gemm.h"
#include "../runtime/error.h"
#include "verify_impl.h"

#define N_FLOAT 3
static const clmp_dtype FLOATS[N_FLOAT] = {CLMP_F32, CLMP_F16, CLMP_BF16};
static const size_t SIZES[] = {1, 1001, (1u << 20) + 3};
#define N_SIZES (sizeof SIZES / sizeof *SIZES)
static const clmp__tolerance EXACT = {0, 0, 0};
#define U32        0x1p-24
#define GEMM_ALPHA 1.5f
#define GEMM_BETA  0.5f
#define AMP_PARAMS 4099
#define LOSS_SCALE 1024.0f

static float *values(venv *e, size_t n, float lo, float hi, int special) {
  float *v = malloc(n * sizeof *v);
  if (v) clmp__verify_values(e, v, n, lo, hi, special);
  return v;
}

/* --- non-finite check and sum of squares --------------------------------------------------------
 */

static void nonfinite_row(venv *e, clmp_dtype d, size_t n, int special) {
  float *v = values(e, n, -4, 4, special), zero = 0;
  size_t one = 1;
  pair x = {0}, flag = {0};
  char sh[48];
  clmp__verify_row row;
  clmp__verify_row_init(&row, "nonfinite_check", clmp_dtype_name(d),
                        clmp__verify_shape(sh, sizeof sh, 1, &n), special, EXACT);
  clmp_status st = v ? clmp__verify_pair(e, d, 1, &n, v, &x) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_I32, 1, &one, &zero, &flag);
  clmp_status sd = st ? st : clmp_nonfinite_check(x.d, flag.d);
  clmp_status sr = st ? st : clmp_nonfinite_check(x.r, flag.r);
  clmp__verify_finish(e, &row, sd, sr, &flag);
  clmp__verify_pair_free(&x), clmp__verify_pair_free(&flag);
  free(v);
}

/* A sum of n squares of values in [-1, 1], fp32 accumulation in a fixed but device-chosen
 * order: rtol 4 sqrt(n) u32 + 8 u32 (the reference accumulates in double). */
static void sum_squares_row(venv *e, clmp_dtype d, size_t n, float beta, int special) {
  float *v = values(e, n, -1, 1, special), init = 2.5f;
  size_t one = 1;
  pair x = {0}, out = {0};
  char dt[48], sh[48];
  snprintf(dt, sizeof dt, "%s, beta %g", clmp_dtype_name(d), (double)beta);
  clmp__verify_row row;
  clmp__verify_row_init(&row, "sum_squares", dt, clmp__verify_shape(sh, sizeof sh, 1, &n), special,
                        (clmp__tolerance){0, (4.0 * sqrt((double)n) + 8.0) * U32, 0});
  clmp_status st = v ? clmp__verify_pair(e, d, 1, &n, v, &x) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, CLMP_F32, 1, &one, &init, &out);
  clmp_status sd = st ? st : clmp_sum_squares(x.d, beta, out.d);
  clmp_status sr = st ? st : clmp_sum_squares(x.r, beta, out.r);
  clmp__verify_finish(e, &row, sd, sr, &out);
  clmp__verify_pair_free(&x), clmp__verify_pair_free(&out);
  free(v);
}

static void reduce_rows(venv *e) {
  for (int d = 0; d < N_FLOAT; d++)
    for (size_t s = 0; s < N_SIZES; s++)
      for (int special = 0; special < 2; special++) {
        nonfinite_row(e, FLOATS[d], SIZES[s], special);
        sum_squares_row(e, FLOATS[d], SIZES[s], s ? 0.0f : 1.0f, special);
      }
}

/* --- GEMM ------------------------------------------------------------------------------------- */

typedef struct gemm_shape {
  size_t m, n, k;
} gemm_shape;

static const gemm_shape GEMMS[] = {{1, 1, 1},       {1, 257, 3},     {65, 1, 129},
                                   {127, 129, 131}, {136, 200, 264}, {256, 256, 256}};
#define N_GEMMS (sizeof GEMMS / sizeof *GEMMS)

/* The textbook bound of a K-term fp32 sum, plus alpha and beta: (K + 2) u32 (|alpha| |A||B| +
 * |beta| |C|) element by element, plus 1 ulp of a 16-bit output (its final rounding). */
static clmp__tolerance gemm_tol(clmp_dtype cd) {
  return (clmp__tolerance){0, 0, cd == CLMP_F32 ? 0 : 1};
}

/* |alpha| |op(A)| |op(B)| + |beta| |C| on the reference: the magnitude of each output's terms. */
static clmp_status gemm_magnitude(venv *e, clmp_transpose ta, clmp_transpose tb, const pair *a,
                                  const pair *b, const pair *c, clmp_tensor **mag) {
  clmp_tensor *aa = NULL, *ab = NULL;
  clmp_status st = clmp__verify_abs(e->ref, a->r, &aa);
  if (st == CLMP_SUCCESS) st = clmp__verify_abs(e->ref, b->r, &ab);
  if (st == CLMP_SUCCESS) st = clmp__verify_abs(e->ref, c->r, mag);
  if (st == CLMP_SUCCESS) st = clmp_gemm(ta, tb, fabsf(GEMM_ALPHA), aa, ab, fabsf(GEMM_BETA), *mag);
  clmp_tensor_free(aa), clmp_tensor_free(ab);
  return st;
}

static void gemm_dims(const gemm_shape *s, int ta, int tb, size_t *a, size_t *b, size_t *c) {
  a[0] = ta ? s->k : s->m, a[1] = ta ? s->m : s->k;
  b[0] = tb ? s->n : s->k, b[1] = tb ? s->k : s->n;
  c[0] = s->m, c[1] = s->n;
}

static void gemm_row(venv *e, const char *op, const gemm_shape *s, int ta, int tb, clmp_dtype ad,
                     clmp_dtype cd, int special) {
  size_t as[2], bs[2], cs[2];
  gemm_dims(s, ta, tb, as, bs, cs);
  float *va = values(e, s->m * s->k, -1, 1, special), *vb = values(e, s->k * s->n, -1, 1, 0);
  float *vc = values(e, s->m * s->n, -1, 1, 0);
  pair a = {0}, b = {0}, c = {0};
  char dt[48], sh[48];
  snprintf(dt, sizeof dt, "%s%s x %s%s -> %s", clmp_dtype_name(ad), ta ? "'" : "",
           clmp_dtype_name(ad), tb ? "'" : "", clmp_dtype_name(cd));
  snprintf(sh, sizeof sh, "%zux%zux%zu", s->m, s->n, s->k);
  clmp__verify_row row;
  clmp__verify_row_init(&row, op, dt, sh, special, gemm_tol(cd));
  row.mtol = ((double)s->k + 2.0) * U32;
  clmp_status st =
      va && vb && vc ? clmp__verify_pair(e, ad, 2, as, va, &a) : clmp__verify_no_memory(&row);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, ad, 2, bs, vb, &b);
  if (st == CLMP_SUCCESS) st = clmp__verify_pair(e, cd, 2, cs, vc, &c);
  clmp_transpose xa = ta ? CLMP_TRANS : CLMP_NO_TRANS, xb = tb ? CLMP_TRANS : CLMP_NO_TRANS;
  clmp_tensor *mag = NULL;
  if (st == CLMP_SUCCESS) st = gemm_magnitude(e, xa, xb, &a, &b, &c, &mag);
  clmp_status sd = st ? st : clmp_gemm(xa, xb, GEMM_ALPHA, a.d, b.d, GEMM_BETA, c.d);
  clmp_status sr = st ? st : clmp_gemm(xa, xb, GEMM_ALPHA, a.r, b.r, GEMM_BETA, c.r);
  clmp__verify_finish_mag(e, &row, sd, sr, &c, mag);
  clmp_tensor_free(mag);
  clmp__verify_pair_free(&a), clmp__verify_pair_free(&b), clmp__verify_pair_free(&c);
  free(va), free(vb), free(vc);
}

static void gemm_rows_as(venv *e, const char *op, size_t first_combo) {
  static const clmp_dtype combos[][2] = {{CLMP_F32, CLMP_F32},
                                         {CLMP_F16, CLMP_F32},
                                         {CLMP_F16, CLMP_F16},
                                         {CLMP_BF16, CLMP_F32},
                                         {CLMP_BF16, CLMP_BF16}};
  for (size_t c = first_combo; c < sizeof combos / sizeof *combos; c++)
    for (size_t s = 0; s < N_GEMMS; s++)
      for (int t = 0; t < 4; t++)
        if (t == 0 || s == 3 || s == 4)
          gemm_row(e, op, &GEMMS[s], t & 1, t >> 1, combos[c][0], combos[c][1], 0);
  for (size_t c = first_combo; c < sizeof combos / sizeof *combos; c++)
    gemm_row(e, op, &GEMMS[3], 0, 0, combos[c][0], combos[c][1], 1);
}

/* A failed row for op: CLMP_GEMM could not be set. */
static void env_failure_row(venv *e, const char *op) {
  clmp__verify_row row;
  clmp__tolerance none = {0};
  clmp__verify_row_init(&row, op, "-", "-", 0, none);
  row.status = CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: setenv(CLMP_GEMM) for %s", op);
  e->failed++;
  e->emit(&row, e->user);
}

/* Every GEMM row as the library chooses; on a device with the tensor-core path, the 16-bit rows
 * again with CLMP_GEMM=mma, so that its kernel is checked on every shape it can read (by default
 * it leaves small products to the portable kernel), and where that kernel is the wgmma one
 * (compute capability 9.0), once more with CLMP_GEMM=mma-sync for the mma.sync kernel. A setenv
 * that fails (out of memory) is reported as a failed row, not skipped. */
static void gemm_rows(venv *e) {
  static const char *const paths[][2] = {{"mma", "gemm (mma)"}, {"mma-sync", "gemm (mma.sync)"}};
  gemm_rows_as(e, "gemm", 0);
  const clmp_device_info *d = clmp_ctx_device(e->dev);
  const char *env = getenv("CLMP_GEMM");
  if (d->nv_cc_major < 8 || (env && *env)) return;
  int n = clmp__gemm_wgmma_device(e->dev) ? 2 : 1;
  for (int i = 0; i < n; i++) {
    if (setenv("CLMP_GEMM", paths[i][0], 1) != 0) {
      env_failure_row(e, paths[i][1]);
      continue;
    }
    gemm_rows_as(e, paths[i][1], 1);
  }
  unsetenv("CLMP_GEMM");
}

/* --- AMP: one optimizer step through the scaler -------------------------------------------------
 */

typedef struct amp_side {
  clmp_tensor *master, *grads, *working;
  clmp_scaler *scaler;
  clmp_optim *optim;
} amp_side;

static clmp_status amp_open(clmp_ctx *ctx, clmp_optimizer kind, clmp_dtype gd, const float *w,
                            const float *g, amp_side *a) {
  size_t n = AMP_PARAMS;
  clmp_optim_config oc;
  clmp_optim_config_default(&oc, kind);
  oc.momentum = kind == CLMP_SGD ? 0.9f : 0.0f;
  clmp_status st = clmp_tensor_create(ctx, CLMP_F32, 1, &n, &a->master);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(ctx, gd, 1, &n, &a->grads);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(ctx, gd, 1, &n, &a->working);
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(a->master, CLMP_F32, w, n);
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(a->grads, CLMP_F32, g, n);
  if (st == CLMP_SUCCESS) st = clmp_scaler_create(ctx, NULL, &a->scaler);
  if (st == CLMP_SUCCESS)
    st = clmp_optim_create(&oc, a->master, a->grads, a->working, a->scaler, &a->optim);
  return st == CLMP_SUCCESS ? clmp_optim_step(a->optim, -1) : st;
}

static void amp_close(amp_side *a) {
  clmp_optim_free(a->optim);
  clmp_scaler_free(a->scaler);
  clmp_tensor_free(a->master), clmp_tensor_free(a->grads), clmp_tensor_free(a->working);
}

/* One step from the same state: master within atol 1e-6 + rtol 1e-6; the scale exactly. */
static void amp_row(venv *e, clmp_optimizer kind, clmp_dtype gd, int special) {
  float *w = values(e, AMP_PARAMS, -1, 1, 0),
        *g = values(e, AMP_PARAMS, -LOSS_SCALE, LOSS_SCALE, special);
  amp_side d = {0}, r = {0};
  char dt[48], sh[48];
  snprintf(dt, sizeof dt, "%s, grads %s", kind == CLMP_ADAMW ? "AdamW" : "SGD momentum",
           clmp_dtype_name(gd));
  snprintf(sh, sizeof sh, "%d", AMP_PARAMS);
  clmp__verify_row row;
  clmp__verify_row_init(&row, "optim_step", dt, sh, special, (clmp__tolerance){1e-6, 1e-6, 0});
  clmp_status sd = w && g ? amp_open(e->dev, kind, gd, w, g, &d) : clmp__verify_no_memory(&row);
  clmp_status sr = w && g ? amp_open(e->ref, kind, gd, w, g, &r) : clmp__verify_no_memory(&row);
  pair out = {d.master, r.master};
  clmp__verify_finish(e, &row, sd, sr, &out);
  clmp__verify_row_init(&row, "scaler_update", dt, "1", special, EXACT);
  pair scale = {(clmp_tensor *)clmp_scaler_scale(d.scaler),
                (clmp_tensor *)clmp_scaler_scale(r.scaler)};
  clmp__verify_finish(e, &row, sd, sr, &scale);
  amp_close(&d), amp_close(&r);
  free(w), free(g);
}

static void amp_rows(venv *e) {
  for (int d = 0; d < N_FLOAT; d++)
    for (int special = 0; special < 2; special++) {
      amp_row(e, CLMP_ADAMW, FLOATS[d], special);
      amp_row(e, CLMP_SGD, FLOATS[d], special);
    }
}

const clmp__verify_case clmp__verify_cases_reduce[] = {{"nonfinite_check sum_squares", reduce_rows},
                                                       {"gemm", gemm_rows},
                                                       {"optim_step scaler_update", amp_rows},
                                                       {NULL, NULL}};
