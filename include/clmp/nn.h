/* clmp/nn.h: models written once against the op API, so they run on any device including the
 * reference: a multi-layer perceptron with ReLU, its parameters in flat arenas (fp32 master,
 * 16-bit or fp32 working copy, gradients in the working dtype). */
#ifndef CLMP_NN_H
#define CLMP_NN_H

#include <stdint.h>

#include "clmp/amp.h"
#include "clmp/export.h"
#include "clmp/ops.h"
#include "clmp/status.h"
#include "clmp/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLMP_MLP_MAX_LAYERS 8

typedef struct clmp_mlp_config {
  int layers;                            /* Linear layers, 1..CLMP_MLP_MAX_LAYERS */
  size_t sizes[CLMP_MLP_MAX_LAYERS + 1]; /* widths: input, hidden..., output */
  clmp_dtype dtype;                      /* weights, activations and gradients: f32, f16, bf16 */
  size_t max_batch;                      /* rows of the largest batch forward/backward will see */
} clmp_mlp_config;

typedef struct clmp_mlp clmp_mlp;

/* Allocates the arenas and activations on ctx; parameters are undefined until clmp_mlp_init or
 * clmp_mlp_set_master. */
CLMP_API clmp_status clmp_mlp_create(clmp_ctx *ctx, const clmp_mlp_config *cfg, clmp_mlp **out);
CLMP_API void clmp_mlp_free(clmp_mlp *m);

/* torch.nn.Linear's initialisation (Kaiming-uniform with a = sqrt(5)): weights and biases
 * uniform in +-1/sqrt(fan_in), from a seeded generator; the working copy follows. */
CLMP_API clmp_status clmp_mlp_init(clmp_mlp *m, uint64_t seed);

/* The arenas (owned by the model): master f32 [P], working [P], grads [P]; and P. */
CLMP_API clmp_tensor *clmp_mlp_master(const clmp_mlp *m);
CLMP_API clmp_tensor *clmp_mlp_working(const clmp_mlp *m);
CLMP_API clmp_tensor *clmp_mlp_grads(const clmp_mlp *m);
CLMP_API size_t clmp_mlp_params(const clmp_mlp *m);
/* Element offsets of layer i's weight [out, in] and bias [out] in the arenas. */
CLMP_API size_t clmp_mlp_weight_offset(const clmp_mlp *m, int layer);
CLMP_API size_t clmp_mlp_bias_offset(const clmp_mlp *m, int layer);

/* Copies master into the working copy (after loading or changing the master weights). */
CLMP_API clmp_status clmp_mlp_sync_working(clmp_mlp *m);

/* The input buffer [max_batch, sizes[0]] (working dtype) that a batch is gathered into. */
CLMP_API clmp_tensor *clmp_mlp_input(const clmp_mlp *m);

/* Forward pass over the first `batch` rows of the input; the logits [batch, out] are returned as
 * a view (owned by the model, valid until the next forward). */
CLMP_API clmp_status clmp_mlp_forward(clmp_mlp *m, size_t batch, const clmp_tensor **logits);

/* Backward pass of the mean softmax cross-entropy of the last forward against labels (i32
 * [batch]), multiplied by scale (f32 [1] on the device, NULL for 1): gradients are written into
 * the grads arena, or added to it when accumulate is set. */
CLMP_API clmp_status clmp_mlp_backward(clmp_mlp *m, const clmp_tensor *labels,
                                       const clmp_tensor *scale, int accumulate);

#ifdef __cplusplus
}
#endif
#endif
