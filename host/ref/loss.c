/* host/ref/loss.c: the reference of the loss and accuracy ops: softmax cross-entropy forward and
 * backward, argmax and the correct count, row by row in index order, in double. */
#include <math.h>
#include <stdint.h>

#include "../ops/table.h"

/* log(sum_j exp(x[j])) over one row of n values at element base, shifted by the row's max. */
static double row_logsumexp(clmp_dtype d, const void *x, size_t base, size_t n) {
  double m = clmp__load_f32(d, x, base), s = 0.0;
  for (size_t j = 1; j < n; j++) {
    double v = clmp__load_f32(d, x, base + j);
    if (v > m) m = v;
  }
  for (size_t j = 0; j < n; j++) s += exp(clmp__load_f32(d, x, base + j) - m);
  return m + log(s);
}

static int label_valid(int32_t label, size_t classes) {
  return label >= 0 && (size_t)label < classes;
}

clmp_status clmp__ref_softmax_xent(const clmp_tensor *logits, const clmp_tensor *labels,
                                   clmp_tensor *loss) {
  const void *x = clmp__tensor_host(logits);
  const int32_t *lab = clmp__tensor_host(labels);
  size_t rows = logits->shape[0], classes = logits->shape[1];
  double total = 0.0;
  for (size_t r = 0; r < rows; r++) {
    double lse = row_logsumexp(logits->dtype, x, r * classes, classes);
    total += label_valid(lab[r], classes)
                 ? lse - clmp__load_f32(logits->dtype, x, r * classes + (size_t)lab[r])
                 : NAN;
  }
  clmp__store_f32(CLMP_F32, clmp__tensor_host(loss), 0, (float)(total / (double)rows));
  return CLMP_SUCCESS;
}

/* dl = (softmax - onehot) / rows * scale; each element of a row is read before it is written,
 * so dlogits may be logits. */
clmp_status clmp__ref_softmax_xent_backward(const clmp_tensor *logits, const clmp_tensor *labels,
                                            const clmp_tensor *scale, clmp_tensor *dlogits) {
  const void *x = clmp__tensor_host(logits);
  void *dl = clmp__tensor_host(dlogits);
  const int32_t *lab = clmp__tensor_host(labels);
  size_t rows = logits->shape[0], classes = logits->shape[1];
  double s = scale ? clmp__load_f32(CLMP_F32, clmp__tensor_host(scale), 0) : 1.0;
  for (size_t r = 0; r < rows; r++) {
    size_t base = r * classes;
    double lse = row_logsumexp(logits->dtype, x, base, classes);
    int valid = label_valid(lab[r], classes);
    for (size_t j = 0; j < classes; j++) {
      double p = exp(clmp__load_f32(logits->dtype, x, base + j) - lse);
      double g = valid ? (p - (j == (size_t)lab[r])) / (double)rows * s : NAN;
      clmp__store_f32(dlogits->dtype, dl, base + j, (float)g);
    }
  }
  return CLMP_SUCCESS;
}

/* The first index of the largest value of a row; NaN is larger than anything. */
static int32_t row_argmax(clmp_dtype d, const void *x, size_t base, size_t n) {
  size_t best = 0;
  for (size_t j = 1; j < n; j++) {
    float b = clmp__load_f32(d, x, base + best), v = clmp__load_f32(d, x, base + j);
    if (isnan(b)) break;
    if (isnan(v) || v > b) best = j;
  }
  return (int32_t)best;
}

clmp_status clmp__ref_argmax(const clmp_tensor *x, clmp_tensor *out) {
  int32_t *o = clmp__tensor_host(out);
  size_t rows = x->shape[0], classes = x->shape[1];
  for (size_t r = 0; r < rows; r++)
    o[r] = row_argmax(x->dtype, clmp__tensor_host(x), r * classes, classes);
  return CLMP_SUCCESS;
}

/* count[0] += correct rows, wrapping like the device's 32-bit integer add. */
clmp_status clmp__ref_correct_count(const clmp_tensor *logits, const clmp_tensor *labels,
                                    clmp_tensor *count) {
  const int32_t *lab = clmp__tensor_host(labels);
  int32_t *c = clmp__tensor_host(count);
  size_t rows = logits->shape[0], classes = logits->shape[1];
  uint32_t n = 0;
  for (size_t r = 0; r < rows; r++)
    n += row_argmax(logits->dtype, clmp__tensor_host(logits), r * classes, classes) == lab[r];
  *c = (int32_t)((uint32_t)*c + n);
  return CLMP_SUCCESS;
}
