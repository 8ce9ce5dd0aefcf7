/* host/ops/elementwise.c: clmp_fill, clmp_axpby, clmp_scale and clmp_add: argument checks,
 * dispatch through the op table, and the OpenCL launches of cl/elementwise.cl. */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "table.h"

/* An integer fill truncates toward zero; the value must lie strictly inside these bounds so that
 * the truncated value fits (NaN and inf never do). */
#define I32_FILL_LO (-2147483649.0)
#define I32_FILL_HI 2147483648.0
#define U8_FILL_LO  (-1.0)
#define U8_FILL_HI  256.0

clmp_status clmp__cl_fill(clmp_tensor *t, float value) {
  char options[32];
  snprintf(options, sizeof options, "-DT_DT=%s", clmp__dtype_define(t->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(t->ctx, "elementwise", options, "fill", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong off = clmp__elem_offset(t), n = t->numel;
  clmp__arg args[] = {CLMP_ARG(t->storage->mem), CLMP_ARG(off), CLMP_ARG(value), CLMP_ARG(n)};
  return clmp__launch_1d(t->ctx, k, "fill", args, 4, t->numel);
}

clmp_status clmp__cl_axpby(float a, const clmp_tensor *x, float b, clmp_tensor *y) {
  char options[64];
  snprintf(options, sizeof options, "-DX_DT=%s -DY_DT=%s", clmp__dtype_define(x->dtype),
           clmp__dtype_define(y->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(y->ctx, "elementwise", options, "axpby", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(x), y_off = clmp__elem_offset(y), n = y->numel;
  clmp__arg args[] = {CLMP_ARG(a), CLMP_ARG(x->storage->mem), CLMP_ARG(x_off),
                      CLMP_ARG(b), CLMP_ARG(y->storage->mem), CLMP_ARG(y_off),
                      CLMP_ARG(n)};
  return clmp__launch_1d(y->ctx, k, "axpby", args, 7, y->numel);
}

clmp_status clmp__cl_add(const clmp_tensor *a, const clmp_tensor *b, clmp_tensor *y) {
  char options[64];
  snprintf(options, sizeof options, "-DA_DT=%s -DB_DT=%s -DY_DT=%s", clmp__dtype_define(a->dtype),
           clmp__dtype_define(b->dtype), clmp__dtype_define(y->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(y->ctx, "elementwise", options, "add", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong a_off = clmp__elem_offset(a), b_off = clmp__elem_offset(b);
  cl_ulong y_off = clmp__elem_offset(y), n = y->numel;
  clmp__arg args[] = {CLMP_ARG(a->storage->mem),
                      CLMP_ARG(a_off),
                      CLMP_ARG(b->storage->mem),
                      CLMP_ARG(b_off),
                      CLMP_ARG(y->storage->mem),
                      CLMP_ARG(y_off),
                      CLMP_ARG(n)};
  return clmp__launch_1d(y->ctx, k, "add", args, 7, y->numel);
}

/* Integer dtypes take only values whose truncation fits; float dtypes take any value. */
static clmp_status check_fill_value(const clmp_tensor *t, float value) {
  double lo = 0, hi = 0;
  if (t->dtype == CLMP_I32)
    lo = I32_FILL_LO, hi = I32_FILL_HI;
  else if (t->dtype == CLMP_U8)
    lo = U8_FILL_LO, hi = U8_FILL_HI;
  else
    return CLMP_SUCCESS;
  if (value > lo && value < hi) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_fill: %g does not fit a %s tensor",
                   (double)value, clmp_dtype_name(t->dtype));
}

clmp_status clmp_fill(clmp_tensor *t, float value) {
  clmp_status st = clmp__check_tensor(t, "clmp_fill", "t");
  if (st == CLMP_SUCCESS) st = check_fill_value(t, value);
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(t->ctx)->fill(t, value);
}

/* x and y: present, of one context, of float dtypes, with the same element count. */
static clmp_status check_axpby(const clmp_tensor *x, const clmp_tensor *y, const char *op) {
  clmp_status st = clmp__check_tensor(x, op, "x");
  if (st == CLMP_SUCCESS) st = clmp__check_tensor(y, op, "y");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(x, y, op);
  if (st == CLMP_SUCCESS) st = clmp__check_float(x, op, "x");
  if (st == CLMP_SUCCESS) st = clmp__check_float(y, op, "y");
  if (st == CLMP_SUCCESS) st = clmp__check_numel(y, x->numel, op, "y");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(y, x, 1, op, "y", "x");
  return st;
}

clmp_status clmp_axpby(float a, const clmp_tensor *x, float b, clmp_tensor *y) {
  clmp_status st = check_axpby(x, y, "clmp_axpby");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(y->ctx)->axpby(a, x, b, y);
}

clmp_status clmp_scale(float a, const clmp_tensor *x, clmp_tensor *y) {
  clmp_status st = check_axpby(x, y, "clmp_scale");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(y->ctx)->axpby(a, x, 0.0f, y);
}

clmp_status clmp_add(const clmp_tensor *a, const clmp_tensor *b, clmp_tensor *y) {
  const char *op = "clmp_add";
  clmp_status st = clmp__check_tensor(a, op, "a");
  if (st == CLMP_SUCCESS) st = clmp__check_tensor(b, op, "b");
  if (st == CLMP_SUCCESS) st = clmp__check_tensor(y, op, "y");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(a, b, op);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(a, y, op);
  if (st == CLMP_SUCCESS) st = clmp__check_float(a, op, "a");
  if (st == CLMP_SUCCESS) st = clmp__check_float(b, op, "b");
  if (st == CLMP_SUCCESS) st = clmp__check_float(y, op, "y");
  if (st == CLMP_SUCCESS) st = clmp__check_numel(b, a->numel, op, "b");
  if (st == CLMP_SUCCESS) st = clmp__check_numel(y, a->numel, op, "y");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(y, a, 1, op, "y", "a");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(y, b, 1, op, "y", "b");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(y->ctx)->add(a, b, y);
}
