/* tools/clmp/bench_start.c: the start section: a context plus every kernel program training uses
 * (clmp_train_prepare for fp16, bf16 and fp32), timed in fresh processes. Cold: clmp's binary
 * cache and the driver's own kernel cache (PoCL's, NVIDIA's) in new empty folders. Warm: clmp's
 * cache as the cold run filled it, the driver's cache off (POCL_KERNEL_CACHE=0,
 * CUDA_CACHE_DISABLE=1): what clmp's cache alone saves; the headline ratio. Warm with every
 * cache: the driver's too, as the cold run filled it: what a second start on a machine costs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/runtime/runtime.h"
#include "bench.h"

#define WARM_RUNS    3      /* the warm figure is their median (1 with --quick or a slow start) */
#define SLOW_COLD_MS 5000.0 /* a cold start this slow gets one warm run */
#define CHILD_EXE    "/proc/self/exe"
#define ENV_MAX      4200
#define N_PREC       3
#define QUICK_PREC   1 /* --quick prepares fp32 only */
#define N_COUNTERS   3
#define COUNTER_LEN  16

static const clmp_precision precisions[N_PREC] = {CLMP_PRECISION_FP32, CLMP_PRECISION_FP16,
                                                  CLMP_PRECISION_BF16};

int bench_start_child(const char *device, int quick) {
  double t0 = bench_now();
  clmp_ctx *ctx = NULL;
  clmp_status st = clmp_ctx_create(device, &ctx);
  double t1 = bench_now();
  for (int i = 0; st == CLMP_SUCCESS && i < (quick ? QUICK_PREC : N_PREC); i++) {
    clmp_train_config cfg;
    clmp_train_config_default(&cfg);
    cfg.precision = precisions[i];
    st = clmp_train_prepare(ctx, &cfg);
  }
  double t2 = bench_now();
  if (st != CLMP_SUCCESS) {
    clmp_ctx_free(ctx);
    return cli_fail("bench", st, "--start-child");
  }
  const clmp__cache_stats *c = &ctx->cache;
  printf("{\"context_ms\": %.3f, \"programs_ms\": %.3f, \"programs\": %lu, \"cache_hits\": %lu, "
         "\"cache_writes\": %lu}\n",
         (t1 - t0) * 1e3, (t2 - t1) * 1e3, c->disk_hits + c->disk_misses + c->disk_rejects,
         c->disk_hits, c->disk_writes);
  clmp_ctx_free(ctx);
  return CLI_OK;
}

typedef struct start_times {
  double context_ms, programs_ms, total_ms, process_ms;
  double counters[N_COUNTERS]; /* programs, cache hits, cache writes */
} start_times;

static const char counter_names[N_COUNTERS][COUNTER_LEN] = {"programs", "cache_hits",
                                                            "cache_writes"};

static double number(const cJSON *o, const char *key) {
  return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static clmp_status parse_child(const char *text, start_times *t) {
  cJSON *o = text ? cJSON_Parse(text) : NULL;
  if (!o) return CLMP_ERR_FORMAT;
  t->context_ms = number(o, "context_ms"), t->programs_ms = number(o, "programs_ms");
  t->total_ms = t->context_ms + t->programs_ms;
  for (int i = 0; i < N_COUNTERS; i++) t->counters[i] = number(o, counter_names[i]);
  cJSON_Delete(o);
  return CLMP_SUCCESS;
}

/* The environment of a child: clmp's and the drivers' caches in dir, the drivers' on or off. */
typedef struct child_env {
  char clmp[ENV_MAX], pocl[ENV_MAX], cuda[ENV_MAX];
  const char *vars[8];
} child_env;

/* With the drivers' caches off, their folders are others: PoCL still builds in its folder then,
 * and removes what it built, entries of the cold run included. */
static void make_env(child_env *e, const char *dir, int driver_caches) {
  const char *off = driver_caches ? "" : "-off";
  snprintf(e->clmp, sizeof e->clmp, "CLMP_CACHE_DIR=%s/clmp", dir);
  snprintf(e->pocl, sizeof e->pocl, "POCL_CACHE_DIR=%s/pocl%s", dir, off);
  snprintf(e->cuda, sizeof e->cuda, "CUDA_CACHE_PATH=%s/cuda%s", dir, off);
  const char *vars[] = {e->clmp,
                        e->pocl,
                        e->cuda,
                        driver_caches ? "POCL_KERNEL_CACHE=1" : "POCL_KERNEL_CACHE=0",
                        driver_caches ? "CUDA_CACHE_DISABLE=0" : "CUDA_CACHE_DISABLE=1",
                        "CLMP_CACHE",
                        NULL};
  memcpy(e->vars, vars, sizeof vars);
}

/* One fresh process with its caches in dir. */
static clmp_status run_child(const bench_run *r, const char *dir, int driver_caches,
                             start_times *t) {
  child_env env;
  make_env(&env, dir, driver_caches);
  char *argv[] = {CHILD_EXE,
                  "bench",
                  "--start-child",
                  "--device",
                  (char *)r->device_id,
                  r->opts.quick ? "--quick" : NULL,
                  NULL};
  char *out = NULL;
  int status = -1;
  double t0 = bench_now();
  int err = bench_spawn(argv, env.vars, NULL, &out, &status);
  t->process_ms = (bench_now() - t0) * 1e3;
  clmp_status st = err || status != 0 ? CLMP_ERR_IO : parse_child(out, t);
  if (st != CLMP_SUCCESS)
    fprintf(stderr, "clmp bench: the start-up child %s failed (%s, exit status %d)\n", CHILD_EXE,
            err ? strerror(err) : "ran", status);
  free(out);
  return st;
}

static void add_row(const bench_run *r, cJSON *rows, const char *name, const start_times *t) {
  bench_print(r, "%-27s %11.1f %12.1f %10.1f %11.1f %9.0f %11.0f\n", name, t->context_ms,
              t->programs_ms, t->total_ms, t->process_ms, t->counters[0], t->counters[1]);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "run", name);
  cJSON_AddNumberToObject(o, "context_ms", t->context_ms);
  cJSON_AddNumberToObject(o, "programs_ms", t->programs_ms);
  cJSON_AddNumberToObject(o, "total_ms", t->total_ms);
  cJSON_AddNumberToObject(o, "process_ms", t->process_ms);
  for (int i = 0; i < N_COUNTERS; i++) cJSON_AddNumberToObject(o, counter_names[i], t->counters[i]);
  cJSON_AddItemToArray(rows, o);
}

/* n warm runs; *median is the one of median total time. */
static clmp_status warm_runs(const bench_run *r, const char *dir, int driver_caches, int n,
                             start_times *median) {
  start_times t[WARM_RUNS];
  for (int i = 0; i < n; i++) {
    clmp_status st = run_child(r, dir, driver_caches, &t[i]);
    if (st != CLMP_SUCCESS) return st;
    for (int j = i; j > 0 && t[j].total_ms < t[j - 1].total_ms; j--) {
      start_times s = t[j];
      t[j] = t[j - 1], t[j - 1] = s;
    }
  }
  *median = t[n / 2];
  return CLMP_SUCCESS;
}

/* Whether the device's programs go through clmp's binary cache (not on ref: it has none). */
static int cached(const bench_run *r) {
  return r->dev->kind != CLMP_DEVICE_REF && clmp__binary_cache_usable(r->dev);
}

/* The two warm figures after the cold one, each with its ratio. */
static clmp_status warm_rows(bench_run *r, const char *dir, const start_times *cold, cJSON *out) {
  static const char *names[2][2] = {{"warm", "warm (median of 3)"},
                                    {"warm, every cache", "warm, every cache (median)"}};
  static const char *keys[2] = {"ratio_cold_to_warm", "ratio_cold_to_warm_every_cache"};
  int n = r->opts.quick || cold->total_ms > SLOW_COLD_MS ? 1 : WARM_RUNS;
  cJSON *rows = cJSON_GetObjectItemCaseSensitive(out, "rows");
  double x[2] = {NAN, NAN};
  for (int d = 0; d < 2; d++) {
    start_times warm;
    clmp_status st = warm_runs(r, dir, d, n, &warm);
    if (st != CLMP_SUCCESS) return st;
    add_row(r, rows, names[d][n > 1], &warm);
    x[d] = bench_ratio(cold->total_ms, warm.total_ms);
    bench_json_number(out, keys[d], x[d]);
  }
  char a[16], b[16];
  bench_print(r, "cold / warm (context + programs): %s clmp's cache alone%s, %s every cache\n",
              bench_ratio_text(x[0], a, sizeof a), cached(r) ? "" : " (none on this device)",
              bench_ratio_text(x[1], b, sizeof b));
  return CLMP_SUCCESS;
}

static clmp_status cold_and_warm(bench_run *r, const char *dir, cJSON *out) {
  start_times cold;
  cJSON *rows = cJSON_AddArrayToObject(out, "rows");
  clmp_status st = run_child(r, dir, 1, &cold);
  if (st != CLMP_SUCCESS) return st;
  add_row(r, rows, "cold", &cold);
  return warm_rows(r, dir, &cold, out);
}

clmp_status bench_start(bench_run *r, cJSON *out) {
  char dir[4096];
  if (bench_temp_dir("cache", dir, sizeof dir) != 0) {
    fprintf(stderr, "clmp bench: cannot create a temporary cache folder\n");
    return CLMP_ERR_IO;
  }
  bench_print(r, "%-27s %11s %12s %10s %11s %9s %11s\n", "run", "context ms", "programs ms",
              "total ms", "process ms", "programs", "cache hits");
  cJSON_AddStringToObject(out, "programs_for", r->opts.quick ? "fp32" : "fp16, bf16, fp32");
  cJSON_AddBoolToObject(out, "binary_cache", cached(r));
  cJSON_AddStringToObject(out, "runs",
                          "cold: every cache empty; warm: clmp's cache filled, the driver's off "
                          "(POCL_KERNEL_CACHE=0, CUDA_CACHE_DISABLE=1); warm, every cache: "
                          "clmp's and the driver's filled");
  clmp_status st = cold_and_warm(r, dir, out);
  bench_remove_dir(dir);
  return st;
}
