/* cl/bias.cl: a bias along dimension 1: bias_add (y[n, c, ...] += bias[c]; Y_DT, B_DT) and the
 * finish of bias_grad (db[c] = the sum of dy's partial sums from cl/reduce.cl + beta * db[c];
 * DB_DT), fp32, in a fixed order. */

/* s + beta * db is a rounded product and a rounded sum everywhere, never a fused multiply-add. */
#pragma OPENCL FP_CONTRACT OFF

#ifdef B_DT
/* y[r, c] += bias[c] for the n = rows * cols elements of a matrix y. */
__kernel void bias_add(__global TYPE(Y_DT) *y, const ulong y_off, __global const TYPE(B_DT) *bias,
                       const ulong b_off, const ulong cols, const ulong n) {
  CLMP_FOR_ITEMS(i, n)
    STORE(Y_DT, y, y_off + i, LOAD(Y_DT, y, y_off + i) + LOAD(B_DT, bias, b_off + i % cols));
}

/* y[p, j] += bias[p % c] over the planes p < planes of s elements of an [N, C, S] view, one
 * plane per row of clmp__launch_rows (the channel found once per plane). */
__kernel void bias_add_planes(__global TYPE(Y_DT) *y, const ulong y_off,
                              __global const TYPE(B_DT) *bias, const ulong b_off, const ulong c,
                              const ulong planes, const ulong s) {
  CLMP_FOR_ROWS(p, planes) {
    const float b = LOAD(B_DT, bias, b_off + p % c);
    const ulong base = y_off + p * s;
    CLMP_FOR_COLS(j, s) {
      STORE(Y_DT, y, base + j, LOAD(Y_DT, y, base + j) + b);
    }
  }
}
#endif

#ifdef DB_DT
/* db[c] = the sum of channel c's partial sums (host/ops/reduce.h: rows r in order, then j < sp
 * in order) + beta * db[c] (db is not read when beta == 0). The order follows from dy's shape
 * alone, so every run and every device sums alike. */
__kernel void bias_grad_finish(__global const float *partial, const ulong p_off, const ulong rows,
                               const ulong cols, const ulong sp, const float beta,
                               __global TYPE(DB_DT) *db, const ulong db_off) {
  for (ulong c = get_global_id(0); c < cols; c += get_global_size(0)) {
    float s = 0.0f;
    for (ulong r = 0; r < rows; r++)
      for (ulong j = 0; j < sp; j++) s += partial[p_off + (r * cols + c) * sp + j];
    if (beta != 0.0f) s = s + beta * LOAD(DB_DT, db, db_off + c);
    STORE(DB_DT, db, db_off + c, s);
  }
}
#endif
