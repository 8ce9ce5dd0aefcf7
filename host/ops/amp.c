/* host/ops/amp.c: the OpenCL launches of the AMP rows (cl/amp.cl): the two-stage check pass,
 * the fused optimizer step and the scaler update. The public scaler and optimizers that call them
 * are in host/amp/. */
#include <stdio.h>

#include "../runtime/error.h"
#include "../runtime/launch.h"
#include "table.h"

/* Work-items per check group (cl/amp.cl's AMP_LOCAL) and groups per compute unit: fixed for a
 * device, so the reduction order, hence the result, is the same every run. GPUs take groups of
 * 256 and 8 per compute unit: a full device of items with few partials left to combine (H200,
 * AdamW over 1e8 f16 gradients, 64 x 64 per compute unit: the check 71 us, the combine of its
 * 8448 partials by one group 16 us; 4 groups of 64 per compute unit had left the check at
 * about 70 GB/s, too few loads in flight). */
#define AMP_LOCAL_CPU     64
#define AMP_LOCAL_GPU     256
#define GROUPS_PER_CU_CPU 64
#define GROUPS_PER_CU_GPU 8
#define MAX_GROUPS        16384
#define STEP_OPTIONS_SIZE 96
/* Elements per vector in cl/amp.cl (AMP_VEC): float4 on GPUs; on CPUs the device's preferred
 * float vector width, which PoCL turns into SIMD that wide (AVX-512: 16) while Mesa's llvmpipe,
 * whose SIMD lanes are work-items, asks for 1. */
#define AMP_VEC_GPU     4
#define AMP_VEC_CPU_MAX 16

static size_t check_local(const clmp_ctx *ctx) {
  int gpu = ctx->info.kind != CLMP_DEVICE_CPU && ctx->info.max_work_group >= AMP_LOCAL_GPU;
  return gpu ? AMP_LOCAL_GPU : AMP_LOCAL_CPU;
}

static size_t check_groups(const clmp_ctx *ctx) {
  size_t per_cu = check_local(ctx) == AMP_LOCAL_GPU ? GROUPS_PER_CU_GPU : GROUPS_PER_CU_CPU;
  size_t g = (size_t)ctx->info.compute_units * per_cu;
  return g < 1 ? 1 : g > MAX_GROUPS ? MAX_GROUPS : g;
}

/* The device's AMP_VEC: 1, 4, 8 or 16. */
static size_t device_vec(const clmp_ctx *ctx) {
  if (ctx->info.kind != CLMP_DEVICE_CPU) return AMP_VEC_GPU;
  unsigned w = ctx->float_vec;
  return w >= AMP_VEC_CPU_MAX ? AMP_VEC_CPU_MAX : w >= 8 ? 8 : w >= 4 ? 4 : 1;
}

/* The widest vector of at most the device's AMP_VEC that every tensor's offset is a multiple of,
 * so that cl/amp.cl may load and store whole aligned vectors (buffers themselves are aligned more
 * than that): halved down to 4, else 1. NULL tensors are absent. */
static int vec_width(const clmp_ctx *ctx, const clmp_tensor *const *all, size_t count) {
  size_t w = device_vec(ctx);
  for (size_t i = 0; i < count; i++)
    while (all[i] && clmp__elem_offset(all[i]) % w) w = w > 4 ? w / 2 : 1;
  return (int)w;
}

/* The check: each group reduces its share of g; the last group to finish combines the partials
 * into the state (cl/amp.cl, amp_last_group). */
clmp_status clmp__cl_amp_check(const clmp_tensor *g, int want_sumsq, clmp_tensor *state) {
  clmp_ctx *ctx = state->ctx;
  size_t groups = check_groups(ctx), local = check_local(ctx);
  int off8 = clmp__elem_offset(g) % 8 == 0;
  int check8 = local == AMP_LOCAL_GPU && clmp_dtype_size(g->dtype) == 2 && off8;
  char opts[96];
  snprintf(opts, sizeof opts, "-DG_DT=%s -DAMP_LOCAL=%zu -DAMP_VEC=%d -DAMP_CHECK8=%d",
           clmp__dtype_define(g->dtype), local, vec_width(ctx, &g, 1), check8);
  cl_mem partials = NULL;
  cl_kernel k = NULL;
  clmp_status st = clmp__scratch(ctx, 2 * groups * sizeof(float), &partials);
  if (st == CLMP_SUCCESS) st = clmp__kernel_get(ctx, "amp", opts, "amp_check_partial", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_ulong off = clmp__elem_offset(g), n = g->numel;
  cl_int want = want_sumsq;
  clmp__arg args[] = {CLMP_ARG(g->storage->mem),     CLMP_ARG(off),      CLMP_ARG(n),
                      CLMP_ARG(state->storage->mem), CLMP_ARG(partials), CLMP_ARG(want)};
  return clmp__launch(ctx, k, "amp_check_partial", args, 6, groups * local, local);
}

/* The scaler's parameters as cl/amp.cl's AMP_SCALER_ARGS. */
#define SCALER_ARGS(p)                                                                    \
  CLMP_ARG((p)->mode), CLMP_ARG((p)->growth_factor), CLMP_ARG((p)->backoff_factor),       \
      CLMP_ARG((p)->min_scale), CLMP_ARG((p)->max_scale), CLMP_ARG((p)->growth_interval), \
      CLMP_ARG((p)->hysteresis)

/* The optional tensors of the step: a NULL one is passed as master's buffer (never touched). */
static cl_mem mem_or(const clmp_tensor *t, cl_mem fallback) {
  return t ? t->storage->mem : fallback;
}

static cl_ulong off_or_zero(const clmp_tensor *t) {
  return t ? clmp__elem_offset(t) : 0;
}

/* The AMP_VEC of the step: vec_width over every arena. */
static int step_vec(const clmp_tensor *g, const clmp_tensor *master, const clmp_tensor *m1,
                    const clmp_tensor *m2, const clmp_tensor *w) {
  const clmp_tensor *all[] = {g, master, m1, m2, w};
  return vec_width(master->ctx, all, sizeof all / sizeof *all);
}

clmp_status clmp__cl_amp_step(const clmp__step_params *p, clmp_tensor *state,
                              const clmp_tensor *grads, clmp_tensor *master, clmp_tensor *m1,
                              clmp_tensor *m2, clmp_tensor *working) {
  char opts[STEP_OPTIONS_SIZE];
  snprintf(opts, sizeof opts, "-DG_DT=%s -DW_DT=%s -DAMP_VEC=%d", clmp__dtype_define(grads->dtype),
           clmp__dtype_define(working ? working->dtype : CLMP_F32),
           step_vec(grads, master, m1, m2, working));
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(master->ctx, "amp", opts, "amp_step", &k);
  if (st != CLMP_SUCCESS) return st;
  cl_mem mm = master->storage->mem, m1m = mem_or(m1, mm), m2m = mem_or(m2, mm);
  cl_mem wm = mem_or(working, mm);
  cl_ulong g_off = clmp__elem_offset(grads), p_off = clmp__elem_offset(master);
  cl_ulong m1_off = off_or_zero(m1), m2_off = off_or_zero(m2), w_off = off_or_zero(working);
  cl_int has_w = working != NULL;
  cl_ulong n = master->numel;
  clmp__arg args[] = {CLMP_ARG(state->storage->mem),
                      CLMP_ARG(grads->storage->mem),
                      CLMP_ARG(g_off),
                      CLMP_ARG(mm),
                      CLMP_ARG(p_off),
                      CLMP_ARG(m1m),
                      CLMP_ARG(m1_off),
                      CLMP_ARG(m2m),
                      CLMP_ARG(m2_off),
                      CLMP_ARG(wm),
                      CLMP_ARG(w_off),
                      CLMP_ARG(has_w),
                      CLMP_ARG(n),
                      CLMP_ARG(p->optimizer),
                      CLMP_ARG(p->lr),
                      CLMP_ARG(p->weight_decay),
                      CLMP_ARG(p->momentum),
                      CLMP_ARG(p->dampening),
                      CLMP_ARG(p->nesterov),
                      CLMP_ARG(p->beta1),
                      CLMP_ARG(p->beta2),
                      CLMP_ARG(p->eps),
                      CLMP_ARG(p->clip_norm),
                      SCALER_ARGS(p->scaler)};
  return clmp__launch_1d(master->ctx, k, "amp_step", args, (int)(sizeof args / sizeof *args),
                         master->numel);
}

clmp_status clmp__cl_amp_update(const clmp__scaler_params *p, clmp_tensor *state) {
  cl_kernel k = NULL;
  clmp_status st = clmp__kernel_get(state->ctx, "amp", "", "amp_update", &k);
  if (st != CLMP_SUCCESS) return st;
  clmp__arg args[] = {CLMP_ARG(state->storage->mem), SCALER_ARGS(p)};
  return clmp__launch(state->ctx, k, "amp_update", args, 8, 1, 1);
}
