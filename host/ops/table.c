/* host/ops/table.c: the two columns of the op table, and argument checks shared by the ops. */
#include "table.h"

#include "../runtime/error.h"

const clmp__ops clmp__ops_cl = {
    .cast = clmp__cl_cast,
};

const clmp__ops clmp__ops_ref = {
    .cast = clmp__ref_cast,
};

clmp_status clmp__check_same_ctx(const clmp_tensor *a, const clmp_tensor *b, const char *op) {
  if (!a || !b) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  if (a->ctx != b->ctx)
    return CLMP_FAIL(CLMP_ERR_CONTEXT_MISMATCH, "%s: tensors of two contexts", op);
  return CLMP_SUCCESS;
}

int clmp__dtype_is_float(clmp_dtype d) {
  return d == CLMP_F32 || d == CLMP_F16 || d == CLMP_BF16;
}

const char *clmp__dtype_define(clmp_dtype d) {
  switch (d) {
  case CLMP_F32: return "F32";
  case CLMP_F16: return "F16";
  case CLMP_BF16: return "BF16";
  default: return "NONE";
  }
}
