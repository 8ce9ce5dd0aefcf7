/* cl/bias.cl: the bias of a linear layer: bias_add (y[r, c] += bias[c]; Y_DT, B_DT) and bias_grad
 * (db[c] = column sum of dy + beta * db[c]; DY_DT, DB_DT), fp32, in a fixed order. */

/* s + beta * db is a rounded product and a rounded sum everywhere, never a fused multiply-add. */
#pragma OPENCL FP_CONTRACT OFF

#ifdef B_DT
/* y[r, c] += bias[c] for the n = rows * cols elements of y. */
__kernel void bias_add(__global TYPE(Y_DT) *y, const ulong y_off, __global const TYPE(B_DT) *bias,
                       const ulong b_off, const ulong cols, const ulong n) {
  CLMP_FOR_ITEMS(i, n)
    STORE(Y_DT, y, y_off + i, LOAD(Y_DT, y, y_off + i) + LOAD(B_DT, bias, b_off + i % cols));
}
#endif

#ifdef DB_DT
/* bias_grad in two passes whose order depends on rows alone (BG_BLOCK_ROWS comes from the
 * host), so every run and every device sums alike: block b of BG_BLOCK_ROWS rows gives one
 * partial sum per column, rows in order; then each column adds its partials, blocks in order. */
#ifndef BG_BLOCK_ROWS
#error "BG_BLOCK_ROWS comes from host/ops/bias.c"
#endif

/* partial[b * cols + c] = sum of dy[r, c] over the rows r of block b, for the n_partial =
 * blocks * cols partial sums (adjacent work-items take adjacent columns). */
__kernel void bias_grad_blocks(__global const TYPE(DY_DT) *dy, const ulong dy_off, const ulong rows,
                               const ulong cols, __global float *partial, const ulong n_partial) {
  for (ulong i = get_global_id(0); i < n_partial; i += get_global_size(0)) {
    const ulong c = i % cols, r0 = i / cols * BG_BLOCK_ROWS;
    const ulong r1 = min(r0 + BG_BLOCK_ROWS, rows);
    float s = 0.0f;
    for (ulong r = r0; r < r1; r++) s += LOAD(DY_DT, dy, dy_off + r * cols + c);
    partial[i] = s;
  }
}

/* db[c] = sum over b of partial[b * cols + c], blocks in order, + beta * db[c] (db is not read
 * when beta == 0). */
__kernel void bias_grad_finish(__global const float *partial, const ulong blocks, const ulong cols,
                               const float beta, __global TYPE(DB_DT) *db, const ulong db_off) {
  for (ulong c = get_global_id(0); c < cols; c += get_global_size(0)) {
    float s = 0.0f;
    for (ulong b = 0; b < blocks; b++) s += partial[b * cols + c];
    if (beta != 0.0f) s = s + beta * LOAD(DB_DT, db, db_off + c);
    STORE(DB_DT, db, db_off + c, s);
  }
}
#endif
