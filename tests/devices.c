/* tests/devices.c: the devices a kernel suite runs on: every OpenCL device present, plus the
 * reference, each with one context shared by the whole suite. */
#include "devices.h"

#include <stdio.h>

clmp_test_device clmp_test_devs[CLMP_TEST_MAX_DEVICES];
int clmp_test_ndevs;

static int open_one(const char *id) {
  clmp_test_device *d = &clmp_test_devs[clmp_test_ndevs];
  snprintf(d->id, sizeof d->id, "%s", id);
  clmp_status st = clmp_ctx_create(id, &d->ctx);
  if (st != CLMP_SUCCESS) {
    fprintf(stderr, "context on %s failed: %s: %s\n", id, clmp_status_name(st), clmp_last_error());
    return -1;
  }
  printf("  device %s: %s (%s)\n", id, clmp_ctx_device(d->ctx)->name,
         clmp_ctx_device(d->ctx)->platform);
  clmp_test_ndevs++;
  return 0;
}

int clmp_test_devices_open(int with_ref) {
  clmp_device_info *list = NULL;
  size_t n = 0;
  clmp_test_ndevs = 0;
  if (clmp_devices_list(&list, &n) != CLMP_SUCCESS) return -1;
  clmp_devices_free(list);
  printf("\n");
  for (size_t i = 0; i < n && clmp_test_ndevs < CLMP_TEST_MAX_DEVICES - 1; i++) {
    char id[32];
    snprintf(id, sizeof id, "cl:%zu", i);
    if (open_one(id) != 0) return clmp_test_devices_close(), -1;
  }
  if (with_ref && open_one("ref") != 0) return clmp_test_devices_close(), -1;
  return clmp_test_ndevs;
}

int clmp_test_devices_close(void) {
  for (int i = 0; i < clmp_test_ndevs; i++) clmp_ctx_free(clmp_test_devs[i].ctx);
  clmp_test_ndevs = 0;
  return 0;
}
