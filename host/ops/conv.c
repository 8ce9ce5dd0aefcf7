/* host/ops/conv.c: the convolution ops: shapes, workspace sizes, argument checks, dispatch through
 * the op table, and the OpenCL rows: im2col (cl/conv.cl) into the workspace, clmp's GEMM per group
 * (tensor cores on NVIDIA), then a permute to NCHW or the col2im gather, in chunks of images. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "table.h"

/* cl/conv.cl indexes within an image, and clmp's GEMM its rows and columns, in 32-bit ints. */
#define CONV_INDEX_MAX 0x7fffffffu
/* Workspace regions start at multiples of this many bytes from their buffer's start (16-byte
 * loads of the tensor-core GEMM, whole cache lines). */
#define CONV_ALIGN 256u
/* Regions of an op's workspace: the columns (col, or dcol in fp32), the output side permuted
 * ([O, nb Ho Wo]: y before its permute, or dy), and the filter gradient's fp32 accumulator. */
enum { R_COL, R_MID, R_ACC, CONV_REGIONS };

/* The geometry of a checked convolution. */
typedef struct conv_geom {
  size_t n, c, h, w, o, kh, kw, ho, wo, groups;
  size_t cg, og, kg; /* per group: input channels, output channels, col rows (cg kh kw) */
  size_t ktot, p;    /* col rows of all groups (c kh kw), pixels of an output plane (ho wo) */
  const clmp_conv2d_params *prm;
} conv_geom;

typedef enum conv_kind { CONV_FORWARD, CONV_DATA, CONV_FILTER } conv_kind;

/* The tensors of one op: the image side [N, C, H, W] (x or dx), the filter [O, C / groups, kh, kw]
 * (w or dw) and the output side [N, O, Ho, Wo] (y or dy); the op writes t[out]. */
enum { T_IMAGE, T_FILTER, T_PLANES, CONV_TENSORS };
typedef struct conv_call {
  const char *op;
  conv_kind kind;
  const clmp_tensor *t[CONV_TENSORS];
  const char *name[CONV_TENSORS];
  int out;
  const clmp_conv2d_params *p;
  const clmp_tensor *ws;
} conv_call;

/* --- shapes ----------------------------------------------------------------------------------- */

void clmp_conv2d_params_default(clmp_conv2d_params *p) {
  if (p) *p = (clmp_conv2d_params){{1, 1}, {0, 0}, {1, 1}, 1};
}

static const char *const AXES[2] = {"height", "width"};

static clmp_status check_params(const char *op, const clmp_conv2d_params *p) {
  if (!p) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: p is NULL", op);
  for (int a = 0; a < 2; a++) {
    if (!p->stride[a]) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: p->stride[%d] is 0", op, a);
    if (!p->dilation[a])
      return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: p->dilation[%d] is 0", op, a);
  }
  if (!p->groups) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: p->groups is 0", op);
  return CLMP_SUCCESS;
}

/* The output size along axis a for an input of size in and a kernel of k taps, every size of
 * the computation at most CONV_INDEX_MAX (64-bit arithmetic: nothing overflows). */
static clmp_status axis_out(const char *op, int a, size_t in, size_t k, const clmp_conv2d_params *p,
                            size_t *out) {
  uint64_t pad = p->padding[a], dil = p->dilation[a], stride = p->stride[a];
  if (in > CONV_INDEX_MAX || k > CONV_INDEX_MAX || pad > CONV_INDEX_MAX || dil > CONV_INDEX_MAX ||
      stride > CONV_INDEX_MAX)
    return CLMP_FAIL(CLMP_ERR_SIZE_OVERFLOW,
                     "%s: %s %zu, kernel %zu, p->stride[%d] %zu, p->padding[%d] %zu or "
                     "p->dilation[%d] %zu beyond 2^31 - 1",
                     op, AXES[a], in, k, a, p->stride[a], a, p->padding[a], a, p->dilation[a]);
  uint64_t padded = in + 2 * pad, extent = dil * (k - 1) + 1;
  if (padded > CONV_INDEX_MAX || extent > CONV_INDEX_MAX)
    return CLMP_FAIL(CLMP_ERR_SIZE_OVERFLOW,
                     "%s: padded %s %llu or dilated kernel %llu beyond 2^31 - 1 (p->padding[%d], "
                     "p->dilation[%d])",
                     op, AXES[a], (unsigned long long)padded, (unsigned long long)extent, a, a);
  if (extent > padded)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                     "%s: the dilated kernel (%llu) is wider than the padded %s (%llu): the output "
                     "would be empty",
                     op, (unsigned long long)extent, AXES[a], (unsigned long long)padded);
  *out = (size_t)((padded - extent) / stride + 1);
  return CLMP_SUCCESS;
}

/* ys = [N, O, Ho, Wo] for xs = [N, C, H, W] and ws = [O, C / groups, kh, kw]; x and w name the
 * arrays in messages. ys is written only on success. */
static clmp_status conv_shape(const char *op, const char *x, const char *w, const size_t xs[4],
                              const size_t ws[4], const clmp_conv2d_params *p, size_t ys[4]) {
  clmp_status st = check_params(op, p);
  if (st != CLMP_SUCCESS) return st;
  for (int i = 0; i < 4; i++)
    if (!xs[i] || !ws[i])
      return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s[%d] is 0", op, xs[i] ? w : x, i);
  size_t g = p->groups, out[2] = {0, 0};
  if (xs[1] % g || ws[0] % g)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                     "%s: p->groups %zu does not divide the channels of %s (%zu) and %s (%zu)", op,
                     g, x, xs[1], w, ws[0]);
  if (xs[1] / g != ws[1])
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                     "%s: %s has %zu input channels per group, %s has %zu / p->groups %zu", op, w,
                     ws[1], x, xs[1], g);
  if (xs[1] > CONV_INDEX_MAX || ws[0] > CONV_INDEX_MAX || ws[2] > CONV_INDEX_MAX ||
      ws[3] > CONV_INDEX_MAX || (uint64_t)ws[2] * ws[3] > CONV_INDEX_MAX / xs[1])
    return CLMP_FAIL(CLMP_ERR_SIZE_OVERFLOW,
                     "%s: %zu channels in, %zu out, %zu x %zu taps: beyond 2^31 - 1", op, xs[1],
                     ws[0], ws[2], ws[3]);
  for (int a = 0; a < 2 && st == CLMP_SUCCESS; a++)
    st = axis_out(op, a, xs[2 + a], ws[2 + a], p, &out[a]);
  if (st == CLMP_SUCCESS) ys[0] = xs[0], ys[1] = ws[0], ys[2] = out[0], ys[3] = out[1];
  return st;
}

clmp_status clmp_conv2d_output_shape(const size_t x_shape[4], const size_t w_shape[4],
                                     const clmp_conv2d_params *p, size_t y_shape[4]) {
  const char *op = "clmp_conv2d_output_shape";
  if (!x_shape || !w_shape || !y_shape)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op,
                     !x_shape   ? "x_shape"
                     : !w_shape ? "w_shape"
                                : "y_shape");
  return conv_shape(op, "x_shape", "w_shape", x_shape, w_shape, p, y_shape);
}

/* The geometry of shapes already checked. */
static conv_geom geom_of(const size_t xs[4], const size_t ws[4], const size_t ys[4],
                         const clmp_conv2d_params *p) {
  conv_geom g = {.n = xs[0],
                 .c = xs[1],
                 .h = xs[2],
                 .w = xs[3],
                 .o = ws[0],
                 .kh = ws[2],
                 .kw = ws[3],
                 .ho = ys[2],
                 .wo = ys[3],
                 .groups = p->groups,
                 .prm = p};
  g.cg = g.c / g.groups, g.og = g.o / g.groups, g.kg = g.cg * g.kh * g.kw;
  g.ktot = g.c * g.kh * g.kw, g.p = g.ho * g.wo;
  return g;
}

/* --- the workspace's layout ------------------------------------------------------------------- */

/* The regions of an op's workspace: dtype, elements per image of a chunk, elements whatever the
 * chunk (a count of 0: no region). */
typedef struct conv_layout {
  clmp_dtype dtype[CONV_REGIONS];
  size_t per_image[CONV_REGIONS], fixed[CONV_REGIONS];
} conv_layout;

/* The layout of an op with dtypes d (image side, filter, output side). */
static conv_layout layout_of(conv_kind kind, const conv_geom *g, const clmp_dtype d[3]) {
  conv_layout l = {{CLMP_F32, CLMP_F32, CLMP_F32}, {0, 0, 0}, {0, 0, 0}};
  l.dtype[R_COL] = kind == CONV_DATA ? CLMP_F32 : d[T_IMAGE];
  l.per_image[R_COL] = g->ktot * g->p;
  l.dtype[R_MID] = d[T_PLANES];
  l.per_image[R_MID] = g->o * g->p;
  l.fixed[R_ACC] = kind == CONV_FILTER ? g->o * g->kg : 0;
  return l;
}

/* *out = a * b + c, or 0 when that overflows size_t. */
static int mul_add(size_t a, size_t b, size_t c, size_t *out) {
  if (b && a > (SIZE_MAX - c) / b) return 0;
  *out = a * b + c;
  return 1;
}

/* The bytes of the layout for chunks of nb images from an aligned start; 0 on overflow. */
static size_t layout_bytes(const conv_layout *l, size_t nb) {
  size_t total = 0, count = 0, bytes = 0;
  for (int r = 0; r < CONV_REGIONS; r++) {
    if (!mul_add(l->per_image[r], nb, l->fixed[r], &count) ||
        !mul_add(count, clmp_dtype_size(l->dtype[r]), CONV_ALIGN, &bytes) ||
        !mul_add(1, total, bytes, &total))
      return 0;
  }
  return total;
}

/* The most images whose layout fits bytes (0: not even one). */
static size_t images_fitting(const conv_layout *l, size_t bytes, size_t n) {
  size_t one = layout_bytes(l, 1), fixed = layout_bytes(l, 0);
  if (!one || one > bytes) return 0;
  size_t nb = 1 + (bytes - one) / (one - fixed);
  return nb < n ? nb : n;
}

/* On CPUs a chunk's columns take at most CONV_CPU_CHUNK_BYTES (one image at least), so that the
 * GEMM finds them in the cache that im2col left them in, and a chunk has at most
 * CONV_CPU_CHUNK_COLUMNS output pixels, beyond which the GEMM runs slower. PoCL, 2 cores: f16
 * 64 ch 56x56 8 images 15.6 GFLOP/s in chunks of 1 image, 12.0 in one chunk of 8; the CLBlast
 * Sgemm of 1 -> 32 channels 3x3 on 28x28, 128 images: 16.2 ms in one chunk, 9.6-10 in chunks of
 * 8 to 32 images, 28 in chunks of 1. */
#define CONV_CPU_CHUNK_BYTES   ((size_t)8 << 20)
#define CONV_CPU_CHUNK_COLUMNS ((size_t)8192)

/* The most images per chunk on ctx whatever the workspace: within the GEMM's column limit, and
 * the CPU limits above. */
static size_t chunk_cap(const clmp_ctx *ctx, const conv_layout *l, const conv_geom *g) {
  size_t cap = CONV_INDEX_MAX / g->p;
  size_t col = l->per_image[R_COL] * clmp_dtype_size(l->dtype[R_COL]);
  if (ctx->info.kind != CLMP_DEVICE_CPU || !col) return cap;
  size_t by_bytes = CONV_CPU_CHUNK_BYTES / col, by_columns = CONV_CPU_CHUNK_COLUMNS / g->p;
  cap = by_bytes < cap ? by_bytes : cap;
  cap = by_columns < cap ? by_columns : cap;
  return cap ? cap : 1;
}

clmp_status clmp_conv2d_workspace_size(const clmp_ctx *ctx, const size_t x_shape[4],
                                       const size_t w_shape[4], const clmp_conv2d_params *p,
                                       size_t *bytes) {
  const char *op = "clmp_conv2d_workspace_size";
  size_t ys[4];
  if (!ctx || !bytes || !x_shape || !w_shape)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op,
                     !ctx       ? "ctx"
                     : !bytes   ? "bytes"
                     : !x_shape ? "x_shape"
                                : "w_shape");
  clmp_status st = conv_shape(op, "x_shape", "w_shape", x_shape, w_shape, p, ys);
  if (st != CLMP_SUCCESS) return st;
  if (ctx->is_ref) return *bytes = 0, CLMP_SUCCESS;
  conv_geom g = geom_of(x_shape, w_shape, ys, p);
  static const clmp_dtype widest[3] = {CLMP_F32, CLMP_F32, CLMP_F32};
  size_t need = 0;
  for (int k = CONV_FORWARD; k <= CONV_FILTER; k++) {
    conv_layout l = layout_of((conv_kind)k, &g, widest);
    size_t b = layout_bytes(&l, g.n);
    if (!b || !mul_add(1, b, CONV_ALIGN, &b)) /* and the workspace's start aligned */
      return CLMP_FAIL(CLMP_ERR_SIZE_OVERFLOW, "%s: the workspace overflows size_t", op);
    need = b > need ? b : need;
  }
  *bytes = need;
  return CLMP_SUCCESS;
}

/* --- argument checks -------------------------------------------------------------------------- */

/* One tensor: a float tensor of 4 dimensions. */
static clmp_status check_4d(const conv_call *c, int k) {
  clmp_status st = clmp__check_float(c->t[k], c->op, c->name[k]);
  if (st == CLMP_SUCCESS && c->t[k]->ndim != 4)
    st = CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s has %d dimensions (4 needed: %s)", c->op,
                   c->name[k], c->t[k]->ndim, k == T_FILTER ? "O, C / groups, kh, kw" : "NCHW");
  return st;
}

/* The output side's shape against the one the image and the filter give. */
static clmp_status check_planes(const conv_call *c, const size_t ys[4]) {
  const size_t *s = c->t[T_PLANES]->shape;
  if (s[0] == ys[0] && s[1] == ys[1] && s[2] == ys[2] && s[3] == ys[3]) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                   "%s: %s is [%zu, %zu, %zu, %zu], [%zu, %zu, %zu, %zu] needed", c->op,
                   c->name[T_PLANES], s[0], s[1], s[2], s[3], ys[0], ys[1], ys[2], ys[3]);
}

/* The output overlaps neither input, and the workspace none of the three. */
static clmp_status check_memory(const conv_call *c) {
  clmp_status st = CLMP_SUCCESS;
  for (int k = 0; k < CONV_TENSORS && st == CLMP_SUCCESS; k++) {
    if (k != c->out)
      st = clmp__check_disjoint(c->t[c->out], c->t[k], 0, c->op, c->name[c->out], c->name[k]);
    if (st == CLMP_SUCCESS && c->ws)
      st = clmp__check_disjoint(c->ws, c->t[k], 0, c->op, "workspace", c->name[k]);
  }
  return st;
}

/* Every check of an op; *g receives its geometry. */
static clmp_status check_call(const conv_call *c, conv_geom *g) {
  clmp_status st = CLMP_SUCCESS;
  size_t ys[4];
  for (int k = 0; k < CONV_TENSORS && st == CLMP_SUCCESS; k++) st = check_4d(c, k);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(c->t[T_IMAGE], c->t[T_FILTER], c->op);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(c->t[T_IMAGE], c->t[T_PLANES], c->op);
  if (st == CLMP_SUCCESS && c->ws) st = clmp__check_same_ctx(c->t[T_IMAGE], c->ws, c->op);
  if (st == CLMP_SUCCESS)
    st = conv_shape(c->op, c->name[T_IMAGE], c->name[T_FILTER], c->t[T_IMAGE]->shape,
                    c->t[T_FILTER]->shape, c->p, ys);
  if (st == CLMP_SUCCESS) st = check_planes(c, ys);
  if (st == CLMP_SUCCESS) st = check_memory(c);
  if (st == CLMP_SUCCESS) *g = geom_of(c->t[T_IMAGE]->shape, c->t[T_FILTER]->shape, ys, c->p);
  return st;
}

/* --- dispatch --------------------------------------------------------------------------------- */

static conv_layout call_layout(const conv_call *c, const conv_geom *g) {
  clmp_dtype d[3] = {c->t[T_IMAGE]->dtype, c->t[T_FILTER]->dtype, c->t[T_PLANES]->dtype};
  return layout_of(c->kind, g, d);
}

/* The workspace bytes from the tensor's first byte aligned to CONV_ALIGN in its buffer. */
static size_t usable_bytes(const clmp_tensor *ws) {
  size_t start = ws->offset, end = start + clmp_tensor_nbytes(ws);
  size_t aligned = (start + CONV_ALIGN - 1) / CONV_ALIGN * CONV_ALIGN;
  return aligned < end ? end - aligned : 0;
}

/* A workspace for the call: as many images as chunk_cap allows and the device's largest buffer
 * holds (the start's alignment included), at least one (too large a one fails to allocate). */
static clmp_status workspace_own(clmp_ctx *ctx, const conv_layout *l, const conv_geom *g,
                                 clmp_tensor **own) {
  size_t limit = ctx->info.max_alloc > CONV_ALIGN ? (size_t)ctx->info.max_alloc - CONV_ALIGN : 0;
  size_t nb = images_fitting(l, limit, g->n), cap = chunk_cap(ctx, l, g), bytes = 0;
  nb = nb < cap ? nb : cap;
  if (!mul_add(1, layout_bytes(l, nb ? nb : 1), CONV_ALIGN, &bytes))
    return CLMP_FAIL(CLMP_ERR_SIZE_OVERFLOW, "conv2d: the workspace of one image overflows");
  return clmp_tensor_create(ctx, CLMP_U8, 1, &bytes, own);
}

/* On OpenCL devices: the caller's workspace if it holds one image's share, else a failure; with
 * none, *own: one allocated for the call, for the whole batch if the device allows a buffer that
 * large, else for as many images as it does. */
static clmp_status workspace_for(const conv_call *c, const conv_geom *g, clmp_tensor **own) {
  clmp_ctx *ctx = c->t[T_IMAGE]->ctx;
  conv_layout l = call_layout(c, g);
  size_t one = layout_bytes(&l, 1);
  *own = NULL;
  if (ctx->is_ref) return CLMP_SUCCESS;
  if (!one) return CLMP_FAIL(CLMP_ERR_SIZE_OVERFLOW, "%s: one image's workspace overflows", c->op);
  if (c->ws && images_fitting(&l, usable_bytes(c->ws), g->n) == 0)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                     "%s: the workspace has %zu bytes (%zu past its %u-byte alignment), one image "
                     "needs %zu past it (clmp_conv2d_workspace_size gives the whole batch's)",
                     c->op, clmp_tensor_nbytes(c->ws), usable_bytes(c->ws), CONV_ALIGN, one);
  return c->ws ? CLMP_SUCCESS : workspace_own(ctx, &l, g, own);
}

/* The checks, the workspace, then the context's backend. */
static clmp_status conv_run(const conv_call *c, float beta, clmp_tensor *ws) {
  conv_geom g;
  clmp_tensor *own = NULL;
  clmp_status st = check_call(c, &g);
  if (st == CLMP_SUCCESS) st = workspace_for(c, &g, &own);
  if (st != CLMP_SUCCESS) return st;
  const clmp__ops *ops = clmp__ops_of(c->t[T_IMAGE]->ctx);
  clmp_tensor *use = own ? own : ws, *out = (clmp_tensor *)c->t[c->out];
  if (c->kind == CONV_FORWARD)
    st = ops->conv2d(c->t[T_IMAGE], c->t[T_FILTER], c->p, use, out);
  else if (c->kind == CONV_DATA)
    st = ops->conv2d_backward_data(c->t[T_PLANES], c->t[T_FILTER], c->p, use, out);
  else
    st = ops->conv2d_backward_filter(c->t[T_IMAGE], c->t[T_PLANES], c->p, beta, use, out);
  clmp_tensor_free(own);
  return st;
}

clmp_status clmp_conv2d(const clmp_tensor *x, const clmp_tensor *w, const clmp_conv2d_params *p,
                        clmp_tensor *workspace, clmp_tensor *y) {
  conv_call c = {"clmp_conv2d", CONV_FORWARD, {x, w, y}, {"x", "w", "y"}, T_PLANES, p, workspace};
  return conv_run(&c, 0.0f, workspace);
}

clmp_status clmp_conv2d_backward_data(const clmp_tensor *dy, const clmp_tensor *w,
                                      const clmp_conv2d_params *p, clmp_tensor *workspace,
                                      clmp_tensor *dx) {
  conv_call c = {"clmp_conv2d_backward_data",
                 CONV_DATA,
                 {dx, w, dy},
                 {"dx", "w", "dy"},
                 T_IMAGE,
                 p,
                 workspace};
  return conv_run(&c, 0.0f, workspace);
}

clmp_status clmp_conv2d_backward_filter(const clmp_tensor *x, const clmp_tensor *dy,
                                        const clmp_conv2d_params *p, float beta,
                                        clmp_tensor *workspace, clmp_tensor *dw) {
  conv_call c = {"clmp_conv2d_backward_filter",
                 CONV_FILTER,
                 {x, dw, dy},
                 {"x", "dw", "dy"},
                 T_FILTER,
                 p,
                 workspace};
  return conv_run(&c, beta, workspace);
}

/* --- the OpenCL rows -------------------------------------------------------------------------- */

/* A planned op: its geometry, images per chunk, and the workspace's regions as views (not
 * allocated: they borrow the workspace's storage). */
typedef struct conv_plan {
  clmp_ctx *ctx;
  conv_geom g;
  size_t nb;
  int direct; /* backward_filter: one product per group, straight into dw (R_ACC unused) */
  clmp_tensor region[CONV_REGIONS];
} conv_plan;

/* The plan of an op on tensors already checked, d their dtypes (image, filter, output side);
 * pl->nb is 0 when the workspace holds no image. */
static void plan_make(conv_kind kind, const size_t xs[4], const size_t fs[4], const size_t ys[4],
                      const clmp_conv2d_params *p, const clmp_dtype d[3], clmp_tensor *ws,
                      conv_plan *pl) {
  memset(pl, 0, sizeof *pl);
  pl->ctx = ws->ctx, pl->g = geom_of(xs, fs, ys, p);
  conv_layout l = layout_of(kind, &pl->g, d);
  size_t fit = images_fitting(&l, usable_bytes(ws), pl->g.n), cap = chunk_cap(ws->ctx, &l, &pl->g);
  pl->nb = fit < cap ? fit : cap;
  size_t at = (ws->offset + CONV_ALIGN - 1) / CONV_ALIGN * CONV_ALIGN;
  for (int r = 0; r < CONV_REGIONS; r++) {
    size_t count = l.per_image[r] * pl->nb + l.fixed[r];
    pl->region[r] = (clmp_tensor){.ctx = ws->ctx,
                                  .dtype = l.dtype[r],
                                  .ndim = 1,
                                  .shape = {count},
                                  .numel = count,
                                  .offset = at,
                                  .storage = ws->storage};
    at += (count * clmp_dtype_size(l.dtype[r]) + CONV_ALIGN - 1) / CONV_ALIGN * CONV_ALIGN;
  }
}

/* The kernels of cl/conv.cl: a raw copy of elements of d, or a kernel storing d. */
static clmp_status conv_kernel(clmp_ctx *ctx, clmp_dtype d, int raw, const char *name,
                               cl_kernel *k) {
  char options[32];
  if (raw)
    snprintf(options, sizeof options, "-DCONV_ELEM=%s", d == CLMP_F32 ? "uint" : "ushort");
  else
    snprintf(options, sizeof options, "-DOUT_DT=%s", clmp__dtype_define(d));
  return clmp__kernel_get(ctx, "conv", options, name, k);
}

/* The work a kernel of cl/conv.cl covers: rows of len elements on CPUs (an item takes whole
 * rows), elements elsewhere. */
static size_t work_units(const clmp_ctx *ctx, size_t rows, size_t len) {
  return ctx->info.kind == CLMP_DEVICE_CPU ? rows : rows * len;
}

/* cl/conv.cl's int16 geometry (conv_geom's fields, in this order) for a chunk of nb images. */
static cl_int16 geom_arg(const conv_geom *g, size_t nb) {
  const clmp_conv2d_params *p = g->prm;
  size_t v[] = {g->c,           g->h,
                g->w,           g->ho,
                g->wo,          g->kh,
                g->kw,          p->stride[0],
                p->stride[1],   p->padding[0],
                p->padding[1],  p->dilation[0],
                p->dilation[1], nb};
  cl_int16 out;
  memset(&out, 0, sizeof out);
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) out.s[i] = (cl_int)v[i];
  return out;
}

/* col (R_COL) from the nb images of x from image n0 on. */
static clmp_status im2col(const conv_plan *pl, const clmp_tensor *x, size_t n0, size_t nb) {
  cl_kernel k = NULL;
  clmp_status st = conv_kernel(pl->ctx, x->dtype, 1, "conv_im2col", &k);
  if (st != CLMP_SUCCESS) return st;
  const conv_geom *g = &pl->g;
  cl_ulong x_off = clmp__elem_offset(x) + n0 * g->c * g->h * g->w;
  cl_ulong col_off = clmp__elem_offset(&pl->region[R_COL]);
  cl_int16 geo = geom_arg(g, nb);
  clmp__arg args[] = {CLMP_ARG(x->storage->mem), CLMP_ARG(x_off),
                      CLMP_ARG(pl->region[R_COL].storage->mem), CLMP_ARG(col_off), CLMP_ARG(geo)};
  return clmp__launch_1d(pl->ctx, k, "conv_im2col", args, 5,
                         work_units(pl->ctx, g->ktot * nb, g->p));
}

/* The shape of a swap: dst [z, nb, na, len] from src [z, na, nb, len]. */
typedef struct swap_shape {
  cl_ulong z, na, nb, len;
} swap_shape;

/* dst at element dst_off of dst from src at src_off (one dtype), swapped as s says. */
static clmp_status swap_axes(clmp_ctx *ctx, const clmp_tensor *src, cl_ulong src_off,
                             const clmp_tensor *dst, cl_ulong dst_off, swap_shape s) {
  cl_kernel k = NULL;
  clmp_status st = conv_kernel(ctx, src->dtype, 1, "conv_swap", &k);
  if (st != CLMP_SUCCESS) return st;
  src_off += clmp__elem_offset(src), dst_off += clmp__elem_offset(dst);
  clmp__arg args[] = {CLMP_ARG(src->storage->mem),
                      CLMP_ARG(src_off),
                      CLMP_ARG(dst->storage->mem),
                      CLMP_ARG(dst_off),
                      CLMP_ARG(s.z),
                      CLMP_ARG(s.na),
                      CLMP_ARG(s.nb),
                      CLMP_ARG(s.len)};
  return clmp__launch_1d(ctx, k, "conv_swap", args, 8, work_units(ctx, s.z * s.nb, s.na * s.len));
}

/* dy's nb images from n0 on, [nb, O, P], into R_MID as [O, nb, P]. */
static clmp_status dy_to_mid(const conv_plan *pl, const clmp_tensor *dy, size_t n0, size_t nb) {
  const conv_geom *g = &pl->g;
  swap_shape s = {1, nb, g->o, g->p};
  return swap_axes(pl->ctx, dy, n0 * g->o * g->p, &pl->region[R_MID], 0, s);
}

/* dx's nb images from image n0 on, gathered from dcol (R_COL). */
static clmp_status col2im(const conv_plan *pl, const clmp_tensor *dx, size_t n0, size_t nb) {
  cl_kernel k = NULL;
  clmp_status st = conv_kernel(pl->ctx, dx->dtype, 0, "conv_col2im", &k);
  if (st != CLMP_SUCCESS) return st;
  const conv_geom *g = &pl->g;
  cl_ulong dcol_off = clmp__elem_offset(&pl->region[R_COL]);
  cl_ulong dx_off = clmp__elem_offset(dx) + n0 * g->c * g->h * g->w;
  cl_int16 geo = geom_arg(g, nb);
  clmp__arg args[] = {CLMP_ARG(pl->region[R_COL].storage->mem), CLMP_ARG(dcol_off),
                      CLMP_ARG(dx->storage->mem), CLMP_ARG(dx_off), CLMP_ARG(geo)};
  return clmp__launch_1d(pl->ctx, k, "conv_col2im", args, 5,
                         work_units(pl->ctx, nb * g->c * g->h, g->w));
}

/* dw = acc (R_ACC) + beta * dw. */
static clmp_status dw_finish(const conv_plan *pl, float beta, const clmp_tensor *dw) {
  cl_kernel k = NULL;
  clmp_status st = conv_kernel(pl->ctx, dw->dtype, 0, "conv_dw_finish", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong acc_off = clmp__elem_offset(&pl->region[R_ACC]), dw_off = clmp__elem_offset(dw);
  cl_ulong n = dw->numel;
  clmp__arg args[] = {CLMP_ARG(pl->region[R_ACC].storage->mem),
                      CLMP_ARG(acc_off),
                      CLMP_ARG(beta),
                      CLMP_ARG(dw->storage->mem),
                      CLMP_ARG(dw_off),
                      CLMP_ARG(n)};
  return clmp__launch_1d(pl->ctx, k, "conv_dw_finish", args, 6, dw->numel);
}

static clmp_matrix mat(const clmp_tensor *t, size_t offset, size_t rows, size_t cols, size_t ld) {
  return (clmp_matrix){t, offset, rows, cols, ld};
}

/* C = op(A) op(B) + beta C through the GEMM row (arguments already checked). */
static clmp_status gemm(clmp_transpose ta, clmp_transpose tb, clmp_matrix a, clmp_matrix b,
                        float beta, clmp_matrix c) {
  return clmp__cl_gemm(ta, tb, 1.0f, &a, &b, beta, &c);
}

/* The filter of group gi as a matrix [og, kg] of t (w, dw, or the accumulator). */
static clmp_matrix filter_of(const conv_geom *g, const clmp_tensor *t, size_t gi) {
  return mat(t, gi * g->og * g->kg, g->og, g->kg, g->kg);
}

/* Group gi's rows of a region of `rows` rows per group and np columns (col or dcol: kg rows,
 * dy permuted: og). */
static clmp_matrix rows_of(const clmp_tensor *t, size_t rows, size_t gi, size_t np) {
  return mat(t, gi * rows * np, rows, np, np);
}

/* Whether the GEMM runs Y_g = W_g col_g [og, nb P] (wide) rather than Y_g^T = col_g^T W_g^T
 * [nb P, og] (tall): CLBlast's Sgemm (f32 throughout) is fastest wide, the portable kernel tall.
 * PoCL, 2 cores, GFLOP/s wide / tall: Sgemm 64 x 7252 x 288 8.7 / 5.9 (TT); f16 64 x 3136 x 576
 * 9.6 / 13.6. */
static int forward_wide(const clmp_tensor *x, const clmp_tensor *w, const clmp_tensor *y) {
  return x->dtype == CLMP_F32 && w->dtype == CLMP_F32 && y->dtype == CLMP_F32;
}

/* y's nb images from n0 on, from col: per group the product (forward_wide) into R_MID, [O, nb,
 * P] or [nb, P, O], then permuted into y. */
static clmp_status forward_chunk(const conv_plan *pl, const clmp_tensor *w, clmp_tensor *y,
                                 int wide, size_t n0, size_t nb) {
  const conv_geom *g = &pl->g;
  const clmp_tensor *col = &pl->region[R_COL], *mid = &pl->region[R_MID];
  size_t np = nb * g->p;
  clmp_status st = CLMP_SUCCESS;
  for (size_t gi = 0; gi < g->groups && st == CLMP_SUCCESS; gi++) {
    if (wide)
      st = gemm(CLMP_NO_TRANS, CLMP_NO_TRANS, filter_of(g, w, gi), rows_of(col, g->kg, gi, np),
                0.0f, rows_of(mid, g->og, gi, np));
    else
      st = gemm(CLMP_TRANS, CLMP_TRANS, rows_of(col, g->kg, gi, np), filter_of(g, w, gi), 0.0f,
                mat(mid, gi * g->og, np, g->og, g->o));
  }
  swap_shape wide_swap = {1, g->o, nb, g->p}, tall_swap = {nb, g->p, g->o, 1};
  if (st != CLMP_SUCCESS) return st;
  return swap_axes(pl->ctx, mid, 0, y, n0 * g->o * g->p, wide ? wide_swap : tall_swap);
}

/* dx's nb images from n0 on: dy permuted into R_MID, dcol_g = W_g^T dY_g, then the gather. */
static clmp_status data_chunk(const conv_plan *pl, const clmp_tensor *dy, const clmp_tensor *w,
                              clmp_tensor *dx, size_t n0, size_t nb) {
  const conv_geom *g = &pl->g;
  const clmp_tensor *dcol = &pl->region[R_COL], *mid = &pl->region[R_MID];
  size_t np = nb * g->p;
  clmp_status st = dy_to_mid(pl, dy, n0, nb);
  for (size_t gi = 0; gi < g->groups && st == CLMP_SUCCESS; gi++)
    st = gemm(CLMP_TRANS, CLMP_NO_TRANS, filter_of(g, w, gi), rows_of(mid, g->og, gi, np), 0.0f,
              rows_of(dcol, g->kg, gi, np));
  return st == CLMP_SUCCESS ? col2im(pl, dx, n0, nb) : st;
}

/* dW_g += dY_g col_g^T for the nb images from n0 on: into dw itself (with beta) when this is the
 * only product of each group, else into the fp32 accumulator (R_ACC), which the first chunk
 * overwrites. */
static clmp_status filter_chunk(const conv_plan *pl, const clmp_tensor *x, const clmp_tensor *dy,
                                float beta, clmp_tensor *dw, size_t n0, size_t nb) {
  const conv_geom *g = &pl->g;
  const clmp_tensor *col = &pl->region[R_COL], *mid = &pl->region[R_MID];
  const clmp_tensor *c = pl->direct ? dw : &pl->region[R_ACC];
  float beta_c = pl->direct ? beta : n0 ? 1.0f : 0.0f;
  size_t np = nb * g->p;
  clmp_status st = im2col(pl, x, n0, nb);
  if (st == CLMP_SUCCESS) st = dy_to_mid(pl, dy, n0, nb);
  for (size_t gi = 0; gi < g->groups && st == CLMP_SUCCESS; gi++)
    st = gemm(CLMP_NO_TRANS, CLMP_TRANS, rows_of(mid, g->og, gi, np), rows_of(col, g->kg, gi, np),
              beta_c, filter_of(g, c, gi));
  return st;
}

/* The plan of a row's call; a workspace that holds no image (the dispatcher refuses it first)
 * fails. */
static clmp_status row_plan(conv_kind kind, const clmp_tensor *img, const clmp_tensor *flt,
                            const clmp_tensor *planes, const clmp_conv2d_params *p, clmp_tensor *ws,
                            conv_plan *pl) {
  clmp_dtype d[3] = {img->dtype, flt->dtype, planes->dtype};
  if (!ws) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "conv2d (OpenCL): no workspace");
  plan_make(kind, img->shape, flt->shape, planes->shape, p, d, ws, pl);
  if (pl->nb) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "conv2d (OpenCL): the workspace holds no image");
}

/* The images of the chunk that starts at n0. */
static size_t chunk_at(const conv_plan *pl, size_t n0) {
  return pl->g.n - n0 < pl->nb ? pl->g.n - n0 : pl->nb;
}

clmp_status clmp__cl_conv2d(const clmp_tensor *x, const clmp_tensor *w, const clmp_conv2d_params *p,
                            clmp_tensor *ws, clmp_tensor *y) {
  conv_plan pl;
  clmp_status st = row_plan(CONV_FORWARD, x, w, y, p, ws, &pl);
  for (size_t n0 = 0; st == CLMP_SUCCESS && n0 < pl.g.n; n0 += pl.nb) {
    st = im2col(&pl, x, n0, chunk_at(&pl, n0));
    if (st == CLMP_SUCCESS)
      st = forward_chunk(&pl, w, y, forward_wide(x, w, y), n0, chunk_at(&pl, n0));
  }
  return st;
}

clmp_status clmp__cl_conv2d_backward_data(const clmp_tensor *dy, const clmp_tensor *w,
                                          const clmp_conv2d_params *p, clmp_tensor *ws,
                                          clmp_tensor *dx) {
  conv_plan pl;
  clmp_status st = row_plan(CONV_DATA, dx, w, dy, p, ws, &pl);
  for (size_t n0 = 0; st == CLMP_SUCCESS && n0 < pl.g.n; n0 += pl.nb)
    st = data_chunk(&pl, dy, w, dx, n0, chunk_at(&pl, n0));
  return st;
}

clmp_status clmp__cl_conv2d_backward_filter(const clmp_tensor *x, const clmp_tensor *dy,
                                            const clmp_conv2d_params *p, float beta,
                                            clmp_tensor *ws, clmp_tensor *dw) {
  conv_plan pl;
  clmp_status st = row_plan(CONV_FILTER, x, dw, dy, p, ws, &pl);
  if (st == CLMP_SUCCESS) pl.direct = pl.nb >= pl.g.n;
  for (size_t n0 = 0; st == CLMP_SUCCESS && n0 < pl.g.n; n0 += pl.nb)
    st = filter_chunk(&pl, x, dy, beta, dw, n0, chunk_at(&pl, n0));
  if (st == CLMP_SUCCESS && !pl.direct) st = dw_finish(&pl, beta, dw);
  return st;
}
