/* host/ops/pool.c: 2-D max, average and global average pooling (NCHW): the output shape, argument
 * checks, dispatch through the op table, and the OpenCL launches of cl/pool.cl (with the plane
 * partial sums of cl/reduce.cl for global pooling). */
#include <stdint.h>
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "reduce.h"

/* Kernels index a plane and the window's values in 32-bit ints. */
#define POOL_INT_MAX ((size_t)INT32_MAX)

/* Ho (or Wo) of one axis, or a failure naming the field. */
static clmp_status pool_axis(const char *op, size_t in, const clmp_pool2d_params *p, int d,
                             size_t *out) {
  size_t k = p->kernel[d], s = p->stride[d], pad = p->padding[d];
  if (k == 0) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: kernel[%d] is 0", op, d);
  if (s == 0) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: stride[%d] is 0", op, d);
  if (pad > k / 2)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "%s: padding[%d] = %zu is more than half of kernel[%d] = %zu", op, d, pad, d,
                     k);
  size_t need = k - 2 * pad; /* no overflow: 2 pad <= k */
  if (need > in)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                     "%s: kernel[%d] = %zu with padding %zu does not fit an input of %zu: the "
                     "output would be empty",
                     op, d, k, pad, in);
  size_t q = (in - need) / s;
  if (q == SIZE_MAX)
    return CLMP_FAIL(CLMP_ERR_SIZE_OVERFLOW, "%s: the output's dimension %d overflows", op, d + 2);
  *out = q + 1;
  return CLMP_SUCCESS;
}

/* y's shape for x's, as clmp_pool2d_output_shape; y is written only on success. */
static clmp_status pool_shape(const char *op, const size_t x[4], const clmp_pool2d_params *p,
                              size_t y[4]) {
  if (!x || !p || !y) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: NULL argument", op);
  for (int i = 0; i < 4; i++)
    if (x[i] == 0) return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: x_shape[%d] is 0", op, i);
  size_t ho = 0, wo = 0;
  clmp_status st = pool_axis(op, x[2], p, 0, &ho);
  if (st == CLMP_SUCCESS) st = pool_axis(op, x[3], p, 1, &wo);
  if (st == CLMP_SUCCESS) y[0] = x[0], y[1] = x[1], y[2] = ho, y[3] = wo;
  return st;
}

clmp_status clmp_pool2d_output_shape(const size_t x_shape[4], const clmp_pool2d_params *p,
                                     size_t y_shape[4]) {
  return pool_shape("clmp_pool2d_output_shape", x_shape, p, y_shape);
}

/* The geometry the kernels take: planes, (H, W, Ho, Wo), (kh, kw, sh, sw), (ph, pw), 1 / (kh kw).
 */
typedef struct pool_geom {
  cl_ulong planes;
  cl_int4 dims, win;
  cl_int2 pad;
  float inv_k;
} pool_geom;

/* in: x (or dx) [N, C, H, W]; out: y (or dy) [N, C, Ho, Wo]; checked to fit 32-bit ints. */
static pool_geom geom_of(const clmp_tensor *in, const clmp_tensor *out,
                         const clmp_pool2d_params *p) {
  pool_geom g;
  g.planes = (cl_ulong)in->shape[0] * in->shape[1];
  g.dims = (cl_int4){
      {(cl_int)in->shape[2], (cl_int)in->shape[3], (cl_int)out->shape[2], (cl_int)out->shape[3]}};
  g.win = (cl_int4){
      {(cl_int)p->kernel[0], (cl_int)p->kernel[1], (cl_int)p->stride[0], (cl_int)p->stride[1]}};
  g.pad = (cl_int2){{(cl_int)p->padding[0], (cl_int)p->padding[1]}};
  g.inv_k = (float)(1.0 / ((double)p->kernel[0] * (double)p->kernel[1]));
  return g;
}

clmp_status clmp__cl_max_pool2d(const clmp_tensor *x, const clmp_pool2d_params *p, clmp_tensor *y,
                                clmp_tensor *indices) {
  char options[80];
  snprintf(options, sizeof options, "-DX_DT=%s -DY_DT=%s -DWITH_INDICES=%d",
           clmp__dtype_define(x->dtype), clmp__dtype_define(y->dtype), indices != NULL);
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(y->ctx, "pool", options, "max_pool2d", &k);
  if (st != CLMP_SUCCESS) return st;
  pool_geom g = geom_of(x, y, p);
  cl_ulong x_off = clmp__elem_offset(x), y_off = clmp__elem_offset(y);
  cl_mem ind = indices ? indices->storage->mem : y->storage->mem; /* not read without indices */
  cl_ulong ind_off = indices ? clmp__elem_offset(indices) : 0;
  clmp__arg args[] = {CLMP_ARG(x->storage->mem),
                      CLMP_ARG(x_off),
                      CLMP_ARG(y->storage->mem),
                      CLMP_ARG(y_off),
                      CLMP_ARG(ind),
                      CLMP_ARG(ind_off),
                      CLMP_ARG(g.planes),
                      CLMP_ARG(g.dims),
                      CLMP_ARG(g.win),
                      CLMP_ARG(g.pad)};
  return clmp__launch_rows(y->ctx, k, "max_pool2d", args, 10, g.planes * y->shape[2], y->shape[3]);
}

clmp_status clmp__cl_avg_pool2d(const clmp_tensor *x, const clmp_pool2d_params *p, clmp_tensor *y) {
  char options[80];
  snprintf(options, sizeof options, "-DX_DT=%s -DY_DT=%s -DWITH_INDICES=0",
           clmp__dtype_define(x->dtype), clmp__dtype_define(y->dtype));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(y->ctx, "pool", options, "avg_pool2d", &k);
  if (st != CLMP_SUCCESS) return st;
  pool_geom g = geom_of(x, y, p);
  cl_ulong x_off = clmp__elem_offset(x), y_off = clmp__elem_offset(y);
  clmp__arg args[] = {CLMP_ARG(x->storage->mem), CLMP_ARG(x_off),    CLMP_ARG(y->storage->mem),
                      CLMP_ARG(y_off),           CLMP_ARG(g.planes), CLMP_ARG(g.dims),
                      CLMP_ARG(g.win),           CLMP_ARG(g.pad),    CLMP_ARG(g.inv_k)};
  return clmp__launch_rows(y->ctx, k, "avg_pool2d", args, 9, g.planes * y->shape[2], y->shape[3]);
}

/* The backward kernels' common part: options and the kernel of dy -> dx. */
static clmp_status backward_kernel(const clmp_tensor *dy, const clmp_tensor *dx, const char *name,
                                   cl_kernel *k) {
  char options[64];
  snprintf(options, sizeof options, "-DDY_DT=%s -DDX_DT=%s", clmp__dtype_define(dy->dtype),
           clmp__dtype_define(dx->dtype));
  return clmp__kernel_get(dx->ctx, "pool", options, name, k);
}

clmp_status clmp__cl_max_pool2d_backward(const clmp_tensor *dy, const clmp_tensor *indices,
                                         const clmp_pool2d_params *p, clmp_tensor *dx) {
  cl_kernel k = NULL;
  clmp_status st = backward_kernel(dy, dx, "max_pool2d_backward", &k);
  if (st != CLMP_SUCCESS) return st;
  pool_geom g = geom_of(dx, dy, p);
  cl_ulong dy_off = clmp__elem_offset(dy), ind_off = clmp__elem_offset(indices);
  cl_ulong dx_off = clmp__elem_offset(dx);
  clmp__arg args[] = {CLMP_ARG(dy->storage->mem),
                      CLMP_ARG(dy_off),
                      CLMP_ARG(indices->storage->mem),
                      CLMP_ARG(ind_off),
                      CLMP_ARG(dx->storage->mem),
                      CLMP_ARG(dx_off),
                      CLMP_ARG(g.planes),
                      CLMP_ARG(g.dims),
                      CLMP_ARG(g.win),
                      CLMP_ARG(g.pad)};
  return clmp__launch_rows(dx->ctx, k, "max_pool2d_backward", args, 10, g.planes * dx->shape[2],
                           dx->shape[3]);
}

clmp_status clmp__cl_avg_pool2d_backward(const clmp_tensor *dy, const clmp_pool2d_params *p,
                                         clmp_tensor *dx) {
  cl_kernel k = NULL;
  clmp_status st = backward_kernel(dy, dx, "avg_pool2d_backward", &k);
  if (st != CLMP_SUCCESS) return st;
  pool_geom g = geom_of(dx, dy, p);
  cl_ulong dy_off = clmp__elem_offset(dy), dx_off = clmp__elem_offset(dx);
  clmp__arg args[] = {CLMP_ARG(dy->storage->mem),
                      CLMP_ARG(dy_off),
                      CLMP_ARG(dx->storage->mem),
                      CLMP_ARG(dx_off),
                      CLMP_ARG(g.planes),
                      CLMP_ARG(g.dims),
                      CLMP_ARG(g.win),
                      CLMP_ARG(g.pad),
                      CLMP_ARG(g.inv_k)};
  return clmp__launch_rows(dx->ctx, k, "avg_pool2d_backward", args, 9, g.planes * dx->shape[2],
                           dx->shape[3]);
}

/* The plane partial sums of x (cl/reduce.cl), then one finish per plane. */
clmp_status clmp__cl_global_avg_pool(const clmp_tensor *x, clmp_tensor *y) {
  clmp__ncs v = clmp__ncs_of(x);
  clmp__sum sum = {CLMP__TERM_X, x, NULL, NULL, 0, v, 1, 0};
  char options[80];
  snprintf(options, sizeof options, "-DX_DT=%s -DY_DT=%s -DWITH_INDICES=0",
           clmp__dtype_define(x->dtype), clmp__dtype_define(y->dtype));
  cl_kernel k = NULL;
  cl_mem partial = NULL;
  cl_ulong at = 0;
  clmp_status st = clmp__kernel_get(y->ctx, "pool", options, "global_avg_finish", &k);
  if (st == CLMP_SUCCESS) st = clmp__cl_partials_scratch(&sum, 0, &partial, &at);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong planes = (cl_ulong)v.n * v.c, c = v.c, chunks = clmp__sum_layout(&sum).chunks;
  cl_ulong y_off = clmp__elem_offset(y);
  float inv_s = (float)(1.0 / (double)v.s);
  clmp__arg args[] = {
      CLMP_ARG(partial), CLMP_ARG(at),    CLMP_ARG(planes),          CLMP_ARG(c),
      CLMP_ARG(chunks),  CLMP_ARG(inv_s), CLMP_ARG(y->storage->mem), CLMP_ARG(y_off)};
  return clmp__launch_1d(y->ctx, k, "global_avg_finish", args, 8, planes);
}

clmp_status clmp__cl_global_avg_pool_backward(const clmp_tensor *dy, clmp_tensor *dx) {
  cl_kernel k = NULL;
  clmp_status st = backward_kernel(dy, dx, "global_avg_pool_backward", &k);
  if (st != CLMP_SUCCESS) return st;
  clmp__ncs v = clmp__ncs_of(dx);
  cl_ulong dy_off = clmp__elem_offset(dy), dx_off = clmp__elem_offset(dx);
  cl_ulong planes = (cl_ulong)v.n * v.c, s = v.s;
  float inv_s = (float)(1.0 / (double)v.s);
  clmp__arg args[] = {CLMP_ARG(dy->storage->mem),
                      CLMP_ARG(dy_off),
                      CLMP_ARG(dx->storage->mem),
                      CLMP_ARG(dx_off),
                      CLMP_ARG(planes),
                      CLMP_ARG(s),
                      CLMP_ARG(inv_s)};
  return clmp__launch_rows(dx->ctx, k, "global_avg_pool_backward", args, 7, planes, v.s);
}

/* --- argument checks and the public entry points ------------------------------------------- */

/* A float tensor of 4 dimensions. */
static clmp_status check_nchw(const clmp_tensor *t, const char *op, const char *name) {
  clmp_status st = clmp__check_float(t, op, name);
  if (st == CLMP_SUCCESS && t->ndim != 4)
    st = CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s has %d dimensions ([N, C, H, W] needed)", op,
                   name, t->ndim);
  return st;
}

/* t is 4-D of shape want. */
static clmp_status check_shape4(const clmp_tensor *t, const size_t want[4], const char *op,
                                const char *name) {
  int same = t->ndim == 4;
  for (int i = 0; same && i < 4; i++) same = t->shape[i] == want[i];
  if (same) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s is not [%zu, %zu, %zu, %zu] (the pooled shape)",
                   op, name, want[0], want[1], want[2], want[3]);
}

/* Planes of fewer than 2^31 elements and window values below 2^31 (the kernels' int indices). */
static clmp_status check_int_limits(const size_t in[4], const size_t out[4],
                                    const clmp_pool2d_params *p, const char *op) {
  for (int d = 0; d < 2; d++)
    if (p->kernel[d] > POOL_INT_MAX || p->stride[d] > POOL_INT_MAX || p->padding[d] > POOL_INT_MAX)
      return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: kernel, stride or padding [%d] >= 2^31", op,
                       d);
  if (in[2] > POOL_INT_MAX / in[3] || out[2] > POOL_INT_MAX / out[3])
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: a plane of 2^31 elements or more", op);
  return CLMP_SUCCESS;
}

/* in (x or dx) and out (y or dy): 4-D float tensors of one context, out of in's pooled shape. */
static clmp_status check_pooled(const char *op, const clmp_tensor *in, const char *in_name,
                                const clmp_tensor *out, const char *out_name,
                                const clmp_pool2d_params *p) {
  size_t want[4] = {0, 0, 0, 0};
  clmp_status st = check_nchw(in, op, in_name);
  if (st == CLMP_SUCCESS) st = check_nchw(out, op, out_name);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(in, out, op);
  if (st == CLMP_SUCCESS && !p) st = CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: p is NULL", op);
  if (st == CLMP_SUCCESS) st = pool_shape(op, in->shape, p, want);
  if (st == CLMP_SUCCESS) st = check_shape4(out, want, op, out_name);
  if (st == CLMP_SUCCESS) st = check_int_limits(in->shape, want, p, op);
  return st;
}

/* indices: i32 of ref's (4-D) shape, on ref's context. */
static clmp_status check_indices(const clmp_tensor *indices, const clmp_tensor *ref,
                                 const char *op) {
  clmp_status st = clmp__check_dtype(indices, CLMP_I32, op, "indices");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(ref, indices, op);
  if (st == CLMP_SUCCESS) st = check_shape4(indices, ref->shape, op, "indices");
  return st;
}

clmp_status clmp_max_pool2d(const clmp_tensor *x, const clmp_pool2d_params *p, clmp_tensor *y,
                            clmp_tensor *indices) {
  const char *op = "clmp_max_pool2d";
  clmp_status st = check_pooled(op, x, "x", y, "y", p);
  if (st == CLMP_SUCCESS && indices) st = check_indices(indices, y, op);
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(y, x, 0, op, "y", "x");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(indices, x, 0, op, "indices", "x");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(indices, y, 0, op, "indices", "y");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(y->ctx)->max_pool2d(x, p, y, indices);
}

clmp_status clmp_max_pool2d_backward(const clmp_tensor *dy, const clmp_tensor *indices,
                                     const clmp_pool2d_params *p, clmp_tensor *dx) {
  const char *op = "clmp_max_pool2d_backward";
  clmp_status st = check_pooled(op, dx, "dx", dy, "dy", p);
  if (st == CLMP_SUCCESS) st = check_indices(indices, dy, op);
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(dx, dy, 0, op, "dx", "dy");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(dx, indices, 0, op, "dx", "indices");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(dx->ctx)->max_pool2d_backward(dy, indices, p, dx);
}

clmp_status clmp_avg_pool2d(const clmp_tensor *x, const clmp_pool2d_params *p, clmp_tensor *y) {
  const char *op = "clmp_avg_pool2d";
  clmp_status st = check_pooled(op, x, "x", y, "y", p);
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(y, x, 0, op, "y", "x");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(y->ctx)->avg_pool2d(x, p, y);
}

clmp_status clmp_avg_pool2d_backward(const clmp_tensor *dy, const clmp_pool2d_params *p,
                                     clmp_tensor *dx) {
  const char *op = "clmp_avg_pool2d_backward";
  clmp_status st = check_pooled(op, dx, "dx", dy, "dy", p);
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(dx, dy, 0, op, "dx", "dy");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(dx->ctx)->avg_pool2d_backward(dy, p, dx);
}

/* planes: a float tensor of [N, C] or [N, C, 1, 1] for the 4-D float tensor t, of t's context. */
static clmp_status check_global(const char *op, const clmp_tensor *t, const char *t_name,
                                const clmp_tensor *planes, const char *p_name) {
  clmp_status st = check_nchw(t, op, t_name);
  if (st == CLMP_SUCCESS) st = clmp__check_float(planes, op, p_name);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(t, planes, op);
  if (st != CLMP_SUCCESS) return st;
  int ok = (planes->ndim == 2 || planes->ndim == 4) && planes->shape[0] == t->shape[0] &&
           planes->shape[1] == t->shape[1] && planes->numel == t->shape[0] * t->shape[1];
  if (ok) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s is not [%zu, %zu] or [%zu, %zu, 1, 1]", op,
                   p_name, t->shape[0], t->shape[1], t->shape[0], t->shape[1]);
}

clmp_status clmp_global_avg_pool(const clmp_tensor *x, clmp_tensor *y) {
  const char *op = "clmp_global_avg_pool";
  clmp_status st = check_global(op, x, "x", y, "y");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(y, x, 0, op, "y", "x");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(y->ctx)->global_avg_pool(x, y);
}

clmp_status clmp_global_avg_pool_backward(const clmp_tensor *dy, clmp_tensor *dx) {
  const char *op = "clmp_global_avg_pool_backward";
  clmp_status st = check_global(op, dx, "dx", dy, "dy");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(dx, dy, 0, op, "dx", "dy");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(dx->ctx)->global_avg_pool_backward(dy, dx);
}
