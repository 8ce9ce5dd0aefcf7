/* tests/test_hostile_ops.c: hostile input to clmp/tensor.h and clmp/ops.h, one table row per
 * case on every device: NULLs, mismatched shapes, dtypes and contexts, zero and enormous sizes,
 * tensors beyond the device's largest allocation, views out of bounds or overlapping. Each row
 * states the exact status; the message must name the function and the status, out-parameters
 * stay NULL, and every tensor and host buffer the call was given must hold what it held. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "devices.h"
#include "harness.h"
#include "hostile.h"

#define E_ARG   CLMP_ERR_INVALID_ARGUMENT
#define E_SHAPE CLMP_ERR_INVALID_SHAPE
#define E_DTYPE CLMP_ERR_INVALID_DTYPE
#define E_CTX   CLMP_ERR_CONTEXT_MISMATCH
#define E_OOB   CLMP_ERR_OUT_OF_BOUNDS
#define E_OVF   CLMP_ERR_SIZE_OVERFLOW
#define E_BIG   CLMP_ERR_TOO_LARGE

#define HALF_MAX   (SIZE_MAX / 2 + 1) /* twice this overflows size_t */
#define HOST_ELEMS 16
#define HOST_FILL  5.0f

/* Which pointer arguments a row passes as NULL, and a shape one element beyond the maximum
 * allocation of the device (computed per device). */
enum { F_NULL_CTX = 1, F_NULL_SHAPE = 2, F_NULL_OUT = 4, F_NULL_HOST = 8, F_BEYOND = 16 };

enum call {
  CREATE,
  VIEW,
  WRITE,
  READ,
  COPY,
  FILL,
  CAST,
  AXPBY,
  SCALE,
  RELU,
  RELU_BW,
  GELU,
  GELU_BW,
  BIAS_ADD,
  BIAS_GRAD,
  XENT,
  XENT_BW,
  ARGMAX,
  CORRECT,
  NONFINITE,
  SUMSQ,
  GATHER,
  GEMM,
  GEMM_EX,
  ADD,
  DROPOUT,
  DROPOUT_BW,
  GPOOL,
  GPOOL_BW,
  MAXPOOL,
  AVGPOOL_BW,
  BN_TRAIN,
  BN_EVAL
};

/* A clmp_matrix by slot: element offset, rows, cols, leading dimension. */
typedef struct mat_arg {
  int slot;
  size_t off, rows, cols, ld;
} mat_arg;

typedef struct row {
  const char *fn, *what;
  int call;
  clmp_status want;
  int a, b, c, d;  /* tensor slots, in the call's order */
  float x;         /* the scalar argument (fill value, alpha, beta, scale) */
  clmp_dtype dt;   /* a dtype argument (created, viewed, or of host memory) */
  int nd;          /* an ndim argument */
  size_t shape[4]; /* a shape argument */
  size_t n;        /* an element count, or a view's byte offset */
  int flags;
  int tr[2]; /* gemm's transposes */
  mat_arg m[3];
} row;

/* --- tensor.h ------------------------------------------------------------------------------- */

static const row tensor_rows[] = {
    {"clmp_tensor_create", "NULL ctx", CREATE, E_ARG, .nd = 1, .shape = {4}, .flags = F_NULL_CTX},
    {"clmp_tensor_create", "NULL out", CREATE, E_ARG, .nd = 1, .shape = {4}, .flags = F_NULL_OUT},
    {"clmp_tensor_create", "NULL shape", CREATE, E_ARG, .nd = 1, .flags = F_NULL_SHAPE},
    {"clmp_tensor_create", "ndim 0", CREATE, E_SHAPE, .nd = 0, .shape = {4}},
    {"clmp_tensor_create", "ndim 5", CREATE, E_SHAPE, .nd = 5, .shape = {1, 1, 1, 1}},
    {"clmp_tensor_create", "ndim -1", CREATE, E_SHAPE, .nd = -1, .shape = {4}},
    {"clmp_tensor_create", "a zero dimension", CREATE, E_SHAPE, .nd = 2, .shape = {2, 0}},
    {"clmp_tensor_create", "dtype 99", CREATE, E_DTYPE, .dt = (clmp_dtype)99, .nd = 1,
     .shape = {4}},
    {"clmp_tensor_create", "dtype -1", CREATE, E_DTYPE, .dt = (clmp_dtype)-1, .nd = 1,
     .shape = {4}},
    {"clmp_tensor_create", "element count overflows", CREATE, E_OVF, .nd = 2,
     .shape = {HALF_MAX, 2}},
    {"clmp_tensor_create", "byte size overflows", CREATE, E_OVF, .nd = 1, .shape = {SIZE_MAX / 2}},
    {"clmp_tensor_create", "4-D count overflows", CREATE, E_OVF, .nd = 4,
     .shape = {65536, 65536, 65536, 65536}},
    {"clmp_tensor_create", "f32 beyond the max allocation", CREATE, E_BIG, .nd = 1,
     .flags = F_BEYOND},
    {"clmp_tensor_create", "f16 beyond the max allocation", CREATE, E_BIG, .dt = CLMP_F16, .nd = 1,
     .flags = F_BEYOND},
    {"clmp_tensor_view", "NULL base", VIEW, E_ARG, .nd = 1, .shape = {1}},
    {"clmp_tensor_view", "NULL out", VIEW, E_ARG, .a = F4, .nd = 1, .shape = {1},
     .flags = F_NULL_OUT},
    {"clmp_tensor_view", "NULL shape", VIEW, E_ARG, .a = F4, .nd = 1, .flags = F_NULL_SHAPE},
    {"clmp_tensor_view", "offset past the end", VIEW, E_OOB, .a = F4, .nd = 1, .shape = {1},
     .n = 20},
    {"clmp_tensor_view", "offset at the end", VIEW, E_OOB, .a = F4, .nd = 1, .shape = {1}, .n = 16},
    {"clmp_tensor_view", "larger than its base", VIEW, E_OOB, .a = F4, .nd = 1, .shape = {5}},
    {"clmp_tensor_view", "ends past the end", VIEW, E_OOB, .a = F4, .nd = 1, .shape = {3}, .n = 8},
    {"clmp_tensor_view", "misaligned offset", VIEW, E_OOB, .a = F4, .nd = 1, .shape = {1}, .n = 2},
    {"clmp_tensor_view", "misaligned f16 offset", VIEW, E_OOB, .a = F4, .dt = CLMP_F16, .nd = 1,
     .shape = {1}, .n = 1},
    {"clmp_tensor_view", "offset SIZE_MAX - 3", VIEW, E_OOB, .a = F4, .nd = 1, .shape = {1},
     .n = SIZE_MAX - 3},
    {"clmp_tensor_view", "past a view's end inside its buffer", VIEW, E_OOB, .a = LO, .nd = 1,
     .shape = {4}, .n = 8},
    {"clmp_tensor_view", "dtype 99", VIEW, E_DTYPE, .a = F4, .dt = (clmp_dtype)99, .nd = 1,
     .shape = {1}},
    {"clmp_tensor_view", "a zero dimension", VIEW, E_SHAPE, .a = F4, .nd = 2, .shape = {1, 0}},
    {"clmp_tensor_view", "ndim 5", VIEW, E_SHAPE, .a = F4, .nd = 5, .shape = {1, 1, 1, 1}},
    {"clmp_tensor_view", "shape overflows", VIEW, E_OVF, .a = F4, .nd = 2, .shape = {HALF_MAX, 2}},
    {"clmp_tensor_write", "NULL tensor", WRITE, E_ARG, .n = 4},
    {"clmp_tensor_write", "NULL src", WRITE, E_ARG, .a = F4, .n = 4, .flags = F_NULL_HOST},
    {"clmp_tensor_write", "3 elements for 4", WRITE, E_SHAPE, .a = F4, .n = 3},
    {"clmp_tensor_write", "5 elements for 4", WRITE, E_SHAPE, .a = F4, .n = 5},
    {"clmp_tensor_write", "SIZE_MAX elements", WRITE, E_SHAPE, .a = F4, .n = SIZE_MAX},
    {"clmp_tensor_write", "i32 into f32", WRITE, E_DTYPE, .a = F4, .dt = CLMP_I32, .n = 4},
    {"clmp_tensor_write", "f32 into i32", WRITE, E_DTYPE, .a = I4, .n = 4},
    {"clmp_tensor_write", "f16 into u8", WRITE, E_DTYPE, .a = U4, .dt = CLMP_F16, .n = 4},
    {"clmp_tensor_write", "u8 into i32", WRITE, E_DTYPE, .a = I4, .dt = CLMP_U8, .n = 4},
    {"clmp_tensor_write", "host dtype 99", WRITE, E_DTYPE, .a = F4, .dt = (clmp_dtype)99, .n = 4},
    {"clmp_tensor_write", "host dtype -1", WRITE, E_DTYPE, .a = F4, .dt = (clmp_dtype)-1, .n = 4},
    {"clmp_tensor_read", "NULL tensor", READ, E_ARG, .n = 4},
    {"clmp_tensor_read", "NULL dst", READ, E_ARG, .a = F4, .n = 4, .flags = F_NULL_HOST},
    {"clmp_tensor_read", "3 elements of 4", READ, E_SHAPE, .a = F4, .n = 3},
    {"clmp_tensor_read", "16 elements of 4", READ, E_SHAPE, .a = F4, .n = 16},
    {"clmp_tensor_read", "f32 as i32", READ, E_DTYPE, .a = F4, .dt = CLMP_I32, .n = 4},
    {"clmp_tensor_read", "i32 as u8", READ, E_DTYPE, .a = I4, .dt = CLMP_U8, .n = 4},
    {"clmp_tensor_read", "host dtype 99", READ, E_DTYPE, .a = F4, .dt = (clmp_dtype)99, .n = 4},
    {"clmp_tensor_copy", "NULL dst", COPY, E_ARG, .b = F4},
    {"clmp_tensor_copy", "NULL src", COPY, E_ARG, .a = F4},
    {"clmp_tensor_copy", "another context", COPY, E_CTX, .a = F4, .b = XF4},
    {"clmp_tensor_copy", "16 bytes into 12", COPY, E_SHAPE, .a = F3, .b = F4},
    {"clmp_tensor_copy", "8 bytes into 16", COPY, E_SHAPE, .a = F4, .b = H4},
    {"clmp_tensor_copy", "overlapping views", COPY, E_ARG, .a = HI, .b = LO},
};

/* The shape a row passes: its own, or one element more than the device allocates at most. */
static void row_shape(const row *r, clmp_ctx *ctx, size_t *shape) {
  memcpy(shape, r->shape, sizeof r->shape);
  if (r->flags & F_BEYOND)
    shape[0] = (size_t)clmp_ctx_device(ctx)->max_alloc / clmp_dtype_size(r->dt) + 1;
}

static clmp_status call_tensor(const row *r, const hostile_palette *p, float *host) {
  clmp_tensor *out = NULL, *const *t = p->t;
  size_t shape[4];
  row_shape(r, p->ctx, shape);
  const size_t *sh = r->flags & F_NULL_SHAPE ? NULL : shape;
  clmp_tensor **o = r->flags & F_NULL_OUT ? NULL : &out;
  float *h = r->flags & F_NULL_HOST ? NULL : host;
  clmp_status st = CLMP_SUCCESS;
  switch (r->call) {
  case CREATE:
    st = clmp_tensor_create(r->flags & F_NULL_CTX ? NULL : p->ctx, r->dt, r->nd, sh, o);
    break;
  case VIEW: st = clmp_tensor_view(t[r->a], r->n, r->dt, r->nd, sh, o); break;
  case WRITE: st = clmp_tensor_write(t[r->a], r->dt, h, r->n); break;
  case READ: st = clmp_tensor_read(t[r->a], r->dt, h, r->n); break;
  default: st = clmp_tensor_copy(t[r->a], t[r->b]); break;
  }
  hostile_expect_null_out(r->fn, r->what, out);
  clmp_tensor_free(out);
  return st;
}

/* --- ops.h ---------------------------------------------------------------------------------- */

static const row op_rows[] = {
    {"clmp_fill", "NULL tensor", FILL, E_ARG, .a = NUL},
    {"clmp_fill", "1e10 into i32", FILL, E_ARG, .a = I4, .x = 1e10f},
    {"clmp_fill", "NaN into i32", FILL, E_ARG, .a = I4, .x = NAN},
    {"clmp_fill", "inf into i32", FILL, E_ARG, .a = I4, .x = INFINITY},
    {"clmp_fill", "256 into u8", FILL, E_ARG, .a = U4, .x = 256.0f},
    {"clmp_fill", "-1 into u8", FILL, E_ARG, .a = U4, .x = -1.0f},
    {"clmp_cast", "NULL src", CAST, E_ARG, .b = F4},
    {"clmp_cast", "NULL dst", CAST, E_ARG, .a = F4},
    {"clmp_cast", "i32 src", CAST, E_DTYPE, .a = I4, .b = F4},
    {"clmp_cast", "u8 dst", CAST, E_DTYPE, .a = F4, .b = U4},
    {"clmp_cast", "4 elements into 3", CAST, E_SHAPE, .a = F4, .b = F3},
    {"clmp_cast", "another context", CAST, E_CTX, .a = F4, .b = XF4},
    {"clmp_cast", "overlapping views", CAST, E_ARG, .a = LO, .b = HI},
    {"clmp_axpby", "NULL x", AXPBY, E_ARG, .b = F4},
    {"clmp_axpby", "NULL y", AXPBY, E_ARG, .a = F4},
    {"clmp_axpby", "i32 x", AXPBY, E_DTYPE, .a = I4, .b = F4},
    {"clmp_axpby", "u8 y", AXPBY, E_DTYPE, .a = F4, .b = U4},
    {"clmp_axpby", "4 elements and 3", AXPBY, E_SHAPE, .a = F4, .b = F3},
    {"clmp_axpby", "another context", AXPBY, E_CTX, .a = XF4, .b = F4},
    {"clmp_axpby", "overlapping views", AXPBY, E_ARG, .a = LO, .b = HI},
    {"clmp_scale", "NULL x", SCALE, E_ARG, .b = F4},
    {"clmp_scale", "i32 y", SCALE, E_DTYPE, .a = F4, .b = I4},
    {"clmp_scale", "4 elements and 2", SCALE, E_SHAPE, .a = F4, .b = F2},
    {"clmp_scale", "another context", SCALE, E_CTX, .a = F4, .b = XF4},
    {"clmp_scale", "overlapping views", SCALE, E_ARG, .a = HI, .b = LO},
    {"clmp_relu", "NULL x", RELU, E_ARG, .b = F4},
    {"clmp_relu", "NULL y", RELU, E_ARG, .a = F4},
    {"clmp_relu", "i32 x", RELU, E_DTYPE, .a = I4, .b = F4},
    {"clmp_relu", "4 elements and 3", RELU, E_SHAPE, .a = F4, .b = F3},
    {"clmp_relu", "another context", RELU, E_CTX, .a = F4, .b = XF4},
    {"clmp_relu", "overlapping views", RELU, E_ARG, .a = LO, .b = HI},
    {"clmp_relu_backward", "NULL dy", RELU_BW, E_ARG, .a = F4, .c = F4},
    {"clmp_relu_backward", "i32 dx", RELU_BW, E_DTYPE, .a = F4, .b = H4, .c = I4},
    {"clmp_relu_backward", "dy of 3 elements", RELU_BW, E_SHAPE, .a = F4, .b = F3, .c = H4},
    {"clmp_relu_backward", "dx on another context", RELU_BW, E_CTX, .a = F4, .b = H4, .c = XF4},
    {"clmp_relu_backward", "dx overlapping x", RELU_BW, E_ARG, .a = LO, .b = F4, .c = HI},
    {"clmp_gelu", "NULL x", GELU, E_ARG, .b = F4},
    {"clmp_gelu", "u8 y", GELU, E_DTYPE, .a = F4, .b = U4},
    {"clmp_gelu", "4 elements and 2", GELU, E_SHAPE, .a = F4, .b = F2},
    {"clmp_gelu", "overlapping views", GELU, E_ARG, .a = HI, .b = LO},
    {"clmp_gelu_backward", "NULL x", GELU_BW, E_ARG, .b = F4, .c = F4},
    {"clmp_gelu_backward", "dx of 3 elements", GELU_BW, E_SHAPE, .a = F4, .b = B4, .c = F3},
    {"clmp_gelu_backward", "x on another context", GELU_BW, E_CTX, .a = XF4, .b = B4, .c = F4},
    {"clmp_gelu_backward", "dx overlapping dy", GELU_BW, E_ARG, .a = F4, .b = LO, .c = HI},
    {"clmp_bias_add", "NULL y", BIAS_ADD, E_ARG, .b = F2},
    {"clmp_bias_add", "NULL bias", BIAS_ADD, E_ARG, .a = M22},
    {"clmp_bias_add", "1-D y", BIAS_ADD, E_SHAPE, .a = F4, .b = F2},
    {"clmp_bias_add", "3-D y, bias of 4 for 2 channels", BIAS_ADD, E_SHAPE, .a = T222, .b = F4},
    {"clmp_bias_add", "bias of 2 for 3 columns", BIAS_ADD, E_SHAPE, .a = M23, .b = F2},
    {"clmp_bias_add", "i32 bias", BIAS_ADD, E_DTYPE, .a = M22, .b = I2},
    {"clmp_bias_add", "i32 y", BIAS_ADD, E_DTYPE, .a = I22, .b = F2},
    {"clmp_bias_add", "bias on another context", BIAS_ADD, E_CTX, .a = M22, .b = XI2},
    {"clmp_bias_add", "bias inside y", BIAS_ADD, E_ARG, .a = Q22, .b = P2},
    {"clmp_bias_grad", "NULL dy", BIAS_GRAD, E_ARG, .b = F2},
    {"clmp_bias_grad", "NULL db", BIAS_GRAD, E_ARG, .a = M22},
    {"clmp_bias_grad", "1-D dy", BIAS_GRAD, E_SHAPE, .a = F4, .b = F2},
    {"clmp_bias_grad", "3-D dy, db of 3 for 2 channels", BIAS_GRAD, E_SHAPE, .a = T222, .b = F3},
    {"clmp_bias_grad", "db of 3 for 2 columns", BIAS_GRAD, E_SHAPE, .a = M22, .b = F3},
    {"clmp_bias_grad", "db on another context", BIAS_GRAD, E_CTX, .a = M22, .b = XF1},
    {"clmp_bias_grad", "db inside dy", BIAS_GRAD, E_ARG, .a = Q22, .b = P2},
    {"clmp_softmax_xent", "NULL logits", XENT, E_ARG, .b = I2, .c = F1},
    {"clmp_softmax_xent", "NULL labels", XENT, E_ARG, .a = M22, .c = F1},
    {"clmp_softmax_xent", "NULL loss", XENT, E_ARG, .a = M22, .b = I2},
    {"clmp_softmax_xent", "1-D logits", XENT, E_SHAPE, .a = F4, .b = I2, .c = F1},
    {"clmp_softmax_xent", "i32 logits", XENT, E_DTYPE, .a = I22, .b = I2, .c = F1},
    {"clmp_softmax_xent", "f32 labels", XENT, E_DTYPE, .a = M22, .b = F2, .c = F1},
    {"clmp_softmax_xent", "4 labels for 2 rows", XENT, E_SHAPE, .a = M22, .b = I4, .c = F1},
    {"clmp_softmax_xent", "loss of 2 elements", XENT, E_SHAPE, .a = M22, .b = I2, .c = F2},
    {"clmp_softmax_xent", "i32 loss", XENT, E_DTYPE, .a = M22, .b = I2, .c = I1},
    {"clmp_softmax_xent", "labels on another context", XENT, E_CTX, .a = M22, .b = XI2, .c = F1},
    {"clmp_softmax_xent", "loss on another context", XENT, E_CTX, .a = M22, .b = I2, .c = XF1},
    {"clmp_softmax_xent", "loss inside logits", XENT, E_ARG, .a = Q22, .b = I2, .c = P1},
    {"clmp_softmax_xent_backward", "NULL labels", XENT_BW, E_ARG, .a = M22, .d = M22},
    {"clmp_softmax_xent_backward", "NULL dlogits", XENT_BW, E_ARG, .a = M22, .b = I2},
    {"clmp_softmax_xent_backward", "scale of 2 elements", XENT_BW, E_SHAPE, .a = M22, .b = I2,
     .c = F2, .d = F4},
    {"clmp_softmax_xent_backward", "i32 scale", XENT_BW, E_DTYPE, .a = M22, .b = I2, .c = I1,
     .d = F4},
    {"clmp_softmax_xent_backward", "scale on another context", XENT_BW, E_CTX, .a = M22, .b = I2,
     .c = XF1, .d = F4},
    {"clmp_softmax_xent_backward", "dlogits of 3 elements", XENT_BW, E_SHAPE, .a = M22, .b = I2,
     .d = F3},
    {"clmp_softmax_xent_backward", "i32 dlogits", XENT_BW, E_DTYPE, .a = M22, .b = I2, .d = I4},
    {"clmp_softmax_xent_backward", "dlogits on another context", XENT_BW, E_CTX, .a = M22, .b = I2,
     .d = XF4},
    {"clmp_softmax_xent_backward", "dlogits overlapping logits", XENT_BW, E_ARG, .a = Q22, .b = I2,
     .d = R22},
    {"clmp_softmax_xent_backward", "dlogits over the labels", XENT_BW, E_ARG, .a = M22, .b = PI2,
     .d = LO},
    {"clmp_argmax", "NULL x", ARGMAX, E_ARG, .b = I2},
    {"clmp_argmax", "NULL out", ARGMAX, E_ARG, .a = M22},
    {"clmp_argmax", "f32 out", ARGMAX, E_DTYPE, .a = M22, .b = F2},
    {"clmp_argmax", "out of 4 for 2 rows", ARGMAX, E_SHAPE, .a = M22, .b = I4},
    {"clmp_argmax", "1-D x", ARGMAX, E_SHAPE, .a = F4, .b = I2},
    {"clmp_argmax", "out on another context", ARGMAX, E_CTX, .a = M22, .b = XI2},
    {"clmp_argmax", "out inside x", ARGMAX, E_ARG, .a = Q22, .b = PI2},
    {"clmp_correct_count", "NULL count", CORRECT, E_ARG, .a = M22, .b = I2},
    {"clmp_correct_count", "f32 count", CORRECT, E_DTYPE, .a = M22, .b = I2, .c = F1},
    {"clmp_correct_count", "count of 2 elements", CORRECT, E_SHAPE, .a = M22, .b = I2, .c = I2},
    {"clmp_correct_count", "4 labels for 2 rows", CORRECT, E_SHAPE, .a = M22, .b = I4, .c = I1},
    {"clmp_correct_count", "logits on another context", CORRECT, E_CTX, .a = XM22, .b = I2,
     .c = I1},
    {"clmp_correct_count", "count inside logits", CORRECT, E_ARG, .a = Q22, .b = I2, .c = PI1},
    {"clmp_nonfinite_check", "NULL x", NONFINITE, E_ARG, .b = I1},
    {"clmp_nonfinite_check", "NULL flag", NONFINITE, E_ARG, .a = F4},
    {"clmp_nonfinite_check", "i32 x", NONFINITE, E_DTYPE, .a = I4, .b = I1},
    {"clmp_nonfinite_check", "f32 flag", NONFINITE, E_DTYPE, .a = F4, .b = F1},
    {"clmp_nonfinite_check", "flag of 2 elements", NONFINITE, E_SHAPE, .a = F4, .b = I2},
    {"clmp_nonfinite_check", "flag on another context", NONFINITE, E_CTX, .a = XF4, .b = I1},
    {"clmp_nonfinite_check", "flag inside x", NONFINITE, E_ARG, .a = LO, .b = PI1},
    {"clmp_sum_squares", "NULL x", SUMSQ, E_ARG, .b = F1},
    {"clmp_sum_squares", "NULL out", SUMSQ, E_ARG, .a = F4},
    {"clmp_sum_squares", "i32 out", SUMSQ, E_DTYPE, .a = F4, .b = I1},
    {"clmp_sum_squares", "u8 x", SUMSQ, E_DTYPE, .a = U4, .b = F1},
    {"clmp_sum_squares", "out of 2 elements", SUMSQ, E_SHAPE, .a = F4, .b = F2},
    {"clmp_sum_squares", "out on another context", SUMSQ, E_CTX, .a = F4, .b = XF1},
    {"clmp_sum_squares", "out inside x", SUMSQ, E_ARG, .a = LO, .b = P1},
    {"clmp_gather_rows", "NULL src", GATHER, E_ARG, .b = I2, .c = M22},
    {"clmp_gather_rows", "NULL idx", GATHER, E_ARG, .a = M22, .c = M22},
    {"clmp_gather_rows", "NULL dst", GATHER, E_ARG, .a = M22, .b = I2},
    {"clmp_gather_rows", "1-D src", GATHER, E_SHAPE, .a = F4, .b = I2, .c = M22},
    {"clmp_gather_rows", "1-D dst", GATHER, E_SHAPE, .a = M22, .b = I2, .c = F4},
    {"clmp_gather_rows", "f32 idx", GATHER, E_DTYPE, .a = M22, .b = F2, .c = M22},
    {"clmp_gather_rows", "4 indices for 2 rows", GATHER, E_SHAPE, .a = M22, .b = I4, .c = M22},
    {"clmp_gather_rows", "3 columns into 2", GATHER, E_SHAPE, .a = M23, .b = I2, .c = M22},
    {"clmp_gather_rows", "src on another context", GATHER, E_CTX, .a = XM22, .b = I2, .c = M22},
    {"clmp_gather_rows", "idx on another context", GATHER, E_CTX, .a = M22, .b = XI2, .c = M22},
    {"clmp_gather_rows", "dst overlapping src", GATHER, E_ARG, .a = Q22, .b = I2, .c = R22},
    {"clmp_gather_rows", "dst over idx", GATHER, E_ARG, .a = M22, .b = PI2, .c = R22},
    {"clmp_gemm", "NULL A", GEMM, E_ARG, .b = M22, .c = M22},
    {"clmp_gemm", "NULL B", GEMM, E_ARG, .a = M22, .c = M22},
    {"clmp_gemm", "NULL C", GEMM, E_ARG, .a = M22, .b = M22},
    {"clmp_gemm", "transpose 2", GEMM, E_ARG, .a = M22, .b = M22, .c = Q22, .tr = {2, 0}},
    {"clmp_gemm", "transpose -1", GEMM, E_ARG, .a = M22, .b = M22, .c = Q22, .tr = {0, -1}},
    {"clmp_gemm", "K of 3 and 2", GEMM, E_SHAPE, .a = M23, .b = M23, .c = M23},
    {"clmp_gemm", "C of the wrong shape", GEMM, E_SHAPE, .a = M22, .b = M23, .c = M22},
    {"clmp_gemm", "transposed K mismatch", GEMM, E_SHAPE, .a = M23, .b = M32, .c = M22,
     .tr = {1, 0}},
    {"clmp_gemm", "1-D A", GEMM, E_SHAPE, .a = F4, .b = M22, .c = Q22},
    {"clmp_gemm", "3-D C", GEMM, E_SHAPE, .a = M22, .b = M22, .c = T222},
    {"clmp_gemm", "i32 A", GEMM, E_DTYPE, .a = I22, .b = M22, .c = Q22},
    {"clmp_gemm", "B on another context", GEMM, E_CTX, .a = M22, .b = XM22, .c = Q22},
    {"clmp_gemm", "C on another context", GEMM, E_CTX, .a = M22, .b = M22, .c = XM22},
    {"clmp_gemm", "C overlapping A", GEMM, E_ARG, .a = Q22, .b = M22, .c = R22},
    {"clmp_gemm", "C is B", GEMM, E_ARG, .a = M22, .b = Q22, .c = Q22},
    {"clmp_gemm_ex", "A beyond its tensor", GEMM_EX, E_OOB,
     .m = {{M22, 1, 2, 2, 2}, {M22, 0, 2, 2, 2}, {Q22, 0, 2, 2, 2}}},
    {"clmp_gemm_ex", "ld < cols", GEMM_EX, E_SHAPE,
     .m = {{M22, 0, 2, 2, 1}, {M22, 0, 2, 2, 2}, {Q22, 0, 2, 2, 2}}},
    {"clmp_gemm_ex", "0 rows", GEMM_EX, E_SHAPE,
     .m = {{M22, 0, 0, 2, 2}, {M22, 0, 2, 2, 2}, {Q22, 0, 0, 2, 2}}},
    {"clmp_gemm_ex", "0 columns", GEMM_EX, E_SHAPE,
     .m = {{M22, 0, 2, 2, 2}, {M22, 0, 2, 0, 2}, {Q22, 0, 2, 0, 2}}},
    {"clmp_gemm_ex", "ld overflows", GEMM_EX, E_OOB,
     .m = {{M22, 0, 3, 2, HALF_MAX}, {M22, 0, 2, 2, 2}, {M32, 0, 3, 2, 2}}},
    {"clmp_gemm_ex", "offset SIZE_MAX", GEMM_EX, E_OOB,
     .m = {{M22, 0, 2, 2, 2}, {M22, SIZE_MAX, 2, 2, 2}, {Q22, 0, 2, 2, 2}}},
    {"clmp_gemm_ex", "NULL tensor", GEMM_EX, E_ARG,
     .m = {{M22, 0, 2, 2, 2}, {NUL, 0, 2, 2, 2}, {Q22, 0, 2, 2, 2}}},
    {"clmp_gemm_ex", "u8 matrix", GEMM_EX, E_DTYPE,
     .m = {{U4, 0, 2, 2, 2}, {M22, 0, 2, 2, 2}, {Q22, 0, 2, 2, 2}}},
    {"clmp_gemm_ex", "op(A) 2x2 by B 3x2", GEMM_EX, E_SHAPE,
     .m = {{M22, 0, 2, 2, 2}, {M32, 0, 3, 2, 2}, {Q22, 0, 2, 2, 2}}},
    {"clmp_gemm_ex", "C overlapping B in one tensor", GEMM_EX, E_ARG,
     .m = {{M22, 0, 2, 2, 2}, {BIG, 0, 2, 2, 2}, {BIG, 2, 2, 2, 2}}},
};

/* The layer ops: add, dropout, pooling (windows 1 x 1) and batch norm (eval: x, gamma = beta,
 * running mean = running var, y; train: x = y, gamma = beta, save_mean, save_invstd). */
static const row layer_rows[] = {
    {"clmp_add", "NULL a", ADD, E_ARG, .b = F4, .c = F4},
    {"clmp_add", "NULL y", ADD, E_ARG, .a = F4, .b = F4},
    {"clmp_add", "i32 b", ADD, E_DTYPE, .a = F4, .b = I4, .c = F4},
    {"clmp_add", "y of 3 elements", ADD, E_SHAPE, .a = F4, .b = H4, .c = F3},
    {"clmp_add", "b on another context", ADD, E_CTX, .a = F4, .b = XF4, .c = F4},
    {"clmp_add", "y overlapping a", ADD, E_ARG, .a = LO, .b = F4, .c = HI},
    {"clmp_dropout", "p 1", DROPOUT, E_ARG, .a = F4, .b = F4, .x = 1.0f},
    {"clmp_dropout", "p NaN", DROPOUT, E_ARG, .a = F4, .b = B4, .x = NAN},
    {"clmp_dropout", "NULL y", DROPOUT, E_ARG, .a = F4},
    {"clmp_dropout", "u8 y", DROPOUT, E_DTYPE, .a = F4, .b = U4},
    {"clmp_dropout", "4 elements and 3", DROPOUT, E_SHAPE, .a = F4, .b = F3},
    {"clmp_dropout", "overlapping views", DROPOUT, E_ARG, .a = LO, .b = HI},
    {"clmp_dropout_backward", "p -1", DROPOUT_BW, E_ARG, .a = F4, .b = F4, .x = -1.0f},
    {"clmp_dropout_backward", "dx on another context", DROPOUT_BW, E_CTX, .a = F4, .b = XF4},
    {"clmp_global_avg_pool", "2-D x", GPOOL, E_SHAPE, .a = M22, .b = F2},
    {"clmp_global_avg_pool", "i32 x", GPOOL, E_DTYPE, .a = I22, .b = F2},
    {"clmp_global_avg_pool", "NULL x", GPOOL, E_ARG, .b = F2},
    {"clmp_global_avg_pool_backward", "3-D dx", GPOOL_BW, E_SHAPE, .a = F2, .b = T222},
    {"clmp_max_pool2d", "2-D x", MAXPOOL, E_SHAPE, .a = M22, .b = M22},
    {"clmp_max_pool2d", "NULL x", MAXPOOL, E_ARG, .b = M22},
    {"clmp_avg_pool2d_backward", "3-D dx", AVGPOOL_BW, E_SHAPE, .a = T222, .b = T222},
    {"clmp_batch_norm_eval", "1-D x", BN_EVAL, E_SHAPE, .a = F4, .b = F2, .c = F2, .d = F4},
    {"clmp_batch_norm_eval", "gamma of 4", BN_EVAL, E_SHAPE, .a = M22, .b = F4, .c = F2, .d = M22},
    {"clmp_batch_norm_eval", "f16 running stats", BN_EVAL, E_DTYPE, .a = M22, .b = F2, .c = H4,
     .d = M22},
    {"clmp_batch_norm_eval", "gamma on another context", BN_EVAL, E_CTX, .a = M22, .b = XF4,
     .c = F2, .d = M22},
    {"clmp_batch_norm_eval", "eps NaN", BN_EVAL, E_ARG, .a = M22, .b = F2, .c = F2, .d = M22,
     .x = NAN},
    {"clmp_batch_norm_train", "i32 x", BN_TRAIN, E_DTYPE, .a = I22, .b = F2, .c = F2, .d = F2},
    {"clmp_batch_norm_train", "f16 save_mean", BN_TRAIN, E_DTYPE, .a = M22, .b = F2, .c = H4,
     .d = F2},
    {"clmp_batch_norm_train", "save_mean is save_invstd", BN_TRAIN, E_ARG, .a = M22, .b = F2,
     .c = P2, .d = P2},
};

static clmp_matrix matrix_of(const hostile_palette *p, const mat_arg *m) {
  return (clmp_matrix){p->t[m->slot], m->off, m->rows, m->cols, m->ld};
}

/* The element-wise and bias rows. */
static clmp_status call_elementwise(const row *r, clmp_tensor *const *t) {
  switch (r->call) {
  case FILL: return clmp_fill(t[r->a], r->x);
  case CAST: return clmp_cast(t[r->a], t[r->b]);
  case AXPBY: return clmp_axpby(r->x, t[r->a], 1.0f, t[r->b]);
  case SCALE: return clmp_scale(r->x, t[r->a], t[r->b]);
  case RELU: return clmp_relu(t[r->a], t[r->b]);
  case RELU_BW: return clmp_relu_backward(t[r->a], t[r->b], t[r->c]);
  case GELU: return clmp_gelu(t[r->a], t[r->b]);
  case GELU_BW: return clmp_gelu_backward(t[r->a], t[r->b], t[r->c]);
  case BIAS_ADD: return clmp_bias_add(t[r->a], t[r->b]);
  default: return clmp_bias_grad(t[r->a], r->x, t[r->b]);
  }
}

/* The layer rows (pooling windows 1 x 1; eps from x unless x is 0). */
static clmp_status call_layer(const row *r, clmp_tensor *const *t) {
  static const clmp_pool2d_params one = {{1, 1}, {1, 1}, {0, 0}};
  float eps = r->x != 0.0f ? r->x : 1e-5f;
  switch (r->call) {
  case ADD: return clmp_add(t[r->a], t[r->b], t[r->c]);
  case DROPOUT: return clmp_dropout(t[r->a], r->x, 1, t[r->b]);
  case DROPOUT_BW: return clmp_dropout_backward(t[r->a], r->x, 1, t[r->b]);
  case GPOOL: return clmp_global_avg_pool(t[r->a], t[r->b]);
  case GPOOL_BW: return clmp_global_avg_pool_backward(t[r->a], t[r->b]);
  case MAXPOOL: return clmp_max_pool2d(t[r->a], &one, t[r->b], NULL);
  case AVGPOOL_BW: return clmp_avg_pool2d_backward(t[r->a], &one, t[r->b]);
  case BN_TRAIN:
    return clmp_batch_norm_train(t[r->a], t[r->b], t[r->b], 0.1f, 1e-5f, NULL, NULL, t[r->c],
                                 t[r->d], t[r->a]);
  default: return clmp_batch_norm_eval(t[r->a], t[r->b], t[r->b], t[r->c], t[r->c], eps, t[r->d]);
  }
}

/* The loss, reduction, data and GEMM rows. */
static clmp_status call_op(const row *r, const hostile_palette *p) {
  clmp_tensor *const *t = p->t;
  if (r->call >= ADD) return call_layer(r, t);
  switch (r->call) {
  case XENT: return clmp_softmax_xent(t[r->a], t[r->b], t[r->c]);
  case XENT_BW: return clmp_softmax_xent_backward(t[r->a], t[r->b], t[r->c], t[r->d]);
  case ARGMAX: return clmp_argmax(t[r->a], t[r->b]);
  case CORRECT: return clmp_correct_count(t[r->a], t[r->b], t[r->c]);
  case NONFINITE: return clmp_nonfinite_check(t[r->a], t[r->b]);
  case SUMSQ: return clmp_sum_squares(t[r->a], r->x, t[r->b]);
  case GATHER: return clmp_gather_rows(t[r->a], t[r->b], r->x, 0.0f, t[r->c]);
  case GEMM:
    return clmp_gemm((clmp_transpose)r->tr[0], (clmp_transpose)r->tr[1], 1.0f, t[r->a], t[r->b],
                     0.0f, t[r->c]);
  case GEMM_EX:
    return clmp_gemm_ex(CLMP_NO_TRANS, CLMP_NO_TRANS, 1.0f, matrix_of(p, &r->m[0]),
                        matrix_of(p, &r->m[1]), 0.0f, matrix_of(p, &r->m[2]));
  default: return call_elementwise(r, t);
  }
}

/* --- the runner ----------------------------------------------------------------------------- */

/* The host buffer of a transfer row, and whether a refused read left it alone. */
static void host_fill(float *h) {
  for (int i = 0; i < HOST_ELEMS; i++) h[i] = HOST_FILL;
}

static void expect_host_intact(const row *r, const float *h) {
  size_t changed = 0;
  for (int i = 0; i < HOST_ELEMS; i++) changed += h[i] != HOST_FILL;
  if (changed) printf("\n    %s (%s): %zu host elements written", r->fn, r->what, changed);
  CU_ASSERT_EQUAL(changed, 0);
}

/* Every tensor a row names still holds HOSTILE_FILL. */
static void expect_row_intact(const row *r, const hostile_palette *p) {
  const int slots[] = {r->a, r->b, r->c, r->d, r->m[0].slot, r->m[1].slot, r->m[2].slot};
  for (size_t i = 0; i < sizeof slots / sizeof *slots; i++) hostile_expect_intact(p, slots[i]);
}

static void run_rows(const row *rows, size_t n, const hostile_palette *p, const char *where) {
  float host[HOST_ELEMS];
  for (size_t i = 0; i < n; i++) {
    const row *r = &rows[i];
    host_fill(host);
    hostile_clear_error();
    clmp_status got = r->call <= COPY ? call_tensor(r, p, host) : call_op(r, p);
    hostile_expect_refused(where, r->fn, r->what, NULL, got, r->want);
    expect_row_intact(r, p);
    expect_host_intact(r, host);
  }
}

static void run_on_every_device(const row *rows, size_t n) {
  clmp_ctx *other = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_ctx_create("ref", &other), CLMP_SUCCESS);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    hostile_palette p;
    CU_ASSERT_EQUAL_FATAL(hostile_palette_open(&p, clmp_test_devs[d].ctx, other), CLMP_SUCCESS);
    run_rows(rows, n, &p, clmp_test_devs[d].id);
    hostile_palette_close(&p);
  }
  printf("\n    %zu rows on %d devices", n, clmp_test_ndevs);
  clmp_ctx_free(other);
}

static void test_tensor_rows(void) {
  run_on_every_device(tensor_rows, sizeof tensor_rows / sizeof *tensor_rows);
}

static void test_op_rows(void) {
  run_on_every_device(op_rows, sizeof op_rows / sizeof *op_rows);
}

static void test_layer_rows(void) {
  run_on_every_device(layer_rows, sizeof layer_rows / sizeof *layer_rows);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {{"tensor.h: every row refused as stated", test_tensor_rows},
                         {"ops.h: every row refused as stated", test_op_rows},
                         {"ops.h, layer ops: every row refused as stated", test_layer_rows},
                         CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"hostile ops", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
