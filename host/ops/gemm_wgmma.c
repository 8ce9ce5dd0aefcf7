/* host/ops/gemm_wgmma.c: the warpgroup tensor-core GEMM (cl/gemm_wgmma.cl) for NVIDIA devices of
 * compute capability 9.0: its tile sizes and its program; host/ops/gemm_mma.c routes to it and
 * launches it. */
#include <stdio.h>
#include <stdlib.h>

#include "../runtime/error.h"
#include "../runtime/ptx.h"
#include "gemm.h"

/* The tile sizes of cl/gemm_wgmma.cl: C block per work-group (a warpgroup per 64 rows), depth
 * per stage, stages of the copy ring, multiplies a warpgroup leaves running at the next tile,
 * and the block rows walked together (its wg_block). */
typedef struct wg_tiles {
  unsigned bm, bn, bk, stages, inflight, group;
} wg_tiles;

/* 2 warpgroups of 64 x 128, 3 stages of 16 KiB (the 48 KiB of local memory an OpenCL kernel
 * gets), no multiply left running at a barrier; 2 work-groups fit an SM. H200, f16 8192^3
 * (TFLOP/s, 20 calls; 300 calls): this set 456-458, 414; 64x256x16 in 4 stages 444-482, 418;
 * 128x256x16 in 4 stages 332-406; 128x128x16 in 4 or 6 stages 392-397; 64x128x32 418; with a
 * multiply left running (inflight 1) 316. This set also leads at 4096^3 (420 against 376) and
 * 2048^3 (349 against 232). Bands of 8 to 32 block rows are alike. */
static const wg_tiles default_tiles = {128, 128, 32, 3, 0, 16};

void clmp__gemm_wgmma_block(size_t block[2]) {
  block[0] = default_tiles.bm, block[1] = default_tiles.bn;
}

static int one_of(unsigned x, unsigned a, unsigned b, unsigned c) {
  return x == a || x == b || x == c;
}

/* Whether cl/gemm_wgmma.cl accepts t: its instruction shapes, copies that divide among the
 * items, and 1 to 5 tiles fetched ahead. */
static int tiles_valid(const wg_tiles *t) {
  if (!one_of(t->bm, 64, 128, 256) || !one_of(t->bn, 64, 128, 256) || !one_of(t->bk, 16, 32, 64))
    return 0;
  if (t->inflight > 1 || t->stages < 2 + t->inflight || t->stages > 6 + t->inflight) return 0;
  unsigned threads = 2 * t->bm;
  return t->group >= 1 && (t->bm * t->bk / 8) % threads == 0 && (t->bn * t->bk / 8) % threads == 0;
}

static size_t tiles_local_bytes(const wg_tiles *t) {
  return (size_t)t->stages * 2 * t->bk * (t->bm + t->bn);
}

/* CLMP_WGMMA_TILES="bm,bn,bk,stages,inflight[,group]" replaces the default, for tuning;
 * malformed is an error. */
static clmp_status pick_tiles(const clmp_ctx *ctx, wg_tiles *t) {
  const char *env = getenv("CLMP_WGMMA_TILES");
  *t = default_tiles;
  char extra = 0;
  if (env && *env) {
    int got = sscanf(env, "%u,%u,%u,%u,%u,%u%c", &t->bm, &t->bn, &t->bk, &t->stages, &t->inflight,
                     &t->group, &extra);
    if ((got != 5 && got != 6) || !tiles_valid(t))
      return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                       "CLMP_WGMMA_TILES=\"%s\": want bm,bn,bk,stages,inflight[,group] with bm "
                       "and bn 64, 128 or 256, bk 16, 32 or 64, inflight 0 or 1, 1 to 5 stages "
                       "fetched ahead",
                       env);
  }
  return clmp__gemm_local_fits(ctx, "gemm_wgmma", tiles_local_bytes(t));
}

int clmp__gemm_wgmma_device(const clmp_ctx *ctx) {
  return ctx->info.nv_cc_major == 9 && ctx->info.nv_cc_minor == 0;
}

clmp_status clmp__gemm_wgmma_kernel(clmp_ctx *ctx, clmp_transpose ta, clmp_transpose tb,
                                    const clmp_matrix *a, const clmp_matrix *c, cl_kernel *k,
                                    size_t block[2], size_t *threads) {
  wg_tiles t;
  char options[256];
  clmp_status st = pick_tiles(ctx, &t);
  if (st != CLMP_SUCCESS) return st;
  snprintf(options, sizeof options,
           CLMP_PTX_SM90A_OPTION " -DWG_BF16=%d -DC_DT=%s -DWG_TA=%d -DWG_TB=%d -DWG_BM=%u "
                                 "-DWG_BN=%u -DWG_BK=%u -DWG_STAGES=%u -DWG_INFLIGHT=%u "
                                 "-DWG_GROUP=%u",
           a->t->dtype == CLMP_BF16, clmp__dtype_define(c->t->dtype), ta == CLMP_TRANS,
           tb == CLMP_TRANS, t.bm, t.bn, t.bk, t.stages, t.inflight, t.group);
  block[0] = t.bm, block[1] = t.bn, *threads = 2 * t.bm;
  return clmp__kernel_get(ctx, "gemm_wgmma", options, "gemm_wgmma", k);
}
