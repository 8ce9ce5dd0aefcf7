/* host/runtime/device.c: finding every OpenCL device through the ICD loader and querying what
 * clmp needs to know of each, once. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "error.h"
#include "runtime.h"

/* cl_nv_device_attribute_query */
#define CLMP_CL_DEVICE_CC_MAJOR_NV 0x4000
#define CLMP_CL_DEVICE_CC_MINOR_NV 0x4001

#define MAX_PLATFORMS 16

static void query_string(cl_device_id d, cl_device_info what, char *buf, size_t size) {
  buf[0] = '\0';
  if (clGetDeviceInfo(d, what, size - 1, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
  buf[size - 1] = '\0';
}

static uint64_t query_u64(cl_device_id d, cl_device_info what) {
  cl_ulong v = 0;
  if (clGetDeviceInfo(d, what, sizeof v, &v, NULL) != CL_SUCCESS) return 0;
  return v;
}

static uint32_t query_u32(cl_device_id d, cl_device_info what) {
  cl_uint v = 0;
  if (clGetDeviceInfo(d, what, sizeof v, &v, NULL) != CL_SUCCESS) return 0;
  return v;
}

/* Whether the space-separated extension list of d names ext: 1 or 0, or -1 when memory runs out
 * (an extension is not silently lost). */
static int has_extension(cl_device_id d, const char *ext) {
  size_t size = 0;
  if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &size) != CL_SUCCESS || !size) return 0;
  char *list = malloc(size + 1);
  if (!list) return -1;
  int found = 0;
  if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, size, list, NULL) == CL_SUCCESS) {
    list[size] = '\0';
    size_t n = strlen(ext);
    for (char *p = strstr(list, ext); p && !found; p = strstr(p + 1, ext))
      found = (p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0');
  }
  free(list);
  return found;
}

static clmp_device_kind device_kind(cl_device_type type, int unified) {
  if (type & CL_DEVICE_TYPE_GPU) return unified ? CLMP_DEVICE_IGPU : CLMP_DEVICE_GPU;
  if (type & CL_DEVICE_TYPE_CPU) return CLMP_DEVICE_CPU;
  return CLMP_DEVICE_ACCELERATOR;
}

static clmp_status describe(cl_platform_id p, cl_device_id d, int index, clmp_device_info *info) {
  memset(info, 0, sizeof *info);
  info->index = index;
  query_string(d, CL_DEVICE_NAME, info->name, sizeof info->name);
  query_string(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
  query_string(d, CL_DEVICE_VERSION, info->version, sizeof info->version);
  query_string(d, CL_DRIVER_VERSION, info->driver, sizeof info->driver);
  if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform - 1, info->platform, NULL))
    info->platform[0] = '\0';
  cl_device_type type = 0;
  clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
  cl_bool unified = CL_FALSE;
  clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
  info->unified_memory = unified == CL_TRUE;
  info->kind = device_kind(type, info->unified_memory);
  info->compute_units = query_u32(d, CL_DEVICE_MAX_COMPUTE_UNITS);
  info->global_mem = query_u64(d, CL_DEVICE_GLOBAL_MEM_SIZE);
  info->max_alloc = query_u64(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  info->local_mem = query_u64(d, CL_DEVICE_LOCAL_MEM_SIZE);
  info->base_align = query_u32(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN) / 8;
  size_t wg = 0;
  clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
  info->max_work_group = wg;
  int fp16 = has_extension(d, "cl_khr_fp16"), nv = has_extension(d, "cl_nv_device_attribute_query");
  if (fp16 < 0 || nv < 0)
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "extensions of \"%s\"", info->name);
  info->fp16 = fp16;
  if (nv) {
    info->nv_cc_major = (int)query_u32(d, CLMP_CL_DEVICE_CC_MAJOR_NV);
    info->nv_cc_minor = (int)query_u32(d, CLMP_CL_DEVICE_CC_MINOR_NV);
  }
  return CLMP_SUCCESS;
}

/* Appends the devices of one platform; a platform without devices is normal (Clover). */
static clmp_status add_platform(cl_platform_id p, clmp__device **list, size_t *count) {
  cl_uint n = 0;
  cl_int err = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, NULL, &n);
  if (err != CL_SUCCESS && err != CL_DEVICE_NOT_FOUND) return CLMP_FAIL(err, "clGetDeviceIDs");
  if (err == CL_DEVICE_NOT_FOUND || n == 0) return CLMP_SUCCESS;
  cl_device_id *ids = malloc(n * sizeof *ids);
  clmp__device *grown = realloc(*list, (*count + n) * sizeof **list);
  if (grown) *list = grown; /* the old block is gone once realloc succeeds */
  if (!ids || !grown) {
    free(ids);
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "device list of %u entries", n);
  }
  err = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n, ids, NULL);
  clmp_status st = err == CL_SUCCESS ? CLMP_SUCCESS : CLMP_FAIL(err, "clGetDeviceIDs");
  for (cl_uint i = 0; st == CLMP_SUCCESS && i < n; i++) {
    clmp__device *dev = &grown[(*count)++];
    dev->platform = p;
    dev->device = ids[i];
    st = describe(p, ids[i], (int)(*count - 1), &dev->info);
  }
  free(ids);
  return st;
}

clmp_status clmp__devices_enumerate(clmp__device **out, size_t *count) {
  *out = NULL;
  *count = 0;
  cl_platform_id plats[MAX_PLATFORMS];
  cl_uint np = 0;
  cl_int err = clGetPlatformIDs(MAX_PLATFORMS, plats, &np);
  /* No ICD at all: the loader says CL_PLATFORM_NOT_FOUND_KHR (-1001). Not an error. */
  if (err != CL_SUCCESS || np == 0) return CLMP_SUCCESS;
  if (np > MAX_PLATFORMS) np = MAX_PLATFORMS;
  for (cl_uint i = 0; i < np; i++) {
    clmp_status st = add_platform(plats[i], out, count);
    if (st != CLMP_SUCCESS) {
      free(*out);
      *out = NULL;
      *count = 0;
      return st;
    }
  }
  return CLMP_SUCCESS;
}

clmp_status clmp_devices_list(clmp_device_info **out, size_t *count) {
  if (!out || !count) return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "clmp_devices_list: NULL out");
  *out = NULL;
  *count = 0;
  clmp__device *devs = NULL;
  size_t n = 0;
  clmp_status st = clmp__devices_enumerate(&devs, &n);
  if (st != CLMP_SUCCESS) return st;
  clmp_device_info *list = calloc(n ? n : 1, sizeof *list);
  if (!list) {
    free(devs);
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "clmp_devices_list");
  }
  for (size_t i = 0; i < n; i++) list[i] = devs[i].info;
  free(devs);
  *out = list;
  *count = n;
  return CLMP_SUCCESS;
}

void clmp_devices_free(clmp_device_info *list) {
  free(list);
}

void clmp_device_ref_info(clmp_device_info *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  out->index = -1;
  out->kind = CLMP_DEVICE_REF;
  strcpy(out->name, "ref");
  strcpy(out->vendor, "clmp");
  strcpy(out->platform, "clmp reference");
  strcpy(out->version, "clmp reference");
  strcpy(out->driver, "-");
  out->compute_units = 1;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  out->global_mem = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
  out->max_alloc = out->global_mem; /* host memory: one allocation may take all of it */
  out->base_align = 64;
  out->unified_memory = 1;
}
