/* host/nn/mlp.c: the multi-layer perceptron: parameters as views into flat arenas, forward and
 * backward through the op API only, so the same code runs on every device and on the reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "../runtime/util.h"
#include "../ops/table.h"
#include "clmp/nn.h"

/* Each parameter tensor starts on a multiple of this many elements (256 bytes in f32). */
#define ARENA_ALIGN 64
/* The most parameters a model may have: their f32 bytes, and the alignment, never overflow. */
#define PARAMS_MAX (SIZE_MAX / sizeof(float) / 2)

typedef struct mlp_layer {
  size_t in, out, w_off, b_off;
  clmp_tensor *w, *b;   /* views of the working copy */
  clmp_tensor *gw, *gb; /* views of the gradients */
} mlp_layer;

struct clmp_mlp {
  clmp_ctx *ctx;
  clmp_mlp_config cfg;
  size_t params;
  clmp_tensor *master, *working, *grads;
  mlp_layer l[CLMP_MLP_MAX_LAYERS];
  clmp_tensor *act[CLMP_MLP_MAX_LAYERS + 1]; /* act[0] input, act[i] output of layer i */
  clmp_tensor *grad_act[2];                  /* gradients of activations, ping-pong */
  clmp_tensor *logits;                       /* view of the last forward's output */
  size_t batch;                              /* rows of the last forward */
};

static size_t align_up(size_t n) {
  return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

static clmp_status check_config(const clmp_mlp_config *c) {
  if (c->layers < 1 || c->layers > CLMP_MLP_MAX_LAYERS)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_mlp_create: %d layers (1 to %d)", c->layers,
                     CLMP_MLP_MAX_LAYERS);
  for (int i = 0; i <= c->layers; i++)
    if (c->sizes[i] == 0)
      return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "clmp_mlp_create: width %d is 0", i);
  if (c->dtype != CLMP_F32 && c->dtype != CLMP_F16 && c->dtype != CLMP_BF16)
    return CLMP_FAIL(CLMP_ERR_INVALID_DTYPE, "clmp_mlp_create: dtype %s (f32, f16, bf16)",
                     clmp_dtype_name(c->dtype));
  if (c->max_batch == 0) return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "clmp_mlp_create: batch 0");
  return CLMP_SUCCESS;
}

/* *off += n * k, aligned; 0 when that would pass PARAMS_MAX. */
static int grow(size_t *off, size_t n, size_t k) {
  if (*off > PARAMS_MAX || (k && n > (PARAMS_MAX - *off) / k)) return 0;
  *off = align_up(*off + n * k);
  return 1;
}

/* Lays the parameters out: weight then bias of each layer, each aligned; 0 when the count of
 * parameters overflows. */
static int layout(clmp_mlp *m) {
  size_t off = 0;
  for (int i = 0; i < m->cfg.layers; i++) {
    mlp_layer *L = &m->l[i];
    L->in = m->cfg.sizes[i], L->out = m->cfg.sizes[i + 1];
    L->w_off = off;
    if (!grow(&off, L->in, L->out)) return 0;
    L->b_off = off;
    if (!grow(&off, L->out, 1)) return 0;
  }
  m->params = off;
  return 1;
}

static clmp_status view_of(clmp_tensor *arena, size_t off, int ndim, size_t a, size_t b,
                           clmp_tensor **out) {
  size_t shape[2] = {a, b};
  return clmp_tensor_view(arena, off * clmp_dtype_size(clmp_tensor_dtype(arena)),
                          clmp_tensor_dtype(arena), ndim, shape, out);
}

static clmp_status make_views(clmp_mlp *m) {
  clmp_status st = CLMP_SUCCESS;
  for (int i = 0; st == CLMP_SUCCESS && i < m->cfg.layers; i++) {
    mlp_layer *L = &m->l[i];
    st = view_of(m->working, L->w_off, 2, L->out, L->in, &L->w);
    if (st == CLMP_SUCCESS) st = view_of(m->working, L->b_off, 1, L->out, 1, &L->b);
    if (st == CLMP_SUCCESS) st = view_of(m->grads, L->w_off, 2, L->out, L->in, &L->gw);
    if (st == CLMP_SUCCESS) st = view_of(m->grads, L->b_off, 1, L->out, 1, &L->gb);
  }
  return st;
}

static clmp_status make_activations(clmp_mlp *m) {
  size_t widest = 0;
  clmp_status st = CLMP_SUCCESS;
  for (int i = 0; st == CLMP_SUCCESS && i <= m->cfg.layers; i++) {
    size_t shape[2] = {m->cfg.max_batch, m->cfg.sizes[i]};
    widest = shape[1] > widest ? shape[1] : widest;
    st = clmp_tensor_create(m->ctx, m->cfg.dtype, 2, shape, &m->act[i]);
  }
  size_t shape[2] = {m->cfg.max_batch, widest};
  for (int k = 0; st == CLMP_SUCCESS && k < 2; k++)
    st = clmp_tensor_create(m->ctx, m->cfg.dtype, 2, shape, &m->grad_act[k]);
  return st;
}

clmp_status clmp_mlp_create(clmp_ctx *ctx, const clmp_mlp_config *cfg, clmp_mlp **out) {
  if (!ctx || !cfg || !out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_mlp_create: NULL");
  *out = NULL;
  clmp_status st = check_config(cfg);
  if (st != CLMP_SUCCESS) return st;
  clmp_mlp *m = calloc(1, sizeof *m);
  if (!m) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_mlp_create");
  m->ctx = ctx, m->cfg = *cfg;
  if (!layout(m))
    CLMP_RAISE(CLMP_ERR_SIZE_OVERFLOW,
               "clmp_mlp_create: the parameter count overflows (widths %zu, %zu, ...)",
               cfg->sizes[0], cfg->sizes[1]);
  CLMP_TRY(clmp_tensor_create(ctx, CLMP_F32, 1, &m->params, &m->master));
  CLMP_TRY(clmp_tensor_create(ctx, cfg->dtype, 1, &m->params, &m->working));
  CLMP_TRY(clmp_tensor_create(ctx, cfg->dtype, 1, &m->params, &m->grads));
  CLMP_TRY(clmp_fill(m->grads, 0.0f)); /* the alignment gaps stay zero, and finite */
  CLMP_TRY(make_views(m));
  CLMP_TRY(make_activations(m));
  *out = m;
  m = NULL;
cleanup:
  clmp_mlp_free(m);
  return st;
}

void clmp_mlp_free(clmp_mlp *m) {
  if (!m) return;
  for (int i = 0; i < m->cfg.layers; i++) {
    mlp_layer *L = &m->l[i];
    clmp_tensor_free(L->w), clmp_tensor_free(L->b), clmp_tensor_free(L->gw);
    clmp_tensor_free(L->gb);
  }
  for (int i = 0; i <= m->cfg.layers; i++) clmp_tensor_free(m->act[i]);
  clmp_tensor_free(m->grad_act[0]), clmp_tensor_free(m->grad_act[1]);
  clmp_tensor_free(m->logits);
  clmp_tensor_free(m->master), clmp_tensor_free(m->working), clmp_tensor_free(m->grads);
  free(m);
}

/* Uniform in [-bound, bound) from 24 random bits. */
static float uniform(uint64_t *s, float bound) {
  return bound * (2.0f * (float)(clmp__splitmix64(s) >> 40) * 0x1p-24f - 1.0f);
}

clmp_status clmp_mlp_init(clmp_mlp *m, uint64_t seed) {
  if (!m) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_mlp_init: NULL model");
  float *w = calloc(m->params, sizeof *w);
  if (!w) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_mlp_init: %zu params", m->params);
  uint64_t s = seed;
  for (int i = 0; i < m->cfg.layers; i++) {
    const mlp_layer *L = &m->l[i];
    float bound = 1.0f / sqrtf((float)L->in);
    for (size_t k = 0; k < L->in * L->out; k++) w[L->w_off + k] = uniform(&s, bound);
    for (size_t k = 0; k < L->out; k++) w[L->b_off + k] = uniform(&s, bound);
  }
  clmp_status st = clmp_tensor_write(m->master, CLMP_F32, w, m->params);
  free(w);
  return st == CLMP_SUCCESS ? clmp_mlp_sync_working(m) : st;
}

clmp_status clmp_mlp_sync_working(clmp_mlp *m) {
  if (!m) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_mlp_sync_working: NULL model");
  return clmp_cast(m->master, m->working);
}

clmp_tensor *clmp_mlp_master(const clmp_mlp *m) {
  return m ? m->master : NULL;
}

clmp_tensor *clmp_mlp_working(const clmp_mlp *m) {
  return m ? m->working : NULL;
}

clmp_tensor *clmp_mlp_grads(const clmp_mlp *m) {
  return m ? m->grads : NULL;
}

size_t clmp_mlp_params(const clmp_mlp *m) {
  return m ? m->params : 0;
}

size_t clmp_mlp_weight_offset(const clmp_mlp *m, int layer) {
  return m && layer >= 0 && layer < m->cfg.layers ? m->l[layer].w_off : 0;
}

size_t clmp_mlp_bias_offset(const clmp_mlp *m, int layer) {
  return m && layer >= 0 && layer < m->cfg.layers ? m->l[layer].b_off : 0;
}

clmp_tensor *clmp_mlp_input(const clmp_mlp *m) {
  return m ? m->act[0] : NULL;
}

/* The first rows of a [max_batch, cols] buffer, as a [rows, cols] view. */
static clmp_status rows_of(clmp_tensor *t, size_t rows, size_t cols, clmp_tensor **out) {
  size_t shape[2] = {rows, cols};
  return clmp_tensor_view(t, 0, clmp_tensor_dtype(t), 2, shape, out);
}

/* y = relu?(x W^T + b) for the first rows of layer i's buffers. */
static clmp_status layer_forward(clmp_mlp *m, int i, size_t rows) {
  const mlp_layer *L = &m->l[i];
  clmp_tensor *x = NULL, *y = NULL;
  clmp_status st = rows_of(m->act[i], rows, L->in, &x);
  if (st == CLMP_SUCCESS) st = rows_of(m->act[i + 1], rows, L->out, &y);
  if (st == CLMP_SUCCESS) st = clmp_gemm(CLMP_NO_TRANS, CLMP_TRANS, 1.0f, x, L->w, 0.0f, y);
  if (st == CLMP_SUCCESS) st = clmp_bias_add(y, L->b);
  if (st == CLMP_SUCCESS && i + 1 < m->cfg.layers) st = clmp_relu(y, y);
  clmp_tensor_free(x), clmp_tensor_free(y);
  return st;
}

clmp_status clmp_mlp_forward(clmp_mlp *m, size_t batch, const clmp_tensor **logits) {
  if (!m || !logits) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_mlp_forward: NULL");
  if (batch == 0 || batch > m->cfg.max_batch)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "clmp_mlp_forward: batch %zu (1 to %zu)", batch,
                     m->cfg.max_batch);
  clmp_status st = CLMP_SUCCESS;
  for (int i = 0; st == CLMP_SUCCESS && i < m->cfg.layers; i++) st = layer_forward(m, i, batch);
  clmp_tensor_free(m->logits);
  m->logits = NULL;
  if (st == CLMP_SUCCESS)
    st = rows_of(m->act[m->cfg.layers], batch, m->cfg.sizes[m->cfg.layers], &m->logits);
  m->batch = st == CLMP_SUCCESS ? batch : 0;
  *logits = m->logits;
  return st;
}

/* Given d = dL/dy of layer i (rows x out): dW (+)= d^T x, db (+)= colsum d, and, below the
 * first layer, dx = (d W) masked by x > 0 into *dx_out. */
static clmp_status layer_backward(clmp_mlp *m, int i, clmp_tensor *d, float beta,
                                  clmp_tensor **dx_out) {
  const mlp_layer *L = &m->l[i];
  clmp_tensor *x = NULL, *dx = NULL;
  clmp_status st = rows_of(m->act[i], m->batch, L->in, &x);
  if (st == CLMP_SUCCESS) st = clmp_gemm(CLMP_TRANS, CLMP_NO_TRANS, 1.0f, d, x, beta, L->gw);
  if (st == CLMP_SUCCESS) st = clmp_bias_grad(d, beta, L->gb);
  if (st == CLMP_SUCCESS && i > 0) {
    st = rows_of(m->grad_act[i % 2], m->batch, L->in, &dx);
    if (st == CLMP_SUCCESS) st = clmp_gemm(CLMP_NO_TRANS, CLMP_NO_TRANS, 1.0f, d, L->w, 0.0f, dx);
    if (st == CLMP_SUCCESS) st = clmp_relu_backward(x, dx, dx); /* x is relu's output: same mask */
  }
  clmp_tensor_free(x);
  if (st != CLMP_SUCCESS) clmp_tensor_free(dx), dx = NULL;
  *dx_out = dx;
  return st;
}

/* labels: i32 [batch of the last forward]; scale: NULL or f32 [1]; both on the model's context. */
static clmp_status check_backward(const clmp_mlp *m, const clmp_tensor *labels,
                                  const clmp_tensor *scale) {
  const char *op = "clmp_mlp_backward";
  if (!m || !labels) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: NULL model or labels", op);
  if (!m->batch) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: no forward pass yet", op);
  clmp_status st = clmp__check_dtype(labels, CLMP_I32, op, "labels");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(m->master, labels, op);
  if (st == CLMP_SUCCESS) st = clmp__check_numel(labels, m->batch, op, "labels");
  if (st == CLMP_SUCCESS && scale) st = clmp__check_scalar(scale, CLMP_F32, m->master, op, "scale");
  return st;
}

clmp_status clmp_mlp_backward(clmp_mlp *m, const clmp_tensor *labels, const clmp_tensor *scale,
                              int accumulate) {
  clmp_status st = check_backward(m, labels, scale);
  if (st != CLMP_SUCCESS) return st;
  int top = m->cfg.layers - 1;
  clmp_tensor *d = NULL;
  st = rows_of(m->grad_act[(top + 1) % 2], m->batch, m->l[top].out, &d);
  if (st == CLMP_SUCCESS) st = clmp_softmax_xent_backward(m->logits, labels, scale, d);
  for (int i = top; st == CLMP_SUCCESS && i >= 0; i--) {
    clmp_tensor *dx = NULL;
    st = layer_backward(m, i, d, accumulate ? 1.0f : 0.0f, &dx);
    clmp_tensor_free(d);
    d = dx;
  }
  clmp_tensor_free(d);
  return st;
}
