/* tests/test_device.c: device selection rules (auto, CLMP_DEVICE, ref, cl:N, name substring),
 * capability queries, and contexts on every device present. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "harness.h"

/* A synthetic machine: a CPU, an integrated GPU and a discrete GPU, in that order. */
static void fake_list(clmp_device_info list[3]) {
  memset(list, 0, 3 * sizeof *list);
  const char *names[3] = {"pthread-cpu", "Intel(R) UHD Graphics 770", "NVIDIA H200"};
  clmp_device_kind kinds[3] = {CLMP_DEVICE_CPU, CLMP_DEVICE_IGPU, CLMP_DEVICE_GPU};
  for (int i = 0; i < 3; i++) {
    list[i].index = i;
    list[i].kind = kinds[i];
    snprintf(list[i].name, sizeof list[i].name, "%s", names[i]);
  }
}

static int pick(const char *device, const clmp_device_info *list, size_t n, clmp_status *st) {
  int index = -99;
  *st = clmp_device_select(device, list, n, &index);
  return index;
}

static void test_auto_prefers_discrete_then_integrated(void) {
  clmp_device_info l[3];
  clmp_status st;
  fake_list(l);
  unsetenv("CLMP_DEVICE");
  CU_ASSERT_EQUAL(pick(NULL, l, 3, &st), 2);
  CU_ASSERT_EQUAL(pick("auto", l, 3, &st), 2);
  CU_ASSERT_EQUAL(pick("auto", l, 2, &st), 1);  /* no discrete GPU: the integrated one */
  CU_ASSERT_EQUAL(pick("auto", l, 1, &st), 0);  /* only the CPU */
  CU_ASSERT_EQUAL(pick("auto", l, 0, &st), -1); /* no OpenCL at all: the reference */
  CU_ASSERT_EQUAL(st, CLMP_SUCCESS);
}

static void test_explicit_selection(void) {
  clmp_device_info l[3];
  clmp_status st;
  fake_list(l);
  CU_ASSERT_EQUAL(pick("ref", l, 3, &st), -1);
  CU_ASSERT_EQUAL(pick("cl:0", l, 3, &st), 0);
  CU_ASSERT_EQUAL(pick("cl:2", l, 3, &st), 2);
  CU_ASSERT_EQUAL(pick("h200", l, 3, &st), 2); /* case-insensitive substring */
  CU_ASSERT_EQUAL(pick("UHD", l, 3, &st), 1);
  CU_ASSERT_EQUAL(st, CLMP_SUCCESS);
}

static void test_no_match_lists_devices(void) {
  clmp_device_info l[3];
  clmp_status st;
  fake_list(l);
  const char *bad[] = {"cl:3", "cl:", "cl:1x", "cl:-1", "radeon"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    pick(bad[i], l, 3, &st);
    CU_ASSERT_EQUAL(st, CLMP_ERR_NO_DEVICE);
    CU_ASSERT_PTR_NOT_NULL(strstr(clmp_last_error(), "NVIDIA H200"));
    CU_ASSERT_PTR_NOT_NULL(strstr(clmp_last_error(), "ref"));
  }
  printf("\n    message: %s\n", clmp_last_error());
}

static void test_env_overrides_auto(void) {
  clmp_device_info l[3];
  clmp_status st;
  fake_list(l);
  setenv("CLMP_DEVICE", "cl:1", 1);
  CU_ASSERT_EQUAL(pick(NULL, l, 3, &st), 1);
  CU_ASSERT_EQUAL(pick("cl:0", l, 3, &st), 0); /* an explicit choice wins over the variable */
  setenv("CLMP_DEVICE", "auto", 1);
  CU_ASSERT_EQUAL(pick(NULL, l, 3, &st), 2);
  setenv("CLMP_DEVICE", "nosuch", 1);
  pick(NULL, l, 3, &st);
  CU_ASSERT_EQUAL(st, CLMP_ERR_NO_DEVICE);
  unsetenv("CLMP_DEVICE");
}

static void test_ref_context(void) {
  clmp_ctx *ctx = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_ctx_create("ref", &ctx), CLMP_SUCCESS);
  const clmp_device_info *d = clmp_ctx_device(ctx);
  CU_ASSERT_EQUAL(d->kind, CLMP_DEVICE_REF);
  CU_ASSERT_STRING_EQUAL(d->name, "ref");
  CU_ASSERT(d->max_alloc > 0);
  CU_ASSERT_EQUAL(clmp_ctx_finish(ctx), CLMP_SUCCESS);
  clmp_ctx_free(ctx);
}

/* Every OpenCL device answers the capability queries and takes a context. */
static void test_every_device_opens(void) {
  clmp_device_info *list = NULL;
  size_t n = 0;
  CU_ASSERT_EQUAL_FATAL(clmp_devices_list(&list, &n), CLMP_SUCCESS);
  printf("\n");
  for (size_t i = 0; i < n; i++) {
    const clmp_device_info *d = &list[i];
    printf("    cl:%zu %s: %u CUs, max alloc %llu, align %u, local %llu, fp16 %d, unified %d\n", i,
           d->name, d->compute_units, (unsigned long long)d->max_alloc, d->base_align,
           (unsigned long long)d->local_mem, d->fp16, d->unified_memory);
    CU_ASSERT_EQUAL(d->index, (int)i);
    CU_ASSERT(d->name[0] && d->platform[0] && d->compute_units > 0);
    CU_ASSERT(d->max_alloc > 0 && d->max_alloc <= d->global_mem && d->base_align >= 4);
    char id[32];
    snprintf(id, sizeof id, "cl:%zu", i);
    clmp_ctx *ctx = NULL;
    CU_ASSERT_EQUAL(clmp_ctx_create(id, &ctx), CLMP_SUCCESS);
    if (ctx) CU_ASSERT_STRING_EQUAL(clmp_ctx_device(ctx)->name, d->name);
    clmp_ctx_free(ctx);
  }
  clmp_devices_free(list);
}

static void test_unknown_device_fails_cleanly(void) {
  clmp_ctx *ctx = (clmp_ctx *)&ctx; /* must be reset to NULL */
  CU_ASSERT_EQUAL(clmp_ctx_create("no-such-device-anywhere", &ctx), CLMP_ERR_NO_DEVICE);
  CU_ASSERT_PTR_NULL(ctx);
}

int main(void) {
  CU_TestInfo tests[] = {
      {"auto prefers discrete, then integrated GPU", test_auto_prefers_discrete_then_integrated},
      {"ref, cl:N and name substrings", test_explicit_selection},
      {"no match lists what exists", test_no_match_lists_devices},
      {"CLMP_DEVICE stands in for auto", test_env_overrides_auto},
      {"the reference context", test_ref_context},
      {"every OpenCL device opens", test_every_device_opens},
      {"an unknown device fails cleanly", test_unknown_device_fails_cleanly},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"device", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
