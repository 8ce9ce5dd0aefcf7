/* host/ref/dropout.c: the reference of the dropout row: the mask from its definition (splitmix64
 * output i from the mixed seed, upper 32 bits against floor(p 2^32)), one fp32 product. */
#include <stdint.h>

#include "../ops/table.h"

#define GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15)

/* The finaliser of Steele, Lea and Flood's splitmix64 (Java's SplittableRandom). */
static uint64_t splitmix_final(uint64_t z) {
  z ^= z >> 30;
  z *= UINT64_C(0xbf58476d1ce4e5b9);
  z ^= z >> 27;
  z *= UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

clmp_status clmp__ref_dropout(const clmp_tensor *x, float p, uint64_t seed, clmp_tensor *y) {
  const uint64_t threshold = clmp__dropout_threshold(p);
  const float scale = clmp__dropout_scale(p);
  const uint64_t key = splitmix_final(seed);
  const void *xp = clmp__tensor_host(x);
  void *yp = clmp__tensor_host(y);
  for (size_t i = 0; i < y->numel; i++) {
    uint64_t state = key + (uint64_t)(i + 1) * GOLDEN_GAMMA;
    int keep = (splitmix_final(state) >> 32) >= threshold;
    float v = clmp__load_f32(x->dtype, xp, i);
    clmp__store_f32(y->dtype, yp, i, keep ? (scale == 1.0f ? v : v * scale) : 0.0f);
  }
  return CLMP_SUCCESS;
}
