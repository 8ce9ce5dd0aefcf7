/* cl/norm.cl: batch normalisation over dimension 1 of [N, C, S] views, in fp32: the finishes of
 * the per-channel statistics from cl/reduce.cl's partial sums (BN_STATS, BN_GRADS), and the
 * element-wise passes, one plane per row of clmp__launch_rows (BN_APPLY: y from x; BN_DX: dx from
 * x and dy). Storage dtypes: X_DT, Y_DT, G_DT (gamma), B_DT (beta), DY_DT, DX_DT, DG_DT and DB_DT
 * (dgamma, dbeta); the statistics, saves and running buffers are f32. */

/* Every product and sum is rounded on its own, on every device: no fused multiply-add. */
#pragma OPENCL FP_CONTRACT OFF

/* The sum of channel ch's partial sums (host/ops/reduce.h): rows r in order, then j < sp. */
inline float channel_sum(__global const float *partial, ulong p_off, ulong rows, ulong c, ulong sp,
                         ulong ch) {
  float s = 0.0f;
  for (ulong r = 0; r < rows; r++)
    for (ulong j = 0; j < sp; j++) s += partial[p_off + (r * c + ch) * sp + j];
  return s;
}

/* The partial sums (from element p_off) and their shape: rows, channels, per-row elements of a
 * channel. */
#define PARTIAL_ARGS \
  __global const float *partial, const ulong p_off, const ulong rows, const ulong c, const ulong sp

#ifdef BN_STATS
/* mean[ch] = the sum of x over channel ch * inv_m (1 / M rounded to fp32, M = N S). */
__kernel void bn_mean(PARTIAL_ARGS, const float inv_m, __global float *mean, const ulong mean_off) {
  for (ulong ch = get_global_id(0); ch < c; ch += get_global_size(0))
    mean[mean_off + ch] = channel_sum(partial, p_off, rows, c, sp, ch) * inv_m;
}

/* From the sum of squared deviations m2: var = m2 * inv_m, invstd = rsqrt(var + eps); with
 * running buffers, running = (1 - momentum) * running + momentum * (mean, m2 * inv_m1), the
 * unbiased variance (inv_m1 = 1 / (M - 1) rounded to fp32), as torch.nn.BatchNorm2d. */
__kernel void bn_var(PARTIAL_ARGS, const float inv_m, const float inv_m1, const float eps,
                     const float momentum, __global const float *mean, const ulong mean_off,
                     __global float *invstd, const ulong invstd_off, __global float *rmean,
                     const ulong rm_off, __global float *rvar, const ulong rv_off,
                     const int running) {
  for (ulong ch = get_global_id(0); ch < c; ch += get_global_size(0)) {
    const float m2 = channel_sum(partial, p_off, rows, c, sp, ch);
    invstd[invstd_off + ch] = rsqrt(m2 * inv_m + eps);
    if (!running) continue;
    const float keep = 1.0f - momentum;
    rmean[rm_off + ch] = keep * rmean[rm_off + ch] + momentum * mean[mean_off + ch];
    rvar[rv_off + ch] = keep * rvar[rv_off + ch] + momentum * (m2 * inv_m1);
  }
}

/* Evaluation: invstd[ch] = rsqrt(running_var[ch] + eps). */
__kernel void bn_eval_invstd(__global const float *rvar, const ulong rv_off, const float eps,
                             const ulong c, __global float *invstd, const ulong invstd_off) {
  for (ulong ch = get_global_id(0); ch < c; ch += get_global_size(0))
    invstd[invstd_off + ch] = rsqrt(rvar[rv_off + ch] + eps);
}
#endif

#ifdef BN_APPLY
/* y = ((x - mean[ch]) * invstd[ch]) * gamma[ch] + beta[ch] over planes p of s elements, ch =
 * p % c (x may be y: each element is read, then written, by one item). */
__kernel void bn_apply(__global const TYPE(X_DT) *x, const ulong x_off, __global const float *mean,
                       const ulong mean_off, __global const float *invstd, const ulong invstd_off,
                       __global const TYPE(G_DT) *gamma, const ulong g_off,
                       __global const TYPE(B_DT) *beta, const ulong b_off, __global TYPE(Y_DT) *y,
                       const ulong y_off, const ulong c, const ulong planes, const ulong s) {
  CLMP_FOR_ROWS(p, planes) {
    const ulong ch = p % c;
    const float m = mean[mean_off + ch], is = invstd[invstd_off + ch];
    const float g = LOAD(G_DT, gamma, g_off + ch), b = LOAD(B_DT, beta, b_off + ch);
    CLMP_FOR_COLS(j, s) {
      const float v = LOAD(X_DT, x, x_off + p * s + j);
      STORE(Y_DT, y, y_off + p * s + j, (v - m) * is * g + b);
    }
  }
}
#endif

#ifdef BN_GRADS
/* From the partial sums of dy (first array) and dy (x - mean) (the second, n_out floats on):
 * dbeta = sum dy, dgamma = sum dy (x - mean) * invstd, each + acc * its old value (not read when
 * acc == 0), rounded once to DB_DT / DG_DT; and the coefficients of the dx pass, f32 [3][c]: the
 * mean of dy, proj = sum dy (x - mean) * inv_m * invstd * invstd, and invstd * gamma. */
__kernel void bn_grads(PARTIAL_ARGS, const ulong n_out, const float inv_m,
                       __global const float *invstd, const ulong invstd_off,
                       __global const TYPE(G_DT) *gamma, const ulong g_off, const float acc,
                       __global TYPE(DG_DT) *dgamma, const ulong dg_off,
                       __global TYPE(DB_DT) *dbeta, const ulong db_off, __global float *coef,
                       const ulong coef_off) {
  for (ulong ch = get_global_id(0); ch < c; ch += get_global_size(0)) {
    const float s_dy = channel_sum(partial, p_off, rows, c, sp, ch);
    const float s_dxm = channel_sum(partial, p_off + n_out, rows, c, sp, ch);
    const float is = invstd[invstd_off + ch];
    float db = s_dy, dg = s_dxm * is;
    if (acc != 0.0f) {
      db = db + acc * LOAD(DB_DT, dbeta, db_off + ch);
      dg = dg + acc * LOAD(DG_DT, dgamma, dg_off + ch);
    }
    STORE(DB_DT, dbeta, db_off + ch, db);
    STORE(DG_DT, dgamma, dg_off + ch, dg);
    coef[coef_off + ch] = s_dy * inv_m;
    coef[coef_off + c + ch] = s_dxm * inv_m * is * is;
    coef[coef_off + 2 * c + ch] = is * LOAD(G_DT, gamma, g_off + ch);
  }
}
#endif

#ifdef BN_DX
/* dx = ((dy - mean_dy) - (x - mean) * proj) * (invstd gamma), from bn_grads' coefficients (dx
 * may be dy: each element is read, then written, by one item). */
__kernel void bn_dx(__global const TYPE(X_DT) *x, const ulong x_off, __global const TYPE(DY_DT) *dy,
                    const ulong dy_off, __global const float *mean, const ulong mean_off,
                    __global const float *coef, const ulong coef_off, __global TYPE(DX_DT) *dx,
                    const ulong dx_off, const ulong c, const ulong planes, const ulong s) {
  CLMP_FOR_ROWS(p, planes) {
    const ulong ch = p % c;
    const float m = mean[mean_off + ch], mdy = coef[coef_off + ch];
    const float proj = coef[coef_off + c + ch], scale = coef[coef_off + 2 * c + ch];
    CLMP_FOR_COLS(j, s) {
      const ulong i = p * s + j;
      const float v = LOAD(X_DT, x, x_off + i), g = LOAD(DY_DT, dy, dy_off + i);
      STORE(DX_DT, dx, dx_off + i, (g - mdy - (v - m) * proj) * scale);
    }
  }
}
#endif
