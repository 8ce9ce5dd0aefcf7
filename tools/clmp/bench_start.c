/* tools/clmp/bench_start.c: the start section: a context plus every kernel program training uses
 * (clmp_train_prepare for fp16, bf16 and fp32), timed in fresh processes: cold, with an empty
 * binary cache folder, then warm, from the cache the cold run filled. The drivers' own caches are
 * off in both (POCL_KERNEL_CACHE=0, CUDA_CACHE_DISABLE=1), so warm measures clmp's cache. */
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

/* One fresh process with cache_dir as the binary cache. */
static clmp_status run_child(const bench_run *r, const char *cache_dir, start_times *t) {
  char cache_env[ENV_MAX];
  snprintf(cache_env, sizeof cache_env, "CLMP_CACHE_DIR=%s", cache_dir);
  const char *env[] = {cache_env, "POCL_KERNEL_CACHE=0", "CUDA_CACHE_DISABLE=1", "CLMP_CACHE",
                       NULL};
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
  int err = bench_spawn(argv, env, NULL, &out, &status);
  t->process_ms = (bench_now() - t0) * 1e3;
  clmp_status st = err || status != 0 ? CLMP_ERR_IO : parse_child(out, t);
  if (st != CLMP_SUCCESS)
    fprintf(stderr, "clmp bench: the start-up child %s failed (%s, exit status %d)\n", CHILD_EXE,
            err ? strerror(err) : "ran", status);
  free(out);
  return st;
}

static void add_row(const bench_run *r, cJSON *rows, const char *name, const start_times *t) {
  bench_print(r, "%-20s %11.1f %12.1f %10.1f %11.1f %9.0f %11.0f\n", name, t->context_ms,
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
static clmp_status warm_runs(const bench_run *r, const char *dir, int n, start_times *median) {
  start_times t[WARM_RUNS];
  for (int i = 0; i < n; i++) {
    clmp_status st = run_child(r, dir, &t[i]);
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

static clmp_status cold_and_warm(bench_run *r, const char *dir, cJSON *out) {
  start_times cold, warm;
  cJSON *rows = cJSON_AddArrayToObject(out, "rows");
  clmp_status st = run_child(r, dir, &cold);
  if (st != CLMP_SUCCESS) return st;
  add_row(r, rows, "cold", &cold);
  int n = r->opts.quick || cold.total_ms > SLOW_COLD_MS ? 1 : WARM_RUNS;
  if ((st = warm_runs(r, dir, n, &warm)) != CLMP_SUCCESS) return st;
  add_row(r, rows, n > 1 ? "warm (median of 3)" : "warm", &warm);
  char ratio[16];
  double x = bench_ratio(cold.total_ms, warm.total_ms);
  bench_json_number(out, "ratio_cold_to_warm", x);
  bench_print(r, "cold / warm (context + programs): %s%s\n",
              bench_ratio_text(x, ratio, sizeof ratio),
              cached(r) ? "" : " (no binary cache on this device)");
  return CLMP_SUCCESS;
}

clmp_status bench_start(bench_run *r, cJSON *out) {
  char dir[4096];
  if (bench_temp_dir("cache", dir, sizeof dir) != 0) {
    fprintf(stderr, "clmp bench: cannot create a temporary cache folder\n");
    return CLMP_ERR_IO;
  }
  bench_print(r, "%-20s %11s %12s %10s %11s %9s %11s\n", "run", "context ms", "programs ms",
              "total ms", "process ms", "programs", "cache hits");
  cJSON_AddStringToObject(out, "programs_for", r->opts.quick ? "fp32" : "fp16, bf16, fp32");
  cJSON_AddBoolToObject(out, "binary_cache", cached(r));
  cJSON_AddStringToObject(out, "driver_caches", "off (POCL_KERNEL_CACHE=0, CUDA_CACHE_DISABLE=1)");
  clmp_status st = cold_and_warm(r, dir, out);
  bench_remove_dir(dir);
  return st;
}
