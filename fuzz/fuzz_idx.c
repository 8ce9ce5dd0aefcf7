/* fuzz/fuzz_idx.c: libFuzzer harness of the IDX parser (clmp_idx_parse). */
#include <stddef.h>
#include <stdint.h>

#include "clmp/clmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  clmp_idx idx;
  if (clmp_idx_parse(data, size, "fuzz input", &idx) == CLMP_SUCCESS) {
    size_t sum = 0;
    for (size_t i = 0; i < idx.count; i++) sum += idx.data[i]; /* touch every byte */
    (void)sum;
    clmp_idx_free(&idx);
  }
  return 0;
}
