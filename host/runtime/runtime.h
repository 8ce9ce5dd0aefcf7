/* host/runtime/runtime.h: the context, device discovery and program builds, as the rest of the
 * library sees them (internal). */
#ifndef CLMP_HOST_RUNTIME_H
#define CLMP_HOST_RUNTIME_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#include "clmp/device.h"

/* One OpenCL device as found: its description and its handles. */
typedef struct clmp__device {
  clmp_device_info info;
  cl_platform_id platform;
  cl_device_id device;
} clmp__device;

/* Counters of the program cache, per context (tests and benchmarks read them). */
typedef struct clmp__cache_stats {
  unsigned long memory_hits; /* served from the context's own table */
  unsigned long disk_hits;   /* loaded from a valid on-disk binary */
  unsigned long disk_misses; /* no entry on disk (or the cache is off) */
  unsigned long disk_rejects; /* an entry existed but was damaged, stale or refused */
  unsigned long disk_writes; /* entries written */
  unsigned long write_failures; /* entries that could not be written (the build still worked) */
} clmp__cache_stats;

typedef struct clmp__program clmp__program; /* a built program and its kernels */

struct clmp_ctx {
  clmp_device_info info;
  int is_ref;
  cl_platform_id platform;
  cl_device_id device;
  cl_context context;
  cl_command_queue queue;
  clmp__program *programs;
  clmp__cache_stats cache;
  unsigned long blocking_calls; /* host waits for the device (clmp_ctx_blocking_calls) */
  cl_mem scratch;               /* a device buffer ops may use between their own kernels */
  size_t scratch_bytes;
  struct clmp__profile *profile; /* CLMP_PROFILE's per-kernel times, else NULL */
  unsigned float_vec; /* preferred float vector width, 1 if unknown: PoCL 16, llvmpipe 1 */
  int wgmma_refused;  /* the wgmma GEMM did not build here: the mma.sync one runs instead */
};

/* The context's scratch buffer, grown to at least bytes. The queue is in order, so an op may use
 * it across its own kernels; its contents do not survive to the next op. */
clmp_status clmp__scratch(clmp_ctx *ctx, size_t bytes, cl_mem *out);

/* Enumerates every OpenCL device (malloc'ed array, *count may be 0). */
clmp_status clmp__devices_enumerate(clmp__device **out, size_t *count);

/* A built program for kernel file <name>.cl with extra build options (may be NULL), owned by the
 * context and kept for its lifetime: the disk cache is consulted and filled as needed. */
clmp_status clmp__program_get(clmp_ctx *ctx, const char *name, const char *options,
                              cl_program *out);

/* A kernel from such a program, created once and owned by the context. Not thread-safe: a
 * context is used from one thread at a time. */
clmp_status clmp__kernel_get(clmp_ctx *ctx, const char *program, const char *options,
                             const char *kernel, cl_kernel *out);

/* Appends program p's build log on the context's device to the last error (nothing if it cannot
 * be read). */
void clmp__build_log_append(const clmp_ctx *ctx, cl_program p);

/* Whether program binaries of this device may go through the disk cache (see program.c). */
int clmp__binary_cache_usable(const clmp_device_info *info);

/* Releases every program and kernel of the context. */
void clmp__programs_free(clmp_ctx *ctx);

/* The source of kernel file <name>.cl: from CLMP_KERNEL_DIR when set, else embedded. *out is
 * malloc'ed and NUL-terminated. */
clmp_status clmp__source_load(const char *name, char **out, size_t *len);

/* The disk cache. Its folder (NULL when disabled) and a lookup / store of one program binary
 * under a full key; load returns 1 on a valid entry, 0 on none, -1 on a damaged one. */
const char *clmp__cache_dir(char *buf, size_t size);
int clmp__cache_load(const char *dir, const char *key, size_t key_len, unsigned char **bin,
                     size_t *bin_len);
int clmp__cache_store(const char *dir, const char *key, size_t key_len, const unsigned char *bin,
                      size_t bin_len);

#endif
