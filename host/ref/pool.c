/* host/ref/pool.c: the reference of the pooling rows, plane by plane in plain loops: max windows
 * by their definition, the backward passes as scatters (each window adds to its inputs, in
 * double), average windows summed in double and rounded once. */
#include <math.h>
#include <stdlib.h>

#include "../runtime/error.h"
#include "../ops/table.h"

/* One axis of a pooling: input size, output size, window, stride and padding. */
typedef struct axis {
  size_t in, out, k, s, pad;
} axis;

static axis axis_of(const clmp_tensor *in, const clmp_tensor *out, const clmp_pool2d_params *p,
                    int d) {
  return (axis){in->shape[2 + d], out->shape[2 + d], p->kernel[d], p->stride[d], p->padding[d]};
}

/* Whether tap i of output o's window lands on an input, and which one (*at). */
static int tap(const axis *a, size_t o, size_t i, size_t *at) {
  size_t padded = o * a->s + i; /* the position in the padded input */
  if (padded < a->pad || padded - a->pad >= a->in) return 0;
  *at = padded - a->pad;
  return 1;
}

/* The largest value of window (oh, ow) of plane xp and its index: the first one taken, then any
 * larger one, and a NaN over anything but a NaN. */
static float window_max(clmp_dtype d, const void *xp, size_t base, const axis *ah, const axis *aw,
                        size_t oh, size_t ow, int32_t *index) {
  float best = 0.0f;
  int found = 0;
  for (size_t i = 0; i < ah->k; i++)
    for (size_t j = 0; j < aw->k; j++) {
      size_t h = 0, w = 0;
      if (!tap(ah, oh, i, &h) || !tap(aw, ow, j, &w)) continue;
      float v = clmp__load_f32(d, xp, base + h * aw->in + w);
      int better = isnan(v) ? !isnan(best) : v > best;
      if (!found || better) best = v, *index = (int32_t)(h * aw->in + w), found = 1;
    }
  return best;
}

clmp_status clmp__ref_max_pool2d(const clmp_tensor *x, const clmp_pool2d_params *p, clmp_tensor *y,
                                 clmp_tensor *indices) {
  axis ah = axis_of(x, y, p, 0), aw = axis_of(x, y, p, 1);
  size_t planes = x->shape[0] * x->shape[1];
  const void *xp = clmp__tensor_host(x);
  void *yp = clmp__tensor_host(y);
  int32_t *ip = indices ? clmp__tensor_host(indices) : NULL;
  for (size_t q = 0; q < planes; q++)
    for (size_t oh = 0; oh < ah.out; oh++)
      for (size_t ow = 0; ow < aw.out; ow++) {
        size_t o = (q * ah.out + oh) * aw.out + ow;
        int32_t index = 0;
        float v = window_max(x->dtype, xp, q * ah.in * aw.in, &ah, &aw, oh, ow, &index);
        clmp__store_f32(y->dtype, yp, o, v);
        if (ip) ip[o] = index;
      }
  return CLMP_SUCCESS;
}

/* Whether input position at (h W + w of the plane) lies in window (oh, ow). */
static int in_window(const axis *ah, const axis *aw, size_t oh, size_t ow, int32_t at) {
  if (at < 0 || (size_t)at >= ah->in * aw->in) return 0;
  size_t h = (size_t)at / aw->in + ah->pad, w = (size_t)at % aw->in + aw->pad; /* padded */
  return h >= oh * ah->s && h - oh * ah->s < ah->k && w >= ow * aw->s && w - ow * aw->s < aw->k;
}

/* Window (oh, ow)'s gradient g added to its inputs: to the one its index names (max), or to
 * every input it covers (average). */
static void scatter_window(double *acc, const axis *ah, const axis *aw, size_t oh, size_t ow,
                           double g, const int32_t *index) {
  if (index) {
    if (in_window(ah, aw, oh, ow, *index)) acc[*index] += g;
    return;
  }
  for (size_t i = 0; i < ah->k; i++)
    for (size_t j = 0; j < aw->k; j++) {
      size_t h = 0, w = 0;
      if (tap(ah, oh, i, &h) && tap(aw, ow, j, &w)) acc[h * aw->in + w] += g;
    }
}

/* dx from dy by scattering every window of every plane (indices: max pooling; NULL: average,
 * whose sums are then divided by the window's size). */
static clmp_status scatter_planes(const clmp_tensor *dy, const clmp_tensor *indices,
                                  const clmp_pool2d_params *p, clmp_tensor *dx) {
  axis ah = axis_of(dx, dy, p, 0), aw = axis_of(dx, dy, p, 1);
  size_t planes = dx->shape[0] * dx->shape[1], plane = ah.in * aw.in, k = ah.k * aw.k;
  const void *gp = clmp__tensor_host(dy);
  const int32_t *ip = indices ? clmp__tensor_host(indices) : NULL;
  void *dxp = clmp__tensor_host(dx);
  double *acc = malloc(plane * sizeof *acc);
  if (!acc)
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "pooling backward: a plane of %zu", plane);
  for (size_t q = 0; q < planes; q++) {
    for (size_t i = 0; i < plane; i++) acc[i] = 0.0;
    for (size_t oh = 0; oh < ah.out; oh++)
      for (size_t ow = 0; ow < aw.out; ow++) {
        size_t o = (q * ah.out + oh) * aw.out + ow;
        scatter_window(acc, &ah, &aw, oh, ow, clmp__load_f32(dy->dtype, gp, o), ip ? &ip[o] : NULL);
      }
    for (size_t i = 0; i < plane; i++)
      clmp__store_f32(dx->dtype, dxp, q * plane + i, (float)(ip ? acc[i] : acc[i] / (double)k));
  }
  free(acc);
  return CLMP_SUCCESS;
}

clmp_status clmp__ref_max_pool2d_backward(const clmp_tensor *dy, const clmp_tensor *indices,
                                          const clmp_pool2d_params *p, clmp_tensor *dx) {
  return scatter_planes(dy, indices, p, dx);
}

clmp_status clmp__ref_avg_pool2d_backward(const clmp_tensor *dy, const clmp_pool2d_params *p,
                                          clmp_tensor *dx) {
  return scatter_planes(dy, NULL, p, dx);
}

/* y = the sum of the window's inputs (padding adds nothing) / (kh kw), in double. */
clmp_status clmp__ref_avg_pool2d(const clmp_tensor *x, const clmp_pool2d_params *p,
                                 clmp_tensor *y) {
  axis ah = axis_of(x, y, p, 0), aw = axis_of(x, y, p, 1);
  size_t planes = x->shape[0] * x->shape[1];
  const void *xp = clmp__tensor_host(x);
  void *yp = clmp__tensor_host(y);
  for (size_t q = 0; q < planes; q++)
    for (size_t oh = 0; oh < ah.out; oh++)
      for (size_t ow = 0; ow < aw.out; ow++) {
        double sum = 0.0;
        for (size_t i = 0; i < ah.k; i++)
          for (size_t j = 0; j < aw.k; j++) {
            size_t h = 0, w = 0;
            if (tap(&ah, oh, i, &h) && tap(&aw, ow, j, &w))
              sum += clmp__load_f32(x->dtype, xp, (q * ah.in + h) * aw.in + w);
          }
        size_t o = (q * ah.out + oh) * aw.out + ow;
        clmp__store_f32(y->dtype, yp, o, (float)(sum / (double)(ah.k * aw.k)));
      }
  return CLMP_SUCCESS;
}

clmp_status clmp__ref_global_avg_pool(const clmp_tensor *x, clmp_tensor *y) {
  size_t planes = x->shape[0] * x->shape[1], plane = x->shape[2] * x->shape[3];
  const void *xp = clmp__tensor_host(x);
  void *yp = clmp__tensor_host(y);
  for (size_t q = 0; q < planes; q++) {
    double sum = 0.0;
    for (size_t i = 0; i < plane; i++) sum += clmp__load_f32(x->dtype, xp, q * plane + i);
    clmp__store_f32(y->dtype, yp, q, (float)(sum / (double)plane));
  }
  return CLMP_SUCCESS;
}

/* dx = dy times 1 / (H W) rounded to fp32: one fp32 product, the op's definition. */
clmp_status clmp__ref_global_avg_pool_backward(const clmp_tensor *dy, clmp_tensor *dx) {
  size_t planes = dx->shape[0] * dx->shape[1], plane = dx->shape[2] * dx->shape[3];
  const float inv_s = (float)(1.0 / (double)plane);
  const void *gp = clmp__tensor_host(dy);
  void *dxp = clmp__tensor_host(dx);
  for (size_t q = 0; q < planes; q++) {
    float g = clmp__load_f32(dy->dtype, gp, q) * inv_s;
    for (size_t i = 0; i < plane; i++) clmp__store_f32(dx->dtype, dxp, q * plane + i, g);
  }
  return CLMP_SUCCESS;
}
