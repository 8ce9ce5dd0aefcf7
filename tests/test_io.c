/* tests/test_io.c: the file formats of clmp train: IDX (plain, gzip, the real Fashion-MNIST files,
 * damaged inputs) and safetensors (round trip, byte layout against a file built by hand, damaged
 * files, atomic save that leaves the old file intact when it fails). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "clmp/clmp.h"
#include "harness.h"

/* Internal to host/io/idx.c: clmp_idx_read with a limit of our choosing. */
clmp_status clmp__idx_read_limited(const char *path, size_t limit, clmp_idx *out);

#define PATH_MAX_LEN     4096
#define DIR_MAX_LEN      1024 /* folders, so that a name appended fits in PATH_MAX_LEN */
#define TEMP_TEMPLATE    "/tmp/clmp-test-io-XXXXXX"
#define SEED             0x10f11e5ull
#define FASHION_DIR      "/usr/share/datasets/fashion-mnist"
#define FASHION_CLASSES  10
#define FASHION_SIDE     28
#define FASHION_TRAIN    60000
#define FASHION_TEST     10000
#define IDX_HDR_MAX      (4 + 4 * 4)
#define IDX_BIG_BYTES    (3u * 512u * 1024u) /* beyond the reader's first 1 MiB buffer */
#define GZ_RANDOM_BYTES  4096                /* random data: the gzip stream stays long */
#define FSIZE_LIMIT      4096                /* RLIMIT_FSIZE while a save must fail */
#define BIG_TENSOR_BYTES (64u * 1024u)       /* well beyond FSIZE_LIMIT */
#define ST_LEN_BYTES     8
#define ST_ALIGN         8
#define PY_OUT_MAX       512

static char temp_root[sizeof TEMP_TEMPLATE];

/* --- assertions that print both sides ------------------------------------------------------- */

#define EXPECT_U64(got, want)      expect_u64((uint64_t)(got), (uint64_t)(want), #got, __LINE__)
#define EXPECT_STATUS(got, want)   expect_status((got), (want), #got, __LINE__)
#define EXPECT_MSG_HAS(needle)     expect_msg_has((needle), __LINE__)
#define EXPECT_STR(got, want)      expect_str((got), (want), #got, __LINE__)
#define EXPECT_BYTES(got, want, n) expect_bytes((got), (want), (n), #got, __LINE__)

static void expect_u64(uint64_t got, uint64_t want, const char *expr, int line) {
  if (got != want)
    printf("\n    line %d: %s is %llu, want %llu\n", line, expr, (unsigned long long)got,
           (unsigned long long)want);
  CU_assertImplementation(got == want, (unsigned)line, expr, __FILE__, "", CU_FALSE);
}

static void expect_status(clmp_status got, clmp_status want, const char *expr, int line) {
  if (got != want)
    printf("\n    line %d: %s is %s, want %s (last error: %s)\n", line, expr, clmp_status_name(got),
           clmp_status_name(want), clmp_last_error());
  CU_assertImplementation(got == want, (unsigned)line, expr, __FILE__, "", CU_FALSE);
}

static void expect_msg_has(const char *needle, int line) {
  int ok = strstr(clmp_last_error(), needle) != NULL;
  if (!ok)
    printf("\n    line %d: the last error \"%s\" lacks \"%s\"\n", line, clmp_last_error(), needle);
  CU_assertImplementation(ok, (unsigned)line, needle, __FILE__, "", CU_FALSE);
}

static void expect_str(const char *got, const char *want, const char *expr, int line) {
  int ok = got && want ? strcmp(got, want) == 0 : got == want;
  if (!ok)
    printf("\n    line %d: %s is \"%s\", want \"%s\"\n", line, expr, got ? got : "(NULL)",
           want ? want : "(NULL)");
  CU_assertImplementation(ok, (unsigned)line, expr, __FILE__, "", CU_FALSE);
}

static void expect_bytes(const void *got, const void *want, size_t n, const char *expr, int line) {
  const uint8_t *g = got, *w = want;
  size_t i = 0;
  while (g && w && i < n && g[i] == w[i]) i++;
  int ok = g && w && i == n;
  if (!ok && g && w)
    printf("\n    line %d: %s differs at byte %zu of %zu: 0x%02x, want 0x%02x\n", line, expr, i, n,
           g[i], w[i]);
  else if (!ok)
    printf("\n    line %d: %s is NULL\n", line, expr);
  CU_assertImplementation(ok, (unsigned)line, expr, __FILE__, "", CU_FALSE);
}

/* --- files -------------------------------------------------------------------------------------
 */

static void path_in(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", temp_root, name);
}

static int write_file(const char *path, const void *bytes, size_t n) {
  FILE *fp = fopen(path, "wb");
  if (!fp) return 0;
  int ok = fwrite(bytes, 1, n, fp) == n;
  return fclose(fp) == 0 && ok;
}

static int write_gz(const char *path, const void *bytes, size_t n) {
  gzFile gz = gzopen(path, "wb");
  if (!gz) return 0;
  int ok = n == 0 || gzwrite(gz, bytes, (unsigned)n) == (int)n;
  return gzclose(gz) == Z_OK && ok;
}

/* The whole file, malloc'ed (NULL if it cannot be read). */
static uint8_t *read_whole(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)size, fp) != (size_t)size) {
    free(buf);
    buf = NULL;
  }
  fclose(fp);
  if (buf) buf[size] = 0; /* so that string functions stop at the end */
  *n = buf ? (size_t)size : 0;
  return buf;
}

/* Entries of a folder other than . and .. (-1 if it cannot be opened). */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

/* A fresh, empty folder under the suite's temporary folder. */
static void make_subdir(char *buf, size_t n, const char *name) {
  path_in(buf, n, name);
  CU_ASSERT_EQUAL_FATAL(mkdir(buf, 0755), 0);
}

/* Removes a folder two levels deep (the suite makes no deeper ones). */
static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  char sub[PATH_MAX_LEN];
  for (struct dirent *e; (e = readdir(d));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
    if (unlink(sub) != 0) remove_tree(sub);
  }
  closedir(d);
  rmdir(dir);
}

static int suite_init(void) {
  memcpy(temp_root, TEMP_TEMPLATE, sizeof TEMP_TEMPLATE);
  return mkdtemp(temp_root) ? 0 : -1;
}

static int suite_cleanup(void) {
  remove_tree(temp_root);
  return 0;
}

/* --- IDX ---------------------------------------------------------------------------------------
 */

/* An IDX image of unsigned bytes with the given dims and seeded random data, malloc'ed. */
static uint8_t *idx_image(int ndim, const uint32_t *dims, uint64_t seed, size_t *len) {
  size_t count = 1;
  for (int i = 0; i < ndim; i++) count *= dims[i];
  size_t hdr = 4 + 4 * (size_t)ndim;
  uint8_t *b = malloc(hdr + count);
  if (!b) return NULL;
  b[0] = b[1] = 0;
  b[2] = 0x08;
  b[3] = (uint8_t)ndim;
  for (int i = 0; i < ndim; i++)
    for (int k = 0; k < 4; k++) b[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
  for (size_t i = 0; i < count; i++) b[hdr + i] = (uint8_t)clmp_test_rand(&seed);
  *len = hdr + count;
  return b;
}

/* idx holds the dims and the data of image. */
static void expect_idx(const clmp_idx *idx, int ndim, const uint32_t *dims, const uint8_t *image) {
  EXPECT_U64(idx->ndim, ndim);
  size_t count = 1;
  for (int i = 0; i < ndim; i++) {
    EXPECT_U64(idx->dims[i], dims[i]);
    count *= dims[i];
  }
  EXPECT_U64(idx->count, count);
  EXPECT_BYTES(idx->data, image + 4 + 4 * ndim, count);
}

static void test_idx_parse_valid(void) {
  static const uint32_t shapes[][CLMP_IDX_MAX_DIMS] = {{5}, {2, 3}, {2, 3, 4}, {1, 2, 1, 3}};
  for (int s = 0; s < 4; s++) {
    int ndim = s + 1;
    size_t len = 0;
    uint8_t *image = idx_image(ndim, shapes[s], SEED + (uint64_t)s, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(image);
    clmp_idx idx;
    EXPECT_STATUS(clmp_idx_parse(image, len, "memory", &idx), CLMP_SUCCESS);
    expect_idx(&idx, ndim, shapes[s], image);
    clmp_idx_free(&idx);
    EXPECT_U64((uintptr_t)idx.data, 0); /* free zeroes the struct */
    free(image);
  }
}

/* The same image written plain and gzip-compressed reads back the same. */
static void read_both_ways(int ndim, const uint32_t *dims, const char *name) {
  char plain[DIR_MAX_LEN], gz[PATH_MAX_LEN];
  path_in(plain, sizeof plain, name);
  snprintf(gz, sizeof gz, "%s.gz", plain);
  size_t len = 0;
  uint8_t *image = idx_image(ndim, dims, SEED, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(image);
  CU_ASSERT_FATAL(write_file(plain, image, len) && write_gz(gz, image, len));
  const char *paths[] = {plain, gz};
  for (int i = 0; i < 2; i++) {
    clmp_idx idx;
    EXPECT_STATUS(clmp_idx_read(paths[i], &idx), CLMP_SUCCESS);
    expect_idx(&idx, ndim, dims, image);
    clmp_idx_free(&idx);
  }
  free(image);
}

static void test_idx_read_plain_and_gzip(void) {
  static const uint32_t small[] = {7, 5, 3};
  static const uint32_t big[] = {3, IDX_BIG_BYTES / 3};
  read_both_ways(3, small, "small-idx3-ubyte");
  read_both_ways(2, big, "big-idx2-ubyte");
}

/* Reads up to the limit, refuses one byte beyond it, plain and gzip alike. */
static void test_idx_size_limit(void) {
  static const uint32_t dims[] = {200};
  char plain[PATH_MAX_LEN], gz[PATH_MAX_LEN];
  path_in(plain, sizeof plain, "limit-idx1-ubyte");
  path_in(gz, sizeof gz, "limit-idx1-ubyte.gz");
  size_t len = 0;
  uint8_t *image = idx_image(1, dims, SEED, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(image);
  CU_ASSERT_FATAL(write_file(plain, image, len) && write_gz(gz, image, len));
  const char *paths[] = {plain, gz};
  for (int i = 0; i < 2; i++) {
    clmp_idx idx;
    EXPECT_STATUS(clmp__idx_read_limited(paths[i], len, &idx), CLMP_SUCCESS);
    EXPECT_U64(idx.count, dims[0]);
    clmp_idx_free(&idx);
    EXPECT_STATUS(clmp__idx_read_limited(paths[i], len - 1, &idx), CLMP_ERR_FORMAT);
    EXPECT_MSG_HAS("more than");
    EXPECT_MSG_HAS(paths[i]);
  }
  free(image);
}

/* Labels count per class; returns how many lie outside 0..9. */
static size_t count_labels(const clmp_idx *labels, size_t *per_class) {
  size_t outside = 0;
  for (size_t i = 0; i < labels->count; i++) {
    if (labels->data[i] < FASHION_CLASSES)
      per_class[labels->data[i]]++;
    else
      outside++;
  }
  return outside;
}

static void check_fashion_split(const char *prefix, uint32_t n) {
  char images_path[PATH_MAX_LEN], labels_path[PATH_MAX_LEN];
  snprintf(images_path, sizeof images_path, "%s/%s-images-idx3-ubyte.gz", FASHION_DIR, prefix);
  snprintf(labels_path, sizeof labels_path, "%s/%s-labels-idx1-ubyte.gz", FASHION_DIR, prefix);
  clmp_idx images, labels;
  EXPECT_STATUS(clmp_idx_read(images_path, &images), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_idx_read(labels_path, &labels), CLMP_SUCCESS);
  EXPECT_U64(images.ndim, 3);
  EXPECT_U64(images.dims[0], n);
  EXPECT_U64(images.dims[1], FASHION_SIDE);
  EXPECT_U64(images.dims[2], FASHION_SIDE);
  EXPECT_U64(labels.ndim, 1);
  EXPECT_U64(labels.dims[0], n);
  size_t per_class[FASHION_CLASSES] = {0};
  EXPECT_U64(count_labels(&labels, per_class), 0);
  for (int c = 0; c < FASHION_CLASSES; c++) EXPECT_U64(per_class[c], n / FASHION_CLASSES);
  clmp_idx_free(&images);
  clmp_idx_free(&labels);
}

/* Debian's dataset-fashion-mnist files: the splits are balanced, 10 classes of equal size. */
static void test_idx_fashion_mnist(void) {
  struct stat sb;
  if (stat(FASHION_DIR, &sb) != 0) {
    printf("\n    note: %s not found (dataset-fashion-mnist); skipped\n", FASHION_DIR);
    return;
  }
  check_fashion_split("train", FASHION_TRAIN);
  check_fashion_split("t10k", FASHION_TEST);
}

typedef struct idx_case {
  const char *label;
  uint8_t bytes[IDX_HDR_MAX];
  size_t len;
  const char *needle;
} idx_case;

static const idx_case idx_cases[] = {
    {"empty", {0}, 0, "empty"},
    {"bad magic", {1, 0, 8, 1, 0, 0, 0, 1, 7}, 9, "bad magic"},
    {"float type", {0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0}, 12, "element type 0x0d"},
    {"ndim 0", {0, 0, 8, 0}, 4, "ndim 0"},
    {"ndim 5", {0, 0, 8, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, 20, "ndim 5"},
    {"prefix cut", {0, 0, 8}, 3, "truncated header"},
    {"dims cut", {0, 0, 8, 2, 0, 0, 0, 2, 0, 0}, 10, "truncated header"},
    {"data cut", {0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3}, 11, "truncated data"},
    {"trailing bytes", {0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3}, 11, "1 trailing bytes"},
    {"dims overflow",
     {0,    0,    8,    4,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
     20,
     "overflows"},
};
#define N_IDX_CASES (sizeof idx_cases / sizeof *idx_cases)

/* Every damaged image is refused from memory and from a file, naming the problem; out stays
 * zeroed. */
static void test_idx_damaged(void) {
  char path[PATH_MAX_LEN];
  path_in(path, sizeof path, "damaged-idx");
  for (size_t i = 0; i < N_IDX_CASES; i++) {
    const idx_case *c = &idx_cases[i];
    printf("\n    case: %s", c->label);
    clmp_idx idx;
    memset(&idx, 0xa5, sizeof idx);
    EXPECT_STATUS(clmp_idx_parse(c->bytes, c->len, c->label, &idx), CLMP_ERR_FORMAT);
    EXPECT_MSG_HAS(c->needle);
    EXPECT_MSG_HAS(c->label);
    EXPECT_U64((uintptr_t)idx.data + (uint64_t)idx.ndim + idx.count, 0);
    CU_ASSERT_FATAL(write_file(path, c->bytes, c->len));
    EXPECT_STATUS(clmp_idx_read(path, &idx), CLMP_ERR_FORMAT);
    EXPECT_MSG_HAS(c->needle);
    EXPECT_MSG_HAS(path);
  }
  printf("\n");
}

/* A gzip stream cut short, and one whose checksum is wrong. */
static void test_idx_damaged_gzip(void) {
  static const uint32_t dims[] = {GZ_RANDOM_BYTES};
  char path[PATH_MAX_LEN];
  path_in(path, sizeof path, "cut-idx1-ubyte.gz");
  size_t len = 0, gz_len = 0;
  uint8_t *image = idx_image(1, dims, SEED, &len);
  CU_ASSERT_FATAL(image && write_gz(path, image, len));
  uint8_t *gz = read_whole(path, &gz_len);
  CU_ASSERT_FATAL(gz && gz_len > GZ_RANDOM_BYTES / 2);
  clmp_idx idx;
  CU_ASSERT_FATAL(write_file(path, gz, gz_len / 2));
  EXPECT_STATUS(clmp_idx_read(path, &idx), CLMP_ERR_FORMAT);
  EXPECT_MSG_HAS("truncated gzip stream");
  EXPECT_MSG_HAS(path);
  gz[gz_len - 8] ^= 0xff; /* the CRC-32 of the trailer */
  CU_ASSERT_FATAL(write_file(path, gz, gz_len));
  EXPECT_STATUS(clmp_idx_read(path, &idx), CLMP_ERR_FORMAT);
  EXPECT_MSG_HAS("damaged gzip stream");
  EXPECT_U64((uintptr_t)idx.data, 0);
  free(gz);
  free(image);
}

static void test_idx_missing_file_and_directory(void) {
  char missing[PATH_MAX_LEN], dir[PATH_MAX_LEN];
  path_in(missing, sizeof missing, "no-such-idx1-ubyte.gz");
  clmp_idx idx;
  EXPECT_STATUS(clmp_idx_read(missing, &idx), CLMP_ERR_IO);
  EXPECT_MSG_HAS(missing);
  EXPECT_MSG_HAS("No such file");
  make_subdir(dir, sizeof dir, "a-directory");
  EXPECT_STATUS(clmp_idx_read(dir, &idx), CLMP_ERR_IO);
  EXPECT_MSG_HAS(dir);
  EXPECT_MSG_HAS("directory");
}

static void test_idx_arguments(void) {
  clmp_idx idx;
  static const uint8_t one[] = {0, 0, 8, 1, 0, 0, 0, 1, 42};
  EXPECT_STATUS(clmp_idx_parse(one, sizeof one, NULL, NULL), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_idx_parse(NULL, 1, NULL, &idx), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_idx_read(NULL, &idx), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_idx_read("x", NULL), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_idx_parse(NULL, 0, NULL, &idx), CLMP_ERR_FORMAT);
  EXPECT_MSG_HAS("IDX buffer"); /* the default name of the source */
  EXPECT_STATUS(clmp_idx_parse(one, sizeof one, NULL, &idx), CLMP_SUCCESS);
  EXPECT_U64(idx.data ? idx.data[0] : 0, 42);
  clmp_idx_free(&idx);
  clmp_idx_free(&idx); /* zeroed by the first free */
  clmp_idx_free(NULL);
}

/* --- safetensors -------------------------------------------------------------------------------
 */

typedef struct st_spec {
  const char *name;
  clmp_dtype dtype;
  int ndim;
  uint64_t shape[CLMP_MAX_DIMS];
} st_spec;

static const st_spec round_trip_specs[] = {
    {"fc1.weight", CLMP_F32, 2, {3, 4}},
    {"fc1.bias", CLMP_F32, 1, {3}},
    {"half", CLMP_F16, 2, {2, 3}},
    {"bf", CLMP_BF16, 4, {5, 1, 1, 1}},
    {"ints", CLMP_I32, 2, {2, 2}},
    {"odd bytes", CLMP_U8, 1, {7}}, /* the tensors after it start unaligned */
    {"scalar", CLMP_F32, 0, {0}},
    {"empty", CLMP_F32, 1, {0}},
    {"empty 3d", CLMP_U8, 3, {2, 0, 3}},
    {"\xc3\xbc \"quoted\\\" name\n", CLMP_I32, 1, {1}},
};
#define N_SPECS (sizeof round_trip_specs / sizeof *round_trip_specs)

static const char *const meta_pairs[][2] = {
    {"step", "1234"},
    {"arch", "784-256-10"},
    {"quote \"k\"", "a \"b\" \\ c\n\t"},
    {"unicode", "\xce\xbb = 0.5"},
};
#define N_META (sizeof meta_pairs / sizeof *meta_pairs)

static size_t spec_bytes(const st_spec *s) {
  size_t n = clmp_dtype_size(s->dtype);
  for (int d = 0; d < s->ndim; d++) n *= (size_t)s->shape[d];
  return n;
}

/* Seeded bytes for tensor i (the same every call). */
static uint8_t *spec_data(size_t i, size_t n) {
  uint8_t *p = malloc(n + 1);
  uint64_t seed = SEED + i;
  for (size_t k = 0; p && k < n; k++) p[k] = (uint8_t)clmp_test_rand(&seed);
  return p;
}

static clmp_st_writer *round_trip_writer(void) {
  clmp_st_writer *w = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_st_writer_create(&w), CLMP_SUCCESS);
  for (size_t i = 0; i < N_SPECS; i++) {
    const st_spec *s = &round_trip_specs[i];
    uint8_t *data = spec_data(i, spec_bytes(s));
    EXPECT_STATUS(clmp_st_writer_add(w, s->name, s->dtype, s->ndim, s->shape, data), CLMP_SUCCESS);
    free(data);
  }
  for (size_t i = 0; i < N_META; i++)
    EXPECT_STATUS(clmp_st_writer_meta(w, meta_pairs[i][0], meta_pairs[i][1]), CLMP_SUCCESS);
  return w;
}

static void expect_round_trip(const clmp_safetensors *f) {
  EXPECT_U64(clmp_safetensors_count(f), N_SPECS);
  for (size_t i = 0; i < N_SPECS && i < clmp_safetensors_count(f); i++) {
    const st_spec *s = &round_trip_specs[i];
    const clmp_st_entry *e = clmp_safetensors_entry(f, i);
    EXPECT_STR(e->name, s->name);
    EXPECT_U64(e->dtype, s->dtype);
    EXPECT_U64(e->ndim, s->ndim);
    for (int d = 0; d < s->ndim; d++) EXPECT_U64(e->shape[d], s->shape[d]);
    EXPECT_U64(e->nbytes, spec_bytes(s));
    uint8_t *want = spec_data(i, spec_bytes(s));
    EXPECT_BYTES(e->data, want, e->nbytes);
    free(want);
    EXPECT_U64((uintptr_t)clmp_safetensors_find(f, s->name), (uintptr_t)e);
  }
  for (size_t i = 0; i < N_META; i++)
    EXPECT_STR(clmp_safetensors_meta(f, meta_pairs[i][0]), meta_pairs[i][1]);
  EXPECT_U64((uintptr_t)clmp_safetensors_entry(f, N_SPECS), 0);
  EXPECT_U64((uintptr_t)clmp_safetensors_find(f, "absent"), 0);
  EXPECT_STR(clmp_safetensors_meta(f, "absent"), NULL);
}

/* Every dtype, scalar and empty shapes, names and metadata that need escaping: read back equal
 * from the file and from its bytes in memory. */
static void test_st_round_trip(void) {
  char path[PATH_MAX_LEN];
  path_in(path, sizeof path, "round-trip.safetensors");
  clmp_st_writer *w = round_trip_writer();
  EXPECT_STATUS(clmp_st_writer_save(w, path), CLMP_SUCCESS);
  clmp_st_writer_free(w);
  clmp_safetensors *f = NULL;
  EXPECT_STATUS(clmp_safetensors_read(path, &f), CLMP_SUCCESS);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  expect_round_trip(f);
  clmp_safetensors_free(f);
  size_t len = 0;
  uint8_t *bytes = read_whole(path, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
  EXPECT_STATUS(clmp_safetensors_parse(bytes, len, "memory", &f), CLMP_SUCCESS);
  free(bytes); /* the parsed file owns a copy */
  if (f) expect_round_trip(f);
  clmp_safetensors_free(f);
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = ST_LEN_BYTES - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Whatever the name's length, the header is padded with spaces to a multiple of 8 bytes, and the
 * data buffer follows it exactly. */
static void test_st_header_alignment(void) {
  static const uint8_t four[4] = {1, 2, 3, 4};
  const uint64_t shape[1] = {4};
  char path[PATH_MAX_LEN], name[ST_ALIGN + 2];
  path_in(path, sizeof path, "aligned.safetensors");
  for (size_t n = 1; n <= ST_ALIGN + 1; n++) {
    memset(name, 'a', n);
    name[n] = '\0';
    clmp_st_writer *w = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_st_writer_create(&w), CLMP_SUCCESS);
    EXPECT_STATUS(clmp_st_writer_add(w, name, CLMP_U8, 1, shape, four), CLMP_SUCCESS);
    EXPECT_STATUS(clmp_st_writer_save(w, path), CLMP_SUCCESS);
    clmp_st_writer_free(w);
    size_t len = 0;
    uint8_t *b = read_whole(path, &len);
    CU_ASSERT_FATAL(b && len >= ST_LEN_BYTES);
    uint64_t hlen = le64(b);
    EXPECT_U64(hlen % ST_ALIGN, 0);
    EXPECT_U64(len, ST_LEN_BYTES + hlen + sizeof four);
    size_t brace = 0; /* the closing brace of the JSON: only spaces after it */
    for (size_t k = 0; k < hlen && k < len - ST_LEN_BYTES; k++)
      if (b[ST_LEN_BYTES + k] == '}') brace = k;
    EXPECT_U64(strspn((const char *)b + ST_LEN_BYTES + brace + 1, " "), hlen - brace - 1);
    EXPECT_BYTES(b + len - sizeof four, four, sizeof four);
    free(b);
  }
}

/* The file the writer must produce for w = f32 [1, -2], u = u8 scalar 42 and metadata k = v, built
 * by hand: length 136, the compact JSON of 130 bytes, 6 spaces, then 9 data bytes. */
#define HAND_HEADER                                                                                \
  "{\"__metadata__\":{\"k\":\"v\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}" \
  ","                                                                                              \
  "\"u\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[8,9]}}      "
#define HAND_HEADER_LEN 136
static const uint8_t hand_prefix[ST_LEN_BYTES] = {0x88, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t hand_data[] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 42};

static void test_st_layout_matches_hand_built(void) {
  EXPECT_U64(strlen(HAND_HEADER), HAND_HEADER_LEN);
  uint8_t want[ST_LEN_BYTES + HAND_HEADER_LEN + sizeof hand_data];
  memcpy(want, hand_prefix, ST_LEN_BYTES);
  memcpy(want + ST_LEN_BYTES, HAND_HEADER, HAND_HEADER_LEN);
  memcpy(want + ST_LEN_BYTES + HAND_HEADER_LEN, hand_data, sizeof hand_data);
  const float w_values[2] = {1.0f, -2.0f};
  const uint8_t u_value = 42;
  const uint64_t w_shape[1] = {2};
  clmp_st_writer *w = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_st_writer_create(&w), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_st_writer_add(w, "w", CLMP_F32, 1, w_shape, w_values), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_st_writer_add(w, "u", CLMP_U8, 0, NULL, &u_value), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_st_writer_meta(w, "k", "v"), CLMP_SUCCESS);
  char path[PATH_MAX_LEN];
  path_in(path, sizeof path, "hand.safetensors");
  EXPECT_STATUS(clmp_st_writer_save(w, path), CLMP_SUCCESS);
  clmp_st_writer_free(w);
  size_t len = 0;
  uint8_t *got = read_whole(path, &len);
  EXPECT_U64(len, sizeof want);
  if (len == sizeof want) EXPECT_BYTES(got, want, sizeof want);
  free(got);
}

/* A tensor entry of a header built by hand. */
#define T(dt, shape, offs) "{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

/* A file built by hand in another style: pretty-printed, metadata last, fields reordered, an
 * unknown field, tensors out of offset order, a newline after the JSON. */
static const char pretty_header[] = "{\n"
                                    "  \"b\": {\"data_offsets\": [4, 8], \"shape\": [2],\n"
                                    "\t\"dtype\": \"F16\", \"extra\": {\"ignored\": 1}},\n"
                                    "  \"a\": {\"dtype\": \"I32\", \"shape\": [1, 1],"
                                    " \"data_offsets\": [0, 4]},\n"
                                    "  \"__metadata__\": {\"format\": \"pt\"}\n"
                                    "}\n  ";
static const uint8_t pretty_data[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x3c, 0x00, 0xc0};

/* prefix (header length, little-endian) + header + data, malloc'ed. */
static uint8_t *st_image(const char *header, uint64_t n, const uint8_t *data, size_t data_len,
                         size_t *len) {
  size_t hlen = strlen(header);
  uint8_t *b = malloc(ST_LEN_BYTES + hlen + data_len + 1);
  if (!b) return NULL;
  for (int i = 0; i < ST_LEN_BYTES; i++) b[i] = (uint8_t)(n >> (8 * i));
  memcpy(b + ST_LEN_BYTES, header, hlen);
  for (size_t i = 0; i < data_len; i++) b[ST_LEN_BYTES + hlen + i] = data ? data[i] : 0xab;
  *len = ST_LEN_BYTES + hlen + data_len;
  return b;
}

static void test_st_reads_other_styles(void) {
  size_t len = 0;
  uint8_t *b =
      st_image(pretty_header, strlen(pretty_header), pretty_data, sizeof pretty_data, &len);
  clmp_safetensors *f = NULL;
  EXPECT_STATUS(clmp_safetensors_parse(b, len, "pretty", &f), CLMP_SUCCESS);
  free(b);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  EXPECT_U64(clmp_safetensors_count(f), 2);
  const clmp_st_entry *a = clmp_safetensors_find(f, "a"), *h = clmp_safetensors_find(f, "b");
  CU_ASSERT_FATAL(a && h);
  EXPECT_STR(clmp_safetensors_entry(f, 0)->name, "b"); /* header order */
  EXPECT_U64(a->dtype, CLMP_I32);
  EXPECT_U64(a->ndim, 2);
  int32_t a_value = 0;
  memcpy(&a_value, a->data, sizeof a_value);
  EXPECT_U64((uint32_t)a_value, (uint32_t)-1);
  uint16_t h_bits[2];
  memcpy(h_bits, h->data, sizeof h_bits);
  EXPECT_U64(clmp_f16_to_f32(h_bits[0]) == 1.0f && clmp_f16_to_f32(h_bits[1]) == -2.0f, 1);
  EXPECT_STR(clmp_safetensors_meta(f, "format"), "pt");
  clmp_safetensors_free(f);
  static const char escaped[] = "{\"x\\\\u0000\":" T("U8", "[0]", "[0,0]") "}"; /* a backslash */
  b = st_image(escaped, strlen(escaped), NULL, 0, &len);
  EXPECT_STATUS(clmp_safetensors_parse(b, len, "escaped backslash", &f), CLMP_SUCCESS);
  EXPECT_U64((uintptr_t)clmp_safetensors_find(f, "x\\u0000"),
             (uintptr_t)clmp_safetensors_entry(f, 0));
  clmp_safetensors_free(f);
  free(b);
  b = st_image("{}", 2, NULL, 0, &len); /* no tensors at all */
  EXPECT_STATUS(clmp_safetensors_parse(b, len, "empty", &f), CLMP_SUCCESS);
  EXPECT_U64(clmp_safetensors_count(f), 0);
  clmp_safetensors_free(f);
  free(b);
}

#define N_FROM_HEADER UINT64_MAX /* the header length field is the header's real length */

typedef struct st_case {
  const char *label;
  const char *header;
  size_t data_len;
  uint64_t n;
  const char *needle;
} st_case;

static const st_case st_cases[] = {
    {"header length beyond the file", "{}", 0, 1000, "beyond the file"},
    {"header length 2^63", "{}", 0, 1ull << 63, "beyond the file"},
    {"bad JSON", "{\"a\":", 0, N_FROM_HEADER, "not valid JSON"},
    {"empty header", "", 0, N_FROM_HEADER, "not valid JSON"},
    {"JSON array", "[1,2]", 0, N_FROM_HEADER, "not a JSON object"},
    {"text after the JSON", "{} x", 0, N_FROM_HEADER, "after the header's JSON"},
    {"not UTF-8", "{\"\xff\":{}}", 0, N_FROM_HEADER, "not UTF-8"},
    {"overlong UTF-8", "{\"\xc0\xaf\":{}}", 0, N_FROM_HEADER, "not UTF-8"},
    {"escaped NUL in a name", "{\"a\\u0000b\":" T("U8", "[0]", "[0,0]") "}", 0, N_FROM_HEADER,
     "escapes a NUL character at file byte 11"},
    {"entry a number", "{\"a\":3}", 0, N_FROM_HEADER, "not a JSON object"},
    {"no dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, N_FROM_HEADER,
     "lacks the field \"dtype\""},
    {"dtype twice",
     "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
     N_FROM_HEADER, "\"dtype\" appears twice"},
    {"unknown dtype", "{\"a\":" T("F64", "[1]", "[0,8]") "}", 8, N_FROM_HEADER,
     "unsupported dtype \"F64\""},
    {"dtype a number", "{\"a\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
     N_FROM_HEADER, "\"dtype\" is not a string"},
    {"negative shape", "{\"a\":" T("U8", "[-1]", "[0,0]") "}", 0, N_FROM_HEADER,
     "\"shape\"[0] is not a non-negative integer"},
    {"float shape", "{\"a\":" T("U8", "[2,1.5]", "[0,3]") "}", 3, N_FROM_HEADER,
     "\"shape\"[1] is not a non-negative integer"},
    {"string shape", "{\"a\":" T("U8", "[\"2\"]", "[0,2]") "}", 2, N_FROM_HEADER,
     "\"shape\"[0] is not a non-negative integer"},
    {"huge shape", "{\"a\":" T("U8", "[1e300]", "[0,0]") "}", 0, N_FROM_HEADER,
     "\"shape\"[0] is not a non-negative integer"},
    {"shape not an array", "{\"a\":" T("U8", "2", "[0,2]") "}", 2, N_FROM_HEADER,
     "\"shape\" is not an array"},
    {"five dims", "{\"a\":" T("U8", "[1,1,1,1,1]", "[0,1]") "}", 1, N_FROM_HEADER, "5 dims"},
    {"shape overflows", "{\"a\":" T("F32", "[4294967296,4294967296,4294967296]", "[0,0]") "}", 0,
     N_FROM_HEADER, "overflows"},
    {"offsets beyond the data", "{\"a\":" T("U8", "[8]", "[0,8]") "}", 4, N_FROM_HEADER,
     "beyond the data buffer of 4 bytes"},
    {"offsets reversed", "{\"a\":" T("U8", "[0]", "[4,0]") "}", 4, N_FROM_HEADER, "reversed"},
    {"one offset", "{\"a\":" T("U8", "[1]", "[0]") "}", 1, N_FROM_HEADER,
     "\"data_offsets\" is not two non-negative integers"},
    {"negative offset", "{\"a\":" T("U8", "[1]", "[-1,0]") "}", 1, N_FROM_HEADER,
     "\"data_offsets\" is not two non-negative integers"},
    {"size mismatch", "{\"a\":" T("F32", "[2]", "[0,4]") "}", 4, N_FROM_HEADER,
     "hold 4 bytes, its shape and dtype F32 need 8"},
    {"overlap", "{\"a\":" T("U8", "[4]", "[0,4]") ",\"b\":" T("U8", "[4]", "[2,6]") "}", 6,
     N_FROM_HEADER, "overlaps"},
    {"hole", "{\"a\":" T("U8", "[2]", "[0,2]") ",\"b\":" T("U8", "[2]", "[4,6]") "}", 6,
     N_FROM_HEADER, "a hole: data bytes 2..4"},
    {"bytes after the last tensor", "{\"a\":" T("U8", "[2]", "[0,2]") "}", 4, N_FROM_HEADER,
     "data bytes 2..4"},
    {"data but no tensors", "{}", 3, N_FROM_HEADER, "data bytes 0..3"},
    {"metadata value a number", "{\"__metadata__\":{\"k\":1}}", 0, N_FROM_HEADER,
     "value of \"k\" is not a string"},
    {"metadata a string", "{\"__metadata__\":\"x\"}", 0, N_FROM_HEADER,
     "\"__metadata__\" is not a JSON object"},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, N_FROM_HEADER,
     "\"__metadata__\" appears twice"},
    {"metadata key twice", "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, N_FROM_HEADER,
     "key \"k\" appears twice"},
    {"duplicate names", "{\"a\":" T("U8", "[2]", "[0,2]") ",\"a\":" T("U8", "[2]", "[2,4]") "}", 4,
     N_FROM_HEADER, "tensor name \"a\" appears twice"},
};
#define N_ST_CASES (sizeof st_cases / sizeof *st_cases)

/* Every damaged file is refused from memory and from disk, naming the problem and the source. */
static void test_st_damaged(void) {
  char path[PATH_MAX_LEN];
  path_in(path, sizeof path, "damaged.safetensors");
  for (size_t i = 0; i < N_ST_CASES; i++) {
    const st_case *c = &st_cases[i];
    printf("\n    case: %s", c->label);
    size_t len = 0;
    uint64_t n = c->n == N_FROM_HEADER ? strlen(c->header) : c->n;
    uint8_t *b = st_image(c->header, n, NULL, c->data_len, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    clmp_safetensors *f = (clmp_safetensors *)b; /* must be set to NULL */
    EXPECT_STATUS(clmp_safetensors_parse(b, len, c->label, &f), CLMP_ERR_FORMAT);
    EXPECT_MSG_HAS(c->needle);
    EXPECT_MSG_HAS(c->label);
    EXPECT_U64((uintptr_t)f, 0);
    CU_ASSERT_FATAL(write_file(path, b, len));
    EXPECT_STATUS(clmp_safetensors_read(path, &f), CLMP_ERR_FORMAT);
    EXPECT_MSG_HAS(c->needle);
    EXPECT_MSG_HAS(path);
    clmp_safetensors_free(f);
    free(b);
  }
  printf("\n");
}

/* Every proper prefix of a valid file (a truncated file) is refused. */
static void test_st_truncated(void) {
  char path[PATH_MAX_LEN];
  path_in(path, sizeof path, "whole.safetensors");
  clmp_st_writer *w = round_trip_writer();
  EXPECT_STATUS(clmp_st_writer_save(w, path), CLMP_SUCCESS);
  clmp_st_writer_free(w);
  size_t len = 0;
  uint8_t *b = read_whole(path, &len);
  CU_ASSERT_FATAL(b && len > ST_LEN_BYTES);
  size_t refused = 0;
  for (size_t cut = 0; cut < len; cut++) {
    clmp_safetensors *f = NULL;
    clmp_status st = clmp_safetensors_parse(b, cut, "cut", &f);
    if (st != CLMP_ERR_FORMAT)
      printf("\n    cut at %zu of %zu: %s\n", cut, len, clmp_status_name(st));
    refused += st == CLMP_ERR_FORMAT;
    clmp_safetensors_free(f);
  }
  EXPECT_U64(refused, len);
  free(b);
}

/* A writer of one u8 tensor of n bytes, all equal to fill. */
static clmp_st_writer *writer_of(size_t n, uint8_t fill) {
  uint8_t *data = malloc(n + 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(data);
  memset(data, fill, n);
  const uint64_t shape[1] = {n};
  clmp_st_writer *w = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_st_writer_create(&w), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_st_writer_add(w, "t", CLMP_U8, 1, shape, data), CLMP_SUCCESS);
  free(data);
  return w;
}

/* The file at path holds one u8 tensor of n bytes equal to fill. */
static void expect_file_of(const char *path, size_t n, uint8_t fill) {
  clmp_safetensors *f = NULL;
  EXPECT_STATUS(clmp_safetensors_read(path, &f), CLMP_SUCCESS);
  const clmp_st_entry *e = clmp_safetensors_find(f, "t");
  EXPECT_U64(e ? e->nbytes : 0, n);
  size_t same = 0;
  for (size_t i = 0; e && i < e->nbytes; i++) same += ((const uint8_t *)e->data)[i] == fill;
  EXPECT_U64(same, n);
  clmp_safetensors_free(f);
}

static void test_st_save_replaces(void) {
  char dir[DIR_MAX_LEN], path[PATH_MAX_LEN];
  make_subdir(dir, sizeof dir, "replace");
  snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
  clmp_st_writer *a = writer_of(100, 1), *b = writer_of(50, 2);
  EXPECT_STATUS(clmp_st_writer_save(a, path), CLMP_SUCCESS);
  expect_file_of(path, 100, 1);
  EXPECT_STATUS(clmp_st_writer_save(b, path), CLMP_SUCCESS);
  expect_file_of(path, 50, 2);
  EXPECT_U64(count_entries(dir), 1); /* no temporary file left */
  clmp_st_writer_free(a);
  clmp_st_writer_free(b);
}

/* Saves big over path with the file size limited: the write fails with EFBIG (SIGXFSZ ignored). */
static clmp_status save_with_fsize_limit(const clmp_st_writer *big, const char *path) {
  struct rlimit old, lim;
  if (getrlimit(RLIMIT_FSIZE, &old) != 0) return CLMP_SUCCESS;
  lim = old;
  lim.rlim_cur = FSIZE_LIMIT;
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  clmp_status st = CLMP_SUCCESS;
  if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
    st = clmp_st_writer_save(big, path);
    setrlimit(RLIMIT_FSIZE, &old);
  }
  signal(SIGXFSZ, old_handler);
  return st;
}

/* A save that fails half-way leaves the old file byte-identical and no temporary file. */
static void test_st_failed_save_keeps_old_file(void) {
  char dir[DIR_MAX_LEN], path[PATH_MAX_LEN], why[PATH_MAX_LEN];
  make_subdir(dir, sizeof dir, "fsize");
  snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
  clmp_st_writer *small = writer_of(16, 3), *big = writer_of(BIG_TENSOR_BYTES, 4);
  EXPECT_STATUS(clmp_st_writer_save(small, path), CLMP_SUCCESS);
  size_t old_len = 0, now_len = 0;
  uint8_t *old = read_whole(path, &old_len);
  EXPECT_STATUS(save_with_fsize_limit(big, path), CLMP_ERR_IO);
  EXPECT_MSG_HAS(path);
  snprintf(why, sizeof why, "%s", strerror(EFBIG));
  EXPECT_MSG_HAS(why);
  uint8_t *now = read_whole(path, &now_len);
  EXPECT_U64(now_len, old_len);
  if (old && now && now_len == old_len) EXPECT_BYTES(now, old, old_len);
  EXPECT_U64(count_entries(dir), 1);
  free(old);
  free(now);
  clmp_st_writer_free(small);
  clmp_st_writer_free(big);
}

static void test_st_save_into_missing_folder(void) {
  char dir[DIR_MAX_LEN], path[PATH_MAX_LEN];
  path_in(dir, sizeof dir, "no-such-folder");
  snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
  clmp_st_writer *w = writer_of(8, 5);
  EXPECT_STATUS(clmp_st_writer_save(w, path), CLMP_ERR_IO);
  EXPECT_MSG_HAS(path);
  EXPECT_MSG_HAS(strerror(ENOENT));
  EXPECT_U64(count_entries(dir), (uint64_t)-1); /* still absent */
  clmp_st_writer_free(w);
}

/* A folder where the file should go: the rename fails, the folder stays, nothing is left over. */
static void test_st_save_over_a_folder(void) {
  char dir[DIR_MAX_LEN], target[PATH_MAX_LEN];
  make_subdir(dir, sizeof dir, "over-folder");
  snprintf(target, sizeof target, "%s/ckpt.safetensors", dir);
  CU_ASSERT_EQUAL_FATAL(mkdir(target, 0755), 0);
  clmp_st_writer *w = writer_of(8, 6);
  EXPECT_STATUS(clmp_st_writer_save(w, target), CLMP_ERR_IO);
  EXPECT_MSG_HAS(target);
  EXPECT_MSG_HAS("renaming");
  struct stat sb;
  EXPECT_U64(stat(target, &sb) == 0 && S_ISDIR(sb.st_mode), 1);
  EXPECT_U64(count_entries(dir), 1);
  clmp_st_writer_free(w);
}

static void test_st_writer_arguments(void) {
  const uint64_t shape[2] = {2, 2}, huge[2] = {1ull << 62, 1ull << 62};
  const float data[4] = {0};
  clmp_st_writer *w = NULL;
  EXPECT_STATUS(clmp_st_writer_create(NULL), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL_FATAL(clmp_st_writer_create(&w), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_st_writer_add(w, "x", CLMP_F32, 2, shape, data), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_st_writer_add(w, "x", CLMP_F32, 2, shape, data), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_MSG_HAS("\"x\" was already added");
  EXPECT_STATUS(clmp_st_writer_add(NULL, "y", CLMP_F32, 2, shape, data), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_add(w, NULL, CLMP_F32, 2, shape, data), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_add(w, "", CLMP_F32, 2, shape, data), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_add(w, "__metadata__", CLMP_U8, 0, NULL, data),
                CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_add(w, "\xff", CLMP_U8, 0, NULL, data), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_add(w, "y", CLMP_DTYPE_COUNT, 2, shape, data),
                CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_add(w, "y", CLMP_F32, 5, shape, data), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_add(w, "y", CLMP_F32, -1, shape, data), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_add(w, "y", CLMP_F32, 2, NULL, data), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_add(w, "y", CLMP_F32, 2, shape, NULL), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_add(w, "y", CLMP_F32, 2, huge, data), CLMP_ERR_SIZE_OVERFLOW);
  EXPECT_STATUS(clmp_st_writer_meta(w, NULL, "v"), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_meta(w, "k", "\xc3"), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_meta(w, "k", "first"), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_st_writer_meta(w, "k", "second"), CLMP_SUCCESS); /* the last value wins */
  EXPECT_STATUS(clmp_st_writer_save(w, NULL), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_st_writer_save(NULL, "x"), CLMP_ERR_INVALID_ARGUMENT);
  char path[PATH_MAX_LEN];
  path_in(path, sizeof path, "arguments.safetensors");
  EXPECT_STATUS(clmp_st_writer_save(w, path), CLMP_SUCCESS);
  clmp_st_writer_free(w);
  clmp_safetensors *f = NULL;
  EXPECT_STATUS(clmp_safetensors_read(path, &f), CLMP_SUCCESS);
  EXPECT_U64(clmp_safetensors_count(f), 1); /* only the first "x" */
  EXPECT_STR(clmp_safetensors_meta(f, "k"), "second");
  clmp_safetensors_free(f);
}

static void test_st_reader_arguments(void) {
  clmp_safetensors *f = NULL;
  EXPECT_STATUS(clmp_safetensors_parse(NULL, 1, NULL, &f), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_safetensors_parse("", 0, NULL, NULL), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_safetensors_read(NULL, &f), CLMP_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(clmp_safetensors_parse("", 0, NULL, &f), CLMP_ERR_FORMAT);
  EXPECT_MSG_HAS("safetensors buffer: truncated: 0 bytes");
  char missing[PATH_MAX_LEN];
  path_in(missing, sizeof missing, "missing.safetensors");
  EXPECT_STATUS(clmp_safetensors_read(missing, &f), CLMP_ERR_IO);
  EXPECT_MSG_HAS(missing);
  EXPECT_STATUS(clmp_safetensors_read(temp_root, &f), CLMP_ERR_IO);
  EXPECT_MSG_HAS("directory");
  EXPECT_U64(clmp_safetensors_count(NULL), 0);
  EXPECT_U64((uintptr_t)clmp_safetensors_entry(NULL, 0), 0);
  EXPECT_U64((uintptr_t)clmp_safetensors_find(NULL, "a"), 0);
  EXPECT_STR(clmp_safetensors_meta(NULL, "a"), NULL);
  clmp_safetensors_free(NULL);
  clmp_st_writer_free(NULL);
}

/* Python's own json and struct modules (no numpy, no safetensors package) read the writer's file:
 * an independent parser. Skipped where there is no python3. */
static void test_st_python_reads(void) {
  if (system("python3 -c 'import json, struct' >/dev/null 2>&1") != 0) {
    printf("\n    note: no python3; skipped\n");
    return;
  }
  char path[PATH_MAX_LEN], cmd[2 * PATH_MAX_LEN], out[PY_OUT_MAX] = "";
  path_in(path, sizeof path, "python.safetensors");
  const float bias[3] = {-1.0f, -0.5f, 0.25f};
  const uint64_t shape[1] = {3};
  clmp_st_writer *w = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_st_writer_create(&w), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_st_writer_add(w, "fc1.bias", CLMP_F32, 1, shape, bias), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_st_writer_meta(w, "step", "7"), CLMP_SUCCESS);
  EXPECT_STATUS(clmp_st_writer_save(w, path), CLMP_SUCCESS);
  clmp_st_writer_free(w);
  snprintf(
      cmd, sizeof cmd,
      "python3 -c 'import json, struct, sys\n"
      "b = open(sys.argv[1], \"rb\").read(); n = struct.unpack(\"<Q\", b[:8])[0]\n"
      "h = json.loads(b[8:8 + n].decode(\"utf-8\")); t = h[\"fc1.bias\"]; s, e = "
      "t[\"data_offsets\"]\n"
      "print(n %% 8, t[\"dtype\"], t[\"shape\"], list(struct.unpack(\"<3f\", b[8 + n + s:8 + n "
      "+ e])), h[\"__metadata__\"], len(b) - 8 - n)' %s",
      path);
  FILE *p = popen(cmd, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  size_t got = fread(out, 1, sizeof out - 1, p);
  out[got] = '\0';
  EXPECT_U64(pclose(p), 0);
  EXPECT_STR(out, "0 F32 [3] [-1.0, -0.5, 0.25] {'step': '7'} 12\n");
}

int main(void) {
  CU_TestInfo idx_tests[] = {
      {"parse valid images of 1..4 dims", test_idx_parse_valid},
      {"read plain and gzip files", test_idx_read_plain_and_gzip},
      {"read up to the size limit, not beyond", test_idx_size_limit},
      {"the real Fashion-MNIST files", test_idx_fashion_mnist},
      {"damaged images are refused, naming the problem", test_idx_damaged},
      {"cut and corrupted gzip streams are refused", test_idx_damaged_gzip},
      {"a missing file and a directory are I/O errors", test_idx_missing_file_and_directory},
      {"arguments and free", test_idx_arguments},
      CU_TEST_INFO_NULL};
  CU_TestInfo st_tests[] = {
      {"round trip of every dtype, scalar and empty shapes", test_st_round_trip},
      {"the header is padded to 8 bytes", test_st_header_alignment},
      {"the writer's bytes equal a file built by hand", test_st_layout_matches_hand_built},
      {"other writers' styles are read", test_st_reads_other_styles},
      {"damaged files are refused, naming the problem", test_st_damaged},
      {"every truncation of a valid file is refused", test_st_truncated},
      {"save replaces an existing file", test_st_save_replaces},
      {"a failed save keeps the old file", test_st_failed_save_keeps_old_file},
      {"save into a missing folder fails", test_st_save_into_missing_folder},
      {"save over a folder fails and leaves nothing", test_st_save_over_a_folder},
      {"writer arguments", test_st_writer_arguments},
      {"reader arguments", test_st_reader_arguments},
      {"Python's json and struct read the file", test_st_python_reads},
      CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"idx", suite_init, suite_cleanup, NULL, NULL, idx_tests},
                           {"safetensors", suite_init, suite_cleanup, NULL, NULL, st_tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
