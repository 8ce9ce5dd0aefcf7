/* tools/clmp/train_model.c: the model spec of `clmp train`: a preset name, a JSON file, JSON text,
 * the MLP of --hidden, or, when resuming without --model, the spec the checkpoint stores. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define SPEC_FILE_MAX   (1 << 20) /* bytes of a JSON spec file */
#define HIDDEN_MAX      16
#define MLP_INPUT       784
#define MLP_CLASSES     10
#define SPEC_TEXT_EXTRA 64 /* bytes of JSON around each hidden layer */

static int is_preset(const char *s) {
  static const char *const presets[] = {"mlp", "cnn", "resnet8"};
  for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
    if (!strcmp(s, presets[i])) return 1;
  return 0;
}

/* The whole file as a NUL-terminated string; NULL (after a message) when it cannot be read. */
static char *read_spec_file(const char *path) {
  FILE *f = fopen(path, "rb");
  struct stat sb;
  if (!f || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > SPEC_FILE_MAX) {
    cli_usage_error("train",
                    "--model %s: not a preset (mlp, cnn, resnet8) nor a readable JSON "
                    "file of at most %d bytes%s%s",
                    path, SPEC_FILE_MAX, f ? "" : ": ", f ? "" : strerror(errno));
    if (f) fclose(f);
    return NULL;
  }
  char *text = malloc((size_t)sb.st_size + 1);
  size_t n = text ? fread(text, 1, (size_t)sb.st_size, f) : 0;
  fclose(f);
  if (!text || n != (size_t)sb.st_size) {
    cli_usage_error("train", "--model %s: cannot read the file", path);
    free(text);
    return NULL;
  }
  text[n] = '\0';
  return text;
}

/* {"input": [784], "layers": [linear h1, relu, ..., linear 10]} from "h1,h2,...". */
static char *hidden_spec(const char *hidden) {
  size_t size = 2 * SPEC_TEXT_EXTRA * (HIDDEN_MAX + 2);
  char *text = malloc(size), buf[256];
  if (!text) return NULL;
  int n = snprintf(text, size, "{\"input\": [%d], \"layers\": [", MLP_INPUT), count = 0;
  snprintf(buf, sizeof buf, "%s", hidden);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    char *end = NULL;
    unsigned long v = strtoul(tok, &end, 10);
    if (*end || !*tok || v == 0 || v > (1ul << 24) || ++count > HIDDEN_MAX || tok[0] == '-') {
      free(text);
      return NULL;
    }
    n += snprintf(text + n, size - (size_t)n,
                  "{\"type\": \"linear\", \"out\": %lu}, {\"type\": \"relu\"}, ", v);
  }
  snprintf(text + n, size - (size_t)n, "{\"type\": \"linear\", \"out\": %d}]}", MLP_CLASSES);
  return text;
}

int cli_model_spec(const char *model, const char *hidden, const char *resume, char **spec) {
  *spec = NULL;
  if (hidden && model && strcmp(model, "mlp"))
    return cli_usage_error("train", "--hidden sets the widths of the mlp, not of --model %s",
                           model);
  if (hidden) {
    *spec = hidden_spec(hidden);
    return *spec ? CLI_OK
                 : cli_usage_error("train",
                                   "bad value '%s' for --hidden (up to %d widths, "
                                   "1 to 16777216)",
                                   hidden, HIDDEN_MAX);
  }
  if (!model && resume) {
    clmp_status st = clmp_checkpoint_model_spec(resume, spec);
    return st == CLMP_SUCCESS ? CLI_OK : cli_fail("train", st, "reading the checkpoint's model");
  }
  if (!model) model = "mlp";
  if (is_preset(model) || model[0] == '{' || model[0] == '[') {
    *spec = malloc(strlen(model) + 1);
    if (*spec) strcpy(*spec, model);
    return *spec ? CLI_OK : cli_fail("train", CLMP_ERR_OUT_OF_HOST_MEMORY, "the model spec");
  }
  *spec = read_spec_file(model);
  return *spec ? CLI_OK : CLI_USAGE;
}
