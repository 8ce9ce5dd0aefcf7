/* cl/activation.cl: activation forward and backward, element-wise over views. ACT picks the
 * function (0 ReLU, 1 GELU: the values of clmp__act); X_DT, Y_DT (forward) and X_DT, DY_DT,
 * DX_DT (backward) pick the storage dtypes. Arithmetic in fp32. */

#define ACT_RELU          0
#define ACT_GELU          1
#define GELU_INV_SQRT2    0.70710678118654752440f /* 1/sqrt(2) */
#define GELU_INV_SQRT_2PI 0.39894228040143267794f /* 1/sqrt(2 pi), the normal density at 0 */
#define F32_INF_BITS      0x7f800000u

/* x > 0 (+inf included, NaN not), decided on the bits: a device that flushes subnormals to zero
 * in arithmetic (CL_FP_DENORM is optional) still keeps a positive subnormal, so ReLU is exact
 * everywhere. */
int act_positive(float x) {
  return as_uint(x) - 1u < F32_INF_BITS;
}

/* max(x, 0): NaN stays NaN, -0 and negatives give +0. */
float relu_forward(float x) {
  return act_positive(x) || isnan(x) ? x : 0.0f;
}

/* dy where x > 0, else +0 (a NaN x or dy there gives 0: a selection, not a product). */
float relu_backward(float x, float dy) {
  return act_positive(x) ? dy : 0.0f;
}

/* Phi(x), the normal CDF, through erfc: 1 + erf(x / sqrt 2) cancels for x << 0, erfc does not. */
float gelu_cdf(float x) {
  return 0.5f * erfc(-x * GELU_INV_SQRT2);
}

/* x * Phi(x), the exact GELU; at -inf its limit -0 (the product would be -inf * 0). */
float gelu_forward(float x) {
  return isinf(x) && x < 0.0f ? -0.0f : x * gelu_cdf(x);
}

/* dy * (Phi(x) + x phi(x)); at +-inf, x phi(x) is its limit 0 (not inf * 0). */
float gelu_backward(float x, float dy) {
  float x_pdf = isinf(x) ? 0.0f : x * GELU_INV_SQRT_2PI * exp(-0.5f * x * x);
  return dy * (gelu_cdf(x) + x_pdf);
}

#if ACT == ACT_RELU
#define ACT_FORWARD(x)      relu_forward(x)
#define ACT_BACKWARD(x, dy) relu_backward(x, dy)
#elif ACT == ACT_GELU
#define ACT_FORWARD(x)      gelu_forward(x)
#define ACT_BACKWARD(x, dy) gelu_backward(x, dy)
#else
#error "ACT must be 0 (ReLU) or 1 (GELU)"
#endif

#ifdef Y_DT
/* y = act(x) over n elements (x may be y). */
__kernel void act_forward(__global const TYPE(X_DT) *x, const ulong x_off, __global TYPE(Y_DT) *y,
                          const ulong y_off, const ulong n) {
  CLMP_FOR_ITEMS(i, n)
    STORE(Y_DT, y, y_off + i, ACT_FORWARD(LOAD(X_DT, x, x_off + i)));
}
#endif

#ifdef DX_DT
/* dx = dy * act'(x) over n elements; x is the forward input (dx may be dy). */
__kernel void act_backward(__global const TYPE(X_DT) *x, const ulong x_off,
                           __global const TYPE(DY_DT) *dy, const ulong dy_off,
                           __global TYPE(DX_DT) *dx, const ulong dx_off, const ulong n) {
  CLMP_FOR_ITEMS(i, n)
    STORE(DX_DT, dx, dx_off + i,
          ACT_BACKWARD(LOAD(X_DT, x, x_off + i), LOAD(DY_DT, dy, dy_off + i)));
}
#endif
