/* host/nn/layers/conv2d.c: torch.nn.Conv2d on NCHW: weight [out, in / groups, kh, kw] and bias
 * [out], through the convolution ops (im2col into the GEMM on devices, so tensor cores serve it
 * where the GEMM has them) and the per-channel bias. */
#include <stdio.h>
#include "../../runtime/error.h"
#include "../layer.h"

#define CHANNELS_MAX ((size_t)1 << 16)
#define GEOMETRY_MAX ((size_t)1 << 10) /* kernel, stride, padding, dilation */
/* The workspace a convolution gets: the whole batch at once up to this many bytes, else chunks
 * of images (never less than one image's share). */
#define WS_BUDGET ((size_t)256 << 20)

typedef struct conv_layer {
  clmp__layer base;
  size_t out, kernel[2];
  clmp_conv2d_params p;
  int bias;
  size_t w, b, y, dx;
  const clmp_tensor *x;
} conv_layer;

static clmp_status conv_parse(clmp__layer *l, const cJSON *spec, const char *where) {
  static const char *const fields[] = {"out",      "kernel", "stride", "padding",
                                       "dilation", "groups", "bias",   NULL};
  conv_layer *c = (conv_layer *)l;
  clmp_conv2d_params_default(&c->p);
  c->bias = 1;
  clmp_status st = clmp__opt_only(spec, fields, where);
  if (!st) st = clmp__opt_size(spec, "out", 1, CHANNELS_MAX, where, &c->out);
  if (!st) st = clmp__opt_pair(spec, "kernel", 1, GEOMETRY_MAX, where, c->kernel);
  if (!st) st = clmp__opt_pair(spec, "stride", 1, GEOMETRY_MAX, where, c->p.stride);
  if (!st) st = clmp__opt_pair(spec, "padding", 0, GEOMETRY_MAX, where, c->p.padding);
  if (!st) st = clmp__opt_pair(spec, "dilation", 1, GEOMETRY_MAX, where, c->p.dilation);
  if (!st) st = clmp__opt_size(spec, "groups", 1, CHANNELS_MAX, where, &c->p.groups);
  if (!st) st = clmp__opt_bool(spec, "bias", where, &c->bias);
  if (!st && (!c->out || !c->kernel[0]))
    st = CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                   "model spec: %s: fields \"out\" and \"kernel\" are "
                   "required",
                   where);
  return st;
}

static clmp_status conv_describe(const clmp__layer *l, cJSON *out) {
  const conv_layer *c = (const conv_layer *)l;
  clmp_status st = cJSON_AddNumberToObject(out, "out", (double)c->out)
                       ? CLMP_SUCCESS
                       : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", l->where);
  if (!st) st = clmp__describe_pair(out, "kernel", c->kernel);
  if (!st) st = clmp__describe_pair(out, "stride", c->p.stride);
  if (!st) st = clmp__describe_pair(out, "padding", c->p.padding);
  if (!st) st = clmp__describe_pair(out, "dilation", c->p.dilation);
  if (!st && (!cJSON_AddNumberToObject(out, "groups", (double)c->p.groups) ||
              !cJSON_AddBoolToObject(out, "bias", c->bias)))
    st = CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", l->where);
  return st;
}

/* The workspace: the whole batch's share when it fits the budget, else the budget, and never
 * less than one image's. */
static clmp_status conv_workspace(clmp__plan *p, const size_t *x, const size_t *w,
                                  const clmp_conv2d_params *cp) {
  const clmp_ctx *ctx = clmp__plan_ctx(p);
  size_t whole = 0, one = 0, x1[4] = {1, x[1], x[2], x[3]};
  if (!ctx) return CLMP_SUCCESS;
  clmp_status st = clmp_conv2d_workspace_size(ctx, x, w, cp, &whole);
  if (st == CLMP_SUCCESS) st = clmp_conv2d_workspace_size(ctx, x1, w, cp, &one);
  if (st != CLMP_SUCCESS) return st;
  size_t bytes = whole < WS_BUDGET ? whole : WS_BUDGET;
  return clmp__plan_workspace(p, bytes > one ? bytes : one);
}

static clmp_status conv_plan(clmp__layer *l, clmp__plan *p) {
  conv_layer *c = (conv_layer *)l;
  char s[64];
  if (l->in.ndim != 3)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "model spec: %s: input %s is not [C, H, W]", l->where,
                     clmp__shape_text(&l->in, s, sizeof s));
  size_t x[4] = {clmp__plan_batch(p), l->in.d[0], l->in.d[1], l->in.d[2]}, y[4];
  size_t w[4] = {c->out, l->in.d[0] / c->p.groups, c->kernel[0], c->kernel[1]};
  if (l->in.d[0] % c->p.groups || c->out % c->p.groups)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                     "model spec: %s: groups %zu must divide the %zu input and %zu output channels",
                     l->where, c->p.groups, l->in.d[0], c->out);
  clmp_status st = clmp_conv2d_output_shape(x, w, &c->p, y);
  if (st != CLMP_SUCCESS) return clmp__plan_refused(l, st);
  l->out = (clmp__shape){3, {y[1], y[2], y[3]}};
  size_t fan_in = w[1] * w[2] * w[3];
  st = clmp__plan_param(p, l, "weight", 4, w, CLMP__INIT_UNIFORM, 0.0f, fan_in, &c->w);
  if (!st && c->bias)
    st = clmp__plan_param(p, l, "bias", 1, &c->out, CLMP__INIT_UNIFORM, 0.0f, fan_in, &c->b);
  if (!st) st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->out), &c->y);
  if (!st && l->need_dx)
    st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->in), &c->dx);
  return st ? st : conv_workspace(p, x, w, &c->p);
}

static clmp_status conv_forward(clmp__layer *l, const clmp__run *r, const clmp_tensor *x,
                                const clmp_tensor **y) {
  conv_layer *c = (conv_layer *)l;
  clmp_tensor *out = NULL;
  c->x = x;
  clmp_status st = clmp__act(r, c->y, &l->out, &out);
  if (!st) st = clmp_conv2d(x, clmp__param_working(r->model, c->w), &c->p, r->ws, out);
  if (!st && c->bias) st = clmp_bias_add(out, clmp__param_working(r->model, c->b));
  *y = out;
  return st;
}

static clmp_status conv_backward(clmp__layer *l, const clmp__run *r, const clmp_tensor *dy,
                                 const clmp_tensor **dx) {
  conv_layer *c = (conv_layer *)l;
  clmp_tensor *d = NULL;
  clmp_status st = clmp_conv2d_backward_filter(c->x, dy, &c->p, r->beta, r->ws,
                                               clmp__param_grad(r->model, c->w));
  if (!st && c->bias) st = clmp_bias_grad(dy, r->beta, clmp__param_grad(r->model, c->b));
  if (!st && l->need_dx) st = clmp__act(r, c->dx, &l->in, &d);
  if (!st && d)
    st = clmp_conv2d_backward_data(dy, clmp__param_working(r->model, c->w), &c->p, r->ws, d);
  *dx = d;
  return st;
}

const clmp__layer_kind clmp__layer_conv2d = {
    "conv2d",  sizeof(conv_layer), conv_parse,    conv_describe,
    conv_plan, conv_forward,       conv_backward, NULL};
