/* cl/loss.cl: softmax cross-entropy (per-row losses, their fixed-order mean, the gradient), argmax
 * and the count of correct predictions. Logits are X_DT, the gradient Y_DT, labels int; one
 * work-item per row (classification heads have few classes), fp32 throughout. */

/* Storage types of the logits and the gradient (named, so that clang-format sees types). */
#define X_T TYPE(X_DT)
#define Y_T TYPE(Y_DT)

/* The largest value of a row (NaN skipped here; it reaches the sum and makes the result NaN). */
float row_max(__global const X_T *x, ulong base, ulong classes) {
  float m = LOAD(X_DT, x, base);
  for (ulong j = 1; j < classes; j++) m = fmax(m, LOAD(X_DT, x, base + j));
  return m;
}

/* sum of exp(x[j] - m) over the row, in index order. */
float row_sum_exp(__global const X_T *x, ulong base, ulong classes, float m) {
  float s = 0.0f;
  for (ulong j = 0; j < classes; j++) s += exp(LOAD(X_DT, x, base + j) - m);
  return s;
}

/* The first index of the row's largest value; a NaN counts as larger than anything. */
int row_argmax(__global const X_T *x, ulong base, ulong classes) {
  float best = LOAD(X_DT, x, base);
  int arg = 0;
  for (ulong j = 1; j < classes && !isnan(best); j++) {
    float v = LOAD(X_DT, x, base + j);
    if (isnan(v) || v > best) best = v, arg = (int)j;
  }
  return arg;
}

/* losses[r] = logsumexp(x[r]) - x[r, labels[r]] (NaN for a label outside [0, classes)). */
__kernel void xent_rows(__global const X_T *x, const ulong x_off, __global const int *labels,
                        const ulong lab_off, const ulong rows, const ulong classes,
                        __global float *losses) {
  for (ulong r = get_global_id(0); r < rows; r += get_global_size(0)) {
    ulong base = x_off + r * classes;
    int label = labels[lab_off + r];
    float m = row_max(x, base, classes);
    float s = row_sum_exp(x, base, classes, m);
    int valid = label >= 0 && (ulong)label < classes;
    losses[r] = valid ? (m - LOAD(X_DT, x, base + (ulong)label)) + log(s) : NAN;
  }
}

/* loss[0] = mean of losses[0..rows): one work-group; item l adds rows l, l + GROUP_SIZE, ... in
 * order, then a fixed tree combines the items, so every run adds in the same order. */
__kernel __attribute__((reqd_work_group_size(GROUP_SIZE, 1, 1))) void
xent_mean(__global const float *losses, const ulong rows, __global float *loss,
          const ulong loss_off) {
  __local float part[GROUP_SIZE];
  uint l = get_local_id(0);
  float acc = 0.0f;
  for (ulong r = l; r < rows; r += GROUP_SIZE) acc += losses[r];
  part[l] = acc;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint h = GROUP_SIZE / 2; h > 0; h >>= 1) {
    if (l < h) part[l] += part[l + h];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (l == 0) loss[loss_off] = part[0] / (float)rows;
}

/* dl[r, j] = (softmax(x[r])[j] - (j == labels[r])) * scale / rows, scale = scale[0] when
 * has_scale, else 1; a row with a label out of range is NaN. dl may be x: each element is read
 * before it is written, by the work-item that writes it. */
__kernel void xent_backward(__global const X_T *x, const ulong x_off, __global const int *labels,
                            const ulong lab_off, const ulong rows, const ulong classes,
                            __global const float *scale, const ulong scale_off, const int has_scale,
                            __global Y_T *dl, const ulong dl_off) {
  float factor = (has_scale ? scale[scale_off] : 1.0f) / (float)rows;
  for (ulong r = get_global_id(0); r < rows; r += get_global_size(0)) {
    ulong base = x_off + r * classes, out = dl_off + r * classes;
    int label = labels[lab_off + r];
    float m = row_max(x, base, classes);
    float s = row_sum_exp(x, base, classes, m);
    int valid = label >= 0 && (ulong)label < classes;
    for (ulong j = 0; j < classes; j++) {
      float p = exp(LOAD(X_DT, x, base + j) - m) / s;
      float g = valid ? (p - (j == (ulong)label ? 1.0f : 0.0f)) * factor : NAN;
      STORE(Y_DT, dl, out + j, g);
    }
  }
}

/* out[r] = the first index of the largest value of row r. */
__kernel void argmax_rows(__global const X_T *x, const ulong x_off, const ulong rows,
                          const ulong classes, __global int *out, const ulong out_off) {
  for (ulong r = get_global_id(0); r < rows; r += get_global_size(0))
    out[out_off + r] = row_argmax(x, x_off + r * classes, classes);
}

/* count[0] += rows whose argmax equals the label: integer atomics, exact in any order. */
__kernel void correct_count(__global const X_T *x, const ulong x_off, __global const int *labels,
                            const ulong lab_off, const ulong rows, const ulong classes,
                            volatile __global int *count, const ulong count_off) {
  int n = 0;
  for (ulong r = get_global_id(0); r < rows; r += get_global_size(0))
    n += row_argmax(x, x_off + r * classes, classes) == labels[lab_off + r];
  if (n) atomic_add(&count[count_off], n);
}
