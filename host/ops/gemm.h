/* host/ops/gemm.h: what host/ops/gemm.c and host/ops/gemm_mma.c share: the GEMM paths behind the
 * OpenCL row, called after every argument has been checked. */
#ifndef CLMP_HOST_OPS_GEMM_H
#define CLMP_HOST_OPS_GEMM_H

#include "table.h"

/* The matrix's first element, in elements from the start of its OpenCL buffer. */
size_t clmp__gemm_buffer_offset(const clmp_matrix *m);

/* Whether the tensor-core kernel takes C = op(A) op(B): an NVIDIA device of compute capability
 * 8 or more (unless CLMP_GEMM=portable), A and B both f16 or both bf16, each with its first
 * element, row length and columns multiples of 8 elements. */
int clmp__gemm_mma_takes(const clmp_matrix *a, const clmp_matrix *b, const clmp_matrix *c);

/* C = alpha * op(A) * op(B) + beta * C on the tensor cores (cl/gemm_mma.cl). */
clmp_status clmp__gemm_mma(clmp_transpose ta, clmp_transpose tb, float alpha, const clmp_matrix *a,
                           const clmp_matrix *b, float beta, const clmp_matrix *c);

#endif
