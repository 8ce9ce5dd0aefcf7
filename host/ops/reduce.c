/* host/ops/reduce.c: clmp_nonfinite_check and clmp_sum_squares: argument checks and their OpenCL
 * launches (cl/reduce.cl). The sum of squares runs in two fixed stages, so its order of
 * additions, and with it the result, depends only on the element count and the device; its
 * partial sums live in the context's scratch buffer. */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "table.h"

/* Work-items of a reduction work-group, at most (a power of two within the device's limit). */
#define REDUCE_GROUP_SIZE 256
/* Work-groups of the first stage per compute unit, and in all: enough to keep a GPU's memory
 * busy, few enough for one work-group to combine their partials. */
#define REDUCE_GROUPS_PER_CU 8
#define REDUCE_MAX_GROUPS    1024

/* The largest power of two <= REDUCE_GROUP_SIZE that the device allows in a work-group. */
static size_t group_size(const clmp_ctx *ctx) {
  size_t gs = REDUCE_GROUP_SIZE;
  while (gs > 1 && gs > ctx->info.max_work_group) gs /= 2;
  return gs;
}

/* First-stage work-groups for n elements: one per group_size elements, capped per device. */
static size_t stage_groups(const clmp_ctx *ctx, size_t n, size_t gs) {
  size_t cus = ctx->info.compute_units ? ctx->info.compute_units : 1;
  size_t cap = cus * REDUCE_GROUPS_PER_CU < REDUCE_MAX_GROUPS ? cus * REDUCE_GROUPS_PER_CU
                                                              : REDUCE_MAX_GROUPS;
  size_t g = (n + gs - 1) / gs;
  return g < cap ? g : cap;
}

clmp_status clmp__cl_nonfinite_check(const clmp_tensor *x, clmp_tensor *flag) {
  char options[64];
  snprintf(options, sizeof options, "-DX_DT=%s -DGROUP_SIZE=%zu", clmp__dtype_define(x->dtype),
           group_size(x->ctx));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(x->ctx, "reduce", options, "nonfinite_check", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(x), n = x->numel, flag_off = clmp__elem_offset(flag);
  clmp__arg args[] = {CLMP_ARG(x->storage->mem), CLMP_ARG(x_off), CLMP_ARG(n),
                      CLMP_ARG(flag->storage->mem), CLMP_ARG(flag_off)};
  return clmp__launch_1d(x->ctx, k, "nonfinite_check", args, 5, x->numel);
}

/* The first stage: partials[g] for each of groups blocks of x. */
static clmp_status sumsq_partials(const clmp_tensor *x, const char *options, size_t groups,
                                  size_t gs, cl_mem partials) {
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(x->ctx, "reduce", options, "sumsq_partials", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(x), n = x->numel, block = (n + groups - 1) / groups;
  clmp__arg args[] = {CLMP_ARG(x->storage->mem), CLMP_ARG(x_off), CLMP_ARG(n), CLMP_ARG(block),
                      CLMP_ARG(partials)};
  return clmp__launch(x->ctx, k, "sumsq_partials", args, 5, groups * gs, gs);
}

/* The second stage: out[0] = sum of the partials + beta * out[0], by one work-group. */
static clmp_status sumsq_final(clmp_tensor *out, const char *options, cl_mem partials,
                               size_t groups, size_t gs, float beta) {
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(out->ctx, "reduce", options, "sumsq_final", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong n = groups, out_off = clmp__elem_offset(out);
  clmp__arg args[] = {CLMP_ARG(partials), CLMP_ARG(n), CLMP_ARG(beta), CLMP_ARG(out->storage->mem),
                      CLMP_ARG(out_off)};
  return clmp__launch(out->ctx, k, "sumsq_final", args, 5, gs, gs);
}

clmp_status clmp__cl_sum_squares(const clmp_tensor *x, float beta, clmp_tensor *out) {
  clmp_ctx *ctx = x->ctx;
  size_t gs = group_size(ctx), groups = stage_groups(ctx, x->numel, gs);
  char options[64];
  snprintf(options, sizeof options, "-DX_DT=%s -DGROUP_SIZE=%zu", clmp__dtype_define(x->dtype), gs);
  cl_mem partials = NULL;
  clmp_status st = clmp__scratch(ctx, groups * sizeof(float), &partials);
  if (st == CLMP_SUCCESS) st = sumsq_partials(x, options, groups, gs, partials);
  if (st == CLMP_SUCCESS) st = sumsq_final(out, options, partials, groups, gs, beta);
  return st;
}

clmp_status clmp_nonfinite_check(const clmp_tensor *x, clmp_tensor *flag) {
  const char *op = "clmp_nonfinite_check";
  clmp_status st = clmp__check_float(x, op, "x");
  if (st == CLMP_SUCCESS) st = clmp__check_scalar(flag, CLMP_I32, x, op, "flag");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(flag, x, 0, op, "flag", "x");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(x->ctx)->nonfinite_check(x, flag);
}

clmp_status clmp_sum_squares(const clmp_tensor *x, float beta, clmp_tensor *out) {
  const char *op = "clmp_sum_squares";
  clmp_status st = clmp__check_float(x, op, "x");
  if (st == CLMP_SUCCESS) st = clmp__check_scalar(out, CLMP_F32, x, op, "out");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(out, x, 0, op, "out", "x");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(x->ctx)->sum_squares(x, beta, out);
}
