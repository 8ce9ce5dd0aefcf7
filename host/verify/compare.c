/* host/verify/compare.c: element-wise comparison of device and reference results. */
#include "compare.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "clmp/convert.h"

/* Maps a float's bits onto a line where adjacent values are adjacent integers (-0 == +0). */
static int64_t ordered(clmp_dtype d, float x) {
  if (d == CLMP_F16) {
    uint16_t h = clmp_f32_to_f16(x);
    return (h & 0x8000u) ? -(int64_t)(h & 0x7fffu) : (int64_t)h;
  }
  if (d == CLMP_BF16) {
    uint16_t h = clmp_f32_to_bf16(x);
    return (h & 0x8000u) ? -(int64_t)(h & 0x7fffu) : (int64_t)h;
  }
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return (u & 0x80000000u) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}

double clmp__ulp_distance(clmp_dtype d, float a, float b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0.0 : INFINITY;
  int64_t diff = ordered(d, a) - ordered(d, b);
  return (double)(diff < 0 ? -diff : diff);
}

static double element(clmp_dtype d, const void *p, size_t i) {
  switch (d) {
  case CLMP_F16:
    return clmp_f16_to_f32(((const uint16_t *)p)[i]);
  case CLMP_BF16:
    return clmp_bf16_to_f32(((const uint16_t *)p)[i]);
  case CLMP_I32:
    return ((const int32_t *)p)[i];
  case CLMP_U8:
    return ((const uint8_t *)p)[i];
  default:
    return ((const float *)p)[i];
  }
}

static int passes(clmp_dtype d, double g, double w, double ulp, double slack,
                  const clmp__tolerance *tol) {
  if (d == CLMP_I32 || d == CLMP_U8) return g == w;
  if (isnan(g) || isnan(w)) return isnan(g) && isnan(w);
  if (isinf(g) || isinf(w)) return g == w;
  return fabs(g - w) <= tol->atol + tol->rtol * fabs(w) + slack || ulp <= tol->max_ulp;
}

void clmp__compare(clmp_dtype d, const void *got, const void *want, size_t n,
                   const clmp__tolerance *tol, clmp__compare_result *out) {
  clmp__compare_sum(d, got, want, NULL, 0.0, n, tol, out);
}

void clmp__compare_sum(clmp_dtype d, const void *got, const void *want, const float *mag,
                       double mtol, size_t n, const clmp__tolerance *tol,
                       clmp__compare_result *out) {
  memset(out, 0, sizeof *out);
  out->n = n;
  double worst_key = -1;
  for (size_t i = 0; i < n; i++) {
    double g = element(d, got, i), w = element(d, want, i);
    double ulp =
        (d == CLMP_I32 || d == CLMP_U8) ? fabs(g - w) : clmp__ulp_distance(d, (float)g, (float)w);
    double abs_err = isfinite(g) && isfinite(w) ? fabs(g - w) : (g == w || ulp == 0 ? 0 : INFINITY);
    if (abs_err > out->max_abs) out->max_abs = abs_err;
    if (ulp > out->max_ulp) out->max_ulp = ulp;
    int ok = passes(d, g, w, ulp, mag ? mtol * (double)mag[i] : 0.0, tol);
    out->failed += !ok;
    double key = ok ? abs_err : INFINITY;
    if (key > worst_key) worst_key = key, out->worst = i, out->got_worst = g, out->want_worst = w;
  }
}
