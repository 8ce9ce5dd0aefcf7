/* host/runtime/ptx.h: the PTX pass that gives kernels sm_90a instructions (wgmma) on NVIDIA's
 * OpenCL, whose compiler targets sm_90 and refuses them. */
#ifndef CLMP_RUNTIME_PTX_H
#define CLMP_RUNTIME_PTX_H

#include "runtime.h"

/* The build option that asks for the pass: the program's sm_90a instructions are written as PTX
 * comments "// clmp:<instruction>" (asm statements the sm_90 compiler passes through). */
#define CLMP_PTX_SM90A_OPTION "-DCLMP_PTX_SM90A=1"

/* ptx with its first ".target sm_90" made sm_90a and every "// clmp:" comment uncovered. NULL
 * when ptx names no sm_90 target (*retargeted 0) or memory runs out (*retargeted 1). */
char *clmp__ptx_rewrite(const char *ptx, int *retargeted);

/* Rewrites the PTX of the built program *p (NVIDIA's program binary): the target becomes
 * sm_90a and each "// clmp:" comment its instruction; builds that in place of *p, which is
 * released. On failure *p is unchanged and the error says what and where. */
clmp_status clmp__ptx_sm90a(clmp_ctx *ctx, const char *name, const char *opts, cl_program *p);

#endif
