/* host/runtime/context.c: device selection ("auto", "ref", "cl:N", name substring) and the
 * context that owns an OpenCL context and in-order queue, or nothing at all on "ref". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "profile.h"
#include "runtime.h"

/* Preference of "auto": a discrete GPU, then an integrated GPU, then anything else. */
static int auto_rank(clmp_device_kind kind) {
  switch (kind) {
  case CLMP_DEVICE_GPU: return 3;
  case CLMP_DEVICE_IGPU: return 2;
  case CLMP_DEVICE_ACCELERATOR:
  case CLMP_DEVICE_CPU: return 1;
  default: return 0;
  }
}

static int auto_pick(const clmp_device_info *list, size_t count) {
  int best = -1, best_rank = 0;
  for (size_t i = 0; i < count; i++) {
    int r = auto_rank(list[i].kind);
    if (r > best_rank) best = (int)i, best_rank = r;
  }
  return best;
}

static int contains_nocase(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++) {
    size_t i = 0;
    while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n) return 1;
  }
  return n == 0;
}

/* "no device matches" with the list of what exists, so the user can pick. */
static clmp_status no_match(const char *device, const clmp_device_info *list, size_t count) {
  clmp_status st =
      CLMP_FAIL(CLMP_ERR_NO_DEVICE, "clmp_device_select: no device matches \"%s\"", device);
  clmp__error_append("; devices:");
  for (size_t i = 0; i < count; i++)
    clmp__error_append(" cl:%zu \"%s\" (%s);", i, list[i].name, list[i].platform);
  clmp__error_append(" ref (CPU reference)");
  return st;
}

static clmp_status select_cl_index(const char *device, const char *digits, size_t count,
                                   const clmp_device_info *list, int *index) {
  char *end = NULL;
  unsigned long n = strtoul(digits, &end, 10);
  if (!*digits || !isdigit((unsigned char)*digits) || *end || n >= count)
    return no_match(device, list, count);
  *index = (int)n;
  return CLMP_SUCCESS;
}

clmp_status clmp_device_select(const char *device, const clmp_device_info *list, size_t count,
                               int *index) {
  if (!index || (count && !list))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_device_select: NULL argument");
  if (!device || !*device || !strcmp(device, "auto")) {
    const char *env = getenv("CLMP_DEVICE");
    if (env && *env && strcmp(env, "auto") != 0) return clmp_device_select(env, list, count, index);
    *index = auto_pick(list, count);
    return CLMP_SUCCESS;
  }
  if (!strcmp(device, "ref")) {
    *index = -1;
    return CLMP_SUCCESS;
  }
  if (!strncmp(device, "cl:", 3)) return select_cl_index(device, device + 3, count, list, index);
  for (size_t i = 0; i < count; i++) {
    if (contains_nocase(list[i].name, device)) {
      *index = (int)i;
      return CLMP_SUCCESS;
    }
  }
  return no_match(device, list, count);
}

static clmp_status open_cl(clmp_ctx *ctx, const clmp__device *dev) {
  clmp_status st = CLMP_SUCCESS;
  cl_int err = CL_SUCCESS;
  ctx->info = dev->info;
  ctx->platform = dev->platform;
  ctx->device = dev->device;
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform, 0};
  ctx->context = clCreateContext(props, 1, &dev->device, NULL, NULL, &err);
  CL_CHECK(err);
  ctx->queue = clCreateCommandQueue(ctx->context, dev->device, CL_QUEUE_PROFILING_ENABLE, &err);
  CL_CHECK(err);
  ctx->profile = clmp__profile_open();
  cl_uint vec = 0; /* read once here, not per op */
  err =
      clGetDeviceInfo(dev->device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof vec, &vec, NULL);
  ctx->float_vec = err == CL_SUCCESS && vec ? vec : 1;
cleanup:
  if (st != CLMP_SUCCESS) clmp__error_append(" (creating a context on \"%s\")", dev->info.name);
  return st;
}

clmp_status clmp_ctx_create(const char *device, clmp_ctx **out) {
  if (!out) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_ctx_create: NULL out");
  *out = NULL;
  clmp_status st = CLMP_SUCCESS;
  clmp__device *devs = NULL;
  size_t count = 0;
  clmp_device_info *infos = NULL;
  clmp_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) CLMP_RAISE(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_ctx_create");
  CLMP_TRY(clmp__devices_enumerate(&devs, &count));
  infos = calloc(count ? count : 1, sizeof *infos);
  if (!infos) CLMP_RAISE(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_ctx_create");
  for (size_t i = 0; i < count; i++) infos[i] = devs[i].info;
  int index = -1;
  CLMP_TRY(clmp_device_select(device, infos, count, &index));
  if (index < 0) {
    ctx->is_ref = 1;
    clmp_device_ref_info(&ctx->info);
  } else {
    CLMP_TRY(open_cl(ctx, &devs[index]));
  }
  *out = ctx;
  ctx = NULL;
cleanup:
  clmp_ctx_free(ctx);
  free(infos);
  free(devs);
  return st;
}

void clmp_ctx_free(clmp_ctx *ctx) {
  if (!ctx) return;
  if (ctx->queue) clFinish(ctx->queue);
  clmp__profile_close(ctx);
  clmp__programs_free(ctx);
  if (ctx->scratch) clReleaseMemObject(ctx->scratch);
  if (ctx->queue) clReleaseCommandQueue(ctx->queue);
  if (ctx->context) clReleaseContext(ctx->context);
  free(ctx);
}

const clmp_device_info *clmp_ctx_device(const clmp_ctx *ctx) {
  return ctx ? &ctx->info : NULL;
}

unsigned long clmp_ctx_blocking_calls(const clmp_ctx *ctx) {
  return ctx ? ctx->blocking_calls : 0;
}

clmp_status clmp__scratch(clmp_ctx *ctx, size_t bytes, cl_mem *out) {
  if (bytes > ctx->scratch_bytes) {
    cl_int err = CL_SUCCESS;
    cl_mem grown = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) return CLMP_FAIL(err, "clCreateBuffer(scratch, %zu bytes)", bytes);
    if (ctx->scratch) clReleaseMemObject(ctx->scratch);
    ctx->scratch = grown;
    ctx->scratch_bytes = bytes;
  }
  *out = ctx->scratch;
  return CLMP_SUCCESS;
}

clmp_status clmp_ctx_finish(clmp_ctx *ctx) {
  if (!ctx) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_ctx_finish: NULL context");
  if (ctx->is_ref) return CLMP_SUCCESS;
  ctx->blocking_calls++;
  cl_int err = clFinish(ctx->queue);
  if (err == CL_SUCCESS) clmp__profile_collect(ctx);
  return err == CL_SUCCESS ? CLMP_SUCCESS : CLMP_FAIL(err, "clFinish");
}
