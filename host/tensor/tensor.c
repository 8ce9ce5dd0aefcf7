/* host/tensor/tensor.c: tensor creation, views, and host<->device transfers with dtype
 * conversion; on host-unified devices transfers go through mapped buffers instead of copies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "clmp/convert.h"
#include "tensor_impl.h"

/* Host memory of the reference device is aligned like a cache line. */
#define REF_ALIGN 64

static const struct {
  const char *name;
  size_t size;
} dtype_table[CLMP_DTYPE_COUNT] = {
    [CLMP_F32] = {"f32", 4}, [CLMP_F16] = {"f16", 2}, [CLMP_BF16] = {"bf16", 2},
    [CLMP_I32] = {"i32", 4}, [CLMP_U8] = {"u8", 1},
};

static int dtype_valid(clmp_dtype d) {
  return (unsigned)d < CLMP_DTYPE_COUNT;
}

size_t clmp_dtype_size(clmp_dtype dtype) {
  return dtype_valid(dtype) ? dtype_table[dtype].size : 0;
}

const char *clmp_dtype_name(clmp_dtype dtype) {
  return dtype_valid(dtype) ? dtype_table[dtype].name : "?";
}

/* Checks dtype and shape and computes the element count and byte size, overflow-checked; op
 * names the public function in messages. */
static clmp_status shape_size(const char *op, clmp_dtype dtype, int ndim, const size_t *shape,
                              size_t *numel, size_t *bytes) {
  if (!dtype_valid(dtype)) return CLMP_FAIL(CLMP_ERR_INVALID_DTYPE, "%s: dtype %d", op, (int)dtype);
  if (ndim < 1 || ndim > CLMP_MAX_DIMS)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %d dimensions (1 to %d allowed)", op, ndim,
                     CLMP_MAX_DIMS);
  if (!shape) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: NULL shape", op);
  size_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] == 0) return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: dimension %d is 0", op, i);
    if (n > SIZE_MAX / shape[i])
      return CLMP_FAIL(CLMP_ERR_SIZE_OVERFLOW, "%s: element count overflows at dimension %d", op,
                       i);
    n *= shape[i];
  }
  if (n > SIZE_MAX / clmp_dtype_size(dtype))
    return CLMP_FAIL(CLMP_ERR_SIZE_OVERFLOW, "%s: %zu elements of %s overflow size_t", op, n,
                     clmp_dtype_name(dtype));
  *numel = n;
  *bytes = n * clmp_dtype_size(dtype);
  return CLMP_SUCCESS;
}

static clmp_status storage_create(clmp_ctx *ctx, size_t bytes, clmp__storage **out) {
  if (bytes > ctx->info.max_alloc)
    return CLMP_FAIL(CLMP_ERR_TOO_LARGE,
                     "clmp_tensor_create: %zu bytes on \"%s\", which allows %llu in one buffer",
                     bytes, ctx->info.name, (unsigned long long)ctx->info.max_alloc);
  clmp__storage *s = calloc(1, sizeof *s);
  if (!s) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_tensor_create: storage");
  s->refs = 1;
  s->bytes = bytes;
  if (ctx->is_ref) {
    size_t rounded = (bytes + REF_ALIGN - 1) / REF_ALIGN * REF_ALIGN;
    s->host = rounded >= bytes ? aligned_alloc(REF_ALIGN, rounded) : NULL;
    if (s->host) return *out = s, CLMP_SUCCESS;
    free(s);
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_tensor_create: %zu bytes on ref", bytes);
  }
  cl_int err = CL_SUCCESS;
  /* Host-unified devices: host-visible memory, which uploads map instead of copying into. */
  cl_mem_flags flags = CL_MEM_READ_WRITE | (ctx->info.unified_memory ? CL_MEM_ALLOC_HOST_PTR : 0);
  s->mem = clCreateBuffer(ctx->context, flags, bytes, NULL, &err);
  if (err == CL_SUCCESS) return *out = s, CLMP_SUCCESS;
  free(s);
  return CLMP_FAIL(err, "clmp_tensor_create: clCreateBuffer(%zu bytes) on \"%s\"", bytes,
                   ctx->info.name);
}

static void storage_release(clmp__storage *s) {
  if (!s || --s->refs) return;
  if (s->mem) clReleaseMemObject(s->mem);
  free(s->host);
  free(s);
}

static clmp_tensor *tensor_new(clmp_ctx *ctx, clmp_dtype dtype, int ndim, const size_t *shape,
                               size_t numel) {
  clmp_tensor *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->ctx = ctx;
  t->dtype = dtype;
  t->ndim = ndim;
  memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
  t->numel = numel;
  return t;
}

clmp_status clmp_tensor_create(clmp_ctx *ctx, clmp_dtype dtype, int ndim, const size_t *shape,
                               clmp_tensor **out) {
  if (!ctx || !out)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_tensor_create: NULL argument");
  *out = NULL;
  size_t numel = 0, bytes = 0;
  clmp_status st = shape_size("clmp_tensor_create", dtype, ndim, shape, &numel, &bytes);
  if (st != CLMP_SUCCESS) return st;
  clmp_tensor *t = tensor_new(ctx, dtype, ndim, shape, numel);
  if (!t) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_tensor_create");
  st = storage_create(ctx, bytes, &t->storage);
  if (st != CLMP_SUCCESS) {
    free(t);
    return st;
  }
  *out = t;
  return CLMP_SUCCESS;
}

clmp_status clmp_tensor_view(clmp_tensor *base, size_t byte_offset, clmp_dtype dtype, int ndim,
                             const size_t *shape, clmp_tensor **out) {
  if (!base || !out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_tensor_view: NULL argument");
  *out = NULL;
  size_t numel = 0, bytes = 0;
  clmp_status st = shape_size("clmp_tensor_view", dtype, ndim, shape, &numel, &bytes);
  if (st != CLMP_SUCCESS) return st;
  size_t avail = clmp_tensor_nbytes(base);
  if (byte_offset % clmp_dtype_size(dtype))
    return CLMP_FAIL(CLMP_ERR_OUT_OF_BOUNDS,
                     "clmp_tensor_view: offset %zu is not a multiple of %s's size", byte_offset,
                     clmp_dtype_name(dtype));
  if (byte_offset > avail || bytes > avail - byte_offset)
    return CLMP_FAIL(CLMP_ERR_OUT_OF_BOUNDS,
                     "clmp_tensor_view: %zu bytes at offset %zu of a tensor of %zu bytes", bytes,
                     byte_offset, avail);
  clmp_tensor *t = tensor_new(base->ctx, dtype, ndim, shape, numel);
  if (!t) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_tensor_view");
  t->storage = base->storage;
  t->storage->refs++;
  t->offset = base->offset + byte_offset;
  *out = t;
  return CLMP_SUCCESS;
}

void clmp_tensor_free(clmp_tensor *t) {
  if (!t) return;
  storage_release(t->storage);
  free(t);
}

clmp_dtype clmp_tensor_dtype(const clmp_tensor *t) {
  return t ? t->dtype : CLMP_DTYPE_COUNT;
}

int clmp_tensor_ndim(const clmp_tensor *t) {
  return t ? t->ndim : 0;
}

size_t clmp_tensor_dim(const clmp_tensor *t, int i) {
  return t && i >= 0 && i < t->ndim ? t->shape[i] : 0;
}

size_t clmp_tensor_numel(const clmp_tensor *t) {
  return t ? t->numel : 0;
}

size_t clmp_tensor_nbytes(const clmp_tensor *t) {
  return t ? t->numel * clmp_dtype_size(t->dtype) : 0;
}

clmp_ctx *clmp_tensor_ctx(const clmp_tensor *t) {
  return t ? t->ctx : NULL;
}
