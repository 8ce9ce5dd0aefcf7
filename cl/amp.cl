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
  int reserved;
} amp_state;

#define SCALE_DYNAMIC 0
#define OPT_SGD       0

#ifndef AMP_LOCAL
#define AMP_LOCAL 64 /* work-items of a check group: a power of two */
#endif

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
#define AMP_VEC 1 /* elements per load: 4 when the host has checked that every arena is aligned */
#endif

#if AMP_VEC == 4
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

#define LOAD4_F32(p, i) (*(__global const float4 *)((p) + (i)))
#if CLMP_CPU
/* amp_f16x4_to_f32 in vector arithmetic (SIMD on CPUs): clmp_f16_bits_to_f32 lane by lane, NaN
 * quieted with its payload kept. */
inline float4 amp_f16x4_to_f32_simd(ushort4 u) {
  uint4 h = convert_uint4(u), o = (h & 0x7fffu) << 13, e = o & 0x0f800000u;
  o += (127u - 15u) << 23;
  o = select(o, o + ((128u - 16u) << 23), e == 0x0f800000u);
  o = select(o, o | 0x00400000u, (h & 0x7fffu) > 0x7c00u);
  float4 sub = as_float4(o + (1u << 23)) - as_float4((uint4)(113u << 23));
  float4 f = select(as_float4(o), sub, e == 0u);
  return as_float4(as_uint4(f) | ((h & 0x8000u) << 16));
}
#define LOAD4_F16(p, i) \
  amp_f16x4_to_f32_simd(*(__global const ushort4 *)((__global const ushort *)(p) + (i)))
#else
/* GPUs convert in hardware (vload_half4, vstore_half4_rte); NaN goes the integer way, by clmp's
 * rule. H200, AdamW over 1e8 f16 gradients: the integer conversion cost 7 % of the step. */
inline float4 amp_load4_f16(__global const half *p) {
  float4 v = vload_half4(0, p);
  return any(isnan(v)) ? amp_f16x4_to_f32(*(__global const ushort4 *)p) : v;
}
#define LOAD4_F16(p, i) amp_load4_f16((p) + (i))
#endif
#define LOAD4_BF16(p, i)    as_float4(convert_uint4(*(__global const ushort4 *)((p) + (i))) << 16)
#define STORE4_F32(p, i, v) (*(__global float4 *)((p) + (i)) = (v))
#if CLMP_CPU
/* clmp_f32_to_f16_bits and clmp_nan_to_f16 lane by lane, in vector arithmetic (SIMD on CPUs). */
inline ushort4 amp_f32x4_to_f16_simd(float4 v) {
  uint4 f = as_uint4(v), sign = f & 0x80000000u;
  f ^= sign;
  uint4 o = (f + ((15u - 127u) << 23) + 0xfffu + ((f >> 13) & 1u)) >> 13;
  o = select(o, as_uint4(as_float4(f) + 0.5f) - 0x3f000000u, f < 0x38800000u);
  o = select(o, (uint4)0x7c00u, f >= 0x47800000u);
  o = select(o, 0x7e00u | ((f >> 13) & 0x03ffu), f > 0x7f800000u);
  return convert_ushort4(o | (sign >> 16));
}
#define STORE4_F16(p, i, v) \
  (*(__global ushort4 *)((__global ushort *)(p) + (i)) = amp_f32x4_to_f16_simd(v))
#else
inline void amp_store4_f16(__global half *p, float4 v) {
  if (!any(isnan(v))) {
    vstore_half4_rte(v, 0, p);
    return;
  }
  *(__global ushort4 *)p =
      (ushort4)(amp_f32_to_f16(v.x), amp_f32_to_f16(v.y), amp_f32_to_f16(v.z), amp_f32_to_f16(v.w));
}
#define STORE4_F16(p, i, v) amp_store4_f16((p) + (i), (v))
#endif
#define STORE4_BF16(p, i, v)                                                                      \
  (*(__global ushort4 *)((p) + (i)) = (ushort4)(clmp_f32_to_bf16((v).x), clmp_f32_to_bf16((v).y), \
                                                clmp_f32_to_bf16((v).z), clmp_f32_to_bf16((v).w)))
#define LOAD4(dt, p, i)     CLMP_CAT(LOAD4_, dt)(p, i)
#define STORE4(dt, p, i, v) CLMP_CAT(STORE4_, dt)(p, i, v)

#endif

#ifdef G_DT
/* Pass 1, stage 1: each group reduces its strided share of g into partials[2 * group] (sum of
 * squares of the unscaled gradients) and partials[2 * group + 1] (1 if any was non-finite). */
__kernel __attribute__((reqd_work_group_size(AMP_LOCAL, 1, 1))) void
amp_check_partial(__global const TYPE(G_DT) *g, const ulong g_off, const ulong n,
                  __global const amp_state *st, __global float *partials) {
  __local float sq[AMP_LOCAL], bad[AMP_LOCAL];
  uint lid = get_local_id(0);
  float inv = 1.0f / st->scale, s = 0.0f, b = 0.0f;
  g += g_off;
#if AMP_VEC == 4 && CLMP_CPU
  float4 s4 = 0.0f; /* four sums, SIMD on CPUs */
  CLMP_FOR_ITEMS(j, n / 4) {
    float4 v = LOAD4(G_DT, g, 4 * j);
    b = all(isfinite(v)) ? b : 1.0f;
    v *= inv;
    s4 = fma(v, v, s4);
  }
  s = (s4.x + s4.y) + (s4.z + s4.w);
  for (ulong i = n / 4 * 4; i < n && get_global_id(0) == 0; i++) {
#elif AMP_VEC == 4
  CLMP_FOR_ITEMS(j, n / 4) {
    float4 v = LOAD4(G_DT, g, 4 * j);
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
}
#endif

/* Pass 1, stage 2: one group combines the partials in order into the state. */
__kernel __attribute__((reqd_work_group_size(AMP_LOCAL, 1, 1))) void
amp_check_combine(__global const float *partials, const uint groups, const int want_sumsq,
                  __global amp_state *st) {
  __local float sq[AMP_LOCAL], bad[AMP_LOCAL];
  uint lid = get_local_id(0);
  float s = 0.0f, b = 0.0f;
  for (uint i = lid; i < groups; i += AMP_LOCAL) {
    s += partials[2 * i];
    b += partials[2 * i + 1];
  }
  sq[lid] = s;
  bad[lid] = b;
  float total = tree_sum(sq, lid), any = tree_sum(bad, lid);
  if (lid == 0) {
    /* A norm that overflows fp32 counts as an overflow only when the norm is wanted. */
    if (any > 0.0f || (want_sumsq && !isfinite(total))) st->found_inf = 1;
    if (want_sumsq) st->sumsq += total;
  }
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

/* One element (T float) or four (T float4, vector arithmetic, which CPUs run in SIMD: PoCL spent
 * its time in scalar sqrt and division): p the master weight, grad the unscaled gradient, *a and
 * *b the moments. One body for both, so that they do the same operations in the same order. */
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
AMP_UPDATE(amp_update_four, float4)

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

#if AMP_VEC == 4
/* Elements i .. i + 3 through 16-byte (f32) and 8-byte (16-bit) loads and stores. */
inline void amp_step_four(const amp_hyper *h, float k, __global const TYPE(G_DT) *g,
                          __global float *master, __global float *m1, __global float *m2,
                          __global TYPE(W_DT) *w, int has_w, ulong i) {
  int moment1 = h->optimizer != OPT_SGD || h->momentum != 0.0f, adam = h->optimizer != OPT_SGD;
  float4 a = moment1 ? LOAD4_F32(m1, i) : (float4)0.0f, b = adam ? LOAD4_F32(m2, i) : (float4)0.0f;
  float4 p = amp_update_four(h, LOAD4_F32(master, i), LOAD4(G_DT, g, i) * k, &a, &b);
  if (moment1) STORE4_F32(m1, i, a);
  if (adam) STORE4_F32(m2, i, b);
  STORE4_F32(master, i, p);
  if (has_w) STORE4(W_DT, w, i, p);
}
#endif

/* Pass 2: unscale, clip, decay, update master and moments, write the working copy; nothing at
 * all when the step overflowed. With AMP_VEC 4 each item takes four elements at a time and the
 * first item the last n % 4. */
__kernel void amp_step(__global const amp_state *st, __global const TYPE(G_DT) *g,
                       const ulong g_off, __global float *master, const ulong p_off,
                       __global float *m1, const ulong m1_off, __global float *m2,
                       const ulong m2_off, __global TYPE(W_DT) *w, const ulong w_off,
                       const int has_w, const ulong n, const int optimizer, const float lr,
                       const float wd, const float momentum, const float dampening,
                       const int nesterov, const float beta1, const float beta2, const float eps,
                       const float clip_norm) {
  if (st->found_inf) return;
  float k = clip_coef(clip_norm, st->sumsq) / st->scale;
  amp_hyper h = {optimizer, nesterov, lr,    wd,  momentum,
                 dampening, beta1,    beta2, eps, st->steps - st->skipped};
  h.bc1 = 1.0f - pown(beta1, (int)h.done + 1), h.bc2 = 1.0f - pown(beta2, (int)h.done + 1);
  g += g_off, master += p_off, m1 += m1_off, m2 += m2_off, w += w_off;
#if AMP_VEC == 4
  CLMP_FOR_ITEMS(j, n / 4) amp_step_four(&h, k, g, master, m1, m2, w, has_w, 4 * j);
  if (get_global_id(0) == 0)
    for (ulong i = n / 4 * 4; i < n; i++) amp_step_one(&h, k, g, master, m1, m2, w, has_w, i);
#else
  CLMP_FOR_ITEMS(i, n) amp_step_one(&h, k, g, master, m1, m2, w, has_w, i);
#endif
}
#endif

/* The scaler update, one work-item: count the step; on overflow lose a unit of hysteresis and
 * back off when none is left; after growth_interval clean steps grow (never past max_scale, never
 * to inf); clear the step's flags. */
__kernel void amp_update(__global amp_state *st, const int mode, const float growth_factor,
                         const float backoff_factor, const float min_scale, const float max_scale,
                         const int growth_interval, const int hysteresis) {
  amp_state s = *st;
  s.steps++;
  if (s.found_inf) {
    s.skipped++;
    if (mode == SCALE_DYNAMIC) {
      s.growth_tracker = 0;
      if (--s.hysteresis_left <= 0) {
        s.scale = fmax(s.scale * backoff_factor, min_scale);
        s.hysteresis_left = hysteresis;
      }
    }
  } else if (mode == SCALE_DYNAMIC && ++s.growth_tracker >= growth_interval) {
    float grown = s.scale * growth_factor;
    if (isfinite(grown)) s.scale = fmin(grown, max_scale);
    s.growth_tracker = 0;
    s.hysteresis_left = hysteresis;
  }
  s.found_inf = 0;
  s.sumsq = 0.0f;
  *st = s;
}
