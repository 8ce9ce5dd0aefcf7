/* tests/test_program.c: kernel programs built at run time and the on-disk binary cache: warm
 * builds served from it (and faster), damaged, truncated and refused entries rebuilt and
 * replaced, an unwritable cache folder, two processes filling one cache, failed builds. */
#include <dirent.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../host/runtime/ptx.h"
#include "../host/runtime/runtime.h"
#include "clmp/clmp.h"
#include "harness.h"

extern char **environ;

/* The program every test builds; clmp_cast asks for the same options, so the check below runs
 * the very program that came from the cache. */
#define PROGRAM  "cast"
#define OPTIONS  "-DIN_DT=F32 -DOUT_DT=F16"
#define CHECK_N  1000
#define CHILDREN 4

static clmp_device_info *devs;
static size_t ndevs;
static char base_dir[4096];

static int suite_init(void) {
  if (clmp_devices_list(&devs, &ndevs) != CLMP_SUCCESS) return -1;
  const char *root = getenv("CLMP_CACHE_DIR");
  snprintf(base_dir, sizeof base_dir, "%s/test_program.XXXXXX", root ? root : "/tmp");
  if (root) mkdir(root, 0755);
  return mkdtemp(base_dir) ? 0 : -1;
}

static int suite_clean(void) {
  clmp_devices_free(devs);
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A fresh cache folder for one test and device; CLMP_CACHE_DIR points at it. */
static void fresh_cache(const char *test, size_t dev, char *dir, size_t size) {
  snprintf(dir, size, "%s/%s-%zu", base_dir, test, dev);
  mkdir(dir, 0755);
  setenv("CLMP_CACHE_DIR", dir, 1);
}

/* clmp_cast f32 -> f16 on the context agrees with the host conversion. */
static int cast_works(clmp_ctx *ctx) {
  float in[CHECK_N];
  uint16_t out[CHECK_N];
  for (int i = 0; i < CHECK_N; i++) in[i] = (float)i * 0.37f - 100.0f;
  size_t shape[1] = {CHECK_N};
  clmp_tensor *a = NULL, *b = NULL;
  int ok = clmp_tensor_create(ctx, CLMP_F32, 1, shape, &a) == CLMP_SUCCESS &&
           clmp_tensor_create(ctx, CLMP_F16, 1, shape, &b) == CLMP_SUCCESS &&
           clmp_tensor_write(a, CLMP_F32, in, CHECK_N) == CLMP_SUCCESS &&
           clmp_cast(a, b) == CLMP_SUCCESS && clmp_tensor_read(b, CLMP_F16, out, CHECK_N) == 0;
  for (int i = 0; ok && i < CHECK_N; i++) ok = out[i] == clmp_f32_to_f16(in[i]);
  clmp_tensor_free(a);
  clmp_tensor_free(b);
  return ok;
}

/* Builds PROGRAM on a new context of device i; returns seconds (-1 on failure) and the stats. */
static double build_once(size_t i, clmp__cache_stats *stats, int check) {
  char id[32];
  snprintf(id, sizeof id, "cl:%zu", i);
  clmp_ctx *ctx = NULL;
  if (clmp_ctx_create(id, &ctx) != CLMP_SUCCESS) return -1;
  cl_program p = NULL;
  double t0 = now();
  clmp_status st = clmp__program_get(ctx, PROGRAM, OPTIONS, &p);
  double t = now() - t0;
  *stats = ctx->cache;
  if (st != CLMP_SUCCESS) printf("\n    build failed: %s\n", clmp_last_error());
  if (st == CLMP_SUCCESS && check && !cast_works(ctx)) t = -1;
  clmp_ctx_free(ctx);
  return st == CLMP_SUCCESS ? t : -1;
}

/* Applies fn to every cache entry (*.clbin) of dir; returns how many there are. */
static int for_each_entry(const char *dir, void (*fn)(const char *path)) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 6, ".clbin")) continue;
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (fn) fn(path);
    n++;
  }
  closedir(d);
  return n;
}

static int count_temporaries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
  if (d) closedir(d);
  return n;
}

static void test_warm_build_comes_from_cache(void) {
  for (size_t i = 0; i < ndevs; i++) {
    char dir[4300];
    fresh_cache("warm", i, dir, sizeof dir);
    clmp__cache_stats cold, warm;
    double t_cold = build_once(i, &cold, 1), t_warm = build_once(i, &warm, 1);
    printf("\n    %s: cold build %.1f ms, warm (cache) %.1f ms, %.1fx", devs[i].name, 1e3 * t_cold,
           1e3 * t_warm, t_cold / t_warm);
    CU_ASSERT(t_cold >= 0 && t_warm >= 0);
    if (!clmp__binary_cache_usable(&devs[i])) {
      printf(" (binaries are not cached on this driver)");
      CU_ASSERT_EQUAL(warm.disk_hits + warm.disk_writes + cold.disk_writes, 0);
      CU_ASSERT_EQUAL(for_each_entry(dir, NULL), 0);
      continue;
    }
    CU_ASSERT_EQUAL(cold.disk_misses, 1);
    CU_ASSERT_EQUAL(cold.disk_writes, 1);
    CU_ASSERT_EQUAL(warm.disk_hits, 1);
    CU_ASSERT_EQUAL(warm.disk_writes, 0);
    CU_ASSERT_EQUAL(for_each_entry(dir, NULL), 1);
  }
}

static void flip_middle_byte(const char *path) {
  FILE *f = fopen(path, "r+b");
  if (!f) return;
  fseek(f, 0, SEEK_END);
  long mid = ftell(f) / 2;
  fseek(f, mid, SEEK_SET);
  int c = fgetc(f);
  fseek(f, mid, SEEK_SET);
  fputc(c ^ 0x5a, f);
  fclose(f);
}

static void truncate_half(const char *path) {
  struct stat sb;
  if (stat(path, &sb) == 0) CU_ASSERT_EQUAL(truncate(path, sb.st_size / 2), 0);
}

static void empty_file(const char *path) {
  CU_ASSERT_EQUAL(truncate(path, 0), 0);
}

/* Damages the entry after a first build; the next build rejects it, rebuilds, replaces it, and
 * the one after that is a clean hit. */
static void damaged_entry_is_replaced(const char *name, void (*damage)(const char *path)) {
  for (size_t i = 0; i < ndevs; i++) {
    if (!clmp__binary_cache_usable(&devs[i])) continue;
    char dir[4300];
    fresh_cache(name, i, dir, sizeof dir);
    clmp__cache_stats s1, s2, s3;
    CU_ASSERT(build_once(i, &s1, 0) >= 0);
    CU_ASSERT_EQUAL(for_each_entry(dir, damage), 1);
    CU_ASSERT(build_once(i, &s2, 1) >= 0);
    CU_ASSERT_EQUAL(s2.disk_rejects, 1);
    CU_ASSERT_EQUAL(s2.disk_writes, 1);
    CU_ASSERT(build_once(i, &s3, 1) >= 0);
    CU_ASSERT_EQUAL(s3.disk_hits, 1);
    CU_ASSERT_EQUAL(s3.disk_rejects, 0);
  }
}

static void test_corrupted_entry(void) {
  damaged_entry_is_replaced("corrupt", flip_middle_byte);
}

static void test_truncated_entry(void) {
  damaged_entry_is_replaced("truncated", truncate_half);
  damaged_entry_is_replaced("empty", empty_file);
}

/* An entry whose layout, key and checksum are right but whose binary the driver refuses. */
static void garbage_binary(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char head[24];
  CU_ASSERT_FATAL(f && fread(head, 1, sizeof head, f) == sizeof head);
  size_t key_len = 0;
  for (int b = 7; b >= 0; b--) key_len = key_len << 8 | head[8 + b];
  char *key = malloc(key_len);
  CU_ASSERT_FATAL(key && fread(key, 1, key_len, f) == key_len);
  fclose(f);
  const unsigned char junk[] = "this is not a program binary";
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  *strrchr(dir, '/') = '\0';
  CU_ASSERT_EQUAL(clmp__cache_store(dir, key, key_len, junk, sizeof junk), 0);
  free(key);
}

static void test_refused_binary(void) {
  damaged_entry_is_replaced("refused", garbage_binary);
}

static void test_unwritable_cache_folder(void) {
  for (size_t i = 0; i < ndevs; i++) {
    if (!clmp__binary_cache_usable(&devs[i])) continue;
    char dir[4300], file[4400];
    fresh_cache("unwritable", i, dir, sizeof dir);
    /* A path under a regular file can never be created, even by root. */
    snprintf(file, sizeof file, "%s/not-a-folder", dir);
    FILE *f = fopen(file, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    snprintf(file, sizeof file, "%s/not-a-folder/cache", dir);
    setenv("CLMP_CACHE_DIR", file, 1);
    clmp__cache_stats s;
    CU_ASSERT(build_once(i, &s, 1) >= 0);
    CU_ASSERT_EQUAL(s.write_failures, 1);
    CU_ASSERT_EQUAL(s.disk_hits, 0);
  }
}

static void test_cache_off(void) {
  for (size_t i = 0; i < ndevs; i++) {
    char dir[4300];
    fresh_cache("off", i, dir, sizeof dir);
    setenv("CLMP_CACHE", "0", 1);
    clmp__cache_stats s;
    CU_ASSERT(build_once(i, &s, 1) >= 0);
    CU_ASSERT(build_once(i, &s, 1) >= 0);
    unsetenv("CLMP_CACHE");
    CU_ASSERT_EQUAL(s.disk_hits + s.disk_writes, 0);
    CU_ASSERT_EQUAL(for_each_entry(dir, NULL), 0);
  }
}

/* Child mode: build once on the device given and exit 0 on success. */
static int child_build(const char *index) {
  clmp__cache_stats s;
  return build_once((size_t)atoi(index), &s, 1) >= 0 ? 0 : 1;
}

static void test_two_processes_fill_one_cache(void) {
  for (size_t i = 0; i < ndevs; i++) {
    if (!clmp__binary_cache_usable(&devs[i])) continue;
    char dir[4300], index[32];
    fresh_cache("concurrent", i, dir, sizeof dir);
    snprintf(index, sizeof index, "%zu", i);
    char *argv[] = {"test_program", "--child-build", index, NULL};
    pid_t pids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++)
      CU_ASSERT_EQUAL(posix_spawn(&pids[c], "/proc/self/exe", NULL, NULL, argv, environ), 0);
    for (int c = 0; c < CHILDREN; c++) {
      int status = -1;
      waitpid(pids[c], &status, 0);
      CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CU_ASSERT_EQUAL(for_each_entry(dir, NULL), 1);
    CU_ASSERT_EQUAL(count_temporaries(dir), 0);
    clmp__cache_stats s;
    CU_ASSERT(build_once(i, &s, 1) >= 0);
    CU_ASSERT_EQUAL(s.disk_hits, 1);
  }
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
}

/* Kernels from CLMP_KERNEL_DIR; a broken one fails with its log and options in the message. */
static void test_kernel_dir_and_failed_build(void) {
  char dir[4300];
  fresh_cache("kerneldir", 0, dir, sizeof dir);
  write_text(dir, "common.cl", "/* prelude */\n");
  write_text(dir, "good.cl", "__kernel void k(__global int *p) { p[0] = PROBE; }\n");
  write_text(dir, "broken.cl", "__kernel void k(__global int *p) { p[0] = undeclared_thing; }\n");
  setenv("CLMP_KERNEL_DIR", dir, 1);
  for (size_t i = 0; i < ndevs; i++) {
    char id[32];
    snprintf(id, sizeof id, "cl:%zu", i);
    clmp_ctx *ctx = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_ctx_create(id, &ctx), CLMP_SUCCESS);
    cl_program p = NULL;
    CU_ASSERT_EQUAL(clmp__program_get(ctx, "good", "-DPROBE=7", &p), CLMP_SUCCESS);
    clmp_status st = clmp__program_get(ctx, "broken", "-DMARKER_OPTION=1", &p);
    const char *msg = clmp_last_error();
    printf("\n    %s: %s\n    message: %.400s\n", devs[i].name, clmp_status_name(st), msg);
    CU_ASSERT_EQUAL(st, CL_BUILD_PROGRAM_FAILURE);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "broken.cl"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "-DMARKER_OPTION=1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "undeclared_thing"));
    CU_ASSERT_EQUAL(clmp__program_get(ctx, "nosuch", NULL, &p), CLMP_ERR_KERNEL_NOT_FOUND);
    CU_ASSERT_EQUAL(clmp__program_get(ctx, "../good", NULL, &p), CLMP_ERR_INVALID_ARGUMENT);
    clmp_ctx_free(ctx);
  }
  unsetenv("CLMP_KERNEL_DIR");
}

/* The sm_90a pass on PTX text: the first sm_90 target gains its "a", each "// clmp:" comment
 * becomes its instruction, everything else stays; PTX without an sm_90 target is refused. */
static void test_ptx_sm90a_rewrite(void) {
  int retargeted = -1;
  char *out = clmp__ptx_rewrite(".version 9.0\n.target sm_90, texmode_independent\n"
                                "\t// clmp:wgmma.fence.sync.aligned;\n"
                                "\tmov.u32 %r1, 0; // kept\n// .target sm_90 in a comment\n",
                                &retargeted);
  CU_ASSERT_FATAL(out != NULL);
  CU_ASSERT_EQUAL(retargeted, 1);
  CU_ASSERT_STRING_EQUAL(out, ".version 9.0\n.target sm_90a, texmode_independent\n"
                              "\twgmma.fence.sync.aligned;\n"
                              "\tmov.u32 %r1, 0; // kept\n// .target sm_90 in a comment\n");
  free(out);
  const char *refused[] = {".target sm_90a\n// clmp:x\n", ".target sm_80\n", ".target sm_900\n",
                           ""};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    retargeted = -1;
    CU_ASSERT_PTR_NULL(clmp__ptx_rewrite(refused[i], &retargeted));
    CU_ASSERT_EQUAL(retargeted, 0);
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--child-build")) return child_build(argv[2]);
  CU_TestInfo tests[] = {
      {"warm build is served from the cache", test_warm_build_comes_from_cache},
      {"corrupted entry is rebuilt and replaced", test_corrupted_entry},
      {"truncated entry is rebuilt and replaced", test_truncated_entry},
      {"refused binary is rebuilt and replaced", test_refused_binary},
      {"unwritable cache folder: the build still works", test_unwritable_cache_folder},
      {"CLMP_CACHE=0 turns the cache off", test_cache_off},
      {"two processes fill one cache", test_two_processes_fill_one_cache},
      {"CLMP_KERNEL_DIR and a failed build", test_kernel_dir_and_failed_build},
      {"sm_90a PTX pass", test_ptx_sm90a_rewrite},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"program", suite_init, suite_clean, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
