/* host/ops/pending_amp.c: TEMPORARY placeholders of the amp rows while they are being
 * written; this file is deleted when the real implementations land. */
#include "../runtime/error.h"
#include "table.h"

clmp_status clmp__cl_amp_check(const clmp_tensor *grads, int want_sumsq, clmp_tensor *state) {
  (void)grads;
  (void)want_sumsq;
  (void)state;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "amp_check: not written yet");
}

clmp_status clmp__cl_amp_step(const clmp__step_params *p, const clmp_tensor *state,
                              const clmp_tensor *grads, clmp_tensor *master, clmp_tensor *m1,
                              clmp_tensor *m2, clmp_tensor *working) {
  (void)p;
  (void)state;
  (void)grads;
  (void)master;
  (void)m1;
  (void)m2;
  (void)working;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "amp_step: not written yet");
}

clmp_status clmp__cl_amp_update(const clmp__scaler_params *p, clmp_tensor *state) {
  (void)p;
  (void)state;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "amp_update: not written yet");
}

clmp_status clmp__ref_amp_check(const clmp_tensor *grads, int want_sumsq, clmp_tensor *state) {
  (void)grads;
  (void)want_sumsq;
  (void)state;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "amp_check: not written yet");
}

clmp_status clmp__ref_amp_step(const clmp__step_params *p, const clmp_tensor *state,
                               const clmp_tensor *grads, clmp_tensor *master, clmp_tensor *m1,
                               clmp_tensor *m2, clmp_tensor *working) {
  (void)p;
  (void)state;
  (void)grads;
  (void)master;
  (void)m1;
  (void)m2;
  (void)working;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "amp_step: not written yet");
}

clmp_status clmp__ref_amp_update(const clmp__scaler_params *p, clmp_tensor *state) {
  (void)p;
  (void)state;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "amp_update: not written yet");
}
