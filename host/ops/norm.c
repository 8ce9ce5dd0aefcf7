/* host/ops/norm.c: batch normalisation over dimension 1 (training, evaluation, backward):
 * argument checks, dispatch through the op table, and the OpenCL launches: cl/reduce.cl's
 * partial sums, then cl/norm.cl's finishes and element-wise passes. Training runs two passes
 * over x for the statistics (the mean, then the squared deviations from it) and one for y. */
#include <math.h>
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "reduce.h"

/* The dx pass's coefficients per channel: the mean of dy, the projection, invstd * gamma. */
#define BN_COEFS 3

/* The per-channel sums of a launch: their shape, where their partial sums end and the scratch
 * that holds them (and, after clmp__sum_scratch floats, any per-channel scratch). */
typedef struct bn_plan {
  clmp_ctx *ctx;
  clmp__ncs v;
  clmp__partials layout; /* after the folds */
  cl_ulong count;        /* floats of one array of (folded) partial sums */
  cl_ulong at;           /* where they end in the scratch */
  cl_ulong extra;        /* the element where the per-channel scratch starts */
  size_t extra_floats;   /* its size */
  cl_mem scratch;
} bn_plan;

/* A plan for the sums of x's channels of term (its pair of arrays, for the backward's), with
 * extra floats of per-channel scratch after them. */
static void plan_open(const clmp_tensor *x, clmp__term term, size_t extra, bn_plan *pl) {
  clmp__sum like = {term, x, NULL, NULL, 0, clmp__ncs_of(x), 0, 1};
  pl->ctx = x->ctx;
  pl->v = like.v;
  pl->layout = clmp__sum_layout(&like);
  pl->count = clmp__partials_count(pl->v, pl->layout);
  pl->at = 0;
  pl->extra = clmp__sum_scratch(&like);
  pl->extra_floats = extra;
  pl->scratch = NULL;
}

/* Enqueues the sums of term over x (and dy), mean-centred on the f32 mean at (mean, offset). */
static clmp_status plan_sum(bn_plan *pl, clmp__term term, const clmp_tensor *x,
                            const clmp_tensor *dy, cl_mem mean, cl_ulong mean_off) {
  clmp__sum sum = {term, x, dy, mean, mean_off, pl->v, 0, 1};
  return clmp__cl_partials_scratch(&sum, pl->extra_floats, &pl->scratch, &pl->at);
}

/* 1 / n rounded to fp32. */
static float reciprocal(size_t n) {
  return (float)(1.0 / (double)n);
}

static clmp_status stats_kernel(clmp_ctx *ctx, const char *name, cl_kernel *k) {
  return clmp__kernel_get(ctx, "norm", "-DBN_STATS", name, k);
}

/* save_mean = the channel sums of x / M. */
static clmp_status launch_mean(const bn_plan *pl, const clmp_tensor *save_mean) {
  cl_kernel k = NULL;
  clmp_status st = stats_kernel(pl->ctx, "bn_mean", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong rows = pl->layout.rows, c = pl->v.c, sp = pl->layout.sp;
  cl_ulong m_off = clmp__elem_offset(save_mean);
  float inv_m = reciprocal(pl->v.n * pl->v.s);
  clmp__arg args[] = {CLMP_ARG(pl->scratch),
                      CLMP_ARG(pl->at),
                      CLMP_ARG(rows),
                      CLMP_ARG(c),
                      CLMP_ARG(sp),
                      CLMP_ARG(inv_m),
                      CLMP_ARG(save_mean->storage->mem),
                      CLMP_ARG(m_off)};
  return clmp__launch_1d(pl->ctx, k, "bn_mean", args, 8, pl->v.c);
}

/* The training forward's statistics update: what bn_var reads besides the partial sums. */
typedef struct bn_stats {
  float momentum, eps;
  const clmp_tensor *save_mean, *save_invstd, *running_mean, *running_var;
} bn_stats;

/* save_invstd and the running statistics from the channel sums of squared deviations. */
static clmp_status launch_var(const bn_plan *pl, const bn_stats *b) {
  cl_kernel k = NULL;
  clmp_status st = stats_kernel(pl->ctx, "bn_var", &k);
  if (st != CLMP_SUCCESS) return st;
  size_t m = pl->v.n * pl->v.s;
  cl_ulong rows = pl->layout.rows, c = pl->v.c, sp = pl->layout.sp;
  float inv_m = reciprocal(m), inv_m1 = reciprocal(m - 1);
  cl_int running = b->running_mean != NULL;
  cl_mem rm = running ? b->running_mean->storage->mem : pl->scratch; /* not read when absent */
  cl_mem rv = running ? b->running_var->storage->mem : pl->scratch;
  cl_ulong m_off = clmp__elem_offset(b->save_mean), i_off = clmp__elem_offset(b->save_invstd);
  cl_ulong rm_off = running ? clmp__elem_offset(b->running_mean) : 0;
  cl_ulong rv_off = running ? clmp__elem_offset(b->running_var) : 0;
  clmp__arg args[] = {CLMP_ARG(pl->scratch), CLMP_ARG(pl->at),
                      CLMP_ARG(rows),        CLMP_ARG(c),
                      CLMP_ARG(sp),          CLMP_ARG(inv_m),
                      CLMP_ARG(inv_m1),      CLMP_ARG(b->eps),
                      CLMP_ARG(b->momentum), CLMP_ARG(b->save_mean->storage->mem),
                      CLMP_ARG(m_off),       CLMP_ARG(b->save_invstd->storage->mem),
                      CLMP_ARG(i_off),       CLMP_ARG(rm),
                      CLMP_ARG(rm_off),      CLMP_ARG(rv),
                      CLMP_ARG(rv_off),      CLMP_ARG(running)};
  return clmp__launch_1d(pl->ctx, k, "bn_var", args, 18, pl->v.c);
}

/* y = ((x - mean) * invstd) * gamma + beta, mean and invstd f32 [C] at (mem, offset). */
static clmp_status launch_apply(const clmp_tensor *x, cl_mem mean, cl_ulong mean_off, cl_mem invstd,
                                cl_ulong invstd_off, const clmp_tensor *gamma,
                                const clmp_tensor *beta, clmp_tensor *y) {
  char options[96];
  snprintf(options, sizeof options, "-DBN_APPLY -DX_DT=%s -DY_DT=%s -DG_DT=%s -DB_DT=%s",
           clmp__dtype_define(x->dtype), clmp__dtype_define(y->dtype),
           clmp__dtype_define(gamma->dtype), clmp__dtype_define(beta->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(y->ctx, "norm", options, "bn_apply", &k);
  if (st != CLMP_SUCCESS) return st;
  clmp__ncs v = clmp__ncs_of(x);
  cl_ulong x_off = clmp__elem_offset(x), g_off = clmp__elem_offset(gamma);
  cl_ulong b_off = clmp__elem_offset(beta), y_off = clmp__elem_offset(y);
  cl_ulong c = v.c, planes = (cl_ulong)v.n * v.c, s = v.s;
  clmp__arg args[] = {CLMP_ARG(x->storage->mem),
                      CLMP_ARG(x_off),
                      CLMP_ARG(mean),
                      CLMP_ARG(mean_off),
                      CLMP_ARG(invstd),
                      CLMP_ARG(invstd_off),
                      CLMP_ARG(gamma->storage->mem),
                      CLMP_ARG(g_off),
                      CLMP_ARG(beta->storage->mem),
                      CLMP_ARG(b_off),
                      CLMP_ARG(y->storage->mem),
                      CLMP_ARG(y_off),
                      CLMP_ARG(c),
                      CLMP_ARG(planes),
                      CLMP_ARG(s)};
  return clmp__launch_rows(y->ctx, k, "bn_apply", args, 15, planes, v.s);
}

clmp_status clmp__cl_batch_norm_train(const clmp_tensor *x, const clmp_tensor *gamma,
                                      const clmp_tensor *beta, float momentum, float eps,
                                      clmp_tensor *running_mean, clmp_tensor *running_var,
                                      clmp_tensor *save_mean, clmp_tensor *save_invstd,
                                      clmp_tensor *y) {
  bn_plan pl;
  bn_stats b = {momentum, eps, save_mean, save_invstd, running_mean, running_var};
  cl_mem mean = save_mean->storage->mem, invstd = save_invstd->storage->mem;
  cl_ulong mean_off = clmp__elem_offset(save_mean);
  plan_open(x, CLMP__TERM_X, 0, &pl);
  clmp_status st = plan_sum(&pl, CLMP__TERM_X, x, NULL, NULL, 0);
  if (st == CLMP_SUCCESS) st = launch_mean(&pl, save_mean);
  if (st == CLMP_SUCCESS) st = plan_sum(&pl, CLMP__TERM_SQDEV, x, NULL, mean, mean_off);
  if (st == CLMP_SUCCESS) st = launch_var(&pl, &b);
  if (st != CLMP_SUCCESS) return st;
  return launch_apply(x, mean, mean_off, invstd, clmp__elem_offset(save_invstd), gamma, beta, y);
}

clmp_status clmp__cl_batch_norm_eval(const clmp_tensor *x, const clmp_tensor *gamma,
                                     const clmp_tensor *beta, const clmp_tensor *running_mean,
                                     const clmp_tensor *running_var, float eps, clmp_tensor *y) {
  cl_kernel k = NULL;
  cl_mem invstd = NULL;
  cl_ulong c = running_var->numel, rv_off = clmp__elem_offset(running_var), i_off = 0;
  clmp_status st = stats_kernel(y->ctx, "bn_eval_invstd", &k);
  if (st == CLMP_SUCCESS) st = clmp__scratch(y->ctx, c * sizeof(float), &invstd);
  if (st != CLMP_SUCCESS) return st;
  clmp__arg args[] = {CLMP_ARG(running_var->storage->mem),
                      CLMP_ARG(rv_off),
                      CLMP_ARG(eps),
                      CLMP_ARG(c),
                      CLMP_ARG(invstd),
                      CLMP_ARG(i_off)};
  st = clmp__launch_1d(y->ctx, k, "bn_eval_invstd", args, 6, c);
  if (st != CLMP_SUCCESS) return st;
  return launch_apply(x, running_mean->storage->mem, clmp__elem_offset(running_mean), invstd, 0,
                      gamma, beta, y);
}

/* What the backward's finish reads and writes besides the partial sums. */
typedef struct bn_grads {
  const clmp_tensor *gamma, *save_invstd;
  float acc;
  clmp_tensor *dgamma, *dbeta;
} bn_grads;

/* dgamma, dbeta and the dx pass's coefficients (at element coef_off of the scratch). */
static clmp_status launch_grads(const bn_plan *pl, const bn_grads *g, cl_ulong coef_off) {
  char options[80];
  snprintf(options, sizeof options, "-DBN_GRADS -DG_DT=%s -DDG_DT=%s -DDB_DT=%s",
           clmp__dtype_define(g->gamma->dtype), clmp__dtype_define(g->dgamma->dtype),
           clmp__dtype_define(g->dbeta->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(pl->ctx, "norm", options, "bn_grads", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong rows = pl->layout.rows, c = pl->v.c, sp = pl->layout.sp;
  float inv_m = reciprocal(pl->v.n * pl->v.s);
  cl_ulong i_off = clmp__elem_offset(g->save_invstd), g_off = clmp__elem_offset(g->gamma);
  cl_ulong dg_off = clmp__elem_offset(g->dgamma), db_off = clmp__elem_offset(g->dbeta);
  clmp__arg args[] = {CLMP_ARG(pl->scratch),
                      CLMP_ARG(pl->at),
                      CLMP_ARG(rows),
                      CLMP_ARG(c),
                      CLMP_ARG(sp),
                      CLMP_ARG(pl->count),
                      CLMP_ARG(inv_m),
                      CLMP_ARG(g->save_invstd->storage->mem),
                      CLMP_ARG(i_off),
                      CLMP_ARG(g->gamma->storage->mem),
                      CLMP_ARG(g_off),
                      CLMP_ARG(g->acc),
                      CLMP_ARG(g->dgamma->storage->mem),
                      CLMP_ARG(dg_off),
                      CLMP_ARG(g->dbeta->storage->mem),
                      CLMP_ARG(db_off),
                      CLMP_ARG(pl->scratch),
                      CLMP_ARG(coef_off)};
  return clmp__launch_1d(pl->ctx, k, "bn_grads", args, 18, pl->v.c);
}

/* dx from x, dy, the saved mean and the coefficients at element coef_off of the scratch. */
static clmp_status launch_dx(const bn_plan *pl, const clmp_tensor *x, const clmp_tensor *dy,
                             const clmp_tensor *save_mean, cl_ulong coef_off, clmp_tensor *dx) {
  char options[80];
  snprintf(options, sizeof options, "-DBN_DX -DX_DT=%s -DDY_DT=%s -DDX_DT=%s",
           clmp__dtype_define(x->dtype), clmp__dtype_define(dy->dtype),
           clmp__dtype_define(dx->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(pl->ctx, "norm", options, "bn_dx", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(x), dy_off = clmp__elem_offset(dy);
  cl_ulong m_off = clmp__elem_offset(save_mean), dx_off = clmp__elem_offset(dx);
  cl_ulong c = pl->v.c, planes = (cl_ulong)pl->v.n * pl->v.c, s = pl->v.s;
  clmp__arg args[] = {CLMP_ARG(x->storage->mem),
                      CLMP_ARG(x_off),
                      CLMP_ARG(dy->storage->mem),
                      CLMP_ARG(dy_off),
                      CLMP_ARG(save_mean->storage->mem),
                      CLMP_ARG(m_off),
                      CLMP_ARG(pl->scratch),
                      CLMP_ARG(coef_off),
                      CLMP_ARG(dx->storage->mem),
                      CLMP_ARG(dx_off),
                      CLMP_ARG(c),
                      CLMP_ARG(planes),
                      CLMP_ARG(s)};
  return clmp__launch_rows(pl->ctx, k, "bn_dx", args, 13, planes, pl->v.s);
}

clmp_status clmp__cl_batch_norm_backward(const clmp_tensor *x, const clmp_tensor *dy,
                                         const clmp_tensor *gamma, const clmp_tensor *save_mean,
                                         const clmp_tensor *save_invstd, float acc,
                                         clmp_tensor *dgamma, clmp_tensor *dbeta, clmp_tensor *dx) {
  bn_plan pl;
  bn_grads g = {gamma, save_invstd, acc, dgamma, dbeta};
  cl_mem mean = save_mean->storage->mem;
  plan_open(x, CLMP__TERM_DY_XMU, BN_COEFS * x->shape[1], &pl);
  clmp_status st = plan_sum(&pl, CLMP__TERM_DY_XMU, x, dy, mean, clmp__elem_offset(save_mean));
  if (st == CLMP_SUCCESS) st = launch_grads(&pl, &g, pl.extra);
  if (st == CLMP_SUCCESS) st = launch_dx(&pl, x, dy, save_mean, pl.extra, dx);
  return st;
}

/* --- argument checks and the public entry points ------------------------------------------- */

/* A float tensor of x's shape on x's context. */
static clmp_status check_like(const clmp_tensor *t, const clmp_tensor *x, const char *op,
                              const char *name) {
  clmp_status st = clmp__check_float(t, op, name);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(x, t, op);
  int same = st == CLMP_SUCCESS && t->ndim == x->ndim;
  for (int i = 0; same && i < x->ndim; i++) same = t->shape[i] == x->shape[i];
  if (st == CLMP_SUCCESS && !same)
    st = CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s's shape is not x's", op, name);
  return st;
}

/* A per-channel tensor of c elements on x's context: of a float dtype, or f32 (f32_only). */
static clmp_status check_channel(const clmp_tensor *t, const clmp_tensor *x, size_t c, int f32_only,
                                 const char *op, const char *name) {
  clmp_status st =
      f32_only ? clmp__check_dtype(t, CLMP_F32, op, name) : clmp__check_float(t, op, name);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(x, t, op);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(t, c, op, name);
  return st;
}

/* Outputs t[0 .. n_out) apart from every other tensor of t[0 .. n) (NULLs skipped), except that
 * t[0] may be the very same elements as t[n_out] (an op run in place). */
static clmp_status check_apart(const char *op, int n, int n_out, const clmp_tensor *const t[],
                               const char *const names[]) {
  clmp_status st = CLMP_SUCCESS;
  for (int i = 0; i < n_out && st == CLMP_SUCCESS; i++)
    for (int j = i + 1; j < n && st == CLMP_SUCCESS; j++)
      st = clmp__check_disjoint(t[i], t[j], i == 0 && j == n_out, op, names[i], names[j]);
  return st;
}

/* x: a float [N, C, ...] tensor; *v its view; with need_pairs, more than one value per channel. */
static clmp_status check_input(const clmp_tensor *x, int need_pairs, const char *op, clmp__ncs *v) {
  clmp_status st = clmp__check_float(x, op, "x");
  if (st == CLMP_SUCCESS) st = clmp__check_channels(x, op, "x", v);
  if (st == CLMP_SUCCESS && need_pairs && v->n * v->s == 1)
    st = CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                   "%s: x has 1 value per channel (N * H * W must exceed 1 to train, as in "
                   "PyTorch)",
                   op);
  return st;
}

static clmp_status check_eps(float eps, const char *op) {
  if (eps >= 0.0f && isfinite(eps)) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: eps is %g (finite and >= 0 needed)", op,
                   (double)eps);
}

/* Running statistics: both absent (not tracked) or both f32 [c]; momentum in [0, 1]. */
static clmp_status check_running(const clmp_tensor *rm, const clmp_tensor *rv, float momentum,
                                 const clmp_tensor *x, size_t c, const char *op) {
  clmp_status st = CLMP_SUCCESS;
  if ((rm == NULL) != (rv == NULL))
    st = CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                   "%s: running_mean and running_var must be given both or neither", op);
  if (st == CLMP_SUCCESS && rm) st = check_channel(rm, x, c, 1, op, "running_mean");
  if (st == CLMP_SUCCESS && rv) st = check_channel(rv, x, c, 1, op, "running_var");
  if (st == CLMP_SUCCESS && !(momentum >= 0.0f && momentum <= 1.0f))
    st = CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: momentum is %g (0 to 1 needed)", op,
                   (double)momentum);
  return st;
}

clmp_status clmp_batch_norm_train(const clmp_tensor *x, const clmp_tensor *gamma,
                                  const clmp_tensor *beta, float momentum, float eps,
                                  clmp_tensor *running_mean, clmp_tensor *running_var,
                                  clmp_tensor *save_mean, clmp_tensor *save_invstd,
                                  clmp_tensor *y) {
  const char *op = "clmp_batch_norm_train";
  const clmp_tensor *const t[] = {y,           save_mean, save_invstd, running_mean,
                                  running_var, x,         gamma,       beta};
  const char *const names[] = {"y",           "save_mean", "save_invstd", "running_mean",
                               "running_var", "x",         "gamma",       "beta"};
  clmp__ncs v = {0, 0, 0};
  clmp_status st = check_input(x, 1, op, &v);
  if (st == CLMP_SUCCESS) st = check_like(y, x, op, "y");
  if (st == CLMP_SUCCESS) st = check_channel(gamma, x, v.c, 0, op, "gamma");
  if (st == CLMP_SUCCESS) st = check_channel(beta, x, v.c, 0, op, "beta");
  if (st == CLMP_SUCCESS) st = check_channel(save_mean, x, v.c, 1, op, "save_mean");
  if (st == CLMP_SUCCESS) st = check_channel(save_invstd, x, v.c, 1, op, "save_invstd");
  if (st == CLMP_SUCCESS) st = check_running(running_mean, running_var, momentum, x, v.c, op);
  if (st == CLMP_SUCCESS) st = check_eps(eps, op);
  if (st == CLMP_SUCCESS) st = check_apart(op, 8, 5, t, names);
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(x->ctx)->batch_norm_train(x, gamma, beta, momentum, eps, running_mean,
                                                running_var, save_mean, save_invstd, y);
}

clmp_status clmp_batch_norm_eval(const clmp_tensor *x, const clmp_tensor *gamma,
                                 const clmp_tensor *beta, const clmp_tensor *running_mean,
                                 const clmp_tensor *running_var, float eps, clmp_tensor *y) {
  const char *op = "clmp_batch_norm_eval";
  const clmp_tensor *const t[] = {y, x, gamma, beta, running_mean, running_var};
  const char *const names[] = {"y", "x", "gamma", "beta", "running_mean", "running_var"};
  clmp__ncs v = {0, 0, 0};
  clmp_status st = check_input(x, 0, op, &v);
  if (st == CLMP_SUCCESS) st = check_like(y, x, op, "y");
  if (st == CLMP_SUCCESS) st = check_channel(gamma, x, v.c, 0, op, "gamma");
  if (st == CLMP_SUCCESS) st = check_channel(beta, x, v.c, 0, op, "beta");
  if (st == CLMP_SUCCESS) st = check_channel(running_mean, x, v.c, 1, op, "running_mean");
  if (st == CLMP_SUCCESS) st = check_channel(running_var, x, v.c, 1, op, "running_var");
  if (st == CLMP_SUCCESS) st = check_eps(eps, op);
  if (st == CLMP_SUCCESS) st = check_apart(op, 6, 1, t, names);
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(x->ctx)->batch_norm_eval(x, gamma, beta, running_mean, running_var, eps, y);
}

clmp_status clmp_batch_norm_backward(const clmp_tensor *x, const clmp_tensor *dy,
                                     const clmp_tensor *gamma, const clmp_tensor *save_mean,
                                     const clmp_tensor *save_invstd, float acc, clmp_tensor *dgamma,
                                     clmp_tensor *dbeta, clmp_tensor *dx) {
  const char *op = "clmp_batch_norm_backward";
  const clmp_tensor *const t[] = {dx, dgamma, dbeta, dy, x, gamma, save_mean, save_invstd};
  const char *const names[] = {"dx", "dgamma", "dbeta",     "dy",
                               "x",  "gamma",  "save_mean", "save_invstd"};
  clmp__ncs v = {0, 0, 0};
  clmp_status st = check_input(x, 0, op, &v);
  if (st == CLMP_SUCCESS) st = check_like(dy, x, op, "dy");
  if (st == CLMP_SUCCESS) st = check_like(dx, x, op, "dx");
  if (st == CLMP_SUCCESS) st = check_channel(gamma, x, v.c, 0, op, "gamma");
  if (st == CLMP_SUCCESS) st = check_channel(save_mean, x, v.c, 1, op, "save_mean");
  if (st == CLMP_SUCCESS) st = check_channel(save_invstd, x, v.c, 1, op, "save_invstd");
  if (st == CLMP_SUCCESS) st = check_channel(dgamma, x, v.c, 0, op, "dgamma");
  if (st == CLMP_SUCCESS) st = check_channel(dbeta, x, v.c, 0, op, "dbeta");
  if (st == CLMP_SUCCESS) st = check_apart(op, 8, 3, t, names);
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(x->ctx)->batch_norm_backward(x, dy, gamma, save_mean, save_invstd, acc,
                                                   dgamma, dbeta, dx);
}
