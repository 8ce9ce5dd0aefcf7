/* cl/conv.cl: the data movement of the im2col convolutions (host/ops/conv.c): im2col and the swap
 * of two outer axes as raw copies of CONV_ELEM (ushort for f16 and bf16, uint for f32: bits kept),
 * and, with OUT_DT, the col2im gather and the filter gradient's finish, in fp32. */

/* acc + beta * dw is a rounded product and a rounded sum everywhere, never a fused multiply-add. */
#pragma OPENCL FP_CONTRACT OFF

/* The geometry of a chunk of nb images, sent by host/ops/conv.c (geom_arg) as an int16 in this
 * order, every value and every coordinate computed from them below 2^31 (the host checks): x
 * [nb, c, h, w], kernel [kh, kw], stride (sh, sw), padding (ph, pw), dilation (dh, dw), y [nb, o,
 * ho, wo]; col [c kh kw, nb ho wo]. Helpers take it unpacked (a vector argument of 16 ints would
 * change the ABI of an inline function on CPUs without AVX-512). */
typedef struct conv_geom {
  int c, h, w, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw, nb;
} conv_geom;
#define GEOM_UNPACK(v)                                                                      \
  {                                                                                         \
    (v).s0, (v).s1, (v).s2, (v).s3, (v).s4, (v).s5, (v).s6, (v).s7, (v).s8, (v).s9, (v).sa, \
        (v).sb, (v).sc, (v).sd                                                              \
  }

/* Elements of an output plane, and of a col row (every image of the chunk). */
inline ulong plane(const conv_geom *g) {
  return (ulong)g->ho * g->wo;
}
inline ulong col_len(const conv_geom *g) {
  return plane(g) * g->nb;
}

#ifdef CONV_ELEM

/* Plane u = (k, b) of col, k = (c, i, j) a tap of channel c, b an image: its Ho Wo elements
 * x[b, c, oh sh - ph + i dh, ow sw - pw + j dw], 0 in the padding. */
inline void im2col_plane(__global const CONV_ELEM *x, __global CONV_ELEM *col, const conv_geom *g,
                         const ulong u) {
  const int b = (int)(u % g->nb), k = (int)(u / g->nb), taps = g->kh * g->kw;
  const int c = k / taps, i = k % taps / g->kw, j = k % g->kw, wo = g->wo, sw = g->sw;
  __global CONV_ELEM *dst = col + k * col_len(g) + b * plane(g);
  __global const CONV_ELEM *src = x + ((ulong)b * g->c + c) * g->h * g->w;
  /* The outputs [lo, hi) of a row that read inside it; the others are padding. */
  const int iw0 = j * g->dw - g->pw;
  int lo = iw0 < 0 ? (-iw0 - 1) / sw + 1 : 0, hi = iw0 < g->w ? (g->w - iw0 - 1) / sw + 1 : 0;
  lo = min(lo, wo), hi = clamp(hi, lo, wo);
  for (int oh = 0; oh < g->ho; oh++, dst += wo) {
    const int ih = oh * g->sh - g->ph + i * g->dh;
    const int in = ih >= 0 && ih < g->h, l = in ? lo : wo, h = in ? hi : wo;
    __global const CONV_ELEM *row = src + (ulong)(in ? ih : 0) * g->w;
    for (int ow = 0; ow < l; ow++) dst[ow] = 0;
    for (int ow = l; ow < h; ow++) dst[ow] = row[iw0 + ow * sw];
    for (int ow = h; ow < wo; ow++) dst[ow] = 0;
  }
}

/* Element e of col (row-major [C kh kw, nb Ho Wo]), 0 in the padding. */
inline CONV_ELEM im2col_element(__global const CONV_ELEM *x, const conv_geom *g, const ulong e) {
  const ulong k = e / col_len(g), q = e % col_len(g);
  const int b = (int)(q / plane(g)), p = (int)(q % plane(g)), taps = g->kh * g->kw;
  const int c = (int)k / taps, i = (int)k % taps / g->kw, j = (int)k % g->kw;
  const int ih = p / g->wo * g->sh - g->ph + i * g->dh;
  const int iw = p % g->wo * g->sw - g->pw + j * g->dw;
  if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) return 0;
  return x[(((ulong)b * g->c + c) * g->h + ih) * g->w + iw];
}

/* col [C kh kw, nb Ho Wo] at col_off from the nb images at x_off. CPUs: a block of whole planes
 * per item (contiguous stores, no division per element); elsewhere one element per item,
 * neighbours on neighbouring elements. */
__kernel void conv_im2col(__global const CONV_ELEM *x, const ulong x_off, __global CONV_ELEM *col,
                          const ulong col_off, const int16 geo) {
  const conv_geom gv = GEOM_UNPACK(geo), *g = &gv;
  const ulong planes = (ulong)g->c * g->kh * g->kw * g->nb;
#if CLMP_CPU
  CLMP_FOR_ITEMS(u, planes) im2col_plane(x + x_off, col + col_off, g, u);
#else
  CLMP_FOR_ITEMS(e, planes * plane(g)) col[col_off + e] = im2col_element(x + x_off, g, e);
#endif
}

/* dst [z, nb, na, len] at dst_off from src [z, na, nb, len] at src_off: dst[q, b, a, :] =
 * src[q, a, b, :]. CPUs: a block of rows (q, b) of dst, na len elements each, per item; elsewhere
 * one element per item. */
__kernel void conv_swap(__global const CONV_ELEM *src, const ulong src_off, __global CONV_ELEM *dst,
                        const ulong dst_off, const ulong z, const ulong na, const ulong nb,
                        const ulong len) {
#if CLMP_CPU
  CLMP_FOR_ITEMS(r, z * nb) {
    __global const CONV_ELEM *s = src + src_off + (r / nb * na * nb + r % nb) * len;
    __global CONV_ELEM *d = dst + dst_off + r * na * len;
    for (ulong a = 0; a < na; a++, s += nb * len, d += len)
      for (ulong e = 0; e < len; e++) d[e] = s[e];
  }
#else
  CLMP_FOR_ITEMS(e, z * nb * na * len) {
    const ulong a = e / len % na, r = e / len / na;
    dst[dst_off + e] = src[src_off + ((r / nb * na + a) * nb + r % nb) * len + e % len];
  }
#endif
}
#endif

#ifdef OUT_DT

/* The gradient of x[b, c, ih, iw] from dcol [C kh kw, nb Ho Wo] (fp32): the sum of the elements
 * of every tap (i, j) whose output (oh, ow) meets it, i then j in increasing order, from 0: a
 * gather, so every run sums alike. */
inline float col2im_element(__global const float *dcol, const conv_geom *g, const int b,
                            const int c, const int ih, const int iw) {
  float s = 0.0f;
  for (int i = 0; i < g->kh; i++) {
    const int th = ih + g->ph - i * g->dh, oh = th / g->sh;
    if (th < 0) break; /* and for every later i */
    if (th % g->sh || oh >= g->ho) continue;
    __global const float *row =
        dcol + (ulong)(c * g->kh + i) * g->kw * col_len(g) + b * plane(g) + (ulong)oh * g->wo;
    for (int j = 0; j < g->kw; j++) {
      const int tw = iw + g->pw - j * g->dw, ow = tw / g->sw;
      if (tw < 0) break;
      if (tw % g->sw == 0 && ow < g->wo) s += row[j * col_len(g) + ow];
    }
  }
  return s;
}

/* Outputs of a row of dx that a CPU work-item gathers at once (a private array). */
#define COL2IM_SEGMENT 64

/* Row r = (b, c, ih) of dx from dcol, COL2IM_SEGMENT outputs at a time: each tap (i, j) in the
 * order of col2im_element adds its contiguous run of dcol (every sw-th output) to all of them, so
 * every element sums what col2im_element sums, in the same order. */
inline void col2im_row(__global const float *dcol, __global TYPE(OUT_DT) *dx, const conv_geom *g,
                       const ulong r) {
  const int ih = (int)(r % g->h), c = (int)(r / g->h % g->c), b = (int)(r / g->h / g->c);
  const int sw = g->sw, last = (g->wo - 1) * sw; /* the last tap position of a row */
  for (int s0 = 0; s0 < g->w; s0 += COL2IM_SEGMENT) {
    const int s1 = min(s0 + COL2IM_SEGMENT, g->w);
    float acc[COL2IM_SEGMENT];
    for (int t = 0; t < COL2IM_SEGMENT; t++) acc[t] = 0.0f;
    for (int i = 0; i < g->kh; i++) {
      const int th = ih + g->ph - i * g->dh;
      if (th < 0) break;
      if (th % g->sh || th / g->sh >= g->ho) continue;
      __global const float *row = dcol + (ulong)(c * g->kh + i) * g->kw * col_len(g) +
                                  b * plane(g) + (ulong)(th / g->sh) * g->wo;
      for (int j = 0; j < g->kw; j++, row += col_len(g)) {
        /* The outputs iw of the segment whose tap position iw + off is a multiple of sw in
         * [0, last]. */
        const int off = g->pw - j * g->dw;
        int lo = max(s0, -off);
        const int rem = (lo + off) % sw, hi = min(s1, last - off + 1);
        if (rem) lo += sw - rem;
        for (int iw = lo; iw < hi; iw += sw) acc[iw - s0] += row[(iw + off) / sw];
      }
    }
    for (int iw = s0; iw < s1; iw++) STORE(OUT_DT, dx, r * g->w + iw, acc[iw - s0]);
  }
}

/* dx [nb, C, H, W] at dx_off, rounded once to OUT_DT, from dcol at dcol_off. CPUs: a block of
 * whole rows (b, c, ih) per item; elsewhere one element per item. */
__kernel void conv_col2im(__global const float *dcol, const ulong dcol_off,
                          __global TYPE(OUT_DT) *dx, const ulong dx_off, const int16 geo) {
  const conv_geom gv = GEOM_UNPACK(geo), *g = &gv;
  const ulong rows = (ulong)g->nb * g->c * g->h;
#if CLMP_CPU
  CLMP_FOR_ITEMS(r, rows) col2im_row(dcol + dcol_off, dx + dx_off, g, r);
#else
  CLMP_FOR_ITEMS(e, rows * g->w) {
    const ulong r = e / g->w;
    const int ih = (int)(r % g->h), c = (int)(r / g->h % g->c);
    STORE(OUT_DT, dx, dx_off + e,
          col2im_element(dcol + dcol_off, g, (int)(r / g->h / g->c), c, ih, (int)(e % g->w)));
  }
#endif
}

/* dw[i] = acc[i] + beta * dw[i] for the n elements of dw, rounded once to OUT_DT (beta 0: dw is
 * not read). */
__kernel void conv_dw_finish(__global const float *acc, const ulong acc_off, const float beta,
                             __global TYPE(OUT_DT) *dw, const ulong dw_off, const ulong n) {
  CLMP_FOR_ITEMS(i, n) {
    float s = acc[acc_off + i];
    if (beta != 0.0f) s = s + beta * LOAD(OUT_DT, dw, dw_off + i);
    STORE(OUT_DT, dw, dw_off + i, s);
  }
}
#endif
