/* host/nn/layers/residual.c: a residual block, y = body(x) + shortcut(x), where body and shortcut
 * are sequences (an empty or absent shortcut is the identity), as torchvision's BasicBlock before
 * its last ReLU; the tensors of each branch are named <block>.body.* and <block>.shortcut.*. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/error.h"
#include "../layer.h"

typedef struct residual_layer {
  clmp__layer base;
  clmp__layer *body, *shortcut;
  size_t y, dx; /* activation blocks: the sum, the gradient of the input */
} residual_layer;

static clmp_status branch(clmp__layer *l, const cJSON *spec, const char *field, clmp__layer **out) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(spec, field);
  cJSON *empty = NULL;
  char prefix[CLMP__NAME_MAX + 16], where[sizeof l->where + 16];
  if (a && !cJSON_IsArray(a))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model spec: %s: field \"%s\" must be a list",
                     l->where, field);
  if (!a && !strcmp(field, "body"))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model spec: %s: no \"body\" list", l->where);
  if (!a && !(a = empty = cJSON_CreateArray()))
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", l->where);
  snprintf(prefix, sizeof prefix, "%s%s.", l->name, field);
  snprintf(where, sizeof where, "%s %s", l->where, field);
  clmp_status st =
      strlen(prefix) + 2 > CLMP__NAME_MAX
          ? CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model spec: %s: nested too deep", l->where)
          : clmp__sequential_new(a, prefix, where, out);
  cJSON_Delete(empty);
  return st;
}

static clmp_status residual_parse(clmp__layer *l, const cJSON *spec, const char *where) {
  static const char *const fields[] = {"body", "shortcut", NULL};
  residual_layer *r = (residual_layer *)l;
  clmp_status st = clmp__opt_only(spec, fields, where);
  if (st == CLMP_SUCCESS) st = branch(l, spec, "body", &r->body);
  if (st == CLMP_SUCCESS) st = branch(l, spec, "shortcut", &r->shortcut);
  return st;
}

static clmp_status residual_describe(const clmp__layer *l, cJSON *out) {
  const residual_layer *r = (const residual_layer *)l;
  clmp_status st = clmp__sequential_describe_into(r->body, out, "body");
  return st ? st : clmp__sequential_describe_into(r->shortcut, out, "shortcut");
}

static clmp_status residual_plan(clmp__layer *l, clmp__plan *p) {
  residual_layer *r = (residual_layer *)l;
  clmp_status st = clmp__plan_child(p, r->body, &l->in, l->need_dx);
  if (st == CLMP_SUCCESS) st = clmp__plan_child(p, r->shortcut, &l->in, l->need_dx);
  if (st != CLMP_SUCCESS) return st;
  const clmp__shape *a = &r->body->out, *b = &r->shortcut->out;
  if (a->ndim != b->ndim || clmp__shape_numel(a) != clmp__shape_numel(b) ||
      memcmp(a->d, b->d, (size_t)a->ndim * sizeof *a->d)) {
    char sa[64], sb[64];
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                     "model spec: %s: the body gives %s, the shortcut %s (they are added)",
                     l->where, clmp__shape_text(a, sa, sizeof sa),
                     clmp__shape_text(b, sb, sizeof sb));
  }
  l->out = *a;
  st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->out), &r->y);
  if (st == CLMP_SUCCESS && l->need_dx)
    st = clmp__plan_act(p, clmp__plan_dtype(p), clmp__shape_numel(&l->in), &r->dx);
  return st;
}

static clmp_status residual_forward(clmp__layer *l, const clmp__run *run, const clmp_tensor *x,
                                    const clmp_tensor **y) {
  residual_layer *r = (residual_layer *)l;
  const clmp_tensor *a = NULL, *b = NULL;
  clmp_tensor *sum = NULL;
  clmp_status st = r->body->kind->forward(r->body, run, x, &a);
  if (st == CLMP_SUCCESS) st = r->shortcut->kind->forward(r->shortcut, run, x, &b);
  if (st == CLMP_SUCCESS) st = clmp__act(run, r->y, &l->out, &sum);
  if (st == CLMP_SUCCESS) st = clmp_add(a, b, sum);
  *y = sum;
  return st;
}

static clmp_status residual_backward(clmp__layer *l, const clmp__run *run, const clmp_tensor *dy,
                                     const clmp_tensor **dx) {
  residual_layer *r = (residual_layer *)l;
  const clmp_tensor *da = NULL, *db = NULL;
  clmp_tensor *sum = NULL;
  clmp_status st = r->body->kind->backward(r->body, run, dy, &da);
  if (st == CLMP_SUCCESS) st = r->shortcut->kind->backward(r->shortcut, run, dy, &db);
  *dx = NULL;
  if (st != CLMP_SUCCESS || !l->need_dx) return st;
  st = clmp__act(run, r->dx, &l->in, &sum);
  if (st == CLMP_SUCCESS) st = clmp_add(da, db, sum);
  *dx = sum;
  return st;
}

static void residual_free(clmp__layer *l) {
  residual_layer *r = (residual_layer *)l;
  clmp__layer_free(r->body);
  clmp__layer_free(r->shortcut);
}

const clmp__layer_kind clmp__layer_residual = {
    "residual",    sizeof(residual_layer), residual_parse,    residual_describe,
    residual_plan, residual_forward,       residual_backward, residual_free};
