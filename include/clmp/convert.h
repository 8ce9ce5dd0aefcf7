/* clmp/convert.h: exact scalar conversions between fp32 and the 16-bit storage formats.
 * Round to nearest even, subnormals kept, overflow to +-inf, NaN stays NaN (quiet, sign kept). */
#ifndef CLMP_CONVERT_H
#define CLMP_CONVERT_H

#include <stdint.h>

#include "clmp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* fp32 -> IEEE binary16 bits, bit-exact with OpenCL's vstore_half_rte for non-NaN inputs. */
CLMP_API uint16_t clmp_f32_to_f16(float x);
/* IEEE binary16 bits -> fp32 (exact). */
CLMP_API float clmp_f16_to_f32(uint16_t h);
/* fp32 -> bfloat16 bits (the upper half of an fp32, rounded to nearest even). */
CLMP_API uint16_t clmp_f32_to_bf16(float x);
/* bfloat16 bits -> fp32 (exact). */
CLMP_API float clmp_bf16_to_f32(uint16_t h);

#ifdef __cplusplus
}
#endif
#endif
