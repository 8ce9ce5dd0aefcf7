/* host/nn/layers/flatten.c: torch.nn.Flatten: [C, H, W] per example seen as [C*H*W]. No data
 * moves: the output is a view of the input, the gradient a view of the output's gradient. */
#include <stdio.h>
#include "../../runtime/error.h"
#include "../layer.h"

typedef struct flatten_layer {
  clmp__layer base;
  clmp_tensor *y, *dx; /* the cached views */
} flatten_layer;

static clmp_status flatten_parse(clmp__layer *l, const cJSON *spec, const char *where) {
  static const char *const fields[] = {NULL};
  (void)l;
  return clmp__opt_only(spec, fields, where);
}

static clmp_status flatten_plan(clmp__layer *l, clmp__plan *p) {
  (void)p;
  l->out = (clmp__shape){1, {clmp__shape_numel(&l->in), 0, 0}};
  return CLMP_SUCCESS;
}

static clmp_status flatten_forward(clmp__layer *l, const clmp__run *r, const clmp_tensor *x,
                                   const clmp_tensor **y) {
  flatten_layer *f = (flatten_layer *)l;
  clmp_status st = clmp__reshape(x, r->batch, &l->out, &f->y);
  *y = f->y;
  return st;
}

static clmp_status flatten_backward(clmp__layer *l, const clmp__run *r, const clmp_tensor *dy,
                                    const clmp_tensor **dx) {
  flatten_layer *f = (flatten_layer *)l;
  *dx = NULL;
  if (!l->need_dx) return CLMP_SUCCESS;
  clmp_status st = clmp__reshape(dy, r->batch, &l->in, &f->dx);
  *dx = f->dx;
  return st;
}

static void flatten_free(clmp__layer *l) {
  flatten_layer *f = (flatten_layer *)l;
  clmp_tensor_free(f->y), clmp_tensor_free(f->dx);
}

const clmp__layer_kind clmp__layer_flatten = {
    "flatten",    sizeof(flatten_layer), flatten_parse,    NULL,
    flatten_plan, flatten_forward,       flatten_backward, flatten_free};
