/* clmp/tensor.h: typed, shaped storage on a context's device. A tensor is an OpenCL buffer plus
 * a byte offset (host memory on "ref"), so views into one large buffer are ordinary tensors. */
#ifndef CLMP_TENSOR_H
#define CLMP_TENSOR_H

#include <stddef.h>

#include "clmp/device.h"
#include "clmp/export.h"
#include "clmp/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clmp_dtype {
  CLMP_F32 = 0, /* IEEE binary32 */
  CLMP_F16,     /* IEEE binary16 (storage only; computed in fp32) */
  CLMP_BF16,    /* bfloat16: the upper 16 bits of an fp32 */
  CLMP_I32,     /* int32 */
  CLMP_U8,      /* uint8 */
  CLMP_DTYPE_COUNT
} clmp_dtype;

#define CLMP_MAX_DIMS 4

typedef struct clmp_tensor clmp_tensor;

/* Bytes per element (0 for an invalid dtype) and the dtype's name ("f16", ...; "?" if invalid). */
CLMP_API size_t clmp_dtype_size(clmp_dtype dtype);
CLMP_API const char *clmp_dtype_name(clmp_dtype dtype);

/* Allocates a contiguous row-major tensor of ndim (1..4) dimensions, each at least 1. Fails with
 * CLMP_ERR_INVALID_ARGUMENT for a NULL pointer, CLMP_ERR_INVALID_DTYPE, CLMP_ERR_INVALID_SHAPE
 * for a bad ndim or a 0 dimension, CLMP_ERR_SIZE_OVERFLOW when the byte size overflows,
 * CLMP_ERR_TOO_LARGE beyond the device's maximum allocation. Contents are undefined until
 * written. */
CLMP_API clmp_status clmp_tensor_create(clmp_ctx *ctx, clmp_dtype dtype, int ndim,
                                        const size_t *shape, clmp_tensor **out);

/* A view of base's storage starting byte_offset bytes after base's first byte, with its own
 * dtype and shape; it keeps the storage alive after base is freed. The offset must be a multiple
 * of the view's element size and the view must lie inside base (CLMP_ERR_OUT_OF_BOUNDS). */
CLMP_API clmp_status clmp_tensor_view(clmp_tensor *base, size_t byte_offset, clmp_dtype dtype,
                                      int ndim, const size_t *shape, clmp_tensor **out);

/* Frees the tensor; the storage goes with the last tensor that uses it. NULL is a no-op. */
CLMP_API void clmp_tensor_free(clmp_tensor *t);

/* Copies count elements of src_dtype from host memory into the tensor, converting to the
 * tensor's dtype (count must equal the tensor's element count). Float dtypes convert among each
 * other with round-to-nearest-even; integer dtypes only to themselves. Blocking. */
CLMP_API clmp_status clmp_tensor_write(clmp_tensor *t, clmp_dtype src_dtype, const void *src,
                                       size_t count);

/* Copies the tensor into host memory as count elements of dst_dtype (same rules). Blocking. */
CLMP_API clmp_status clmp_tensor_read(const clmp_tensor *t, clmp_dtype dst_dtype, void *dst,
                                      size_t count);

/* Copies src's bytes into dst (same context, same byte size), queued on the device: no wait.
 * Views whose bytes overlap are refused (CLMP_ERR_INVALID_ARGUMENT); the very same bytes are a
 * no-op. */
CLMP_API clmp_status clmp_tensor_copy(clmp_tensor *dst, const clmp_tensor *src);

CLMP_API clmp_dtype clmp_tensor_dtype(const clmp_tensor *t);
CLMP_API int clmp_tensor_ndim(const clmp_tensor *t);
CLMP_API size_t clmp_tensor_dim(const clmp_tensor *t, int i); /* 0 if i is out of range */
CLMP_API size_t clmp_tensor_numel(const clmp_tensor *t);
CLMP_API size_t clmp_tensor_nbytes(const clmp_tensor *t);
CLMP_API clmp_ctx *clmp_tensor_ctx(const clmp_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
