/* tests/test_cast.c: the cast kernel (f32<->f16, f32<->bf16, f16<->bf16) on every device agrees
 * with the host conversions bit for bit: every 16-bit input, and for f32 inputs a large random
 * sample plus every special class. Casts run between views, so offsets are covered too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define RANDOM_BITS  (1u << 20) /* f32 inputs with random bit patterns */
#define RANDOM_RANGE (1u << 18) /* f32 inputs spread over the exponents of f16 and around them */
#define SRC_PAD      3          /* elements before the source view */
#define DST_PAD      5          /* elements before and after the destination view */
#define GUARD        0xA5u      /* bytes the cast must not touch */
#define SEED         0x5eed2026u

static const uint32_t f32_specials[] = {
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff, 0x00800000,
    0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
    0x7f800001, 0xff800001, 0x7fffffff, 0x7fa00000, 0x477fe000, /* 65504, f16 max */
    0x477fefff,                         /* just below the f16 overflow threshold */
    0x477ff000,                         /* 65520: rounds to inf in f16 */
    0x47800000, 0xc77ff000, 0x33800000, /* 2^-24, smallest f16 subnormal */
    0x33000000,                         /* 2^-25: tie, rounds to 0 */
    0x33000001, 0x33c00000, 0x387fc000, /* largest f16 subnormal */
    0x38800000,                         /* 2^-14, smallest f16 normal */
    0x3f808000, 0x3f818000, 0x3f800fff, 0x3f801000, 0x3f803000, 0x7f7f7fff,
    0x7f7f8000, 0x00008000, 0x00018000, 0x3f800000, 0xbf800000};
#define N_SPECIALS (sizeof f32_specials / sizeof *f32_specials)

static size_t n_f32_inputs(void) {
  return RANDOM_BITS + RANDOM_RANGE + N_SPECIALS;
}

/* Random bit patterns, then values with exponents around f16's range, then the specials. */
static void make_f32_inputs(uint32_t *in) {
  uint64_t s = SEED;
  size_t k = 0;
  for (uint32_t i = 0; i < RANDOM_BITS; i++) in[k++] = (uint32_t)clmp_test_rand(&s);
  for (uint32_t i = 0; i < RANDOM_RANGE; i++) {
    uint64_t r = clmp_test_rand(&s);
    uint32_t exp = 127 - 30 + (uint32_t)(r % 48); /* 2^-30 .. 2^17 */
    in[k++] = (uint32_t)(r >> 63) << 31 | exp << 23 | ((uint32_t)(r >> 8) & 0x7fffff);
  }
  memcpy(in + k, f32_specials, sizeof f32_specials);
}

static void host_convert(clmp_dtype to, void *out, clmp_dtype from, const void *in, size_t i) {
  float f = 0;
  if (from == CLMP_F32)
    memcpy(&f, (const uint32_t *)in + i, 4);
  else if (from == CLMP_F16)
    f = clmp_f16_to_f32(((const uint16_t *)in)[i]);
  else
    f = clmp_bf16_to_f32(((const uint16_t *)in)[i]);
  if (to == CLMP_F32)
    memcpy((uint32_t *)out + i, &f, 4);
  else if (to == CLMP_F16)
    ((uint16_t *)out)[i] = clmp_f32_to_f16(f);
  else
    ((uint16_t *)out)[i] = clmp_f32_to_bf16(f);
}

static uint32_t element(clmp_dtype d, const void *p, size_t i) {
  return d == CLMP_F32 ? ((const uint32_t *)p)[i] : ((const uint16_t *)p)[i];
}

/* Writes in[n] into a view of a padded tensor; returns the view (and the base in *base). */
static clmp_tensor *padded_view(clmp_ctx *ctx, clmp_dtype d, size_t pad, size_t n,
                                clmp_tensor **base) {
  size_t total[1] = {n + 2 * pad}, shape[1] = {n};
  clmp_tensor *v = NULL;
  if (clmp_tensor_create(ctx, d, 1, total, base) != CLMP_SUCCESS) return NULL;
  if (clmp_tensor_view(*base, pad * clmp_dtype_size(d), d, 1, shape, &v) != CLMP_SUCCESS)
    return NULL;
  return v;
}

/* Counts the destination's guard bytes (outside the view) that changed. */
static size_t guard_damage(const unsigned char *bytes, size_t esize, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < DST_PAD * esize; i++) bad += bytes[i] != GUARD;
  for (size_t i = (DST_PAD + n) * esize; i < (2 * DST_PAD + n) * esize; i++)
    bad += bytes[i] != GUARD;
  return bad;
}

/* Runs the cast on the device and compares with the host, reporting the first mismatch. */
static void check_pair(const clmp_test_device *dev, clmp_dtype from, clmp_dtype to, const void *in,
                       size_t n) {
  size_t out_size = clmp_dtype_size(to), total = n + 2 * DST_PAD;
  unsigned char *got = malloc(total * out_size), *want = malloc(n * out_size);
  clmp_tensor *sbase = NULL, *dbase = NULL;
  clmp_tensor *src = padded_view(dev->ctx, from, SRC_PAD, n, &sbase);
  clmp_tensor *dst = padded_view(dev->ctx, to, DST_PAD, n, &dbase);
  CU_ASSERT_FATAL(got && want && src && dst);
  memset(got, GUARD, total * out_size);
  CU_ASSERT_EQUAL(clmp_tensor_write(dbase, to, got, total), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_write(src, from, in, n), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_cast(src, dst), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_read(dbase, to, got, total), CLMP_SUCCESS);
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < n; i++) {
    host_convert(to, want, from, in, i);
    if (element(to, got + DST_PAD * out_size, i) != element(to, want, i) && !bad++) first = i;
  }
  printf("\n    %-5s %-4s -> %-4s %8zu inputs: %zu mismatches", dev->id, clmp_dtype_name(from),
         clmp_dtype_name(to), n, bad);
  if (bad)
    printf(" (first: input 0x%08x, device 0x%04x, host 0x%04x)", element(from, in, first),
           element(to, got + DST_PAD * out_size, first), element(to, want, first));
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(guard_damage(got, out_size, n), 0);
  clmp_tensor_free(src), clmp_tensor_free(dst), clmp_tensor_free(sbase), clmp_tensor_free(dbase);
  free(got), free(want);
}

static void test_from_f32(void) {
  size_t n = n_f32_inputs();
  uint32_t *in = malloc(n * sizeof *in);
  CU_ASSERT_PTR_NOT_NULL_FATAL(in);
  make_f32_inputs(in);
  for (int d = 0; d < clmp_test_ndevs; d++) {
    check_pair(&clmp_test_devs[d], CLMP_F32, CLMP_F16, in, n);
    check_pair(&clmp_test_devs[d], CLMP_F32, CLMP_BF16, in, n);
  }
  free(in);
}

/* Every one of the 65536 inputs of a 16-bit dtype. */
static void test_from_16_bits(void) {
  static uint16_t in[1 << 16];
  for (uint32_t i = 0; i < (1u << 16); i++) in[i] = (uint16_t)i;
  for (int d = 0; d < clmp_test_ndevs; d++) {
    check_pair(&clmp_test_devs[d], CLMP_F16, CLMP_F32, in, 1u << 16);
    check_pair(&clmp_test_devs[d], CLMP_BF16, CLMP_F32, in, 1u << 16);
    check_pair(&clmp_test_devs[d], CLMP_F16, CLMP_BF16, in, 1u << 16);
    check_pair(&clmp_test_devs[d], CLMP_BF16, CLMP_F16, in, 1u << 16);
  }
}

static void test_bad_arguments(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    size_t four[1] = {4}, five[1] = {5};
    clmp_tensor *a = NULL, *b = NULL, *c = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(ctx, CLMP_F32, 1, four, &a), CLMP_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(ctx, CLMP_F16, 1, five, &b), CLMP_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(ctx, CLMP_I32, 1, four, &c), CLMP_SUCCESS);
    CU_ASSERT_EQUAL(clmp_cast(a, b), CLMP_ERR_INVALID_SHAPE);
    CU_ASSERT_EQUAL(clmp_cast(a, c), CLMP_ERR_INVALID_DTYPE);
    CU_ASSERT_EQUAL(clmp_cast(a, NULL), CLMP_ERR_INVALID_ARGUMENT);
    clmp_tensor_free(a), clmp_tensor_free(b), clmp_tensor_free(c);
  }
}

/* Tensors of two contexts never mix. */
static void test_context_mismatch(void) {
  if (clmp_test_ndevs < 2) return;
  size_t four[1] = {4};
  clmp_tensor *a = NULL, *b = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(clmp_test_devs[0].ctx, CLMP_F32, 1, four, &a), 0);
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(clmp_test_devs[1].ctx, CLMP_F16, 1, four, &b), 0);
  CU_ASSERT_EQUAL(clmp_cast(a, b), CLMP_ERR_CONTEXT_MISMATCH);
  clmp_tensor_free(a), clmp_tensor_free(b);
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {{"f32 -> f16, bf16: random and special inputs", test_from_f32},
                         {"f16, bf16 -> all: every input", test_from_16_bits},
                         {"bad arguments", test_bad_arguments},
                         {"tensors of two contexts", test_context_mismatch},
                         CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"cast", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
