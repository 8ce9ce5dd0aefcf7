/* clmp/nn.h: models built from layers, described by a spec (a preset name or JSON), written once
 * against the op API so they run on any device including the reference. Parameters live in flat
 * arenas (fp32 master, 16-bit or fp32 working copy, gradients in the working dtype), named with
 * the state_dict keys of the equivalent PyTorch module ("0.weight", "1.running_mean"). */
#ifndef CLMP_NN_H
#define CLMP_NN_H

#include <stddef.h>
#include <stdint.h>

#include "clmp/amp.h"
#include "clmp/export.h"
#include "clmp/ops.h"
#include "clmp/status.h"
#include "clmp/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The presets clmp_model_config's spec may name:
 * - "mlp": Linear(784, 512), ReLU, Linear(512, 256), ReLU, Linear(256, 10) on a flat input;
 * - "cnn": Conv2d(1, 32, 3, padding 1), BatchNorm2d, ReLU, MaxPool2d(2), Conv2d(32, 64, 3, padding
 *   1), BatchNorm2d, ReLU, MaxPool2d(2), Flatten, Linear(3136, 128), ReLU, Linear(128, 10);
 * - "resnet8": a stem conv-bn-relu of 16 channels, three residual blocks of two 3x3 convolutions
 *   (16, 32 and 64 channels, the last two with stride 2 and a 1x1 projection), global average
 *   pooling, Linear(64, 10).
 * Any other spec is JSON text: {"input": [C, H, W], "layers": [{"type": "conv2d", "out": 32,
 * "kernel": 3, "padding": 1}, ...]} (or the bare layer array); the README lists every type and
 * option. */
#define CLMP_MODEL_PRESETS "mlp, cnn, resnet8"

typedef struct clmp_model_config {
  const char *spec; /* a preset name or JSON text; NULL: "mlp" */
  clmp_dtype dtype; /* weights, activations and gradients: f32, f16, bf16 */
  size_t max_batch; /* the largest batch forward will see */
  int input_ndim;   /* the shape of one example when the spec gives none: [C, H, W] or [F] */
  size_t input[3];  /* (the spec's own "input" must have as many elements) */
  size_t classes;   /* the output a loss needs: [classes] (0: any shape) */
  uint64_t seed;    /* initialisation and dropout masks */
} clmp_model_config;

/* What a spec plans to: sizes computed on the host, before any allocation. */
typedef struct clmp_model_summary {
  size_t layers;      /* every layer, containers and their children included */
  size_t params;      /* trained parameters (elements) */
  size_t buffers;     /* saved, untrained elements (running statistics) */
  size_t arena_bytes; /* each of the master, working and gradient arenas */
  size_t act_bytes;   /* activations and what the backward keeps, for max_batch */
  size_t ws_bytes;    /* the ops' shared workspace (0 without a device) */
  int out_ndim;       /* the output shape of one example */
  size_t out[3];
} clmp_model_summary;

/* Parses and plans cfg's spec without a device: a bad spec (unknown layer or field, a shape
 * chain that does not fit, sizes beyond what could be allocated) fails with a message naming
 * the layer and the field. summary may be NULL. */
CLMP_API clmp_status clmp_model_check(const clmp_model_config *cfg, clmp_model_summary *summary);

typedef struct clmp_model clmp_model;

/* Builds the model on ctx: the spec is checked first (as clmp_model_check, and against the
 * device's memory), then the arenas and activations are allocated and the parameters initialised
 * as torch.nn initialises them (Kaiming-uniform weights and biases in +-1/sqrt(fan_in), batch norm
 * weight 1 and bias 0, running mean 0 and variance 1) from cfg->seed. */
CLMP_API clmp_status clmp_model_create(clmp_ctx *ctx, const clmp_model_config *cfg,
                                       clmp_model **out);
CLMP_API void clmp_model_free(clmp_model *m);

/* Re-initialises every parameter and buffer from seed. */
CLMP_API clmp_status clmp_model_init(clmp_model *m, uint64_t seed);

/* The canonical spec (JSON, every option spelled out; owned by the model): what a checkpoint
 * stores and compares. */
CLMP_API const char *clmp_model_spec(const clmp_model *m);
CLMP_API clmp_status clmp_model_summary_get(const clmp_model *m, clmp_model_summary *out);

/* The arenas (owned by the model): master f32 [P], working [P], grads [P]; and P. */
CLMP_API clmp_tensor *clmp_model_master(const clmp_model *m);
CLMP_API clmp_tensor *clmp_model_working(const clmp_model *m);
CLMP_API clmp_tensor *clmp_model_grads(const clmp_model *m);
CLMP_API size_t clmp_model_params(const clmp_model *m);
/* The buffers' arena (f32 [B], NULL when the model has none) and B. */
CLMP_API clmp_tensor *clmp_model_buffers(const clmp_model *m);
CLMP_API size_t clmp_model_buffer_count(const clmp_model *m);

/* The model's named tensors, in state_dict order. */
typedef enum clmp_entry_kind {
  CLMP_ENTRY_PARAM = 0,  /* trained: offset into the parameter arenas */
  CLMP_ENTRY_BUFFER = 1, /* saved, not trained: offset into the buffer arena */
  CLMP_ENTRY_COUNTER = 2 /* a host integer (num_batches_tracked): value */
} clmp_entry_kind;

typedef struct clmp_model_entry {
  const char *name; /* "0.weight" (owned by the model) */
  clmp_entry_kind kind;
  int ndim; /* 0 for a counter */
  size_t shape[CLMP_MAX_DIMS];
  size_t numel, offset;
  uint64_t value; /* counters */
} clmp_model_entry;

CLMP_API size_t clmp_model_entry_count(const clmp_model *m);
/* Entry i; CLMP_ERR_INVALID_ARGUMENT when i is out of range. */
CLMP_API clmp_status clmp_model_entry_get(const clmp_model *m, size_t i, clmp_model_entry *out);
/* Sets counter entry i (restoring a checkpoint). */
CLMP_API clmp_status clmp_model_counter_set(clmp_model *m, size_t i, uint64_t value);

/* Copies master into the working copy (after loading or changing the master weights). */
CLMP_API clmp_status clmp_model_sync_working(clmp_model *m);

/* The input buffer [max_batch, numel of one example] (working dtype) a batch is gathered into. */
CLMP_API clmp_tensor *clmp_model_input(const clmp_model *m);

/* Forward pass over the first batch rows of the input, in training mode (batch statistics,
 * dropout with the masks of counter rng) or evaluation mode. The output [batch, out...] is a view
 * owned by the model, valid until the next forward. */
CLMP_API clmp_status clmp_model_forward(clmp_model *m, size_t batch, int train, uint64_t rng,
                                        const clmp_tensor **out);

/* Backward pass of the last forward from dout, the gradient of the loss with respect to its
 * output (same shape; the loss scale already in it): gradients are written into the grads arena,
 * or added to it when accumulate is set. */
CLMP_API clmp_status clmp_model_backward(clmp_model *m, const clmp_tensor *dout, int accumulate);

#ifdef __cplusplus
}
#endif
#endif
