/* tests/devices.h: the devices a kernel suite runs on: every OpenCL device present, plus the
 * reference, each with one context shared by the whole suite. */
#ifndef CLMP_TESTS_DEVICES_H
#define CLMP_TESTS_DEVICES_H

#include "../host/verify/compare.h"
#include "clmp/clmp.h"

#define CLMP_TEST_MAX_DEVICES 16

typedef struct clmp_test_device {
  char id[32];   /* "cl:0", ..., "ref" */
  clmp_ctx *ctx; /* NULL if the context could not be created (the suite init fails then) */
} clmp_test_device;

/* Opens a context on every OpenCL device and on "ref" (with_ref) and returns how many; prints
 * each one. Returns -1 (after printing why) when a context fails. CUnit suite inits call it. */
int clmp_test_devices_open(int with_ref);
/* Adds a context on cl:0 that calls its device a GPU ("cl:0 gpu"), so that the GPU forms of the
 * kernels (work-group trees, grid strides, rows several items wide) run, and are checked, on a
 * CPU device too. Returns the device count, or -1 when there is no OpenCL device to do it on. */
int clmp_test_devices_add_gpu_form(void);
/* A suite init: every device, the reference and the GPU forms on cl:0 (when there is an OpenCL
 * device); 0, or -1 when a context fails. */
int clmp_test_devices_open_with_gpu_form(void);
/* Frees the contexts; returns 0 (the signature CUnit's cleanup wants). */
int clmp_test_devices_close(void);

extern clmp_test_device clmp_test_devs[CLMP_TEST_MAX_DEVICES];
extern int clmp_test_ndevs;

/* The reference context among the open devices (opened with with_ref), or NULL. */
clmp_ctx *clmp_test_ref_ctx(void);

/* A tensor of dtype d and shape on ctx holding values (fp32, converted to d; NULL: contents left
 * undefined). Fails the current test (fatally) when anything goes wrong. */
clmp_tensor *clmp_test_tensor(clmp_ctx *ctx, clmp_dtype d, int ndim, const size_t *shape,
                              const float *values);
/* An i32 tensor of shape holding values. */
clmp_tensor *clmp_test_tensor_i32(clmp_ctx *ctx, int ndim, const size_t *shape,
                                  const int32_t *values);
/* The tensor's contents as a malloc'ed fp32 array (i32 and u8 converted exactly). */
float *clmp_test_read(const clmp_tensor *t);

/* Compares got (any context) with want (usually on "ref") element by element under tol, prints
 * one line "<what>: max abs .., max ulp .., n failed" and asserts that none failed (the worst
 * element is printed when one does). */
void clmp_test_expect_close(const char *what, const clmp_tensor *got, const clmp_tensor *want,
                            const clmp__tolerance *tol);

/* The same for the result of a sum: element i passes when both are NaN or equal, or within
 * bound[i] of each other (bound: fp32, got's element count), or within max_ulp units of got's
 * dtype (a 16-bit output's last rounding). */
void clmp_test_expect_within(const char *what, const clmp_tensor *got, const clmp_tensor *want,
                             const float *bound, double max_ulp);

/* A view of shape (ndim 1..4) placed pad elements into a 1-D base that holds CLMP_TEST_GUARD all
 * around it, so that a kernel writing outside its view is caught. */
#define CLMP_TEST_GUARD 77.0f /* exact in every dtype */
typedef struct clmp_test_view {
  clmp_tensor *base, *t;
  size_t n, pad;
} clmp_test_view;

clmp_test_view clmp_test_view_make(clmp_ctx *ctx, clmp_dtype d, int ndim, const size_t *shape,
                                   size_t pad, const float *values);
void clmp_test_view_free(clmp_test_view *v);
/* Asserts that the padding around the view still holds CLMP_TEST_GUARD. */
void clmp_test_expect_guard(const char *what, const clmp_test_view *v);
/* Asserts that t holds value everywhere (a failed op touches nothing). */
void clmp_test_expect_all(const clmp_tensor *t, float value);
/* Whether a test device is the reference. */
int clmp_test_is_ref(const clmp_test_device *dev);

/* n seeded uniform values in [lo, hi). */
void clmp_test_uniform(float *out, size_t n, float lo, float hi, uint64_t seed);

#endif
