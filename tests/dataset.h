/* tests/dataset.h: a small synthetic Fashion-MNIST-shaped dataset written as IDX files (training
 * split gzip-compressed, test split plain), for the suites that train. */
#ifndef CLMP_TESTS_DATASET_H
#define CLMP_TESTS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#define CLMP_TEST_SIDE    28
#define CLMP_TEST_PIXELS  (CLMP_TEST_SIDE * CLMP_TEST_SIDE)
#define CLMP_TEST_CLASSES 10

/* The spec of an MLP 784-h-10 (h a decimal literal), as the suites that train use. */
#define CLMP_TEST_MLP(h)                                                \
  "{\"input\": [784], \"layers\": [{\"type\": \"linear\", \"out\": " #h \
  "}, {\"type\": \"relu\"}, {\"type\": \"linear\", \"out\": 10}]}"

/* n images [n, SIDE, SIDE] and labels: class c is a bright 6x6 block at a class-specific place,
 * on noise, from the seed. */
void clmp_test_make_images(uint8_t *img, uint8_t *lab, size_t n, uint64_t seed);

/* An IDX file of unsigned bytes of ndim (1..3) dims, gzip-compressed or plain; 0 on success. */
int clmp_test_write_idx(const char *path, const uint8_t *data, int ndim, const uint32_t *dims,
                        int gz);

/* dir/train-* (train_n examples, gzip) and dir/t10k-* (test_n, plain); 0 on success. */
int clmp_test_write_dataset(const char *dir, size_t train_n, size_t test_n, uint64_t seed);

#endif
