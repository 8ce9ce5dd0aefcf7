/* cl/data.cl: assembling a minibatch on the device: rows of a dataset gathered by index and
 * transformed, dst[b, :] = src[idx[b], :] * scale + shift (SRC_DT, DST_DT any storage dtype). */

/* One work-item per output element; an index outside [0, rows) writes NaN (0 for integers). */
__kernel void gather_rows(__global const TYPE(SRC_DT) * src, const ulong src_off, const ulong rows,
                          const ulong cols, __global const int *idx, const ulong idx_off,
                          const float scale, const float shift, __global TYPE(DST_DT) * dst,
                          const ulong dst_off, const ulong n) {
  CLMP_FOR_ITEMS(i, n) {
    ulong b = i / cols, c = i - b * cols;
    int r = idx[idx_off + b];
    float v = (r >= 0 && (ulong)r < rows)
                  ? fma(LOAD(SRC_DT, src, src_off + (ulong)r * cols + c), scale, shift)
                  : NAN;
    STORE(DST_DT, dst, dst_off + i, v);
  }
}
