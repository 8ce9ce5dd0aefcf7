/* host/ref/bias.c: the reference of the bias rows along dimension 1 of [N, C, S] views: bias_add
 * as one fp32 addition per element, bias_grad as channel sums accumulated in double (n, then s,
 * in order), rounded once. */
#include "../ops/table.h"

clmp_status clmp__ref_bias_add(clmp_tensor *y, const clmp_tensor *bias) {
  clmp__ncs v = clmp__ncs_of(y);
  void *yp = clmp__tensor_host(y);
  const void *bp = clmp__tensor_host(bias);
  for (size_t n = 0; n < v.n; n++)
    for (size_t c = 0; c < v.c; c++)
      for (size_t s = 0; s < v.s; s++) {
        size_t i = (n * v.c + c) * v.s + s;
        float sum = clmp__load_f32(y->dtype, yp, i) + clmp__load_f32(bias->dtype, bp, c);
        clmp__store_f32(y->dtype, yp, i, sum);
      }
  return CLMP_SUCCESS;
}

clmp_status clmp__ref_bias_grad(const clmp_tensor *dy, float beta, clmp_tensor *db) {
  clmp__ncs v = clmp__ncs_of(dy);
  const void *dyp = clmp__tensor_host(dy);
  void *dbp = clmp__tensor_host(db);
  for (size_t c = 0; c < v.c; c++) {
    double sum = 0.0;
    for (size_t n = 0; n < v.n; n++)
      for (size_t s = 0; s < v.s; s++)
        sum += clmp__load_f32(dy->dtype, dyp, (n * v.c + c) * v.s + s);
    if (beta != 0.0f) sum += (double)beta * clmp__load_f32(db->dtype, dbp, c);
    clmp__store_f32(db->dtype, dbp, c, (float)sum);
  }
  return CLMP_SUCCESS;
}
