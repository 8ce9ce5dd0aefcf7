/* host/ref/elementwise.c: the reference of the fill, axpby and add rows: plain loops, fp32
 * arithmetic (each product and the sum rounded on its own), one rounding to the storage dtype. */
#include <stdint.h>

#include "../ops/table.h"

clmp_status clmp__ref_fill(clmp_tensor *t, float value) {
  void *p = clmp__tensor_host(t);
  for (size_t i = 0; i < t->numel; i++) {
    if (t->dtype == CLMP_I32)
      ((int32_t *)p)[i] = (int32_t)value;
    else if (t->dtype == CLMP_U8)
      ((uint8_t *)p)[i] = (uint8_t)value;
    else
      clmp__store_f32(t->dtype, p, i, value);
  }
  return CLMP_SUCCESS;
}

clmp_status clmp__ref_axpby(float a, const clmp_tensor *x, float b, clmp_tensor *y) {
  const void *xp = clmp__tensor_host(x);
  void *yp = clmp__tensor_host(y);
  for (size_t i = 0; i < y->numel; i++) {
    float ax = a * clmp__load_f32(x->dtype, xp, i), r = ax;
    if (b != 0.0f) {
      float by = b * clmp__load_f32(y->dtype, yp, i);
      r = ax + by;
    }
    clmp__store_f32(y->dtype, yp, i, r);
  }
  return CLMP_SUCCESS;
}

/* y may be a or b: each element is read before it is written. */
clmp_status clmp__ref_add(const clmp_tensor *a, const clmp_tensor *b, clmp_tensor *y) {
  const void *ap = clmp__tensor_host(a), *bp = clmp__tensor_host(b);
  void *yp = clmp__tensor_host(y);
  for (size_t i = 0; i < y->numel; i++) {
    float sum = clmp__load_f32(a->dtype, ap, i) + clmp__load_f32(b->dtype, bp, i);
    clmp__store_f32(y->dtype, yp, i, sum);
  }
  return CLMP_SUCCESS;
}
