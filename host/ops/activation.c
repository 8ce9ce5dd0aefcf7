/* host/ops/activation.c: clmp_relu, clmp_gelu and their backward passes: argument checks,
 * dispatch through the op table's act_forward / act_backward rows, and the OpenCL launches of
 * cl/activation.cl. */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "table.h"

clmp_status clmp__cl_act_forward(clmp__act act, const clmp_tensor *x, clmp_tensor *y) {
  char options[64];
  snprintf(options, sizeof options, "-DACT=%d -DX_DT=%s -DY_DT=%s", (int)act,
           clmp__dtype_define(x->dtype), clmp__dtype_define(y->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(y->ctx, "activation", options, "act_forward", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(x), y_off = clmp__elem_offset(y), n = y->numel;
  clmp__arg args[] = {CLMP_ARG(x->storage->mem), CLMP_ARG(x_off), CLMP_ARG(y->storage->mem),
                      CLMP_ARG(y_off), CLMP_ARG(n)};
  return clmp__launch_1d(y->ctx, k, "act_forward", args, 5, y->numel);
}

clmp_status clmp__cl_act_backward(clmp__act act, const clmp_tensor *x, const clmp_tensor *dy,
                                  clmp_tensor *dx) {
  char options[96];
  snprintf(options, sizeof options, "-DACT=%d -DX_DT=%s -DDY_DT=%s -DDX_DT=%s", (int)act,
           clmp__dtype_define(x->dtype), clmp__dtype_define(dy->dtype),
           clmp__dtype_define(dx->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(dx->ctx, "activation", options, "act_backward", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(x), dy_off = clmp__elem_offset(dy);
  cl_ulong dx_off = clmp__elem_offset(dx), n = dx->numel;
  clmp__arg args[] = {CLMP_ARG(x->storage->mem),
                      CLMP_ARG(x_off),
                      CLMP_ARG(dy->storage->mem),
                      CLMP_ARG(dy_off),
                      CLMP_ARG(dx->storage->mem),
                      CLMP_ARG(dx_off),
                      CLMP_ARG(n)};
  return clmp__launch_1d(dx->ctx, k, "act_backward", args, 7, dx->numel);
}

/* Every tensor present, all of one context, of float dtypes, with t[0]'s element count; the
 * output t[n - 1] in place of an input or apart from it. */
static clmp_status check_all(const char *op, int n, const clmp_tensor *const t[],
                             const char *const names[]) {
  clmp_status st = CLMP_SUCCESS;
  for (int i = 0; i < n && st == CLMP_SUCCESS; i++) st = clmp__check_tensor(t[i], op, names[i]);
  for (int i = 1; i < n && st == CLMP_SUCCESS; i++) st = clmp__check_same_ctx(t[0], t[i], op);
  for (int i = 0; i < n && st == CLMP_SUCCESS; i++) st = clmp__check_float(t[i], op, names[i]);
  for (int i = 1; i < n && st == CLMP_SUCCESS; i++)
    st = clmp__check_numel(t[i], t[0]->numel, op, names[i]);
  for (int i = 0; i < n - 1 && st == CLMP_SUCCESS; i++)
    st = clmp__check_disjoint(t[n - 1], t[i], 1, op, names[n - 1], names[i]);
  return st;
}

static clmp_status act_forward(clmp__act act, const char *op, const clmp_tensor *x,
                               clmp_tensor *y) {
  const clmp_tensor *const t[] = {x, y};
  const char *const names[] = {"x", "y"};
  clmp_status st = check_all(op, 2, t, names);
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(y->ctx)->act_forward(act, x, y);
}

static clmp_status act_backward(clmp__act act, const char *op, const clmp_tensor *x,
                                const clmp_tensor *dy, clmp_tensor *dx) {
  const clmp_tensor *const t[] = {x, dy, dx};
  const char *const names[] = {"x", "dy", "dx"};
  clmp_status st = check_all(op, 3, t, names);
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(dx->ctx)->act_backward(act, x, dy, dx);
}

clmp_status clmp_relu(const clmp_tensor *x, clmp_tensor *y) {
  return act_forward(CLMP__ACT_RELU, "clmp_relu", x, y);
}

clmp_status clmp_relu_backward(const clmp_tensor *x, const clmp_tensor *dy, clmp_tensor *dx) {
  return act_backward(CLMP__ACT_RELU, "clmp_relu_backward", x, dy, dx);
}

clmp_status clmp_gelu(const clmp_tensor *x, clmp_tensor *y) {
  return act_forward(CLMP__ACT_GELU, "clmp_gelu", x, y);
}

clmp_status clmp_gelu_backward(const clmp_tensor *x, const clmp_tensor *dy, clmp_tensor *dx) {
  return act_backward(CLMP__ACT_GELU, "clmp_gelu_backward", x, dy, dx);
}
