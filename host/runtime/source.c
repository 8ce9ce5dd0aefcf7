/* host/runtime/source.c: kernel sources, embedded at build time or read from CLMP_KERNEL_DIR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "runtime.h"
#include "sources.h"

/* A kernel name is a bare file stem: letters, digits and '_' (no paths). */
static int valid_name(const char *name) {
  if (!*name) return 0;
  for (const char *p = name; *p; p++)
    if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9')))
      return 0;
  return 1;
}

static clmp_status read_text(const char *path, char **out, size_t *len) {
  clmp_status st = CLMP_SUCCESS;
  char *text = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) CLMP_RAISE(CLMP_ERR_KERNEL_NOT_FOUND, "cannot open kernel source %s", path);
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) CLMP_RAISE(CLMP_ERR_IO, "cannot size %s", path);
  text = malloc((size_t)size + 1);
  if (!text) CLMP_RAISE(CLMP_ERR_OUT_OF_HOST_MEMORY, "reading %s", path);
  if (fread(text, 1, (size_t)size, f) != (size_t)size) CLMP_RAISE(CLMP_ERR_IO, "reading %s", path);
  text[size] = '\0';
  *out = text;
  *len = (size_t)size;
  text = NULL;
cleanup:
  free(text);
  if (f) fclose(f);
  return st;
}

static clmp_status copy_embedded(const clmp__embedded *e, char **out, size_t *len) {
  char *text = malloc(e->size + 1);
  if (!text) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "kernel source %s", e->name);
  memcpy(text, e->data, e->size);
  text[e->size] = '\0';
  *out = text;
  *len = e->size;
  return CLMP_SUCCESS;
}

clmp_status clmp__source_load(const char *name, char **out, size_t *len) {
  if (!name || !valid_name(name))
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "bad kernel source name \"%s\"", name ? name : "");
  const char *dir = getenv("CLMP_KERNEL_DIR");
  if (!dir || !*dir) {
    for (const clmp__embedded *e = clmp__embedded_sources; e->name; e++)
      if (!strcmp(e->name, name)) return copy_embedded(e, out, len);
    dir = clmp__kernel_install_dir;
  }
  char path[4096];
  if (!dir || snprintf(path, sizeof path, "%s/%s.cl", dir, name) >= (int)sizeof path)
    return CLMP_FAIL(CLMP_ERR_KERNEL_NOT_FOUND, "kernel source %s.cl: no folder to read it from",
                     name);
  return read_text(path, out, len);
}
