/* tests/test_tensor.c: tensors on every device: shapes and sizes checked (overflow, beyond the
 * maximum allocation), views into one buffer, transfers with dtype conversion, through mapped
 * buffers and through copies. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host/tensor/tensor_impl.h"
#include "clmp/clmp.h"
#include "devices.h"
#include "harness.h"

#define N    1000
#define SEED 0x7e25u

static void test_dtypes(void) {
  CU_ASSERT_EQUAL(clmp_dtype_size(CLMP_F32), 4);
  CU_ASSERT_EQUAL(clmp_dtype_size(CLMP_F16), 2);
  CU_ASSERT_EQUAL(clmp_dtype_size(CLMP_BF16), 2);
  CU_ASSERT_EQUAL(clmp_dtype_size(CLMP_I32), 4);
  CU_ASSERT_EQUAL(clmp_dtype_size(CLMP_U8), 1);
  CU_ASSERT_EQUAL(clmp_dtype_size((clmp_dtype)99), 0);
  CU_ASSERT_STRING_EQUAL(clmp_dtype_name(CLMP_BF16), "bf16");
  CU_ASSERT_STRING_EQUAL(clmp_dtype_name((clmp_dtype)-1), "?");
}

static void test_shape_and_accessors(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    size_t shape[4] = {2, 3, 4, 5};
    clmp_tensor *t = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(clmp_test_devs[d].ctx, CLMP_BF16, 4, shape, &t), 0);
    CU_ASSERT_EQUAL(clmp_tensor_ndim(t), 4);
    CU_ASSERT_EQUAL(clmp_tensor_dim(t, 2), 4);
    CU_ASSERT_EQUAL(clmp_tensor_dim(t, 4), 0);
    CU_ASSERT_EQUAL(clmp_tensor_numel(t), 120);
    CU_ASSERT_EQUAL(clmp_tensor_nbytes(t), 240);
    CU_ASSERT_EQUAL(clmp_tensor_dtype(t), CLMP_BF16);
    CU_ASSERT_PTR_EQUAL(clmp_tensor_ctx(t), clmp_test_devs[d].ctx);
    clmp_tensor_free(t);
  }
}

static void test_bad_shapes_and_sizes(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    clmp_tensor *t = (clmp_tensor *)&t;
    size_t zero[2] = {3, 0}, huge[2] = {SIZE_MAX / 2, 3}, wide[1] = {SIZE_MAX / 2};
    size_t one[5] = {1, 1, 1, 1, 1};
    CU_ASSERT_EQUAL(clmp_tensor_create(ctx, CLMP_F32, 2, zero, &t), CLMP_ERR_INVALID_SHAPE);
    CU_ASSERT_PTR_NULL(t);
    CU_ASSERT_EQUAL(clmp_tensor_create(ctx, CLMP_F32, 0, one, &t), CLMP_ERR_INVALID_SHAPE);
    CU_ASSERT_EQUAL(clmp_tensor_create(ctx, CLMP_F32, 5, one, &t), CLMP_ERR_INVALID_SHAPE);
    CU_ASSERT_EQUAL(clmp_tensor_create(ctx, CLMP_F32, 1, NULL, &t), CLMP_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(clmp_tensor_create(ctx, CLMP_F32, 2, huge, &t), CLMP_ERR_SIZE_OVERFLOW);
    CU_ASSERT_EQUAL(clmp_tensor_create(ctx, CLMP_F32, 1, wide, &t), CLMP_ERR_SIZE_OVERFLOW);
    CU_ASSERT_EQUAL(clmp_tensor_create(ctx, (clmp_dtype)42, 1, one, &t), CLMP_ERR_INVALID_DTYPE);
    CU_ASSERT_EQUAL(clmp_tensor_create(NULL, CLMP_F32, 1, one, &t), CLMP_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(clmp_tensor_create(ctx, CLMP_F32, 1, one, NULL), CLMP_ERR_INVALID_ARGUMENT);
  }
}

/* One byte more than the device allows in a single buffer is refused before allocating. */
static void test_beyond_max_alloc(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    size_t over[1] = {(size_t)clmp_ctx_device(ctx)->max_alloc + 1};
    clmp_tensor *t = NULL;
    CU_ASSERT_EQUAL(clmp_tensor_create(ctx, CLMP_U8, 1, over, &t), CLMP_ERR_TOO_LARGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(clmp_last_error(), "allows"));
    CU_ASSERT_PTR_NULL(t);
  }
}

/* Writes in one dtype and reads in another give the host conversion of the values. */
static void round_trip(clmp_ctx *ctx, clmp_dtype stored, clmp_dtype host) {
  size_t shape[2] = {N / 10, 10};
  float in[N], out[N];
  uint64_t s = SEED;
  for (int i = 0; i < N; i++) in[i] = (float)((int64_t)(clmp_test_rand(&s) % 20001) - 10000) / 7;
  uint16_t h16[N];
  clmp_tensor *t = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(ctx, stored, 2, shape, &t), 0);
  CU_ASSERT_EQUAL(clmp_tensor_write(t, CLMP_F32, in, N), CLMP_SUCCESS);
  CU_ASSERT_EQUAL(clmp_tensor_read(t, host, host == CLMP_F32 ? (void *)out : h16, N), 0);
  size_t bad = 0;
  for (int i = 0; i < N; i++) {
    float want = stored == CLMP_F16    ? clmp_f16_to_f32(clmp_f32_to_f16(in[i]))
                 : stored == CLMP_BF16 ? clmp_bf16_to_f32(clmp_f32_to_bf16(in[i]))
                                       : in[i];
    float got = host == CLMP_F32   ? out[i]
                : host == CLMP_F16 ? clmp_f16_to_f32(h16[i])
                                   : clmp_bf16_to_f32(h16[i]);
    uint16_t want16 = host == CLMP_F16 ? clmp_f32_to_f16(want) : clmp_f32_to_bf16(want);
    if (host == CLMP_F32 ? memcmp(&got, &want, 4) != 0 : h16[i] != want16) bad++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  clmp_tensor_free(t);
}

static void all_round_trips(clmp_ctx *ctx) {
  const clmp_dtype fl[3] = {CLMP_F32, CLMP_F16, CLMP_BF16};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++) round_trip(ctx, fl[a], fl[b]);
}

static void integer_round_trip(clmp_ctx *ctx) {
  int32_t in[N], out[N];
  uint8_t b_in[N], b_out[N];
  for (int i = 0; i < N; i++) in[i] = i * 7919 - 500000, b_in[i] = (uint8_t)(i * 31);
  size_t shape[1] = {N};
  clmp_tensor *t = NULL, *u = NULL;
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(ctx, CLMP_I32, 1, shape, &t), 0);
  CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(ctx, CLMP_U8, 1, shape, &u), 0);
  CU_ASSERT_EQUAL(clmp_tensor_write(t, CLMP_I32, in, N), 0);
  CU_ASSERT_EQUAL(clmp_tensor_read(t, CLMP_I32, out, N), 0);
  CU_ASSERT_EQUAL(memcmp(in, out, sizeof in), 0);
  CU_ASSERT_EQUAL(clmp_tensor_write(u, CLMP_U8, b_in, N), 0);
  CU_ASSERT_EQUAL(clmp_tensor_read(u, CLMP_U8, b_out, N), 0);
  CU_ASSERT_EQUAL(memcmp(b_in, b_out, sizeof b_in), 0);
  CU_ASSERT_EQUAL(clmp_tensor_read(t, CLMP_F32, out, N), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_tensor_write(u, CLMP_I32, in, N), CLMP_ERR_INVALID_DTYPE);
  CU_ASSERT_EQUAL(clmp_tensor_write(t, CLMP_I32, in, N - 1), CLMP_ERR_INVALID_SHAPE);
  CU_ASSERT_EQUAL(clmp_tensor_write(t, CLMP_I32, NULL, N), CLMP_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(clmp_tensor_read(NULL, CLMP_I32, out, N), CLMP_ERR_INVALID_ARGUMENT);
  clmp_tensor_free(t), clmp_tensor_free(u);
}

static void test_transfers(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    all_round_trips(clmp_test_devs[d].ctx);
    integer_round_trip(clmp_test_devs[d].ctx);
  }
}

/* The copy path of discrete GPUs, forced on a host-unified device (new buffers only). */
static void test_transfers_without_mapping(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    clmp_ctx *ctx = clmp_test_devs[d].ctx;
    if (ctx->is_ref) continue;
    int unified = ctx->info.unified_memory;
    ctx->info.unified_memory = !unified;
    all_round_trips(ctx);
    integer_round_trip(ctx);
    ctx->info.unified_memory = unified;
  }
}

/* An arena of bytes holding an f32, an f16 and a bf16 tensor as views, which outlive it. */
static void test_views_share_storage(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    size_t bytes[1] = {256}, three[1] = {3}, two_by_two[2] = {2, 2};
    clmp_tensor *arena = NULL, *a = NULL, *b = NULL, *whole = NULL;
    CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(clmp_test_devs[d].ctx, CLMP_U8, 1, bytes, &arena), 0);
    CU_ASSERT_EQUAL(clmp_tensor_view(arena, 128, CLMP_F32, 1, three, &a), 0);
    CU_ASSERT_EQUAL(clmp_tensor_view(arena, 192, CLMP_F16, 2, two_by_two, &b), 0);
    const float va[3] = {1.5f, -2.25f, 1e30f}, vb[4] = {0.5f, 65504.0f, -0.0f, 3.0f};
    CU_ASSERT_EQUAL(clmp_tensor_write(a, CLMP_F32, va, 3), 0);
    CU_ASSERT_EQUAL(clmp_tensor_write(b, CLMP_F32, vb, 4), 0);
    clmp_tensor_free(arena); /* the views keep the storage */
    CU_ASSERT_EQUAL(clmp_tensor_view(a, 0, CLMP_F32, 1, three, &whole), 0);
    float ra[3], rb[4];
    CU_ASSERT_EQUAL(clmp_tensor_read(whole, CLMP_F32, ra, 3), 0);
    CU_ASSERT_EQUAL(clmp_tensor_read(b, CLMP_F32, rb, 4), 0);
    CU_ASSERT_EQUAL(memcmp(ra, va, sizeof va), 0);
    CU_ASSERT_EQUAL(memcmp(rb, vb, sizeof vb), 0);
    clmp_tensor_free(a), clmp_tensor_free(b), clmp_tensor_free(whole);
  }
}

static void test_views_out_of_bounds(void) {
  for (int d = 0; d < clmp_test_ndevs; d++) {
    size_t bytes[1] = {64}, sixteen[1] = {16}, one[1] = {1}, huge[1] = {SIZE_MAX / 8};
    clmp_tensor *arena = NULL, *v = (clmp_tensor *)&v;
    CU_ASSERT_EQUAL_FATAL(clmp_tensor_create(clmp_test_devs[d].ctx, CLMP_U8, 1, bytes, &arena), 0);
    CU_ASSERT_EQUAL(clmp_tensor_view(arena, 4, CLMP_F32, 1, sixteen, &v), CLMP_ERR_OUT_OF_BOUNDS);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(clmp_tensor_view(arena, 64, CLMP_U8, 1, one, &v), CLMP_ERR_OUT_OF_BOUNDS);
    CU_ASSERT_EQUAL(clmp_tensor_view(arena, SIZE_MAX - 3, CLMP_F32, 1, one, &v),
                    CLMP_ERR_OUT_OF_BOUNDS);
    CU_ASSERT_EQUAL(clmp_tensor_view(arena, 2, CLMP_F32, 1, one, &v), CLMP_ERR_OUT_OF_BOUNDS);
    CU_ASSERT_EQUAL(clmp_tensor_view(arena, 0, CLMP_F32, 1, huge, &v), CLMP_ERR_OUT_OF_BOUNDS);
    CU_ASSERT_EQUAL(clmp_tensor_view(arena, 0, CLMP_F32, 1, sixteen, &v), CLMP_SUCCESS);
    clmp_tensor_free(v);
    clmp_tensor_free(arena);
  }
}

static int suite_init(void) {
  return clmp_test_devices_open(1) > 0 ? 0 : -1;
}

int main(void) {
  CU_TestInfo tests[] = {{"dtype sizes and names", test_dtypes},
                         {"shapes and accessors", test_shape_and_accessors},
                         {"bad shapes and overflowing sizes", test_bad_shapes_and_sizes},
                         {"beyond the maximum allocation", test_beyond_max_alloc},
                         {"transfers with conversion", test_transfers},
                         {"transfers through copies, not maps", test_transfers_without_mapping},
                         {"views share one storage", test_views_share_storage},
                         {"views out of bounds", test_views_out_of_bounds},
                         CU_TEST_INFO_NULL};
  CU_SuiteInfo suites[] = {{"tensor", suite_init, clmp_test_devices_close, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  return clmp_test_main(suites);
}
