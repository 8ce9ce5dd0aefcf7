/* host/amp/optim.c: the fused optimizers (SGD, AdamW) over flat arenas: one check pass, one fused
 * update and the scaler update per step, queued through the op table with no host wait. */
#include <math.h>
#include <stdlib.h>

#include "../runtime/error.h"
#include "amp_impl.h"

#define SGD_LR             0.01f
#define ADAMW_LR           1e-3f
#define ADAMW_WEIGHT_DECAY 0.01f
#define ADAMW_BETA1        0.9f
#define ADAMW_BETA2        0.999f
#define ADAMW_EPS          1e-8f

struct clmp_optim {
  clmp_optim_config cfg;
  clmp_tensor *master, *working;
  const clmp_tensor *grads;
  clmp_tensor *m1, *m2; /* owned moments (NULL when unused) */
  clmp_scaler *scaler;
  clmp_scaler *own_scaler; /* the scale-off scaler made when none was given */
};

void clmp_optim_config_default(clmp_optim_config *cfg, clmp_optimizer kind) {
  if (!cfg) return;
  *cfg = (clmp_optim_config){
      .kind = kind, .beta1 = ADAMW_BETA1, .beta2 = ADAMW_BETA2, .eps = ADAMW_EPS};
  cfg->lr = kind == CLMP_ADAMW ? ADAMW_LR : SGD_LR;
  cfg->weight_decay = kind == CLMP_ADAMW ? ADAMW_WEIGHT_DECAY : 0.0f;
}

clmp_status clmp__optim_config_check(const clmp_optim_config *c, const char *op,
                                     const char *prefix) {
  const char *bad = NULL;
  if ((unsigned)c->kind > CLMP_ADAMW)
    bad = "kind";
  else if (!isfinite(c->lr) || c->lr < 0)
    bad = "lr (finite, >= 0)";
  else if (!isfinite(c->weight_decay) || c->weight_decay < 0)
    bad = "weight_decay (>= 0)";
  else if (!(c->momentum >= 0 && c->momentum < 1) || !(c->dampening >= 0 && c->dampening <= 1))
    bad = "momentum [0, 1) / dampening [0, 1]";
  else if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
    bad = "nesterov (needs momentum > 0 and dampening 0)";
  else if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
    bad = "beta1 / beta2 [0, 1)";
  else if (!(c->eps > 0) || !isfinite(c->eps))
    bad = "eps (> 0)";
  else if (!(c->clip_norm >= 0) || !isfinite(c->clip_norm))
    bad = "clip_norm (>= 0)";
  if (!bad) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: bad %s%s", op, prefix, bad);
}

static clmp_status check_arenas(const clmp_tensor *master, const clmp_tensor *grads,
                                const clmp_tensor *working, const clmp_scaler *scaler) {
  const char *op = "clmp_optim_create";
  clmp_status st = clmp__check_dtype(master, CLMP_F32, op, "master");
  if (st == CLMP_SUCCESS) st = clmp__check_float(grads, op, "grads");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(master, grads, op);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(grads, master->numel, op, "grads");
  if (st == CLMP_SUCCESS && working) st = clmp__check_float(working, op, "working");
  if (st == CLMP_SUCCESS && working) st = clmp__check_same_ctx(master, working, op);
  if (st == CLMP_SUCCESS && working) st = clmp__check_numel(working, master->numel, op, "working");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(master, grads, 0, op, "master", "grads");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(working, master, 0, op, "working", "master");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(working, grads, 0, op, "working", "grads");
  if (st == CLMP_SUCCESS && scaler && scaler->ctx != master->ctx)
    st = CLMP_FAIL(CLMP_ERR_CONTEXT_MISMATCH, "%s: the scaler is on another context", op);
  return st;
}

/* A zeroed f32 moment arena of n elements. */
static clmp_status zeroed(clmp_ctx *ctx, size_t n, clmp_tensor **out) {
  clmp_status st = clmp_tensor_create(ctx, CLMP_F32, 1, &n, out);
  float *zeros = st == CLMP_SUCCESS ? calloc(n, sizeof *zeros) : NULL;
  if (st == CLMP_SUCCESS && !zeros) st = CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "moments");
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(*out, CLMP_F32, zeros, n);
  free(zeros);
  return st;
}

static clmp_status make_moments(clmp_optim *o) {
  clmp_ctx *ctx = o->master->ctx;
  size_t n = o->master->numel;
  clmp_status st = CLMP_SUCCESS;
  if (o->cfg.kind == CLMP_ADAMW || o->cfg.momentum != 0.0f) st = zeroed(ctx, n, &o->m1);
  if (st == CLMP_SUCCESS && o->cfg.kind == CLMP_ADAMW) st = zeroed(ctx, n, &o->m2);
  return st;
}

clmp_status clmp_optim_create(const clmp_optim_config *cfg, clmp_tensor *master,
                              const clmp_tensor *grads, clmp_tensor *working, clmp_scaler *scaler,
                              clmp_optim **out) {
  if (!cfg || !out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_optim_create: NULL");
  *out = NULL;
  clmp_status st = clmp__optim_config_check(cfg, "clmp_optim_create", "");
  if (st == CLMP_SUCCESS) st = check_arenas(master, grads, working, scaler);
  if (st != CLMP_SUCCESS) return st;
  clmp_optim *o = calloc(1, sizeof *o);
  if (!o) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_optim_create");
  *o = (clmp_optim){
      .cfg = *cfg, .master = master, .working = working, .grads = grads, .scaler = scaler};
  if (!scaler) {
    clmp_scaler_config off;
    clmp_scaler_config_default(&off);
    off.mode = CLMP_SCALE_OFF;
    CLMP_TRY(clmp_scaler_create(master->ctx, &off, &o->own_scaler));
    o->scaler = o->own_scaler;
  }
  CLMP_TRY(make_moments(o));
  *out = o;
  o = NULL;
cleanup:
  clmp_optim_free(o);
  return st;
}

void clmp_optim_free(clmp_optim *o) {
  if (!o) return;
  clmp_tensor_free(o->m1);
  clmp_tensor_free(o->m2);
  clmp_scaler_free(o->own_scaler);
  free(o);
}

static clmp__step_params step_params(const clmp_optim_config *c, float lr) {
  return (clmp__step_params){.optimizer = c->kind == CLMP_ADAMW ? CLMP__OPT_ADAMW : CLMP__OPT_SGD,
                             .lr = lr,
                             .weight_decay = c->weight_decay,
                             .momentum = c->momentum,
                             .dampening = c->dampening,
                             .nesterov = c->nesterov,
                             .beta1 = c->beta1,
                             .beta2 = c->beta2,
                             .eps = c->eps,
                             .clip_norm = c->clip_norm};
}

clmp_status clmp_optim_step(clmp_optim *o, float lr) {
  if (!o) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_optim_step: NULL optimizer");
  if (lr < 0) lr = o->cfg.lr;
  if (!isfinite(lr)) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_optim_step: lr %g", lr);
  const clmp__ops *ops = clmp__ops_of(o->master->ctx);
  clmp__step_params p = step_params(&o->cfg, lr);
  clmp_tensor *state = o->scaler->state;
  p.scaler = &o->scaler->params; /* the step ends with the scaler update */
  clmp_status st = ops->amp_check(o->grads, o->cfg.clip_norm > 0, state);
  if (st == CLMP_SUCCESS)
    st = ops->amp_step(&p, state, o->grads, o->master, o->m1, o->m2, o->working);
  return st;
}

clmp_tensor *clmp_optim_moment(const clmp_optim *o, int which) {
  if (!o) return NULL;
  return which == 0 ? o->m1 : which == 1 ? o->m2 : NULL;
}
