/* host/nn/layers/pool.c: the pooling layers on [C, H, W]: torch.nn.MaxPool2d (the positions of
 * the maxima kept for the backward), torch.nn.AvgPool2d (padding counted as zeros) and
 * torch.nn.AdaptiveAvgPool2d(1) as "globalavgpool" ([C, 1, 1]). */
#include <stdio.h>
#include <string.h>

#include "../../runtime/error.h"
#include "../layer.h"

#define GEOMETRY_MAX ((size_t)1 << 10)

typedef struct pool_layer {
  clmp__layer base;
  clmp_pool2d_params p;
  size_t y, dx, idx;
} pool_layer;

static int is_global(const clmp__layer *l) {
  return l->kind == &clmp__layer_globalavgpool;
}

static int is_max(const clmp__layer *l) {
  return l->kind == &clmp__layer_maxpool2d;
}

static clmp_status pool_parse(clmp__layer *l, const cJSON *spec, const char *where) {
  static const char *const fields[] = {"kernel", "stride", "padding", NULL};
  static const char *const none[] = {NULL};
  pool_layer *k = (pool_layer *)l;
  clmp_status st = clmp__opt_only(spec, is_global(l) ? none : fields, where);
  if (!st) st = clmp__opt_pair(spec, "kernel", 1, GEOMETRY_MAX, where, k->p.kernel);
  memcpy(k->p.stride, k->p.kernel, sizeof k->p.stride); /* PyTorch: stride defaults to kernel */
  if (!st) st = clmp__opt_pair(spec, "stride", 1, GEOMETRY_MAX, where, k->p.stride);
  if (!st) st = clmp__opt_pair(spec, "padding", 0, GEOMETRY_MAX, where, k->p.padding);
  if (!st && !is_global(l) && !k->p.kernel[0])
    st = CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model spec: %s: no field \"kernel\"", where);
  return st;
}

static clmp_status pool_describe(const clmp__layer *l, cJSON *out) {
  const pool_layer *k = (const pool_layer *)l;
  if (is_global(l)) return CLMP_SUCCESS;
  clmp_status st = clmp__describe_pair(out, "kernel", k->p.kernel);
  if (!st) st = clmp__describe_pair(out, "stride", k->p.stride);
  if (!st) st = clmp__describe_pair(out, "padding", k->p.padding);
  return st;
}

static clmp_status pool_plan(clmp__layer *l, clmp__plan *p) {
  pool_layer *k = (pool_layer *)l;
  char s[64];
  if (l->in.ndim != 3)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "model spec: %s: input %s is not [C, H, W]", l->where,
                     clmp__shape_text(&l->in, s, sizeof s));
  if (is_global(l)) {
    l->out = (clmp__shape){3, {l->in.d[0], 1, 1}};
  } else {
    size_t x[4] = {1, l->in.d[0], l->in.d[1], l->in.d[2]}, y[4];
    clmp_status st = clmp_pool2d_output_shape(x, &k->p, y);
    if (st != CLMP_SUCCESS) return clmp__plan_refused(l, st);
    l->out = (clmp__shape){3, {y[1], y[2], y[3]}};
  }
  size_t n = clmp__shape_numel(&l->out);
  clmp_status st = clmp__plan_act(p, clmp__plan_dtype(p), n, &k->y);
  if (!st && is_max(l)) st = clmp__plan_act(p, CLMP_I32, n, &k->idx);
  if (!st && l->need_dx)
    st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->in), &k->dx);
  return st;
}

static clmp_status pool_forward(clmp__layer *l, const clmp__run *r, const clmp_tensor *x,
                                const clmp_tensor **y) {
  pool_layer *k = (pool_layer *)l;
  clmp_tensor *out = NULL, *idx = NULL;
  clmp_status st = clmp__act(r, k->y, &l->out, &out);
  if (!st && is_max(l) && r->train) st = clmp__act(r, k->idx, &l->out, &idx);
  if (!st && is_max(l)) st = clmp_max_pool2d(x, &k->p, out, idx);
  if (!st && is_global(l)) st = clmp_global_avg_pool(x, out);
  if (!st && !is_max(l) && !is_global(l)) st = clmp_avg_pool2d(x, &k->p, out);
  *y = out;
  return st;
}

static clmp_status pool_backward(clmp__layer *l, const clmp__run *r, const clmp_tensor *dy,
                                 const clmp_tensor **dx) {
  pool_layer *k = (pool_layer *)l;
  clmp_tensor *d = NULL, *idx = NULL;
  *dx = NULL;
  if (!l->need_dx) return CLMP_SUCCESS;
  clmp_status st = clmp__act(r, k->dx, &l->in, &d);
  if (!st && is_max(l)) st = clmp__act(r, k->idx, &l->out, &idx);
  if (!st && is_max(l)) st = clmp_max_pool2d_backward(dy, idx, &k->p, d);
  if (!st && is_global(l)) st = clmp_global_avg_pool_backward(dy, d);
  if (!st && !is_max(l) && !is_global(l)) st = clmp_avg_pool2d_backward(dy, &k->p, d);
  *dx = d;
  return st;
}

const clmp__layer_kind clmp__layer_maxpool2d = {
    "maxpool2d", sizeof(pool_layer), pool_parse,    pool_describe,
    pool_plan,   pool_forward,       pool_backward, NULL};
const clmp__layer_kind clmp__layer_avgpool2d = {
    "avgpool2d", sizeof(pool_layer), pool_parse,    pool_describe,
    pool_plan,   pool_forward,       pool_backward, NULL};
const clmp__layer_kind clmp__layer_globalavgpool = {
    "globalavgpool", sizeof(pool_layer), pool_parse,    pool_describe,
    pool_plan,       pool_forward,       pool_backward, NULL};
