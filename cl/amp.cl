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

#ifdef G_DT
/* Pass 1, stage 1: each group reduces its strided share of g into partials[2 * group] (sum of
 * squares of the unscaled gradients) and partials[2 * group + 1] (1 if any was non-finite). */
__kernel __attribute__((reqd_work_group_size(AMP_LOCAL, 1, 1))) void
amp_check_partial(__global const TYPE(G_DT) * g, const ulong g_off, const ulong n,
                  __global const amp_state *st, __global float *partials) {
  __local float sq[AMP_LOCAL], bad[AMP_LOCAL];
  uint lid = get_local_id(0);
  float inv = 1.0f / st->scale, s = 0.0f, b = 0.0f;
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    float v = LOAD(G_DT, g, g_off + i);
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
/* Pass 2: unscale, clip, decay, update master and moments, write the working copy; nothing at
 * all when the step overflowed. t is the 1-based count of applied steps (bias correction). */
__kernel void amp_step(__global const amp_state *st, __global const TYPE(G_DT) * g,
                       const ulong g_off, __global float *master, const ulong p_off,
                       __global float *m1, const ulong m1_off, __global float *m2,
                       const ulong m2_off, __global TYPE(W_DT) * w, const ulong w_off,
                       const int has_w, const ulong n, const int optimizer, const float lr,
                       const float wd, const float momentum, const float dampening,
                       const int nesterov, const float beta1, const float beta2, const float eps,
                       const float clip_norm) {
  if (st->found_inf) return;
  float k = clip_coef(clip_norm, st->sumsq) / st->scale;
  uint done = st->steps - st->skipped;
  float bc1 = 1.0f - pown(beta1, (int)done + 1), bc2 = 1.0f - pown(beta2, (int)done + 1);
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    float p = master[p_off + i], grad = LOAD(G_DT, g, g_off + i) * k;
    if (optimizer == OPT_SGD) {
      grad = fma(wd, p, grad);
      if (momentum != 0.0f) {
        float buf = done == 0 ? grad : fma(momentum, m1[m1_off + i], (1.0f - dampening) * grad);
        m1[m1_off + i] = buf;
        grad = nesterov ? fma(momentum, buf, grad) : buf;
      }
      p -= lr * grad;
    } else {
      p *= 1.0f - lr * wd;
      float m = fma(beta1, m1[m1_off + i], (1.0f - beta1) * grad);
      float v = fma(beta2, m2[m2_off + i], (1.0f - beta2) * grad * grad);
      m1[m1_off + i] = m;
      m2[m2_off + i] = v;
      p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps);
    }
    master[p_off + i] = p;
    if (has_w) STORE(W_DT, w, w_off + i, p);
  }
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
