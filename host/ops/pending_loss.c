/* host/ops/pending_loss.c: TEMPORARY placeholders of the loss rows while they are being
 * written; this file is deleted when the real implementations land. */
#include "../runtime/error.h"
#include "table.h"

clmp_status clmp__cl_softmax_xent(const clmp_tensor *logits, const clmp_tensor *labels,
                                  clmp_tensor *loss) {
  (void)logits;
  (void)labels;
  (void)loss;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "softmax_xent: not written yet");
}

clmp_status clmp__cl_softmax_xent_backward(const clmp_tensor *logits, const clmp_tensor *labels,
                                           const clmp_tensor *scale, clmp_tensor *dlogits) {
  (void)logits;
  (void)labels;
  (void)scale;
  (void)dlogits;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "softmax_xent_backward: not written yet");
}

clmp_status clmp__cl_argmax(const clmp_tensor *x, clmp_tensor *out) {
  (void)x;
  (void)out;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "argmax: not written yet");
}

clmp_status clmp__cl_correct_count(const clmp_tensor *logits, const clmp_tensor *labels,
                                   clmp_tensor *count) {
  (void)logits;
  (void)labels;
  (void)count;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "correct_count: not written yet");
}

clmp_status clmp__cl_nonfinite_check(const clmp_tensor *x, clmp_tensor *flag) {
  (void)x;
  (void)flag;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "nonfinite_check: not written yet");
}

clmp_status clmp__cl_sum_squares(const clmp_tensor *x, float beta, clmp_tensor *out) {
  (void)x;
  (void)beta;
  (void)out;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "sum_squares: not written yet");
}

clmp_status clmp__ref_softmax_xent(const clmp_tensor *logits, const clmp_tensor *labels,
                                   clmp_tensor *loss) {
  (void)logits;
  (void)labels;
  (void)loss;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "softmax_xent: not written yet");
}

clmp_status clmp__ref_softmax_xent_backward(const clmp_tensor *logits, const clmp_tensor *labels,
                                            const clmp_tensor *scale, clmp_tensor *dlogits) {
  (void)logits;
  (void)labels;
  (void)scale;
  (void)dlogits;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "softmax_xent_backward: not written yet");
}

clmp_status clmp__ref_argmax(const clmp_tensor *x, clmp_tensor *out) {
  (void)x;
  (void)out;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "argmax: not written yet");
}

clmp_status clmp__ref_correct_count(const clmp_tensor *logits, const clmp_tensor *labels,
                                    clmp_tensor *count) {
  (void)logits;
  (void)labels;
  (void)count;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "correct_count: not written yet");
}

clmp_status clmp__ref_nonfinite_check(const clmp_tensor *x, clmp_tensor *flag) {
  (void)x;
  (void)flag;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "nonfinite_check: not written yet");
}

clmp_status clmp__ref_sum_squares(const clmp_tensor *x, float beta, clmp_tensor *out) {
  (void)x;
  (void)beta;
  (void)out;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "sum_squares: not written yet");
}
