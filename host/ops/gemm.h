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

/* C = alpha * op(A) * op(B) + beta * C on the tensor cores: cl/gemm_wgmma.cl on compute
 * capability 9.0 (unless CLMP_GEMM=mma-sync), else cl/gemm_mma.cl. */
clmp_status clmp__gemm_mma(clmp_transpose ta, clmp_transpose tb, float alpha, const clmp_matrix *a,
                           const clmp_matrix *b, float beta, const clmp_matrix *c);

/* Success when a tensor-core kernel's tiles take at most the device's local memory, else
 * CLMP_ERR_UNSUPPORTED saying so. */
clmp_status clmp__gemm_local_fits(const clmp_ctx *ctx, const char *kernel, size_t bytes);

/* Whether the device runs cl/gemm_wgmma.cl: NVIDIA, compute capability 9.0. */
int clmp__gemm_wgmma_device(const clmp_ctx *ctx);

/* The C block (rows, columns) of a work-group of cl/gemm_wgmma.cl with its default tiles. */
void clmp__gemm_wgmma_block(size_t block[2]);

/* The cl/gemm_wgmma.cl kernel for op(A), op(B) and C, with the C block of its work-groups and
 * their items. CLMP_ERR_INVALID_ARGUMENT for a malformed CLMP_WGMMA_TILES; any other failure is
 * the program's build. */
clmp_status clmp__gemm_wgmma_kernel(clmp_ctx *ctx, clmp_transpose ta, clmp_transpose tb,
                                    const clmp_matrix *a, const clmp_matrix *c, cl_kernel *k,
                                    size_t block[2], size_t *threads);

#endif
