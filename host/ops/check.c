/* host/ops/check.c: argument checks shared by the ops, each failing with a specific status and a
 * message that names the op and the argument. */
#include "../runtime/error.h"
#include "table.h"

clmp_status clmp__check_tensor(const clmp_tensor *t, const char *op, const char *name) {
  return t ? CLMP_SUCCESS : CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
}

clmp_status clmp__check_same_ctx(const clmp_tensor *a, const clmp_tensor *b, const char *op) {
  if (!a || !b) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: NULL tensor", op);
  if (a->ctx != b->ctx)
    return CLMP_FAIL(CLMP_ERR_CONTEXT_MISMATCH, "%s: tensors of two contexts", op);
  return CLMP_SUCCESS;
}

int clmp__dtype_is_float(clmp_dtype d) {
  return d == CLMP_F32 || d == CLMP_F16 || d == CLMP_BF16;
}

clmp_status clmp__check_float(const clmp_tensor *t, const char *op, const char *name) {
  clmp_status st = clmp__check_tensor(t, op, name);
  if (st == CLMP_SUCCESS && !clmp__dtype_is_float(t->dtype))
    st = CLMP_FAIL(CLMP_ERR_INVALID_DTYPE, "%s: %s is %s (f32, f16 or bf16 needed)", op, name,
                   clmp_dtype_name(t->dtype));
  return st;
}

clmp_status clmp__check_dtype(const clmp_tensor *t, clmp_dtype d, const char *op,
                              const char *name) {
  clmp_status st = clmp__check_tensor(t, op, name);
  if (st == CLMP_SUCCESS && t->dtype != d)
    st = CLMP_FAIL(CLMP_ERR_INVALID_DTYPE, "%s: %s is %s (%s needed)", op, name,
                   clmp_dtype_name(t->dtype), clmp_dtype_name(d));
  return st;
}

clmp_status clmp__check_numel(const clmp_tensor *t, size_t n, const char *op, const char *name) {
  clmp_status st = clmp__check_tensor(t, op, name);
  if (st == CLMP_SUCCESS && t->numel != n)
    st = CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s has %zu elements (%zu needed)", op, name,
                   t->numel, n);
  return st;
}

clmp_status clmp__check_matrix(const clmp_tensor *t, const char *op, const char *name, size_t *rows,
                               size_t *cols) {
  clmp_status st = clmp__check_tensor(t, op, name);
  if (st == CLMP_SUCCESS && t->ndim != 2)
    st = CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s has %d dimensions (a matrix needed)", op, name,
                   t->ndim);
  if (st == CLMP_SUCCESS) *rows = t->shape[0], *cols = t->shape[1];
  return st;
}

clmp_status clmp__check_channels(const clmp_tensor *t, const char *op, const char *name,
                                 clmp__ncs *out) {
  clmp_status st = clmp__check_tensor(t, op, name);
  if (st == CLMP_SUCCESS && (t->ndim < 2 || t->ndim > 4))
    st = CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s has %d dimensions (2 to 4 needed: [N, C, ...])",
                   op, name, t->ndim);
  if (st == CLMP_SUCCESS) *out = clmp__ncs_of(t);
  return st;
}

clmp_status clmp__check_disjoint(const clmp_tensor *out, const clmp_tensor *in, int alias_ok,
                                 const char *op, const char *out_name, const char *in_name) {
  if (!out || !in || !clmp__tensors_overlap(out, in)) return CLMP_SUCCESS;
  if (alias_ok && out->offset == in->offset && clmp_tensor_nbytes(out) == clmp_tensor_nbytes(in) &&
      clmp_dtype_size(out->dtype) == clmp_dtype_size(in->dtype))
    return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: %s overlaps %s in memory%s", op, out_name,
                   in_name, alias_ok ? " (it may only be the very same elements)" : "");
}

const char *clmp__dtype_define(clmp_dtype d) {
  switch (d) {
  case CLMP_F32: return "F32";
  case CLMP_F16: return "F16";
  case CLMP_BF16: return "BF16";
  case CLMP_I32: return "I32";
  default: return "U8";
  }
}

clmp_status clmp__check_scalar(const clmp_tensor *t, clmp_dtype d, const clmp_tensor *ref,
                               const char *op, const char *name) {
  clmp_status st = clmp__check_dtype(t, d, op, name);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(ref, t, op);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(t, 1, op, name);
  return st;
}
