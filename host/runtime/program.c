/* host/runtime/program.c: building kernel programs at run time, with the capability defines,
 * through the context's table and the on-disk binary cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/version.h"
#include "error.h"
#include "ptx.h"
#include "runtime.h"
#include "util.h"

#define CACHE_KEY_VERSION "clmp program cache v1"
/* The prelude every program starts with: storage types, load/store macros. */
#define PRELUDE_NAME "common"

typedef struct clmp__kernel {
  struct clmp__kernel *next;
  char *name;
  cl_kernel kernel;
} clmp__kernel;

struct clmp__program {
  clmp__program *next;
  char *name;
  char *options; /* the caller's options, not the full build options */
  cl_program program;
  clmp__kernel *kernels;
};

/* "-cl-std=CL1.2" plus the device's capability defines plus the caller's options. */
static char *build_options(const clmp_ctx *ctx, const char *options) {
  int cc = ctx->info.nv_cc_major * 10 + ctx->info.nv_cc_minor;
  return clmp__aprintf("-cl-std=CL1.2 -DCLMP_FP16=%d -DCLMP_NV_CC=%d -DCLMP_CPU=%d %s",
                       ctx->info.fp16, cc, ctx->info.kind == CLMP_DEVICE_CPU, options);
}

/* The prelude, a #line reset and the program's own file, as one string. */
static clmp_status full_source(const char *name, char **out, size_t *len) {
  clmp_status st = CLMP_SUCCESS;
  char *prelude = NULL, *body = NULL;
  size_t plen = 0, blen = 0;
  CLMP_TRY(clmp__source_load(PRELUDE_NAME, &prelude, &plen));
  CLMP_TRY(clmp__source_load(name, &body, &blen));
  const char *sep = "\n#line 1\n";
  *len = plen + strlen(sep) + blen;
  *out = malloc(*len + 1);
  if (!*out) CLMP_RAISE(CLMP_ERR_OUT_OF_HOST_MEMORY, "source of %s", name);
  snprintf(*out, *len + 1, "%s%s%s", prelude, sep, body);
cleanup:
  free(prelude);
  free(body);
  return st;
}

/* Everything a cached binary depends on, the source included. */
static char *cache_key(const clmp_ctx *ctx, const char *opts, const char *src, size_t *len) {
  const clmp_device_info *d = &ctx->info;
  char *key =
      clmp__aprintf(CACHE_KEY_VERSION "\nplatform: %s\ndevice: %s\ndevice version: %s\n"
                                      "driver: %s\nclmp: %s\noptions: %s\nsource:\n%s",
                    d->platform, d->name, d->version, d->driver, CLMP_VERSION_STRING, opts, src);
  *len = key ? strlen(key) : 0;
  return key;
}

void clmp__build_log_append(const clmp_ctx *ctx, cl_program p) {
  size_t size = 0;
  if (clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &size) == CL_SUCCESS) {
    char *log = malloc(size + 1);
    if (log && clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, size, log, NULL) ==
                   CL_SUCCESS) {
      log[size] = '\0';
      clmp__error_append("%s", log);
    }
    free(log);
  }
}

/* Records a failed build with its options and log. */
static clmp_status build_failure(clmp_ctx *ctx, cl_program p, cl_int err, const char *name,
                                 const char *opts) {
  clmp_status st = CLMP_FAIL(err, "building kernel program %s.cl for \"%s\"", name, ctx->info.name);
  clmp__error_append("\nbuild options: %s\nbuild log:\n", opts);
  clmp__build_log_append(ctx, p);
  return st;
}

/* Loads a cached binary; 1 when the program is built from it. */
static int build_from_cache(clmp_ctx *ctx, const char *dir, const char *key, size_t key_len,
                            const char *opts, cl_program *out) {
  unsigned char *bin = NULL;
  size_t bin_len = 0;
  int found = clmp__cache_load(dir, key, key_len, &bin, &bin_len);
  if (found == 0) ctx->cache.disk_misses++;
  if (found <= 0) {
    if (found < 0) ctx->cache.disk_rejects++;
    CLMP_RECOVERED(); /* an entry that cannot be read is a miss: built from source */
    return 0;
  }
  cl_int err = CL_SUCCESS, bin_status = CL_SUCCESS;
  const unsigned char *bins[1] = {bin};
  cl_program p =
      clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &bin_len, bins, &bin_status, &err);
  free(bin);
  if (err == CL_SUCCESS && bin_status == CL_SUCCESS)
    err = clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL);
  if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
    if (p) clReleaseProgram(p);
    ctx->cache.disk_rejects++;
    CLMP_RECOVERED(); /* rebuilt from source */
    return 0;
  }
  ctx->cache.disk_hits++;
  *out = p;
  return 1;
}

/* Writes the binary of a freshly built program to the cache; failures only count. */
static void store_binary(clmp_ctx *ctx, const char *dir, const char *key, size_t key_len,
                         cl_program p) {
  size_t size = 0;
  unsigned char *bin = NULL;
  int ok = clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) == CL_SUCCESS &&
           size > 0 && (bin = malloc(size)) != NULL &&
           clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS &&
           clmp__cache_store(dir, key, key_len, bin, size) == 0;
  free(bin);
  if (ok) {
    ctx->cache.disk_writes++;
  } else {
    ctx->cache.write_failures++;
    CLMP_RECOVERED();
  }
}

static clmp_status build_from_source(clmp_ctx *ctx, const char *name, const char *src,
                                     const char *opts, cl_program *out) {
  cl_int err = CL_SUCCESS;
  cl_program p = clCreateProgramWithSource(ctx->context, 1, &src, NULL, &err);
  if (err != CL_SUCCESS) return CLMP_FAIL(err, "clCreateProgramWithSource(%s.cl)", name);
  err = clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL);
  if (err != CL_SUCCESS) {
    clmp_status st = build_failure(ctx, p, err, name, opts);
    clReleaseProgram(p);
    return st;
  }
  if (strstr(opts, CLMP_PTX_SM90A_OPTION)) {
    clmp_status st = clmp__ptx_sm90a(ctx, name, opts, &p);
    if (st != CLMP_SUCCESS) return clReleaseProgram(p), st;
  }
  *out = p;
  return CLMP_SUCCESS;
}

/* Mesa Rusticl (22.x) aborts the whole process on a program binary it cannot parse (a panic in
 * program.rs, "unknown version") instead of returning CL_INVALID_BINARY, so binaries are never
 * handed to it; its compiler takes milliseconds, so nothing is lost. */
int clmp__binary_cache_usable(const clmp_device_info *info) {
  return strcmp(info->platform, "rusticl") != 0;
}

static clmp_status build(clmp_ctx *ctx, const char *name, const char *options, cl_program *out) {
  clmp_status st = CLMP_SUCCESS;
  char *src = NULL, *opts = NULL, *key = NULL, dirbuf[4096];
  size_t src_len = 0, key_len = 0;
  CLMP_TRY(full_source(name, &src, &src_len));
  opts = build_options(ctx, options);
  key = opts ? cache_key(ctx, opts, src, &key_len) : NULL;
  if (!key) CLMP_RAISE(CLMP_ERR_OUT_OF_HOST_MEMORY, "build options of %s", name);
  const char *dir =
      clmp__binary_cache_usable(&ctx->info) ? clmp__cache_dir(dirbuf, sizeof dirbuf) : NULL;
  if (!dir) ctx->cache.disk_misses++;
  if (dir && build_from_cache(ctx, dir, key, key_len, opts, out)) goto cleanup;
  CLMP_TRY(build_from_source(ctx, name, src, opts, out));
  if (dir) store_binary(ctx, dir, key, key_len, *out);
cleanup:
  free(key);
  free(opts);
  free(src);
  return st;
}

static clmp__program *find_program(clmp_ctx *ctx, const char *name, const char *options) {
  for (clmp__program *p = ctx->programs; p; p = p->next)
    if (!strcmp(p->name, name) && !strcmp(p->options, options)) return p;
  return NULL;
}

static clmp_status program_entry(clmp_ctx *ctx, const char *name, const char *options,
                                 clmp__program **out) {
  if (!ctx || !name || ctx->is_ref)
    return CLMP_FAIL(CLMP_ERR_INVALID_ARGUMENT, "kernel program %s: no OpenCL context",
                     name ? name : "(null)");
  if (!options) options = "";
  if ((*out = find_program(ctx, name, options))) {
    ctx->cache.memory_hits++;
    return CLMP_SUCCESS;
  }
  clmp__program *e = calloc(1, sizeof *e);
  clmp_status st = CLMP_SUCCESS;
  if (!e || !(e->name = clmp__strdup(name)) || !(e->options = clmp__strdup(options)))
    CLMP_RAISE(CLMP_ERR_OUT_OF_HOST_MEMORY, "program table entry for %s", name);
  CLMP_TRY(build(ctx, name, options, &e->program));
  e->next = ctx->programs;
  ctx->programs = e;
  *out = e;
  e = NULL;
cleanup:
  if (e) free(e->name), free(e->options), free(e);
  return st;
}

clmp_status clmp__program_get(clmp_ctx *ctx, const char *name, const char *options,
                              cl_program *out) {
  clmp__program *e = NULL;
  clmp_status st = program_entry(ctx, name, options, &e);
  if (st == CLMP_SUCCESS) *out = e->program;
  return st;
}

clmp_status clmp__kernel_get(clmp_ctx *ctx, const char *program, const char *options,
                             const char *kernel, cl_kernel *out) {
  clmp__program *e = NULL;
  clmp_status st = program_entry(ctx, program, options, &e);
  if (st != CLMP_SUCCESS) return st;
  for (clmp__kernel *k = e->kernels; k; k = k->next)
    if (!strcmp(k->name, kernel)) return *out = k->kernel, CLMP_SUCCESS;
  clmp__kernel *k = calloc(1, sizeof *k);
  if (!k || !(k->name = clmp__strdup(kernel))) {
    free(k);
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "kernel table entry for %s", kernel);
  }
  cl_int err = CL_SUCCESS;
  k->kernel = clCreateKernel(e->program, kernel, &err);
  if (err != CL_SUCCESS) {
    free(k->name), free(k);
    return CLMP_FAIL(err, "clCreateKernel(%s) in %s.cl", kernel, program);
  }
  k->next = e->kernels;
  e->kernels = k;
  *out = k->kernel;
  return CLMP_SUCCESS;
}

void clmp__programs_free(clmp_ctx *ctx) {
  while (ctx->programs) {
    clmp__program *p = ctx->programs;
    ctx->programs = p->next;
    while (p->kernels) {
      clmp__kernel *k = p->kernels;
      p->kernels = k->next;
      clReleaseKernel(k->kernel);
      free(k->name);
      free(k);
    }
    clReleaseProgram(p->program);
    free(p->name);
    free(p->options);
    free(p);
  }
}
