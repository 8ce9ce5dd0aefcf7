/* host/runtime/launch.h: setting a kernel's arguments and enqueueing it over n elements. */
#ifndef CLMP_HOST_LAUNCH_H
#define CLMP_HOST_LAUNCH_H

#include "runtime.h"

typedef struct clmp__arg {
  size_t size;
  const void *value;
} clmp__arg;

/* An argument from an lvalue: CLMP_ARG(mem), CLMP_ARG(n). */
#define CLMP_ARG(x) ((clmp__arg){sizeof(x), &(x)})

/* Sets a kernel's nargs arguments. */
clmp_status clmp__set_args(cl_kernel kernel, const char *name, const clmp__arg *args, int nargs);

/* Sets the arguments and enqueues an explicit 1-D range (global a multiple of local). */
clmp_status clmp__launch(clmp_ctx *ctx, cl_kernel kernel, const char *name, const clmp__arg *args,
                         int nargs, size_t global, size_t local);

/* Sets the arguments and enqueues a 2-D range of groups[0] x groups[1] work-groups of
 * local[0] x local[1] items. */
clmp_status clmp__launch_2d(clmp_ctx *ctx, cl_kernel kernel, const char *name,
                            const clmp__arg *args, int nargs, const size_t groups[2],
                            const size_t local[2]);

/* Sets the arguments and enqueues a kernel over the rows of a [rows, cols] grid of work:
 * dimension 1 of the range strides over rows, dimension 0 over the columns of one row (kernels
 * loop with a stride on both). GPUs: groups of 256 items (fewer where the device allows less), as
 * many of them across a row as its columns fill (a power of two), the rest over rows; CPUs: one
 * item per row, which walks the row's columns in order (contiguous memory per item). Does not
 * wait. */
clmp_status clmp__launch_rows(clmp_ctx *ctx, cl_kernel kernel, const char *name,
                              const clmp__arg *args, int nargs, size_t rows, size_t cols);

/* Sets nargs arguments, then enqueues a 1-D range that covers n elements (kernels loop with a
 * grid stride, so the range may be smaller than n). Does not wait. */
clmp_status clmp__launch_1d(clmp_ctx *ctx, cl_kernel kernel, const char *name,
                            const clmp__arg *args, int nargs, size_t n);

#endif
