/* host/nn/layers/dropout.c: torch.nn.Dropout: in training, each element kept with probability
 * 1 - p and scaled by 1 / (1 - p), from a counter-based mask of (model seed, layer, forward
 * counter, element) that the backward recomputes; in evaluation the identity. */
#include <stdio.h>
#include "../../runtime/error.h"
#include "../../runtime/util.h"
#include "../layer.h"

#define P_DEFAULT  0.5
#define P_MAX      0.999
#define LAYER_SALT 0x9e3779b97f4a7c15ull
#define RUN_SALT   0xd1b54a32d192ed03ull

typedef struct dropout_layer {
  clmp__layer base;
  double p;
  size_t y, dx;
  uint64_t seed; /* of the last training forward */
} dropout_layer;

static clmp_status dropout_parse(clmp__layer *l, const cJSON *spec, const char *where) {
  static const char *const fields[] = {"p", NULL};
  dropout_layer *d = (dropout_layer *)l;
  d->p = P_DEFAULT;
  clmp_status st = clmp__opt_only(spec, fields, where);
  return st ? st : clmp__opt_number(spec, "p", 0.0, P_MAX, where, &d->p);
}

static clmp_status dropout_describe(const clmp__layer *l, cJSON *out) {
  if (!cJSON_AddNumberToObject(out, "p", ((const dropout_layer *)l)->p))
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", l->where);
  return CLMP_SUCCESS;
}

static clmp_status dropout_plan(clmp__layer *l, clmp__plan *p) {
  dropout_layer *d = (dropout_layer *)l;
  l->out = l->in;
  clmp_status st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->in), &d->y);
  if (st == CLMP_SUCCESS && l->need_dx)
    st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->in), &d->dx);
  return st;
}

static clmp_status dropout_forward(clmp__layer *l, const clmp__run *r, const clmp_tensor *x,
                                   const clmp_tensor **y) {
  dropout_layer *d = (dropout_layer *)l;
  clmp_tensor *out = NULL;
  *y = x;
  if (!r->train) return CLMP_SUCCESS;
  uint64_t s =
      clmp__model_seed(r->model) ^ (LAYER_SALT * (uint64_t)(l->id + 1)) ^ (RUN_SALT * (r->rng + 1));
  d->seed = clmp__splitmix64(&s);
  clmp_status st = clmp__act(r, d->y, &l->out, &out);
  if (st == CLMP_SUCCESS) st = clmp_dropout(x, (float)d->p, d->seed, out);
  *y = out;
  return st;
}

static clmp_status dropout_backward(clmp__layer *l, const clmp__run *r, const clmp_tensor *dy,
                                    const clmp_tensor **dx) {
  dropout_layer *d = (dropout_layer *)l;
  clmp_tensor *out = NULL;
  *dx = NULL;
  if (!l->need_dx) return CLMP_SUCCESS;
  clmp_status st = clmp__act(r, d->dx, &l->in, &out);
  if (st == CLMP_SUCCESS) st = clmp_dropout_backward(dy, (float)d->p, d->seed, out);
  *dx = out;
  return st;
}

const clmp__layer_kind clmp__layer_dropout = {
    "dropout",    sizeof(dropout_layer), dropout_parse,    dropout_describe,
    dropout_plan, dropout_forward,       dropout_backward, NULL};
