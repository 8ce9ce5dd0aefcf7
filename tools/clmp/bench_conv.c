/* tools/clmp/bench_conv.c: the conv section: clmp_conv2d, clmp_conv2d_backward_data and
 * clmp_conv2d_backward_filter at the CNN preset's shapes (batch 128) and ResNet-18's 3x3 shapes
 * (batch 32), in f32, f16 and bf16 (x, w, y alike; a whole-batch workspace), each against a
 * reference measured in the same run on the same shape: fp32 im2col and CLBlast's Sgemm one image
 * at a time, as Caffe does (cl/bench.cl's bench_im2col and bench_col2im, Sgemm through
 * clmp_gemm_ex). On slow devices a shape's batch shrinks so that a reference forward call takes
 * at most CONV_CALL_BUDGET (the N column says the batch measured). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/runtime/error.h"
#include "../../host/runtime/launch.h"
#include "../../host/tensor/tensor_impl.h"
#include "bench.h"

#define CONV_TAPS         3 /* every shape is 3x3, stride 1, padding 1 */
#define CONV_PAD          1
#define CONV_QUICK_DIV    16   /* --quick divides every batch by this (at least 1 image) */
#define CONV_MEM_SHARE    2    /* tensors and workspaces take at most half the device's memory */
#define CONV_CALL_BUDGET  0.5  /* seconds of a reference forward call at most: the batch shrinks */
#define CONV_QUICK_BUDGET 0.05 /* the same with --quick */
#define CONV_SEED         0xc0a7be4c4ull
#define F32_BYTES         4

typedef struct conv_shape {
  const char *name;
  size_t n, c, hw, o;
} conv_shape;

static const conv_shape shapes[] = {
    {"cnn conv1", 128, 1, 28, 32},      {"cnn conv2", 128, 32, 14, 64},
    {"resnet18 64", 32, 64, 56, 64},    {"resnet18 128", 32, 128, 28, 128},
    {"resnet18 256", 32, 256, 14, 256}, {"resnet18 512", 32, 512, 7, 512},
};
#define N_SHAPES (sizeof shapes / sizeof *shapes)

typedef enum conv_op { OP_FORWARD, OP_DATA, OP_FILTER, N_OPS } conv_op;
static const char *const OP_NAMES[N_OPS] = {"forward", "backward_data", "backward_filter"};

static const clmp_dtype DTYPES[] = {CLMP_F32, CLMP_F16, CLMP_BF16};
#define N_DTYPES (sizeof DTYPES / sizeof *DTYPES)

/* One shape's tensors: x, w, y (dy too), dx, dw, the workspace; the reference's col (dcol). */
typedef struct conv_job {
  bench_run *r;
  conv_op op;
  size_t n, c, hw, o;
  clmp_conv2d_params p;
  clmp_tensor *x, *w, *y, *dx, *dw, *ws, *col;
  cl_kernel im2col, col2im; /* the reference's */
  cl_int16 geo;
} conv_job;

static double conv_flops(const conv_job *j) {
  return 2.0 * (double)j->n * (double)j->o * (double)(j->hw * j->hw) * (double)j->c * CONV_TAPS *
         CONV_TAPS;
}

/* --- the reference: per image, im2col, Sgemm, col2im ----------------------------------------- */

static clmp_status ref_launch(conv_job *j, cl_kernel k, const char *name, clmp__arg *args,
                              int nargs, size_t global) {
  clmp_status st = clmp__set_args(k, name, args, nargs);
  if (st != CLMP_SUCCESS) return st;
  cl_int err = clEnqueueNDRangeKernel(j->r->ctx->queue, k, 1, NULL, &global, NULL, 0, NULL, NULL);
  return err ? CLMP_FAIL(err, "clEnqueueNDRangeKernel(%s, %zu items)", name, global) : CLMP_SUCCESS;
}

/* col = im2col(image i of x). */
static clmp_status ref_im2col(conv_job *j, size_t i) {
  cl_ulong x_off = i * j->c * j->hw * j->hw, n = (cl_ulong)j->c * j->hw * j->hw;
  clmp__arg args[] = {CLMP_ARG(j->x->storage->mem), CLMP_ARG(x_off), CLMP_ARG(j->col->storage->mem),
                      CLMP_ARG(j->geo), CLMP_ARG(n)};
  return ref_launch(j, j->im2col, "bench_im2col", args, 5, (size_t)n);
}

/* image i of dx = col2im(col). */
static clmp_status ref_col2im(conv_job *j, size_t i) {
  cl_ulong dx_off = i * j->c * j->hw * j->hw, n = (cl_ulong)j->c * j->hw * j->hw;
  clmp__arg args[] = {CLMP_ARG(j->col->storage->mem), CLMP_ARG(j->dx->storage->mem),
                      CLMP_ARG(dx_off), CLMP_ARG(j->geo), CLMP_ARG(n)};
  return ref_launch(j, j->col2im, "bench_col2im", args, 5, (size_t)n);
}

static clmp_status ref_call(void *user) {
  conv_job *j = user;
  size_t k = j->c * CONV_TAPS * CONV_TAPS, p = j->hw * j->hw;
  clmp_matrix w = {j->w, 0, j->o, k, k}, col = {j->col, 0, k, p, p}, dw = {j->dw, 0, j->o, k, k};
  clmp_status st = CLMP_SUCCESS;
  for (size_t i = 0; i < j->n && st == CLMP_SUCCESS; i++) {
    clmp_matrix y = {j->y, i * j->o * p, j->o, p, p};
    if (j->op != OP_DATA) st = ref_im2col(j, i);
    if (st == CLMP_SUCCESS && j->op == OP_FORWARD)
      st = clmp_gemm_ex(CLMP_NO_TRANS, CLMP_NO_TRANS, 1.0f, w, col, 0.0f, y);
    if (st == CLMP_SUCCESS && j->op == OP_DATA)
      st = clmp_gemm_ex(CLMP_TRANS, CLMP_NO_TRANS, 1.0f, w, y, 0.0f, col);
    if (st == CLMP_SUCCESS && j->op == OP_DATA) st = ref_col2im(j, i);
    if (st == CLMP_SUCCESS && j->op == OP_FILTER)
      st = clmp_gemm_ex(CLMP_NO_TRANS, CLMP_TRANS, 1.0f, y, col, i ? 1.0f : 0.0f, dw);
  }
  return st;
}

/* --- clmp --------------------------------------------------------------------------------- */

static clmp_status clmp_call(void *user) {
  conv_job *j = user;
  if (j->op == OP_FORWARD) return clmp_conv2d(j->x, j->w, &j->p, j->ws, j->y);
  if (j->op == OP_DATA) return clmp_conv2d_backward_data(j->y, j->w, &j->p, j->ws, j->dx);
  return clmp_conv2d_backward_filter(j->x, j->y, &j->p, 0.0f, j->ws, j->dw);
}

/* The shape's tensors for a batch of n in dtype d; the reference's col with f32. */
static clmp_status make_job(bench_run *r, const conv_shape *sh, size_t n, clmp_dtype d,
                            conv_job *j) {
  *j = (conv_job){.r = r, .n = n, .c = sh->c, .hw = sh->hw, .o = sh->o};
  clmp_conv2d_params_default(&j->p);
  j->p.padding[0] = j->p.padding[1] = CONV_PAD;
  size_t xs[4] = {j->n, j->c, j->hw, j->hw}, fs[4] = {j->o, j->c, CONV_TAPS, CONV_TAPS};
  size_t ys[4], ws = 0, col[1] = {j->c * CONV_TAPS * CONV_TAPS * j->hw * j->hw};
  clmp_status st = clmp_conv2d_output_shape(xs, fs, &j->p, ys);
  if (st == CLMP_SUCCESS) st = clmp_conv2d_workspace_size(r->ctx, xs, fs, &j->p, &ws);
  if (st == CLMP_SUCCESS) st = bench_random_tensor(r->ctx, d, 4, xs, CONV_SEED, &j->x);
  if (st == CLMP_SUCCESS) st = bench_random_tensor(r->ctx, d, 4, fs, CONV_SEED, &j->w);
  if (st == CLMP_SUCCESS) st = bench_random_tensor(r->ctx, d, 4, ys, CONV_SEED, &j->y);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(r->ctx, d, 4, xs, &j->dx);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(r->ctx, d, 4, fs, &j->dw);
  if (st == CLMP_SUCCESS && ws) st = clmp_tensor_create(r->ctx, CLMP_U8, 1, &ws, &j->ws);
  if (st == CLMP_SUCCESS && d == CLMP_F32)
    st = clmp_tensor_create(r->ctx, CLMP_F32, 1, col, &j->col);
  return st;
}

static void free_job(conv_job *j) {
  clmp_tensor_free(j->x), clmp_tensor_free(j->w), clmp_tensor_free(j->y);
  clmp_tensor_free(j->dx), clmp_tensor_free(j->dw), clmp_tensor_free(j->ws);
  clmp_tensor_free(j->col);
}

/* The reference's kernels and geometry (f32 jobs on OpenCL devices). */
static clmp_status ref_prepare(conv_job *j) {
  int v[] = {(int)j->c, (int)j->hw, (int)j->hw, (int)j->hw, (int)j->hw, CONV_TAPS, CONV_TAPS,
             1,         1,          CONV_PAD,   CONV_PAD,   1,          1};
  memset(&j->geo, 0, sizeof j->geo);
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) j->geo.s[i] = v[i];
  clmp_status st = clmp__kernel_get(j->r->ctx, "bench", "", "bench_im2col", &j->im2col);
  return st == CLMP_SUCCESS ? clmp__kernel_get(j->r->ctx, "bench", "", "bench_col2im", &j->col2im)
                            : st;
}

/* --- rows ------------------------------------------------------------------------------------- */

static void add_row(bench_run *r, cJSON *rows, const conv_shape *sh, const conv_job *j,
                    const char *dtype, double secs, double ref_tflops) {
  char ratio[16], ref[32] = "-";
  double tflops = conv_flops(j) / secs / 1e12, x = bench_ratio(tflops, ref_tflops);
  if (isfinite(ref_tflops)) snprintf(ref, sizeof ref, "%.4g", ref_tflops);
  bench_print(r, "%-13s %4zu %4zu %4zu %4zu %-16s %-22s %10.3f %9.4g %9s %7s\n", sh->name, j->n,
              j->c, j->hw, j->o, OP_NAMES[j->op], dtype, secs * 1e3, tflops, ref,
              bench_ratio_text(x, ratio, sizeof ratio));
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "shape", sh->name);
  cJSON_AddNumberToObject(o, "n", (double)j->n);
  cJSON_AddNumberToObject(o, "c", (double)j->c);
  cJSON_AddNumberToObject(o, "hw", (double)j->hw);
  cJSON_AddNumberToObject(o, "o", (double)j->o);
  cJSON_AddStringToObject(o, "op", OP_NAMES[j->op]);
  cJSON_AddStringToObject(o, "dtypes", dtype);
  cJSON_AddNumberToObject(o, "ms", secs * 1e3);
  cJSON_AddNumberToObject(o, "tflops", tflops);
  bench_json_number(o, "reference_tflops", ref_tflops);
  bench_json_number(o, "ratio", x);
  cJSON_AddItemToArray(rows, o);
}

/* The reference's TFLOP/s for op (NAN on the reference device, which has no kernels). */
static clmp_status ref_row(bench_run *r, cJSON *rows, const conv_shape *sh, conv_job *j,
                           double *tflops) {
  double secs = 0;
  *tflops = NAN;
  if (r->dev->kind == CLMP_DEVICE_REF) return CLMP_SUCCESS;
  clmp_status st = ref_prepare(j);
  if (st == CLMP_SUCCESS) st = bench_time(r, ref_call, j, &secs);
  if (st != CLMP_SUCCESS) return st;
  *tflops = conv_flops(j) / secs / 1e12;
  add_row(r, rows, sh, j, "f32 im2col+Sgemm (ref)", secs, NAN);
  return CLMP_SUCCESS;
}

/* clmp's three ops in dtype d, against the references ref[op]; the f32 job also measures them. */
static clmp_status dtype_rows(bench_run *r, cJSON *rows, const conv_shape *sh, size_t n,
                              clmp_dtype d, double ref[N_OPS]) {
  conv_job j;
  clmp_status st = make_job(r, sh, n, d, &j);
  for (int op = 0; op < N_OPS && st == CLMP_SUCCESS; op++) {
    double secs = 0;
    j.op = (conv_op)op;
    if (d == CLMP_F32) st = ref_row(r, rows, sh, &j, &ref[op]);
    if (st == CLMP_SUCCESS) st = bench_time(r, clmp_call, &j, &secs);
    if (st != CLMP_SUCCESS) break;
    add_row(r, rows, sh, &j, clmp_dtype_name(d), secs, ref[op]);
  }
  free_job(&j);
  return st;
}

/* Device bytes of a shape at batch n in f32: x, dx, y, w, dw, the workspace, the reference's
 * col. */
static double shape_bytes(const conv_shape *sh, size_t n) {
  double k = (double)sh->c * CONV_TAPS * CONV_TAPS, p = (double)(sh->hw * sh->hw);
  double planes = (double)n * (2.0 * (double)sh->c * p + (double)sh->o * p);
  double ws = (double)n * (k + (double)sh->o) * p + (double)sh->o * k;
  return F32_BYTES * (planes + 2 * (double)sh->o * k + ws + k * p);
}

static double image_flops(const conv_shape *sh) {
  return 2.0 * (double)sh->o * (double)(sh->hw * sh->hw) * (double)sh->c * CONV_TAPS * CONV_TAPS;
}

/* Seconds of one call of the reference (clmp's forward on the reference device) on one image of
 * shape sh, after a first call that builds the kernels (none on the reference device); 0 when it
 * fails. */
static double image_seconds(bench_run *r, const conv_shape *sh) {
  conv_job j;
  double secs = 0;
  clmp_status st = make_job(r, sh, 1, CLMP_F32, &j);
  int ref_device = r->dev->kind == CLMP_DEVICE_REF;
  if (st == CLMP_SUCCESS && !ref_device) st = ref_prepare(&j);
  bench_fn fn = ref_device ? clmp_call : ref_call;
  for (int i = 0; i < (ref_device ? 1 : 2) && st == CLMP_SUCCESS; i++) {
    double t0 = bench_now();
    st = fn(&j);
    if (st == CLMP_SUCCESS) st = clmp_ctx_finish(r->ctx);
    secs = bench_now() - t0;
  }
  free_job(&j);
  return st == CLMP_SUCCESS ? secs : 0;
}

/* The batch of shape sh: its own (divided by CONV_QUICK_DIV with --quick), smaller when a call
 * of the reference would outlast the budget or the tensors would not fit the device; 0 when not
 * even one image does, *why saying which. *secs_per_flop: the last probe's speed (0: none yet),
 * by which a shape whose image would take longer than the budget is skipped unprobed. */
static size_t batch_of(bench_run *r, const conv_shape *sh, double *secs_per_flop,
                       const char **why) {
  size_t n = r->opts.quick ? sh->n / CONV_QUICK_DIV : sh->n;
  double budget = r->opts.quick ? CONV_QUICK_BUDGET : CONV_CALL_BUDGET;
  while (n && shape_bytes(sh, n) > (double)r->dev->global_mem / CONV_MEM_SHARE) n /= 2;
  *why = "device memory";
  if (!n) return 0;
  *why = "time budget";
  if (*secs_per_flop * image_flops(sh) > budget) return 0;
  double one = image_seconds(r, sh);
  if (one > 0) *secs_per_flop = one / image_flops(sh);
  if (one > budget) return 0;
  return one > 0 ? (size_t)fmin((double)n, floor(budget / one)) : n;
}

static void skip_row(bench_run *r, cJSON *skipped, const conv_shape *sh, const char *why) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "shape", sh->name);
  cJSON_AddStringToObject(o, "reason", why);
  cJSON_AddItemToArray(skipped, o);
  bench_print(r, "%s: skipped (%s)\n", sh->name, why);
}

clmp_status bench_conv(bench_run *r, cJSON *out) {
  bench_print(r, "%-13s %4s %4s %4s %4s %-16s %-22s %10s %9s %9s %7s\n", "shape", "N", "C", "HxW",
              "O", "op", "dtypes", "ms", "TFLOP/s", "ref TF/s", "ratio");
  cJSON_AddStringToObject(out, "reference",
                          "f32 im2col (Caffe's kernel) + CLBlast Sgemm per image, same shape");
  cJSON_AddStringToObject(out, "flops", "2 N O Ho Wo C/groups kh kw per call");
  cJSON *rows = cJSON_AddArrayToObject(out, "rows");
  cJSON *skipped = cJSON_AddArrayToObject(out, "skipped");
  double secs_per_flop = 0;
  for (size_t s = 0; s < N_SHAPES; s++) {
    const char *why = NULL;
    size_t n = batch_of(r, &shapes[s], &secs_per_flop, &why);
    if (!n) {
      skip_row(r, skipped, &shapes[s], why);
      continue;
    }
    double ref[N_OPS] = {NAN, NAN, NAN};
    for (size_t d = 0; d < N_DTYPES; d++) {
      clmp_status st = dtype_rows(r, rows, &shapes[s], n, DTYPES[d], ref);
      if (st != CLMP_SUCCESS) return st;
    }
  }
  return CLMP_SUCCESS;
}
