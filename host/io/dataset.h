/* host/io/dataset.h: an IDX image dataset resident on a device (internal). */
#ifndef CLMP_HOST_DATASET_H
#define CLMP_HOST_DATASET_H

#include "clmp/clmp.h"
#include "clmp/io.h"
#include "source.h"

typedef struct clmp__dataset {
  clmp_tensor *images; /* u8 [n, d] */
  clmp_tensor *labels; /* u8 [n, 1] */
  size_t n, d;
  size_t h, w;      /* d = h * w pixels an image */
  double mean, std; /* of the pixels, in [0, 1] units */
} clmp__dataset;

/* Loads dir/<prefix>-images-idx3-ubyte[.gz] and the labels (each below classes), the first
 * limit examples only when limit is not 0. */
clmp_status clmp__dataset_load(clmp_ctx *ctx, const char *dir, const char *prefix, size_t limit,
                               size_t classes, clmp__dataset *out);
void clmp__dataset_free(clmp__dataset *d);

/* The dataset as a source of [1, h, w] images (taking its tensors: d is left empty); *out is
 * NULL on failure, and d freed. */
clmp_status clmp__image_source(clmp__dataset *d, clmp__source **out);
/* clmp__dataset_load, as a source. */
clmp_status clmp__image_source_load(clmp_ctx *ctx, const char *dir, const char *prefix,
                                    size_t limit, size_t classes, clmp__source **out);

#endif
