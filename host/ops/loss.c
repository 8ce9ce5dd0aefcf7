/* host/ops/loss.c: clmp_softmax_xent, clmp_softmax_xent_backward, clmp_argmax and
 * clmp_correct_count: argument checks and their OpenCL launches (cl/loss.cl). The loss is
 * deterministic: per-row losses into the context's scratch buffer, then one work-group sums them
 * in a fixed order. A label outside [0, classes) makes the loss NaN and its row of the gradient
 * NaN. */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "table.h"

/* Work-items of the work-group that sums the per-row losses, at most (a power of two within the
 * device's limit). */
#define LOSS_GROUP_SIZE 256

static size_t group_size(const clmp_ctx *ctx) {
  size_t gs = LOSS_GROUP_SIZE;
  while (gs > 1 && gs > ctx->info.max_work_group) gs /= 2;
  return gs;
}

/* The kernel of cl/loss.cl built for logits of dtype x and a gradient of dtype y. */
static clmp_status loss_kernel(clmp_ctx *ctx, clmp_dtype x, clmp_dtype y, const char *name,
                               cl_kernel *k) {
  char options[80];
  snprintf(options, sizeof options, "-DX_DT=%s -DY_DT=%s -DGROUP_SIZE=%zu", clmp__dtype_define(x),
           clmp__dtype_define(y), group_size(ctx));
  return clmp__kernel_get(ctx, "loss", options, name, k);
}

/* losses[r] for every row of logits. */
static clmp_status xent_rows(const clmp_tensor *logits, const clmp_tensor *labels, cl_mem losses) {
  cl_kernel k = NULL;
  clmp_status st = loss_kernel(logits->ctx, logits->dtype, logits->dtype, "xent_rows", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(logits), lab_off = clmp__elem_offset(labels);
  cl_ulong rows = logits->shape[0], classes = logits->shape[1];
  clmp__arg args[] = {CLMP_ARG(logits->storage->mem),
                      CLMP_ARG(x_off),
                      CLMP_ARG(labels->storage->mem),
                      CLMP_ARG(lab_off),
                      CLMP_ARG(rows),
                      CLMP_ARG(classes),
                      CLMP_ARG(losses)};
  return clmp__launch_1d(logits->ctx, k, "xent_rows", args, 7, logits->shape[0]);
}

/* loss[0] = the mean of losses[0..rows), in a fixed order. */
static clmp_status xent_mean(const clmp_tensor *logits, cl_mem losses, clmp_tensor *loss) {
  cl_kernel k = NULL;
  clmp_status st = loss_kernel(logits->ctx, logits->dtype, logits->dtype, "xent_mean", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong rows = logits->shape[0], loss_off = clmp__elem_offset(loss);
  clmp__arg args[] = {CLMP_ARG(losses), CLMP_ARG(rows), CLMP_ARG(loss->storage->mem),
                      CLMP_ARG(loss_off)};
  size_t gs = group_size(logits->ctx);
  return clmp__launch(logits->ctx, k, "xent_mean", args, 4, gs, gs);
}

clmp_status clmp__cl_softmax_xent(const clmp_tensor *logits, const clmp_tensor *labels,
                                  clmp_tensor *loss) {
  cl_mem losses = NULL;
  clmp_status st = clmp__scratch(logits->ctx, logits->shape[0] * sizeof(float), &losses);
  if (st == CLMP_SUCCESS) st = xent_rows(logits, labels, losses);
  if (st == CLMP_SUCCESS) st = xent_mean(logits, losses, loss);
  return st;
}

clmp_status clmp__cl_softmax_xent_backward(const clmp_tensor *logits, const clmp_tensor *labels,
                                           const clmp_tensor *scale, clmp_tensor *dlogits) {
  cl_kernel k = NULL;
  clmp_status st = loss_kernel(logits->ctx, logits->dtype, dlogits->dtype, "xent_backward", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(logits), lab_off = clmp__elem_offset(labels);
  cl_ulong rows = logits->shape[0], classes = logits->shape[1];
  cl_mem scale_mem = scale ? scale->storage->mem : NULL;
  cl_ulong scale_off = scale ? clmp__elem_offset(scale) : 0, dl_off = clmp__elem_offset(dlogits);
  cl_int has_scale = scale != NULL;
  clmp__arg args[] = {CLMP_ARG(logits->storage->mem),
                      CLMP_ARG(x_off),
                      CLMP_ARG(labels->storage->mem),
                      CLMP_ARG(lab_off),
                      CLMP_ARG(rows),
                      CLMP_ARG(classes),
                      CLMP_ARG(scale_mem),
                      CLMP_ARG(scale_off),
                      CLMP_ARG(has_scale),
                      CLMP_ARG(dlogits->storage->mem),
                      CLMP_ARG(dl_off)};
  return clmp__launch_1d(logits->ctx, k, "xent_backward", args, 11, logits->shape[0]);
}

clmp_status clmp__cl_argmax(const clmp_tensor *x, clmp_tensor *out) {
  cl_kernel k = NULL;
  clmp_status st = loss_kernel(x->ctx, x->dtype, x->dtype, "argmax_rows", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(x), out_off = clmp__elem_offset(out);
  cl_ulong rows = x->shape[0], classes = x->shape[1];
  clmp__arg args[] = {
      CLMP_ARG(x->storage->mem),   CLMP_ARG(x_off),  CLMP_ARG(rows), CLMP_ARG(classes),
      CLMP_ARG(out->storage->mem), CLMP_ARG(out_off)};
  return clmp__launch_1d(x->ctx, k, "argmax_rows", args, 6, x->shape[0]);
}

clmp_status clmp__cl_correct_count(const clmp_tensor *logits, const clmp_tensor *labels,
                                   clmp_tensor *count) {
  cl_kernel k = NULL;
  clmp_status st = loss_kernel(logits->ctx, logits->dtype, logits->dtype, "correct_count", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(logits), lab_off = clmp__elem_offset(labels);
  cl_ulong rows = logits->shape[0], classes = logits->shape[1];
  cl_ulong count_off = clmp__elem_offset(count);
  clmp__arg args[] = {CLMP_ARG(logits->storage->mem),
                      CLMP_ARG(x_off),
                      CLMP_ARG(labels->storage->mem),
                      CLMP_ARG(lab_off),
                      CLMP_ARG(rows),
                      CLMP_ARG(classes),
                      CLMP_ARG(count->storage->mem),
                      CLMP_ARG(count_off)};
  return clmp__launch_1d(logits->ctx, k, "correct_count", args, 8, logits->shape[0]);
}

/* --- the public functions: argument checks, then the context's backend ------------------- */

/* logits: a float matrix [rows, classes]; labels: i32 with rows elements, in logits' context. */
static clmp_status check_logits_labels(const clmp_tensor *logits, const clmp_tensor *labels,
                                       const char *op, size_t *rows) {
  size_t classes = 0;
  clmp_status st = clmp__check_matrix(logits, op, "logits", rows, &classes);
  if (st == CLMP_SUCCESS) st = clmp__check_float(logits, op, "logits");
  if (st == CLMP_SUCCESS) st = clmp__check_dtype(labels, CLMP_I32, op, "labels");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(logits, labels, op);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(labels, *rows, op, "labels");
  return st;
}

clmp_status clmp_softmax_xent(const clmp_tensor *logits, const clmp_tensor *labels,
                              clmp_tensor *loss) {
  const char *op = "clmp_softmax_xent";
  size_t rows = 0;
  clmp_status st = check_logits_labels(logits, labels, op, &rows);
  if (st == CLMP_SUCCESS) st = clmp__check_scalar(loss, CLMP_F32, logits, op, "loss");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(loss, logits, 0, op, "loss", "logits");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(loss, labels, 0, op, "loss", "labels");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(logits->ctx)->softmax_xent(logits, labels, loss);
}

/* dlogits: any float dtype, as many elements as logits (shapes may differ, as element-wise). */
clmp_status clmp_softmax_xent_backward(const clmp_tensor *logits, const clmp_tensor *labels,
                                       const clmp_tensor *scale, clmp_tensor *dlogits) {
  const char *op = "clmp_softmax_xent_backward";
  size_t rows = 0;
  clmp_status st = check_logits_labels(logits, labels, op, &rows);
  if (st == CLMP_SUCCESS && scale) st = clmp__check_scalar(scale, CLMP_F32, logits, op, "scale");
  if (st == CLMP_SUCCESS) st = clmp__check_float(dlogits, op, "dlogits");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(logits, dlogits, op);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(dlogits, logits->numel, op, "dlogits");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(dlogits, logits, 1, op, "dlogits", "logits");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(dlogits, labels, 0, op, "dlogits", "labels");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(dlogits, scale, 0, op, "dlogits", "scale");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(logits->ctx)->softmax_xent_backward(logits, labels, scale, dlogits);
}

clmp_status clmp_argmax(const clmp_tensor *x, clmp_tensor *out) {
  const char *op = "clmp_argmax";
  size_t rows = 0, classes = 0;
  clmp_status st = clmp__check_matrix(x, op, "x", &rows, &classes);
  if (st == CLMP_SUCCESS) st = clmp__check_float(x, op, "x");
  if (st == CLMP_SUCCESS) st = clmp__check_dtype(out, CLMP_I32, op, "out");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(x, out, op);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(out, rows, op, "out");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(out, x, 0, op, "out", "x");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(x->ctx)->argmax(x, out);
}

clmp_status clmp_correct_count(const clmp_tensor *logits, const clmp_tensor *labels,
                               clmp_tensor *count) {
  const char *op = "clmp_correct_count";
  size_t rows = 0;
  clmp_status st = check_logits_labels(logits, labels, op, &rows);
  if (st == CLMP_SUCCESS) st = clmp__check_scalar(count, CLMP_I32, logits, op, "count");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(count, logits, 0, op, "count", "logits");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(count, labels, 0, op, "count", "labels");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(logits->ctx)->correct_count(logits, labels, count);
}
