/* host/ref/activation.c: the reference of the act_forward / act_backward rows: ReLU by plain
 * comparison, GELU in double from erfc (Phi(x) = erfc(-x / sqrt 2) / 2, which unlike 1 + erf
 * keeps its relative accuracy for x << 0), each result rounded once to fp32, then to the dtype. */
#include <math.h>

#include "../ops/table.h"

#define INV_SQRT2    0.70710678118654752440 /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794 /* 1/sqrt(2 pi) */

static float relu(float x) {
  if (isnan(x)) return x;
  return x > 0.0f ? x : 0.0f;
}

static float relu_grad(float x, float dy) {
  return x > 0.0f ? dy : 0.0f;
}

static double normal_cdf(double x) {
  return 0.5 * erfc(-x * INV_SQRT2);
}

/* x Phi(x); -inf gives the limit -0. */
static float gelu(float x) {
  if (isinf(x) && x < 0) return -0.0f;
  return (float)(x * normal_cdf(x));
}

/* GELU'(x) = Phi(x) + x phi(x), to fp32 (+-inf: the limits 1 and 0), times dy in fp32. */
static float gelu_grad(float x, float dy) {
  double g =
      isinf(x) ? (x > 0 ? 1.0 : 0.0) : normal_cdf(x) + x * INV_SQRT_2PI * exp(-0.5 * (double)x * x);
  return dy * (float)g;
}

static float forward(clmp__act act, float x) {
  return act == CLMP__ACT_RELU ? relu(x) : gelu(x);
}

static float backward(clmp__act act, float x, float dy) {
  return act == CLMP__ACT_RELU ? relu_grad(x, dy) : gelu_grad(x, dy);
}

clmp_status clmp__ref_act_forward(clmp__act act, const clmp_tensor *x, clmp_tensor *y) {
  const void *xp = clmp__tensor_host(x);
  void *yp = clmp__tensor_host(y);
  for (size_t i = 0; i < y->numel; i++)
    clmp__store_f32(y->dtype, yp, i, forward(act, clmp__load_f32(x->dtype, xp, i)));
  return CLMP_SUCCESS;
}

clmp_status clmp__ref_act_backward(clmp__act act, const clmp_tensor *x, const clmp_tensor *dy,
                                   clmp_tensor *dx) {
  const void *xp = clmp__tensor_host(x), *dyp = clmp__tensor_host(dy);
  void *dxp = clmp__tensor_host(dx);
  for (size_t i = 0; i < dx->numel; i++) {
    float g = backward(act, clmp__load_f32(x->dtype, xp, i), clmp__load_f32(dy->dtype, dyp, i));
    clmp__store_f32(dx->dtype, dxp, i, g);
  }
  return CLMP_SUCCESS;
}
