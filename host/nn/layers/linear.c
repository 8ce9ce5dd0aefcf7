/* host/nn/layers/linear.c: torch.nn.Linear on a flat input: y = x W^T + b, W [out, in] and b
 * [out] named weight and bias; the backward gives dW = dy^T x, db = the column sums of dy and
 * dx = dy W. */
#include <stdio.h>
#include "../../runtime/error.h"
#include "../layer.h"

#define OUT_MAX ((size_t)1 << 24)

typedef struct linear_layer {
  clmp__layer base;
  size_t out;
  int bias;
  size_t w, b, y, dx; /* parameters and activation blocks */
  const clmp_tensor *x;
} linear_layer;

static clmp_status linear_parse(clmp__layer *l, const cJSON *spec, const char *where) {
  static const char *const fields[] = {"out", "bias", NULL};
  linear_layer *k = (linear_layer *)l;
  k->bias = 1;
  clmp_status st = clmp__opt_only(spec, fields, where);
  if (st == CLMP_SUCCESS) st = clmp__opt_size(spec, "out", 1, OUT_MAX, where, &k->out);
  if (st == CLMP_SUCCESS) st = clmp__opt_bool(spec, "bias", where, &k->bias);
  if (st == CLMP_SUCCESS && !k->out)
    st = CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model spec: %s: no field \"out\"", where);
  return st;
}

static clmp_status linear_describe(const clmp__layer *l, cJSON *out) {
  const linear_layer *k = (const linear_layer *)l;
  if (!cJSON_AddNumberToObject(out, "out", (double)k->out) ||
      !cJSON_AddBoolToObject(out, "bias", k->bias))
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", l->where);
  return CLMP_SUCCESS;
}

static clmp_status linear_plan(clmp__layer *l, clmp__plan *p) {
  linear_layer *k = (linear_layer *)l;
  if (l->in.ndim != 1) {
    char s[64];
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                     "model spec: %s: input %s is not flat (add a flatten layer before it)",
                     l->where, clmp__shape_text(&l->in, s, sizeof s));
  }
  size_t in = l->in.d[0], wshape[2] = {k->out, in};
  l->out = (clmp__shape){1, {k->out, 0, 0}};
  clmp_status st = clmp__plan_param(p, l, "weight", 2, wshape, CLMP__INIT_UNIFORM, 0.0f, in, &k->w);
  if (st == CLMP_SUCCESS && k->bias)
    st = clmp__plan_param(p, l, "bias", 1, &k->out, CLMP__INIT_UNIFORM, 0.0f, in, &k->b);
  if (st == CLMP_SUCCESS) st = clmp__plan_act(p, clmp__plan_dtype(p), k->out, &k->y);
  if (st == CLMP_SUCCESS && l->need_dx) st = clmp__plan_act(p, clmp__plan_dtype(p), in, &k->dx);
  return st;
}

static clmp_status linear_forward(clmp__layer *l, const clmp__run *r, const clmp_tensor *x,
                                  const clmp_tensor **y) {
  linear_layer *k = (linear_layer *)l;
  clmp_tensor *out = NULL;
  k->x = x;
  clmp_status st = clmp__act(r, k->y, &l->out, &out);
  if (st == CLMP_SUCCESS)
    st = clmp_gemm(CLMP_NO_TRANS, CLMP_TRANS, 1.0f, x, clmp__param_working(r->model, k->w), 0.0f,
                   out);
  if (st == CLMP_SUCCESS && k->bias) st = clmp_bias_add(out, clmp__param_working(r->model, k->b));
  *y = out;
  return st;
}

static clmp_status linear_backward(clmp__layer *l, const clmp__run *r, const clmp_tensor *dy,
                                   const clmp_tensor **dx) {
  linear_layer *k = (linear_layer *)l;
  clmp_tensor *d = NULL;
  clmp_status st = clmp_gemm(CLMP_TRANS, CLMP_NO_TRANS, 1.0f, dy, k->x, r->beta,
                             clmp__param_grad(r->model, k->w));
  if (st == CLMP_SUCCESS && k->bias)
    st = clmp_bias_grad(dy, r->beta, clmp__param_grad(r->model, k->b));
  if (st == CLMP_SUCCESS && l->need_dx) st = clmp__act(r, k->dx, &l->in, &d);
  if (st == CLMP_SUCCESS && d)
    st = clmp_gemm(CLMP_NO_TRANS, CLMP_NO_TRANS, 1.0f, dy, clmp__param_working(r->model, k->w),
                   0.0f, d);
  *dx = d;
  return st;
}

const clmp__layer_kind clmp__layer_linear = {
    "linear",    sizeof(linear_layer), linear_parse,    linear_describe,
    linear_plan, linear_forward,       linear_backward, NULL};
