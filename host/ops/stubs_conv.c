/* host/ops/stubs_conv.c: placeholders of the convolution ops while they are being written: every
 * entry fails with CLMP_ERR_UNSUPPORTED. Deleted when host/ops/conv.c, host/ref/conv.c and
 * host/verify/cases_conv.c land. */
#include "../runtime/error.h"
#include "../verify/verify_impl.h"
#include "table.h"

#define NOT_YET(what) CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "%s: not written yet", what)

void clmp_conv2d_params_default(clmp_conv2d_params *p) {
  if (!p) return;
  *p = (clmp_conv2d_params){{1, 1}, {0, 0}, {1, 1}, 1};
}

clmp_status clmp_conv2d_output_shape(const size_t x_shape[4], const size_t w_shape[4],
                                     const clmp_conv2d_params *p, size_t y_shape[4]) {
  (void)x_shape, (void)w_shape, (void)p, (void)y_shape;
  return NOT_YET("clmp_conv2d_output_shape");
}

clmp_status clmp_conv2d_workspace_size(const clmp_ctx *ctx, const size_t x_shape[4],
                                       const size_t w_shape[4], const clmp_conv2d_params *p,
                                       size_t *bytes) {
  (void)ctx, (void)x_shape, (void)w_shape, (void)p, (void)bytes;
  return NOT_YET("clmp_conv2d_workspace_size");
}

clmp_status clmp_conv2d(const clmp_tensor *x, const clmp_tensor *w, const clmp_conv2d_params *p,
                        clmp_tensor *workspace, clmp_tensor *y) {
  (void)x, (void)w, (void)p, (void)workspace, (void)y;
  return NOT_YET("clmp_conv2d");
}

clmp_status clmp_conv2d_backward_data(const clmp_tensor *dy, const clmp_tensor *w,
                                      const clmp_conv2d_params *p, clmp_tensor *workspace,
                                      clmp_tensor *dx) {
  (void)dy, (void)w, (void)p, (void)workspace, (void)dx;
  return NOT_YET("clmp_conv2d_backward_data");
}

clmp_status clmp_conv2d_backward_filter(const clmp_tensor *x, const clmp_tensor *dy,
                                        const clmp_conv2d_params *p, float beta,
                                        clmp_tensor *workspace, clmp_tensor *dw) {
  (void)x, (void)dy, (void)p, (void)beta, (void)workspace, (void)dw;
  return NOT_YET("clmp_conv2d_backward_filter");
}

#define CONV_ROWS(prefix)                                                                    \
  clmp_status prefix##conv2d(const clmp_tensor *x, const clmp_tensor *w,                     \
                             const clmp_conv2d_params *p, clmp_tensor *ws, clmp_tensor *y) { \
    (void)x, (void)w, (void)p, (void)ws, (void)y;                                            \
    return NOT_YET("conv2d");                                                                \
  }                                                                                          \
  clmp_status prefix##conv2d_backward_data(const clmp_tensor *dy, const clmp_tensor *w,      \
                                           const clmp_conv2d_params *p, clmp_tensor *ws,     \
                                           clmp_tensor *dx) {                                \
    (void)dy, (void)w, (void)p, (void)ws, (void)dx;                                          \
    return NOT_YET("conv2d_backward_data");                                                  \
  }                                                                                          \
  clmp_status prefix##conv2d_backward_filter(const clmp_tensor *x, const clmp_tensor *dy,    \
                                             const clmp_conv2d_params *p, float beta,        \
                                             clmp_tensor *ws, clmp_tensor *dw) {             \
    (void)x, (void)dy, (void)p, (void)beta, (void)ws, (void)dw;                              \
    return NOT_YET("conv2d_backward_filter");                                                \
  }
CONV_ROWS(clmp__cl_)
CONV_ROWS(clmp__ref_)

const clmp__verify_case clmp__verify_cases_conv[] = {{NULL, NULL}};
