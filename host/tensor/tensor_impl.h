/* host/tensor/tensor_impl.h: what a tensor is inside the library: a shape and a dtype over
 * reference-counted storage (an OpenCL buffer, or host memory on "ref"), at a byte offset. */
#ifndef CLMP_HOST_TENSOR_IMPL_H
#define CLMP_HOST_TENSOR_IMPL_H

#include "../runtime/runtime.h"
#include "clmp/tensor.h"

typedef struct clmp__storage {
  unsigned refs; /* tensors that use it; freed with the last */
  size_t bytes;
  cl_mem mem; /* OpenCL devices */
  void *host; /* the reference device */
} clmp__storage;

struct clmp_tensor {
  clmp_ctx *ctx;
  clmp_dtype dtype;
  int ndim;
  size_t shape[CLMP_MAX_DIMS];
  size_t numel;
  size_t offset; /* bytes from the start of the storage */
  clmp__storage *storage;
};

/* Host pointer to a tensor's first element on the reference device (NULL elsewhere). */
static inline void *clmp__tensor_host(const clmp_tensor *t) {
  return t->storage->host ? (char *)t->storage->host + t->offset : NULL;
}

/* Whether two tensors' bytes intersect (they share storage and their ranges meet). */
static inline int clmp__tensors_overlap(const clmp_tensor *a, const clmp_tensor *b) {
  size_t a_end = a->offset + a->numel * clmp_dtype_size(a->dtype);
  size_t b_end = b->offset + b->numel * clmp_dtype_size(b->dtype);
  return a->storage == b->storage && a->offset < b_end && b->offset < a_end;
}

/* Element i of a host array of a float dtype (f32, f16, bf16), as fp32 (exact). */
float clmp__load_f32(clmp_dtype d, const void *p, size_t i);
/* Stores v as element i of a host array of a float dtype, rounded to nearest even. */
void clmp__store_f32(clmp_dtype d, void *p, size_t i, float v);

/* Converts n elements between host arrays of float-family dtypes (f32, f16, bf16), or copies
 * them when the dtypes are equal. */
void clmp__convert_array(clmp_dtype dst_dtype, void *dst, clmp_dtype src_dtype, const void *src,
                         size_t n);

#endif
