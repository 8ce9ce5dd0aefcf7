/* clmp/amp.h: mixed-precision training: the loss scaler and the fused optimizers over flat
 * arenas. Their state lives on the device and a step queues kernels only: no host
 * synchronisation (clmp_ctx_blocking_calls() counts the ones that happen). */
#ifndef CLMP_AMP_H
#define CLMP_AMP_H

#include <stdint.h>

#include "clmp/export.h"
#include "clmp/status.h"
#include "clmp/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- the loss scaler ---------------------------------------------------------------------------
 */

typedef enum clmp_scale_mode {
  CLMP_SCALE_DYNAMIC = 0, /* grows after growth_interval clean steps, backs off on overflow */
  CLMP_SCALE_STATIC = 1,  /* init_scale always; overflowed steps are still skipped */
  CLMP_SCALE_OFF = 2      /* scale 1 (fp32, bf16); steps with non-finite gradients skipped */
} clmp_scale_mode;

typedef struct clmp_scaler_config {
  clmp_scale_mode mode;
  float init_scale;        /* 65536 */
  float growth_factor;     /* 2 */
  float backoff_factor;    /* 0.5 */
  int32_t growth_interval; /* 2000 clean steps between growths */
  int32_t hysteresis;      /* 1: back off on the first overflow (DeepSpeed's delayed shift) */
  float min_scale;         /* 1: backoff never goes below */
  float max_scale;         /* 2^24: growth never goes above */
} clmp_scaler_config;

/* PyTorch's GradScaler defaults plus hysteresis 1, min_scale 1, max_scale 2^24. */
CLMP_API void clmp_scaler_config_default(clmp_scaler_config *cfg);

typedef struct clmp_scaler clmp_scaler;

/* What the scaler's state holds (a blocking read gives it; checkpoints save it). */
typedef struct clmp_scaler_state {
  float scale;
  int32_t growth_tracker;  /* clean steps since the last growth or overflow */
  int32_t hysteresis_left; /* overflows left before the next backoff */
  int32_t found_inf;       /* the current step's gradients overflowed (before the update) */
  uint32_t steps;          /* steps ended by clmp_scaler_update */
  uint32_t skipped;        /* of which overflowed */
} clmp_scaler_state;

CLMP_API clmp_status clmp_scaler_create(clmp_ctx *ctx, const clmp_scaler_config *cfg,
                                        clmp_scaler **out);
CLMP_API void clmp_scaler_free(clmp_scaler *s);

/* The current loss scale as a one-element f32 tensor on the device (owned by the scaler), to
 * pass to clmp_softmax_xent_backward. */
CLMP_API const clmp_tensor *clmp_scaler_scale(const clmp_scaler *s);

/* Pass 1 of a step over one gradient tensor (any number per step): marks the step overflowed
 * when grads hold inf or NaN, and with want_sumsq adds the sum of squares of the unscaled
 * gradients for global-norm clipping. Queued, no wait. */
CLMP_API clmp_status clmp_scaler_check(clmp_scaler *s, const clmp_tensor *grads, int want_sumsq);

/* Ends a step: counts it, skips or not, grows or backs off the scale (dynamic mode), clears the
 * step's flags. Queued, no wait. */
CLMP_API clmp_status clmp_scaler_update(clmp_scaler *s);

/* Blocking read of the state, for logging and checkpoints. */
CLMP_API clmp_status clmp_scaler_read(const clmp_scaler *s, clmp_scaler_state *out);
/* Restores a saved state (scale must be finite and > 0). */
CLMP_API clmp_status clmp_scaler_restore(clmp_scaler *s, const clmp_scaler_state *state);

/* --- fused optimizers --------------------------------------------------------------------------
 */

typedef enum clmp_optimizer { CLMP_SGD = 0, CLMP_ADAMW = 1 } clmp_optimizer;

typedef struct clmp_optim_config {
  clmp_optimizer kind;
  float lr;                /* the default of clmp_optim_step's lr argument when it is < 0 */
  float weight_decay;      /* SGD: added to the gradient (torch.optim.SGD); AdamW: decoupled */
  float momentum;          /* SGD, 0: none */
  float dampening;         /* SGD */
  int32_t nesterov;        /* SGD */
  float beta1, beta2, eps; /* AdamW: 0.9, 0.999, 1e-8 */
  float clip_norm;         /* global norm of the unscaled gradients; 0: no clipping */
} clmp_optim_config;

/* torch.optim defaults: SGD lr 0.01, no momentum; AdamW lr 1e-3, weight decay 0.01. */
CLMP_API void clmp_optim_config_default(clmp_optim_config *cfg, clmp_optimizer kind);

typedef struct clmp_optim clmp_optim;

/* An optimizer over flat arenas of P elements: master (f32 master weights, updated in place),
 * grads (f32, f16 or bf16, multiplied by the loss scale), working (the f32/f16/bf16 copy the
 * model computes with, written after every step; NULL for none). The moments are f32 arenas it
 * allocates, zeroed. scaler (not owned) may be NULL: then no loss scaling, but steps with
 * non-finite gradients are still skipped. All tensors on one context. */
CLMP_API clmp_status clmp_optim_create(const clmp_optim_config *cfg, clmp_tensor *master,
                                       const clmp_tensor *grads, clmp_tensor *working,
                                       clmp_scaler *scaler, clmp_optim **out);
CLMP_API void clmp_optim_free(clmp_optim *o);

/* One step, queued with no host synchronisation: the check pass over grads (and the sum of
 * squares when clipping), the fused update (a no-op on the device when the step overflowed),
 * the scaler update. lr < 0 means the configured lr. Gradients from other arenas can be checked
 * first with clmp_scaler_check. */
CLMP_API clmp_status clmp_optim_step(clmp_optim *o, float lr);

/* The optimizer's moments (owned by it, for checkpoints): 0 = SGD momentum / Adam exp_avg,
 * 1 = Adam exp_avg_sq; NULL when the optimizer has none. */
CLMP_API clmp_tensor *clmp_optim_moment(const clmp_optim *o, int which);

#ifdef __cplusplus
}
#endif
#endif
