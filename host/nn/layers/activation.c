/* host/nn/layers/activation.c: element-wise activations without options, torch.nn.ReLU and
 * torch.nn.GELU (the exact, erf form): y = f(x) in a block of their own, dx = dy f'(x). */
#include <stdio.h>
#include "../../runtime/error.h"
#include "../layer.h"

typedef struct act_layer {
  clmp__layer base;
  size_t y, dx;
  const clmp_tensor *x;
} act_layer;

static clmp_status act_parse(clmp__layer *l, const cJSON *spec, const char *where) {
  static const char *const fields[] = {NULL};
  (void)l;
  return clmp__opt_only(spec, fields, where);
}

static clmp_status act_plan(clmp__layer *l, clmp__plan *p) {
  act_layer *a = (act_layer *)l;
  l->out = l->in;
  clmp_status st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->in), &a->y);
  if (st == CLMP_SUCCESS && l->need_dx)
    st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->in), &a->dx);
  return st;
}

static int is_gelu(const clmp__layer *l) {
  return l->kind == &clmp__layer_gelu;
}

static clmp_status act_forward(clmp__layer *l, const clmp__run *r, const clmp_tensor *x,
                               const clmp_tensor **y) {
  act_layer *a = (act_layer *)l;
  clmp_tensor *out = NULL;
  a->x = x;
  clmp_status st = clmp__act(r, a->y, &l->out, &out);
  if (st == CLMP_SUCCESS) st = is_gelu(l) ? clmp_gelu(x, out) : clmp_relu(x, out);
  *y = out;
  return st;
}

static clmp_status act_backward(clmp__layer *l, const clmp__run *r, const clmp_tensor *dy,
                                const clmp_tensor **dx) {
  act_layer *a = (act_layer *)l;
  clmp_tensor *d = NULL;
  *dx = NULL;
  if (!l->need_dx) return CLMP_SUCCESS;
  clmp_status st = clmp__act(r, a->dx, &l->in, &d);
  if (st == CLMP_SUCCESS)
    st = is_gelu(l) ? clmp_gelu_backward(a->x, dy, d) : clmp_relu_backward(a->x, dy, d);
  *dx = d;
  return st;
}

const clmp__layer_kind clmp__layer_relu = {"relu",   sizeof(act_layer), act_parse,    NULL,
                                           act_plan, act_forward,       act_backward, NULL};
const clmp__layer_kind clmp__layer_gelu = {"gelu",   sizeof(act_layer), act_parse,    NULL,
                                           act_plan, act_forward,       act_backward, NULL};
