/* clmp/train.h: training a model on an IDX image dataset (Fashion-MNIST) with a precision policy
 * (fp16 with dynamic loss scaling, bf16, fp32), everything resident on the device: the dataset,
 * the minibatch gathering, the step, and a per-step log read once per epoch. */
#ifndef CLMP_TRAIN_H
#define CLMP_TRAIN_H

#include <stdint.h>

#include "clmp/amp.h"
#include "clmp/export.h"
#include "clmp/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clmp_precision {
  CLMP_PRECISION_FP16 = 0, /* f16 weights, activations, gradients; fp32 master; loss scaling */
  CLMP_PRECISION_BF16 = 1, /* bf16 storage, fp32 master, no scaling */
  CLMP_PRECISION_FP32 = 2
} clmp_precision;

typedef enum clmp_schedule {
  CLMP_SCHEDULE_CONSTANT = 0,
  CLMP_SCHEDULE_COSINE = 1, /* from lr down to 0 over the run, after the warmup */
  CLMP_SCHEDULE_LINEAR = 2  /* likewise, linearly */
} clmp_schedule;

#define CLMP_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

typedef struct clmp_train_config {
  const char *data_dir; /* train-images-idx3-ubyte[.gz] and the other three files */
  clmp_precision precision;
  const char *model; /* the model spec: a preset name (CLMP_MODEL_PRESETS) or JSON; NULL "mlp" */
  int epochs;
  size_t batch; /* examples per optimizer step (split into accum micro-batches) */
  int accum;    /* gradient accumulation: micro-batches per step */
  clmp_optim_config optim;
  clmp_scaler_config scaler; /* used with fp16; bf16 and fp32 train with the scaler off */
  clmp_schedule schedule;
  int warmup_steps;               /* linear warmup from 0 */
  uint64_t seed;                  /* initialisation and shuffling */
  size_t train_limit, test_limit; /* use the first N examples only (0: all) */
  uint32_t max_skipped; /* stop with CLMP_ERR_NON_FINITE after this many consecutive skipped
                           steps, checked at the end of each epoch (0: never) */
} clmp_train_config;

/* Defaults: fp16, the "mlp" preset (784-512-256-10), 10 epochs of batch 128, AdamW (lr 1e-3, weight
 * decay 0.01) with a cosine schedule, seed 1, the Fashion-MNIST folder of Debian's
 * dataset-fashion-mnist. */
CLMP_API void clmp_train_config_default(clmp_train_config *cfg);

typedef struct clmp_epoch_stats {
  int epoch;            /* 1-based */
  size_t steps;         /* optimizer steps in the epoch */
  uint64_t step_total;  /* optimizer steps so far */
  double train_loss;    /* mean over the epoch's micro-batches */
  double test_accuracy; /* percent */
  double images_per_s;  /* training throughput over the epoch */
  double seconds;
  float loss_scale; /* at the end of the epoch */
  uint32_t skipped; /* steps skipped in the epoch */
  uint32_t skipped_total;
} clmp_epoch_stats;

/* One optimizer step's record, for the metrics file. */
typedef struct clmp_step_record {
  uint64_t step;
  int epoch;
  float loss, loss_scale, lr;
  int overflow;
} clmp_step_record;

typedef struct clmp_trainer clmp_trainer;

/* Loads the dataset, builds the model, scaler and optimizer on ctx and initialises the weights
 * from the seed. */
CLMP_API clmp_status clmp_trainer_create(clmp_ctx *ctx, const clmp_train_config *cfg,
                                         clmp_trainer **out);
CLMP_API void clmp_trainer_free(clmp_trainer *t);

/* Trains one epoch and evaluates on the test set. Fails with CLMP_ERR_NON_FINITE when the epoch
 * saw max_skipped consecutive skipped steps (the weights are those of the last good step), or
 * when an update made the weights themselves inf or NaN (in fp16: beyond 65504), which no later
 * step can undo (checked at the end of every epoch, whatever max_skipped). progress
 * (may be NULL) is called after every optimizer step from the host side (it must not wait for the
 * device); record (may be NULL) receives the epoch's steps at its end. */
CLMP_API clmp_status clmp_trainer_epoch(clmp_trainer *t,
                                        void (*progress)(size_t step, size_t steps, void *user),
                                        void (*record)(const clmp_step_record *r, void *user),
                                        void *user, clmp_epoch_stats *out);

/* One optimizer step on its own (for stepping two trainers side by side); with loss, a blocking
 * read of the step's mean loss. Epochs and single steps do not mix: clmp_trainer_epoch refuses to
 * start in the middle of an epoch. */
CLMP_API clmp_status clmp_trainer_step(clmp_trainer *t, float *loss);

/* Makes dst's weights, moments, scaler state and counters those of src (a trainer of the same
 * configuration, on any device): blocking reads and writes. */
CLMP_API clmp_status clmp_trainer_sync(clmp_trainer *dst, const clmp_trainer *src);

/* Writes a checkpoint, atomically: safetensors with the model's tensors under their state_dict
 * keys ("0.weight" [out, in], "1.running_mean", ...; fp32 master weights, f32 buffers, I32
 * counters), the optimizer's moments as optim.<key>.exp_avg / .exp_avg_sq (AdamW) or
 * .momentum_buffer (SGD), and in __metadata__ the model's canonical spec, the scaler state, step,
 * epoch, precision, optimizer and the input transform (input_scale, input_shift: x = pixel *
 * scale + shift). A blocking read. Weights that are not finite in the working precision (or
 * non-finite moments or buffers) are refused with CLMP_ERR_NON_FINITE and path is left as it was,
 * so the last good checkpoint stays. */
CLMP_API clmp_status clmp_trainer_save(const clmp_trainer *t, const char *path);

/* Continues from a checkpoint of the same model spec, precision and optimizer: weights, buffers,
 * moments, scaler state, step and epoch, so that the run ends bit-identical to one that was
 * never interrupted. A damaged, foreign or mismatched file fails with CLMP_ERR_FORMAT (or
 * CLMP_ERR_IO), one whose weights are not finite in the working precision with
 * CLMP_ERR_NON_FINITE, and changes nothing. */
CLMP_API clmp_status clmp_trainer_resume(clmp_trainer *t, const char *path);

/* Builds, or loads from the binary cache, every kernel program that training with cfg uses
 * (gather, forward, loss, backward, the fused step, the scaler, evaluation), by training one
 * step of cfg's model on a batch of zero images of Fashion-MNIST's size (28 x 28) and evaluating
 * it; the dataset of cfg is not read. Afterwards a trainer of the same precision on the context
 * builds nothing. A no-op on the reference device. */
CLMP_API clmp_status clmp_train_prepare(clmp_ctx *ctx, const clmp_train_config *cfg);

/* Epochs completed so far (counting those of a resumed checkpoint). */
CLMP_API int clmp_trainer_epochs_done(const clmp_trainer *t);

/* The model being trained (owned by the trainer) and the input transform x = pixel*scale+shift. */
CLMP_API clmp_model *clmp_trainer_model(const clmp_trainer *t);

/* The canonical model spec stored in a checkpoint's metadata, as a malloc'ed string (free it), so
 * that a resumed run needs no --model. CLMP_ERR_IO / CLMP_ERR_FORMAT as clmp_trainer_resume. */
CLMP_API clmp_status clmp_checkpoint_model_spec(const char *path, char **spec);
CLMP_API void clmp_trainer_transform(const clmp_trainer *t, float *scale, float *shift);

#ifdef __cplusplus
}
#endif
#endif
