/* host/runtime/util.h: small helpers of the library: allocating printf, strdup, the seeded
 * generator. */
#ifndef CLMP_HOST_UTIL_H
#define CLMP_HOST_UTIL_H

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

#endif
