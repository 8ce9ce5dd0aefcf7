/* tools/clmp/bench_gemm.c: the gemm section: clmp_gemm at square sizes 256 to 8192 and at the
 * shapes of the MLP 784-512-256-10 with batch 128 (forward, weight and input gradients), in f32
 * (CLBlast's Sgemm: the reference of every row of the same shape) and with f16 or bf16 inputs and
 * fp32 accumulation. On NVIDIA devices of compute capability 8 or more each mixed row is measured
 * twice: as the library chooses, and with CLMP_GEMM=portable (the portable kernel); on compute
 * capability 9.0, where the library's tensor-core kernel is the wgmma one, the square rows once
 * more with CLMP_GEMM=mma-sync (the mma.sync kernel). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define GEMM_MIN_SIZE 256
#define GEMM_MAX_SIZE 8192
#define GEMM_CALL_BUDGET_S                                                                    \
  1.0                      /* the next size (8x the work) runs while 8x the slowest call fits \
                            */
#define GEMM_GROWTH    8.0 /* work of the next square size over this one's */
#define GEMM_MEM_SHARE 2   /* the f32 A, B and C take at most half the device's memory */
#define GEMM_SEED      0x9e3779b97f4a7c15ull
#define PATH_ENV       "CLMP_GEMM"

typedef struct gemm_shape {
  char name[32];
  clmp_transpose ta, tb;
  size_t m, n, k;
} gemm_shape;

/* The MLP's GEMMs at batch 128: y = x W^T, dW = dy^T x, dx = dy W (fc1 has no dx). */
static const gemm_shape mlp_shapes[] = {
    {"fc1 forward", CLMP_NO_TRANS, CLMP_TRANS, 128, 512, 784},
    {"fc2 forward", CLMP_NO_TRANS, CLMP_TRANS, 128, 256, 512},
    {"fc3 forward", CLMP_NO_TRANS, CLMP_TRANS, 128, 10, 256},
    {"fc3 dW", CLMP_TRANS, CLMP_NO_TRANS, 10, 256, 128},
    {"fc3 dX", CLMP_NO_TRANS, CLMP_NO_TRANS, 128, 256, 10},
    {"fc2 dW", CLMP_TRANS, CLMP_NO_TRANS, 256, 512, 128},
    {"fc2 dX", CLMP_NO_TRANS, CLMP_NO_TRANS, 128, 512, 256},
    {"fc1 dW", CLMP_TRANS, CLMP_NO_TRANS, 512, 784, 128},
};
#define N_MLP_SHAPES (sizeof mlp_shapes / sizeof *mlp_shapes)

typedef struct gemm_kind {
  clmp_dtype in, out;
  const char *path; /* CLMP_GEMM while timed ("portable", "mma-sync"); NULL: the library's choice */
} gemm_kind;

/* Square sizes: f32, then f16 and bf16 in with f32 out; the MLP: its training dtypes. The first
 * kind of each list is the reference; the portable rows follow only on NVIDIA cc >= 8, the
 * mma.sync rows only on cc 9.0 (kinds_count). */
static const gemm_kind square_kinds[] = {
    {CLMP_F32, CLMP_F32, NULL},        {CLMP_F16, CLMP_F32, NULL},
    {CLMP_BF16, CLMP_F32, NULL},       {CLMP_F16, CLMP_F32, "portable"},
    {CLMP_BF16, CLMP_F32, "portable"}, {CLMP_F16, CLMP_F32, "mma-sync"},
    {CLMP_BF16, CLMP_F32, "mma-sync"}};
static const gemm_kind mlp_kinds[] = {{CLMP_F32, CLMP_F32, NULL},
                                      {CLMP_F16, CLMP_F16, NULL},
                                      {CLMP_BF16, CLMP_BF16, NULL},
                                      {CLMP_F16, CLMP_F16, "portable"},
                                      {CLMP_BF16, CLMP_BF16, "portable"}};
#define N_PLAIN    3 /* kinds without the portable rows */
#define N_PORTABLE 5 /* with them */
#define N_SQUARE   (sizeof square_kinds / sizeof *square_kinds)

/* How many kinds of the list (of n) the device runs. */
static int kinds_count(const clmp_device_info *d, size_t n) {
  if (d->nv_cc_major < 8) return N_PLAIN;
  return d->nv_cc_major == 9 && d->nv_cc_minor == 0 ? (int)n : N_PORTABLE;
}

typedef struct gemm_job {
  const gemm_shape *shape;
  clmp_tensor *a, *b, *c;
} gemm_job;

static clmp_status gemm_call(void *user) {
  gemm_job *j = user;
  return clmp_gemm(j->shape->ta, j->shape->tb, 1.0f, j->a, j->b, 0.0f, j->c);
}

/* A rows x cols tensor of dtype d holding uniform values in [-1, 1). */
static clmp_status random_matrix(clmp_ctx *ctx, clmp_dtype d, size_t rows, size_t cols,
                                 clmp_tensor **out) {
  size_t shape[2] = {rows, cols};
  return bench_random_tensor(ctx, d, 2, shape, GEMM_SEED, out);
}

static clmp_status make_job(clmp_ctx *ctx, const gemm_shape *sh, const gemm_kind *k, gemm_job *j) {
  int ta = sh->ta == CLMP_TRANS, tb = sh->tb == CLMP_TRANS;
  size_t c_shape[2] = {sh->m, sh->n};
  *j = (gemm_job){sh, NULL, NULL, NULL};
  clmp_status st = random_matrix(ctx, k->in, ta ? sh->k : sh->m, ta ? sh->m : sh->k, &j->a);
  if (st == CLMP_SUCCESS)
    st = random_matrix(ctx, k->in, tb ? sh->n : sh->k, tb ? sh->k : sh->n, &j->b);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(ctx, k->out, 2, c_shape, &j->c);
  return st;
}

/* Times the job, with CLMP_GEMM set to the kind's path if it has one (the user's value
 * restored). */
static clmp_status time_job(bench_run *r, const gemm_kind *k, gemm_job *j, double *secs) {
  const char *old = getenv(PATH_ENV);
  char *saved = old ? strdup(old) : NULL;
  if (k->path && setenv(PATH_ENV, k->path, 1) != 0) {
    free(saved);
    return CLMP_ERR_OUT_OF_HOST_MEMORY;
  }
  clmp_status st = bench_time(r, gemm_call, j, secs);
  if (k->path && saved)
    setenv(PATH_ENV, saved, 1);
  else if (k->path)
    unsetenv(PATH_ENV);
  free(saved);
  return st;
}

static void kind_text(const bench_run *r, const gemm_kind *k, char *buf, size_t size) {
  if (k->in == CLMP_F32)
    snprintf(buf, size, "f32 (%s)", r->dev->kind == CLMP_DEVICE_REF ? "reference" : "Sgemm");
  else
    snprintf(buf, size, "%s*%s->%s", clmp_dtype_name(k->in), clmp_dtype_name(k->in),
             clmp_dtype_name(k->out));
}

static void add_row(bench_run *r, cJSON *rows, const gemm_shape *sh, const gemm_kind *k,
                    double secs, double ref_tflops) {
  char dtypes[32], ratio[16];
  double tflops = 2.0 * (double)sh->m * (double)sh->n * (double)sh->k / secs / 1e12;
  double x = k->in == CLMP_F32 && !k->path ? NAN : bench_ratio(tflops, ref_tflops);
  kind_text(r, k, dtypes, sizeof dtypes);
  bench_print(r, "%-12s %5zu %5zu %5zu %c%c  %-16s %-8s %10.3f %10.4g %10.4g %8s\n", sh->name,
              sh->m, sh->n, sh->k, sh->ta ? 'T' : 'N', sh->tb ? 'T' : 'N', dtypes,
              k->path ? k->path : "auto", secs * 1e3, tflops, ref_tflops,
              bench_ratio_text(x, ratio, sizeof ratio));
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "shape", sh->name);
  cJSON_AddNumberToObject(o, "m", (double)sh->m);
  cJSON_AddNumberToObject(o, "n", (double)sh->n);
  cJSON_AddNumberToObject(o, "k", (double)sh->k);
  cJSON_AddBoolToObject(o, "trans_a", sh->ta == CLMP_TRANS);
  cJSON_AddBoolToObject(o, "trans_b", sh->tb == CLMP_TRANS);
  cJSON_AddStringToObject(o, "dtypes", dtypes);
  cJSON_AddStringToObject(o, "path", k->path ? k->path : "auto");
  cJSON_AddNumberToObject(o, "ms", secs * 1e3);
  cJSON_AddNumberToObject(o, "tflops", tflops);
  bench_json_number(o, "reference_tflops", ref_tflops);
  bench_json_number(o, "ratio", x);
  cJSON_AddItemToArray(rows, o);
}

/* Every kind of one shape; *slowest receives the longest call's seconds. */
static clmp_status shape_rows(bench_run *r, cJSON *rows, const gemm_shape *sh,
                              const gemm_kind *kinds, size_t n_kinds, double *slowest) {
  int n = kinds_count(r->dev, n_kinds);
  double ref_tflops = NAN;
  *slowest = 0;
  for (int i = 0; i < n; i++) {
    gemm_job j;
    double secs = 0;
    clmp_status st = make_job(r->ctx, sh, &kinds[i], &j);
    if (st == CLMP_SUCCESS) st = time_job(r, &kinds[i], &j, &secs);
    clmp_tensor_free(j.a), clmp_tensor_free(j.b), clmp_tensor_free(j.c);
    if (st != CLMP_SUCCESS) return st;
    if (i == 0) ref_tflops = 2.0 * (double)sh->m * (double)sh->n * (double)sh->k / secs / 1e12;
    add_row(r, rows, sh, &kinds[i], secs, ref_tflops);
    *slowest = fmax(*slowest, secs);
  }
  return CLMP_SUCCESS;
}

/* Whether the f32 A, B and C of size n fit the device. */
static int square_fits(const clmp_device_info *d, size_t n) {
  double bytes = 4.0 * (double)n * (double)n;
  return bytes <= (double)d->max_alloc && 3 * bytes <= (double)d->global_mem / GEMM_MEM_SHARE;
}

static clmp_status square_rows(bench_run *r, cJSON *rows, cJSON *skipped) {
  double slowest = 0;
  size_t max = r->opts.quick ? GEMM_MIN_SIZE : GEMM_MAX_SIZE;
  for (size_t n = GEMM_MIN_SIZE; n <= max; n *= 2) {
    const char *why = !square_fits(r->dev, n)                      ? "device memory"
                      : slowest * GEMM_GROWTH > GEMM_CALL_BUDGET_S ? "time budget"
                                                                   : NULL;
    if (why) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "size", (double)n);
      cJSON_AddStringToObject(o, "reason", why);
      cJSON_AddItemToArray(skipped, o);
      bench_print(r, "%zu^3 and larger: skipped (%s)\n", n, why);
      break;
    }
    gemm_shape sh = {"", CLMP_NO_TRANS, CLMP_NO_TRANS, n, n, n};
    snprintf(sh.name, sizeof sh.name, "square %zu", n);
    clmp_status st = shape_rows(r, rows, &sh, square_kinds, N_SQUARE, &slowest);
    if (st != CLMP_SUCCESS) return st;
  }
  return CLMP_SUCCESS;
}

clmp_status bench_gemm(bench_run *r, cJSON *out) {
  bench_print(r, "%-12s %5s %5s %5s %-3s %-16s %-8s %10s %10s %10s %8s\n", "shape", "M", "N", "K",
              "op", "dtypes", "path", "ms", "TFLOP/s", "f32 TF/s", "ratio");
  cJSON_AddStringToObject(out, "reference", "the f32 row of the same shape (CLBlast Sgemm)");
  cJSON *rows = cJSON_AddArrayToObject(out, "rows");
  cJSON *skipped = cJSON_AddArrayToObject(out, "skipped");
  clmp_status st = square_rows(r, rows, skipped);
  double slowest = 0;
  for (size_t i = 0; st == CLMP_SUCCESS && i < N_MLP_SHAPES; i++)
    st = shape_rows(r, rows, &mlp_shapes[i], mlp_kinds, N_PORTABLE, &slowest);
  return st;
}
