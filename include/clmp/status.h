/* clmp/status.h: status codes and the thread-local error message.
 * OpenCL's own (negative) codes pass through unchanged; clmp's codes sit in -3000..-3099. */
#ifndef CLMP_STATUS_H
#define CLMP_STATUS_H

#include "clmp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 0 is success; any other value is an OpenCL code (-1..-1001), a CLBlast code (-1007..-1024,
 * -2039..-2050) or one of clmp's own below. */
typedef int clmp_status;

/* X(name, value, message): the one list from which the enum and the names are generated. */
#define CLMP_STATUS_LIST(X)                                                                   \
  X(CLMP_SUCCESS, 0, "success")                                                               \
  X(CLMP_ERR_INVALID_ARGUMENT, -3000, "invalid argument (NULL pointer or value out of range)") \
  X(CLMP_ERR_OUT_OF_HOST_MEMORY, -3001, "host memory allocation failed")                      \
  X(CLMP_ERR_NO_DEVICE, -3002, "no device matches the request")                               \
  X(CLMP_ERR_INVALID_SHAPE, -3003, "invalid or mismatched shape")                             \
  X(CLMP_ERR_INVALID_DTYPE, -3004, "invalid or unsupported dtype")                            \
  X(CLMP_ERR_CONTEXT_MISMATCH, -3005, "objects belong to different contexts")                 \
  X(CLMP_ERR_SIZE_OVERFLOW, -3006, "size computation overflows")                              \
  X(CLMP_ERR_TOO_LARGE, -3007, "allocation larger than the device allows")                    \
  X(CLMP_ERR_OUT_OF_BOUNDS, -3008, "view or access out of bounds")                            \
  X(CLMP_ERR_IO, -3009, "file input/output failed")                                           \
  X(CLMP_ERR_FORMAT, -3010, "damaged or foreign file")                                        \
  X(CLMP_ERR_UNSUPPORTED, -3011, "operation not supported on this device")                    \
  X(CLMP_ERR_KERNEL_NOT_FOUND, -3012, "kernel source not found")                              \
  X(CLMP_ERR_NON_FINITE, -3013, "non-finite values where finite ones are required")

#define CLMP__STATUS_ENUM(name, value, msg) name = value,
enum { CLMP_STATUS_LIST(CLMP__STATUS_ENUM) };
#undef CLMP__STATUS_ENUM

/* The symbolic name of a status: "CLMP_ERR_NO_DEVICE", "CL_OUT_OF_RESOURCES", ...; never NULL. */
CLMP_API const char *clmp_status_name(clmp_status s);

/* The message of the last failure on this thread: call, file:line, code name and context
 * (kernel, build options, build log). Empty if nothing failed yet. Owned by the library. */
CLMP_API const char *clmp_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
