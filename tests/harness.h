/* tests/harness.h: the shared CUnit runner and helpers of clmp's test programs. */
#ifndef CLMP_TESTS_HARNESS_H
#define CLMP_TESTS_HARNESS_H

#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>

/* Runs the NULL-terminated suites with CUnit's basic interface (verbose), prints the summary and
 * returns the process exit status: 0 only when every assertion passed and none failed to run. */
int clmp_test_main(CU_SuiteInfo *suites);

/* The stride of exhaustive sweeps: 1 (every input) unless CLMP_TEST_STRIDE says otherwise, as in
 * the valgrind run, where memory checking, not numerics, is the point. */
uint64_t clmp_test_stride(void);

/* Makes a fresh folder for a suite's files, <CLMP_CACHE_DIR or /tmp>/<name>.XXXXXX, into buf;
 * 0 on success. */
int clmp_test_work_dir(char *buf, size_t size, const char *name);

/* A small, seeded generator (splitmix64), so that random inputs are reproducible. */
uint64_t clmp_test_rand(uint64_t *state);

/* The number of entries of a folder ("." and ".." included); 0 when it cannot be read. */
size_t clmp_test_dir_entries(const char *dir);

/* A whole file as a malloc'd buffer of *n bytes; NULL when it cannot be read. */
unsigned char *clmp_test_read_file(const char *path, size_t *n);

#endif
