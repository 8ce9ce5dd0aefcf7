/* host/runtime/sources.h: the table of kernel sources embedded by CMake (generated kernels.c). */
#ifndef CLMP_HOST_SOURCES_H
#define CLMP_HOST_SOURCES_H

#include <stddef.h>

typedef struct clmp__embedded {
  const char *name;          /* file stem: "cast" for cl/cast.cl */
  const unsigned char *data; /* the file's bytes */
  size_t size;
} clmp__embedded;

/* Terminated by an entry whose name is NULL; empty when CLMP_EMBED_KERNELS is off. */
extern const clmp__embedded clmp__embedded_sources[];

/* Where `cmake --install` put the .cl files (used when nothing is embedded), or NULL. */
extern const char *const clmp__kernel_install_dir;

#endif
