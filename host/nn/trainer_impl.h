/* host/nn/trainer_impl.h: the trainer's state, shared by the loop and the checkpoints
 * (internal). */
#ifndef CLMP_HOST_TRAINER_IMPL_H
#define CLMP_HOST_TRAINER_IMPL_H

#include "../amp/amp_impl.h"
#include "../io/source.h"
#include "../ops/table.h"
#include "clmp/train.h"

#define CLMP__CLASSES 10

struct clmp_trainer {
  clmp_ctx *ctx;
  clmp_train_config cfg;
  clmp__source *train, *test;
  clmp_model *model;
  clmp_scaler *scaler;
  clmp_optim *optim;
  float in_scale, in_shift;
  size_t micro, steps_per_epoch;
  uint64_t step_total, total_steps;
  int epoch;
  size_t step_in_epoch; /* steps taken by clmp_trainer_step in the current epoch */
  uint32_t skipped_total;
  uint32_t skip_run; /* consecutive skipped steps at the end of the last epoch */
  clmp_tensor *perm, *test_idx, *labels, *scale_eff, *loss_log, *state_log, *count, *dlogits;
};

/* clmp_trainer_create with the sources made by load (t->ctx and t->cfg are set when it is
 * called; it sets t->train and t->test): IDX files for clmp_trainer_create, synthetic images for
 * clmp_train_prepare. */
clmp_status clmp__trainer_create(clmp_ctx *ctx, const clmp_train_config *cfg,
                                 clmp_status (*load)(clmp_trainer *t), clmp_trainer **out);

#endif
