/* host/nn/prepare.c: clmp_train_prepare: a training run's kernel programs built ahead of time, by
 * one step and one evaluation of the real trainer on a synthetic dataset of zero images. */
#include <stdlib.h>

#include "../runtime/error.h"
#include "../io/dataset.h"
#include "trainer_impl.h"

/* Fashion-MNIST's 28 x 28 pixels: the shapes the model's kernels are built for. */
#define PREPARE_SIDE   28
#define PREPARE_PIXELS (PREPARE_SIDE * PREPARE_SIDE)

/* n zero images with label 0 as a source; mean 0 and std 1 keep the transform finite. */
static clmp_status zero_source(clmp_ctx *ctx, size_t n, clmp__source **out) {
  size_t img_shape[2] = {n, PREPARE_PIXELS}, lab_shape[2] = {n, 1};
  uint8_t *zeros = calloc(n * PREPARE_PIXELS, 1);
  clmp__dataset d = {NULL, NULL, n, PREPARE_PIXELS, PREPARE_SIDE, PREPARE_SIDE, 0.0, 1.0};
  clmp_status st = zeros ? CLMP_SUCCESS : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "zero dataset");
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(ctx, CLMP_U8, 2, img_shape, &d.images);
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(d.images, CLMP_U8, zeros, n * PREPARE_PIXELS);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(ctx, CLMP_U8, 2, lab_shape, &d.labels);
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(d.labels, CLMP_U8, zeros, n);
  free(zeros);
  if (st != CLMP_SUCCESS) {
    clmp__dataset_free(&d);
    return st;
  }
  st = clmp__image_source(&d, out);
  if (st == CLMP_SUCCESS) (*out)->classes = CLMP__CLASSES;
  return st;
}

/* One batch to train on and one to evaluate. */
static clmp_status load_zeros(clmp_trainer *t) {
  clmp_status st = zero_source(t->ctx, t->cfg.batch, &t->train);
  return st == CLMP_SUCCESS ? zero_source(t->ctx, t->cfg.batch, &t->test) : st;
}

clmp_status clmp_train_prepare(clmp_ctx *ctx, const clmp_train_config *cfg) {
  if (!ctx || !cfg) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_train_prepare: NULL");
  if (clmp_ctx_device(ctx)->kind == CLMP_DEVICE_REF) return CLMP_SUCCESS;
  clmp_train_config one = *cfg;
  one.epochs = 1;
  one.train_limit = one.test_limit = 0;
  clmp_trainer *t = NULL;
  clmp_epoch_stats stats;
  clmp_status st = clmp__trainer_create(ctx, &one, load_zeros, &t);
  if (st == CLMP_SUCCESS) st = clmp_trainer_epoch(t, NULL, NULL, NULL, &stats);
  clmp_trainer_free(t);
  return st;
}
