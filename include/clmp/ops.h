/* clmp/ops.h: the operations, each running on its tensors' device (OpenCL or the reference).
 * Every op checks its arguments first and fails with a specific status without touching data.
 * Ops are queued, not waited for; reading a tensor waits. Storage dtypes are f32, f16 and bf16
 * unless said otherwise; arithmetic and accumulation are fp32. Tensors are row-major; a "matrix"
 * is a 2-D tensor [rows, cols]. Tensors of one call belong to one context. An output may share
 * memory with an input only where an op says so (then as the very same elements, "x may be y");
 * any other overlap of an output with an input is refused with CLMP_ERR_INVALID_ARGUMENT, since a
 * device would compute it in an undefined order. */
#ifndef CLMP_OPS_H
#define CLMP_OPS_H

#include "clmp/export.h"
#include "clmp/status.h"
#include "clmp/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- element-wise (x and y have the same element count; shapes may differ) ------------------ */

/* t[i] = value, rounded to t's dtype (f32, f16, bf16, i32: truncated toward zero, u8 likewise). */
CLMP_API clmp_status clmp_fill(clmp_tensor *t, float value);

/* dst = src converted to dst's dtype (round to nearest even, NaN kept). */
CLMP_API clmp_status clmp_cast(const clmp_tensor *src, clmp_tensor *dst);

/* y = a * x + b * y. With b == 0, y's old contents are not read (NaN in y does not propagate). */
CLMP_API clmp_status clmp_axpby(float a, const clmp_tensor *x, float b, clmp_tensor *y);

/* y = a * x (x may be y). */
CLMP_API clmp_status clmp_scale(float a, const clmp_tensor *x, clmp_tensor *y);

/* y = max(x, 0) (x may be y); NaN stays NaN. */
CLMP_API clmp_status clmp_relu(const clmp_tensor *x, clmp_tensor *y);
/* dx = dy where x > 0, else 0; x is the forward input. dx may be dy. */
CLMP_API clmp_status clmp_relu_backward(const clmp_tensor *x, const clmp_tensor *dy,
                                        clmp_tensor *dx);

/* y = x * Phi(x), the exact (erf) GELU of torch.nn.GELU() (x may be y). */
CLMP_API clmp_status clmp_gelu(const clmp_tensor *x, clmp_tensor *y);
/* dx = dy * GELU'(x); x is the forward input. dx may be dy. */
CLMP_API clmp_status clmp_gelu_backward(const clmp_tensor *x, const clmp_tensor *dy,
                                        clmp_tensor *dx);

/* --- bias ------------------------------------------------------------------------------------ */

/* y[r, c] += bias[c] for a matrix y [rows, cols] and a bias of cols elements. */
CLMP_API clmp_status clmp_bias_add(clmp_tensor *y, const clmp_tensor *bias);
/* db[c] = sum over r of dy[r, c] + beta * db[c], accumulated in fp32 in a fixed order (beta 0:
 * db's old contents are not read; beta 1: gradient accumulation). */
CLMP_API clmp_status clmp_bias_grad(const clmp_tensor *dy, float beta, clmp_tensor *db);

/* --- loss and accuracy ---------------------------------------------------------------------- */

/* loss[0] = mean over rows of -log softmax(logits[r])[labels[r]], in fp32. logits [rows,
 * classes]; labels i32 [rows] in [0, classes) (an out-of-range label makes the loss NaN); loss is
 * an f32 tensor of one element. */
CLMP_API clmp_status clmp_softmax_xent(const clmp_tensor *logits, const clmp_tensor *labels,
                                       clmp_tensor *loss);
/* dlogits = (softmax(logits) - onehot(labels)) / rows * scale[0], in dlogits' dtype. scale is an
 * f32 tensor of one element on the device (the loss scale), or NULL for 1. dlogits may be
 * logits. */
CLMP_API clmp_status clmp_softmax_xent_backward(const clmp_tensor *logits,
                                                const clmp_tensor *labels,
                                                const clmp_tensor *scale, clmp_tensor *dlogits);

/* out[r] = the first index of the largest value of row r (NaN counts as largest); out is i32. */
CLMP_API clmp_status clmp_argmax(const clmp_tensor *x, clmp_tensor *out);
/* count[0] += the number of rows whose argmax equals labels[r]; count is i32 of one element. */
CLMP_API clmp_status clmp_correct_count(const clmp_tensor *logits, const clmp_tensor *labels,
                                        clmp_tensor *count);

/* --- reductions (fp32, fixed order: the same device gives the same bits every run) ----------- */

/* flag[0] = 1 if any element of x is inf or NaN; flag (i32, one element) is never cleared. */
CLMP_API clmp_status clmp_nonfinite_check(const clmp_tensor *x, clmp_tensor *flag);
/* out[0] = sum of x[i]^2 + beta * out[0], fp32; out is an f32 tensor of one element. */
CLMP_API clmp_status clmp_sum_squares(const clmp_tensor *x, float beta, clmp_tensor *out);

/* --- data ----------------------------------------------------------------------------------- */

/* dst[b, :] = fma(src[idx[b], :], scale, shift) in fp32 (one rounding): a minibatch gathered from a
 * dataset kept on the device. src [rows, cols] and dst [batch, cols] of any dtype (integers are
 * truncated and saturated), idx i32 [batch]; an index outside [0, rows) gives NaN (0 in an
 * integer dst), since the device cannot report it. */
CLMP_API clmp_status clmp_gather_rows(const clmp_tensor *src, const clmp_tensor *idx, float scale,
                                      float shift, clmp_tensor *dst);

/* --- matrix multiply -------------------------------------------------------------------------- */

typedef enum clmp_transpose { CLMP_NO_TRANS = 0, CLMP_TRANS = 1 } clmp_transpose;

/* C = alpha * op(A) * op(B) + beta * C for matrices A, B, C (row-major), op(A) [M, K], op(B)
 * [K, N], C [M, N]. f32 x f32 -> f32 runs on CLBlast's Sgemm; any f16/bf16 input runs on clmp's
 * own kernel with fp32 accumulation, output in C's dtype. beta 0: C is not read. */
CLMP_API clmp_status clmp_gemm(clmp_transpose ta, clmp_transpose tb, float alpha,
                               const clmp_tensor *a, const clmp_tensor *b, float beta,
                               clmp_tensor *c);

/* A matrix inside a tensor's storage: element offset, rows and cols of the stored matrix (before
 * any transpose), and the leading dimension (elements between two rows, >= cols). */
typedef struct clmp_matrix {
  const clmp_tensor *t;
  size_t offset, rows, cols, ld;
} clmp_matrix;

/* The general form of clmp_gemm: matrices at offsets with leading dimensions. */
CLMP_API clmp_status clmp_gemm_ex(clmp_transpose ta, clmp_transpose tb, float alpha,
                                  clmp_matrix a, clmp_matrix b, float beta, clmp_matrix c);

#ifdef __cplusplus
}
#endif
#endif
