/* host/ops/table.h: the op table: one row per op, one column per backend (OpenCL, reference).
 * Adding an op means one kernel, one reference function, one row here and one test. */
#ifndef CLMP_HOST_OPS_TABLE_H
#define CLMP_HOST_OPS_TABLE_H

#include "../tensor/tensor_impl.h"
#include "clmp/ops.h"

typedef struct clmp__ops {
  /* dst = (dst dtype) src; arguments already checked */
  clmp_status (*cast)(const clmp_tensor *src, clmp_tensor *dst);
} clmp__ops;

extern const clmp__ops clmp__ops_cl;
extern const clmp__ops clmp__ops_ref;

/* The backend of a context. */
static inline const clmp__ops *clmp__ops_of(const clmp_ctx *ctx) {
  return ctx->is_ref ? &clmp__ops_ref : &clmp__ops_cl;
}

/* OpenCL implementations (host/ops/<op>.c) and references (host/ref/<op>.c). */
clmp_status clmp__cl_cast(const clmp_tensor *src, clmp_tensor *dst);
clmp_status clmp__ref_cast(const clmp_tensor *src, clmp_tensor *dst);

/* Argument checks shared by the ops. */
clmp_status clmp__check_same_ctx(const clmp_tensor *a, const clmp_tensor *b, const char *op);
int clmp__dtype_is_float(clmp_dtype d);
/* The storage dtype's name as kernels' -D options spell it: "F32", "F16", "BF16". */
const char *clmp__dtype_define(clmp_dtype d);

#endif
