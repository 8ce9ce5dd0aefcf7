/* host/ops/table.h: the op table: one row per op, one column per backend (OpenCL, reference).
 * Adding an op means one kernel, one reference function, one row here and one test. Rows are
 * called after host/ops/ has checked every argument, so implementations trust them. */
#ifndef CLMP_HOST_OPS_TABLE_H
#define CLMP_HOST_OPS_TABLE_H

#include <stdint.h>

#include "../tensor/tensor_impl.h"
#include "clmp/ops.h"

/* Activation functions of the act_forward / act_backward rows (cl/activation.cl's ACT). */
typedef enum clmp__act { CLMP__ACT_RELU = 0, CLMP__ACT_GELU = 1 } clmp__act;

/* The loss scaler's and optimizer's state on the device: a u8 tensor of this layout, mirrored
 * by cl/amp.cl. 32-bit fields only, so that C and OpenCL C lay it out alike. */
typedef struct clmp__amp_state {
  float scale;             /* the loss scale of the next step */
  int32_t growth_tracker;  /* clean steps since the last growth or backoff */
  int32_t hysteresis_left; /* overflows still tolerated before a backoff */
  int32_t found_inf;       /* set by the check pass, cleared by the update */
  uint32_t steps;          /* optimizer steps attempted */
  uint32_t skipped;        /* of which skipped for overflow */
  float sumsq;             /* sum of squares of the scaled gradients, for clipping */
  int32_t arrived;         /* work-groups of the running kernel done (0 between kernels) */
} clmp__amp_state;

/* Modes of the scaler (clmp/amp.h spells them for users). */
enum { CLMP__SCALE_DYNAMIC = 0, CLMP__SCALE_STATIC = 1, CLMP__SCALE_OFF = 2 };
/* Optimizers of the fused step. */
enum { CLMP__OPT_SGD = 0, CLMP__OPT_ADAMW = 1 };

typedef struct clmp__scaler_params {
  int32_t mode;
  float growth_factor, backoff_factor, min_scale, max_scale;
  int32_t growth_interval, hysteresis;
} clmp__scaler_params;

typedef struct clmp__step_params {
  int32_t optimizer;
  float lr, weight_decay;
  float momentum, dampening;         /* SGD */
  int32_t nesterov;                  /* SGD */
  float beta1, beta2, eps;           /* AdamW */
  float clip_norm;                   /* global norm of the unscaled gradients; 0: no clipping */
  const clmp__scaler_params *scaler; /* the scaler update that ends the step (amp_step) */
} clmp__step_params;

typedef struct clmp__ops {
  clmp_status (*fill)(clmp_tensor *t, float value);
  clmp_status (*cast)(const clmp_tensor *src, clmp_tensor *dst);
  clmp_status (*axpby)(float a, const clmp_tensor *x, float b, clmp_tensor *y);
  clmp_status (*act_forward)(clmp__act act, const clmp_tensor *x, clmp_tensor *y);
  clmp_status (*act_backward)(clmp__act act, const clmp_tensor *x, const clmp_tensor *dy,
                              clmp_tensor *dx);
  clmp_status (*bias_add)(clmp_tensor *y, const clmp_tensor *bias);
  clmp_status (*bias_grad)(const clmp_tensor *dy, float beta, clmp_tensor *db);
  clmp_status (*softmax_xent)(const clmp_tensor *logits, const clmp_tensor *labels,
                              clmp_tensor *loss);
  clmp_status (*softmax_xent_backward)(const clmp_tensor *logits, const clmp_tensor *labels,
                                       const clmp_tensor *scale, clmp_tensor *dlogits);
  clmp_status (*argmax)(const clmp_tensor *x, clmp_tensor *out);
  clmp_status (*correct_count)(const clmp_tensor *logits, const clmp_tensor *labels,
                               clmp_tensor *count);
  clmp_status (*nonfinite_check)(const clmp_tensor *x, clmp_tensor *flag);
  clmp_status (*sum_squares)(const clmp_tensor *x, float beta, clmp_tensor *out);
  clmp_status (*gemm)(clmp_transpose ta, clmp_transpose tb, float alpha, const clmp_matrix *a,
                      const clmp_matrix *b, float beta, const clmp_matrix *c);
  clmp_status (*gather_rows)(const clmp_tensor *src, const clmp_tensor *idx, float scale,
                             float shift, clmp_tensor *dst);
  /* AMP, pass 1: state.found_inf |= any non-finite in grads; state.sumsq += sum of squares of
   * grads when want_sumsq. */
  clmp_status (*amp_check)(const clmp_tensor *grads, int want_sumsq, clmp_tensor *state);
  /* AMP, pass 2: unless state.found_inf, unscale (1/state.scale), clip, decay, update master and
   * the optimizer's moments m1 (momentum or Adam's m) and m2 (Adam's v, NULL for SGD), and write
   * working (the 16-bit copy, NULL for none). Adam's step count is steps - skipped + 1. Then
   * amp_update's work with p->scaler, in the same launch on devices. */
  clmp_status (*amp_step)(const clmp__step_params *p, clmp_tensor *state, const clmp_tensor *grads,
                          clmp_tensor *master, clmp_tensor *m1, clmp_tensor *m2,
                          clmp_tensor *working);
  /* AMP, the scaler update: counters, growth, backoff, hysteresis; clears found_inf, sumsq. */
  clmp_status (*amp_update)(const clmp__scaler_params *p, clmp_tensor *state);
  clmp_status (*add)(const clmp_tensor *a, const clmp_tensor *b, clmp_tensor *y);
  clmp_status (*dropout)(const clmp_tensor *x, float p, uint64_t seed, clmp_tensor *y);
  /* Convolutions: ws is a workspace of at least one image's share (never NULL here: the
   * dispatcher allocates one when the caller gives none; the reference ignores it). */
  clmp_status (*conv2d)(const clmp_tensor *x, const clmp_tensor *w, const clmp_conv2d_params *p,
                        clmp_tensor *ws, clmp_tensor *y);
  clmp_status (*conv2d_backward_data)(const clmp_tensor *dy, const clmp_tensor *w,
                                      const clmp_conv2d_params *p, clmp_tensor *ws,
                                      clmp_tensor *dx);
  clmp_status (*conv2d_backward_filter)(const clmp_tensor *x, const clmp_tensor *dy,
                                        const clmp_conv2d_params *p, float beta, clmp_tensor *ws,
                                        clmp_tensor *dw);
  clmp_status (*max_pool2d)(const clmp_tensor *x, const clmp_pool2d_params *p, clmp_tensor *y,
                            clmp_tensor *indices);
  clmp_status (*max_pool2d_backward)(const clmp_tensor *dy, const clmp_tensor *indices,
                                     const clmp_pool2d_params *p, clmp_tensor *dx);
  clmp_status (*avg_pool2d)(const clmp_tensor *x, const clmp_pool2d_params *p, clmp_tensor *y);
  clmp_status (*avg_pool2d_backward)(const clmp_tensor *dy, const clmp_pool2d_params *p,
                                     clmp_tensor *dx);
  clmp_status (*global_avg_pool)(const clmp_tensor *x, clmp_tensor *y);
  clmp_status (*global_avg_pool_backward)(const clmp_tensor *dy, clmp_tensor *dx);
  clmp_status (*batch_norm_train)(const clmp_tensor *x, const clmp_tensor *gamma,
                                  const clmp_tensor *beta, float momentum, float eps,
                                  clmp_tensor *running_mean, clmp_tensor *running_var,
                                  clmp_tensor *save_mean, clmp_tensor *save_invstd,
                                  clmp_tensor *y);
  clmp_status (*batch_norm_eval)(const clmp_tensor *x, const clmp_tensor *gamma,
                                 const clmp_tensor *beta, const clmp_tensor *running_mean,
                                 const clmp_tensor *running_var, float eps, clmp_tensor *y);
  clmp_status (*batch_norm_backward)(const clmp_tensor *x, const clmp_tensor *dy,
                                     const clmp_tensor *gamma, const clmp_tensor *save_mean,
                                     const clmp_tensor *save_invstd, float acc,
                                     clmp_tensor *dgamma, clmp_tensor *dbeta, clmp_tensor *dx);
} clmp__ops;

extern const clmp__ops clmp__ops_cl;
extern const clmp__ops clmp__ops_ref;

/* The backend of a context. */
static inline const clmp__ops *clmp__ops_of(const clmp_ctx *ctx) {
  return ctx->is_ref ? &clmp__ops_ref : &clmp__ops_cl;
}

/* The two columns: OpenCL launches in host/ops/<family>.c, references in host/ref/<family>.c. */
#define CLMP__OP_DECLS(prefix)                                                                    \
  clmp_status prefix##fill(clmp_tensor *t, float value);                                          \
  clmp_status prefix##cast(const clmp_tensor *src, clmp_tensor *dst);                             \
  clmp_status prefix##axpby(float a, const clmp_tensor *x, float b, clmp_tensor *y);              \
  clmp_status prefix##act_forward(clmp__act act, const clmp_tensor *x, clmp_tensor *y);           \
  clmp_status prefix##act_backward(clmp__act act, const clmp_tensor *x, const clmp_tensor *dy,    \
                                   clmp_tensor *dx);                                              \
  clmp_status prefix##bias_add(clmp_tensor *y, const clmp_tensor *bias);                          \
  clmp_status prefix##bias_grad(const clmp_tensor *dy, float beta, clmp_tensor *db);              \
  clmp_status prefix##softmax_xent(const clmp_tensor *logits, const clmp_tensor *labels,          \
                                   clmp_tensor *loss);                                            \
  clmp_status prefix##softmax_xent_backward(const clmp_tensor *logits, const clmp_tensor *labels, \
                                            const clmp_tensor *scale, clmp_tensor *dlogits);      \
  clmp_status prefix##argmax(const clmp_tensor *x, clmp_tensor *out);                             \
  clmp_status prefix##correct_count(const clmp_tensor *logits, const clmp_tensor *labels,         \
                                    clmp_tensor *count);                                          \
  clmp_status prefix##nonfinite_check(const clmp_tensor *x, clmp_tensor *flag);                   \
  clmp_status prefix##sum_squares(const clmp_tensor *x, float beta, clmp_tensor *out);            \
  clmp_status prefix##gemm(clmp_transpose ta, clmp_transpose tb, float alpha,                     \
                           const clmp_matrix *a, const clmp_matrix *b, float beta,                \
                           const clmp_matrix *c);                                                 \
  clmp_status prefix##gather_rows(const clmp_tensor *src, const clmp_tensor *idx, float scale,    \
                                  float shift, clmp_tensor *dst);                                 \
  clmp_status prefix##amp_check(const clmp_tensor *grads, int want_sumsq, clmp_tensor *state);    \
  clmp_status prefix##amp_step(const clmp__step_params *p, clmp_tensor *state,                    \
                               const clmp_tensor *grads, clmp_tensor *master, clmp_tensor *m1,    \
                               clmp_tensor *m2, clmp_tensor *working);                            \
  clmp_status prefix##amp_update(const clmp__scaler_params *p, clmp_tensor *state);                \
  clmp_status prefix##add(const clmp_tensor *a, const clmp_tensor *b, clmp_tensor *y);            \
  clmp_status prefix##dropout(const clmp_tensor *x, float p, uint64_t seed, clmp_tensor *y);      \
  clmp_status prefix##conv2d(const clmp_tensor *x, const clmp_tensor *w,                          \
                             const clmp_conv2d_params *p, clmp_tensor *ws, clmp_tensor *y);       \
  clmp_status prefix##conv2d_backward_data(const clmp_tensor *dy, const clmp_tensor *w,           \
                                           const clmp_conv2d_params *p, clmp_tensor *ws,          \
                                           clmp_tensor *dx);                                      \
  clmp_status prefix##conv2d_backward_filter(const clmp_tensor *x, const clmp_tensor *dy,         \
                                             const clmp_conv2d_params *p, float beta,             \
                                             clmp_tensor *ws, clmp_tensor *dw);                   \
  clmp_status prefix##max_pool2d(const clmp_tensor *x, const clmp_pool2d_params *p,               \
                                 clmp_tensor *y, clmp_tensor *indices);                           \
  clmp_status prefix##max_pool2d_backward(const clmp_tensor *dy, const clmp_tensor *indices,      \
                                          const clmp_pool2d_params *p, clmp_tensor *dx);          \
  clmp_status prefix##avg_pool2d(const clmp_tensor *x, const clmp_pool2d_params *p,               \
                                 clmp_tensor *y);                                                 \
  clmp_status prefix##avg_pool2d_backward(const clmp_tensor *dy, const clmp_pool2d_params *p,     \
                                          clmp_tensor *dx);                                       \
  clmp_status prefix##global_avg_pool(const clmp_tensor *x, clmp_tensor *y);                      \
  clmp_status prefix##global_avg_pool_backward(const clmp_tensor *dy, clmp_tensor *dx);           \
  clmp_status prefix##batch_norm_train(const clmp_tensor *x, const clmp_tensor *gamma,            \
                                       const clmp_tensor *beta, float momentum, float eps,        \
                                       clmp_tensor *running_mean, clmp_tensor *running_var,       \
                                       clmp_tensor *save_mean, clmp_tensor *save_invstd,          \
                                       clmp_tensor *y);                                           \
  clmp_status prefix##batch_norm_eval(const clmp_tensor *x, const clmp_tensor *gamma,             \
                                      const clmp_tensor *beta, const clmp_tensor *running_mean,   \
                                      const clmp_tensor *running_var, float eps, clmp_tensor *y); \
  clmp_status prefix##batch_norm_backward(const clmp_tensor *x, const clmp_tensor *dy,            \
                                          const clmp_tensor *gamma, const clmp_tensor *save_mean, \
                                          const clmp_tensor *save_invstd, float acc,              \
                                          clmp_tensor *dgamma, clmp_tensor *dbeta,                \
                                          clmp_tensor *dx);

CLMP__OP_DECLS(clmp__cl_)
CLMP__OP_DECLS(clmp__ref_)

/* Dropout's definition, shared by both columns: element i is kept when the upper 32 bits of the
 * (i + 1)-th output of splitmix64 from the state mix(seed) are >= floor(p 2^32); kept elements
 * are multiplied by 1 / (1 - p) rounded to fp32 (host/ops/dropout.c). */
uint32_t clmp__dropout_threshold(float p);
float clmp__dropout_scale(float p);

/* Argument checks shared by the ops (host/ops/check.c); each records a message naming op. */
clmp_status clmp__check_tensor(const clmp_tensor *t, const char *op, const char *name);
clmp_status clmp__check_same_ctx(const clmp_tensor *a, const clmp_tensor *b, const char *op);
clmp_status clmp__check_float(const clmp_tensor *t, const char *op, const char *name);
clmp_status clmp__check_dtype(const clmp_tensor *t, clmp_dtype d, const char *op, const char *name);
clmp_status clmp__check_numel(const clmp_tensor *t, size_t n, const char *op, const char *name);
/* A one-element tensor of dtype d on ref's context (a loss, a flag, a scale). */
clmp_status clmp__check_scalar(const clmp_tensor *t, clmp_dtype d, const clmp_tensor *ref,
                               const char *op, const char *name);
/* A matrix [rows, cols]: a 2-D tensor; *rows and *cols receive its dimensions. */
clmp_status clmp__check_matrix(const clmp_tensor *t, const char *op, const char *name, size_t *rows,
                               size_t *cols);
/* A tensor of 2 to 4 dimensions seen as [N, C, S]: dimension 0, dimension 1 (channels, or a
 * matrix's columns) and the product of the rest (1 for a matrix). */
typedef struct clmp__ncs {
  size_t n, c, s;
} clmp__ncs;
static inline clmp__ncs clmp__ncs_of(const clmp_tensor *t) {
  clmp__ncs v = {t->shape[0], t->ndim > 1 ? t->shape[1] : 1, 1};
  for (int i = 2; i < t->ndim; i++) v.s *= t->shape[i];
  return v;
}
/* The index of element j < N S of channel c of a contiguous [N, C, S] view. */
static inline size_t clmp__ncs_index(clmp__ncs v, size_t c, size_t j) {
  return (j / v.s * v.c + c) * v.s + j % v.s;
}
/* t has 2 to 4 dimensions; *out receives its [N, C, S] view. */
clmp_status clmp__check_channels(const clmp_tensor *t, const char *op, const char *name,
                                 clmp__ncs *out);
/* An output's bytes may not meet an input's; with alias_ok they may be the very same elements
 * (same offset, byte size and element size: an element-wise op run in place). */
clmp_status clmp__check_disjoint(const clmp_tensor *out, const clmp_tensor *in, int alias_ok,
                                 const char *op, const char *out_name, const char *in_name);
int clmp__dtype_is_float(clmp_dtype d);
/* The storage dtype's name as kernels' -D options spell it: "F32", "F16", "BF16". */
const char *clmp__dtype_define(clmp_dtype d);

/* Element offset of a tensor in its buffer (offsets are multiples of the element size). */
static inline cl_ulong clmp__elem_offset(const clmp_tensor *t) {
  return (cl_ulong)(t->offset / clmp_dtype_size(t->dtype));
}

#endif
