/* cl/common.cl: the prelude of every clmp program: storage types and the loads and stores that
 * turn them into fp32, chosen by -D options (IN_DT, OUT_DT = F32, F16 or BF16). */

/* Storage types. half needs no cl_khr_fp16 as long as it is only reached through vload_half and
 * vstore_half; bf16 is the upper half of an fp32, kept in a ushort. */
/* The elements i < n of this work-item. GPUs: a grid stride, so that neighbouring items touch
 * neighbouring elements (coalesced). CPUs, where a work-group runs as a loop over its items: a
 * block of consecutive elements per item, since a stride would take every access of an item to a
 * new cache line (PoCL, 1e7 f32: fill 361 ms strided, 8 ms by blocks). */
#if CLMP_CPU
#define CLMP_FOR_ITEMS(i, n)                                                         \
  for (ulong i##_per = ((n) + get_global_size(0) - 1) / get_global_size(0),          \
             i = get_global_id(0) * i##_per, i##_end = min((ulong)(n), i + i##_per); \
       i < i##_end; i++)
#else
#define CLMP_FOR_ITEMS(i, n) for (ulong i = get_global_id(0); i < (n); i += get_global_size(0))
#endif

/* The rows and columns of a clmp__launch_rows range (host/runtime/launch.h): rows over dimension
 * 1, the columns of a row over dimension 0. On CPUs the range is one item wide, and the columns
 * run as a loop of unit step, which the compiler vectorises (PoCL, bn_eval of 6.4e6 f16: 41 ms
 * with the strided loop, 9 ms). */
#define CLMP_FOR_ROWS(r, n) for (ulong r = get_global_id(1); r < (n); r += get_global_size(1))
#if CLMP_CPU
#define CLMP_COL_FIRST 0
#define CLMP_COL_STEP  1
#else
#define CLMP_COL_FIRST get_global_id(0)
#define CLMP_COL_STEP  get_global_size(0)
#endif
#define CLMP_FOR_COLS(j, n) for (ulong j = CLMP_COL_FIRST; j < (n); j += CLMP_COL_STEP)

#define TYPE_F32  float
#define TYPE_F16  half
#define TYPE_BF16 ushort
#define TYPE_I32  int
#define TYPE_U8   uchar

#define CLMP_CAT_(a, b) a##b
#define CLMP_CAT(a, b)  CLMP_CAT_(a, b)

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
/* f16 <-> f32 in integer arithmetic (exact, round to nearest even; NaN is for the callers): for
 * f16 data already in registers, and on CPUs, where vload_half and vstore_half_rte are library
 * calls (PoCL: 5-10 ns an element). On CPUs test_cast checks them against the host bit for bit
 * over every f16 and 1.3 M f32 inputs; elsewhere the fused step's tests do (f16 working copies). */
inline float clmp_f16_bits_to_f32(ushort h) {
  uint o = (uint)(h & 0x7fffu) << 13, e = o & 0x0f800000u;
  o += (127u - 15u) << 23;
  if (e == 0x0f800000u) o += (128u - 16u) << 23; /* inf, NaN: exponent all ones */
  float f = as_float(o);
  if (e == 0) f = as_float(o + (1u << 23)) - as_float(113u << 23); /* zero, subnormal */
  return as_float(as_uint(f) | ((uint)(h & 0x8000u) << 16));
}

/* f32 -> f16 bits, not NaN. */
inline ushort clmp_f32_to_f16_bits(float x) {
  uint f = as_uint(x), sign = f & 0x80000000u, o;
  f ^= sign;
  if (f >= 0x47800000u) {
    o = 0x7c00u; /* 65536 or more: inf */
  } else if (f < 0x38800000u) {
    o = as_uint(as_float(f) + 0.5f) - 0x3f000000u; /* subnormal or zero: the add rounds */
  } else {
    f += ((15u - 127u) << 23) + 0xfffu + ((f >> 13) & 1u);
    o = f >> 13;
  }
  return (ushort)(o | (sign >> 16));
}

#if CLMP_CPU
#define LOAD_F16(p, i)                                \
  clmp_f16_nan_fix(((__global const ushort *)(p))[i], \
                   clmp_f16_bits_to_f32(((__global const ushort *)(p))[i]))
#define STORE_F16(p, i, v)                                                                    \
  do {                                                                                        \
    float v_ = (v);                                                                           \
    ((__global ushort *)(p))[i] = isnan(v_) ? clmp_nan_to_f16(v_) : clmp_f32_to_f16_bits(v_); \
  } while (0)
#else
#define LOAD_F16(p, i) clmp_f16_nan_fix(((__global const ushort *)(p))[i], vload_half((i), (p)))
/* vstore_half_rte rounds to nearest even; NaN payloads differ between drivers, so NaN is
 * written by the rule above. */
#define STORE_F16(p, i, v)                               \
  do {                                                   \
    float v_ = (v);                                      \
    if (isnan(v_))                                       \
      ((__global ushort *)(p))[i] = clmp_nan_to_f16(v_); \
    else                                                 \
      vstore_half_rte(v_, (i), (p));                     \
  } while (0)
#endif
#define LOAD_BF16(p, i)     clmp_bf16_to_f32((p)[i])
#define STORE_F32(p, i, v)  ((p)[i] = (v))
#define STORE_BF16(p, i, v) ((p)[i] = clmp_f32_to_bf16(v))

#define LOAD_I32(p, i) ((float)(p)[i])
#define LOAD_U8(p, i)  ((float)(p)[i])
/* Integers: truncated toward zero, saturated, NaN to 0 (what the host reference does). NaN is
 * tested explicitly: Mesa's llvmpipe turns convert_int_sat(NaN) into INT_MIN, not 0. */
#define STORE_I32(p, i, v) ((p)[i] = isnan(v) ? 0 : convert_int_sat(v))
#define STORE_U8(p, i, v)  ((p)[i] = isnan(v) ? (uchar)0 : convert_uchar_sat(v))

/* Generic forms for any operand: a kernel built with -DX_DT=F16 declares
 * `__global const TYPE(X_DT) *x` and reads LOAD(X_DT, x, i) as fp32. */
#define TYPE(dt)           CLMP_CAT(TYPE_, dt)
#define LOAD(dt, p, i)     CLMP_CAT(LOAD_, dt)(p, i)
#define STORE(dt, p, i, v) CLMP_CAT(STORE_, dt)(p, i, v)

#ifdef IN_DT
#define IN_T          CLMP_CAT(TYPE_, IN_DT)
#define LOAD_IN(p, i) CLMP_CAT(LOAD_, IN_DT)(p, i)
#endif
#ifdef OUT_DT
#define OUT_T              CLMP_CAT(TYPE_, OUT_DT)
#define STORE_OUT(p, i, v) CLMP_CAT(STORE_, OUT_DT)(p, i, v)
#endif
