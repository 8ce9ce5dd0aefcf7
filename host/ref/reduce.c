/* host/ref/reduce.c: the reference of the whole-tensor reductions: the non-finite check and the
 * sum of squares (double, in index order, rounded once to fp32). */
#include <math.h>
#include <stdint.h>

#include "../ops/table.h"

clmp_status clmp__ref_nonfinite_check(const clmp_tensor *x, clmp_tensor *flag) {
  const void *p = clmp__tensor_host(x);
  int found = 0;
  for (size_t i = 0; i < x->numel && !found; i++) found = !isfinite(clmp__load_f32(x->dtype, p, i));
  if (found) *(int32_t *)clmp__tensor_host(flag) = 1;
  return CLMP_SUCCESS;
}

/* out = sum x^2 + beta * out; with beta == 0, out's old value is not read. */
clmp_status clmp__ref_sum_squares(const clmp_tensor *x, float beta, clmp_tensor *out) {
  const void *p = clmp__tensor_host(x);
  void *o = clmp__tensor_host(out);
  double acc = 0.0;
  for (size_t i = 0; i < x->numel; i++) {
    double v = clmp__load_f32(x->dtype, p, i);
    acc += v * v;
  }
  if (beta != 0.0f) acc += (double)beta * clmp__load_f32(CLMP_F32, o, 0);
  clmp__store_f32(CLMP_F32, o, 0, (float)acc);
  return CLMP_SUCCESS;
}
