/* tools/clmp/cmd_verify.c: `clmp verify`: every op, dtype combination and a spread of shapes and
 * special values on a device against the reference; a row per case, exit status 0 only if all
 * pass. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../host/verify/verify.h"
#include "cli.h"

typedef struct verify_out {
  int json;
  cJSON *rows;
  size_t count;
} verify_out;

static void print_help(void) {
  printf("usage: clmp verify [--device D] [--op NAME] [--json]\n\n"
         "Runs every op over every dtype combination, a spread of shapes (1, odd sizes, sizes\n"
         "that are not multiples of any tile, large ones) and value sets ('normal', and\n"
         "'special': +-0, subnormals, fp16 max, values that overflow fp16, +-inf, NaN) on the\n"
         "device and on the CPU reference, and compares the results element by element: max\n"
         "abs error, max ULP error in the output dtype, the tolerance, pass or fail. An element\n"
         "passes when both sides are NaN, or equal, or within atol + rtol*|ref|, or within the\n"
         "stated ULPs; sums (GEMM, bias gradients) are within K u32 times the magnitude of\n"
         "their terms, the textbook bound. Exit status 0 only when every row passes.\n\n"
         "  --device D   the device (default: auto; see clmp devices)\n"
         "  --op NAME    only the cases whose op contains NAME\n"
         "  --json       one JSON object instead of the table\n"
         "  --help       this text\n");
}

/* "exact", "1 ulp", "1e-06+1e-05*|r|", "1.5e-05*|terms|" (a sum's bound), "... or 1 ulp". */
static void tolerance_text(const clmp__verify_row *r, char *buf, size_t size) {
  const clmp__tolerance *t = &r->tol;
  const char *ulp = t->max_ulp > 0 ? " or 1 ulp" : "";
  if (r->mtol > 0)
    snprintf(buf, size, "%.2g*|terms|%s", r->mtol, ulp);
  else if (t->atol == 0 && t->rtol == 0 && t->max_ulp == 0)
    snprintf(buf, size, "exact");
  else if (t->atol == 0 && t->rtol == 0)
    snprintf(buf, size, "%g ulp", t->max_ulp);
  else
    snprintf(buf, size, "%.2g+%.2g*|r|%s", t->atol, t->rtol, ulp);
}

static cJSON *row_json(const clmp__verify_row *r) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "op", r->op);
  cJSON_AddStringToObject(o, "dtypes", r->dtypes);
  cJSON_AddStringToObject(o, "shape", r->shape);
  cJSON_AddStringToObject(o, "values", r->values);
  cJSON_AddNumberToObject(o, "max_abs_error", isfinite(r->cmp.max_abs) ? r->cmp.max_abs : -1);
  cJSON_AddNumberToObject(o, "max_ulp_error", isfinite(r->cmp.max_ulp) ? r->cmp.max_ulp : -1);
  cJSON_AddNumberToObject(o, "atol", r->tol.atol);
  cJSON_AddNumberToObject(o, "rtol", r->tol.rtol);
  cJSON_AddNumberToObject(o, "max_ulp", r->tol.max_ulp);
  cJSON_AddNumberToObject(o, "terms_tol", r->mtol);
  cJSON_AddNumberToObject(o, "failed_elements", (double)r->cmp.failed);
  cJSON_AddNumberToObject(o, "elements", (double)r->cmp.n);
  if (r->status) cJSON_AddStringToObject(o, "error", clmp_status_name(r->status));
  cJSON_AddBoolToObject(o, "pass", r->pass);
  return o;
}

static void emit(const clmp__verify_row *r, void *user) {
  verify_out *out = user;
  out->count++;
  if (out->json) {
    cJSON_AddItemToArray(out->rows, row_json(r));
    return;
  }
  char tol[48];
  tolerance_text(r, tol, sizeof tol);
  printf("%-22s %-28s %-12s %-7s %10.3g %9.0f  %-24s %s\n", r->op, r->dtypes, r->shape, r->values,
         r->cmp.max_abs, r->cmp.max_ulp, tol, r->pass ? "pass" : "FAIL");
  if (r->status)
    printf("    %s: %s\n", clmp_status_name(r->status), clmp_last_error());
  else if (!r->pass)
    printf("    element %zu: device %.9g, reference %.9g (%zu of %zu failed)\n", r->cmp.worst,
           r->cmp.got_worst, r->cmp.want_worst, r->cmp.failed, r->cmp.n);
  fflush(stdout);
}

static int finish(verify_out *out, const clmp_device_info *d, size_t failed, double secs) {
  if (!out->json) {
    printf("\n%zu rows, %zu failed, on %s (%s), %.1f s\n", out->count, failed, d->name, d->platform,
           secs);
    return failed ? CLI_FAILED : CLI_OK;
  }
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "device", d->name);
  cJSON_AddStringToObject(root, "platform", d->platform);
  cJSON_AddStringToObject(root, "driver", d->driver);
  cJSON_AddItemToObject(root, "rows", out->rows);
  cJSON_AddNumberToObject(root, "total", (double)out->count);
  cJSON_AddNumberToObject(root, "failed", (double)failed);
  cJSON_AddNumberToObject(root, "seconds", secs);
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (text) printf("%s\n", text);
  free(text);
  return failed || !text ? CLI_FAILED : CLI_OK;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run(const char *device, const char *op, int json) {
  clmp_ctx *dev = NULL, *ref = NULL;
  clmp_status st = clmp_ctx_create(device, &dev);
  if (st != CLMP_SUCCESS) return cli_fail("verify", st, "opening the device");
  st = clmp_ctx_create("ref", &ref);
  if (st != CLMP_SUCCESS) return clmp_ctx_free(dev), cli_fail("verify", st, "opening ref");
  verify_out out = {json, json ? cJSON_CreateArray() : NULL, 0};
  const clmp_device_info *d = clmp_ctx_device(dev);
  if (!json)
    printf("clmp verify on %s (%s, driver %s) against the reference\n\n"
           "%-22s %-28s %-12s %-7s %10s %9s  %-24s %s\n",
           d->name, d->platform, d->driver, "op", "dtypes", "shape", "values", "max abs", "max ulp",
           "tolerance", "result");
  size_t failed = 0;
  double t0 = now();
  st = clmp__verify_run(dev, ref, op, emit, &out, &failed);
  int rc = st           ? cli_fail("verify", st, "running the cases")
           : !out.count ? cli_usage_error("verify", "no case matches --op '%s'", op ? op : "")
                        : finish(&out, d, failed, now() - t0);
  if (st || !out.count) cJSON_Delete(out.rows);
  clmp_ctx_free(ref);
  clmp_ctx_free(dev);
  return rc;
}

int cmd_verify(int argc, char **argv) {
  static const struct option opts[] = {{"device", required_argument, NULL, 'd'},
                                       {"op", required_argument, NULL, 'o'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *device = NULL, *op = NULL;
  int json = 0, c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":hd:o:j", opts, NULL)) != -1) {
    if (c == 'd')
      device = optarg;
    else if (c == 'o')
      op = optarg;
    else if (c == 'j')
      json = 1;
    else if (c == 'h')
      return print_help(), CLI_OK;
    else if (c == ':')
      return cli_usage_error("verify", "option '%s' needs a value", argv[optind - 1]);
    else
      return cli_usage_error("verify", "unknown option '%s'", argv[optind - 1]);
  }
  if (optind < argc) return cli_usage_error("verify", "unexpected argument '%s'", argv[optind]);
  return run(device, op, json);
}
