/* host/ref/data.c: the reference of clmp_gather_rows. */
#include <math.h>
#include <stdint.h>

#include "../ops/table.h"

/* Element i of a host array of any dtype, as fp32. */
static float load_any(clmp_dtype d, const void *p, size_t i) {
  if (d == CLMP_I32) return (float)((const int32_t *)p)[i];
  if (d == CLMP_U8) return (float)((const uint8_t *)p)[i];
  return clmp__load_f32(d, p, i);
}

/* Stores v in any dtype; integers truncated toward zero and saturated, NaN to 0. */
static void store_any(clmp_dtype d, void *p, size_t i, float v) {
  if (d == CLMP_I32)
    ((int32_t *)p)[i] = isnan(v)        ? 0
                        : v >= 0x1p31f  ? INT32_MAX
                        : v <= -0x1p31f ? INT32_MIN
                                        : (int32_t)v;
  else if (d == CLMP_U8)
    ((uint8_t *)p)[i] = isnan(v) || v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
  else
    clmp__store_f32(d, p, i, v);
}

clmp_status clmp__ref_gather_rows(const clmp_tensor *src, const clmp_tensor *idx, float scale,
                                  float shift, clmp_tensor *dst) {
  const int32_t *ix = clmp__tensor_host(idx);
  const void *s = clmp__tensor_host(src);
  void *d = clmp__tensor_host(dst);
  size_t rows = src->shape[0], cols = src->shape[1];
  for (size_t b = 0; b < dst->shape[0]; b++)
    for (size_t c = 0; c < cols; c++) {
      int32_t r = ix[b];
      float v = r >= 0 && (size_t)r < rows
                    ? fmaf(load_any(src->dtype, s, (size_t)r * cols + c), scale, shift)
                    : NAN;
      store_any(dst->dtype, d, b * cols + c, v);
    }
  return CLMP_SUCCESS;
}
