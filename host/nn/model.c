/* host/nn/model.c: the model container: a spec planned once into a registry of named tensors in
 * flat arenas and activation blocks in one arena, then forward and backward through the layer
 * tree. Nothing here knows which layers the model holds. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "../runtime/util.h"
#include "../tensor/tensor_impl.h"
#include "model_impl.h"

/* Each parameter and buffer starts on a multiple of this many elements (256 bytes in f32), each
 * activation block on a multiple of ACT_ALIGN bytes (vector loads, tensor-core operands). */
#define ARENA_ALIGN 64
#define ACT_ALIGN   256
/* Sizes planned without a device may not pass this many bytes (1 TiB): far beyond any device,
 * far below an overflow. */
#define PLAN_BYTES_MAX ((size_t)1 << 40)
#define GROW_MIN       16
#define CLMP__WHY_MAX  512

size_t clmp__shape_numel(const clmp__shape *s) {
  size_t n = 1;
  for (int i = 0; i < s->ndim; i++) n *= s->d[i];
  return n;
}

const char *clmp__shape_text(const clmp__shape *s, char *buf, size_t size) {
  int n = snprintf(buf, size, "[");
  for (int i = 0; i < s->ndim && n > 0 && (size_t)n < size; i++)
    n += snprintf(buf + n, size - (size_t)n, i ? ", %zu" : "%zu", s->d[i]);
  if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
  return buf;
}

/* *acc += n elements of size bytes, then aligned up to align elements; 0 (and *acc unchanged)
 * when that passes PLAN_BYTES_MAX bytes. */
static int grow(size_t *acc, size_t n, size_t size, size_t align) {
  size_t max = PLAN_BYTES_MAX / size;
  if (n > max || *acc > max - n) return 0;
  *acc = (*acc + n + align - 1) / align * align;
  return 1;
}

static clmp_status too_large(clmp__plan *p, const clmp__layer *l, const char *what) {
  p->overflow = 1;
  return CLMP_FAIL(CLMP_ERR_TOO_LARGE, "model spec: %s: %s: more than the 1 TiB any device holds",
                   l->where, what);
}

/* A new registry entry, zeroed, named prefix + name. */
static clmp_status new_entry(clmp__plan *p, const clmp__layer *l, const char *name,
                             clmp__entry **out) {
  clmp_model *m = p->m;
  if (m->n_entries == m->cap_entries) {
    size_t cap = m->cap_entries ? 2 * m->cap_entries : GROW_MIN;
    clmp__entry *e = realloc(m->entries, cap * sizeof *e);
    if (!e) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "%s: the model's registry", l->where);
    m->entries = e, m->cap_entries = cap;
  }
  clmp__entry *e = &m->entries[m->n_entries];
  memset(e, 0, sizeof *e);
  int n = snprintf(e->name, sizeof e->name, "%s%s", l->name, name);
  if (n < 0 || (size_t)n >= sizeof e->name)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: the name %s%s is longer than %d bytes",
                     l->where, l->name, name, CLMP__NAME_MAX - 1);
  for (size_t i = 0; i < m->n_entries; i++)
    if (!strcmp(m->entries[i].name, e->name))
      return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                       "model spec: %s: the tensor name %s is taken (two layers of one name?)",
                       l->where, e->name);
  *out = e;
  return CLMP_SUCCESS;
}

static clmp_status shaped_entry(clmp__plan *p, const clmp__layer *l, const char *name, int ndim,
                                const size_t *shape, clmp__entry **out) {
  clmp_status st = new_entry(p, l, name, out);
  if (st != CLMP_SUCCESS) return st;
  clmp__entry *e = *out;
  e->ndim = ndim, e->numel = 1;
  for (int i = 0; i < ndim; i++) {
    e->shape[i] = shape[i];
    if (shape[i] && e->numel > PLAN_BYTES_MAX / shape[i]) return too_large(p, l, name);
    e->numel *= shape[i];
  }
  return CLMP_SUCCESS;
}

clmp_status clmp__plan_param(clmp__plan *p, const clmp__layer *l, const char *name, int ndim,
                             const size_t *shape, clmp__init init, float value, size_t fan_in,
                             size_t *handle) {
  clmp__entry *e = NULL;
  clmp_status st = shaped_entry(p, l, name, ndim, shape, &e);
  if (st != CLMP_SUCCESS) return st;
  e->kind = CLMP_ENTRY_PARAM, e->init = init, e->value = value, e->fan_in = fan_in;
  e->offset = p->m->params;
  if (!grow(&p->m->params, e->numel, sizeof(float), ARENA_ALIGN))
    return too_large(p, l, "the parameters");
  *handle = p->m->n_entries++;
  return CLMP_SUCCESS;
}

clmp_status clmp__plan_buffer(clmp__plan *p, const clmp__layer *l, const char *name, int ndim,
                              const size_t *shape, float value, size_t *handle) {
  clmp__entry *e = NULL;
  clmp_status st = shaped_entry(p, l, name, ndim, shape, &e);
  if (st != CLMP_SUCCESS) return st;
  e->kind = CLMP_ENTRY_BUFFER, e->init = CLMP__INIT_CONST, e->value = value;
  e->offset = p->m->buffers;
  if (!grow(&p->m->buffers, e->numel, sizeof(float), ARENA_ALIGN))
    return too_large(p, l, "the buffers");
  *handle = p->m->n_entries++;
  return CLMP_SUCCESS;
}

clmp_status clmp__plan_counter(clmp__plan *p, const clmp__layer *l, const char *name,
                               size_t *handle) {
  clmp__entry *e = NULL;
  clmp_status st = new_entry(p, l, name, &e);
  if (st != CLMP_SUCCESS) return st;
  e->kind = CLMP_ENTRY_COUNTER, e->numel = 1;
  *handle = p->m->n_entries++;
  return CLMP_SUCCESS;
}

/* A block of count elements of dtype d in the activation arena. */
static clmp_status new_block(clmp__plan *p, clmp_dtype d, size_t per_example, size_t count,
                             int fixed, size_t *handle) {
  clmp_model *m = p->m;
  if (m->n_blocks == m->cap_blocks) {
    size_t cap = m->cap_blocks ? 2 * m->cap_blocks : GROW_MIN;
    clmp__block *b = realloc(m->blocks, cap * sizeof *b);
    if (!b) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "the model's activation blocks");
    m->blocks = b, m->cap_blocks = cap;
  }
  size_t start = m->act_bytes, elem = clmp_dtype_size(d);
  if (per_example > PLAN_BYTES_MAX / elem / count ||
      !grow(&m->act_bytes, per_example * count * elem, 1, ACT_ALIGN)) {
    p->overflow = 1;
    return CLMP_FAIL(CLMP_ERR_TOO_LARGE,
                     "model: activations of %zu elements an example (batch %zu) pass the 1 TiB "
                     "any device could hold",
                     per_example, m->max_batch);
  }
  clmp__block *b = &m->blocks[m->n_blocks];
  memset(b, 0, sizeof *b);
  b->dtype = d, b->per_example = per_example, b->offset = start, b->fixed = fixed;
  *handle = m->n_blocks++;
  return CLMP_SUCCESS;
}

clmp_status clmp__plan_act(clmp__plan *p, clmp_dtype d, size_t per_example, size_t *handle) {
  return new_block(p, d, per_example, p->m->max_batch, 0, handle);
}

clmp_status clmp__plan_state(clmp__plan *p, clmp_dtype d, size_t n, size_t *handle) {
  return new_block(p, d, n, 1, 1, handle);
}

clmp_status clmp__plan_workspace(clmp__plan *p, size_t bytes) {
  if (bytes > PLAN_BYTES_MAX) {
    p->overflow = 1;
    return CLMP_FAIL(CLMP_ERR_TOO_LARGE, "a workspace of %zu bytes", bytes);
  }
  if (bytes > p->m->ws_bytes) p->m->ws_bytes = bytes;
  return CLMP_SUCCESS;
}

clmp_dtype clmp__plan_dtype(const clmp__plan *p) {
  return p->m->dtype;
}

const clmp_ctx *clmp__plan_ctx(const clmp__plan *p) {
  return p->ctx;
}

size_t clmp__plan_batch(const clmp__plan *p) {
  return p->m->max_batch;
}

clmp_status clmp__plan_refused(const clmp__layer *l, clmp_status st) {
  char why[CLMP__WHY_MAX], s[64];
  snprintf(why, sizeof why, "%s", clmp_last_error());
  char *code = strstr(why, ": CLMP_ERR_"); /* the status is named once, at the end */
  if (code) *code = '\0';
  return CLMP_FAIL(st, "model spec: %s (input %s): %s", l->where,
                   clmp__shape_text(&l->in, s, sizeof s), why);
}

clmp_status clmp__plan_child(clmp__plan *p, clmp__layer *child, const clmp__shape *in,
                             int need_dx) {
  child->in = *in, child->need_dx = need_dx, child->id = p->next_id++;
  p->m->layers++;
  return child->kind->plan(child, p);
}

/* --- at run time ---------------------------------------------------------------------------- */

clmp_tensor *clmp__param_working(const clmp_model *m, size_t h) {
  return m->entries[h].working;
}

clmp_tensor *clmp__param_grad(const clmp_model *m, size_t h) {
  return m->entries[h].grad;
}

clmp_tensor *clmp__param_master(const clmp_model *m, size_t h) {
  return m->entries[h].master;
}

clmp_tensor *clmp__buffer(const clmp_model *m, size_t h) {
  return m->entries[h].buffer;
}

uint64_t *clmp__counter(clmp_model *m, size_t h) {
  return &m->entries[h].count;
}

clmp_tensor *clmp__state(const clmp_model *m, size_t h) {
  return m->blocks[h].view;
}

uint64_t clmp__model_seed(const clmp_model *m) {
  return m->seed;
}

static int same_shape(const clmp__shape *a, const clmp__shape *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->d[i] != b->d[i]) return 0;
  return 1;
}

/* [batch, s...] as a tensor shape; its ndim. */
static int batch_shape(size_t batch, const clmp__shape *s, size_t *shape) {
  shape[0] = batch;
  for (int i = 0; i < s->ndim; i++) shape[i + 1] = s->d[i];
  return s->ndim + 1;
}

clmp_status clmp__act(const clmp__run *r, size_t h, const clmp__shape *s, clmp_tensor **out) {
  clmp__block *b = &r->model->blocks[h];
  if (!b->view || b->view_batch != r->batch || !same_shape(&b->view_shape, s)) {
    clmp_tensor_free(b->view);
    b->view = NULL;
    size_t shape[CLMP_MAX_DIMS];
    int ndim = batch_shape(r->batch, s, shape);
    clmp_status st = clmp_tensor_view(r->model->acts, b->offset, b->dtype, ndim, shape, &b->view);
    if (st != CLMP_SUCCESS) return st;
    b->view_batch = r->batch, b->view_shape = *s;
  }
  *out = b->view;
  return CLMP_SUCCESS;
}

clmp_status clmp__reshape(const clmp_tensor *t, size_t batch, const clmp__shape *s,
                          clmp_tensor **cache) {
  size_t shape[CLMP_MAX_DIMS];
  int ndim = batch_shape(batch, s, shape);
  clmp_tensor *c = *cache;
  if (c && c->storage == t->storage && c->offset == t->offset && c->dtype == t->dtype &&
      c->ndim == ndim && !memcmp(c->shape, shape, (size_t)ndim * sizeof *shape))
    return CLMP_SUCCESS;
  clmp_tensor_free(c);
  *cache = NULL;
  /* A view only takes a reference on the storage it shares: t itself is not changed. */
  return clmp_tensor_view((clmp_tensor *)t, 0, t->dtype, ndim, shape, cache);
}

/* --- building ------------------------------------------------------------------------------- */

static clmp_status check_config(const clmp_model_config *c, const char *op) {
  if (c->dtype != CLMP_F32 && c->dtype != CLMP_F16 && c->dtype != CLMP_BF16)
    return CLMP_FAIL(CLMP_ERR_INVALID_DTYPE, "%s: dtype %s (f32, f16 or bf16)", op,
                     clmp_dtype_name(c->dtype));
  if (c->max_batch == 0 || c->max_batch > PLAN_BYTES_MAX)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: max_batch %zu", op, c->max_batch);
  if (c->input_ndim < 0 || c->input_ndim > CLMP__SHAPE_DIMS)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: input_ndim %d (0 to %d)", op, c->input_ndim,
                     CLMP__SHAPE_DIMS);
  return CLMP_SUCCESS;
}

/* The loss needs [classes] per example. */
static clmp_status check_output(const clmp_model *m) {
  const clmp__shape *o = &m->root->out;
  if (!m->classes || (o->ndim == 1 && o->d[0] == m->classes)) return CLMP_SUCCESS;
  char got[64];
  return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                   "model: the output of one example is %s, the loss needs [%zu] (end with a "
                   "linear layer of %zu outputs on a flat input)",
                   clmp__shape_text(o, got, sizeof got), m->classes, m->classes);
}

/* Parses and plans: the registry, the blocks and every size, on the host only. */
static clmp_status plan_model(clmp_model *m, const clmp_model_config *cfg, const clmp_ctx *ctx) {
  clmp__plan p = {m, ctx, 0, 0};
  m->dtype = cfg->dtype, m->max_batch = cfg->max_batch, m->classes = cfg->classes;
  m->seed = cfg->seed;
  clmp_status st = clmp__spec_parse(m, cfg);
  if (st == CLMP_SUCCESS)
    st = clmp__plan_act(&p, m->dtype, clmp__shape_numel(&m->in), &m->input_block);
  if (st == CLMP_SUCCESS) st = clmp__plan_child(&p, m->root, &m->in, 0);
  if (st == CLMP_SUCCESS) st = check_output(m);
  if (st == CLMP_SUCCESS) st = clmp__spec_canonical(m, &m->spec);
  return st;
}

/* The arenas against the device: each within one allocation, all within its memory. */
static clmp_status check_device(const clmp_model *m) {
  const clmp_device_info *d = clmp_ctx_device(m->ctx);
  size_t ws = clmp_dtype_size(m->dtype);
  size_t largest = m->params * sizeof(float);
  if (m->act_bytes > largest) largest = m->act_bytes;
  if (m->ws_bytes > largest) largest = m->ws_bytes;
  double total = (double)m->params * (2.0 * sizeof(float) + 2.0 * (double)ws) +
                 (double)m->buffers * sizeof(float) + (double)m->act_bytes + (double)m->ws_bytes;
  if (m->params == 0)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "model: it has no parameters to train");
  if ((uint64_t)largest > d->max_alloc)
    return CLMP_FAIL(CLMP_ERR_TOO_LARGE,
                     "model: an arena of %zu bytes passes %s's largest allocation (%llu bytes)",
                     largest, d->name, (unsigned long long)d->max_alloc);
  if (total > (double)d->global_mem)
    return CLMP_FAIL(CLMP_ERR_TOO_LARGE,
                     "model: %.0f bytes of arenas and activations pass %s's memory (%llu bytes)",
                     total, d->name, (unsigned long long)d->global_mem);
  return CLMP_SUCCESS;
}

static clmp_status make_tensor(clmp_ctx *ctx, clmp_dtype d, size_t n, clmp_tensor **out) {
  return n ? clmp_tensor_create(ctx, d, 1, &n, out) : CLMP_SUCCESS;
}

static clmp_status entry_view(clmp_tensor *arena, const clmp__entry *e, clmp_tensor **out) {
  size_t one = 1;
  int ndim = e->ndim ? e->ndim : 1;
  const size_t *shape = e->ndim ? e->shape : &one;
  clmp_dtype d = clmp_tensor_dtype(arena);
  return clmp_tensor_view(arena, e->offset * clmp_dtype_size(d), d, ndim, shape, out);
}

static clmp_status make_views(clmp_model *m) {
  clmp_status st = CLMP_SUCCESS;
  for (size_t i = 0; st == CLMP_SUCCESS && i < m->n_entries; i++) {
    clmp__entry *e = &m->entries[i];
    if (e->kind == CLMP_ENTRY_PARAM) {
      st = entry_view(m->working, e, &e->working);
      if (st == CLMP_SUCCESS) st = entry_view(m->grads, e, &e->grad);
      if (st == CLMP_SUCCESS) st = entry_view(m->master, e, &e->master);
    } else if (e->kind == CLMP_ENTRY_BUFFER) {
      st = entry_view(m->buf_arena, e, &e->buffer);
    }
  }
  for (size_t i = 0; st == CLMP_SUCCESS && i < m->n_blocks; i++) {
    clmp__block *b = &m->blocks[i];
    if (b->fixed) st = clmp_tensor_view(m->acts, b->offset, b->dtype, 1, &b->per_example, &b->view);
  }
  size_t shape[2] = {m->max_batch, clmp__shape_numel(&m->in)};
  if (st == CLMP_SUCCESS)
    st = clmp_tensor_view(m->acts, m->blocks[m->input_block].offset, m->dtype, 2, shape, &m->input);
  return st;
}

static clmp_status allocate(clmp_model *m) {
  clmp_status st = make_tensor(m->ctx, CLMP_F32, m->params, &m->master);
  if (st == CLMP_SUCCESS) st = make_tensor(m->ctx, m->dtype, m->params, &m->working);
  if (st == CLMP_SUCCESS) st = make_tensor(m->ctx, m->dtype, m->params, &m->grads);
  if (st == CLMP_SUCCESS) st = clmp_fill(m->grads, 0.0f); /* the alignment gaps stay zero */
  if (st == CLMP_SUCCESS) st = make_tensor(m->ctx, CLMP_F32, m->buffers, &m->buf_arena);
  if (st == CLMP_SUCCESS) st = make_tensor(m->ctx, CLMP_U8, m->act_bytes, &m->acts);
  if (st == CLMP_SUCCESS) st = make_tensor(m->ctx, CLMP_U8, m->ws_bytes, &m->ws);
  if (st == CLMP_SUCCESS) st = make_views(m);
  return st;
}

clmp_status clmp_model_check(const clmp_model_config *cfg, clmp_model_summary *summary) {
  if (!cfg) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_model_check: NULL config");
  clmp_status st = check_config(cfg, "clmp_model_check");
  if (st != CLMP_SUCCESS) return st;
  clmp_model *m = calloc(1, sizeof *m);
  if (!m) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_model_check");
  st = plan_model(m, cfg, NULL);
  if (st == CLMP_SUCCESS && summary) st = clmp_model_summary_get(m, summary);
  clmp_model_free(m);
  return st;
}

clmp_status clmp_model_create(clmp_ctx *ctx, const clmp_model_config *cfg, clmp_model **out) {
  if (!ctx || !cfg || !out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_model_create: NULL");
  *out = NULL;
  clmp_status st = check_config(cfg, "clmp_model_create");
  if (st != CLMP_SUCCESS) return st;
  clmp_model *m = calloc(1, sizeof *m);
  if (!m) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_model_create");
  m->ctx = ctx;
  CLMP_TRY(plan_model(m, cfg, ctx));
  CLMP_TRY(check_device(m));
  CLMP_TRY(allocate(m));
  CLMP_TRY(clmp_model_init(m, cfg->seed));
  *out = m;
  m = NULL;
cleanup:
  clmp_model_free(m);
  return st;
}

void clmp_model_free(clmp_model *m) {
  if (!m) return;
  clmp__layer_free(m->root);
  for (size_t i = 0; i < m->n_entries; i++) {
    clmp__entry *e = &m->entries[i];
    clmp_tensor_free(e->working), clmp_tensor_free(e->grad), clmp_tensor_free(e->master);
    clmp_tensor_free(e->buffer);
  }
  for (size_t i = 0; i < m->n_blocks; i++) clmp_tensor_free(m->blocks[i].view);
  clmp_tensor *own[] = {m->master, m->working, m->grads, m->buf_arena, m->acts, m->ws, m->input};
  for (size_t i = 0; i < sizeof own / sizeof *own; i++) clmp_tensor_free(own[i]);
  free(m->entries), free(m->blocks), free(m->spec);
  free(m);
}

/* --- initialisation ------------------------------------------------------------------------- */

/* Uniform in [-bound, bound) from 24 random bits. */
static float uniform(uint64_t *s, float bound) {
  return bound * (2.0f * (float)(clmp__splitmix64(s) >> 40) * 0x1p-24f - 1.0f);
}

/* The values of every entry of one kind, in registry order, from one generator. */
static void init_values(clmp_model *m, clmp_entry_kind kind, float *v, uint64_t *s) {
  for (size_t i = 0; i < m->n_entries; i++) {
    clmp__entry *e = &m->entries[i];
    if (e->kind == CLMP_ENTRY_COUNTER) e->count = 0;
    if (e->kind != kind) continue;
    float bound = e->fan_in ? 1.0f / sqrtf((float)e->fan_in) : 0.0f;
    for (size_t k = 0; k < e->numel; k++)
      v[e->offset + k] = e->init == CLMP__INIT_UNIFORM ? uniform(s, bound) : e->value;
  }
}

clmp_status clmp_model_init(clmp_model *m, uint64_t seed) {
  if (!m || !m->ctx) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_model_init: NULL model");
  size_t n = m->params > m->buffers ? m->params : m->buffers;
  float *v = calloc(n ? n : 1, sizeof *v);
  if (!v) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_model_init: %zu values", n);
  uint64_t s = seed;
  init_values(m, CLMP_ENTRY_PARAM, v, &s);
  clmp_status st = clmp_tensor_write(m->master, CLMP_F32, v, m->params);
  if (st == CLMP_SUCCESS && m->buffers) {
    memset(v, 0, m->buffers * sizeof *v);
    init_values(m, CLMP_ENTRY_BUFFER, v, &s);
    st = clmp_tensor_write(m->buf_arena, CLMP_F32, v, m->buffers);
  }
  free(v);
  m->seed = seed;
  return st == CLMP_SUCCESS ? clmp_model_sync_working(m) : st;
}

clmp_status clmp_model_sync_working(clmp_model *m) {
  if (!m || !m->ctx) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_model_sync_working: NULL");
  return clmp_cast(m->master, m->working);
}

/* --- forward and backward ------------------------------------------------------------------- */

clmp_status clmp_model_forward(clmp_model *m, size_t batch, int train, uint64_t rng,
                               const clmp_tensor **out) {
  if (!m || !m->ctx || !out)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_model_forward: NULL");
  *out = NULL;
  if (batch == 0 || batch > m->max_batch)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "clmp_model_forward: batch %zu (1 to %zu)", batch,
                     m->max_batch);
  clmp__run r = {m, batch, train != 0, rng, 0.0f, m->ws};
  clmp_tensor *x = NULL;
  const clmp_tensor *y = NULL;
  m->last.batch = 0;
  clmp_status st = clmp__act(&r, m->input_block, &m->in, &x);
  if (st == CLMP_SUCCESS) st = m->root->kind->forward(m->root, &r, x, &y);
  if (st != CLMP_SUCCESS) return st;
  m->last = r, m->out_view = y;
  *out = y;
  return CLMP_SUCCESS;
}

clmp_status clmp_model_backward(clmp_model *m, const clmp_tensor *dout, int accumulate) {
  const char *op = "clmp_model_backward";
  if (!m || !m->ctx || !dout) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: NULL", op);
  if (!m->last.batch) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: no forward pass yet", op);
  if (!m->last.train)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: the last forward was in evaluation mode", op);
  const clmp_tensor *o = m->out_view;
  if (clmp_tensor_ctx(dout) != m->ctx)
    return CLMP_FAIL(CLMP_ERR_CONTEXT_MISMATCH, "%s: dout is on another context", op);
  if (clmp_tensor_numel(dout) != clmp_tensor_numel(o) || clmp_tensor_ndim(dout) != o->ndim ||
      memcmp(dout->shape, o->shape, (size_t)o->ndim * sizeof *o->shape))
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: dout must have the output's shape", op);
  if (clmp_tensor_dtype(dout) != m->dtype)
    return CLMP_FAIL(CLMP_ERR_INVALID_DTYPE, "%s: dout is %s, the model computes in %s", op,
                     clmp_dtype_name(clmp_tensor_dtype(dout)), clmp_dtype_name(m->dtype));
  clmp__run r = m->last;
  r.beta = accumulate ? 1.0f : 0.0f;
  const clmp_tensor *dx = NULL;
  return m->root->kind->backward(m->root, &r, dout, &dx);
}

/* --- what the model holds ------------------------------------------------------------------- */

const char *clmp_model_spec(const clmp_model *m) {
  return m ? m->spec : NULL;
}

clmp_status clmp_model_summary_get(const clmp_model *m, clmp_model_summary *out) {
  if (!m || !out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_model_summary_get: NULL");
  memset(out, 0, sizeof *out);
  out->layers = m->layers, out->buffers = m->buffers;
  for (size_t i = 0; i < m->n_entries; i++)
    if (m->entries[i].kind == CLMP_ENTRY_PARAM) out->params += m->entries[i].numel;
  out->arena_bytes = m->params * sizeof(float);
  out->act_bytes = m->act_bytes, out->ws_bytes = m->ws_bytes;
  out->out_ndim = m->root->out.ndim;
  for (int i = 0; i < m->root->out.ndim; i++) out->out[i] = m->root->out.d[i];
  return CLMP_SUCCESS;
}

clmp_tensor *clmp_model_master(const clmp_model *m) {
  return m ? m->master : NULL;
}

clmp_tensor *clmp_model_working(const clmp_model *m) {
  return m ? m->working : NULL;
}

clmp_tensor *clmp_model_grads(const clmp_model *m) {
  return m ? m->grads : NULL;
}

size_t clmp_model_params(const clmp_model *m) {
  return m ? m->params : 0;
}

clmp_tensor *clmp_model_buffers(const clmp_model *m) {
  return m ? m->buf_arena : NULL;
}

size_t clmp_model_buffer_count(const clmp_model *m) {
  return m ? m->buffers : 0;
}

clmp_tensor *clmp_model_input(const clmp_model *m) {
  return m ? m->input : NULL;
}

size_t clmp_model_entry_count(const clmp_model *m) {
  return m ? m->n_entries : 0;
}

clmp_status clmp_model_entry_get(const clmp_model *m, size_t i, clmp_model_entry *out) {
  if (!m || !out || i >= m->n_entries)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_model_entry_get: entry %zu of %zu", i,
                     m ? m->n_entries : 0);
  const clmp__entry *e = &m->entries[i];
  *out = (clmp_model_entry){e->name, e->kind, e->ndim, {0}, e->numel, e->offset, e->count};
  memcpy(out->shape, e->shape, sizeof e->shape);
  return CLMP_SUCCESS;
}

clmp_status clmp_model_counter_set(clmp_model *m, size_t i, uint64_t value) {
  if (!m || i >= m->n_entries || m->entries[i].kind != CLMP_ENTRY_COUNTER)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_model_counter_set: entry %zu is no counter",
                     i);
  m->entries[i].count = value;
  return CLMP_SUCCESS;
}
