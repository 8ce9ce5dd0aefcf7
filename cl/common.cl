/* cl/common.cl: the prelude of every clmp program: storage types and the loads and stores that
 * turn them into fp32, chosen by -D options (IN_DT, OUT_DT = F32, F16 or BF16). */

/* Storage types. half needs no cl_khr_fp16 as long as it is only reached through vload_half and
 * vstore_half; bf16 is the upper half of an fp32, kept in a ushort. */
#define TYPE_F32 float
#define TYPE_F16 half
#define TYPE_BF16 ushort
#define TYPE_I32 int
#define TYPE_U8 uchar

#define CLMP_CAT_(a, b) a##b
#define CLMP_CAT(a, b) CLMP_CAT_(a, b)

/* bf16 -> f32 is exact: the bits become the upper half. */
inline float clmp_bf16_to_f32(ushort h) {
  return as_float((uint)h << 16);
}

/* f32 -> bf16, round to nearest even on the bits; NaN stays NaN (quiet bit set, sign kept). */
inline ushort clmp_f32_to_bf16(float f) {
  uint u = as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (ushort)(u >> 16);
}

/* f32 -> f16 bits for NaN, the rule of clmp_f32_to_f16: sign, quiet bit, top payload bits. */
inline ushort clmp_nan_to_f16(float f) {
  uint u = as_uint(f);
  return (ushort)(((u >> 16) & 0x8000u) | 0x7e00u | ((u >> 13) & 0x03ffu));
}

/* f16 NaN -> f32 by the rule of clmp_f16_to_f32 (quieted, payload kept): vload_half's NaNs differ
 * between drivers (NVIDIA's are 0x7fffffff), everything else it converts exactly. */
inline float clmp_f16_nan_fix(ushort h, float v) {
  if ((h & 0x7fffu) <= 0x7c00u) return v;
  return as_float(((uint)(h & 0x8000u) << 16) | 0x7fc00000u | ((uint)(h & 0x03ffu) << 13));
}

#define LOAD_F32(p, i) ((p)[i])
#define LOAD_F16(p, i) clmp_f16_nan_fix(((__global const ushort *)(p))[i], vload_half((i), (p)))
#define LOAD_BF16(p, i) clmp_bf16_to_f32((p)[i])

/* vstore_half_rte rounds to nearest even; NaN payloads differ between drivers, so NaN is
 * written by the rule above. */
#define STORE_F32(p, i, v) ((p)[i] = (v))
#define STORE_F16(p, i, v)                                                                    \
  do {                                                                                        \
    float v_ = (v);                                                                           \
    if (isnan(v_)) ((__global ushort *)(p))[i] = clmp_nan_to_f16(v_);                          \
    else vstore_half_rte(v_, (i), (p));                                                       \
  } while (0)
#define STORE_BF16(p, i, v) ((p)[i] = clmp_f32_to_bf16(v))

#define LOAD_I32(p, i) ((float)(p)[i])
#define LOAD_U8(p, i) ((float)(p)[i])
/* Integers: truncated toward zero, saturated, NaN to 0 (what the host reference does). NaN is
 * tested explicitly: Mesa's llvmpipe turns convert_int_sat(NaN) into INT_MIN, not 0. */
#define STORE_I32(p, i, v) ((p)[i] = isnan(v) ? 0 : convert_int_sat(v))
#define STORE_U8(p, i, v) ((p)[i] = isnan(v) ? (uchar)0 : convert_uchar_sat(v))

/* Generic forms for any operand: a kernel built with -DX_DT=F16 declares
 * `__global const TYPE(X_DT) *x` and reads LOAD(X_DT, x, i) as fp32. */
#define TYPE(dt) CLMP_CAT(TYPE_, dt)
#define LOAD(dt, p, i) CLMP_CAT(LOAD_, dt)(p, i)
#define STORE(dt, p, i, v) CLMP_CAT(STORE_, dt)(p, i, v)

#ifdef IN_DT
#define IN_T CLMP_CAT(TYPE_, IN_DT)
#define LOAD_IN(p, i) CLMP_CAT(LOAD_, IN_DT)(p, i)
#endif
#ifdef OUT_DT
#define OUT_T CLMP_CAT(TYPE_, OUT_DT)
#define STORE_OUT(p, i, v) CLMP_CAT(STORE_, OUT_DT)(p, i, v)
#endif
