/* host/ops/bias.c: clmp_bias_add and clmp_bias_grad along dimension 1 of a 2- to 4-D tensor:
 * argument checks, dispatch through the op table, and the OpenCL launches of cl/bias.cl (with
 * the partial sums of cl/reduce.cl for the gradient). */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "reduce.h"

/* A matrix, or NCHW with 1 x 1 planes: bias_add over the elements, the column of each found by
 * a remainder; larger planes: one plane per row of work, its channel found once. */
clmp_status clmp__cl_bias_add(clmp_tensor *y, const clmp_tensor *bias) {
  clmp__ncs v = clmp__ncs_of(y);
  int planes = v.s > 1;
  char options[64];
  snprintf(options, sizeof options, "-DY_DT=%s -DB_DT=%s", clmp__dtype_define(y->dtype),
           clmp__dtype_define(bias->dtype));
  const char *name = planes ? "bias_add_planes" : "bias_add";
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(y->ctx, "bias", options, name, &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong y_off = clmp__elem_offset(y), b_off = clmp__elem_offset(bias);
  cl_ulong c = v.c, rows = (cl_ulong)v.n * v.c, s = v.s;
  cl_ulong count = planes ? rows : y->numel; /* planes, or elements of a matrix */
  clmp__arg args[] = {CLMP_ARG(y->storage->mem),
                      CLMP_ARG(y_off),
                      CLMP_ARG(bias->storage->mem),
                      CLMP_ARG(b_off),
                      CLMP_ARG(c),
                      CLMP_ARG(count),
                      CLMP_ARG(s)};
  if (!planes) return clmp__launch_1d(y->ctx, k, name, args, 6, y->numel);
  return clmp__launch_rows(y->ctx, k, name, args, 7, rows, s);
}

/* The partial sums of dy per channel (host/ops/reduce.h), then the finish with beta. A matrix
 * keeps its rows unfolded: its order is the one bias_grad had before NCHW. */
clmp_status clmp__cl_bias_grad(const clmp_tensor *dy, float beta, clmp_tensor *db) {
  clmp__ncs v = clmp__ncs_of(dy);
  clmp__sum sum = {CLMP__TERM_X, dy, NULL, NULL, 0, v, 0, v.s > 1};
  clmp__partials l = clmp__sum_layout(&sum);
  char options[64];
  snprintf(options, sizeof options, "-DDB_DT=%s", clmp__dtype_define(db->dtype));
  cl_kernel k = NULL;
  cl_mem partial = NULL;
  cl_ulong at = 0;
  clmp_status st = clmp__kernel_get(db->ctx, "bias", options, "bias_grad_finish", &k);
  if (st == CLMP_SUCCESS) st = clmp__cl_partials_scratch(&sum, 0, &partial, &at);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong rows = l.rows, cols = v.c, sp = l.sp, db_off = clmp__elem_offset(db);
  clmp__arg args[] = {CLMP_ARG(partial),
                      CLMP_ARG(at),
                      CLMP_ARG(rows),
                      CLMP_ARG(cols),
                      CLMP_ARG(sp),
                      CLMP_ARG(beta),
                      CLMP_ARG(db->storage->mem),
                      CLMP_ARG(db_off)};
  return clmp__launch_1d(db->ctx, k, "bias_grad_finish", args, 8, v.c);
}

/* t is a float tensor of 2 to 4 dimensions and v a float tensor of t's dimension 1, both of one
 * context. */
static clmp_status check_bias(const clmp_tensor *t, const char *t_name, const clmp_tensor *v,
                              const char *v_name, const char *op) {
  clmp__ncs view = {0, 0, 0};
  clmp_status st = clmp__check_tensor(t, op, t_name);
  if (st == CLMP_SUCCESS) st = clmp__check_tensor(v, op, v_name);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(t, v, op);
  if (st == CLMP_SUCCESS) st = clmp__check_float(t, op, t_name);
  if (st == CLMP_SUCCESS) st = clmp__check_float(v, op, v_name);
  if (st == CLMP_SUCCESS) st = clmp__check_channels(t, op, t_name, &view);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(v, view.c, op, v_name);
  return st;
}

clmp_status clmp_bias_add(clmp_tensor *y, const clmp_tensor *bias) {
  clmp_status st = check_bias(y, "y", bias, "bias", "clmp_bias_add");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(y, bias, 0, "clmp_bias_add", "y", "bias");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(y->ctx)->bias_add(y, bias);
}

clmp_status clmp_bias_grad(const clmp_tensor *dy, float beta, clmp_tensor *db) {
  clmp_status st = check_bias(dy, "dy", db, "db", "clmp_bias_grad");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(db, dy, 0, "clmp_bias_grad", "db", "dy");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(db->ctx)->bias_grad(dy, beta, db);
}
