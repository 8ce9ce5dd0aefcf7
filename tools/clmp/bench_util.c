/* tools/clmp/bench_util.c: timing by the wall clock around clmp_ctx_finish (median of samples
 * after a warm-up), ratios, and the printing helpers of `clmp bench`. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define SAMPLE_S       0.05  /* a sample lasts at least this long (fewer finishes per call) */
#define QUICK_SAMPLE_S 0.005 /* with --quick */
#define SAMPLES        5     /* samples whose median is the figure */
#define FEW_SAMPLES    3     /* with --quick, or for calls of SLOW_CALL_S or more */
#define SLOW_CALL_S    0.5
#define MAX_CALLS      10000 /* calls per sample, at most */
#define MIN_CALL_S     1e-7  /* a calibration call faster than this is taken as this */
#define LCG_MULTIPLIER 6364136223846793005ull
#define LCG_INCREMENT  1442695040888963407ull

uint64_t bench_random(uint64_t *state) {
  *state = *state * LCG_MULTIPLIER + LCG_INCREMENT;
  return *state;
}

clmp_status bench_random_tensor(clmp_ctx *ctx, clmp_dtype d, int ndim, const size_t *shape,
                                uint64_t seed, clmp_tensor **out) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  uint64_t s = seed ^ n;
  float *v = malloc(n * sizeof *v);
  if (!v) return CLMP_ERR_OUT_OF_HOST_MEMORY;
  for (size_t i = 0; i < n; i++) v[i] = (float)(bench_random(&s) >> 40) * 0x1p-23f - 1.0f;
  clmp_status st = clmp_tensor_create(ctx, d, ndim, shape, out);
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(*out, CLMP_F32, v, n);
  free(v);
  return st;
}

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* calls back-to-back, then a finish: the seconds from the first enqueue to the finish's end. */
static clmp_status timed_calls(bench_run *r, bench_fn fn, void *user, int calls, double *secs) {
  double t0 = bench_now();
  clmp_status st = CLMP_SUCCESS;
  for (int i = 0; st == CLMP_SUCCESS && i < calls; i++) st = fn(user);
  if (st == CLMP_SUCCESS) st = clmp_ctx_finish(r->ctx);
  *secs = bench_now() - t0;
  return st;
}

static double median(double *v, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
      double t = v[j];
      v[j] = v[j - 1], v[j - 1] = t;
    }
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

clmp_status bench_time(bench_run *r, bench_fn fn, void *user, double *seconds) {
  double first = 0, once = 0, t[SAMPLES];
  clmp_status st = timed_calls(r, fn, user, 1, &first);
  if (st == CLMP_SUCCESS) st = timed_calls(r, fn, user, 1, &once);
  if (st != CLMP_SUCCESS) return st;
  double sample_s = r->opts.quick ? QUICK_SAMPLE_S : SAMPLE_S;
  int calls = (int)fmin(MAX_CALLS, fmax(1.0, ceil(sample_s / fmax(once, MIN_CALL_S))));
  int samples = r->opts.quick || once >= SLOW_CALL_S ? FEW_SAMPLES : SAMPLES;
  for (int i = 0; st == CLMP_SUCCESS && i < samples; i++) {
    st = timed_calls(r, fn, user, calls, &t[i]);
    t[i] /= calls;
  }
  *seconds = median(t, samples);
  return st;
}

double bench_ratio(double a, double b) {
  return a > 0 && b > 0 && isfinite(a) && isfinite(b) ? a / b : NAN;
}

const char *bench_ratio_text(double ratio, char *buf, size_t size) {
  if (isfinite(ratio))
    snprintf(buf, size, "%.2fx", ratio);
  else
    snprintf(buf, size, "-");
  return buf;
}

const char *bench_value_text(double v, int decimals, char *buf, size_t size) {
  if (v > 0 && isfinite(v))
    snprintf(buf, size, "%.*f", decimals, v);
  else
    snprintf(buf, size, "-");
  return buf;
}

void bench_json_number(cJSON *o, const char *key, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(o, key, v);
  else
    cJSON_AddNullToObject(o, key);
}

void bench_print(const bench_run *r, const char *fmt, ...) {
  if (r->opts.json) return;
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
}

const cJSON *bench_torch_row(const bench_run *r, const char *list, const char *key,
                             const char *value_str, double value) {
  const cJSON *row;
  cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(r->torch, list)) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    if (value_str ? cJSON_IsString(v) && !strcmp(v->valuestring, value_str)
                  : cJSON_IsNumber(v) && v->valuedouble == value)
      return row;
  }
  return NULL;
}
