/* clmp/export.h: symbol visibility. The library is built with hidden visibility; only
 * functions marked CLMP_API are exported. */
#ifndef CLMP_EXPORT_H
#define CLMP_EXPORT_H

#if defined(__GNUC__)
#define CLMP_API __attribute__((visibility("default")))
#else
#define CLMP_API
#endif

#endif
