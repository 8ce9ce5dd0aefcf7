/* tools/clmp/bench_copy.c: the copy section: the device's copy bandwidth, bytes read plus bytes
 * written per second, through clEnqueueCopyBuffer and through float4 kernels (cl/bench.cl); the
 * best of them is the reference of the optim section. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/runtime/error.h"
#include "../../host/runtime/launch.h"
#include "../../host/tensor/tensor_impl.h"
#include "bench.h"

#define MIB              ((size_t)1 << 20)
#define COPY_BYTES_GPU   (400 * MIB) /* per buffer, on GPUs and accelerators */
#define COPY_BYTES_CPU   (256 * MIB) /* on CPUs: well beyond their caches */
#define COPY_BYTES_QUICK (16 * MIB)
#define COPY_MEM_SHARE   4 /* each buffer takes at most this share of the device's memory */
#define F4_BYTES         16

typedef struct copy_job {
  clmp_ctx *ctx;
  clmp_tensor *src, *dst;
  cl_kernel flat, stride; /* cl/bench.cl's copy_f4 and copy_f4_stride */
  cl_ulong n4;            /* float4s */
} copy_job;

static clmp_status copy_buffer(void *user) {
  copy_job *j = user;
  return clmp_tensor_copy(j->dst, j->src);
}

/* One float4 per work-item, in work-groups of the driver's choice. */
static clmp_status copy_flat(void *user) {
  copy_job *j = user;
  clmp__arg args[] = {CLMP_ARG(j->src->storage->mem), CLMP_ARG(j->dst->storage->mem),
                      CLMP_ARG(j->n4)};
  clmp_status st = clmp__set_args(j->flat, "copy_f4", args, 3);
  if (st != CLMP_SUCCESS) return st;
  size_t global = (size_t)j->n4;
  cl_int err =
      clEnqueueNDRangeKernel(j->ctx->queue, j->flat, 1, NULL, &global, NULL, 0, NULL, NULL);
  return err ? CLMP_FAIL(err, "clEnqueueNDRangeKernel(copy_f4, %zu items)", global) : CLMP_SUCCESS;
}

/* A grid stride over as many work-items as clmp's element-wise kernels get. */
static clmp_status copy_stride(void *user) {
  copy_job *j = user;
  clmp__arg args[] = {CLMP_ARG(j->src->storage->mem), CLMP_ARG(j->dst->storage->mem),
                      CLMP_ARG(j->n4)};
  return clmp__launch_1d(j->ctx, j->stride, "copy_f4_stride", args, 3, (size_t)j->n4);
}

/* Bytes per buffer: by device kind, within the device's allocation limits, whole float4s. */
static size_t copy_bytes(const bench_run *r) {
  const clmp_device_info *d = r->dev;
  int cpu = d->kind == CLMP_DEVICE_CPU || d->kind == CLMP_DEVICE_REF;
  size_t b = r->opts.quick ? COPY_BYTES_QUICK : cpu ? COPY_BYTES_CPU : COPY_BYTES_GPU;
  if (d->max_alloc && b > d->max_alloc) b = (size_t)d->max_alloc;
  if (d->global_mem && b > d->global_mem / COPY_MEM_SHARE)
    b = (size_t)(d->global_mem / COPY_MEM_SHARE);
  return b / F4_BYTES * F4_BYTES;
}

/* Times one method and adds its row; *gbs receives its bandwidth. */
static clmp_status copy_row(bench_run *r, cJSON *rows, const char *method, bench_fn fn, copy_job *j,
                            size_t bytes, double *gbs) {
  double s = 0;
  clmp_status st = bench_time(r, fn, j, &s);
  if (st != CLMP_SUCCESS) return st;
  *gbs = 2.0 * (double)bytes / s / 1e9;
  bench_print(r, "%-30s %10.1f %10.3f %10.1f\n", method, (double)bytes / 1e6, s * 1e3, *gbs);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "method", method);
  cJSON_AddNumberToObject(o, "bytes", (double)bytes);
  cJSON_AddNumberToObject(o, "ms", s * 1e3);
  cJSON_AddNumberToObject(o, "gb_per_s", *gbs);
  cJSON_AddItemToArray(rows, o);
  return CLMP_SUCCESS;
}

/* src holds written bytes (never-touched pages would read as shared zeros on a CPU). */
static clmp_status make_buffers(bench_run *r, size_t bytes, copy_job *j) {
  unsigned char *fill = malloc(bytes);
  clmp_status st = fill ? CLMP_SUCCESS : CLMP_ERR_OUT_OF_HOST_MEMORY;
  if (fill) memset(fill, 0x5a, bytes);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(r->ctx, CLMP_U8, 1, &bytes, &j->src);
  if (st == CLMP_SUCCESS) st = clmp_tensor_create(r->ctx, CLMP_U8, 1, &bytes, &j->dst);
  if (st == CLMP_SUCCESS) st = clmp_tensor_write(j->src, CLMP_U8, fill, bytes);
  free(fill);
  return st;
}

static clmp_status copy_rows(bench_run *r, cJSON *rows, copy_job *j, size_t bytes, double *best) {
  int ref = r->dev->kind == CLMP_DEVICE_REF;
  double gbs[3] = {0, 0, 0};
  clmp_status st = copy_row(r, rows, ref ? "memmove (reference device)" : "clEnqueueCopyBuffer",
                            copy_buffer, j, bytes, &gbs[0]);
  if (st == CLMP_SUCCESS && !ref) st = clmp__kernel_get(r->ctx, "bench", "", "copy_f4", &j->flat);
  if (st == CLMP_SUCCESS && !ref)
    st = clmp__kernel_get(r->ctx, "bench", "", "copy_f4_stride", &j->stride);
  if (st == CLMP_SUCCESS && !ref)
    st = copy_row(r, rows, "float4 kernel, one per item", copy_flat, j, bytes, &gbs[1]);
  if (st == CLMP_SUCCESS && !ref)
    st = copy_row(r, rows, "float4 kernel, grid stride", copy_stride, j, bytes, &gbs[2]);
  *best = fmax(gbs[0], fmax(gbs[1], gbs[2]));
  return st;
}

clmp_status bench_copy(bench_run *r, cJSON *out) {
  size_t bytes = copy_bytes(r);
  copy_job j = {r->ctx, NULL, NULL, NULL, NULL, bytes / F4_BYTES};
  bench_print(r, "%-30s %10s %10s %10s\n", "method", "MB/buffer", "ms", "GB/s");
  cJSON *rows = cJSON_AddArrayToObject(out, "rows");
  double best = 0;
  clmp_status st = make_buffers(r, bytes, &j);
  if (st == CLMP_SUCCESS) st = copy_rows(r, rows, &j, bytes, &best);
  clmp_tensor_free(j.src);
  clmp_tensor_free(j.dst);
  if (st != CLMP_SUCCESS) return st;
  r->copy_gbs = best;
  cJSON_AddStringToObject(out, "unit", "GB/s, bytes read + bytes written");
  cJSON_AddNumberToObject(out, "gb_per_s", best);
  bench_print(r, "copy bandwidth (the best one, optim's reference): %.1f GB/s\n", best);
  return CLMP_SUCCESS;
}
