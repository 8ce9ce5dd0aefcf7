/* host/nn/model_impl.h: the model container's state: the layer tree, the registry of named
 * tensors, the planned activation blocks and the arenas (internal). */
#ifndef CLMP_HOST_NN_MODEL_IMPL_H
#define CLMP_HOST_NN_MODEL_IMPL_H

#include "layer.h"

/* One named tensor of the state_dict. */
typedef struct clmp__entry {
  char name[CLMP__NAME_MAX];
  clmp_entry_kind kind;
  int ndim;
  size_t shape[CLMP_MAX_DIMS];
  size_t numel, offset; /* elements; into the parameter or the buffer arenas */
  clmp__init init;
  float value;
  size_t fan_in;
  uint64_t count;                                /* counters */
  clmp_tensor *working, *grad, *master, *buffer; /* views, made once the arenas exist */
} clmp__entry;

/* One planned activation block and its cached view. */
typedef struct clmp__block {
  clmp_dtype dtype;
  size_t per_example, offset; /* elements per example; bytes into the activation arena */
  int fixed;                  /* a state block: per_example elements in all, one view */
  clmp_tensor *view;
  size_t view_batch;
  clmp__shape view_shape;
} clmp__block;

struct clmp__plan {
  clmp_model *m;
  const clmp_ctx *ctx;
  int next_id;
  int overflow; /* a size passed what any device could hold */
};

struct clmp_model {
  clmp_ctx *ctx; /* NULL for a model that is only planned (clmp_model_check) */
  clmp_dtype dtype;
  size_t max_batch, classes;
  uint64_t seed;
  char *spec; /* canonical JSON */
  clmp__layer *root;
  clmp__shape in;
  clmp__entry *entries;
  size_t n_entries, cap_entries;
  clmp__block *blocks;
  size_t n_blocks, cap_blocks;
  size_t params, buffers, act_bytes, ws_bytes, layers;
  size_t input_block;
  clmp_tensor *master, *working, *grads, *buf_arena, *acts, *ws, *input;
  const clmp_tensor *out_view;
  clmp__run last; /* the last forward's batch and mode; batch 0 before any */
};

/* Parses cfg's spec (preset or JSON) into m->root and m->in (host/nn/spec.c). */
clmp_status clmp__spec_parse(clmp_model *m, const clmp_model_config *cfg);
/* The canonical spec of m as malloc'ed JSON text. */
clmp_status clmp__spec_canonical(const clmp_model *m, char **out);

#endif
