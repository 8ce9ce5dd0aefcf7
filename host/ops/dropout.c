/* host/ops/dropout.c: clmp_dropout and clmp_dropout_backward: the mask's threshold and the scale
 * from p, argument checks, dispatch through the op table's dropout row (both directions: the
 * backward is the same mask on dy) and the OpenCL launch of cl/dropout.cl. */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "table.h"

#define TWO_POW_32 4294967296.0

/* floor(p 2^32): exact, since p 2^32 is computed in double from a float. */
uint32_t clmp__dropout_threshold(float p) {
  return (uint32_t)((double)p * TWO_POW_32);
}

/* 1 / (1 - p) correctly rounded to fp32 (1 - p is exact in double). */
float clmp__dropout_scale(float p) {
  return (float)(1.0 / (1.0 - (double)p));
}

clmp_status clmp__cl_dropout(const clmp_tensor *x, float p, uint64_t seed, clmp_tensor *y) {
  char options[64];
  snprintf(options, sizeof options, "-DX_DT=%s -DY_DT=%s", clmp__dtype_define(x->dtype),
           clmp__dtype_define(y->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(y->ctx, "dropout", options, "dropout", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(x), y_off = clmp__elem_offset(y), n = y->numel;
  cl_ulong key_seed = seed;
  cl_uint threshold = clmp__dropout_threshold(p);
  float scale = clmp__dropout_scale(p);
  clmp__arg args[] = {CLMP_ARG(x->storage->mem), CLMP_ARG(x_off), CLMP_ARG(y->storage->mem),
                      CLMP_ARG(y_off),           CLMP_ARG(n),     CLMP_ARG(key_seed),
                      CLMP_ARG(threshold),       CLMP_ARG(scale)};
  return clmp__launch_1d(y->ctx, k, "dropout", args, 8, y->numel);
}

/* x and y float, of one context and one element count, y in place of x or apart from it;
 * 0 <= p < 1 (NaN refused). */
static clmp_status check_dropout(const clmp_tensor *x, float p, const clmp_tensor *y,
                                 const char *op, const char *x_name, const char *y_name) {
  clmp_status st = clmp__check_float(x, op, x_name);
  if (st == CLMP_SUCCESS) st = clmp__check_float(y, op, y_name);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(x, y, op);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(y, x->numel, op, y_name);
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(y, x, 1, op, y_name, x_name);
  if (st == CLMP_SUCCESS && !(p >= 0.0f && p < 1.0f))
    st = CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: p is %g (0 <= p < 1 needed)", op, (double)p);
  return st;
}

clmp_status clmp_dropout(const clmp_tensor *x, float p, uint64_t seed, clmp_tensor *y) {
  clmp_status st = check_dropout(x, p, y, "clmp_dropout", "x", "y");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(y->ctx)->dropout(x, p, seed, y);
}

clmp_status clmp_dropout_backward(const clmp_tensor *dy, float p, uint64_t seed, clmp_tensor *dx) {
  clmp_status st = check_dropout(dy, p, dx, "clmp_dropout_backward", "dy", "dx");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(dx->ctx)->dropout(dy, p, seed, dx);
}
