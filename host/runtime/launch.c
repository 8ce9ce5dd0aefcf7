/* host/runtime/launch.c: setting a kernel's arguments and enqueueing it over n elements. */
#include "launch.h"

#include "error.h"
#include "profile.h"

/* Work-items per compute unit that keep a device busy on element-wise kernels; beyond this the
 * grid-stride loop takes over. */
#define ITEMS_PER_CU   4096
#define GROUP_MULTIPLE 64
/* Items of a work-group of clmp__launch_rows on GPUs, and on CPUs the rows per work-group (one
 * item each). */
#define ROW_GROUP_ITEMS 256
#define ROW_GROUP_CPU   16

static size_t global_size(const clmp_ctx *ctx, size_t n) {
  size_t cap = (size_t)(ctx->info.compute_units ? ctx->info.compute_units : 1) * ITEMS_PER_CU;
  size_t g = n < cap ? n : cap;
  return (g + GROUP_MULTIPLE - 1) / GROUP_MULTIPLE * GROUP_MULTIPLE;
}

clmp_status clmp__set_args(cl_kernel kernel, const char *name, const clmp__arg *args, int nargs) {
  for (int i = 0; i < nargs; i++) {
    cl_int err = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].value);
    if (err != CL_SUCCESS) return CLMP_FAIL(err, "clSetKernelArg(%s, %d)", name, i);
  }
  return CLMP_SUCCESS;
}

clmp_status clmp__launch(clmp_ctx *ctx, cl_kernel kernel, const char *name, const clmp__arg *args,
                         int nargs, size_t global, size_t local) {
  clmp_status st = clmp__set_args(kernel, name, args, nargs);
  if (st != CLMP_SUCCESS) return st;
  cl_int err = clEnqueueNDRangeKernel(ctx->queue, kernel, 1, NULL, &global, &local, 0, NULL,
                                      clmp__profile_slot(ctx, name));
  return err == CL_SUCCESS
             ? CLMP_SUCCESS
             : CLMP_FAIL(err, "clEnqueueNDRangeKernel(%s, %zu/%zu items)", name, global, local);
}

clmp_status clmp__launch_2d(clmp_ctx *ctx, cl_kernel kernel, const char *name,
                            const clmp__arg *args, int nargs, const size_t groups[2],
                            const size_t local[2]) {
  clmp_status st = clmp__set_args(kernel, name, args, nargs);
  if (st != CLMP_SUCCESS) return st;
  size_t global[2] = {groups[0] * local[0], groups[1] * local[1]};
  cl_int err = clEnqueueNDRangeKernel(ctx->queue, kernel, 2, NULL, global, local, 0, NULL,
                                      clmp__profile_slot(ctx, name));
  if (err != CL_SUCCESS)
    return CLMP_FAIL(err, "clEnqueueNDRangeKernel(%s, %zu x %zu items in groups of %zu x %zu)",
                     name, global[0], global[1], local[0], local[1]);
  return CLMP_SUCCESS;
}

clmp_status clmp__launch_1d(clmp_ctx *ctx, cl_kernel kernel, const char *name,
                            const clmp__arg *args, int nargs, size_t n) {
  clmp_status st = clmp__set_args(kernel, name, args, nargs);
  if (st != CLMP_SUCCESS) return st;
  size_t g = global_size(ctx, n);
  cl_int err = clEnqueueNDRangeKernel(ctx->queue, kernel, 1, NULL, &g, NULL, 0, NULL,
                                      clmp__profile_slot(ctx, name));
  return err == CL_SUCCESS ? CLMP_SUCCESS
                           : CLMP_FAIL(err, "clEnqueueNDRangeKernel(%s, %zu items)", name, g);
}

/* The largest power of two <= n, at least 1. */
static size_t pow2_floor(size_t n) {
  size_t p = 1;
  while (p <= n / 2) p *= 2;
  return p;
}

clmp_status clmp__launch_rows(clmp_ctx *ctx, cl_kernel kernel, const char *name,
                              const clmp__arg *args, int nargs, size_t rows, size_t cols) {
  int cpu = ctx->info.kind == CLMP_DEVICE_CPU;
  size_t max_wg = ctx->info.max_work_group ? (size_t)ctx->info.max_work_group : 1;
  size_t items = pow2_floor(ROW_GROUP_ITEMS < max_wg ? ROW_GROUP_ITEMS : max_wg);
  if (cpu) items = pow2_floor(ROW_GROUP_CPU < max_wg ? ROW_GROUP_CPU : max_wg);
  size_t across = cpu ? 1 : pow2_floor(cols < items ? cols : items);
  if (!cpu && across < cols && across < items) across *= 2; /* a short row in one pass */
  size_t local[2] = {across, items / across};
  size_t cap = global_size(ctx, SIZE_MAX) / items; /* groups that keep the device busy */
  size_t groups1 = (rows + local[1] - 1) / local[1];
  size_t groups[2] = {1, groups1 < cap ? groups1 : (cap ? cap : 1)};
  return clmp__launch_2d(ctx, kernel, name, args, nargs, groups, local);
}
