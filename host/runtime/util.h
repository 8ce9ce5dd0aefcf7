/* host/runtime/util.h: small helpers of the library: allocating printf, strdup, the seeded
 * generator. */
#ifndef CLMP_HOST_UTIL_H
#define CLMP_HOST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A malloc'ed, formatted string, or NULL when memory runs out. */
char *clmp__aprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* The next value of a splitmix64 sequence: the library's seeded generator (initial weights,
 * shuffling, verify's inputs), so that the same seed gives the same numbers everywhere. */
uint64_t clmp__splitmix64(uint64_t *state);

/* A malloc'ed copy of s, or NULL. */
char *clmp__strdup(const char *s);

/* The system's text for errno value e, in buf of n bytes (thread-safe strerror). */
const char *clmp__errno_text(int e, char *buf, size_t n);

#endif
