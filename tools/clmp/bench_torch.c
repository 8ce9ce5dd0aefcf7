/* tools/clmp/bench_torch.c: the PyTorch references of --torch: bench_torch.py, embedded at build
 * time, piped to `python3 -` ($CLMP_PYTHON when set) in a child process; the JSON document it
 * prints is kept for the train and optim sections and copied into ours. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MESSAGE_MAX 512

extern const unsigned char clmp_bench_torch_py[];

static const char *python(void) {
  const char *p = getenv("CLMP_PYTHON");
  return p && *p ? p : "python3";
}

/* Why the document is no use (NULL when it is): the script's own "error", or none at all. */
static const char *failure(const cJSON *doc, int err, int status) {
  const char *own = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "error"));
  if (err) return strerror(err);
  if (own) return own;
  if (!doc) return "it printed no JSON document";
  return status ? "it failed" : NULL;
}

static void print_figures(const bench_run *r, const cJSON *doc) {
  const cJSON *row;
  bench_print(r, "PyTorch %s (Python %s) on %s, %d threads\n",
              cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "torch_version")),
              cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "python")),
              cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "device_name")),
              (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(doc, "threads")));
  const char *lists[] = {"train", "train_cnn"};
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(doc, lists[i]))
        bench_print(r, "  %-9s %-40s %12.0f images/s\n", lists[i],
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "label")),
                    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "images_per_s")));
  cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(doc, "optim"))
      bench_print(r, "  optim %9.0e params: %.3f ms a step\n",
                  cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "params")),
                  cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "ms")));
  cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(doc, "errors"))
      fprintf(stderr, "clmp bench: PyTorch could not measure %s\n", cJSON_GetStringValue(row));
}

clmp_status bench_torch(bench_run *r, cJSON *out) {
  char *argv[] = {(char *)python(), "-", r->opts.quick ? "--quick" : NULL, NULL};
  const char *env[] = {NULL};
  char *text = NULL;
  int status = -1;
  bench_print(r, "\n== torch: PyTorch's references (%s - < bench_torch.py)\n", argv[0]);
  int err = bench_spawn(argv, env, (const char *)clmp_bench_torch_py, &text, &status);
  cJSON *doc = !err && text ? cJSON_Parse(text) : NULL;
  const char *why = failure(doc, err, status);
  free(text);
  if (why) {
    char msg[MESSAGE_MAX];
    snprintf(msg, sizeof msg, "no PyTorch reference from %s: %s", argv[0], why);
    fprintf(stderr, "clmp bench: %s (install python3-torch, or set CLMP_PYTHON)\n", msg);
    cJSON_AddStringToObject(out, "error", msg);
    cJSON_Delete(doc);
    return CLMP_ERR_UNSUPPORTED;
  }
  const cJSON *item;
  cJSON_ArrayForEach(item, doc) cJSON_AddItemToObject(out, item->string, cJSON_Duplicate(item, 1));
  print_figures(r, doc);
  r->torch = doc;
  return CLMP_SUCCESS;
}
