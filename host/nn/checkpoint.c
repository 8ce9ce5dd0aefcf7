/* host/nn/checkpoint.c: the trainer's checkpoints in safetensors (readable by PyTorch, NumPy and
 * Hugging Face tools without clmp): master weights, optimizer moments, and the scaler state, step,
 * epoch, architecture, precision and input transform as string metadata. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "clmp/convert.h"
#include "clmp/io.h"
#include "trainer_impl.h"

#define FORMAT_NAME "clmp-checkpoint-1"
#define NAME_SIZE   96
#define TEXT_SIZE   256

/* The host copies of what a checkpoint holds: master and up to two moment arenas. */
typedef struct arenas {
  float *master, *m[2];
  int moments;
} arenas;

static const char *precision_text(clmp_precision p) {
  return p == CLMP_PRECISION_FP16 ? "fp16" : p == CLMP_PRECISION_BF16 ? "bf16" : "fp32";
}

static const char *moment_name(const clmp_trainer *t, int k) {
  if (t->cfg.optim.kind == CLMP_SGD) return "momentum_buffer";
  return k == 0 ? "exp_avg" : "exp_avg_sq";
}

static void architecture(const clmp_trainer *t, char *buf, size_t size) {
  int n = snprintf(buf, size, "%zu", t->train.d);
  for (int i = 0; i < t->cfg.hidden_layers && n > 0 && (size_t)n < size; i++)
    n += snprintf(buf + n, size - (size_t)n, ",%zu", t->cfg.hidden[i]);
  if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, ",%d", CLMP__CLASSES);
}

static void arenas_free(arenas *a) {
  free(a->master), free(a->m[0]), free(a->m[1]);
}

static clmp_status arenas_alloc(const clmp_trainer *t, arenas *a) {
  size_t p = clmp_mlp_params(t->model);
  memset(a, 0, sizeof *a);
  a->moments = (clmp_optim_moment(t->optim, 0) != NULL) + (clmp_optim_moment(t->optim, 1) != NULL);
  a->master = calloc(p, sizeof(float));
  for (int k = 0; k < a->moments; k++) a->m[k] = calloc(p, sizeof(float));
  if (a->master && (a->moments < 1 || a->m[0]) && (a->moments < 2 || a->m[1])) return CLMP_SUCCESS;
  arenas_free(a);
  return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "checkpoint of %zu parameters", p);
}

/* Whether v stays finite once rounded to the working dtype d (f32, f16 or bf16). */
static int finite_in(clmp_dtype d, float v) {
  if (d == CLMP_F16) v = clmp_f16_to_f32(clmp_f32_to_f16(v));
  if (d == CLMP_BF16) v = clmp_bf16_to_f32(clmp_f32_to_bf16(v));
  return isfinite(v);
}

/* Weights the model can train from: every master weight finite in the working precision (an
 * fp16 weight beyond 65504 is inf in the copy the model computes with), every moment finite. */
static clmp_status check_finite(const clmp_trainer *t, const arenas *a, const char *op,
                                const char *path) {
  size_t p = clmp_mlp_params(t->model);
  clmp_dtype d = clmp_tensor_dtype(clmp_mlp_working(t->model));
  for (size_t i = 0; i < p; i++)
    if (!finite_in(d, a->master[i]))
      return CLMP_FAIL(CLMP_ERR_NON_FINITE, "%s: %s: weight %zu is %g, not finite in %s", op, path,
                       i, (double)a->master[i], clmp_dtype_name(d));
  for (int k = 0; k < a->moments; k++)
    for (size_t i = 0; i < p; i++)
      if (!isfinite(a->m[k][i]))
        return CLMP_FAIL(CLMP_ERR_NON_FINITE, "%s: %s: optimizer %s %zu is %g", op, path,
                         moment_name(t, k), i, (double)a->m[k][i]);
  return CLMP_SUCCESS;
}

/* --- save ---------------------------------------------------------------------------------------
 */

static clmp_status add_param(clmp_st_writer *w, const char *name, const float *data, size_t rows,
                             size_t cols) {
  uint64_t shape[2] = {rows, cols};
  return clmp_st_writer_add(w, name, CLMP_F32, cols ? 2 : 1, shape, data);
}

/* fc<i>.weight, fc<i>.bias and their optim.* moments. */
static clmp_status add_tensors(const clmp_trainer *t, clmp_st_writer *w, const arenas *a) {
  clmp_status st = CLMP_SUCCESS;
  for (int i = 0; st == CLMP_SUCCESS && i <= t->cfg.hidden_layers; i++) {
    size_t in = i ? t->cfg.hidden[i - 1] : t->train.d;
    size_t out = i < t->cfg.hidden_layers ? t->cfg.hidden[i] : CLMP__CLASSES;
    size_t wo = clmp_mlp_weight_offset(t->model, i), bo = clmp_mlp_bias_offset(t->model, i);
    char name[NAME_SIZE];
    snprintf(name, sizeof name, "fc%d.weight", i + 1);
    st = add_param(w, name, a->master + wo, out, in);
    snprintf(name, sizeof name, "fc%d.bias", i + 1);
    if (st == CLMP_SUCCESS) st = add_param(w, name, a->master + bo, out, 0);
    for (int k = 0; st == CLMP_SUCCESS && k < a->moments; k++) {
      snprintf(name, sizeof name, "optim.fc%d.weight.%s", i + 1, moment_name(t, k));
      st = add_param(w, name, a->m[k] + wo, out, in);
      snprintf(name, sizeof name, "optim.fc%d.bias.%s", i + 1, moment_name(t, k));
      if (st == CLMP_SUCCESS) st = add_param(w, name, a->m[k] + bo, out, 0);
    }
  }
  return st;
}

static clmp_status add_meta(clmp_st_writer *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static clmp_status add_meta(clmp_st_writer *w, const char *key, const char *fmt, ...) {
  char text[TEXT_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  return clmp_st_writer_meta(w, key, text);
}

static clmp_status add_metadata(const clmp_trainer *t, clmp_st_writer *w,
                                const clmp_scaler_state *s) {
  char arch[TEXT_SIZE];
  architecture(t, arch, sizeof arch);
  clmp_status st = add_meta(w, "format", "%s", FORMAT_NAME);
  if (!st) st = add_meta(w, "architecture", "%s", arch);
  if (!st) st = add_meta(w, "precision", "%s", precision_text(t->cfg.precision));
  if (!st) st = add_meta(w, "optimizer", "%s", t->cfg.optim.kind == CLMP_ADAMW ? "adamw" : "sgd");
  if (!st) st = add_meta(w, "epoch", "%d", t->epoch);
  if (!st) st = add_meta(w, "step", "%llu", (unsigned long long)t->step_total);
  if (!st) st = add_meta(w, "seed", "%llu", (unsigned long long)t->cfg.seed);
  if (!st) st = add_meta(w, "input_scale", "%.9g", (double)t->in_scale);
  if (!st) st = add_meta(w, "input_shift", "%.9g", (double)t->in_shift);
  if (!st) st = add_meta(w, "scaler.scale", "%.9g", (double)s->scale);
  if (!st) st = add_meta(w, "scaler.growth_tracker", "%d", s->growth_tracker);
  if (!st) st = add_meta(w, "scaler.hysteresis_left", "%d", s->hysteresis_left);
  if (!st) st = add_meta(w, "scaler.steps", "%u", s->steps);
  if (!st) st = add_meta(w, "scaler.skipped", "%u", s->skipped);
  return st;
}

static clmp_status read_arenas(const clmp_trainer *t, arenas *a) {
  size_t p = clmp_mlp_params(t->model);
  clmp_status st = clmp_tensor_read(clmp_mlp_master(t->model), CLMP_F32, a->master, p);
  for (int k = 0; st == CLMP_SUCCESS && k < a->moments; k++)
    st = clmp_tensor_read(clmp_optim_moment(t->optim, k), CLMP_F32, a->m[k], p);
  return st;
}

clmp_status clmp_trainer_save(const clmp_trainer *t, const char *path) {
  if (!t || !path || !*path)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_trainer_save: NULL trainer or empty path");
  arenas a;
  clmp_st_writer *w = NULL;
  clmp_scaler_state s;
  clmp_status st = arenas_alloc(t, &a);
  if (st != CLMP_SUCCESS) return st;
  st = read_arenas(t, &a);
  if (st == CLMP_SUCCESS) st = check_finite(t, &a, "clmp_trainer_save: refusing to write", path);
  if (st == CLMP_SUCCESS) st = clmp_scaler_read(t->scaler, &s);
  if (st == CLMP_SUCCESS) st = clmp_st_writer_create(&w);
  if (st == CLMP_SUCCESS) st = add_tensors(t, w, &a);
  if (st == CLMP_SUCCESS) st = add_metadata(t, w, &s);
  if (st == CLMP_SUCCESS) st = clmp_st_writer_save(w, path);
  clmp_st_writer_free(w);
  arenas_free(&a);
  return st;
}

/* --- resume
 * --------------------------------------------------------------------------------------- */

/* A metadata value that must be present and equal to want. */
static clmp_status expect_meta(const clmp_safetensors *f, const char *path, const char *key,
                               const char *want) {
  const char *got = clmp_safetensors_meta(f, key);
  if (got && !strcmp(got, want)) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_FORMAT, "checkpoint %s: %s is \"%s\", this run has \"%s\"", path, key,
                   got ? got : "(missing)", want);
}

/* An unsigned or signed integer, or a float, from the metadata; fails on anything else. */
static clmp_status meta_number(const clmp_safetensors *f, const char *path, const char *key,
                               int is_float, double lo, double hi, double *out) {
  const char *text = clmp_safetensors_meta(f, key);
  char *end = NULL;
  errno = 0;
  double v = text ? (is_float ? strtod(text, &end) : (double)strtoll(text, &end, 10)) : 0;
  if (!text || end == text || *end || errno || !(v >= lo && v <= hi))
    return CLMP_FAIL(CLMP_ERR_FORMAT, "checkpoint %s: metadata %s is \"%s\" (a number in [%g, %g])",
                     path, key, text ? text : "(missing)", lo, hi);
  *out = v;
  return CLMP_SUCCESS;
}

/* Copies one named F32 tensor of the expected shape into dst. */
static clmp_status take(const clmp_safetensors *f, const char *path, const char *name, size_t rows,
                        size_t cols, float *dst) {
  const clmp_st_entry *e = clmp_safetensors_find(f, name);
  int ndim = cols ? 2 : 1;
  if (!e || e->dtype != CLMP_F32 || e->ndim != ndim || e->shape[0] != rows ||
      (cols && e->shape[1] != cols))
    return CLMP_FAIL(CLMP_ERR_FORMAT, "checkpoint %s: %s %s (F32 [%zu%s%zu] expected)", path, name,
                     e ? "has the wrong dtype or shape" : "is missing", rows, cols ? ", " : "",
                     cols ? cols : 0);
  memcpy(dst, e->data, e->nbytes);
  return CLMP_SUCCESS;
}

static clmp_status take_layer(const clmp_trainer *t, const clmp_safetensors *f, const char *path,
                              int i, arenas *a) {
  size_t in = i ? t->cfg.hidden[i - 1] : t->train.d;
  size_t out = i < t->cfg.hidden_layers ? t->cfg.hidden[i] : CLMP__CLASSES;
  size_t wo = clmp_mlp_weight_offset(t->model, i), bo = clmp_mlp_bias_offset(t->model, i);
  char name[NAME_SIZE];
  snprintf(name, sizeof name, "fc%d.weight", i + 1);
  clmp_status st = take(f, path, name, out, in, a->master + wo);
  snprintf(name, sizeof name, "fc%d.bias", i + 1);
  if (st == CLMP_SUCCESS) st = take(f, path, name, out, 0, a->master + bo);
  for (int k = 0; st == CLMP_SUCCESS && k < a->moments; k++) {
    snprintf(name, sizeof name, "optim.fc%d.weight.%s", i + 1, moment_name(t, k));
    st = take(f, path, name, out, in, a->m[k] + wo);
    snprintf(name, sizeof name, "optim.fc%d.bias.%s", i + 1, moment_name(t, k));
    if (st == CLMP_SUCCESS) st = take(f, path, name, out, 0, a->m[k] + bo);
  }
  return st;
}

typedef struct resume_point {
  clmp_scaler_state scaler;
  int epoch;
  uint64_t step;
} resume_point;

static clmp_status check_identity(const clmp_trainer *t, const clmp_safetensors *f,
                                  const char *path) {
  char arch[TEXT_SIZE];
  architecture(t, arch, sizeof arch);
  clmp_status st = expect_meta(f, path, "format", FORMAT_NAME);
  if (!st) st = expect_meta(f, path, "architecture", arch);
  if (!st) st = expect_meta(f, path, "precision", precision_text(t->cfg.precision));
  if (!st)
    st = expect_meta(f, path, "optimizer", t->cfg.optim.kind == CLMP_ADAMW ? "adamw" : "sgd");
  return st;
}

static clmp_status read_point(const clmp_safetensors *f, const char *path, resume_point *p) {
  double v[7] = {0};
  const double big = 4294967295.0;
  clmp_status st = meta_number(f, path, "epoch", 0, 0, 1e9, &v[0]);
  if (!st) st = meta_number(f, path, "step", 0, 0, 1e18, &v[1]);
  if (!st) st = meta_number(f, path, "scaler.scale", 1, 1e-38, 3.4e38, &v[2]);
  if (!st) st = meta_number(f, path, "scaler.growth_tracker", 0, 0, 2147483647.0, &v[3]);
  if (!st)
    st = meta_number(f, path, "scaler.hysteresis_left", 0, -2147483648.0, 2147483647.0, &v[4]);
  if (!st) st = meta_number(f, path, "scaler.steps", 0, 0, big, &v[5]);
  if (!st) st = meta_number(f, path, "scaler.skipped", 0, 0, v[5], &v[6]);
  p->epoch = (int)v[0], p->step = (uint64_t)v[1];
  p->scaler = (clmp_scaler_state){(float)v[2], (int32_t)v[3],  (int32_t)v[4],
                                  0,           (uint32_t)v[5], (uint32_t)v[6]};
  return st;
}

/* Everything is read and checked on the host first; only then is the device written. */
static clmp_status apply(clmp_trainer *t, const arenas *a, const resume_point *p) {
  size_t n = clmp_mlp_params(t->model);
  clmp_status st = clmp_tensor_write(clmp_mlp_master(t->model), CLMP_F32, a->master, n);
  for (int k = 0; st == CLMP_SUCCESS && k < a->moments; k++)
    st = clmp_tensor_write(clmp_optim_moment(t->optim, k), CLMP_F32, a->m[k], n);
  if (st == CLMP_SUCCESS) st = clmp_scaler_restore(t->scaler, &p->scaler);
  if (st == CLMP_SUCCESS) st = clmp_mlp_sync_working(t->model);
  if (st == CLMP_SUCCESS) {
    t->epoch = p->epoch, t->step_total = p->step;
    t->skipped_total = p->scaler.skipped;
  }
  return st;
}

clmp_status clmp_trainer_resume(clmp_trainer *t, const char *path) {
  if (!t || !path || !*path)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_trainer_resume: NULL trainer or empty path");
  clmp_safetensors *f = NULL;
  arenas a = {0};
  resume_point p;
  clmp_status st = clmp_safetensors_read(path, &f);
  if (st == CLMP_SUCCESS) st = check_identity(t, f, path);
  if (st == CLMP_SUCCESS) st = read_point(f, path, &p);
  if (st == CLMP_SUCCESS) st = arenas_alloc(t, &a);
  for (int i = 0; st == CLMP_SUCCESS && i <= t->cfg.hidden_layers; i++)
    st = take_layer(t, f, path, i, &a);
  if (st == CLMP_SUCCESS) st = check_finite(t, &a, "checkpoint", path);
  if (st == CLMP_SUCCESS) st = apply(t, &a, &p);
  arenas_free(&a);
  clmp_safetensors_free(f);
  return st;
}

int clmp_trainer_epochs_done(const clmp_trainer *t) {
  return t ? t->epoch : 0;
}

clmp_status clmp_trainer_sync(clmp_trainer *dst, const clmp_trainer *src) {
  if (!dst || !src) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_trainer_sync: NULL");
  if (clmp_mlp_params(dst->model) != clmp_mlp_params(src->model) ||
      dst->cfg.optim.kind != src->cfg.optim.kind || dst->steps_per_epoch != src->steps_per_epoch)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "clmp_trainer_sync: trainers of two configurations");
  arenas a;
  resume_point p = {.epoch = src->epoch, .step = src->step_total};
  clmp_status st = arenas_alloc(src, &a);
  if (st != CLMP_SUCCESS) return st;
  st = read_arenas(src, &a);
  if (st == CLMP_SUCCESS) st = clmp_scaler_read(src->scaler, &p.scaler);
  if (st == CLMP_SUCCESS) st = apply(dst, &a, &p);
  dst->step_in_epoch = src->step_in_epoch;
  arenas_free(&a);
  return st;
}
