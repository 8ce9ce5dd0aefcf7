/* host/ops/data.c: clmp_gather_rows, its argument checks and its OpenCL launch (cl/data.cl). */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "table.h"

#define OPTIONS_SIZE 64

clmp_status clmp__cl_gather_rows(const clmp_tensor *src, const clmp_tensor *idx, float scale,
                                 float shift, clmp_tensor *dst) {
  char opts[OPTIONS_SIZE];
  snprintf(opts, sizeof opts, "-DSRC_DT=%s -DDST_DT=%s", clmp__dtype_define(src->dtype),
           clmp__dtype_define(dst->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(dst->ctx, "data", opts, "gather_rows", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong src_off = clmp__elem_offset(src), rows = src->shape[0], cols = src->shape[1];
  cl_ulong idx_off = clmp__elem_offset(idx), dst_off = clmp__elem_offset(dst), n = dst->numel;
  clmp__arg args[] = {
      CLMP_ARG(src->storage->mem), CLMP_ARG(src_off), CLMP_ARG(rows),  CLMP_ARG(cols),
      CLMP_ARG(idx->storage->mem), CLMP_ARG(idx_off), CLMP_ARG(scale), CLMP_ARG(shift),
      CLMP_ARG(dst->storage->mem), CLMP_ARG(dst_off), CLMP_ARG(n)};
  return clmp__launch_1d(dst->ctx, k, "gather_rows", args, 11, dst->numel);
}

clmp_status clmp_gather_rows(const clmp_tensor *src, const clmp_tensor *idx, float scale,
                             float shift, clmp_tensor *dst) {
  const char *op = "clmp_gather_rows";
  size_t rows = 0, cols = 0, batch = 0, dcols = 0;
  clmp_status st = clmp__check_matrix(src, op, "src", &rows, &cols);
  if (st == CLMP_SUCCESS) st = clmp__check_matrix(dst, op, "dst", &batch, &dcols);
  if (st == CLMP_SUCCESS) st = clmp__check_dtype(idx, CLMP_I32, op, "idx");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(src, dst, op);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(idx, dst, op);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(idx, batch, op, "idx");
  if (st == CLMP_SUCCESS && dcols != cols)
    st = CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: dst has %zu columns, src %zu", op, dcols, cols);
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(dst, src, 0, op, "dst", "src");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(dst, idx, 0, op, "dst", "idx");
  return st == CLMP_SUCCESS ? clmp__ops_of(dst->ctx)->gather_rows(src, idx, scale, shift, dst) : st;
}
