/* host/amp/amp_impl.h: the scaler as the optimizer sees it (internal). */
#ifndef CLMP_HOST_AMP_IMPL_H
#define CLMP_HOST_AMP_IMPL_H

#include "../ops/table.h"
#include "clmp/amp.h"

struct clmp_scaler {
  clmp_ctx *ctx;
  clmp_scaler_config cfg;
  clmp__scaler_params params;
  clmp_tensor *state; /* u8 [sizeof(clmp__amp_state)] on the device */
  clmp_tensor *scale; /* f32 [1], a view of state.scale */
};

/* The checks of clmp_scaler_create and clmp_optim_create, for callers that take a configuration
 * and want to refuse it before any work: messages read "<op>: bad <prefix><field>". */
clmp_status clmp__scaler_config_check(const clmp_scaler_config *c, const char *op,
                                      const char *prefix);
clmp_status clmp__optim_config_check(const clmp_optim_config *c, const char *op,
                                     const char *prefix);

#endif
