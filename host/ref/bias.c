/* host/ref/bias.c: the reference of the bias rows: bias_add as one fp32 addition per element,
 * bias_grad as column sums accumulated in double, rows in order, rounded once. */
#include "../ops/table.h"

clmp_status clmp__ref_bias_add(clmp_tensor *y, const clmp_tensor *bias) {
  size_t rows = y->shape[0], cols = y->shape[1];
  void *yp = clmp__tensor_host(y);
  const void *bp = clmp__tensor_host(bias);
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++) {
      size_t i = r * cols + c;
      float sum = clmp__load_f32(y->dtype, yp, i) + clmp__load_f32(bias->dtype, bp, c);
      clmp__store_f32(y->dtype, yp, i, sum);
    }
  return CLMP_SUCCESS;
}

clmp_status clmp__ref_bias_grad(const clmp_tensor *dy, float beta, clmp_tensor *db) {
  size_t rows = dy->shape[0], cols = dy->shape[1];
  const void *dyp = clmp__tensor_host(dy);
  void *dbp = clmp__tensor_host(db);
  for (size_t c = 0; c < cols; c++) {
    double s = 0.0;
    for (size_t r = 0; r < rows; r++) s += clmp__load_f32(dy->dtype, dyp, r * cols + c);
    if (beta != 0.0f) s += (double)beta * clmp__load_f32(db->dtype, dbp, c);
    clmp__store_f32(db->dtype, dbp, c, (float)s);
  }
  return CLMP_SUCCESS;
}
