/* host/io/source.h: a source of labelled examples resident on a device, the trainer's only view
 * of its data (internal): IDX images today (dataset.c), text windows and a distributed sampler
 * are further implementations. */
#ifndef CLMP_HOST_SOURCE_H
#define CLMP_HOST_SOURCE_H

#include "clmp/clmp.h"

typedef struct clmp__source clmp__source;

typedef struct clmp__source_ops {
  /* x [rows, numel of one example] (the model's dtype) and labels (i32 [rows]) of the examples
   * idx (i32 [rows]), with the source's input transform applied. Queued, no wait. */
  clmp_status (*gather)(const clmp__source *s, const clmp_tensor *idx, clmp_tensor *x,
                        clmp_tensor *labels);
  void (*free)(clmp__source *s);
} clmp__source_ops;

struct clmp__source {
  const clmp__source_ops *ops;
  size_t n; /* examples */
  int ndim; /* the shape of one example: [C, H, W] */
  size_t shape[3];
  size_t classes;     /* labels lie in [0, classes) */
  double mean, std;   /* of the inputs, for the transform the training source sets */
  float scale, shift; /* x = raw * scale + shift (1, 0 until set) */
};

static inline void clmp__source_free(clmp__source *s) {
  if (s) s->ops->free(s);
}

#endif
