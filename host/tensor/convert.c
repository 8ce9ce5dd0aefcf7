/* host/tensor/convert.c: exact scalar conversions between fp32 and binary16 / bfloat16 bits.
 * Pure integer bit manipulation: no float arithmetic, so no dependence on rounding mode or FTZ. */
#include "clmp/convert.h"

#include <string.h>

#define F32_SIGN      0x80000000u
#define F32_ABS       0x7FFFFFFFu
#define F32_INF       0x7F800000u
#define F32_QUIET     0x00400000u
#define F32_MANT      0x007FFFFFu
#define F32_MANT_BITS 23
#define F32_HIDDEN    0x00800000u /* the implicit leading 1 of a normal fp32 */
#define F32_EXP_2M14  113         /* fp32 biased exponent of 2^-14, fp16's smallest normal */

#define F16_SIGN       0x8000u
#define F16_INF        0x7C00u
#define F16_QUIET      0x0200u
#define F16_MANT       0x03FFu
#define F16_MANT_BITS  10
#define F16_EXP_MASK   0x1Fu
#define F16_SIGN_SHIFT 16                              /* fp32 sign bit -> fp16 sign bit */
#define F16_DROPPED    (F32_MANT_BITS - F16_MANT_BITS) /* 13 mantissa bits dropped */
#define F16_REBIAS     ((127u - 15u) << F32_MANT_BITS) /* fp32 biased exponent -> fp16's */
#define F16_OVERFLOW   0x477FF000u /* |x| >= 65520 (halfway 65504..65536) rounds to inf */
#define F16_MIN_NORMAL 0x38800000u /* 2^-14 as fp32 */
#define F16_HALF_MIN   0x33000000u /* 2^-25: at or below it, everything rounds to zero */
#define F16_SUB_SHIFT0 126 /* shift of a 24-bit fp32 significand to units of 2^-24 is 126-e */

#define BF16_QUIET     0x0040u
#define BF16_SHIFT     16
#define BF16_HALF_LESS 0x7FFFu /* just under half a bf16 ulp, in fp32 units */

static uint32_t f32_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static float f32_from_bits(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* m >> shift, rounded to nearest, ties to even; 1 <= shift <= 31. */
static uint32_t shift_round_even(uint32_t m, unsigned shift) {
  uint32_t q = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) q++;
  return q;
}

/* NaN rule, as x86 F16C's vcvtps2ph: sign kept, quiet bit set, top 10 payload bits kept. */
uint16_t clmp_f32_to_f16(float x) {
  uint32_t u = f32_bits(x);
  uint16_t sign = (uint16_t)((u & F32_SIGN) >> F16_SIGN_SHIFT);
  uint32_t a = u & F32_ABS;
  if (a > F32_INF) return (uint16_t)(sign | F16_INF | F16_QUIET | ((a >> F16_DROPPED) & F16_MANT));
  if (a >= F16_OVERFLOW) return (uint16_t)(sign | F16_INF);
  if (a >= F16_MIN_NORMAL) return (uint16_t)(sign | shift_round_even(a - F16_REBIAS, F16_DROPPED));
  if (a <= F16_HALF_MIN) return sign;
  /* Subnormal result, in units of 2^-24; a count of 1024 is the smallest normal, which the bit
   * layout encodes the same way. Exponents here are 102..112, so the shift is 14..24. */
  unsigned e = a >> F32_MANT_BITS;
  uint32_t m = (a & F32_MANT) | F32_HIDDEN;
  return (uint16_t)(sign | shift_round_even(m, F16_SUB_SHIFT0 - e));
}

/* A NaN widens quieted, payload kept (IEEE 754 conversion; what F16C and vload_half do). */
float clmp_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & F16_SIGN) << F16_SIGN_SHIFT;
  uint32_t e = (h >> F16_MANT_BITS) & F16_EXP_MASK;
  uint32_t m = h & F16_MANT;
  if (e == F16_EXP_MASK)
    return f32_from_bits(sign | F32_INF | (m ? F32_QUIET : 0) | m << F16_DROPPED);
  if (e != 0)
    return f32_from_bits(sign | ((((e << F16_MANT_BITS) | m) << F16_DROPPED) + F16_REBIAS));
  if (m == 0) return f32_from_bits(sign);
  /* Subnormal: normalize until the leading 1 reaches the hidden-bit position. */
  uint32_t fe = F32_EXP_2M14;
  while (!(m & (F16_MANT + 1u))) {
    m <<= 1;
    fe--;
  }
  return f32_from_bits(sign | (fe << F32_MANT_BITS) | ((m & F16_MANT) << F16_DROPPED));
}

/* Rounding by integer add: a carry out of the mantissa bumps the exponent, and one out of the
 * largest finite value lands exactly on inf. NaN goes first, so that it cannot round to inf. */
uint16_t clmp_f32_to_bf16(float x) {
  uint32_t u = f32_bits(x);
  if ((u & F32_ABS) > F32_INF) return (uint16_t)((u >> BF16_SHIFT) | BF16_QUIET);
  return (uint16_t)((u + BF16_HALF_LESS + ((u >> BF16_SHIFT) & 1u)) >> BF16_SHIFT);
}

float clmp_bf16_to_f32(uint16_t h) {
  return f32_from_bits((uint32_t)h << BF16_SHIFT);
}
