/* tests/harness.c: the shared CUnit runner and helpers of clmp's test programs. */
#include "harness.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int clmp_test_main(CU_SuiteInfo *suites) {
  if (CU_initialize_registry() != CUE_SUCCESS) {
    fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
    return 2;
  }
  if (CU_register_suites(suites) != CUE_SUCCESS) {
    fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
    CU_cleanup_registry();
    return 2;
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  unsigned suites_failed = CU_get_number_of_suites_failed();
  unsigned run = CU_get_number_of_tests_run();
  CU_cleanup_registry();
  printf("\n");
  return (failed || suites_failed || run == 0) ? 1 : 0;
}

uint64_t clmp_test_stride(void) {
  const char *s = getenv("CLMP_TEST_STRIDE");
  if (!s || !*s) return 1;
  unsigned long long v = strtoull(s, NULL, 10);
  return v ? (uint64_t)v : 1;
}

int clmp_test_work_dir(char *buf, size_t size, const char *name) {
  const char *root = getenv("CLMP_CACHE_DIR");
  if (root) mkdir(root, 0755);
  int n = snprintf(buf, size, "%s/%s.XXXXXX", root ? root : "/tmp", name);
  return n > 0 && (size_t)n < size && mkdtemp(buf) ? 0 : -1;
}

uint64_t clmp_test_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

size_t clmp_test_dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  size_t n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n++;
  if (d) closedir(d);
  return n;
}

unsigned char *clmp_test_read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  unsigned char *b = NULL;
  long size = f && !fseek(f, 0, SEEK_END) ? ftell(f) : -1;
  *n = 0;
  if (size >= 0 && !fseek(f, 0, SEEK_SET) && (b = malloc((size_t)size + 1)))
    *n = fread(b, 1, (size_t)size, f);
  if (f) fclose(f);
  return b;
}
