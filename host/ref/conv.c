/* host/ref/conv.c: the reference of the convolution rows: direct loops over NCHW, products of the
 * stored values accumulated in double in a fixed order, one rounding to the output dtype. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../ops/table.h"

/* The sizes of one convolution, read from its tensors: x [n, c, h, w], w [o, cg, kh, kw],
 * y [n, o, ho, wo]; og = o / groups. */
typedef struct ref_geom {
  size_t n, c, h, w, o, cg, og, kh, kw, ho, wo;
  const clmp_conv2d_params *p;
} ref_geom;

static ref_geom geom_of(const clmp_tensor *x, const clmp_tensor *w, const clmp_tensor *y,
                        const clmp_conv2d_params *p) {
  ref_geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0], w->shape[1],
                0,           w->shape[2], w->shape[3], y->shape[2], y->shape[3], p};
  g.og = g.o / p->groups;
  return g;
}

/* The input coordinate that output coordinate out meets through kernel tap k along an axis
 * (0 height, 1 width): out * stride + k * dilation - padding; *in is false outside [0, size),
 * where the zero padding lies. */
static size_t tap(const ref_geom *g, int axis, size_t out, size_t k, size_t size, int *in) {
  size_t at = out * g->p->stride[axis] + k * g->p->dilation[axis];
  *in = at >= g->p->padding[axis] && at - g->p->padding[axis] < size;
  return *in ? at - g->p->padding[axis] : 0;
}

/* x[n, c, oh, ow]'s value under tap (i, j), 0 in the padding: the padding takes part in the
 * products as zeros (0 * inf is NaN), as it does in an im2col convolution. */
static double x_tap(const ref_geom *g, const clmp_tensor *x, const void *xp, size_t n, size_t c,
                    size_t oh, size_t ow, size_t i, size_t j) {
  int in_h = 0, in_w = 0;
  size_t ih = tap(g, 0, oh, i, g->h, &in_h), iw = tap(g, 1, ow, j, g->w, &in_w);
  if (!in_h || !in_w) return 0.0;
  return clmp__load_f32(x->dtype, xp, ((n * g->c + c) * g->h + ih) * g->w + iw);
}

/* Stores v rounded once to d: fp32 to nearest even; f16 and bf16 through fp32 rounded to odd
 * (every inexact result gets an odd last bit), which then rounds to nearest even in 16 bits as v
 * itself would: no double rounding. */
static void store_once(clmp_dtype d, void *p, size_t i, double v) {
  float f = (float)v;
  uint32_t bits = 0;
  memcpy(&bits, &f, sizeof bits);
  if (d != CLMP_F32 && !isnan(v) && (double)f != v && !(bits & 1u))
    f = nextafterf(f, v > (double)f ? INFINITY : -INFINITY);
  clmp__store_f32(d, p, i, f);
}

/* y[n, o, oh, ow] = sum over c of its group, then i, then j, of w[o, c, i, j] x_tap. */
clmp_status clmp__ref_conv2d(const clmp_tensor *x, const clmp_tensor *w,
                             const clmp_conv2d_params *p, clmp_tensor *ws, clmp_tensor *y) {
  (void)ws;
  ref_geom g = geom_of(x, w, y, p);
  const void *xp = clmp__tensor_host(x), *wp = clmp__tensor_host(w);
  void *yp = clmp__tensor_host(y);
  size_t at = 0;
  for (size_t n = 0; n < g.n; n++)
    for (size_t o = 0; o < g.o; o++)
      for (size_t oh = 0; oh < g.ho; oh++)
        for (size_t ow = 0; ow < g.wo; ow++) {
          double acc = 0.0;
          size_t c0 = o / g.og * g.cg, wi = o * g.cg * g.kh * g.kw;
          for (size_t c = 0; c < g.cg; c++)
            for (size_t i = 0; i < g.kh; i++)
              for (size_t j = 0; j < g.kw; j++, wi++)
                acc += (double)clmp__load_f32(w->dtype, wp, wi) *
                       x_tap(&g, x, xp, n, c0 + c, oh, ow, i, j);
          store_once(y->dtype, yp, at++, acc);
        }
  return CLMP_SUCCESS;
}

/* The output coordinate whose tap k meets input coordinate in along an axis: *hit is false when
 * none does (in + padding - k dilation negative, not a multiple of the stride, or past size). */
static size_t hit(const ref_geom *g, int axis, size_t in, size_t k, size_t size, int *hit_out) {
  size_t at = in + g->p->padding[axis], back = k * g->p->dilation[axis];
  size_t stride = g->p->stride[axis];
  *hit_out = at >= back && (at - back) % stride == 0 && (at - back) / stride < size;
  return *hit_out ? (at - back) / stride : 0;
}

/* dx[n, c, ih, iw] = sum over o of c's group, then i, then j, of w[o, c, i, j] dy[n, o, oh, ow]
 * for the (oh, ow) that tap (i, j) takes to (ih, iw). */
static double dx_element(const ref_geom *g, const clmp_tensor *dy, const void *dyp,
                         const clmp_tensor *w, const void *wp, size_t n, size_t c, size_t ih,
                         size_t iw) {
  double acc = 0.0;
  size_t o0 = c / g->cg * g->og, cl = c % g->cg;
  for (size_t o = o0; o < o0 + g->og; o++)
    for (size_t i = 0; i < g->kh; i++) {
      int hit_h = 0, hit_w = 0;
      size_t oh = hit(g, 0, ih, i, g->ho, &hit_h);
      for (size_t j = 0; hit_h && j < g->kw; j++) {
        size_t ow = hit(g, 1, iw, j, g->wo, &hit_w);
        if (!hit_w) continue;
        double wv = clmp__load_f32(w->dtype, wp, ((o * g->cg + cl) * g->kh + i) * g->kw + j);
        acc += wv * clmp__load_f32(dy->dtype, dyp, ((n * g->o + o) * g->ho + oh) * g->wo + ow);
      }
    }
  return acc;
}

clmp_status clmp__ref_conv2d_backward_data(const clmp_tensor *dy, const clmp_tensor *w,
                                           const clmp_conv2d_params *p, clmp_tensor *ws,
                                           clmp_tensor *dx) {
  (void)ws;
  ref_geom g = geom_of(dx, w, dy, p);
  const void *dyp = clmp__tensor_host(dy), *wp = clmp__tensor_host(w);
  void *dxp = clmp__tensor_host(dx);
  size_t at = 0;
  for (size_t n = 0; n < g.n; n++)
    for (size_t c = 0; c < g.c; c++)
      for (size_t ih = 0; ih < g.h; ih++)
        for (size_t iw = 0; iw < g.w; iw++)
          store_once(dx->dtype, dxp, at++, dx_element(&g, dy, dyp, w, wp, n, c, ih, iw));
  return CLMP_SUCCESS;
}

/* dw[o, c, i, j] = sum over n, then oh, then ow, of dy[n, o, oh, ow] x_tap, + beta dw (beta 0:
 * dw is not read). */
clmp_status clmp__ref_conv2d_backward_filter(const clmp_tensor *x, const clmp_tensor *dy,
                                             const clmp_conv2d_params *p, float beta,
                                             clmp_tensor *ws, clmp_tensor *dw) {
  (void)ws;
  ref_geom g = geom_of(x, dw, dy, p);
  const void *xp = clmp__tensor_host(x), *dyp = clmp__tensor_host(dy);
  void *dwp = clmp__tensor_host(dw);
  size_t at = 0;
  for (size_t o = 0; o < g.o; o++)
    for (size_t c = 0; c < g.cg; c++)
      for (size_t i = 0; i < g.kh; i++)
        for (size_t j = 0; j < g.kw; j++, at++) {
          double acc = 0.0;
          size_t cx = o / g.og * g.cg + c;
          for (size_t n = 0; n < g.n; n++)
            for (size_t oh = 0; oh < g.ho; oh++)
              for (size_t ow = 0; ow < g.wo; ow++)
                acc += (double)clmp__load_f32(dy->dtype, dyp,
                                              ((n * g.o + o) * g.ho + oh) * g.wo + ow) *
                       x_tap(&g, x, xp, n, cx, oh, ow, i, j);
          if (beta != 0.0f) acc += (double)beta * clmp__load_f32(dw->dtype, dwp, at);
          store_once(dw->dtype, dwp, at, acc);
        }
  return CLMP_SUCCESS;
}
