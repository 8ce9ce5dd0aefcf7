/* tests/devices.h: the devices a kernel suite runs on: every OpenCL device present, plus the
 * reference, each with one context shared by the whole suite. */
#ifndef CLMP_TESTS_DEVICES_H
#define CLMP_TESTS_DEVICES_H

#include "clmp/clmp.h"

#define CLMP_TEST_MAX_DEVICES 16

typedef struct clmp_test_device {
  char id[32];   /* "cl:0", ..., "ref" */
  clmp_ctx *ctx; /* NULL if the context could not be created (the suite init fails then) */
} clmp_test_device;

/* Opens a context on every OpenCL device and on "ref" (with_ref) and returns how many; prints
 * each one. Returns -1 (after printing why) when a context fails. CUnit suite inits call it. */
int clmp_test_devices_open(int with_ref);
/* Frees the contexts; returns 0 (the signature CUnit's cleanup wants). */
int clmp_test_devices_close(void);

extern clmp_test_device clmp_test_devs[CLMP_TEST_MAX_DEVICES];
extern int clmp_test_ndevs;

#endif
