/* host/ops/pending_gemm.c: TEMPORARY placeholders of the gemm rows while they are being
 * written; this file is deleted when the real implementations land. */
#include "../runtime/error.h"
#include "table.h"

clmp_status clmp__cl_gemm(clmp_transpose ta, clmp_transpose tb, float alpha, const clmp_matrix *a,
                          const clmp_matrix *b, float beta, const clmp_matrix *c) {
  (void)ta;
  (void)tb;
  (void)alpha;
  (void)a;
  (void)b;
  (void)beta;
  (void)c;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "gemm: not written yet");
}

clmp_status clmp__ref_gemm(clmp_transpose ta, clmp_transpose tb, float alpha, const clmp_matrix *a,
                           const clmp_matrix *b, float beta, const clmp_matrix *c) {
  (void)ta;
  (void)tb;
  (void)alpha;
  (void)a;
  (void)b;
  (void)beta;
  (void)c;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "gemm: not written yet");
}
