/* tests/test_cli.c: the clmp command run the way a user runs it, as a child process: exit
 * statuses, help texts, `clmp devices` as a table and as JSON, with and without OpenCL, and a
 * smoke run of `clmp bench --quick --json`. */
#define _POSIX_C_SOURCE 200809L

#include "clmp/version.h"
#include "harness.h"
#include "spawn.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMP_TEMPLATE  "clmp-test-cli-XXXXXX"
#define NO_DEVICE_NAME "nosuchdevice"
#define NO_ICD_NAME    "no-icd" /* the empty vendors folder under temp_root */

/* Names of the variables through which the ICD loaders (ocl-icd, Khronos) find OpenCL drivers. */
#define ICD_VENDORS_VAR   "OCL_ICD_VENDORS"
#define ICD_VENDORS_PATH  "OPENCL_VENDOR_PATH"
#define ICD_FILENAMES_VAR "OCL_ICD_FILENAMES"

static char temp_root[PATH_MAX];  /* a folder for the captured output and the empty ICD dir */
static char no_icd_dir[PATH_MAX]; /* an empty vendors folder: no OpenCL driver at all */
static char env_vendors[PATH_MAX + sizeof ICD_VENDORS_VAR + 1];
static char env_vendor_path[PATH_MAX + sizeof ICD_VENDORS_PATH + 1];

/* Children run without CLMP_DEVICE, so that "auto" means the library's own choice. An entry
 * without '=' removes the variable; NAME=value sets it. */
static const char *const default_env[] = {"CLMP_DEVICE", NULL};
static const char *const bad_device_env[] = {"CLMP_DEVICE=" NO_DEVICE_NAME, NULL};
static const char *no_opencl_env[] = {env_vendors, env_vendor_path, ICD_FILENAMES_VAR,
                                      "CLMP_DEVICE", NULL};

/* The fields that every element of `clmp devices --json` carries, with their JSON types. */
static const struct {
  const char *key;
  cJSON_bool (*is)(const cJSON *);
} device_fields[] = {
    {"id", cJSON_IsString},
    {"name", cJSON_IsString},
    {"platform", cJSON_IsString},
    {"type", cJSON_IsString},
    {"compute_units", cJSON_IsNumber},
    {"global_mem_bytes", cJSON_IsNumber},
    {"max_alloc_bytes", cJSON_IsNumber},
    {"fp16", cJSON_IsBool},
    {"unified_memory", cJSON_IsBool},
    {"auto", cJSON_IsBool},
};
#define N_DEVICE_FIELDS (sizeof device_fields / sizeof *device_fields)

/* Each section of `clmp bench --json` and the figure that every one of its rows carries. */
static const struct {
  const char *section, *figure;
} bench_figures[] = {
    {"copy", "gb_per_s"},  {"gemm", "tflops"},    {"conv", "tflops"},
    {"optim", "gb_per_s"}, {"start", "total_ms"}, {"train", "images_per_s"},
};
#define N_BENCH_SECTIONS (sizeof bench_figures / sizeof *bench_figures)

/* --- suite set-up ----------------------------------------------------------------------------- */

static int suite_init(void) {
  const char *tmp = getenv("TMPDIR");
  if (!path_join(temp_root, sizeof temp_root, tmp && *tmp ? tmp : "/tmp", TEMP_TEMPLATE) ||
      !mkdtemp(temp_root)) {
    fprintf(stderr, "test_cli: cannot create %s: %s\n", temp_root, strerror(errno));
    return 1;
  }
  if (!path_join(no_icd_dir, sizeof no_icd_dir, temp_root, NO_ICD_NAME) ||
      mkdir(no_icd_dir, S_IRWXU) != 0) {
    fprintf(stderr, "test_cli: cannot create %s: %s\n", no_icd_dir, strerror(errno));
    rmdir(temp_root);
    return 1;
  }
  if (!spawn_init(temp_root)) return 1;
  snprintf(env_vendors, sizeof env_vendors, ICD_VENDORS_VAR "=%s", no_icd_dir);
  snprintf(env_vendor_path, sizeof env_vendor_path, ICD_VENDORS_PATH "=%s", no_icd_dir);
  return 0;
}

static int suite_cleanup(void) {
  rmdir(no_icd_dir);
  rmdir(temp_root);
  return 0;
}

/* --- the top-level command -------------------------------------------------------------------- */

static void test_help(void) {
  struct run r;
  RUN(&r, default_env, "--help");
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT_IN(&r, r.out, "devices");
  run_free(&r);
}

static void test_no_arguments(void) {
  struct run r;
  run_clmp(&r, default_env, (const char *const[]){NULL});
  EXPECT_EXIT(&r, EXIT_USAGE);
  EXPECT_IN(&r, r.err, "usage");
  run_free(&r);
}

static void test_version(void) {
  struct run r;
  RUN(&r, default_env, "--version");
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT_IN(&r, r.out, CLMP_VERSION_STRING);
  run_free(&r);
}

static void test_unknown_command(void) {
  struct run r;
  RUN(&r, default_env, "nosuch");
  EXPECT_EXIT(&r, EXIT_USAGE);
  EXPECT_IN(&r, r.err, "'nosuch' is not a clmp command");
  run_free(&r);
}

/* CLMP_PROFILE=1: a verify run on the default OpenCL device ends with the per-kernel table,
 * which names the step's two kernels; without it, no table. */
static void test_profile(void) {
  static const char *const on[] = {"CLMP_DEVICE", "CLMP_PROFILE=1", NULL};
  struct run r;
  RUN(&r, on, "verify", "--device", "cl:0", "--op", "optim_step");
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT_IN(&r, r.err, "clmp profile");
  EXPECT_IN(&r, r.err, "amp_check_partial");
  EXPECT_IN(&r, r.err, "amp_step");
  EXPECT(&r, !contains(r.err, "amp_update"), "the scaler update runs inside amp_step");
  run_free(&r);
  RUN(&r, default_env, "verify", "--device", "cl:0", "--op", "optim_step");
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT(&r, !contains(r.err, "clmp profile"), "no profile without CLMP_PROFILE");
  run_free(&r);
}

/* --- clmp devices: usage ---------------------------------------------------------------------- */

static void test_devices_help(void) {
  struct run r;
  RUN(&r, default_env, "devices", "--help");
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT_IN(&r, r.out, "--json");
  run_free(&r);
}

/* The other subcommands: help, and a bad value that names its option with usage status 2. */
static void test_train_and_verify_usage(void) {
  struct run r;
  RUN(&r, default_env, "train", "--help");
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT_IN(&r, r.out, "--precision");
  run_free(&r);
  RUN(&r, default_env, "train", "--precision", "fp8");
  EXPECT_EXIT(&r, EXIT_USAGE);
  EXPECT_IN(&r, r.err, "--precision");
  run_free(&r);
  RUN(&r, default_env, "train", "--data", "/nonexistent/clmp-data", "--device", "ref");
  EXPECT_EXIT(&r, EXIT_FAILED);
  EXPECT_IN(&r, r.err, "/nonexistent/clmp-data");
  run_free(&r);
  RUN(&r, default_env, "verify", "--help");
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT_IN(&r, r.out, "--op");
  run_free(&r);
  RUN(&r, default_env, "verify", "--bogus");
  EXPECT_EXIT(&r, EXIT_USAGE);
  run_free(&r);
}

static void test_devices_bad_option(void) {
  struct run r;
  RUN(&r, default_env, "devices", "--bogus");
  EXPECT_EXIT(&r, EXIT_USAGE);
  EXPECT_IN(&r, r.err, "--bogus");
  run_free(&r);
}

static void test_devices_extra_argument(void) {
  struct run r;
  RUN(&r, default_env, "devices", "extra");
  EXPECT_EXIT(&r, EXIT_USAGE);
  EXPECT_IN(&r, r.err, "extra");
  run_free(&r);
}

/* --- clmp devices: the table ------------------------------------------------------------------ */

/* What the table shows: rows are "<mark> <id> ...", mark '*' on the one "auto" picks. */
struct table_scan {
  int marked; /* rows marked '*' */
  int ref;    /* rows whose id is "ref" */
  int auto_line;
};

static void scan_table(const char *text, struct table_scan *s) {
  memset(s, 0, sizeof *s);
  for (const char *line = text; line && *line;) {
    bool row = line[0] == '*' || (line[0] == ' ' && line[1] == ' ' && line[2] != ' ');
    if (row && line[0] == '*') s->marked++;
    if (row && !strncmp(line + 2, "ref ", strlen("ref "))) s->ref++;
    if (!strncmp(line, "auto:", strlen("auto:"))) s->auto_line++;
    const char *nl = strchr(line, '\n');
    line = nl ? nl + 1 : NULL;
  }
}

static void test_devices_table(void) {
  struct run r;
  struct table_scan s;
  RUN(&r, default_env, "devices");
  EXPECT_EXIT(&r, EXIT_OK);
  scan_table(r.out ? r.out : "", &s);
  EXPECT(&r, s.ref == 1, "one row with id 'ref'");
  EXPECT(&r, s.marked == 1, "exactly one row marked '*'");
  EXPECT(&r, s.auto_line == 1, "one 'auto:' line");
  run_free(&r);
}

/* --- clmp devices --json ---------------------------------------------------------------------- */

/* Runs `clmp devices --json` with extra; returns the parsed document (NULL after a failed check).
 */
static cJSON *devices_json(struct run *r, const char *const *extra) {
  RUN(r, extra, "devices", "--json");
  EXPECT_EXIT(r, EXIT_OK);
  cJSON *root = r->out ? cJSON_Parse(r->out) : NULL;
  EXPECT(r, root != NULL, "stdout parses as JSON");
  cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "devices");
  EXPECT(r, cJSON_IsArray(list) && cJSON_GetArraySize(list) > 0, "a non-empty \"devices\" array");
  if (cJSON_IsArray(list) && cJSON_GetArraySize(list) > 0) return root;
  cJSON_Delete(root);
  return NULL;
}

static const char *string_of(const cJSON *obj, const char *key) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
  return s ? s : "";
}

/* Every element carries every field of device_fields with its type. */
static void check_device_fields(const struct run *r, const cJSON *list) {
  const cJSON *dev;
  cJSON_ArrayForEach(dev, list) {
    for (size_t i = 0; i < N_DEVICE_FIELDS; i++) {
      char what[128];
      snprintf(what, sizeof what, "device \"%s\" has field \"%s\" of the right type",
               string_of(dev, "id"), device_fields[i].key);
      EXPECT(r, device_fields[i].is(cJSON_GetObjectItemCaseSensitive(dev, device_fields[i].key)),
             what);
    }
  }
}

/* The last element is ref; exactly one has "auto": true and its id is the top-level "auto". */
static void check_auto(const struct run *r, const cJSON *root) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "devices");
  const cJSON *dev, *picked = NULL;
  int n_auto = 0;
  cJSON_ArrayForEach(dev, list) {
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dev, "auto"))) n_auto++, picked = dev;
  }
  const cJSON *last = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1);
  EXPECT(r, !strcmp(string_of(last, "id"), "ref"), "the last device is \"ref\"");
  EXPECT(r, n_auto == 1, "exactly one device has \"auto\": true");
  EXPECT(r, picked && !strcmp(string_of(picked, "id"), string_of(root, "auto")),
         "the top-level \"auto\" is the id of the device marked \"auto\": true");
}

static bool has_platform(const cJSON *list, const char *platform) {
  const cJSON *dev;
  cJSON_ArrayForEach(dev, list) {
    if (!strcmp(string_of(dev, "platform"), platform)) return true;
  }
  return false;
}

/* Each name of CLMP_TEST_EXPECT_PLATFORMS (comma-separated) is the platform of some device. */
static void check_expected_platforms(const struct run *r, const cJSON *list) {
  const char *want = getenv("CLMP_TEST_EXPECT_PLATFORMS");
  char *copy = want ? strdup(want) : NULL, *save = NULL;
  if (!copy) return;
  for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
    char what[256];
    snprintf(what, sizeof what, "a device of platform \"%s\" (CLMP_TEST_EXPECT_PLATFORMS)", name);
    EXPECT(r, has_platform(list, name), what);
  }
  free(copy);
}

static void test_devices_json(void) {
  struct run r;
  cJSON *root = devices_json(&r, default_env);
  if (root) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "devices");
    check_device_fields(&r, list);
    check_auto(&r, root);
    check_expected_platforms(&r, list);
  }
  cJSON_Delete(root);
  run_free(&r);
}

/* --- device selection errors and no OpenCL at all --------------------------------------------- */

/* CLMP_DEVICE naming nothing: exit 1, and the message lists what exists so the user can pick. */
static void test_devices_bad_env_device(void) {
  struct run listing, r;
  cJSON *root = devices_json(&listing, default_env);
  RUN(&r, bad_device_env, "devices");
  EXPECT_EXIT(&r, EXIT_FAILED);
  EXPECT_IN(&r, r.err, NO_DEVICE_NAME);
  EXPECT_IN(&r, r.err, "ref");
  const cJSON *dev;
  cJSON_ArrayForEach(dev, cJSON_GetObjectItemCaseSensitive(root, "devices")) {
    char what[256];
    snprintf(what, sizeof what, "stderr names device \"%s\"", string_of(dev, "name"));
    if (strcmp(string_of(dev, "id"), "ref") != 0)
      EXPECT(&r, contains(r.err, string_of(dev, "name")), what);
  }
  cJSON_Delete(root);
  run_free(&listing);
  run_free(&r);
}

static void test_devices_without_opencl(void) {
  struct run r;
  cJSON *root = devices_json(&r, no_opencl_env);
  if (root) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "devices");
    EXPECT(&r, cJSON_GetArraySize(list) == 1, "only one device");
    EXPECT(&r, !strcmp(string_of(cJSON_GetArrayItem(list, 0), "id"), "ref"), "it is \"ref\"");
    EXPECT(&r, !strcmp(string_of(root, "auto"), "ref"), "\"auto\" is \"ref\"");
    check_device_fields(&r, list);
  }
  cJSON_Delete(root);
  run_free(&r);
}

/* --- clmp bench ------------------------------------------------------------------------------- */

static double number_of(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Every section has rows, each with a positive figure; the references are there too. */
static void check_bench_sections(const struct run *r, const cJSON *root) {
  for (size_t i = 0; i < N_BENCH_SECTIONS; i++) {
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, bench_figures[i].section), "rows");
    char what[160];
    snprintf(what, sizeof what, "section \"%s\" has rows", bench_figures[i].section);
    EXPECT(r, cJSON_GetArraySize(rows) > 0, what);
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
      snprintf(what, sizeof what, "every row of \"%s\" has \"%s\" > 0", bench_figures[i].section,
               bench_figures[i].figure);
      EXPECT(r, number_of(row, bench_figures[i].figure) > 0, what);
    }
  }
  const cJSON *optim = cJSON_GetObjectItemCaseSensitive(root, "optim");
  EXPECT(r,
         number_of(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(optim, "rows"), 0),
                   "ratio_to_copy") > 0,
         "optim rows carry their ratio to the copy bandwidth");
  EXPECT(r, number_of(cJSON_GetObjectItemCaseSensitive(root, "start"), "ratio_cold_to_warm") > 0,
         "start has the ratio cold / warm");
}

/* The whole bench in its smoke form on the reference device, as JSON (a few seconds). */
static void test_bench_quick_json(void) {
  struct run r;
  RUN(&r, default_env, "bench", "--quick", "--json", "--device", "ref");
  EXPECT_EXIT(&r, EXIT_OK);
  cJSON *root = r.out ? cJSON_Parse(r.out) : NULL;
  EXPECT(&r, root != NULL, "stdout parses as JSON");
  EXPECT(&r, !strcmp(string_of(root, "clmp_version"), CLMP_VERSION_STRING), "the clmp version");
  EXPECT(&r, !strcmp(string_of(cJSON_GetObjectItemCaseSensitive(root, "device"), "id"), "ref"),
         "the device is ref");
  if (root) check_bench_sections(&r, root);
  cJSON_Delete(root);
  run_free(&r);
}

/* Usage errors name what is wrong; a device that does not exist fails with status 1. */
static void test_bench_errors(void) {
  struct run r;
  RUN(&r, default_env, "bench", "--help");
  EXPECT_EXIT(&r, EXIT_OK);
  EXPECT_IN(&r, r.out, "--only");
  run_free(&r);
  RUN(&r, default_env, "bench", "--only", "copy,nosuch");
  EXPECT_EXIT(&r, EXIT_USAGE);
  EXPECT_IN(&r, r.err, "'nosuch'");
  run_free(&r);
  RUN(&r, default_env, "bench", "--quick", "--device", NO_DEVICE_NAME);
  EXPECT_EXIT(&r, EXIT_FAILED);
  EXPECT_IN(&r, r.err, NO_DEVICE_NAME);
  run_free(&r);
}

int main(void) {
  static CU_TestInfo command_tests[] = {
      {"--help lists the commands", test_help},
      {"no arguments is a usage error", test_no_arguments},
      {"--version prints the version", test_version},
      {"an unknown command is a usage error", test_unknown_command},
      {"CLMP_PROFILE=1 prints the kernels' times", test_profile},
      CU_TEST_INFO_NULL,
  };
  static CU_TestInfo devices_tests[] = {
      {"devices --help mentions --json", test_devices_help},
      {"devices --bogus names the option", test_devices_bad_option},
      {"train and verify: help and bad values", test_train_and_verify_usage},
      {"devices with an extra argument", test_devices_extra_argument},
      {"devices table: ref, one '*', auto line", test_devices_table},
      {"devices --json: fields and auto", test_devices_json},
      {"CLMP_DEVICE naming nothing fails and lists devices", test_devices_bad_env_device},
      {"no OpenCL driver: only ref", test_devices_without_opencl},
      CU_TEST_INFO_NULL,
  };
  static CU_TestInfo bench_tests[] = {
      {"bench --quick --json on ref: every section, positive figures", test_bench_quick_json},
      {"bench: help, bad --only, unknown device", test_bench_errors},
      CU_TEST_INFO_NULL,
  };
  CU_SuiteInfo suites[] = {
      {"clmp", suite_init, suite_cleanup, NULL, NULL, command_tests},
      {"clmp devices", suite_init, suite_cleanup, NULL, NULL, devices_tests},
      {"clmp bench", suite_init, suite_cleanup, NULL, NULL, bench_tests},
      CU_SUITE_INFO_NULL,
  };
  return clmp_test_main(suites);
}
