/* tools/clmp/cmd_bench.c: `clmp bench`: the options, the table of sections, and the document
 * that holds every figure with its reference and ratio. The sections are in bench_<name>.c. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define COMMAND_TEXT_MAX 1024

static const bench_section sections[BENCH_SECTIONS] = {
    {"copy", "the device's copy bandwidth: clEnqueueCopyBuffer and float4 kernels", bench_copy},
    {"gemm", "f32 (CLBlast Sgemm) and mixed f16/bf16 GEMM, square and the MLP's shapes",
     bench_gemm},
    {"conv", "conv2d forward, backward data and filter in f32/f16/bf16, CNN and ResNet-18 shapes",
     bench_conv},
    {"optim", "fused AdamW and SGD steps (check pass included) against the copy bandwidth",
     bench_optim},
    {"start", "cold and warm (binary cache) context plus every training program", bench_start},
    {"train", "training images/s of the MLP 784-512-256-10, batch 128, fp16/bf16/fp32",
     bench_train},
};

static void print_help(void) {
  printf("usage: clmp bench [--device D] [--json] [--quick] [--only SECTIONS] [--torch]\n"
         "                  [--data DIR] [--json-out FILE]\n\n"
         "Measures clmp on a device, each figure next to a reference measured in the same run,\n"
         "and their ratio (> 1: clmp is ahead). Times are wall-clock medians after a warm-up,\n"
         "up to clmp_ctx_finish. Sections:\n\n");
  for (int s = 0; s < BENCH_SECTIONS; s++)
    printf("  %-6s %s\n", sections[s].name, sections[s].summary);
  printf("\n  --device D       the device (default: auto; see clmp devices)\n"
         "  --only A,B       only these sections (optim brings copy, its reference, along)\n"
         "  --quick          a smoke run of seconds: smallest sizes, fewest repetitions\n"
         "  --torch          also run PyTorch (python3, or $CLMP_PYTHON) on the same work: CUDA\n"
         "                   when available, else the CPU; its figures are the references of\n"
         "                   train and optim. When PyTorch cannot run, the rest still runs\n"
         "                   and the exit status is 1\n"
         "  --data DIR       train on this Fashion-MNIST folder (default: synthetic images)\n"
         "  --json           one JSON document instead of the tables\n"
         "  --json-out FILE  the tables, and the JSON document written to FILE\n"
         "  --help           this text\n\n"
         "Units: GB/s and TFLOP/s are 1e9 bytes and 1e12 flops per second; a GEMM is 2*M*N*K\n"
         "flops, a convolution 2*N*O*Ho*Wo*C/groups*kh*kw; copy bandwidth counts bytes read\n"
         "plus bytes written.\n");
}

/* "copy,gemm" into a bit set; -1 names the first unknown section in *bad. */
static int parse_sections(const char *list, unsigned *out, char *bad, size_t bad_size) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  *out = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int s = 0;
    while (s < BENCH_SECTIONS && strcmp(tok, sections[s].name)) s++;
    if (s == BENCH_SECTIONS) return snprintf(bad, bad_size, "%s", tok), -1;
    *out |= 1u << s;
  }
  if (*out & (1u << BENCH_OPTIM)) *out |= 1u << BENCH_COPY;
  return *out ? 0 : (snprintf(bad, bad_size, "%s", list), -1);
}

static const struct option OPTIONS[] = {
    {"device", required_argument, NULL, 'd'},   {"only", required_argument, NULL, 'o'},
    {"data", required_argument, NULL, 'D'},     {"quick", no_argument, NULL, 'q'},
    {"torch", no_argument, NULL, 't'},          {"json", no_argument, NULL, 'j'},
    {"json-out", required_argument, NULL, 'J'}, {"start-child", no_argument, NULL, 'C'},
    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};

/* 0 to run, 1 after --help, else a usage error's status; *child for the hidden subcommand. */
static int parse(int argc, char **argv, bench_opts *o, int *child) {
  char bad[256];
  int c;
  opterr = 0;
  o->sections = (1u << BENCH_SECTIONS) - 1;
  while ((c = getopt_long(argc, argv, ":h", OPTIONS, NULL)) != -1) {
    switch (c) {
    case 'd': o->device = optarg; break;
    case 'D': o->data = optarg; break;
    case 'q': o->quick = 1; break;
    case 't': o->torch = 1; break;
    case 'j': o->json = 1; break;
    case 'J': o->json_out = optarg; break;
    case 'C': *child = 1; break;
    case 'h': return print_help(), 1;
    case 'o':
      if (parse_sections(optarg, &o->sections, bad, sizeof bad) != 0)
        return cli_usage_error("bench",
                               "unknown section '%s' in --only (copy, gemm, conv, "
                               "optim, start, train)",
                               bad);
      break;
    case ':': return cli_usage_error("bench", "option '%s' needs a value", argv[optind - 1]);
    default: return cli_usage_error("bench", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
  return 0;
}

static void add_device(cJSON *doc, const bench_run *r) {
  static const char *kinds[] = {"ref", "cpu", "gpu", "igpu", "accelerator"};
  const clmp_device_info *d = r->dev;
  cJSON *o = cJSON_AddObjectToObject(doc, "device");
  cJSON_AddStringToObject(o, "id", r->device_id);
  cJSON_AddStringToObject(o, "name", d->name);
  cJSON_AddStringToObject(o, "vendor", d->vendor);
  cJSON_AddStringToObject(o, "platform", d->platform);
  cJSON_AddStringToObject(o, "version", d->version);
  cJSON_AddStringToObject(o, "driver", d->driver);
  cJSON_AddStringToObject(o, "type", (unsigned)d->kind < 5 ? kinds[d->kind] : "?");
  cJSON_AddNumberToObject(o, "compute_units", d->compute_units);
  cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem);
  cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d->max_alloc);
  if (d->nv_cc_major) {
    char cc[16];
    snprintf(cc, sizeof cc, "%d.%d", d->nv_cc_major, d->nv_cc_minor);
    cJSON_AddStringToObject(o, "compute_capability", cc);
  }
}

/* The document's head: version, date, command line, device. */
static cJSON *document(const bench_run *r, int argc, char **argv) {
  char date[32], command[COMMAND_TEXT_MAX] = "clmp";
  time_t now = time(NULL);
  struct tm tm;
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  for (int i = 0; i < argc; i++) {
    size_t used = strlen(command);
    snprintf(command + used, sizeof command - used, " %s", argv[i]);
  }
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "clmp_version", CLMP_VERSION_STRING);
  cJSON_AddStringToObject(doc, "date", date);
  cJSON_AddStringToObject(doc, "command", command);
  cJSON_AddBoolToObject(doc, "quick", r->opts.quick);
  add_device(doc, r);
  bench_print(r, "clmp bench %s on %s (%s, driver %s), %s\n", CLMP_VERSION_STRING, r->dev->name,
              r->dev->platform, r->dev->driver, date);
  return doc;
}

/* A failed section: its message on stderr and in its object; the others still run. */
static int section_failed(cJSON *obj, const char *name, clmp_status st) {
  char what[64];
  snprintf(what, sizeof what, "the %s section", name);
  cli_fail("bench", st, what);
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", clmp_status_name(st), clmp_last_error());
  cJSON_AddStringToObject(obj, "error", msg);
  return 1;
}

static int run_sections(bench_run *r, cJSON *doc) {
  int failed = 0;
  if (r->opts.torch) {
    cJSON *obj = cJSON_AddObjectToObject(doc, "torch");
    failed |= bench_torch(r, obj) != CLMP_SUCCESS;
  }
  for (int s = 0; s < BENCH_SECTIONS; s++) {
    if (!(r->opts.sections & (1u << s))) continue;
    cJSON *obj = cJSON_AddObjectToObject(doc, sections[s].name);
    bench_print(r, "\n== %s: %s\n", sections[s].name, sections[s].summary);
    clmp_status st = sections[s].run(r, obj);
    if (st != CLMP_SUCCESS) failed |= section_failed(obj, sections[s].name, st);
  }
  return failed;
}

/* The document on stdout (path NULL) or into the file path. */
static int write_document(cJSON *doc, const char *path) {
  char *text = cJSON_Print(doc);
  FILE *f = path ? fopen(path, "w") : stdout;
  int ok = text && f && fprintf(f, "%s\n", text) >= 0;
  if (path && f && fclose(f) != 0) ok = 0;
  free(text);
  if (ok) return CLI_OK;
  fprintf(stderr, "clmp bench: cannot write the JSON document to %s: %s\n", path ? path : "stdout",
          text ? strerror(errno) : "out of memory");
  return CLI_FAILED;
}

int cmd_bench(int argc, char **argv) {
  bench_run r = {0};
  int child = 0, rc = parse(argc, argv, &r.opts, &child);
  if (rc) return rc == 1 ? CLI_OK : rc;
  if (child) return bench_start_child(r.opts.device, r.opts.quick);
  clmp_status st = clmp_ctx_create(r.opts.device, &r.ctx);
  if (st != CLMP_SUCCESS) return cli_fail("bench", st, "opening the device");
  r.dev = clmp_ctx_device(r.ctx);
  if (r.dev->kind == CLMP_DEVICE_REF)
    snprintf(r.device_id, sizeof r.device_id, "ref");
  else
    snprintf(r.device_id, sizeof r.device_id, "cl:%d", r.dev->index);
  cJSON *doc = document(&r, argc, argv);
  int failed = run_sections(&r, doc);
  rc = r.opts.json ? write_document(doc, NULL) : CLI_OK;
  if (r.opts.json_out && write_document(doc, r.opts.json_out) != CLI_OK) rc = CLI_FAILED;
  cJSON_Delete(doc);
  cJSON_Delete(r.torch);
  clmp_ctx_free(r.ctx);
  return failed ? CLI_FAILED : rc;
}
