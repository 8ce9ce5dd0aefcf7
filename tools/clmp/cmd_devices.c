/* tools/clmp/cmd_devices.c: `clmp devices`: every OpenCL device on every platform plus the
 * reference, their capabilities, and the one "auto" picks. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MIB (1024.0 * 1024.0)

static const char *kind_name(clmp_device_kind k) {
  static const char *names[] = {"ref", "cpu", "gpu", "igpu", "accelerator"};
  return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

static void print_help(void) {
  printf("usage: clmp devices [--json]\n\n"
         "Lists every OpenCL device on every platform, in the order that --device cl:N uses,\n"
         "then the CPU reference device 'ref'. '*' marks the device that 'auto' picks\n"
         "(CLMP_DEVICE when set, else a discrete GPU, then an integrated GPU, then any other).\n\n"
         "  --json   one JSON object instead of the table\n"
         "  --help   this text\n");
}

static void device_id(const clmp_device_info *d, char *buf, size_t size) {
  if (d->kind == CLMP_DEVICE_REF)
    snprintf(buf, size, "ref");
  else
    snprintf(buf, size, "cl:%d", d->index);
}

static void print_row(const clmp_device_info *d, int is_auto) {
  char id[16], cc[16] = "-";
  device_id(d, id, sizeof id);
  if (d->nv_cc_major) snprintf(cc, sizeof cc, "%d.%d", d->nv_cc_major, d->nv_cc_minor);
  printf("%c %-5s %-36.36s %-28.28s %-5s %4u %10.0f %10.0f %-4s %-7s %-3s %s\n",
         is_auto ? '*' : ' ', id, d->name, d->platform, kind_name(d->kind), d->compute_units,
         d->global_mem / MIB, d->max_alloc / MIB, d->fp16 ? "yes" : "no",
         d->unified_memory ? "yes" : "no", cc, d->driver);
}

static void print_table(const clmp_device_info *list, size_t n, const clmp_device_info *ref,
                        int pick) {
  printf("  %-5s %-36s %-28s %-5s %4s %10s %10s %-4s %-7s %-3s %s\n", "id", "name", "platform",
         "type", "CUs", "mem MiB", "alloc MiB", "fp16", "unified", "cc", "driver");
  for (size_t i = 0; i < n; i++) print_row(&list[i], pick == (int)i);
  print_row(ref, pick < 0);
  char id[16];
  device_id(pick < 0 ? ref : &list[pick], id, sizeof id);
  printf("\nauto: %s (%s)%s\n", id, pick < 0 ? ref->name : list[pick].name,
         n ? "" : "; no OpenCL device found");
}

static cJSON *device_json(const clmp_device_info *d, int is_auto) {
  char id[16];
  device_id(d, id, sizeof id);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "name", d->name);
  cJSON_AddStringToObject(o, "vendor", d->vendor);
  cJSON_AddStringToObject(o, "platform", d->platform);
  cJSON_AddStringToObject(o, "version", d->version);
  cJSON_AddStringToObject(o, "driver", d->driver);
  cJSON_AddStringToObject(o, "type", kind_name(d->kind));
  cJSON_AddNumberToObject(o, "compute_units", d->compute_units);
  cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem);
  cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d->max_alloc);
  cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d->local_mem);
  cJSON_AddNumberToObject(o, "base_align_bytes", d->base_align);
  cJSON_AddBoolToObject(o, "fp16", d->fp16);
  cJSON_AddBoolToObject(o, "unified_memory", d->unified_memory);
  if (d->nv_cc_major) {
    char cc[16];
    snprintf(cc, sizeof cc, "%d.%d", d->nv_cc_major, d->nv_cc_minor);
    cJSON_AddStringToObject(o, "compute_capability", cc);
  }
  cJSON_AddBoolToObject(o, "auto", is_auto);
  return o;
}

static int print_json(const clmp_device_info *list, size_t n, const clmp_device_info *ref,
                      int pick) {
  cJSON *root = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(root, "devices");
  for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, device_json(&list[i], pick == (int)i));
  cJSON_AddItemToArray(arr, device_json(ref, pick < 0));
  char id[16];
  device_id(pick < 0 ? ref : &list[pick], id, sizeof id);
  cJSON_AddStringToObject(root, "auto", id);
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return cli_fail("devices", CLMP_ERR_OUT_OF_HOST_MEMORY, "writing JSON");
  printf("%s\n", text);
  free(text);
  return CLI_OK;
}

int cmd_devices(int argc, char **argv) {
  static const struct option opts[] = {
      {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  int json = 0, c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c == 'j')
      json = 1;
    else if (c == 'h')
      return print_help(), CLI_OK;
    else
      return cli_usage_error("devices", "unknown option '%s'", argv[optind - 1]);
  }
  if (optind < argc) return cli_usage_error("devices", "unexpected argument '%s'", argv[optind]);
  clmp_device_info *list = NULL, ref;
  size_t n = 0;
  clmp_status st = clmp_devices_list(&list, &n);
  if (st != CLMP_SUCCESS) return cli_fail("devices", st, "listing devices");
  clmp_device_ref_info(&ref);
  int pick = -1;
  st = clmp_device_select(NULL, list, n, &pick);
  int rc = CLI_OK;
  if (st != CLMP_SUCCESS)
    rc = cli_fail("devices", st, "resolving CLMP_DEVICE");
  else if (json)
    rc = print_json(list, n, &ref, pick);
  else
    print_table(list, n, &ref, pick);
  clmp_devices_free(list);
  return rc;
}
