/* host/ops/gemm_mma.c: the tensor-core GEMM path for NVIDIA devices of compute capability 8 or
 * more: which calls it takes, the mma.sync kernel (cl/gemm_mma.cl) and its tile sizes, the wgmma
 * kernel (host/ops/gemm_wgmma.c) where it runs, and their launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "gemm.h"

/* The tile sizes of cl/gemm_mma.cl: C block per work-group, depth per stage, block per warp,
 * stages of the copy ring, and the block rows walked together (its mma_block). */
typedef struct mma_tiles {
  unsigned bm, bn, bk, wm, wn, stages, group;
} mma_tiles;

/* 8 warps of 64 x 64, 4 stages of 12 KiB: the 48 KiB of local memory an OpenCL kernel gets.
 * H200, f16 8192^3 (TFLOP/s): this set 306-312; 128x128x32 in 3 stages 276 (warps of 64 x 32:
 * 236-271); 128x128x16 in 4 stages 274; 256x128x16 262; 128x256x32 in 2 stages 241-257. Blocks
 * walked in bands of 16 rows (mma_block) gain 1 % over 8 and 5 % over none. */
static const mma_tiles default_tiles = {128, 256, 16, 64, 64, 4, 16};

static int pow2(unsigned x) {
  return x && !(x & (x - 1));
}

static unsigned tiles_threads(const mma_tiles *t) {
  return 32 * (t->bm / t->wm) * (t->bn / t->wn);
}

/* Whether cl/gemm_mma.cl accepts t: powers of two (its swizzle), warps of whole fragments, copies
 * that divide among the items, a ring of 2 to 4 stages. */
static int tiles_valid(const mma_tiles *t) {
  if (!pow2(t->bm) || !pow2(t->bn) || !pow2(t->bk) || !pow2(t->wm) || !pow2(t->wn)) return 0;
  if (t->wm < 16 || t->wn < 16 || t->bk < 16 || t->wm > t->bm || t->wn > t->bn) return 0;
  unsigned threads = tiles_threads(t);
  if (threads > 1024 || (t->bm * t->bk / 8) % threads || (t->bk * t->bn / 8) % threads) return 0;
  return t->stages >= 2 && t->stages <= 4 && t->group >= 1;
}

static size_t tiles_local_bytes(const mma_tiles *t) {
  return (size_t)t->stages * 2 * t->bk * (t->bm + t->bn);
}

/* Whether env holds "bm,bn,bk,wm,wn,stages[,group]" (into t, whose group stays when not given). */
static int tiles_parse(const char *env, mma_tiles *t) {
  char extra = 0;
  int got = sscanf(env, "%u,%u,%u,%u,%u,%u,%u%c", &t->bm, &t->bn, &t->bk, &t->wm, &t->wn,
                   &t->stages, &t->group, &extra);
  return (got == 6 || got == 7) && tiles_valid(t);
}

/* CLMP_MMA_TILES replaces the default, for tuning; malformed is an error. */
static clmp_status pick_tiles(const clmp_ctx *ctx, mma_tiles *t) {
  const char *env = getenv("CLMP_MMA_TILES");
  *t = default_tiles;
  if (env && *env && !tiles_parse(env, t))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "CLMP_MMA_TILES=\"%s\": want bm,bn,bk,wm,wn,stages[,group], powers of two, "
                     "at most 32 warps, 2 to 4 stages",
                     env);
  return clmp__gemm_local_fits(ctx, "gemm_mma", tiles_local_bytes(t));
}

clmp_status clmp__gemm_local_fits(const clmp_ctx *ctx, const char *kernel, size_t bytes) {
  if (bytes <= ctx->info.local_mem) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "%s: %zu bytes of local memory, \"%s\" has %llu", kernel,
                   bytes, ctx->info.name, (unsigned long long)ctx->info.local_mem);
}

/* CLMP_GEMM: "portable" never takes the tensor-core path; "mma" takes it for every product the
 * kernel can read (small ones too: clmp verify checks it so), and "mma-sync" too, with the
 * mma.sync kernel also where the wgmma kernel is the default (compute capability 9.0); anything
 * else as the device and the product's size decide. Read at each call. */
static int gemm_env(const char *value) {
  const char *env = getenv("CLMP_GEMM");
  return env && !strcmp(env, value);
}

/* Whether the device has the tensor-core path: NVIDIA, compute capability 8 or more, and
 * CLMP_GEMM not "portable". */
static int device_has_mma(const clmp_ctx *ctx) {
  return !gemm_env("portable") && ctx->info.nv_cc_major >= 8;
}

/* A matrix the kernel's 16-byte copies can read: its first element, its row length and its
 * stored columns all multiples of 8 elements. */
static int aligned8(const clmp_matrix *m) {
  return clmp__gemm_buffer_offset(m) % 8 == 0 && m->ld % 8 == 0 && m->cols % 8 == 0;
}

/* Whether the wgmma kernel runs here: compute capability 9.0, CLMP_GEMM not "mma-sync", and
 * not refused by this context's driver before. */
static int runs_wgmma(const clmp_ctx *ctx) {
  return clmp__gemm_wgmma_device(ctx) && !ctx->wgmma_refused && !gemm_env("mma-sync");
}

/* Whether the product keeps enough of the device busy with the default tiles of the kernel the
 * device runs: at least one compute unit in MMA_MIN_SHARE. Below that the portable kernel, which
 * splits small products along K, is faster. H200, mma.sync kernel, TFLOP/s tensor cores /
 * portable: 1024^3 (32 groups) 57 / 24; 512x784x128 (16 groups) 7.0 / 7.9; 512^3 (8 groups)
 * 10.9 / 12.2; 128x512x784 (2 groups) 2.7 / 5.4. The wgmma kernel: 1024^3 (64 groups) 112. */
#define MMA_MIN_SHARE 8
static int fills_device(const clmp_ctx *ctx, const clmp_matrix *c) {
  size_t block[2] = {default_tiles.bm, default_tiles.bn};
  if (runs_wgmma(ctx)) clmp__gemm_wgmma_block(block);
  size_t groups = ((c->rows + block[0] - 1) / block[0]) * ((c->cols + block[1] - 1) / block[1]);
  return groups * MMA_MIN_SHARE >= ctx->info.compute_units;
}

int clmp__gemm_mma_takes(const clmp_matrix *a, const clmp_matrix *b, const clmp_matrix *c) {
  clmp_dtype d = a->t->dtype;
  if ((d != CLMP_F16 && d != CLMP_BF16) || b->t->dtype != d) return 0;
  return device_has_mma(c->t->ctx) && aligned8(a) && aligned8(b) &&
         (gemm_env("mma") || gemm_env("mma-sync") || fills_device(c->t->ctx, c));
}

static clmp_status mma_kernel(clmp_ctx *ctx, const mma_tiles *t, clmp_transpose ta,
                              clmp_transpose tb, const clmp_matrix *a, const clmp_matrix *c,
                              cl_kernel *out) {
  char options[256];
  snprintf(options, sizeof options,
           "-DMMA_BF16=%d -DC_DT=%s -DMMA_TA=%d -DMMA_TB=%d -DMMA_BM=%u -DMMA_BN=%u -DMMA_BK=%u "
           "-DMMA_WM=%u -DMMA_WN=%u -DMMA_STAGES=%u -DMMA_GROUP=%u",
           a->t->dtype == CLMP_BF16, clmp__dtype_define(c->t->dtype), ta == CLMP_TRANS,
           tb == CLMP_TRANS, t->bm, t->bn, t->bk, t->wm, t->wn, t->stages, t->group);
  return clmp__kernel_get(ctx, "gemm_mma", options, "gemm_mma", out);
}

/* Launches kernel k (either tensor-core kernel: they take the same arguments) with a work-group
 * of threads items for each block[0] x block[1] of C. */
static clmp_status mma_launch(clmp_ctx *ctx, cl_kernel k, const char *name, clmp_transpose ta,
                              float alpha, const clmp_matrix *a, const clmp_matrix *b, float beta,
                              const clmp_matrix *c, const size_t block[2], size_t threads) {
  cl_uint m = (cl_uint)c->rows, n = (cl_uint)c->cols;
  cl_uint kk = (cl_uint)(ta == CLMP_TRANS ? a->rows : a->cols);
  cl_ulong a_off = clmp__gemm_buffer_offset(a), b_off = clmp__gemm_buffer_offset(b);
  cl_ulong c_off = clmp__gemm_buffer_offset(c), lda = a->ld, ldb = b->ld, ldc = c->ld;
  clmp__arg args[] = {CLMP_ARG(m),
                      CLMP_ARG(n),
                      CLMP_ARG(kk),
                      CLMP_ARG(alpha),
                      CLMP_ARG(a->t->storage->mem),
                      CLMP_ARG(a_off),
                      CLMP_ARG(lda),
                      CLMP_ARG(b->t->storage->mem),
                      CLMP_ARG(b_off),
                      CLMP_ARG(ldb),
                      CLMP_ARG(beta),
                      CLMP_ARG(c->t->storage->mem),
                      CLMP_ARG(c_off),
                      CLMP_ARG(ldc)};
  size_t groups[2] = {(c->cols + block[1] - 1) / block[1], (c->rows + block[0] - 1) / block[0]};
  size_t local[2] = {threads, 1};
  return clmp__launch_2d(ctx, k, name, args, (int)(sizeof args / sizeof *args), groups, local);
}

clmp_status clmp__gemm_mma(clmp_transpose ta, clmp_transpose tb, float alpha, const clmp_matrix *a,
                           const clmp_matrix *b, float beta, const clmp_matrix *c) {
  clmp_ctx *ctx = c->t->ctx;
  cl_kernel k = NULL;
  size_t block[2], threads = 0;
  if (runs_wgmma(ctx)) {
    clmp_status st = clmp__gemm_wgmma_kernel(ctx, ta, tb, a, c, &k, block, &threads);
    if (st == CLMP_SUCCESS)
      return mma_launch(ctx, k, "gemm_wgmma", ta, alpha, a, b, beta, c, block, threads);
    if (st == CLMP_ERR_INVALID_ARGUMENT) return st;
    /* a driver that refuses the sm_90a program: the mma.sync kernel, from now on */
    ctx->wgmma_refused = 1;
    CLMP_RECOVERED();
  }
  mma_tiles t;
  clmp_status st = pick_tiles(ctx, &t);
  if (st == CLMP_SUCCESS) st = mma_kernel(ctx, &t, ta, tb, a, c, &k);
  if (st != CLMP_SUCCESS) return st;
  block[0] = t.bm, block[1] = t.bn;
  return mma_launch(ctx, k, "gemm_mma", ta, alpha, a, b, beta, c, block, tiles_threads(&t));
}
