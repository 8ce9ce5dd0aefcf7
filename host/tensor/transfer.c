/* host/tensor/transfer.c: host<->device copies of tensors with dtype conversion. On devices with
 * host-unified memory the buffer is mapped and converted in place, with no staging copy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "clmp/convert.h"
#include "tensor_impl.h"

float clmp__load_f32(clmp_dtype d, const void *p, size_t i) {
  switch (d) {
  case CLMP_F16:
    return clmp_f16_to_f32(((const uint16_t *)p)[i]);
  case CLMP_BF16:
    return clmp_bf16_to_f32(((const uint16_t *)p)[i]);
  default:
    return ((const float *)p)[i];
  }
}

void clmp__store_f32(clmp_dtype d, void *p, size_t i, float v) {
  switch (d) {
  case CLMP_F16:
    ((uint16_t *)p)[i] = clmp_f32_to_f16(v);
    break;
  case CLMP_BF16:
    ((uint16_t *)p)[i] = clmp_f32_to_bf16(v);
    break;
  default:
    ((float *)p)[i] = v;
    break;
  }
}

void clmp__convert_array(clmp_dtype dst_dtype, void *dst, clmp_dtype src_dtype, const void *src,
                         size_t n) {
  if (dst_dtype == src_dtype) {
    memcpy(dst, src, n * clmp_dtype_size(src_dtype));
    return;
  }
  /* Every f16 and bf16 value is exact in f32, so going through f32 rounds only once. */
  for (size_t i = 0; i < n; i++)
    clmp__store_f32(dst_dtype, dst, i, clmp__load_f32(src_dtype, src, i));
}

static int is_float(clmp_dtype d) {
  return d == CLMP_F32 || d == CLMP_F16 || d == CLMP_BF16;
}

static clmp_status check_transfer(const clmp_tensor *t, clmp_dtype host_dtype, const void *host,
                                  size_t count, const char *what) {
  if (!t || !host) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: NULL argument", what);
  if ((unsigned)host_dtype >= CLMP_DTYPE_COUNT)
    return CLMP_FAIL(CLMP_ERR_INVALID_DTYPE, "%s: host dtype %d", what, (int)host_dtype);
  if (host_dtype != t->dtype && !(is_float(host_dtype) && is_float(t->dtype)))
    return CLMP_FAIL(CLMP_ERR_INVALID_DTYPE, "%s: no conversion between %s and %s", what,
                     clmp_dtype_name(host_dtype), clmp_dtype_name(t->dtype));
  if (count != t->numel)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %zu elements for a tensor of %zu", what, count,
                     t->numel);
  return CLMP_SUCCESS;
}

/* Maps the tensor's bytes, converts between them and host memory, unmaps. */
static clmp_status mapped_transfer(const clmp_tensor *t, int to_device, clmp_dtype host_dtype,
                                   void *host) {
  clmp_status st = CLMP_SUCCESS;
  cl_int err = CL_SUCCESS;
  cl_command_queue q = t->ctx->queue;
  size_t bytes = clmp_tensor_nbytes(t);
  cl_map_flags flags = to_device ? CL_MAP_WRITE_INVALIDATE_REGION : CL_MAP_READ;
  void *p =
      clEnqueueMapBuffer(q, t->storage->mem, CL_TRUE, flags, t->offset, bytes, 0, NULL, NULL, &err);
  CL_CHECK(err);
  if (to_device)
    clmp__convert_array(t->dtype, p, host_dtype, host, t->numel);
  else
    clmp__convert_array(host_dtype, host, t->dtype, p, t->numel);
  CL_CHECK(clEnqueueUnmapMemObject(q, t->storage->mem, p, 0, NULL, NULL));
  if (to_device) CL_CHECK(clFinish(q));
cleanup:
  return st;
}

/* Reads or writes the tensor's bytes with a blocking copy through a staging buffer when the
 * dtypes differ. */
static clmp_status copied_transfer(const clmp_tensor *t, int to_device, clmp_dtype host_dtype,
                                   void *host) {
  clmp_status st = CLMP_SUCCESS;
  cl_command_queue q = t->ctx->queue;
  size_t bytes = clmp_tensor_nbytes(t);
  void *stage = host_dtype == t->dtype ? host : malloc(bytes);
  if (!stage) CLMP_RAISE(CLMP_ERR_OUT_OF_HOST_MEMORY, "staging %zu bytes", bytes);
  if (to_device) {
    if (stage != host) clmp__convert_array(t->dtype, stage, host_dtype, host, t->numel);
    CL_CHECK(
        clEnqueueWriteBuffer(q, t->storage->mem, CL_TRUE, t->offset, bytes, stage, 0, NULL, NULL));
  } else {
    CL_CHECK(
        clEnqueueReadBuffer(q, t->storage->mem, CL_TRUE, t->offset, bytes, stage, 0, NULL, NULL));
    if (stage != host) clmp__convert_array(host_dtype, host, t->dtype, stage, t->numel);
  }
cleanup:
  if (stage != host) free(stage);
  return st;
}

static clmp_status transfer(const clmp_tensor *t, int to_device, clmp_dtype host_dtype,
                            void *host) {
  if (t->ctx->is_ref) {
    if (to_device)
      clmp__convert_array(t->dtype, clmp__tensor_host(t), host_dtype, host, t->numel);
    else
      clmp__convert_array(host_dtype, host, t->dtype, clmp__tensor_host(t), t->numel);
    return CLMP_SUCCESS;
  }
  t->ctx->blocking_calls++;
  if (t->ctx->info.unified_memory) return mapped_transfer(t, to_device, host_dtype, host);
  return copied_transfer(t, to_device, host_dtype, host);
}

clmp_status clmp_tensor_write(clmp_tensor *t, clmp_dtype src_dtype, const void *src, size_t count) {
  clmp_status st = check_transfer(t, src_dtype, src, count, "clmp_tensor_write");
  return st != CLMP_SUCCESS ? st : transfer(t, 1, src_dtype, (void *)src);
}

clmp_status clmp_tensor_read(const clmp_tensor *t, clmp_dtype dst_dtype, void *dst, size_t count) {
  clmp_status st = check_transfer(t, dst_dtype, dst, count, "clmp_tensor_read");
  return st != CLMP_SUCCESS ? st : transfer(t, 0, dst_dtype, dst);
}

clmp_status clmp_tensor_copy(clmp_tensor *dst, const clmp_tensor *src) {
  if (!dst || !src) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_tensor_copy: NULL tensor");
  if (dst->ctx != src->ctx)
    return CLMP_FAIL(CLMP_ERR_CONTEXT_MISMATCH, "clmp_tensor_copy: tensors of two contexts");
  size_t bytes = clmp_tensor_nbytes(src);
  if (clmp_tensor_nbytes(dst) != bytes)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "clmp_tensor_copy: %zu bytes into %zu", bytes,
                     clmp_tensor_nbytes(dst));
  if (clmp__tensors_overlap(dst, src)) {
    if (dst->offset == src->offset) return CLMP_SUCCESS; /* the very same bytes */
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_tensor_copy: src and dst overlap in memory");
  }
  if (dst->ctx->is_ref) {
    memcpy(clmp__tensor_host(dst), clmp__tensor_host(src), bytes);
    return CLMP_SUCCESS;
  }
  cl_int err = clEnqueueCopyBuffer(dst->ctx->queue, src->storage->mem, dst->storage->mem,
                                   src->offset, dst->offset, bytes, 0, NULL, NULL);
  return err == CL_SUCCESS ? CLMP_SUCCESS : CLMP_FAIL(err, "clEnqueueCopyBuffer(%zu bytes)", bytes);
}
