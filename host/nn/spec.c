/* host/nn/spec.c: the model spec: presets, JSON (cJSON) into a tree of layers through the builder
 * table (one entry per layer kind), the option readers every kind uses, and the canonical JSON
 * that checkpoints store. Adding a layer kind means its file in layers/ and one row in KINDS. */
#include <stdio.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "model_impl.h"

/* Input dimensions are at most this large (2^24), as are a layer's sizes unless it says less. */
#define DIM_MAX ((size_t)1 << 24)

static const clmp__layer_kind *const KINDS[] = {
    &clmp__layer_linear,    &clmp__layer_relu,       &clmp__layer_gelu,
    &clmp__layer_flatten,   &clmp__layer_conv2d,     &clmp__layer_batchnorm,
    &clmp__layer_maxpool2d, &clmp__layer_avgpool2d,  &clmp__layer_globalavgpool,
    &clmp__layer_dropout,   &clmp__layer_sequential, &clmp__layer_residual};
#define N_KINDS (sizeof KINDS / sizeof *KINDS)

/* The presets, as specs (clmp/nn.h describes them). */
// clang-format off
static const struct {
  const char *name, *json;
} PRESETS[] = {
    {"mlp",
     "{\"input\": [784], \"layers\": ["
     "{\"type\": \"linear\", \"out\": 512}, {\"type\": \"relu\"},"
     "{\"type\": \"linear\", \"out\": 256}, {\"type\": \"relu\"},"
     "{\"type\": \"linear\", \"out\": 10}]}"},
    {"cnn",
     "{\"layers\": ["
     "{\"type\": \"conv2d\", \"out\": 32, \"kernel\": 3, \"padding\": 1},"
     "{\"type\": \"batchnorm\"}, {\"type\": \"relu\"}, {\"type\": \"maxpool2d\", \"kernel\": 2},"
     "{\"type\": \"conv2d\", \"out\": 64, \"kernel\": 3, \"padding\": 1},"
     "{\"type\": \"batchnorm\"}, {\"type\": \"relu\"}, {\"type\": \"maxpool2d\", \"kernel\": 2},"
     "{\"type\": \"flatten\"},"
     "{\"type\": \"linear\", \"out\": 128}, {\"type\": \"relu\"},"
     "{\"type\": \"linear\", \"out\": 10}]}"},
    {"resnet8",
     "{\"layers\": ["
     "{\"type\": \"conv2d\", \"out\": 16, \"kernel\": 3, \"padding\": 1, \"bias\": false},"
     "{\"type\": \"batchnorm\"}, {\"type\": \"relu\"},"
     "{\"type\": \"residual\", \"body\": ["
     " {\"type\": \"conv2d\", \"name\": \"conv1\", \"out\": 16, \"kernel\": 3, \"padding\": 1, \"bias\": false},"
     " {\"type\": \"batchnorm\", \"name\": \"bn1\"}, {\"type\": \"relu\"},"
     " {\"type\": \"conv2d\", \"name\": \"conv2\", \"out\": 16, \"kernel\": 3, \"padding\": 1, \"bias\": false},"
     " {\"type\": \"batchnorm\", \"name\": \"bn2\"}]},"
     "{\"type\": \"relu\"},"
     "{\"type\": \"residual\", \"body\": ["
     " {\"type\": \"conv2d\", \"name\": \"conv1\", \"out\": 32, \"kernel\": 3, \"stride\": 2, \"padding\": 1, \"bias\": false},"
     " {\"type\": \"batchnorm\", \"name\": \"bn1\"}, {\"type\": \"relu\"},"
     " {\"type\": \"conv2d\", \"name\": \"conv2\", \"out\": 32, \"kernel\": 3, \"padding\": 1, \"bias\": false},"
     " {\"type\": \"batchnorm\", \"name\": \"bn2\"}],"
     " \"shortcut\": [{\"type\": \"conv2d\", \"out\": 32, \"kernel\": 1, \"stride\": 2, \"bias\": false},"
     "  {\"type\": \"batchnorm\"}]},"
     "{\"type\": \"relu\"},"
     "{\"type\": \"residual\", \"body\": ["
     " {\"type\": \"conv2d\", \"name\": \"conv1\", \"out\": 64, \"kernel\": 3, \"stride\": 2, \"padding\": 1, \"bias\": false},"
     " {\"type\": \"batchnorm\", \"name\": \"bn1\"}, {\"type\": \"relu\"},"
     " {\"type\": \"conv2d\", \"name\": \"conv2\", \"out\": 64, \"kernel\": 3, \"padding\": 1, \"bias\": false},"
     " {\"type\": \"batchnorm\", \"name\": \"bn2\"}],"
     " \"shortcut\": [{\"type\": \"conv2d\", \"out\": 64, \"kernel\": 1, \"stride\": 2, \"bias\": false},"
     "  {\"type\": \"batchnorm\"}]},"
     "{\"type\": \"relu\"},"
     "{\"type\": \"globalavgpool\"}, {\"type\": \"flatten\"},"
     "{\"type\": \"linear\", \"out\": 10}]}"},
};
// clang-format on
#define N_PRESETS (sizeof PRESETS / sizeof *PRESETS)

/* --- options -------------------------------------------------------------------------------- */

static clmp_status bad_field(const char *where, const char *field, const char *want) {
  return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model spec: %s: field \"%s\" must be %s", where,
                   field, want);
}

/* An integer in [lo, hi] from a JSON number; 0 when it is not one. */
static int size_of(const cJSON *v, size_t lo, size_t hi, size_t *out) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) return 0;
  *out = (size_t)d;
  return 1;
}

static const char *range_text(size_t lo, size_t hi, char *buf, size_t size) {
  snprintf(buf, size, "an integer from %zu to %zu", lo, hi);
  return buf;
}

clmp_status clmp__opt_size(const cJSON *o, const char *field, size_t lo, size_t hi,
                           const char *where, size_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
  char want[80];
  if (!v) return CLMP_SUCCESS;
  if (!size_of(v, lo, hi, out))
    return bad_field(where, field, range_text(lo, hi, want, sizeof want));
  return CLMP_SUCCESS;
}

clmp_status clmp__opt_pair(const cJSON *o, const char *field, size_t lo, size_t hi,
                           const char *where, size_t out[2]) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
  char want[120], range[80];
  size_t a = 0, b = 0;
  if (!v) return CLMP_SUCCESS;
  if (size_of(v, lo, hi, &a)) return out[0] = out[1] = a, CLMP_SUCCESS;
  if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 &&
      size_of(cJSON_GetArrayItem(v, 0), lo, hi, &a) &&
      size_of(cJSON_GetArrayItem(v, 1), lo, hi, &b))
    return out[0] = a, out[1] = b, CLMP_SUCCESS;
  snprintf(want, sizeof want, "%s, or a pair [h, w] of them",
           range_text(lo, hi, range, sizeof range));
  return bad_field(where, field, want);
}

clmp_status clmp__opt_number(const cJSON *o, const char *field, double lo, double hi,
                             const char *where, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
  char want[80];
  if (!v) return CLMP_SUCCESS;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
    snprintf(want, sizeof want, "a number from %g to %g", lo, hi);
    return bad_field(where, field, want);
  }
  *out = v->valuedouble;
  return CLMP_SUCCESS;
}

clmp_status clmp__opt_bool(const cJSON *o, const char *field, const char *where, int *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
  if (!v) return CLMP_SUCCESS;
  if (!cJSON_IsBool(v)) return bad_field(where, field, "true or false");
  *out = cJSON_IsTrue(v);
  return CLMP_SUCCESS;
}

clmp_status clmp__opt_only(const cJSON *o, const char *const *fields, const char *where) {
  for (const cJSON *v = o->child; v; v = v->next) {
    int known = !strcmp(v->string, "type") || !strcmp(v->string, "name");
    for (const char *const *f = fields; !known && *f; f++) known = !strcmp(v->string, *f);
    if (!known)
      return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model spec: %s: unknown field \"%s\"", where,
                       v->string);
  }
  return CLMP_SUCCESS;
}

clmp_status clmp__describe_pair(cJSON *out, const char *field, const size_t v[2]) {
  cJSON *a = cJSON_AddArrayToObject(out, field);
  cJSON *x = a ? cJSON_CreateNumber((double)v[0]) : NULL;
  if (x) cJSON_AddItemToArray(a, x);
  cJSON *y = x ? cJSON_CreateNumber((double)v[1]) : NULL;
  if (y) cJSON_AddItemToArray(a, y);
  return y ? CLMP_SUCCESS : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", field);
}

/* --- layers --------------------------------------------------------------------------------- */

static const clmp__layer_kind *find_kind(const char *type) {
  for (size_t i = 0; i < N_KINDS; i++)
    if (!strcmp(KINDS[i]->type, type)) return KINDS[i];
  return NULL;
}

/* A name of a state_dict path: letters, digits and underscores. */
static int valid_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return 0;
  return 1;
}

static clmp_status layer_new(const cJSON *spec, const char *prefix, const clmp__layer_kind **kind,
                             const char **name) {
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(spec, "type");
  const cJSON *nm = cJSON_GetObjectItemCaseSensitive(spec, "name");
  if (!cJSON_IsString(type))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model spec: layer %s: no \"type\" string", prefix);
  if (!(*kind = find_kind(type->valuestring)))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "model spec: layer %s: unknown type \"%.64s\" (linear, relu, gelu, flatten, "
                     "conv2d, batchnorm, maxpool2d, avgpool2d, globalavgpool, dropout, "
                     "sequential, residual)",
                     prefix, type->valuestring);
  if (nm && (!cJSON_IsString(nm) || !valid_name(nm->valuestring)))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "model spec: layer %s (%s): field \"name\" must be letters, digits and "
                     "underscores",
                     prefix, type->valuestring);
  *name = nm ? nm->valuestring : NULL;
  return CLMP_SUCCESS;
}

clmp_status clmp__layer_parse(const cJSON *spec, const char *parent, size_t index,
                              clmp__layer **out) {
  char prefix[CLMP__NAME_MAX + 24];
  const clmp__layer_kind *kind = NULL;
  const char *name = NULL;
  *out = NULL;
  snprintf(prefix, sizeof prefix, "%s%zu", parent, index);
  if (!cJSON_IsObject(spec))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model spec: layer %s: not an object", prefix);
  clmp_status st = layer_new(spec, prefix, &kind, &name);
  if (st != CLMP_SUCCESS) return st;
  if (name) snprintf(prefix, sizeof prefix, "%s%s", parent, name);
  if (strlen(prefix) + 2 > CLMP__NAME_MAX)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "model spec: layer %.60s...: its tensor names pass %d bytes (nested too deep, "
                     "or a long name)",
                     prefix, CLMP__NAME_MAX - 2);
  clmp__layer *l = calloc(1, kind->size);
  if (!l) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: layer %s", prefix);
  l->kind = kind;
  snprintf(l->name, sizeof l->name, "%.*s.", CLMP__NAME_MAX - 2, prefix);
  snprintf(l->where, sizeof l->where, "layer %.*s (%.24s)", CLMP__NAME_MAX - 2, prefix, kind->type);
  l->named = name != NULL;
  st = kind->parse(l, spec, l->where);
  if (st != CLMP_SUCCESS) clmp__layer_free(l), l = NULL;
  *out = l;
  return st;
}

void clmp__layer_free(clmp__layer *l) {
  if (!l) return;
  if (l->kind->free) l->kind->free(l);
  free(l);
}

clmp_status clmp__layer_describe(const clmp__layer *l, cJSON **out) {
  cJSON *o = cJSON_CreateObject();
  *out = o;
  if (!o || !cJSON_AddStringToObject(o, "type", l->kind->type))
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", l->where);
  if (l->named) {
    char name[CLMP__NAME_MAX];
    const char *dot = strrchr(l->name, '.'), *start = l->name;
    for (const char *c = l->name; c < dot; c++)
      if (*c == '.') start = c + 1;
    snprintf(name, sizeof name, "%.*s", (int)(dot - start), start);
    if (!cJSON_AddStringToObject(o, "name", name))
      return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec: %s", l->where);
  }
  return l->kind->describe ? l->kind->describe(l, o) : CLMP_SUCCESS;
}

/* --- the whole spec ------------------------------------------------------------------------- */

static const char *preset_json(const char *spec) {
  for (size_t i = 0; i < N_PRESETS; i++)
    if (!strcmp(PRESETS[i].name, spec)) return PRESETS[i].json;
  return NULL;
}

/* The spec's "input", else the config's; they must agree in element count. */
static clmp_status read_input(clmp_model *m, const cJSON *root, const clmp_model_config *cfg) {
  const cJSON *in = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "input") : NULL;
  clmp__shape s = {cfg->input_ndim, {cfg->input[0], cfg->input[1], cfg->input[2]}};
  if (in) {
    int n = cJSON_IsArray(in) ? cJSON_GetArraySize(in) : 0;
    if (n < 1 || n > CLMP__SHAPE_DIMS) return bad_field("the model", "input", "[C, H, W] or [F]");
    s.ndim = n;
    for (int i = 0; i < n; i++)
      if (!size_of(cJSON_GetArrayItem(in, i), 1, DIM_MAX, &s.d[i]))
        return bad_field("the model", "input", "a list of 1 to 3 sizes from 1 to 16777216");
  }
  if (s.ndim < 1)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "model spec: no input shape (give \"input\")");
  clmp__shape c = {cfg->input_ndim, {cfg->input[0], cfg->input[1], cfg->input[2]}};
  if (cfg->input_ndim > 0 && clmp__shape_numel(&c) != clmp__shape_numel(&s)) {
    char a[64], b[64];
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                     "model spec: \"input\" %s has not the %zu elements of the data's %s",
                     clmp__shape_text(&s, a, sizeof a), clmp__shape_numel(&c),
                     clmp__shape_text(&c, b, sizeof b));
  }
  m->in = s;
  return CLMP_SUCCESS;
}

/* The root: a sequential of the spec's "layers" (or of the bare array), tensors named from "". */
static clmp_status read_root(clmp_model *m, const cJSON *root) {
  const cJSON *layers = root;
  if (cJSON_IsObject(root)) {
    for (const cJSON *v = root->child; v; v = v->next)
      if (strcmp(v->string, "input") && strcmp(v->string, "layers"))
        return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                         "model spec: unknown field \"%s\" (input, layers)", v->string);
    layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
  }
  if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) < 1)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "model spec: \"layers\" must be a non-empty list of layers");
  return clmp__sequential_new(layers, "", "the model", &m->root);
}

clmp_status clmp__spec_parse(clmp_model *m, const clmp_model_config *cfg) {
  const char *text = cfg->spec ? cfg->spec : "mlp";
  const char *preset = preset_json(text);
  cJSON *root = cJSON_Parse(preset ? preset : text);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    size_t off = at && at >= text && at <= text + strlen(text) ? (size_t)(at - text) : 0;
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "model spec: \"%.40s%s\" is neither a preset (%s) nor valid JSON (error "
                     "near byte %zu)",
                     text, strlen(text) > 40 ? "..." : "", CLMP_MODEL_PRESETS, off);
  }
  clmp_status st = read_root(m, root);
  if (st == CLMP_SUCCESS) st = read_input(m, root, cfg);
  cJSON_Delete(root);
  return st;
}

clmp_status clmp__spec_canonical(const clmp_model *m, char **out) {
  cJSON *o = cJSON_CreateObject();
  cJSON *in = o ? cJSON_AddArrayToObject(o, "input") : NULL;
  clmp_status st = in ? CLMP_SUCCESS : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec");
  for (int i = 0; st == CLMP_SUCCESS && i < m->in.ndim; i++) {
    cJSON *d = cJSON_CreateNumber((double)m->in.d[i]);
    if (!d) st = CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec");
    cJSON_AddItemToArray(in, d);
  }
  if (st == CLMP_SUCCESS) st = clmp__sequential_describe_into(m->root, o, "layers");
  char *text = st == CLMP_SUCCESS ? cJSON_PrintUnformatted(o) : NULL;
  if (st == CLMP_SUCCESS && !text) st = CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "model spec");
  cJSON_Delete(o);
  *out = text;
  return st;
}
