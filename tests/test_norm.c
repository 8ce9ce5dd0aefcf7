/* tests/test_norm.c: clmp_batch_norm_train, _eval and _backward on every OpenCL device (and cl:0
 * once more in its GPU forms) against the reference: x of 2, 3 and 4 dimensions (row blocks and
 * plane chunks of the channel sums, one chunk and several, one block and several), dtype
 * combinations, a large case, outputs as views at offsets with guard padding, special values,
 * in place (x is y, dx is dy), hand-computed values, finite differences of the training forward,
 * reruns that repeat their bits, and the refusals of bad arguments.
 *
 * Tolerances, derived per element from the data as stored (u = 2^-24; M = N S values per
 * channel; d = the longest chain of additions of the device's channel sums, clmp__sum_depth of
 * host/ops/reduce.h: ceil(min(S, CHUNK) / LANES) + log2(LANES) for plane chunks or BLOCK_ROWS
 * for row blocks, plus BLOCK_ROWS per fold of the rows, plus the rows left (times S for row
 * blocks); mu = sum |x| / M; var = M2 / M):
 * - save_mean: the fp32 sum, times fl(1 / M), and the reference's rounding: Em = (d + 4) u mu.
 * - save_invstd: the device's mean is off by at most Em, which adds at most Em^2 to the variance
 *   (the cross term vanishes); each squared deviation is 3 roundings, the sum (d + 3) u, the
 *   scale, + eps and rsqrt (2 ulp in OpenCL C) bring the relative error of invstd to at most
 *   ((d + 6) u + Em^2 / (var + eps)) / 2 + 5 u, the reference's rounding included.
 * - y: |gamma| invstd Em + |gamma xhat| (that relative error + 4 u) + 2 u (|gamma xhat| + |beta|).
 * - running stats: momentum times the statistic's bound, plus 3 u of each term and u.
 * - eval: invstd from rsqrt of the stored running_var: 6 u relative; y as above with Em = 0.
 * - backward (both sides read the same saves): sum dy errs by E1 = (d + 1) u sum |dy|, sum
 *   dy (x - mean) by E2 = (d + 3) u sum |dy (x - mean)|; dbeta, dgamma: those (times invstd)
 *   plus 3 u of each term; dx = |invstd gamma| (E1 / M + |x - mean| invstd^2 E2 / M + 5 u (|dy| +
 *   |mean dy| + |(x - mean) proj|)) + 2 u |dx|.
 * - 16-bit outputs may also differ by 1 ulp of their dtype, and every bound has (d + 8) 2^-126
 *   for devices that flush fp32 subnormals.
 * - Finite differences (f32): L = sum w y(x, gamma, beta) on the reference, along a direction v,
 *   by the fourth-order difference (8 (L(h) - L(-h)) - (L(2h) - L(-2h))) / 12h; inputs, v and h
 *   lie on a grid, so x +- k h v is exact; each y is rounded once (u |y|), which the difference
 *   amplifies by at most 18 / 12h; the truncation, h^4 / 30 |L'''''|, is below h^4 sum |w|
 *   FD_V_MAX^5 for these unit-variance inputs. The backward is run with the reference's saves,
 *   whose roundings (u) add 3 u of dx's terms and u |mean proj invstd gamma|. */
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
#define SEED        0xb7000000001ull
#define GRID        64.0f /* random inputs are multiples of 1 / GRID in [-RANGE, RANGE) */
#define RANGE       2.0f
#define MOMENTUM    0.1f
#define EPS         1e-5f
#define FD_H        0x1p-7
#define FD_V_MAX    2 /* directions have integer entries in [-FD_V_MAX, FD_V_MAX] */

typedef struct norm_case {
  int ndim;
  size_t shape[4];
  size_t pad;
} norm_case;

/* [N, C] (M = 2; and several), [N, C, L] of row blocks (S < LANES) and of one chunk, [N, C, H,
 * W] of several row blocks, one chunk, two chunks per plane (N 1), 1 x 1 planes; then larger
 * ones: rows of partial sums folded once (plane chunks, row blocks) and twice, and a batch. */
static const norm_case CASES[] = {
    {2, {2, 1}, 0},          {2, {5, 3}, 2},        {3, {4, 7, 5}, 1},
    {3, {3, 2, 99}, 3},      {4, {70, 4, 2, 2}, 1}, {4, {3, 2, 9, 11}, 0},
    {4, {1, 3, 33, 33}, 4},  {4, {2, 5, 1, 1}, 1},  {2, {300, 17}, 2},
    {4, {200, 2, 8, 8}, 1},  {2, {9000, 3}, 2},     {4, {9000, 1, 8, 8}, 0},
    {4, {16, 32, 32, 32}, 3}};
#define N_CASES (sizeof CASES / sizeof *CASES)
#define N_SMALL 8 /* the cases every dtype combination runs on */

/* x (and y, dy, dx) dtype, gamma and beta's (and dgamma, dbeta's). */
static const clmp_dtype COMBOS[][2] = {{CLMP_F32, CLMP_F32},
                                       {CLMP_F16, CLMP_F32},
                                       {CLMP_BF16, CLMP_F32},
                                       {CLMP_F16, CLMP_F16},
                                       {CLMP_BF16, CLMP_BF16}};
#define N_COMBOS (sizeof COMBOS / sizeof *COMBOS)

/* Finite special values in channel 0 (zeros, subnormals, fp16's largest value), inf and NaN in
 * the last channel when there are two or more, which the others must not notice. */
static const float FINITE_SPECIALS[] = {0.0f, -0.0f, 1e-40f, 6e-8f, 65504.0f, -65504.0f};
static const float NONFINITE[] = {INFINITY, NAN};
#define N_FINITE_SPECIALS (sizeof FINITE_SPECIALS / sizeof *FINITE_SPECIALS)

static size_t numel_of(const norm_case *nc) {
  size_t n = 1;
  for (int i = 0; i < nc->ndim; i++) n *= nc->shape[i];
  return n;
}

static clmp__ncs view_of(const norm_case *nc) {
  clmp__ncs v = {nc->shape[0], nc->shape[1], 1};
  for (int i = 2; i < nc->ndim; i++) v.s *= nc->shape[i];
  return v;
}

/* Element j < M of channel c. */
static size_t at(clmp__ncs v, size_t c, size_t j) {
  return clmp__ncs_index(v, c, j);
}

/* The longest chain of additions of a channel sum on the devices (see the header). */
static double depth_of(clmp__ncs v) {
  return (double)clmp__sum_depth(&(clmp__sum){CLMP__TERM_X, NULL, NULL, NULL, 0, v, 0, 1});
}

/* n seeded values on the grid; specials: the special values, as above. */
static float *make_inputs(const norm_case *nc, uint64_t seed, int specials) {
  size_t n = numel_of(nc);
  float *v = malloc(n * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  clmp_test_uniform(v, n, -RANGE, RANGE, seed);
  for (size_t i = 0; i < n; i++) v[i] = floorf(v[i] * GRID) / GRID;
  clmp__ncs w = view_of(nc);
  for (size_t k = 0; specials && k < N_FINITE_SPECIALS && k < w.n * w.s; k++)
    v[at(w, 0, k)] = FINITE_SPECIALS[k];
  if (specials && w.c > 1) v[at(w, w.c - 1, 0)] = NONFINITE[0];
  if (specials && w.c > 1 && w.n * w.s > 1) v[at(w, w.c - 1, 1)] = NONFINITE[1];
  return v;
}

/* c seeded per-channel values in [lo, hi). */
static float *channel_values(size_t c, uint64_t seed, float lo, float hi) {
  float *v = malloc(c * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  clmp_test_uniform(v, c, lo, hi, seed);
  return v;
}

/* The reference statistics of each channel of x (as stored), and their bounds (see the header). */
typedef struct chan_stats {
  double mean, m2, var, invstd, em, rel_invstd;
} chan_stats;

static chan_stats *channel_stats(const float *x, clmp__ncs v) {
  chan_stats *cs = calloc(v.c, sizeof *cs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cs);
  double m = (double)(v.n * v.s), d = depth_of(v);
  for (size_t c = 0; c < v.c; c++) {
    double sum = 0, abs_sum = 0, m2 = 0;
    for (size_t j = 0; j < v.n * v.s; j++) sum += x[at(v, c, j)], abs_sum += fabs(x[at(v, c, j)]);
    cs[c].mean = sum / m;
    for (size_t j = 0; j < v.n * v.s; j++) m2 += pow(x[at(v, c, j)] - cs[c].mean, 2);
    cs[c].m2 = m2, cs[c].var = m2 / m, cs[c].invstd = 1.0 / sqrt(cs[c].var + EPS);
    cs[c].em = (d + 4) * U32 * abs_sum / m + (d + 8) * FTZ_PER_ADD;
    cs[c].rel_invstd = ((d + 6) * U32 + cs[c].em * cs[c].em / (cs[c].var + EPS)) / 2 + 5 * U32;
  }
  return cs;
}

/* The bounds of the training forward's outputs, from x, gamma, beta and the running stats as
 * stored. */
typedef struct train_bounds {
  float *mean, *invstd, *rm, *rv, *y;
} train_bounds;

static void bounds_free(train_bounds *b) {
  free(b->mean), free(b->invstd), free(b->rm), free(b->rv), free(b->y);
}

/* y's bound for element i of channel c, with the invstd used (is) and its relative error. */
static float y_bound(double x, double mean, double is, double rel_is, double em, double g,
                     double b) {
  double gx = fabs(g * (x - mean) * is);
  return (float)(fabs(g) * is * em + gx * (rel_is + 4 * U32) + 2 * U32 * (gx + fabs(b)) +
                 8 * FTZ_PER_ADD);
}

/* The running statistics' bounds: momentum times the statistic's, 3 u of each term, u. */
static void running_bounds(const chan_stats *s, clmp__ncs v, float rm, float rv, float *brm,
                           float *brv) {
  double m = (double)(v.n * v.s), keep = 1.0 - MOMENTUM, var_u = s->m2 / (m - 1);
  double e_vu = (depth_of(v) + 6) * U32 * var_u + m * s->em * s->em / (m - 1);
  double new_rm = keep * rm + MOMENTUM * s->mean, new_rv = keep * rv + MOMENTUM * var_u;
  *brm = (float)(MOMENTUM * s->em + 3 * U32 * (fabs(keep * rm) + fabs(MOMENTUM * s->mean)) +
                 U32 * fabs(new_rm));
  *brv = (float)(MOMENTUM * e_vu + 3 * U32 * (fabs(keep * rv) + MOMENTUM * var_u) +
                 U32 * fabs(new_rv));
}

static train_bounds train_bounds_of(const float *x, clmp__ncs v, const float *g, const float *b,
                                    const float *rm, const float *rv) {
  chan_stats *cs = channel_stats(x, v);
  train_bounds tb = {malloc(v.c * sizeof(float)), malloc(v.c * sizeof(float)),
                     malloc(v.c * sizeof(float)), malloc(v.c * sizeof(float)),
                     malloc(v.n * v.c * v.s * sizeof(float))};
  CU_ASSERT_FATAL(tb.mean && tb.invstd && tb.rm && tb.rv && tb.y);
  for (size_t c = 0; c < v.c; c++) {
    tb.mean[c] = (float)cs[c].em;
    tb.invstd[c] = (float)(cs[c].rel_invstd * cs[c].invstd);
    running_bounds(&cs[c], v, rm[c], rv[c], &tb.rm[c], &tb.rv[c]);
    for (size_t j = 0; j < v.n * v.s; j++) {
      size_t i = at(v, c, j);
      tb.y[i] = y_bound(x[i], cs[c].mean, cs[c].invstd, cs[c].rel_invstd, cs[c].em, g[c], b[c]);
    }
  }
  free(cs);
  return tb;
}

/* --- the training forward and evaluation against the reference ---------------------------------
 */

/* The inputs of a forward: x, gamma, beta, running mean and variance (fp32 values). */
typedef struct bn_values {
  const float *x, *g, *b, *rm, *rv;
} bn_values;

/* The tensors of a forward on one context: inputs at offsets, outputs as views with guards. */
typedef struct bn_set {
  clmp_test_view x, y, g, b, rm, rv, sm, si;
} bn_set;

static bn_set bn_open(clmp_ctx *ctx, const norm_case *nc, clmp_dtype xd, clmp_dtype gd,
                      const bn_values *in) {
  size_t c[1] = {nc->shape[1]};
  bn_set s = {clmp_test_view_make(ctx, xd, nc->ndim, nc->shape, nc->pad + 1, in->x),
              clmp_test_view_make(ctx, xd, nc->ndim, nc->shape, nc->pad, NULL),
              clmp_test_view_make(ctx, gd, 1, c, 1, in->g),
              clmp_test_view_make(ctx, gd, 1, c, 2, in->b),
              clmp_test_view_make(ctx, CLMP_F32, 1, c, 1, in->rm),
              clmp_test_view_make(ctx, CLMP_F32, 1, c, 2, in->rv),
              clmp_test_view_make(ctx, CLMP_F32, 1, c, 3, NULL),
              clmp_test_view_make(ctx, CLMP_F32, 1, c, 1, NULL)};
  return s;
}

static void bn_close(bn_set *s) {
  clmp_test_view *all[] = {&s->x, &s->y, &s->g, &s->b, &s->rm, &s->rv, &s->sm, &s->si};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) clmp_test_view_free(all[i]);
}

static clmp_status bn_train(bn_set *s) {
  return clmp_batch_norm_train(s->x.t, s->g.t, s->b.t, MOMENTUM, EPS, s->rm.t, s->rv.t, s->sm.t,
                               s->si.t, s->y.t);
}

static clmp_status bn_eval(bn_set *s) {
  return clmp_batch_norm_eval(s->x.t, s->g.t, s->b.t, s->rm.t, s->rv.t, EPS, s->y.t);
}

/* A case's inputs: x, gamma in [-2, 2), beta in [-1, 1), running mean, running var > 0. */
typedef struct bn_inputs {
  float *x, *g, *b, *rm, *rv;
} bn_inputs;

static bn_inputs inputs_make(const norm_case *nc, uint64_t seed, int specials) {
  size_t c = nc->shape[1];
  bn_inputs in = {make_inputs(nc, seed, specials), channel_values(c, seed + 1, -2, 2),
                  channel_values(c, seed + 2, -1, 1), channel_values(c, seed + 3, -1, 1),
                  channel_values(c, seed + 4, 0.5f, 2)};
  return in;
}

static void inputs_free(bn_inputs *in) {
  free(in->x), free(in->g), free(in->b), free(in->rm), free(in->rv);
}

static void expect_guards(const char *what, const bn_set *s) {
  const clmp_test_view *outs[] = {&s->y, &s->sm, &s->si, &s->rm, &s->rv};
  for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) clmp_test_expect_guard(what, outs[i]);
}

/* Device d's training forward against the reference's outputs. */
static void train_device(int d, const norm_case *nc, clmp_dtype xd, clmp_dtype gd,
                         const bn_values *in, const bn_set *ref, const train_bounds *tb,
                         const char *tag) {
  bn_set s = bn_open(clmp_test_devs[d].ctx, nc, xd, gd, in);
  CU_ASSERT_EQUAL(bn_train(&s), CLMP_SUCCESS);
  char what[160];
  int n = snprintf(what, sizeof what, "%-8.31s train x %s, gamma %s, %d-D [%zu, %zu, ...]%s",
                   clmp_test_devs[d].id, clmp_dtype_name(xd), clmp_dtype_name(gd), nc->ndim,
                   nc->shape[0], nc->shape[1], tag);
  clmp_test_expect_within(what, s.y.t, ref->y.t, tb->y, xd == CLMP_F32 ? 0 : 1);
  snprintf(what + n, sizeof what - (size_t)n, " save_mean");
  clmp_test_expect_within(what, s.sm.t, ref->sm.t, tb->mean, 0);
  snprintf(what + n, sizeof what - (size_t)n, " save_invstd");
  clmp_test_expect_within(what, s.si.t, ref->si.t, tb->invstd, 0);
  snprintf(what + n, sizeof what - (size_t)n, " running_mean");
  clmp_test_expect_within(what, s.rm.t, ref->rm.t, tb->rm, 0);
  snprintf(what + n, sizeof what - (size_t)n, " running_var");
  clmp_test_expect_within(what, s.rv.t, ref->rv.t, tb->rv, 0);
  expect_guards(what, &s);
  bn_close(&s);
}

static void train_case(const norm_case *nc, clmp_dtype xd, clmp_dtype gd, int specials) {
  bn_inputs in = inputs_make(nc, SEED + numel_of(nc), specials);
  bn_values vals = {in.x, in.g, in.b, in.rm, in.rv};
  bn_set ref = bn_open(clmp_test_ref_ctx(), nc, xd, gd, &vals);
  float *x = clmp_test_read(ref.x.t), *g = clmp_test_read(ref.g.t), *b = clmp_test_read(ref.b.t);
  CU_ASSERT_EQUAL(bn_train(&ref), CLMP_SUCCESS);
  train_bounds tb = train_bounds_of(x, view_of(nc), g, b, in.rm, in.rv);
  for (int d = 0; d < clmp_test_ndevs; d++)
    if (!clmp_test_is_ref(&clmp_test_devs[d]))
      train_device(d, nc, xd, gd, &vals, &ref, &tb, specials ? " special" : "");
  bounds_free(&tb);
  bn_close(&ref);
  free(x), free(g), free(b);
  inputs_free(&in);
}

static void test_train_vs_ref(void) {
  for (size_t k = 0; k < N_CASES; k++)
    for (size_t c = 0; c < (k < N_SMALL ? N_COMBOS : 2); c++)
      for (int special = 0; special < (k < N_SMALL ? 2 : 1); special++)
        train_case(&CASES[k], COMBOS[c][0], COMBOS[c][1], special);
}

/* Evaluation: y from the running statistics; invstd = rsqrt(running_var + eps) is within 6 u. */
static float *eval_bounds(const float *x, clmp__ncs v, const float *g, const float *b,
                          const float *rm, const float *rv) {
  float *bound = malloc(v.n * v.c * v.s * sizeof *bound);
  CU_ASSERT_PTR_NOT_NULL_FATAL(bound);
  for (size_t c = 0; c < v.c; c++) {
    double is = 1.0 / sqrt((double)rv[c] + EPS);
    for (size_t j = 0; j < v.n * v.s; j++) {
      size_t i = at(v, c, j);
      bound[i] = y_bound(x[i], rm[c], is, 6 * U32, 0, g[c], b[c]);
    }
  }
  return bound;
}

static void eval_case(const norm_case *nc, clmp_dtype xd, clmp_dtype gd, int specials) {
  bn_inputs in = inputs_make(nc, SEED * 7 + numel_of(nc), specials);
  bn_values vals = {in.x, in.g, in.b, in.rm, in.rv};
  bn_set ref = bn_open(clmp_test_ref_ctx(), nc, xd, gd, &vals);
  float *x = clmp_test_read(ref.x.t), *g = clmp_test_read(ref.g.t), *b = clmp_test_read(ref.b.t);
  CU_ASSERT_EQUAL(bn_eval(&ref), CLMP_SUCCESS);
  float *bound = eval_bounds(x, view_of(nc), g, b, in.rm, in.rv);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    if (clmp_test_is_ref(&clmp_test_devs[d])) continue;
    bn_set s = bn_open(clmp_test_devs[d].ctx, nc, xd, gd, &vals);
    CU_ASSERT_EQUAL(bn_eval(&s), CLMP_SUCCESS);
    char what[160];
    snprintf(what, sizeof what, "%-8.31s eval x %s, gamma %s, %d-D [%zu, %zu, ...]%s",
             clmp_test_devs[d].id, clmp_dtype_name(xd), clmp_dtype_name(gd), nc->ndim, nc->shape[0],
             nc->shape[1], specials ? " special" : "");
    clmp_test_expect_within(what, s.y.t, ref.y.t, bound, xd == CLMP_F32 ? 0 : 1);
    clmp_test_expect_guard(what, &s.y);
    bn_close(&s);
  }
  bn_close(&ref);
  free(x), free(g), free(b), free(bound);
  inputs_free(&in);
}

static void test_eval_vs_ref(void) {
  for (size_t k = 0; k < N_CASES; k++)
    for (size_t c = 0; c < (k < N_SMALL ? N_COMBOS : 1); c++)
      for (int special = 0; special < 2; special++)
        eval_case(&CASES[k], COMBOS[c][0], COMBOS[c][1], special);
}

/* --- the backward against the reference ------------------------------------------------------- */

/* The backward's inputs (x, dy, gamma, the saves, dgamma and dbeta before) and its outputs. */
typedef struct bw_values {
  const float *x, *dy, *g, *sm, *si, *dg, *db;
} bw_values;

typedef struct bw_set {
  clmp_test_view x, dy, g, sm, si, dg, db, dx;
} bw_set;

static bw_set bw_open(clmp_ctx *ctx, const norm_case *nc, clmp_dtype xd, clmp_dtype gd,
                      const bw_values *in) {
  size_t c[1] = {nc->shape[1]};
  bw_set s = {clmp_test_view_make(ctx, xd, nc->ndim, nc->shape, nc->pad + 2, in->x),
              clmp_test_view_make(ctx, xd, nc->ndim, nc->shape, nc->pad + 1, in->dy),
              clmp_test_view_make(ctx, gd, 1, c, 1, in->g),
              clmp_test_view_make(ctx, CLMP_F32, 1, c, 2, in->sm),
              clmp_test_view_make(ctx, CLMP_F32, 1, c, 1, in->si),
              clmp_test_view_make(ctx, gd, 1, c, 3, in->dg),
              clmp_test_view_make(ctx, gd, 1, c, 1, in->db),
              clmp_test_view_make(ctx, xd, nc->ndim, nc->shape, nc->pad, NULL)};
  return s;
}

static void bw_close(bw_set *s) {
  clmp_test_view *all[] = {&s->x, &s->dy, &s->g, &s->sm, &s->si, &s->dg, &s->db, &s->dx};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) clmp_test_view_free(all[i]);
}

static clmp_status bw_run(bw_set *s, float acc) {
  return clmp_batch_norm_backward(s->x.t, s->dy.t, s->g.t, s->sm.t, s->si.t, acc, s->dg.t, s->db.t,
                                  s->dx.t);
}

/* The backward's bounds (see the header), from the stored inputs. */
typedef struct bw_bounds {
  float *dx, *dg, *db;
} bw_bounds;

/* One channel's bounds: its sums' magnitudes give dgamma's and dbeta's, then dx's elements. */
static void channel_bw_bounds(const bw_values *in, clmp__ncs v, size_t c, float acc,
                              bw_bounds *out) {
  double m = (double)(v.n * v.s), d = depth_of(v), mean = in->sm[c], is = in->si[c];
  double s_dy = 0, s_dxm = 0, a1 = 0, a2 = 0;
  for (size_t j = 0; j < v.n * v.s; j++) {
    size_t i = at(v, c, j);
    double dy = in->dy[i], xm = in->x[i] - mean;
    s_dy += dy, s_dxm += dy * xm, a1 += fabs(dy), a2 += fabs(dy * xm);
  }
  double e1 = (d + 1) * U32 * a1 + (d + 8) * FTZ_PER_ADD;
  double e2 = (d + 3) * U32 * a2 + (d + 8) * FTZ_PER_ADD;
  double old_db = acc != 0 ? fabs(acc * in->db[c]) : 0,
         old_dg = acc != 0 ? fabs(acc * in->dg[c]) : 0;
  out->db[c] = (float)(e1 + 3 * U32 * (fabs(s_dy) + old_db));
  out->dg[c] = (float)(e2 * is + 3 * U32 * (fabs(s_dxm * is) + old_dg));
  double scale = fabs(is * in->g[c]), mdy = s_dy / m, proj = s_dxm / m * is * is;
  for (size_t j = 0; j < v.n * v.s; j++) {
    size_t i = at(v, c, j);
    double xm = in->x[i] - mean, dx = (in->dy[i] - mdy - xm * proj) * scale;
    double terms = fabs(in->dy[i]) + fabs(mdy) + fabs(xm * proj);
    out->dx[i] = (float)(scale * (e1 / m + fabs(xm) * is * is * e2 / m + 8 * U32 * terms +
                                  U32 * fabs(mean * proj)) +
                         2 * U32 * fabs(dx));
  }
}

static bw_bounds bw_bounds_of(const bw_values *in, clmp__ncs v, float acc) {
  bw_bounds b = {malloc(v.n * v.c * v.s * sizeof(float)), malloc(v.c * sizeof(float)),
                 malloc(v.c * sizeof(float))};
  CU_ASSERT_FATAL(b.dx && b.dg && b.db);
  for (size_t c = 0; c < v.c; c++) channel_bw_bounds(in, v, c, acc, &b);
  return b;
}

/* The saves of the reference's training forward over x (as stored in xd). */
static void reference_saves(const norm_case *nc, clmp_dtype xd, const float *x, float **sm,
                            float **si) {
  size_t c = nc->shape[1];
  float *ones = channel_values(c, 1, 1, 1), *zeros = channel_values(c, 1, 0, 0);
  bn_values vals = {x, ones, zeros, zeros, ones};
  bn_set s = bn_open(clmp_test_ref_ctx(), nc, xd, CLMP_F32, &vals);
  CU_ASSERT_EQUAL(bn_train(&s), CLMP_SUCCESS);
  *sm = clmp_test_read(s.sm.t), *si = clmp_test_read(s.si.t);
  bn_close(&s);
  free(ones), free(zeros);
}

/* Device d's backward against the reference's. */
static void backward_device(int d, const norm_case *nc, clmp_dtype xd, clmp_dtype gd,
                            const bw_values *in, float acc, const bw_set *ref, const bw_bounds *b) {
  bw_set s = bw_open(clmp_test_devs[d].ctx, nc, xd, gd, in);
  CU_ASSERT_EQUAL(bw_run(&s, acc), CLMP_SUCCESS);
  char what[160];
  int n =
      snprintf(what, sizeof what, "%-8.31s backward x %s, gamma %s, acc %g, %d-D [%zu, %zu, ...]",
               clmp_test_devs[d].id, clmp_dtype_name(xd), clmp_dtype_name(gd), (double)acc,
               nc->ndim, nc->shape[0], nc->shape[1]);
  clmp_test_expect_within(what, s.dx.t, ref->dx.t, b->dx, xd == CLMP_F32 ? 0 : 1);
  clmp_test_expect_guard(what, &s.dx);
  snprintf(what + n, sizeof what - (size_t)n, " dgamma");
  clmp_test_expect_within(what, s.dg.t, ref->dg.t, b->dg, gd == CLMP_F32 ? 0 : 1);
  clmp_test_expect_guard(what, &s.dg);
  snprintf(what + n, sizeof what - (size_t)n, " dbeta");
  clmp_test_expect_within(what, s.db.t, ref->db.t, b->db, gd == CLMP_F32 ? 0 : 1);
  clmp_test_expect_guard(what, &s.db);
  bw_close(&s);
}

/* acc 0 (dgamma and dbeta hold NaN, which must not be read) or 1 (accumulation). */
static void backward_case(const norm_case *nc, clmp_dtype xd, clmp_dtype gd, float acc,
                          int specials) {
  size_t c = nc->shape[1];
  float *x = make_inputs(nc, SEED * 11 + numel_of(nc), specials);
  float *dy = make_inputs(nc, SEED * 13 + numel_of(nc), 0), *g = channel_values(c, SEED, -2, 2);
  float *dg = channel_values(c, SEED + 5, acc != 0 ? -1 : NAN, acc != 0 ? 1 : NAN);
  float *db = channel_values(c, SEED + 6, acc != 0 ? -1 : NAN, acc != 0 ? 1 : NAN);
  float *sm = NULL, *si = NULL;
  reference_saves(nc, xd, x, &sm, &si);
  bw_values vals = {x, dy, g, sm, si, dg, db};
  bw_set ref = bw_open(clmp_test_ref_ctx(), nc, xd, gd, &vals);
  bw_values stored = {
      clmp_test_read(ref.x.t),  clmp_test_read(ref.dy.t), clmp_test_read(ref.g.t), sm, si,
      clmp_test_read(ref.dg.t), clmp_test_read(ref.db.t)};
  bw_bounds b = bw_bounds_of(&stored, view_of(nc), acc);
  CU_ASSERT_EQUAL(bw_run(&ref, acc), CLMP_SUCCESS);
  for (int d = 0; d < clmp_test_ndevs; d++)
    if (!clmp_test_is_ref(&clmp_test_devs[d])) backward_device(d, nc, xd, gd, &vals, acc, &ref, &b);
  bw_close(&ref);
  free((void *)stored.x), free((void *)stored.dy), free((void *)stored.g);
  free((void *)stored.dg), free((void *)stored.db);
  free(b.dx), free(b.dg), free(b.db);
  free(x), free(dy), free(g), free(dg), free(db), free(sm), free(si);
}

static void test_backward_vs_ref(void) {
  for (size_t k = 0; k < N_CASES; k++)
    for (size_t c = 0; c < (k < N_SMALL ? N_COMBOS : 2); c++) {
      backward_case(&CASES[k], COMBOS[c][0], COMBOS[c][1], 0.0f, k < N_SMALL);
      if (k < N_SMALL) backward_case(&CASES[k], COMBOS[c][0], COMBOS[c][1], 1.0f, 0);
    }
}

/* --- finite differences ------------------------------------------------------------------------
 */

static double dot(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* L = <w, y> for the reference's training forward at (x, gamma, beta), f32, running statistics
 * not tracked; *err receives the bound of its rounding, sum |w y| u. */
static double loss_at(const norm_case *nc, const float *x, const float *g, const float *b,
                      const float *w, double *err) {
  size_t c[1] = {nc->shape[1]}, n = numel_of(nc);
  clmp_ctx *ref = clmp_test_ref_ctx();
  clmp_tensor *xt = clmp_test_tensor(ref, CLMP_F32, nc->ndim, nc->shape, x);
  clmp_tensor *yt = clmp_test_tensor(ref, CLMP_F32, nc->ndim, nc->shape, NULL);
  clmp_tensor *gt = clmp_test_tensor(ref, CLMP_F32, 1, c, g);
  clmp_tensor *bt = clmp_test_tensor(ref, CLMP_F32, 1, c, b);
  clmp_tensor *sm = clmp_test_tensor(ref, CLMP_F32, 1, c, NULL);
  clmp_tensor *si = clmp_test_tensor(ref, CLMP_F32, 1, c, NULL);
  CU_ASSERT_EQUAL(clmp_batch_norm_train(xt, gt, bt, MOMENTUM, EPS, NULL, NULL, sm, si, yt),
                  CLMP_SUCCESS);
  float *y = clmp_test_read(yt);
  double l = dot(w, y, n);
  *err = 0;
  for (size_t i = 0; i < n; i++) *err += fabs((double)w[i] * y[i]) * U32;
  clmp_tensor_free(xt), clmp_tensor_free(yt), clmp_tensor_free(gt), clmp_tensor_free(bt);
  clmp_tensor_free(sm), clmp_tensor_free(si);
  free(y);
  return l;
}

/* What a difference perturbs: x, gamma or beta. */
enum { ALONG_X, ALONG_GAMMA, ALONG_BETA };

/* The fourth-order difference of L along v (for the input `along`) at step h; *noise receives
 * the bound of its rounding. */
static double fd4(const norm_case *nc, int along, const float *const in[3], const float *v,
                  double h, const float *w, double *noise) {
  size_t n = along == ALONG_X ? numel_of(nc) : nc->shape[1];
  float *p = malloc(n * sizeof *p);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  const double steps[4] = {1, -1, 2, -2};
  double l[4], e[4];
  for (int k = 0; k < 4; k++) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(in[along][i] + steps[k] * h * v[i]); /* exact */
    const float *x = along == ALONG_X ? p : in[0], *g = along == ALONG_GAMMA ? p : in[1];
    l[k] = loss_at(nc, x, g, along == ALONG_BETA ? p : in[2], w, &e[k]);
  }
  free(p);
  *noise = (8 * (e[0] + e[1]) + e[2] + e[3]) / (12 * h);
  return (8 * (l[0] - l[1]) - (l[2] - l[3])) / (12 * h);
}

/* Integer directions in [-FD_V_MAX, FD_V_MAX]. */
static float *direction(size_t n, uint64_t seed) {
  float *v = malloc(n * sizeof *v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  for (size_t i = 0; i < n; i++)
    v[i] = (float)((int)(clmp_test_rand(&seed) % (2 * FD_V_MAX + 1)) - FD_V_MAX);
  return v;
}

/* The gradients of device d's backward for dy = w, from the reference's saves. */
static void device_grads(int d, const norm_case *nc, const bw_values *in, float **dx, float **dg,
                         float **db) {
  bw_set s = bw_open(clmp_test_devs[d].ctx, nc, CLMP_F32, CLMP_F32, in);
  CU_ASSERT_EQUAL(bw_run(&s, 0.0f), CLMP_SUCCESS);
  *dx = clmp_test_read(s.dx.t), *dg = clmp_test_read(s.dg.t), *db = clmp_test_read(s.db.t);
  bw_close(&s);
}

/* <gradient, v> on every device against the difference along x, gamma and beta. */
static void fd_case(const norm_case *nc) {
  size_t n = numel_of(nc), c = nc->shape[1];
  float *x = make_inputs(nc, SEED * 17 + n, 0), *w = make_inputs(nc, SEED * 19 + n, 0);
  float *g = channel_values(c, SEED * 23, -2, 2), *b = channel_values(c, SEED * 29, -1, 1);
  float *v[3] = {direction(n, SEED + 31), direction(c, SEED + 37), direction(c, SEED + 41)};
  float *sm = NULL, *si = NULL;
  reference_saves(nc, CLMP_F32, x, &sm, &si);
  bw_values vals = {x, w, g, sm, si, g, b};
  bw_bounds bound = bw_bounds_of(&vals, view_of(nc), 0.0f);
  const float *in[3] = {x, g, b}, *bounds[3] = {bound.dx, bound.dg, bound.db};
  const char *names[3] = {"x", "gamma", "beta"};
  double fd[3], tol[3];
  for (int k = 0; k < 3; k++) {
    double noise = 0, noise2 = 0;
    fd[k] = fd4(nc, k, in, v[k], FD_H, w, &noise);
    double coarse = fd4(nc, k, in, v[k], 2 * FD_H, w, &noise2); /* the truncation's size */
    tol[k] = noise + fabs(fd[k] - coarse);
    for (size_t i = 0; i < (k ? c : n); i++) tol[k] += fabs((double)v[k][i]) * bounds[k][i];
  }
  for (int d = 0; d < clmp_test_ndevs; d++) {
    float *grad[3];
    device_grads(d, nc, &vals, &grad[0], &grad[1], &grad[2]);
    for (int k = 0; k < 3; k++) {
      double got = dot(grad[k], v[k], k ? c : n);
      printf("\n    %-8.31s d/d%s along v, %d-D [%zu, %zu, ...]: %.9g, difference %.9g (tol %.3g)",
             clmp_test_devs[d].id, names[k], nc->ndim, nc->shape[0], nc->shape[1], got, fd[k],
             tol[k]);
      CU_ASSERT(fabs(got - fd[k]) <= tol[k]);
      free(grad[k]);
    }
  }
  free(bound.dx), free(bound.dg), free(bound.db);
  free(x), free(w), free(g), free(b), free(v[0]), free(v[1]), free(v[2]), free(sm), free(si);
}

static void test_finite_differences(void) {
  const size_t which[] = {1, 2, 5, 6};
  for (size_t k = 0; k < sizeof which / sizeof *which; k++) fd_case(&CASES[which[k]]);
}

/* --- hand-computed values, in place, reruns ------------------------------------------------------
 */

/* |got - want| <= 4 u |want|: what rsqrt's 2 ulp leave of an exact value. */
static void expect_near(const char *what, float got, double want) {
  int ok = fabs(got - want) <= 4 * U32 * fabs(want);
  if (!ok) printf("\n    %s: got %.9g, want %.9g", what, (double)got, want);
  CU_ASSERT(ok);
}

/* x [4, 1] = {0, 0, 2, 2}: mean 1, variance 1 (unbiased 4 / 3), eps 0: y = {-1, -1, 1, 1};
 * momentum 0.5 from (0, 1): running (0.5, 7 / 6); dy = {1, 0, 0, 0}: dbeta 1, dgamma -1, dx =
 * {0.5, -0.5, 0, 0}; evaluation with running (1, 3), eps 1: y = (x - 1) / 2. */
static void hand_values_on(clmp_ctx *ctx) {
  size_t xs[2] = {4, 1}, cs[1] = {1};
  clmp_tensor *x = clmp_test_tensor(ctx, CLMP_F32, 2, xs, (const float[4]){0, 0, 2, 2});
  clmp_tensor *y = clmp_test_tensor(ctx, CLMP_F32, 2, xs, NULL);
  clmp_tensor *dy = clmp_test_tensor(ctx, CLMP_F32, 2, xs, (const float[4]){1, 0, 0, 0});
  clmp_tensor *g = clmp_test_tensor(ctx, CLMP_F32, 1, cs, (const float[1]){1});
  clmp_tensor *b = clmp_test_tensor(ctx, CLMP_F32, 1, cs, (const float[1]){0});
  clmp_tensor *rm = clmp_test_tensor(ctx, CLMP_F32, 1, cs, (const float[1]){0});
  clmp_tensor *rv = clmp_test_tensor(ctx, CLMP_F32, 1, cs, (const float[1]){1});
  clmp_tensor *sm = clmp_test_tensor(ctx, CLMP_F32, 1, cs, NULL);
  clmp_tensor *si = clmp_test_tensor(ctx, CLMP_F32, 1, cs, NULL);
  clmp_tensor *dg = clmp_test_tensor(ctx, CLMP_F32, 1, cs, NULL);
  clmp_tensor *db = clmp_test_tensor(ctx, CLMP_F32, 1, cs, NULL);
  CU_ASSERT_EQUAL(clmp_batch_norm_train(x, g, b, 0.5f, 0.0f, rm, rv, sm, si, y), CLMP_SUCCESS);
  float *v = clmp_test_read(y), *m = clmp_test_read(sm), *s = clmp_test_read(si);
  float *r1 = clmp_test_read(rm), *r2 = clmp_test_read(rv);
  const double want_y[4] = {-1, -1, 1, 1};
  for (int i = 0; i < 4; i++) expect_near("y", v[i], want_y[i]);
  CU_ASSERT(m[0] == 1 && r1[0] == 0.5f);
  expect_near("invstd", s[0], 1), expect_near("running_var", r2[0], 7.0 / 6.0);
  free(v), free(m), free(s), free(r1), free(r2);
  CU_ASSERT_EQUAL(clmp_batch_norm_backward(x, dy, g, sm, si, 0.0f, dg, db, y), CLMP_SUCCESS);
  v = clmp_test_read(y), m = clmp_test_read(dg), s = clmp_test_read(db);
  const double want_dx[4] = {0.5, -0.5, 0, 0};
  for (int i = 0; i < 4; i++) CU_ASSERT(fabs(v[i] - want_dx[i]) <= 4 * U32);
  expect_near("dgamma", m[0], -1);
  CU_ASSERT(s[0] == 1);
  free(v), free(m), free(s);
  float three = 3, one = 1;
  CU_ASSERT_EQUAL(clmp_tensor_write(rv, CLMP_F32, &three, 1), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_write(rm, CLMP_F32, &one, 1), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_batch_norm_eval(x, g, b, rm, rv, 1.0f, y), CLMP_SUCCESS);
  v = clmp_test_read(y);
  for (int i = 0; i < 4; i++) expect_near("eval y", v[i], want_y[i] / 2);
  free(v);
  clmp_tensor *const all[] = {x, y, dy, g, b, rm, rv, sm, si, dg, db};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) clmp_tensor_free(all[i]);
}

static void test_hand_values(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) hand_values_on(clmp_test_devs[d].ctx);
}

/* The bits of a training forward and a backward of CASES[k] on device d, in place (x is y, dx
 * is dy) or not; out receives y, save_mean, save_invstd, dx, dgamma, dbeta. */
static void run_all(int d, const norm_case *nc, int in_place, float *out[6]) {
  bn_inputs in = inputs_make(nc, SEED * 43, 0);
  float *dy = make_inputs(nc, SEED * 47, 0);
  bn_values vals = {in.x, in.g, in.b, in.rm, in.rv};
  bn_set s = bn_open(clmp_test_devs[d].ctx, nc, CLMP_F32, CLMP_F32, &vals);
  bw_values bv = {in.x, dy, in.g, in.rm, in.rv, in.g, in.b};
  bw_set w = bw_open(clmp_test_devs[d].ctx, nc, CLMP_F32, CLMP_F32, &bv);
  CU_ASSERT_EQUAL(clmp_batch_norm_train(s.x.t, s.g.t, s.b.t, MOMENTUM, EPS, s.rm.t, s.rv.t, s.sm.t,
                                        s.si.t, in_place ? s.x.t : s.y.t),
                  CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_batch_norm_backward(w.x.t, w.dy.t, w.g.t, s.sm.t, s.si.t, 0.0f, w.dg.t,
                                           w.db.t, in_place ? w.dy.t : w.dx.t),
                  CLMP_SUCCESS);
  out[0] = clmp_test_read(in_place ? s.x.t : s.y.t), out[1] = clmp_test_read(s.sm.t);
  out[2] = clmp_test_read(s.si.t), out[3] = clmp_test_read(in_place ? w.dy.t : w.dx.t);
  out[4] = clmp_test_read(w.dg.t), out[5] = clmp_test_read(w.db.t);
  bn_close(&s), bw_close(&w);
  inputs_free(&in), free(dy);
}

/* In place and apart give the same bits, and so do two runs. */
static void test_in_place_and_reruns(void) {
  const norm_case *nc = &CASES[N_CASES - 1];
  size_t n = numel_of(nc), c = nc->shape[1], sizes[6] = {n, c, c, n, c, c};
  const char *names[6] = {"y", "save_mean", "save_invstd", "dx", "dgamma", "dbeta"};
  for (int d = 0; d < clmp_test_ndevs; d++) {
    float *a[6], *b[6], *p[6];
    run_all(d, nc, 0, a), run_all(d, nc, 0, b), run_all(d, nc, 1, p);
    for (int k = 0; k < 6; k++) {
      int rerun = !memcmp(a[k], b[k], sizes[k] * sizeof(float));
      int in_place = !memcmp(a[k], p[k], sizes[k] * sizeof(float));
      printf("\n    %-8.31s %s: run 2 %s run 1, in place %s apart", clmp_test_devs[d].id, names[k],
             rerun ? "==" : "!=", in_place ? "==" : "!=");
      CU_ASSERT(rerun && in_place);
      free(a[k]), free(b[k]), free(p[k]);
    }
  }
}

/* --- bad arguments --------------------------------------------------------------------------- */

#define REFUSED(where, fn, what, want, call)                     \
  do {                                                           \
    hostile_clear_error();                                       \
    hostile_expect_refused(where, fn, what, NULL, (call), want); \
  } while (0)

/* The tensors of the refusals, all holding 77: x [4, 3, 5] and its outputs, per-channel tensors
 * of 3 (and a wrong 4), mistyped ones, one value per channel, views that overlap inside one
 * buffer, and one on another context. */
enum {
  BX,
  BY,
  BG,
  BB,
  BRM,
  BRV,
  BSM,
  BSI,
  BG4,
  BH3,
  BXI,
  BX1,
  BY1,
  BFLAT,
  BYW,
  BBASE,
  BLO,
  BHI,
  BP3,
  BOTHER,
  BDX,
  B_COUNT
};

static void bad_open(clmp_ctx *ctx, clmp_ctx *other, clmp_tensor *t[B_COUNT]) {
  const size_t xs[3] = {4, 3, 5}, c3[1] = {3}, c4[1] = {4}, one[2] = {1, 3}, flat[1] = {60};
  const size_t wide[2] = {4, 15}, base[1] = {128};
  float fill[128];
  for (int i = 0; i < 128; i++) fill[i] = CLMP_TEST_GUARD;
  const struct {
    clmp_dtype dt;
    int nd;
    const size_t *shape;
  } spec[BBASE + 1] = {
      {CLMP_F32, 3, xs},  {CLMP_F32, 3, xs},   {CLMP_F32, 1, c3},   {CLMP_F32, 1, c3},
      {CLMP_F32, 1, c3},  {CLMP_F32, 1, c3},   {CLMP_F32, 1, c3},   {CLMP_F32, 1, c3},
      {CLMP_F32, 1, c4},  {CLMP_F16, 1, c3},   {CLMP_I32, 3, xs},   {CLMP_F32, 2, one},
      {CLMP_F32, 2, one}, {CLMP_F32, 1, flat}, {CLMP_F32, 2, wide}, {CLMP_F32, 1, base}};
  for (int i = 0; i <= BBASE; i++)
    t[i] = clmp_test_tensor(ctx, spec[i].dt, spec[i].nd, spec[i].shape, fill);
  CU_ASSERT_EQUAL(clmp_tensor_view(t[BBASE], 0, CLMP_F32, 3, xs, &t[BLO]), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_view(t[BBASE], 8 * sizeof(float), CLMP_F32, 3, xs, &t[BHI]),
                  CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_view(t[BBASE], 50 * sizeof(float), CLMP_F32, 1, c3, &t[BP3]),
                  CLMP_SUCCESS);
  t[BOTHER] = clmp_test_tensor(other, CLMP_F32, 1, c3, fill);
  t[BDX] = clmp_test_tensor(ctx, CLMP_F32, 3, xs, fill);
}

static void bad_close(clmp_tensor *t[B_COUNT]) {
  for (int i = 0; i < B_COUNT; i++) {
    if (i != BLO && i != BHI && i != BP3) clmp_test_expect_all(t[i], CLMP_TEST_GUARD);
    clmp_tensor_free(t[i]);
  }
}

static clmp_status train(clmp_tensor *const t[], int x, int g, int rm, int rv, int sm, int si,
                         int y, float momentum, float eps) {
  return clmp_batch_norm_train(t[x], t[g], t[BB], momentum, eps, rm < 0 ? NULL : t[rm],
                               rv < 0 ? NULL : t[rv], t[sm], t[si], t[y]);
}

static void bad_train(const char *where, clmp_tensor *const t[B_COUNT]) {
  const char *fn = "clmp_batch_norm_train";
  REFUSED(
      where, fn, "NULL x", CLMP_ERR_INVALID_ARGUMENT,
      clmp_batch_norm_train(NULL, t[BG], t[BB], MOMENTUM, EPS, NULL, NULL, t[BSM], t[BSI], t[BY]));
  REFUSED(
      where, fn, "NULL gamma", CLMP_ERR_INVALID_ARGUMENT,
      clmp_batch_norm_train(t[BX], NULL, t[BB], MOMENTUM, EPS, NULL, NULL, t[BSM], t[BSI], t[BY]));
  REFUSED(
      where, fn, "NULL save_invstd", CLMP_ERR_INVALID_ARGUMENT,
      clmp_batch_norm_train(t[BX], t[BG], t[BB], MOMENTUM, EPS, NULL, NULL, t[BSM], NULL, t[BY]));
  REFUSED(where, fn, "i32 x", CLMP_ERR_INVALID_DTYPE,
          train(t, BXI, BG, BRM, BRV, BSM, BSI, BY, MOMENTUM, EPS));
  REFUSED(where, fn, "1-D x", CLMP_ERR_INVALID_SHAPE,
          train(t, BFLAT, BG, BRM, BRV, BSM, BSI, BFLAT, MOMENTUM, EPS));
  REFUSED(where, fn, "one value per channel", CLMP_ERR_INVALID_SHAPE,
          train(t, BX1, BG, BRM, BRV, BSM, BSI, BY1, MOMENTUM, EPS));
  REFUSED(where, fn, "y misshaped", CLMP_ERR_INVALID_SHAPE,
          train(t, BX, BG, BRM, BRV, BSM, BSI, BYW, MOMENTUM, EPS));
  REFUSED(where, fn, "gamma of 4", CLMP_ERR_INVALID_SHAPE,
          train(t, BX, BG4, BRM, BRV, BSM, BSI, BY, MOMENTUM, EPS));
  REFUSED(where, fn, "f16 save_mean", CLMP_ERR_INVALID_DTYPE,
          train(t, BX, BG, BRM, BRV, BH3, BSI, BY, MOMENTUM, EPS));
  REFUSED(where, fn, "f16 running_var", CLMP_ERR_INVALID_DTYPE,
          train(t, BX, BG, BRM, BH3, BSM, BSI, BY, MOMENTUM, EPS));
  REFUSED(where, fn, "running_mean alone", CLMP_ERR_INVALID_ARGUMENT,
          train(t, BX, BG, BRM, -1, BSM, BSI, BY, MOMENTUM, EPS));
  REFUSED(where, fn, "momentum 2", CLMP_ERR_INVALID_ARGUMENT,
          train(t, BX, BG, BRM, BRV, BSM, BSI, BY, 2.0f, EPS));
  REFUSED(where, fn, "momentum NaN", CLMP_ERR_INVALID_ARGUMENT,
          train(t, BX, BG, BRM, BRV, BSM, BSI, BY, NAN, EPS));
  REFUSED(where, fn, "eps -1", CLMP_ERR_INVALID_ARGUMENT,
          train(t, BX, BG, BRM, BRV, BSM, BSI, BY, MOMENTUM, -1.0f));
  REFUSED(where, fn, "eps inf", CLMP_ERR_INVALID_ARGUMENT,
          train(t, BX, BG, BRM, BRV, BSM, BSI, BY, MOMENTUM, INFINITY));
  REFUSED(where, fn, "y overlapping x", CLMP_ERR_INVALID_ARGUMENT,
          train(t, BLO, BG, BRM, BRV, BSM, BSI, BHI, MOMENTUM, EPS));
  REFUSED(where, fn, "save_mean inside x", CLMP_ERR_INVALID_ARGUMENT,
          train(t, BLO, BG, BRM, BRV, BP3, BSI, BY, MOMENTUM, EPS));
  REFUSED(where, fn, "save_mean is save_invstd", CLMP_ERR_INVALID_ARGUMENT,
          train(t, BX, BG, BRM, BRV, BSM, BSM, BY, MOMENTUM, EPS));
  REFUSED(where, fn, "save_mean is running_mean", CLMP_ERR_INVALID_ARGUMENT,
          train(t, BX, BG, BRM, BRV, BRM, BSI, BY, MOMENTUM, EPS));
  REFUSED(where, fn, "gamma on another context", CLMP_ERR_CONTEXT_MISMATCH,
          train(t, BX, BOTHER, BRM, BRV, BSM, BSI, BY, MOMENTUM, EPS));
}

static void bad_eval_backward(const char *where, clmp_tensor *const t[B_COUNT]) {
  const char *ev = "clmp_batch_norm_eval", *bw = "clmp_batch_norm_backward";
  REFUSED(where, ev, "NULL running_var", CLMP_ERR_INVALID_ARGUMENT,
          clmp_batch_norm_eval(t[BX], t[BG], t[BB], t[BRM], NULL, EPS, t[BY]));
  REFUSED(where, ev, "f16 running_mean", CLMP_ERR_INVALID_DTYPE,
          clmp_batch_norm_eval(t[BX], t[BG], t[BB], t[BH3], t[BRV], EPS, t[BY]));
  REFUSED(where, ev, "eps NaN", CLMP_ERR_INVALID_ARGUMENT,
          clmp_batch_norm_eval(t[BX], t[BG], t[BB], t[BRM], t[BRV], NAN, t[BY]));
  REFUSED(where, ev, "y overlapping x", CLMP_ERR_INVALID_ARGUMENT,
          clmp_batch_norm_eval(t[BLO], t[BG], t[BB], t[BRM], t[BRV], EPS, t[BHI]));
  REFUSED(where, bw, "NULL dgamma", CLMP_ERR_INVALID_ARGUMENT,
          clmp_batch_norm_backward(t[BX], t[BY], t[BG], t[BSM], t[BSI], 0, NULL, t[BB], t[BDX]));
  REFUSED(where, bw, "dy misshaped", CLMP_ERR_INVALID_SHAPE,
          clmp_batch_norm_backward(t[BX], t[BYW], t[BG], t[BSM], t[BSI], 0, t[BRM], t[BRV], t[BY]));
  REFUSED(where, bw, "i32 dx", CLMP_ERR_INVALID_DTYPE,
          clmp_batch_norm_backward(t[BX], t[BY], t[BG], t[BSM], t[BSI], 0, t[BRM], t[BRV], t[BXI]));
  REFUSED(where, bw, "dx is x", CLMP_ERR_INVALID_ARGUMENT,
          clmp_batch_norm_backward(t[BX], t[BY], t[BG], t[BSM], t[BSI], 0, t[BRM], t[BRV], t[BX]));
  REFUSED(where, bw, "dgamma is dbeta", CLMP_ERR_INVALID_ARGUMENT,
          clmp_batch_norm_backward(t[BX], t[BY], t[BG], t[BSM], t[BSI], 0, t[BRM], t[BRM], t[BDX]));
  REFUSED(where, bw, "f16 save_invstd", CLMP_ERR_INVALID_DTYPE,
          clmp_batch_norm_backward(t[BX], t[BY], t[BG], t[BSM], t[BH3], 0, t[BRM], t[BRV], t[BDX]));
  REFUSED(
      where, bw, "dbeta on another context", CLMP_ERR_CONTEXT_MISMATCH,
      clmp_batch_norm_backward(t[BX], t[BY], t[BG], t[BSM], t[BSI], 0, t[BRM], t[BOTHER], t[BDX]));
}

static void test_bad_arguments(void) {
  clmp_ctx *other = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_ctx_create("ref", &other), CLMP_SUCCESS);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_tensor *t[B_COUNT];
    bad_open(clmp_test_devs[d].ctx, other, t);
    bad_train(clmp_test_devs[d].id, t);
    bad_eval_backward(clmp_test_devs[d].id, t);
    bad_close(t);
  }
  clmp_ctx_free(other);
}

int main(void) {
  CU_TestInfo tests[] = {
      {"training forward: devices vs reference", test_train_vs_ref},
      {"evaluation: devices vs reference", test_eval_vs_ref},
      {"backward: devices vs reference, acc 0 and 1", test_backward_vs_ref},
      {"hand-computed values", test_hand_values},
      {"backward: finite differences of the training forward", test_finite_differences},
      {"in place and apart, run twice: the same bits", test_in_place_and_reruns},
      {"bad arguments", test_bad_arguments},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {
      {"norm", clmp_test_devices_open_with_gpu_form, clmp_test_devices_close, NULL, NULL, tests},
      CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
