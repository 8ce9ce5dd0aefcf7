/* host/ops/stubs_layers.c: placeholders of the batch-norm ops while they are being written: every entry fails with CLMP_ERR_UNSUPPORTED. Deleted when their files land
 * (host/ops/pool.c, norm.c, host/ref/..., host/verify/cases_layers.c). */
#include "../runtime/error.h"
#include "../verify/verify_impl.h"
#include "table.h"

#define NOT_YET(what) CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "%s: not written yet", what)

clmp_status clmp_batch_norm_train(const clmp_tensor *x, const clmp_tensor *gamma,
                                  const clmp_tensor *beta, float momentum, float eps,
                                  clmp_tensor *running_mean, clmp_tensor *running_var,
                                  clmp_tensor *save_mean, clmp_tensor *save_invstd,
                                  clmp_tensor *y) {
  (void)x, (void)gamma, (void)beta, (void)momentum, (void)eps, (void)running_mean;
  (void)running_var, (void)save_mean, (void)save_invstd, (void)y;
  return NOT_YET("clmp_batch_norm_train");
}

clmp_status clmp_batch_norm_eval(const clmp_tensor *x, const clmp_tensor *gamma,
                                 const clmp_tensor *beta, const clmp_tensor *running_mean,
                                 const clmp_tensor *running_var, float eps, clmp_tensor *y) {
  (void)x, (void)gamma, (void)beta, (void)running_mean, (void)running_var, (void)eps, (void)y;
  return NOT_YET("clmp_batch_norm_eval");
}

clmp_status clmp_batch_norm_backward(const clmp_tensor *x, const clmp_tensor *dy,
                                     const clmp_tensor *gamma, const clmp_tensor *save_mean,
                                     const clmp_tensor *save_invstd, float acc, clmp_tensor *dgamma,
                                     clmp_tensor *dbeta, clmp_tensor *dx) {
  (void)x, (void)dy, (void)gamma, (void)save_mean, (void)save_invstd, (void)acc;
  (void)dgamma, (void)dbeta, (void)dx;
  return NOT_YET("clmp_batch_norm_backward");
}

#define LAYER_ROWS(prefix)                                                                         \
  clmp_status prefix##batch_norm_train(                                                            \
      const clmp_tensor *x, const clmp_tensor *gamma, const clmp_tensor *beta, float momentum,     \
      float eps, clmp_tensor *running_mean, clmp_tensor *running_var, clmp_tensor *save_mean,      \
      clmp_tensor *save_invstd, clmp_tensor *y) {                                                  \
    (void)x, (void)gamma, (void)beta, (void)momentum, (void)eps, (void)running_mean;               \
    (void)running_var, (void)save_mean, (void)save_invstd, (void)y;                                \
    return NOT_YET("batch_norm_train");                                                            \
  }                                                                                                \
  clmp_status prefix##batch_norm_eval(const clmp_tensor *x, const clmp_tensor *gamma,              \
                                      const clmp_tensor *beta, const clmp_tensor *running_mean,    \
                                      const clmp_tensor *running_var, float eps, clmp_tensor *y) { \
    (void)x, (void)gamma, (void)beta, (void)running_mean, (void)running_var, (void)eps, (void)y;   \
    return NOT_YET("batch_norm_eval");                                                             \
  }                                                                                                \
  clmp_status prefix##batch_norm_backward(                                                         \
      const clmp_tensor *x, const clmp_tensor *dy, const clmp_tensor *gamma,                       \
      const clmp_tensor *save_mean, const clmp_tensor *save_invstd, float acc,                     \
      clmp_tensor *dgamma, clmp_tensor *dbeta, clmp_tensor *dx) {                                  \
    (void)x, (void)dy, (void)gamma, (void)save_mean, (void)save_invstd, (void)acc;                 \
    (void)dgamma, (void)dbeta, (void)dx;                                                           \
    return NOT_YET("batch_norm_backward");                                                         \
  }
LAYER_ROWS(clmp__cl_)
LAYER_ROWS(clmp__ref_)

const clmp__verify_case clmp__verify_cases_layers[] = {{NULL, NULL}};
