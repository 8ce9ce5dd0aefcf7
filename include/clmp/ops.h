/* clmp/ops.h: the operations, each running on its tensors' device (OpenCL or the reference).
 * Every op checks its arguments first and fails with a specific status without touching data.
 * Ops are queued, not waited for; reading a tensor waits. */
#ifndef CLMP_OPS_H
#define CLMP_OPS_H

#include "clmp/export.h"
#include "clmp/status.h"
#include "clmp/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dst = src converted to dst's dtype (f32, f16, bf16; round to nearest even, NaN kept). Same
 * context and element count; shapes may differ. */
CLMP_API clmp_status clmp_cast(const clmp_tensor *src, clmp_tensor *dst);

#ifdef __cplusplus
}
#endif
#endif
