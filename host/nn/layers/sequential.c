/* host/nn/layers/sequential.c: a sequence of layers, as torch.nn.Sequential: each child's output
 * is the next one's input; its children's tensors are named by index or by their "name". The
 * model itself is one, and so is each branch of a residual block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/error.h"
#include "../layer.h"

typedef struct seq_layer {
  clmp__layer base;
  size_t n;
  clmp__layer **child;
} seq_layer;

static clmp_status add_children(seq_layer *s, const cJSON *array) {
  size_t n = (size_t)cJSON_GetArraySize(array);
  s->child = calloc(n ? n : 1, sizeof *s->child);
  if (!s->child) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", s->base.where);
  clmp_status st = CLMP_SUCCESS;
  const cJSON *c = array->child;
  for (size_t i = 0; st == CLMP_SUCCESS && c; i++, c = c->next) {
    st = clmp__layer_parse(c, s->base.name, i, &s->child[i]);
    if (st == CLMP_SUCCESS) s->n = i + 1;
  }
  return st;
}

static clmp_status seq_parse(clmp__layer *l, const cJSON *spec, const char *where) {
  static const char *const fields[] = {"layers", NULL};
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive(spec, "layers");
  clmp_status st = clmp__opt_only(spec, fields, where);
  if (st != CLMP_SUCCESS) return st;
  if (!cJSON_IsArray(layers))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model spec: %s: field \"layers\" must be a list",
                     where);
  return add_children((seq_layer *)l, layers);
}

clmp_status clmp__sequential_new(const cJSON *array, const char *prefix, const char *where,
                                 clmp__layer **out) {
  seq_layer *s = calloc(1, sizeof *s);
  *out = NULL;
  if (!s) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", where);
  s->base.kind = &clmp__layer_sequential;
  snprintf(s->base.name, sizeof s->base.name, "%s", prefix);
  snprintf(s->base.where, sizeof s->base.where, "%s", where);
  clmp_status st = add_children(s, array);
  if (st != CLMP_SUCCESS) clmp__layer_free(&s->base), s = NULL;
  *out = s ? &s->base : NULL;
  return st;
}

clmp_status clmp__sequential_describe_into(const clmp__layer *l, cJSON *out, const char *field) {
  const seq_layer *s = (const seq_layer *)l;
  cJSON *a = cJSON_AddArrayToObject(out, field);
  if (!a) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", l->where);
  clmp_status st = CLMP_SUCCESS;
  for (size_t i = 0; st == CLMP_SUCCESS && i < s->n; i++) {
    cJSON *c = NULL;
    st = clmp__layer_describe(s->child[i], &c);
    if (c) cJSON_AddItemToArray(a, c);
  }
  return st;
}

static clmp_status seq_describe(const clmp__layer *l, cJSON *out) {
  return clmp__sequential_describe_into(l, out, "layers");
}

/* Child i needs the gradient of its input unless it is the first of a sequence that needs none. */
static clmp_status seq_plan(clmp__layer *l, clmp__plan *p) {
  seq_layer *s = (seq_layer *)l;
  clmp__shape cur = l->in;
  clmp_status st = CLMP_SUCCESS;
  for (size_t i = 0; st == CLMP_SUCCESS && i < s->n; i++) {
    st = clmp__plan_child(p, s->child[i], &cur, i > 0 || l->need_dx);
    cur = s->child[i]->out;
  }
  l->out = cur;
  return st;
}

static clmp_status seq_forward(clmp__layer *l, const clmp__run *r, const clmp_tensor *x,
                               const clmp_tensor **y) {
  seq_layer *s = (seq_layer *)l;
  clmp_status st = CLMP_SUCCESS;
  for (size_t i = 0; st == CLMP_SUCCESS && i < s->n; i++)
    st = s->child[i]->kind->forward(s->child[i], r, x, &x);
  *y = x;
  return st;
}

static clmp_status seq_backward(clmp__layer *l, const clmp__run *r, const clmp_tensor *dy,
                                const clmp_tensor **dx) {
  seq_layer *s = (seq_layer *)l;
  clmp_status st = CLMP_SUCCESS;
  for (size_t i = s->n; st == CLMP_SUCCESS && i > 0; i--)
    st = s->child[i - 1]->kind->backward(s->child[i - 1], r, dy, &dy);
  *dx = l->need_dx ? dy : NULL;
  return st;
}

static void seq_free(clmp__layer *l) {
  seq_layer *s = (seq_layer *)l;
  for (size_t i = 0; i < s->n; i++) clmp__layer_free(s->child[i]);
  free(s->child);
}

const clmp__layer_kind clmp__layer_sequential = {"sequential", sizeof(seq_layer), seq_parse,
                                                 seq_describe, seq_plan,          seq_forward,
                                                 seq_backward, seq_free};
