/* tests/devices.c: the devices a kernel suite runs on: every OpenCL device present, plus the
 * reference, each with one context shared by the whole suite. */
#include "devices.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host/runtime/runtime.h"
#include "harness.h"

clmp_test_device clmp_test_devs[CLMP_TEST_MAX_DEVICES];
int clmp_test_ndevs;

static int open_one(const char *id) {
  clmp_test_device *d = &clmp_test_devs[clmp_test_ndevs];
  snprintf(d->id, sizeof d->id, "%s", id);
  clmp_status st = clmp_ctx_create(id, &d->ctx);
  if (st != CLMP_SUCCESS) {
    fprintf(stderr, "context on %s failed: %s: %s\n", id, clmp_status_name(st), clmp_last_error());
    return -1;
  }
  printf("  device %s: %s (%s)\n", id, clmp_ctx_device(d->ctx)->name,
         clmp_ctx_device(d->ctx)->platform);
  clmp_test_ndevs++;
  return 0;
}

int clmp_test_devices_open(int with_ref) {
  clmp_device_info *list = NULL;
  size_t n = 0;
  clmp_test_ndevs = 0;
  if (clmp_devices_list(&list, &n) != CLMP_SUCCESS) return -1;
  clmp_devices_free(list);
  printf("\n");
  for (size_t i = 0; i < n && clmp_test_ndevs < CLMP_TEST_MAX_DEVICES - 1; i++) {
    char id[32];
    snprintf(id, sizeof id, "cl:%zu", i);
    if (open_one(id) != 0) return clmp_test_devices_close(), -1;
  }
  if (with_ref && open_one("ref") != 0) return clmp_test_devices_close(), -1;
  return clmp_test_ndevs;
}

int clmp_test_devices_add_gpu_form(void) {
  if (clmp_test_ndevs >= CLMP_TEST_MAX_DEVICES || !clmp_test_ndevs ||
      clmp_ctx_device(clmp_test_devs[0].ctx)->kind == CLMP_DEVICE_REF)
    return -1;
  if (open_one("cl:0") != 0) return -1;
  clmp_test_device *d = &clmp_test_devs[clmp_test_ndevs - 1];
  snprintf(d->id, sizeof d->id, "cl:0 gpu");
  d->ctx->info.kind = CLMP_DEVICE_GPU; /* programs built from now on get CLMP_CPU=0 */
  printf("  device %s: the same, with the GPU forms of the kernels\n", d->id);
  return clmp_test_ndevs;
}

int clmp_test_devices_open_with_gpu_form(void) {
  if (clmp_test_devices_open(1) <= 0 || !clmp_test_ref_ctx()) return -1;
  clmp_test_devices_add_gpu_form(); /* none without OpenCL: the reference alone then */
  return 0;
}

int clmp_test_devices_close(void) {
  for (int i = 0; i < clmp_test_ndevs; i++) clmp_ctx_free(clmp_test_devs[i].ctx);
  clmp_test_ndevs = 0;
  return 0;
}

clmp_ctx *clmp_test_ref_ctx(void) {
  for (int i = 0; i < clmp_test_ndevs; i++)
    if (clmp_ctx_device(clmp_test_devs[i].ctx)->kind == CLMP_DEVICE_REF)
      return clmp_test_devs[i].ctx;
  return NULL;
}

static void fail_status(const char *what, clmp_status st) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s: %s", what, clmp_status_name(st), clmp_last_error());
  CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_TRUE);
}

clmp_tensor *clmp_test_tensor(clmp_ctx *ctx, clmp_dtype d, int ndim, const size_t *shape,
                              const float *values) {
  clmp_tensor *t = NULL;
  clmp_status st = clmp_tensor_create(ctx, d, ndim, shape, &t);
  if (st != CLMP_SUCCESS) fail_status("clmp_tensor_create", st);
  if (!values) return t;
  size_t n = clmp_tensor_numel(t);
  if (d == CLMP_I32 || d == CLMP_U8) {
    void *raw = malloc(n * clmp_dtype_size(d));
    for (size_t i = 0; raw && i < n; i++) {
      if (d == CLMP_I32)
        ((int32_t *)raw)[i] = (int32_t)values[i];
      else
        ((uint8_t *)raw)[i] = (uint8_t)values[i];
    }
    st = raw ? clmp_tensor_write(t, d, raw, n) : CLMP_ERR_OUT_OF_HOST_MEMORY;
    free(raw);
  } else {
    st = clmp_tensor_write(t, CLMP_F32, values, n);
  }
  if (st != CLMP_SUCCESS) fail_status("clmp_tensor_write", st);
  return t;
}

clmp_tensor *clmp_test_tensor_i32(clmp_ctx *ctx, int ndim, const size_t *shape,
                                  const int32_t *values) {
  clmp_tensor *t = NULL;
  clmp_status st = clmp_tensor_create(ctx, CLMP_I32, ndim, shape, &t);
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(t, CLMP_I32, values, clmp_tensor_numel(t));
  if (st != CLMP_SUCCESS) fail_status("i32 tensor", st);
  return t;
}

float *clmp_test_read(const clmp_tensor *t) {
  size_t n = clmp_tensor_numel(t);
  float *out = malloc(n * sizeof *out);
  clmp_dtype d = clmp_tensor_dtype(t);
  clmp_status st = CLMP_ERR_OUT_OF_HOST_MEMORY;
  if (out && (d == CLMP_I32 || d == CLMP_U8)) {
    void *raw = malloc(n * clmp_dtype_size(d));
    st = raw ? clmp_tensor_read(t, d, raw, n) : CLMP_ERR_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; st == CLMP_SUCCESS && i < n; i++)
      out[i] = d == CLMP_I32 ? (float)((int32_t *)raw)[i] : (float)((uint8_t *)raw)[i];
    free(raw);
  } else if (out) {
    st = clmp_tensor_read(t, CLMP_F32, out, n);
  }
  if (st != CLMP_SUCCESS) fail_status("clmp_test_read", st);
  return out;
}

/* Reads a tensor in its own dtype (so ULPs are counted in that dtype). */
static void *read_raw(const clmp_tensor *t) {
  clmp_dtype d = clmp_tensor_dtype(t);
  size_t n = clmp_tensor_numel(t);
  void *raw = malloc(n * clmp_dtype_size(d));
  clmp_status st = raw ? clmp_tensor_read(t, d, raw, n) : CLMP_ERR_OUT_OF_HOST_MEMORY;
  if (st != CLMP_SUCCESS) fail_status("reading a tensor", st);
  return raw;
}

void clmp_test_expect_close(const char *what, const clmp_tensor *got, const clmp_tensor *want,
                            const clmp__tolerance *tol) {
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_dtype(got), clmp_tensor_dtype(want));
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_numel(got), clmp_tensor_numel(want));
  void *g = read_raw(got), *w = read_raw(want);
  clmp__compare_result r;
  clmp__compare(clmp_tensor_dtype(got), g, w, clmp_tensor_numel(got), tol, &r);
  printf("\n    %s: max abs %.3g, max ulp %.0f, %zu/%zu failed (atol %.3g rtol %.3g ulp %.0f)",
         what, r.max_abs, r.max_ulp, r.failed, r.n, tol->atol, tol->rtol, tol->max_ulp);
  if (r.failed) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s: element %zu: got %.9g, want %.9g", what, r.worst, r.got_worst,
             r.want_worst);
    CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
  }
  free(g);
  free(w);
}

void clmp_test_expect_within(const char *what, const clmp_tensor *got, const clmp_tensor *want,
                             const float *bound, double max_ulp) {
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_dtype(got), clmp_tensor_dtype(want));
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_numel(got), clmp_tensor_numel(want));
  void *g = read_raw(got), *w = read_raw(want);
  clmp__tolerance tol = {0, 0, max_ulp};
  clmp__compare_result r;
  clmp__compare_sum(clmp_tensor_dtype(got), g, w, bound, 1.0, clmp_tensor_numel(got), &tol, &r);
  printf("\n    %s: max abs %.3g, max ulp %.0f, %zu/%zu failed", what, r.max_abs, r.max_ulp,
         r.failed, r.n);
  if (r.failed) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s: element %zu: got %.9g, want %.9g, bound %.3g", what, r.worst,
             r.got_worst, r.want_worst, (double)bound[r.worst]);
    CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
  }
  free(g);
  free(w);
}

void clmp_test_uniform(float *out, size_t n, float lo, float hi, uint64_t seed) {
  for (size_t i = 0; i < n; i++)
    out[i] = lo + (hi - lo) * (float)(clmp_test_rand(&seed) >> 40) * 0x1p-24f;
}

clmp_test_view clmp_test_view_make(clmp_ctx *ctx, clmp_dtype d, int ndim, const size_t *shape,
                                   size_t pad, const float *values) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  clmp_test_view v = {NULL, NULL, n, pad};
  size_t total[1] = {n + 2 * pad};
  float *init = malloc(total[0] * sizeof *init);
  CU_ASSERT_PTR_NOT_NULL_FATAL(init);
  for (size_t i = 0; i < total[0]; i++) init[i] = CLMP_TEST_GUARD;
  if (values) memcpy(init + pad, values, n * sizeof *init);
  v.base = clmp_test_tensor(ctx, d, 1, total, init);
  free(init);
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_view(v.base, pad * clmp_dtype_size(d), d, ndim, shape, &v.t),
                        CLMP_SUCCESS);
  return v;
}

void clmp_test_view_free(clmp_test_view *v) {
  clmp_tensor_free(v->t);
  clmp_tensor_free(v->base);
}

void clmp_test_expect_guard(const char *what, const clmp_test_view *v) {
  float *all = clmp_test_read(v->base);
  size_t bad = 0;
  for (size_t i = 0; i < v->pad; i++)
    bad += (all[i] != CLMP_TEST_GUARD) + (all[v->pad + v->n + i] != CLMP_TEST_GUARD);
  if (bad) printf("\n    %s: %zu padding elements overwritten", what, bad);
  CU_ASSERT_EQUAL(bad, 0);
  free(all);
}

int clmp_test_is_ref(const clmp_test_device *dev) {
  return clmp_ctx_device(dev->ctx)->kind == CLMP_DEVICE_REF;
}

void clmp_test_expect_all(const clmp_tensor *t, float value) {
  float *v = clmp_test_read(t);
  size_t bad = 0;
  for (size_t i = 0; i < clmp_tensor_numel(t); i++) bad += v[i] != value;
  CU_ASSERT_EQUAL(bad, 0);
  free(v);
}
