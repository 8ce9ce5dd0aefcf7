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

#include <stdint.h>

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

/* y = a + b, the join of a residual connection: one fp32 sum rounded to y's dtype; a, b and y
 * have one element count (y may be a or b). */
CLMP_API clmp_status clmp_add(const clmp_tensor *a, const clmp_tensor *b, clmp_tensor *y);

/* y = x * keep / (1 - p) where keep[i] = (hash(seed, i) >= p * 2^32), a counter-based generator
 * of the element index alone: the same mask on every device and on the reference, whatever the
 * launch. Precisely: hash(seed, i) is the upper 32 bits of the (i + 1)-th output of splitmix64
 * from the state mix(seed) (mix: splitmix64's finaliser), the threshold floor(p 2^32); a kept
 * element is x times 1 / (1 - p) rounded to fp32 (one fp32 product; a scale of 1 copies x
 * exactly), a dropped one +0 (a selection: a dropped inf or NaN does not propagate). 0 <= p < 1
 * (p 0: y = x). x may be y. */
CLMP_API clmp_status clmp_dropout(const clmp_tensor *x, float p, uint64_t seed, clmp_tensor *y);
/* dx = dy * keep / (1 - p) with the mask of the forward's p and seed. dx may be dy. */
CLMP_API clmp_status clmp_dropout_backward(const clmp_tensor *dy, float p, uint64_t seed,
                                           clmp_tensor *dx);

/* --- bias ------------------------------------------------------------------------------------ */

/* y[n, c, ...] += bias[c]: a bias along dimension 1 of y (2 to 4 dims: a matrix [rows, cols] and a
 * bias of cols elements, or NCHW activations and a bias per channel); one fp32 sum, rounded to
 * y's dtype. */
CLMP_API clmp_status clmp_bias_add(clmp_tensor *y, const clmp_tensor *bias);
/* db[c] = sum over every index but dimension 1 of dy[n, c, ...] + beta * db[c], accumulated in
 * fp32 in an order set by dy's shape alone, so every device and run gives the same bits (beta 0:
 * db's old contents are not read; beta 1: gradient accumulation). */
CLMP_API clmp_status clmp_bias_grad(const clmp_tensor *dy, float beta, clmp_tensor *db);

/* --- convolution (NCHW, as torch.nn.functional.conv2d) ------------------------------------- */

/* Stride, zero padding and dilation, each [height, width], and groups (C and O multiples of it;
 * groups == C is depthwise). */
typedef struct clmp_conv2d_params {
  size_t stride[2], padding[2], dilation[2];
  size_t groups;
} clmp_conv2d_params;

/* Stride 1, padding 0, dilation 1, groups 1. */
CLMP_API void clmp_conv2d_params_default(clmp_conv2d_params *p);

/* y's shape [N, O, Ho, Wo] for x [N, C, H, W] and w [O, C / groups, kh, kw]:
 * Ho = (H + 2 pad - dil (kh - 1) - 1) / stride + 1. CLMP_ERR_INVALID_SHAPE when the shapes do not
 * fit together or the output would be empty; CLMP_ERR_INVALID_ARGUMENT for a 0 stride, dilation
 * or groups. */
CLMP_API clmp_status clmp_conv2d_output_shape(const size_t x_shape[4], const size_t w_shape[4],
                                              const clmp_conv2d_params *p, size_t y_shape[4]);

/* The workspace, in bytes, that the convolution ops on ctx use to process a whole batch of
 * x_shape at once (im2col columns and GEMM operands on OpenCL devices; 0 on the reference). A
 * smaller workspace is used in chunks of images; one smaller than a single image's share is
 * refused. */
CLMP_API clmp_status clmp_conv2d_workspace_size(const clmp_ctx *ctx, const size_t x_shape[4],
                                                const size_t w_shape[4],
                                                const clmp_conv2d_params *p, size_t *bytes);

/* y = conv2d(x, w): x [N, C, H, W], w [O, C / groups, kh, kw], y [N, O, Ho, Wo], fp32
 * accumulation, one rounding to y's dtype. workspace: a tensor of any dtype whose bytes the op
 * may use (NULL: the op allocates its own for the call). No bias: clmp_bias_add adds it. */
CLMP_API clmp_status clmp_conv2d(const clmp_tensor *x, const clmp_tensor *w,
                                 const clmp_conv2d_params *p, clmp_tensor *workspace,
                                 clmp_tensor *y);
/* dx = the gradient of conv2d with respect to x, from dy [N, O, Ho, Wo] and w. */
CLMP_API clmp_status clmp_conv2d_backward_data(const clmp_tensor *dy, const clmp_tensor *w,
                                               const clmp_conv2d_params *p, clmp_tensor *workspace,
                                               clmp_tensor *dx);
/* dw = the gradient of conv2d with respect to w, from x and dy, + beta * dw (beta 0: dw is not
 * read), summed over the batch in fp32 in a fixed order. */
CLMP_API clmp_status clmp_conv2d_backward_filter(const clmp_tensor *x, const clmp_tensor *dy,
                                                 const clmp_conv2d_params *p, float beta,
                                                 clmp_tensor *workspace, clmp_tensor *dw);

/* --- pooling (NCHW) ------------------------------------------------------------------------- */

/* Window [kh, kw], stride and zero padding (each at most half the window, as PyTorch requires),
 * floor mode: Ho = (H + 2 pad - kh) / stride + 1. The ops take planes (H W and Ho Wo) of fewer
 * than 2^31 elements and window values below 2^31. */
typedef struct clmp_pool2d_params {
  size_t kernel[2], stride[2], padding[2];
} clmp_pool2d_params;

/* y [N, C, Ho, Wo] for x [N, C, H, W]; CLMP_ERR_INVALID_ARGUMENT for a NULL pointer, a 0 kernel or
 * stride, or padding beyond half the window; CLMP_ERR_INVALID_SHAPE for a 0 dimension of x or an
 * empty output; CLMP_ERR_SIZE_OVERFLOW where Ho or Wo would not fit size_t. y_shape is written
 * only on success. */
CLMP_API clmp_status clmp_pool2d_output_shape(const size_t x_shape[4], const clmp_pool2d_params *p,
                                              size_t y_shape[4]);

/* y = the largest value of each window (NaN wins, as in PyTorch; padding never does); indices
 * (i32 of y's shape, or NULL) receive its position h * W + w in the plane, the first one of a
 * tie (of NaNs too, where PyTorch keeps the last NaN's). */
CLMP_API clmp_status clmp_max_pool2d(const clmp_tensor *x, const clmp_pool2d_params *p,
                                     clmp_tensor *y, clmp_tensor *indices);
/* dx[n, c, i] = the sum of dy over the windows of plane (n, c) whose index is i; dx [N, C, H,
 * W], in a fixed order (no atomics). An index outside its own window adds nothing. */
CLMP_API clmp_status clmp_max_pool2d_backward(const clmp_tensor *dy, const clmp_tensor *indices,
                                              const clmp_pool2d_params *p, clmp_tensor *dx);
/* y = the mean of each window, padding counted as zeros (count_include_pad, PyTorch's default):
 * the fp32 sum times 1 / (kh kw) rounded to fp32. The backward gives each input the sum of the dy
 * of the windows holding it, times the same factor. */
CLMP_API clmp_status clmp_avg_pool2d(const clmp_tensor *x, const clmp_pool2d_params *p,
                                     clmp_tensor *y);
CLMP_API clmp_status clmp_avg_pool2d_backward(const clmp_tensor *dy, const clmp_pool2d_params *p,
                                              clmp_tensor *dx);
/* y[n, c] = the mean of plane (n, c) of x [N, C, H, W]: its fp32 sum in an order set by the shape
 * alone, times 1 / (H W) rounded to fp32; y [N, C] (or [N, C, 1, 1]). */
CLMP_API clmp_status clmp_global_avg_pool(const clmp_tensor *x, clmp_tensor *y);
/* dx[n, c, h, w] = dy[n, c] * (1 / (H W) rounded to fp32), one fp32 product. */
CLMP_API clmp_status clmp_global_avg_pool_backward(const clmp_tensor *dy, clmp_tensor *dx);

/* --- batch normalisation over dimension 1 (x [N, C], [N, C, L] or [N, C, H, W]) ------------ */

/* Training: per channel c, mean and biased variance of x over N and the spatial dimensions, in
 * fp32 in an order set by x's shape (the mean, then the squared deviations from it); y = ((x -
 * mean) * invstd) * gamma + beta with invstd = 1 / sqrt(var + eps) (rsqrt on devices: within 2
 * ulp). save_mean and save_invstd (f32 [C]) receive mean and invstd for the backward;
 * running_mean and running_var (f32 [C], both or neither: NULL for no running statistics)
 * become (1 - momentum) * running + momentum * (mean, unbiased variance M2 / (M - 1)), as
 * torch.nn.BatchNorm2d does; momentum in [0, 1], eps finite and >= 0. More than one value per
 * channel is needed (N * H * W > 1, as PyTorch requires in training: else
 * CLMP_ERR_INVALID_SHAPE). gamma, beta: float [C] (fp32 in the layers); y of x's shape. x may be
 * y. */
CLMP_API clmp_status clmp_batch_norm_train(const clmp_tensor *x, const clmp_tensor *gamma,
                                           const clmp_tensor *beta, float momentum, float eps,
                                           clmp_tensor *running_mean, clmp_tensor *running_var,
                                           clmp_tensor *save_mean, clmp_tensor *save_invstd,
                                           clmp_tensor *y);
/* Evaluation: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta, running_mean and
 * running_var f32 [C]. x may be y. */
CLMP_API clmp_status clmp_batch_norm_eval(const clmp_tensor *x, const clmp_tensor *gamma,
                                          const clmp_tensor *beta, const clmp_tensor *running_mean,
                                          const clmp_tensor *running_var, float eps,
                                          clmp_tensor *y);
/* The backward of clmp_batch_norm_train, from its input x, dy and its saves: dx (x's shape) =
 * gamma invstd (dy - mean(dy) - xhat mean(dy xhat)), dgamma = sum dy * xhat + acc * dgamma and
 * dbeta = sum dy + acc * dbeta (acc 0: not read), the sums in fp32 in an order set by x's shape;
 * dgamma and dbeta of any float dtype (a 16-bit gradient arena), rounded once. dx may be dy. */
CLMP_API clmp_status clmp_batch_norm_backward(const clmp_tensor *x, const clmp_tensor *dy,
                                              const clmp_tensor *gamma,
                                              const clmp_tensor *save_mean,
                                              const clmp_tensor *save_invstd, float acc,
                                              clmp_tensor *dgamma, clmp_tensor *dbeta,
                                              clmp_tensor *dx);

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
