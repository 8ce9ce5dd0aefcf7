/* cl/dropout.cl: dropout and its backward (the same mask on dy): y[i] = x[i] * scale where
 * keep(seed, i), else 0, a counter-based mask of the element index alone (X_DT, Y_DT). */

/* splitmix64's constants: the increment (2^64 / golden ratio) and the finaliser's multipliers. */
#define DROP_GAMMA 0x9e3779b97f4a7c15ul
#define DROP_MIX1  0xbf58476d1ce4e5b9ul
#define DROP_MIX2  0x94d049bb133111ebul

/* splitmix64's finaliser: a bijection of 64-bit words that mixes every bit into every bit. */
inline ulong drop_mix(ulong z) {
  z = (z ^ (z >> 30)) * DROP_MIX1;
  z = (z ^ (z >> 27)) * DROP_MIX2;
  return z ^ (z >> 31);
}

/* Element i is kept when the upper half of output i of splitmix64 started from the mixed seed
 * is at least threshold (= floor(p 2^32), host/ops/dropout.c). */
inline int drop_keep(ulong key, ulong i, uint threshold) {
  return (uint)(drop_mix(key + (i + 1) * DROP_GAMMA) >> 32) >= threshold;
}

/* y = x * scale where kept, else +0, over n elements; key = drop_mix(seed). A scale of 1 copies
 * x exactly (a device that flushes subnormals would lose them in a product). x may be y. */
__kernel void dropout(__global const TYPE(X_DT) *x, const ulong x_off, __global TYPE(Y_DT) *y,
                      const ulong y_off, const ulong n, const ulong seed, const uint threshold,
                      const float scale) {
  const ulong key = drop_mix(seed);
  CLMP_FOR_ITEMS(i, n) {
    float v = LOAD(X_DT, x, x_off + i);
    float kept = scale == 1.0f ? v : v * scale;
    STORE(Y_DT, y, y_off + i, drop_keep(key, i, threshold) ? kept : 0.0f);
  }
}
