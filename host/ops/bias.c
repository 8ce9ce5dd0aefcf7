/* host/ops/bias.c: clmp_bias_add and clmp_bias_grad: argument checks, dispatch through the op
 * table, and the OpenCL launches of cl/bias.cl. */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "table.h"

/* bias_grad sums blocks of this many rows per column, then the blocks' partial sums: the order
 * follows from the row count alone, so it is the same on every device and every run. */
#define BG_BLOCK_ROWS 64

clmp_status clmp__cl_bias_add(clmp_tensor *y, const clmp_tensor *bias) {
  char options[64];
  snprintf(options, sizeof options, "-DY_DT=%s -DB_DT=%s", clmp__dtype_define(y->dtype),
           clmp__dtype_define(bias->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(y->ctx, "bias", options, "bias_add", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong y_off = clmp__elem_offset(y), b_off = clmp__elem_offset(bias);
  cl_ulong cols = y->shape[1], n = y->numel;
  clmp__arg args[] = {CLMP_ARG(y->storage->mem), CLMP_ARG(y_off), CLMP_ARG(bias->storage->mem),
                      CLMP_ARG(b_off),           CLMP_ARG(cols),  CLMP_ARG(n)};
  return clmp__launch_1d(y->ctx, k, "bias_add", args, 6, y->numel);
}

clmp_status clmp__cl_bias_grad(const clmp_tensor *dy, float beta, clmp_tensor *db) {
  char options[96];
  snprintf(options, sizeof options, "-DDY_DT=%s -DDB_DT=%s -DBG_BLOCK_ROWS=%d",
           clmp__dtype_define(dy->dtype), clmp__dtype_define(db->dtype), BG_BLOCK_ROWS);
  cl_kernel blocks_k = NULL, finish_k = NULL;
  cl_mem partial = NULL;
  cl_ulong rows = dy->shape[0], cols = dy->shape[1];
  cl_ulong blocks = (rows + BG_BLOCK_ROWS - 1) / BG_BLOCK_ROWS, n_partial = blocks * cols;
  cl_ulong dy_off = clmp__elem_offset(dy), db_off = clmp__elem_offset(db);
  clmp_status st = clmp__kernel_get(db->ctx, "bias", options, "bias_grad_blocks", &blocks_k);
  if (st == CLMP_SUCCESS)
    st = clmp__kernel_get(db->ctx, "bias", options, "bias_grad_finish", &finish_k);
  if (st == CLMP_SUCCESS) st = clmp__scratch(db->ctx, n_partial * sizeof(float), &partial);
  if (st != CLMP_SUCCESS) return st;
  clmp__arg a1[] = {CLMP_ARG(dy->storage->mem), CLMP_ARG(dy_off),   CLMP_ARG(rows), CLMP_ARG(cols),
                    CLMP_ARG(partial),          CLMP_ARG(n_partial)};
  st = clmp__launch_1d(db->ctx, blocks_k, "bias_grad_blocks", a1, 6, n_partial);
  if (st != CLMP_SUCCESS) return st;
  clmp__arg a2[] = {CLMP_ARG(partial), CLMP_ARG(blocks),           CLMP_ARG(cols),
                    CLMP_ARG(beta),    CLMP_ARG(db->storage->mem), CLMP_ARG(db_off)};
  return clmp__launch_1d(db->ctx, finish_k, "bias_grad_finish", a2, 6, cols);
}

/* m is a float matrix and v a float tensor of m's column count, both of one context. */
static clmp_status check_bias(const clmp_tensor *m, const char *m_name, const clmp_tensor *v,
                              const char *v_name, const char *op) {
  size_t rows = 0, cols = 0;
  clmp_status st = clmp__check_tensor(m, op, m_name);
  if (st == CLMP_SUCCESS) st = clmp__check_tensor(v, op, v_name);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(m, v, op);
  if (st == CLMP_SUCCESS) st = clmp__check_float(m, op, m_name);
  if (st == CLMP_SUCCESS) st = clmp__check_float(v, op, v_name);
  if (st == CLMP_SUCCESS) st = clmp__check_matrix(m, op, m_name, &rows, &cols);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(v, cols, op, v_name);
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
