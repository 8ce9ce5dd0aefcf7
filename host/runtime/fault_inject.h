/* host/runtime/fault_inject.h: force-included (-include) in every library source when
 * CLMP_FAULT_INJECT is on: the calls that can fail are routed through clmp__fault_hit, and the
 * armed one returns what a failing driver or allocator returns, without being made. */
#ifndef CLMP_HOST_FAULT_INJECT_H
#define CLMP_HOST_FAULT_INJECT_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <clblast_c.h>
#include <stdlib.h>

#include "fault.h"

/* Counts one injectable call; 1 when it is the armed one, which must then fail. */
int clmp__fault_hit(const char *what, const char *file, int line);
/* A failed create call: *err = code (err may be NULL), NULL returned. */
void *clmp__fault_null(cl_int *err, cl_int code);
/* A failed allocation: errno = ENOMEM, NULL returned. */
void *clmp__fault_enomem(void);

#define CLMP__FAULT(fn) clmp__fault_hit(#fn, __FILE__, __LINE__)
/* A call that returns its status. The parenthesised (fn) is the real function, not this macro. */
#define CLMP__FAULT_STATUS(fn, code, ...) (CLMP__FAULT(fn) ? (code) : (fn)(__VA_ARGS__))
/* A call that returns an object and its status through err. */
#define CLMP__FAULT_OBJECT(fn, code, err, ...) \
  (CLMP__FAULT(fn) ? clmp__fault_null(err, code) : (fn)(__VA_ARGS__))
#define CLMP__FAULT_ALLOC(fn, ...) (CLMP__FAULT(fn) ? clmp__fault_enomem() : (fn)(__VA_ARGS__))

/* Not injectable, on purpose: clGetPlatformIDs (failing, it means "no OpenCL", not an error),
 * clGetPlatformInfo and clGetDeviceInfo (a device's description, where a failed query leaves a
 * default), clGetProgramBuildInfo (read only to add the log to a build failure already reported)
 * and clRelease* (cleanup, with nothing to do on failure). */

/* Host allocations. free is not injectable: it cannot fail. */
#define malloc(n)           CLMP__FAULT_ALLOC(malloc, n)
#define calloc(n, size)     CLMP__FAULT_ALLOC(calloc, n, size)
#define realloc(p, n)       CLMP__FAULT_ALLOC(realloc, p, n)
#define aligned_alloc(a, n) CLMP__FAULT_ALLOC(aligned_alloc, a, n)

/* Contexts, queues, programs, kernels, buffers. */
#define clGetDeviceIDs(...) CLMP__FAULT_STATUS(clGetDeviceIDs, CL_OUT_OF_HOST_MEMORY, __VA_ARGS__)
#define clCreateContext(p, n, d, cb, u, e) \
  CLMP__FAULT_OBJECT(clCreateContext, CL_OUT_OF_HOST_MEMORY, e, p, n, d, cb, u, e)
#define clCreateCommandQueue(c, d, p, e) \
  CLMP__FAULT_OBJECT(clCreateCommandQueue, CL_OUT_OF_RESOURCES, e, c, d, p, e)
#define clCreateProgramWithSource(c, n, s, l, e) \
  CLMP__FAULT_OBJECT(clCreateProgramWithSource, CL_OUT_OF_HOST_MEMORY, e, c, n, s, l, e)
#define clCreateProgramWithBinary(c, n, d, l, b, s, e) \
  CLMP__FAULT_OBJECT(clCreateProgramWithBinary, CL_OUT_OF_RESOURCES, e, c, n, d, l, b, s, e)
#define clBuildProgram(...) \
  CLMP__FAULT_STATUS(clBuildProgram, CL_BUILD_PROGRAM_FAILURE, __VA_ARGS__)
#define clGetProgramInfo(...) \
  CLMP__FAULT_STATUS(clGetProgramInfo, CL_OUT_OF_HOST_MEMORY, __VA_ARGS__)
#define clCreateKernel(p, n, e) CLMP__FAULT_OBJECT(clCreateKernel, CL_OUT_OF_RESOURCES, e, p, n, e)
#define clGetKernelWorkGroupInfo(...) \
  CLMP__FAULT_STATUS(clGetKernelWorkGroupInfo, CL_OUT_OF_RESOURCES, __VA_ARGS__)
/* Only a launch's first argument: a failure at any index takes the same way out, and a launch
 * sets ten or more. */
#define clSetKernelArg(k, i, n, v)                                                  \
  ((i) == 0 ? CLMP__FAULT_STATUS(clSetKernelArg, CL_OUT_OF_HOST_MEMORY, k, i, n, v) \
            : (clSetKernelArg)(k, i, n, v))
#define clCreateBuffer(c, f, n, h, e) \
  CLMP__FAULT_OBJECT(clCreateBuffer, CL_MEM_OBJECT_ALLOCATION_FAILURE, e, c, f, n, h, e)

/* Work queued on the device, transfers and waits. */
#define clEnqueueNDRangeKernel(...) \
  CLMP__FAULT_STATUS(clEnqueueNDRangeKernel, CL_OUT_OF_RESOURCES, __VA_ARGS__)
#define clEnqueueReadBuffer(...) \
  CLMP__FAULT_STATUS(clEnqueueReadBuffer, CL_OUT_OF_RESOURCES, __VA_ARGS__)
#define clEnqueueWriteBuffer(...) \
  CLMP__FAULT_STATUS(clEnqueueWriteBuffer, CL_OUT_OF_RESOURCES, __VA_ARGS__)
#define clEnqueueCopyBuffer(...) \
  CLMP__FAULT_STATUS(clEnqueueCopyBuffer, CL_OUT_OF_RESOURCES, __VA_ARGS__)
#define clEnqueueMapBuffer(q, m, b, f, o, n, ne, w, ev, e) \
  CLMP__FAULT_OBJECT(clEnqueueMapBuffer, CL_MAP_FAILURE, e, q, m, b, f, o, n, ne, w, ev, e)
#define clEnqueueUnmapMemObject(...) \
  CLMP__FAULT_STATUS(clEnqueueUnmapMemObject, CL_OUT_OF_RESOURCES, __VA_ARGS__)
#define clFinish(...) CLMP__FAULT_STATUS(clFinish, CL_OUT_OF_RESOURCES, __VA_ARGS__)

/* CLBlast. */
#define CLBlastSgemm(...) CLMP__FAULT_STATUS(CLBlastSgemm, CLBlastOpenCLOutOfResources, __VA_ARGS__)
#define CLBlastHgemm(...) CLMP__FAULT_STATUS(CLBlastHgemm, CLBlastOpenCLOutOfResources, __VA_ARGS__)

#endif
