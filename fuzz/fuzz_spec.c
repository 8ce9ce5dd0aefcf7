/* fuzz/fuzz_spec.c: libFuzzer harness of the model spec parser and planner (clmp_model_check): any
 * input, as text, must be planned or refused with a message, never crash, leak or overflow. */
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"

#define SPEC_MAX (1 << 16) /* bytes of a spec the harness tries */
#define BATCH    8
#define SIDE     28
#define CLASSES  10

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static clmp_model_config config(const char *spec) {
  clmp_model_config c = {spec, CLMP_F16, BATCH, 3, {1, SIDE, SIDE}, CLASSES, 1};
  return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > SPEC_MAX) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  clmp_model_config c = config(text);
  clmp_model_summary s;
  if (clmp_model_check(&c, &s) != CLMP_SUCCESS && clmp_last_error()[0] == '\0')
    abort(); /* a refusal without a message */
  free(text);
  return 0;
}
