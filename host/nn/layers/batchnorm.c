/* host/nn/layers/batchnorm.c: torch.nn.BatchNorm2d on [C, H, W] (BatchNorm1d on [C] or [C, L]):
 * batch statistics in training, running statistics (momentum as PyTorch) in evaluation; weight
 * and bias are read in fp32 from the master arena, as PyTorch's autocast keeps batch norm in
 * fp32; running_mean, running_var and num_batches_tracked are saved, never trained. */
#include <stdio.h>
#include "../../runtime/error.h"
#include "../layer.h"

#define EPS_DEFAULT      1e-5
#define MOMENTUM_DEFAULT 0.1

typedef struct bn_layer {
  clmp__layer base;
  double eps, momentum;
  size_t gamma, beta, mean, var, count; /* registry entries */
  size_t save_mean, save_invstd, y, dx; /* blocks */
  const clmp_tensor *x;
} bn_layer;

static clmp_status bn_parse(clmp__layer *l, const cJSON *spec, const char *where) {
  static const char *const fields[] = {"eps", "momentum", NULL};
  bn_layer *b = (bn_layer *)l;
  b->eps = EPS_DEFAULT, b->momentum = MOMENTUM_DEFAULT;
  clmp_status st = clmp__opt_only(spec, fields, where);
  if (!st) st = clmp__opt_number(spec, "eps", 1e-12, 1.0, where, &b->eps);
  if (!st) st = clmp__opt_number(spec, "momentum", 0.0, 1.0, where, &b->momentum);
  return st;
}

static clmp_status bn_describe(const clmp__layer *l, cJSON *out) {
  const bn_layer *b = (const bn_layer *)l;
  if (!cJSON_AddNumberToObject(out, "eps", b->eps) ||
      !cJSON_AddNumberToObject(out, "momentum", b->momentum))
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", l->where);
  return CLMP_SUCCESS;
}

static clmp_status bn_plan(clmp__layer *l, clmp__plan *p) {
  bn_layer *b = (bn_layer *)l;
  size_t c = l->in.d[0];
  l->out = l->in;
  clmp_status st = clmp__plan_param(p, l, "weight", 1, &c, CLMP__INIT_CONST, 1.0f, 0, &b->gamma);
  if (!st) st = clmp__plan_param(p, l, "bias", 1, &c, CLMP__INIT_CONST, 0.0f, 0, &b->beta);
  if (!st) st = clmp__plan_buffer(p, l, "running_mean", 1, &c, 0.0f, &b->mean);
  if (!st) st = clmp__plan_buffer(p, l, "running_var", 1, &c, 1.0f, &b->var);
  if (!st) st = clmp__plan_counter(p, l, "num_batches_tracked", &b->count);
  if (!st) st = clmp__plan_state(p, CLMP_F32, c, &b->save_mean);
  if (!st) st = clmp__plan_state(p, CLMP_F32, c, &b->save_invstd);
  if (!st) st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->in), &b->y);
  /* The op gives dx with the parameters' gradients, so a first layer gets a block too. */
  if (!st) st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->in), &b->dx);
  return st;
}

static clmp_status bn_forward(clmp__layer *l, const clmp__run *r, const clmp_tensor *x,
                              const clmp_tensor **y) {
  bn_layer *b = (bn_layer *)l;
  clmp_model *m = r->model;
  clmp_tensor *out = NULL;
  b->x = x;
  clmp_status st = clmp__act(r, b->y, &l->out, &out);
  const clmp_tensor *g = clmp__param_master(m, b->gamma), *be = clmp__param_master(m, b->beta);
  if (!st && r->train) {
    st = clmp_batch_norm_train(x, g, be, (float)b->momentum, (float)b->eps,
                               clmp__buffer(m, b->mean), clmp__buffer(m, b->var),
                               clmp__state(m, b->save_mean), clmp__state(m, b->save_invstd), out);
    if (!st) (*clmp__counter(m, b->count))++;
  } else if (!st) {
    st = clmp_batch_norm_eval(x, g, be, clmp__buffer(m, b->mean), clmp__buffer(m, b->var),
                              (float)b->eps, out);
  }
  *y = out;
  return st;
}

static clmp_status bn_backward(clmp__layer *l, const clmp__run *r, const clmp_tensor *dy,
                               const clmp_tensor **dx) {
  bn_layer *b = (bn_layer *)l;
  clmp_model *m = r->model;
  clmp_tensor *d = NULL;
  clmp_status st = clmp__act(r, b->dx, &l->in, &d);
  if (!st)
    st = clmp_batch_norm_backward(b->x, dy, clmp__param_master(m, b->gamma),
                                  clmp__state(m, b->save_mean), clmp__state(m, b->save_invstd),
                                  r->beta, clmp__param_grad(m, b->gamma),
                                  clmp__param_grad(m, b->beta), d);
  *dx = l->need_dx ? d : NULL;
  return st;
}

const clmp__layer_kind clmp__layer_batchnorm = {
    "batchnorm", sizeof(bn_layer), bn_parse, bn_describe, bn_plan, bn_forward, bn_backward, NULL};
