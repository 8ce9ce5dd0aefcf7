/* host/ref/cast.c: the reference of clmp_cast: the host's exact scalar conversions. */
#include "../ops/table.h"

clmp_status clmp__ref_cast(const clmp_tensor *src, clmp_tensor *dst) {
  clmp__convert_array(dst->dtype, clmp__tensor_host(dst), src->dtype, clmp__tensor_host(src),
                      src->numel);
  return CLMP_SUCCESS;
}
