/* clmp/device.h: device discovery and contexts. A context is created on one OpenCL device or
 * on the CPU reference device "ref"; everything else in clmp hangs off a context. */
#ifndef CLMP_DEVICE_H
#define CLMP_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "clmp/export.h"
#include "clmp/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clmp_ctx clmp_ctx;

typedef enum clmp_device_kind {
  CLMP_DEVICE_REF = 0,      /* the CPU reference: host memory, plain C */
  CLMP_DEVICE_CPU,          /* an OpenCL CPU device (PoCL, llvmpipe, ...) */
  CLMP_DEVICE_GPU,          /* an OpenCL GPU without host-unified memory (discrete) */
  CLMP_DEVICE_IGPU,         /* an OpenCL GPU with host-unified memory (integrated) */
  CLMP_DEVICE_ACCELERATOR,  /* any other OpenCL device type */
} clmp_device_kind;

/* What clmp knows of a device, queried once. Strings are NUL-terminated and truncated to fit. */
typedef struct clmp_device_info {
  int index;                 /* position in clmp_devices_list order ("cl:N"); -1 for ref */
  clmp_device_kind kind;
  char name[128];
  char vendor[128];
  char platform[128];
  char version[128];         /* CL_DEVICE_VERSION */
  char driver[64];           /* CL_DRIVER_VERSION */
  uint32_t compute_units;
  uint64_t global_mem;       /* bytes */
  uint64_t max_alloc;        /* bytes, CL_DEVICE_MAX_MEM_ALLOC_SIZE */
  uint64_t local_mem;        /* bytes */
  uint32_t base_align;       /* bytes, CL_DEVICE_MEM_BASE_ADDR_ALIGN / 8 */
  uint64_t max_work_group;   /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
  int fp16;                  /* 1 when cl_khr_fp16 (native half arithmetic) is exposed */
  int unified_memory;        /* 1 when CL_DEVICE_HOST_UNIFIED_MEMORY */
  int nv_cc_major;           /* NVIDIA compute capability, 0 elsewhere */
  int nv_cc_minor;
} clmp_device_info;

/* Lists every OpenCL device on every platform, in "cl:N" order. *out is allocated by the
 * library (free with clmp_devices_free); *count may be 0: no OpenCL at all is not an error. */
CLMP_API clmp_status clmp_devices_list(clmp_device_info **out, size_t *count);
CLMP_API void clmp_devices_free(clmp_device_info *list);

/* The description of the reference device. */
CLMP_API void clmp_device_ref_info(clmp_device_info *out);

/* Resolves a device string (NULL, "auto", "ref", "cl:N" or a name substring) against list:
 * *index is the position in list, or -1 for the reference device. */
CLMP_API clmp_status clmp_device_select(const char *device, const clmp_device_info *list,
                                        size_t count, int *index);

/* Creates a context on the device named by device (NULL means "auto"; "auto" reads CLMP_DEVICE,
 * and falls back to "ref" when no OpenCL device exists). */
CLMP_API clmp_status clmp_ctx_create(const char *device, clmp_ctx **out);
CLMP_API void clmp_ctx_free(clmp_ctx *ctx);

/* The device a context runs on (owned by the context). */
CLMP_API const clmp_device_info *clmp_ctx_device(const clmp_ctx *ctx);

/* How many times the library has waited for the device on this context (blocking reads and
 * writes, finishes): a training step should add none. */
CLMP_API unsigned long clmp_ctx_blocking_calls(const clmp_ctx *ctx);

/* Waits until every command queued on the context has finished. */
CLMP_API clmp_status clmp_ctx_finish(clmp_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
