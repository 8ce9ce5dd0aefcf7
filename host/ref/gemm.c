/* host/ref/gemm.c: the reference of clmp_gemm: a plain triple loop, products of the stored values
 * accumulated in double in increasing k, then alpha and beta applied in double, and one rounding
 * to fp32 followed by the exact conversion to C's dtype. */
#include <stdlib.h>

#include "../runtime/error.h"
#include "../ops/table.h"

/* op(X) as a dense fp32 array of r x s elements (op(X)[i, j] at i * s + j), exact. */
static float *op_dense(clmp_transpose t, const clmp_matrix *m, size_t r, size_t s) {
  float *out = malloc(r * s * sizeof *out);
  const void *p = clmp__tensor_host(m->t);
  for (size_t i = 0; out && i < r; i++)
    for (size_t j = 0; j < s; j++) {
      size_t at = m->offset + (t == CLMP_TRANS ? j * m->ld + i : i * m->ld + j);
      out[i * s + j] = clmp__load_f32(m->t->dtype, p, at);
    }
  return out;
}

/* C[i, j] = alpha * sum_k op(A)[i, k] * op(B)[k, j] + beta * C[i, j]; beta 0 does not read C. */
static void multiply(const float *a, const float *bt, size_t m_len, size_t n_len, size_t k_len,
                     float alpha, float beta, const clmp_matrix *c) {
  void *p = clmp__tensor_host(c->t);
  for (size_t i = 0; i < m_len; i++)
    for (size_t j = 0; j < n_len; j++) {
      double acc = 0;
      for (size_t k = 0; k < k_len; k++) acc += (double)a[i * k_len + k] * bt[j * k_len + k];
      size_t at = c->offset + i * c->ld + j;
      double v = (double)alpha * acc;
      if (beta != 0) v += (double)beta * clmp__load_f32(c->t->dtype, p, at);
      clmp__store_f32(c->t->dtype, p, at, (float)v);
    }
}

clmp_status clmp__ref_gemm(clmp_transpose ta, clmp_transpose tb, float alpha, const clmp_matrix *a,
                           const clmp_matrix *b, float beta, const clmp_matrix *c) {
  size_t m = c->rows, n = c->cols, k = ta == CLMP_TRANS ? a->rows : a->cols;
  /* op(B) transposed, [N, K], so that both operands are read along k. */
  clmp_transpose tbt = tb == CLMP_TRANS ? CLMP_NO_TRANS : CLMP_TRANS;
  float *ad = op_dense(ta, a, m, k), *bt = op_dense(tbt, b, n, k);
  clmp_status st = CLMP_SUCCESS;
  if (ad && bt)
    multiply(ad, bt, m, n, k, alpha, beta, c);
  else
    st = CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_gemm (ref): %zu x %zu x %zu", m, n, k);
  free(ad);
  free(bt);
  return st;
}
