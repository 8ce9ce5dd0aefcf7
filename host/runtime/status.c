/* host/runtime/status.c: names of clmp's, OpenCL's and CLBlast's status codes, and the
 * thread-local last-error message. */
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clmp/status.h"
#include "error.h"

/* Room for a call, its context and a build log of a few hundred lines. */
#define ERROR_CAPACITY 16384

static _Thread_local char last_error[ERROR_CAPACITY];

typedef struct code_name {
  int code;
  const char *name;
} code_name;

#define NAME_ENTRY(name, value, msg) {value, #name},
static const code_name clmp_names[] = {CLMP_STATUS_LIST(NAME_ENTRY)};
#undef NAME_ENTRY

#define CL_ENTRY(c) {c, #c},
static const code_name cl_names[] = {
    CL_ENTRY(CL_DEVICE_NOT_FOUND) CL_ENTRY(CL_DEVICE_NOT_AVAILABLE)
    CL_ENTRY(CL_COMPILER_NOT_AVAILABLE) CL_ENTRY(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    CL_ENTRY(CL_OUT_OF_RESOURCES) CL_ENTRY(CL_OUT_OF_HOST_MEMORY)
    CL_ENTRY(CL_PROFILING_INFO_NOT_AVAILABLE) CL_ENTRY(CL_MEM_COPY_OVERLAP)
    CL_ENTRY(CL_IMAGE_FORMAT_MISMATCH) CL_ENTRY(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    CL_ENTRY(CL_BUILD_PROGRAM_FAILURE) CL_ENTRY(CL_MAP_FAILURE)
    CL_ENTRY(CL_MISALIGNED_SUB_BUFFER_OFFSET) CL_ENTRY(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    CL_ENTRY(CL_COMPILE_PROGRAM_FAILURE) CL_ENTRY(CL_LINKER_NOT_AVAILABLE)
    CL_ENTRY(CL_LINK_PROGRAM_FAILURE) CL_ENTRY(CL_DEVICE_PARTITION_FAILED)
    CL_ENTRY(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) CL_ENTRY(CL_INVALID_VALUE)
    CL_ENTRY(CL_INVALID_DEVICE_TYPE) CL_ENTRY(CL_INVALID_PLATFORM) CL_ENTRY(CL_INVALID_DEVICE)
    CL_ENTRY(CL_INVALID_CONTEXT) CL_ENTRY(CL_INVALID_QUEUE_PROPERTIES)
    CL_ENTRY(CL_INVALID_COMMAND_QUEUE) CL_ENTRY(CL_INVALID_HOST_PTR)
    CL_ENTRY(CL_INVALID_MEM_OBJECT) CL_ENTRY(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    CL_ENTRY(CL_INVALID_IMAGE_SIZE) CL_ENTRY(CL_INVALID_SAMPLER) CL_ENTRY(CL_INVALID_BINARY)
    CL_ENTRY(CL_INVALID_BUILD_OPTIONS) CL_ENTRY(CL_INVALID_PROGRAM)
    CL_ENTRY(CL_INVALID_PROGRAM_EXECUTABLE) CL_ENTRY(CL_INVALID_KERNEL_NAME)
    CL_ENTRY(CL_INVALID_KERNEL_DEFINITION) CL_ENTRY(CL_INVALID_KERNEL)
    CL_ENTRY(CL_INVALID_ARG_INDEX) CL_ENTRY(CL_INVALID_ARG_VALUE) CL_ENTRY(CL_INVALID_ARG_SIZE)
    CL_ENTRY(CL_INVALID_KERNEL_ARGS) CL_ENTRY(CL_INVALID_WORK_DIMENSION)
    CL_ENTRY(CL_INVALID_WORK_GROUP_SIZE) CL_ENTRY(CL_INVALID_WORK_ITEM_SIZE)
    CL_ENTRY(CL_INVALID_GLOBAL_OFFSET) CL_ENTRY(CL_INVALID_EVENT_WAIT_LIST)
    CL_ENTRY(CL_INVALID_EVENT) CL_ENTRY(CL_INVALID_OPERATION) CL_ENTRY(CL_INVALID_GL_OBJECT)
    CL_ENTRY(CL_INVALID_BUFFER_SIZE) CL_ENTRY(CL_INVALID_MIP_LEVEL)
    CL_ENTRY(CL_INVALID_GLOBAL_WORK_SIZE) CL_ENTRY(CL_INVALID_PROPERTY)
    CL_ENTRY(CL_INVALID_IMAGE_DESCRIPTOR) CL_ENTRY(CL_INVALID_COMPILER_OPTIONS)
    CL_ENTRY(CL_INVALID_LINKER_OPTIONS) CL_ENTRY(CL_INVALID_DEVICE_PARTITION_COUNT)
    {-1001, "CL_PLATFORM_NOT_FOUND_KHR"},
};
#undef CL_ENTRY

static const char *find_name(const code_name *table, size_t n, int code) {
  for (size_t i = 0; i < n; i++)
    if (table[i].code == code) return table[i].name;
  return NULL;
}

const char *clmp_status_name(clmp_status s) {
  const char *name = find_name(clmp_names, sizeof clmp_names / sizeof *clmp_names, s);
  if (!name) name = find_name(cl_names, sizeof cl_names / sizeof *cl_names, s);
  if (name) return name;
  if ((s <= -1007 && s >= -1024) || (s <= -2039 && s >= -2050)) return "CLBLAST_ERROR";
  return "UNKNOWN_STATUS";
}

const char *clmp_last_error(void) {
  return last_error;
}

void clmp__error_clear(void) {
  last_error[0] = '\0';
}

static void append_v(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void append_v(const char *fmt, va_list ap) {
  size_t used = strlen(last_error);
  if (used + 1 >= sizeof last_error) return;
  vsnprintf(last_error + used, sizeof last_error - used, fmt, ap);
}

void clmp__error_append(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  append_v(fmt, ap);
  va_end(ap);
}

clmp_status clmp__fail(clmp_status st, const char *file, int line, const char *fmt, ...) {
  const char *base = strrchr(file, '/');
  snprintf(last_error, sizeof last_error, "%s:%d: ", base ? base + 1 : file, line);
  va_list ap;
  va_start(ap, fmt);
  append_v(fmt, ap);
  va_end(ap);
  clmp__error_append(": %s (%d)", clmp_status_name(st), st);
  return st;
}
