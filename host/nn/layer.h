/* host/nn/layer.h: the layer interface (internal). A layer kind is one file in host/nn/layers/:
 * parse (its options from the spec), describe (them back, canonical), plan (output shape from the
 * input shape; registers its parameters, buffers, activations and workspace), forward, backward,
 * free. Layers call ops only, so they run on every device and on the reference. */
#ifndef CLMP_HOST_NN_LAYER_H
#define CLMP_HOST_NN_LAYER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "clmp/nn.h"

/* The shape of one example (the batch dimension is not part of it): [C, H, W], [F], ... */
#define CLMP__SHAPE_DIMS 3
typedef struct clmp__shape {
  int ndim;
  size_t d[CLMP__SHAPE_DIMS];
} clmp__shape;

size_t clmp__shape_numel(const clmp__shape *s);
/* "[1, 28, 28]" into buf. */
const char *clmp__shape_text(const clmp__shape *s, char *buf, size_t size);

typedef struct clmp__layer clmp__layer;
typedef struct clmp__plan clmp__plan;

/* How parameters start (torch.nn's defaults): uniform in +-1/sqrt(fan_in), or a constant. */
typedef enum clmp__init { CLMP__INIT_UNIFORM = 0, CLMP__INIT_CONST = 1 } clmp__init;

/* What one forward or backward call of the model runs with. */
typedef struct clmp__run {
  clmp_model *model;
  size_t batch;
  int train;       /* batch statistics and dropout on */
  uint64_t rng;    /* the counter of this forward, for dropout masks */
  float beta;      /* parameter gradients: 0 overwrite, 1 accumulate */
  clmp_tensor *ws; /* the model's workspace (bytes), shared by every layer */
} clmp__run;

typedef struct clmp__layer_kind {
  const char *type; /* the spec's name: "conv2d" */
  size_t size;      /* bytes of the kind's struct, which starts with a clmp__layer */
  /* Reads the options of spec (an object) into l; where names the layer in messages. */
  clmp_status (*parse)(clmp__layer *l, const cJSON *spec, const char *where);
  /* Adds every option, defaults included, to out (the canonical spec). */
  clmp_status (*describe)(const clmp__layer *l, cJSON *out);
  /* Given l->in (and l->need_dx), sets l->out and registers what the layer needs. */
  clmp_status (*plan)(clmp__layer *l, clmp__plan *p);
  /* y = layer(x): x [batch, in...] stays valid until the backward; *y is owned by the layer. */
  clmp_status (*forward)(clmp__layer *l, const clmp__run *r, const clmp_tensor *x,
                         const clmp_tensor **y);
  /* From dy [batch, out...]: parameter gradients (beta), and *dx when need_dx (else NULL). */
  clmp_status (*backward)(clmp__layer *l, const clmp__run *r, const clmp_tensor *dy,
                          const clmp_tensor **dx);
  void (*free)(clmp__layer *l); /* what the kind's struct owns (NULL: nothing) */
} clmp__layer_kind;

#define CLMP__NAME_MAX 128

struct clmp__layer {
  const clmp__layer_kind *kind;
  char name[CLMP__NAME_MAX];       /* the state_dict prefix of its tensors: "4.body.conv1." */
  char where[CLMP__NAME_MAX + 40]; /* how messages name it: "layer 4.body.conv1 (conv2d)" */
  clmp__shape in, out;
  int named;   /* the spec gave it a "name" */
  int need_dx; /* the backward must give the gradient of the input */
  int id;      /* its index in the model, in plan order (dropout's streams) */
};

/* --- the builder: spec JSON to layers ------------------------------------------------------- */

/* A new layer from one spec object, the index-th child of a container whose tensors sit under
 * parent ("" or "4.body."): its own prefix is parent + its "name" (or index) + ".". */
clmp_status clmp__layer_parse(const cJSON *spec, const char *parent, size_t index,
                              clmp__layer **out);
void clmp__layer_free(clmp__layer *l);
/* A sequential of the layers of a JSON array (empty: the identity), its children's tensors under
 * prefix; where names it in messages. */
clmp_status clmp__sequential_new(const cJSON *array, const char *prefix, const char *where,
                                 clmp__layer **out);
/* Adds the canonical specs of a sequential's children to out as the array field. */
clmp_status clmp__sequential_describe_into(const clmp__layer *seq, cJSON *out, const char *field);
/* A layer's canonical spec object (type, name when given, options). */
clmp_status clmp__layer_describe(const clmp__layer *l, cJSON **out);

/* Options: each getter fails naming where and the field when the value is there but wrong; an
 * absent field keeps *out. Sizes are integers in [lo, hi]. */
clmp_status clmp__opt_size(const cJSON *o, const char *field, size_t lo, size_t hi,
                           const char *where, size_t *out);
/* A size or a pair [h, w] of sizes. */
clmp_status clmp__opt_pair(const cJSON *o, const char *field, size_t lo, size_t hi,
                           const char *where, size_t out[2]);
/* A number in [lo, hi], kept in double so that the canonical spec prints it as written. */
clmp_status clmp__opt_number(const cJSON *o, const char *field, double lo, double hi,
                             const char *where, double *out);
clmp_status clmp__opt_bool(const cJSON *o, const char *field, const char *where, int *out);
/* Fails on any field of o not in the NULL-terminated list (type and name are always allowed). */
clmp_status clmp__opt_only(const cJSON *o, const char *const *fields, const char *where);
/* Adds [a, b] under field. */
clmp_status clmp__describe_pair(cJSON *out, const char *field, const size_t v[2]);

/* The kinds, one per file in host/nn/layers/. */
extern const clmp__layer_kind clmp__layer_linear, clmp__layer_relu, clmp__layer_gelu,
    clmp__layer_flatten, clmp__layer_conv2d, clmp__layer_batchnorm, clmp__layer_maxpool2d,
    clmp__layer_avgpool2d, clmp__layer_globalavgpool, clmp__layer_dropout, clmp__layer_sequential,
    clmp__layer_residual;

/* --- the plan: what layers register --------------------------------------------------------- */

/* A trained parameter named l->name + name, of the given torch shape, in the flat arenas; its
 * handle. */
clmp_status clmp__plan_param(clmp__plan *p, const clmp__layer *l, const char *name, int ndim,
                             const size_t *shape, clmp__init init, float value, size_t fan_in,
                             size_t *handle);
/* A buffer that is saved but not trained (f32, e.g. running statistics), starting at value. */
clmp_status clmp__plan_buffer(clmp__plan *p, const clmp__layer *l, const char *name, int ndim,
                              const size_t *shape, float value, size_t *handle);
/* A counter kept on the host and saved as a 0-dim integer (num_batches_tracked). */
clmp_status clmp__plan_counter(clmp__plan *p, const clmp__layer *l, const char *name,
                               size_t *handle);
/* An activation block of per_example elements of dtype d for each of max_batch examples. */
clmp_status clmp__plan_act(clmp__plan *p, clmp_dtype d, size_t per_example, size_t *handle);
/* A block of n elements of dtype d kept between a forward and its backward, not per example
 * (batch norm's saved statistics). */
clmp_status clmp__plan_state(clmp__plan *p, clmp_dtype d, size_t n, size_t *handle);
/* The workspace the layer's ops use (the model's is the largest request). */
clmp_status clmp__plan_workspace(clmp__plan *p, size_t bytes);
/* The dtype activations are stored in, the context (NULL while only checking a spec), the
 * largest batch. */
clmp_dtype clmp__plan_dtype(const clmp__plan *p);
const clmp_ctx *clmp__plan_ctx(const clmp__plan *p);
size_t clmp__plan_batch(const clmp__plan *p);
/* An op's refusal of the layer's shapes (its message kept), as the layer's own failure. */
clmp_status clmp__plan_refused(const clmp__layer *l, clmp_status st);
/* Plans a child: sets its in shape and need_dx, gives it the next id, runs its plan. */
clmp_status clmp__plan_child(clmp__plan *p, clmp__layer *child, const clmp__shape *in, int need_dx);

/* --- at run time ---------------------------------------------------------------------------- */

/* Views of a parameter: working copy, gradient, fp32 master (owned by the model). */
clmp_tensor *clmp__param_working(const clmp_model *m, size_t handle);
clmp_tensor *clmp__param_grad(const clmp_model *m, size_t handle);
clmp_tensor *clmp__param_master(const clmp_model *m, size_t handle);
clmp_tensor *clmp__buffer(const clmp_model *m, size_t handle);
uint64_t *clmp__counter(clmp_model *m, size_t handle);
/* The view [n] of a state block (owned by the model). */
clmp_tensor *clmp__state(const clmp_model *m, size_t handle);
/* A view [r->batch, s...] of activation block handle, cached in the model until the batch or
 * the shape changes. */
clmp_status clmp__act(const clmp__run *r, size_t handle, const clmp__shape *s, clmp_tensor **out);
/* A view of t with the same storage and another shape [batch, s...]; *cache (freed and replaced
 * when it no longer matches) owns it. */
clmp_status clmp__reshape(const clmp_tensor *t, size_t batch, const clmp__shape *s,
                          clmp_tensor **cache);
/* The model's seed (dropout's masks derive from it, the layer id and the run's counter). */
uint64_t clmp__model_seed(const clmp_model *m);

#endif
