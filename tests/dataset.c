/* tests/dataset.c: a small synthetic Fashion-MNIST-shaped dataset written as IDX files, for the
 * suites that train. */
#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "harness.h"

#define PATH_MAX_LEN 4400

void clmp_test_make_images(uint8_t *img, uint8_t *lab, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) {
    int c = (int)(clmp_test_rand(&seed) % CLMP_TEST_CLASSES);
    lab[i] = (uint8_t)c;
    uint8_t *p = img + i * CLMP_TEST_PIXELS;
    for (int k = 0; k < CLMP_TEST_PIXELS; k++) p[k] = (uint8_t)(clmp_test_rand(&seed) % 96);
    int r0 = 2 + (c / 5) * 12, c0 = 2 + (c % 5) * 5;
    for (int r = r0; r < r0 + 6; r++)
      for (int q = c0; q < c0 + 6 && q < CLMP_TEST_SIDE; q++)
        p[r * CLMP_TEST_SIDE + q] = 160 + (uint8_t)(q % 64);
  }
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

int clmp_test_write_idx(const char *path, const uint8_t *data, int ndim, const uint32_t *dims,
                        int gz) {
  uint8_t head[4 + 4 * 3] = {0, 0, 0x08, (uint8_t)ndim};
  size_t n = 1;
  for (int i = 0; i < ndim; i++) put_u32(head + 4 + 4 * i, dims[i]), n *= dims[i];
  size_t hlen = 4 + 4 * (size_t)ndim;
  if (gz) {
    gzFile f = gzopen(path, "wb");
    int ok = f && gzwrite(f, head, (unsigned)hlen) == (int)hlen &&
             gzwrite(f, data, (unsigned)n) == (int)n;
    return (f && gzclose(f) == Z_OK && ok) ? 0 : -1;
  }
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(head, 1, hlen, f) == hlen && fwrite(data, 1, n, f) == n;
  return (f && fclose(f) == 0 && ok) ? 0 : -1;
}

static int write_split(const char *dir, const char *prefix, size_t n, uint64_t seed, int gz) {
  uint8_t *img = malloc(n * CLMP_TEST_PIXELS), *lab = malloc(n);
  char path[PATH_MAX_LEN];
  int rc = -1;
  if (img && lab) {
    clmp_test_make_images(img, lab, n, seed);
    uint32_t idims[3] = {(uint32_t)n, CLMP_TEST_SIDE, CLMP_TEST_SIDE}, ldims[1] = {(uint32_t)n};
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, prefix, gz ? ".gz" : "");
    rc = clmp_test_write_idx(path, img, 3, idims, gz);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, prefix, gz ? ".gz" : "");
    if (rc == 0) rc = clmp_test_write_idx(path, lab, 1, ldims, gz);
  }
  free(img), free(lab);
  return rc;
}

int clmp_test_write_dataset(const char *dir, size_t train_n, size_t test_n, uint64_t seed) {
  if (write_split(dir, "train", train_n, seed, 1) != 0) return -1;
  return write_split(dir, "t10k", test_n, seed + 1, 0);
}
