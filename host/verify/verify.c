/* host/verify/verify.c: the verify engine: tensor pairs (device, reference) with identical
 * contents, seeded inputs with or without special values, and the comparison of a case's output
 * into one row. The cases themselves are in cases.c. */
#include "verify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "../runtime/util.h"
#include "verify_impl.h"

/* Values that stress storage dtypes: signed zeros, subnormals of f16 and f32, fp16's largest
 * finite value, values that overflow fp16, infinities and NaN. */
static const float SPECIALS[] = {0.0f,      -0.0f,    6e-8f, -3e-5f,   1e-40f,    65504.0f,
                                 -65504.0f, 70000.0f, -1e5f, INFINITY, -INFINITY, NAN};
#define N_SPECIALS  (sizeof SPECIALS / sizeof *SPECIALS)
#define VERIFY_SEED 0x5eedu

void clmp__verify_values(venv *e, float *v, size_t n, float lo, float hi, int special) {
  for (size_t i = 0; i < n; i++)
    v[i] = lo + (hi - lo) * (float)(clmp__splitmix64(&e->seed) >> 40) * 0x1p-24f;
  if (!special) return;
  size_t stride = n / N_SPECIALS > 0 ? n / N_SPECIALS : 1;
  for (size_t k = 0; k < N_SPECIALS && k * stride < n; k++) v[k * stride] = SPECIALS[k];
}

int32_t clmp__verify_label(venv *e, int32_t classes) {
  return (int32_t)(clmp__splitmix64(&e->seed) % (uint64_t)classes);
}

clmp_status clmp__verify_pair(venv *e, clmp_dtype d, int ndim, const size_t *shape,
                              const float *values, pair *p) {
  p->d = p->r = NULL;
  clmp_status st = clmp_tensor_create(e->dev, d, ndim, shape, &p->d);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(e->ref, d, ndim, shape, &p->r);
  size_t n = p->d ? clmp_tensor_numel(p->d) : 0;
  if (st == CLMP_SUCCESS && values && (d == CLMP_I32 || d == CLMP_U8)) {
    void *raw = malloc(n * clmp_dtype_size(d)); /* integers: the values truncated */
    for (size_t i = 0; raw && i < n; i++) {
      if (d == CLMP_I32)
        ((int32_t *)raw)[i] = (int32_t)values[i];
      else
        ((uint8_t *)raw)[i] = (uint8_t)values[i];
    }
    st = raw ? clmp_tensor_write(p->d, d, raw, n)
             : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: %zu %s values", n,
                         clmp_dtype_name(d));
    if (st == CLMP_SUCCESS) st = clmp_tensor_write(p->r, d, raw, n);
    free(raw);
  } else if (st == CLMP_SUCCESS && values) {
    st = clmp_tensor_write(p->d, CLMP_F32, values, n);
    if (st == CLMP_SUCCESS) st = clmp_tensor_write(p->r, CLMP_F32, values, n);
  }
  if (st != CLMP_SUCCESS) clmp__verify_pair_free(p);
  return st;
}

void clmp__verify_pair_free(pair *p) {
  clmp_tensor_free(p->d);
  clmp_tensor_free(p->r);
  p->d = p->r = NULL;
}

static clmp_status read_raw(const clmp_tensor *t, void **out) {
  clmp_dtype d = clmp_tensor_dtype(t);
  size_t n = clmp_tensor_numel(t);
  *out = malloc(n * clmp_dtype_size(d));
  if (!*out)
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: reading %zu %s values", n,
                     clmp_dtype_name(d));
  return clmp_tensor_read(t, d, *out, n);
}

void clmp__verify_row_init(clmp__verify_row *row, const char *op, const char *dtypes,
                           const char *shape, int special, clmp__tolerance tol) {
  memset(row, 0, sizeof *row);
  snprintf(row->op, sizeof row->op, "%s", op);
  snprintf(row->dtypes, sizeof row->dtypes, "%s", dtypes);
  snprintf(row->shape, sizeof row->shape, "%s", shape);
  snprintf(row->values, sizeof row->values, "%s", special ? "special" : "normal");
  row->tol = tol;
}

clmp_status clmp__verify_no_memory(const clmp__verify_row *row) {
  return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: %s %s %s: host memory for the inputs",
                   row->op, row->dtypes, row->shape);
}

void clmp__verify_finish(venv *e, clmp__verify_row *row, clmp_status sd, clmp_status sr,
                         const pair *out) {
  clmp__verify_finish_mag(e, row, sd, sr, out, NULL);
}

void clmp__verify_finish_mag(venv *e, clmp__verify_row *row, clmp_status sd, clmp_status sr,
                             const pair *out, const clmp_tensor *mag) {
  void *g = NULL, *w = NULL, *m = NULL;
  size_t n = out->d ? clmp_tensor_numel(out->d) : 0;
  row->status = sd != CLMP_SUCCESS ? sd : sr;
  if (row->status == CLMP_SUCCESS) row->status = read_raw(out->d, &g);
  if (row->status == CLMP_SUCCESS) row->status = read_raw(out->r, &w);
  if (row->status == CLMP_SUCCESS && mag) row->status = read_raw(mag, &m);
  if (row->status == CLMP_SUCCESS)
    clmp__compare_sum(clmp_tensor_dtype(out->d), g, w, m, row->mtol, n, &row->tol, &row->cmp);
  row->pass = row->status == CLMP_SUCCESS && row->cmp.failed == 0;
  e->failed += !row->pass;
  free(g), free(w), free(m);
  e->emit(row, e->user);
}

const char *clmp__verify_shape(char *buf, size_t size, int ndim, const size_t *shape) {
  int n = 0;
  for (int i = 0; i < ndim && n >= 0 && (size_t)n < size; i++)
    n += snprintf(buf + n, size - (size_t)n, i ? "x%zu" : "%zu", shape[i]);
  return buf;
}

clmp_status clmp__verify_run(clmp_ctx *dev, clmp_ctx *ref, const char *filter,
                             clmp__verify_emit emit, void *user, size_t *failed) {
  if (!dev || !ref || !emit || !failed)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp__verify_run: NULL argument");
  venv e = {dev, ref, emit, user, 0, VERIFY_SEED};
  const clmp__verify_case *tables[] = {clmp__verify_cases_elementwise, clmp__verify_cases_matrix,
                                       clmp__verify_cases_reduce, clmp__verify_cases_conv,
                                       clmp__verify_cases_layers};
  for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
    for (const clmp__verify_case *c = tables[t]; c->op; c++) {
      if (filter && !strstr(c->op, filter)) continue;
      e.seed = VERIFY_SEED; /* every case sees the same inputs whatever runs before it */
      c->run(&e);
    }
  *failed = e.failed;
  return CLMP_SUCCESS;
}

clmp_status clmp__verify_abs(clmp_ctx *ctx, const clmp_tensor *t, clmp_tensor **out) {
  *out = NULL;
  size_t n = clmp_tensor_numel(t), shape[CLMP_MAX_DIMS];
  for (int i = 0; i < clmp_tensor_ndim(t); i++) shape[i] = clmp_tensor_dim(t, i);
  float *v = malloc(n * sizeof *v);
  clmp_status st = v ? clmp_tensor_read(t, CLMP_F32, v, n)
                     : CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp verify: %zu magnitudes", n);
  for (size_t i = 0; st == CLMP_SUCCESS && i < n; i++) v[i] = fabsf(v[i]);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(ctx, CLMP_F32, clmp_tensor_ndim(t), shape, out);
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(*out, CLMP_F32, v, n);
  free(v);
  return st;
}
