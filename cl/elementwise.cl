/* cl/elementwise.cl: fill, axpby and add over tensor views (offsets in elements), the storage
 * dtypes chosen by -D (T_DT for fill; X_DT and Y_DT for axpby; A_DT, B_DT and Y_DT for add);
 * arithmetic in fp32. */

/* a * x + b * y is two rounded products and one rounded sum on every device, never a fused
 * multiply-add, so the result is defined to the bit (and equals the reference's). */
#pragma OPENCL FP_CONTRACT OFF

#ifdef T_DT
/* t[off + i] = value for i < n, rounded to T_DT (integer dtypes: truncated toward zero; the host
 * has checked that the value fits). */
__kernel void fill(__global TYPE(T_DT) *t, const ulong off, const float value, const ulong n) {
  CLMP_FOR_ITEMS(i, n) STORE(T_DT, t, off + i, value);
}
#endif

#ifdef X_DT
/* y = a * x + b * y over n elements; with b == 0, y is not read (x may be y). */
__kernel void axpby(const float a, __global const TYPE(X_DT) *x, const ulong x_off, const float b,
                    __global TYPE(Y_DT) *y, const ulong y_off, const ulong n) {
  CLMP_FOR_ITEMS(i, n) {
    float r = a * LOAD(X_DT, x, x_off + i);
    if (b != 0.0f) r = r + b * LOAD(Y_DT, y, y_off + i);
    STORE(Y_DT, y, y_off + i, r);
  }
}
#endif

#ifdef A_DT
/* y = a + b over n elements: one fp32 sum, one rounding to Y_DT (y may be a or b). */
__kernel void add(__global const TYPE(A_DT) *a, const ulong a_off, __global const TYPE(B_DT) *b,
                  const ulong b_off, __global TYPE(Y_DT) *y, const ulong y_off, const ulong n) {
  CLMP_FOR_ITEMS(i, n)
  STORE(Y_DT, y, y_off + i, LOAD(A_DT, a, a_off + i) + LOAD(B_DT, b, b_off + i));
}
#endif
