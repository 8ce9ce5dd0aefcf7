/* host/io/dataset.c: an IDX image dataset (images [N, H, W] and labels [N], plain or gzip) loaded
 * onto a device as u8 tensors, checked against each other, with the pixel statistics that the
 * input transform standardises with. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../runtime/error.h"
#include "../runtime/util.h"
#include "dataset.h"

#define PATH_SIZE      4096
#define ERRNO_TEXT_MAX 128
#define PIXEL_MAX      255.0

/* dir/<prefix>-<kind>-idx<n>-ubyte, or the same with .gz. When neither is there, the system's
 * reason when it is not simply absent (a folder that cannot be read, a file in place of it). */
static clmp_status find_file(const char *dir, const char *prefix, const char *kind, int n,
                             char *path) {
  struct stat sb;
  char text[ERRNO_TEXT_MAX];
  snprintf(path, PATH_SIZE, "%s/%s-%s-idx%d-ubyte.gz", dir, prefix, kind, n);
  if (stat(path, &sb) == 0) return CLMP_SUCCESS;
  int e = errno;
  snprintf(path, PATH_SIZE, "%s/%s-%s-idx%d-ubyte", dir, prefix, kind, n);
  if (stat(path, &sb) == 0) return CLMP_SUCCESS;
  if (errno != ENOENT) e = errno;
  if (e == ENOENT)
    return CLMP_FAIL(CLMP_ERR_IO, "dataset: no %s-%s-idx%d-ubyte[.gz] in %s", prefix, kind, n, dir);
  return CLMP_FAIL(CLMP_ERR_IO, "dataset: cannot look for %s-%s-idx%d-ubyte[.gz] in %s: %s", prefix,
                   kind, n, dir, clmp__errno_text(e, text, sizeof text));
}

static clmp_status check_pair(const clmp_idx *img, const clmp_idx *lab, const char *path,
                              size_t classes) {
  if (img->ndim != 3 || lab->ndim != 1)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "dataset %s: images need 3 dimensions, labels 1 (got %d, %d)",
                     path, img->ndim, lab->ndim);
  if (img->dims[0] != lab->dims[0] || img->dims[0] == 0)
    return CLMP_FAIL(CLMP_ERR_FORMAT, "dataset %s: %u images but %u labels", path, img->dims[0],
                     lab->dims[0]);
  for (size_t i = 0; i < lab->count; i++)
    if (lab->data[i] >= classes)
      return CLMP_FAIL(CLMP_ERR_FORMAT, "dataset %s: label %u of example %zu is not below %zu",
                       path, lab->data[i], i, classes);
  return CLMP_SUCCESS;
}

/* Mean and standard deviation of the pixels in [0, 1] units. */
static void pixel_stats(const uint8_t *p, size_t n, double *mean, double *std) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) s += p[i], s2 += (double)p[i] * p[i];
  double m = s / (double)n, var = s2 / (double)n - m * m;
  *mean = m / PIXEL_MAX;
  *std = sqrt(var > 0 ? var : 1) / PIXEL_MAX;
}

static clmp_status upload(clmp_ctx *ctx, const uint8_t *data, size_t rows, size_t cols,
                          clmp_tensor **out) {
  size_t shape[2] = {rows, cols};
  clmp_status st = clmp_tensor_create(ctx, CLMP_U8, 2, shape, out);
  return st == CLMP_SUCCESS ? clmp_tensor_write(*out, CLMP_U8, data, rows * cols) : st;
}

clmp_status clmp__dataset_load(clmp_ctx *ctx, const char *dir, const char *prefix, size_t limit,
                               size_t classes, clmp__dataset *out) {
  memset(out, 0, sizeof *out);
  clmp_idx img = {0}, lab = {0};
  char ipath[PATH_SIZE], lpath[PATH_SIZE];
  clmp_status st = find_file(dir, prefix, "images", 3, ipath);
  if (st == CLMP_SUCCESS) st = find_file(dir, prefix, "labels", 1, lpath);
  if (st == CLMP_SUCCESS) st = clmp_idx_read(ipath, &img);
  if (st == CLMP_SUCCESS) st = clmp_idx_read(lpath, &lab);
  if (st == CLMP_SUCCESS) st = check_pair(&img, &lab, ipath, classes);
  if (st == CLMP_SUCCESS) {
    out->n = limit && limit < img.dims[0] ? limit : img.dims[0];
    out->h = img.dims[1], out->w = img.dims[2];
    out->d = out->h * out->w;
    pixel_stats(img.data, out->n * out->d, &out->mean, &out->std);
    st = upload(ctx, img.data, out->n, out->d, &out->images);
  }
  if (st == CLMP_SUCCESS) st = upload(ctx, lab.data, out->n, 1, &out->labels);
  clmp_idx_free(&img);
  clmp_idx_free(&lab);
  if (st != CLMP_SUCCESS) clmp__dataset_free(out);
  return st;
}

void clmp__dataset_free(clmp__dataset *d) {
  if (!d) return;
  clmp_tensor_free(d->images);
  clmp_tensor_free(d->labels);
  d->images = d->labels = NULL;
}

/* --- as a source of examples ----------------------------------------------------------------- */

typedef struct image_source {
  clmp__source base;
  clmp__dataset d;
} image_source;

static clmp_status image_gather(const clmp__source *s, const clmp_tensor *idx, clmp_tensor *x,
                                clmp_tensor *labels) {
  const image_source *is = (const image_source *)s;
  clmp_status st = clmp_gather_rows(is->d.images, idx, s->scale, s->shift, x);
  return st == CLMP_SUCCESS ? clmp_gather_rows(is->d.labels, idx, 1.0f, 0.0f, labels) : st;
}

static void image_free(clmp__source *s) {
  clmp__dataset_free(&((image_source *)s)->d);
  free(s);
}

static const clmp__source_ops IMAGE_OPS = {image_gather, image_free};

clmp_status clmp__image_source(clmp__dataset *d, clmp__source **out) {
  image_source *s = calloc(1, sizeof *s);
  *out = NULL;
  if (!s) {
    clmp__dataset_free(d);
    return CLMP_FAIL(CLMP_ERR_OUT_OF_HOST_MEMORY, "dataset: %zu images", d->n);
  }
  s->base = (clmp__source){&IMAGE_OPS, d->n, 3, {1, d->h, d->w}, 0, d->mean, d->std, 1.0f, 0.0f};
  s->d = *d;
  memset(d, 0, sizeof *d);
  *out = &s->base;
  return CLMP_SUCCESS;
}

clmp_status clmp__image_source_load(clmp_ctx *ctx, const char *dir, const char *prefix,
                                    size_t limit, size_t classes, clmp__source **out) {
  clmp__dataset d;
  *out = NULL;
  clmp_status st = clmp__dataset_load(ctx, dir, prefix, limit, classes, &d);
  if (st == CLMP_SUCCESS) st = clmp__image_source(&d, out);
  if (st == CLMP_SUCCESS) (*out)->classes = classes;
  return st;
}
