/* host/ops/reduce.c: clmp_nonfinite_check and clmp_sum_squares: argument checks and their OpenCL
 * launches (cl/reduce.cl). The sum of squares runs in two fixed stages, so its order of
 * additions, and with it the result, depends only on the element count and the device; its
 * partial sums live in the context's scratch buffer. */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "reduce.h"

/* Work-items of a reduction work-group, at most (a power of two within the device's limit). */
#define REDUCE_GROUP_SIZE 256
/* Work-groups of the first stage per compute unit, and in all: enough to keep a GPU's memory
 * busy, few enough for one work-group to combine their partials. */
#define REDUCE_GROUPS_PER_CU 8
#define REDUCE_MAX_GROUPS    1024
/* Work-groups of plane_partials per compute unit on GPUs (of CLMP__LANES items each): enough
 * resident groups to hide memory latency; the kernel strides over the rest. */
#define SUM_GROUPS_PER_CU 32

/* The largest power of two <= REDUCE_GROUP_SIZE that the device allows in a work-group. */
static size_t group_size(const clmp_ctx *ctx) {
  size_t gs = REDUCE_GROUP_SIZE;
  while (gs > 1 && gs > ctx->info.max_work_group) gs /= 2;
  return gs;
}

/* First-stage work-groups for n elements: one per group_size elements, capped per device. */
static size_t stage_groups(const clmp_ctx *ctx, size_t n, size_t gs) {
  size_t cus = ctx->info.compute_units ? ctx->info.compute_units : 1;
  size_t cap = cus * REDUCE_GROUPS_PER_CU < REDUCE_MAX_GROUPS ? cus * REDUCE_GROUPS_PER_CU
                                                              : REDUCE_MAX_GROUPS;
  size_t g = (n + gs - 1) / gs;
  return g < cap ? g : cap;
}

clmp_status clmp__cl_nonfinite_check(const clmp_tensor *x, clmp_tensor *flag) {
  char options[64];
  snprintf(options, sizeof options, "-DX_DT=%s -DGROUP_SIZE=%zu", clmp__dtype_define(x->dtype),
           group_size(x->ctx));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(x->ctx, "reduce", options, "nonfinite_check", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(x), n = x->numel, flag_off = clmp__elem_offset(flag);
  clmp__arg args[] = {CLMP_ARG(x->storage->mem), CLMP_ARG(x_off), CLMP_ARG(n),
                      CLMP_ARG(flag->storage->mem), CLMP_ARG(flag_off)};
  return clmp__launch_1d(x->ctx, k, "nonfinite_check", args, 5, x->numel);
}

/* The first stage: partials[g] for each of groups blocks of x. */
static clmp_status sumsq_partials(const clmp_tensor *x, const char *options, size_t groups,
                                  size_t gs, cl_mem partials) {
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(x->ctx, "reduce", options, "sumsq_partials", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong x_off = clmp__elem_offset(x), n = x->numel, block = (n + groups - 1) / groups;
  clmp__arg args[] = {CLMP_ARG(x->storage->mem), CLMP_ARG(x_off), CLMP_ARG(n), CLMP_ARG(block),
                      CLMP_ARG(partials)};
  return clmp__launch(x->ctx, k, "sumsq_partials", args, 5, groups * gs, gs);
}

/* The second stage: out[0] = sum of the partials + beta * out[0], by one work-group. */
static clmp_status sumsq_final(clmp_tensor *out, const char *options, cl_mem partials,
                               size_t groups, size_t gs, float beta) {
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(out->ctx, "reduce", options, "sumsq_final", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong n = groups, out_off = clmp__elem_offset(out);
  clmp__arg args[] = {CLMP_ARG(partials), CLMP_ARG(n), CLMP_ARG(beta), CLMP_ARG(out->storage->mem),
                      CLMP_ARG(out_off)};
  return clmp__launch(out->ctx, k, "sumsq_final", args, 5, gs, gs);
}

clmp_status clmp__cl_sum_squares(const clmp_tensor *x, float beta, clmp_tensor *out) {
  clmp_ctx *ctx = x->ctx;
  size_t gs = group_size(ctx), groups = stage_groups(ctx, x->numel, gs);
  char options[64];
  snprintf(options, sizeof options, "-DX_DT=%s -DGROUP_SIZE=%zu", clmp__dtype_define(x->dtype), gs);
  cl_mem partials = NULL;
  clmp_status st = clmp__scratch(ctx, groups * sizeof(float), &partials);
  if (st == CLMP_SUCCESS) st = sumsq_partials(x, options, groups, gs, partials);
  if (st == CLMP_SUCCESS) st = sumsq_final(out, options, partials, groups, gs, beta);
  return st;
}

clmp_status clmp_nonfinite_check(const clmp_tensor *x, clmp_tensor *flag) {
  const char *op = "clmp_nonfinite_check";
  clmp_status st = clmp__check_float(x, op, "x");
  if (st == CLMP_SUCCESS) st = clmp__check_scalar(flag, CLMP_I32, x, op, "flag");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(flag, x, 0, op, "flag", "x");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(x->ctx)->nonfinite_check(x, flag);
}

clmp_status clmp_sum_squares(const clmp_tensor *x, float beta, clmp_tensor *out) {
  const char *op = "clmp_sum_squares";
  clmp_status st = clmp__check_float(x, op, "x");
  if (st == CLMP_SUCCESS) st = clmp__check_scalar(out, CLMP_F32, x, op, "out");
  if (st == CLMP_SUCCESS) st = clmp__check_disjoint(out, x, 0, op, "out", "x");
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(x->ctx)->sum_squares(x, beta, out);
}

/* The layout of the first stage: plane chunks, or row blocks for per-channel sums of small
 * planes. */
static clmp__partials first_layout(const clmp__sum *s) {
  clmp__ncs v = s->v;
  if (!s->per_plane && v.s < CLMP__LANES)
    return (clmp__partials){(v.n + CLMP__BLOCK_ROWS - 1) / CLMP__BLOCK_ROWS, v.s, 0, 0};
  size_t chunks = (v.s + CLMP__CHUNK - 1) / CLMP__CHUNK;
  return (clmp__partials){v.n * chunks, 1, chunks, 1};
}

/* Whether layout l is folded once more, and the rows it then has. */
static int folds_again(const clmp__sum *s, clmp__partials l) {
  return s->fold && !s->per_plane && l.rows > CLMP__FOLD_ROWS;
}

static size_t folded_rows(size_t rows) {
  return (rows + CLMP__BLOCK_ROWS - 1) / CLMP__BLOCK_ROWS;
}

static int terms_of(const clmp__sum *s) {
  return s->term == CLMP__TERM_DY_XMU ? 2 : 1;
}

clmp__partials clmp__sum_layout(const clmp__sum *s) {
  clmp__partials l = first_layout(s);
  while (folds_again(s, l)) l.rows = folded_rows(l.rows);
  return l;
}

size_t clmp__partials_count(clmp__ncs v, clmp__partials l) {
  return l.rows * v.c * l.sp;
}

/* The first stage's arrays, then room for the first fold's (later folds take less, and go back
 * and forth between the two regions). */
size_t clmp__sum_scratch(const clmp__sum *s) {
  clmp__partials l = first_layout(s), f = l;
  if (folds_again(s, l)) f.rows = folded_rows(l.rows);
  size_t room = folds_again(s, l) ? clmp__partials_count(s->v, f) : 0;
  return (size_t)terms_of(s) * (clmp__partials_count(s->v, l) + room);
}

size_t clmp__sum_depth(const clmp__sum *s) {
  clmp__partials l = first_layout(s);
  size_t chunk = s->v.s < CLMP__CHUNK ? s->v.s : CLMP__CHUNK;
  size_t d =
      l.by_planes ? (chunk + CLMP__LANES - 1) / CLMP__LANES + CLMP__LANES_LOG2 : CLMP__BLOCK_ROWS;
  for (; folds_again(s, l); l.rows = folded_rows(l.rows)) d += CLMP__BLOCK_ROWS;
  return d + (s->per_plane ? l.chunks : l.rows * l.sp);
}

/* One launch of cl/reduce.cl's partial sums: the term over x (and dy) of dtypes, the view
 * [n, c, s] with chunks per plane (0: row blocks), out from out_off with n_out floats a term. */
typedef struct sum_launch {
  clmp__term term;
  cl_mem x, dy, mean, out;
  cl_ulong x_off, dy_off, mean_off, out_off, n_out, n, c, s, chunks;
  clmp_dtype x_dt, dy_dt;
} sum_launch;

/* The range of a launch: a work-group per chunk on GPUs (striding beyond the cap), an item per
 * chunk where serial, an item per partial sum for row blocks. */
static clmp_status launch_range(clmp_ctx *ctx, cl_kernel k, const char *name, const clmp__arg *args,
                                int nargs, const sum_launch *l, int serial) {
  size_t count = l->chunks ? (size_t)(l->n * l->c * l->chunks) : (size_t)l->n_out;
  if (!l->chunks || serial) return clmp__launch_1d(ctx, k, name, args, nargs, count);
  size_t cap = (size_t)(ctx->info.compute_units ? ctx->info.compute_units : 1) * SUM_GROUPS_PER_CU;
  size_t groups = count < cap ? count : cap;
  return clmp__launch(ctx, k, name, args, nargs, groups * CLMP__LANES, CLMP__LANES);
}

static clmp_status launch_sum(clmp_ctx *ctx, const sum_launch *l) {
  int serial = ctx->info.kind == CLMP_DEVICE_CPU || ctx->info.max_work_group < CLMP__LANES;
  char options[192];
  snprintf(options, sizeof options,
           "-DX_DT=%s -DDY_DT=%s -DSUM_TERM=%d -DLANES=%d -DCHUNK=%d -DBLOCK_ROWS=%d -DSERIAL=%d",
           clmp__dtype_define(l->x_dt), clmp__dtype_define(l->dy_dt), (int)l->term, CLMP__LANES,
           CLMP__CHUNK, CLMP__BLOCK_ROWS, serial);
  const char *name = l->chunks ? "plane_partials" : "rows_partials";
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(ctx, "reduce", options, name, &k);
  if (st != CLMP_SUCCESS) return st;
  clmp__arg args[] = {CLMP_ARG(l->x),      CLMP_ARG(l->x_off), CLMP_ARG(l->dy),
                      CLMP_ARG(l->dy_off), CLMP_ARG(l->mean),  CLMP_ARG(l->mean_off),
                      CLMP_ARG(l->n),      CLMP_ARG(l->c),     CLMP_ARG(l->s),
                      CLMP_ARG(l->chunks), CLMP_ARG(l->out),   CLMP_ARG(l->out_off),
                      CLMP_ARG(l->n_out)};
  return launch_range(ctx, k, name, args, 13, l, serial);
}

/* One fold of one array: rows of width floats at element from, summed in row blocks, to. */
static clmp_status fold(clmp_ctx *ctx, cl_mem mem, cl_ulong from, size_t rows, size_t width,
                        cl_ulong to) {
  sum_launch l = {
      CLMP__TERM_X, mem,   mem, mem, mem,      from,    from, 0, to, folded_rows(rows) * width,
      rows,         width, 1,   0,   CLMP_F32, CLMP_F32};
  return launch_sum(ctx, &l);
}

clmp_status clmp__cl_partials(const clmp__sum *s, cl_mem out, cl_ulong out_off, cl_ulong *at) {
  clmp_ctx *ctx = s->x->ctx;
  const clmp_tensor *dy = s->dy ? s->dy : s->x;
  clmp__partials l = first_layout(s);
  cl_ulong count = clmp__partials_count(s->v, l), width = s->v.c * l.sp;
  sum_launch first = {s->term,
                      s->x->storage->mem,
                      dy->storage->mem,
                      s->mean ? s->mean : out,
                      out,
                      clmp__elem_offset(s->x),
                      clmp__elem_offset(dy),
                      s->mean_off,
                      out_off,
                      count,
                      s->v.n,
                      s->v.c,
                      s->v.s,
                      l.chunks,
                      s->x->dtype,
                      dy->dtype};
  clmp_status st = launch_sum(ctx, &first);
  cl_ulong here = out_off, other = out_off + (cl_ulong)terms_of(s) * count;
  while (st == CLMP_SUCCESS && folds_again(s, l)) {
    size_t rows = folded_rows(l.rows);
    for (int t = 0; st == CLMP_SUCCESS && t < terms_of(s); t++)
      st = fold(ctx, out, here + t * l.rows * width, l.rows, width, other + t * rows * width);
    cl_ulong swap = here;
    here = other, other = swap, l.rows = rows;
  }
  *at = here;
  return st;
}

clmp_status clmp__cl_partials_scratch(const clmp__sum *s, size_t extra, cl_mem *scratch,
                                      cl_ulong *at) {
  size_t floats = clmp__sum_scratch(s) + extra;
  clmp_status st = clmp__scratch(s->x->ctx, floats * sizeof(float), scratch);
  return st == CLMP_SUCCESS ? clmp__cl_partials(s, *scratch, 0, at) : st;
}
