/* host/ops/pending_elementwise.c: TEMPORARY placeholders of the elementwise rows while they are
 * being written; this file is deleted when the real implementations land. */
#include "../runtime/error.h"
#include "table.h"

clmp_status clmp__cl_fill(clmp_tensor *t, float value) {
  (void)t;
  (void)value;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "fill: not written yet");
}

clmp_status clmp__cl_axpby(float a, const clmp_tensor *x, float b, clmp_tensor *y) {
  (void)a;
  (void)x;
  (void)b;
  (void)y;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "axpby: not written yet");
}

clmp_status clmp__cl_act_forward(clmp__act act, const clmp_tensor *x, clmp_tensor *y) {
  (void)act;
  (void)x;
  (void)y;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "act_forward: not written yet");
}

clmp_status clmp__cl_act_backward(clmp__act act, const clmp_tensor *x, const clmp_tensor *dy,
                                  clmp_tensor *dx) {
  (void)act;
  (void)x;
  (void)dy;
  (void)dx;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "act_backward: not written yet");
}

clmp_status clmp__cl_bias_add(clmp_tensor *y, const clmp_tensor *bias) {
  (void)y;
  (void)bias;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "bias_add: not written yet");
}

clmp_status clmp__cl_bias_grad(const clmp_tensor *dy, float beta, clmp_tensor *db) {
  (void)dy;
  (void)beta;
  (void)db;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "bias_grad: not written yet");
}

clmp_status clmp__ref_fill(clmp_tensor *t, float value) {
  (void)t;
  (void)value;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "fill: not written yet");
}

clmp_status clmp__ref_axpby(float a, const clmp_tensor *x, float b, clmp_tensor *y) {
  (void)a;
  (void)x;
  (void)b;
  (void)y;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "axpby: not written yet");
}

clmp_status clmp__ref_act_forward(clmp__act act, const clmp_tensor *x, clmp_tensor *y) {
  (void)act;
  (void)x;
  (void)y;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "act_forward: not written yet");
}

clmp_status clmp__ref_act_backward(clmp__act act, const clmp_tensor *x, const clmp_tensor *dy,
                                   clmp_tensor *dx) {
  (void)act;
  (void)x;
  (void)dy;
  (void)dx;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "act_backward: not written yet");
}

clmp_status clmp__ref_bias_add(clmp_tensor *y, const clmp_tensor *bias) {
  (void)y;
  (void)bias;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "bias_add: not written yet");
}

clmp_status clmp__ref_bias_grad(const clmp_tensor *dy, float beta, clmp_tensor *db) {
  (void)dy;
  (void)beta;
  (void)db;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "bias_grad: not written yet");
}
