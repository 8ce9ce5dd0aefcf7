/* cl/pool.cl: 2-D pooling over the planes of NCHW tensors, in fp32: max and average windows
 * forward (an item per output, X_DT -> Y_DT) and backward (an item per input element that
 * gathers from the windows holding it, in a fixed order, no atomics: DY_DT -> DX_DT); the finish
 * of global average pooling (from cl/reduce.cl's plane partials) and its backward. Planes are
 * rows of clmp__launch_rows: row r is output (or input) row r % height of plane r / height. */

/* A sum times the reciprocal is a rounded sum and a rounded product everywhere. */
#pragma OPENCL FP_CONTRACT OFF

/* dims = (H, W, Ho, Wo) of a plane; win = (kh, kw, sh, sw); pad = (ph, pw). The host has checked
 * that a plane has fewer than 2^31 elements and the window's values are below 2^31; forward
 * window bounds are found in 64 bits, since start + k may pass 2^31. */
#define POOL_GEOMETRY const int4 dims, const int4 win, const int2 pad

/* The outputs (or inputs) of a row: a grid stride on GPUs; on CPUs, where the range is one item
 * wide, the same loop with a step of 1 known only at run time, which keeps the compiler from
 * vectorising across outputs through the window loops (PoCL, 3 x 3 / 2 of 6.4e6 f16: 55 ms
 * vectorised, 34 ms not). */
#define POOL_FOR_COLS(j, n) for (ulong j = get_global_id(0); j < (n); j += get_global_size(0))

/* [lo, hi) of the inputs of output o along an axis of size n, clipped: never empty, since the
 * padding is at most half the window (host/ops/pool.c). */
inline int2 pool_window(int o, int stride, int padding, int k, int n) {
  long start = (long)o * stride - padding;
  return (int2)((int)max(start, 0L), (int)min(start + k, (long)n));
}

/* An input position along an axis, padded, as q s + rem (s the stride), and the step of the
 * columns of an item as qs s + rs: a walk along a row divides once, then only adds. Positions
 * and strides are below 2^31, so their sums fit 32 bits. */
typedef struct pool_walk {
  uint q, rem, qs, rs, s;
} pool_walk;

inline pool_walk pool_walk_start(ulong i, uint padding, uint s, ulong step) {
  uint ip = (uint)i + padding;
  pool_walk p = {ip / s, ip % s, (uint)(step / s), (uint)(step % s), s};
  return p;
}

inline void pool_walk_next(pool_walk *p) {
  p->rem += p->rs, p->q += p->qs;
  if (p->rem >= p->s) p->rem -= p->s, p->q++;
}

/* [lo, hi) of the outputs (of n_out along the axis) whose windows hold the position: q, q - 1,
 * ... while the window (j windows back) still reaches it, j s + rem < k; none when rem >= k
 * (a stride longer than the window leaves gaps). */
inline uint2 pool_cover(pool_walk p, uint k, uint n_out) {
  if (p.rem >= k) return (uint2)(0, 0);
  uint j = 0;
  while (j < p.q && (j + 1) * p.s + p.rem < k) j++;
  uint hi = min(p.q + 1, n_out);
  return (uint2)(min(p.q - j, hi), hi);
}

#if defined(X_DT) && defined(Y_DT)
/* y = the largest x of each window, the first of a tie; NaN wins (the first NaN; PyTorch keeps
 * the last one's index), padding never does. WITH_INDICES: ind = its position h W + w in the
 * plane. */
__kernel void max_pool2d(__global const TYPE(X_DT) *x, const ulong x_off, __global TYPE(Y_DT) *y,
                         const ulong y_off, __global int *ind, const ulong ind_off,
                         const ulong planes, POOL_GEOMETRY) {
  CLMP_FOR_ROWS(r, planes * dims.s2) {
    const ulong xp = x_off + r / dims.s2 * dims.s0 * dims.s1;
    const int2 hr = pool_window(r % dims.s2, win.s2, pad.s0, win.s0, dims.s0);
    POOL_FOR_COLS(ow, dims.s3) {
      const int2 wr = pool_window(ow, win.s3, pad.s1, win.s1, dims.s1);
      float best = -INFINITY;
      int at = hr.x * dims.s1 + wr.x;
      for (int h = hr.x; h < hr.y; h++)
        for (int w = wr.x; w < wr.y; w++) {
          float v = LOAD(X_DT, x, xp + h * dims.s1 + w);
          if (v > best || (isnan(v) && !isnan(best))) best = v, at = h * dims.s1 + w;
        }
      STORE(Y_DT, y, y_off + r * dims.s3 + ow, best);
#if WITH_INDICES
      ind[ind_off + r * dims.s3 + ow] = at;
#endif
    }
  }
}

/* y = (the sum of each window's inputs, padding counted as zeros) * inv_k, inv_k = 1 / (kh kw)
 * rounded to fp32; the window is summed row by row, in order. */
__kernel void avg_pool2d(__global const TYPE(X_DT) *x, const ulong x_off, __global TYPE(Y_DT) *y,
                         const ulong y_off, const ulong planes, POOL_GEOMETRY, const float inv_k) {
  CLMP_FOR_ROWS(r, planes * dims.s2) {
    const ulong xp = x_off + r / dims.s2 * dims.s0 * dims.s1;
    const int2 hr = pool_window(r % dims.s2, win.s2, pad.s0, win.s0, dims.s0);
    POOL_FOR_COLS(ow, dims.s3) {
      const int2 wr = pool_window(ow, win.s3, pad.s1, win.s1, dims.s1);
      float s = 0.0f;
      for (int h = hr.x; h < hr.y; h++)
        for (int w = wr.x; w < wr.y; w++) s += LOAD(X_DT, x, xp + h * dims.s1 + w);
      STORE(Y_DT, y, y_off + r * dims.s3 + ow, s * inv_k);
    }
  }
}

/* y[p] = (the sum of plane p's chunk partials, chunks in order) * inv_s (host/ops/reduce.h's
 * plane layout: partial[(n chunks + k) c + ch] for plane p = n c + ch). */
__kernel void global_avg_finish(__global const float *partial, const ulong p_off,
                                const ulong planes, const ulong c, const ulong chunks,
                                const float inv_s, __global TYPE(Y_DT) *y, const ulong y_off) {
  for (ulong p = get_global_id(0); p < planes; p += get_global_size(0)) {
    float s = 0.0f;
    for (ulong k = 0; k < chunks; k++) s += partial[p_off + (p / c * chunks + k) * c + p % c];
    STORE(Y_DT, y, y_off + p, s * inv_s);
  }
}
#endif

#if defined(DY_DT) && defined(DX_DT)
/* dx[h, w] = the sum of dy over the windows holding (h, w) whose index is h W + w, windows in
 * order (oh, then ow); an index that points elsewhere adds nothing. */
__kernel void max_pool2d_backward(__global const TYPE(DY_DT) *dy, const ulong dy_off,
                                  __global const int *ind, const ulong ind_off,
                                  __global TYPE(DX_DT) *dx, const ulong dx_off, const ulong planes,
                                  POOL_GEOMETRY) {
  CLMP_FOR_ROWS(r, planes * dims.s0) {
    const ulong op = r / dims.s0 * dims.s2 * dims.s3;
    const int h = r % dims.s0;
    const uint2 hr = pool_cover(pool_walk_start(h, pad.s0, win.s2, 0), win.s0, dims.s2);
    pool_walk pw = pool_walk_start(get_global_id(0), pad.s1, win.s3, get_global_size(0));
    POOL_FOR_COLS(w, dims.s1) {
      const uint2 wr = pool_cover(pw, win.s1, dims.s3);
      const int me = h * dims.s1 + w;
      float s = 0.0f;
      for (uint oh = hr.x; oh < hr.y; oh++)
        for (uint ow = wr.x; ow < wr.y; ow++) {
          ulong o = op + oh * dims.s3 + ow;
          if (ind[ind_off + o] == me) s += LOAD(DY_DT, dy, dy_off + o);
        }
      STORE(DX_DT, dx, dx_off + r * dims.s1 + w, s);
      pool_walk_next(&pw);
    }
  }
}

/* dx[h, w] = (the sum of dy over the windows holding (h, w), in order) * inv_k. */
__kernel void avg_pool2d_backward(__global const TYPE(DY_DT) *dy, const ulong dy_off,
                                  __global TYPE(DX_DT) *dx, const ulong dx_off, const ulong planes,
                                  POOL_GEOMETRY, const float inv_k) {
  CLMP_FOR_ROWS(r, planes * dims.s0) {
    const ulong op = dy_off + r / dims.s0 * dims.s2 * dims.s3;
    const uint2 hr = pool_cover(pool_walk_start(r % dims.s0, pad.s0, win.s2, 0), win.s0, dims.s2);
    pool_walk pw = pool_walk_start(get_global_id(0), pad.s1, win.s3, get_global_size(0));
    POOL_FOR_COLS(w, dims.s1) {
      const uint2 wr = pool_cover(pw, win.s1, dims.s3);
      float s = 0.0f;
      for (uint oh = hr.x; oh < hr.y; oh++)
        for (uint ow = wr.x; ow < wr.y; ow++) s += LOAD(DY_DT, dy, op + oh * dims.s3 + ow);
      STORE(DX_DT, dx, dx_off + r * dims.s1 + w, s * inv_k);
      pool_walk_next(&pw);
    }
  }
}

/* dx[p, j] = dy[p] * inv_s over the planes p of s elements. */
__kernel void global_avg_pool_backward(__global const TYPE(DY_DT) *dy, const ulong dy_off,
                                       __global TYPE(DX_DT) *dx, const ulong dx_off,
                                       const ulong planes, const ulong s, const float inv_s) {
  CLMP_FOR_ROWS(p, planes) {
    const float g = LOAD(DY_DT, dy, dy_off + p) * inv_s;
    CLMP_FOR_COLS(j, s) {
      STORE(DX_DT, dx, dx_off + p * s + j, g);
    }
  }
}
#endif
