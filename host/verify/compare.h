/* host/verify/compare.h: comparing a device's results with the reference's, element by element:
 * absolute error, ULP distance in the output dtype, and a pass/fail under a tolerance. Used by
 * `clmp verify` and the op tests alike. */
#ifndef CLMP_HOST_COMPARE_H
#define CLMP_HOST_COMPARE_H

#include <stddef.h>

#include "clmp/tensor.h"

/* An element passes when got and want are both NaN, or equal (the same infinity included), or
 * finite with |got - want| <= atol + rtol * |want|, or within max_ulp units in the last place of
 * the dtype. Integer dtypes compare exactly. */
typedef struct clmp__tolerance {
  double atol, rtol, max_ulp;
} clmp__tolerance;

typedef struct clmp__compare_result {
  size_t n, failed;             /* elements compared and failed */
  size_t worst;                 /* index of the element with the largest error (abs, then ulp) */
  double max_abs;               /* largest |got - want| over elements where both are finite */
  double max_ulp;               /* largest ULP distance in the dtype (inf when classes differ) */
  double got_worst, want_worst; /* the values at worst */
} clmp__compare_result;

/* Compares n elements of two host arrays of dtype d. */
void clmp__compare(clmp_dtype d, const void *got, const void *want, size_t n,
                   const clmp__tolerance *tol, clmp__compare_result *out);

/* The same for the result of a sum, where mag[i] is the magnitude of element i's terms (sum
 * |a_k b_k| for a GEMM): the bound grows by mtol * mag[i] (the textbook bound of a K-term fp32
 * sum is K u |terms|). */
void clmp__compare_sum(clmp_dtype d, const void *got, const void *want, const float *mag,
                       double mtol, size_t n, const clmp__tolerance *tol,
                       clmp__compare_result *out);

/* The ULP distance of two values of dtype d given as fp32 (both converted to d exactly): the
 * number of representable values between them; 0 when both are NaN; INFINITY when one is. */
double clmp__ulp_distance(clmp_dtype d, float a, float b);

#endif
