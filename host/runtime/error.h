/* host/runtime/error.h: recording failures in the thread-local message, and the CL_CHECK /
 * CLMP_TRY macros that jump to a function's cleanup label. */
#ifndef CLMP_HOST_ERROR_H
#define CLMP_HOST_ERROR_H

#include "clmp/status.h"

/* Records "file:line: <message>: NAME (code)" as the thread's last error and returns st. */
clmp_status clmp__fail(clmp_status st, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Appends text to the thread's last error (build logs and other context), truncating if full. */
void clmp__error_append(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Clears the thread's last error. */
void clmp__error_clear(void);

#define CLMP_FAIL(st, ...) clmp__fail((st), __FILE__, __LINE__, __VA_ARGS__)

/* In a function with `clmp_status st` and a `cleanup:` label: run an OpenCL call, and on failure
 * record its text and code, then jump to cleanup. */
#define CL_CHECK(call)                                                                        \
  do {                                                                                        \
    cl_int clmp_e_ = (call);                                                                  \
    if (clmp_e_ != CL_SUCCESS) {                                                              \
      st = clmp__fail(clmp_e_, __FILE__, __LINE__, "%s", #call);                              \
      goto cleanup;                                                                           \
    }                                                                                         \
  } while (0)

/* Same for a clmp call, which has recorded its own message. */
#define CLMP_TRY(expr)                                                                        \
  do {                                                                                        \
    st = (expr);                                                                              \
    if (st != CLMP_SUCCESS) goto cleanup;                                                     \
  } while (0)

/* Fails with st and a formatted message, then jumps to cleanup. */
#define CLMP_RAISE(code, ...)                                                                 \
  do {                                                                                        \
    st = clmp__fail((code), __FILE__, __LINE__, __VA_ARGS__);                                 \
    goto cleanup;                                                                             \
  } while (0)

/* Marks the place where a failure of the call just made is recovered from by design (a cached
 * binary rebuilt, a shrinking realloc that kept the larger block). Fault-injection builds check
 * that every call they fail is either reported as an error or recovered from here; elsewhere it
 * is nothing. */
#ifdef CLMP_FAULT_INJECT
#include "fault.h"
#define CLMP_RECOVERED() clmp__fault_recover()
#else
#define CLMP_RECOVERED() ((void)0)
#endif

#endif
