/* tests/test_status.c: status names (clmp's, OpenCL's), the thread-local last error, and the
 * *_free(NULL) no-ops of the public API. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../host/runtime/error.h"
#include "clmp/clmp.h"
#include "harness.h"

static void test_names_of_own_codes(void) {
  CU_ASSERT_STRING_EQUAL(clmp_status_name(CLMP_SUCCESS), "CLMP_SUCCESS");
  CU_ASSERT_STRING_EQUAL(clmp_status_name(CLMP_ERR_NO_DEVICE), "CLMP_ERR_NO_DEVICE");
  CU_ASSERT_STRING_EQUAL(clmp_status_name(CLMP_ERR_TOO_LARGE), "CLMP_ERR_TOO_LARGE");
  CU_ASSERT(CLMP_ERR_INVALID_ARGUMENT <= -3000 && CLMP_ERR_INVALID_ARGUMENT > -3100);
}

static void test_opencl_codes_pass_through(void) {
  CU_ASSERT_STRING_EQUAL(clmp_status_name(-5), "CL_OUT_OF_RESOURCES");
  CU_ASSERT_STRING_EQUAL(clmp_status_name(-11), "CL_BUILD_PROGRAM_FAILURE");
  CU_ASSERT_STRING_EQUAL(clmp_status_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
  CU_ASSERT_STRING_EQUAL(clmp_status_name(-2045), "CLBLAST_ERROR");
  CU_ASSERT_STRING_EQUAL(clmp_status_name(12345), "UNKNOWN_STATUS");
}

/* Every code of the X-macro list has a distinct name of its own. */
static void test_every_listed_code_is_named(void) {
#define CHECK_NAME(name, value, msg) CU_ASSERT_STRING_EQUAL(clmp_status_name(value), #name);
  CLMP_STATUS_LIST(CHECK_NAME)
#undef CHECK_NAME
}

static void test_message_has_place_and_code(void) {
  clmp_status st = CLMP_FAIL(-5, "clEnqueueWriteBuffer(%d bytes)", 64);
  CU_ASSERT_EQUAL(st, -5);
  const char *msg = clmp_last_error();
  printf("\n    message: %s\n", msg);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "test_status.c:"));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "clEnqueueWriteBuffer(64 bytes)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "CL_OUT_OF_RESOURCES (-5)"));
}

static void *fail_in_thread(void *arg) {
  (void)arg;
  CLMP_FAIL(CLMP_ERR_IO, "in another thread");
  return NULL;
}

static void test_last_error_is_per_thread(void) {
  CLMP_FAIL(CLMP_ERR_FORMAT, "in the main thread");
  pthread_t t;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, fail_in_thread, NULL), 0);
  pthread_join(t, NULL);
  CU_ASSERT_PTR_NOT_NULL(strstr(clmp_last_error(), "in the main thread"));
  CU_ASSERT_PTR_NULL(strstr(clmp_last_error(), "another thread"));
}

static void test_long_messages_are_truncated_safely(void) {
  char big[40000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  CLMP_FAIL(CLMP_ERR_IO, "%s", big);
  clmp__error_append("%s", big);
  CU_ASSERT(strlen(clmp_last_error()) < sizeof big);
}

static void test_free_null_is_a_noop(void) {
  clmp_ctx_free(NULL);
  clmp_tensor_free(NULL);
  clmp_devices_free(NULL);
  CU_PASS("*_free(NULL) returned");
}

static void test_null_arguments_are_refused(void) {
  CU_ASSERT_EQUAL(clmp_ctx_create(NULL, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_devices_list(NULL, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_ctx_finish(NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_cast(NULL, NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NULL(clmp_ctx_device(NULL));
}

int main(void) {
  CU_TestInfo tests[] = {
      {"names of clmp's codes", test_names_of_own_codes},
      {"OpenCL codes pass through with their names", test_opencl_codes_pass_through},
      {"every listed code is named", test_every_listed_code_is_named},
      {"message has file:line, call and code", test_message_has_place_and_code},
      {"last error is thread-local", test_last_error_is_per_thread},
      {"long messages are truncated safely", test_long_messages_are_truncated_safely},
      {"*_free(NULL) is a no-op", test_free_null_is_a_noop},
      {"NULL arguments are refused", test_null_arguments_are_refused},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"status", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
