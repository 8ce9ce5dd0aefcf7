/* host/ops/gemm.c: clmp_gemm and clmp_gemm_ex, their argument checks, and the OpenCL paths:
 * CLBlast's Sgemm for f32 x f32 -> f32, the tensor cores (host/ops/gemm_mma.c) where they take
 * the call, clmp's portable kernel (cl/gemm.cl) for everything else, and CLBlast's Hgemm (half
 * accumulation) only when CLMP_HGEMM=1 asks for it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "clmp/convert.h"
#include "gemm.h"

/* After table.h, whose runtime.h sets the OpenCL version that CL/opencl.h then sees. */
#include <clblast_c.h>

/* --- argument checks ------------------------------------------------------------------------ */

/* *out = a * b + c, or 0 when that overflows size_t. */
static int mul_add(size_t a, size_t b, size_t c, size_t *out) {
  if (b && a > (SIZE_MAX - c) / b) return 0;
  *out = a * b + c;
  return 1;
}

/* One past the matrix's last element, in elements from the tensor's start; 0 on overflow. */
static size_t matrix_end(const clmp_matrix *m) {
  size_t span = 0;
  if (!mul_add(m->rows - 1, m->ld, m->cols, &span) || span > SIZE_MAX - m->offset) return 0;
  return span + m->offset;
}

/* A matrix argument on its own: a float tensor, non-empty, ld >= cols, inside its tensor. op
 * names the public function in messages. */
static clmp_status check_matrix(const char *op, const clmp_matrix *m, const char *name) {
  clmp_status st = clmp__check_float(m->t, op, name);
  if (st != CLMP_SUCCESS) return st;
  if (!m->rows || !m->cols)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s is %zu x %zu (empty)", op, name, m->rows,
                     m->cols);
  if (m->ld < m->cols)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE, "%s: %s has ld %zu < cols %zu", op, name, m->ld,
                     m->cols);
  size_t end = matrix_end(m);
  if (!end || end > m->t->numel)
    return CLMP_FAIL(CLMP_ERR_OUT_OF_BOUNDS,
                     "%s: %s (offset %zu, %zu x %zu, ld %zu) reaches beyond its tensor of %zu "
                     "elements",
                     op, name, m->offset, m->rows, m->cols, m->ld, m->t->numel);
  return CLMP_SUCCESS;
}

/* op(X)'s rows and columns. */
static size_t op_rows(clmp_transpose t, const clmp_matrix *m) {
  return t == CLMP_TRANS ? m->cols : m->rows;
}
static size_t op_cols(clmp_transpose t, const clmp_matrix *m) {
  return t == CLMP_TRANS ? m->rows : m->cols;
}

/* op(A) [M, K] x op(B) [K, N] -> C [M, N]. */
static clmp_status check_shapes(const char *op, clmp_transpose ta, clmp_transpose tb,
                                const clmp_matrix *a, const clmp_matrix *b, const clmp_matrix *c) {
  size_t m = op_rows(ta, a), k = op_cols(ta, a), kb = op_rows(tb, b), n = op_cols(tb, b);
  if (k != kb || c->rows != m || c->cols != n)
    return CLMP_FAIL(CLMP_ERR_INVALID_SHAPE,
                     "%s: op(A) [%zu, %zu] x op(B) [%zu, %zu] does not give C [%zu, %zu]", op, m, k,
                     kb, n, c->rows, c->cols);
  return CLMP_SUCCESS;
}

/* Whether the byte ranges of x and c share storage and intersect (then C would be written while
 * x is read: refused, though interleaved rows that never touch would be harmless). */
static int overlaps(const clmp_matrix *x, const clmp_matrix *c) {
  if (x->t->storage != c->t->storage) return 0;
  size_t xs = clmp_dtype_size(x->t->dtype), cs = clmp_dtype_size(c->t->dtype);
  size_t x0 = x->t->offset + x->offset * xs, x1 = x->t->offset + matrix_end(x) * xs;
  size_t c0 = c->t->offset + c->offset * cs, c1 = c->t->offset + matrix_end(c) * cs;
  return x0 < c1 && c0 < x1;
}

static clmp_status check_gemm(const char *op, clmp_transpose ta, clmp_transpose tb,
                              const clmp_matrix *a, const clmp_matrix *b, const clmp_matrix *c) {
  if ((ta != CLMP_NO_TRANS && ta != CLMP_TRANS) || (tb != CLMP_NO_TRANS && tb != CLMP_TRANS))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: transpose %d, %d", op, (int)ta, (int)tb);
  clmp_status st = check_matrix(op, a, "A");
  if (st == CLMP_SUCCESS) st = check_matrix(op, b, "B");
  if (st == CLMP_SUCCESS) st = check_matrix(op, c, "C");
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(a->t, c->t, op);
  if (st == CLMP_SUCCESS) st = clmp__check_same_ctx(b->t, c->t, op);
  if (st == CLMP_SUCCESS) st = check_shapes(op, ta, tb, a, b, c);
  if (st == CLMP_SUCCESS && (overlaps(a, c) || overlaps(b, c)))
    st = CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "%s: C overlaps %s in memory", op,
                   overlaps(a, c) ? "A" : "B");
  return st;
}

/* The checks, then the context's backend; op is the public function called. */
static clmp_status gemm_checked(const char *op, clmp_transpose ta, clmp_transpose tb, float alpha,
                                const clmp_matrix *a, const clmp_matrix *b, float beta,
                                const clmp_matrix *c) {
  clmp_status st = check_gemm(op, ta, tb, a, b, c);
  if (st != CLMP_SUCCESS) return st;
  return clmp__ops_of(c->t->ctx)->gemm(ta, tb, alpha, a, b, beta, c);
}

clmp_status clmp_gemm_ex(clmp_transpose ta, clmp_transpose tb, float alpha, clmp_matrix a,
                         clmp_matrix b, float beta, clmp_matrix c) {
  return gemm_checked("clmp_gemm_ex", ta, tb, alpha, &a, &b, beta, &c);
}

/* The whole of a 2-D tensor as a matrix. */
static clmp_status whole_matrix(const clmp_tensor *t, const char *name, clmp_matrix *out) {
  size_t rows = 0, cols = 0;
  clmp_status st = clmp__check_matrix(t, "clmp_gemm", name, &rows, &cols);
  *out = (clmp_matrix){.t = t, .offset = 0, .rows = rows, .cols = cols, .ld = cols};
  return st;
}

clmp_status clmp_gemm(clmp_transpose ta, clmp_transpose tb, float alpha, const clmp_tensor *a,
                      const clmp_tensor *b, float beta, clmp_tensor *c) {
  clmp_matrix ma, mb, mc;
  clmp_status st = whole_matrix(a, "A", &ma);
  if (st == CLMP_SUCCESS) st = whole_matrix(b, "B", &mb);
  if (st == CLMP_SUCCESS) st = whole_matrix(c, "C", &mc);
  if (st != CLMP_SUCCESS) return st;
  return gemm_checked("clmp_gemm", ta, tb, alpha, &ma, &mb, beta, &mc);
}

/* --- CLBlast ---------------------------------------------------------------------------------- */

static CLBlastTranspose blast_transpose(clmp_transpose t) {
  return t == CLMP_TRANS ? CLBlastTransposeYes : CLBlastTransposeNo;
}

size_t clmp__gemm_buffer_offset(const clmp_matrix *m) {
  return (size_t)clmp__elem_offset(m->t) + m->offset;
}

/* C = alpha * op(A) * op(B) + beta * C in fp32 through CLBlast; its status passes through. */
static clmp_status gemm_sgemm(clmp_transpose ta, clmp_transpose tb, float alpha,
                              const clmp_matrix *a, const clmp_matrix *b, float beta,
                              const clmp_matrix *c) {
  cl_command_queue queue = c->t->ctx->queue;
  size_t k = op_cols(ta, a);
  CLBlastStatusCode s =
      CLBlastSgemm(CLBlastLayoutRowMajor, blast_transpose(ta), blast_transpose(tb), c->rows,
                   c->cols, k, alpha, a->t->storage->mem, clmp__gemm_buffer_offset(a), a->ld,
                   b->t->storage->mem, clmp__gemm_buffer_offset(b), b->ld, beta, c->t->storage->mem,
                   clmp__gemm_buffer_offset(c), c->ld, &queue, NULL);
  if (s == CLBlastSuccess) return CLMP_SUCCESS;
  return CLMP_FAIL((clmp_status)s, "CLBlastSgemm(M=%zu, N=%zu, K=%zu)", c->rows, c->cols, k);
}

/* The same in half precision throughout (accumulation included): CLBlast's Hgemm. */
static clmp_status gemm_hgemm(clmp_transpose ta, clmp_transpose tb, float alpha,
                              const clmp_matrix *a, const clmp_matrix *b, float beta,
                              const clmp_matrix *c) {
  cl_command_queue queue = c->t->ctx->queue;
  size_t k = op_cols(ta, a);
  CLBlastStatusCode s = CLBlastHgemm(
      CLBlastLayoutRowMajor, blast_transpose(ta), blast_transpose(tb), c->rows, c->cols, k,
      clmp_f32_to_f16(alpha), a->t->storage->mem, clmp__gemm_buffer_offset(a), a->ld,
      b->t->storage->mem, clmp__gemm_buffer_offset(b), b->ld, clmp_f32_to_f16(beta),
      c->t->storage->mem, clmp__gemm_buffer_offset(c), c->ld, &queue, NULL);
  if (s == CLBlastSuccess) return CLMP_SUCCESS;
  return CLMP_FAIL((clmp_status)s, "CLBlastHgemm(M=%zu, N=%zu, K=%zu)", c->rows, c->cols, k);
}

/* Hgemm only on request (CLMP_HGEMM=1), on a device with cl_khr_fp16, for f16 throughout. */
static int want_hgemm(const clmp_matrix *a, const clmp_matrix *b, const clmp_matrix *c) {
  const char *env = getenv("CLMP_HGEMM");
  return env && !strcmp(env, "1") && c->t->ctx->info.fp16 && a->t->dtype == CLMP_F16 &&
         b->t->dtype == CLMP_F16 && c->t->dtype == CLMP_F16;
}

/* --- the portable kernel ---------------------------------------------------------------------- */

/* A set of cl/gemm.cl's tile sizes: C block per work-group (m x n), depth k, block per item;
 * vec: GEMM_VEC (float4 reads of the local tiles, the next tiles fetched into registers during
 * the multiply; wpt_m and wpt_n multiples of 4, the items a multiple of m, n and k, each tile a
 * whole number of fetches per item); direct: the set runs kernel gemm_direct (no local tiles)
 * instead of gemm. */
typedef struct gemm_tiles {
  unsigned m, n, k, wpt_m, wpt_n, vec, direct;
} gemm_tiles;

/* Tile sets, largest first; a device takes the first set that fits its work-group and local
 * memory limits and those of the compiled kernel. H200, f16 x f16 -> f32, TFLOP/s at 8192^3 /
 * 4096^3 (CLBlast's Sgemm in the same run: 32.8 / 30.1): the first set 35.1 / 38.5; with a depth
 * of 16 instead of 8 (twice the registers of fetched elements) 29.5 / 30.5; without GEMM_VEC
 * 23.9 / 24.3; 64 x 64 x 8 27.9 / 27.4. On PoCL (2 cores, 512^3) the first set gives about twice
 * the second. */
static const gemm_tiles tile_sets[] = {
    {128, 128, 8, 8, 8, 1, 0}, /* 256 items, 8.3 KiB of local memory */
    {64, 64, 16, 4, 4, 1, 0},  /* 256 items, 8.5 KiB */
    {32, 32, 16, 4, 4, 1, 0},  /* 64 items, 4.5 KiB */
    {32, 32, 16, 8, 4, 0, 0}, /* 32 items, 4.2 KiB: kernels limited to 32 items (Mesa's llvmpipe) */
    {8, 8, 8, 2, 2, 0, 0},    /* 16 items, 0.6 KiB */
    {1, 1, 1, 1, 1, 0, 0},    /* one item, 8 bytes: any device at all */
};

/* CPUs try a block of 16 x 16 per item before the table (direct_sets, below, take the small
 * products): the compiler vectorises across the work-group's items, so a larger block per item is
 * more reuse, not more registers per thread. PoCL, 2 cores, bf16 512^3, the same run each: 1.5
 * to 1.6 times CLBlast's Sgemm, against 0.8 to 1.1 with 8 x 8 (and 0.9 to 1.0 with 8 x 16). */
static const gemm_tiles cpu_tile_set = {128, 128, 16, 16, 16, 0, 0}; /* 64 items, 16.1 KiB */
#define N_TILE_SETS (sizeof tile_sets / sizeof *tile_sets)

/* Products of depth K at most CPU_DIRECT_MAX_K, or that would leave the CPU set's tiles mostly
 * padding (cpu_direct_fits), take gemm_direct instead, on CPUs that compile each item as SIMD code
 * (vectorises_items): one item per work-group with a 64 x 16 block, its 16 across C's shorter
 * side, no local tiles and no barriers. PoCL, 2 cores, ratio to CLBlast's Sgemm f16 / bf16,
 * tiled -> direct: fc3 forward (128x10x256 NT) 0.22 / 0.25 -> 2.5 / 2.9; fc3 dW (10x256x128
 * TN) 0.20 / 0.22 -> 2.4 / 2.9; fc3 dX (128x256x10 NN) 1.00 / 1.12 -> 2.4 / 3.0; 128xNx256 NT
 * with N = 16, 32, 64: f16 0.20, 0.35, 0.69 -> 2.3, 2.4, 2.3; 512x512x8 0.84 -> 2.3. The block
 * the other way round gives 0.6 to 0.9, a 32 x 32 block 1.1 to 2.2. On full tiles direct wins
 * while K is at most 1536 and loses from 2048, whatever M and N (f16, tiled -> direct): fc1 dW
 * (512x784x128 TN) 0.82 -> 1.61; fc2 dW (256x512x128 TN) 0.79 -> 1.16; fc1 forward (128x512x784
 * NT) 1.14 -> 2.03; 512^3 1.23 -> 2.02; 1024^3 0.92 -> 1.29; 1536^3 1.11 -> 1.76; 4096x4096x256
 * 1.30 -> 2.01; 2048x2048x1536 1.20 -> 1.76; 3072x3072x1024 TN 1.14 -> 1.79; but 2048^3 1.40 ->
 * 1.16 (bf16 1.67 -> 1.36) and 1024x1024x4096 1.36 -> 1.23. */
#define CPU_DIRECT_MAX_K 1536
static const gemm_tiles direct_sets[] = {
    {64, 16, 16, 64, 16, 0, 1}, /* C at least as tall as wide */
    {16, 64, 16, 16, 64, 0, 1}, /* C wider than tall */
};

/* The first SPREAD_SETS sets are one family: a device takes the largest of them that still
 * gives every compute unit a work-group, counting its splits along K (auto_splits), so that
 * small products are spread over the device. H200, f16 with the tensor cores off, TFLOP/s with the
 * 64 x 64 / 32 x 32 sets: 128x512x784 (fc1 forward) 1.8 / 2.6; 512x784x128 (fc1 dW) 7.2 / 7.2;
 * 128x256x512 (fc2 forward) 0.86 / 1.25; 128x512x256 (fc2 dX) 1.6 / 2.2; 32 x 32 with 2 x 2 per
 * item and no GEMM_VEC: 1.4, 4.7, 0.70, 1.3. */
#define SPREAD_SETS 3

static size_t tile_groups(const gemm_tiles *t, const clmp_matrix *c) {
  return ((c->rows + t->m - 1) / t->m) * ((c->cols + t->n - 1) / t->n);
}
#define GEMM_MAX_DIM 0x7fffffffu /* the kernel indexes rows and columns in 32 bits */
#define GEMM_PAD     1           /* cl/gemm.cl's extra floats per local tile row */
#define GEMM_VEC_PAD 4           /* the same with GEMM_VEC */

static size_t tile_items(const gemm_tiles *t) {
  return (size_t)(t->m / t->wpt_m) * (t->n / t->wpt_n);
}

/* Local memory of the two tiles, padded as cl/gemm.cl pads them. */
static size_t tile_local_bytes(const gemm_tiles *t) {
  size_t pad = t->vec ? GEMM_VEC_PAD : GEMM_PAD;
  return sizeof(float) * t->k * ((t->m + pad) + (t->n + pad));
}

/* Kernel name of the program for one tile set and dtype combination (built once per context),
 * C's dtype given apart (a split product writes f32). */
static clmp_status tile_kernel_named(clmp_ctx *ctx, const gemm_tiles *t, const clmp_matrix *a,
                                     const clmp_matrix *b, clmp_dtype c_dt, const char *name,
                                     cl_kernel *out) {
  char options[224];
  snprintf(options, sizeof options,
           "-DA_DT=%s -DB_DT=%s -DC_DT=%s -DGEMM_TILE_M=%u -DGEMM_TILE_N=%u -DGEMM_TILE_K=%u "
           "-DGEMM_WPT_M=%u -DGEMM_WPT_N=%u -DGEMM_VEC=%u",
           clmp__dtype_define(a->t->dtype), clmp__dtype_define(b->t->dtype),
           clmp__dtype_define(c_dt), t->m, t->n, t->k, t->wpt_m, t->wpt_n, t->vec);
  return clmp__kernel_get(ctx, "gemm", options, name, out);
}

/* The product kernel of a tile set: gemm, or gemm_direct. */
static const char *tile_kernel_name(const gemm_tiles *t) {
  return t->direct ? "gemm_direct" : "gemm";
}

/* The kernel for one tile set and dtype combination. */
static clmp_status tile_kernel(clmp_ctx *ctx, const gemm_tiles *t, const clmp_matrix *a,
                               const clmp_matrix *b, const clmp_matrix *c, cl_kernel *out) {
  return tile_kernel_named(ctx, t, a, b, c->t->dtype, tile_kernel_name(t), out);
}

/* The work-group size the compiled kernel allows (registers may make it less than the
 * device's). */
static clmp_status kernel_work_group(clmp_ctx *ctx, cl_kernel k, size_t *wg) {
  cl_int err =
      clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof *wg, wg, NULL);
  return err == CL_SUCCESS ? CLMP_SUCCESS : CLMP_FAIL(err, "clGetKernelWorkGroupInfo(gemm)");
}

/* Whether the device runs tile set t with at most limit items: the device's limits first, then,
 * after a build, the kernel's (*wg, 0 when nothing was built). */
static clmp_status try_tiles(clmp_ctx *ctx, const gemm_tiles *t, size_t limit, const clmp_matrix *a,
                             const clmp_matrix *b, const clmp_matrix *c, cl_kernel *out,
                             size_t *wg) {
  *wg = 0;
  if (tile_items(t) > limit || tile_local_bytes(t) > ctx->info.local_mem) return CLMP_SUCCESS;
  clmp_status st = tile_kernel(ctx, t, a, b, c, out);
  return st == CLMP_SUCCESS ? kernel_work_group(ctx, *out, wg) : st;
}

/* try_tiles, then *taken says whether the device runs set t with all its items (*tiles = *t). */
static clmp_status take_tiles(clmp_ctx *ctx, const gemm_tiles *t, size_t limit,
                              const clmp_matrix *a, const clmp_matrix *b, const clmp_matrix *c,
                              gemm_tiles *tiles, cl_kernel *out, int *taken) {
  size_t wg = 0;
  clmp_status st = try_tiles(ctx, t, limit, a, b, c, out, &wg);
  *taken = st == CLMP_SUCCESS && wg && tile_items(t) <= wg;
  if (*taken) *tiles = *t;
  return st;
}

/* Whether a product of depth K is one for direct_sets: K at most CPU_DIRECT_MAX_K, or C covers
 * less than half of the CPU set's tiles. */
static int cpu_direct_fits(const clmp_matrix *c, size_t depth) {
  const gemm_tiles *t = &cpu_tile_set;
  uint64_t area = (uint64_t)tile_groups(t, c) * t->m * t->n;
  return depth <= CPU_DIRECT_MAX_K || 2 * (uint64_t)c->rows * c->cols < area;
}

/* Whether the device compiles each work-item as SIMD code (a preferred float vector width above
 * 1: PoCL 16) rather than running items in SIMD lanes (Mesa's llvmpipe: 1), where a work-group
 * of one item fills one lane: llvmpipe, fc3 dW f16, 34 ms with gemm_direct against 6.3 tiled. A
 * failed query counts as width 1 (ctx->float_vec): the tiles are the safe choice. */
static int vectorises_items(const clmp_ctx *ctx) {
  return ctx->float_vec > 1;
}

/* A CPU's own choice, before the table: direct_sets where they apply, else the CPU set; *taken
 * says whether the device runs it. */
static clmp_status pick_cpu(clmp_ctx *ctx, size_t limit, const clmp_matrix *a, const clmp_matrix *b,
                            const clmp_matrix *c, size_t depth, gemm_tiles *tiles, cl_kernel *out,
                            int *taken) {
  clmp_status st = CLMP_SUCCESS;
  *taken = 0;
  if (cpu_direct_fits(c, depth) && vectorises_items(ctx))
    st = take_tiles(ctx, &direct_sets[c->rows < c->cols], limit, a, b, c, tiles, out, taken);
  if (st == CLMP_SUCCESS && !*taken)
    st = take_tiles(ctx, &cpu_tile_set, limit, a, b, c, tiles, out, taken);
  return st;
}

/* Whether t may be built with GEMM_VEC (cl/gemm.cl's conditions). */
static int vec_fits(const gemm_tiles *t) {
  size_t items = tile_items(t);
  return t->wpt_m % 4 == 0 && t->wpt_n % 4 == 0 && items % t->k == 0 && items % t->m == 0 &&
         items % t->n == 0 && (size_t)t->m * t->k % items == 0 && (size_t)t->n * t->k % items == 0;
}

/* CLMP_GEMM_TILES="m,n,k,wpt_m,wpt_n[,vec]" replaces the table, for tuning on a new device; *set
 * says whether it is there. A malformed value is an error, not silently ignored. */
static clmp_status env_tiles(gemm_tiles *t, int *set) {
  const char *env = getenv("CLMP_GEMM_TILES");
  char extra = 0;
  *set = env && *env;
  if (!*set) return CLMP_SUCCESS;
  t->vec = 0, t->direct = 0;
  int got = sscanf(env, "%u,%u,%u,%u,%u,%u%c", &t->m, &t->n, &t->k, &t->wpt_m, &t->wpt_n, &t->vec,
                   &extra);
  if ((got != 5 && got != 6) || !t->k || !t->wpt_m || !t->wpt_n || !t->m || !t->n ||
      t->m % t->wpt_m || t->n % t->wpt_n || t->vec > 1 || (t->vec && !vec_fits(t)))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "CLMP_GEMM_TILES=\"%s\": want m,n,k,wpt_m,wpt_n[,vec] with wpt_m | m, "
                     "wpt_n | n; vec 1 wants wpt_m and wpt_n multiples of 4 and each tile a "
                     "multiple of the items",
                     env);
  return CLMP_SUCCESS;
}

/* Splits along K of a product whose tiles leave compute units idle (GPUs; CPUs run few groups
 * well): enough to give every compute unit a group, each split at least SPLIT_MIN_DEPTH deep.
 * H200, f16, TFLOP/s (CLBlast's Sgemm in the same run): 128x512x784 (fc1 forward) 32 x 32 tiles
 * 2.5 unsplit, 4.1 in two (3.2); 128x256x512 (fc2 forward) 1.2, 1.8 in two, 1.7-1.9 in four
 * (1.3-1.6); 512^3 64 x 64 tiles in two 10.9, in four 14.6, 32 x 32 unsplit 9.2 (10.1). The
 * sets chosen with splits counted: 512^3 12.3 (10.2), 1024^3 128 x 128 in three 23.5, against
 * 22.1 with 64 x 64 unsplit (15.1), 128x512x784 in three 5.4 (3.3), 256^3 2.8 (2.3). */
#define SPLIT_MIN_DEPTH 128
#define SPLIT_MAX       16
static unsigned auto_splits(const clmp_ctx *ctx, const gemm_tiles *t, const clmp_matrix *c,
                            size_t k) {
  size_t groups = tile_groups(t, c), cus = ctx->info.compute_units, s = 1;
  if (ctx->info.kind != CLMP_DEVICE_CPU && groups < cus) s = (cus + groups - 1) / groups;
  if (s > k / SPLIT_MIN_DEPTH) s = k / SPLIT_MIN_DEPTH;
  return s < 1 ? 1 : s > SPLIT_MAX ? SPLIT_MAX : (unsigned)s;
}

/* auto_splits, or CLMP_GEMM_SPLIT=s (tests run the split path on CPUs with it). */
static clmp_status split_count(const clmp_ctx *ctx, const gemm_tiles *t, const clmp_matrix *c,
                               size_t k, unsigned *splits) {
  const char *env = getenv("CLMP_GEMM_SPLIT");
  char extra = 0;
  *splits = auto_splits(ctx, t, c, k);
  if (env && *env &&
      (sscanf(env, "%u%c", splits, &extra) != 1 || *splits < 1 || *splits > SPLIT_MAX))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "CLMP_GEMM_SPLIT=\"%s\": want 1 to %d", env,
                     SPLIT_MAX);
  return CLMP_SUCCESS;
}

/* The tile set and kernel: CLMP_GEMM_TILES, else a CPU's own choice, else the first set of the
 * table that the device runs. A kernel that allows fewer items than asked lowers the limit for the
 * smaller sets, so that they are not built only to be refused. */
static clmp_status pick_kernel(clmp_ctx *ctx, const clmp_matrix *a, const clmp_matrix *b,
                               const clmp_matrix *c, size_t depth, gemm_tiles *tiles,
                               cl_kernel *out) {
  int set = 0, taken = 0;
  size_t limit = ctx->info.max_work_group, wg = 0;
  clmp_status st = env_tiles(tiles, &set);
  if (st != CLMP_SUCCESS || set) {
    if (st == CLMP_SUCCESS) st = try_tiles(ctx, tiles, limit, a, b, c, out, &wg);
    if (st == CLMP_SUCCESS && tile_items(tiles) > wg)
      st = CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "CLMP_GEMM_TILES: too large for \"%s\"", ctx->info.name);
    return st;
  }
  if (ctx->info.kind == CLMP_DEVICE_CPU) {
    st = pick_cpu(ctx, limit, a, b, c, depth, tiles, out, &taken);
    if (st != CLMP_SUCCESS || taken) return st;
  }
  for (size_t i = 0; i < N_TILE_SETS; i++) {
    size_t groups = tile_groups(&tile_sets[i], c) * auto_splits(ctx, &tile_sets[i], c, depth);
    if (i + 1 < SPREAD_SETS && groups < ctx->info.compute_units) continue;
    st = try_tiles(ctx, &tile_sets[i], limit, a, b, c, out, &wg);
    if (st != CLMP_SUCCESS) return st;
    if (wg && tile_items(&tile_sets[i]) <= wg) return *tiles = tile_sets[i], CLMP_SUCCESS;
    if (wg) limit = wg;
  }
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "clmp_gemm: no tile set fits \"%s\"", ctx->info.name);
}

/* The strides of op(X)'s rows and columns in X's storage (op(X)[r, s] at r * sr + s * ss). */
static void op_strides(clmp_transpose t, const clmp_matrix *m, cl_ulong *sr, cl_ulong *ss) {
  *sr = t == CLMP_TRANS ? 1 : m->ld;
  *ss = t == CLMP_TRANS ? m->ld : 1;
}

/* The portable kernel's arguments; c, c_off and ldc are where it writes (the scratch when
 * split). */
typedef struct portable_call {
  cl_uint m, n, k, k_split;
  float alpha, beta;
  cl_mem c;
  cl_ulong c_off, ldc, c_slice;
} portable_call;

static clmp_status launch_tiles(clmp_ctx *ctx, cl_kernel k, const gemm_tiles *t, clmp_transpose ta,
                                clmp_transpose tb, const clmp_matrix *a, const clmp_matrix *b,
                                const portable_call *p, size_t splits) {
  cl_ulong a_off = clmp__gemm_buffer_offset(a), b_off = clmp__gemm_buffer_offset(b);
  cl_ulong a_sm, a_sk, b_sk, b_sn;
  op_strides(ta, a, &a_sm, &a_sk);
  op_strides(tb, b, &b_sk, &b_sn);
  clmp__arg args[] = {CLMP_ARG(p->m),
                      CLMP_ARG(p->n),
                      CLMP_ARG(p->k),
                      CLMP_ARG(p->alpha),
                      CLMP_ARG(a->t->storage->mem),
                      CLMP_ARG(a_off),
                      CLMP_ARG(a_sm),
                      CLMP_ARG(a_sk),
                      CLMP_ARG(b->t->storage->mem),
                      CLMP_ARG(b_off),
                      CLMP_ARG(b_sk),
                      CLMP_ARG(b_sn),
                      CLMP_ARG(p->beta),
                      CLMP_ARG(p->c),
                      CLMP_ARG(p->c_off),
                      CLMP_ARG(p->ldc),
                      CLMP_ARG(p->k_split),
                      CLMP_ARG(p->c_slice)};
  size_t groups[2] = {(p->n + t->n - 1) / t->n, (p->m + t->m - 1) / t->m * splits};
  size_t local[2] = {t->n / t->wpt_n, t->m / t->wpt_m};
  return clmp__launch_2d(ctx, k, tile_kernel_name(t), args, (int)(sizeof args / sizeof *args),
                         groups, local);
}

/* C = alpha * (the splits' sum) + beta * C, from the f32 scratch w. */
static clmp_status split_sum(clmp_ctx *ctx, const gemm_tiles *t, const clmp_matrix *a,
                             const clmp_matrix *b, const clmp_matrix *c, float alpha, float beta,
                             cl_mem w, cl_uint splits) {
  cl_kernel k = NULL;
  clmp_status st = tile_kernel_named(ctx, t, a, b, c->t->dtype, "gemm_split_sum", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_uint m = (cl_uint)c->rows, n = (cl_uint)c->cols;
  cl_ulong slice = (cl_ulong)m * n, c_off = clmp__gemm_buffer_offset(c), ldc = c->ld;
  clmp__arg args[] = {
      CLMP_ARG(m),     CLMP_ARG(n),     CLMP_ARG(splits), CLMP_ARG(slice),
      CLMP_ARG(w),     CLMP_ARG(alpha), CLMP_ARG(beta),   CLMP_ARG(c->t->storage->mem),
      CLMP_ARG(c_off), CLMP_ARG(ldc)};
  return clmp__launch_1d(ctx, k, "gemm_split_sum", args, (int)(sizeof args / sizeof *args),
                         (size_t)slice);
}

static clmp_status gemm_portable(clmp_transpose ta, clmp_transpose tb, float alpha,
                                 const clmp_matrix *a, const clmp_matrix *b, float beta,
                                 const clmp_matrix *c) {
  clmp_ctx *ctx = c->t->ctx;
  gemm_tiles t;
  cl_kernel k = NULL;
  unsigned splits = 1;
  size_t depth = op_cols(ta, a);
  clmp_status st = pick_kernel(ctx, a, b, c, depth, &t, &k);
  if (st == CLMP_SUCCESS) st = split_count(ctx, &t, c, depth, &splits);
  if (st != CLMP_SUCCESS) return st;
  portable_call p = {(cl_uint)c->rows,
                     (cl_uint)c->cols,
                     (cl_uint)depth,
                     0,
                     alpha,
                     beta,
                     c->t->storage->mem,
                     clmp__gemm_buffer_offset(c),
                     c->ld,
                     0};
  /* Each split a whole number of tiles deep, so none is left empty. */
  size_t k_split = (depth + splits - 1) / splits;
  k_split = (k_split + t.k - 1) / t.k * t.k;
  splits = k_split ? (unsigned)((depth + k_split - 1) / k_split) : 1;
  if (splits < 2) {
    p.k_split = depth ? (cl_uint)depth : 1;
    return launch_tiles(ctx, k, &t, ta, tb, a, b, &p, 1);
  }
  cl_mem w = NULL;
  p.k_split = (cl_uint)k_split, p.alpha = 1.0f, p.beta = 0.0f, p.c_off = 0, p.ldc = p.n;
  p.c_slice = (cl_ulong)p.m * p.n;
  st = clmp__scratch(ctx, (size_t)p.c_slice * splits * sizeof(float), &w);
  if (st == CLMP_SUCCESS) st = tile_kernel_named(ctx, &t, a, b, CLMP_F32, tile_kernel_name(&t), &k);
  if (st == CLMP_SUCCESS) p.c = w, st = launch_tiles(ctx, k, &t, ta, tb, a, b, &p, splits);
  return st == CLMP_SUCCESS ? split_sum(ctx, &t, a, b, c, alpha, beta, w, splits) : st;
}

/* --- the OpenCL row ----------------------------------------------------------------------------
 */

clmp_status clmp__cl_gemm(clmp_transpose ta, clmp_transpose tb, float alpha, const clmp_matrix *a,
                          const clmp_matrix *b, float beta, const clmp_matrix *c) {
  size_t k = op_cols(ta, a);
  if (c->rows > GEMM_MAX_DIM || c->cols > GEMM_MAX_DIM || k > GEMM_MAX_DIM)
    return CLMP_FAIL(CLMP_ERR_TOO_LARGE, "clmp_gemm: %zu x %zu x %zu exceeds 2^31 - 1", c->rows,
                     c->cols, k);
  int f32 = a->t->dtype == CLMP_F32 && b->t->dtype == CLMP_F32 && c->t->dtype == CLMP_F32;
  if (f32) return gemm_sgemm(ta, tb, alpha, a, b, beta, c);
  if (want_hgemm(a, b, c)) return gemm_hgemm(ta, tb, alpha, a, b, beta, c);
  if (clmp__gemm_mma_takes(a, b, c)) return clmp__gemm_mma(ta, tb, alpha, a, b, beta, c);
  return gemm_portable(ta, tb, alpha, a, b, beta, c);
}
