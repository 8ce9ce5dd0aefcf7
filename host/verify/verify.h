/* host/verify/verify.h: the engine of `clmp verify`: every op, dtype combination and a spread of
 * shapes and special values, run on a device and on the reference, compared element by element
 * (internal; the command formats the rows). */
#ifndef CLMP_HOST_VERIFY_H
#define CLMP_HOST_VERIFY_H

#include "clmp/clmp.h"
#include "compare.h"

typedef struct clmp__verify_row {
  char op[32];
  char dtypes[48];
  char shape[48];
  char values[16]; /* "normal" or "special" (±0, subnormals, fp16 max, overflow, inf, NaN) */
  clmp__tolerance tol;
  double mtol; /* times the magnitude of a sum's terms (compare.h), 0 for none */
  clmp__compare_result cmp;
  clmp_status status; /* an op that failed to run fails its row */
  int pass;
} clmp__verify_row;

typedef void (*clmp__verify_emit)(const clmp__verify_row *row, void *user);

/* Runs every case whose op name contains filter (NULL: all) on dev and ref, emitting a row per
 * case; returns the number of failed rows in *failed. Only host-side failures return an error. */
clmp_status clmp__verify_run(clmp_ctx *dev, clmp_ctx *ref, const char *filter,
                             clmp__verify_emit emit, void *user, size_t *failed);

#endif
