/* cl/amp.cl: the mixed-precision step: the check pass over gradients (non-finite flag and sum of
 * squares, reduced in a fixed order), the fused optimizer update of the fp32 master weights, and
 * the loss scaler's update. G_DT is the gradients' dtype, W_DT the working copy's. */

/* Mirrors host/ops/table.h's clmp__amp_state. */
typedef struct amp_state {
  float scale;
  int growth_tracker;
  int hysteresis_left;
  int found_inf;
  uint steps;
  uint skipped;
  float sumsq;
  int arrived; /* work-groups of the running kernel done (amp_last_group) */
} amp_state;

#define SCALE_DYNAMIC 0
#define OPT_SGD       0

#ifndef AMP_LOCAL
#define AMP_LOCAL 64 /* work-items of a check group: a power of two */
#endif

/* Whether this work-group is the last of its kernel to get here (the same answer in each of its
 * items): every item calls it after its last read of st and its last global write, the last
 * group then sees all the others' writes and resets the count for the next kernel. This saves
 * a launch per pass (H200: 4 to 5 us of a separate one-group kernel each). */
inline int amp_last_group(__global amp_state *st, __local int *last) {
  barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
  if (get_local_id(0) == 0) {
    mem_fence(CLK_GLOBAL_MEM_FENCE);
    *last = atomic_inc(&st->arrived) == (int)get_num_groups(0) - 1;
    if (*last) atomic_xchg(&st->arrived, 0);
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  return *last;
}

/* Tree reduction of a local array of AMP_LOCAL floats, always in the same order. */
inline float tree_sum(__local float *v, uint lid) {
  for (uint s = AMP_LOCAL / 2; s > 0; s >>= 1) {
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < s) v[lid] += v[lid + s];
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  return v[0];
}

#ifndef AMP_VEC
#define AMP_VEC 1 /* elements per load: 4, or up to 16 on CPUs, when every arena is aligned */
#endif

#if AMP_VEC > 1
/* AMP_VEC elements in one vector (host/ops/amp.c's vec_width): float4 on GPUs; on CPUs as wide as
 * the SIMD registers, since PoCL turns vector arithmetic into SIMD of the vectors' width only. */
#define AMP_V(t)   CLMP_CAT(t, AMP_VEC)
#define AMP_AS(t)  CLMP_CAT(as_, AMP_V(t))
#define AMP_CVT(t) CLMP_CAT(convert_, AMP_V(t))
typedef AMP_V(float) amp_fv;
typedef AMP_V(uint) amp_uv;
typedef AMP_V(ushort) amp_hv;

/* Four elements from 16-bit storage already in registers: the bits, then f32 (NaN by the rule of
 * LOAD_F16), and back. */
inline float4 amp_f16x4_to_f32(ushort4 u) {
  return (float4)(clmp_f16_nan_fix(u.x, clmp_f16_bits_to_f32(u.x)),
                  clmp_f16_nan_fix(u.y, clmp_f16_bits_to_f32(u.y)),
                  clmp_f16_nan_fix(u.z, clmp_f16_bits_to_f32(u.z)),
                  clmp_f16_nan_fix(u.w, clmp_f16_bits_to_f32(u.w)));
}

inline ushort amp_f32_to_f16(float v) {
  return isnan(v) ? clmp_nan_to_f16(v) : clmp_f32_to_f16_bits(v);
}

#define LOADV_F32(p, i) (*(__global const amp_fv *)((p) + (i)))
#if CLMP_CPU && defined(__F16C__)
/* x86 CPUs with F16C (PoCL): vectors of __fp16 convert through vcvtph2ps and vcvtps2ph, exact,
 * rounding to nearest even, NaN by clmp's rule (quiet bit set, payload kept), at a fraction of
 * the cost of the integer conversion below (check pass over 1e8 f16 gradients: 7.2 -> 4.2 ms). */
typedef __fp16 amp_f16v __attribute__((ext_vector_type(AMP_VEC)));
#define LOADV_F16(p, i) \
  __builtin_convertvector(*(__global const amp_f16v *)((__global const ushort *)(p) + (i)), amp_fv)
#define STOREV_F16(p, i, v) \
  (*(__global amp_f16v *)((__global ushort *)(p) + (i)) = __builtin_convertvector((v), amp_f16v))
#elif CLMP_CPU
/* amp_f16x4_to_f32 in vector arithmetic (SIMD on CPUs): clmp_f16_bits_to_f32 lane by lane, NaN
 * quieted with its payload kept. */
inline amp_fv amp_f16v_to_f32_simd(amp_hv u) {
  amp_uv h = AMP_CVT(uint)(u), o = (h & 0x7fffu) << 13, e = o & 0x0f800000u;
  o += (127u - 15u) << 23;
  o = select(o, o + ((128u - 16u) << 23), e == 0x0f800000u);
  o = select(o, o | 0x00400000u, (h & 0x7fffu) > 0x7c00u);
  amp_fv sub = AMP_AS(float)(o + (1u << 23)) - AMP_AS(float)((amp_uv)(113u << 23));
  amp_fv f = select(AMP_AS(float)(o), sub, e == 0u);
  return AMP_AS(float)(AMP_AS(uint)(f) | ((h & 0x8000u) << 16));
}
#define LOADV_F16(p, i) \
  amp_f16v_to_f32_simd(*(__global const amp_hv *)((__global const ushort *)(p) + (i)))
#else
/* GPUs convert in hardware: one 8-byte load, then vload_half4 from registers (straight from
 * global memory it compiled to four 2-byte loads on the H200); NaN goes the integer way, by
 * clmp's rule. H200, AdamW over 1e8 f16 gradients: the integer conversion cost 7 % of the step. */
inline float4 amp_load4_f16(__global const half *p) {
  ushort4 u = *(__global const ushort4 *)p;
  float4 v = vload_half4(0, (const half *)&u);
  return any(isnan(v)) ? amp_f16x4_to_f32(u) : v;
}
#define LOADV_F16(p, i) amp_load4_f16((p) + (i))
#endif
#define LOADV_BF16(p, i)    AMP_AS(float)(AMP_CVT(uint)(*(__global const amp_hv *)((p) + (i))) << 16)
#define STOREV_F32(p, i, v) (*(__global amp_fv *)((p) + (i)) = (v))
#if CLMP_CPU
#ifndef __F16C__
/* clmp_f32_to_f16_bits and clmp_nan_to_f16 lane by lane, in vector arithmetic (SIMD on CPUs). */
inline amp_hv amp_f32v_to_f16_simd(amp_fv v) {
  amp_uv f = AMP_AS(uint)(v), sign = f & 0x80000000u;
  f ^= sign;
  amp_uv o = (f + ((15u - 127u) << 23) + 0xfffu + ((f >> 13) & 1u)) >> 13;
  o = select(o, AMP_AS(uint)(AMP_AS(float)(f) + 0.5f) - 0x3f000000u, f < 0x38800000u);
  o = select(o, (amp_uv)0x7c00u, f >= 0x47800000u);
  o = select(o, 0x7e00u | ((f >> 13) & 0x03ffu), f > 0x7f800000u);
  return AMP_CVT(ushort)(o | (sign >> 16));
}
#define STOREV_F16(p, i, v) \
  (*(__global amp_hv *)((__global ushort *)(p) + (i)) = amp_f32v_to_f16_simd(v))
#endif
/* clmp_f32_to_bf16 lane by lane, in vector arithmetic. */
inline amp_hv amp_f32v_to_bf16_simd(amp_fv v) {
  amp_uv u = AMP_AS(uint)(v), r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return AMP_CVT(ushort)(select(r, (u >> 16) | 0x0040u, (u & 0x7fffffffu) > 0x7f800000u));
}
#define STOREV_BF16(p, i, v) (*(__global amp_hv *)((p) + (i)) = amp_f32v_to_bf16_simd(v))
#else
/* Converted in registers, stored in one 8-byte store (as amp_load4_f16). */
inline void amp_store4_f16(__global half *p, float4 v) {
  ushort4 u;
  if (!any(isnan(v)))
    vstore_half4_rte(v, 0, (half *)&u);
  else
    u = (ushort4)(amp_f32_to_f16(v.x), amp_f32_to_f16(v.y), amp_f32_to_f16(v.z),
                  amp_f32_to_f16(v.w));
  *(__global ushort4 *)p = u;
}
#define STOREV_F16(p, i, v) amp_store4_f16((p) + (i), (v))
#define STOREV_BF16(p, i, v)                                                                      \
  (*(__global ushort4 *)((p) + (i)) = (ushort4)(clmp_f32_to_bf16((v).x), clmp_f32_to_bf16((v).y), \
                                                clmp_f32_to_bf16((v).z), clmp_f32_to_bf16((v).w)))
#endif
#if CLMP_CPU
/* The lanes of v summed by halves, always in the same order. */
inline float amp_lane_sum(amp_fv v) {
#if AMP_VEC == 16
  float8 v8 = v.lo + v.hi;
  float4 v4 = v8.lo + v8.hi;
#elif AMP_VEC == 8
  float4 v4 = v.lo + v.hi;
#else
  float4 v4 = v;
#endif
  float2 v2 = v4.lo + v4.hi;
  return v2.x + v2.y;
}
#endif
#define LOADV(dt, p, i)     CLMP_CAT(LOADV_, dt)(p, i)
#define STOREV(dt, p, i, v) CLMP_CAT(STOREV_, dt)(p, i, v)

#endif

/* Pass 1, stage 2, by the last group of stage 1 (last): the partials combined in order into
 * the state (volatile: written by other groups, read past any cache they may be stale in). Every
 * group runs the reductions, so that no barrier sits in a branch (PoCL 3.1 gave every item of
 * such a branch local id 0). */
inline void amp_combine(int last, __global volatile const float *partials, uint groups,
                        int want_sumsq, __global amp_state *st, __local float *sq,
                        __local float *bad) {
  uint lid = get_local_id(0);
  float s = 0.0f, b = 0.0f;
  for (uint i = lid; last && i < groups; i += AMP_LOCAL) {
    s += partials[2 * i];
    b += partials[2 * i + 1];
  }
  sq[lid] = s;
  bad[lid] = b;
  float total = tree_sum(sq, lid), any = tree_sum(bad, lid);
  if (last && lid == 0) {
    /* A norm that overflows fp32 counts as an overflow only when the norm is wanted. */
    if (any > 0.0f || (want_sumsq && !isfinite(total))) st->found_inf = 1;
    if (want_sumsq) st->sumsq += total;
  }
}

#ifndef AMP_CHECK8
#define AMP_CHECK8 0 /* 1: the check loads eight 16-bit gradients at a time (GPUs, aligned) */
#endif
#if AMP_CHECK8
inline float8 amp_widen8_f16(ushort8 u) {
  return vload_half8(0, (const half *)&u);
}
#define AMP_WIDEN8_F16(u)  amp_widen8_f16(u)
#define AMP_WIDEN8_BF16(u) as_float8(convert_uint8(u) << 16)
#define AMP_WIDEN8(dt, u)  CLMP_CAT(AMP_WIDEN8_, dt)(u)
#endif

#ifdef G_DT
/* Pass 1, stage 1: each group reduces its strided share of g into partials[2 * group] (sum of
 * squares of the unscaled gradients) and partials[2 * group + 1] (1 if any was non-finite). */
__kernel __attribute__((reqd_work_group_size(AMP_LOCAL, 1, 1))) void
amp_check_partial(__global const TYPE(G_DT) *g, const ulong g_off, const ulong n,
                  __global amp_state *st, __global volatile float *partials, const int want_sumsq) {
  __local float sq[AMP_LOCAL], bad[AMP_LOCAL];
  __local int last;
  uint lid = get_local_id(0);
  float inv = 1.0f / st->scale, s = 0.0f, b = 0.0f;
  g += g_off;
#if AMP_VEC > 1 && CLMP_CPU
  amp_fv sv = 0.0f;       /* AMP_VEC sums, SIMD on CPUs */
  AMP_V(int) finite = -1; /* lanes that met only finite values */
  CLMP_FOR_ITEMS(j, n / AMP_VEC) {
    amp_fv v = LOADV(G_DT, g, AMP_VEC * j);
    finite &= isfinite(v);
    v *= inv;
    sv = fma(v, v, sv);
  }
  s = amp_lane_sum(sv);
  b = all(finite) ? 0.0f : 1.0f;
  for (ulong i = n / AMP_VEC * AMP_VEC; i < n && get_global_id(0) == 0; i++) {
#elif AMP_CHECK8
  /* GPUs, 16-bit gradients: one 16-byte load of eight per step of the loop, enough bytes in
   * flight to reach the copy bandwidth (the H200 read 8 bytes at a time at 2.9 TB/s). NaN's
   * payload does not matter here: any NaN is an overflow. Unrolled, so that each item has
   * several loads in flight. */
#pragma unroll 4
  CLMP_FOR_ITEMS(j, n / 8) {
    ushort8 u = *(__global const ushort8 *)((__global const ushort *)g + 8 * j);
    float8 v = AMP_WIDEN8(G_DT, u);
    b = all(isfinite(v)) ? b : 1.0f;
    v *= inv;
    s = fma(v.s0, v.s0, s), s = fma(v.s1, v.s1, s), s = fma(v.s2, v.s2, s), s = fma(v.s3, v.s3, s);
    s = fma(v.s4, v.s4, s), s = fma(v.s5, v.s5, s), s = fma(v.s6, v.s6, s), s = fma(v.s7, v.s7, s);
  }
  for (ulong i = n / 8 * 8; i < n && get_global_id(0) == 0; i++) {
#elif AMP_VEC == 4
  CLMP_FOR_ITEMS(j, n / 4) {
    float4 v = LOADV(G_DT, g, 4 * j);
    b = all(isfinite(v)) ? b : 1.0f;
    v *= inv;
    s = fma(v.x, v.x, s), s = fma(v.y, v.y, s), s = fma(v.z, v.z, s), s = fma(v.w, v.w, s);
  }
  for (ulong i = n / 4 * 4; i < n && get_global_id(0) == 0; i++) {
#else
  CLMP_FOR_ITEMS(i, n) {
#endif
    float v = LOAD(G_DT, g, i);
    b = isfinite(v) ? b : 1.0f;
    v *= inv;
    s = fma(v, v, s);
  }
  sq[lid] = s;
  bad[lid] = b;
  float total = tree_sum(sq, lid), any = tree_sum(bad, lid);
  if (lid == 0) {
    partials[2 * get_group_id(0)] = total;
    partials[2 * get_group_id(0) + 1] = any;
  }
  amp_combine(amp_last_group(st, &last), partials, get_num_groups(0), want_sumsq, st, sq, bad);
}
#endif

/* The scaler's parameters, as the kernels receive them (mirrors clmp__scaler_params). */
typedef struct amp_scaler {
  int mode;
  float growth_factor, backoff_factor, min_scale, max_scale;
  int growth_interval, hysteresis;
} amp_scaler;

/* The scaler update, by one work-item: count the step; on overflow lose a unit of hysteresis and
 * back off when none is left; after growth_interval clean steps grow (never past max_scale, never
 * to inf); clear the step's flags. */
inline void amp_scaler_update(__global amp_state *st, const amp_scaler *p) {
  amp_state s = *st;
  s.steps++;
  if (s.found_inf) {
    s.skipped++;
    if (p->mode == SCALE_DYNAMIC) {
      s.growth_tracker = 0;
      if (--s.hysteresis_left <= 0) {
        s.scale = fmax(s.scale * p->backoff_factor, p->min_scale);
        s.hysteresis_left = p->hysteresis;
      }
    }
  } else if (p->mode == SCALE_DYNAMIC && ++s.growth_tracker >= p->growth_interval) {
    float grown = s.scale * p->growth_factor;
    if (isfinite(grown)) s.scale = fmin(grown, p->max_scale);
    s.growth_tracker = 0;
    s.hysteresis_left = p->hysteresis;
  }
  s.found_inf = 0;
  s.sumsq = 0.0f;
  *st = s;
}

/* The scaler's parameters as kernel arguments (one by one: Mesa warns of struct arguments). */
#define AMP_SCALER_ARGS                                                                         \
  const int mode, const float growth_factor, const float backoff_factor, const float min_scale, \
      const float max_scale, const int growth_interval, const int hysteresis
#define AMP_SCALER_OF_ARGS \
  {mode, growth_factor, backoff_factor, min_scale, max_scale, growth_interval, hysteresis}

/* The scaler update on its own (clmp_scaler_update), one work-item. */
__kernel void amp_update(__global amp_state *st, AMP_SCALER_ARGS) {
  amp_scaler p = AMP_SCALER_OF_ARGS;
  amp_scaler_update(st, &p);
}

/* The factor that brings the global norm of the unscaled gradients down to clip_norm
 * (torch.nn.utils.clip_grad_norm_: max_norm / (norm + 1e-6), at most 1). */
inline float clip_coef(float clip_norm, float sumsq) {
  if (clip_norm <= 0.0f) return 1.0f;
  float c = clip_norm / (sqrt(sumsq) + 1e-6f);
  return c < 1.0f ? c : 1.0f;
}

#if defined(G_DT) && defined(W_DT)
/* The optimizer's hyper-parameters, as the kernel receives them. */
typedef struct amp_hyper {
  int optimizer, nesterov;
  float lr, wd, momentum, dampening, beta1, beta2, eps;
  uint done;      /* steps applied before this one */
  float bc1, bc2; /* Adam's bias corrections of this step */
} amp_hyper;

/* One element (T float) or AMP_VEC (T amp_fv, vector arithmetic, which CPUs run in SIMD: PoCL
 * spent its time in scalar sqrt and division): p the master weight, grad the unscaled gradient,
 * *a and *b the moments. One body for both, so that they do the same operations in the same
 * order. */
#define AMP_UPDATE(name, T)                                                                  \
  inline T name(const amp_hyper *h, T p, T grad, T *a, T *b) {                               \
    if (h->optimizer == OPT_SGD) {                                                           \
      grad = fma((T)h->wd, p, grad);                                                         \
      if (h->momentum != 0.0f) {                                                             \
        T buf = h->done == 0 ? grad : fma((T)h->momentum, *a, (1.0f - h->dampening) * grad); \
        *a = buf;                                                                            \
        grad = h->nesterov ? fma((T)h->momentum, buf, grad) : buf;                           \
      }                                                                                      \
      return p - h->lr * grad;                                                               \
    }                                                                                        \
    p *= 1.0f - h->lr * h->wd;                                                               \
    *a = fma((T)h->beta1, *a, (1.0f - h->beta1) * grad);                                     \
    *b = fma((T)h->beta2, *b, (1.0f - h->beta2) * grad * grad);                              \
    return p - (h->lr / h->bc1) * *a / (sqrt(*b) / sqrt(h->bc2) + h->eps);                   \
  }
AMP_UPDATE(amp_update_one, float)
#if AMP_VEC > 1
AMP_UPDATE(amp_update_vec, amp_fv)
#endif

/* Element i of every arena (offsets applied by the caller), k the unscale and clip factor. */
inline void amp_step_one(const amp_hyper *h, float k, __global const TYPE(G_DT) *g,
                         __global float *master, __global float *m1, __global float *m2,
                         __global TYPE(W_DT) *w, int has_w, ulong i) {
  float a = h->optimizer == OPT_SGD && h->momentum == 0.0f ? 0.0f : m1[i];
  float b = h->optimizer == OPT_SGD ? 0.0f : m2[i];
  float p = amp_update_one(h, master[i], LOAD(G_DT, g, i) * k, &a, &b);
  if (h->optimizer != OPT_SGD || h->momentum != 0.0f) m1[i] = a;
  if (h->optimizer != OPT_SGD) m2[i] = b;
  master[i] = p;
  if (has_w) STORE(W_DT, w, i, p);
}

#if AMP_VEC > 1
/* Elements i .. i + AMP_VEC - 1 through vector loads and stores (float4 and ushort4 on GPUs). */
inline void amp_step_vec(const amp_hyper *h, float k, __global const TYPE(G_DT) *g,
                         __global float *master, __global float *m1, __global float *m2,
                         __global TYPE(W_DT) *w, int has_w, ulong i) {
  int moment1 = h->optimizer != OPT_SGD || h->momentum != 0.0f, adam = h->optimizer != OPT_SGD;
  amp_fv a = moment1 ? LOADV_F32(m1, i) : (amp_fv)0.0f, b = adam ? LOADV_F32(m2, i) : (amp_fv)0.0f;
  amp_fv p = amp_update_vec(h, LOADV_F32(master, i), LOADV(G_DT, g, i) * k, &a, &b);
  if (moment1) STOREV_F32(m1, i, a);
  if (adam) STOREV_F32(m2, i, b);
  STOREV_F32(master, i, p);
  if (has_w) STOREV(W_DT, w, i, p);
}
#endif

/* Pass 2's elements: unscale, clip, decay, update master and moments, write the working copy.
 * With AMP_VEC > 1 each item takes AMP_VEC elements at a time and the first item the last
 * n % AMP_VEC. */
inline void amp_step_all(__global const amp_state *st, __global const TYPE(G_DT) *g,
                         __global float *master, __global float *m1, __global float *m2,
                         __global TYPE(W_DT) *w, int has_w, ulong n, amp_hyper h, float clip_norm) {
  float k = clip_coef(clip_norm, st->sumsq) / st->scale;
  h.done = st->steps - st->skipped;
  h.bc1 = 1.0f - pown(h.beta1, (int)h.done + 1), h.bc2 = 1.0f - pown(h.beta2, (int)h.done + 1);
#if AMP_VEC > 1
  CLMP_FOR_ITEMS(j, n / AMP_VEC) amp_step_vec(&h, k, g, master, m1, m2, w, has_w, AMP_VEC * j);
  if (get_global_id(0) == 0)
    for (ulong i = n / AMP_VEC * AMP_VEC; i < n; i++)
      amp_step_one(&h, k, g, master, m1, m2, w, has_w, i);
#else
  CLMP_FOR_ITEMS(i, n) amp_step_one(&h, k, g, master, m1, m2, w, has_w, i);
#endif
}

/* Pass 2: the step, nothing at all when it overflowed; then the scaler update, by the last
 * work-group. */
__kernel void amp_step(__global amp_state *st, __global const TYPE(G_DT) *g, const ulong g_off,
                       __global float *master, const ulong p_off, __global float *m1,
                       const ulong m1_off, __global float *m2, const ulong m2_off,
                       __global TYPE(W_DT) *w, const ulong w_off, const int has_w, const ulong n,
                       const int optimizer, const float lr, const float wd, const float momentum,
                       const float dampening, const int nesterov, const float beta1,
                       const float beta2, const float eps, const float clip_norm, AMP_SCALER_ARGS) {
  __local int last;
  amp_scaler scaler = AMP_SCALER_OF_ARGS;
  amp_hyper h = {optimizer, nesterov, lr, wd, momentum, dampening, beta1, beta2, eps, 0};
  if (!st->found_inf)
    amp_step_all(st, g + g_off, master + p_off, m1 + m1_off, m2 + m2_off, w + w_off, has_w, n, h,
                 clip_norm);
  if (amp_last_group(st, &last) && get_local_id(0) == 0) amp_scaler_update(st, &scaler);
}
#endif
