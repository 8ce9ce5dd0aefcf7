/* fuzz/fuzz_safetensors.c: libFuzzer harness of the safetensors reader: parse, then touch every
 * entry's bytes and metadata the way a loader would. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clmp/clmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  clmp_safetensors *f = NULL;
  if (clmp_safetensors_parse(data, size, "fuzz input", &f) != CLMP_SUCCESS) return 0;
  size_t sum = 0;
  for (size_t i = 0; i < clmp_safetensors_count(f); i++) {
    const clmp_st_entry *e = clmp_safetensors_entry(f, i);
    const uint8_t *p = e->data;
    for (size_t k = 0; k < e->nbytes; k++) sum += p[k];
    sum += strlen(e->name) + (clmp_safetensors_find(f, e->name) == e);
  }
  const char *meta = clmp_safetensors_meta(f, "format");
  sum += meta ? strlen(meta) : 0;
  (void)sum;
  clmp_safetensors_free(f);
  return 0;
}
