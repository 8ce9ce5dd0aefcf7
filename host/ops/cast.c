/* host/ops/cast.c: clmp_cast, its argument checks and its OpenCL launch (cl/cast.cl). */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "table.h"

clmp_status clmp__cl_cast(const clmp_tensor *src, clmp_tensor *dst) {
  char options[64];
  snprintf(options, sizeof options, "-DIN_DT=%s -DOUT_DT=%s", clmp__dtype_define(src->dtype),
           clmp__dtype_define(dst->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(dst->ctx, "cast", options, "cast", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong src_off = clmp__elem_offset(src), dst_off = clmp__elem_offset(dst);
  cl_ulong n = src->numel;
  clmp__arg args[] = {CLMP_ARG(src->storage->mem), CLMP_ARG(src_off), CLMP_ARG(dst->storage->mem),
                      CLMP_ARG(dst_off), CLMP_ARG(n)};
  return clmp__launch_1d(dst->ctx, k, "cast", args, 5, src->numel);
}

clmp_status clmp_cast(const clmp_tensor *src, clmp_tensor *dst) {
  clmp_status st = clmp__check_same_ctx(src, dst, "clmp_cast");
  if (st == CLMP_SUCCESS) st = clmp__check_float(src, "clmp_cast", "src");
  if (st == CLMP_SUCCESS) st = clmp__check_float(dst, "clmp_cast", "dst");
  if (st == CLMP_SUCCESS) st = clmp__check_numel(dst, src->numel, "clmp_cast", "dst");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(dst, src, 1, "clmp_cast", "dst", "src");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(dst->ctx)->cast(src, dst);
}
