/* host/runtime/profile.h: CLMP_PROFILE=1: the device time of every kernel launch, from the
 * queue's profiling events, summed per kernel and printed to stderr when the context is freed. */
#ifndef CLMP_HOST_PROFILE_H
#define CLMP_HOST_PROFILE_H

#include "runtime.h"

typedef struct clmp__profile clmp__profile;

/* A profile when CLMP_PROFILE is set to a non-empty value other than 0, else NULL (also when it
 * cannot be allocated: profiling is a diagnostic and never fails an op). */
clmp__profile *clmp__profile_open(void);

/* Where the launch of kernel name should put its event: NULL when not profiling. */
cl_event *clmp__profile_slot(clmp_ctx *ctx, const char *name);

/* Reads the finished events (call after clFinish). */
void clmp__profile_collect(clmp_ctx *ctx);

/* Collects, prints the table (kernel, launches, total and mean device time, share) and frees. */
void clmp__profile_close(clmp_ctx *ctx);

#endif
