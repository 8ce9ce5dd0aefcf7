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

#endif
