/* host/nn/checkpoint.c: the trainer's checkpoints in safetensors (readable by PyTorch, NumPy and
 * Hugging Face tools without clmp): every tensor of the model under its state_dict key, the
 * optimizer's moments, and the model spec, scaler state, step, epoch, precision and input
 * transform as string metadata. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "../runtime/util.h"
#include "clmp/convert.h"
#include "clmp/io.h"
#include "trainer_impl.h"

#define FORMAT_NAME "clmp-checkpoint-2"
#define NAME_SIZE   160 /* "optim." + a state_dict key + "." + a moment */
#define TEXT_SIZE   256

/* The host copies of what a checkpoint holds: master, up to two moment arenas, the buffers. */
typedef struct arenas {
  float *master, *m[2], *buffers;
  int moments;
} arenas;

static const char *precision_text(clmp_precision p) {
  return p == CLMP_PRECISION_FP16 ? "fp16" : p == CLMP_PRECISION_BF16 ? "bf16" : "fp32";
}

static const char *moment_name(const clmp_trainer *t, int k) {
  if (t->cfg.optim.kind == CLMP_SGD) return "momentum_buffer";
  return k == 0 ? "exp_avg" : "exp_avg_sq";
}

static void arenas_free(arenas *a) {
  free(a->master), free(a->m[0]), free(a->m[1]), free(a->buffers);
}

static clmp_status arenas_alloc(const clmp_trainer *t, arenas *a) {
  size_t p = clmp_model_params(t->model), b = clmp_model_buffer_count(t->model);
  memset(a, 0, sizeof *a);
  a->moments = (clmp_optim_moment(t->optim, 0) != NULL) + (clmp_optim_moment(t->optim, 1) != NULL);
  a->master = calloc(p, sizeof(float));
  for (int k = 0; k < a->moments; k++) a->m[k] = calloc(p, sizeof(float));
  a->buffers = calloc(b ? b : 1, sizeof(float));
  if (a->master && (a->moments < 1 || a->m[0]) && (a->moments < 2 || a->m[1]) && a->buffers)
    return CLMP_SUCCESS;
  arenas_free(a);
  return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "checkpoint of %zu parameters", p);
}

/* Whether v stays finite once rounded to the working dtype d (f32, f16 or bf16). */
static int finite_in(clmp_dtype d, float v) {
  if (d == CLMP_F16) v = clmp_f16_to_f32(clmp_f32_to_f16(v));
  if (d == CLMP_BF16) v = clmp_bf16_to_f32(clmp_f32_to_bf16(v));
  return isfinite(v);
}

/* The first non-finite value of an array, or n. */
static size_t first_nonfinite(clmp_dtype d, const float *v, size_t n) {
  size_t i = 0;
  while (i < n && finite_in(d, v[i])) i++;
  return i;
}

/* Weights the model can train from: every master weight finite in the working precision (an
 * fp16 weight beyond 65504 is inf in the copy the model computes with), every moment and buffer
 * finite. */
static clmp_status check_finite(const clmp_trainer *t, const arenas *a, const char *op,
                                const char *path) {
  size_t p = clmp_model_params(t->model), nb = clmp_model_buffer_count(t->model);
  clmp_dtype d = clmp_tensor_dtype(clmp_model_working(t->model));
  size_t i = first_nonfinite(d, a->master, p);
  if (i < p)
    return CLMP_FAIL(CLMP_ERR_NON_FINITE, "%s: %s: weight %zu is %g, not finite in %s", op, path, i,
                     (double)a->master[i], clmp_dtype_name(d));
  for (int k = 0; k < a->moments; k++)
    if ((i = first_nonfinite(CLMP_F32, a->m[k], p)) < p)
      return CLMP_FAIL(CLMP_ERR_NON_FINITE, "%s: %s: optimizer %s %zu is %g", op, path,
                       moment_name(t, k), i, (double)a->m[k][i]);
  if ((i = first_nonfinite(CLMP_F32, a->buffers, nb)) < nb)
    return CLMP_FAIL(CLMP_ERR_NON_FINITE, "%s: %s: buffer element %zu is %g", op, path, i,
                     (double)a->buffers[i]);
  return CLMP_SUCCESS;
}

/* --- save ---------------------------------------------------------------------------------- */

static clmp_status add_entry(clmp_st_writer *w, const clmp_model_entry *e, const char *name,
                             const float *data) {
  uint64_t shape[CLMP_MAX_DIMS];
  for (int i = 0; i < e->ndim; i++) shape[i] = e->shape[i];
  return clmp_st_writer_add(w, name, CLMP_F32, e->ndim, shape, data + e->offset);
}

/* A counter as PyTorch keeps num_batches_tracked: a 0-dim integer (I32 here). */
static clmp_status add_counter(clmp_st_writer *w, const clmp_model_entry *e) {
  if (e->value > INT32_MAX)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "checkpoint: %s = %llu does not fit an I32",
                     e->name, (unsigned long long)e->value);
  int32_t v = (int32_t)e->value;
  return clmp_st_writer_add(w, e->name, CLMP_I32, 0, NULL, &v);
}

/* Every entry under its key, then the moments of the trained ones under optim.<key>.<moment>. */
static clmp_status add_tensors(const clmp_trainer *t, clmp_st_writer *w, const arenas *a) {
  clmp_status st = CLMP_SUCCESS;
  size_t n = clmp_model_entry_count(t->model);
  clmp_model_entry e;
  for (size_t i = 0; st == CLMP_SUCCESS && i < n; i++) {
    st = clmp_model_entry_get(t->model, i, &e);
    if (st == CLMP_SUCCESS && e.kind == CLMP_ENTRY_PARAM) st = add_entry(w, &e, e.name, a->master);
    if (st == CLMP_SUCCESS && e.kind == CLMP_ENTRY_BUFFER)
      st = add_entry(w, &e, e.name, a->buffers);
    if (st == CLMP_SUCCESS && e.kind == CLMP_ENTRY_COUNTER) st = add_counter(w, &e);
  }
  for (size_t i = 0; st == CLMP_SUCCESS && i < n; i++) {
    st = clmp_model_entry_get(t->model, i, &e);
    for (int k = 0; st == CLMP_SUCCESS && e.kind == CLMP_ENTRY_PARAM && k < a->moments; k++) {
      char name[NAME_SIZE];
      snprintf(name, sizeof name, "optim.%s.%s", e.name, moment_name(t, k));
      st = add_entry(w, &e, name, a->m[k]);
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
  clmp_status st = add_meta(w, "format", "%s", FORMAT_NAME);
  if (!st) st = clmp_st_writer_meta(w, "model", clmp_model_spec(t->model));
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
  size_t p = clmp_model_params(t->model), b = clmp_model_buffer_count(t->model);
  clmp_status st = clmp_tensor_read(clmp_model_master(t->model), CLMP_F32, a->master, p);
  for (int k = 0; st == CLMP_SUCCESS && k < a->moments; k++)
    st = clmp_tensor_read(clmp_optim_moment(t->optim, k), CLMP_F32, a->m[k], p);
  if (st == CLMP_SUCCESS && b)
    st = clmp_tensor_read(clmp_model_buffers(t->model), CLMP_F32, a->buffers, b);
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

/* --- resume -------------------------------------------------------------------------------- */

/* A metadata value that must be present and equal to want. */
static clmp_status expect_meta(const clmp_safetensors *f, const char *path, const char *key,
                               const char *want) {
  const char *got = clmp_safetensors_meta(f, key);
  if (got && !strcmp(got, want)) return CLMP_SUCCESS;
  return CLMP_FAIL(CLMP_ERR_FORMAT, "checkpoint %s: %s is \"%.200s\", this run has \"%.200s\"",
                   path, key, got ? got : "(missing)", want);
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

/* The tensor called name with the entry's dtype and shape, copied into dst + e->offset. */
static clmp_status take(const clmp_safetensors *f, const char *path, const char *name,
                        const clmp_model_entry *e, float *dst) {
  const clmp_st_entry *s = clmp_safetensors_find(f, name);
  int ok = s && s->dtype == CLMP_F32 && s->ndim == e->ndim;
  for (int i = 0; ok && i < e->ndim; i++) ok = s->shape[i] == e->shape[i];
  if (!ok) {
    char shape[64];
    int n = snprintf(shape, sizeof shape, "[");
    for (int i = 0; i < e->ndim && n > 0 && (size_t)n < sizeof shape; i++)
      n += snprintf(shape + n, sizeof shape - (size_t)n, i ? ", %zu" : "%zu", e->shape[i]);
    return CLMP_FAIL(CLMP_ERR_FORMAT, "checkpoint %s: %s %s (F32 %s] expected)", path, name,
                     s ? "has the wrong dtype or shape" : "is missing", shape);
  }
  memcpy(dst + e->offset, s->data, s->nbytes);
  return CLMP_SUCCESS;
}

static clmp_status take_counter(const clmp_safetensors *f, const char *path,
                                const clmp_model_entry *e, uint64_t *value) {
  const clmp_st_entry *s = clmp_safetensors_find(f, e->name);
  int32_t v = -1;
  if (s && s->dtype == CLMP_I32 && s->ndim == 0 && s->nbytes == sizeof v)
    memcpy(&v, s->data, sizeof v);
  if (v < 0)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "checkpoint %s: %s %s (a 0-dim I32 >= 0 expected)", path,
                     e->name, s ? "has the wrong dtype, shape or value" : "is missing");
  *value = (uint64_t)v;
  return CLMP_SUCCESS;
}

/* Every entry of the model, and the moments of the trained ones; counters into counts. */
static clmp_status take_all(const clmp_trainer *t, const clmp_safetensors *f, const char *path,
                            arenas *a, uint64_t *counts) {
  clmp_status st = CLMP_SUCCESS;
  size_t n = clmp_model_entry_count(t->model);
  for (size_t i = 0; st == CLMP_SUCCESS && i < n; i++) {
    clmp_model_entry e;
    st = clmp_model_entry_get(t->model, i, &e);
    if (st == CLMP_SUCCESS && e.kind == CLMP_ENTRY_PARAM) st = take(f, path, e.name, &e, a->master);
    if (st == CLMP_SUCCESS && e.kind == CLMP_ENTRY_BUFFER)
      st = take(f, path, e.name, &e, a->buffers);
    if (st == CLMP_SUCCESS && e.kind == CLMP_ENTRY_COUNTER)
      st = take_counter(f, path, &e, &counts[i]);
    for (int k = 0; st == CLMP_SUCCESS && e.kind == CLMP_ENTRY_PARAM && k < a->moments; k++) {
      char name[NAME_SIZE];
      snprintf(name, sizeof name, "optim.%s.%s", e.name, moment_name(t, k));
      st = take(f, path, name, &e, a->m[k]);
    }
  }
  return st;
}

typedef struct resume_point {
  clmp_scaler_state scaler;
  int epoch;
  uint64_t step;
  uint64_t *counts; /* per entry; counters only */
} resume_point;

static clmp_status check_identity(const clmp_trainer *t, const clmp_safetensors *f,
                                  const char *path) {
  clmp_status st = expect_meta(f, path, "format", FORMAT_NAME);
  if (!st) st = expect_meta(f, path, "model", clmp_model_spec(t->model));
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
  size_t n = clmp_model_params(t->model), b = clmp_model_buffer_count(t->model);
  clmp_status st = clmp_tensor_write(clmp_model_master(t->model), CLMP_F32, a->master, n);
  for (int k = 0; st == CLMP_SUCCESS && k < a->moments; k++)
    st = clmp_tensor_write(clmp_optim_moment(t->optim, k), CLMP_F32, a->m[k], n);
  if (st == CLMP_SUCCESS && b)
    st = clmp_tensor_write(clmp_model_buffers(t->model), CLMP_F32, a->buffers, b);
  if (st == CLMP_SUCCESS) st = clmp_scaler_restore(t->scaler, &p->scaler);
  if (st == CLMP_SUCCESS) st = clmp_model_sync_working(t->model);
  for (size_t i = 0; st == CLMP_SUCCESS && i < clmp_model_entry_count(t->model); i++) {
    clmp_model_entry e;
    st = clmp_model_entry_get(t->model, i, &e);
    if (st == CLMP_SUCCESS && e.kind == CLMP_ENTRY_COUNTER)
      st = clmp_model_counter_set(t->model, i, p->counts[i]);
  }
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
  resume_point p = {0};
  size_t n = clmp_model_entry_count(t->model);
  clmp_status st = clmp_safetensors_read(path, &f);
  if (st == CLMP_SUCCESS) st = check_identity(t, f, path);
  if (st == CLMP_SUCCESS) st = read_point(f, path, &p);
  if (st == CLMP_SUCCESS && !(p.counts = calloc(n ? n : 1, sizeof *p.counts)))
    st = CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "checkpoint %s", path);
  if (st == CLMP_SUCCESS) st = arenas_alloc(t, &a);
  if (st == CLMP_SUCCESS) st = take_all(t, f, path, &a, p.counts);
  if (st == CLMP_SUCCESS) st = check_finite(t, &a, "checkpoint", path);
  if (st == CLMP_SUCCESS) st = apply(t, &a, &p);
  arenas_free(&a);
  free(p.counts);
  clmp_safetensors_free(f);
  return st;
}

clmp_status clmp_checkpoint_model_spec(const char *path, char **spec) {
  if (!path || !spec)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_checkpoint_model_spec: NULL");
  *spec = NULL;
  clmp_safetensors *f = NULL;
  clmp_status st = clmp_safetensors_read(path, &f);
  if (st == CLMP_SUCCESS) st = expect_meta(f, path, "format", FORMAT_NAME);
  const char *m = st == CLMP_SUCCESS ? clmp_safetensors_meta(f, "model") : NULL;
  if (st == CLMP_SUCCESS && !m)
    st = CLMP_FAIL(CLMP_ERR_FORMAT, "checkpoint %s: no model spec in its metadata", path);
  if (st == CLMP_SUCCESS && !(*spec = clmp__strdup(m)))
    st = CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "checkpoint %s", path);
  clmp_safetensors_free(f);
  return st;
}

int clmp_trainer_epochs_done(const clmp_trainer *t) {
  return t ? t->epoch : 0;
}

clmp_status clmp_trainer_sync(clmp_trainer *dst, const clmp_trainer *src) {
  if (!dst || !src) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_trainer_sync: NULL");
  if (strcmp(clmp_model_spec(dst->model), clmp_model_spec(src->model)) ||
      dst->cfg.optim.kind != src->cfg.optim.kind || dst->steps_per_epoch != src->steps_per_epoch)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT,
                     "clmp_trainer_sync: trainers of two configurations");
  size_t n = clmp_model_entry_count(src->model);
  arenas a;
  resume_point p = {.epoch = src->epoch, .step = src->step_total};
  clmp_status st = arenas_alloc(src, &a);
  if (st != CLMP_SUCCESS) return st;
  if (!(p.counts = calloc(n ? n : 1, sizeof *p.counts)))
    st = CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_trainer_sync");
  for (size_t i = 0; st == CLMP_SUCCESS && i < n; i++) {
    clmp_model_entry e;
    st = clmp_model_entry_get(src->model, i, &e);
    p.counts[i] = e.value;
  }
  if (st == CLMP_SUCCESS) st = read_arenas(src, &a);
  if (st == CLMP_SUCCESS) st = clmp_scaler_read(src->scaler, &p.scaler);
  if (st == CLMP_SUCCESS) st = apply(dst, &a, &p);
  dst->step_in_epoch = src->step_in_epoch;
  arenas_free(&a);
  free(p.counts);
  return st;
}
