/* clmp/clmp.h: the whole public API of clmp, mixed-precision training on any OpenCL device. */
#ifndef CLMP_CLMP_H
#define CLMP_CLMP_H

#include "clmp/version.h"
#include "clmp/status.h"
#include "clmp/convert.h"
#include "clmp/device.h"
#include "clmp/tensor.h"
#include "clmp/ops.h"
#include "clmp/amp.h"
#include "clmp/io.h"
#include "clmp/nn.h"
#include "clmp/train.h"

#endif
