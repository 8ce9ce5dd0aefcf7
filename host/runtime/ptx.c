/* host/runtime/ptx.c: the sm_90a PTX pass (see ptx.h). NVIDIA's program binary is the PTX text
 * of the program; rebuilt with clCreateProgramWithBinary, it is compiled for the target it
 * names, and the driver accepts sm_90a there. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ptx.h"

#define PTX_TARGET  ".target sm_90"
#define PTX_COMMENT "// clmp:"

/* The program's binary (PTX text), NUL-terminated. */
static clmp_status ptx_get(clmp_ctx *ctx, const char *name, cl_program p, char **out) {
  size_t size = 0;
  cl_int err = clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL);
  if (err != CL_SUCCESS || size == 0)
    return CLMP_FAIL(err != CL_SUCCESS ? err : CLMP_ERR_UNSUPPORTED,
                     "PTX of %s.cl on \"%s\": no program binary", name, ctx->info.name);
  char *ptx = malloc(size + 1);
  if (!ptx) return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "PTX of %s.cl (%zu bytes)", name, size);
  err = clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof ptx, &ptx, NULL);
  if (err != CL_SUCCESS) {
    free(ptx);
    return CLMP_FAIL(err, "PTX of %s.cl on \"%s\"", name, ctx->info.name);
  }
  ptx[size] = '\0';
  *out = ptx;
  return CLMP_SUCCESS;
}

/* The first ".target sm_90" of ptx that names sm_90 itself (not sm_90a, sm_900, ...), or NULL. */
static const char *ptx_target(const char *ptx) {
  size_t tn = strlen(PTX_TARGET);
  for (const char *t = strstr(ptx, PTX_TARGET); t; t = strstr(t + 1, PTX_TARGET))
    if (t[tn] != 'a' && t[tn] != '_' && (t[tn] < '0' || t[tn] > '9')) return t;
  return NULL;
}

char *clmp__ptx_rewrite(const char *ptx, int *retargeted) {
  const char *target = ptx_target(ptx);
  size_t tn = strlen(PTX_TARGET), cn = strlen(PTX_COMMENT);
  *retargeted = target != NULL;
  char *out = target ? malloc(strlen(ptx) + 2) : NULL, *w = out;
  if (!out) return NULL;
  for (const char *r = ptx; *r;) {
    if (r == target)
      memcpy(w, PTX_TARGET "a", tn + 1), w += tn + 1, r += tn;
    else if (!strncmp(r, PTX_COMMENT, cn))
      r += cn;
    else
      *w++ = *r++;
  }
  *w = '\0';
  return out;
}

static clmp_status ptx_build(clmp_ctx *ctx, const char *name, const char *opts, const char *ptx,
                             cl_program *out) {
  size_t len = strlen(ptx) + 1;
  const unsigned char *bins[1] = {(const unsigned char *)ptx};
  cl_int err = CL_SUCCESS, status = CL_SUCCESS;
  cl_program p =
      clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &len, bins, &status, &err);
  if (err == CL_SUCCESS && status == CL_SUCCESS)
    err = clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL);
  if (err == CL_SUCCESS && status == CL_SUCCESS) return *out = p, CLMP_SUCCESS;
  clmp_status st = CLMP_FAIL(err != CL_SUCCESS ? err : status,
                             "building %s.cl as sm_90a PTX for \"%s\"", name, ctx->info.name);
  if (p) {
    clmp__error_append("\nbuild log:\n");
    clmp__build_log_append(ctx, p);
    clReleaseProgram(p);
  }
  return st;
}

clmp_status clmp__ptx_sm90a(clmp_ctx *ctx, const char *name, const char *opts, cl_program *p) {
  char *ptx = NULL, *rewritten = NULL;
  int retargeted = 0;
  cl_program built = NULL;
  clmp_status st = ptx_get(ctx, name, *p, &ptx);
  if (st != CLMP_SUCCESS) return st;
  rewritten = clmp__ptx_rewrite(ptx, &retargeted);
  if (!rewritten)
    st = retargeted ? CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "PTX of %s.cl", name)
                    : CLMP_FAIL(CLMP_ERR_UNSUPPORTED, "%s.cl on \"%s\": its PTX targets no sm_90",
                                name, ctx->info.name);
  if (st == CLMP_SUCCESS) st = ptx_build(ctx, name, opts, rewritten, &built);
  if (st == CLMP_SUCCESS) clReleaseProgram(*p), *p = built;
  free(rewritten);
  free(ptx);
  return st;
}
