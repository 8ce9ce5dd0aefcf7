/* host/runtime/util.h: small string helpers of the library (allocating printf and strdup). */
#ifndef CLMP_HOST_UTIL_H
#define CLMP_HOST_UTIL_H

/* A malloc'ed, formatted string, or NULL when memory runs out. */
char *clmp__aprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* A malloc'ed copy of s, or NULL. */
char *clmp__strdup(const char *s);

#endif
