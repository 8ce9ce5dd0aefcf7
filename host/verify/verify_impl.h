/* host/verify/verify_impl.h: what the verify cases share with the engine (internal). */
#ifndef CLMP_HOST_VERIFY_IMPL_H
#define CLMP_HOST_VERIFY_IMPL_H

#include <stdint.h>

#include "verify.h"

typedef struct venv {
  clmp_ctx *dev, *ref;
  clmp__verify_emit emit;
  void *user;
  size_t failed;
  uint64_t seed;
} venv;

/* The same tensor on the device (d) and on the reference (r). */
typedef struct pair {
  clmp_tensor *d, *r;
} pair;

typedef struct clmp__verify_case {
  const char *op;
  void (*run)(venv *e);
} clmp__verify_case;

/* The case tables (cases_<family>.c), each ended by an entry whose op is NULL. */
extern const clmp__verify_case clmp__verify_cases_elementwise[];
extern const clmp__verify_case clmp__verify_cases_matrix[];
extern const clmp__verify_case clmp__verify_cases_reduce[];
extern const clmp__verify_case clmp__verify_cases_conv[];
extern const clmp__verify_case clmp__verify_cases_layers[];

/* n seeded values uniform in [lo, hi), with the special values spread over them if special. */
void clmp__verify_values(venv *e, float *v, size_t n, float lo, float hi, int special);
int32_t clmp__verify_label(venv *e, int32_t classes);
/* Both tensors of a pair, holding values (converted to d; NULL: undefined). */
clmp_status clmp__verify_pair(venv *e, clmp_dtype d, int ndim, const size_t *shape,
                              const float *values, pair *p);
void clmp__verify_pair_free(pair *p);
void clmp__verify_row_init(clmp__verify_row *row, const char *op, const char *dtypes,
                           const char *shape, int special, clmp__tolerance tol);
/* Records that the host memory for a row's inputs ran out; returns CLMP_ERR_OUT_OF_HOST_MEMORY. */
clmp_status clmp__verify_no_memory(const clmp__verify_row *row);
/* Compares the output pair and emits the row; sd and sr are the op's statuses on each side. */
void clmp__verify_finish(venv *e, clmp__verify_row *row, clmp_status sd, clmp_status sr,
                         const pair *out);
/* The same, with the per-element magnitude of the terms (an f32 tensor, see compare.h). */
void clmp__verify_finish_mag(venv *e, clmp__verify_row *row, clmp_status sd, clmp_status sr,
                             const pair *out, const clmp_tensor *mag);
/* A copy of a tensor's values, made absolute, as an f32 tensor on ctx (for magnitudes). */
clmp_status clmp__verify_abs(clmp_ctx *ctx, const clmp_tensor *t, clmp_tensor **out);
const char *clmp__verify_shape(char *buf, size_t size, int ndim, const size_t *shape);

#endif
