/* tools/clmp/bench_optim.c: the optim section: one clmp_optim_step (the check pass, the fused
 * update, the scaler update) of AdamW and SGD with momentum over 1e6 to 1e8 parameters, f16 or
 * bf16 gradients and working copy, fp32 master weights and moments; the bytes it must move per
 * second against the copy bandwidth, and with --torch (CUDA) against PyTorch's GradScaler.unscale_
 * + Adam(fused=True).step + GradScaler.update on as many fp32 parameters. */
#include <math.h>

#include "bench.h"

#define OPTIM_MIN_PARAMS 1000000
#define OPTIM_MAX_PARAMS 100000000
#define OPTIM_GROWTH     10
#define OPTIM_MEM_SHARE  2    /* the arenas take at most half the device's memory */
#define OPTIM_BUDGET_S   2.0  /* the next size runs while OPTIM_GROWTH x the slowest step fits */
#define MASTER_VALUE     0.5f /* finite values everywhere, so that no step is skipped */
#define GRAD_VALUE       1.0f
#define SGD_MOMENTUM     0.9f
#define F32_BYTES        4

typedef struct optim_kind {
  clmp_optimizer opt;
  clmp_dtype grad; /* and the working copy's */
} optim_kind;

static const optim_kind kinds[] = {
    {CLMP_ADAMW, CLMP_F16}, {CLMP_ADAMW, CLMP_BF16}, {CLMP_SGD, CLMP_F16}, {CLMP_SGD, CLMP_BF16}};
#define N_KINDS (sizeof kinds / sizeof *kinds)

#define BYTES_FORMULA                                                                            \
  "check pass reads g; the step reads g, master (f32) and the moments (f32: AdamW m and v, SGD " \
  "momentum) and writes master, the moments and the working copy w: AdamW f16/bf16 2+14+14 = "   \
  "30 B/param, SGD momentum 2+10+10 = 22 B/param"

/* The bytes one step must move per parameter (BYTES_FORMULA); the scaler's own few bytes are
 * left out. */
static size_t bytes_per_param(const optim_kind *k) {
  size_t g = clmp_dtype_size(k->grad), moments = k->opt == CLMP_ADAMW ? 2 : 1;
  return g + (g + F32_BYTES + moments * F32_BYTES) + (F32_BYTES + moments * F32_BYTES + g);
}

/* Device memory of the arenas: master, moments, grads and working copy. */
static double arena_bytes(const optim_kind *k, size_t params) {
  size_t moments = k->opt == CLMP_ADAMW ? 2 : 1;
  return (double)params * (double)(F32_BYTES * (1 + moments) + 2 * clmp_dtype_size(k->grad));
}

typedef struct optim_job {
  clmp_tensor *master, *grads, *working;
  clmp_scaler *scaler;
  clmp_optim *optim;
} optim_job;

static clmp_status step_call(void *user) {
  return clmp_optim_step(((optim_job *)user)->optim, -1.0f);
}

static void free_job(optim_job *j) {
  clmp_optim_free(j->optim);
  clmp_scaler_free(j->scaler);
  clmp_tensor_free(j->master), clmp_tensor_free(j->grads), clmp_tensor_free(j->working);
}

/* The arenas, a scaler as training has it (dynamic for f16, off for bf16), the optimizer. */
static clmp_status make_job(clmp_ctx *ctx, const optim_kind *k, size_t n, optim_job *j) {
  clmp_scaler_config sc;
  clmp_optim_config oc;
  clmp_scaler_config_default(&sc);
  if (k->grad != CLMP_F16) sc.mode = CLMP_SCALE_OFF;
  clmp_optim_config_default(&oc, k->opt);
  if (k->opt == CLMP_SGD) oc.momentum = SGD_MOMENTUM;
  *j = (optim_job){0};
  clmp_status st = clmp_tensor_create(ctx, CLMP_F32, 1, &n, &j->master);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(ctx, k->grad, 1, &n, &j->grads);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(ctx, k->grad, 1, &n, &j->working);
  if (st == CLMP_SUCCESS) st = clmp_fill(j->master, MASTER_VALUE);
  if (st == CLMP_SUCCESS) st = clmp_fill(j->grads, GRAD_VALUE);
  if (st == CLMP_SUCCESS) st = clmp_scaler_create(ctx, &sc, &j->scaler);
  if (st == CLMP_SUCCESS)
    st = clmp_optim_create(&oc, j->master, j->grads, j->working, j->scaler, &j->optim);
  return st;
}

static void add_row(bench_run *r, cJSON *rows, const optim_kind *k, size_t n, double secs) {
  const char *name = k->opt == CLMP_ADAMW ? "adamw" : "sgd";
  double bytes = (double)bytes_per_param(k) * (double)n, gbs = bytes / secs / 1e9;
  const cJSON *t = k->opt == CLMP_ADAMW ? bench_torch_row(r, "optim", "params", NULL, n) : NULL;
  double torch_ms = t ? cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "ms")) : NAN;
  double of_copy = bench_ratio(gbs, r->copy_gbs), speedup = bench_ratio(torch_ms, secs * 1e3);
  char a[16], b[16], c[16];
  bench_print(r, "%-6s %-5s %9.0e %7zu %10.1f %10.3f %9.1f %8s %9s %8s\n", name,
              clmp_dtype_name(k->grad), (double)n, bytes_per_param(k), bytes / 1e6, secs * 1e3, gbs,
              bench_ratio_text(of_copy, a, sizeof a), bench_value_text(torch_ms, 3, c, sizeof c),
              bench_ratio_text(speedup, b, sizeof b));
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "optimizer", name);
  cJSON_AddStringToObject(o, "grad_dtype", clmp_dtype_name(k->grad));
  cJSON_AddNumberToObject(o, "params", (double)n);
  cJSON_AddNumberToObject(o, "bytes_per_param", (double)bytes_per_param(k));
  cJSON_AddNumberToObject(o, "bytes", bytes);
  cJSON_AddNumberToObject(o, "ms", secs * 1e3);
  cJSON_AddNumberToObject(o, "gb_per_s", gbs);
  bench_json_number(o, "copy_gb_per_s", r->copy_gbs);
  bench_json_number(o, "ratio_to_copy", of_copy);
  bench_json_number(o, "torch_ms", torch_ms);
  bench_json_number(o, "speedup_vs_torch", speedup);
  cJSON_AddItemToArray(rows, o);
}

/* Times one kind at n parameters (*secs: seconds a step); a step skipped for non-finite gradients
 * would void it. */
static clmp_status kind_row(bench_run *r, cJSON *rows, const optim_kind *k, size_t n,
                            double *secs) {
  optim_job j;
  clmp_scaler_state state = {0};
  clmp_status st = make_job(r->ctx, k, n, &j);
  if (st == CLMP_SUCCESS) st = bench_time(r, step_call, &j, secs);
  if (st == CLMP_SUCCESS) st = clmp_scaler_read(j.scaler, &state);
  free_job(&j);
  if (st == CLMP_SUCCESS && state.skipped) {
    fprintf(stderr, "clmp bench: %u of %u optimizer steps were skipped\n", state.skipped,
            state.steps);
    return CLMP_ERR_NON_FINITE;
  }
  if (st == CLMP_SUCCESS) add_row(r, rows, k, n, *secs);
  return st;
}

/* Whether n parameters of kind k fit the device. */
static int fits(const clmp_device_info *d, const optim_kind *k, size_t n) {
  return (double)n * F32_BYTES <= (double)d->max_alloc &&
         arena_bytes(k, n) <= (double)d->global_mem / OPTIM_MEM_SHARE;
}

/* A size or kind left out, and why. */
static void skip(bench_run *r, cJSON *skipped, const optim_kind *k, size_t n, const char *why) {
  const char *name = k ? k->opt == CLMP_ADAMW ? "adamw" : "sgd" : "all";
  bench_print(r, "%-6s %-5s %9.0e: skipped (%s)\n", name, k ? clmp_dtype_name(k->grad) : "-",
              (double)n, why);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "optimizer", name);
  cJSON_AddNumberToObject(o, "params", (double)n);
  cJSON_AddStringToObject(o, "reason", why);
  cJSON_AddItemToArray(skipped, o);
}

/* Every kind at n parameters; *slowest receives the longest step's seconds. */
static clmp_status size_rows(bench_run *r, cJSON *rows, cJSON *skipped, size_t n, double *slowest) {
  clmp_status st = CLMP_SUCCESS;
  *slowest = 0;
  for (size_t i = 0; st == CLMP_SUCCESS && i < N_KINDS; i++) {
    double secs = 0;
    if (!fits(r->dev, &kinds[i], n)) {
      skip(r, skipped, &kinds[i], n, "device memory");
      continue;
    }
    st = kind_row(r, rows, &kinds[i], n, &secs);
    *slowest = fmax(*slowest, secs);
  }
  return st;
}

clmp_status bench_optim(bench_run *r, cJSON *out) {
  bench_print(r, "%-6s %-5s %9s %7s %10s %10s %9s %8s %9s %8s\n", "optim", "grads", "params",
              "B/param", "MB/step", "ms", "GB/s", "of copy", "torch ms", "vs torch");
  cJSON_AddStringToObject(out, "bytes_formula", BYTES_FORMULA);
  cJSON_AddStringToObject(out, "torch_reference",
                          "GradScaler.unscale_ + Adam(fused=True).step + GradScaler.update, fp32 "
                          "params (CUDA only); speedup = torch ms / clmp ms");
  cJSON *rows = cJSON_AddArrayToObject(out, "rows");
  cJSON *skipped = cJSON_AddArrayToObject(out, "skipped");
  size_t max = r->opts.quick ? OPTIM_MIN_PARAMS : OPTIM_MAX_PARAMS;
  double slowest = 0;
  clmp_status st = CLMP_SUCCESS;
  for (size_t n = OPTIM_MIN_PARAMS; st == CLMP_SUCCESS && n <= max; n *= OPTIM_GROWTH) {
    if (slowest * OPTIM_GROWTH > OPTIM_BUDGET_S) {
      skip(r, skipped, NULL, n, "time budget");
      break;
    }
    st = size_rows(r, rows, skipped, n, &slowest);
  }
  return st;
}
