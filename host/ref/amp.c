/* host/ref/amp.c: the reference of the AMP rows: the check pass, the fused optimizer step and
 * the scaler update, in plain fp32 C (the device computes in fp32 too), in index order. */
#include <math.h>
#include <string.h>

#include "../ops/table.h"

static clmp__amp_state *state_of(const clmp_tensor *t) {
  return (clmp__amp_state *)clmp__tensor_host(t);
}

clmp_status clmp__ref_amp_check(const clmp_tensor *grads, int want_sumsq, clmp_tensor *state) {
  clmp__amp_state *st = state_of(state);
  const void *g = clmp__tensor_host(grads);
  float inv = 1.0f / st->scale;
  double sumsq = 0.0;
  int bad = 0;
  for (size_t i = 0; i < grads->numel; i++) {
    float v = clmp__load_f32(grads->dtype, g, i);
    bad |= !isfinite(v);
    double u = (double)(v * inv);
    sumsq += u * u;
  }
  if (bad || (want_sumsq && !isfinite((float)sumsq))) st->found_inf = 1;
  if (want_sumsq) st->sumsq += (float)sumsq;
  return CLMP_SUCCESS;
}

static float clip_coef(float clip_norm, float sumsq) {
  if (clip_norm <= 0.0f) return 1.0f;
  float c = clip_norm / (sqrtf(sumsq) + 1e-6f);
  return c < 1.0f ? c : 1.0f;
}

/* torch.optim.SGD's update of one parameter; returns the new value. */
static float sgd(const clmp__step_params *p, float w, float g, float *buf, int first) {
  g += p->weight_decay * w;
  if (p->momentum != 0.0f) {
    *buf = first ? g : p->momentum * *buf + (1.0f - p->dampening) * g;
    g = p->nesterov ? g + p->momentum * *buf : *buf;
  }
  return w - p->lr * g;
}

/* torch.optim.AdamW's update of one parameter at 1-based step t. */
static float adamw(const clmp__step_params *p, float w, float g, float *m, float *v, unsigned t) {
  w *= 1.0f - p->lr * p->weight_decay;
  *m = p->beta1 * *m + (1.0f - p->beta1) * g;
  *v = p->beta2 * *v + (1.0f - p->beta2) * g * g;
  float bc1 = 1.0f - powf(p->beta1, (float)t), bc2 = 1.0f - powf(p->beta2, (float)t);
  return w - (p->lr / bc1) * *m / (sqrtf(*v) / sqrtf(bc2) + p->eps);
}

clmp_status clmp__ref_amp_step(const clmp__step_params *p, clmp_tensor *state,
                               const clmp_tensor *grads, clmp_tensor *master, clmp_tensor *m1,
                               clmp_tensor *m2, clmp_tensor *working) {
  const clmp__amp_state *st = state_of(state);
  if (st->found_inf) return clmp__ref_amp_update(p->scaler, state);
  float k = clip_coef(p->clip_norm, st->sumsq) / st->scale;
  unsigned done = st->steps - st->skipped;
  float *w = clmp__tensor_host(master);
  float *a = m1 ? clmp__tensor_host(m1) : NULL, *b = m2 ? clmp__tensor_host(m2) : NULL;
  const void *g = clmp__tensor_host(grads);
  for (size_t i = 0; i < master->numel; i++) {
    float gi = clmp__load_f32(grads->dtype, g, i) * k;
    if (p->optimizer == CLMP__OPT_SGD)
      w[i] = sgd(p, w[i], gi, a ? &a[i] : NULL, done == 0);
    else
      w[i] = adamw(p, w[i], gi, &a[i], &b[i], done + 1);
    if (working) clmp__store_f32(working->dtype, clmp__tensor_host(working), i, w[i]);
  }
  return clmp__ref_amp_update(p->scaler, state);
}

clmp_status clmp__ref_amp_update(const clmp__scaler_params *p, clmp_tensor *state) {
  clmp__amp_state *st = state_of(state);
  st->steps++;
  if (st->found_inf) {
    st->skipped++;
    if (p->mode == CLMP__SCALE_DYNAMIC) {
      st->growth_tracker = 0;
      if (--st->hysteresis_left <= 0) {
        float backed = st->scale * p->backoff_factor;
        st->scale = backed > p->min_scale ? backed : p->min_scale;
        st->hysteresis_left = p->hysteresis;
      }
    }
  } else if (p->mode == CLMP__SCALE_DYNAMIC && ++st->growth_tracker >= p->growth_interval) {
    float grown = st->scale * p->growth_factor;
    if (isfinite(grown)) st->scale = grown < p->max_scale ? grown : p->max_scale;
    st->growth_tracker = 0;
    st->hysteresis_left = p->hysteresis;
  }
  st->found_inf = 0;
  st->sumsq = 0.0f;
  return CLMP_SUCCESS;
}
